/* SPDX-License-Identifier: MIT */
/*
 * cert.h - organisation certificates: a rendezvous server's signature that
 * a device key belongs to an account (docs/rendezvous.md section 3).
 *
 * Wire form (CERT_LEN_MAX bytes at most):
 *   01 | server key (32) | device key (32) | issued ms (8, BE) |
 *   expires ms (8, BE) | name length (1) | name | signature (64)
 * The Ed25519 signature by the server key covers "banter-cert-v1" || all
 * bytes before it. Pure functions: the caller gives the time.
 */
#ifndef BANTER_CERT_H
#define BANTER_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banter_limits.h"
#include "error.h"
#include "identity.h"

#define CERT_VERSION 1
#define CERT_LEN_MAX (1 + 32 + 32 + 8 + 8 + 1 + BANTER_MAX_NAME + 64)

typedef struct cert {
    uint8_t server[32]; /* Ed25519 key of the issuing server */
    uint8_t device[32]; /* Ed25519 key of the device */
    int64_t issued_ms, expires_ms;
    char name[BANTER_MAX_NAME + 1]; /* the account */
    uint8_t sig[64];
} cert;

/* Sign a certificate for device as account name, valid from now for ttl_ms.
 * BANTER_EINVAL (name not 1..64 bytes of [a-z0-9._-], ttl not positive,
 * now_ms negative, or now_ms + ttl_ms over 2^53). */
BANTER_WUR int cert_issue(cert *c, const identity *server, const uint8_t device[static 32],
                          const char *name, int64_t now_ms, int64_t ttl_ms);
/* Serialise; *len receives the size. BANTER_ETOOBIG when cap is short. */
BANTER_WUR int cert_encode(const cert *c, uint8_t *out, size_t cap, size_t *len);
/* Parse and check the signature against the key inside. BANTER_ETRUNCATED,
 * BANTER_ETRAILING, BANTER_EUNSUPPORTED (version), BANTER_ESCHEMA (name,
 * or a time outside 0..2^53), BANTER_EIDENTITY (signature). */
BANTER_WUR int cert_decode(cert *c, const uint8_t *in, size_t len);
/* Whether a decoded certificate is for this device, from this server, and
 * valid at now: 0, BANTER_EKEYMISMATCH, BANTER_ETIMEDOUT (expired or not
 * yet valid). */
BANTER_WUR int cert_check(const cert *c, const uint8_t server[static 32],
                          const uint8_t device[static 32], int64_t now_ms);

/* The same layout signed under another context: the instance
 * certificates of icert.h ("banter-instance-v1") share it with these
 * ("banter-cert-v1"); only what the signature covers differs, so one is
 * never taken for the other. context: a NUL-terminated string of at most
 * CERT_CONTEXT_MAX bytes. As cert_issue and cert_decode otherwise. */
#define CERT_CONTEXT_MAX 32
BANTER_WUR int cert_issue_in(const char *context, cert *c, const identity *signer,
                             const uint8_t subject[static 32], const char *name, int64_t now_ms,
                             int64_t ttl_ms);
BANTER_WUR int cert_decode_in(const char *context, cert *c, const uint8_t *in, size_t len);

/* Account names: 1..64 bytes of [a-z0-9._-]. */
bool cert_name_valid(const char *name);

#endif
