/* SPDX-License-Identifier: MIT */
/*
 * test_natmap.c - the NAT mapping check (shared/natmap.h) on a fake clock
 * and random source: the retransmission schedule and the 2 s deadline;
 * the verdicts (the same mapping from two vantage points: endpoint-
 * independent; different: symmetric; a host address: no NAT; one answer
 * only; none: unreachable); answers from an address not asked, or with
 * another transaction id, ignored; RFC 5780 OTHER-ADDRESS as the second
 * vantage point when one server is named; an error answer; ICMP port
 * unreachable giving a vantage point up at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "natmap.h"

static uint8_t counter;

static void fill(void *ctx, uint8_t *out, size_t len)
{
    (void)ctx;
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(counter + i);
    counter = (uint8_t)(counter + 0x40);
}

static const banter_rng rng = {fill, NULL};

static stun_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
    return (stun_addr){.family = 4, .ip = {a, b, c, d}, .port = port};
}

/* The Binding success answer to req (its transaction id) saying mapped,
 * with OTHER-ADDRESS other when given; its length. */
static size_t answer(uint8_t *out, const uint8_t *req, const stun_addr *mapped,
                     const stun_addr *other)
{
    memcpy(out, req, 20);
    out[0] = 0x01, out[1] = 0x01;
    size_t n = 20;
    out[n] = 0x00, out[n + 1] = 0x20, out[n + 2] = 0, out[n + 3] = 8;
    out[n + 4] = 0, out[n + 5] = 1;
    uint16_t xp = (uint16_t)(mapped->port ^ 0x2112);
    out[n + 6] = (uint8_t)(xp >> 8), out[n + 7] = (uint8_t)xp;
    for (size_t i = 0; i < 4; i++)
        out[n + 8 + i] = (uint8_t)(mapped->ip[i] ^ req[4 + i]);
    n += 12;
    if (other) {
        out[n] = 0x80, out[n + 1] = 0x2c, out[n + 2] = 0, out[n + 3] = 8;
        out[n + 4] = 0, out[n + 5] = 1;
        out[n + 6] = (uint8_t)(other->port >> 8), out[n + 7] = (uint8_t)other->port;
        memcpy(out + n + 8, other->ip, 4);
        n += 12;
    }
    out[2] = 0, out[3] = (uint8_t)(n - 20);
    return n;
}

static const stun_addr s1 = {4, {198, 18, 0, 2}, 3478}, s2 = {4, {198, 18, 0, 1}, 3478};

static void test_schedule_unreachable(void **state)
{
    (void)state;
    stun_addr d[2] = {s1, s2}, to;
    uint8_t req[20];
    natmap *m = natmap_new(d, 2, &rng, 1000);
    assert_non_null(m);
    int sends[2] = {0, 0};
    int64_t t = 1000, when[2][8];
    while (!natmap_done(m, t)) {
        while (natmap_poll_send(m, t, &to, req)) {
            int i = stun_addr_equal(&to, &s1) ? 0 : 1;
            assert_true(sends[i] < 8);
            when[i][sends[i]++] = t - 1000;
        }
        int64_t next = natmap_next_ms(m);
        assert_true(next > t);
        t = next;
    }
    assert_int_equal(t, 1000 + NATMAP_DEADLINE_MS);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(sends[i], 4);
        assert_int_equal(when[i][0], 0);
        assert_int_equal(when[i][1], 250);
        assert_int_equal(when[i][2], 750);
        assert_int_equal(when[i][3], 1750);
    }
    assert_false(natmap_poll_send(m, t, &to, req));
    assert_int_equal(natmap_next_ms(m), -1);
    natmap_report r;
    natmap_result(m, NULL, 0, &r);
    assert_int_equal(r.verdict, NATMAP_UNREACHABLE);
    assert_int_equal(r.n, 2);
    natmap_free(m);

    /* Bad arguments. */
    stun_addr zero = v4(0, 0, 0, 0, 3478), six = {.family = 6, .ip = {1}, .port = 1};
    assert_null(natmap_new(d, 0, &rng, 0));
    assert_null(natmap_new(d, 3, &rng, 0));
    assert_null(natmap_new(&zero, 1, &rng, 0));
    stun_addr mixed[2] = {s1, six};
    assert_null(natmap_new(mixed, 2, &rng, 0));
    natmap_free(NULL);
}

