/* SPDX-License-Identifier: MIT */
/*
 * bcrypto.h - all of Banter's cryptography, on libsodium primitives.
 *
 * The Noise suite 25519_ChaChaPoly_BLAKE2b (X25519, ChaCha20-Poly1305 IETF,
 * BLAKE2b-512 with HMAC and HKDF as the Noise spec defines them), Ed25519
 * device signatures and the Ed25519 -> X25519 key conversion. Nothing else
 * in the tree calls libsodium's crypto directly.
 *
 * Randomness is never taken implicitly: callers hand a banter_rng to the
 * objects that need one; bcrypto_rng_system() is the one backed by the OS.
 */
#ifndef BANTER_BCRYPTO_H
#define BANTER_BCRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define BCRYPTO_DHLEN      32
#define BCRYPTO_HASHLEN    64
#define BCRYPTO_BLOCKLEN   128
#define BCRYPTO_KEYLEN     32
#define BCRYPTO_TAGLEN     16
#define BCRYPTO_ED_PKLEN   32
#define BCRYPTO_ED_SKLEN   64
#define BCRYPTO_ED_SEEDLEN 32
#define BCRYPTO_SIGLEN     64

/* A source of random bytes. fill() must not fail. */
typedef struct banter_rng {
    void (*fill)(void *ctx, uint8_t *out, size_t len);
    void *ctx;
} banter_rng;

/* Initialise libsodium; 0 or BANTER_EUNSUPPORTED. Call once at start-up. */
BANTER_WUR int bcrypto_init(void);

/* The operating system's CSPRNG (libsodium randombytes). */
banter_rng bcrypto_rng_system(void);

/* BLAKE2b-512 of a || b (either may be empty). */
void bcrypto_hash2(uint8_t out[static BCRYPTO_HASHLEN], const uint8_t *a, size_t alen,
                   const uint8_t *b, size_t blen);

/* Streaming BLAKE2b (file hashes). The state is a value type; its bytes are
 * private. outlen is 16..64. */
typedef struct bcrypto_hash {
    _Alignas(64) uint8_t opaque[384];
} bcrypto_hash;
void bcrypto_hash_init(bcrypto_hash *h, size_t outlen);
void bcrypto_hash_update(bcrypto_hash *h, const uint8_t *p, size_t n);
void bcrypto_hash_final(bcrypto_hash *h, uint8_t *out, size_t outlen);

/* A hash state as bytes, to keep beside a partial file and go on hashing
 * after a restart (shared/hstate.h). The layout is libsodium's and private:
 * an imported state is trusted only once bcrypto_hash_peek() of it gives a
 * digest recorded when it was exported. */
#define BCRYPTO_HASH_STATE_LEN 384
void bcrypto_hash_export(const bcrypto_hash *h, uint8_t out[static BCRYPTO_HASH_STATE_LEN]);
void bcrypto_hash_import(bcrypto_hash *h, const uint8_t in[static BCRYPTO_HASH_STATE_LEN]);
/* The digest of everything hashed so far (outlen as given to init); h is
 * left as it was. */
void bcrypto_hash_peek(const bcrypto_hash *h, uint8_t *out, size_t outlen);

/* HMAC-BLAKE2b (RFC 2104, block 128) with a key of at most 128 bytes. */
void bcrypto_hmac(uint8_t out[static BCRYPTO_HASHLEN], const uint8_t *key, size_t keylen,
                  const uint8_t *data, size_t len);

/* Noise HKDF: derive nout (2 or 3) outputs of HASHLEN from chaining key ck
 * and input key material. out3 may be NULL when nout is 2. */
void bcrypto_hkdf(const uint8_t ck[static BCRYPTO_HASHLEN], const uint8_t *ikm, size_t ikmlen,
                  uint8_t out1[static BCRYPTO_HASHLEN], uint8_t out2[static BCRYPTO_HASHLEN],
                  uint8_t *out3);

/* X25519. bcrypto_dh returns BANTER_EDH when the result is all zero (the
 * remote key had low order); out is then zeroed. */
void bcrypto_dh_public(uint8_t pub[static BCRYPTO_DHLEN], const uint8_t priv[static BCRYPTO_DHLEN]);
BANTER_WUR int bcrypto_dh(uint8_t out[static BCRYPTO_DHLEN],
                          const uint8_t priv[static BCRYPTO_DHLEN],
                          const uint8_t pub[static BCRYPTO_DHLEN]);

/* ChaCha20-Poly1305 (IETF) with the Noise nonce: 4 zero bytes then n as
 * 64-bit little-endian. out receives len + 16 bytes and may equal pt. */
void bcrypto_aead_encrypt(uint8_t *out, const uint8_t k[static BCRYPTO_KEYLEN], uint64_t n,
                          const uint8_t *ad, size_t adlen, const uint8_t *pt, size_t len);
