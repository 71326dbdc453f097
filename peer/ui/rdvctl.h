/* SPDX-License-Identifier: MIT */
/*
 * rdvctl.h - the control socket's rendezvous requests (docs/control.md,
 * "Rendezvous"): rendezvous, login, logout, profile_set, search,
 * contacts, requests, contact, status, org_broadcast (the kinds with
 * CTL_F_RDV in ctlmsg's table, plus rendezvous). Typed requests in (ctlmsg
 * decoded and checked them), JSON text out through ctlmsg's writers; rdv
 * and the roster do the work. control.c hands these requests over and
 * sends back what comes.
 */
#ifndef BANTER_PEER_RDVCTL_H
#define BANTER_PEER_RDVCTL_H

#include <stdbool.h>

#include "buf.h"
#include "core/node.h"
#include "ctlmsg.h"
#include "rdv/rdv.h"
#include "rdv/roster.h"

typedef struct rdvctl_wait rdvctl_wait;

/* The reply of a request that waited for the server: one JSON object of
 * len bytes (no newline), valid during the call. */
typedef void (*rdvctl_reply_fn)(void *ud, const char *json, size_t len);

/* Whether kind is one of rdvctl's. */
bool rdvctl_owns(ctl_kind kind);

/* Serve one request for the rendezvous r (NULL: none configured; ro then
 * NULL too). Either the reply is appended to out now and *pending is
 * NULL, or *pending is set and the reply comes later through reply(ud,
 * ...): exactly once, unless rdvctl_cancel(*pending) comes first. A
 * password in q (login) is wiped. BANTER_ENOMEM when out cannot take the
 * reply (nothing is pending then). */
BANTER_WUR int rdvctl_request(rdv *r, roster *ro, ctl_request *q, buf *out, rdvctl_reply_fn reply,
                              void *ud, rdvctl_wait **pending);

/* The client went away: reply will not be called. Accepts NULL. */
void rdvctl_cancel(rdvctl_wait *w);

#endif
