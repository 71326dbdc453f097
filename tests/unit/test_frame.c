/* SPDX-License-Identifier: MIT */
/* test_frame.c - the incremental frame decoder: same frames however the stream is cut, caps,
 * end-of-stream checks, and frame_header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "frame.h"
#include "banter_limits.h"

/* xorshift64*: a fixed seed makes every run cut the stream the same way. */
static uint64_t rnd(uint64_t *st)
{
    *st ^= *st >> 12;
    *st ^= *st << 25;
    *st ^= *st >> 27;
    return *st * 0x2545f4914f6cdd1dull;
}

static size_t rnd_below(uint64_t *st, size_t n) { return (size_t)(rnd(st) % n); }

/* A stream of frames and where each one starts. */
struct stream {
    uint8_t *bytes;
    size_t len;
    size_t nframes;
    size_t flen[64];
    size_t fbody[64]; /* offset of each body in bytes */
};

static void make_stream(struct stream *s, uint64_t *st)
{
    /* The edges first, then random lengths over the whole range. */
    static const size_t fixed[] = {0, 65535, 1, 0, 2, 65535, 0};
    size_t nfixed = sizeof fixed / sizeof fixed[0];
    memset(s, 0, sizeof *s);
    s->nframes = 24;
    for (size_t i = 0; i < s->nframes; i++) {
        if (i < nfixed)
            s->flen[i] = fixed[i];
        else if (i % 3 == 0)
            s->flen[i] = rnd_below(st, 64); /* short ones are common in practice */
        else
            s->flen[i] = rnd_below(st, 65536);
        s->len += BANTER_FRAME_HDR + s->flen[i];
    }
    /* Shuffle so the edge cases sit between random frames. */
    for (size_t i = s->nframes - 1; i > 0; i--) {
        size_t j = rnd_below(st, i + 1), t = s->flen[i];
        s->flen[i] = s->flen[j];
        s->flen[j] = t;
    }
    s->bytes = malloc(s->len);
    assert_non_null(s->bytes);
    size_t off = 0;
    for (size_t i = 0; i < s->nframes; i++) {
        assert_int_equal(frame_header(s->bytes + off, s->flen[i]), 0);
        off += BANTER_FRAME_HDR;
        s->fbody[i] = off;
        for (size_t k = 0; k < s->flen[i]; k++)
            s->bytes[off + k] = (uint8_t)rnd(st);
        off += s->flen[i];
    }
    assert_int_equal(off, s->len);
}

enum cut { CUT_WHOLE, CUT_BYTES, CUT_RANDOM };

static size_t chunk_size(enum cut how, uint64_t *st, size_t left)
{
    size_t n;
    switch (how) {
    case CUT_WHOLE:
        return left;
    case CUT_BYTES:
        return 1;
    default:
        switch (rnd_below(st, 4)) {
        case 0:
            n = 1 + rnd_below(st, 4);
            break;
        case 1:
            n = 1 + rnd_below(st, 300);
            break;
        case 2:
            n = 1 + rnd_below(st, 70000);
            break;
        default:
            n = 1 + rnd_below(st, 200000);
            break;
        }
        return n < left ? n : left;
    }
}

/* Feed s to a fresh decoder cut as told; every frame must come out equal to
 * the one put in, in order, and frame_dec_finish must say 0 exactly at the
 * frame boundaries. Each chunk is copied to a heap block of its exact size
 * so that a read outside it is caught. */
