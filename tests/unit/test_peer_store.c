/* SPDX-License-Identifier: MIT */
/*
 * test_peer_store.c - the SQLite store: peers, messages, outbox, history,
 * persistence across reopen, a full disk, and files it must refuse.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/store.h"

struct fixture {
    char dir[64];
    char path[128];
    store *st;
};

/* Remove the fixture directory and the files in it (it has no subfolders). */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        assert_int_equal(unlinkat(dirfd(d), e->d_name, 0), 0);
    }
    closedir(d);
    assert_int_equal(rmdir(dir), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/banter-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/banter.db", f->dir);
    char err[256];
    assert_int_equal(store_open(&f->st, f->path, err, sizeof err), 0);
    assert_non_null(f->st);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->st);
    remove_dir(f->dir);
    free(f);
    return 0;
}

static void reopen(struct fixture *f)
{
    store_close(f->st);
    f->st = NULL;
    char err[256];
    assert_int_equal(store_open(&f->st, f->path, err, sizeof err), 0);
    assert_non_null(f->st);
}

static void fill_key(uint8_t key[STORE_KEYLEN], uint8_t seed)
{
    for (size_t i = 0; i < STORE_KEYLEN; i++)
        key[i] = (uint8_t)(seed + i);
}

static void fill_id(uint8_t id[MSG_ID_LEN], uint32_t n)
{
    memset(id, 0xa5, MSG_ID_LEN);
    memcpy(id, &n, sizeof n);
}

static store_peer make_peer(uint8_t seed, const char *name, store_trust trust)
{
    store_peer p;
    memset(&p, 0, sizeof p);
    fill_key(p.key, seed);
    snprintf(p.name, sizeof p.name, "%s", name);
    p.trust = trust;
    snprintf(p.source, sizeof p.source, "lan");
    snprintf(p.addresses, sizeof p.addresses, "198.18.0.%u:7070,[fd00::%u]:7070", seed, seed);
    p.first_seen_ms = 1700000000000 + seed;
    p.last_seen_ms = 1700000001000 + seed;
    return p;
}

/* A message with a borrowed body. */
static store_msg make_msg(uint32_t n, const uint8_t peer[STORE_KEYLEN], store_dir dir,
                          const char *body)
{
    store_msg m;
    memset(&m, 0, sizeof m);
    fill_id(m.id, n);
    memcpy(m.peer, peer, STORE_KEYLEN);
    m.dir = dir;
    m.state = dir == STORE_OUT ? STORE_QUEUED : STORE_RECEIVED;
    m.ts_ms = 1700000000000 + n;
    m.stored_ms = 1700000000500 + n;
    m.body = (char *)(uintptr_t)body;
    m.body_len = strlen(body);
    return m;
}

static void assert_peer_equal(const store_peer *a, const store_peer *b)
{
    assert_memory_equal(a->key, b->key, STORE_KEYLEN);
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->trust, b->trust);
    assert_string_equal(a->source, b->source);
    assert_string_equal(a->addresses, b->addresses);
    assert_int_equal(a->first_seen_ms, b->first_seen_ms);
    assert_int_equal(a->last_seen_ms, b->last_seen_ms);
    assert_int_equal(a->has_replaces, b->has_replaces);
    if (a->has_replaces)
        assert_memory_equal(a->replaces, b->replaces, STORE_KEYLEN);
}

static void assert_msg_equal(const store_msg *got, const store_msg *want)
{
    assert_memory_equal(got->id, want->id, MSG_ID_LEN);
    assert_memory_equal(got->peer, want->peer, STORE_KEYLEN);
    assert_int_equal(got->dir, want->dir);
    assert_int_equal(got->state, want->state);
    assert_int_equal(got->broadcast, want->broadcast);
    assert_int_equal(got->ts_ms, want->ts_ms);
    assert_int_equal(got->stored_ms, want->stored_ms);
    assert_int_equal(got->body_len, want->body_len);
    assert_memory_equal(got->body, want->body, want->body_len);
    assert_int_equal(got->body[got->body_len], '\0');
}

static void test_open_close_reopen(void **state)
{
    struct fixture *f = *state;
    store_peer p = make_peer(1, "alice", TRUST_KNOWN), got;
    assert_int_equal(store_peer_put(f->st, &p), 0);
    reopen(f);
    assert_int_equal(store_peer_get(f->st, p.key, &got), 0);
    assert_peer_equal(&got, &p);
    /* Private to its owner. */
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 077, 0);
    store_close(NULL);
    assert_non_null(store_errmsg(f->st));
}

