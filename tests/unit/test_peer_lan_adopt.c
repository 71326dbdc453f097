/* SPDX-License-Identifier: MIT */
/*
 * test_peer_lan_adopt.c - a path the owner made (lan_adopt, as for an ICE
 * stream) runs the LAN's connection handling, and the key the peer
 * proves must be the one expected: two lan instances joined by an
 * in-memory transport pair; with the right keys both admit each other
 * (HELLO, up) and the "ice" route reaches the device while the "lan"
 * route does not; when one side expects another key it closes the
 * connection, logs it, and nobody is admitted. Over such a pair, a
 * device's GROUP_MSGs beyond its rate are refused ERATE, with a bucket
 * apart from its CHATs'; and certificates (RV_CERT) are limited: bad ones
 * are refused until the connection is cut, valid ones beyond the limit
 * are refused unchecked, repeats of the last one taken are ignored, and
 * our own renewals stay within what the peer takes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <string.h>

#include "bcrypto.h"
#include "buf.h"
#include "net/lan.h"
#include "rvmsg.h"

/* ---- an in-memory transport pair ---- */

typedef struct mem {
    transport t;
    struct mem *peer;
    GByteArray *in; /* bytes for this end, delivered from an idle */
    guint src, ready_src;
    bool freed;
} mem;

static gboolean deliver(gpointer v)
{
    mem *m = v;
    m->src = 0;
    if (m->in->len && m->t.cb.data) {
        GByteArray *b = m->in;
        m->in = g_byte_array_new();
        m->t.cb.data(m->t.ud, b->data, b->len);
        g_byte_array_unref(b);
    }
    return G_SOURCE_REMOVE;
}

static ssize_t mem_write(transport *t, const uint8_t *p, size_t len)
{
    mem *m = (mem *)(void *)t;
    if (!m->peer)
        return 0;
    g_byte_array_append(m->peer->in, p, (guint)len);
    if (!m->peer->src)
        m->peer->src = g_idle_add(deliver, m->peer);
    return (ssize_t)len;
}

static void mem_want(transport *t, bool on) { (void)t, (void)on; }
static void mem_pause(transport *t, bool p) { (void)t, (void)p; }
static const char *mem_remote(const transport *t)
{
    (void)t;
    return "memory";
}

static gboolean closed_idle(gpointer v)
{
    mem *m = v;
    if (!m->freed && m->t.cb.closed)
        m->t.cb.closed(m->t.ud, 0);
    return G_SOURCE_REMOVE;
}

static void mem_free(transport *t)
{
    mem *m = (mem *)(void *)t;
    if (m->src)
        g_source_remove(m->src);
    if (m->ready_src)
        g_source_remove(m->ready_src);
    if (m->peer && !m->peer->freed) { /* the other end sees the stream end */
        m->peer->peer = NULL;
        g_idle_add(closed_idle, m->peer);
    }
    g_byte_array_unref(m->in);
    memset(&m->t.cb, 0, sizeof m->t.cb);
    m->freed = true; /* the struct itself is the test's */
}

static const transport_ops mem_ops = {"ice",      mem_write, mem_want, mem_pause,
                                      mem_remote, mem_free,  NULL};

static gboolean ready_idle(gpointer v)
{
    mem *m = v;
    m->ready_src = 0;
    m->t.cb.ready(m->t.ud);
    return G_SOURCE_REMOVE;
}

static transport *make_mem(void *arg, const transport_callbacks *cb, void *ud, int *err)
{
    mem *m = arg;
    m->t.ops = &mem_ops;
    m->t.cb = *cb;
    m->t.ud = ud;
    m->in = g_byte_array_new();
    m->ready_src = g_idle_add(ready_idle, m);
    *err = 0;
    return &m->t;
}

/* ---- two lan instances ---- */

typedef struct side {
    int hellos, ups;
    int chats, gmsgs, erate;           /* taken, and ERATE refusals received */
    int certs, refused;                /* cert() calls; other ERRORs received */
    char account[BANTER_MAX_NAME + 1]; /* what HELLO or the last cert() said */
    const cert *own;                   /* what own_cert() shows */
    char log[512];
} side;

static int on_hello(void *ud, const uint8_t key[static 32], const char *name, const char *source,
                    const char *addr, const char *account, int64_t expires_ms)
{
    side *s = ud;
    (void)key, (void)name, (void)addr;
    assert_true(account ? expires_ms > 0 : expires_ms == 0);
    assert_string_equal(source, "rendezvous");
    s->hellos++;
    g_strlcpy(s->account, account ? account : "", sizeof s->account);
    return 0;
}