/* Both vantage points answer: mapping a to s1 and b to s2. */
static void two_answers(const stun_addr *a, const stun_addr *b, const stun_addr *locals, size_t nl,
                        natmap_report *r)
{
    stun_addr d[2] = {s1, s2}, to;
    uint8_t req[2][20], buf[64];
    natmap *m = natmap_new(d, 2, &rng, 0);
    assert_non_null(m);
    for (int i = 0; i < 2; i++) {
        assert_true(natmap_poll_send(m, 0, &to, req[i]));
        assert_true(stun_addr_equal(&to, &d[i]));
    }
    assert_false(natmap_poll_send(m, 0, &to, buf));
    /* From a stranger, and with the other server's id: ignored. */
    size_t n = answer(buf, req[0], a, NULL);
    stun_addr stranger = v4(198, 18, 0, 66, 3478);
    assert_int_equal(natmap_feed(m, &stranger, buf, n, 10), BANTER_ENOENT);
    assert_int_equal(natmap_feed(m, &s2, buf, n, 10), BANTER_EPROTO);
    assert_false(natmap_done(m, 10));
    assert_int_equal(natmap_feed(m, &s1, buf, n, 10), 0);
    assert_false(natmap_done(m, 10));
    n = answer(buf, req[1], b, NULL);
    assert_int_equal(natmap_feed(m, &s2, buf, n, 20), 0);
    assert_true(natmap_done(m, 20));
    assert_int_equal(natmap_next_ms(m), -1);
    natmap_result(m, locals, nl, r);
    assert_true(r->answered[0] && r->answered[1]);
    natmap_free(m);
}

static void test_verdicts(void **state)
{
    (void)state;
    natmap_report r;
    stun_addr pub = v4(198, 18, 0, 11, 40000), pub2 = v4(198, 18, 0, 11, 51234);
    stun_addr locals[2] = {v4(198, 19, 1, 10, 0), v4(127, 0, 0, 1, 0)};
    two_answers(&pub, &pub, locals, 2, &r);
    assert_int_equal(r.verdict, NATMAP_INDEPENDENT);
    two_answers(&pub, &pub2, locals, 2, &r);
    assert_int_equal(r.verdict, NATMAP_DEPENDENT);
    stun_addr other_ip = v4(198, 18, 0, 12, 40000);
    two_answers(&pub, &other_ip, locals, 2, &r);
    assert_int_equal(r.verdict, NATMAP_DEPENDENT);
    stun_addr mine = v4(198, 19, 1, 10, 40000);
    two_answers(&mine, &mine, locals, 2, &r);
    assert_int_equal(r.verdict, NATMAP_NO_NAT);

    /* The pure classification. */
    natmap_report c = {.n = 2, .answered = {true, false}, .mapped = {pub}};
    natmap_classify(&c, locals, 2);
    assert_int_equal(c.verdict, NATMAP_ONE_POINT);
    c.mapped[0] = mine;
    natmap_classify(&c, locals, 2);
    assert_int_equal(c.verdict, NATMAP_NO_NAT);
    c.answered[0] = false;
    natmap_classify(&c, locals, 2);
    assert_int_equal(c.verdict, NATMAP_UNREACHABLE);
    c = (natmap_report){.n = 2, .answered = {false, true}, .mapped = {pub, pub2}};
    natmap_classify(&c, NULL, 0);
    assert_int_equal(c.verdict, NATMAP_ONE_POINT);
}

