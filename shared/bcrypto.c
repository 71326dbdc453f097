/* SPDX-License-Identifier: MIT */
/* bcrypto.c - the Noise suite and Ed25519 on libsodium. */
#include "bcrypto.h"

#include <endian.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(crypto_generichash_BYTES_MAX == BCRYPTO_HASHLEN, "BLAKE2b-512");
_Static_assert(crypto_aead_chacha20poly1305_IETF_ABYTES == BCRYPTO_TAGLEN, "tag");
_Static_assert(crypto_scalarmult_BYTES == BCRYPTO_DHLEN, "x25519");
_Static_assert(crypto_sign_SECRETKEYBYTES == BCRYPTO_ED_SKLEN, "ed25519");

int bcrypto_init(void) { return sodium_init() < 0 ? BANTER_EUNSUPPORTED : 0; }

static void system_fill(void *ctx, uint8_t *out, size_t len)
{
    (void)ctx;
    randombytes_buf(out, len);
}

banter_rng bcrypto_rng_system(void) { return (banter_rng){system_fill, NULL}; }

void bcrypto_hash2(uint8_t out[static BCRYPTO_HASHLEN], const uint8_t *a, size_t alen,
                   const uint8_t *b, size_t blen)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, BCRYPTO_HASHLEN);
    if (alen)
        crypto_generichash_update(&st, a, alen);
    if (blen)
        crypto_generichash_update(&st, b, blen);
    crypto_generichash_final(&st, out, BCRYPTO_HASHLEN);
}

_Static_assert(sizeof(crypto_generichash_state) <= sizeof(bcrypto_hash), "hash state size");
_Static_assert(_Alignof(crypto_generichash_state) <= 64, "hash state alignment");

void bcrypto_hash_init(bcrypto_hash *h, size_t outlen)
{
    crypto_generichash_init((crypto_generichash_state *)(void *)h->opaque, NULL, 0, outlen);
}

void bcrypto_hash_update(bcrypto_hash *h, const uint8_t *p, size_t n)
{
    if (n)
        crypto_generichash_update((crypto_generichash_state *)(void *)h->opaque, p, n);
}

void bcrypto_hash_final(bcrypto_hash *h, uint8_t *out, size_t outlen)
{
    crypto_generichash_final((crypto_generichash_state *)(void *)h->opaque, out, outlen);
    sodium_memzero(h, sizeof *h);
}

_Static_assert(sizeof(bcrypto_hash) == BCRYPTO_HASH_STATE_LEN, "exported hash state");

void bcrypto_hash_export(const bcrypto_hash *h, uint8_t out[static BCRYPTO_HASH_STATE_LEN])
{
    memcpy(out, h->opaque, BCRYPTO_HASH_STATE_LEN);
}

void bcrypto_hash_import(bcrypto_hash *h, const uint8_t in[static BCRYPTO_HASH_STATE_LEN])
{
    memcpy(h->opaque, in, BCRYPTO_HASH_STATE_LEN);
}

void bcrypto_hash_peek(const bcrypto_hash *h, uint8_t *out, size_t outlen)
{
    bcrypto_hash copy = *h;
    bcrypto_hash_final(&copy, out, outlen);
}

void bcrypto_hmac(uint8_t out[static BCRYPTO_HASHLEN], const uint8_t *key, size_t keylen,
                  const uint8_t *data, size_t len)
{
    uint8_t pad[BCRYPTO_BLOCKLEN];
    uint8_t inner[BCRYPTO_HASHLEN];
    crypto_generichash_state st;

    /* Every key Noise uses is HASHLEN bytes, within the block. */
    memset(pad, 0x36, sizeof pad);
    for (size_t i = 0; i < keylen && i < sizeof pad; i++)
        pad[i] ^= key[i];
    crypto_generichash_init(&st, NULL, 0, BCRYPTO_HASHLEN);
    crypto_generichash_update(&st, pad, sizeof pad);
    if (len)
        crypto_generichash_update(&st, data, len);
    crypto_generichash_final(&st, inner, sizeof inner);

    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] ^= 0x36 ^ 0x5c;
    bcrypto_hash2(out, pad, sizeof pad, inner, sizeof inner);
    sodium_memzero(pad, sizeof pad);
    sodium_memzero(inner, sizeof inner);
    sodium_memzero(&st, sizeof st);
}

void bcrypto_hkdf(const uint8_t ck[static BCRYPTO_HASHLEN], const uint8_t *ikm, size_t ikmlen,
                  uint8_t out1[static BCRYPTO_HASHLEN], uint8_t out2[static BCRYPTO_HASHLEN],
                  uint8_t *out3)
{
    uint8_t temp[BCRYPTO_HASHLEN];
    uint8_t in[BCRYPTO_HASHLEN + 1];

    bcrypto_hmac(temp, ck, BCRYPTO_HASHLEN, ikm, ikmlen);
    in[0] = 1;
    bcrypto_hmac(out1, temp, sizeof temp, in, 1);
    memcpy(in, out1, BCRYPTO_HASHLEN);
    in[BCRYPTO_HASHLEN] = 2;
    bcrypto_hmac(out2, temp, sizeof temp, in, sizeof in);
    if (out3) {
        memcpy(in, out2, BCRYPTO_HASHLEN);
        in[BCRYPTO_HASHLEN] = 3;
        bcrypto_hmac(out3, temp, sizeof temp, in, sizeof in);
    }
    sodium_memzero(temp, sizeof temp);
    sodium_memzero(in, sizeof in);
}

void bcrypto_dh_public(uint8_t pub[static BCRYPTO_DHLEN], const uint8_t priv[static BCRYPTO_DHLEN])
{
    crypto_scalarmult_base(pub, priv);
}

