/* SPDX-License-Identifier: MIT */
/*
 * rel.h - the contact relation between two accounts as a pure state
 * machine (docs/rendezvous.md 5.1); no I/O, so it is tested alone.
 *
 * A pair of accounts A, B is two sides, each A's (or B's) own record: a
 * relation (REL_*) that mirrors the other side's (outgoing on one side is
 * incoming on the other; none and approved are the same on both), and a
 * blocked flag that is that side's alone. What a side sees (rel_view) is
 * `blocked` while it blocks the other, else its relation. Requests,
 * removals... by the blocked side change the hidden relation of the
 * blocker as they would have, so unblocking shows where the pair stands
 * now (what it was before the block, as far as the other side still
 * agrees).
 */
#ifndef BANTER_RDV_REL_H
#define BANTER_RDV_REL_H

#include <stdbool.h>
#include <stdint.h>

#include "rvmsg.h"

enum { REL_NONE = 0, REL_OUTGOING = 1, REL_INCOMING = 2, REL_APPROVED = 3 };

#define REL_MAX 1000 /* relations per account (ELIMIT beyond) */

typedef struct rel_side {
    uint8_t rel;  /* REL_* */
    bool blocked; /* this side blocked the other */
} rel_side;

/*
 * Apply op, sent by side a about side b, to the pair. 0 (the sides are
 * updated, possibly unchanged) or BANTER_ESTATE (the op is not allowed in
 * a's view: approve or deny without an incoming request, request while a
 * blocks b); then nothing changed.
 */
BANTER_WUR int rel_apply(rv_op op, rel_side *a, rel_side *b);

/* The other side's relation for a side's one (outgoing <-> incoming). */
static inline uint8_t rel_mirror(uint8_t rel)
{
    return rel == REL_OUTGOING ? REL_INCOMING : rel == REL_INCOMING ? REL_OUTGOING : rel;
}

/* What a side sees of the other (RV_CS_*). */
rv_cstate rel_view(rel_side s);

/* Whether a side needs a stored record (it has a relation or a block). */
static inline bool rel_exists(rel_side s) { return s.rel != REL_NONE || s.blocked; }

/* Whether a sees b's presence, profile details and devices: a approved b
 * and neither blocked the other. */
static inline bool rel_details(rel_side a, bool b_blocked_a)
{
    return a.rel == REL_APPROVED && !a.blocked && !b_blocked_a;
}

#endif
