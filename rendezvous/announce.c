/* SPDX-License-Identifier: MIT */
/* announce.c - organisation announcements on the server (see announce.h). */
#include "announce.h"

#include <stdio.h>
#include <stdlib.h>

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

void announce_device_up(conn *c)
{
    if (!c->acct || !c->wants_announce || c->closing)
        return;
    int r =
        db_announce_pending(conn_core(c)->db, conn_device(c), ANNOUNCE_PENDING_MAX, send_one, c);
    if (r)
        core_log(conn_core(c), "announcements for %s: database: %s", c->acct->name,
                 db_errmsg(conn_core(c)->db));
}

struct fanout {
    core *k;
    const ann_msg *m;
    int64_t sent;
};

static void send_account(account *a, void *ud)
{
    struct fanout *f = ud;
    for (conn *c = a->devs; c; c = c->dev_next) {
        if (!c->wants_announce || c->closing ||
            db_announce_addressed(f->k->db, f->m->id, conn_device(c)) != 1)
            continue;
        (void)send_one(c, f->m);
        f->sent++;
    }
}

int announce_make(core *k, const char *actor, const char *department, const char *text, int64_t *id,
                  int64_t *devices, int64_t *people, int64_t *now)
{
    ann_msg *m = calloc(1, sizeof *m);
    if (!m)
        return BANTER_ENOMEM;
    m->ts_ms = core_wall_ms();
    snprintf(m->department, sizeof m->department, "%s", department);
    snprintf(m->text, sizeof m->text, "%s", text);
    int r = db_announce_add(k->db, m->ts_ms, actor, department, text, id, devices, people);
    if (r == 0) {
        struct fanout f = {.k = k, .m = m};
        m->id = *id;
        online_each(k->on, send_account, &f);
        *now = f.sent;
        core_log(k, "announcement %lld by %s to %lld devices of %lld accounts%s%s", (long long)*id,
                 actor, (long long)*devices, (long long)*people, department[0] ? " in " : "",
                 department);
    }
    free(m);
    return r;
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
    r = db_announce_receipt(conn_core(c)->db, rc.id, conn_device(c), rc.read, core_wall_ms());
    if (r == BANTER_ENOENT)
        conn_refuse(c, "ENOENT", "no announcement of that id was sent to this device");
    else if (r == 1)
        conn_refuse(c, "EALREADY",
                    rc.read ? "this device already said it showed that announcement"
                            : "this device already confirmed that announcement");
    else if (r)
        core_log(conn_core(c), "announcement receipt from %s: database: %s", c->acct->name,
                 db_errmsg(conn_core(c)->db));
}
