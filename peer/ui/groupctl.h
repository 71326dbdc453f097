/* SPDX-License-Identifier: MIT */
/*
 * groupctl.h - the control socket's group and history-search requests
 * (docs/control.md, "Groups" and "Finding messages"): groups,
 * group_create, group_invite, group_remove, group_leave, group_rename,
 * group_admin, group_members, group_send, group_history, group_read,
 * find. Typed requests in (shared/ctlmsg checks every argument), JSON
 * out; the node's groups (core/groups.h) and store do the
 * work. control.c hands these requests over and sends back the reply,
 * and turns the node's group events into JSON events with
 * groupctl_event.
 */
#ifndef BANTER_PEER_GROUPCTL_H
#define BANTER_PEER_GROUPCTL_H

#include <cJSON.h>
#include <stdbool.h>

#include "core/node.h"
#include "ctlmsg.h"

/* Whether kind is one of these requests. */
bool groupctl_owns(ctl_kind kind);

/* Serve one request, decoded by ctlmsg_decode; the reply is the
 * caller's (cJSON_Delete). */
cJSON *groupctl_request(node *n, const ctl_request *q);

/* Whether ev is a group event, and its JSON (the caller's). */
bool groupctl_event_owns(const node_event *ev);
cJSON *groupctl_event(node *n, const node_event *ev);

#endif
