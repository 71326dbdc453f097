/* SPDX-License-Identifier: MIT */
/*
 * tcp.h - TCP as a transport (net/transport.h), and a listener that never
 * spins.
 *
 * tcp_dial resolves the host without blocking the main loop (a numeric
 * address is used as is; a name goes through GResolver), connects without
 * blocking, and reports ready() or closed(). tcp_wrap takes an accepted
 * socket.
 *
 * tcp_listener accepts on a non-blocking socket. When accept() fails (no
 * descriptors left, EMFILE/ENFILE, or anything else) it stops watching the
 * socket for a back-off that doubles from 100 ms to 5 s, says so once
 * through its log callback, and resumes; the pending connections wait in
 * the kernel's backlog meanwhile. So a descriptor shortage never turns
 * into a busy loop.
 */
#ifndef BANTER_PEER_TCP_H
#define BANTER_PEER_TCP_H

#include <glib.h>
#include <stdint.h>

#include "error.h"
#include "net/transport.h"
#include "net/evloop.h"

/* Start a connection to host:port. The socket is watched by ev (its
 * context is the transport's) or, with ev NULL, by a plain fd source on
 * ctx (net/evloop.h). NULL with *err set (BANTER_EINVAL for an empty host
 * or port 0, BANTER_EIO when no socket can be made) when it cannot start;
 * every later failure (resolution, refusal) arrives as closed(). */
transport *tcp_dial(GMainContext *ctx, evloop *ev, const char *host, uint16_t port,
                    const transport_callbacks *cb, void *ud, int *err);

/* Wrap an accepted socket, watched as for tcp_dial; the transport owns fd
 * from now on. ready() runs from an idle source (or closed(), when the
 * socket cannot be watched). */
transport *tcp_wrap(GMainContext *ctx, evloop *ev, int fd, const transport_callbacks *cb, void *ud);

typedef struct tcp_listener tcp_listener;

/* A new connection: the callee owns fd (non-blocking, close-on-exec). addr
 * is the peer's address ("198.18.0.2:40112"), for per-address limits. */
typedef void (*tcp_accept_fn)(void *ud, int fd, const char *addr);
/* A sentence for the log (descriptors exhausted, resumed). */
typedef void (*tcp_log_fn)(void *ud, const char *text);

/* Listen on 0.0.0.0:port (0: any free port) with a backlog of 512,
 * watched by ev (a listener ready a few times a day costs the loop
 * nothing in between) or, with ev NULL, by an fd source on ctx; fn and log
 * run on the loop. BANTER_EIO with errno set when the port cannot be
 * bound or watched. */
BANTER_WUR int tcp_listen(tcp_listener **out, GMainContext *ctx, evloop *ev, uint16_t port,
                          tcp_accept_fn fn, tcp_log_fn log, void *ud);
uint16_t tcp_listener_port(const tcp_listener *l);
/* Stop taking connections for now (true) or again (false). */
void tcp_listener_pause(tcp_listener *l, bool paused);
/* Accepts NULL. */
void tcp_listener_free(tcp_listener *l);

/* "198.18.0.2:7070" or "[::1]:7070" for a socket address. */
void tcp_format_addr(const void *sockaddr, char *out, size_t cap);

#endif
