/* SPDX-License-Identifier: MIT */
/*
 * control.h - the node's control socket: JSON lines on DIR/control.sock
 * (mode 0600, callers must have the node's uid), specified in
 * docs/control.md. The CLI uses nothing else.
 *
 * Bad input (garbage, partial or huge lines, unknown commands) gets an
 * error reply; a line over CONTROL_MAX_LINE closes that client only. The
 * node keeps serving.
 */
#ifndef BANTER_PEER_CONTROL_H
#define BANTER_PEER_CONTROL_H

#include <glib.h>

#include "node.h"
#include "xfer.h"

#define CONTROL_MAX_LINE    65536
#define CONTROL_MAX_CLIENTS 64

typedef struct control control;

/* Listen on path. When a node already answers there: BANTER_EIO with why
 * saying so; a stale socket file is replaced. */
BANTER_WUR int control_new(control **out, node *n, GMainContext *ctx, const char *path, char *why,
                           size_t cap);
/* Closes every client and removes the socket file. Accepts NULL. */
void control_free(control *ctl);

/* Deliver a node event to listeners and to requests waiting on it. */
void control_event(control *ctl, const node_event *ev);
/* Deliver a file-transfer event (the node's xfer event callback) to
 * listeners and to the client following that transfer; info is only read
 * during the call. */
void control_xfer_event(control *ctl, xfer_ev_type type, const xfer_info *info);

#endif
