/* SPDX-License-Identifier: MIT */
/* buf.c - capped growable buffer and bounds-checked cursor. */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

/* Keep at most this much allocated once a buffer drains. */
#define BUF_KEEP 4096u

void buf_init(buf *b, size_t cap)
{
    *b = (buf){.cap = cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap};
}

void buf_free(buf *b)
{
    free(b->mem);
    uint32_t cap = b->cap;
    *b = (buf){.cap = cap};
}

int buf_reserve(buf *b, size_t n, uint8_t **out)
{
    size_t used = b->len - b->off;
    if (n > b->cap || used > b->cap - n)
        return BANTER_ETOOBIG;
    if (b->alloc - b->len >= n) {
        *out = b->mem ? b->mem + b->len : NULL; /* n == 0 on an empty buffer */
        return 0;
    }
    /* Compact first: the unread bytes may fit after a move to the front. */
    if (b->off > 0) {
        memmove(b->mem, b->mem + b->off, used);
        b->len = (uint32_t)used;
        b->off = 0;
        if (b->alloc - b->len >= n) {
            *out = b->mem + b->len;
            return 0;
        }
    }
    size_t want = b->alloc ? b->alloc : 256;
    while (want < used + n)
        want *= 2; /* used + n <= cap < 2^32: no overflow */
    if (want > b->cap)
        want = b->cap;
    uint8_t *m = realloc(b->mem, want);
    if (!m)
        return BANTER_ENOMEM;
    b->mem = m;
    b->alloc = (uint32_t)want;
    *out = b->mem + b->len;
    return 0;
}

void buf_commit(buf *b, size_t n) { b->len += (uint32_t)n; }

int buf_append(buf *b, const void *p, size_t n)
{
    uint8_t *dst;
    int r = buf_reserve(b, n, &dst);
    if (r)
        return r;
    if (n)
        memcpy(dst, p, n);
    b->len += (uint32_t)n;
    return 0;
}

void buf_truncate(buf *b, size_t n)
{
    if (n < buf_len(b))
        b->len = b->off + (uint32_t)n;
}

void buf_consume_keep(buf *b, size_t n)
{
    b->off += (uint32_t)n;
    if (b->off == b->len)
        b->off = b->len = 0;
}

uint8_t *buf_swap(buf *b, uint8_t *mem, size_t alloc, size_t *old_alloc)
{
    uint8_t *old = b->mem;
    *old_alloc = b->alloc;
    b->mem = mem;
    b->alloc = mem ? (uint32_t)(alloc > UINT32_MAX ? UINT32_MAX : alloc) : 0;
    b->off = b->len = 0;
    return old;
}

void buf_consume(buf *b, size_t n)
{
    buf_consume_keep(b, n);
    if (b->len == 0 && b->alloc > BUF_KEEP) {
        free(b->mem);
        b->mem = NULL;
        b->alloc = 0;
    }
}

static bool take(cur *c, size_t n)
{
    if (c->err)
        return false;
    if (c->left < n) {
        c->err = BANTER_ETRUNCATED;
        return false;
    }
    return true;
}

uint8_t cur_u8(cur *c)
{
    if (!take(c, 1))
        return 0;
    uint8_t v = c->p[0];
    c->p++;
    c->left--;
    return v;
}

uint16_t cur_u16be(cur *c)
{
    if (!take(c, 2))
        return 0;
    uint16_t v = (uint16_t)((unsigned)c->p[0] << 8 | c->p[1]);
    c->p += 2;
    c->left -= 2;
    return v;
}

uint64_t cur_u64be(cur *c)
{
    if (!take(c, 8))
        return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | c->p[i];
    c->p += 8;
    c->left -= 8;
    return v;
}

const uint8_t *cur_bytes(cur *c, size_t n)
{
    if (!take(c, n))
        return NULL;
    const uint8_t *p = c->p;
    c->p += n;
    c->left -= n;
    return p;
}

const uint8_t *cur_rest(cur *c, size_t *n)
{
    *n = c->err ? 0 : c->left;
    return cur_bytes(c, *n);
}

int cur_finish(const cur *c)
{
    if (c->err)
        return c->err;
    return c->left ? BANTER_ETRAILING : 0;
}

void put_u64be(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}
