/* SPDX-License-Identifier: MIT */
/*
 * test_rdv_devset.c - the device keys a linked instance said it holds
 * (rendezvous/devset.h): keys added, found with their stamp, a new "up"
 * restamps, deleted ones gone (also among keys that collide: the backward
 * shift keeps the others reachable), growth keeps everything, and at the
 * cap a new key is refused (BANTER_ETOOBIG, the set unchanged) while one
 * already held is restamped: what a peer listing millions of devices
 * makes this instance hold is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "devset.h"

/* A key whose first 8 bytes (the hash) are h, made distinct by i. */
static void mk(uint8_t k[32], uint64_t h, uint32_t i)
{
    memset(k, 0, 32);
    memcpy(k, &h, sizeof h);
    memcpy(k + 8, &i, sizeof i);
}

static void test_add_get_del(void **st)
{
    (void)st;
    devset *s = devset_new(1000);
    uint8_t k[32];
    uint64_t stamp = 0;
    assert_non_null(s);
    mk(k, 7, 1);
    assert_false(devset_get(s, k, &stamp));
    devset_del(s, k); /* empty: nothing */
    assert_int_equal(devset_add(s, k, 5), 0);
    assert_true(devset_get(s, k, &stamp));
    assert_int_equal(stamp, 5);
    assert_int_equal(devset_add(s, k, 9), 0); /* up again: restamped, one key */
    assert_true(devset_get(s, k, &stamp));
    assert_int_equal(stamp, 9);
    assert_int_equal(devset_count(s), 1);
    devset_del(s, k);
    assert_false(devset_get(s, k, NULL));
    assert_int_equal(devset_count(s), 0);
    devset_free(s);
}

static void test_collisions_and_growth(void **st)
{
    (void)st;
    devset *s = devset_new(100000);
    uint8_t k[32];
    uint64_t stamp;
    assert_non_null(s);
    /* 300 keys on 3 home slots (growth rehashes them several times). */
    for (uint32_t i = 0; i < 300; i++) {
        mk(k, i % 3, i);
        assert_int_equal(devset_add(s, k, 1000u + i), 0);
    }
    assert_int_equal(devset_count(s), 300);
    for (uint32_t i = 0; i < 300; i += 2) { /* every other one leaves */
        mk(k, i % 3, i);
        devset_del(s, k);
    }
    for (uint32_t i = 0; i < 300; i++) {
        mk(k, i % 3, i);
        bool held = devset_get(s, k, &stamp);
        assert_int_equal(held, i % 2 == 1);
        if (held)
            assert_int_equal(stamp, 1000u + i);
    }
    assert_int_equal(devset_count(s), 150);
    devset_free(s);
}

static void test_cap(void **st)
{
    (void)st;
    devset *s = devset_new(100);
    uint8_t k[32];
    uint64_t stamp;
    assert_non_null(s);
    for (uint32_t i = 0; i < 100; i++) {
        mk(k, i * 2654435761u, i);
        assert_int_equal(devset_add(s, k, i), 0);
    }
    mk(k, 12345, 100000);
    assert_int_equal(devset_add(s, k, 1), BANTER_ETOOBIG);
    assert_false(devset_get(s, k, NULL));
    assert_int_equal(devset_count(s), 100);
    mk(k, 5 * 2654435761u, 5); /* already held: restamped at the cap */
    assert_int_equal(devset_add(s, k, 777), 0);
    assert_true(devset_get(s, k, &stamp));
    assert_int_equal(stamp, 777);
    devset_del(s, k); /* room again */
    mk(k, 12345, 100000);
    assert_int_equal(devset_add(s, k, 2), 0);
    assert_int_equal(devset_count(s), 100);
    devset_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_get_del),
        cmocka_unit_test(test_collisions_and_growth),
        cmocka_unit_test(test_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
