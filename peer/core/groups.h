/* SPDX-License-Identifier: MIT */
/*
 * groups.h - group conversations in the node (docs/protocol.md 12, 13):
 * membership (shared/gstate.h), sender keys (shared/gkey.h), and their
 * messages carried by the one pipeline (core/messenger.h).
 *
 * Every member device keeps the group's state, its own sending chain and
 * the chains of the other member devices (core/store.h, groups). A change
 * (create, invite, remove, leave, rename) is applied here and sent as the
 * whole new state (GROUP_STATE) to every device of every member of the
 * new state and of the members it removes. A message is sealed once with
 * this device's chain and queued with one copy per device of every other
 * member (own other devices included): the messenger sends each over the
 * best route that reaches it and records its delivery. Distributions
 * (GROUP_KEY) go pairwise to member devices: this device's when it
 * creates or joins a group, to new members when a state invites them,
 * and a new epoch's to the remaining members when one leaves or is
 * removed, or after GROUPS_EPOCH_MSGS messages or GROUPS_EPOCH_MS.
 *
 * What is accepted from a device D (proven by its channel: the LAN
 * session's handshake, or the relay's sealed envelope with the server
 * vouching for the account):
 *   GROUP_STATE  D is a trusted device of member st.by; for a known group
 *                the change passes gview_receive; for an unknown one (an
 *                invitation) st.by is an admin of st, this node is a
 *                member of st, and the user did not delete the group
 *                here (groups_delete), within D's rate of new groups
 *                (BANTER_ERATE) and GROUPS_MAX (BANTER_ELIMIT, the
 *                refused callback tells the user).
 *   (A GROUP_KEY or GROUP_MSG for a group deleted here is BANTER_EPERM;
 *   for one never known, BANTER_EAGAIN: its state may be on its way.)
 *   GROUP_KEY    the distribution names D, the group is known, this node
 *                is a member, and D is a trusted device of a member.
 *   GROUP_MSG    the sealed header names D, the group is known, this node
 *                is a member, D is a trusted device of a member, and the
 *                message opens with D's chain; its GROUP_TEXT id is the
 *                GROUP_MSG's.
 * Anything else is BANTER_EPERM (refused, never stored).
 *
 * A member id (gstate.h) of a device: "@account" for a device of an
 * organisation contact or of the node's own account, else the device's
 * key in hex. This node's own: "@account" when logged in, else its key.
 *
 * Clock and randomness are handed in; no I/O but the store's and the
 * messenger's.
 */
#ifndef BANTER_PEER_GROUPS_H
#define BANTER_PEER_GROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bcrypto.h"
#include "core/clock.h"
#include "core/contacts.h"
#include "core/messenger.h"
#include "core/store.h"
#include "gstate.h"
#include "msg.h"

#define GROUPS_EPOCH_MSGS        1000u                    /* a new epoch after this many messages */
#define GROUPS_EPOCH_MS          (7LL * 24 * 3600 * 1000) /* or after this long */
#define GROUPS_PAGE_MAX          500                      /* history and search pages */
/* A received message moves this device's Lamport clock of the group at
 * most this far ahead (its own lc is kept for its position): a member
 * claiming a clock near the end of the range cannot push the group's
 * there. */
#define GROUPS_LC_STEP_MAX       (1ULL << 24)
/* The largest Lamport clock (its JSON range); the clock stops there. */
#define GROUPS_LC_MAX            ((uint64_t)BANTER_MAX_INT)
/* Receiving chains kept per member device and group: its newest epoch
 * and the one before (for messages still on their way). */
#define GROUPS_CHAINS_PER_DEVICE 2u
/* Groups a node holds (members or not; groups the user deleted are not
 * held): an invitation to one more is refused BANTER_ELIMIT, nothing
 * stored, and the user told (the refused callback, groups_refusals):
 * deleting old groups makes room (every group costs a row and, in use, a
 * view in memory; a LAN neighbour is trusted on first use). */
