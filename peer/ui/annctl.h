/* SPDX-License-Identifier: MIT */
/*
 * annctl.h - the control socket's announcement requests and event
 * (docs/control.md, "Announcements"): announcements (the organisation's
 * announcements this node keeps, newest last) and announcement_read (the
 * user was shown one: kept as read and told to the server, which counts
 * it in `banter-admin announce report`), and the "announcement" event.
 * Typed requests in (shared/ctlmsg checks every argument), JSON out, as
 * groupctl.h.
 */
#ifndef BANTER_PEER_ANNCTL_H
#define BANTER_PEER_ANNCTL_H

#include <cJSON.h>
#include <stdbool.h>

#include "core/node.h"
#include "ctlmsg.h"

/* Whether kind is one of these requests. */
bool annctl_owns(ctl_kind kind);
/* Serve one request; the reply is the caller's (cJSON_Delete). */
cJSON *annctl_request(node *n, const ctl_request *q);
/* Whether ev is an announcement event, and its JSON (the caller's). */
bool annctl_event_owns(const node_event *ev);
cJSON *annctl_event(const node_event *ev);

#endif
