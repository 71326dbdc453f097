/* SPDX-License-Identifier: MIT */
/*
 * test_rdv_ratelimit.c - login backoff: 1 s, 2 s, 4 s... after consecutive
 * failures, capped at 5 minutes; a reset forgets the key, and so does an
 * hour without a failure; the table is bounded and drops the entry failed
 * least recently; source keys: an IPv4 address, an IPv6 /64 (every
 * address of it shares one count), an IPv4-mapped address as IPv4.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "ratelimit.h"

static void test_backoff(void **state)
{
    (void)state;
    ratelimit *rl = rl_new(8);
    assert_non_null(rl);
    assert_int_equal(rl_check(rl, "u:a", 0), 0);
    rl_fail(rl, "u:a", 1000);
    assert_int_equal(rl_check(rl, "u:a", 1000), 1000);
    assert_int_equal(rl_check(rl, "u:a", 1999), 1);
    assert_int_equal(rl_check(rl, "u:a", 2000), 0);
    rl_fail(rl, "u:a", 2000);
    assert_int_equal(rl_check(rl, "u:a", 2000), 2000);
    rl_fail(rl, "u:a", 4000);
    assert_int_equal(rl_check(rl, "u:a", 4000), 4000);
    for (int i = 0; i < 20; i++)
        rl_fail(rl, "u:a", 10000);
    assert_int_equal(rl_check(rl, "u:a", 10000), RL_MAX_DELAY_MS);
    assert_int_equal(rl_check(rl, "u:b", 10000), 0);
    rl_reset(rl, "u:a");
    assert_int_equal(rl_check(rl, "u:a", 10000), 0);
    assert_int_equal(rl_count(rl), 0);
    rl_free(rl);
    rl_free(NULL);
}

static void test_bounded(void **state)
{
    (void)state;
    char k[32];
    ratelimit *rl = rl_new(4);
    assert_non_null(rl);
    for (int i = 0; i < 10; i++) {
        snprintf(k, sizeof k, "a:10.0.0.%d", i);
        rl_fail(rl, k, 100 + i);
    }
    assert_int_equal(rl_count(rl), 4);
    assert_int_equal(rl_check(rl, "a:10.0.0.0", 100), 0);    /* dropped */
    assert_int_equal(rl_check(rl, "a:10.0.0.9", 109), 1000); /* newest kept */
    rl_free(rl);
}

/* Failures an hour old are forgotten: the count starts again. */
static void test_forget(void **state)
{
    (void)state;
    ratelimit *rl = rl_new(8);
    assert_non_null(rl);
    for (int i = 0; i < 9; i++)
        rl_fail(rl, "a:10.0.0.1", 1000);
    assert_int_equal(rl_check(rl, "a:10.0.0.1", 1000), 256000);
    assert_int_equal(rl_check(rl, "a:10.0.0.1", 1000 + RL_FORGET_MS - 1), 0);
    rl_fail(rl, "a:10.0.0.1", 1000 + RL_FORGET_MS - 1);
    assert_int_equal(rl_check(rl, "a:10.0.0.1", 1000 + RL_FORGET_MS - 1), RL_MAX_DELAY_MS);
    rl_fail(rl, "a:10.0.0.1", 10 * RL_FORGET_MS);
    assert_int_equal(rl_check(rl, "a:10.0.0.1", 10 * RL_FORGET_MS),
                     1000); /* a first failure again */
    rl_free(rl);
}

static void key_of(const char *text, char out[static RL_KEY_MAX])
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in = (struct sockaddr_in *)(void *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)&ss;
    if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(1234);
    } else {
        assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(5678);
    }
    rl_addr_key((const struct sockaddr *)&ss, out);
}

/* A source is an IPv4 address or an IPv6 /64: a neighbour in the same /64
 * shares the count (the whole /64 usually belongs to one subscriber). */
static void test_addr_key(void **state)
{
    (void)state;
    char a[RL_KEY_MAX], b[RL_KEY_MAX];
    key_of("198.18.0.7", a);
    assert_string_equal(a, "a:198.18.0.7");
    key_of("198.18.0.8", b);
    assert_string_not_equal(a, b);
    key_of("::ffff:198.18.0.7", b);
    assert_string_equal(a, b);
    key_of("2001:db8:1:2::1", a);
    assert_string_equal(a, "a:2001:db8:1:2::/64");
    key_of("2001:db8:1:2:ffff:eeee:dddd:cccc", b);
    assert_string_equal(a, b);
    key_of("2001:db8:1:3::1", b);
    assert_string_not_equal(a, b);
    key_of("::1", a);
    key_of("::2", b);
    assert_string_equal(a, b);
    assert_string_equal(a, "a:::/64");
    rl_addr_key(NULL, a);
    assert_string_equal(a, "a:?");
    /* Neighbours share one backoff. */
    ratelimit *rl = rl_new(8);
    assert_non_null(rl);
    key_of("2001:db8:1:2::1", a);
    rl_fail(rl, a, 100);
    key_of("2001:db8:1:2::99", b);
    assert_int_equal(rl_check(rl, b, 100), 1000);
    key_of("2001:db8:1:4::1", b);
    assert_int_equal(rl_check(rl, b, 100), 0);
    rl_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forget),
        cmocka_unit_test(test_addr_key),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