static void test_peer_crud(void **state)
{
    struct fixture *f = *state;
    store_peer p = make_peer(7, "bob", TRUST_NEW), got;
    uint8_t unknown[STORE_KEYLEN];
    fill_key(unknown, 200);

    assert_int_equal(store_peer_get(f->st, unknown, &got), BANTER_ENOENT);
    assert_int_equal(store_peer_delete(f->st, unknown), BANTER_ENOENT);

    assert_int_equal(store_peer_put(f->st, &p), 0);
    assert_int_equal(store_peer_get(f->st, p.key, &got), 0);
    assert_peer_equal(&got, &p);

    /* Put again replaces, including the replaces field. */
    p.trust = TRUST_CHANGED;
    p.has_replaces = true;
    fill_key(p.replaces, 99);
    snprintf(p.name, sizeof p.name, "bob ✓ Ünïcode");
    p.last_seen_ms = 1800000000000;
    assert_int_equal(store_peer_put(f->st, &p), 0);
    assert_int_equal(store_peer_get(f->st, p.key, &got), 0);
    assert_peer_equal(&got, &p);

    /* And back to no replaces. */
    p.has_replaces = false;
    memset(p.replaces, 0, sizeof p.replaces);
    assert_int_equal(store_peer_put(f->st, &p), 0);
    assert_int_equal(store_peer_get(f->st, p.key, &got), 0);
    assert_peer_equal(&got, &p);
    assert_false(got.has_replaces);

    store_peer *list = NULL;
    size_t n = 99;
    assert_int_equal(store_peer_list(f->st, &list, &n), 0);
    assert_int_equal(n, 1);
    free(list);

    assert_int_equal(store_peer_delete(f->st, p.key), 0);
    assert_int_equal(store_peer_get(f->st, p.key, &got), BANTER_ENOENT);
    assert_int_equal(store_peer_delete(f->st, p.key), BANTER_ENOENT);
    assert_int_equal(store_peer_list(f->st, &list, &n), 0);
    assert_int_equal(n, 0);
    assert_null(list);
}

static void test_peer_all_trust_values(void **state)
{
    struct fixture *f = *state;
    const store_trust all[] = {TRUST_NEW, TRUST_KNOWN, TRUST_VERIFIED, TRUST_CHANGED};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        store_peer p = make_peer((uint8_t)(10 + i), "t", all[i]), got;
        assert_int_equal(store_peer_put(f->st, &p), 0);
        assert_int_equal(store_peer_get(f->st, p.key, &got), 0);
        assert_int_equal(got.trust, all[i]);
    }
    assert_string_equal(store_trust_name(TRUST_NEW), "new");
    assert_string_equal(store_trust_name(TRUST_KNOWN), "known");
    assert_string_equal(store_trust_name(TRUST_VERIFIED), "verified");
    assert_string_equal(store_trust_name(TRUST_CHANGED), "changed");
    assert_string_equal(store_trust_name((store_trust)42), "unknown");

    /* Out of range and unterminated fields are refused, nothing written. */
    store_peer bad = make_peer(30, "bad", (store_trust)4), got;
    assert_int_equal(store_peer_put(f->st, &bad), BANTER_EINVAL);
    bad = make_peer(30, "bad", TRUST_NEW);
    memset(bad.name, 'x', sizeof bad.name);
    assert_int_equal(store_peer_put(f->st, &bad), BANTER_EINVAL);
    assert_int_equal(store_peer_get(f->st, bad.key, &got), BANTER_ENOENT);
}

static void test_peer_list_order(void **state)
{
    struct fixture *f = *state;
    /* Inserted out of order; two share a name and sort by key. */
    store_peer a = make_peer(50, "carol", TRUST_KNOWN);
    store_peer b = make_peer(40, "alice", TRUST_NEW);
    store_peer c = make_peer(60, "bob", TRUST_VERIFIED);
    store_peer d = make_peer(20, "bob", TRUST_KNOWN);
    assert_int_equal(store_peer_put(f->st, &a), 0);
    assert_int_equal(store_peer_put(f->st, &b), 0);
    assert_int_equal(store_peer_put(f->st, &c), 0);
    assert_int_equal(store_peer_put(f->st, &d), 0);

    store_peer *list = NULL;
    size_t n = 0;
    assert_int_equal(store_peer_list(f->st, &list, &n), 0);
    assert_int_equal(n, 4);
    assert_peer_equal(&list[0], &b);
    assert_peer_equal(&list[1], &d);
    assert_peer_equal(&list[2], &c);
    assert_peer_equal(&list[3], &a);
    free(list);
}

