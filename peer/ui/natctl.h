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
 * natctl_summary() is the pure part (candidate lines in, the typed answer
 * out, which shared/ctlmsg writes as JSON), tested alone.
 */
#ifndef BANTER_PEER_NATCTL_H
#define BANTER_PEER_NATCTL_H

#include <stddef.h>
#include <stdint.h>

#include "banter_limits.h"
#include "ctlmsg.h"
#include "rdv/direct.h"

/* A check's answer: summary (the "nat_check" reply) points into it. */
typedef struct natctl_report {
    ctl_nat summary;
    ctl_nat_cand cands[BANTER_ICE_MAX_CANDS];
    char addrs[BANTER_ICE_MAX_CANDS][64];
    char servers[1024];
    char mapped[64];
} natctl_report;

/* Why a check could not start: the error reply's name ("ENOTCONN" ...)
 * and message, static strings. */
typedef struct natctl_error {
    const char *name, *message;
} natctl_error;

typedef struct natctl_wait natctl_wait;
/* The answer, valid for the call only. */
typedef void (*natctl_reply_fn)(void *ud, const natctl_report *rep);

/* Start a check with d (may be NULL: no rendezvous). 0 with *pending set:
 * reply runs exactly once later (within about 10 s) unless natctl_cancel
 * comes first. Otherwise a BANTER_E code with *err saying why; reply
 * never runs. */
int natctl_request(direct *d, natctl_reply_fn reply, void *ud, natctl_wait **pending,
                   natctl_error *err);
/* The client went away: reply will not run. Accepts NULL. */
void natctl_cancel(natctl_wait *w);

/* The answer for n gathered candidate lines (bad ones left out) into
 * *out: the candidates ({type, transport, address, port, turn}), the
 * counts, "nat" none|behind|unknown, "mapped" (the server-reflexive
 * address, "" when none), "turn" udp|tcp|failed|none, "verdict" (a
 * sentence). servers as direct_servers() gives them; a negative
 * cred_expires_ms counts as 0. */
void natctl_summary(natctl_report *out, const char *servers, int64_t cred_expires_ms,
                    const char *const *lines, size_t n, int gather_err);

#endif