static void feed_stream(const struct stream *s, enum cut how, uint64_t *st)
{
    frame_dec d;
    frame_dec_init(&d, BANTER_NOISE_MAX_MSG);
    size_t pos = 0, got = 0;
    while (pos < s->len) {
        size_t n = chunk_size(how, st, s->len - pos);
        uint8_t *chunk = malloc(n);
        assert_non_null(chunk);
        memcpy(chunk, s->bytes + pos, n);
        size_t off = 0;
        for (;;) {
            const uint8_t *f = NULL;
            size_t flen = 0, used = 0;
            int r = frame_dec_push(&d, chunk + off, n - off, &used, &f, &flen);
            assert_in_range(r, 0, 1);
            assert_true(used <= n - off);
            off += used;
            if (r == 0) {
                assert_int_equal(off, n); /* 0 means everything was taken */
                break;
            }
            assert_true(got < s->nframes);
            assert_int_equal(flen, s->flen[got]);
            if (flen) {
                assert_non_null(f);
                assert_memory_equal(f, s->bytes + s->fbody[got], flen);
            }
            got++;
            if (off == n)
                break;
        }
        free(chunk);
        pos += n;
        /* At a boundary iff the frame last delivered ended here. */
        bool boundary = got > 0 && s->fbody[got - 1] + s->flen[got - 1] == pos;
        if (boundary)
            assert_int_equal(frame_dec_finish(&d), 0);
        else
            assert_int_equal(frame_dec_finish(&d), BANTER_ETRUNCATED);
    }
    assert_int_equal(got, s->nframes);
    assert_int_equal(frame_dec_finish(&d), 0);
    frame_dec_free(&d);
}

static void test_same_frames_however_cut(void **state)
{
    (void)state;
    uint64_t st = 0x9e3779b97f4a7c15ull;
    struct stream s;
    make_stream(&s, &st);
    feed_stream(&s, CUT_WHOLE, &st);
    feed_stream(&s, CUT_BYTES, &st);
    for (int i = 0; i < 4; i++)
        feed_stream(&s, CUT_RANDOM, &st);
    free(s.bytes);
}

/* Push all of in; returns the last result (stopping at an error). */
static int push_all(frame_dec *d, const uint8_t *in, size_t len, size_t *frames)
{
    size_t off = 0;
    *frames = 0;
    int r = 0;
    while (off < len) {
        const uint8_t *f;
        size_t flen, used;
        r = frame_dec_push(d, in + off, len - off, &used, &f, &flen);
        if (r < 0)
            return r;
        off += used;
        if (r == 1)
            (*frames)++;
    }
    return r;
}

static void test_over_cap(void **state)
{
    (void)state;
    static uint8_t in[2 + 1001];
    frame_dec d;
    size_t nf, used;
    const uint8_t *f;
    size_t flen;

    /* Whole frame at once: refused before the body is looked at. */
    frame_dec_init(&d, 1000);
    assert_int_equal(frame_header(in, 1001), 0);
    assert_int_equal(frame_dec_push(&d, in, sizeof in, &used, &f, &flen), BANTER_ETOOBIG);
    frame_dec_free(&d);

    /* Header alone, one byte at a time: refused at its second byte. */
    frame_dec_init(&d, 1000);
    assert_int_equal(frame_dec_push(&d, in, 1, &used, &f, &flen), 0);
    assert_int_equal(used, 1);
    assert_int_equal(frame_dec_push(&d, in + 1, 1, &used, &f, &flen), BANTER_ETOOBIG);
    frame_dec_free(&d);

    /* 0xffff against a small cap, after a good frame in the same buffer. */
    uint8_t two[2 + 3 + 2] = {0, 3, 'a', 'b', 'c', 0xff, 0xff};
    frame_dec_init(&d, 1000);
    assert_int_equal(push_all(&d, two, sizeof two, &nf), BANTER_ETOOBIG);
    frame_dec_free(&d);

    /* Exactly the cap is accepted, both ways. */
    assert_int_equal(frame_header(in, 1000), 0);
    frame_dec_init(&d, 1000);
    assert_int_equal(push_all(&d, in, 1002, &nf), 1);
    assert_int_equal(nf, 1);
    frame_dec_free(&d);
    frame_dec_init(&d, 1000);
    for (size_t i = 0; i < 1002; i++) {
        int r = frame_dec_push(&d, in + i, 1, &used, &f, &flen);
        assert_int_equal(r, i == 1001 ? 1 : 0);
    }
    assert_int_equal(flen, 1000);
    frame_dec_free(&d);

    /* A cap of 0 accepts only empty frames. */
    uint8_t z[4] = {0, 0, 0, 1};
    frame_dec_init(&d, 0);
    assert_int_equal(frame_dec_push(&d, z, 4, &used, &f, &flen), 1);
    assert_int_equal(flen, 0);
    assert_int_equal(used, 2);
    assert_int_equal(frame_dec_push(&d, z + 2, 2, &used, &f, &flen), BANTER_ETOOBIG);
    frame_dec_free(&d);
}

