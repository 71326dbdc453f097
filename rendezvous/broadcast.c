/* SPDX-License-Identifier: MIT */
/* broadcast.c - broadcast recipients (see broadcast.h). */
#include "broadcast.h"

#include <stdio.h>
#include <stdlib.h>

#include "online.h"

/* One RV_BROADCAST_TO on its way through the database thread. */
struct bto_job {
    conn *c; /* held, its input too: the answer comes before the next one's */
    rvmsg m; /* RV_RECIPIENTS */
    uint32_t page;
    char sender[BANTER_MAX_NAME + 1];
    char department[sizeof(((struct rv_broadcast_to *)0)->department)];
};

static int bto_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct bto_job *j = arg;
    int r = db_recipients(d, j->sender, j->department, j->page, &j->m.u.rcpt);
    if (r)
        snprintf(errmsg, DBQ_ERRMSG_LEN, "%s", db_errmsg(d));
    return r;
}

static void bto_after(void *arg, int r, const char *errmsg)
{
    struct bto_job *j = arg;
    conn *c = j->c;
    if (r)
        core_log(conn_core(c), "broadcast recipients: database: %s", errmsg);
    if (!c->closing && r)
        conn_error(c, banter_errname(r), "the server cannot list the recipients");
    else if (!c->closing)
        conn_send_rv(c, &j->m);
    rvmsg_clear(&j->m);
    free(j);
    conn_input_resume(c);
    conn_release(c);
}

void broadcast_to(conn *c, const struct rv_broadcast_to *b)
{
    if (!c->acct->broadcast) {
        conn_error(c, "EPERM", "this account may not send organisation broadcasts");
        return;
    }
    struct bto_job *j = calloc(1, sizeof *j);
    int r = j ? 0 : BANTER_ENOMEM;
    if (j) {
        j->c = c;
        j->m.type = RV_RECIPIENTS;
        j->page = b->page;
        snprintf(j->sender, sizeof j->sender, "%s", c->acct->name);
        snprintf(j->department, sizeof j->department, "%s", b->department);
        r = core_job(conn_core(c), bto_work, bto_after, j);
    }
    if (r) {
        free(j);
        conn_error(c, banter_errname(r), "the server cannot list the recipients");
        return;
    }
    conn_hold(c);
    conn_input_hold(c);
}
