/* SPDX-License-Identifier: MIT */
/*
 * test_peer_autoaccept.c - what the node accepts by itself, on a fake
 * clock: an offer over the per-file limit, one that would pass the day's
 * budget with what was taken in the last 24 hours, and one that would
 * leave the disk less than its reserve each wait; the budget frees up
 * hour by hour, 24 hours after each accept; limits of 0 mean none; sizes
 * near 2^64 neither wrap nor slip through.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/autoaccept.h"

#define MIB  (1024ull * 1024)
#define HOUR 3600000ll
#define T0   (1000 * HOUR + 17) /* a monotonic clock's "now", inside an hour */

static const aa_limits lim = {.max_file = 100 * MIB, .per_day = 250 * MIB, .keep_free = 50 * MIB};
static const uint64_t room = 10000 * MIB;

static void test_file_limit(void **state)
{
    (void)state;
    autoaccept *a = autoaccept_new();
    assert_non_null(a);
    assert_int_equal(autoaccept_check(a, &lim, 100 * MIB, room, T0), AA_YES);
    assert_int_equal(autoaccept_check(a, &lim, 100 * MIB + 1, room, T0), AA_TOO_BIG);
    assert_int_equal(autoaccept_check(a, &lim, 0, room, T0), AA_YES); /* an empty file */
    assert_non_null(strstr(autoaccept_why(AA_TOO_BIG), "auto_accept_max_mb"));
    assert_string_equal(autoaccept_why(AA_YES), "");
    autoaccept_free(a);
}

static void test_day_budget(void **state)
{
    (void)state;
    autoaccept *a = autoaccept_new();
    assert_non_null(a);
    /* 100 + 100 + 50 = the budget: all taken; one byte more waits */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(autoaccept_check(a, &lim, 100 * MIB, room, T0 + i), AA_YES);
        autoaccept_took(a, 100 * MIB, T0 + i);
    }
    assert_int_equal(autoaccept_check(a, &lim, 50 * MIB + 1, room, T0), AA_OVER_DAY);
    assert_int_equal(autoaccept_check(a, &lim, 50 * MIB, room, T0), AA_YES);
    autoaccept_took(a, 50 * MIB, T0 + 2 * HOUR); /* two hours later */
    assert_int_equal(autoaccept_used(a, T0 + 2 * HOUR), 250 * MIB);
    assert_int_equal(autoaccept_check(a, &lim, 1, room, T0 + 2 * HOUR), AA_OVER_DAY);
    assert_non_null(strstr(autoaccept_why(AA_OVER_DAY), "auto_accept_day_mb"));
    /* still counted until 24 hours after their hour began... */
    int64_t hour_start = T0 - T0 % HOUR;
    assert_int_equal(autoaccept_used(a, hour_start + 24 * HOUR - 1), 250 * MIB);
    assert_int_equal(autoaccept_check(a, &lim, 1, room, hour_start + 24 * HOUR - 1), AA_OVER_DAY);
    /* ...then the first 200 MiB leave the budget; the 50 two hours later */
    assert_int_equal(autoaccept_used(a, hour_start + 24 * HOUR), 50 * MIB);
    assert_int_equal(autoaccept_check(a, &lim, 100 * MIB, room, hour_start + 24 * HOUR), AA_YES);
    assert_int_equal(autoaccept_used(a, hour_start + 26 * HOUR), 0);
    /* a bucket reused a day later starts from zero */
    autoaccept_took(a, 10 * MIB, T0 + 24 * HOUR);
    assert_int_equal(autoaccept_used(a, T0 + 24 * HOUR), 60 * MIB);
    assert_int_equal(autoaccept_used(a, T0 + 48 * HOUR), 0);
    autoaccept_free(a);
}

static void test_disk_room(void **state)
{
    (void)state;
    autoaccept *a = autoaccept_new();
    assert_non_null(a);
    /* room 80 MiB: a 30 MiB file leaves exactly the 50 kept free */
    assert_int_equal(autoaccept_check(a, &lim, 30 * MIB, 80 * MIB, T0), AA_YES);
    assert_int_equal(autoaccept_check(a, &lim, 30 * MIB + 1, 80 * MIB, T0), AA_NO_ROOM);
    assert_int_equal(autoaccept_check(a, &lim, 90 * MIB, 80 * MIB, T0), AA_NO_ROOM);
    assert_int_equal(autoaccept_check(a, &lim, 1, 0, T0), AA_NO_ROOM);
    /* without a reserve the file only has to fit */
    aa_limits none = lim;
    none.keep_free = 0;
    assert_int_equal(autoaccept_check(a, &none, 80 * MIB, 80 * MIB, T0), AA_YES);
    assert_int_equal(autoaccept_check(a, &none, 80 * MIB + 1, 80 * MIB, T0), AA_NO_ROOM);
    assert_non_null(strstr(autoaccept_why(AA_NO_ROOM), "auto_accept_keep_free_mb"));
    autoaccept_free(a);
}

static void test_no_limits_and_huge_sizes(void **state)
{
    (void)state;
    autoaccept *a = autoaccept_new();
    assert_non_null(a);
    aa_limits none = {0, 0, 0};
    assert_int_equal(autoaccept_check(a, &none, UINT64_MAX, UINT64_MAX, T0), AA_YES);
    autoaccept_took(a, UINT64_MAX, T0);
    autoaccept_took(a, UINT64_MAX, T0 + HOUR);
    assert_int_equal(autoaccept_used(a, T0 + HOUR), UINT64_MAX); /* saturates, never wraps */
    /* with a budget, a huge count is over it whatever is added */
    assert_int_equal(autoaccept_check(a, &lim, 1, room, T0 + HOUR), AA_OVER_DAY);
    autoaccept *b = autoaccept_new();
    assert_non_null(b);
    autoaccept_took(b, 200 * MIB, T0);
    /* 200 MiB + (2^64 - 1) would wrap to less than the budget */
    aa_limits big = lim;
    big.max_file = 0;
    assert_int_equal(autoaccept_check(b, &big, UINT64_MAX, UINT64_MAX, T0), AA_OVER_DAY);
    autoaccept_free(a);
    autoaccept_free(b);
    autoaccept_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_limit),
        cmocka_unit_test(test_day_budget),
        cmocka_unit_test(test_disk_room),
        cmocka_unit_test(test_no_limits_and_huge_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