static void test_set_max(void **state)
{
    (void)state;
    static uint8_t in[2 + 65535];
    frame_dec d;
    size_t nf, used, flen;
    const uint8_t *f;

    frame_dec_init(&d, 100);
    assert_int_equal(frame_header(in, 200), 0);
    assert_int_equal(push_all(&d, in, 202, &nf), BANTER_ETOOBIG);
    frame_dec_free(&d);

    frame_dec_init(&d, 100);
    assert_int_equal(frame_header(in, 50), 0);
    assert_int_equal(push_all(&d, in, 52, &nf), 1);
    frame_dec_set_max(&d, 300);
    assert_int_equal(frame_header(in, 200), 0);
    assert_int_equal(push_all(&d, in, 202, &nf), 1);
    assert_int_equal(nf, 1);
    /* Lowered again. */
    frame_dec_set_max(&d, 10);
    assert_int_equal(frame_header(in, 11), 0);
    assert_int_equal(push_all(&d, in, 13, &nf), BANTER_ETOOBIG);
    frame_dec_free(&d);

    /* A new cap applies from the next header: a frame whose header was read
     * under the old cap completes. */
    frame_dec_init(&d, 300);
    assert_int_equal(frame_header(in, 200), 0);
    assert_int_equal(frame_dec_push(&d, in, 50, &used, &f, &flen), 0);
    frame_dec_set_max(&d, 10);
    assert_int_equal(frame_dec_push(&d, in + 50, 152, &used, &f, &flen), 1);
    assert_int_equal(flen, 200);
    assert_int_equal(frame_header(in, 11), 0);
    assert_int_equal(push_all(&d, in, 13, &nf), BANTER_ETOOBIG);
    frame_dec_free(&d);

    /* Caps above what a header can say are clamped, and 65535 works. */
    frame_dec_init(&d, 10);
    frame_dec_set_max(&d, SIZE_MAX);
    assert_int_equal(frame_header(in, 65535), 0);
    assert_int_equal(push_all(&d, in, sizeof in, &nf), 1);
    assert_int_equal(nf, 1);
    frame_dec_free(&d);
    frame_dec_init(&d, 1000000);
    assert_int_equal(push_all(&d, in, sizeof in, &nf), 1);
    frame_dec_free(&d);

    /* Trim between frames gives the buffer back and decoding goes on; a
     * partial frame keeps its bytes. */
    frame_dec_init(&d, 300);
    assert_int_equal(frame_header(in, 200), 0);
    assert_int_equal(frame_dec_push(&d, in, 100, &used, &f, &flen), 0);
    frame_dec_trim(&d);
    assert_int_equal(frame_dec_push(&d, in + 100, 102, &used, &f, &flen), 1);
    assert_int_equal(flen, 200);
    frame_dec_trim(&d);
    assert_int_equal(frame_dec_finish(&d), 0);
    assert_int_equal(frame_header(in, 20), 0);
    assert_int_equal(frame_dec_push(&d, in, 1, &used, &f, &flen), 0);
    assert_int_equal(frame_dec_push(&d, in + 1, 21, &used, &f, &flen), 1);
    assert_int_equal(flen, 20);
    frame_dec_free(&d);
}

