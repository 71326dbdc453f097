/* SPDX-License-Identifier: MIT */
/*
 * test_netaddr.c - kinds of IP addresses: the edges of each IPv4 and IPv6
 * range, and an IPv4-mapped IPv6 address taken as the IPv4 one it
 * carries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "netaddr.h"

static netaddr_kind kind_of(const char *text)
{
    uint8_t a[16] = {0};
    if (inet_pton(AF_INET, text, a) == 1)
        return netaddr_classify(false, a);
    assert_int_equal(inet_pton(AF_INET6, text, a), 1);
    return netaddr_classify(true, a);
}

static void test_ipv4(void **state)
{
    (void)state;
    assert_int_equal(kind_of("0.0.0.0"), NETADDR_UNSPECIFIED);
    assert_int_equal(kind_of("0.255.255.255"), NETADDR_UNSPECIFIED);
    assert_int_equal(kind_of("1.0.0.0"), NETADDR_UNICAST);
    assert_int_equal(kind_of("126.255.255.255"), NETADDR_UNICAST);
    assert_int_equal(kind_of("127.0.0.1"), NETADDR_LOOPBACK);
    assert_int_equal(kind_of("127.255.0.9"), NETADDR_LOOPBACK);
    assert_int_equal(kind_of("128.0.0.1"), NETADDR_UNICAST);
    assert_int_equal(kind_of("169.253.1.1"), NETADDR_UNICAST);
    assert_int_equal(kind_of("169.254.3.4"), NETADDR_LINK_LOCAL);
    assert_int_equal(kind_of("169.255.0.1"), NETADDR_UNICAST);
    assert_int_equal(kind_of("198.18.0.1"), NETADDR_UNICAST);
    assert_int_equal(kind_of("223.255.255.255"), NETADDR_UNICAST);
    assert_int_equal(kind_of("224.0.0.251"), NETADDR_MULTICAST);
    assert_int_equal(kind_of("239.255.255.250"), NETADDR_MULTICAST);
    assert_int_equal(kind_of("240.0.0.1"), NETADDR_RESERVED);
    assert_int_equal(kind_of("255.255.255.255"), NETADDR_RESERVED);
}

static void test_ipv6(void **state)
{
    (void)state;
    assert_int_equal(kind_of("::"), NETADDR_UNSPECIFIED);
    assert_int_equal(kind_of("::1"), NETADDR_LOOPBACK);
    assert_int_equal(kind_of("::2"), NETADDR_UNICAST);
    assert_int_equal(kind_of("fe80::1"), NETADDR_LINK_LOCAL);
    assert_int_equal(kind_of("febf::1"), NETADDR_LINK_LOCAL);
    assert_int_equal(kind_of("fec0::1"), NETADDR_UNICAST);
    assert_int_equal(kind_of("ff02::fb"), NETADDR_MULTICAST);
    assert_int_equal(kind_of("2001:db8::1"), NETADDR_UNICAST);
    assert_int_equal(kind_of("fd00::1"), NETADDR_UNICAST);
    /* Mapped: the IPv4 rules. */
    assert_int_equal(kind_of("::ffff:127.0.0.1"), NETADDR_LOOPBACK);
    assert_int_equal(kind_of("::ffff:0.0.0.0"), NETADDR_UNSPECIFIED);
    assert_int_equal(kind_of("::ffff:255.255.255.255"), NETADDR_RESERVED);
    assert_int_equal(kind_of("::ffff:198.18.0.2"), NETADDR_UNICAST);
    assert_string_equal(netaddr_kind_name(NETADDR_LOOPBACK), "loopback");
    assert_string_equal(netaddr_kind_name(NETADDR_RESERVED), "reserved or broadcast");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4),
        cmocka_unit_test(test_ipv6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