/* ct has len bytes (>= 16); out receives len - 16 bytes and may equal ct.
 * BANTER_EBADTAG (out untouched) or BANTER_ETRUNCATED when len < 16. */
BANTER_WUR int bcrypto_aead_decrypt(uint8_t *out, const uint8_t k[static BCRYPTO_KEYLEN],
                                    uint64_t n, const uint8_t *ad, size_t adlen, const uint8_t *ct,
                                    size_t len);

/* Ed25519 device keys. */
void bcrypto_sign_seed_keypair(uint8_t pk[static BCRYPTO_ED_PKLEN],
                               uint8_t sk[static BCRYPTO_ED_SKLEN],
                               const uint8_t seed[static BCRYPTO_ED_SEEDLEN]);
void bcrypto_sign(uint8_t sig[static BCRYPTO_SIGLEN], const uint8_t *msg, size_t len,
                  const uint8_t sk[static BCRYPTO_ED_SKLEN]);
/* 0 or BANTER_EIDENTITY. */
BANTER_WUR int bcrypto_verify(const uint8_t sig[static BCRYPTO_SIGLEN], const uint8_t *msg,
                              size_t len, const uint8_t pk[static BCRYPTO_ED_PKLEN]);
/* Ed25519 -> X25519. The public conversion fails (BANTER_EIDENTITY) for
 * keys that are not valid points. */
BANTER_WUR int bcrypto_ed_to_x_public(uint8_t x[static BCRYPTO_DHLEN],
                                      const uint8_t ed[static BCRYPTO_ED_PKLEN]);
void bcrypto_ed_to_x_secret(uint8_t x[static BCRYPTO_DHLEN],
                            const uint8_t sk[static BCRYPTO_ED_SKLEN]);

/*
 * Password hashing: Argon2id v1.3 (libsodium crypto_pwhash_str_alg) at the
 * "interactive" cost, t = 2 passes over m = 64 MiB, one lane. On this
 * project's reference machine (2 cores) one hash or one verification takes
 * about 0.08 s of one core and 64 MiB of memory while it runs: slow enough
 * that a stolen database costs an attacker that much per guess and per
 * account (every hash has its own random salt), fast enough for a login.
 * Callers on an event loop run these in a worker thread and bound how many
 * run at once (memory). The result is the PHC string
 * "$argon2id$v=19$m=65536,t=2,p=1$<salt>$<hash>", NUL-terminated, at most
 * BCRYPTO_PWHASH_STRLEN bytes with the terminator; the cost is stored in
 * it, so a later change of the cost keeps old hashes verifiable.
 */
#define BCRYPTO_PWHASH_STRLEN 128
/* Hash the len bytes of pw (any bytes; at most 4 GiB) into out.
 * BANTER_ENOMEM when the 64 MiB cannot be allocated. The salt comes from
 * the system CSPRNG (libsodium randombytes). */
BANTER_WUR int bcrypto_pwhash_str(char out[static BCRYPTO_PWHASH_STRLEN], const char *pw,
                                  size_t len);
/* 0 when pw matches the stored string, else BANTER_EIDENTITY (a wrong
 * password, or a string that is not a valid Argon2 hash, which never
 * matches). Takes as long as hashing does. */
BANTER_WUR int bcrypto_pwhash_verify(const char *str, const char *pw, size_t len);

/*
 * Anonymous public-key encryption (libsodium crypto_box_seal: an ephemeral
 * X25519 key, XSalsa20-Poly1305). The output is BCRYPTO_SEALBYTES longer
 * than the input.
 */
#define BCRYPTO_SEALBYTES 48
void bcrypto_seal(uint8_t *out, const uint8_t *m, size_t len,
                  const uint8_t xpk[static BCRYPTO_DHLEN]);
/* 0 or BANTER_EBADTAG (not for this key, or altered). out has len -
 * BCRYPTO_SEALBYTES bytes; len must be at least BCRYPTO_SEALBYTES. */
BANTER_WUR int bcrypto_seal_open(uint8_t *out, const uint8_t *c, size_t len,
                                 const uint8_t xpk[static BCRYPTO_DHLEN],
                                 const uint8_t xsk[static BCRYPTO_DHLEN]);

/* Constant-time equality and wiping of secrets. */
bool bcrypto_equal(const void *a, const void *b, size_t n);
void bcrypto_wipe(void *p, size_t n);

/* Standard base64 with padding (RFC 4648 section 4) of len bytes into out
 * (NUL-terminated): its length, or BANTER_ETOOLONG when cap is too small
 * (4 * ceil(len / 3) + 1 always suffices). */
BANTER_WUR int bcrypto_base64(char *out, size_t cap, const uint8_t *in, size_t len);

#endif
