/* SPDX-License-Identifier: MIT */
/* test_buf.c - the capped buffer (cap, consume, reserve/commit, lazy memory) and the cursor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "buf.h"

/* A recognisable byte for position i of a test pattern. */
static uint8_t pat(size_t i) { return (uint8_t)(i * 31u + 7u); }

static void fill_pat(uint8_t *p, size_t n, size_t start)
{
    for (size_t i = 0; i < n; i++)
        p[i] = pat(start + i);
}

/* The unread bytes of b are exactly pattern bytes start..start+n-1. */
static void assert_pat(const buf *b, size_t start, size_t n)
{
    assert_int_equal(buf_len(b), n);
    const uint8_t *d = buf_data(b);
    assert_non_null(d);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(d[i], pat(start + i));
}

static void test_lazy_allocation(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 1 << 20);
    /* Nothing is allocated until the first byte. */
    assert_null(buf_data(&b));
    assert_int_equal(buf_len(&b), 0);

    uint8_t small[100];
    fill_pat(small, sizeof small, 0);
    assert_int_equal(buf_append(&b, small, sizeof small), 0);
    assert_non_null(buf_data(&b));
    assert_pat(&b, 0, sizeof small);

    /* A small buffer that drains keeps its memory for reuse... */
    buf_consume(&b, sizeof small);
    assert_int_equal(buf_len(&b), 0);
    assert_non_null(buf_data(&b));

    /* ...a large one gives it back. */
    static uint8_t big[100000];
    fill_pat(big, sizeof big, 0);
    assert_int_equal(buf_append(&b, big, sizeof big), 0);
    assert_pat(&b, 0, sizeof big);
    buf_consume(&b, 1000);
    assert_pat(&b, 1000, sizeof big - 1000);
    assert_non_null(buf_data(&b));
    buf_consume(&b, sizeof big - 1000);
    assert_int_equal(buf_len(&b), 0);
    assert_null(buf_data(&b));

    /* Usable again after draining and after buf_free. */
    assert_int_equal(buf_append(&b, small, 10), 0);
    assert_pat(&b, 0, 10);
    buf_free(&b);
    assert_null(buf_data(&b));
    assert_int_equal(buf_len(&b), 0);
    assert_int_equal(buf_append(&b, small, 10), 0);
    assert_pat(&b, 0, 10);
    buf_free(&b);
    buf_free(&b); /* twice is harmless */
}

/* buf_consume_keep: a large buffer that drains keeps its memory (no
 * allocation per message of a bulk stream); buf_free releases it. */
static void test_consume_keep(void **state)
{
    (void)state;
    static uint8_t big[100000];
    buf b;
    buf_init(&b, 1 << 20);
    fill_pat(big, sizeof big, 0);
    assert_int_equal(buf_append(&b, big, sizeof big), 0);
    const uint8_t *mem = buf_data(&b);
    buf_consume_keep(&b, 1000);
    assert_pat(&b, 1000, sizeof big - 1000);
    buf_consume_keep(&b, sizeof big - 1000);
    assert_int_equal(buf_len(&b), 0);
    assert_ptr_equal(buf_data(&b), mem); /* kept, and rewound to its start */
    assert_int_equal(buf_append(&b, big, sizeof big), 0);
    assert_ptr_equal(buf_data(&b), mem); /* reused as it is */
    assert_pat(&b, 0, sizeof big);
    buf_consume_keep(&b, sizeof big);
    buf_free(&b);
    assert_null(buf_data(&b));
    assert_int_equal(buf_append(&b, big, 10), 0);
    assert_pat(&b, 0, 10);
    buf_free(&b);
}

/* buf_swap: the caller takes the memory with the unread bytes where they
 * were; the buffer goes on, empty, in the memory it was given. */
