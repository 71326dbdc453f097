/* SPDX-License-Identifier: MIT */
/* policy.c - the organisation's signed policy (see policy.h). */
#include "policy.h"

#include <string.h>

#include "banter_limits.h"
#include "bcrypto.h"

#define CONTEXT "banter-policy-v1"
#define BODY    (POLICY_LEN - 64)

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

void policy_default(policy *p)
{
    memset(p, 0, sizeof *p);
    p->flags = POLICY_F_ALL;
    p->public_fields = 1u; /* display_name, rvmsg.h's RV_F_DISPLAY_NAME */
}

static bool valid(const policy *p)
{
    return p->issued_ms >= 0 && p->issued_ms <= BANTER_MAX_INT && p->max_file_mb >= 0 &&
           p->max_file_mb <= POLICY_MAX_MB && p->history_days <= POLICY_MAX_DAYS &&
           !(p->flags & ~POLICY_F_ALL) && !(p->public_fields >> POLICY_FIELDS) &&
           p->serial <= (uint64_t)BANTER_MAX_INT;
}

/* The signed bytes: the context, then the body. */
static void signed_msg(const uint8_t body[static BODY],
                       uint8_t out[static sizeof CONTEXT - 1 + BODY])
{
    memcpy(out, CONTEXT, sizeof CONTEXT - 1);
    memcpy(out + sizeof CONTEXT - 1, body, BODY);
}

static void encode_body(const policy *p, uint8_t b[static BODY])
{
    b[0] = POLICY_VERSION;
    memcpy(b + 1, p->server, 32);
    put_be(b + 33, p->serial, 8);
    put_be(b + 41, (uint64_t)p->issued_ms, 8);
    put_be(b + 49, (uint64_t)p->max_file_mb, 8);
    put_be(b + 57, p->history_days, 4);
    b[61] = p->flags;
    put_be(b + 62, p->public_fields, 4);
}

int policy_sign(policy *p, const identity *server)
{
    uint8_t body[BODY], m[sizeof CONTEXT - 1 + BODY];
    if (!valid(p))
        return BANTER_EINVAL;
    memcpy(p->server, identity_public(server), 32);
    encode_body(p, body);
    signed_msg(body, m);
    identity_sign(server, m, sizeof m, p->sig);
    return 0;
}

void policy_encode(const policy *p, uint8_t out[static POLICY_LEN])
{
    encode_body(p, out);
    memcpy(out + BODY, p->sig, 64);
}

int policy_decode(policy *p, const uint8_t *in, size_t len)
{
    uint8_t m[sizeof CONTEXT - 1 + BODY];
    memset(p, 0, sizeof *p);
    if (len < POLICY_LEN)
        return BANTER_ETRUNCATED;
    if (len > POLICY_LEN)
        return BANTER_ETRAILING;
    if (in[0] != POLICY_VERSION)
        return BANTER_EUNSUPPORTED;
    memcpy(p->server, in + 1, 32);
    p->serial = get_be(in + 33, 8);
    uint64_t issued = get_be(in + 41, 8), mb = get_be(in + 49, 8);
    p->history_days = (uint32_t)get_be(in + 57, 4);
    p->flags = in[61];
    p->public_fields = (uint32_t)get_be(in + 62, 4);
    memcpy(p->sig, in + BODY, 64);
    if (issued > (uint64_t)BANTER_MAX_INT || mb > (uint64_t)POLICY_MAX_MB)
        return BANTER_ESCHEMA;
    p->issued_ms = (int64_t)issued;
    p->max_file_mb = (int64_t)mb;
    if (!valid(p))
        return BANTER_ESCHEMA;
    signed_msg(in, m);
    return bcrypto_verify(p->sig, m, sizeof m, p->server) == 0 ? 0 : BANTER_EIDENTITY;
}

int policy_check(const policy *p, const uint8_t server[static 32])
{
    return bcrypto_equal(p->server, server, 32) ? 0 : BANTER_EKEYMISMATCH;
}
