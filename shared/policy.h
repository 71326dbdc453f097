/* SPDX-License-Identifier: MIT */
/*
 * policy.h - the organisation's policy, signed by the rendezvous server
 * (docs/rendezvous.md section 11): the rules an admin sets for every
 * device (banter-admin policy set), carried to nodes in RV_POLICY (0x62).
 *
 * Wire form (POLICY_LEN bytes):
 *   01 | server key (32) | serial (8, BE) | issued ms (8, BE) |
 *   max_file_mb (8, BE) | history_days (4, BE) | flags (1) |
 *   public_fields (4, BE) | signature (64)
 * flags: bit 0 auto-accept allowed, bit 1 LAN discovery allowed; the other
 * bits must be 0. public_fields: bit i for rv_field i (rvmsg.h), no bit at
 * or beyond RV_F_COUNT. max_file_mb 0 means no limit, history_days 0
 * keep forever. The Ed25519 signature by the server key covers
 * "banter-policy-v1" || all bytes before it. The serial grows with each
 * change, so a node keeps the newest it has seen and ignores an older
 * one replayed. Pure functions: the caller gives the time.
 */
#ifndef BANTER_POLICY_H
#define BANTER_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "identity.h"

#define POLICY_VERSION  1
#define POLICY_LEN      (1 + 32 + 8 + 8 + 8 + 4 + 1 + 4 + 64)
#define POLICY_MAX_MB   ((int64_t)1 << 40) /* a million TiB: any real limit */
#define POLICY_MAX_DAYS 36500
#define POLICY_F_AUTO   0x01u /* auto-accepting files is allowed */
#define POLICY_F_LAN    0x02u /* LAN discovery (mDNS) is allowed */
#define POLICY_F_ALL    (POLICY_F_AUTO | POLICY_F_LAN)
#define POLICY_FIELDS   7u /* rv_field count the public_fields bits may use */

typedef struct policy {
    uint8_t server[32];
    uint64_t serial;
    int64_t issued_ms;
    int64_t max_file_mb;   /* 0..POLICY_MAX_MB, 0: no limit */
    uint32_t history_days; /* 0..POLICY_MAX_DAYS, 0: keep */
    uint8_t flags;         /* POLICY_F_* */
    uint32_t public_fields;
    uint8_t sig[64];
} policy;

/* What an organisation starts with: no file limit, auto-accept and LAN
 * discovery allowed, history kept, the display name public. */
void policy_default(policy *p);

/* Check the values, then sign p (its server key set from server). 0,
 * BANTER_EINVAL for a value out of its range. */
BANTER_WUR int policy_sign(policy *p, const identity *server);
/* Serialise into out (POLICY_LEN bytes). */
void policy_encode(const policy *p, uint8_t out[static POLICY_LEN]);
/* Parse and check the signature against the key inside. BANTER_ETRUNCATED,
 * BANTER_ETRAILING, BANTER_EUNSUPPORTED (version), BANTER_ESCHEMA (a value
 * out of its range, an unknown flag or field bit), BANTER_EIDENTITY
 * (signature). */
BANTER_WUR int policy_decode(policy *p, const uint8_t *in, size_t len);
/* Whether a decoded policy is from this server: 0, BANTER_EKEYMISMATCH. */
BANTER_WUR int policy_check(const policy *p, const uint8_t server[static 32]);

#endif
