/* SPDX-License-Identifier: MIT */
/*
 * natctl.h - the control socket's "nat_check" request (docs/control.md,
 * "Direct connections"): gather ICE candidates against the STUN/TURN
 * servers the rendezvous named, and say what kind of path this node can
 * offer contacts: its host addresses, whether it is behind NAT (the
 * server-reflexive address differs from every host address), whether
 * TURN works over UDP, only over TCP (UDP blocked), or not at all
 * (unreachable or credentials refused), in sentences a user can act on.
 *
 * natctl_summary() is the pure part (candidate lines in, the JSON answer
 * out), tested alone.
 */
#ifndef BANTER_PEER_NATCTL_H
#define BANTER_PEER_NATCTL_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "rdv/direct.h"

typedef struct natctl_wait natctl_wait;
typedef void (*natctl_reply_fn)(void *ud, cJSON *reply);

/* Start a check with d (may be NULL: no rendezvous). Returns the reply
 * (the caller's) at once for an error, or NULL with *pending set: reply
 * runs exactly once later (within about 10 s) unless natctl_cancel comes
 * first. */
cJSON *natctl_request(direct *d, natctl_reply_fn reply, void *ud, natctl_wait **pending);
/* The client went away: reply will not run. Accepts NULL. */
void natctl_cancel(natctl_wait *w);

/* The answer for n gathered candidate lines: {"ok":true, "servers",
 * "credentials_expire_ms", "candidates":[{"type","transport","address",
 * "port","turn"}...], "host","srflx","relay_udp","relay_tcp" (counts),
 * "nat": "none"|"behind"|"unknown", "mapped" (the server-reflexive
 * address, when one), "turn": "udp"|"tcp"|"failed"|"none", "verdict" (a
 * sentence)}. servers as direct_servers() gives them. */
cJSON *natctl_summary(const char *servers, int64_t cred_expires_ms, const char *const *lines,
                      size_t n, int gather_err);

#endif
