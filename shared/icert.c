/* SPDX-License-Identifier: MIT */
/* icert.c - instance certificates (see icert.h): cert.h's layout, signed
 * under their own context. */
#include "icert.h"

#include <string.h>

#include "cert.h"

#define ICERT_CONTEXT "banter-instance-v1"

_Static_assert(ICERT_VERSION == CERT_VERSION && ICERT_LEN_MAX == CERT_LEN_MAX,
               "an instance certificate is a certificate of cert.h's layout");

static void to_cert(const icert *i, cert *c)
{
    memcpy(c->server, i->org, 32);
    memcpy(c->device, i->instance, 32);
    c->issued_ms = i->issued_ms;
    c->expires_ms = i->expires_ms;
    memcpy(c->name, i->name, sizeof c->name);
    memcpy(c->sig, i->sig, 64);
}

static void from_cert(const cert *c, icert *i)
{
    memcpy(i->org, c->server, 32);
    memcpy(i->instance, c->device, 32);
    i->issued_ms = c->issued_ms;
    i->expires_ms = c->expires_ms;
    memcpy(i->name, c->name, sizeof i->name);
    memcpy(i->sig, c->sig, 64);
}

int icert_issue(icert *c, const identity *org, const uint8_t inst[static 32], const char *name,
                int64_t now_ms, int64_t ttl_ms)
{
    cert k;
    int r = cert_issue_in(ICERT_CONTEXT, &k, org, inst, name, now_ms, ttl_ms);
    from_cert(&k, c);
    return r;
}

int icert_encode(const icert *c, uint8_t *out, size_t cap, size_t *len)
{
    cert k;
    to_cert(c, &k);
    return cert_encode(&k, out, cap, len);
}

int icert_decode(icert *c, const uint8_t *in, size_t len)
{
    cert k;
    int r = cert_decode_in(ICERT_CONTEXT, &k, in, len);
    from_cert(&k, c);
    return r;
}

int icert_check(const icert *c, const uint8_t org[static 32], const uint8_t inst[static 32],
                int64_t now_ms)
{
    cert k;
    to_cert(c, &k);
    return cert_check(&k, org, inst, now_ms);
}
