/* SPDX-License-Identifier: MIT */
/*
 * test_peer_lan_found.c - what mDNS says drives dialing, within bounds: a
 * device announced again and again at the same address (a TXT record
 * changed, a goodbye and a return: anyone on the LAN can make mDNS say
 * it) is dialed after the back-off of its failed dials, not at once each
 * time; a new address is dialed at once. The "device" is a listener on
 * loopback that takes each connection and closes it at once (a failed
 * dial); lan_found is called directly (mdns.c, which refuses loopback
 * records, is not in the way). A record the LAN proves false is refuted
 * (lan.h): another key answers at its address, or LAN_REFUTE_FAILS dials
 * to it fail in a row.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bcrypto.h"
#include "net/lan.h"

#define FPD "1234567890123456789012345678901234567890"

typedef struct sentinel {
    int fd;
    uint16_t port;
    guint watch;
    int accepted;
    bool hold; /* keep the connections open, silent (a tarpit) */
    int held[64];
} sentinel;

static gboolean on_accept(gint fd, GIOCondition cond, gpointer v)
{
    sentinel *s = v;
    (void)cond;
    int c = accept(fd, NULL, NULL);
    if (c >= 0) {
        if (s->hold && s->accepted < 64)
            s->held[s->accepted] = c;
        else
            close(c); /* the dial fails in its handshake */
        s->accepted++;
    }
    return G_SOURCE_CONTINUE;
}

static void sentinel_open(sentinel *s)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s->fd >= 0);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->fd, 64), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
    s->port = ntohs(a.sin_port);
    s->accepted = 0;
    s->hold = false;
    s->watch = g_unix_fd_add(s->fd, G_IO_IN, on_accept, s);
}

static void sentinel_close(sentinel *s)
{
    g_source_remove(s->watch);
    close(s->fd);
    for (int i = 0; s->hold && i < s->accepted && i < 64; i++)
        close(s->held[i]);
}

static void run(int ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;
    while (g_get_monotonic_time() < end)
        g_main_context_iteration(NULL, FALSE);
}

static int on_hello(void *ud, const uint8_t key[static 32], const char *name, const char *source,
                    const char *addr, const char *account, int64_t expires_ms)
{
    (void)ud, (void)key, (void)name, (void)source, (void)addr, (void)account, (void)expires_ms;
    return 0;
}

/* What refuted() was told. */
static struct {
    int n;
    char fpd[IDENTITY_FP_DIGITS + 1];
    char addr[64];
    uint16_t port;
} refuted;

static void on_refuted(void *ud, const char *fpd, const char *addr, uint16_t port)
{
    (void)ud;
    refuted.n++;
    g_strlcpy(refuted.fpd, fpd, sizeof refuted.fpd);
    g_strlcpy(refuted.addr, addr, sizeof refuted.addr);
    refuted.port = port;
}

/* What confirmed() was told. */
static struct {
    int n;
    char fpd[IDENTITY_FP_DIGITS + 1];
    uint16_t port;
} confirmed;

static void on_confirmed(void *ud, const char *fpd, const char *addr, uint16_t port)
{
    (void)ud, (void)addr;
    confirmed.n++;
    g_strlcpy(confirmed.fpd, fpd, sizeof confirmed.fpd);
    confirmed.port = port;
}

/* A node's LAN side named "a" under a new identity (*id; the caller
 * frees both), listening on any port. */
static lan *lan_open(identity **id)
{
    static const lan_callbacks cb = {
        .hello = on_hello, .refuted = on_refuted, .confirmed = on_confirmed};
    lan_config cfg = {.port = 0};
    g_strlcpy(cfg.name, "a", sizeof cfg.name);
    lan *l;
    assert_int_equal(identity_generate(id, bcrypto_rng_system()), 0);
    assert_int_equal(lan_new(&l, NULL, *id, &cfg, &cb, NULL), 0);
    return l;
}

static void test_same_address_backs_off(void **state)
{
    (void)state;
    identity *id;
    lan *l = lan_open(&id);
    sentinel s1, s2;
    sentinel_open(&s1);
    sentinel_open(&s2);
    /* 24 announcements of the same address over 1.2 s: dials at 0 and
     * after 0.5 s (the back-off), not one per announcement. Before, each
     * reset the back-off and dialed again at once. */
    for (int i = 0; i < 24; i++) {
        char name[16];
        snprintf(name, sizeof name, "v%d", i); /* as a changed TXT record */
        lan_found(l, FPD, name, "127.0.0.1", s1.port);
        run(50);
    }
    assert_in_range(s1.accepted, 1, 3);
    /* Gone and back at the same address: not at once either. */
    int before = s1.accepted;
    lan_lost(l, FPD);
    lan_found(l, FPD, "v", "127.0.0.1", s1.port);
    run(300);
    assert_int_equal(s1.accepted, before);
    /* A new address (another port) is dialed at once. */
    lan_found(l, FPD, "v", "127.0.0.1", s2.port);
    run(200);
    assert_int_equal(s2.accepted, 1);
    lan_free(l);
    run(50);
    sentinel_close(&s1);
    sentinel_close(&s2);
    identity_free(id);
}

/* One neighbour announces 20 devices (20 keys) at its own address, each
 * a tarpit that takes the connection and says nothing: at most
 * LAN_DEFAULT_PER_ADDR of our dials to that address at once (the others
 * wait), so it cannot hold every connection slot. Before, all 20 were
 * dialed and held. */
