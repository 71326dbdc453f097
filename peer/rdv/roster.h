/* SPDX-License-Identifier: MIT */
/*
 * roster.h - the node's rendezvous contacts and the messages it exchanges
 * with them through the server (docs/rendezvous.md sections 5 to 7).
 *
 * The roster owns the contact list the server sends (RV_CONTACTS,
 * RV_PRESENCE) and tells the core (node_org_update) who each account is,
 * which devices it has and its presence. It is the messenger's "relay"
 * route: a copy for a device of an approved account is sealed to that
 * device (shared/sealed.h) and sent as RV_SEAL while the session is logged
 * in; each answer (RV_STORED) settles that copy (delivered, stored on the
 * server, or refused). Sealed copies from others (RV_SEALED) are opened
 * and checked, handed to the messenger, and acknowledged (RV_DELIVERED)
 * only once stored. Everything runs on the node's main loop.
 */
#ifndef BANTER_PEER_ROSTER_H
#define BANTER_PEER_ROSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity.h"
#include "core/node.h"
#include "rdv/rdv.h"
#include "rvmsg.h"

#define ROSTER_SOURCE "rendezvous"

typedef struct roster roster;

/* One contact, as the server described it last. Borrowed pointers are
 * valid until the main loop runs again. */
typedef struct roster_contact {
    char name[BANTER_MAX_NAME + 1];
    uint8_t key[32]; /* its contact key in the store */
    rv_cstate state;
    rv_presence status; /* RV_P_OFFLINE unless approved and visible */
    char text[RV_TEXT_MAX + 1];
    size_t ndev;
    const struct rv_profile *profile; /* borrowed */
} roster_contact;

/* Set up and register as r's sink. server_fpd: the pinned fingerprint's
 * 40 digits (part of every account key). BANTER_ENOMEM. */
BANTER_WUR int roster_new(roster **out, node *n, rdv *r, const identity *id,
                          const char *server_fpd);
/* Accepts NULL. Nothing in flight is lost: unanswered messages stay
 * queued in the store. */
void roster_free(roster *ro);

/* The messenger's "relay" route through this roster. */
mr_route roster_route(roster *ro);

/* The contact by its store key or by account name: 0 or BANTER_ENOENT. */
BANTER_WUR int roster_get(roster *ro, const uint8_t key[static 32], roster_contact *out);
BANTER_WUR int roster_find(roster *ro, const char *name, roster_contact *out);
/* Every contact, ordered by name; *out is the caller's (g_free). */
size_t roster_list(roster *ro, roster_contact **out);
/* Whether the session is logged in (the list is only meaningful then). */
bool roster_online(const roster *ro);

/* An organisation broadcast (docs/rendezvous.md section 7): done runs once
 * with the outcome (err 0 or a BANTER_E code and a sentence) and the
 * number of accounts and of device copies delivered, stored and refused.
 * Not kept in the store. BANTER_ESTATE with why (not logged in, or one
 * already runs), a codec error (text too long). */
typedef struct roster_bcast_result {
    int err;
    const char *why;
    size_t users, delivered, stored, refused;
} roster_bcast_result;
typedef void (*roster_bcast_fn)(void *ud, const roster_bcast_result *res);
BANTER_WUR int roster_org_broadcast(roster *ro, const char *department, const char *text,
                                    size_t len, roster_bcast_fn done, void *ud, char *why,
                                    size_t cap);
/* The caller no longer wants the outcome of its broadcast (it continues). */
void roster_bcast_forget(roster *ro, void *ud);

/* Group message m from device was taken (from any route): the relayed
 * group messages parked for it are tried again (parking.h: for a state,
 * those of its group; for a key, its sender's of that group; for a
 * message, none). ro NULL: nothing. */
void roster_group_taken(roster *ro, const uint8_t device[static 32], const msg *m);

#endif
