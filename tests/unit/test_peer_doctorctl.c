/* SPDX-License-Identifier: MIT */
/*
 * test_peer_doctorctl.c - what `banter doctor` says for each state: LAN
 * discovery off, forbidden, avahi-daemon down, no multicast interface,
 * no mDNS answer 10 s after start (and not before); the rendezvous
 * absent, unreachable, not logged in (with the server's refusal), logged
 * in; NAT and TURN from natctl's answer (and its error reply); the NAT's
 * mapping behaviour from the STUN check's report (each verdict); a contact
 * unknown, not approved, offline, online with its route.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ui/doctorctl.h"
#include "ui/natctl.h"

#define has(c, s) assert_non_null(strstr((c).text, (s)))

static void test_discovery(void **state)
{
    (void)state;
    doctor_check c;
    doctor_lan l = {.state = DOCTOR_MDNS_OFF};
    doctor_discovery(&c, &l, "eth0 198.18.0.2", 0);
    assert_string_equal(c.status, "skip");
    l.state = DOCTOR_MDNS_POLICY;
    doctor_discovery(&c, &l, "eth0 198.18.0.2", 0);
    assert_string_equal(c.status, "skip");
    has(c, "policy");
    l.state = DOCTOR_MDNS_DOWN;
    snprintf(l.why, sizeof l.why, "Daemon not running");
    doctor_discovery(&c, &l, "eth0 198.18.0.2", 0);
    assert_string_equal(c.status, "fail");
    has(c, "avahi-daemon is not reachable (Daemon not running)");
    l = (doctor_lan){.state = DOCTOR_MDNS_UP, .up_ms = 1000};
    doctor_discovery(&c, &l, "", 1000);
    assert_string_equal(c.status, "fail");
    has(c, "multicast");
    doctor_discovery(&c, &l, "eth0 198.18.0.2", 1000 + DOCTOR_QUIET_MS - 1);
    assert_string_equal(c.status, "ok"); /* too early to say */
    doctor_discovery(&c, &l, "eth0 198.18.0.2", 1000 + DOCTOR_QUIET_MS);
    assert_string_equal(c.status, "warn");
    has(c, "no mDNS answers seen on eth0 198.18.0.2: multicast may be blocked");
    l.answers = 2;
    doctor_discovery(&c, &l, "eth0 198.18.0.2", 1000 + DOCTOR_QUIET_MS);
    assert_string_equal(c.status, "ok");
    has(c, "2 mDNS answers");
    l.state = DOCTOR_MDNS_WAITING;
    doctor_discovery(&c, &l, "eth0 198.18.0.2", 0);
    assert_string_equal(c.status, "warn");
    doctor_discovery(&c, NULL, "eth0 198.18.0.2", 0);
    assert_string_equal(c.status, "ok");
}

static void test_rendezvous(void **state)
{
    (void)state;
    doctor_check c;
    rdv_status st;
    doctor_rendezvous(&c, NULL);
    assert_string_equal(c.status, "skip");
    memset(&st, 0, sizeof st);
    snprintf(st.server, sizeof st.server, "198.18.0.1:7400");
    snprintf(st.error, sizeof st.error, "connection refused");
    doctor_rendezvous(&c, &st);
    assert_string_equal(c.status, "fail");
    has(c, "not connected to the rendezvous 198.18.0.1:7400: connection refused");
    st.connected = true;
    st.error[0] = '\0';
    doctor_rendezvous(&c, &st);
    assert_string_equal(c.status, "warn");
    has(c, "banter login");
    snprintf(st.auth_error, sizeof st.auth_error, "EAUTH");
    doctor_rendezvous(&c, &st);
    has(c, "EAUTH");
    snprintf(st.user, sizeof st.user, "ada");
    doctor_rendezvous(&c, &st);
    assert_string_equal(c.status, "ok");
    has(c, "logged in as ada");
}

