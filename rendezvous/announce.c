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
 * announce_make: the one path where the loop waits for the database
 * thread (an admin's rare command, whose answer needs the announcement's
 * id and counts at once: acct.c's live half calls it). The devices online
 * that take announcements are listed first; one job records the
 * announcement and checks which of them it is addressed to, while the
 * loop waits on a condition variable (nothing on the loop runs meanwhile,
 * so the listed connections stay valid). The job's after only frees it.
 * To remove the wait, acct.c would record it in a database half and send
 * it in a second job's after.
 */
struct make_job {
    uv_mutex_t mu;
    uv_cond_t cv;
    bool done; /* under mu */
    int ret;
    ann_msg m;
    const char *actor;
    int64_t id, devices, people;
    size_t n, cap;
    conn **devs; /* candidates, then those addressed (addr[i]) */
    uint8_t (*keys)[32];
    bool *addr;
    char err[DBQ_ERRMSG_LEN];
};

static void list_account(account *a, void *ud)
{
    struct make_job *j = ud;
    for (conn *c = a->devs; c; c = c->dev_next) {
        if (!c->wants_announce || c->closing)
            continue;
        if (j->n == j->cap) {
            size_t ncap = j->cap ? j->cap * 2 : 64;
            conn **d = realloc(j->devs, ncap * sizeof *d);
            if (d)
                j->devs = d;
            uint8_t(*k)[32] = d ? realloc(j->keys, ncap * sizeof *k) : NULL;
            if (k)
                j->keys = k;
            if (!d || !k) {
                j->ret = BANTER_ENOMEM;
                return;
            }
            j->cap = ncap;
        }
        j->devs[j->n] = c;
        memcpy(j->keys[j->n], conn_device(c), 32);
        j->n++;
    }
}

static int make_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct make_job *j = arg;
    int r = db_announce_add(d, j->m.ts_ms, j->actor, j->m.department, j->m.text, &j->id,
                            &j->devices, &j->people);
    for (size_t i = 0; r == 0 && i < j->n; i++)
        j->addr[i] = db_announce_addressed(d, j->id, j->keys[i]) == 1;
    if (r) {
        snprintf(errmsg, DBQ_ERRMSG_LEN, "%s", db_errmsg(d));
        snprintf(j->err, sizeof j->err, "%s", errmsg);
    }
    uv_mutex_lock(&j->mu);
    j->ret = r;
    j->done = true;
    uv_cond_signal(&j->cv);
    uv_mutex_unlock(&j->mu);
    return r;
}

static void make_free(struct make_job *j)
{
    uv_cond_destroy(&j->cv);
    uv_mutex_destroy(&j->mu);
    free(j->devs);
    free(j->keys);
    free(j->addr);
    free(j);
}

static void make_after(void *arg, int ret, const char *errmsg)
{
    (void)ret, (void)errmsg;
    make_free(arg);
}

int announce_make(core *k, const char *actor, const char *department, const char *text, int64_t *id,
                  int64_t *devices, int64_t *people, int64_t *now)
{
    struct make_job *j = calloc(1, sizeof *j);
    if (!j)
        return BANTER_ENOMEM;
    if (uv_mutex_init(&j->mu) != 0) {
        free(j);
        return BANTER_ENOMEM;
    }
    if (uv_cond_init(&j->cv) != 0) {
        uv_mutex_destroy(&j->mu);
        free(j);
        return BANTER_ENOMEM;
    }
    j->actor = actor;
    j->m.ts_ms = core_wall_ms();
    snprintf(j->m.department, sizeof j->m.department, "%s", department);
    snprintf(j->m.text, sizeof j->m.text, "%s", text);
    online_each(k->on, list_account, j);
    int r = j->ret;
    if (r == 0 && j->n && !(j->addr = calloc(j->n, sizeof *j->addr)))
        r = BANTER_ENOMEM;
    if (r == 0)
        r = core_job(k, make_work, make_after, j);
    if (r) {
        make_free(j);
        return r;
    }
    uv_mutex_lock(&j->mu);
    while (!j->done)
        uv_cond_wait(&j->cv, &j->mu);
    r = j->ret;
    uv_mutex_unlock(&j->mu);
    if (r) {
        core_log(k, "cannot record an announcement: database: %s", j->err);
        return r; /* the after frees j */
    }
    int64_t sent = 0;
    j->m.id = j->id;
    for (size_t i = 0; i < j->n; i++) {
        if (!j->addr[i] || j->devs[i]->closing)
            continue;
        (void)send_one(j->devs[i], &j->m);
        sent++;
    }
    *id = j->id;
    *devices = j->devices;
    *people = j->people;
    *now = sent;
    core_log(k, "announcement %lld by %s to %lld devices of %lld accounts%s%s", (long long)*id,
             actor, (long long)*devices, (long long)*people, department[0] ? " in " : "",
             department);
    return 0; /* the after frees j */
}

/* An RV_ANNOUNCE_RCPT on its way through the database thread. */
struct rcpt_job {
    conn *c; /* held, its input too: the refusal comes before the next answer */
    ann_rcpt rc;
    int64_t now_ms;
    uint8_t key[32];
    char user[BANTER_MAX_NAME + 1];
};

static int rcpt_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct rcpt_job *j = arg;
    int r = db_announce_receipt(d, j->rc.id, j->key, j->rc.read, j->now_ms);
    if (r < 0 && r != BANTER_ENOENT)
        snprintf(errmsg, DBQ_ERRMSG_LEN, "%s", db_errmsg(d));
    return r;
}

static void rcpt_after(void *arg, int r, const char *errmsg)
{
    struct rcpt_job *j = arg;
    conn *c = j->c;
    if (r < 0 && r != BANTER_ENOENT)
        core_log(conn_core(c), "announcement receipt from %s: database: %s", j->user, errmsg);
    else if (c->closing)
        ;
    else if (r == BANTER_ENOENT)
        conn_refuse(c, "ENOENT", "no announcement of that id was sent to this device");
    else if (r == 1)
        conn_refuse(c, "EALREADY",
                    j->rc.read ? "this device already said it showed that announcement"
                               : "this device already confirmed that announcement");
    free(j);
    conn_input_resume(c);
    conn_release(c);
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
    struct rcpt_job *j = calloc(1, sizeof *j);
    r = j ? 0 : BANTER_ENOMEM;
    if (j) {
        j->c = c;
        j->rc = rc;
        j->now_ms = core_wall_ms();
        memcpy(j->key, conn_device(c), sizeof j->key);
        snprintf(j->user, sizeof j->user, "%s", c->acct->name);
        r = core_job(conn_core(c), rcpt_work, rcpt_after, j);
    }
    if (r) {
        free(j);
        core_log(conn_core(c), "announcement receipt from %s: %s", c->acct->name,
                 banter_strerror(r));
        return;
    }
    conn_hold(c);
    conn_input_hold(c);
}