static void test_swap(void **state)
{
    (void)state;
    uint8_t small[1000];
    buf b;
    size_t cap;
    buf_init(&b, 1 << 20);
    fill_pat(small, sizeof small, 0);
    assert_int_equal(buf_append(&b, small, sizeof small), 0);
    buf_consume(&b, 10);
    const uint8_t *d = buf_data(&b);
    uint8_t *mine = malloc(1000);
    assert_non_null(mine);
    uint8_t *old = buf_swap(&b, mine, 1000, &cap);
    assert_non_null(old);
    assert_true(cap >= sizeof small - 10);
    assert_ptr_equal(d, old + 10);
    assert_memory_equal(d, small + 10, sizeof small - 10);
    free(old);
    assert_int_equal(buf_len(&b), 0);
    assert_int_equal(buf_append(&b, small, 900), 0);
    assert_ptr_equal(buf_data(&b), mine); /* no allocation: it fits */
    assert_pat(&b, 0, 900);
    old = buf_swap(&b, NULL, 0, &cap); /* and with no memory at all */
    assert_ptr_equal(old, mine);
    assert_int_equal(cap, 1000);
    free(old);
    assert_null(buf_data(&b));
    assert_int_equal(buf_append(&b, small, 10), 0);
    assert_pat(&b, 0, 10);
    buf_free(&b);
}

static void test_cap_enforced_and_unchanged(void **state)
{
    (void)state;
    uint8_t src[64];
    fill_pat(src, sizeof src, 0);
    buf b;
    buf_init(&b, 10);

    assert_int_equal(buf_append(&b, src, 6), 0);
    /* 6 + 5 > 10: refused, nothing written. */
    assert_int_equal(buf_append(&b, src + 6, 5), BANTER_ETOOBIG);
    assert_pat(&b, 0, 6);
    /* Exactly up to the cap is fine; an empty append at the cap too. */
    assert_int_equal(buf_append(&b, src + 6, 4), 0);
    assert_pat(&b, 0, 10);
    assert_int_equal(buf_append(&b, src, 0), 0);
    assert_int_equal(buf_append(&b, src, 1), BANTER_ETOOBIG);
    assert_pat(&b, 0, 10);

    /* Sizes that would overflow a naive used + n check. */
    assert_int_equal(buf_append(&b, src, SIZE_MAX), BANTER_ETOOBIG);
    assert_int_equal(buf_append(&b, src, SIZE_MAX - 5), BANTER_ETOOBIG);
    uint8_t *dst = NULL;
    assert_int_equal(buf_reserve(&b, SIZE_MAX, &dst), BANTER_ETOOBIG);
    assert_int_equal(buf_reserve(&b, 1, &dst), BANTER_ETOOBIG);
    assert_pat(&b, 0, 10);

    /* The cap counts unread bytes: consuming makes room again. */
    buf_consume(&b, 3);
    assert_pat(&b, 3, 7);
    assert_int_equal(buf_append(&b, src + 10, 4), BANTER_ETOOBIG);
    assert_pat(&b, 3, 7);
    assert_int_equal(buf_append(&b, src + 10, 3), 0);
    assert_pat(&b, 3, 10);

    /* The cap survives buf_free. */
    buf_free(&b);
    assert_int_equal(buf_append(&b, src, 11), BANTER_ETOOBIG);
    assert_null(buf_data(&b));
    assert_int_equal(buf_append(&b, src, 10), 0);
    assert_pat(&b, 0, 10);
    buf_free(&b);

    /* A zero cap refuses every non-empty append and allocates nothing. */
    buf_init(&b, 0);
    assert_int_equal(buf_append(&b, src, 1), BANTER_ETOOBIG);
    assert_null(buf_data(&b));
    assert_int_equal(buf_len(&b), 0);
    buf_free(&b);
}

