/* SPDX-License-Identifier: MIT */
/* gkey.c - sender keys for group conversations; see gkey.h. */
#include "gkey.h"

#include <stdlib.h>
#include <string.h>

#define GKEY_VERSION    1
#define GKEY_SAVE_MAGIC 0x47 /* 'G' */
#define GKEY_CTX        "banter-group-v1"

typedef struct kept {
    uint32_t iteration;
    uint8_t mk[32];
} kept;

struct gkey_chain {
    gkey_header h;  /* h.iteration: the next message's */
    uint8_t ck[32]; /* the chain key of message h.iteration */
    uint8_t pk[BCRYPTO_ED_PKLEN];
    uint8_t sk[BCRYPTO_ED_SKLEN];
    bool own;
    unsigned nkept; /* kept[0..nkept), in increasing iteration */
    kept kept[GKEY_MAX_KEPT];
};

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The message key of ck and the chain key after it. */
static void step(const uint8_t ck[static 32], uint8_t mk[static 32], uint8_t next[static 32])
{
    static const uint8_t one = 0x01, two = 0x02;
    uint8_t out[BCRYPTO_HASHLEN];
    bcrypto_hmac(out, ck, 32, &one, 1);
    memcpy(mk, out, 32);
    bcrypto_hmac(out, ck, 32, &two, 1);
    memcpy(next, out, 32);
    bcrypto_wipe(out, sizeof out);
}

static gkey_chain *chain_alloc(void) { return calloc(1, sizeof(gkey_chain)); }

void gkey_chain_free(gkey_chain *c)
{
    if (!c)
        return;
    bcrypto_wipe(c, sizeof *c);
    free(c);
}

int gkey_chain_new(gkey_chain **out, const uint8_t group[static GKEY_GROUP_LEN],
                   const uint8_t device[static GKEY_DEVICE_LEN], uint32_t epoch, banter_rng rng)
{
    uint8_t seed[BCRYPTO_ED_SEEDLEN];
    gkey_chain *c = chain_alloc();
    *out = NULL;
    if (!c)
        return BANTER_ENOMEM;
    memcpy(c->h.group, group, GKEY_GROUP_LEN);
    memcpy(c->h.device, device, GKEY_DEVICE_LEN);
    c->h.epoch = epoch;
    rng.fill(rng.ctx, c->ck, sizeof c->ck);
    rng.fill(rng.ctx, seed, sizeof seed);
    bcrypto_sign_seed_keypair(c->pk, c->sk, seed);
    bcrypto_wipe(seed, sizeof seed);
    c->own = true;
    *out = c;
    return 0;
}

bool gkey_chain_is_own(const gkey_chain *c) { return c->own; }

gkey_header gkey_chain_header(const gkey_chain *c) { return c->h; }

static void put_header(uint8_t *p, const gkey_header *h)
{
    p[0] = GKEY_VERSION;
    memcpy(p + 1, h->group, GKEY_GROUP_LEN);
    memcpy(p + 1 + GKEY_GROUP_LEN, h->device, GKEY_DEVICE_LEN);
    put32(p + 1 + GKEY_GROUP_LEN + GKEY_DEVICE_LEN, h->epoch);
    put32(p + 1 + GKEY_GROUP_LEN + GKEY_DEVICE_LEN + 4, h->iteration);
}

static void get_header(gkey_header *h, const uint8_t *p)
{
    memcpy(h->group, p + 1, GKEY_GROUP_LEN);
    memcpy(h->device, p + 1 + GKEY_GROUP_LEN, GKEY_DEVICE_LEN);
    h->epoch = get32(p + 1 + GKEY_GROUP_LEN + GKEY_DEVICE_LEN);
    h->iteration = get32(p + 1 + GKEY_GROUP_LEN + GKEY_DEVICE_LEN + 4);
}

