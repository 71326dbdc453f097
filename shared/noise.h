/* SPDX-License-Identifier: MIT */
/*
 * noise.h - the Noise Protocol Framework (revision 34) for the suite
 * 25519_ChaChaPoly_BLAKE2b.
 *
 * A general engine: handshake patterns are token lists (every one-way,
 * fundamental and deferred pattern of the specification), with psk
 * modifiers. Sans-I/O: it turns payloads into handshake messages and back;
 * the caller moves the bytes. Randomness comes from the banter_rng in the
 * configuration (or fixed ephemeral keys, for test vectors).
 *
 * Lifecycle: noise_hs_new() -> noise_hs_write()/noise_hs_read() while
 * noise_hs_action() says so -> noise_hs_split() -> noise_hs_free().
 * Any error during the handshake is final: the state becomes NOISE_FAILED,
 * secrets are wiped, and every later call returns BANTER_ESTATE.
 */
#ifndef BANTER_NOISE_H
#define BANTER_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bcrypto.h"
#include "error.h"

#define NOISE_KEYLEN   BCRYPTO_DHLEN
#define NOISE_HASHLEN  BCRYPTO_HASHLEN
#define NOISE_TAGLEN   BCRYPTO_TAGLEN
#define NOISE_PSKLEN   32
#define NOISE_MAX_PSKS 4
#define NOISE_MAX_MSG  65535u

/* CipherState with a key (noise_cipher_init, noise_hs_split). A small
 * value type: embed it; its fields are private. The state without a key
 * exists only inside a handshake (noise.c), so the type holds no flag for
 * it: 40 bytes (a server keeps two per connection). */
typedef struct noise_cipher {
    uint8_t k[NOISE_KEYLEN];
    uint64_t n;
} noise_cipher;

/* InitializeKey(k); n = 0. */
void noise_cipher_init(noise_cipher *c, const uint8_t k[static NOISE_KEYLEN]);
void noise_cipher_set_nonce(noise_cipher *c, uint64_t n);
/* EncryptWithAd. out receives len + 16 bytes; it may alias pt.
 * BANTER_ENONCE when n reached 2^64-1. */
BANTER_WUR int noise_cipher_encrypt(noise_cipher *c, const uint8_t *ad, size_t adlen,
                                    const uint8_t *pt, size_t len, uint8_t *out);
/* DecryptWithAd. out receives len - 16 bytes; it may alias ct.
 * BANTER_EBADTAG, BANTER_ETRUNCATED, BANTER_ENONCE; n advances only on
 * success. */
BANTER_WUR int noise_cipher_decrypt(noise_cipher *c, const uint8_t *ad, size_t adlen,
                                    const uint8_t *ct, size_t len, uint8_t *out);
/* Rekey(): k = first 32 bytes of ENCRYPT(k, 2^64-1, "", zeros). */
void noise_cipher_rekey(noise_cipher *c);
void noise_cipher_wipe(noise_cipher *c);

typedef enum noise_role { NOISE_INITIATOR, NOISE_RESPONDER } noise_role;

typedef enum noise_action {
    NOISE_WRITE,  /* call noise_hs_write() */
    NOISE_READ,   /* call noise_hs_read() */
    NOISE_SPLIT,  /* handshake complete: call noise_hs_split() */
    NOISE_FAILED, /* an error ended the handshake */
} noise_action;

typedef struct noise_hs_config {
    const char *protocol_name; /* e.g. "Noise_XX_25519_ChaChaPoly_BLAKE2b" */
    noise_role role;
    const uint8_t *prologue;
    size_t prologue_len;
    const uint8_t *s;                    /* local static private key (32), or NULL */
    const uint8_t *e;                    /* fixed local ephemeral private key, tests only */
    const uint8_t *rs;                   /* remote static public key, if known before */
    const uint8_t *re;                   /* remote ephemeral public key, if known before */
    const uint8_t (*psks)[NOISE_PSKLEN]; /* consumed in order of psk tokens */
    size_t npsks;
    banter_rng rng; /* for ephemeral keys when e is NULL */
} noise_hs_config;

typedef struct noise_hs noise_hs;

/* Create a handshake. BANTER_EUNSUPPORTED for a name outside the suite or
 * an unknown pattern or modifier; BANTER_EINVAL when a key the pattern needs
 * is missing or there are too few psks; BANTER_ENOMEM. *out is NULL on
 * failure. The configuration's buffers are copied; none need outlive it. */
BANTER_WUR int noise_hs_new(noise_hs **out, const noise_hs_config *cfg);
/* Wipes all secrets. Accepts NULL. */
void noise_hs_free(noise_hs *hs);

noise_action noise_hs_action(const noise_hs *hs);

/* Size of the next message this side writes with a payload of len bytes. */
size_t noise_hs_write_size(const noise_hs *hs, size_t len);

/* WriteMessage. out must have room for noise_hs_write_size(hs, len);
 * *outlen receives the length. BANTER_ETOOBIG when the message would exceed
 * 65535 bytes (the state is left unchanged), BANTER_ESTATE when it is not
 * this side's turn, BANTER_EDH. */
BANTER_WUR int noise_hs_write(noise_hs *hs, const uint8_t *payload, size_t len, uint8_t *out,
                              size_t *outlen);

/* ReadMessage. The payload is written to out (room for outcap bytes; the
 * payload is never longer than len). BANTER_ETRUNCATED when msg is shorter
 * than its tokens, BANTER_EBADTAG, BANTER_EDH, BANTER_ETOOBIG, BANTER_ESTATE. */
BANTER_WUR int noise_hs_read(noise_hs *hs, const uint8_t *msg, size_t len, uint8_t *out,
                             size_t outcap, size_t *outlen);

/* Split(): the cipher this side sends with and the one it receives with.
 * BANTER_ESTATE before the handshake completes. The handshake hash stays
 * available afterwards. */
BANTER_WUR int noise_hs_split(noise_hs *hs, noise_cipher *send, noise_cipher *recv);

/* The current handshake hash h (the final one after the last message). */
void noise_hs_hash(const noise_hs *hs, uint8_t h[static NOISE_HASHLEN]);

/* The remote static public key once received or given, else NULL. */
const uint8_t *noise_hs_remote_static(const noise_hs *hs);

#endif
