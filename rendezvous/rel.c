/* SPDX-License-Identifier: MIT */
/* rel.c - the contact relation state machine (see rel.h). */
#include "rel.h"

static int request(rel_side *a, rel_side *b)
{
    if (a->blocked)
        return BANTER_ESTATE; /* unblock first */
    if (a->rel == REL_OUTGOING || a->rel == REL_APPROVED)
        return 0;
    if (b->blocked || a->rel == REL_NONE) {
        /* Blocked by b: it looks like a request not yet answered. */
        a->rel = REL_OUTGOING;
        b->rel = REL_INCOMING;
    } else {
        a->rel = b->rel = REL_APPROVED; /* b asked first */
    }
    return 0;
}

int rel_apply(rv_op op, rel_side *a, rel_side *b)
{
    switch (op) {
    case RV_OP_REQUEST:
        return request(a, b);
    case RV_OP_APPROVE:
    case RV_OP_DENY:
        if (a->blocked || a->rel != REL_INCOMING)
            return BANTER_ESTATE;
        a->rel = b->rel = op == RV_OP_APPROVE ? REL_APPROVED : REL_NONE;
        return 0;
    case RV_OP_REMOVE:
        a->rel = b->rel = REL_NONE;
        return 0;
    case RV_OP_BLOCK:
        a->blocked = true;
        return 0;
    case RV_OP_UNBLOCK:
        a->blocked = false;
        return 0;
    default:
        return BANTER_EINVAL;
    }
}

rv_cstate rel_view(rel_side s)
{
    if (s.blocked)
        return RV_CS_BLOCKED;
    switch (s.rel) {
    case REL_OUTGOING:
        return RV_CS_OUTGOING;
    case REL_INCOMING:
        return RV_CS_INCOMING;
    case REL_APPROVED:
        return RV_CS_APPROVED;
    default:
        return RV_CS_NONE;
    }
}
