/* SPDX-License-Identifier: MIT */
/* test_cert.c - organisation certificates: issue, wire form, checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "cert.h"

static identity *server(uint8_t b)
{
    uint8_t seed[32];
    identity *id;
    memset(seed, b, sizeof seed);
    assert_int_equal(identity_from_seed(&id, seed), 0);
    return id;
}

static void test_round_trip_and_checks(void **state)
{
    (void)state;
    identity *s = server(1), *other = server(2);
    uint8_t dev[32] = {7}, buf[CERT_LEN_MAX];
    cert c, d;
    size_t n;
    assert_int_equal(cert_issue(&c, s, dev, "ada.l", 1000, 5000), 0);
    assert_int_equal(cert_encode(&c, buf, sizeof buf, &n), 0);
    assert_int_equal(n, 1 + 32 + 32 + 8 + 8 + 1 + 5 + 64);
    assert_int_equal(cert_decode(&d, buf, n), 0);
    assert_string_equal(d.name, "ada.l");
    assert_true(d.issued_ms == 1000 && d.expires_ms == 6000);
    assert_int_equal(cert_check(&d, identity_public(s), dev, 1000), 0);
    assert_int_equal(cert_check(&d, identity_public(s), dev, 6000), BANTER_ETIMEDOUT);
    assert_int_equal(cert_check(&d, identity_public(s), dev, 999), BANTER_ETIMEDOUT);
    assert_int_equal(cert_check(&d, identity_public(other), dev, 2000), BANTER_EKEYMISMATCH);
    uint8_t dev2[32] = {8};
    assert_int_equal(cert_check(&d, identity_public(s), dev2, 2000), BANTER_EKEYMISMATCH);
    /* Every byte matters: flip each and the certificate is refused. */
    for (size_t i = 0; i < n; i++) {
        buf[i] ^= 0x01;
        assert_int_not_equal(cert_decode(&d, buf, n), 0);
        buf[i] ^= 0x01;
    }
    assert_int_equal(cert_decode(&d, buf, n - 1), BANTER_ETRUNCATED);
    buf[n] = 0;
    assert_int_equal(cert_decode(&d, buf, n + 1), BANTER_ETRAILING);
    buf[0] = 2;
    assert_int_equal(cert_decode(&d, buf, n), BANTER_EUNSUPPORTED);
    assert_int_equal(cert_encode(&c, buf, n - 1, &n), BANTER_ETOOBIG);
    identity_free(s);
    identity_free(other);
}

static void test_names(void **state)
{
    (void)state;
    identity *s = server(3);
    uint8_t dev[32] = {0};
    cert c;
    const char *bad[] = {
        "",    "Ada", "a b",
        "a/b", "é",   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cert_issue(&c, s, dev, bad[i], 0, 1), BANTER_EINVAL);
    assert_int_equal(cert_issue(&c, s, dev, "a-b_c.9", 0, 1), 0);
    assert_int_equal(cert_issue(&c, s, dev, "ok", 0, 0), BANTER_EINVAL);
    identity_free(s);
}

/* Times are milliseconds in 0..2^53: issued so, and refused otherwise. */
static void test_time_range(void **state)
{
    (void)state;
    identity *s = server(4);
    uint8_t dev[32] = {9}, b[CERT_LEN_MAX];
    cert c, d;
    size_t n;
    const int64_t max = INT64_C(9007199254740992);
    assert_int_equal(cert_issue(&c, s, dev, "ada", max - 10, 10), 0);
    assert_int_equal(cert_issue(&c, s, dev, "ada", max - 10, 11), BANTER_EINVAL);
    assert_int_equal(cert_issue(&c, s, dev, "ada", 0, INT64_MAX), BANTER_EINVAL);
    assert_int_equal(cert_issue(&c, s, dev, "ada", max - 10, 10), 0);
    assert_int_equal(cert_encode(&c, b, sizeof b, &n), 0);
    assert_int_equal(cert_decode(&d, b, n), 0);
    assert_true(d.expires_ms == max);
    /* expires_ms is at 1 + 32 + 32 + 8: 2^53 + 1 and 2^64 - 1 are refused
     * for what they are, before the signature. */
    b[1 + 32 + 32 + 8 + 7] |= 1;
    assert_int_equal(cert_decode(&d, b, n), BANTER_ESCHEMA);
    memset(b + 1 + 32 + 32, 0xff, 8); /* issued_ms */
    assert_int_equal(cert_decode(&d, b, n), BANTER_ESCHEMA);
    identity_free(s);
}

int main(void)
{
    if (bcrypto_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_checks),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_time_range),
    };
    return cmocka_run_group_tests_name("cert", tests, NULL, NULL);
}
