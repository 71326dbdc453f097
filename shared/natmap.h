/* SPDX-License-Identifier: MIT */
/*
 * natmap.h - the NAT's mapping behaviour from STUN answers (RFC 4787 3,
 * RFC 5780 4.3), sans-I/O: Binding requests from ONE local UDP socket to
 * two STUN vantage points (two servers, or two ports/addresses of one
 * coturn that the rendezvous names, or the first server's RFC 5780
 * OTHER-ADDRESS when only one is named), and a verdict by comparing the
 * XOR-MAPPED-ADDRESS answers:
 *   the same mapping from both     endpoint-independent (a cone NAT, or
 *                                  none): direct connections are likely;
 *   different mappings             address/port-dependent (symmetric):
 *                                  direct connections to NATed peers need
 *                                  TURN;
 *   one of this host's addresses   no NAT;
 *   no answer at all               STUN unreachable (UDP blocked?).
 *
 * The caller owns the socket and the clock: it sends what natmap_poll_send
 * gives, feeds every datagram the socket receives to natmap_feed, and
 * calls again at natmap_next_ms until natmap_done. Each request is resent
 * (same transaction id) at 250, 750 and 1750 ms; a vantage point that has
 * not answered NATMAP_DEADLINE_MS after its first request is given up.
 * Transaction ids come from the random source handed in; an answer counts
 * only from the address it was sent to, with the matching id. An
 * OTHER-ADDRESS that is loopback, link-local, multicast or broadcast is
 * not followed (a forged answer must not aim the node's requests there).
 */
#ifndef BANTER_NATMAP_H
#define BANTER_NATMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banter_limits.h"
#include "bcrypto.h"
#include "stun.h"

#define NATMAP_RTO_MS      250
#define NATMAP_SENDS       4
#define NATMAP_DEADLINE_MS 2000

typedef struct natmap natmap;

typedef enum natmap_verdict {
    NATMAP_UNREACHABLE, /* no vantage point gave a mapping */
    NATMAP_NO_NAT,      /* the mapped address is one of this host's own */
    NATMAP_INDEPENDENT, /* the same mapping from two vantage points */
    NATMAP_DEPENDENT,   /* different mappings: a symmetric NAT */
    NATMAP_ONE_POINT    /* one mapping only: the behaviour is unknown */
} natmap_verdict;

typedef struct natmap_report {
    natmap_verdict verdict;
    size_t n; /* vantage points asked */
    stun_addr dest[BANTER_MAX_STUN_DEST];
    bool answered[BANTER_MAX_STUN_DEST]; /* a mapping came back */
    stun_addr mapped[BANTER_MAX_STUN_DEST];
    unsigned err_code[BANTER_MAX_STUN_DEST]; /* an error answer's code, else 0 */
    bool refused[BANTER_MAX_STUN_DEST];      /* ICMP port unreachable came back */
    bool from_other;                         /* dest[1] is dest[0]'s OTHER-ADDRESS */
} natmap_report;

/* A check of n (1..BANTER_MAX_STUN_DEST) vantage points, all of one
 * family, starting at now_ms. NULL on bad arguments or out of memory. */
natmap *natmap_new(const stun_addr *dests, size_t n, const banter_rng *rng, int64_t now_ms);
/* Accepts NULL. */
void natmap_free(natmap *m);

/* The next datagram due at now_ms: true with *to and out (STUN_HDR_LEN
 * bytes) filled; false when nothing more is due now. */
bool natmap_poll_send(natmap *m, int64_t now_ms, stun_addr *to, uint8_t out[static STUN_HDR_LEN]);
/* When to call natmap_poll_send/natmap_done again; -1 when done as of the
 * last natmap_poll_send or natmap_feed. */
int64_t natmap_next_ms(const natmap *m);
/* A datagram from `from`: 0 when it answered a request of this check (an
 * OTHER-ADDRESS in the first answer may add a second vantage point);
 * BANTER_ENOENT when it is from an address this check did not ask, or a
 * stun_parse_answer error: either way it is ignored. */
int natmap_feed(natmap *m, const stun_addr *from, const uint8_t *msg, size_t len, int64_t now_ms);
/* An ICMP port unreachable for a request to `to` (nothing listens
 * there): that vantage point is given up at once. 0, or BANTER_ENOENT when
 * `to` is not one this check waits for. */
int natmap_refused(natmap *m, const stun_addr *to);
/* Every vantage point answered or was given up. */
bool natmap_done(const natmap *m, int64_t now_ms);

/* What is known (final once natmap_done), judged against this host's own
 * addresses locals[0..nlocals). */
void natmap_result(const natmap *m, const stun_addr *locals, size_t nlocals, natmap_report *out);
/* The verdict from answers alone (pure; natmap_result uses it):
 * out->n, answered and mapped filled in; sets out->verdict. */
void natmap_classify(natmap_report *out, const stun_addr *locals, size_t nlocals);

#endif
