/* SPDX-License-Identifier: MIT */
/*
 * rstream.h - a reliable, congestion-controlled byte stream over
 * datagrams, sans I/O: datagrams in, datagrams out, the clock handed in.
 *
 * It carries a Banter session across an ICE path (peer/net/icestream.c
 * moves its datagrams through libnice), where neither TCP nor libnice's
 * PseudoTCP is fast enough on a WAN (docs/ice.md has the measurements).
 * Each end is symmetric: both send and receive; there is no handshake (the
 * ICE connectivity checks already proved the path and the peer's
 * credentials; the Noise session above proves the peer's key).
 *
 * Reliability: every datagram has a new packet number; the receiver
 * acknowledges ranges of them (SACK); a packet is lost when three later
 * ones were acknowledged or 9/8 RTT passed after a later one was, or on a
 * probe timeout; its bytes are sent again in a new packet. The receiver
 * advertises how far the sender may send (its buffer), so neither side's
 * memory grows past what its config allows.
 *
 * Congestion control follows BBR's model: it estimates the path's
 * bottleneck bandwidth (the highest delivery rate of the last 10 round
 * trips) and its minimum RTT (of the last 10 s), paces packets at a gain
 * times that bandwidth and keeps at most twice the bandwidth-delay product
 * in flight; it starts by doubling the rate each round trip until the
 * bandwidth stops growing, then drains the queue it made, then cycles
 * its gain (1.25, 0.75, then 1 for six round trips) to find more
 * bandwidth. Random loss does not cut the rate, as it does not cut
 * delivery. The wire format: docs/ice.md.
 *
 * Use: after rstream_input(), rstream_write() or rstream_close(), and
 * whenever the time rstream_next_timer() gave has come, call
 * rstream_output() until it returns 0, sending each datagram it gives.
 * Errors: an error from rstream_input() means the datagram was malformed
 * and was ignored (the stream goes on); rstream_error() says whether the
 * stream itself is dead (peer closed with an error, peer broke the
 * protocol, the peer went silent for idle_timeout).
 */
#ifndef BANTER_RSTREAM_H
#define BANTER_RSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct rstream rstream;

/* What a sender may send before the peer's first acknowledgement tells
 * its window; the least rcv_cap a stream accepts. */
#define RSTREAM_MIN_WINDOW 65536u

typedef struct rstream_config {
    size_t snd_cap;       /* bytes written and not yet acknowledged (default 8 MiB) */
    size_t rcv_cap;       /* bytes received and not yet read (default 8 MiB,
                             at least RSTREAM_MIN_WINDOW) */
    size_t mtu;           /* largest datagram sent (default 1200, 256..65507) */
    int64_t idle_timeout; /* us without a datagram while data is unacknowledged
                             before the stream dies (default 15 s) */
} rstream_config;

typedef struct rstream_stats {
    uint64_t sent_pkts, recv_pkts, lost_pkts, retrans_bytes, delivered;
    int64_t srtt, min_rtt; /* us */
    double btlbw;          /* bytes per second, the current estimate */
    double pacing_rate;    /* bytes per second */
    size_t cwnd, inflight; /* bytes */
    int state;             /* 0 startup, 1 drain, 2 probe bandwidth */
} rstream_stats;

/* A new stream; fields of cfg left 0 take the defaults; cfg may be NULL.
 * now: the caller's monotonic clock in microseconds, the same clock for
 * every call. BANTER_EINVAL (a bad mtu or rcv_cap), BANTER_ENOMEM. */
BANTER_WUR int rstream_new(rstream **out, const rstream_config *cfg, int64_t now);
/* Accepts NULL. */
void rstream_free(rstream *s);

/* How long the bytes written but never sent may wait at most, at the
 * path's rate (so a writer with something urgent, a chat message behind a
 * file, does not find seconds of data ahead of it on a slow path). */
#define RSTREAM_AHEAD_US 50000

/* Queue up to len bytes; returns how many were taken (0 when the send
 * buffer is full, when RSTREAM_AHEAD_US of unsent data waits already,
 * after rstream_close() or when dead). The rest waits: room comes back
 * as datagrams go out and the peer acknowledges (rstream_writable()). */
size_t rstream_write(rstream *s, const uint8_t *p, size_t len);
size_t rstream_writable(const rstream *s);
/* The path's bandwidth estimate in bytes per second; RSTREAM_FIRST_RATE
 * before there is one (a guess on the low side: the estimate grows by
 * up to the startup gain each round trip). */
#define RSTREAM_FIRST_RATE 65536u
size_t rstream_rate(const rstream *s);
/* Bytes written and not yet acknowledged by the peer. */
size_t rstream_unacked(const rstream *s);

/* No more writes: the peer reads EOF after the queued bytes. Idempotent. */
void rstream_close(rstream *s);
/* Tell the peer the stream is dead (code sent in a CLOSE datagram, which
 * the next rstream_output() gives); the stream is dead here at once with
 * BANTER_ESTATE. */
void rstream_abort(rstream *s, uint16_t code);

/* Copy up to cap bytes received in order; returns how many. */
size_t rstream_read(rstream *s, uint8_t *p, size_t cap);
size_t rstream_readable(const rstream *s);
/* The peer closed and every byte before it was read. */
bool rstream_eof(const rstream *s);
/* Everything this end wrote (and its close) was acknowledged. */
bool rstream_done(const rstream *s);

/* One datagram from the peer. 0, or BANTER_EPROTO / BANTER_ETRUNCATED /
 * BANTER_ETRAILING / BANTER_EUNSUPPORTED for a malformed one (ignored). */
BANTER_WUR int rstream_input(rstream *s, int64_t now, const uint8_t *p, size_t len);

/* The next datagram to send now into out (cap >= the mtu), its length, or
 * 0 when nothing is due (then wait for rstream_next_timer()). */
size_t rstream_output(rstream *s, int64_t now, uint8_t *out, size_t cap);

/* When rstream_output() has something to do next (pacing, a retransmission
 * timer, a delayed acknowledgement), in the caller's clock; INT64_MAX when
 * nothing until the next input or write. */
int64_t rstream_next_timer(const rstream *s);

/* 0 while alive; else why it died: BANTER_ETIMEDOUT (peer silent),
 * BANTER_EPROTO (peer broke the protocol), BANTER_ESTATE (aborted here),
 * BANTER_EIO (the peer aborted; rstream_peer_code() has its code). */
int rstream_error(const rstream *s);
uint16_t rstream_peer_code(const rstream *s);

void rstream_get_stats(const rstream *s, rstream_stats *st);

#endif
