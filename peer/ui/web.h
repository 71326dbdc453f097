/* SPDX-License-Identifier: MIT */
/*
 * web.h - the node's web interface: a libsoup-3.0 server on 127.0.0.1
 * only, on the node's main loop, serving the page embedded in the program
 * (peer/web/) and a WebSocket that is a control client like any other
 * (control.h): one JSON request per text frame in, one reply or event per
 * text frame out, exactly the requests and events of docs/control.md. The
 * page can do nothing the control socket cannot.
 *
 * Who may use it: whoever holds the token, 32 random bytes (64 hex
 * digits) kept in DIR/web.token (0600, made once). `banter open` gives the
 * address with it: http://127.0.0.1:PORT/?t=TOKEN. Every request is
 * checked:
 *   - Host must be 127.0.0.1:PORT or localhost:PORT (DNS rebinding);
 *   - Origin, when present, must be http://127.0.0.1:PORT or
 *     http://localhost:PORT; it must be present on the WebSocket and on
 *     uploads; Sec-Fetch-Site, when present, must be same-origin or none;
 *   - the page and its assets need the token in the address once, then a
 *     cookie (HttpOnly, SameSite=Strict) that is derived from the token,
 *     not the token itself: browsers send a cookie of 127.0.0.1 to every
 *     port of it, and a cookie leaked to another port opens nothing but
 *     the static page;
 *   - the WebSocket (?t=TOKEN) and uploads (header X-Banter-Token) need the
 *     token itself, which the page keeps in its origin's localStorage
 *     (that is per port);
 *   - never any Access-Control-* header; every answer carries a strict
 *     Content-Security-Policy, X-Content-Type-Options: nosniff,
 *     Referrer-Policy: no-referrer, X-Frame-Options: DENY.
 * Tokens are compared in constant time and never logged.
 *
 * Uploads (the browser cannot name a local file): POST
 * /upload?peer=PEER&name=NAME streams the body into a fresh 0700 folder
 * under DIR/uploads, refused beyond the free disk space, then runs the
 * control request send_file on it and answers with its reply. The folder
 * is removed once the transfer is done, declined or cancelled (and at
 * start for those that ended while the node was down).
 */
#ifndef BANTER_PEER_WEB_H
#define BANTER_PEER_WEB_H

#include <glib.h>
#include <stdint.h>

#include "ui/control.h"

#define WEB_DEFAULT_PORT      7420
/* When the port is taken, the next ones are tried, this many in all. */
#define WEB_PORT_TRIES        10
#define WEB_MAX_SOCKETS       16
/* Connections (pages, assets, WebSockets, uploads) at once. At the cap a
 * new one shuts the oldest that is still waiting for its request headers
 * (one that sends nothing, or dribbles, loses its place to one that
 * speaks); with none such, the new one is closed. WebSockets are at most
 * WEB_MAX_SOCKETS of them, so 48 remain for the page itself. */
#define WEB_MAX_CONNS         64
/* Connections shut (evicted, late) that libsoup has not closed yet: while
 * this many wait, a new connection at the cap is closed instead. So the
 * web port holds at most WEB_MAX_CONNS + WEB_MAX_CLOSING descriptors. */
#define WEB_MAX_CLOSING       16
/* Request headers (of each request on a connection, also a WebSocket
 * upgrade) must be in within this long of the request's start (the
 * connection, or the end of the previous answer): else it is shut.
 * Checked every WEB_SWEEP_MS. */
#define WEB_HEADER_TIMEOUT_MS 10000
#define WEB_SWEEP_MS          1000
#define WEB_BACKLOG           128
/* A page WebSocket may hold at most this many frames, or bytes, that the
 * page has not acknowledged ({"ack":N}); past either it is dropped. */
#define WEB_WS_WINDOW         1024
#define WEB_WS_WINDOW_BYTES   (4u << 20)
#define WEB_MAX_UPLOADS       4
/* Uploads leave this much of the disk free. */
#define WEB_UPLOAD_RESERVE    (64u << 20)

typedef struct web web;

/* Serve the interface for the node whose home is dir, on 127.0.0.1:port
 * (or, when that port is taken, one of the next WEB_PORT_TRIES - 1), on
 * ctx (its listening socket watched by ev, net/evloop.h; NULL: by an fd
 * source on ctx). port 0 means disabled. Never fails the node: *out is NULL when the
 * interface is off, and the reason is printed on stderr and given to
 * control_set_web; otherwise its address (without the token) is printed
 * on stdout and the address with the token given to control_set_web. */
void web_start(web **out, control *ctl, GMainContext *ctx, evloop *ev, const char *dir,
               uint16_t port);
/* Close every WebSocket (detaching their control clients), abandon uploads
 * in progress, stop listening. Call before control_free. Accepts NULL. */
void web_free(web *w);

#endif
