/* SPDX-License-Identifier: MIT */
/* xlmsg.c - messages of a link between instances (see xlmsg.h). */
#include "xlmsg.h"

#include <sodium.h>
#include <string.h>

#include "buf.h"
#include "icert.h"

#define MAX_MS (1LL << 53)

/* A name from the wire: 1..64 bytes, no NUL. */
static bool get_name(cur *c, char out[static BANTER_MAX_NAME + 1])
{
    size_t n = cur_u8(c);
    const uint8_t *p = cur_bytes(c, n);
    if (!p || n == 0 || n > BANTER_MAX_NAME || memchr(p, 0, n))
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

static bool err_ok(const char *e, size_t n)
{
    if (n == 0 || n > XL_ERR_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((e[i] >= 'A' && e[i] <= 'Z') || (e[i] >= '0' && e[i] <= '9')))
            return false;
    return true;
}

/* Whether the RV_SEALED of f fits one transport message. */
static bool fwd_fits(const xl_fwd *f)
{
    size_t fl = strlen(f->from_user);
    return XL_SEALED_FIXED + fl + f->sealed_len <= BANTER_MAX_PLAINTEXT &&
           XL_FWD_FIXED + strlen(f->to_user) + fl + f->sealed_len <= BANTER_MAX_PLAINTEXT;
}

static int decode_fwd(xl_fwd *f, cur *c)
{
    f->tag = cur_u64be(c);
    const uint8_t *id = cur_bytes(c, XL_ID_LEN);
    f->flags = cur_u8(c);
    uint64_t ms = cur_u64be(c);
    bool to_ok = get_name(c, f->to_user);
    const uint8_t *to = cur_bytes(c, XL_KEY_LEN);
    bool from_ok = get_name(c, f->from_user);
    const uint8_t *from = cur_bytes(c, XL_KEY_LEN);
    f->sealed = cur_rest(c, &f->sealed_len);
    if (!id || !to || !from || cur_finish(c) != 0)
        return BANTER_ETRUNCATED;
    if (!to_ok || !from_ok || ms > (uint64_t)MAX_MS || f->sealed_len == 0)
        return BANTER_ESCHEMA;
    memcpy(f->id, id, XL_ID_LEN);
    memcpy(f->to_device, to, XL_KEY_LEN);
    memcpy(f->from_device, from, XL_KEY_LEN);
    f->created_ms = (int64_t)ms;
    return fwd_fits(f) ? 0 : BANTER_ETOOBIG;
}

int xlmsg_decode(xlmsg *m, const uint8_t *in, size_t len)
{
    memset(m, 0, sizeof *m);
    if (len < 1)
        return BANTER_ETRUNCATED;
    cur c = cur_make(in + 1, len - 1);
    m->type = in[0];
    switch (m->type) {
    case XL_CERT:
        m->u.cert.len = len - 1;
        m->u.cert.cert = len > 1 ? in + 1 : NULL;
        return m->u.cert.len > ICERT_LEN_MAX ? BANTER_ETOOBIG : 0;
    case XL_DEV: {
        m->u.dev.op = cur_u8(&c);
        m->u.dev.keys = cur_rest(&c, &m->u.dev.n);
        if (cur_finish(&c) != 0)
            return BANTER_ETRUNCATED;
        if (m->u.dev.n % XL_KEY_LEN)
            return BANTER_ETRUNCATED;
        m->u.dev.n /= XL_KEY_LEN;
        if ((m->u.dev.op != XL_DEV_UP && m->u.dev.op != XL_DEV_DOWN) || m->u.dev.n == 0 ||
            m->u.dev.n > XL_DEV_MAX)
            return BANTER_ESCHEMA;
        return 0;
    }
    case XL_FWD:
        return decode_fwd(&m->u.fwd, &c);
    case XL_ANS: {
        xl_ans *a = &m->u.ans;
        a->tag = cur_u64be(&c);
        a->fate = cur_u8(&c);
        size_t n = cur_u8(&c);
        const uint8_t *e = cur_bytes(&c, n);
        int r = cur_finish(&c);
        if (r)
            return r;
        if (a->fate > XL_FATE_MAX || (a->fate == XL_FATE_MAX) != (n > 0) ||
            (n && !err_ok((const char *)e, n)))
            return BANTER_ESCHEMA;
        if (n)
            memcpy(a->error, e, n);
        return 0;
    }
    default:
        return BANTER_EBADTYPE;
    }
}

/* A bounded writer: each put fails once the cap is passed. */
typedef struct wr {
    uint8_t *p;
    size_t n, cap;
} wr;

static void put(wr *w, const void *src, size_t n)
{
    if (w->n + n <= w->cap && n)
        memcpy(w->p + w->n, src, n);
    w->n += n;
}

static void put8(wr *w, uint8_t v) { put(w, &v, 1); }

static void put64(wr *w, uint64_t v)
{
    uint8_t b[8];
    put_u64be(b, v);
    put(w, b, 8);
}

static int encode_fwd(const xl_fwd *f, wr *w)
{
    size_t tl = strnlen(f->to_user, sizeof f->to_user),
           fl = strnlen(f->from_user, sizeof f->from_user);
    if (tl == 0 || tl > BANTER_MAX_NAME || fl == 0 || fl > BANTER_MAX_NAME || f->sealed_len == 0 ||
        f->created_ms < 0 || f->created_ms > MAX_MS)
        return BANTER_ESCHEMA;
    if (!fwd_fits(f))
        return BANTER_ETOOBIG;
    put64(w, f->tag);
    put(w, f->id, XL_ID_LEN);
    put8(w, f->flags);
    put64(w, (uint64_t)f->created_ms);
    put8(w, (uint8_t)tl);
    put(w, f->to_user, tl);
    put(w, f->to_device, XL_KEY_LEN);
    put8(w, (uint8_t)fl);
    put(w, f->from_user, fl);
    put(w, f->from_device, XL_KEY_LEN);
    put(w, f->sealed, f->sealed_len);
    return 0;
}

int xlmsg_encode(const xlmsg *m, uint8_t *out, size_t cap, size_t *len)
{
    wr w = {out, 0, cap};
    int r = 0;
    *len = 0;
    put8(&w, m->type);
    switch (m->type) {
    case XL_CERT:
        if (m->u.cert.len > ICERT_LEN_MAX)
            return BANTER_ETOOBIG;
        put(&w, m->u.cert.cert, m->u.cert.len);
        break;
    case XL_DEV:
        if ((m->u.dev.op != XL_DEV_UP && m->u.dev.op != XL_DEV_DOWN) || m->u.dev.n == 0 ||
            m->u.dev.n > XL_DEV_MAX)
            return BANTER_ESCHEMA;
        put8(&w, m->u.dev.op);
        put(&w, m->u.dev.keys, m->u.dev.n * XL_KEY_LEN);
        break;
    case XL_FWD:
        r = encode_fwd(&m->u.fwd, &w);
        break;
    case XL_ANS: {
        const xl_ans *a = &m->u.ans;
        size_t n = strnlen(a->error, sizeof a->error);
        if (a->fate > XL_FATE_MAX || (a->fate == XL_FATE_MAX) != (n > 0) ||
            (n && !err_ok(a->error, n)))
            return BANTER_ESCHEMA;
        put64(&w, a->tag);
        put8(&w, a->fate);
        put8(&w, (uint8_t)n);
        put(&w, a->error, n);
        break;
    }
    default:
        return BANTER_EBADTYPE;
    }
    if (r)
        return r;
    if (w.n > cap)
        return BANTER_ETOOBIG;
    *len = w.n;
    return 0;
}

int xlmsg_peer_check(const uint8_t *cert, size_t len, const uint8_t org[static 32],
                     const uint8_t key[static 32], int64_t now_ms,
                     char name[static BANTER_MAX_NAME + 1])
{
    name[0] = '\0';
    if (len == 0) {
        if (sodium_memcmp(key, org, 32) != 0)
            return BANTER_EIDENTITY;
        memcpy(name, "main", 5);
        return 0;
    }
    icert c;
    if (icert_decode(&c, cert, len) != 0)
        return BANTER_EIDENTITY;
    int r = icert_check(&c, org, key, now_ms);
    if (r)
        return r;
    memcpy(name, c.name, sizeof c.name);
    return 0;
}
