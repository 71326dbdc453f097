/* SPDX-License-Identifier: MIT */
/*
 * icert.h - instance certificates: the organisation key's signature that
 * an instance key belongs to one rendezvous instance of the service
 * (docs/rendezvous.md section 15.2).
 *
 * Nodes pin the organisation key. A rendezvous instance proves its own
 * key in the Noise handshake and, as its first transport message,
 * presents RV_INSTANCE (type 0x34) carrying this certificate; a node
 * accepts the instance when the certificate is signed by the pinned key,
 * names the key the instance proved, and is valid now.
 *
 * Wire form (ICERT_LEN_MAX bytes at most):
 *   01 | organisation key (32) | instance key (32) | issued ms (8, BE) |
 *   expires ms (8, BE) | name length (1) | name | signature (64)
 * The Ed25519 signature by the organisation key covers
 * "banter-instance-v1" || all bytes before it. Pure functions: the caller
 * gives the time.
 */
#ifndef BANTER_ICERT_H
#define BANTER_ICERT_H

#include <stddef.h>
#include <stdint.h>

#include "banter_limits.h"
#include "error.h"
#include "identity.h"

#define ICERT_VERSION 1
#define ICERT_TYPE    0x34 /* RV_INSTANCE: 0x34 | the certificate */
#define ICERT_LEN_MAX (1 + 32 + 32 + 8 + 8 + 1 + BANTER_MAX_NAME + 64)

typedef struct icert {
    uint8_t org[32];      /* Ed25519 organisation key (the one nodes pin) */
    uint8_t instance[32]; /* Ed25519 key of the instance */
    int64_t issued_ms, expires_ms;
    char name[BANTER_MAX_NAME + 1]; /* the instance's name, [a-z0-9._-] */
    uint8_t sig[64];
} icert;

/* Sign a certificate for the instance key inst named name, valid from
 * now for ttl_ms. BANTER_EINVAL (name not 1..64 bytes of [a-z0-9._-], ttl
 * not positive, now_ms negative, or now_ms + ttl_ms over 2^53). */
BANTER_WUR int icert_issue(icert *c, const identity *org, const uint8_t inst[static 32],
                           const char *name, int64_t now_ms, int64_t ttl_ms);
/* Serialise; *len receives the size. BANTER_ETOOBIG when cap is short. */
BANTER_WUR int icert_encode(const icert *c, uint8_t *out, size_t cap, size_t *len);
/* Parse and check the signature against the organisation key inside.
 * BANTER_ETRUNCATED, BANTER_ETRAILING, BANTER_EUNSUPPORTED (version),
 * BANTER_ESCHEMA (name, or a time outside 0..2^53), BANTER_EIDENTITY
 * (signature). */
BANTER_WUR int icert_decode(icert *c, const uint8_t *in, size_t len);
/* Whether a decoded certificate is from this organisation key, for this
 * instance key, and valid at now: 0, BANTER_EKEYMISMATCH, BANTER_ETIMEDOUT
 * (expired or not yet valid). */
BANTER_WUR int icert_check(const icert *c, const uint8_t org[static 32],
                           const uint8_t inst[static 32], int64_t now_ms);

#endif
