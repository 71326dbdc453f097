/* SPDX-License-Identifier: MIT */
/*
 * fuzz_frame.c - libFuzzer target for the incremental frame decoder.
 *
 * The first input byte picks a cap, a chunking pattern, whether the cap
 * changes after the first frame and whether empty pushes are interleaved.
 * The rest is a byte stream decoded three ways: pushed all at once, pushed
 * in chunks, and by a small reference model written here. All three must
 * give the same frames, the same error and the same frame_dec_finish()
 * result; any difference aborts.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "frame.h"
#include "banter_limits.h"

/* Largest chunk per pattern of the chunked run. */
static const size_t chunk_max[8] = {1, 2, 3, 5, 17, 64, 257, 4096};
/* Caps; the last is above 65535 and must be clamped. */
static const size_t caps[8] = {0, 1, 2, 3, 35, BANTER_MAX_HANDSHAKE_MSG, 65535, 100000};

/* No final error recorded: the stream hit an error before the end. */
#define NO_FINISH 1

struct plan {
    size_t cap;       /* cap at init */
    size_t cap2;      /* cap after the first frame, when switching */
    bool switch_cap;  /* call frame_dec_set_max(cap2) after frame 1 */
    bool empty;       /* interleave zero-length pushes */
    size_t chunk_max; /* largest push of the chunked run */
    uint32_t seed;    /* chunk length generator */
};

/* What a decode produced: every frame as a 4-byte length then its bytes. */
struct rec {
    buf frames;
    size_t nframes;
    int err; /* 0, or the error that ended the stream */
    int fin; /* frame_dec_finish() at the end, NO_FINISH after an error */
};

struct chunker {
    uint32_t state;
    size_t max;
    bool empty;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t clamp_cap(size_t c) { return c > BANTER_NOISE_MAX_MSG ? BANTER_NOISE_MAX_MSG : c; }

static void rec_init(struct rec *r)
{
    buf_init(&r->frames, SIZE_MAX / 2);
    r->nframes = 0;
    r->err = 0;
    r->fin = NO_FINISH;
}

static void rec_frame(struct rec *r, const uint8_t *f, size_t n)
{
    uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    if (n > BANTER_NOISE_MAX_MSG || (n && !f))
        abort();
    if (buf_append(&r->frames, len, sizeof len) != 0 || buf_append(&r->frames, f, n) != 0)
        abort();
    r->nframes++;
}

static void rec_same(const struct rec *a, const struct rec *b)
{
    size_t n = buf_len(&a->frames);
    if (a->nframes != b->nframes || n != buf_len(&b->frames) || a->err != b->err ||
        a->fin != b->fin)
        abort();
    if (n && memcmp(buf_data(&a->frames), buf_data(&b->frames), n) != 0)
        abort();
}

/* Length of the next push: 0 now and then when empty pushes are on. */
static size_t chunk_next(struct chunker *c, size_t left)
{
    if (c->max == 0)
        return left;
    c->state = c->state * 1103515245u + 12345u;
    uint32_t x = c->state >> 16;
    if (c->empty && (x & 3) == 0)
        return 0;
    size_t n = 1 + (size_t)(x >> 2) % c->max;
    return n < left ? n : left;
}

/* The reference: frames as the format defines them, no incremental state. */
static void model(const uint8_t *p, size_t n, const struct plan *pl, struct rec *out)
{
    size_t off = 0, max = clamp_cap(pl->cap);
    for (;;) {
        if (off == n) {
            out->fin = 0;
            return;
        }
        if (n - off < BANTER_FRAME_HDR) {
            out->fin = BANTER_ETRUNCATED;
            return;
        }
        size_t len = (size_t)p[off] << 8 | p[off + 1];
        if (len > max) {
            out->err = BANTER_ETOOBIG;
            return;
        }
        if (n - off - BANTER_FRAME_HDR < len) {
            out->fin = BANTER_ETRUNCATED;
            return;
        }
        rec_frame(out, p + off + BANTER_FRAME_HDR, len);
        off += BANTER_FRAME_HDR + len;
        if (pl->switch_cap && out->nframes == 1)
            max = clamp_cap(pl->cap2);
    }
}

/* Push one chunk until the decoder has taken all of it. */
static int push_chunk(frame_dec *d, const uint8_t *p, size_t len, const struct plan *pl,
                      struct rec *out)
{
    size_t o = 0;
    do {
        const uint8_t *f = NULL;
        size_t used = SIZE_MAX, flen = SIZE_MAX;
        int r = frame_dec_push(d, p + o, len - o, &used, &f, &flen);
        if (r < 0)
            return r;
        if (used > len - o)
            abort();
        o += used;
        if (r == 0) {
            if (o != len) /* 0 promises every byte was consumed */
                abort();
            return 0;
        }
        if (r != 1 || used == 0) /* a frame always consumes bytes */
            abort();
        rec_frame(out, f, flen);
        if (pl->switch_cap && out->nframes == 1)
            frame_dec_set_max(d, pl->cap2);
    } while (o < len);
    return 0;
}

static void run_decoder(const uint8_t *p, size_t n, const struct plan *pl, bool chunked,
                        struct rec *out)
{
    struct chunker ch = {pl->seed, chunked ? pl->chunk_max : 0, pl->empty};
    frame_dec d;
    size_t off = 0;
    int err = 0;

    frame_dec_init(&d, pl->cap);
    if (frame_dec_finish(&d) != 0) /* a fresh decoder has nothing pending */
        abort();
    do { /* at least one push, even of nothing */
        size_t len = chunk_next(&ch, n - off);
        err = push_chunk(&d, p + off, len, pl, out);
        off += len;
    } while (!err && off < n);
    if (err) {
        if (err != BANTER_ETOOBIG) /* nothing else can fail with memory to spare */
            abort();
        out->err = err;
    } else {
        out->fin = frame_dec_finish(&d);
    }
    frame_dec_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rec whole, chunked, ref;

    if (size < 1)
        return 0;
    struct plan pl = {
        .cap = caps[(data[0] >> 3) & 7],
        .cap2 = caps[((data[0] >> 3) + 3) & 7],
        .switch_cap = (data[0] & 0x40) != 0,
        .empty = (data[0] & 0x80) != 0,
        .chunk_max = chunk_max[data[0] & 7],
        .seed = data[0],
    };
    rec_init(&whole);
    rec_init(&chunked);
    rec_init(&ref);
    run_decoder(data + 1, size - 1, &pl, false, &whole);
    run_decoder(data + 1, size - 1, &pl, true, &chunked);
    model(data + 1, size - 1, &pl, &ref);
    rec_same(&whole, &chunked);
    rec_same(&whole, &ref);
    buf_free(&whole.frames);
    buf_free(&chunked.frames);
    buf_free(&ref.frames);
    return 0;
}
