/* SPDX-License-Identifier: MIT */
/*
 * identity.h - a device's long-term identity: one Ed25519 key pair.
 *
 * The Ed25519 key signs (handshake identity proofs, later certificates); its
 * X25519 form is the device's Noise static key. The key file holds the
 * 32-byte seed; it is written 0600 and refused when group or others can read
 * it. The fingerprint is what two people compare aloud: 40 decimal digits in
 * eight groups of five (docs/protocol.md, "Fingerprints").
 */
#ifndef BANTER_IDENTITY_H
#define BANTER_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bcrypto.h"
#include "error.h"

/* "12345 67890 12345 67890 12345 67890 12345 67890" */
#define IDENTITY_FP_GROUPS 8
#define IDENTITY_FP_DIGITS (IDENTITY_FP_GROUPS * 5)
#define IDENTITY_FP_LEN    (IDENTITY_FP_DIGITS + IDENTITY_FP_GROUPS - 1)

typedef struct identity identity;

/* A fresh key pair from rng. BANTER_ENOMEM. */
BANTER_WUR int identity_generate(identity **out, banter_rng rng);

/* Rebuild from a 32-byte seed. BANTER_ENOMEM. */
BANTER_WUR int identity_from_seed(identity **out, const uint8_t seed[static BCRYPTO_ED_SEEDLEN]);

/* Write the key file atomically (temporary file, fsync, rename) with mode
 * 0600. BANTER_EIO with errno set. */
BANTER_WUR int identity_save(const identity *id, const char *path);

/* Read a key file. BANTER_EIO (errno set; ENOENT when it does not exist),
 * BANTER_EPERM when group or others have any access to it or it is not owned
 * by this user, BANTER_EFORMAT when its content is not a key file. */
BANTER_WUR int identity_load(identity **out, const char *path);

/* Load the file at path, or generate and save a new identity when there is
 * none. *created tells which happened. Errors as identity_load/_save. */
BANTER_WUR int identity_load_or_create(identity **out, const char *path, banter_rng rng,
                                       bool *created);

/* Wipes the secret key. Accepts NULL. */
void identity_free(identity *id);

/* Borrowed views, valid while id lives. */
const uint8_t *identity_public(const identity *id);    /* Ed25519, 32 bytes */
const uint8_t *identity_dh_secret(const identity *id); /* X25519, 32 bytes */
const uint8_t *identity_dh_public(const identity *id); /* X25519, 32 bytes */

/* Detached Ed25519 signature of msg. */
void identity_sign(const identity *id, const uint8_t *msg, size_t len,
                   uint8_t sig[static BCRYPTO_SIGLEN]);

/* The fingerprint of an Ed25519 public key, NUL-terminated. */
void identity_fingerprint(const uint8_t pk[static BCRYPTO_ED_PKLEN],
                          char out[static IDENTITY_FP_LEN + 1]);

/* Whether what a user typed (digits, with any spaces or dashes) is a prefix
 * of fingerprint fp. An empty query matches nothing. */
bool identity_fingerprint_has_prefix(const char *fp, const char *query);

#endif
