/* SPDX-License-Identifier: MIT */
/*
 * test_bcrypto.c - password hashing: Argon2id at the documented cost, a
 * fresh salt each time, verification of the right password only, and a
 * malformed stored string that never matches. (The Noise primitives are
 * covered by test_noise against the published vectors.)
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pwhash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
