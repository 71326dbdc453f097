/* SPDX-License-Identifier: MIT */
/*
 * test_tbucket.c - the token bucket: a full burst at once, then the rate;
 * refill never above the burst; rate 0 is unlimited; a clock going back
 * refills nothing; low rates refill in fractions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tbucket.h"

static void test_burst_then_rate(void **state)
{
    (void)state;
    tbucket b;
    tbucket_init(&b, 20, 100, 1000);
    for (int i = 0; i < 100; i++)
        assert_true(tbucket_take(&b, 1000));
    assert_false(tbucket_take(&b, 1000));
    assert_false(tbucket_take(&b, 1049)); /* 0.98 of a token */
    assert_true(tbucket_take(&b, 1050));  /* one token per 50 ms */
    assert_false(tbucket_take(&b, 1050));
    /* A long pause refills to the burst, not beyond. */
    int ok = 0;
    for (int i = 0; i < 200; i++)
        ok += tbucket_take(&b, 1000000);
    assert_int_equal(ok, 100);
    assert_false(tbucket_full(&b, 1000000));
    assert_false(tbucket_full(&b, 1000000 + 4999));
    assert_true(tbucket_full(&b, 1000000 + 5000)); /* 100 tokens at 20/s */
}

static void test_unlimited_and_clock(void **state)
{
    (void)state;
    tbucket b;
    tbucket_init(&b, 0, 0, 0);
    for (int i = 0; i < 10000; i++)
        assert_true(tbucket_take(&b, 0));
    tbucket_init(&b, 1, 1, 5000);
    assert_true(tbucket_take(&b, 5000));
    assert_false(tbucket_take(&b, 100)); /* back in time: nothing */
    assert_false(tbucket_take(&b, 5999));
    assert_true(tbucket_take(&b, 6000));
    /* A huge gap and a huge rate do not overflow. */
    tbucket_init(&b, UINT32_MAX, UINT32_MAX, 0);
    assert_true(tbucket_take(&b, INT64_MAX));
}

/* A token every 10 minutes, 4 at once: what the LAN allows for
 * certificates (peer/net/lan.c). */
static void test_every(void **state)
{
    (void)state;
    const int64_t ten_min = 600000;
    tbucket b;
    tbucket_init_every(&b, (uint32_t)ten_min, 4, 1000);
    for (int i = 0; i < 4; i++)
        assert_true(tbucket_take(&b, 1000 + i));
    assert_false(tbucket_take(&b, 1004));
    assert_false(tbucket_take(&b, 1000 + ten_min - 1));
    assert_true(tbucket_take(&b, 1000 + ten_min));
    assert_false(tbucket_take(&b, 1000 + ten_min));
    /* A day away refills the burst, not more. */
    int ok = 0;
    for (int i = 0; i < 10; i++)
        ok += tbucket_take(&b, 1000 + 24 * 6 * ten_min);
    assert_int_equal(ok, 4);
    assert_false(tbucket_full(&b, 1000 + 24 * 6 * ten_min + 4 * ten_min - 1));
    assert_true(tbucket_full(&b, 1000 + 24 * 6 * ten_min + 4 * ten_min));
    /* 0 is taken as 1 for both. */
    tbucket_init_every(&b, 0, 0, 0);
    assert_true(tbucket_take(&b, 0));
    assert_false(tbucket_take(&b, 0));
    assert_true(tbucket_take(&b, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_rate),
        cmocka_unit_test(test_unlimited_and_clock),
        cmocka_unit_test(test_every),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
