/* SPDX-License-Identifier: MIT */
/*
 * auth.h - who is on a connection (docs/rendezvous.md section 3): the
 * device key after HELLO, RV_LOGIN with the password checked in the thread
 * pool (pwcheck.h) under the login backoff (ratelimit.h), RV_LOGOUT, the
 * organisation certificate, and ending the sessions of an account an admin
 * disabled.
 *
 * A connection is authenticated from its RV_AUTH ok until it logs out,
 * closes, or its account is disabled; meanwhile c->acct is its account
 * (online.h). Entering sends, in this order: RV_AUTH ok, RV_CERT, the
 * contact list (contacts.h), then the copies stored for the device
 * (mailbox.h). Leaving hands the device's copies in flight back to the
 * store and tells contacts when the account went offline.
 *
 * Errors reach the peer as RV_AUTH ok=false (EPASSWORD, EDISABLED, ERATE,
 * ELOGGEDOUT) or ERROR (EBUSY, EDB...); database failures are logged. The
 * log names the account and the address, never the password.
 */
#ifndef BANTER_RDV_AUTH_H
#define BANTER_RDV_AUTH_H

#include "conn.h"
#include "rvmsg.h"

/* Organisation certificates live a day and are renewed while the device
 * is logged in (at half their life, auth_tick), so a device that an admin
 * revoked, or that stays away from the server, loses the organisation's
 * label on the LAN within a day even where the revocation list
 * (orgrevoke.h) does not reach (docs/rendezvous.md section 14). */
#define AUTH_CERT_TTL_MS   (24LL * 3600 * 1000)
#define AUTH_CERT_RENEW_MS (AUTH_CERT_TTL_MS / 2)
#define AUTH_CERT_SCAN_MS  60000
#define AUTH_PW_RUNNING    2u  /* Argon2id checks at once, server-wide */
#define AUTH_PW_WAITING    64u /* checks waiting; more are refused with EBUSY */

/* The peer's HELLO arrived: a device bound to an enabled account is
 * authenticated by its key; one bound to a disabled account gets RV_AUTH
 * EDISABLED; others hear nothing. */
void auth_hello(conn *c);
/* The timer: a fresh certificate to every device whose last one is
 * AUTH_CERT_RENEW_MS old (scanned every AUTH_CERT_SCAN_MS). */
void auth_tick(core *k, uint64_t now);

/* RV_LOGIN: answered after the password check (or at once with ERATE or
 * EBUSY). */
void auth_login(conn *c, const struct rv_login *l);

/* RV_LOGOUT: unbind the device; answered RV_AUTH ok=false ELOGGEDOUT. */
void auth_logout(conn *c);

/* The connection is closing: drop its login check and leave its account. */
void auth_conn_gone(conn *c);

/*
 * The account name was changed (disabled, enabled, rights granted or
 * revoked, deleted) and u is the account as read on the database thread
 * (dbq.h) after the change, NULL when it is gone. Sessions of a disabled
 * (or deleted) account end at once: each device gets RV_AUTH ok=false
 * EDISABLED and stays connected, unauthenticated. Returns the number of
 * sessions ended. (The control socket's "refresh NAME" and the admin
 * commands read the account in a job, then call this in its after.)
 */
int auth_apply(core *k, const char *name, const db_user *u);
/* On the database thread: name's account into *u for auth_apply. 0,
 * BANTER_ENOENT (no such account: apply that), or a database error with
 * its text in errmsg. */
int auth_read(db *d, const char *name, db_user *u, char errmsg[static DBQ_ERRMSG_LEN]);
/* The same for an account changed elsewhere (another instance): name is
 * read again by a database job, then auth_apply; a failure is logged. */
void auth_refresh(core *k, const char *name);
/*
 * A login that raced an admin: its lookup read the account and the device
 * before an admin disabled, deleted or changed the account or revoked the
 * device, and the admin's change looked for the account's sessions before
 * this one was online. So once a session is online (on one instance: as it
 * starts; on a cluster: when its device's row in the shared table is
 * written, cluster_cbs.recorded), the account and the revocation of each
 * of its devices connected here are read again (a database job): sessions
 * of a disabled or deleted account end (auth_apply, which also takes the
 * rights as read), a revoked device is disconnected. One of the two reads
 * sees the other's write. A failure is logged.
 */
void auth_recheck(core *k, const char *name);

#endif
