/* SPDX-License-Identifier: MIT */
/*
 * test_rdv_ratelimit.c - login backoff: 1 s, 2 s, 4 s... after consecutive
 * failures, capped at 5 minutes; a success forgets the key; the table is
 * bounded and drops the entry failed least recently.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "ratelimit.h"

static void test_backoff(void **state)
{
    (void)state;
    ratelimit *rl = rl_new(8);
    assert_non_null(rl);
    assert_int_equal(rl_check(rl, "u:a", 0), 0);
    rl_fail(rl, "u:a", 1000);
    assert_int_equal(rl_check(rl, "u:a", 1000), 1000);
    assert_int_equal(rl_check(rl, "u:a", 1999), 1);
    assert_int_equal(rl_check(rl, "u:a", 2000), 0);
    rl_fail(rl, "u:a", 2000);
    assert_int_equal(rl_check(rl, "u:a", 2000), 2000);
    rl_fail(rl, "u:a", 4000);
    assert_int_equal(rl_check(rl, "u:a", 4000), 4000);
    for (int i = 0; i < 20; i++)
        rl_fail(rl, "u:a", 10000);
    assert_int_equal(rl_check(rl, "u:a", 10000), RL_MAX_DELAY_MS);
    assert_int_equal(rl_check(rl, "u:b", 10000), 0);
    rl_reset(rl, "u:a");
    assert_int_equal(rl_check(rl, "u:a", 10000), 0);
    assert_int_equal(rl_count(rl), 0);
    rl_free(rl);
    rl_free(NULL);
}

static void test_bounded(void **state)
{
    (void)state;
    char k[32];
    ratelimit *rl = rl_new(4);
    assert_non_null(rl);
    for (int i = 0; i < 10; i++) {
        snprintf(k, sizeof k, "a:10.0.0.%d", i);
        rl_fail(rl, k, 100 + i);
    }
    assert_int_equal(rl_count(rl), 4);
    assert_int_equal(rl_check(rl, "a:10.0.0.0", 100), 0);    /* dropped */
    assert_int_equal(rl_check(rl, "a:10.0.0.9", 109), 1000); /* newest kept */
    rl_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
