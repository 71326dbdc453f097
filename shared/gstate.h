/* SPDX-License-Identifier: MIT */
/*
 * gstate.h - group membership (docs/protocol.md section 13): the state of a
 * group every member device keeps, its wire form, who may change what, and
 * how devices that saw changes in different orders agree.
 *
 * A member is named by a member id: "@account" for an organisation account
 * (the account name rules of shared/cert) or the 64 lowercase hex digits of
 * a LAN colleague's device key. Names are labels elsewhere; a member id is
 * identity (an account proven by the server's certificate, or a key).
 *
 * Every change is sent as the whole new state (name, members with roles,
 * version v, author). A device applies a state of version v + 1 when its
 * author may make that change from the state at v:
 *   - an admin may invite (add members), remove members, make or unmake
 *     admins and rename, except that the creator stays an admin while a
 *     member and only the creator removes the creator (by leaving);
 *   - any member may leave: remove itself, and change nothing else;
 *   - the group id and creator never change.
 * Two different states of the same version v + 1 (two admins at once): the
 * one gstate_conflict prefers wins on every device (a state that removes
 * or demotes the other's author first, then an order of the authors that
 * neither chooses); a device that applied the other goes back to v and
 * applies the winner. A state beyond v + 1 by a member of the state at v
 * waits (at most GSTATE_MAX_PENDING per group, the nearest versions) until
 * the states between arrive.
 *
 * Sans-I/O: no clock, no randomness, no allocation in the rules; the codec
 * allocates only through cJSON and frees before returning.
 */
#ifndef BANTER_GSTATE_H
#define BANTER_GSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banter_limits.h"
#include "buf.h"
#include "error.h"

#define GSTATE_ID_LEN      16
#define GSTATE_MAX_MEMBERS 128
#define GSTATE_MEMBER_MAX  65 /* "@" + a name of up to 64 bytes, or 64 hex digits */
#define GSTATE_MAX_PENDING 8
/* A state more than this many versions ahead of the one a device holds is
 * refused: no group changes that often while a device is away, and a state
 * near the end of v's range would freeze the group. */
#define GSTATE_MAX_JUMP    65536

typedef struct gstate_member {
    char id[GSTATE_MEMBER_MAX + 1];
    bool admin;
} gstate_member;

/* One version of a group. Members are kept sorted by id (the encoding
 * is canonical: one state, one byte string). */
typedef struct gstate {
    uint8_t group[GSTATE_ID_LEN];
    uint64_t v; /* 1 at creation */
    char name[BANTER_MAX_NAME + 1];
    char creator[GSTATE_MEMBER_MAX + 1];
    char by[GSTATE_MEMBER_MAX + 1]; /* the author of this version */
    size_t n;
    gstate_member m[GSTATE_MAX_MEMBERS];
} gstate;

/* Whether s is a valid member id. */
bool gstate_member_valid(const char *s);

/* The member in st, or NULL. */
const gstate_member *gstate_find(const gstate *st, const char *id);

/* Canonical JSON of st (members sorted, no spaces) appended to out.
 * BANTER_ESCHEMA for a state the rules of gstate_decode refuse,
 * BANTER_ETOOBIG, BANTER_ENOMEM. */
BANTER_WUR int gstate_encode(const gstate *st, buf *out);

/* A state from JSON. Refused (BANTER_EJSON, BANTER_ESCHEMA, ...): a field
 * missing or malformed, v of 0, a member id that is not one, a member
 * twice, no member or more than GSTATE_MAX_MEMBERS, no admin, the creator
 * present but not an admin, an author who is neither a member nor the one
 * who just left (checked by gstate_check), members not in order. */
BANTER_WUR int gstate_decode(gstate *st, const char *json, size_t len);

/* Whether next may follow prev (v + 1, same group and creator), made by
 * next->by. prev NULL: next is a creation (v 1, by the creator, who is an
 * admin). 0, or BANTER_EPERM with a short reason in why (which may be
 * NULL): the author lacks the right; BANTER_ESTATE: not the next version
 * of this group. */
BANTER_WUR int gstate_check(const gstate *prev, const gstate *next, char *why, size_t whylen);

/* The order of two states by the BLAKE2b hash of their encodings: < 0, 0
 * (the same state), > 0. */
int gstate_order(const gstate *a, const gstate *b);

/* The tie-break of two different states a and b of one version, both
 * made over base: > 0 when a wins, < 0 when b does. In this order:
 *   1. a state that removes or demotes the other's author (a member of
 *      base) wins over one that does not do the same to its own author:
 *      an admin removed or demoted at version v cannot win back with a
 *      state of its own at v;
 *   2. of two authors, the one whose BLAKE2b("banter-group-tie" || group
 *      || v (8 bytes, big-endian) || author id) is larger: no author
 *      chooses what decides (the group, the version, the ids), whatever
 *      its state holds;
 *   3. of one author's two states, the larger gstate_order.
 * The same on every device, whatever arrived first. */
int gstate_conflict(const gstate *base, const gstate *a, const gstate *b);

/*
 * A device's view of one group: the applied state, the one before it (to
 * go back when a concurrent change wins) and states that wait for the
 * versions before them.
 */
typedef struct gview {
    gstate cur;
    gstate base; /* cur's predecessor; valid when has_base */
    bool has_base;
    size_t npending;
    gstate pending[GSTATE_MAX_PENDING];
} gview;

typedef enum gview_result {
    GVIEW_APPLIED,  /* cur changed: show it, start a new sender-key epoch if
                       someone left or was removed */
    GVIEW_IGNORED,  /* known already, older, or a concurrent loser */
    GVIEW_PENDING,  /* kept until the versions before it arrive (in memory
                       only: not to be acknowledged, the sender sends it
                       again) */
    GVIEW_DEFERRED, /* ahead, and not kept: its author is not a member of
                       the current state, or nearer versions fill the
                       room; not to be acknowledged either */
} gview_result;

/* Start a view from a creation (checked as gstate_check(NULL, ...)). */
BANTER_WUR int gview_init(gview *g, const gstate *created, char *why, size_t whylen);

/* Take a state received from its author's device (the caller has checked
 * that the sending device belongs to member st->by; for someone removed in
 * st, st->by is the remover). *res says what happened. Errors as
 * gstate_check, and BANTER_EPERM for a state more than GSTATE_MAX_JUMP
 * versions ahead; a refused state changes nothing. Pending states that
 * become next are applied in the same call. */
BANTER_WUR int gview_receive(gview *g, const gstate *st, gview_result *res, char *why,
                             size_t whylen);

/*
 * The order group messages are shown in, the same on every device once
 * all are there: by Lamport clock lc (a sender gives each message one more
 * than the largest lc it has seen in the group, its own included), then
 * by the sending device's key, then by the sender-key iteration. A
 * sender's messages keep their order; a reply sorts after what it answers.
 */
typedef struct gstate_pos {
    uint64_t lc;
    uint8_t device[32];
    uint32_t epoch;
    uint32_t iteration;
} gstate_pos;
/* < 0, 0, > 0 as a sorts before, with, after b. */
int gstate_pos_cmp(const gstate_pos *a, const gstate_pos *b);

#endif
