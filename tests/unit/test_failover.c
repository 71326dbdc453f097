/* SPDX-License-Identifier: MIT */
/*
 * test_failover.c - the node's failover schedule on a handed-in clock and
 * random source: the ring is a permutation; the delay after k failures is
 * within [0, min(cap, base * 2^k)] and reaches both ends; a stable
 * connection resets it, a short one does not; the devices of a dead
 * instance spread over the others; delays are spread (full jitter).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "failover.h"

/* A random source that gives a chosen 64-bit value (big-endian), or a
 * xorshift stream when stream is set. */
typedef struct fake_rng {
    uint64_t value;
    int stream;
} fake_rng;

static void fake_fill(void *ctx, uint8_t *out, size_t len)
{
    fake_rng *f = ctx;
    for (size_t i = 0; i < len; i++) {
        if (i % 8 == 0 && f->stream) {
            f->value ^= f->value << 13;
            f->value ^= f->value >> 7;
            f->value ^= f->value << 17;
        }
        out[i] = (uint8_t)(f->value >> (56 - 8 * (i % 8)));
    }
}

static void test_ring_is_permutation(void **state)
{
    (void)state;
    fake_rng fr = {.value = 0x9e3779b97f4a7c15u, .stream = 1};
    banter_rng rng = {fake_fill, &fr};
    failover f;
    failover_init(&f, 7, 1000, 30000, 10000, &rng);
    int seen[7] = {0};
    for (int i = 0; i < 7; i++) {
        uint32_t c = failover_current(&f);
        assert_true(c < 7);
        seen[c]++;
        (void)failover_next(&f, 0, &rng);
    }
    for (int i = 0; i < 7; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(failover_current(&f), f.order[0]); /* back to the start */
    failover_init(&f, 0, 1000, 30000, 10000, &rng);     /* none: one, index 0 */
    assert_int_equal(failover_current(&f), 0);
    failover_init(&f, 100, 1000, 30000, 10000, &rng); /* capped */
    assert_int_equal(f.n, BANTER_MAX_INSTANCES);
}

static void test_window_doubles_to_cap(void **state)
{
    (void)state;
    fake_rng fr = {0};
    banter_rng rng = {fake_fill, &fr};
    failover f;
    failover_init(&f, 3, 1000, 30000, 10000, &rng);
    uint32_t want[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        fr.value = want[k]; /* v % (ceil + 1) == ceil: the top of the window */
        assert_int_equal(failover_next(&f, 0, &rng), want[k]);
    }
    fr.value = 30001; /* one past the window wraps to 0: the bottom */
    assert_int_equal(failover_next(&f, 0, &rng), 0);
    assert_int_equal(failover_fails(&f), 8);
}

static void test_stable_resets(void **state)
{
    (void)state;
    fake_rng fr = {0};
    banter_rng rng = {fake_fill, &fr};
    failover f;
    failover_init(&f, 2, 1000, 30000, 10000, &rng);
    fr.value = UINT32_MAX;
    for (int i = 0; i < 5; i++)
        (void)failover_next(&f, 0, &rng);
    /* Up for 9.999 s: not stable, the window keeps growing. */
    failover_up(&f, 100000);
    fr.value = 30000;
    assert_int_equal(failover_next(&f, 109999, &rng), 30000);
    /* Up for 10 s: stable, back to the base window. */
    failover_up(&f, 200000);
    fr.value = 1000;
    assert_int_equal(failover_next(&f, 210000, &rng), 1000);
    fr.value = 2000;
    assert_int_equal(failover_next(&f, 210500, &rng), 2000);
}

/* 4000 nodes with their own random rings: those on the instance that dies
 * move to the three others in about equal shares, and their first delays
 * spread over the whole base window. */
static void test_dead_instance_spreads(void **state)
{
    (void)state;
    int moved[4] = {0}, on0 = 0, buckets[10] = {0};
    for (uint64_t node = 1; node <= 4000; node++) {
        fake_rng fr = {.value = node * 0x9e3779b97f4a7c15u, .stream = 1};
        banter_rng rng = {fake_fill, &fr};
        failover f;
        failover_init(&f, 4, 1000, 30000, 10000, &rng);
        for (int i = 0; i < 3; i++) /* some nodes are not on their first choice */
            if (failover_current(&f) != 0 && (node + (uint64_t)i) % 5 == 0)
                (void)failover_next(&f, 0, &rng);
        failover_up(&f, 0);
        if (failover_current(&f) != 0)
            continue;
        on0++;
        uint32_t d = failover_next(&f, 3600000, &rng); /* up for an hour, then lost */
        assert_true(d <= 1000);
        buckets[d == 1000 ? 9 : d / 100]++;
        moved[failover_current(&f)]++;
    }
    assert_true(on0 > 600);
    assert_int_equal(moved[0], 0);
    for (int i = 1; i < 4; i++) {
        assert_true(moved[i] * 10 > on0 * 2); /* each gets over 20 % (a third expected) */
        assert_true(moved[i] * 10 < on0 * 5);
    }
    for (int i = 0; i < 10; i++)
        assert_true(buckets[i] * 100 > on0 * 5); /* every 100 ms of the window has over 5 % */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_is_permutation),
        cmocka_unit_test(test_window_doubles_to_cap),
        cmocka_unit_test(test_stable_resets),
        cmocka_unit_test(test_dead_instance_spreads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
