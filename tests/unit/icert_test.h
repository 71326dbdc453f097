/* SPDX-License-Identifier: MIT */
/*
 * icert_test.h - keys and instance certificates for unit tests
 * (test_icert.c, test_xlmsg.c): a key made from a repeated seed byte, so a
 * test names its keys by number and gets the same ones every run, and a
 * certificate issued and encoded in one call. Any failure fails the test.
 * Include it after cmocka.h.
 *
 *   identity *org = icert_test_key(1), *inst = icert_test_key(3);
 *   uint8_t c[ICERT_LEN_MAX];
 *   size_t n = icert_test_make(c, org, identity_public(inst), "rdv-a", 1000, 5000);
 */
#ifndef BANTER_TEST_ICERT_TEST_H
#define BANTER_TEST_ICERT_TEST_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "icert.h"
#include "identity.h"

/* The identity whose seed is 32 bytes of b; the caller frees it. */
static inline identity *icert_test_key(uint8_t b)
{
    uint8_t seed[32];
    identity *id;
    memset(seed, b, sizeof seed);
    assert_int_equal(identity_from_seed(&id, seed), 0);
    return id;
}

/* org's certificate for the instance key inst named name, valid from
 * now_ms for ttl_ms, encoded into out; its size. */
static inline size_t icert_test_make(uint8_t out[static ICERT_LEN_MAX], const identity *org,
                                     const uint8_t inst[static 32], const char *name,
                                     int64_t now_ms, int64_t ttl_ms)
{
    icert c;
    size_t n;
    assert_int_equal(icert_issue(&c, org, inst, name, now_ms, ttl_ms), 0);
    assert_int_equal(icert_encode(&c, out, ICERT_LEN_MAX, &n), 0);
    return n;
}

#endif