void gkey_dist_encode(const gkey_chain *c, uint8_t out[static GKEY_DIST_LEN])
{
    put_header(out, &c->h);
    memcpy(out + GKEY_HDR_LEN, c->ck, 32);
    memcpy(out + GKEY_HDR_LEN + 32, c->pk, BCRYPTO_ED_PKLEN);
}

static int valid_pk(const uint8_t pk[static BCRYPTO_ED_PKLEN])
{
    uint8_t x[BCRYPTO_DHLEN];
    return bcrypto_ed_to_x_public(x, pk) == 0 ? 0 : BANTER_EIDENTITY;
}

int gkey_dist_decode(gkey_chain **out, const uint8_t *in, size_t len)
{
    *out = NULL;
    if (len < GKEY_DIST_LEN)
        return BANTER_ETRUNCATED;
    if (len > GKEY_DIST_LEN)
        return BANTER_ETRAILING;
    if (in[0] != GKEY_VERSION)
        return BANTER_EUNSUPPORTED;
    int r = valid_pk(in + GKEY_HDR_LEN + 32);
    if (r)
        return r;
    gkey_chain *c = chain_alloc();
    if (!c)
        return BANTER_ENOMEM;
    get_header(&c->h, in);
    memcpy(c->ck, in + GKEY_HDR_LEN, 32);
    memcpy(c->pk, in + GKEY_HDR_LEN + 32, BCRYPTO_ED_PKLEN);
    *out = c;
    return 0;
}

/* The signed bytes: the context string, then header || ciphertext. */
static void sign_msg(uint8_t sig[static BCRYPTO_SIGLEN], const uint8_t *m, size_t len,
                     const uint8_t sk[static BCRYPTO_ED_SKLEN])
{
    uint8_t digest[BCRYPTO_HASHLEN];
    bcrypto_hash2(digest, (const uint8_t *)GKEY_CTX, sizeof GKEY_CTX - 1, m, len);
    bcrypto_sign(sig, digest, sizeof digest, sk);
}

static int verify_msg(const uint8_t sig[static BCRYPTO_SIGLEN], const uint8_t *m, size_t len,
                      const uint8_t pk[static BCRYPTO_ED_PKLEN])
{
    uint8_t digest[BCRYPTO_HASHLEN];
    bcrypto_hash2(digest, (const uint8_t *)GKEY_CTX, sizeof GKEY_CTX - 1, m, len);
    return bcrypto_verify(sig, digest, sizeof digest, pk);
}

int gkey_seal(gkey_chain *c, uint8_t *out, const uint8_t *pt, size_t len)
{
    uint8_t mk[32], next[32];
    if (!c->own)
        return BANTER_ESTATE;
    if (c->h.iteration >= GKEY_MAX_ITER)
        return BANTER_ENONCE;
    put_header(out, &c->h);
    step(c->ck, mk, next);
    bcrypto_aead_encrypt(out + GKEY_HDR_LEN, mk, 0, out, GKEY_HDR_LEN, pt, len);
    size_t signed_len = GKEY_HDR_LEN + len + BCRYPTO_TAGLEN;
    sign_msg(out + signed_len, out, signed_len, c->sk);
    memcpy(c->ck, next, 32);
    c->h.iteration++;
    bcrypto_wipe(mk, sizeof mk);
    bcrypto_wipe(next, sizeof next);
    return 0;
}

int gkey_peek(gkey_header *h, const uint8_t *msg, size_t len)
{
    if (len < GKEY_OVERHEAD)
        return BANTER_ETRUNCATED;
    if (msg[0] != GKEY_VERSION)
        return BANTER_EUNSUPPORTED;
    get_header(h, msg);
    return 0;
}

/* Index of the kept key of iteration it, or -1. */
static int find_kept(const gkey_chain *c, uint32_t it)
{
    for (unsigned i = 0; i < c->nkept; i++)
        if (c->kept[i].iteration == it)
            return (int)i;
    return -1;
}

