/* SPDX-License-Identifier: MIT */
/* broadcast.c - broadcast recipients (see broadcast.h). */
#include "broadcast.h"

#include <stdlib.h>

#include "online.h"

void broadcast_to(conn *c, const struct rv_broadcast_to *b)
{
    if (!c->acct->broadcast) {
        conn_error(c, "EPERM", "this account may not send organisation broadcasts");
        return;
    }
    rvmsg m = {.type = RV_RECIPIENTS};
    int r = db_recipients(conn_core(c)->db, c->acct->name, b->department, b->page, &m.u.rcpt);
    if (r) {
        core_log(conn_core(c), "broadcast recipients: database: %s", db_errmsg(conn_core(c)->db));
        conn_error(c, banter_errname(r), "the server cannot list the recipients");
    } else {
        conn_send_rv(c, &m);
    }
    rvmsg_clear(&m);
}
