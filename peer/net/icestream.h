/* SPDX-License-Identifier: MIT */
/*
 * icestream.h - a reliable byte stream over an ICE component's datagrams,
 * on a GLib main context: shared/rstream (the sans-I/O engine: BBR-style
 * congestion control, retransmission, flow control) driven by the loop's
 * clock and one timer.
 *
 * It does not own the datagram path: datagrams received on the component
 * go in through icestream_input(), and the stream sends through the
 * send function it was given (ice_send() for an ice_agent, or anything
 * that carries datagrams). So it is a byte-stream transport like a TCP
 * socket: a Noise session runs over it unchanged (docs/ice.md).
 *
 * Lifetime (as conn.h): icestream_free() may be called from inside any of
 * its callbacks; the object then stops at once and is freed when the
 * callback returns. closed() is called at most once: after the peer's
 * orderly close was read and everything written here was acknowledged
 * (err 0), or when the stream died (err: BANTER_ETIMEDOUT the peer went
 * silent, BANTER_EPROTO the peer broke the protocol, BANTER_EIO the peer
 * aborted).
 */
#ifndef BANTER_PEER_ICESTREAM_H
#define BANTER_PEER_ICESTREAM_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rstream.h"

typedef struct icestream icestream;

/* Send one datagram; the return value is ignored (a datagram that could
 * not be sent counts as lost and is sent again). */
typedef void (*icestream_send_fn)(void *send_ud, const uint8_t *p, size_t len);

typedef struct icestream_callbacks {
    /* Bytes received in order (borrowed for the call). */
    void (*data)(void *ud, icestream *s, const uint8_t *p, size_t len);
    /* Room in the send buffer again after a write took less than offered. */
    void (*writable)(void *ud, icestream *s);
    /* The stream ended (see above). */
    void (*closed)(void *ud, icestream *s, int err);
} icestream_callbacks;

/* A stream over a path that is already connected (ICE CONNECTED).
 * cfg may be NULL (rstream's defaults: 8 MiB each way, 1200-byte
 * datagrams). NULL with *err = BANTER_ENOMEM or BANTER_EINVAL. */
icestream *icestream_new(GMainContext *ctx, const rstream_config *cfg, icestream_send_fn send,
                         void *send_ud, const icestream_callbacks *cb, void *ud, int *err);
/* Accepts NULL; safe inside callbacks. Sends nothing more (use
 * icestream_close() first for an orderly end). */
void icestream_free(icestream *s);

/* A datagram from the component. */
void icestream_input(icestream *s, const uint8_t *p, size_t len);

/* Queue up to len bytes; returns how many were taken (0 when full or
 * closed). When less than len, writable() follows once there is room. */
size_t icestream_write(icestream *s, const uint8_t *p, size_t len);
/* Bytes written and not yet acknowledged by the peer. */
size_t icestream_unacked(const icestream *s);
/* The path's bandwidth estimate, bytes per second (rstream_rate). */
size_t icestream_rate(const icestream *s);
/* Stop (true) or resume handing data to data(): while paused, received
 * bytes stay in the stream and its window closes, so the peer slows down
 * (backpressure). Resuming delivers from the loop, never from this call. */
void icestream_pause(icestream *s, bool paused);
/* No more writes; the peer reads EOF after what was written. */
void icestream_close(icestream *s);

void icestream_stats(const icestream *s, rstream_stats *st);

#endif
