/* SPDX-License-Identifier: MIT */
/*
 * test_stun.c - the STUN codec (shared/stun.h): the Binding request's
 * bytes; answers with XOR-MAPPED-ADDRESS (IPv4 as in RFC 5769 2.2, and
 * IPv6), the old MAPPED-ADDRESS, OTHER-ADDRESS, ERROR-CODE; and every kind
 * of bad datagram refused with its code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "stun.h"

static const uint8_t txid[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

/* RFC 5769 2.2's IPv4 answer (192.0.2.1:32853): SOFTWARE, XOR-MAPPED-ADDRESS,
 * MESSAGE-INTEGRITY, FINGERPRINT (not checked: nothing here is secret). */
static const uint8_t rfc5769_v4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0x11, 0x7c, 0x1e, 0x9e, 0x0e,
    0x17, 0xcb, 0x1b, 0x1f, 0xec, 0xc0, 0x7d, 0x0e, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96};

/* A message under construction. */
typedef struct msg {
    uint8_t b[1400];
    size_t n;
} msg;

static void start(msg *m, unsigned type)
{
    m->b[0] = (uint8_t)(type >> 8), m->b[1] = (uint8_t)type;
    m->b[2] = m->b[3] = 0;
    m->b[4] = 0x21, m->b[5] = 0x12, m->b[6] = 0xa4, m->b[7] = 0x42;
    memcpy(m->b + 8, txid, 12);
    m->n = 20;
}

static void attr(msg *m, unsigned type, const void *v, size_t len)
{
    m->b[m->n] = (uint8_t)(type >> 8), m->b[m->n + 1] = (uint8_t)type;
    m->b[m->n + 2] = (uint8_t)(len >> 8), m->b[m->n + 3] = (uint8_t)len;
    memcpy(m->b + m->n + 4, v, len);
    memset(m->b + m->n + 4 + len, 0, (4 - len % 4) % 4);
    m->n += 4 + ((len + 3) & ~(size_t)3);
    size_t body = m->n - 20;
    m->b[2] = (uint8_t)(body >> 8), m->b[3] = (uint8_t)body;
}

/* An address attribute value; XORed with the header when x. */
static size_t addr_val(uint8_t *v, const stun_addr *a, const msg *m, bool x)
{
    size_t alen = a->family == 4 ? 4 : 16;
    v[0] = 0, v[1] = a->family == 4 ? 1 : 2;
    uint16_t port = x ? (uint16_t)(a->port ^ 0x2112) : a->port;
    v[2] = (uint8_t)(port >> 8), v[3] = (uint8_t)port;
    for (size_t i = 0; i < alen; i++)
        v[4 + i] = (uint8_t)(a->ip[i] ^ (x ? m->b[4 + i] : 0));
    return 4 + alen;
}

static void addr_attr(msg *m, unsigned type, const stun_addr *a, bool x)
{
    uint8_t v[20];
    size_t n = addr_val(v, a, m, x);
    attr(m, type, v, n);
}

static stun_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
    return (stun_addr){.family = 4, .ip = {a, b, c, d}, .port = port};
}

static void test_request(void **state)
{
    (void)state;
    uint8_t out[STUN_HDR_LEN];
    assert_int_equal(stun_binding_request(out, txid), 20);
    const uint8_t want[8] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
    assert_memory_equal(out, want, 8);
    assert_memory_equal(out + 8, txid, 12);
}

static void test_rfc5769(void **state)
{
    (void)state;
    stun_answer a;
    /* Its SOFTWARE value is 11 bytes padded with spaces (padding bytes are
     * anything); MESSAGE-INTEGRITY and FINGERPRINT are skipped. */
    assert_int_equal(sizeof rfc5769_v4, 80);
    assert_int_equal(stun_parse_answer(rfc5769_v4, sizeof rfc5769_v4, txid, &a), 0);
    assert_false(a.error);
    assert_true(a.has_mapped);
    stun_addr want = v4(192, 0, 2, 1, 32853);
    assert_true(stun_addr_equal(&a.mapped, &want));
    char s[STUN_ADDR_STR];
    stun_addr_format(&a.mapped, s);
    assert_string_equal(s, "192.0.2.1:32853");
    assert_false(a.has_other);
}

