/* SPDX-License-Identifier: MIT */
/*
 * conn.h - the session pump: one Banter session (shared/session.h) over
 * one transport (net/transport.h), on a GLib main context.
 *
 * conn moves bytes between a transport and a session: it feeds what
 * arrives, reports the session's events through callbacks, and writes what
 * the session queues. It never sees a socket or an address: TCP, and ICE
 * later, are transports below it. It knows nothing of peers or messages
 * beyond the session's events.
 *
 * Lifetime: conn_close() stops all I/O at once (the conn is then "closed":
 * conn_is_open() is false and sends fail) and schedules, from an idle
 * source, the closed() callback followed by the free. So a conn is never
 * freed inside one of its own callbacks, and closed() is called exactly once
 * for every conn that was created, whatever ended it.
 */
#ifndef BANTER_PEER_CONN_H
#define BANTER_PEER_CONN_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "identity.h"
#include "net/evloop.h"
#include "msg.h"
#include "net/transport.h"

typedef struct conn conn;

typedef struct conn_callbacks {
    /* Handshake complete: conn_peer() is valid. */
    void (*established)(void *ud, conn *c);
    /* One decoded transport plaintext (type byte + body). */
    void (*message)(void *ud, conn *c, const uint8_t *pt, size_t len);
    /* The output queue emptied after having been non-empty. */
    void (*drained)(void *ud, conn *c);
    /* The conn is gone; err is 0 for an orderly close, else BANTER_E*. The
     * conn is freed right after this returns. */
    void (*closed)(void *ud, conn *c, int err);
    /* Optional: a read ended inside a frame that began in it
     * (conn_partial_since is now), so a frame deadline starts. */
    void (*partial)(void *ud, conn *c);
} conn_callbacks;

/* A session over a transport that make(arg, cb, ud, err) creates with the
 * conn's own callbacks (e.g. a wrapper around tcp_dial, or an ICE stream);
 * the conn owns it from then on. As initiator the conn starts the
 * handshake when the transport is ready. NULL with *err (from make, or
 * BANTER_ENOMEM) when it cannot start. */
typedef transport *(*conn_transport_fn)(void *arg, const transport_callbacks *cb, void *ud,
                                        int *err);
conn *conn_over(GMainContext *ctx, const identity *id, bool initiator, conn_transport_fn make,
                void *arg, const conn_callbacks *cb, void *ud, int *err);

/* A TCP connection to host:port (numeric address or a name, resolved
 * without blocking): conn_over with tcp_dial, its socket watched by ev
 * (NULL: an fd source on ctx; net/evloop.h). ev's context must be ctx.
 * NULL with *err set when it cannot even start; later failures arrive as
 * closed(). */
conn *conn_connect(GMainContext *ctx, evloop *ev, const identity *id, const char *host,
                   uint16_t port, const conn_callbacks *cb, void *ud, int *err);

/* Wrap an accepted TCP socket, watched as for conn_connect (the conn owns
 * fd from now on, also on failure). */
conn *conn_accept(GMainContext *ctx, evloop *ev, const identity *id, int fd,
                  const conn_callbacks *cb, void *ud, int *err);

/* Encrypt and queue m. BANTER_ESTATE when closed or not established,
 * BANTER_ETOOBIG when the queue is full (wait for drained()), or a codec
 * error for a malformed m. */
BANTER_WUR int conn_send(conn *c, const msg *m);

/* The same for a plaintext already encoded (type byte + body), e.g. a
 * CHUNK built in place. */
BANTER_WUR int conn_send_raw(conn *c, const uint8_t *pt, size_t len);

/* While corked, sends only queue; uncorking writes what was queued. For a
 * sender of many large messages in a row (a file's chunks): one write of
 * several instead of one each. A BYE on close is written even so. */
void conn_cork(conn *c, bool on);

/* From inside the message callback: the memory holding pt, for the
 * caller to keep, and *cap its size; the session goes on with spare
 * (session_take_plaintext). NULL when there is none (spare not taken). */
uint8_t *conn_take_plaintext(conn *c, uint8_t *spare, size_t spare_len, size_t *cap);

/* Close. When established and bye is true, a BYE with reason is queued and
 * written as far as the socket takes it without blocking. err is passed to
 * closed(). Safe to call more than once and from inside callbacks. */
void conn_close(conn *c, int err, bool bye, const char *reason);

bool conn_is_open(const conn *c);
bool conn_established(const conn *c);
bool conn_is_initiator(const conn *c);
/* Ed25519 key of the peer once established, else NULL. */
const uint8_t *conn_peer(const conn *c);
/* "198.18.0.2:7070", as the transport says. */
const char *conn_remote(const conn *c);
/* "tcp", "ice": the transport's kind. */
const char *conn_kind(const conn *c);
/* Bytes queued and not yet written. */
size_t conn_queued(const conn *c);
/* What the transport's path carries, bytes per second; 0 when it does
 * not say (TCP) or does not know yet. */
size_t conn_rate(const conn *c);
/* Release the session's idle buffers (session_trim). The session keeps
 * them while data flows (session_config.keep_buffers: no allocation per
 * 64 KiB frame of a file), so an owner calls this once a connection has
 * gone quiet. Not from inside a message callback. */
void conn_trim(conn *c);
/* Bytes its session's buffers hold (session_held); 0 once closed. */
size_t conn_held(const conn *c);
/* The largest frame accepted from the peer from now on (session_set_rx_max). */
void conn_set_rx_max(conn *c, size_t max);
/* Monotonic milliseconds of the last complete frame received (or of
 * creation): bytes that do not complete a frame do not count, so a peer
 * cannot keep a connection alive a byte at a time. */
int64_t conn_last_rx(const conn *c);
/* Monotonic milliseconds since which the frame now pending has been
 * partly received (the read that completed the frame before it started
 * it), or 0 when none is pending. */
int64_t conn_partial_since(const conn *c);
int64_t conn_created(const conn *c);

/* One pointer of the owner's, untouched by conn. */
void conn_set_data(conn *c, void *data);
void *conn_get_data(const conn *c);

#endif
