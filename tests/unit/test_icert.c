/* SPDX-License-Identifier: MIT */
/*
 * test_icert.c - instance certificates: issue, wire form, checks; one
 * signed by another key (a forged instance) or for another instance key
 * is refused; a certificate is not a device certificate (another context).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "cert.h"
#include "icert.h"
#include "icert_test.h"

static void test_round_trip_and_checks(void **state)
{
    (void)state;
    identity *org = icert_test_key(1), *forger = icert_test_key(2), *inst = icert_test_key(3);
    const uint8_t *ik = identity_public(inst);
    uint8_t buf[ICERT_LEN_MAX];
    icert c, d;
    size_t n;
    assert_int_equal(icert_issue(&c, org, ik, "rdv-a", 1000, 5000), 0);
    assert_int_equal(icert_encode(&c, buf, sizeof buf, &n), 0);
    assert_int_equal(n, 1 + 32 + 32 + 8 + 8 + 1 + 5 + 64);
    assert_int_equal(icert_decode(&d, buf, n), 0);
    assert_string_equal(d.name, "rdv-a");
    assert_int_equal(icert_check(&d, identity_public(org), ik, 1000), 0);
    assert_int_equal(icert_check(&d, identity_public(org), ik, 6000), BANTER_ETIMEDOUT);
    assert_int_equal(icert_check(&d, identity_public(org), ik, 999), BANTER_ETIMEDOUT);
    assert_int_equal(icert_check(&d, identity_public(forger), ik, 2000), BANTER_EKEYMISMATCH);
    assert_int_equal(icert_check(&d, identity_public(org), identity_public(org), 2000),
                     BANTER_EKEYMISMATCH);
    /* A forger signs its own: valid signature, but not by the pinned key. */
    n = icert_test_make(buf, forger, ik, "rdv-a", 1000, 5000);
    assert_int_equal(icert_decode(&d, buf, n), 0);
    assert_int_equal(icert_check(&d, identity_public(org), ik, 2000), BANTER_EKEYMISMATCH);
    /* ... or puts the organisation key in it: the signature fails. */
    memcpy(buf + 1, identity_public(org), 32);
    assert_int_equal(icert_decode(&d, buf, n), BANTER_EIDENTITY);
    /* Every byte matters. */
    n = icert_test_make(buf, org, ik, "rdv-a", 1000, 5000);
    for (size_t i = 0; i < n; i++) {
        buf[i] ^= 0x01;
        assert_int_not_equal(icert_decode(&d, buf, n), 0);
        buf[i] ^= 0x01;
    }
    assert_int_equal(icert_decode(&d, buf, n - 1), BANTER_ETRUNCATED);
    buf[n] = 0;
    assert_int_equal(icert_decode(&d, buf, n + 1), BANTER_ETRAILING);
    /* A device certificate with the same fields is not an instance one. */
    cert dc;
    uint8_t db[CERT_LEN_MAX];
    size_t dn;
    assert_int_equal(cert_issue(&dc, org, ik, "rdv-a", 1000, 5000), 0);
    assert_int_equal(cert_encode(&dc, db, sizeof db, &dn), 0);
    assert_int_equal(icert_decode(&d, db, dn), BANTER_EIDENTITY);
    buf[0] = 2;
    assert_int_equal(icert_decode(&d, buf, n), BANTER_EUNSUPPORTED);
    assert_int_equal(icert_encode(&c, buf, n - 1, &n), BANTER_ETOOBIG);
    assert_int_equal(icert_issue(&c, org, ik, "Bad Name", 0, 1), BANTER_EINVAL);
    assert_int_equal(icert_issue(&c, org, ik, "x", 0, 0), BANTER_EINVAL);
    identity_free(org);
    identity_free(forger);
    identity_free(inst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
