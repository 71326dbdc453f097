/* SPDX-License-Identifier: MIT */
/*
 * control.h - the node's control socket: JSON lines on DIR/control.sock
 * (mode 0600, callers must have the node's uid), specified in
 * docs/control.md. The CLI uses nothing else.
 *
 * Bad input (garbage, partial or huge lines, unknown commands) gets an
 * error reply; a line over CONTROL_MAX_LINE closes that client only. The
 * node keeps serving.
 *
 * A client is a connection to the socket, or an in-process one
 * (control_attach: the web interface's WebSockets, peer/web.h). Both speak
 * the same requests, replies and events; an in-process client gets one
 * JSON object per call of its send function instead of lines.
 */
#ifndef BANTER_PEER_CONTROL_H
#define BANTER_PEER_CONTROL_H

#include <glib.h>

#include "core/node.h"
#include "core/xfer.h"
#include "net/evloop.h"
#include "rdv/rdv.h"
#include "rdv/roster.h"

#define CONTROL_MAX_LINE     65536
#define CONTROL_MAX_CLIENTS  64 /* socket connections */
#define CONTROL_MAX_INPROC   64 /* in-process clients, counted apart */
#define CONTROL_BACKLOG      64 /* the listen backlog */
/* A socket client's unwritten output: past it the client is dropped at
 * once (it does not read what it asked for or listens to). */
#define CONTROL_OUT_CAP      (4u << 20)
/* One history reply: at most this many messages in at most this many
 * bytes (fewer when they are long); "more" says older ones exist. */
#define CONTROL_HISTORY_PAGE 1000
#define CONTROL_MAX_REPLY    (1u << 20)

typedef struct control control;

/* Listen on path, the socket and its clients' sockets watched by ev (NULL:
 * fd sources on ctx's loop; net/evloop.h), its clients served on ctx. When a
 * node already answers
 * there: BANTER_EIO with why saying so; a stale socket file is replaced. */
BANTER_WUR int control_new(control **out, node *n, GMainContext *ctx, evloop *ev, const char *path,
                           char *why, size_t cap);
/* Closes every client and removes the socket file. Accepts NULL. */
void control_free(control *ctl);

/* ---- in-process clients ---- */

typedef struct control_client control_client;

/* One reply or event for an in-process client: a JSON object of len bytes
 * (no newline), valid during the call. It must not call control_detach. */
typedef void (*control_send_fn)(void *ud, const char *json, size_t len);
/* control ends this client by itself (the node stops; a request was too
 * long): cc is freed when this returns and must not be used again. May run
 * inside control_client_input. */
typedef void (*control_close_fn)(void *ud);

/* A new client that behaves like a socket connection: requests through
 * control_client_input, replies and events through send. NULL when
 * CONTROL_MAX_INPROC in-process clients exist (socket connections have
 * their own limit, CONTROL_MAX_CLIENTS). */
control_client *control_attach(control *ctl, control_send_fn send, control_close_fn close,
                               void *ud);
/* One request: a JSON object of len bytes (no newline needed). As on the
 * socket, one request at a time; replies may come during the call or
 * later. Over CONTROL_MAX_LINE bytes: an ETOOBIG reply, then close. The
 * request is copied and the copy wiped (it may carry a password). */
void control_client_input(control_client *cc, const char *json, size_t len);
/* The owner ends the client (close is not called). Pending replies are
 * dropped; transfers it started go on. Accepts NULL. */
void control_detach(control_client *cc);

/* What the `web` request answers: the web interface's address with its
 * token (copied, wiped when replaced), or NULL with why (the interface is
 * off, or its port was taken). */
void control_set_web(control *ctl, const char *url, const char *why);

/* The rendezvous the requests of rdvctl go to (NULL, NULL: none). */
void control_set_rendezvous(control *ctl, rdv *r, roster *ro);

/* The plug-ins the "plugins" request lists and switches (ui/pluginctl.h);
 * NULL: none. */
typedef struct plugins plugins;
void control_set_plugins(control *ctl, plugins *p);
/* Direct connections, for nat_check (natctl.h); NULL for none. */
typedef struct direct direct;
void control_set_direct(control *ctl, direct *d);
/* LAN discovery's state for "doctor" (doctorctl.h), borrowed; NULL: unknown. */
struct doctor_lan;
void control_set_lan_state(control *ctl, const struct doctor_lan *st);
#endif
