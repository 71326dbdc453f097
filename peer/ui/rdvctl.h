/* SPDX-License-Identifier: MIT */
/*
 * rdvctl.h - the control socket's rendezvous requests (docs/control.md,
 * "Rendezvous"): rendezvous, login, logout, profile_set, search,
 * contacts, requests, contact, status, org_broadcast. JSON in, JSON out;
 * rdv and the roster do the work. control.c hands these requests over and
 * sends back what comes.
 */
#ifndef BANTER_PEER_RDVCTL_H
#define BANTER_PEER_RDVCTL_H

#include <cJSON.h>
#include <stdbool.h>

#include "core/node.h"
#include "rdv/rdv.h"
#include "rdv/roster.h"

typedef struct rdvctl_wait rdvctl_wait;

/* The reply of a request that waited for the server; reply is the
 * callee's (cJSON_Delete). */
typedef void (*rdvctl_reply_fn)(void *ud, cJSON *reply);

bool rdvctl_owns(const char *cmd);

/* Serve one request for n's rendezvous (there may be none; n may be NULL
 * too, as for a node without one). Returns
 * the reply (the caller's) at once, or NULL with *pending set when the
 * reply comes later through reply(ud, ...): exactly once, unless
 * rdvctl_cancel(*pending) comes first. A "password" in req is wiped. */
cJSON *rdvctl_request(rdv *r, roster *ro, const char *cmd, cJSON *req, rdvctl_reply_fn reply,
                      void *ud, rdvctl_wait **pending);

/* Add a contact's members (state, status, text, devices, profile) to o:
 * the same shape in "contacts", "peers" and events. */
void rdvctl_contact_fields(cJSON *o, const roster_contact *c);

/* The client went away: reply will not be called. Accepts NULL. */
void rdvctl_cancel(rdvctl_wait *w);

#endif
