/* SPDX-License-Identifier: MIT */
/*
 * groupctl.h - the control socket's group and history-search requests
 * (docs/control.md, "Groups" and "Finding messages"): groups,
 * group_create, group_invite, group_remove, group_leave, group_rename,
 * group_admin, group_members, group_send, group_history, group_read,
 * group_delete, find. Typed requests in (shared/ctlmsg checks every argument), typed
 * replies and events out, written by ctlmsg; the node's groups
 * (core/groups.h) and store do the work. control.c hands these requests
 * over and sends back what was written, and turns the node's group events
 * into events with groupctl_event.
 */
#ifndef BANTER_PEER_GROUPCTL_H
#define BANTER_PEER_GROUPCTL_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "core/node.h"
#include "ctlmsg.h"

/* Whether kind is one of these requests. */
bool groupctl_owns(ctl_kind kind);

/* Serve one request, decoded by ctlmsg_decode: its reply, or the error
 * reply saying why it was refused, appended to out. 0, or the error of
 * ctlmsg_encode_* when the reply cannot be written (nothing appended). */
int groupctl_request(node *n, const ctl_request *q, buf *out);

/* Whether ev is a group event; its text ("at": at, milliseconds)
 * appended to out, as groupctl_request. */
bool groupctl_event_owns(const node_event *ev);
int groupctl_event(node *n, const node_event *ev, int64_t at, buf *out);

#endif