#define GROUPS_MAX               1000
/* New groups one device may invite this node into: GROUPS_INVITE_BURST
 * at once, then one every GROUPS_INVITE_EVERY_MS (20 in 10 minutes);
 * beyond, BANTER_ERATE (sent again later), nothing stored. */
#define GROUPS_INVITE_BURST      20u
#define GROUPS_INVITE_EVERY_MS   30000
/* A group's view (gview: its state, the one before, states waiting for
 * the versions before them; about 88 KB) is kept in memory for at most
 * this many groups in use; a full cache is emptied (views with states
 * waiting last) and a group used again is read from its row. What only
 * memory held, states waiting, was never acknowledged and comes again. */
#define GROUPS_VIEWS_MAX         64

typedef struct groups groups;

typedef struct groups_callbacks {
    /* A new group message was stored (incoming, or sent from another
     * device of the node's own account). */
    void (*message)(void *ud, const store_msg *m);
    /* A group's state changed (created, joined, members, name, left,
     * deleted: groups_get says BANTER_ENOENT then). */
    void (*changed)(void *ud, const uint8_t group[static GSTATE_ID_LEN]);
    /* An invitation by device to st was refused because this node holds
     * GROUPS_MAX groups already (may be NULL). */
    void (*refused)(void *ud, const uint8_t device[static 32], const gstate *st);
} groups_callbacks;

/* own: this device's key. BANTER_ENOMEM. */
BANTER_WUR int groups_new(groups **out, store *st, contacts *cs, messenger *mr,
                          const node_clock *clock, banter_rng rng, const uint8_t own[static 32],
                          const groups_callbacks *cb, void *ud);
/* Accepts NULL. */
void groups_free(groups *g);

/* This node's member id (GSTATE_MEMBER_MAX + 1 bytes). */
void groups_me(groups *g, char *out);

/* The member id of what a user typed: "@account", 64 hex digits, or a
 * contact (contacts_resolve: a LAN contact is named by its first trusted
 * device). BANTER_ENOENT, BANTER_EAMBIGUOUS; why says which. */
BANTER_WUR int groups_member_id(groups *g, const char *query, char *out, char *why, size_t cap);

/* A new group named name with this node (creator, admin) and members
 * (member ids, may be empty). id receives the group's id. why (cap bytes)
 * says what was refused: BANTER_EINVAL (a name or member id), BANTER_EDB. */
BANTER_WUR int groups_create(groups *g, const char *name, const char *const *members, size_t n,
                             uint8_t id[static GSTATE_ID_LEN], char *why, size_t cap);
/* Changes by this node, checked as any member's would be (gstate_check):
 * BANTER_EPERM with why, BANTER_ENOENT (no such group), BANTER_ESTATE
 * (this node is no longer a member), BANTER_EINVAL. */
BANTER_WUR int groups_invite(groups *g, const uint8_t id[static GSTATE_ID_LEN],
                             const char *const *members, size_t n, char *why, size_t cap);
BANTER_WUR int groups_remove(groups *g, const uint8_t id[static GSTATE_ID_LEN], const char *member,
                             char *why, size_t cap);
/* Leave: BANTER_EPERM too when this node is the last admin and others
 * stay (a group keeps an admin: make another one first). */
BANTER_WUR int groups_leave(groups *g, const uint8_t id[static GSTATE_ID_LEN], char *why,
                            size_t cap);
BANTER_WUR int groups_rename(groups *g, const uint8_t id[static GSTATE_ID_LEN], const char *name,
                             char *why, size_t cap);
BANTER_WUR int groups_set_admin(groups *g, const uint8_t id[static GSTATE_ID_LEN],
                                const char *member, bool admin, char *why, size_t cap);

