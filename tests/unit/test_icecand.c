/* SPDX-License-Identifier: MIT */
/*
 * test_icecand.c - ICE credentials and candidates from a remote device:
 * what is accepted, its canonical form, and each refusal with its reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "icecand.h"

static const icecand_policy wan = {.same_lan = false, .allow_ipv6 = true, .allow_tcp = true};
static const icecand_policy lan = {.same_lan = true, .allow_ipv6 = true, .allow_tcp = true};
static const icecand_policy udp4 = {0};

static int parse(const char *line, const icecand_policy *pol, icecand *c)
{
    return icecand_parse(line, strlen(line), pol, c);
}

static void roundtrip(const char *line, const char *canonical)
{
    icecand c, d;
    char buf[BANTER_ICE_MAX_LINE + 1];
    assert_int_equal(parse(line, &wan, &c), 0);
    int n = icecand_format(&c, buf, sizeof buf);
    assert_true(n > 0);
    assert_string_equal(buf, canonical);
    assert_int_equal(parse(buf, &wan, &d), 0);
    assert_memory_equal(&c, &d, sizeof c);
}

static void test_accepts(void **state)
{
    (void)state;
    roundtrip("candidate:1 1 UDP 2013266431 198.18.0.11 51744 typ srflx raddr 198.19.1.11 "
              "rport 51744",
              "candidate:1 1 udp 2013266431 198.18.0.11 51744 typ srflx");
    roundtrip("a=candidate:Ab+/9 1 udp 16777215 198.18.0.1 52375 typ relay raddr 198.18.0.11 "
              "rport 40707 generation 0 network-id 1 network-cost 10",
              "candidate:Ab+/9 1 udp 16777215 198.18.0.1 52375 typ relay");
    roundtrip("candidate:7 1 TCP 1015022079 198.19.1.11 9 typ host tcptype active",
              "candidate:7 1 tcp 1015022079 198.19.1.11 9 typ host tcptype active");
    roundtrip("candidate:8 1 tcp 1010827775 198.19.1.11 40000 typ host tcptype passive",
              "candidate:8 1 tcp 1010827775 198.19.1.11 40000 typ host tcptype passive");
    roundtrip("candidate:2 1 udp 2130706431 2001:db8::1 3478 typ host",
              "candidate:2 1 udp 2130706431 2001:db8::1 3478 typ host");
}

static void test_refuses_syntax(void **state)
{
    (void)state;
    icecand c;
    static const char *const bad[] = {
        "",
        "candidate:",
        "1 1 udp 1 198.18.0.1 1 typ host",                    /* no prefix */
        "candidate:1 1 udp 1 198.18.0.1 1 typ",               /* no type */
        "candidate:1 1 udp 1 198.18.0.1 1 type host",         /* typ misspelt */
        "candidate:1  1 udp 1 198.18.0.1 1 typ host",         /* two spaces */
        "candidate:1 1 udp 1 198.18.0.1 1 typ host ",         /* trailing space */
        "candidate:1 0 udp 1 198.18.0.1 1 typ host",          /* component 0 */
        "candidate:1 257 udp 1 198.18.0.1 1 typ host",        /* component 257 */
        "candidate:1 1 udp 0 198.18.0.1 1 typ host",          /* priority 0 */
        "candidate:1 1 udp 2147483648 198.18.0.1 1 typ host", /* 2^31 */
        "candidate:1 1 udp -1 198.18.0.1 1 typ host",
        "candidate:1 1 udp 1 198.18.0.1 0 typ host",                  /* port 0 on udp */
        "candidate:1 1 udp 1 198.18.0.1 65536 typ host",              /* port */
        "candidate:1 1 udp 1 198.18.0.1 1 typ nat",                   /* type */
        "candidate:1 1 udp 1 198.18.0.1 1 typ host raddr 198.18.0.2", /* no rport */
        "candidate:1 1 udp 1 198.18.0.1 1 typ host rport 5",          /* no raddr */
        "candidate:1 1 udp 1 198.18.0.1 1 typ host tcptype active",   /* udp with tcptype */
        "candidate:1 1 tcp 1 198.18.0.1 1 typ host",                  /* tcp without */
        "candidate:1 1 udp 1 198.18.0.1 1 typ host foo bar",          /* unknown key */
        "candidate:1 1 udp 1 198.18.0.1 1 typ host generation",       /* key, no value */
        "candidate:f-1 1 udp 1 198.18.0.1 1 typ host",                /* foundation char */
        "candidate:1 1 udp 1 198.18.0.1 1 typ host raddr x.local rport 1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int ret = parse(bad[i], &lan, &c);
        if (ret != BANTER_EFORMAT)
            fail_msg("'%s' gave %d", bad[i], ret);
    }
    /* a foundation of 33 characters */
    assert_int_equal(parse("candidate:123456789012345678901234567890123 1 udp 1 198.18.0.1 1 "
                           "typ host",
                           &lan, &c),
                     BANTER_ETOOLONG);
    char longline[BANTER_ICE_MAX_LINE + 2];
    memset(longline, 'a', sizeof longline);
    assert_int_equal(icecand_parse(longline, sizeof longline, &lan, &c), BANTER_ETOOLONG);
}

