/* SPDX-License-Identifier: MIT */
/* sealed.c - seal to a device, open and check the sender's signature. */
#include "sealed.h"

#include <stdlib.h>
#include <string.h>

static const char sealed_label[] = "banter-sealed-v1";
#define LABEL_LEN (sizeof sealed_label - 1)

/* "banter-sealed-v1" || to || pt, in a fresh buffer (the caller frees). */
static uint8_t *signed_bytes(const uint8_t to[static 32], const uint8_t *pt, size_t len, size_t *n)
{
    *n = LABEL_LEN + 32 + len;
    uint8_t *b = malloc(*n);
    if (!b)
        return NULL;
    memcpy(b, sealed_label, LABEL_LEN);
    memcpy(b + LABEL_LEN, to, 32);
    if (len)
        memcpy(b + LABEL_LEN + 32, pt, len);
    return b;
}

int sealed_seal(uint8_t *out, const identity *from, const uint8_t to[static 32], const uint8_t *pt,
                size_t len)
{
    uint8_t xpk[BCRYPTO_DHLEN];
    size_t n;
    if (bcrypto_ed_to_x_public(xpk, to) != 0)
        return BANTER_EIDENTITY;
    size_t inner_len = BCRYPTO_ED_PKLEN + BCRYPTO_SIGLEN + len;
    uint8_t *inner = malloc(inner_len);
    uint8_t *msg = signed_bytes(to, pt, len, &n);
    if (!inner || !msg) {
        free(inner);
        free(msg);
        return BANTER_ENOMEM;
    }
    memcpy(inner, identity_public(from), BCRYPTO_ED_PKLEN);
    identity_sign(from, msg, n, inner + BCRYPTO_ED_PKLEN);
    if (len)
        memcpy(inner + BCRYPTO_ED_PKLEN + BCRYPTO_SIGLEN, pt, len);
    bcrypto_seal(out, inner, inner_len, xpk);
    bcrypto_wipe(inner, inner_len);
    bcrypto_wipe(msg, n);
    free(inner);
    free(msg);
    return 0;
}

int sealed_open(uint8_t *out, size_t *outlen, uint8_t from[static 32], const identity *me,
                const uint8_t *c, size_t len)
{
    size_t n;
    if (len < SEALED_OVERHEAD)
        return BANTER_ETRUNCATED;
    size_t inner_len = len - BCRYPTO_SEALBYTES;
    uint8_t *inner = malloc(inner_len);
    if (!inner)
        return BANTER_ENOMEM;
    int r = bcrypto_seal_open(inner, c, len, identity_dh_public(me), identity_dh_secret(me));
    size_t ptlen = inner_len - BCRYPTO_ED_PKLEN - BCRYPTO_SIGLEN;
    const uint8_t *pt = inner + BCRYPTO_ED_PKLEN + BCRYPTO_SIGLEN;
    uint8_t *msg = r ? NULL : signed_bytes(identity_public(me), pt, ptlen, &n);
    if (!r && !msg)
        r = BANTER_ENOMEM;
    if (!r)
        r = bcrypto_verify(inner + BCRYPTO_ED_PKLEN, msg, n, inner) ? BANTER_EIDENTITY : 0;
    if (!r) {
        memcpy(from, inner, BCRYPTO_ED_PKLEN);
        if (ptlen)
            memcpy(out, pt, ptlen);
        *outlen = ptlen;
    }
    if (msg) {
        bcrypto_wipe(msg, n);
        free(msg);
    }
    bcrypto_wipe(inner, inner_len);
    free(inner);
    return r;
}