static void on_cert(void *ud, const uint8_t key[static 32], const char *name, const char *account,
                    int64_t expires_ms)
{
    side *s = ud;
    (void)key, (void)name;
    assert_true(expires_ms > 0);
    s->certs++;
    g_strlcpy(s->account, account, sizeof s->account);
}

static const cert *own_cert(void *ud) { return ((side *)ud)->own; }

static void on_up(void *ud, const uint8_t key[static 32], const char *addr)
{
    (void)key, (void)addr;
    ((side *)ud)->ups++;
}

static void on_message(void *ud, conn *c, const uint8_t key[static 32], const msg *m)
{
    side *s = ud;
    (void)c, (void)key;
    s->chats += m->type == MSG_CHAT;
    s->gmsgs += m->type == MSG_GROUP_MSG;
    s->erate += m->type == MSG_ERROR && strcmp(m->u.error.code, "ERATE") == 0;
    s->refused += m->type == MSG_ERROR && strcmp(m->u.error.code, "ERATE") != 0;
}

static void on_log(void *ud, const char *text)
{
    side *s = ud;
    g_strlcat(s->log, text, sizeof s->log);
}

static void run(int ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;
    while (g_get_monotonic_time() < end)
        g_main_context_iteration(NULL, FALSE);
}

static void pair(bool wrong_key)
{
    identity *ia, *ib, *ic;
    banter_rng rng = bcrypto_rng_system();
    assert_int_equal(identity_generate(&ia, rng), 0);
    assert_int_equal(identity_generate(&ib, rng), 0);
    assert_int_equal(identity_generate(&ic, rng), 0);
    side sa = {0}, sb = {0};
    lan_callbacks cb = {.hello = on_hello, .up = on_up, .log = on_log};
    lan_config cfg = {.port = 0};
    lan *la, *lb;
    g_strlcpy(cfg.name, "a", sizeof cfg.name);
    assert_int_equal(lan_new(&la, NULL, ia, &cfg, &cb, &sa), 0);
    g_strlcpy(cfg.name, "b", sizeof cfg.name);
    assert_int_equal(lan_new(&lb, NULL, ib, &cfg, &cb, &sb), 0);
    mem ma = {0}, mb = {0};
    ma.peer = &mb;
    mb.peer = &ma;
    /* a expects b's key; b expects b's own (wrong) or a's. */
    assert_int_equal(lan_adopt(la, make_mem, &ma, true, identity_public(ib), "memory"), 0);
    assert_int_equal(
        lan_adopt(lb, make_mem, &mb, false, identity_public(wrong_key ? ic : ia), "memory"), 0);
    run(500);
    mr_route lr = lan_route(la), ir = lan_ice_route(la);
    store_device d = {0};
    memcpy(d.key, identity_public(ib), 32);
    if (wrong_key) {
        assert_int_equal(sb.hellos + sb.ups, 0);
        assert_int_equal(sa.ups, 0);
        assert_non_null(strstr(sb.log, "proved another key"));
        assert_false(ir.reaches(ir.ud, NULL, &d));
    } else {
        assert_int_equal(sa.hellos, 1);
        assert_int_equal(sb.hellos, 1);
        assert_int_equal(sa.ups, 1);
        assert_int_equal(sb.ups, 1);
        assert_true(ir.reaches(ir.ud, NULL, &d));
        assert_false(lr.reaches(lr.ud, NULL, &d));
        assert_string_equal(conn_kind(lan_conn(la, identity_public(ib))), "ice");
    }
    lan_free(la);
    lan_free(lb);
    run(50);
    identity_free(ia);
    identity_free(ib);
    identity_free(ic);
}

static void test_adopted_path(void **state)
{
    (void)state;
    pair(false);
}

static void test_wrong_key_closed(void **state)
{
    (void)state;
    pair(true);
}

/* Each GROUP_MSG costs its receiver a signature check, up to 2,000
 * HMACs and a write: a device sending 150 at once has the first
 * chat_burst (100) taken and the rest refused ERATE (naming each: sent
 * again later), and its CHATs, counted apart, still go. Before, GROUP_MSG
 * had no limit at all. */