static void drop_kept(gkey_chain *c, unsigned i)
{
    bcrypto_wipe(&c->kept[i], sizeof c->kept[i]);
    memmove(&c->kept[i], &c->kept[i + 1], (c->nkept - i - 1) * sizeof c->kept[0]);
    c->nkept--;
}

/* Keep the key of a skipped message, dropping the oldest when full. */
static void keep(gkey_chain *c, uint32_t it, const uint8_t mk[static 32])
{
    if (c->nkept == GKEY_MAX_KEPT)
        drop_kept(c, 0);
    c->kept[c->nkept].iteration = it;
    memcpy(c->kept[c->nkept].mk, mk, 32);
    c->nkept++;
}

static int decrypt(uint8_t *out, size_t *outlen, const uint8_t mk[static 32], const uint8_t *msg,
                   size_t ctlen)
{
    int r = bcrypto_aead_decrypt(out, mk, 0, msg, GKEY_HDR_LEN, msg + GKEY_HDR_LEN, ctlen);
    if (r == 0)
        *outlen = ctlen - BCRYPTO_TAGLEN;
    return r;
}

/* A message at or beyond the chain's next iteration: derive forward on a
 * copy, and commit the copy only when the message decrypts. */
static int open_ahead(gkey_chain *c, uint32_t it, uint8_t *out, size_t *outlen, const uint8_t *msg,
                      size_t ctlen)
{
    uint8_t ck[32], mk[32], next[32];
    /* Keys of skipped messages, kept only on success. */
    if (it - c->h.iteration > GKEY_MAX_SKIP)
        return BANTER_ETOOBIG;
    gkey_chain *tmp = malloc(sizeof *tmp);
    if (!tmp)
        return BANTER_ENOMEM;
    memcpy(tmp, c, sizeof *tmp);
    memcpy(ck, c->ck, 32);
    for (uint32_t i = c->h.iteration; i < it; i++) {
        step(ck, mk, next);
        keep(tmp, i, mk);
        memcpy(ck, next, 32);
    }
    step(ck, mk, next);
    int r = decrypt(out, outlen, mk, msg, ctlen);
    if (r == 0) {
        memcpy(tmp->ck, next, 32);
        tmp->h.iteration = it + 1;
        memcpy(c, tmp, sizeof *c);
    }
    bcrypto_wipe(tmp, sizeof *tmp);
    free(tmp);
    bcrypto_wipe(ck, sizeof ck);
    bcrypto_wipe(mk, sizeof mk);
    bcrypto_wipe(next, sizeof next);
    return r;
}

int gkey_open(gkey_chain *c, uint8_t *out, size_t *outlen, const uint8_t *msg, size_t len)
{
    gkey_header h;
    int r = gkey_peek(&h, msg, len);
    if (r)
        return r;
    if (memcmp(h.group, c->h.group, GKEY_GROUP_LEN) != 0 ||
        memcmp(h.device, c->h.device, GKEY_DEVICE_LEN) != 0 || h.epoch != c->h.epoch)
        return BANTER_EINVAL;
    size_t signed_len = len - BCRYPTO_SIGLEN;
    r = verify_msg(msg + signed_len, msg, signed_len, c->pk);
    if (r)
        return BANTER_EIDENTITY;
    size_t ctlen = signed_len - GKEY_HDR_LEN;
    if (h.iteration >= c->h.iteration) {
        if (h.iteration >= GKEY_MAX_ITER)
            return BANTER_ETOOBIG;
        return open_ahead(c, h.iteration, out, outlen, msg, ctlen);
    }
    int k = find_kept(c, h.iteration);
    if (k < 0)
        return BANTER_ENOENT;
    r = decrypt(out, outlen, c->kept[k].mk, msg, ctlen);
    if (r == 0)
        drop_kept(c, (unsigned)k);
    return r;
}