static void test_msg_dedup(void **state)
{
    struct fixture *f = *state;
    uint8_t p1[STORE_KEYLEN], p2[STORE_KEYLEN];
    fill_key(p1, 1);
    fill_key(p2, 2);
    int64_t seq1 = 0, seq2 = 0, seq3 = 0, seq4 = 0;

    store_msg m = make_msg(1, p1, STORE_OUT, "hello");
    m.broadcast = true;
    assert_int_equal(store_msg_add(f->st, &m, &seq1), 0);
    assert_true(seq1 > 0);
    /* The same (id, peer, dir): a duplicate, nothing changes. */
    int64_t untouched = -7;
    store_msg dup = m;
    dup.body = "other text";
    dup.body_len = strlen(dup.body);
    assert_int_equal(store_msg_add(f->st, &dup, &untouched), 1);
    assert_int_equal(untouched, -7);
    /* The same id to another peer: a broadcast copy. */
    store_msg copy = m;
    memcpy(copy.peer, p2, STORE_KEYLEN);
    assert_int_equal(store_msg_add(f->st, &copy, &seq2), 0);
    assert_true(seq2 > seq1);
    /* The same id and peer, other direction. */
    store_msg in = make_msg(1, p1, STORE_IN, "hello back");
    assert_int_equal(store_msg_add(f->st, &in, &seq3), 0);
    assert_true(seq3 > seq2);
    assert_int_equal(store_msg_add(f->st, &in, NULL), 1);
    store_msg other = make_msg(2, p1, STORE_IN, "x");
    assert_int_equal(store_msg_add(f->st, &other, &seq4), 0);
    assert_true(seq4 > seq3);

    store_msg *h = NULL;
    size_t n = 0;
    assert_int_equal(store_history(f->st, p1, 10, &h, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(h[0].seq, seq1);
    assert_msg_equal(&h[0], &m); /* the first body, not the duplicate's */
    assert_true(h[0].broadcast);
    assert_msg_equal(&h[1], &in);
    store_msgs_free(h, n);

    /* State and direction must agree; a NULL body needs length 0. */
    store_msg bad = make_msg(3, p1, STORE_IN, "x");
    bad.state = STORE_QUEUED;
    assert_int_equal(store_msg_add(f->st, &bad, NULL), BANTER_EINVAL);
    bad = make_msg(3, p1, STORE_OUT, "x");
    bad.state = STORE_RECEIVED;
    assert_int_equal(store_msg_add(f->st, &bad, NULL), BANTER_EINVAL);
    bad = make_msg(3, p1, STORE_OUT, "x");
    bad.body = NULL;
    assert_int_equal(store_msg_add(f->st, &bad, NULL), BANTER_EINVAL);
    bad.body_len = 0;
    assert_int_equal(store_msg_add(f->st, &bad, NULL), 0);
}

static void test_outbox(void **state)
{
    struct fixture *f = *state;
    uint8_t p1[STORE_KEYLEN], p2[STORE_KEYLEN];
    fill_key(p1, 1);
    fill_key(p2, 2);
    store_msg o1 = make_msg(1, p1, STORE_OUT, "one");
    store_msg o2 = make_msg(2, p1, STORE_OUT, "two");
    store_msg o3 = make_msg(3, p1, STORE_OUT, "three");
    store_msg elsewhere = make_msg(4, p2, STORE_OUT, "to p2");
    store_msg in = make_msg(5, p1, STORE_IN, "incoming");
    store_msg done = make_msg(6, p1, STORE_OUT, "already delivered");
    done.state = STORE_DELIVERED;
    /* Added with ids out of order: the outbox follows insertion. */
    assert_int_equal(store_msg_add(f->st, &o3, NULL), 0);
    assert_int_equal(store_msg_add(f->st, &elsewhere, NULL), 0);
    assert_int_equal(store_msg_add(f->st, &o1, NULL), 0);
    assert_int_equal(store_msg_add(f->st, &in, NULL), 0);
    assert_int_equal(store_msg_add(f->st, &done, NULL), 0);
    assert_int_equal(store_msg_add(f->st, &o2, NULL), 0);

    store_msg *ob = NULL;
    size_t n = 0;
    assert_int_equal(store_outbox(f->st, p1, &ob, &n), 0);
    assert_int_equal(n, 3);
    assert_msg_equal(&ob[0], &o3);
    assert_msg_equal(&ob[1], &o1);
    assert_msg_equal(&ob[2], &o2);
    assert_true(ob[0].seq < ob[1].seq && ob[1].seq < ob[2].seq);
    store_msgs_free(ob, n);

    assert_int_equal(store_msg_set_state(f->st, o1.id, p1, STORE_DELIVERED), 0);
    assert_int_equal(store_outbox(f->st, p1, &ob, &n), 0);
    assert_int_equal(n, 2);
    assert_msg_equal(&ob[0], &o3);
    assert_msg_equal(&ob[1], &o2);
    store_msgs_free(ob, n);

    /* Relayed messages: on the server, or refused with the server's code;
     * neither stays in the outbox. */
    assert_int_equal(store_msg_set_result(f->st, o2.id, p1, STORE_SERVER, ""), 0);
    assert_int_equal(store_msg_set_result(f->st, o3.id, p1, STORE_FAILED, "EQUOTA"), 0);
    assert_int_equal(store_outbox(f->st, p1, &ob, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(store_history(f->st, p1, 10, &ob, &n), 0);
    bool seen_failed = false;
    for (size_t i = 0; i < n; i++) {
        if (memcmp(ob[i].id, o3.id, MSG_ID_LEN) == 0) {
            assert_int_equal(ob[i].state, STORE_FAILED);
            assert_string_equal(ob[i].error, "EQUOTA");
            seen_failed = true;
        }
        if (memcmp(ob[i].id, o2.id, MSG_ID_LEN) == 0)
            assert_int_equal(ob[i].state, STORE_SERVER);
    }
    assert_true(seen_failed);
    store_msgs_free(ob, n);
    assert_int_equal(store_msg_set_result(f->st, o2.id, p1, STORE_RECEIVED, ""), BANTER_EINVAL);
    assert_int_equal(store_msg_set_state(f->st, o2.id, p1, STORE_QUEUED), 0);
    assert_int_equal(store_msg_set_state(f->st, o3.id, p1, STORE_QUEUED), 0);

    /* Unknown id, wrong peer, or an incoming message: ENOENT. */
    uint8_t unknown[MSG_ID_LEN];
    fill_id(unknown, 999);
    assert_int_equal(store_msg_set_state(f->st, unknown, p1, STORE_DELIVERED), BANTER_ENOENT);
    assert_int_equal(store_msg_set_state(f->st, o2.id, p2, STORE_DELIVERED), BANTER_ENOENT);
    assert_int_equal(store_msg_set_state(f->st, in.id, p1, STORE_DELIVERED), BANTER_ENOENT);
    assert_int_equal(store_msg_set_state(f->st, o2.id, p1, STORE_RECEIVED), BANTER_EINVAL);

    assert_int_equal(store_msg_set_state(f->st, o3.id, p1, STORE_DELIVERED), 0);
    assert_int_equal(store_msg_set_state(f->st, o2.id, p1, STORE_DELIVERED), 0);
    assert_int_equal(store_outbox(f->st, p1, &ob, &n), 0);
    assert_int_equal(n, 0);
    assert_null(ob);
    /* p2's outbox was never touched. */
    assert_int_equal(store_outbox(f->st, p2, &ob, &n), 0);
    assert_int_equal(n, 1);
    assert_msg_equal(&ob[0], &elsewhere);
    store_msgs_free(ob, n);
    store_msgs_free(NULL, 0);
}

static void test_history(void **state)
{
    struct fixture *f = *state;
    uint8_t p1[STORE_KEYLEN], p2[STORE_KEYLEN];
    fill_key(p1, 1);
    fill_key(p2, 2);
    char bodies[10][16];
    store_msg all[10];
    for (uint32_t i = 0; i < 10; i++) {
        snprintf(bodies[i], sizeof bodies[i], "msg %u", i);
        all[i] = make_msg(i, p1, i % 3 == 0 ? STORE_IN : STORE_OUT, bodies[i]);
        assert_int_equal(store_msg_add(f->st, &all[i], NULL), 0);
        store_msg noise = make_msg(100 + i, p2, STORE_OUT, "not for p1");
        assert_int_equal(store_msg_add(f->st, &noise, NULL), 0);
    }

    store_msg *h = NULL;
    size_t n = 0;
    assert_int_equal(store_history(f->st, p1, 4, &h, &n), 0);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < 4; i++)
        assert_msg_equal(&h[i], &all[6 + i]);
    store_msgs_free(h, n);

    assert_int_equal(store_history(f->st, p1, 1000, &h, &n), 0);
    assert_int_equal(n, 10);
    for (size_t i = 0; i < 10; i++)
        assert_msg_equal(&h[i], &all[i]);
    store_msgs_free(h, n);

    assert_int_equal(store_history(f->st, p1, SIZE_MAX, &h, &n), 0);
    assert_int_equal(n, 10);
    store_msgs_free(h, n);

    assert_int_equal(store_history(f->st, p1, 0, &h, &n), 0);
    assert_int_equal(n, 0);
    assert_null(h);

    uint8_t nobody[STORE_KEYLEN];
    fill_key(nobody, 77);
    assert_int_equal(store_history(f->st, nobody, 10, &h, &n), 0);
    assert_int_equal(n, 0);
    assert_null(h);
}

static void test_body_round_trip(void **state)
{
    struct fixture *f = *state;
    uint8_t p1[STORE_KEYLEN];
    fill_key(p1, 1);
    const char *bodies[] = {
        "",
        "line one\nline two\r\n\ttabbed\n",
        "Grüße, ĉu vi? 日本語 🎉👩‍💻 \xe2\x80\x8b end",
        "quote ' double \" backslash \\ percent %s semicolon ; -- DROP TABLE messages;",
    };
    size_t nb = sizeof bodies / sizeof bodies[0];
    for (uint32_t i = 0; i < nb; i++) {
        store_msg m = make_msg(i, p1, STORE_IN, bodies[i]);
        assert_int_equal(store_msg_add(f->st, &m, NULL), 0);
    }
    /* An embedded NUL survives too: the length is what counts. */
    static const char withnul[] = "before\0after";
    store_msg z = make_msg(50, p1, STORE_IN, "");
    z.body = (char *)(uintptr_t)withnul;
    z.body_len = sizeof withnul - 1;
    assert_int_equal(store_msg_add(f->st, &z, NULL), 0);
    /* A maximal body. */
    char *big = malloc(BANTER_MAX_BODY + 1);
    assert_non_null(big);
    for (size_t i = 0; i < BANTER_MAX_BODY; i++)
        big[i] = (char)('a' + i % 26);
    big[BANTER_MAX_BODY] = '\0';
    store_msg b = make_msg(51, p1, STORE_IN, big);
    assert_int_equal(store_msg_add(f->st, &b, NULL), 0);

    reopen(f);
    store_msg *h = NULL;
    size_t n = 0;
    assert_int_equal(store_history(f->st, p1, 100, &h, &n), 0);
    assert_int_equal(n, nb + 2);
    for (size_t i = 0; i < nb; i++) {
        assert_int_equal(h[i].body_len, strlen(bodies[i]));
        assert_string_equal(h[i].body, bodies[i]);
    }
    assert_msg_equal(&h[nb], &z);
    assert_msg_equal(&h[nb + 1], &b);
    store_msgs_free(h, n);
    free(big);
}

static void test_outbox_persists(void **state)
{
    struct fixture *f = *state;
    uint8_t p1[STORE_KEYLEN];
    fill_key(p1, 1);
    store_msg o1 = make_msg(1, p1, STORE_OUT, "queued one");
    store_msg o2 = make_msg(2, p1, STORE_OUT, "queued two");
    store_msg o3 = make_msg(3, p1, STORE_OUT, "delivered");
    assert_int_equal(store_msg_add(f->st, &o1, NULL), 0);
    assert_int_equal(store_msg_add(f->st, &o2, NULL), 0);
    assert_int_equal(store_msg_add(f->st, &o3, NULL), 0);
    assert_int_equal(store_msg_set_state(f->st, o3.id, p1, STORE_DELIVERED), 0);
    reopen(f);

    store_msg *ob = NULL;
    size_t n = 0;
    assert_int_equal(store_outbox(f->st, p1, &ob, &n), 0);
    assert_int_equal(n, 2);
    assert_msg_equal(&ob[0], &o1);
    assert_msg_equal(&ob[1], &o2);
    store_msgs_free(ob, n);
    /* Dedup survives a reopen as well. */
    assert_int_equal(store_msg_add(f->st, &o1, NULL), 1);
}

static void test_disk_full(void **state)
{
    struct fixture *f = *state;
    uint8_t p1[STORE_KEYLEN];
    fill_key(p1, 1);
    static char body[1500];
    memset(body, 'z', sizeof body - 1);

    for (uint32_t i = 0; i < 5; i++) {
        store_msg m = make_msg(i, p1, STORE_OUT, body);
        assert_int_equal(store_msg_add(f->st, &m, NULL), 0);
    }
    assert_int_equal(store_set_max_pages(f->st, 0), BANTER_EINVAL);
    /* A cap below the current size is raised to it: full within a page. */
    assert_int_equal(store_set_max_pages(f->st, 1), 0);
    uint32_t added = 5;
    int ret = 0;
    for (; added < 10; added++) {
        store_msg m = make_msg(added, p1, STORE_OUT, body);
        ret = store_msg_add(f->st, &m, NULL);
        if (ret != 0)
            break;
    }
    assert_int_equal(ret, BANTER_ENOSPC);
    uint32_t at_first_cap = added;

    /* A few pages more of room (a page is 4096 bytes), then full again. */
    assert_int_equal(store_set_max_pages(f->st, 40), 0);
    for (; added < 10000; added++) {
        store_msg m = make_msg(added, p1, STORE_OUT, body);
        ret = store_msg_add(f->st, &m, NULL);
        if (ret != 0)
            break;
    }
    assert_int_equal(ret, BANTER_ENOSPC);
    assert_true(added > at_first_cap + 5);
    assert_true(strlen(store_errmsg(f->st)) > 0);
    print_message("full after %u messages: %s\n", added, store_errmsg(f->st));
    /* A peer row may still fit in a page; if not, nothing was written. */
    store_peer p = make_peer(1, "alice", TRUST_KNOWN), got;
    int pret = store_peer_put(f->st, &p);
    assert_true(pret == 0 || pret == BANTER_ENOSPC);
    if (pret == BANTER_ENOSPC)
        assert_int_equal(store_peer_get(f->st, p.key, &got), BANTER_ENOENT);

    /* Everything added before is there and readable. */
    store_msg *h = NULL;
    size_t n = 0;
    assert_int_equal(store_outbox(f->st, p1, &h, &n), 0);
    assert_int_equal(n, added);
    for (uint32_t i = 0; i < added; i++) {
        store_msg want = make_msg(i, p1, STORE_OUT, body);
        assert_msg_equal(&h[i], &want);
    }
    store_msgs_free(h, n);
    /* Reading and updating in place still work. */
    uint8_t id0[MSG_ID_LEN];
    fill_id(id0, 0);
    assert_int_equal(store_msg_set_state(f->st, id0, p1, STORE_DELIVERED), 0);

    /* Raise the cap: the refused message goes in now, as new. */
    assert_int_equal(store_set_max_pages(f->st, 1000000), 0);
    store_msg m = make_msg(added, p1, STORE_OUT, body);
    assert_int_equal(store_msg_add(f->st, &m, NULL), 0);
    assert_int_equal(store_peer_put(f->st, &p), 0);
    assert_int_equal(store_peer_get(f->st, p.key, &got), 0);

    reopen(f);
    assert_int_equal(store_outbox(f->st, p1, &h, &n), 0);
    assert_int_equal(n, added); /* added - 1 queued before, plus the new one */
    store_msgs_free(h, n);
}

static int64_t pragma_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* True when the plan of sql mentions `needle` (an index name). */
static bool plan_uses(sqlite3 *db, const char *sql, const char *needle)
{
    char q[512];
    snprintf(q, sizeof q, "EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, q, -1, &s, NULL), SQLITE_OK);
    bool found = false;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(s, 3);
        if (detail != NULL && strstr(detail, needle) != NULL)
            found = true;
    }
    sqlite3_finalize(s);
    return found;
}

static void test_schema(void **state)
{
    struct fixture *f = *state;
    /* A second connection looks at the file the store made. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(pragma_int(db, "PRAGMA user_version"), 3);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    assert_true(plan_uses(db,
                          "SELECT * FROM messages WHERE peer = x'00' AND dir = 1 AND state = 0"
                          " ORDER BY seq",
                          "messages_outbox"));
    assert_true(plan_uses(db, "SELECT * FROM messages WHERE peer = x'00' ORDER BY seq DESC LIMIT 5",
                          "messages_history"));
    sqlite3_close(db);
}

static void test_open_missing_dir(void **state)
{
    struct fixture *f = *state;
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/no/such/dir/banter.db", f->dir);
    store *st = (store *)(uintptr_t)1;
    memset(err, 0, sizeof err);
    assert_int_equal(store_open(&st, path, err, sizeof err), BANTER_EDB);
    assert_null(st);
    assert_true(strlen(err) > 0);
    print_message("missing dir: %s\n", err);
    /* errmsg may be NULL, and a tiny buffer is still terminated. */
    assert_int_equal(store_open(&st, path, NULL, 0), BANTER_EDB);
    assert_null(st);
    char tiny[4];
    assert_int_equal(store_open(&st, path, tiny, sizeof tiny), BANTER_EDB);
    assert_true(strlen(tiny) < sizeof tiny);
    assert_int_equal(store_open(&st, NULL, err, sizeof err), BANTER_EINVAL);
    assert_null(st);
}

static void test_open_not_a_database(void **state)
{
    struct fixture *f = *state;
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/garbage.db", f->dir);
    uint8_t junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 131 + 7);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(junk, 1, sizeof junk, fp), sizeof junk);
    assert_int_equal(fclose(fp), 0);

    store *st = NULL;
    assert_int_equal(store_open(&st, path, err, sizeof err), BANTER_EDB);
    assert_null(st);
    assert_true(strlen(err) > 0);
    print_message("garbage: %s\n", err);

    /* The file was left as it was. */
    uint8_t back[sizeof junk + 1];
    fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(back, 1, sizeof back, fp), sizeof junk);
    fclose(fp);
    assert_memory_equal(back, junk, sizeof junk);
}

