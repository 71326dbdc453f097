/* SPDX-License-Identifier: MIT */
/*
 * transport.h - a reliable byte stream under a Banter session, whatever
 * carries it: a TCP socket (net/tcp.h) today, an ICE path next.
 *
 * A transport moves bytes and nothing else: the session pump (net/conn.h)
 * sits on top and never sees a socket, an address or a resolver. Each kind
 * implements transport_ops; its own constructor (tcp_dial, tcp_wrap, ...)
 * fills the struct and takes the callbacks.
 *
 * Contract for every kind:
 *   - Callbacks run on the transport's GMainContext, never from inside a
 *     call the owner made (no re-entry): data may be pushed from the loop
 *     only.
 *   - ready() runs once when the stream can carry bytes (at once, from an
 *     idle source, for an accepted socket; after resolution and connect for
 *     a dial). Nothing is written before it.
 *   - data() hands bytes as they arrive; they are borrowed for the call.
 *     While reading is paused (transport_pause) no data() runs.
 *   - write() takes what it can now and returns that count (0 when full:
 *     writable() runs once when more can be taken); a negative BANTER_E*
 *     ends the stream (closed() follows).
 *   - closed() runs exactly once, when the stream ends by itself (err 0 for
 *     an orderly end of the peer, else BANTER_E*), never after the owner's
 *     transport_free(). After it, only transport_free() may be called.
 *   - transport_free() stops everything at once; no callback runs after it.
 */
#ifndef BANTER_PEER_TRANSPORT_H
#define BANTER_PEER_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct transport transport;

typedef struct transport_callbacks {
    void (*ready)(void *ud);
    void (*data)(void *ud, const uint8_t *p, size_t len);
    void (*writable)(void *ud);
    void (*closed)(void *ud, int err);
} transport_callbacks;

typedef struct transport_ops {
    const char *kind; /* "tcp", "ice" */
    ssize_t (*write)(transport *t, const uint8_t *p, size_t len);
    /* Whether writable() should run when room frees up. */
    void (*want_write)(transport *t, bool on);
    void (*pause)(transport *t, bool paused);
    /* Where the other end is, for logs and `peers` ("198.18.0.2:7070"). */
    const char *(*remote)(const transport *t);
    /* Send the last bytes written if that can be done without blocking,
     * then free. */
    void (*free)(transport *t);
    /* What the path carries, bytes per second (0: unknown or plenty).
     * May be NULL. */
    size_t (*rate)(const transport *t);
} transport_ops;

/* The common head of every kind; its fields belong to the implementation. */
struct transport {
    const transport_ops *ops;
    transport_callbacks cb;
    void *ud;
};

static inline ssize_t transport_write(transport *t, const uint8_t *p, size_t len)
{
    return t->ops->write(t, p, len);
}
static inline void transport_want_write(transport *t, bool on) { t->ops->want_write(t, on); }
static inline void transport_pause(transport *t, bool paused) { t->ops->pause(t, paused); }
static inline const char *transport_remote(const transport *t) { return t->ops->remote(t); }
static inline const char *transport_kind(const transport *t) { return t->ops->kind; }
static inline size_t transport_rate(const transport *t)
{
    return t->ops->rate ? t->ops->rate(t) : 0;
}
/* Accepts NULL. */
static inline void transport_free(transport *t)
{
    if (t)
        t->ops->free(t);
}

#endif
