/* SPDX-License-Identifier: MIT */
/*
 * instance.h - one rendezvous instance of a service (docs/cluster.md,
 * docs/rendezvous.md section 15.2): its own key, which it proves in the
 * Noise handshake, and a certificate for that key signed by the server
 * key every node pins (the organisation key, "<db>.key"). The key file is
 * PATH (0600), the certificate PATH.cert beside it; `banter-rendezvous
 * instance new` makes both where the organisation key is.
 */
#ifndef BANTER_RDV_INSTANCE_H
#define BANTER_RDV_INSTANCE_H

#include <stddef.h>
#include <stdint.h>

#include "icert.h"
#include "identity.h"

#define INSTANCE_CERT_SUFFIX ".cert"
#define INSTANCE_DAYS        365 /* a certificate's default lifetime */
#define INSTANCE_MAX_DAYS    3650
#define INSTANCE_WARN_DAYS   14 /* serve warns this long before it expires */

/* The wall clock in milliseconds since the epoch. */
int64_t instance_wall_ms(void);

/* Load the instance key at path and its certificate path.cert, and check
 * that the certificate is signed by org, names that key and is valid at
 * now_ms. 0 with *id (the caller frees it) and the certificate's bytes in
 * out (*len), and *days_left; otherwise a negative BANTER_E* code and a
 * sentence in why (cap bytes) naming the file, the cause and the fix. */
BANTER_WUR int instance_load(const char *path, const identity *org, int64_t now_ms, identity **id,
                             uint8_t out[static ICERT_LEN_MAX], size_t *len, int64_t *days_left,
                             char *why, size_t cap);

#endif
