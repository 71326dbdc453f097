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
 * apart from its CHATs'.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <string.h>

#include "bcrypto.h"
#include "net/lan.h"

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
    int chats, gmsgs, erate; /* taken, and ERATE refusals received */
    char log[512];
} side;

static int on_hello(void *ud, const uint8_t key[static 32], const char *name, const char *source,
                    const char *addr, const char *account)
{
    side *s = ud;
    (void)key, (void)name, (void)addr, (void)account;
    assert_string_equal(source, "rendezvous");
    s->hellos++;
    return 0;
}

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

int main(void)
{
    if (bcrypto_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adopted_path),
        cmocka_unit_test(test_wrong_key_closed),
        cmocka_unit_test(test_group_msg_rate),
    };
    return cmocka_run_group_tests_name("peer_lan_adopt", tests, NULL, NULL);
}
