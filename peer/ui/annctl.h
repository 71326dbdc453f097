/* SPDX-License-Identifier: MIT */
/*
 * annctl.h - the control socket's announcement requests and event
 * (docs/control.md, "Announcements"): announcements (the organisation's
 * announcements this node keeps, newest last) and announcement_read (the
 * user was shown one: kept as read and told to the server, which counts
 * it in `banter-admin announce report`), and the "announcement" event.
 * Typed requests in (shared/ctlmsg checks every argument), typed replies
 * and events out, written by ctlmsg, as groupctl.h.
 */
#ifndef BANTER_PEER_ANNCTL_H
#define BANTER_PEER_ANNCTL_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "core/node.h"
#include "ctlmsg.h"

/* Whether kind is one of these requests. */
bool annctl_owns(ctl_kind kind);
/* Serve one request: its reply, or the error reply saying why it was
 * refused, appended to out. 0, or the error of ctlmsg_encode_* when the
 * reply cannot be written (nothing appended). */
int annctl_request(node *n, const ctl_request *q, buf *out);
/* Whether ev is an announcement event; its text ("at": at, milliseconds)
 * appended to out, as annctl_request. */
bool annctl_event_owns(const node_event *ev);
int annctl_event(const node_event *ev, int64_t at, buf *out);

#endif