/*
 * Saved form: magic 'G', version, the distribution (header with the next
 * iteration, chain key, signing public key), own flag (1 byte) and the
 * signing secret when own, kept count (2, BE), then per kept key its
 * iteration (4, BE) and key (32), iterations increasing and all below the
 * chain's next.
 */
size_t gkey_chain_save(const gkey_chain *c, uint8_t out[static GKEY_SAVE_MAX])
{
    size_t n = 0;
    out[n++] = GKEY_SAVE_MAGIC;
    out[n++] = GKEY_VERSION;
    gkey_dist_encode(c, out + n);
    n += GKEY_DIST_LEN;
    out[n++] = c->own ? 1 : 0;
    if (c->own) {
        memcpy(out + n, c->sk, BCRYPTO_ED_SKLEN);
        n += BCRYPTO_ED_SKLEN;
    }
    out[n++] = (uint8_t)(c->nkept >> 8);
    out[n++] = (uint8_t)c->nkept;
    for (unsigned i = 0; i < c->nkept; i++) {
        put32(out + n, c->kept[i].iteration);
        memcpy(out + n + 4, c->kept[i].mk, 32);
        n += 36;
    }
    return n;
}

static int load_kept(gkey_chain *c, const uint8_t *p, size_t left)
{
    if (left < 2)
        return BANTER_EFORMAT;
    unsigned nk = (unsigned)p[0] << 8 | p[1];
    if (nk > GKEY_MAX_KEPT || left - 2 != (size_t)nk * 36)
        return BANTER_EFORMAT;
    p += 2;
    for (unsigned i = 0; i < nk; i++, p += 36) {
        uint32_t it = get32(p);
        if (it >= c->h.iteration || (i > 0 && it <= c->kept[i - 1].iteration))
            return BANTER_EFORMAT;
        c->kept[i].iteration = it;
        memcpy(c->kept[i].mk, p + 4, 32);
    }
    c->nkept = nk;
    return 0;
}

static int load_secret(gkey_chain *c, const uint8_t sk[static BCRYPTO_ED_SKLEN])
{
    uint8_t pk[BCRYPTO_ED_PKLEN], sk2[BCRYPTO_ED_SKLEN];
    /* libsodium's secret key is seed || public key: the seed must give
     * the public key the state names. */
    bcrypto_sign_seed_keypair(pk, sk2, sk);
    bool ok = bcrypto_equal(pk, c->pk, sizeof pk) && bcrypto_equal(sk2, sk, sizeof sk2);
    bcrypto_wipe(sk2, sizeof sk2);
    if (!ok)
        return BANTER_EFORMAT;
    memcpy(c->sk, sk, BCRYPTO_ED_SKLEN);
    c->own = true;
    return 0;
}

int gkey_chain_load(gkey_chain **out, const uint8_t *in, size_t len)
{
    size_t n = 2 + GKEY_DIST_LEN + 1;
    *out = NULL;
    if (len < n || in[0] != GKEY_SAVE_MAGIC)
        return BANTER_EFORMAT;
    if (in[1] != GKEY_VERSION)
        return BANTER_EUNSUPPORTED;
    gkey_chain *c = NULL;
    int r = gkey_dist_decode(&c, in + 2, GKEY_DIST_LEN);
    if (r == BANTER_ENOMEM || r == BANTER_EUNSUPPORTED)
        return r;
    if (r)
        return BANTER_EFORMAT;
    uint8_t own = in[n - 1];
    if (own > 1)
        r = BANTER_EFORMAT;
    else if (own) {
        if (len < n + BCRYPTO_ED_SKLEN)
            r = BANTER_EFORMAT;
        else
            r = load_secret(c, in + n);
        n += BCRYPTO_ED_SKLEN;
    }
    if (!r)
        r = load_kept(c, in + n, len - n);
    if (r) {
        gkey_chain_free(c);
        return r;
    }
    *out = c;
    return 0;
}
