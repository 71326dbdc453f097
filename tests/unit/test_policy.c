/* SPDX-License-Identifier: MIT */
/*
 * test_policy.c - the signed organisation policy: a round trip, the
 * server's key checked, and each refusal (a changed byte, a value out of
 * range, an unknown flag, a short or long input, another version).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"

static identity *server, *other;

static int setup(void **state)
{
    uint8_t s1[32] = {1}, s2[32] = {2};
    (void)state;
    return identity_from_seed(&server, s1) || identity_from_seed(&other, s2);
}

static int teardown(void **state)
{
    (void)state;
    identity_free(server);
    identity_free(other);
    return 0;
}

static void signed_example(policy *p, uint8_t w[static POLICY_LEN])
{
    policy_default(p);
    p->serial = 7;
    p->issued_ms = 1796000000000;
    p->max_file_mb = 100;
    p->history_days = 90;
    p->flags = POLICY_F_LAN;
    p->public_fields = 3;
    assert_int_equal(policy_sign(p, server), 0);
    policy_encode(p, w);
}

static void test_roundtrip(void **state)
{
    (void)state;
    policy p, d;
    uint8_t w[POLICY_LEN];
    signed_example(&p, w);
    assert_int_equal(policy_decode(&d, w, sizeof w), 0);
    assert_int_equal(d.serial, 7);
    assert_int_equal(d.issued_ms, 1796000000000);
    assert_int_equal(d.max_file_mb, 100);
    assert_int_equal(d.history_days, 90);
    assert_int_equal(d.flags, POLICY_F_LAN);
    assert_int_equal(d.public_fields, 3);
    assert_int_equal(policy_check(&d, identity_public(server)), 0);
    assert_int_equal(policy_check(&d, identity_public(other)), BANTER_EKEYMISMATCH);
}

static void test_refusals(void **state)
{
    (void)state;
    policy p, d;
    uint8_t w[POLICY_LEN + 1];
    signed_example(&p, w);
    /* every single changed byte is refused */
    for (size_t i = 0; i < POLICY_LEN; i++) {
        w[i] ^= 0x40;
        assert_int_not_equal(policy_decode(&d, w, POLICY_LEN), 0);
        w[i] ^= 0x40;
    }
    assert_int_equal(policy_decode(&d, w, POLICY_LEN - 1), BANTER_ETRUNCATED);
    assert_int_equal(policy_decode(&d, w, POLICY_LEN + 1), BANTER_ETRAILING);
    w[0] = 2;
    assert_int_equal(policy_decode(&d, w, POLICY_LEN), BANTER_EUNSUPPORTED);
    /* another key's signature over the same values, claiming the server */
    signed_example(&p, w);
    policy q = p;
    assert_int_equal(policy_sign(&q, other), 0);
    memcpy(q.server, identity_public(server), 32);
    policy_encode(&q, w);
    assert_int_equal(policy_decode(&d, w, POLICY_LEN), BANTER_EIDENTITY);
    /* values out of range are not signed */
    policy_default(&p);
    p.flags = 0x80;
    assert_int_equal(policy_sign(&p, server), BANTER_EINVAL);
    policy_default(&p);
    p.public_fields = 1u << POLICY_FIELDS;
    assert_int_equal(policy_sign(&p, server), BANTER_EINVAL);
    policy_default(&p);
    p.max_file_mb = -1;
    assert_int_equal(policy_sign(&p, server), BANTER_EINVAL);
    policy_default(&p);
    p.history_days = POLICY_MAX_DAYS + 1;
    assert_int_equal(policy_sign(&p, server), BANTER_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
