/* SPDX-License-Identifier: MIT */
/* test_sealed.c - sealing to a device: round trip, wrong recipient,
 * tampering, a forged sender. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "bcrypto.h"
#include "sealed.h"

static identity *from_seed(uint8_t b)
{
    uint8_t seed[32];
    memset(seed, b, sizeof seed);
    identity *id;
    assert_int_equal(identity_from_seed(&id, seed), 0);
    return id;
}

static void test_round_trip(void **state)
{
    (void)state;
    identity *ada = from_seed(1), *bob = from_seed(2), *eve = from_seed(3);
    const uint8_t pt[] = "\x02{\"id\":\"x\",\"body\":\"hello\"}";
    uint8_t c[sizeof pt + SEALED_OVERHEAD], out[sizeof pt], from[32];
    size_t n = 0;
    assert_int_equal(sealed_seal(c, ada, identity_public(bob), pt, sizeof pt), 0);
    assert_int_equal(sealed_open(out, &n, from, bob, c, sizeof c), 0);
    assert_int_equal(n, sizeof pt);
    assert_memory_equal(out, pt, sizeof pt);
    assert_memory_equal(from, identity_public(ada), 32);
    /* plaintext is not visible in the sealed copy */
    for (size_t i = 0; i + 5 <= sizeof c; i++)
        assert_int_not_equal(memcmp(c + i, "hello", 5), 0);
    /* not for eve */
    assert_int_equal(sealed_open(out, &n, from, eve, c, sizeof c), BANTER_EBADTAG);
    /* any flipped bit is refused */
    for (size_t i = 0; i < sizeof c; i += 7) {
        c[i] ^= 0x10;
        assert_int_not_equal(sealed_open(out, &n, from, bob, c, sizeof c), 0);
        c[i] ^= 0x10;
    }
    assert_int_equal(sealed_open(out, &n, from, bob, c, SEALED_OVERHEAD - 1), BANTER_ETRUNCATED);
    /* an empty plaintext works too */
    assert_int_equal(sealed_seal(c, ada, identity_public(bob), NULL, 0), 0);
    assert_int_equal(sealed_open(out, &n, from, bob, c, SEALED_OVERHEAD), 0);
    assert_int_equal(n, 0);
    identity_free(ada);
    identity_free(bob);
    identity_free(eve);
}

/* eve seals for bob a copy she signed as if for carol: the signature
 * covers the recipient's key, so bob refuses it. */
static void test_readdressed(void **state)
{
    (void)state;
    identity *ada = from_seed(1), *bob = from_seed(2), *carol = from_seed(4);
    const uint8_t pt[] = "\x02{}";
    uint8_t c[sizeof pt + SEALED_OVERHEAD], inner[sizeof pt + 96], out[sizeof pt], from[32];
    size_t n;
    /* what carol received from ada */
    assert_int_equal(sealed_seal(c, ada, identity_public(carol), pt, sizeof pt), 0);
    assert_int_equal(
        bcrypto_seal_open(inner, c, sizeof c, identity_dh_public(carol), identity_dh_secret(carol)),
        0);
    /* carol re-seals ada's signed inner part to bob */
    uint8_t xpk[32];
    assert_int_equal(bcrypto_ed_to_x_public(xpk, identity_public(bob)), 0);
    bcrypto_seal(c, inner, sizeof inner, xpk);
    assert_int_equal(sealed_open(out, &n, from, bob, c, sizeof c), BANTER_EIDENTITY);
    identity_free(ada);
    identity_free(bob);
    identity_free(carol);
}

int main(void)
{
    if (bcrypto_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_readdressed),
    };
    return cmocka_run_group_tests_name("sealed", tests, NULL, NULL);
}
