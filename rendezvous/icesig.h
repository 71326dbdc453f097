/* SPDX-License-Identifier: MIT */
/*
 * icesig.h - what the server does for direct connections between nodes
 * (docs/rendezvous.md section 12): it tells each authenticated device
 * where to gather candidates (STUN and TURN servers) with short-lived TURN
 * credentials in coturn's REST scheme, and it forwards ICE signaling
 * (RV_ICE_OFFER, RV_ICE_ANSWER, RV_ICE_END) between two *connected*
 * devices of accounts that are approved contacts.
 *
 * Authorization (docs/rendezvous.md 2.1): a message is forwarded only
 * when the sender's account has an approved relation with the target
 * account that the sender did not block (or is that account: its other
 * device), the target did not block the sender, and the target device is
 * connected and authenticated now. Otherwise the sender gets RV_ICE_END with error
 * ENOTCONTACT (no relation, or the sender blocked the target: the same
 * answer whether the account exists or not) or EOFFLINE (the device is
 * not connected, or the target blocked the sender: as its presence
 * says), EBUSY (the target's connection is full) and nothing reaches the
 * target. Each connection may send ICESIG_BURST signaling messages per
 * ICESIG_WINDOW_MS; beyond that they are refused with ERROR ERATE (and
 * count towards the connection's refusals).
 *
 * TURN credentials: username "EXPIRY:ACCOUNT" (EXPIRY in Unix seconds),
 * password base64(HMAC-SHA1(secret, username)), the secret being
 * coturn's static-auth-secret. A device gets them right after RV_AUTH
 * ok, and again when 5/6 of their lifetime has passed (50 min of an
 * hour), so a node always holds credentials valid for a while.
 */
#ifndef BANTER_RDV_ICESIG_H
#define BANTER_RDV_ICESIG_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "core.h"
#include "rvmsg.h"

#define ICESIG_SECRET_MAX 256
#define ICESIG_BURST      32    /* signaling messages per connection per window */
#define ICESIG_WINDOW_MS  10000 /* the window */
#define ICESIG_SCAN_MS    60000 /* how often due credentials are looked for */

struct icesig_config {
    struct rv_ice_servers servers; /* the URLs; no credentials */
    char secret[ICESIG_SECRET_MAX + 1];
    int64_t ttl_ms; /* lifetime of the credentials */
};

/* The TURN credentials of account acct valid until expires_s (Unix seconds):
 * user "EXPIRY:ACCT" and pass, into the RV_ICE_SERVERS fields. 0, or
 * BANTER_EINVAL (no secret, a bad account), BANTER_ETOOLONG. */
BANTER_WUR int icesig_credentials(const char *secret, const char *acct, int64_t expires_s,
                                  char user[static RV_ICE_CRED_MAX + 1],
                                  char pass[static RV_ICE_CRED_MAX + 1]);

/* c was just authenticated: send it RV_ICE_SERVERS, with no server in it
 * when none is configured (a node offers only after it heard which). */
void icesig_device_up(conn *c);

/* RV_ICE_OFFER, RV_ICE_ANSWER or RV_ICE_END from an authenticated c. */
void icesig_relay(conn *c, const rvmsg *m);

/* Called every tick: every ICESIG_SCAN_MS, credentials that reached 5/6
 * of their lifetime are sent again. */
void icesig_tick(core *k, uint64_t now);

#endif
