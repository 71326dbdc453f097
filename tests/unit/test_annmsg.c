/* SPDX-License-Identifier: MIT */
/*
 * test_annmsg.c - announcements, receipts and the revocation list: round
 * trips, and each refusal (a control character, a missing or unknown
 * member, an id out of range, a changed byte of a signed list, a long or
 * short list, another version).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "annmsg.h"
#include "bcrypto.h"

static identity *server;

static int setup(void **state)
{
    uint8_t s1[32] = {1};
    (void)state;
    return bcrypto_init() || identity_from_seed(&server, s1);
}

static int teardown(void **state)
{
    (void)state;
    identity_free(server);
    return 0;
}

static int decode_text(const char *json, ann_msg *m)
{
    uint8_t pt[8192];
    size_t n = strlen(json);
    pt[0] = RV_ANNOUNCE;
    memcpy(pt + 1, json, n);
    return ann_decode(m, pt, n + 1);
}

static void announce_round_trip(void **state)
{
    (void)state;
    ann_msg m = {.id = 42, .ts_ms = 1796000000000}, d;
    snprintf(m.department, sizeof m.department, "Research");
    snprintf(m.text, sizeof m.text, "The office is closed on Friday.\n\tEnjoy the weekend.");
    buf b;
    buf_init(&b, 65536);
    assert_int_equal(ann_encode(&m, &b), 0);
    assert_int_equal(ann_decode(&d, buf_data(&b), buf_len(&b)), 0);
    assert_int_equal(d.id, 42);
    assert_int_equal(d.ts_ms, 1796000000000);
    assert_string_equal(d.department, "Research");
    assert_string_equal(d.text, m.text);
    buf_free(&b);
    /* escapes never reach a terminal; empty text, id 0, extra members */
    snprintf(m.text, sizeof m.text, "%s", "\x1b[2Jgone");
    buf_init(&b, 65536);
    assert_int_equal(ann_encode(&m, &b), BANTER_ESCHEMA);
    buf_free(&b);
    assert_int_equal(
        decode_text("{\"id\":1,\"ts\":0,\"department\":\"\",\"text\":\"\\u001b[2J\"}", &d),
        BANTER_ESCHEMA);
    /* C1 controls too: U+009B is CSI where a terminal honours C1, U+0085 NEL */
    snprintf(m.text, sizeof m.text, "%s",
             "x\xc2\x9b"
             "2Jgone");
    buf_init(&b, 65536);
    assert_int_equal(ann_encode(&m, &b), BANTER_ESCHEMA);
    buf_free(&b);
    assert_int_equal(
        decode_text("{\"id\":1,\"ts\":0,\"department\":\"\",\"text\":\"x\\u009b2J\"}", &d),
        BANTER_ESCHEMA);
    assert_int_equal(
        decode_text("{\"id\":1,\"ts\":0,\"department\":\"\",\"text\":\"x\xc2\x85y\"}", &d),
        BANTER_ESCHEMA);
    assert_int_equal(
        decode_text("{\"id\":1,\"ts\":0,\"department\":\"S\\u009b\",\"text\":\"x\"}", &d),
        BANTER_ESCHEMA);
    assert_int_equal(decode_text("{\"id\":1,\"ts\":0,\"department\":\"Caf\u00e9\",\"text\":"
                                 "\"\u00a0Gr\u00fc\u00dfe\"}",
                                 &d),
                     0);
    assert_int_equal(decode_text("{\"id\":1,\"ts\":0,\"department\":\"\",\"text\":\"\"}", &d),
                     BANTER_ESCHEMA);
    assert_int_equal(decode_text("{\"id\":0,\"ts\":0,\"department\":\"\",\"text\":\"x\"}", &d),
                     BANTER_ESCHEMA);
    assert_int_equal(
        decode_text("{\"id\":1,\"ts\":0,\"department\":\"\",\"text\":\"x\",\"y\":1}", &d),
        BANTER_ESCHEMA);
    assert_int_equal(decode_text("{\"id\":1,\"ts\":0,\"department\":\"a\\nb\",\"text\":\"x\"}", &d),
                     BANTER_ESCHEMA);
    assert_int_equal(decode_text("{\"id\":1,\"ts\":0,\"department\":\"\",\"text\":\"x\"}", &d), 0);
}

static void receipt_round_trip(void **state)
{
    (void)state;
    ann_rcpt r = {.id = 9007199254740992ll, .read = true}, d;
    buf b;
    buf_init(&b, 1024);
    assert_int_equal(ann_rcpt_encode(&r, &b), 0);
    assert_int_equal(ann_rcpt_decode(&d, buf_data(&b), buf_len(&b)), 0);
    assert_int_equal(d.id, r.id);
    assert_true(d.read);
    buf_free(&b);
    const uint8_t bad1[] = "\x64{\"id\":1}", bad2[] = "\x64{\"id\":1,\"read\":1}",
                  bad3[] = "\x63{\"id\":1,\"read\":true}";
    assert_int_equal(ann_rcpt_decode(&d, bad1, sizeof bad1 - 1), BANTER_ESCHEMA);
    assert_int_equal(ann_rcpt_decode(&d, bad2, sizeof bad2 - 1), BANTER_ESCHEMA);
    assert_int_equal(ann_rcpt_decode(&d, bad3, sizeof bad3 - 1), BANTER_EBADTYPE);
    r.id = 0;
    buf_init(&b, 1024);
    assert_int_equal(ann_rcpt_encode(&r, &b), BANTER_ESCHEMA);
    buf_free(&b);
}

static void revlist_round_trip(void **state)
{
    (void)state;
    static revlist l, d;
    static uint8_t w[REVLIST_LEN_MAX + 1];
    memset(&l, 0, sizeof l);
    l.issued_ms = 1796000000000;
    l.n = 3;
    for (size_t i = 0; i < l.n; i++)
        memset(l.keys[i], (int)(i + 1), 32);
    assert_int_equal(revlist_sign(&l, server), 0);
    size_t n = revlist_encode(&l, w, sizeof w);
    assert_int_equal(n, REVLIST_LEN(3));
    assert_int_equal(revlist_decode(&d, w, n), 0);
    assert_memory_equal(d.server, identity_public(server), 32);
    assert_int_equal(d.n, 3);
    assert_true(revlist_has(&d, l.keys[2]));
    uint8_t other[32] = {9};
    assert_false(revlist_has(&d, other));
    /* every byte is covered by the signature */
    for (size_t i = 1; i < n; i++) {
        w[i] ^= 1;
        assert_int_not_equal(revlist_decode(&d, w, n), 0);
        w[i] ^= 1;
    }
    assert_int_equal(revlist_decode(&d, w, n - 1), BANTER_ETRUNCATED);
    assert_int_equal(revlist_decode(&d, w, n + 1), BANTER_ETRAILING);
    w[0] = 2;
    assert_int_equal(revlist_decode(&d, w, n), BANTER_EUNSUPPORTED);
    w[0] = 1;
    l.n = REVLIST_MAX_KEYS + 1;
    assert_int_equal(revlist_sign(&l, server), BANTER_EINVAL);
    /* an empty list is a list */
    l.n = 0;
    assert_int_equal(revlist_sign(&l, server), 0);
    n = revlist_encode(&l, w, sizeof w);
    assert_int_equal(revlist_decode(&d, w, n), 0);
    assert_int_equal(d.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(announce_round_trip),
        cmocka_unit_test(receipt_round_trip),
        cmocka_unit_test(revlist_round_trip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
