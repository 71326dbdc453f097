/* SPDX-License-Identifier: MIT */
/*
 * admin.h - the admin protocol on the server's connections (types 0x60 and
 * 0x61, admmsg.h; docs/rendezvous.md section 12, docs/admin.md).
 *
 * banter-admin connects like a node (Noise XX, its own Ed25519 key, HELLO)
 * and sends ADM_REQUESTs; each is answered by one ADM_RESULT with the same
 * id, in order. Who may do what, checked for every request:
 *
 *   - the peer's key must be an admin key (`banter-rendezvous admin add
 *     FP --role admin|auditor`, db_admin.h) on a connection that is not a
 *     device's session: a device key or an unknown key gets ADM_RESULT
 *     error EAUTH naming the cause and the fix, and the connection is
 *     closed (BYE "not an admin key"); nothing is run, nothing audited
 *     (the server log has a line);
 *   - an "auditor" key may only run commands that change nothing
 *     (adm_cmd_info.change false): others get error EPERM, audited;
 *   - an "admin" key may run every command.
 *
 * A malformed request (the codec refuses it) is refused like any bad
 * message (ERROR, counted toward CONN_MAX_REFUSED). The admin connection
 * has the same limits as any other: handshake deadline, keepalive, output
 * cap. Every request that runs is audited by acct.c.
 */
#ifndef BANTER_RDV_ADMIN_H
#define BANTER_RDV_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"

/* One admin plaintext (type byte ADM_REQUEST or ADM_RESULT first) from a
 * live connection. */
void admin_message(conn *c, const uint8_t *pt, size_t len);

#endif
