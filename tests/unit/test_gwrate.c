/* SPDX-License-Identifier: MIT */
/*
 * test_gwrate.c - a gateway's per-person counts on a fake clock: the limit
 * within a window, a new window, people counted apart, a full table that
 * refuses newcomers until a window ends, and long keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gwrate.h"

static void test_limit_and_window(void **state)
{
    (void)state;
    gwrate_slot slots[4] = {0};
    gwrate r = {slots, 4, 60000, 3};
    int64_t t = 1000;
    for (int i = 0; i < 3; i++)
        assert_true(gwrate_take(&r, "@ann", t + i));
    assert_false(gwrate_take(&r, "@ann", t + 10));
    assert_false(gwrate_take(&r, "@ann", t + 59999)); /* the window began at t */
    assert_int_equal(gwrate_count(&r, "@ann", t + 59999), 5);
    assert_true(gwrate_take(&r, "@bob", t + 20)); /* others are counted apart */
    assert_int_equal(gwrate_count(&r, "@bob", t + 20), 1);
    assert_int_equal(gwrate_count(&r, "@ann", t + 60000), 0); /* ended */
    assert_true(gwrate_take(&r, "@ann", t + 60000));          /* a new window */
    assert_int_equal(gwrate_count(&r, "@ann", t + 60000), 1);
    assert_int_equal(gwrate_count(&r, "@nobody", t), 0);
    assert_false(gwrate_take(&r, "", t)); /* no key, no slot */
}

static void test_full_table(void **state)
{
    (void)state;
    gwrate_slot slots[2] = {0};
    gwrate r = {slots, 2, 1000, 10};
    assert_true(gwrate_take(&r, "a", 0));
    assert_true(gwrate_take(&r, "b", 500));
    /* both windows run: a third person waits, the two keep their counts */
    assert_false(gwrate_take(&r, "c", 900));
    assert_int_equal(gwrate_count(&r, "a", 900), 1);
    assert_int_equal(gwrate_count(&r, "b", 900), 1);
    /* a's window is over at 1000: its slot goes to c, b keeps its own */
    assert_true(gwrate_take(&r, "c", 1000));
    assert_int_equal(gwrate_count(&r, "c", 1000), 1);
    assert_int_equal(gwrate_count(&r, "a", 1000), 0);
    assert_true(gwrate_take(&r, "b", 1001));
    assert_int_equal(gwrate_count(&r, "b", 1001), 2);
    /* a has no slot now, and every other window runs */
    assert_false(gwrate_take(&r, "a", 1100));
}

static void test_long_keys(void **state)
{
    (void)state;
    gwrate_slot slots[2] = {0};
    gwrate r = {slots, 2, 1000, 1};
    char k1[200], k2[200];
    memset(k1, 'x', sizeof k1 - 1);
    k1[sizeof k1 - 1] = '\0';
    memcpy(k2, k1, sizeof k2);
    k2[150] = 'y'; /* differs past the compared bytes: one count */
    assert_true(gwrate_take(&r, k1, 0));
    assert_false(gwrate_take(&r, k2, 1));
    assert_int_equal(gwrate_count(&r, k1, 1), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_and_window),
        cmocka_unit_test(test_full_table),
        cmocka_unit_test(test_long_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
