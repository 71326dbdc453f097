/* SPDX-License-Identifier: MIT */
/*
 * test_rdv_probe.c - who may ask the server for a reachability probe
 * (rendezvous/probe.h, docs/rendezvous.md 16): only an authenticated
 * device, one probe per device key per PROBE_INTERVAL_MS, at most
 * PROBE_MAX_RUNNING in flight, and a table of recent devices that fails
 * closed when it is full.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "config.h"
#include "probe.h"

static void key(uint8_t k[32], uint32_t n)
{
    memset(k, 0, 32);
    memcpy(k, &n, sizeof n);
}

static void test_not_logged_in(void **state)
{
    (void)state;
    probes *p = probes_new();
    uint8_t k[32];
    key(k, 1);
    assert_non_null(p);
    assert_int_equal(probes_admit(p, false, k, 5000), PROBE_NOAUTH);
    /* A refused request does not start the device's interval. */
    assert_int_equal(probes_admit(p, true, k, 5001), PROBE_GO);
    probes_free(p);
}

static void test_one_per_interval(void **state)
{
    (void)state;
    probes *p = probes_new();
    uint8_t a[32], b[32];
    key(a, 1);
    key(b, 2);
    assert_int_equal(probes_admit(p, true, a, 1000), PROBE_GO);
    assert_int_equal(probes_admit(p, true, a, 1001), PROBE_TOO_SOON);
    assert_int_equal(probes_admit(p, true, a, 1000 + PROBE_INTERVAL_MS - 1), PROBE_TOO_SOON);
    /* Another device is not held back by the first. */
    assert_int_equal(probes_admit(p, true, b, 1002), PROBE_GO);
    assert_int_equal(probes_admit(p, true, a, 1000 + PROBE_INTERVAL_MS), PROBE_GO);
    assert_int_equal(probes_admit(p, true, a, 1000 + PROBE_INTERVAL_MS + 5), PROBE_TOO_SOON);
    /* The clock at 0 (a fresh loop) still counts. */
    probes *q = probes_new();
    assert_int_equal(probes_admit(q, true, a, 0), PROBE_GO);
    assert_int_equal(probes_admit(q, true, a, 0), PROBE_TOO_SOON);
    probes_free(q);
    probes_free(p);
}

static void test_table_full(void **state)
{
    (void)state;
    probes *p = probes_new();
    uint8_t k[32];
    for (uint32_t i = 0; i < PROBE_RECENT_CAP; i++) {
        key(k, 100 + i);
        assert_int_equal(probes_admit(p, true, k, 50000 + i), PROBE_GO);
        probes_done(p);
    }
    /* Every entry is within its interval: a new device is refused, not
     * let through by forgetting another. */
    key(k, 99999);
    assert_int_equal(probes_admit(p, true, k, 50000 + PROBE_RECENT_CAP), PROBE_TOO_MANY);
    key(k, 100);
    assert_int_equal(probes_admit(p, true, k, 50000 + PROBE_RECENT_CAP), PROBE_TOO_SOON);
    /* Once the first entries are old, they make room. */
    key(k, 99999);
    assert_int_equal(probes_admit(p, true, k, 50000 + PROBE_INTERVAL_MS), PROBE_GO);
    assert_int_equal(probes_running(p), 1);
    probes_free(p);
}

static void test_running_cap(void **state)
{
    (void)state;
    probes *p = probes_new();
    uint8_t k[32];
    for (uint32_t i = 0; i < PROBE_MAX_RUNNING; i++) {
        key(k, 7000 + i);
        assert_int_equal(probes_admit(p, true, k, 1000), PROBE_GO);
    }
    assert_int_equal(probes_running(p), PROBE_MAX_RUNNING);
    /* One more device, with no probe of its own lately: too many at once. */
    key(k, 9000);
    assert_int_equal(probes_admit(p, true, k, 1000), PROBE_TOO_MANY);
    /* Refused, it was not recorded: once one ends, it may go. */
    probes_done(p);
    assert_int_equal(probes_admit(p, true, k, 1001), PROBE_GO);
    assert_int_equal(probes_admit(p, true, k, 1002), PROBE_TOO_SOON);
    for (uint32_t i = 0; i < PROBE_MAX_RUNNING; i++)
        probes_done(p);
    assert_int_equal(probes_running(p), 0);
    probes_done(p); /* never below zero */
    assert_int_equal(probes_running(p), 0);
    probes_free(p);
}

static bool allowed(const char *addr)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)(void *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)(void *)&ss;
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1)
        v4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1)
        v6->sin6_family = AF_INET6;
    else
        fail_msg("not an address: %s", addr);
    return probe_addr_allowed((const struct sockaddr *)&ss);
}

/* The server probes only a unicast address that is not its own loopback
 * (a local proxy would make every device's probe one of the server's
 * local services). */
static void test_addresses(void **state)
{
    (void)state;
    assert_true(allowed("198.18.0.2"));
    assert_true(allowed("203.0.113.7"));
    assert_true(allowed("10.1.2.3"));
    assert_true(allowed("2001:db8::7"));
    assert_true(allowed("::ffff:198.18.0.2"));
    assert_false(allowed("127.0.0.1"));
    assert_false(allowed("127.0.0.41"));
    assert_false(allowed("::1"));
    assert_false(allowed("::ffff:127.0.0.1"));
    assert_false(allowed("0.0.0.0"));
    assert_false(allowed("::"));
    assert_false(allowed("224.0.0.251"));
    assert_false(allowed("255.255.255.255"));
    assert_false(allowed("ff02::fb"));
    struct sockaddr unix_sa = {.sa_family = AF_UNIX};
    assert_false(probe_addr_allowed(&unix_sa));
}

/* The configuration key that turns probes off. */
static void test_config_key(void **state)
{
    (void)state;
    config c;
    char why[512];
    config_defaults(&c);
    assert_true(c.probe);
    assert_int_equal(config_set(&c, "probe", "off", why, sizeof why), 0);
    assert_false(c.probe);
    assert_int_equal(config_set(&c, "probe", "on", why, sizeof why), 0);
    assert_true(c.probe);
    assert_int_equal(config_set(&c, "probe", "maybe", why, sizeof why), BANTER_EFORMAT);
    assert_non_null(strstr(why, "on or off"));
    assert_true(c.probe);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_logged_in), cmocka_unit_test(test_one_per_interval),
        cmocka_unit_test(test_table_full),    cmocka_unit_test(test_running_cap),
        cmocka_unit_test(test_addresses),     cmocka_unit_test(test_config_key),
    };
    return cmocka_run_group_tests_name("rdv_probe", tests, NULL, NULL);
}