static void test_v6_and_others(void **state)
{
    (void)state;
    stun_answer a;
    msg m;
    stun_addr six = {.family = 6,
                     .ip = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78, 0x00, 0x11, 0x22, 0x33,
                            0x44, 0x55, 0x66, 0x77},
                     .port = 32853};
    start(&m, 0x0101);
    addr_attr(&m, 0x0020, &six, true);
    assert_int_equal(stun_parse_answer(m.b, m.n, txid, &a), 0);
    assert_true(stun_addr_equal(&a.mapped, &six));
    char s[STUN_ADDR_STR];
    stun_addr_format(&a.mapped, s);
    assert_string_equal(s, "[2001:db8:1234:5678:11:2233:4455:6677]:32853");

    /* MAPPED-ADDRESS alone is taken; XOR-MAPPED-ADDRESS wins over it. */
    stun_addr old = v4(198, 18, 0, 11, 4000), xm = v4(198, 18, 0, 12, 5000);
    stun_addr other = v4(198, 18, 0, 2, 3479);
    start(&m, 0x0101);
    addr_attr(&m, 0x0001, &old, false);
    assert_int_equal(stun_parse_answer(m.b, m.n, txid, &a), 0);
    assert_true(stun_addr_equal(&a.mapped, &old));
    addr_attr(&m, 0x0020, &xm, true);
    addr_attr(&m, 0x802c, &other, false);
    addr_attr(&m, 0x802b, &other, false); /* RESPONSE-ORIGIN: optional, ignored */
    assert_int_equal(stun_parse_answer(m.b, m.n, txid, &a), 0);
    assert_true(stun_addr_equal(&a.mapped, &xm));
    assert_true(a.has_other);
    assert_true(stun_addr_equal(&a.other, &other));
    assert_false(stun_addr_equal(&xm, &old));
    assert_true(stun_addr_same_ip(&other, &(stun_addr){4, {198, 18, 0, 2}, 1}));

    /* An error answer: its code, no address needed. */
    start(&m, 0x0111);
    const uint8_t ec[] = {0, 0, 4, 1, 'n', 'o'};
    attr(&m, 0x0009, ec, sizeof ec);
    assert_int_equal(stun_parse_answer(m.b, m.n, txid, &a), 0);
    assert_true(a.error);
    assert_int_equal(a.err_code, 401);
    assert_false(a.has_mapped);
}

static void test_bad(void **state)
{
    (void)state;
    stun_answer a;
    msg m;
    stun_addr xm = v4(198, 18, 0, 12, 5000);
    start(&m, 0x0101);
    addr_attr(&m, 0x0020, &xm, true);
    msg good = m;
    assert_int_equal(stun_parse_answer(m.b, m.n, txid, &a), 0);

    assert_int_equal(stun_parse_answer(m.b, 19, txid, &a), BANTER_ETRUNCATED);
    assert_int_equal(stun_parse_answer(m.b, m.n - 4, txid, &a), BANTER_ETRUNCATED);
    assert_int_equal(stun_parse_answer(m.b, 1281, txid, &a), BANTER_ETOOBIG);
    m.b[m.n] = 0; /* a trailing word */
    assert_int_equal(stun_parse_answer(m.b, m.n + 4, txid, &a), BANTER_EPROTO);
    uint8_t other_id[12] = {1};
    assert_int_equal(stun_parse_answer(m.b, m.n, other_id, &a), BANTER_EPROTO);
    m.b[4] ^= 1; /* cookie */
    assert_int_equal(stun_parse_answer(m.b, m.n, txid, &a), BANTER_EPROTO);
    m = good;
    m.b[0] |= 0x40; /* not STUN (an RTP or ChannelData first byte) */
    assert_int_equal(stun_parse_answer(m.b, m.n, txid, &a), BANTER_EPROTO);
    m = good;
    m.b[3] = 10; /* body length not a multiple of 4 */
    assert_int_equal(stun_parse_answer(m.b, m.n, txid, &a), BANTER_EPROTO);
    m = good;
    m.b[1] = 0x01, m.b[0] = 0x00; /* a request, not an answer */
    assert_int_equal(stun_parse_answer(m.b, m.n, txid, &a), BANTER_EBADTYPE);
    m = good;
    m.b[20 + 4 + 1] = 3; /* address family 3 */
    assert_int_equal(stun_parse_answer(m.b, m.n, txid, &a), BANTER_EFORMAT);
    m = good;
    m.b[20 + 3] = 20; /* attribute longer than the message */
    assert_int_equal(stun_parse_answer(m.b, m.n, txid, &a), BANTER_ETRUNCATED);
    m = good;
    m.b[20 + 3] = 4; /* an IPv4 address in 4 bytes of value: too short */
    assert_int_equal(stun_parse_answer(m.b, m.n, txid, &a), BANTER_EFORMAT);

    start(&m, 0x0101); /* a success answer with no address */
    attr(&m, 0x8022, "x", 1);
    assert_int_equal(stun_parse_answer(m.b, m.n, txid, &a), BANTER_EFORMAT);
    attr(&m, 0x0003, "\0\0\0\0", 4); /* CHANGE-REQUEST: required, unknown here */
    addr_attr(&m, 0x0020, &xm, true);
    assert_int_equal(stun_parse_answer(m.b, m.n, txid, &a), BANTER_EUNSUPPORTED);
    start(&m, 0x0111);
    const uint8_t ec[] = {0, 0, 9, 1};
    attr(&m, 0x0009, ec, sizeof ec); /* class 9: no such code */
    assert_int_equal(stun_parse_answer(m.b, m.n, txid, &a), BANTER_EFORMAT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_rfc5769),
        cmocka_unit_test(test_v6_and_others),
        cmocka_unit_test(test_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