static void test_other_address(void **state)
{
    (void)state;
    stun_addr to, pub = v4(198, 18, 0, 11, 40000), other = v4(198, 18, 0, 1, 3479);
    uint8_t req[20], req2[20], buf[64];
    natmap *m = natmap_new(&s1, 1, &rng, 0);
    assert_non_null(m);
    assert_true(natmap_poll_send(m, 0, &to, req));
    /* The answer comes after one resend; it names the server's other address. */
    assert_false(natmap_poll_send(m, 100, &to, buf));
    assert_true(natmap_poll_send(m, 250, &to, buf));
    assert_memory_equal(buf, req, 20); /* the same transaction */
    size_t n = answer(buf, req, &pub, &other);
    assert_int_equal(natmap_feed(m, &s1, buf, n, 300), 0);
    assert_int_equal(natmap_feed(m, &s1, buf, n, 300), BANTER_ENOENT); /* a duplicate */
    assert_false(natmap_done(m, 300));
    assert_true(natmap_poll_send(m, 300, &to, req2));
    assert_true(stun_addr_equal(&to, &other));
    assert_int_equal(natmap_next_ms(m), 550);
    /* Its deadline runs from its own first request. */
    assert_false(natmap_done(m, 2100));
    natmap_report r;
    natmap_result(m, NULL, 0, &r);
    assert_int_equal(r.verdict, NATMAP_ONE_POINT);
    assert_true(r.from_other);
    n = answer(buf, req2, &pub, NULL);
    assert_int_equal(natmap_feed(m, &other, buf, n, 2200), 0);
    assert_true(natmap_done(m, 2200));
    natmap_result(m, NULL, 0, &r);
    assert_int_equal(r.verdict, NATMAP_INDEPENDENT);
    assert_int_equal(r.n, 2);
    natmap_free(m);

    /* coturn's OTHER-ADDRESS: the same address, its alt port: taken; the
     * very address asked: not. */
    stun_addr alt = v4(198, 18, 0, 2, 3479);
    const stun_addr *others[2] = {&alt, &s1};
    for (int k = 0; k < 2; k++) {
        /* k 1: the very address asked, not followed. */
        m = natmap_new(&s1, 1, &rng, 0);
        assert_true(natmap_poll_send(m, 0, &to, req));
        n = answer(buf, req, &pub, others[k]);
        assert_int_equal(natmap_feed(m, &s1, buf, n, 5), 0);
        assert_int_equal(natmap_done(m, 5), k == 1);
        natmap_result(m, NULL, 0, &r);
        assert_int_equal(r.n, k == 0 ? 2 : 1);
        assert_int_equal(r.from_other, k == 0);
        natmap_free(m);
    }

    /* An OTHER-ADDRESS aimed at this host, the link or a group: not followed. */
    const stun_addr bad[] = {v4(127, 0, 0, 1, 3478),   v4(169, 254, 1, 1, 3478),
                             v4(224, 0, 0, 251, 5353), v4(255, 255, 255, 255, 3478),
                             v4(0, 0, 0, 0, 3478),     v4(198, 18, 0, 1, 0)};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        m = natmap_new(&s1, 1, &rng, 0);
        assert_true(natmap_poll_send(m, 0, &to, req));
        n = answer(buf, req, &pub, &bad[k]);
        assert_int_equal(natmap_feed(m, &s1, buf, n, 5), 0);
        assert_true(natmap_done(m, 5));
        natmap_result(m, NULL, 0, &r);
        assert_int_equal(r.n, 1);
        natmap_free(m);
    }

    /* An error answer: done, no mapping, its code kept. */
    m = natmap_new(&s1, 1, &rng, 0);
    assert_true(natmap_poll_send(m, 0, &to, req));
    memcpy(buf, req, 20);
    buf[0] = 0x01, buf[1] = 0x11, buf[3] = 8;
    const uint8_t ec[8] = {0x00, 0x09, 0x00, 0x04, 0, 0, 4, 20};
    memcpy(buf + 20, ec, 8);
    assert_int_equal(natmap_feed(m, &s1, buf, 28, 5), 0);
    assert_true(natmap_done(m, 5));
    natmap_result(m, NULL, 0, &r);
    assert_int_equal(r.verdict, NATMAP_UNREACHABLE);
    assert_int_equal(r.err_code[0], 420);
    natmap_free(m);
}

static void test_refused(void **state)
{
    (void)state;
    stun_addr d[2] = {s1, s2}, to, pub = v4(198, 18, 0, 11, 40000);
    uint8_t req[2][20], buf[64];
    natmap *m = natmap_new(d, 2, &rng, 0);
    assert_true(natmap_poll_send(m, 0, &to, req[0]));
    assert_true(natmap_poll_send(m, 0, &to, req[1]));
    /* Port unreachable from s2: given up at once; s1 answers. */
    stun_addr stranger = v4(198, 18, 0, 66, 3478);
    assert_int_equal(natmap_refused(m, &stranger), BANTER_ENOENT);
    assert_int_equal(natmap_refused(m, &s2), 0);
    assert_int_equal(natmap_refused(m, &s2), BANTER_ENOENT);
    assert_false(natmap_done(m, 10));
    size_t n = answer(buf, req[0], &pub, NULL);
    assert_int_equal(natmap_feed(m, &s1, buf, n, 10), 0);
    assert_true(natmap_done(m, 10));
    natmap_report r;
    natmap_result(m, NULL, 0, &r);
    assert_int_equal(r.verdict, NATMAP_ONE_POINT);
    assert_false(r.refused[0]);
    assert_true(r.refused[1]);
    /* Nothing resent to a refused point. */
    assert_false(natmap_poll_send(m, 300, &to, buf));
    natmap_free(m);
    /* Both refused: done before the deadline, unreachable. */
    m = natmap_new(d, 2, &rng, 0);
    assert_int_equal(natmap_refused(m, &s1), 0);
    assert_int_equal(natmap_refused(m, &s2), 0);
    assert_true(natmap_done(m, 1));
    natmap_result(m, NULL, 0, &r);
    assert_int_equal(r.verdict, NATMAP_UNREACHABLE);
    assert_true(r.refused[0] && r.refused[1]);
    natmap_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_unreachable),
        cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_other_address),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