static void test_group_msg_rate(void **state)
{
    (void)state;
    identity *ia, *ib;
    banter_rng rng = bcrypto_rng_system();
    assert_int_equal(identity_generate(&ia, rng), 0);
    assert_int_equal(identity_generate(&ib, rng), 0);
    side sa = {0}, sb = {0};
    lan_callbacks cb = {.hello = on_hello, .up = on_up, .message = on_message, .log = on_log};
    lan_config cfg = {.port = 0, .chat_rate = 20, .chat_burst = 100};
    lan *la, *lb;
    g_strlcpy(cfg.name, "a", sizeof cfg.name);
    assert_int_equal(lan_new(&la, NULL, ia, &cfg, &cb, &sa), 0);
    g_strlcpy(cfg.name, "b", sizeof cfg.name);
    assert_int_equal(lan_new(&lb, NULL, ib, &cfg, &cb, &sb), 0);
    mem ma = {0}, mb = {0};
    ma.peer = &mb;
    mb.peer = &ma;
    assert_int_equal(lan_adopt(la, make_mem, &ma, true, identity_public(ib), "memory"), 0);
    assert_int_equal(lan_adopt(lb, make_mem, &mb, false, identity_public(ia), "memory"), 0);
    run(500);
    assert_int_equal(sa.ups + sb.ups, 2);
    conn *c = lan_conn(la, identity_public(ib));
    assert_non_null(c);
    uint8_t sealed[200];
    memset(sealed, 7, sizeof sealed);
    for (int i = 0; i < 150; i++) {
        uint8_t id[MSG_ID_LEN];
        msg m;
        rng.fill(rng.ctx, id, sizeof id);
        assert_int_equal(msg_gmsg_init(&m, id, sealed, sizeof sealed), 0);
        assert_int_equal(conn_send(c, &m), 0);
        msg_clear(&m);
    }
    for (int i = 0; i < 20; i++) {
        uint8_t id[MSG_ID_LEN];
        msg m;
        rng.fill(rng.ctx, id, sizeof id);
        assert_int_equal(msg_chat_init(&m, id, 1, "hi", 2, false), 0);
        assert_int_equal(conn_send(c, &m), 0);
        msg_clear(&m);
    }
    run(500);
    /* A few tokens may come back while they arrive (20 a second). */
    assert_in_range(sb.gmsgs, 100, 110);
    assert_int_equal(sa.erate, 150 - sb.gmsgs);
    assert_int_equal(sb.chats, 20);
    assert_non_null(lan_conn(la, identity_public(ib))); /* not closed for it */
    lan_free(la);
    lan_free(lb);
    run(50);
    identity_free(ia);
    identity_free(ib);
}

/* ---- certificates ---- */

/* Two lans joined as in pair(): a (the receiver, pinning server) and b
 * (the device, showing own certificates of its sa/sb side). */
typedef struct duo {
    identity *ia, *ib;
    lan *la, *lb;
    side sa, sb;
    mem ma, mb;
} duo;

static void duo_open(duo *d, const identity *server)
{
    banter_rng rng = bcrypto_rng_system();
    char fp[IDENTITY_FP_LEN + 1], fpd[IDENTITY_FP_DIGITS + 1];
    size_t o = 0;
    identity_fingerprint(identity_public(server), fp);
    for (const char *p = fp; *p; p++)
        if (*p >= '0' && *p <= '9')
            fpd[o++] = *p;
    fpd[o] = '\0';
    assert_int_equal(identity_generate(&d->ia, rng), 0);
    assert_int_equal(identity_generate(&d->ib, rng), 0);
    lan_callbacks cb = {.hello = on_hello,
                        .cert = on_cert,
                        .up = on_up,
                        .message = on_message,
                        .log = on_log,
                        .own_cert = own_cert};
    lan_config cfg = {.port = 0, .server_fpd = fpd};
    g_strlcpy(cfg.name, "a", sizeof cfg.name);
    assert_int_equal(lan_new(&d->la, NULL, d->ia, &cfg, &cb, &d->sa), 0);
    g_strlcpy(cfg.name, "b", sizeof cfg.name);
    assert_int_equal(lan_new(&d->lb, NULL, d->ib, &cfg, &cb, &d->sb), 0);
    d->ma.peer = &d->mb;
    d->mb.peer = &d->ma;
    assert_int_equal(lan_adopt(d->la, make_mem, &d->ma, true, identity_public(d->ib), "memory"), 0);
    assert_int_equal(lan_adopt(d->lb, make_mem, &d->mb, false, identity_public(d->ia), "memory"),
                     0);
    run(500);
    assert_int_equal(d->sa.ups + d->sb.ups, 2);
}

static void duo_close(duo *d)
{
    lan_free(d->la);
    lan_free(d->lb);
    run(50);
    identity_free(d->ia);
    identity_free(d->ib);
}

/* A certificate from server for device as bob, issued at ms (so that
 * each is new bytes). */
static cert bob_cert(const identity *server, const identity *device, int64_t ms)
{
    cert c;
    assert_int_equal(cert_issue(&c, server, identity_public(device), "bob", ms, 3600000), 0);
    return c;
}