int bcrypto_dh(uint8_t out[static BCRYPTO_DHLEN], const uint8_t priv[static BCRYPTO_DHLEN],
               const uint8_t pub[static BCRYPTO_DHLEN])
{
    if (crypto_scalarmult(out, priv, pub) != 0) {
        sodium_memzero(out, BCRYPTO_DHLEN);
        return BANTER_EDH;
    }
    return 0;
}

/* 32 zero bits, then n little-endian (Noise's ChaChaPoly nonce): one
 * store, not a byte loop (it runs for every frame both ways). */
static void noise_nonce(uint8_t nonce[12], uint64_t n)
{
    uint64_t le = htole64(n);
    memset(nonce, 0, 4);
    memcpy(nonce + 4, &le, sizeof le);
}

void bcrypto_aead_encrypt(uint8_t *out, const uint8_t k[static BCRYPTO_KEYLEN], uint64_t n,
                          const uint8_t *ad, size_t adlen, const uint8_t *pt, size_t len)
{
    uint8_t nonce[12];
    noise_nonce(nonce, n);
    crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, len, ad, adlen, NULL, nonce, k);
}

int bcrypto_aead_decrypt(uint8_t *out, const uint8_t k[static BCRYPTO_KEYLEN], uint64_t n,
                         const uint8_t *ad, size_t adlen, const uint8_t *ct, size_t len)
{
    uint8_t nonce[12];
    if (len < BCRYPTO_TAGLEN)
        return BANTER_ETRUNCATED;
    noise_nonce(nonce, n);
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, len, ad, adlen, nonce, k) !=
        0)
        return BANTER_EBADTAG;
    return 0;
}

void bcrypto_sign_seed_keypair(uint8_t pk[static BCRYPTO_ED_PKLEN],
                               uint8_t sk[static BCRYPTO_ED_SKLEN],
                               const uint8_t seed[static BCRYPTO_ED_SEEDLEN])
{
    crypto_sign_seed_keypair(pk, sk, seed);
}

void bcrypto_sign(uint8_t sig[static BCRYPTO_SIGLEN], const uint8_t *msg, size_t len,
                  const uint8_t sk[static BCRYPTO_ED_SKLEN])
{
    crypto_sign_detached(sig, NULL, msg, len, sk);
}

int bcrypto_verify(const uint8_t sig[static BCRYPTO_SIGLEN], const uint8_t *msg, size_t len,
                   const uint8_t pk[static BCRYPTO_ED_PKLEN])
{
    return crypto_sign_verify_detached(sig, msg, len, pk) == 0 ? 0 : BANTER_EIDENTITY;
}

int bcrypto_ed_to_x_public(uint8_t x[static BCRYPTO_DHLEN],
                           const uint8_t ed[static BCRYPTO_ED_PKLEN])
{
    return crypto_sign_ed25519_pk_to_curve25519(x, ed) == 0 ? 0 : BANTER_EIDENTITY;
}

void bcrypto_ed_to_x_secret(uint8_t x[static BCRYPTO_DHLEN],
                            const uint8_t sk[static BCRYPTO_ED_SKLEN])
{
    crypto_sign_ed25519_sk_to_curve25519(x, sk);
}

_Static_assert(crypto_box_SEALBYTES == BCRYPTO_SEALBYTES, "seal overhead");

void bcrypto_seal(uint8_t *out, const uint8_t *m, size_t len,
                  const uint8_t xpk[static BCRYPTO_DHLEN])
{
    /* Only fails for lengths near SIZE_MAX. */
    if (crypto_box_seal(out, m, len, xpk) != 0)
        abort();
}

int bcrypto_seal_open(uint8_t *out, const uint8_t *c, size_t len,
                      const uint8_t xpk[static BCRYPTO_DHLEN],
                      const uint8_t xsk[static BCRYPTO_DHLEN])
{
    if (len < BCRYPTO_SEALBYTES)
        return BANTER_EBADTAG;
    return crypto_box_seal_open(out, c, len, xpk, xsk) == 0 ? 0 : BANTER_EBADTAG;
}

_Static_assert(crypto_pwhash_STRBYTES == BCRYPTO_PWHASH_STRLEN, "pwhash string");

int bcrypto_pwhash_str(char out[static BCRYPTO_PWHASH_STRLEN], const char *pw, size_t len)
{
    if (crypto_pwhash_str_alg(out, pw, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        sodium_memzero(out, BCRYPTO_PWHASH_STRLEN);
        return BANTER_ENOMEM;
    }
    return 0;
}

int bcrypto_pwhash_verify(const char *str, const char *pw, size_t len)
{
    /* libsodium reads up to STRBYTES of str: give it a terminated copy. */
    char s[BCRYPTO_PWHASH_STRLEN];
    size_t n = strnlen(str, sizeof s);
    if (n == sizeof s)
        return BANTER_EIDENTITY;
    memcpy(s, str, n + 1);
    return crypto_pwhash_str_verify(s, pw, len) == 0 ? 0 : BANTER_EIDENTITY;
}

bool bcrypto_equal(const void *a, const void *b, size_t n) { return sodium_memcmp(a, b, n) == 0; }

void bcrypto_wipe(void *p, size_t n) { sodium_memzero(p, n); }

int bcrypto_base64(char *out, size_t cap, const uint8_t *in, size_t len)
{
    size_t need = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    if (cap < need || need > INT32_MAX)
        return BANTER_ETOOLONG;
    sodium_bin2base64(out, cap, in, len, sodium_base64_VARIANT_ORIGINAL);
    return (int)strlen(out);
}
