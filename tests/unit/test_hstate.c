/* SPDX-License-Identifier: MIT */
/*
 * test_hstate.c - hash checkpoints beside a partial file: a record comes
 * back as it was written; one changed byte anywhere, another secret,
 * another transfer or another file index is refused; unsealed records do
 * not carry a file identity; the header is checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hstate.h"

static hstate_key key(void)
{
    hstate_key k = {.file = 3};
    memset(k.secret, 0x11, sizeof k.secret);
    memset(k.id, 0x22, sizeof k.id);
    return k;
}

static hstate_rec sample(bool sealed)
{
    hstate_rec r = {.covered = 8u << 20,
                    .sealed = sealed,
                    .dev = 0x803,
                    .ino = 123456789,
                    .ctime_s = 1795303925,
                    .ctime_ns = 999999999};
    for (size_t i = 0; i < sizeof r.digest; i++)
        r.digest[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof r.state; i++)
        r.state[i] = (uint8_t)(i * 7);
    return r;
}

static void same(const hstate_rec *a, const hstate_rec *b)
{
    assert_int_equal(a->covered, b->covered);
    assert_int_equal(a->sealed, b->sealed);
    assert_int_equal(a->dev, b->dev);
    assert_int_equal(a->ino, b->ino);
    assert_int_equal(a->ctime_s, b->ctime_s);
    assert_int_equal(a->ctime_ns, b->ctime_ns);
    assert_memory_equal(a->digest, b->digest, sizeof a->digest);
    assert_memory_equal(a->state, b->state, sizeof a->state);
}

static void test_roundtrip(void **state)
{
    (void)state;
    hstate_key k = key();
    uint8_t b[HSTATE_REC_LEN];
    hstate_rec in = sample(true), out;
    hstate_encode(&in, &k, b);
    assert_int_equal(hstate_decode(&out, &k, b, sizeof b), 0);
    same(&in, &out);

    /* Unsealed: no identity is kept. */
    in = sample(false);
    hstate_encode(&in, &k, b);
    assert_int_equal(hstate_decode(&out, &k, b, sizeof b), 0);
    assert_false(out.sealed);
    assert_int_equal(out.ino, 0);
    assert_int_equal(out.ctime_s, 0);
    assert_int_equal(out.covered, in.covered);
    assert_memory_equal(out.state, in.state, sizeof in.state);
}

static void test_refused(void **state)
{
    (void)state;
    hstate_key k = key(), other;
    uint8_t b[HSTATE_REC_LEN + 1], c[HSTATE_REC_LEN];
    hstate_rec in = sample(true), out;
    hstate_encode(&in, &k, b);
    for (size_t i = 0; i < HSTATE_REC_LEN; i++) {
        memcpy(c, b, sizeof c);
        c[i] ^= 0x01;
        assert_int_equal(hstate_decode(&out, &k, c, sizeof c), BANTER_EBADTAG);
        assert_int_equal(out.covered, 0);
    }
    other = k;
    other.secret[0] ^= 1;
    assert_int_equal(hstate_decode(&out, &other, b, HSTATE_REC_LEN), BANTER_EBADTAG);
    other = k;
    other.id[15] ^= 1;
    assert_int_equal(hstate_decode(&out, &other, b, HSTATE_REC_LEN), BANTER_EBADTAG);
    other = k;
    other.file = 4;
    assert_int_equal(hstate_decode(&out, &other, b, HSTATE_REC_LEN), BANTER_EBADTAG);
    assert_int_equal(hstate_decode(&out, &k, b, HSTATE_REC_LEN - 1), BANTER_ETRUNCATED);
    assert_int_equal(hstate_decode(&out, &k, b, HSTATE_REC_LEN + 1), BANTER_ETRAILING);
    assert_int_equal(hstate_decode(&out, &k, b, 0), BANTER_ETRUNCATED);
}

static void test_header(void **state)
{
    (void)state;
    uint8_t h[HSTATE_HDR_LEN + 4] = {0};
    hstate_header(h);
    assert_int_equal(hstate_check_header(h, sizeof h), 0);
    assert_int_equal(hstate_check_header(h, HSTATE_HDR_LEN), 0);
    assert_int_equal(hstate_check_header(h, HSTATE_HDR_LEN - 1), BANTER_ETRUNCATED);
    h[14] ^= 1; /* another version */
    assert_int_equal(hstate_check_header(h, sizeof h), BANTER_EUNSUPPORTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
