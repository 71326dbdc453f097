/* SPDX-License-Identifier: MIT */
/* announce.c - organisation announcements on the server (see announce.h). */
#include "announce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "annmsg.h"
#include "db_announce.h"
#include "online.h"

/* Queue m on c. */
static int send_one(void *ud, const ann_msg *m)
{
    conn *c = ud;
    buf b;
    buf_init(&b, BANTER_MAX_JSON + 1);
    int r = ann_encode(m, &b);
    if (r == 0)
        conn_send_pt(c, buf_data(&b), buf_len(&b));
    else
        core_log(conn_core(c), "cannot send announcement %lld: %s", (long long)m->id,
                 banter_strerror(r));
    buf_free(&b);
    return 0;
}

/* The announcements waiting for a device that just authenticated. */
struct pending_job {
    conn *c;     /* held */
    uint8_t gen; /* c->sess_gen when asked: a later session asks again */
    uint8_t key[32];
    size_t n;
    ann_msg *m; /* ANNOUNCE_PENDING_MAX */
    char user[BANTER_MAX_NAME + 1];
};

static int keep_one(void *ud, const ann_msg *m)
{
    struct pending_job *j = ud;
    if (j->n < ANNOUNCE_PENDING_MAX)
        j->m[j->n++] = *m;
    return 0;
}

static int pending_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct pending_job *j = arg;
    int r = db_announce_pending(d, j->key, ANNOUNCE_PENDING_MAX, keep_one, j);
    if (r)
        snprintf(errmsg, DBQ_ERRMSG_LEN, "%s", db_errmsg(d));
    return r;
}

static void pending_after(void *arg, int r, const char *errmsg)
{
    struct pending_job *j = arg;
    conn *c = j->c;
    if (r)
        core_log(conn_core(c), "announcements for %s: database: %s", j->user, errmsg);
    for (size_t i = 0; i < j->n && !c->closing && c->acct && c->sess_gen == j->gen; i++)
        (void)send_one(c, &j->m[i]);
    conn_release(c);
    free(j->m);
    free(j);
}

void announce_device_up(conn *c)
{
    if (!c->acct || !c->wants_announce || c->closing)
        return;
    c->ann_up = true; /* from here on, a live announcement is listed for it */
    struct pending_job *j = calloc(1, sizeof *j);
    if (j)
        j->m = calloc(ANNOUNCE_PENDING_MAX, sizeof *j->m);
    int r = j && j->m ? 0 : BANTER_ENOMEM;
    if (r == 0) {
        j->c = c;
        j->gen = c->sess_gen;
        memcpy(j->key, conn_device(c), sizeof j->key);
        snprintf(j->user, sizeof j->user, "%s", c->acct->name);
        r = core_job(conn_core(c), pending_work, pending_after, j);
    }
    if (r) {
        core_log(conn_core(c), "announcements for %s: %s", c->acct->name, banter_strerror(r));
        if (j)
            free(j->m);
        free(j);
        return;
    }
    conn_hold(c);
}

/*
 * An announcement in three steps, so that the loop never waits for the
 * database (acct.c's `announce`: its before, database and live halves).
 * The devices online that take announcements are listed on the loop when
 * the request is taken, each held (conn_hold) so that its record can be
 * looked at after the job; the job records the announcement and checks
 * which of them it is addressed to; its after sends it to those still in
 * the session they were listed in. A device whose waiting announcements
 * were not asked for yet (authenticated, its contact list still being
 * read: c->ann_up false) is not listed: its announce_device_up job comes
 * after this one and finds the announcement waiting, so nobody gets it
 * twice.
 */
struct ann_dev {
    conn *c;     /* held */
    uint8_t gen; /* c->sess_gen when listed */
    bool addr;   /* the announcement is addressed to it (database thread) */
    uint8_t key[32];
};

struct announce_out {
    core *k;
    ann_msg m;
    int ret; /* list_account: BANTER_ENOMEM when the list is short */
    size_t n, cap;
    struct ann_dev *dev;
};

static void list_account(account *a, void *ud)
{
    announce_out *o = ud;
    for (conn *c = a->devs.head; c && o->ret == 0; c = c->dev.next) {
        if (!c->wants_announce || !c->ann_up || c->closing)
            continue;
        if (o->n == o->cap) {
            size_t ncap = o->cap ? o->cap * 2 : 64;
            struct ann_dev *d = realloc(o->dev, ncap * sizeof *d);
            if (!d) {
                o->ret = BANTER_ENOMEM;
                return;
            }
            o->dev = d;
            o->cap = ncap;
        }
        struct ann_dev *d = &o->dev[o->n++];
        *d = (struct ann_dev){.c = c, .gen = c->sess_gen};
        memcpy(d->key, conn_device(c), sizeof d->key);
        conn_hold(c);
    }
}

void announce_free(announce_out *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++)
        conn_release(o->dev[i].c);
    free(o->dev);
    free(o);
}

