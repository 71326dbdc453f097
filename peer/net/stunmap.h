/* SPDX-License-Identifier: MIT */
/*
 * stunmap.h - the NAT mapping check on the node's loop: one UDP socket,
 * STUN Binding requests to one or two vantage points, retransmitted, the
 * answers compared (shared/natmap.h does the protocol and the verdict;
 * this module only moves the datagrams and reads the clock and the host's
 * own addresses). Used by `banter doctor` (ui/doctorctl.h).
 */
#ifndef BANTER_PEER_STUNMAP_H
#define BANTER_PEER_STUNMAP_H

#include <glib.h>
#include <stddef.h>

#include "bcrypto.h"
#include "natmap.h"

typedef struct stunmap stunmap;

/* r: the report (borrowed for the call). The check is freed after done
 * returns: do not call stunmap_cancel from it. */
typedef void (*stunmap_done_fn)(void *ud, const natmap_report *r);

/* Ask dests[0..n) (1..BANTER_MAX_STUN_DEST, one address family) from one
 * new UDP socket on ctx. NULL when the socket cannot be made or the
 * arguments are bad: done never runs. Otherwise done runs exactly once,
 * from ctx, within about NATMAP_DEADLINE_MS (twice that when a first
 * answer names an RFC 5780 OTHER-ADDRESS), unless stunmap_cancel comes
 * first. */
stunmap *stunmap_start(GMainContext *ctx, const stun_addr *dests, size_t n, const banter_rng *rng,
                       stunmap_done_fn done, void *ud);
/* done will not run; the socket is closed. Accepts NULL. */
void stunmap_cancel(stunmap *s);

#endif
