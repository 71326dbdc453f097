/* SPDX-License-Identifier: MIT */
/*
 * direct.h - direct connections to organisation contacts (the messenger's
 * "ice" route), wired together: the rendezvous carries the signaling and
 * the STUN/TURN servers (rdv.h, docs/rendezvous.md 12), net/icelink makes
 * the paths, net/lan runs the connections over them, and the core says
 * which devices to reach (approved contacts, online at the server, and
 * the account's other devices the server lists as connected, with no LAN
 * connection) and which may reach us.
 *
 * When presence, the contact list, the account's devices connected (the
 * server's RV_STATUS) or the rendezvous session changes, and
 * then every DIRECT_SCAN_MS while one of them has no connection (not at
 * all when every device is reached), each such device is handed to
 * icelink_want(); an
 * offer is accepted only from a trusted device of an approved contact
 * with that account, and the key its connection proves must be that
 * device's (lan_adopt).
 *
 * Lifetime: direct_detach() before the rendezvous client is freed (it
 * stops all signaling), direct_free() after the LAN (lan_free), which
 * lets go of the paths.
 */
#ifndef BANTER_PEER_DIRECT_H
#define BANTER_PEER_DIRECT_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/node.h"
#include "identity.h"
#include "net/lan.h"
#include "rdv/rdv.h"
#include "stun.h"

#define DIRECT_SCAN_MS 5000

typedef struct direct direct;

/* NULL when out of memory. server_fpd: the pinned server's digits. */
direct *direct_new(GMainContext *ctx, node *n, rdv *r, lan *l, const identity *id,
                   const char *server_fpd);
/* Stop signaling (before rdv_free). Accepts NULL. */
void direct_detach(direct *d);
/* After lan_free. Accepts NULL. */
void direct_free(direct *d);

/* banter.conf's ice (default on). Off: no device is sought and ICE
 * signaling from others is ignored (their offers time out: they keep to
 * the relay); the servers are still kept, so `banter nat-check` works. */
void direct_set_ice(direct *d, bool on);

/* How device is reached directly now (icelink_path). */
bool direct_path(direct *d, const uint8_t dev[static 32], char *route, size_t rcap, char *text,
                 size_t tcap);

/* Gather candidates against the servers the rendezvous named (`banter
 * nat-check`): see icelink_check. BANTER_ENOENT when the rendezvous has
 * named no server yet. */
BANTER_WUR int direct_check(direct *d, void (*line)(void *ud, const char *text),
                            void (*done)(void *ud, int err), void *ud);
/* The servers the rendezvous named, for the check's report: "stun:...",
 * "turn:..." separated by spaces ("" for none); *cred_expires_ms when the
 * TURN credentials end (0: none). */
void direct_servers(direct *d, char *out, size_t cap, int64_t *cred_expires_ms);
/* The STUN vantage points for the NAT mapping check (natmap.h): the STUN
 * servers the rendezvous named, then its TURN servers that take UDP (coturn
 * answers Binding requests on its TURN port too), in that order, without
 * duplicates, all of the first one's address family: at most max into out;
 * the count (0 with no rendezvous servers; d may be NULL). */
size_t direct_stun_points(direct *d, stun_addr *out, size_t max);

#endif