static void test_consume_and_compaction(void **state)
{
    (void)state;
    static uint8_t src[4000];
    fill_pat(src, sizeof src, 0);
    buf b;
    buf_init(&b, 1000);

    /* Fill, consume most, then append more than the space left at the end:
     * the unread bytes must move to the front intact. */
    assert_int_equal(buf_append(&b, src, 600), 0);
    buf_consume(&b, 500);
    assert_pat(&b, 500, 100);
    assert_int_equal(buf_append(&b, src + 600, 800), 0);
    assert_pat(&b, 500, 900);
    assert_int_equal(buf_append(&b, src + 1400, 101), BANTER_ETOOBIG);
    assert_int_equal(buf_append(&b, src + 1400, 100), 0);
    assert_pat(&b, 500, 1000);

    /* A stream through a small capped buffer, in uneven steps, keeps its
     * order: a FIFO of 4000 bytes through a 1000-byte window. */
    buf_free(&b);
    size_t in = 0, out = 0, step = 1;
    while (out < sizeof src) {
        size_t n = step % 337 + 1;
        if (n > sizeof src - in)
            n = sizeof src - in;
        if (buf_len(&b) + n <= 1000) {
            assert_int_equal(buf_append(&b, src + in, n), 0);
            in += n;
        } else {
            assert_int_equal(buf_append(&b, src + in, n), BANTER_ETOOBIG);
        }
        size_t c = (step * 7) % (buf_len(&b) + 1);
        if (c) {
            assert_pat(&b, out, buf_len(&b));
            buf_consume(&b, c);
            out += c;
        }
        if (in == sizeof src && buf_len(&b)) {
            assert_pat(&b, out, buf_len(&b));
            out += buf_len(&b);
            buf_consume(&b, buf_len(&b));
        }
        step++;
    }
    assert_int_equal(in, sizeof src);
    assert_int_equal(buf_len(&b), 0);
    buf_free(&b);
}

static void test_reserve_commit(void **state)
{
    (void)state;
    buf b;
    uint8_t *dst = NULL;
    buf_init(&b, 64);

    /* Reserved bytes do not count until committed. */
    assert_int_equal(buf_reserve(&b, 40, &dst), 0);
    assert_non_null(dst);
    assert_int_equal(buf_len(&b), 0);
    fill_pat(dst, 40, 0);
    buf_commit(&b, 16); /* less than reserved */
    assert_pat(&b, 0, 16);

    /* The next reservation starts right after the committed bytes. */
    assert_int_equal(buf_reserve(&b, 48, &dst), 0);
    assert_ptr_equal(dst, buf_data(&b) + 16);
    fill_pat(dst, 48, 16);
    buf_commit(&b, 48);
    assert_pat(&b, 0, 64);

    /* Reserving past the cap fails and leaves the contents. */
    assert_int_equal(buf_reserve(&b, 1, &dst), BANTER_ETOOBIG);
    assert_pat(&b, 0, 64);

    /* A reservation after consuming sees compacted, intact data. */
    buf_consume(&b, 60);
    assert_int_equal(buf_reserve(&b, 60, &dst), 0);
    fill_pat(dst, 60, 64);
    buf_commit(&b, 60);
    assert_pat(&b, 60, 64);
    assert_int_equal(buf_reserve(&b, 1, &dst), BANTER_ETOOBIG);

    /* Reserve then commit nothing: no change. */
    buf_consume(&b, 64);
    assert_int_equal(buf_reserve(&b, 8, &dst), 0);
    buf_commit(&b, 0);
    assert_int_equal(buf_len(&b), 0);
    buf_free(&b);
}

static void test_put_be(void **state)
{
    (void)state;
    uint8_t p[8];
    put_u16be(p, 0x1234);
    assert_int_equal(p[0], 0x12);
    assert_int_equal(p[1], 0x34);
    put_u64be(p, 0x0102030405060708ull);
    for (int i = 0; i < 8; i++)
        assert_int_equal(p[i], i + 1);
    put_u64be(p, UINT64_MAX);
    for (int i = 0; i < 8; i++)
        assert_int_equal(p[i], 0xff);
}

static void test_cur_getters(void **state)
{
    (void)state;
    const uint8_t in[] = {0xab, 0x12, 0x34, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6,
                          0xf7, 0xf8, 'x',  'y',  'z',  0x01, 0x02, 0x03};
    cur c = cur_make(in, sizeof in);
    assert_int_equal(cur_left(&c), sizeof in);
    assert_int_equal(cur_u8(&c), 0xab);
    assert_int_equal(cur_u16be(&c), 0x1234);
    assert_true(cur_u64be(&c) == 0xf1f2f3f4f5f6f7f8ull);
    assert_int_equal(cur_left(&c), sizeof in - 11);
    const uint8_t *p = cur_bytes(&c, 3);
    assert_ptr_equal(p, in + 11);
    assert_memory_equal(p, "xyz", 3);
    /* Zero bytes is a valid read. */
    assert_non_null(cur_bytes(&c, 0));
    size_t n = 99;
    p = cur_rest(&c, &n);
    assert_int_equal(n, 3);
    assert_ptr_equal(p, in + 14);
    assert_int_equal(cur_left(&c), 0);
    assert_int_equal(cur_finish(&c), 0);

    /* cur_rest on an empty remainder: zero bytes, no error. */
    p = cur_rest(&c, &n);
    assert_int_equal(n, 0);
    assert_int_equal(cur_finish(&c), 0);

    /* An empty input read exactly. */
    c = cur_make(NULL, 0);
    assert_int_equal(cur_finish(&c), 0);
}

