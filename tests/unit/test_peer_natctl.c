/* SPDX-License-Identifier: MIT */
/*
 * test_peer_natctl.c - what `banter nat-check` concludes from the
 * candidates gathered: behind NAT (the server-reflexive address is none of
 * the host addresses) or not, TURN over UDP, over TCP only (libnice's
 * relay type preference 20), failed (a TURN server named, no relay), or
 * none named; bad lines are left out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <string.h>

#include "ui/natctl.h"

static const char *get(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static int num(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k)->valueint;
}

#define HOST "candidate:1 1 udp 2015363327 198.19.1.11 50000 typ host"
#define SRFLX                                                                                      \
    "candidate:2 1 udp 1679819007 198.18.0.11 50000 typ srflx raddr 198.19.1.11 rport 50000"
#define RUDP "candidate:3 1 udp 511705087 198.18.0.1 60000 typ relay raddr 198.18.0.11 rport 1"
#define RTCP "candidate:4 1 udp 343932927 198.18.0.1 60001 typ relay raddr 198.18.0.11 rport 1"

static void test_behind_nat(void **state)
{
    (void)state;
    const char *lines[] = {HOST, SRFLX, RUDP, RTCP, "garbage"};
    cJSON *o = natctl_summary("turn:198.18.0.1:3478", 1, lines, 5, 0);
    assert_string_equal(get(o, "nat"), "behind");
    assert_string_equal(get(o, "mapped"), "198.18.0.11");
    assert_string_equal(get(o, "turn"), "udp");
    assert_int_equal(num(o, "host"), 1);
    assert_int_equal(num(o, "srflx"), 1);
    assert_int_equal(num(o, "relay_udp"), 1);
    assert_int_equal(num(o, "relay_tcp"), 1);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "candidates")), 4);
    assert_non_null(strstr(get(o, "verdict"), "behind NAT"));
    cJSON_Delete(o);
}

static void test_udp_blocked_and_failed(void **state)
{
    (void)state;
    const char *tcp_only[] = {HOST, RTCP};
    cJSON *o = natctl_summary("turn:198.18.0.1:3478", 1, tcp_only, 2, 0);
    assert_string_equal(get(o, "turn"), "tcp");
    assert_non_null(strstr(get(o, "verdict"), "UDP to the TURN server is blocked"));
    cJSON_Delete(o);
    const char *none[] = {HOST};
    o = natctl_summary("turn:198.18.0.1:3478", 1, none, 1, 0);
    assert_string_equal(get(o, "turn"), "failed");
    assert_string_equal(get(o, "nat"), "unknown");
    assert_non_null(strstr(get(o, "verdict"), "credentials"));
    cJSON_Delete(o);
    o = natctl_summary("", 0, none, 1, 0);
    assert_string_equal(get(o, "turn"), "none");
    cJSON_Delete(o);
    o = natctl_summary("stun:198.18.0.2:3478", 0, NULL, 0, 0);
    assert_non_null(strstr(get(o, "verdict"), "no usable network interface"));
    cJSON_Delete(o);
}

static void test_public(void **state)
{
    (void)state;
    const char *lines[] = {"candidate:1 1 udp 2015363327 198.18.0.11 50000 typ host",
                           "candidate:2 1 udp 1679819007 198.18.0.11 50000 typ srflx raddr "
                           "198.18.0.11 rport 50000"};
    cJSON *o = natctl_summary("stun:198.18.0.2:3478", 0, lines, 2, 0);
    assert_string_equal(get(o, "nat"), "none");
    assert_non_null(strstr(get(o, "verdict"), "no NAT"));
    cJSON_Delete(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_behind_nat),
        cmocka_unit_test(test_udp_blocked_and_failed),
        cmocka_unit_test(test_public),
    };
    return cmocka_run_group_tests_name("peer_natctl", tests, NULL, NULL);
}
