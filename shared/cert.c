/* SPDX-License-Identifier: MIT */
/* cert.c - organisation certificates (see cert.h). */
#include "cert.h"

#include <string.h>

#include "bcrypto.h"
#include "buf.h"

#define CERT_CONTEXT "banter-cert-v1"

bool cert_name_valid(const char *name)
{
    size_t n = strnlen(name, BANTER_MAX_NAME + 1);
    if (n == 0 || n > BANTER_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
              ch == '-'))
            return false;
    }
    return true;
}

/* Everything the signature covers, after the context string. */
static size_t body(const cert *c, uint8_t out[static CERT_LEN_MAX])
{
    size_t n = strlen(c->name), o = 0;
    out[o++] = CERT_VERSION;
    memcpy(out + o, c->server, 32);
    o += 32;
    memcpy(out + o, c->device, 32);
    o += 32;
    put_u64be(out + o, (uint64_t)c->issued_ms);
    o += 8;
    put_u64be(out + o, (uint64_t)c->expires_ms);
    o += 8;
    out[o++] = (uint8_t)n;
    memcpy(out + o, c->name, n);
    return o + n;
}

/* The context, then the body: what the signature covers. */
static size_t signed_bytes(const char *context, const cert *c,
                           uint8_t out[static CERT_CONTEXT_MAX + CERT_LEN_MAX])
{
    size_t n = strlen(context);
    memcpy(out, context, n);
    return n + body(c, out + n);
}

int cert_issue_in(const char *context, cert *c, const identity *signer,
                  const uint8_t subject[static 32], const char *name, int64_t now_ms,
                  int64_t ttl_ms)
{
    uint8_t msg[CERT_CONTEXT_MAX + CERT_LEN_MAX];
    memset(c, 0, sizeof *c);
    if (strlen(context) > CERT_CONTEXT_MAX || !cert_name_valid(name) || ttl_ms <= 0 || now_ms < 0 ||
        ttl_ms > BANTER_MAX_INT || now_ms > BANTER_MAX_INT - ttl_ms)
        return BANTER_EINVAL;
    memcpy(c->server, identity_public(signer), 32);
    memcpy(c->device, subject, 32);
    c->issued_ms = now_ms;
    c->expires_ms = now_ms + ttl_ms;
    memcpy(c->name, name, strlen(name) + 1);
    identity_sign(signer, msg, signed_bytes(context, c, msg), c->sig);
    return 0;
}

int cert_issue(cert *c, const identity *server, const uint8_t device[static 32], const char *name,
               int64_t now_ms, int64_t ttl_ms)
{
    return cert_issue_in(CERT_CONTEXT, c, server, device, name, now_ms, ttl_ms);
}

int cert_encode(const cert *c, uint8_t *out, size_t cap, size_t *len)
{
    uint8_t b[CERT_LEN_MAX];
    size_t n = body(c, b);
    if (cap < n + 64)
        return BANTER_ETOOBIG;
    memcpy(out, b, n);
    memcpy(out + n, c->sig, 64);
    *len = n + 64;
    return 0;
}

int cert_decode_in(const char *context, cert *c, const uint8_t *in, size_t len)
{
    uint8_t msg[CERT_CONTEXT_MAX + CERT_LEN_MAX];
    cur k = cur_make(in, len);
    memset(c, 0, sizeof *c);
    if (strlen(context) > CERT_CONTEXT_MAX)
        return BANTER_EINVAL;
    uint8_t version = cur_u8(&k);
    const uint8_t *server = cur_bytes(&k, 32), *device = cur_bytes(&k, 32);
    c->issued_ms = (int64_t)cur_u64be(&k);
    c->expires_ms = (int64_t)cur_u64be(&k);
    uint8_t n = cur_u8(&k);
    const uint8_t *name = cur_bytes(&k, n), *sig = cur_bytes(&k, 64);
    int r = cur_finish(&k);
    if (r)
        return r;
    if (version != CERT_VERSION)
        return BANTER_EUNSUPPORTED;
    /* Times are milliseconds in 0..2^53 (docs/rendezvous.md section 3). */
    if (n == 0 || n > BANTER_MAX_NAME || c->issued_ms < 0 || c->issued_ms > BANTER_MAX_INT ||
        c->expires_ms < 0 || c->expires_ms > BANTER_MAX_INT)
        return BANTER_ESCHEMA;
    memcpy(c->server, server, 32);
    memcpy(c->device, device, 32);
    memcpy(c->name, name, n);
    c->name[n] = '\0';
    memcpy(c->sig, sig, 64);
    if (!cert_name_valid(c->name))
        return BANTER_ESCHEMA;
    return bcrypto_verify(c->sig, msg, signed_bytes(context, c, msg), c->server);
}

int cert_decode(cert *c, const uint8_t *in, size_t len)
{
    return cert_decode_in(CERT_CONTEXT, c, in, len);
}

int cert_check(const cert *c, const uint8_t server[static 32], const uint8_t device[static 32],
               int64_t now_ms)
{
    if (!bcrypto_equal(c->server, server, 32) || !bcrypto_equal(c->device, device, 32))
        return BANTER_EKEYMISMATCH;
    if (now_ms < c->issued_ms || now_ms >= c->expires_ms)
        return BANTER_ETIMEDOUT;
    return 0;
}