static void test_refuses_addresses(void **state)
{
    (void)state;
    icecand c;
    static const char *const local[] = {
        "candidate:1 1 udp 1 127.0.0.1 22 typ host",
        "candidate:1 1 udp 1 169.254.3.4 22 typ host",
        "candidate:1 1 udp 1 ::1 22 typ host",
        "candidate:1 1 udp 1 fe80::1 22 typ host",
    };
    static const char *const never[] = {
        "candidate:1 1 udp 1 0.0.0.0 22 typ host",
        "candidate:1 1 udp 1 224.0.0.251 5353 typ host",
        "candidate:1 1 udp 1 255.255.255.255 22 typ host",
        "candidate:1 1 udp 1 :: 22 typ host",
        "candidate:1 1 udp 1 ff02::1 22 typ host",
    };
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(parse(local[i], &wan, &c), BANTER_EPERM);
        assert_int_equal(parse(local[i], &lan, &c), 0); /* the peer is on our LAN */
    }
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(parse(never[i], &wan, &c), BANTER_EPERM);
        assert_int_equal(parse(never[i], &lan, &c), BANTER_EPERM);
    }
    /* names (mDNS), IPv4-mapped IPv6, and what the policy leaves out */
    assert_int_equal(parse("candidate:1 1 udp 1 abc.local 22 typ host", &lan, &c),
                     BANTER_EUNSUPPORTED);
    assert_int_equal(parse("candidate:1 1 udp 1 ::ffff:127.0.0.1 22 typ host", &lan, &c),
                     BANTER_EUNSUPPORTED);
    assert_int_equal(parse("candidate:1 1 udp 1 2001:db8::1 22 typ host", &udp4, &c),
                     BANTER_EUNSUPPORTED);
    assert_int_equal(parse("candidate:1 1 tcp 1 198.18.0.1 22 typ host tcptype passive", &udp4, &c),
                     BANTER_EUNSUPPORTED);
    assert_int_equal(parse("candidate:1 1 sctp 1 198.18.0.1 22 typ host", &lan, &c),
                     BANTER_EUNSUPPORTED);
}

static void test_credentials(void **state)
{
    (void)state;
    char s[300];
    assert_int_equal(icecand_check_ufrag("abcd", 4), 0);
    assert_int_equal(icecand_check_ufrag("abc", 3), BANTER_EFORMAT);
    assert_int_equal(icecand_check_ufrag("ab d", 4), BANTER_EFORMAT);
    assert_int_equal(icecand_check_pwd("0123456789abcdefghij+/", 22), 0);
    assert_int_equal(icecand_check_pwd("0123456789abcdefghij+", 21), BANTER_EFORMAT);
    memset(s, 'a', sizeof s);
    assert_int_equal(icecand_check_ufrag(s, 256), 0);
    assert_int_equal(icecand_check_ufrag(s, 257), BANTER_ETOOLONG);
    assert_int_equal(icecand_check_pwd(s, 257), BANTER_ETOOLONG);
}

static void test_set(void **state)
{
    (void)state;
    static icecand_set set;
    size_t rejected;
    int first;
    const char *lines[BANTER_ICE_MAX_CANDS + 1];
    const char *good = "candidate:1 1 udp 2013266431 198.18.0.11 51744 typ srflx";
    const char *loop = "candidate:2 1 udp 2130706431 127.0.0.1 51744 typ host";
    for (size_t i = 0; i <= BANTER_ICE_MAX_CANDS; i++)
        lines[i] = good;
    lines[1] = loop;
    assert_int_equal(icecand_parse_set("abcd", "0123456789abcdefghijkl", lines, 3, &wan, &set,
                                       &rejected, &first),
                     0);
    assert_int_equal(set.n, 2);
    assert_int_equal(rejected, 1);
    assert_int_equal(first, BANTER_EPERM);
    assert_string_equal(set.ufrag, "abcd");
    /* too many candidates, or bad credentials: all refused */
    assert_int_equal(icecand_parse_set("abcd", "0123456789abcdefghijkl", lines,
                                       BANTER_ICE_MAX_CANDS + 1, &wan, &set, &rejected, NULL),
                     BANTER_ETOOBIG);
    assert_int_equal(
        icecand_parse_set("ab", "0123456789abcdefghijkl", lines, 1, &wan, &set, &rejected, NULL),
        BANTER_EFORMAT);
    assert_int_equal(set.n, 0);
}

static void test_urls(void **state)
{
    (void)state;
    icecand_url u;
    assert_int_equal(icecand_parse_url("stun:198.18.0.1:3478", &u), 0);
    assert_false(u.turn);
    assert_string_equal(u.host, "198.18.0.1");
    assert_int_equal(u.port, 3478);
    assert_int_equal(icecand_parse_url("turn:[2001:db8::1]:443?transport=tcp", &u), 0);
    assert_true(u.turn);
    assert_string_equal(u.host, "2001:db8::1");
    assert_int_equal(u.transport, ICECAND_URL_TCP);
    assert_int_equal(icecand_parse_url("turn:198.18.0.1:3478?transport=udp", &u), 0);
    assert_int_equal(u.transport, ICECAND_URL_UDP);
    static const char *const bad[] = {
        "stun:turn.example.com:3478",
        "stun:198.18.0.1",
        "stun:198.18.0.1:0",
        "stun:198.18.0.1:65536",
        "stuns:1.2.3.4:1",
        "stun:1.2.3.4:1?transport=udp",
        "turn:1.2.3.4:1?transport=tls",
        "turn:[::1:1",
        "turn:1.2.3.4:x",
        "turn::3478",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(icecand_parse_url(bad[i], &u), BANTER_EFORMAT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_refuses_syntax),
        cmocka_unit_test(test_refuses_addresses),
        cmocka_unit_test(test_credentials),
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