static void test_dials_per_address(void **state)
{
    (void)state;
    identity *id;
    lan *l = lan_open(&id);
    sentinel tar;
    sentinel_open(&tar);
    tar.hold = true;
    for (int i = 0; i < 20; i++) {
        char fpd[sizeof FPD];
        snprintf(fpd, sizeof fpd, "%s", FPD);
        fpd[0] = (char)('0' + i / 10);
        fpd[1] = (char)('0' + i % 10);
        lan_found(l, fpd, "t", "127.0.0.1", tar.port);
    }
    run(500);
    assert_int_equal(tar.accepted, LAN_DEFAULT_PER_ADDR);
    lan_free(l);
    run(50);
    sentinel_close(&tar);
    identity_free(id);
}

static bool wait_refuted(int n, int ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;
    while (refuted.n < n && g_get_monotonic_time() < end)
        g_main_context_iteration(NULL, FALSE);
    return refuted.n >= n;
}

/* A made-up key announced at the address of a node that answers with its
 * own (a neighbour's false record at a colleague's address): refuted at
 * the first dial, and not dialed again. */
static void test_refuted_by_other_key(void **state)
{
    (void)state;
    identity *ida, *idb;
    lan *a = lan_open(&ida), *b = lan_open(&idb);
    memset(&refuted, 0, sizeof refuted);
    lan_found(a, FPD, "fake", "127.0.0.1", lan_port(b));
    assert_true(wait_refuted(1, 5000));
    assert_string_equal(refuted.fpd, FPD);
    assert_string_equal(refuted.addr, "127.0.0.1");
    assert_int_equal(refuted.port, lan_port(b));
    run(1500); /* a redial would refute it again */
    assert_int_equal(refuted.n, 1);
    assert_int_equal(lan_count(a), 0);
    lan_free(a);
    lan_free(b);
    run(50);
    identity_free(ida);
    identity_free(idb);
}

/* A record whose address takes each connection and drops it: refuted
 * once after LAN_REFUTE_FAILS dials, and still dialed after that with
 * the back-off (a colleague cut off for a while is met again); the same
 * record reported again is refuted at its next failed dial; a new
 * address is dialed at once. Before, nothing was refuted. */
static void test_refuted_by_failed_dials(void **state)
{
    (void)state;
    identity *id;
    lan *l = lan_open(&id);
    sentinel s1, s2;
    sentinel_open(&s1);
    sentinel_open(&s2);
    memset(&refuted, 0, sizeof refuted);
    lan_found(l, FPD, "dead", "127.0.0.1", s1.port);
    assert_true(wait_refuted(1, 10000));
    assert_int_equal(s1.accepted, (int)LAN_REFUTE_FAILS);
    assert_string_equal(refuted.addr, "127.0.0.1");
    assert_int_equal(refuted.port, s1.port);
    /* The next dial comes 2 s after the third, and refutes nothing. */
    gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (s1.accepted <= (int)LAN_REFUTE_FAILS && g_get_monotonic_time() < end)
        g_main_context_iteration(NULL, FALSE);
    run(200);
    assert_int_equal(s1.accepted, (int)LAN_REFUTE_FAILS + 1);
    assert_int_equal(refuted.n, 1);
    /* Reported again as it was: not dialed at once; refuted at the next
     * failure (after 4 s of back-off). */
    lan_found(l, FPD, "dead", "127.0.0.1", s1.port);
    run(300);
    assert_int_equal(s1.accepted, (int)LAN_REFUTE_FAILS + 1);
    assert_true(wait_refuted(2, 6000));
    /* At a new address: at once, with a fresh count. */
    lan_found(l, FPD, "dead", "127.0.0.1", s2.port);
    run(300);
    assert_int_equal(s2.accepted, 1);
    assert_int_equal(refuted.n, 2);
    lan_free(l);
    run(50);
    sentinel_close(&s1);
    sentinel_close(&s2);
    identity_free(id);
}

/* A record whose node answers with the advertised key is confirmed (the
 * owner makes a record refuted while it did not answer count again), and
 * never refuted. */
static void test_confirmed(void **state)
{
    (void)state;
    identity *ida, *idb;
    lan *a = lan_open(&ida), *b = lan_open(&idb);
    char fp[IDENTITY_FP_LEN + 1], fpd[IDENTITY_FP_DIGITS + 1];
    identity_fingerprint(identity_public(idb), fp);
    size_t k = 0;
    for (const char *p = fp; *p && k < IDENTITY_FP_DIGITS; p++)
        if (*p >= '0' && *p <= '9')
            fpd[k++] = *p;
    fpd[k] = '\0';
    memset(&refuted, 0, sizeof refuted);
    memset(&confirmed, 0, sizeof confirmed);
    lan_found(a, fpd, "b", "127.0.0.1", lan_port(b));
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (confirmed.n == 0 && g_get_monotonic_time() < end)
        g_main_context_iteration(NULL, FALSE);
    assert_int_equal(confirmed.n, 1);
    assert_string_equal(confirmed.fpd, fpd);
    assert_int_equal(confirmed.port, lan_port(b));
    assert_int_equal(refuted.n, 0);
    lan_free(a);
    lan_free(b);
    run(50);
    identity_free(ida);
    identity_free(idb);
}

int main(void)
{
    if (bcrypto_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_address_backs_off),
        cmocka_unit_test(test_dials_per_address),
        cmocka_unit_test(test_refuted_by_other_key),
        cmocka_unit_test(test_refuted_by_failed_dials),
        cmocka_unit_test(test_confirmed),
    };
    return cmocka_run_group_tests_name("peer_lan_found", tests, NULL, NULL);
}
