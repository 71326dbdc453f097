/* SPDX-License-Identifier: MIT */
/*
 * sealed.h - messages sealed to one device (docs/rendezvous.md section 6):
 * what a node hands the rendezvous server for a contact, so the server
 * stores and routes ciphertext only.
 *
 *   sealed = crypto_box_seal(recipient's X25519 key,
 *              sender_device_key (32) || signature (64) || plaintext)
 *   signature = Ed25519 by the sender's device key over
 *              "banter-sealed-v1" || recipient_device_key (32) || plaintext
 *
 * plaintext is a peer message plaintext (type byte first: a CHAT). The
 * recipient learns who wrote it and that it was written for this device;
 * the server learns sizes only. Sans-I/O; no allocation.
 */
#ifndef BANTER_SEALED_H
#define BANTER_SEALED_H

#include <stddef.h>
#include <stdint.h>

#include "bcrypto.h"
#include "error.h"
#include "identity.h"

#define SEALED_OVERHEAD (BCRYPTO_SEALBYTES + BCRYPTO_ED_PKLEN + BCRYPTO_SIGLEN)

/* Seal len bytes of pt for the device whose Ed25519 key is to. out must
 * hold len + SEALED_OVERHEAD bytes. BANTER_EIDENTITY when to is not a
 * valid key, BANTER_ENOMEM. */
BANTER_WUR int sealed_seal(uint8_t *out, const identity *from, const uint8_t to[static 32],
                           const uint8_t *pt, size_t len);

/* Open a sealed copy addressed to me. out must hold len - SEALED_OVERHEAD
 * bytes (*outlen gets it); from gets the sender's device key. Errors:
 * BANTER_ETRUNCATED (shorter than the overhead), BANTER_EBADTAG (not for
 * this device, or altered), BANTER_EIDENTITY (the signature does not
 * verify), BANTER_ENOMEM. Nothing of out is meaningful on error. */
BANTER_WUR int sealed_open(uint8_t *out, size_t *outlen, uint8_t from[static 32],
                           const identity *me, const uint8_t *c, size_t len);

#endif