/* Delete group id from this node (`banter group delete`; only the user
 * asks for it, never a peer). Still a member: this node leaves first, as
 * groups_leave (the others see a leave and start a new epoch; alone in
 * the group, there is nobody to tell). Then store_group_delete: the
 * group's state, every sending and receiving chain, its history and
 * search entries go in one transaction, and a tombstone stays, so that a
 * state, distribution or message for the group that comes later is
 * refused BANTER_EPERM (the group does not come back; an invitation to a
 * new group is taken as any). The states still on their way (the leave)
 * are sent. out: the group's name, whether it left, how many message rows
 * went. BANTER_ENOENT (no such group), a leave's errors (nothing
 * deleted; BANTER_EPERM as the last admin), BANTER_EDB / BANTER_ENOSPC (nothing deleted; left
 * already when out->left); why says which. */
typedef struct groups_deleted {
    char name[BANTER_MAX_NAME + 1];
    bool left;        /* it left the group first */
    int64_t messages; /* message rows deleted */
} groups_deleted;
BANTER_WUR int groups_delete(groups *g, const uint8_t id[static GSTATE_ID_LEN], groups_deleted *out,
                             char *why, size_t cap);

/* Invitations refused at GROUPS_MAX since groups_new, and when the last
 * was (wall clock, ms; 0: none). */
void groups_refusals(groups *g, int64_t *count, int64_t *last_ms);

/* Send text to the group: sealed once, one copy per device of every other
 * member. msgid receives its id. BANTER_ENOENT, BANTER_ESTATE (not a
 * member), text errors as messenger_send, BANTER_ETOOBIG. */
BANTER_WUR int groups_send(groups *g, const uint8_t id[static GSTATE_ID_LEN], const char *text,
                           size_t len, uint8_t msgid[static MSG_ID_LEN]);

/* The group a user named: 32 hex digits of its id, or its name (one
 * group of that name, by the contacts' name rule). BANTER_ENOENT,
 * BANTER_EAMBIGUOUS. */
BANTER_WUR int groups_find(groups *g, const char *query, uint8_t id[static GSTATE_ID_LEN]);

typedef struct groups_info {
    gstate st;      /* the applied state */
    bool member;    /* this node is a member */
    bool admin;     /* and an admin */
    uint32_t epoch; /* this device's sending epoch */
    int64_t unread; /* incoming messages after the last read */
    int64_t created_ms;
} groups_info;
/* Every group, oldest first; *out malloc'd (free()). */
BANTER_WUR int groups_list(groups *g, groups_info **out, size_t *n);
BANTER_WUR int groups_get(groups *g, const uint8_t id[static GSTATE_ID_LEN], groups_info *out);
/* Mark the group's messages read. */
BANTER_WUR int groups_mark_read(groups *g, const uint8_t id[static GSTATE_ID_LEN]);

/* Delivery of this node's message msgid to the group, per member (not
 * this node's own account): how many members have it on at least one
 * device (acknowledged, or on the server for them), out of how many. */
typedef struct groups_member_delivery {
    char id[GSTATE_MEMBER_MAX + 1];
    bool delivered; /* acknowledged by a device */
    bool server;    /* on the server for a device */
    bool failed;    /* every copy failed */
} groups_member_delivery;
BANTER_WUR int groups_delivery(groups *g, const uint8_t id[static GSTATE_ID_LEN],
                               const uint8_t msgid[static MSG_ID_LEN], groups_member_delivery **out,
                               size_t *n);

/* From adapters: a GROUP_STATE, GROUP_KEY or GROUP_MSG that device sent.
 * 0: taken (also a duplicate, or a state older than the group's): ACK it;
 * BANTER_EPERM: the sender has no right to it (refuse, do not keep);
 * BANTER_ELIMIT: an invitation beyond GROUPS_MAX (refuse, do not keep);
 * BANTER_EAGAIN: a message whose chain has not arrived yet, or a state
 * ahead of the versions before it (do not ACK: the sender sends it again);
 * BANTER_ERATE: an invitation over the device's rate (do not ACK);
 * another error: not stored (do not ACK). */
BANTER_WUR int groups_received(groups *g, const uint8_t device[static 32], const msg *m);

#endif
