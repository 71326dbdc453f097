/* SPDX-License-Identifier: MIT */
/* rvbatch.c - RV_BATCH: several plaintexts in one transport message (see rvbatch.h). */
#include "rvbatch.h"

#include <string.h>

void rvbatch_init(rvbatch *bt)
{
    buf_init(&bt->b, BANTER_MAX_PLAINTEXT);
    bt->n = 0;
}

void rvbatch_free(rvbatch *bt)
{
    buf_free(&bt->b);
    bt->n = 0;
}

void rvbatch_reset(rvbatch *bt)
{
    buf_consume(&bt->b, buf_len(&bt->b));
    bt->n = 0;
}

int rvbatch_add(rvbatch *bt, const uint8_t *pt, size_t len)
{
    if (len == 0 || len > RVBATCH_MAX_ITEM || pt[0] == RV_BATCH)
        return BANTER_EINVAL;
    if (bt->n >= BANTER_MAX_BATCH)
        return BANTER_ETOOBIG;
    size_t head = bt->n == 0 ? 1 : 0, need = head + RVBATCH_ITEM_HDR + len;
    uint8_t *dst;
    int r = buf_reserve(&bt->b, need, &dst);
    if (r)
        return r;
    if (head)
        dst[0] = RV_BATCH;
    put_u16be(dst + head, (uint16_t)len);
    memcpy(dst + head + RVBATCH_ITEM_HDR, pt, len);
    buf_commit(&bt->b, need);
    bt->n++;
    return 0;
}

const uint8_t *rvbatch_plaintext(const rvbatch *bt, size_t *len)
{
    const uint8_t *p = buf_data(&bt->b);
    *len = 0;
    if (bt->n == 0 || !p)
        return NULL;
    if (bt->n == 1) {
        *len = buf_len(&bt->b) - 1 - RVBATCH_ITEM_HDR;
        return p + 1 + RVBATCH_ITEM_HDR;
    }
    *len = buf_len(&bt->b);
    return p;
}

int rvbatch_check(const uint8_t *pt, size_t len, size_t *count)
{
    *count = 0;
    if (len < 1 || pt[0] != RV_BATCH)
        return BANTER_EPROTO;
    cur c = cur_make(pt + 1, len - 1);
    size_t n = 0;
    while (cur_left(&c) > 0) {
        size_t l = cur_u16be(&c);
        const uint8_t *m = cur_bytes(&c, l);
        if (!m)
            return BANTER_ETRUNCATED;
        if (l == 0 || m[0] == RV_BATCH || ++n > BANTER_MAX_BATCH)
            return BANTER_EPROTO;
    }
    if (n == 0)
        return BANTER_EPROTO;
    int r = cur_finish(&c);
    if (r)
        return r;
    *count = n;
    return 0;
}

bool rvbatch_next(rvbatch_iter *it, const uint8_t **pt, size_t *len)
{
    if (it->left < RVBATCH_ITEM_HDR)
        return false;
    size_t l = (size_t)it->p[0] << 8 | it->p[1];
    if (l > it->left - RVBATCH_ITEM_HDR)
        return false;
    *pt = it->p + RVBATCH_ITEM_HDR;
    *len = l;
    it->p += RVBATCH_ITEM_HDR + l;
    it->left -= RVBATCH_ITEM_HDR + l;
    return true;
}