static void test_nat(void **state)
{
    (void)state;
    doctor_check n, t;
    const char *lines[] = {
        "candidate:1 1 udp 2015363327 198.19.1.11 50000 typ host",
        "candidate:2 1 udp 1679819007 198.18.0.11 50000 typ srflx raddr 198.19.1.11 rport 50000",
    };
    natctl_report *o = malloc(sizeof *o);
    natctl_summary(o, "stun:198.18.0.1:3478 turn:198.18.0.1:3478", 0, lines, 2, 0);
    doctor_nat(&n, &t, &o->summary, NULL);
    assert_string_equal(n.status, "ok");
    has(n, "behind NAT, seen from outside as 198.18.0.11");
    assert_string_equal(t.status, "fail"); /* a TURN server named, no relay */
    natctl_summary(o, "stun:198.18.0.1:3478", 0, lines, 1, 0);
    doctor_nat(&n, &t, &o->summary, NULL);
    assert_string_equal(n.status, "warn");
    assert_string_equal(t.status, "skip");
    free(o);
    doctor_nat(&n, &t, NULL, "no rendezvous");
    assert_string_equal(n.status, "skip");
    has(t, "no rendezvous");
}

static void test_contact(void **state)
{
    (void)state;
    doctor_check c;
    node_peer_info pi;
    doctor_contact(&c, "zed", NULL, "no contact matches 'zed'");
    assert_string_equal(c.status, "fail");
    has(c, "zed");
    memset(&pi, 0, sizeof pi);
    snprintf(pi.contact.name, sizeof pi.contact.name, "Bob");
    snprintf(pi.state, sizeof pi.state, "outgoing");
    doctor_contact(&c, "@bob", &pi, "");
    assert_string_equal(c.status, "fail");
    has(c, "not an approved contact (outgoing)");
    snprintf(pi.state, sizeof pi.state, "approved");
    doctor_contact(&c, "@bob", &pi, "");
    assert_string_equal(c.status, "warn");
    has(c, "Bob is offline");
    pi.online = true;
    pi.ndev = 1;
    snprintf(pi.devs[0].route, sizeof pi.devs[0].route, "lan");
    snprintf(pi.devs[0].path, sizeof pi.devs[0].path, "198.18.0.3:7070");
    doctor_contact(&c, "@bob", &pi, "");
    assert_string_equal(c.status, "ok");
    has(c, "reached by lan: 198.18.0.3:7070");
}

static void test_mapping(void **state)
{
    (void)state;
    doctor_check c;
    doctor_mapping(&c, NULL, "no rendezvous configured: the STUN servers come from it");
    assert_string_equal(c.name, "mapping");
    assert_string_equal(c.status, "skip");
    has(c, "no rendezvous configured");
    stun_addr s1 = {4, {198, 18, 0, 2}, 3478}, s2 = {4, {198, 18, 0, 1}, 3478};
    stun_addr m1 = {4, {198, 18, 0, 11}, 40000}, m2 = {4, {198, 18, 0, 11}, 51234};
    natmap_report r = {.n = 2, .dest = {s1, s2}, .answered = {true, true}, .mapped = {m1, m1}};
    natmap_classify(&r, NULL, 0);
    doctor_mapping(&c, &r, NULL);
    assert_string_equal(c.status, "ok");
    has(c, "endpoint-independent mapping (a cone NAT): 198.18.0.2:3478 and 198.18.0.1:3478 both "
           "see this node as 198.18.0.11:40000: direct connections are likely");
    r.mapped[1] = m2;
    natmap_classify(&r, NULL, 0);
    doctor_mapping(&c, &r, NULL);
    assert_string_equal(c.status, "warn");
    has(c, "address/port-dependent mapping (a symmetric NAT): 198.18.0.2:3478 sees this node as "
           "198.18.0.11:40000, 198.18.0.1:3478 as 198.18.0.11:51234");
    has(c, "will usually go through TURN");
    stun_addr local = {4, {198, 18, 0, 11}, 0};
    r.mapped[1] = m1;
    natmap_classify(&r, &local, 1);
    doctor_mapping(&c, &r, NULL);
    assert_string_equal(c.status, "ok");
    has(c, "no NAT: the STUN server sees this host's own address 198.18.0.11:40000");
    r.answered[0] = false;
    natmap_classify(&r, NULL, 0);
    doctor_mapping(&c, &r, NULL);
    assert_string_equal(c.status, "warn");
    has(c, "seen from outside as 198.18.0.11:40000, but only one of");
    has(c, "UDP to the other may be blocked");
    r.refused[0] = true;
    doctor_mapping(&c, &r, NULL);
    has(c, "nothing listens on the other: ICMP port unreachable");
    r.refused[0] = false;
    r.answered[1] = false;
    natmap_classify(&r, NULL, 0);
    doctor_mapping(&c, &r, NULL);
    assert_string_equal(c.status, "fail");
    has(c, "STUN unreachable (UDP blocked?): no answer from 198.18.0.2:3478 and 198.18.0.1:3478");
    r.refused[0] = true;
    doctor_mapping(&c, &r, NULL);
    has(c, "STUN unreachable (UDP blocked?)"); /* one of two refused: still no answer */
    r.refused[1] = true;
    doctor_mapping(&c, &r, NULL);
    assert_string_equal(c.status, "fail");
    has(c, "STUN unreachable: nothing listens on 198.18.0.2:3478 and 198.18.0.1:3478 (ICMP port "
           "unreachable)");
    r.refused[0] = r.refused[1] = false;
    r.err_code[0] = 401;
    doctor_mapping(&c, &r, NULL);
    has(c, "answered with error 401");
    r = (natmap_report){.n = 1, .dest = {s1}, .answered = {true}, .mapped = {m1}};
    natmap_classify(&r, NULL, 0);
    doctor_mapping(&c, &r, NULL);
    assert_string_equal(c.status, "skip");
    has(c, "names one STUN address only");
}