static void test_open_newer_schema(void **state)
{
    struct fixture *f = *state;
    /* A database from a future version is refused, not damaged. */
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/future.db", f->dir);
    store *st = NULL;
    assert_int_equal(store_open(&st, path, err, sizeof err), 0);
    store_close(st);
    /* Bump user_version by hand: it is a big-endian u32 at offset 60. */
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 60, SEEK_SET), 0);
    const uint8_t v[4] = {0, 0, 0, 99};
    assert_int_equal(fwrite(v, 1, 4, fp), 4);
    assert_int_equal(fclose(fp), 0);
    st = NULL;
    assert_int_equal(store_open(&st, path, err, sizeof err), BANTER_EDB);
    assert_null(st);
    print_message("future: %s\n", err);
}

/* Transfers and their files survive a reopen; updates touch what they say. */
static void test_transfers(void **state)
{
    struct fixture *f = *state;
    store_xfile files[2] = {
        {.name = "Photos/a.jpg", .local = "/home/u/Photos/a.jpg", .size = 123, .mtime_ns = 42},
        {.name = "Photos/b.jpg", .local = "", .size = 0},
    };
    memset(files[0].hash, 0xab, sizeof files[0].hash);
    store_xfer x = {.dir = 1,
                    .state = 0,
                    .created_ms = 1000,
                    .updated_ms = 1001,
                    .done = 7,
                    .dest = "",
                    .error = "",
                    .nfiles = 2,
                    .files = files};
    memset(x.id, 1, sizeof x.id);
    fill_key(x.peer, 3);
    memset(x.secret, 9, sizeof x.secret);
    assert_int_equal(store_xfer_put(f->st, &x), 0);
    x.state = 1;
    x.done = 99;
    x.dest = "/home/u/Downloads";
    assert_int_equal(store_xfer_save(f->st, &x), 0);
    files[1].local = "Photos (1)/b.jpg";
    files[1].verified = true;
    assert_int_equal(store_xfile_save(f->st, x.id, 1, &files[1]), 0);
    reopen(f);

    store_xfer *all = NULL;
    size_t n = 0;
    assert_int_equal(store_xfer_load_all(f->st, &all, &n), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(all[0].id, x.id, sizeof x.id);
    assert_memory_equal(all[0].secret, x.secret, sizeof x.secret);
    assert_int_equal(all[0].state, 1);
    assert_true(all[0].done == 99);
    assert_string_equal(all[0].dest, "/home/u/Downloads");
    assert_int_equal(all[0].nfiles, 2);
    assert_string_equal(all[0].files[0].name, "Photos/a.jpg");
    assert_true(all[0].files[0].size == 123 && all[0].files[0].mtime_ns == 42);
    assert_memory_equal(all[0].files[0].hash, files[0].hash, sizeof files[0].hash);
    assert_false(all[0].files[0].verified);
    assert_string_equal(all[0].files[1].local, "Photos (1)/b.jpg");
    assert_true(all[0].files[1].verified);
    store_xfers_free(all, n);

    uint8_t other[MSG_ID_LEN] = {2};
    memcpy(x.id, other, sizeof other);
    assert_int_equal(store_xfer_save(f->st, &x), BANTER_ENOENT);
}

/* A database of schema 2 (before relayed messages) keeps its messages
 * through the migration to 3, which rebuilds the messages table. */
static void test_migrate_v2(void **state)
{
    struct fixture *f = *state;
    char path[160], err[256];
    snprintf(path, sizeof path, "%s/old.db", f->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    static const char v2[] =
        "CREATE TABLE peers (key BLOB PRIMARY KEY NOT NULL, name TEXT NOT NULL,"
        " trust INTEGER NOT NULL, source TEXT NOT NULL, addresses TEXT NOT NULL,"
        " first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, replaces BLOB NULL);"
        "CREATE TABLE messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, id BLOB NOT NULL,"
        " peer BLOB NOT NULL, dir INTEGER NOT NULL, state INTEGER NOT NULL CHECK (state IN "
        "(0, 1, 2)), broadcast INTEGER NOT NULL, ts INTEGER NOT NULL, stored INTEGER NOT NULL,"
        " body TEXT NOT NULL, UNIQUE (id, peer, dir));"
        "CREATE INDEX messages_outbox ON messages (peer, dir, state, seq);"
        "CREATE INDEX messages_history ON messages (peer, seq);"
        "CREATE TABLE transfers (id BLOB PRIMARY KEY NOT NULL, peer BLOB NOT NULL,"
        " dir INTEGER NOT NULL, state INTEGER NOT NULL, created INTEGER NOT NULL,"
        " updated INTEGER NOT NULL, done INTEGER NOT NULL, dest TEXT NOT NULL,"
        " error TEXT NOT NULL, secret BLOB NOT NULL);"
        "CREATE TABLE transfer_files (id BLOB NOT NULL REFERENCES transfers (id) ON DELETE "
        "CASCADE, idx INTEGER NOT NULL, name TEXT NOT NULL, size INTEGER NOT NULL,"
        " hash BLOB NOT NULL, local TEXT NOT NULL, mtime INTEGER NOT NULL,"
        " verified INTEGER NOT NULL, PRIMARY KEY (id, idx));"
        "INSERT INTO messages (id, peer, dir, state, broadcast, ts, stored, body) VALUES"
        " (zeroblob(16), zeroblob(32), 1, 0, 0, 1, 2, 'kept'),"
        " (randomblob(16), zeroblob(32), 0, 2, 0, 3, 4, 'also kept');"
        "PRAGMA user_version = 2;";
    assert_int_equal(sqlite3_exec(db, v2, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    store *st = NULL;
    assert_int_equal(store_open(&st, path, err, sizeof err), 0);
    uint8_t peer[STORE_KEYLEN] = {0};
    store_msg *m = NULL;
    size_t n = 0;
    assert_int_equal(store_history(st, peer, 10, &m, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(m[0].body, "kept");
    assert_int_equal(m[0].state, STORE_QUEUED);
    assert_string_equal(m[1].body, "also kept");
    store_msgs_free(m, n);
    /* and the new states fit */
    uint8_t id[MSG_ID_LEN] = {0};
    assert_int_equal(store_msg_set_result(st, id, peer, STORE_FAILED, "EQUOTA"), 0);
    store_close(st);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_open_close_reopen),
        T(test_peer_crud),
        T(test_peer_all_trust_values),
        T(test_peer_list_order),
        T(test_msg_dedup),
        T(test_outbox),
        T(test_history),
        T(test_body_round_trip),
        T(test_outbox_persists),
        T(test_disk_full),
        T(test_schema),
        T(test_transfers),
        T(test_open_missing_dir),
        T(test_open_not_a_database),
        T(test_open_newer_schema),
        T(test_migrate_v2),
    };
#undef T
    return cmocka_run_group_tests_name("peer_store", tests, NULL, NULL);
}