static void test_cur_latches_truncated(void **state)
{
    (void)state;
    const uint8_t in[] = {1, 2, 3};

    /* A u16 with one byte left fails and returns 0... */
    cur c = cur_make(in, 3);
    assert_int_equal(cur_u16be(&c), 0x0102);
    assert_int_equal(cur_u16be(&c), 0);
    assert_int_equal(cur_finish(&c), BANTER_ETRUNCATED);
    /* ...and the error latches: a byte that is there is not handed out. */
    assert_int_equal(cur_left(&c), 1);
    assert_int_equal(cur_u8(&c), 0);
    assert_null(cur_bytes(&c, 1));
    assert_null(cur_bytes(&c, 0));
    size_t n = 99;
    assert_null(cur_rest(&c, &n));
    assert_int_equal(n, 0);
    /* Truncation wins over the bytes left over. */
    assert_int_equal(cur_finish(&c), BANTER_ETRUNCATED);

    /* Each getter on its own. */
    c = cur_make(in, 0);
    assert_int_equal(cur_u8(&c), 0);
    assert_int_equal(cur_finish(&c), BANTER_ETRUNCATED);
    c = cur_make(in, 1);
    assert_int_equal(cur_u16be(&c), 0);
    assert_int_equal(cur_finish(&c), BANTER_ETRUNCATED);
    c = cur_make(in, 3);
    assert_true(cur_u64be(&c) == 0);
    assert_int_equal(cur_left(&c), 3);
    assert_int_equal(cur_finish(&c), BANTER_ETRUNCATED);
    c = cur_make(in, 3);
    assert_null(cur_bytes(&c, 4));
    assert_int_equal(cur_finish(&c), BANTER_ETRUNCATED);
    c = cur_make(in, 3);
    assert_null(cur_bytes(&c, SIZE_MAX));
    assert_int_equal(cur_finish(&c), BANTER_ETRUNCATED);
}

static void test_cur_finish_trailing(void **state)
{
    (void)state;
    const uint8_t in[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    cur c = cur_make(in, sizeof in);
    assert_int_equal(cur_finish(&c), BANTER_ETRAILING);
    assert_true(cur_u64be(&c) == 0x0102030405060708ull);
    assert_int_equal(cur_finish(&c), BANTER_ETRAILING);
    assert_int_equal(cur_u8(&c), 9);
    assert_int_equal(cur_finish(&c), 0);
}

static void test_truncate(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 64);
    assert_int_equal(buf_append(&b, "abcdef", 6), 0);
    buf_consume(&b, 2);
    buf_truncate(&b, 10); /* more than there is: unchanged */
    assert_int_equal(buf_len(&b), 4);
    buf_truncate(&b, 1);
    assert_int_equal(buf_len(&b), 1);
    assert_memory_equal(buf_data(&b), "c", 1);
    assert_int_equal(buf_append(&b, "xy", 2), 0);
    assert_memory_equal(buf_data(&b), "cxy", 3);
    buf_free(&b);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lazy_allocation),
        cmocka_unit_test(test_consume_keep),
        cmocka_unit_test(test_swap),
        cmocka_unit_test(test_cap_enforced_and_unchanged),
        cmocka_unit_test(test_consume_and_compaction),
        cmocka_unit_test(test_reserve_commit),
        cmocka_unit_test(test_put_be),
        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_cur_getters),
        cmocka_unit_test(test_cur_latches_truncated),
        cmocka_unit_test(test_cur_finish_trailing),
    };
    return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