/* The RV_CERT frame of c; garble: its signature's last byte xor'ed. */
static void send_cert(conn *c, const cert *ct, uint8_t garble)
{
    rvmsg m = {.type = RV_CERT};
    m.u.cert = *ct;
    buf b;
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    assert_int_equal(rvmsg_encode(&m, &b), 0);
    uint8_t *p = (uint8_t *)buf_data(&b);
    p[buf_len(&b) - 1] ^= garble;
    assert_int_equal(conn_send_raw(c, p, buf_len(&b)), 0);
    buf_free(&b);
}

/* Certificates that do not verify, in a loop: each is a refused message,
 * and those beyond the limit are refused without a check (logged once),
 * so the connection is cut after MAX_REFUSED (16). Before, each cost a
 * signature check, silently, forever. */
static void test_cert_flood_bad(void **state)
{
    (void)state;
    identity *srv;
    assert_int_equal(identity_generate(&srv, bcrypto_rng_system()), 0);
    duo d = {0};
    duo_open(&d, srv);
    conn *c = lan_conn(d.lb, identity_public(d.ia));
    assert_non_null(c);
    int64_t now = g_get_real_time() / 1000;
    cert ct = bob_cert(srv, d.ib, now);
    for (int i = 0; i < 200 && conn_is_open(c); i++)
        send_cert(c, &ct, (uint8_t)(1 + i % 255));
    run(500);
    assert_int_equal(d.sa.certs, 0);
    assert_non_null(strstr(d.sa.log, "more organisation certificates than allowed"));
    assert_null(strstr(strstr(d.sa.log, "than allowed") + 1, "than allowed")); /* once */
    assert_null(lan_conn(d.la, identity_public(d.ib)));                        /* cut */
    assert_in_range(d.sb.refused + d.sb.erate, 1, 17);
    duo_close(&d);
    identity_free(srv);
}

/* Valid certificates, each new: LAN_CERT_BURST taken (each a store write
 * and a kick in the node), the rest refused ERATE unchecked; the last one
 * taken, repeated, costs nothing and is not refused. */
static void test_cert_flood_valid(void **state)
{
    (void)state;
    identity *srv;
    assert_int_equal(identity_generate(&srv, bcrypto_rng_system()), 0);
    duo d = {0};
    duo_open(&d, srv);
    conn *c = lan_conn(d.lb, identity_public(d.ia));
    int64_t now = g_get_real_time() / 1000;
    cert last = {0};
    for (int i = 0; i < 10; i++) {
        cert ct = bob_cert(srv, d.ib, now - i);
        send_cert(c, &ct, 0);
        if (i == LAN_CERT_BURST - 1)
            last = ct;
    }
    run(300);
    assert_int_equal(d.sa.certs, LAN_CERT_BURST);
    assert_string_equal(d.sa.account, "bob");
    assert_int_equal(d.sb.erate, 10 - LAN_CERT_BURST);
    for (int i = 0; i < 100; i++)
        send_cert(c, &last, 0);
    run(300);
    assert_int_equal(d.sa.certs, LAN_CERT_BURST);
    assert_int_equal(d.sb.erate, 10 - LAN_CERT_BURST);
    assert_int_equal(d.sb.refused, 0);
    assert_non_null(lan_conn(d.la, identity_public(d.ib))); /* not cut for repeats */
    duo_close(&d);
    identity_free(srv);
}

/* Our own renewals (lan_present_cert after each login to the rendezvous,
 * however often): the peer takes every one we send, and we send within
 * its limit. */
static void test_cert_renewals_within_limit(void **state)
{
    (void)state;
    identity *srv;
    assert_int_equal(identity_generate(&srv, bcrypto_rng_system()), 0);
    duo d = {0};
    duo_open(&d, srv);
    int64_t now = g_get_real_time() / 1000;
    cert ct;
    d.sb.own = &ct;
    for (int i = 0; i < 20; i++) {
        ct = bob_cert(srv, d.ib, now - i);
        lan_present_cert(d.lb);
    }
    run(300);
    assert_int_equal(d.sa.certs, LAN_CERT_BURST - 1); /* the rest wait for the limit */
    assert_int_equal(d.sb.erate + d.sb.refused, 0);
    assert_string_equal(d.sa.account, "bob");
    assert_non_null(lan_conn(d.la, identity_public(d.ib)));
    duo_close(&d);
    identity_free(srv);
}

int main(void)
{
    if (bcrypto_init() != 0)
        return 1;
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adopted_path),
        cmocka_unit_test(test_wrong_key_closed),
        cmocka_unit_test(test_group_msg_rate),
        cmocka_unit_test(test_cert_flood_bad),
        cmocka_unit_test(test_cert_flood_valid),
        cmocka_unit_test(test_cert_renewals_within_limit),
    };
    /* clang-format on */
    return cmocka_run_group_tests_name("peer_lan_adopt", tests, NULL, NULL);
}
