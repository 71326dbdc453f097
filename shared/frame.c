/* SPDX-License-Identifier: MIT */
/* frame.c - incremental decoder for 2-byte length-prefixed frames. */
#include "frame.h"

#include "banter_limits.h"

void frame_dec_init(frame_dec *d, size_t max)
{
    *d = (frame_dec){0};
    d->max = (uint32_t)(max > BANTER_NOISE_MAX_MSG ? BANTER_NOISE_MAX_MSG : max);
    buf_init(&d->body, BANTER_NOISE_MAX_MSG);
}

void frame_dec_set_max(frame_dec *d, size_t max)
{
    d->max = (uint32_t)(max > BANTER_NOISE_MAX_MSG ? BANTER_NOISE_MAX_MSG : max);
}

void frame_dec_free(frame_dec *d) { buf_free(&d->body); }

void frame_dec_set_keep(frame_dec *d, bool keep) { d->keep = keep; }

void frame_dec_trim(frame_dec *d)
{
    if (d->hdr_have == 0)
        buf_free(&d->body);
}

int frame_dec_push(frame_dec *d, const uint8_t *in, size_t len, size_t *used, const uint8_t **frame,
                   size_t *flen)
{
    size_t i = 0;

    /* A frame handed out from the buffer last time is done with now. */
    if (d->hdr_have == 0) {
        if (d->keep)
            buf_consume_keep(&d->body, buf_len(&d->body));
        else
            buf_consume(&d->body, buf_len(&d->body));
    }

    /* Fast path: a whole frame at the start of in, nothing buffered. */
    if (d->hdr_have == 0 && len >= BANTER_FRAME_HDR) {
        size_t n = (size_t)in[0] << 8 | in[1];
        if (n > d->max) {
            *used = 0;
            return BANTER_ETOOBIG;
        }
        if (len - BANTER_FRAME_HDR >= n) {
            *frame = in + BANTER_FRAME_HDR;
            *flen = n;
            *used = BANTER_FRAME_HDR + n;
            return 1;
        }
    }
    if (d->hdr_have < BANTER_FRAME_HDR) {
        while (d->hdr_have < BANTER_FRAME_HDR && i < len)
            d->hdr[d->hdr_have++] = in[i++];
        *used = i;
        if (d->hdr_have < BANTER_FRAME_HDR)
            return 0;
        d->need = (uint32_t)d->hdr[0] << 8 | d->hdr[1];
        if (d->need > d->max)
            return BANTER_ETOOBIG;
    }
    size_t take = d->need - buf_len(&d->body);
    if (take > len - i)
        take = len - i;
    if (take) {
        int r = buf_append(&d->body, in + i, take);
        if (r) {
            *used = i;
            return r;
        }
        i += take;
    }
    *used = i;
    if (buf_len(&d->body) < d->need)
        return 0;
    /* Complete: the body stays readable until the next push. */
    *frame = d->need ? buf_data(&d->body) : d->hdr;
    *flen = d->need;
    d->hdr_have = 0;
    d->need = 0;
    return 1;
}

int frame_dec_finish(const frame_dec *d)
{
    /* A body left in the buffer with no header pending was handed out. */
    return d->hdr_have == 0 ? 0 : BANTER_ETRUNCATED;
}

int frame_header(uint8_t hdr[static 2], size_t len)
{
    if (len > BANTER_NOISE_MAX_MSG)
        return BANTER_ETOOBIG;
    put_u16be(hdr, (uint16_t)len);
    return 0;
}