static void test_finish(void **state)
{
    (void)state;
    const uint8_t in[] = {0, 5, 'h', 'e', 'l', 'l', 'o', 0, 0};
    frame_dec d;
    size_t used, flen;
    const uint8_t *f;

    frame_dec_init(&d, 1000);
    assert_int_equal(frame_dec_finish(&d), 0);
    /* Mid-header. */
    assert_int_equal(frame_dec_push(&d, in, 1, &used, &f, &flen), 0);
    assert_int_equal(frame_dec_finish(&d), BANTER_ETRUNCATED);
    /* Header complete, body not started. */
    assert_int_equal(frame_dec_push(&d, in + 1, 1, &used, &f, &flen), 0);
    assert_int_equal(frame_dec_finish(&d), BANTER_ETRUNCATED);
    /* Mid-body. */
    assert_int_equal(frame_dec_push(&d, in + 2, 3, &used, &f, &flen), 0);
    assert_int_equal(used, 3);
    assert_int_equal(frame_dec_finish(&d), BANTER_ETRUNCATED);
    /* Complete (delivered from the decoder's own copy). */
    assert_int_equal(frame_dec_push(&d, in + 5, 4, &used, &f, &flen), 1);
    assert_int_equal(used, 2);
    assert_int_equal(flen, 5);
    assert_memory_equal(f, "hello", 5);
    assert_int_equal(frame_dec_finish(&d), 0);
    /* An empty frame, header split: pending after its first byte only. */
    assert_int_equal(frame_dec_push(&d, in + 7, 1, &used, &f, &flen), 0);
    assert_int_equal(frame_dec_finish(&d), BANTER_ETRUNCATED);
    assert_int_equal(frame_dec_push(&d, in + 8, 1, &used, &f, &flen), 1);
    assert_int_equal(flen, 0);
    assert_int_equal(frame_dec_finish(&d), 0);
    /* Pushing nothing changes nothing. */
    assert_int_equal(frame_dec_push(&d, in, 0, &used, &f, &flen), 0);
    assert_int_equal(used, 0);
    assert_int_equal(frame_dec_finish(&d), 0);
    /* Whole frame in one push (delivered from the input). */
    assert_int_equal(frame_dec_push(&d, in, 7, &used, &f, &flen), 1);
    assert_int_equal(used, 7);
    assert_ptr_equal(f, in + 2);
    assert_int_equal(frame_dec_finish(&d), 0);
    frame_dec_free(&d);
}

static void test_frame_header(void **state)
{
    (void)state;
    uint8_t h[2] = {0xaa, 0xaa};
    assert_int_equal(frame_header(h, 0), 0);
    assert_int_equal(h[0], 0);
    assert_int_equal(h[1], 0);
    assert_int_equal(frame_header(h, 0x0102), 0);
    assert_int_equal(h[0], 0x01);
    assert_int_equal(h[1], 0x02);
    assert_int_equal(frame_header(h, 65535), 0);
    assert_int_equal(h[0], 0xff);
    assert_int_equal(h[1], 0xff);
    assert_int_equal(frame_header(h, 65536), BANTER_ETOOBIG);
    assert_int_equal(frame_header(h, 65536 + 5), BANTER_ETOOBIG);
    assert_int_equal(frame_header(h, SIZE_MAX), BANTER_ETOOBIG);
}

/* A decoder set to keep its buffer gathers every split frame in the same
 * memory; trim still gives it back. */
static void test_keep(void **state)
{
    (void)state;
    static uint8_t in[2 + 60000];
    frame_dec d;
    size_t used, flen;
    const uint8_t *f, *first = NULL;
    frame_dec_init(&d, 65535);
    frame_dec_set_keep(&d, true);
    assert_int_equal(frame_header(in, 60000), 0);
    for (int k = 0; k < 3; k++) {
        memset(in + 2, 'a' + k, 60000);
        assert_int_equal(frame_dec_push(&d, in, 1000, &used, &f, &flen), 0);
        assert_int_equal(frame_dec_push(&d, in + 1000, sizeof in - 1000, &used, &f, &flen), 1);
        assert_int_equal(flen, 60000);
        assert_int_equal(f[0], 'a' + k);
        assert_int_equal(f[59999], 'a' + k);
        if (k == 0)
            first = f;
        else
            assert_ptr_equal(f, first);
    }
    frame_dec_trim(&d);
    assert_int_equal(frame_dec_push(&d, in, 1000, &used, &f, &flen), 0);
    assert_int_equal(frame_dec_push(&d, in + 1000, sizeof in - 1000, &used, &f, &flen), 1);
    assert_int_equal(flen, 60000);
    assert_int_equal(f[0], 'c');
    frame_dec_free(&d);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_frames_however_cut),
        cmocka_unit_test(test_over_cap),
        cmocka_unit_test(test_set_max),
        cmocka_unit_test(test_keep),
        cmocka_unit_test(test_finish),
        cmocka_unit_test(test_frame_header),
    };
    return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
