/* SPDX-License-Identifier: MIT */
/*
 * test_rvbatch.c - RV_BATCH: what is built checks and walks back to the
 * same messages in order; a batch of one is the message alone; the count
 * and size caps; every malformed batch refused (empty, nested, an empty
 * item, an item past the end, too many items).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rvbatch.h"

static void test_round_trip(void **state)
{
    (void)state;
    rvbatch bt;
    rvbatch_init(&bt);
    size_t len, n;
    assert_null(rvbatch_plaintext(&bt, &len));
    assert_int_equal(len, 0);
    const uint8_t a[] = {0x2a, 'a'}, b[] = {0x46, 1, 2, 3}, c[] = {0x11};
    assert_int_equal(rvbatch_add(&bt, a, sizeof a), 0);
    /* One message: sent as itself, no wrapper. */
    const uint8_t *p = rvbatch_plaintext(&bt, &len);
    assert_int_equal(len, sizeof a);
    assert_memory_equal(p, a, sizeof a);
    assert_int_equal(rvbatch_add(&bt, b, sizeof b), 0);
    assert_int_equal(rvbatch_add(&bt, c, sizeof c), 0);
    assert_int_equal(rvbatch_count(&bt), 3);
    p = rvbatch_plaintext(&bt, &len);
    const uint8_t want[] = {RV_BATCH, 0, 2, 0x2a, 'a', 0, 4, 0x46, 1, 2, 3, 0, 1, 0x11};
    assert_int_equal(len, sizeof want);
    assert_memory_equal(p, want, sizeof want);
    assert_int_equal(rvbatch_check(p, len, &n), 0);
    assert_int_equal(n, 3);
    rvbatch_iter it = rvbatch_iter_make(p, len);
    const uint8_t *m;
    size_t ml;
    assert_true(rvbatch_next(&it, &m, &ml));
    assert_int_equal(ml, sizeof a);
    assert_memory_equal(m, a, sizeof a);
    assert_true(rvbatch_next(&it, &m, &ml));
    assert_int_equal(ml, sizeof b);
    assert_memory_equal(m, b, sizeof b);
    assert_true(rvbatch_next(&it, &m, &ml));
    assert_int_equal(ml, sizeof c);
    assert_false(rvbatch_next(&it, &m, &ml));
    rvbatch_reset(&bt);
    assert_int_equal(rvbatch_count(&bt), 0);
    assert_null(rvbatch_plaintext(&bt, &len));
    rvbatch_free(&bt);
}

static void test_caps(void **state)
{
    (void)state;
    static uint8_t big[BANTER_MAX_PLAINTEXT];
    rvbatch bt;
    rvbatch_init(&bt);
    memset(big, 0x46, sizeof big);
    /* Not batchable: empty, nested, larger than an item may be. */
    assert_int_equal(rvbatch_add(&bt, big, 0), BANTER_EINVAL);
    const uint8_t nested[] = {RV_BATCH, 0, 1, 0x11};
    assert_int_equal(rvbatch_add(&bt, nested, sizeof nested), BANTER_EINVAL);
    assert_int_equal(rvbatch_add(&bt, big, RVBATCH_MAX_ITEM + 1), BANTER_EINVAL);
    /* The largest item fills a batch alone; nothing fits after it. */
    assert_int_equal(rvbatch_add(&bt, big, RVBATCH_MAX_ITEM), 0);
    assert_int_equal(rvbatch_add(&bt, big, 1), BANTER_ETOOBIG);
    size_t len;
    (void)rvbatch_plaintext(&bt, &len);
    assert_int_equal(len, RVBATCH_MAX_ITEM);
    rvbatch_reset(&bt);
    /* The count cap. */
    for (unsigned i = 0; i < BANTER_MAX_BATCH; i++)
        assert_int_equal(rvbatch_add(&bt, big, 10), 0);
    assert_int_equal(rvbatch_add(&bt, big, 10), BANTER_ETOOBIG);
    const uint8_t *p = rvbatch_plaintext(&bt, &len);
    size_t n;
    assert_int_equal(rvbatch_check(p, len, &n), 0);
    assert_int_equal(n, BANTER_MAX_BATCH);
    /* Two full batches' worth: the size cap. */
    rvbatch_reset(&bt);
    assert_int_equal(rvbatch_add(&bt, big, 40000), 0);
    assert_int_equal(rvbatch_add(&bt, big, 40000), BANTER_ETOOBIG);
    assert_int_equal(rvbatch_count(&bt), 1);
    rvbatch_free(&bt);
}

static void test_malformed(void **state)
{
    (void)state;
    size_t n = 99;
    static uint8_t many[1 + (BANTER_MAX_BATCH + 1) * 3];
    const uint8_t not_batch[] = {0x2a, 0, 1, 0x11};
    const uint8_t empty[] = {RV_BATCH};
    const uint8_t empty_item[] = {RV_BATCH, 0, 1, 0x11, 0, 0};
    const uint8_t nested[] = {RV_BATCH, 0, 4, RV_BATCH, 0, 1, 0x11};
    const uint8_t past_end[] = {RV_BATCH, 0, 1, 0x11, 0, 5, 0x11};
    const uint8_t half_len[] = {RV_BATCH, 0, 1, 0x11, 0};
    assert_int_equal(rvbatch_check(not_batch, sizeof not_batch, &n), BANTER_EPROTO);
    assert_int_equal(n, 0);
    assert_int_equal(rvbatch_check(empty, 0, &n), BANTER_EPROTO);
    assert_int_equal(rvbatch_check(empty, sizeof empty, &n), BANTER_EPROTO);
    assert_int_equal(rvbatch_check(empty_item, sizeof empty_item, &n), BANTER_EPROTO);
    assert_int_equal(rvbatch_check(nested, sizeof nested, &n), BANTER_EPROTO);
    assert_int_equal(rvbatch_check(past_end, sizeof past_end, &n), BANTER_ETRUNCATED);
    assert_int_equal(rvbatch_check(half_len, sizeof half_len, &n), BANTER_ETRUNCATED);
    many[0] = RV_BATCH;
    for (size_t i = 0; i < BANTER_MAX_BATCH + 1; i++) {
        many[1 + 3 * i] = 0;
        many[2 + 3 * i] = 1;
        many[3 + 3 * i] = 0x11;
    }
    assert_int_equal(rvbatch_check(many, sizeof many, &n), BANTER_EPROTO);
    assert_int_equal(rvbatch_check(many, sizeof many - 3, &n), 0);
    assert_int_equal(n, BANTER_MAX_BATCH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
