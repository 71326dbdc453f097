/* SPDX-License-Identifier: MIT */
/*
 * stun.h - the few STUN messages Banter speaks itself (RFC 5389): a
 * Binding request, and the answer to it (XOR-MAPPED-ADDRESS, or the old
 * MAPPED-ADDRESS; RFC 5780's OTHER-ADDRESS; ERROR-CODE). Sans-I/O: bytes
 * in, a typed answer out; the caller owns the socket, the clock and the
 * transaction id (from its random source).
 *
 * Used by natmap.h (the NAT's mapping behaviour, `banter doctor`); ICE's
 * own STUN is libnice's. docs/ice.md, "Mapping behaviour", describes the
 * exchange.
 */
#ifndef BANTER_STUN_H
#define BANTER_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banter_limits.h"
#include "error.h"

#define STUN_HDR_LEN  20u
#define STUN_TXID_LEN 12u
#define STUN_COOKIE   0x2112A442u

/* A transport address: family 4 (ip[0..3]) or 6 (ip[0..15]); port in host
 * order. */
typedef struct stun_addr {
    int family;
    uint8_t ip[16];
    uint16_t port;
} stun_addr;

#define STUN_ADDR_STR 48 /* "[" 39 "]:" 5 NUL, rounded up */

/* Whether a and b are the same address and port. */
bool stun_addr_equal(const stun_addr *a, const stun_addr *b);
/* Whether a and b have the same address (ports aside). */
bool stun_addr_same_ip(const stun_addr *a, const stun_addr *b);
/* "198.18.0.11:4000" or "[2001:db8::1]:4000" into out (always
 * NUL-terminated; "?" for a bad family). */
void stun_addr_format(const stun_addr *a, char out[static STUN_ADDR_STR]);

/* Write a Binding request with transaction id txid (attribute-free, 20
 * bytes) into out. Returns STUN_HDR_LEN. */
size_t stun_binding_request(uint8_t out[static STUN_HDR_LEN],
                            const uint8_t txid[static STUN_TXID_LEN]);

/* What a Binding answer said. */
typedef struct stun_answer {
    bool error;        /* an error response (0x0111) */
    unsigned err_code; /* its ERROR-CODE (300..699), 0 when it had none */
    bool has_mapped;   /* XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS */
    stun_addr mapped;
    bool has_other; /* OTHER-ADDRESS (RFC 5780): the server's second vantage point */
    stun_addr other;
} stun_answer;

/* Parse msg (len bytes, one UDP datagram) as the answer to the Binding
 * request with id txid. 0 with *out filled (a success answer always has a
 * mapped address); BANTER_ETOOBIG past BANTER_MAX_STUN_MSG;
 * BANTER_ETRUNCATED when the header or an attribute is cut;
 * BANTER_EPROTO when it is not STUN (bits, cookie, length) or answers
 * another transaction; BANTER_EBADTYPE when it is not a Binding answer;
 * BANTER_EFORMAT for a bad address attribute or a success answer without
 * an address; BANTER_EUNSUPPORTED for an unknown comprehension-required
 * attribute (RFC 5389 7.3.3: the answer is discarded). */
BANTER_WUR int stun_parse_answer(const uint8_t *msg, size_t len,
                                 const uint8_t txid[static STUN_TXID_LEN], stun_answer *out);

#endif
