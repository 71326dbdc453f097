/* SPDX-License-Identifier: MIT */
/* stun.c - STUN Binding request and answer (stun.h). */
#include "stun.h"

#include <stdio.h>
#include <string.h>

#define T_BINDING_REQ 0x0001u
#define T_BINDING_OK  0x0101u
#define T_BINDING_ERR 0x0111u

#define A_MAPPED     0x0001u
#define A_USERNAME   0x0006u
#define A_INTEGRITY  0x0008u
#define A_ERROR_CODE 0x0009u
#define A_UNKNOWN    0x000Au
#define A_REALM      0x0014u
#define A_NONCE      0x0015u
#define A_XOR_MAPPED 0x0020u
#define A_OTHER      0x802Cu /* RFC 5780 OTHER-ADDRESS */

static uint16_t get16(const uint8_t *p) { return (uint16_t)((unsigned)p[0] << 8 | p[1]); }

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

bool stun_addr_same_ip(const stun_addr *a, const stun_addr *b)
{
    size_t n = a->family == 4 ? 4 : 16;
    return a->family == b->family && memcmp(a->ip, b->ip, n) == 0;
}

bool stun_addr_equal(const stun_addr *a, const stun_addr *b)
{
    return stun_addr_same_ip(a, b) && a->port == b->port;
}

void stun_addr_format(const stun_addr *a, char out[static STUN_ADDR_STR])
{
    if (a->family == 4) {
        snprintf(out, STUN_ADDR_STR, "%u.%u.%u.%u:%u", a->ip[0], a->ip[1], a->ip[2], a->ip[3],
                 a->port);
    } else if (a->family == 6) {
        /* Full form, no "::" shortening: unambiguous and enough for a report. */
        char h[40];
        size_t k = 0;
        for (size_t i = 0; i < 16; i += 2)
            k += (size_t)snprintf(h + k, sizeof h - k, "%s%x", i ? ":" : "", get16(a->ip + i));
        snprintf(out, STUN_ADDR_STR, "[%s]:%u", h, a->port);
    } else {
        snprintf(out, STUN_ADDR_STR, "?");
    }
}

size_t stun_binding_request(uint8_t out[static STUN_HDR_LEN],
                            const uint8_t txid[static STUN_TXID_LEN])
{
    out[0] = T_BINDING_REQ >> 8;
    out[1] = T_BINDING_REQ & 0xff;
    out[2] = out[3] = 0; /* no attributes */
    out[4] = (uint8_t)(STUN_COOKIE >> 24);
    out[5] = (uint8_t)(STUN_COOKIE >> 16);
    out[6] = (uint8_t)(STUN_COOKIE >> 8);
    out[7] = (uint8_t)STUN_COOKIE;
    memcpy(out + 8, txid, STUN_TXID_LEN);
    return STUN_HDR_LEN;
}

/* A (XOR-)MAPPED-ADDRESS-shaped value: reserved, family, port, address.
 * hdr: the message header (cookie and id) when the value is XORed, else
 * NULL. */
static int get_addr(const uint8_t *v, size_t len, const uint8_t *hdr, stun_addr *a)
{
    if (len < 4)
        return BANTER_EFORMAT;
    memset(a, 0, sizeof *a);
    size_t alen;
    if (v[1] == 0x01)
        a->family = 4, alen = 4;
    else if (v[1] == 0x02)
        a->family = 6, alen = 16;
    else
        return BANTER_EFORMAT;
    if (len != 4 + alen)
        return BANTER_EFORMAT;
    a->port = get16(v + 2);
    memcpy(a->ip, v + 4, alen);
    if (hdr) {
        a->port ^= (uint16_t)(STUN_COOKIE >> 16);
        for (size_t i = 0; i < alen; i++)
            a->ip[i] ^= hdr[4 + i]; /* cookie, then the transaction id */
    }
    return 0;
}

static bool known_required(unsigned t)
{
    return t == A_MAPPED || t == A_USERNAME || t == A_INTEGRITY || t == A_ERROR_CODE ||
           t == A_UNKNOWN || t == A_REALM || t == A_NONCE || t == A_XOR_MAPPED;
}

/* One attribute of type t and value v[0..len). */
static int take_attr(unsigned t, const uint8_t *v, size_t len, const uint8_t *hdr, stun_answer *out,
                     bool *xor_seen)
{
    int r = 0;
    stun_addr a;
    if (t == A_XOR_MAPPED && !*xor_seen) {
        if ((r = get_addr(v, len, hdr, &a)) == 0)
            out->mapped = a, out->has_mapped = true, *xor_seen = true;
    } else if (t == A_MAPPED && !out->has_mapped) {
        if ((r = get_addr(v, len, NULL, &a)) == 0)
            out->mapped = a, out->has_mapped = true;
    } else if (t == A_OTHER && !out->has_other) {
        if ((r = get_addr(v, len, NULL, &a)) == 0)
            out->other = a, out->has_other = true;
    } else if (t == A_ERROR_CODE && !out->err_code) {
        if (len < 4)
            return BANTER_EFORMAT;
        unsigned code = (v[2] & 7u) * 100u + v[3];
        if (code < 300 || code > 699 || v[3] > 99)
            return BANTER_EFORMAT;
        out->err_code = code;
    } else if (t < 0x8000u && !known_required(t)) {
        r = BANTER_EUNSUPPORTED;
    }
    return r;
}

int stun_parse_answer(const uint8_t *msg, size_t len, const uint8_t txid[static STUN_TXID_LEN],
                      stun_answer *out)
{
    memset(out, 0, sizeof *out);
    if (len > BANTER_MAX_STUN_MSG)
        return BANTER_ETOOBIG;
    if (len < STUN_HDR_LEN)
        return BANTER_ETRUNCATED;
    unsigned type = get16(msg);
    size_t body = get16(msg + 2);
    if ((msg[0] & 0xc0) || get32(msg + 4) != STUN_COOKIE || body % 4)
        return BANTER_EPROTO;
    if (STUN_HDR_LEN + body > len)
        return BANTER_ETRUNCATED;
    if (STUN_HDR_LEN + body < len)
        return BANTER_EPROTO; /* a datagram holds exactly one message */
    if (memcmp(msg + 8, txid, STUN_TXID_LEN) != 0)
        return BANTER_EPROTO;
    if (type != T_BINDING_OK && type != T_BINDING_ERR)
        return BANTER_EBADTYPE;
    out->error = type == T_BINDING_ERR;
    bool xor_seen = false;
    const uint8_t *p = msg + STUN_HDR_LEN, *end = msg + len;
    while (p < end) {
        if (end - p < 4)
            return BANTER_ETRUNCATED;
        unsigned t = get16(p);
        size_t alen = get16(p + 2), padded = (alen + 3u) & ~(size_t)3u;
        if ((size_t)(end - p - 4) < padded)
            return BANTER_ETRUNCATED;
        int r = take_attr(t, p + 4, alen, msg, out, &xor_seen);
        if (r)
            return r;
        p += 4 + padded;
    }
    if (!out->error && !out->has_mapped)
        return BANTER_EFORMAT;
    return 0;
}