int announce_start(core *k, const char *department, const char *text, int64_t ts_ms,
                   announce_out **out)
{
    announce_out *o = calloc(1, sizeof *o);
    *out = NULL;
    if (!o)
        return BANTER_ENOMEM;
    o->k = k;
    o->m.ts_ms = ts_ms;
    snprintf(o->m.department, sizeof o->m.department, "%s", department);
    snprintf(o->m.text, sizeof o->m.text, "%s", text);
    online_each(k->on, list_account, o);
    int r = o->ret;
    if (r) {
        announce_free(o);
        return r;
    }
    *out = o;
    return 0;
}

int announce_record(db *d, announce_out *o, const char *actor, int64_t *id, int64_t *devices,
                    int64_t *people)
{
    int r = db_announce_add(d, o->m.ts_ms, actor, o->m.department, o->m.text, &o->m.id, devices,
                            people);
    for (size_t i = 0; r == 0 && i < o->n; i++)
        o->dev[i].addr = db_announce_addressed(d, o->m.id, o->dev[i].key) == 1;
    *id = r ? 0 : o->m.id;
    return r;
}

int64_t announce_send(announce_out *o)
{
    int64_t sent = 0;
    for (size_t i = 0; i < o->n; i++) {
        conn *c = o->dev[i].c;
        if (!o->dev[i].addr || c->closing || !c->acct || c->sess_gen != o->dev[i].gen)
            continue;
        (void)send_one(c, &o->m);
        sent++;
    }
    return sent;
}

/* announce_remote: the announcement read again and the devices listed
 * here checked, in one job. */
struct remote_job {
    announce_out *o;
    db_announce_report rep;
};

static int remote_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct remote_job *j = arg;
    announce_out *o = j->o;
    int r = db_announce_report_get(d, o->m.id, &j->rep);
    for (size_t i = 0; r == 0 && i < o->n; i++) /* not to those that have it already */
        o->dev[i].addr = db_announce_awaited(d, o->m.id, o->dev[i].key) == 1;
    if (r)
        snprintf(errmsg, DBQ_ERRMSG_LEN, "%s", r == BANTER_EDB ? db_errmsg(d) : banter_strerror(r));
    return r;
}

static void remote_after(void *arg, int r, const char *errmsg)
{
    struct remote_job *j = arg;
    announce_out *o = j->o;
    if (r) {
        core_log(o->k, "announcement %lld from another instance: %s", (long long)o->m.id, errmsg);
    } else {
        o->m.ts_ms = j->rep.ts;
        snprintf(o->m.department, sizeof o->m.department, "%s", j->rep.department);
        snprintf(o->m.text, sizeof o->m.text, "%s", j->rep.text);
        core_log(o->k, "announcement %lld from another instance: %lld devices here have it now",
                 (long long)o->m.id, (long long)announce_send(o));
    }
    announce_free(o);
    free(j);
}

void announce_remote(core *k, int64_t id)
{
    announce_out *o = NULL;
    struct remote_job *j = calloc(1, sizeof *j);
    int r = j ? announce_start(k, "", "", 0, &o) : BANTER_ENOMEM;
    if (r == 0) {
        o->m.id = id;
        j->o = o;
        r = core_job(k, remote_work, remote_after, j);
    }
    if (r) {
        core_log(k,
                 "announcement %lld from another instance: %s (its devices here get it at "
                 "their next login)",
                 (long long)id, banter_strerror(r));
        announce_free(o);
        free(j);
    }
}

/* An RV_ANNOUNCE_RCPT on its way through the database thread. */
struct rcpt_job {
    conn_job h; /* the refusal comes before the next answer */
    ann_rcpt rc;
    int64_t now_ms;
    uint8_t key[32];
};

static int rcpt_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct rcpt_job *j = arg;
    int r = db_announce_receipt(d, j->rc.id, j->key, j->rc.read, j->now_ms);
    if (r < 0 && r != BANTER_ENOENT)
        snprintf(errmsg, DBQ_ERRMSG_LEN, "%s", db_errmsg(d));
    return r;
}

static void rcpt_after(conn *c, void *arg, int r, const char *errmsg)
{
    struct rcpt_job *j = arg;
    if (r < 0 && r != BANTER_ENOENT)
        core_log(conn_core(c), "announcement receipt from %s: database: %s", j->h.user, errmsg);
    else if (c->closing)
        ;
    else if (r == BANTER_ENOENT)
        conn_refuse(c, "ENOENT", "no announcement of that id was sent to this device");
    else if (r == 1)
        conn_refuse(c, "EALREADY",
                    j->rc.read ? "this device already said it showed that announcement"
                               : "this device already confirmed that announcement");
    free(j);
}

void announce_receipt(conn *c, const uint8_t *pt, size_t len)
{
    ann_rcpt rc;
    int r = ann_rcpt_decode(&rc, pt, len);
    if (r) {
        conn_refuse(c, banter_errname(r), "announcement receipt refused");
        return;
    }
    if (!c->acct) {
        conn_refuse(c, "EAUTH", "log in first");
        return;
    }
    struct rcpt_job *j = conn_job_new(c, sizeof *j);
    if (!j)
        return;
    j->rc = rc;
    j->now_ms = core_wall_ms();
    memcpy(j->key, conn_device(c), sizeof j->key);
    r = conn_job_submit(j, rcpt_work, rcpt_after);
    if (r) {
        free(j);
        core_log(conn_core(c), "announcement receipt from %s: %s", c->acct->name,
                 banter_strerror(r));
    }
}
