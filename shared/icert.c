/* SPDX-License-Identifier: MIT */
/* icert.c - instance certificates (see icert.h). */
#include "icert.h"

#include <string.h>

#include "bcrypto.h"
#include "buf.h"
#include "cert.h"

#define ICERT_CONTEXT "banter-instance-v1"

/* Everything the signature covers, after the context string. */
static size_t body(const icert *c, uint8_t out[static ICERT_LEN_MAX])
{
    size_t n = strlen(c->name), o = 0;
    out[o++] = ICERT_VERSION;
    memcpy(out + o, c->org, 32);
    o += 32;
    memcpy(out + o, c->instance, 32);
    o += 32;
    put_u64be(out + o, (uint64_t)c->issued_ms);
    o += 8;
    put_u64be(out + o, (uint64_t)c->expires_ms);
    o += 8;
    out[o++] = (uint8_t)n;
    memcpy(out + o, c->name, n);
    return o + n;
}

static size_t signed_bytes(const icert *c, uint8_t out[static sizeof ICERT_CONTEXT + ICERT_LEN_MAX])
{
    memcpy(out, ICERT_CONTEXT, sizeof ICERT_CONTEXT - 1);
    return sizeof ICERT_CONTEXT - 1 + body(c, out + sizeof ICERT_CONTEXT - 1);
}

int icert_issue(icert *c, const identity *org, const uint8_t inst[static 32], const char *name,
                int64_t now_ms, int64_t ttl_ms)
{
    uint8_t msg[sizeof ICERT_CONTEXT + ICERT_LEN_MAX];
    memset(c, 0, sizeof *c);
    if (!cert_name_valid(name) || ttl_ms <= 0 || now_ms < 0 || ttl_ms > BANTER_MAX_INT ||
        now_ms > BANTER_MAX_INT - ttl_ms)
        return BANTER_EINVAL;
    memcpy(c->org, identity_public(org), 32);
    memcpy(c->instance, inst, 32);
    c->issued_ms = now_ms;
    c->expires_ms = now_ms + ttl_ms;
    memcpy(c->name, name, strlen(name) + 1);
    identity_sign(org, msg, signed_bytes(c, msg), c->sig);
    return 0;
}

int icert_encode(const icert *c, uint8_t *out, size_t cap, size_t *len)
{
    uint8_t b[ICERT_LEN_MAX];
    size_t n = body(c, b);
    if (cap < n + 64)
        return BANTER_ETOOBIG;
    memcpy(out, b, n);
    memcpy(out + n, c->sig, 64);
    *len = n + 64;
    return 0;
}

int icert_decode(icert *c, const uint8_t *in, size_t len)
{
    uint8_t msg[sizeof ICERT_CONTEXT + ICERT_LEN_MAX];
    cur k = cur_make(in, len);
    memset(c, 0, sizeof *c);
    uint8_t version = cur_u8(&k);
    const uint8_t *org = cur_bytes(&k, 32), *inst = cur_bytes(&k, 32);
    c->issued_ms = (int64_t)cur_u64be(&k);
    c->expires_ms = (int64_t)cur_u64be(&k);
    uint8_t n = cur_u8(&k);
    const uint8_t *name = cur_bytes(&k, n), *sig = cur_bytes(&k, 64);
    int r = cur_finish(&k);
    if (r)
        return r;
    if (version != ICERT_VERSION)
        return BANTER_EUNSUPPORTED;
    if (n == 0 || n > BANTER_MAX_NAME || c->issued_ms < 0 || c->issued_ms > BANTER_MAX_INT ||
        c->expires_ms < 0 || c->expires_ms > BANTER_MAX_INT)
        return BANTER_ESCHEMA;
    memcpy(c->org, org, 32);
    memcpy(c->instance, inst, 32);
    memcpy(c->name, name, n);
    c->name[n] = '\0';
    memcpy(c->sig, sig, 64);
    if (!cert_name_valid(c->name))
        return BANTER_ESCHEMA;
    return bcrypto_verify(c->sig, msg, signed_bytes(c, msg), c->org);
}

int icert_check(const icert *c, const uint8_t org[static 32], const uint8_t inst[static 32],
                int64_t now_ms)
{
    if (!bcrypto_equal(c->org, org, 32) || !bcrypto_equal(c->instance, inst, 32))
        return BANTER_EKEYMISMATCH;
    if (now_ms < c->issued_ms || now_ms >= c->expires_ms)
        return BANTER_ETIMEDOUT;
    return 0;
}
