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

#include <stdlib.h>
#include <string.h>

#include "ui/natctl.h"

/* The reply as the control socket writes it (shared/ctlmsg). */
static char *json_of(const natctl_report *rep)
{
    buf b;
    buf_init(&b, BANTER_CTL_MAX_LINE);
    ctl_reply rp = {.kind = CTL_NAT_CHECK, .u.nat_check = rep->summary};
    assert_int_equal(ctlmsg_encode_reply(&rp, &b), 0);
    char *s = strndup((const char *)buf_data(&b), buf_len(&b));
    buf_free(&b);
    return s;
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
    natctl_report *o = malloc(sizeof *o);
    natctl_summary(o, "turn:198.18.0.1:3478", 1, lines, 5, 0);
    assert_string_equal(o->summary.nat, "behind");
    assert_string_equal(o->summary.mapped, "198.18.0.11");
    assert_string_equal(o->summary.turn, "udp");
    assert_int_equal(o->summary.host, 1);
    assert_int_equal(o->summary.srflx, 1);
    assert_int_equal(o->summary.relay_udp, 1);
    assert_int_equal(o->summary.relay_tcp, 1);
    assert_int_equal(o->summary.ncands, 4);
    assert_non_null(strstr(o->summary.verdict, "behind NAT"));
    free(o);
}

static void test_udp_blocked_and_failed(void **state)
{
    (void)state;
    const char *tcp_only[] = {HOST, RTCP};
    natctl_report *o = malloc(sizeof *o);
    natctl_summary(o, "turn:198.18.0.1:3478", 1, tcp_only, 2, 0);
    assert_string_equal(o->summary.turn, "tcp");
    assert_non_null(strstr(o->summary.verdict, "UDP to the TURN server is blocked"));
    const char *none[] = {HOST};
    natctl_summary(o, "turn:198.18.0.1:3478", 1, none, 1, 0);
    assert_string_equal(o->summary.turn, "failed");
    assert_string_equal(o->summary.nat, "unknown");
    assert_non_null(strstr(o->summary.verdict, "credentials"));
    natctl_summary(o, "", 0, none, 1, 0);
    assert_string_equal(o->summary.turn, "none");
    natctl_summary(o, "stun:198.18.0.2:3478", 0, NULL, 0, 0);
    assert_non_null(strstr(o->summary.verdict, "no usable network interface"));
    free(o);
}

static void test_public(void **state)
{
    (void)state;
    const char *lines[] = {"candidate:1 1 udp 2015363327 198.18.0.11 50000 typ host",
                           "candidate:2 1 udp 1679819007 198.18.0.11 50000 typ srflx raddr "
                           "198.18.0.11 rport 50000"};
    natctl_report *o = malloc(sizeof *o);
    natctl_summary(o, "stun:198.18.0.2:3478", 0, lines, 2, 0);
    assert_string_equal(o->summary.nat, "none");
    assert_non_null(strstr(o->summary.verdict, "no NAT"));
    free(o);
}

/* The JSON is the one natctl wrote with cJSON before the codec wrote it
 * (byte for byte: scripts read it). */
static void test_json_unchanged(void **state)
{
    (void)state;
    static const char *const want[] = {
        "{\"ok\":true,\"servers\":\"turn:198.18.0.1:3478\",\"credentials_expire_ms\":1,"
        "\"candidates\":[{\"type\":\"host\",\"transport\":\"udp\",\"address\":\"198.19.1.11\""
        ",\"port\":50000},{\"type\":\"srflx\",\"transport\":\"udp\",\"address\":\"198.18.0.1"
        "1\",\"port\":50000},{\"type\":\"relay\",\"transport\":\"udp\",\"address\":\"198.18.0"
        ".1\",\"port\":60000,\"turn\":\"udp\"},{\"type\":\"relay\",\"transport\":\"udp\",\"addr"
        "ess\":\"198.18.0.1\",\"port\":60001,\"turn\":\"tcp\"}],\"host\":1,\"srflx\":1,\"rela"
        "y_udp\":1,\"relay_tcp\":1,\"nat\":\"behind\",\"mapped\":\"198.18.0.11\",\"turn\":\"u"
        "dp\",\"verdict\":\"behind NAT, and TURN works over UDP: contacts behind a "
        "friendly NAT connect directly, any other through the relay\"}",
        "{\"ok\":true,\"servers\":\"turn:198.18.0.1:3478\",\"credentials_expire_ms\":1,"
        "\"candidates\":[{\"type\":\"host\",\"transport\":\"udp\",\"address\":\"198.19.1.11\""
        ",\"port\":50000}],\"host\":1,\"srflx\":0,\"relay_udp\":0,\"relay_tcp\":0,\"nat\":\""
        "unknown\",\"turn\":\"failed\",\"verdict\":\"the TURN server did not give a rel"
        "ay (unreachable, or it refused the credentials: check its static-auth-"
        "secret against the rendezvous's turn_secret); text still goes through "
        "the server's relay\"}",
        "{\"ok\":true,\"servers\":\"\",\"credentials_expire_ms\":0,\"candidates\":[],\"hos"
        "t\":0,\"srflx\":0,\"relay_udp\":0,\"relay_tcp\":0,\"nat\":\"unknown\",\"turn\":\"non"
        "e\",\"verdict\":\"no usable network interface was found: no direct connect"
        "ion is possible\"}",
    };
    const char *lines[] = {HOST, SRFLX, RUDP, RTCP, "garbage"};
    const char *none[] = {HOST};
    natctl_report *o = malloc(sizeof *o);
    for (int i = 0; i < 3; i++) {
        if (i == 0)
            natctl_summary(o, "turn:198.18.0.1:3478", 1, lines, 5, 0);
        else if (i == 1)
            natctl_summary(o, "turn:198.18.0.1:3478", 1, none, 1, 0);
        else
            natctl_summary(o, "", 0, NULL, 0, 0);
        char *got = json_of(o);
        assert_string_equal(got, want[i]);
        free(got);
    }
    natctl_summary(o, "stun:198.18.0.2:3478 turn:198.18.0.1:3478", 1796288523412, lines, 5, 0);
    char *got = json_of(o);
    assert_non_null(strstr(got, "\"credentials_expire_ms\":1796288523412,"));
    free(got);
    free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_behind_nat),
        cmocka_unit_test(test_udp_blocked_and_failed),
        cmocka_unit_test(test_public),
        cmocka_unit_test(test_json_unchanged),
    };
    return cmocka_run_group_tests_name("peer_natctl", tests, NULL, NULL);
}