/* The port check: what the rendezvous found when it connected back. */
static void test_port(void **state)
{
    (void)state;
    doctor_check c;
    struct rv_probe pr = {.port = 7070, .result = RV_PR_REACHABLE, .address = "198.18.0.2"};
    rdv_answer a = {.err = RDV_OK, .probe = &pr};
    doctor_port(&c, 7070, &a, "");
    assert_string_equal(c.name, "port");
    assert_string_equal(c.status, "ok");
    assert_non_null(strstr(c.text, "your port 7070 is reachable from outside"));
    assert_non_null(strstr(c.text, "198.18.0.2"));
    pr.result = RV_PR_TIMEOUT;
    doctor_port(&c, 7070, &a, "");
    assert_string_equal(c.status, "warn");
    assert_non_null(strstr(c.text, "your port 7070 is not reachable from the rendezvous"));
    assert_non_null(strstr(c.text, "a firewall or NAT drops it"));
    assert_non_null(strstr(c.text, "NAT traversal or the relay"));
    pr.result = RV_PR_REFUSED;
    doctor_port(&c, 7070, &a, "");
    assert_string_equal(c.status, "warn");
    assert_non_null(strstr(c.text, "refused"));
    pr.result = RV_PR_OTHER;
    doctor_port(&c, 7070, &a, "");
    assert_string_equal(c.status, "warn");
    assert_non_null(strstr(c.text, "another machine"));
    pr.result = RV_PR_ERROR;
    doctor_port(&c, 7070, &a, "");
    assert_string_equal(c.status, "skip");
    rdv_answer rate = {.err = RDV_ESERVER, .code = "ERATE", .why = "refused: ERATE"};
    doctor_port(&c, 7070, &rate, "");
    assert_string_equal(c.status, "skip");
    assert_non_null(strstr(c.text, "once every 10 s"));
    rdv_answer perm = {.err = RDV_ESERVER, .code = "EPERM", .why = "refused: EPERM"};
    doctor_port(&c, 7070, &perm, "");
    assert_string_equal(c.status, "skip");
    assert_non_null(strstr(c.text, "does not test ports"));
    rdv_answer old = {.err = RDV_ESERVER, .code = "EBADTYPE", .why = "refused: EBADTYPE"};
    doctor_port(&c, 7070, &old, "");
    assert_string_equal(c.status, "skip");
    assert_non_null(strstr(c.text, "too old"));
    rdv_answer lost = {.err = RDV_ENOTCONN, .why = "the connection ended"};
    doctor_port(&c, 7070, &lost, "");
    assert_string_equal(c.status, "skip");
    assert_non_null(strstr(c.text, "the connection ended"));
    doctor_port(&c, 7070, NULL, "no rendezvous to test this node's port from outside");
    assert_string_equal(c.status, "skip");
    assert_string_equal(c.text, "no rendezvous to test this node's port from outside");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discovery), cmocka_unit_test(test_rendezvous),
        cmocka_unit_test(test_nat),       cmocka_unit_test(test_contact),
        cmocka_unit_test(test_mapping),   cmocka_unit_test(test_port),
    };
    return cmocka_run_group_tests_name("peer_doctorctl", tests, NULL, NULL);
}
