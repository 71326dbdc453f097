/* SPDX-License-Identifier: MIT */
/*
 * test_bcrypto.c - password hashing: Argon2id at the documented cost, a
 * fresh salt each time, verification of the right password only, and a
 * malformed stored string that never matches; a file hash exported midway
 * and imported into a fresh state goes on to the same digest, whatever the
 * pieces it was fed in. (The Noise primitives are covered by test_noise
 * against the published vectors.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bcrypto.h"

static void test_pwhash(void **state)
{
    (void)state;
    char a[BCRYPTO_PWHASH_STRLEN], b[BCRYPTO_PWHASH_STRLEN];
    static const char pw[] = "correct horse battery staple";
    assert_int_equal(bcrypto_init(), 0);
    assert_int_equal(bcrypto_pwhash_str(a, pw, sizeof pw - 1), 0);
    assert_int_equal(bcrypto_pwhash_str(b, pw, sizeof pw - 1), 0);
    /* The cost is in the string: Argon2id v1.3, 64 MiB, 2 passes, 1 lane. */
    assert_memory_equal(a, "$argon2id$v=19$m=65536,t=2,p=1$", 31);
    assert_true(strlen(a) < BCRYPTO_PWHASH_STRLEN);
    assert_string_not_equal(a, b); /* fresh salt */
    assert_null(strstr(a, "horse"));

    assert_int_equal(bcrypto_pwhash_verify(a, pw, sizeof pw - 1), 0);
    assert_int_equal(bcrypto_pwhash_verify(b, pw, sizeof pw - 1), 0);
    assert_int_equal(bcrypto_pwhash_verify(a, pw, sizeof pw - 2), BANTER_EIDENTITY);
    assert_int_equal(bcrypto_pwhash_verify(a, "Correct horse battery staple", sizeof pw - 1),
                     BANTER_EIDENTITY);
    assert_int_equal(bcrypto_pwhash_verify("", pw, sizeof pw - 1), BANTER_EIDENTITY);
    assert_int_equal(bcrypto_pwhash_verify("$argon2id$v=19$garbage", pw, sizeof pw - 1),
                     BANTER_EIDENTITY);
    /* A stored string without a terminator inside the size is refused. */
    char unterminated[BCRYPTO_PWHASH_STRLEN + 1];
    memset(unterminated, 'x', sizeof unterminated - 1);
    unterminated[sizeof unterminated - 1] = '\0';
    assert_int_equal(bcrypto_pwhash_verify(unterminated, pw, sizeof pw - 1), BANTER_EIDENTITY);

    /* Any bytes, including an empty password, hash and verify. */
    assert_int_equal(bcrypto_pwhash_str(a, "", 0), 0);
    assert_int_equal(bcrypto_pwhash_verify(a, "", 0), 0);
    assert_int_equal(bcrypto_pwhash_verify(a, "x", 1), BANTER_EIDENTITY);
}

static void test_hash_state(void **state)
{
    (void)state;
    static uint8_t data[300000];
    uint8_t whole[32], d1[32], d2[32], peek[32], st[BCRYPTO_HASH_STATE_LEN];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 131 + 7);
    bcrypto_hash h, g;
    bcrypto_hash_init(&h, sizeof whole);
    bcrypto_hash_update(&h, data, sizeof data);
    bcrypto_hash_final(&h, whole, sizeof whole);

    /* 61440-byte pieces up to a cut, exported, imported, then odd pieces. */
    size_t cut = 3 * 61440 + 5;
    bcrypto_hash_init(&h, sizeof whole);
    for (size_t o = 0; o < cut; o += 61440)
        bcrypto_hash_update(&h, data + o, cut - o < 61440 ? cut - o : 61440);
    bcrypto_hash_peek(&h, peek, sizeof peek);
    bcrypto_hash_export(&h, st);
    memset(&g, 0xa5, sizeof g);
    bcrypto_hash_import(&g, st);
    for (size_t o = cut; o < sizeof data; o += 999)
        bcrypto_hash_update(&g, data + o, sizeof data - o < 999 ? sizeof data - o : 999);
    bcrypto_hash_final(&g, d1, sizeof d1);
    assert_memory_equal(d1, whole, sizeof whole);

    /* peek left h as it was, and is the digest of the prefix. */
    bcrypto_hash_update(&h, data + cut, sizeof data - cut);
    bcrypto_hash_final(&h, d2, sizeof d2);
    assert_memory_equal(d2, whole, sizeof whole);
    bcrypto_hash_init(&h, sizeof whole);
    bcrypto_hash_update(&h, data, cut);
    bcrypto_hash_final(&h, d2, sizeof d2);
    assert_memory_equal(peek, d2, sizeof d2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pwhash),
        cmocka_unit_test(test_hash_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
