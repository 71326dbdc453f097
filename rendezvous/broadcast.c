/* SPDX-License-Identifier: MIT */
/* broadcast.c - broadcast recipients (see broadcast.h). */
#include "broadcast.h"

#include <stdio.h>
#include <stdlib.h>

#include "online.h"

/* One RV_BROADCAST_TO on its way through the database thread. */
struct bto_job {
    conn_job h; /* the answer comes before the next one's */
    rvmsg m;    /* RV_RECIPIENTS */
    uint32_t page;
    char department[sizeof(((struct rv_broadcast_to *)0)->department)];
};

static int bto_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct bto_job *j = arg;
    int r = db_recipients(d, j->h.user, j->department, j->page, &j->m.u.rcpt);
    if (r)
        snprintf(errmsg, DBQ_ERRMSG_LEN, "%s", db_errmsg(d));
    return r;
}

static void bto_after(conn *c, void *arg, int r, const char *errmsg)
{
    struct bto_job *j = arg;
    if (r)
        core_log(conn_core(c), "broadcast recipients: database: %s", errmsg);
    if (!c->closing && r)
        conn_error(c, banter_errname(r), "the server cannot list the recipients");
    else if (!c->closing)
        conn_send_rv(c, &j->m);
    rvmsg_clear(&j->m);
    free(j);
}

void broadcast_to(conn *c, const struct rv_broadcast_to *b)
{
    if (!c->acct->broadcast) {
        conn_error(c, "EPERM", "this account may not send organisation broadcasts");
        return;
    }
    struct bto_job *j = conn_job_new(c, sizeof *j);
    if (!j)
        return;
    j->m.type = RV_RECIPIENTS;
    j->page = b->page;
    snprintf(j->department, sizeof j->department, "%s", b->department);
    int r = conn_job_submit(j, bto_work, bto_after);
    if (r) {
        free(j);
        conn_error(c, banter_errname(r), "the server cannot list the recipients");
    }
}
