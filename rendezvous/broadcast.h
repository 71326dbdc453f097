/* SPDX-License-Identifier: MIT */
/*
 * broadcast.h - organisation broadcasts (docs/rendezvous.md 7): who they go
 * to. RV_BROADCAST_TO from an account with the broadcast right (admins
 * unless revoked; `user grant NAME broadcast`) is answered with one page of
 * RV_RECIPIENTS; others get ERROR EPERM. The copies themselves are
 * RV_SEALs with the broadcast flag (mailbox.h checks the right again).
 */
#ifndef BANTER_RDV_BROADCAST_H
#define BANTER_RDV_BROADCAST_H

#include "conn.h"
#include "rvmsg.h"

/* RV_BROADCAST_TO from an authenticated c. */
void broadcast_to(conn *c, const struct rv_broadcast_to *b);

#endif
