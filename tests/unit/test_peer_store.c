/* SPDX-License-Identifier: MIT */
/*
 * test_peer_store.c - the node's SQLite store, schema 6: contacts, their
 * devices, merging two contacts, messages deduplicated per sending device,
 * the outbox, history pages, per-device copies, a full disk, transfers,
 * persistence across reopen, and files it must refuse. The migration of a
 * real schema-3 database is in test_peer_migrate.c.
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
#include <time.h>
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

/* ---- values ---- */

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

static store_contact make_contact(uint8_t seed, const char *name)
{
    store_contact c;
    memset(&c, 0, sizeof c);
    fill_key(c.key, seed);
    c.kind = CONTACT_LAN;
    snprintf(c.name, sizeof c.name, "%s", name);
    c.created_ms = 1700000000000 + seed;
    return c;
}

static store_contact make_org(uint8_t seed, const char *account)
{
    store_contact c = make_contact(seed, account);
    c.kind = CONTACT_ORG;
    snprintf(c.account, sizeof c.account, "%s", account);
    return c;
}

static store_device make_device(uint8_t seed, const uint8_t contact[STORE_KEYLEN], const char *name,
                                store_trust trust)
{
    store_device d;
    memset(&d, 0, sizeof d);
    fill_key(d.key, seed);
    memcpy(d.contact, contact, STORE_KEYLEN);
    snprintf(d.name, sizeof d.name, "%s", name);
    d.trust = trust;
    snprintf(d.source, sizeof d.source, "lan");
    snprintf(d.addresses, sizeof d.addresses, "198.18.0.%u:7070,[fd00::%u]:7070", seed, seed);
    d.first_seen_ms = 1700000000000 + seed;
    d.last_seen_ms = 1700000001000 + seed;
    return d;
}

/* A message with a borrowed body: outgoing QUEUED or incoming RECEIVED. */
static store_msg make_msg(uint32_t n, const uint8_t contact[STORE_KEYLEN], store_dir dir,
                          const char *body)
{
    store_msg m;
    memset(&m, 0, sizeof m);
    fill_id(m.id, n);
    memcpy(m.contact, contact, STORE_KEYLEN);
    m.dir = dir;
    m.state = dir == STORE_OUT ? STORE_QUEUED : STORE_RECEIVED;
    m.ts_ms = 1700000000000 + n;
    m.stored_ms = 1700000000500 + n;
    m.body = (char *)(uintptr_t)body;
    m.body_len = strlen(body);
    return m;
}

/* An incoming message sent by device. */
static store_msg make_in(uint32_t n, const uint8_t contact[STORE_KEYLEN],
                         const uint8_t device[STORE_KEYLEN], const char *body)
{
    store_msg m = make_msg(n, contact, STORE_IN, body);
    m.has_device = true;
    memcpy(m.device, device, STORE_KEYLEN);
    return m;
}

static int64_t add_ok(store *st, const store_msg *m)
{
    int64_t seq = 0;
    assert_int_equal(store_msg_add(st, m, &seq), 0);
    assert_true(seq > 0);
    return seq;
}

static void assert_contact_equal(const store_contact *a, const store_contact *b)
{
    assert_memory_equal(a->key, b->key, STORE_KEYLEN);
    assert_int_equal(a->kind, b->kind);
    assert_string_equal(a->account, b->account);
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->created_ms, b->created_ms);
}

static void assert_device_equal(const store_device *a, const store_device *b)
{
    assert_memory_equal(a->key, b->key, STORE_KEYLEN);
    assert_memory_equal(a->contact, b->contact, STORE_KEYLEN);
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
    assert_memory_equal(got->contact, want->contact, STORE_KEYLEN);
    assert_int_equal(got->has_device, want->has_device);
    if (want->has_device)
        assert_memory_equal(got->device, want->device, STORE_KEYLEN);
    assert_int_equal(got->dir, want->dir);
    assert_int_equal(got->state, want->state);
    assert_int_equal(got->flags, want->flags);
    assert_int_equal(got->broadcast, want->broadcast);
    assert_int_equal(got->ts_ms, want->ts_ms);
    assert_int_equal(got->stored_ms, want->stored_ms);
    assert_int_equal(got->body_len, want->body_len);
    assert_memory_equal(got->body, want->body, want->body_len);
    assert_int_equal(got->body[got->body_len], '\0');
}

/* ---- looking at the file from a second connection ---- */

static sqlite3 *peek_open(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return db;
}

static int64_t peek_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static int64_t count_rows(const char *path, const char *table)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    sqlite3 *db = peek_open(path);
    int64_t n = peek_int(db, sql);
    sqlite3_close(db);
    return n;
}

/* Every row of every table of the node's schema, as text: two equal
 * snapshots mean the database is as it was. The caller frees. */
static char *snapshot(const char *path)
{
    static const char *const tables[] = {
        "SELECT * FROM contacts ORDER BY key", "SELECT * FROM devices ORDER BY key",
        "SELECT * FROM messages ORDER BY seq", "SELECT * FROM copies ORDER BY seq, device",
        "SELECT * FROM transfers ORDER BY id", "SELECT * FROM transfer_files ORDER BY id, idx",
    };
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    sqlite3 *db = peek_open(path);
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        sqlite3_stmt *s = NULL;
        assert_int_equal(sqlite3_prepare_v2(db, tables[t], -1, &s, NULL), SQLITE_OK);
        fprintf(out, "%s\n", tables[t]);
        while (sqlite3_step(s) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(s); c++) {
                const unsigned char *b = sqlite3_column_blob(s, c);
                int n = sqlite3_column_bytes(s, c);
                fprintf(out, "%d:", sqlite3_column_type(s, c));
                for (int i = 0; b != NULL && i < n; i++)
                    fprintf(out, "%02x", b[i]);
                fputc('|', out);
            }
            fputc('\n', out);
        }
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
    assert_int_equal(fclose(out), 0);
    return text;
}

/* ---- opening ---- */

static void test_open_new_file(void **state)
{
    struct fixture *f = *state;
    /* Private to its owner even with a permissive umask: the database and
     * the -wal and -shm files SQLite gives the database's mode. */
    char path[160], err[256];
    snprintf(path, sizeof path, "%s/fresh.db", f->dir);
    mode_t old = umask(0);
    store *st = NULL;
    int r = store_open(&st, path, err, sizeof err);
    umask(old);
    assert_int_equal(r, 0);
    store_contact c = make_contact(1, "alice");
    assert_int_equal(store_contact_put(st, &c), 0);
    const char *const suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[200];
        struct stat sb;
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        assert_int_equal(stat(p, &sb), 0);
        assert_int_equal(sb.st_mode & 0777, 0600);
    }
    /* A new file has the current schema version (12) and is in WAL mode. */
    sqlite3 *db = peek_open(path);
    assert_int_equal(peek_int(db, "PRAGMA user_version"), 13);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    /* No table of schema 3 is left. */
    assert_int_equal(peek_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'peers'"), 0);
    sqlite3_close(db);
    store_close(st);

    /* Reopened, the row is there. */
    assert_int_equal(store_open(&st, path, err, sizeof err), 0);
    store_contact got;
    assert_int_equal(store_contact_get(st, c.key, &got), 0);
    assert_contact_equal(&got, &c);
    store_close(st);
    store_close(NULL);
    assert_non_null(store_errmsg(f->st));
    assert_non_null(store_errmsg(NULL));
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

static void test_schema_indexes(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db = peek_open(f->path);
    assert_true(plan_uses(db, "SELECT * FROM messages WHERE dir = 1 AND state = 0 ORDER BY seq",
                          "messages_outbox"));
    assert_true(plan_uses(db,
                          "SELECT * FROM messages WHERE dir = 1 AND state = 0 AND contact = x'00'"
                          " ORDER BY seq",
                          "messages_outbox"));
    assert_true(plan_uses(db,
                          "SELECT * FROM messages WHERE contact = x'00' ORDER BY seq DESC LIMIT 5",
                          "messages_history"));
    assert_true(plan_uses(db, "SELECT * FROM devices WHERE contact = x'00'", "devices_contact"));
    sqlite3_close(db);
}

/* ---- contacts ---- */

static void test_contact_crud(void **state)
{
    struct fixture *f = *state;
    store_contact c = make_contact(7, "bob ✓ Ünïcode"), got;
    uint8_t unknown[STORE_KEYLEN];
    fill_key(unknown, 200);
    assert_int_equal(store_contact_get(f->st, unknown, &got), BANTER_ENOENT);
    assert_int_equal(store_contact_put(f->st, &c), 0);
    assert_int_equal(store_contact_get(f->st, c.key, &got), 0);
    assert_contact_equal(&got, &c);

    /* Put again updates the label; created is the first one's. */
    store_contact again = c;
    snprintf(again.name, sizeof again.name, "Robert");
    again.created_ms = 1;
    assert_int_equal(store_contact_put(f->st, &again), 0);
    assert_int_equal(store_contact_get(f->st, c.key, &got), 0);
    assert_string_equal(got.name, "Robert");
    assert_int_equal(got.created_ms, c.created_ms);

    /* An organisation contact, found by its account. */
    store_contact org = make_org(9, "dave"), byacc;
    snprintf(org.name, sizeof org.name, "Dave Dupont");
    assert_int_equal(store_contact_by_account(f->st, "dave", &byacc), BANTER_ENOENT);
    assert_int_equal(store_contact_put(f->st, &org), 0);
    assert_int_equal(store_contact_by_account(f->st, "dave", &byacc), 0);
    assert_contact_equal(&byacc, &org);
    assert_int_equal(store_contact_by_account(f->st, "Dave", &byacc), BANTER_ENOENT);
    assert_int_equal(store_contact_by_account(f->st, "", &byacc), BANTER_ENOENT);
    assert_int_equal(store_contact_by_account(f->st, "bob ✓ Ünïcode", &byacc), BANTER_ENOENT);
    reopen(f);
    assert_int_equal(store_contact_get(f->st, org.key, &got), 0);
    assert_contact_equal(&got, &org);
}

static void test_contact_constraints(void **state)
{
    struct fixture *f = *state;
    store_contact org = make_org(9, "dave");
    assert_int_equal(store_contact_put(f->st, &org), 0);
    char *before = snapshot(f->path);

    /* An organisation contact needs an account, a LAN one has none. */
    store_contact bad = make_org(10, "erin");
    bad.account[0] = '\0';
    assert_int_equal(store_contact_put(f->st, &bad), BANTER_EINVAL);
    bad = make_contact(10, "erin");
    snprintf(bad.account, sizeof bad.account, "erin");
    assert_int_equal(store_contact_put(f->st, &bad), BANTER_EINVAL);
    /* A kind that does not exist. */
    bad = make_contact(10, "erin");
    bad.kind = (store_kind)2;
    assert_int_equal(store_contact_put(f->st, &bad), BANTER_EINVAL);
    bad.kind = (store_kind)-1;
    assert_int_equal(store_contact_put(f->st, &bad), BANTER_EINVAL);
    /* Fields without a terminator. */
    bad = make_contact(10, "erin");
    memset(bad.name, 'x', sizeof bad.name);
    assert_int_equal(store_contact_put(f->st, &bad), BANTER_EINVAL);
    bad = make_org(10, "erin");
    memset(bad.account, 'x', sizeof bad.account);
    assert_int_equal(store_contact_put(f->st, &bad), BANTER_EINVAL);
    assert_true(strlen(store_errmsg(f->st)) > 0);
    /* One contact per account. */
    bad = make_org(11, "dave");
    assert_true(store_contact_put(f->st, &bad) < 0);
    /* The arguments. */
    assert_int_equal(store_contact_put(NULL, &org), BANTER_EINVAL);
    assert_int_equal(store_contact_put(f->st, NULL), BANTER_EINVAL);

    char *after = snapshot(f->path);
    assert_string_equal(after, before);
    free(before);
    free(after);
    store_contact got;
    assert_int_equal(store_contact_by_account(f->st, "dave", &got), 0);
    assert_contact_equal(&got, &org);
}

static void test_contact_list_order(void **state)
{
    struct fixture *f = *state;
    store_contact *list = NULL;
    size_t n = 99;
    assert_int_equal(store_contact_list(f->st, &list, &n), 0);
    assert_int_equal(n, 0);
    assert_null(list);
    /* Inserted out of order; two share a name and sort by key. */
    store_contact a = make_contact(50, "carol");
    store_contact b = make_contact(40, "alice");
    store_contact c = make_org(60, "bob");
    store_contact d = make_contact(20, "bob");
    assert_int_equal(store_contact_put(f->st, &a), 0);
    assert_int_equal(store_contact_put(f->st, &b), 0);
    assert_int_equal(store_contact_put(f->st, &c), 0);
    assert_int_equal(store_contact_put(f->st, &d), 0);
    assert_int_equal(store_contact_list(f->st, &list, &n), 0);
    assert_int_equal(n, 4);
    assert_contact_equal(&list[0], &b);
    assert_contact_equal(&list[1], &d);
    assert_contact_equal(&list[2], &c);
    assert_contact_equal(&list[3], &a);
    free(list);
}

/* ---- devices ---- */

static void test_device_crud(void **state)
{
    struct fixture *f = *state;
    store_contact c1 = make_contact(1, "bob"), c2 = make_contact(2, "carol");
    assert_int_equal(store_contact_put(f->st, &c1), 0);
    assert_int_equal(store_contact_put(f->st, &c2), 0);
    store_device d1 = make_device(100, c1.key, "bob-laptop", TRUST_KNOWN);
    store_device d2 = make_device(90, c1.key, "bob-phone", TRUST_VERIFIED);
    store_device d3 = make_device(80, c2.key, "carol", TRUST_KNOWN);
    d1.first_seen_ms = 3000; /* first seen: d3, d2, d1 */
    d2.first_seen_ms = 2000;
    d3.first_seen_ms = 1000;
    store_device got, *list = NULL;
    size_t n = 0;
    assert_int_equal(store_device_get(f->st, d1.key, &got), BANTER_ENOENT);
    assert_int_equal(store_device_delete(f->st, d1.key), BANTER_ENOENT);
    assert_int_equal(store_device_list(f->st, NULL, &list, &n), 0);
    assert_int_equal(n, 0);
    assert_null(list);

    assert_int_equal(store_device_put(f->st, &d1), 0);
    assert_int_equal(store_device_put(f->st, &d2), 0);
    assert_int_equal(store_device_put(f->st, &d3), 0);
    assert_int_equal(store_device_get(f->st, d1.key, &got), 0);
    assert_device_equal(&got, &d1);

    /* Put again replaces every field, replaces included, and back. */
    d1.trust = TRUST_CHANGED;
    d1.has_replaces = true;
    fill_key(d1.replaces, 99);
    snprintf(d1.name, sizeof d1.name, "BOB");
    snprintf(d1.source, sizeof d1.source, "static");
    snprintf(d1.addresses, sizeof d1.addresses, "198.18.0.9:7000");
    d1.last_seen_ms = 1800000000000;
    assert_int_equal(store_device_put(f->st, &d1), 0);
    assert_int_equal(store_device_get(f->st, d1.key, &got), 0);
    assert_device_equal(&got, &d1);
    d1.has_replaces = false;
    memset(d1.replaces, 0, sizeof d1.replaces);
    d1.trust = TRUST_KNOWN;
    assert_int_equal(store_device_put(f->st, &d1), 0);
    assert_int_equal(store_device_get(f->st, d1.key, &got), 0);
    assert_device_equal(&got, &d1);
    assert_false(got.has_replaces);

    /* Per contact and all, by first seen. */
    assert_int_equal(store_device_list(f->st, c1.key, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_device_equal(&list[0], &d2);
    assert_device_equal(&list[1], &d1);
    free(list);
    assert_int_equal(store_device_list(f->st, NULL, &list, &n), 0);
    assert_int_equal(n, 3);
    assert_device_equal(&list[0], &d3);
    assert_device_equal(&list[1], &d2);
    assert_device_equal(&list[2], &d1);
    free(list);
    uint8_t nobody[STORE_KEYLEN];
    fill_key(nobody, 222);
    assert_int_equal(store_device_list(f->st, nobody, &list, &n), 0);
    assert_int_equal(n, 0);
    assert_null(list);

    /* A device moves to another contact by a put. */
    memcpy(d2.contact, c2.key, STORE_KEYLEN);
    assert_int_equal(store_device_put(f->st, &d2), 0);
    assert_int_equal(store_device_list(f->st, c2.key, &list, &n), 0);
    assert_int_equal(n, 2);
    free(list);

    reopen(f);
    assert_int_equal(store_device_delete(f->st, d1.key), 0);
    assert_int_equal(store_device_get(f->st, d1.key, &got), BANTER_ENOENT);
    assert_int_equal(store_device_delete(f->st, d1.key), BANTER_ENOENT);
    assert_int_equal(store_device_list(f->st, c1.key, &list, &n), 0);
    assert_int_equal(n, 0);
    assert_null(list);
    /* The contact stays: deleting a device is not deleting a person. */
    store_contact cgot;
    assert_int_equal(store_contact_get(f->st, c1.key, &cgot), 0);
}

static void test_device_trust_values(void **state)
{
    struct fixture *f = *state;
    store_contact c = make_contact(1, "t");
    assert_int_equal(store_contact_put(f->st, &c), 0);
    const store_trust stored[] = {TRUST_KNOWN, TRUST_VERIFIED, TRUST_CHANGED, TRUST_CERTIFIED};
    for (size_t i = 0; i < sizeof stored / sizeof stored[0]; i++) {
        store_device d = make_device((uint8_t)(10 + i), c.key, "t", stored[i]), got;
        assert_int_equal(store_device_put(f->st, &d), 0);
        assert_int_equal(store_device_get(f->st, d.key, &got), 0);
        assert_int_equal(got.trust, stored[i]);
    }
    assert_string_equal(store_trust_name(TRUST_NEW), "new");
    assert_string_equal(store_trust_name(TRUST_KNOWN), "known");
    assert_string_equal(store_trust_name(TRUST_VERIFIED), "verified");
    assert_string_equal(store_trust_name(TRUST_CHANGED), "changed");
    assert_string_equal(store_trust_name(TRUST_CERTIFIED), "certified");
    assert_string_equal(store_trust_name((store_trust)42), "unknown");
    assert_string_equal(store_trust_name((store_trust)-1), "unknown");

    /* TRUST_NEW only exists in listings; out-of-range values and fields
     * without a terminator are refused, and nothing is written. */
    char *before = snapshot(f->path);
    const int bad_trust[] = {TRUST_NEW, 5, 42, -1};
    for (size_t i = 0; i < sizeof bad_trust / sizeof bad_trust[0]; i++) {
        store_device bad = make_device(30, c.key, "bad", (store_trust)bad_trust[i]);
        assert_int_equal(store_device_put(f->st, &bad), BANTER_EINVAL);
    }
    /* Over an existing device too: it keeps its trust. */
    store_device over = make_device(10, c.key, "t", (store_trust)7);
    assert_int_equal(store_device_put(f->st, &over), BANTER_EINVAL);
    store_device bad = make_device(30, c.key, "bad", TRUST_KNOWN), got;
    memset(bad.name, 'x', sizeof bad.name);
    assert_int_equal(store_device_put(f->st, &bad), BANTER_EINVAL);
    bad = make_device(30, c.key, "bad", TRUST_KNOWN);
    memset(bad.source, 'x', sizeof bad.source);
    assert_int_equal(store_device_put(f->st, &bad), BANTER_EINVAL);
    bad = make_device(30, c.key, "bad", TRUST_KNOWN);
    memset(bad.addresses, '1', sizeof bad.addresses);
    assert_int_equal(store_device_put(f->st, &bad), BANTER_EINVAL);
    assert_int_equal(store_device_put(f->st, NULL), BANTER_EINVAL);
    char *after = snapshot(f->path);
    assert_string_equal(after, before);
    free(before);
    free(after);
    assert_int_equal(store_device_get(f->st, bad.key, &got), BANTER_ENOENT);
    assert_int_equal(store_device_get(f->st, over.key, &got), 0);
    assert_int_equal(got.trust, TRUST_KNOWN);
}

/* ---- merging two contacts ---- */

struct merge_case {
    store_contact into, from;
    store_device din, df1, df2;
    int64_t in_only, shared_into, shared_from, from_out, from_in1, from_in2, shared_in_into;
};

/* into (org "dave") has one device and two messages; from (LAN "dave") has
 * two devices, the same broadcast (kept once, as into has it), an own
 * outgoing message with copies, and the same incoming id from two of its
 * devices. */
static void merge_setup(store *st, struct merge_case *mc)
{
    mc->into = make_org(1, "dave");
    mc->from = make_contact(2, "dave");
    assert_int_equal(store_contact_put(st, &mc->into), 0);
    assert_int_equal(store_contact_put(st, &mc->from), 0);
    mc->din = make_device(10, mc->into.key, "dave", TRUST_CERTIFIED);
    mc->df1 = make_device(20, mc->from.key, "dave", TRUST_KNOWN);
    mc->df2 = make_device(30, mc->from.key, "dave-old", TRUST_CHANGED);
    assert_int_equal(store_device_put(st, &mc->din), 0);
    assert_int_equal(store_device_put(st, &mc->df1), 0);
    assert_int_equal(store_device_put(st, &mc->df2), 0);

    store_msg m = make_msg(1, mc->into.key, STORE_OUT, "through the server");
    mc->in_only = add_ok(st, &m);
    m = make_msg(2, mc->into.key, STORE_OUT, "fire drill (into)");
    m.broadcast = true;
    mc->shared_into = add_ok(st, &m);
    assert_int_equal(store_copy_add(st, mc->shared_into, mc->din.key), 0);
    m = make_msg(2, mc->from.key, STORE_OUT, "fire drill (from)");
    m.broadcast = true;
    mc->shared_from = add_ok(st, &m);
    assert_int_equal(store_copy_add(st, mc->shared_from, mc->df1.key), 0);
    m = make_msg(3, mc->from.key, STORE_OUT, "over the LAN");
    mc->from_out = add_ok(st, &m);
    assert_int_equal(store_copy_add(st, mc->from_out, mc->df1.key), 0);
    assert_int_equal(store_copy_set(st, mc->from_out, mc->df1.key, COPY_DELIVERED, "lan", ""), 0);
    m = make_in(4, mc->from.key, mc->df1.key, "reply from the laptop");
    mc->from_in1 = add_ok(st, &m);
    m = make_in(4, mc->from.key, mc->df2.key, "same id from another key");
    m.flags = STORE_MSG_UNTRUSTED;
    mc->from_in2 = add_ok(st, &m);
    /* The same incoming message, from the same device, both contacts hold. */
    m = make_in(5, mc->into.key, mc->df1.key, "relayed copy (into)");
    mc->shared_in_into = add_ok(st, &m);
    m = make_in(5, mc->from.key, mc->df1.key, "LAN copy (from)");
    (void)add_ok(st, &m);
}

static void test_contact_merge(void **state)
{
    struct fixture *f = *state;
    struct merge_case mc;
    merge_setup(f->st, &mc);
    assert_int_equal(count_rows(f->path, "messages"), 8);
    assert_int_equal(store_contact_merge(f->st, mc.from.key, mc.into.key), 0);

    store_contact got;
    assert_int_equal(store_contact_get(f->st, mc.from.key, &got), BANTER_ENOENT);
    assert_int_equal(store_contact_get(f->st, mc.into.key, &got), 0);
    assert_contact_equal(&got, &mc.into);
    /* Devices moved, with their trust. */
    store_device *devs = NULL;
    size_t nd = 0;
    assert_int_equal(store_device_list(f->st, mc.into.key, &devs, &nd), 0);
    assert_int_equal(nd, 3);
    assert_int_equal(devs[0].trust, TRUST_CERTIFIED);
    assert_memory_equal(devs[1].key, mc.df1.key, STORE_KEYLEN);
    assert_int_equal(devs[1].trust, TRUST_KNOWN);
    assert_int_equal(devs[2].trust, TRUST_CHANGED);
    free(devs);
    assert_int_equal(store_device_list(f->st, mc.from.key, &devs, &nd), 0);
    assert_int_equal(nd, 0);

    /* History: everything of both, the shared messages once as into had them. */
    store_msg *h = NULL;
    size_t n = 0;
    assert_int_equal(store_history(f->st, mc.into.key, 0, 100, &h, &n), 0);
    assert_int_equal(n, 6);
    const int64_t want[] = {mc.in_only,  mc.shared_into, mc.from_out,
                            mc.from_in1, mc.from_in2,    mc.shared_in_into};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(h[i].seq, want[i]);
        assert_memory_equal(h[i].contact, mc.into.key, STORE_KEYLEN);
    }
    assert_string_equal(h[1].body, "fire drill (into)");
    assert_string_equal(h[5].body, "relayed copy (into)");
    assert_int_equal(h[4].flags, STORE_MSG_UNTRUSTED);
    assert_memory_equal(h[4].device, mc.df2.key, STORE_KEYLEN);
    store_msgs_free(h, n);
    assert_int_equal(store_history(f->st, mc.from.key, 0, 100, &h, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(count_rows(f->path, "messages"), 6);

    /* Copies follow their message; the dropped duplicate's are gone. */
    store_copy *cp = NULL;
    size_t nc = 0;
    assert_int_equal(store_copies(f->st, mc.from_out, &cp, &nc), 0);
    assert_int_equal(nc, 1);
    assert_int_equal(cp[0].state, COPY_DELIVERED);
    assert_string_equal(cp[0].route, "lan");
    free(cp);
    assert_int_equal(store_copies(f->st, mc.shared_into, &cp, &nc), 0);
    assert_int_equal(nc, 1);
    assert_memory_equal(cp[0].device, mc.din.key, STORE_KEYLEN);
    free(cp);
    assert_int_equal(store_copies(f->st, mc.shared_from, &cp, &nc), 0);
    assert_int_equal(nc, 0);
    assert_int_equal(count_rows(f->path, "copies"), 2);
    /* The outgoing message is found under into now. */
    store_msg fo;
    uint8_t id3[MSG_ID_LEN];
    fill_id(id3, 3);
    assert_int_equal(store_msg_find_out(f->st, id3, mc.into.key, &fo), 0);
    assert_int_equal(fo.seq, mc.from_out);
    store_msg_clear(&fo);
    /* Merging a contact that is gone, or into one that does not exist. */
    assert_int_equal(store_contact_merge(f->st, mc.from.key, mc.into.key), BANTER_ENOENT);
    uint8_t nobody[STORE_KEYLEN];
    fill_key(nobody, 99);
    char *before = snapshot(f->path);
    assert_int_equal(store_contact_merge(f->st, mc.into.key, nobody), BANTER_ENOENT);
    char *after = snapshot(f->path);
    assert_string_equal(after, before);
    free(before);
    free(after);
}

/* A merge that fails at its last step leaves everything as it was. */
static void test_contact_merge_atomic(void **state)
{
    struct fixture *f = *state;
    struct merge_case mc;
    merge_setup(f->st, &mc);
    char *before = snapshot(f->path);
    /* A second connection makes deleting a contact fail. */
    sqlite3 *db = peek_open(f->path);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TRIGGER no_delete BEFORE DELETE ON contacts"
                                  " BEGIN SELECT RAISE(ABORT, 'contacts are kept'); END;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    char *armed = snapshot(f->path);
    assert_string_equal(armed, before);
    assert_int_equal(store_contact_merge(f->st, mc.from.key, mc.into.key), BANTER_EDB);
    assert_non_null(strstr(store_errmsg(f->st), "contacts are kept"));
    char *after = snapshot(f->path);
    assert_string_equal(after, before);
    /* And the store still works, and merges once allowed. */
    assert_int_equal(sqlite3_exec(db, "DROP TRIGGER no_delete", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_contact_merge(f->st, mc.from.key, mc.into.key), 0);
    assert_int_equal(count_rows(f->path, "messages"), 6);
    free(before);
    free(armed);
    free(after);
}

/* ---- messages ---- */

static void test_msg_dedup(void **state)
{
    struct fixture *f = *state;
    uint8_t c1[STORE_KEYLEN], c2[STORE_KEYLEN], dev1[STORE_KEYLEN], dev2[STORE_KEYLEN];
    fill_key(c1, 1);
    fill_key(c2, 2);
    fill_key(dev1, 11);
    fill_key(dev2, 12);

    /* Outgoing: (id, contact, dir); a broadcast is one row per contact. */
    store_msg m = make_msg(1, c1, STORE_OUT, "hello");
    m.broadcast = true;
    int64_t s1 = add_ok(f->st, &m);
    int64_t untouched = -7;
    store_msg dup = m;
    dup.body = "other text";
    dup.body_len = strlen(dup.body);
    assert_int_equal(store_msg_add(f->st, &dup, &untouched), 1);
    assert_int_equal(untouched, -7);
    store_msg copy = m;
    memcpy(copy.contact, c2, STORE_KEYLEN);
    int64_t s2 = add_ok(f->st, &copy);
    assert_true(s2 > s1);

    /* Incoming: the same id from two devices of one contact is kept twice,
     * from the same device once. */
    store_msg in1 = make_in(1, c1, dev1, "hello back");
    store_msg in2 = make_in(1, c1, dev2, "hello from the phone");
    in2.flags = STORE_MSG_UNTRUSTED;
    int64_t s3 = add_ok(f->st, &in1);
    int64_t s4 = add_ok(f->st, &in2);
    assert_true(s4 > s3 && s3 > s2);
    assert_int_equal(store_msg_add(f->st, &in1, NULL), 1);
    store_msg in1again = in2;
    memcpy(in1again.device, dev1, STORE_KEYLEN);
    assert_int_equal(store_msg_add(f->st, &in1again, NULL), 1);
    assert_int_equal(store_msg_add(f->st, &in2, NULL), 1);
    /* The same id and device but another contact is another row. */
    store_msg in3 = make_in(1, c2, dev1, "to another contact");
    (void)add_ok(f->st, &in3);
    /* Incoming without a device (relayed before devices were known) is
     * its own sender. */
    store_msg nodev = make_msg(1, c1, STORE_IN, "no device");
    int64_t s5 = add_ok(f->st, &nodev);
    assert_int_equal(store_msg_add(f->st, &nodev, NULL), 1);

    store_msg *h = NULL;
    size_t n = 0;
    assert_int_equal(store_history(f->st, c1, 0, 10, &h, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(h[0].seq, s1);
    assert_msg_equal(&h[0], &m); /* the first body, not the duplicate's */
    assert_true(h[0].broadcast);
    assert_false(h[0].has_device);
    assert_int_equal(h[1].seq, s3);
    assert_msg_equal(&h[1], &in1);
    assert_int_equal(h[1].flags, 0);
    assert_int_equal(h[2].seq, s4);
    assert_msg_equal(&h[2], &in2);
    assert_int_equal(h[2].flags, STORE_MSG_UNTRUSTED);
    assert_int_equal(h[3].seq, s5);
    assert_msg_equal(&h[3], &nodev);
    store_msgs_free(h, n);
    reopen(f);
    /* Dedup survives a reopen. */
    assert_int_equal(store_msg_add(f->st, &in1, NULL), 1);
    assert_int_equal(store_msg_add(f->st, &m, NULL), 1);
}

static void test_msg_refused(void **state)
{
    struct fixture *f = *state;
    uint8_t c1[STORE_KEYLEN];
    fill_key(c1, 1);
    char *before = snapshot(f->path);
    /* State and direction must agree; a NULL body needs length 0. */
    const store_state bad_out[] = {STORE_RECEIVED, (store_state)5, (store_state)-1};
    for (size_t i = 0; i < sizeof bad_out / sizeof bad_out[0]; i++) {
        store_msg bad = make_msg(3, c1, STORE_OUT, "x");
        bad.state = bad_out[i];
        assert_int_equal(store_msg_add(f->st, &bad, NULL), BANTER_EINVAL);
    }
    const store_state bad_in[] = {STORE_QUEUED, STORE_DELIVERED, STORE_SERVER, STORE_FAILED};
    for (size_t i = 0; i < sizeof bad_in / sizeof bad_in[0]; i++) {
        store_msg bad = make_msg(3, c1, STORE_IN, "x");
        bad.state = bad_in[i];
        assert_int_equal(store_msg_add(f->st, &bad, NULL), BANTER_EINVAL);
    }
    store_msg bad = make_msg(3, c1, STORE_OUT, "x");
    bad.dir = (store_dir)2;
    assert_int_equal(store_msg_add(f->st, &bad, NULL), BANTER_EINVAL);
    bad = make_msg(3, c1, STORE_OUT, "x");
    bad.body = NULL;
    assert_int_equal(store_msg_add(f->st, &bad, NULL), BANTER_EINVAL);
    assert_int_equal(store_msg_add(f->st, NULL, NULL), BANTER_EINVAL);
    assert_int_equal(store_msg_add(NULL, &bad, NULL), BANTER_EINVAL);
    char *after = snapshot(f->path);
    assert_string_equal(after, before);
    free(before);
    free(after);
    /* A NULL body of length 0 is an empty one. */
    bad.body_len = 0;
    int64_t seq = add_ok(f->st, &bad);
    store_msg *h = NULL;
    size_t n = 0;
    assert_int_equal(store_history(f->st, c1, 0, 10, &h, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(h[0].seq, seq);
    assert_string_equal(h[0].body, "");
    store_msgs_free(h, n);
}

static void test_outbox(void **state)
{
    struct fixture *f = *state;
    uint8_t c1[STORE_KEYLEN], c2[STORE_KEYLEN], dev[STORE_KEYLEN];
    fill_key(c1, 1);
    fill_key(c2, 2);
    fill_key(dev, 11);
    store_msg o1 = make_msg(1, c1, STORE_OUT, "one");
    store_msg o2 = make_msg(2, c1, STORE_OUT, "two");
    store_msg o3 = make_msg(3, c1, STORE_OUT, "three");
    store_msg elsewhere = make_msg(4, c2, STORE_OUT, "to c2");
    store_msg in = make_in(5, c1, dev, "incoming");
    store_msg done = make_msg(6, c1, STORE_OUT, "already delivered");
    done.state = STORE_DELIVERED;
    /* Added with ids out of order: the outbox follows insertion. */
    int64_t s3 = add_ok(f->st, &o3);
    int64_t se = add_ok(f->st, &elsewhere);
    int64_t s1 = add_ok(f->st, &o1);
    int64_t sin = add_ok(f->st, &in);
    (void)add_ok(f->st, &done);
    int64_t s2 = add_ok(f->st, &o2);

    store_msg *ob = NULL;
    size_t n = 0;
    assert_int_equal(store_outbox(f->st, c1, &ob, &n), 0);
    assert_int_equal(n, 3);
    assert_msg_equal(&ob[0], &o3);
    assert_msg_equal(&ob[1], &o1);
    assert_msg_equal(&ob[2], &o2);
    assert_true(ob[0].seq < ob[1].seq && ob[1].seq < ob[2].seq);
    store_msgs_free(ob, n);
    /* Every contact's, in the order they were added. */
    assert_int_equal(store_outbox(f->st, NULL, &ob, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(ob[0].seq, s3);
    assert_int_equal(ob[1].seq, se);
    assert_msg_equal(&ob[1], &elsewhere);
    assert_int_equal(ob[2].seq, s1);
    assert_int_equal(ob[3].seq, s2);
    store_msgs_free(ob, n);

    assert_int_equal(store_msg_set_result(f->st, s1, STORE_DELIVERED, ""), 0);
    /* Relayed: on the server, or refused with the server's code; neither
     * stays in the outbox. */
    assert_int_equal(store_msg_set_result(f->st, s2, STORE_SERVER, ""), 0);
    assert_int_equal(store_msg_set_result(f->st, s3, STORE_FAILED, "EQUOTA"), 0);
    assert_int_equal(store_outbox(f->st, c1, &ob, &n), 0);
    assert_int_equal(n, 0);
    assert_null(ob);
    assert_int_equal(store_history(f->st, c1, 0, 10, &ob, &n), 0);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) {
        if (ob[i].seq == s3) {
            assert_int_equal(ob[i].state, STORE_FAILED);
            assert_string_equal(ob[i].error, "EQUOTA");
        } else {
            assert_string_equal(ob[i].error, "");
        }
        if (ob[i].seq == s2)
            assert_int_equal(ob[i].state, STORE_SERVER);
        if (ob[i].seq == s1)
            assert_int_equal(ob[i].state, STORE_DELIVERED);
    }
    store_msgs_free(ob, n);

    /* Back to QUEUED clears the error and returns it to the outbox. */
    assert_int_equal(store_msg_set_result(f->st, s3, STORE_QUEUED, ""), 0);
    assert_int_equal(store_outbox(f->st, c1, &ob, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ob[0].seq, s3);
    assert_string_equal(ob[0].error, "");
    store_msgs_free(ob, n);

    /* Refused: an incoming state, an unknown seq, an incoming message. */
    char *before = snapshot(f->path);
    assert_int_equal(store_msg_set_result(f->st, s3, STORE_RECEIVED, ""), BANTER_EINVAL);
    assert_int_equal(store_msg_set_result(f->st, s3, (store_state)9, ""), BANTER_EINVAL);
    assert_int_equal(store_msg_set_result(f->st, s3, STORE_FAILED, NULL), BANTER_EINVAL);
    assert_int_equal(store_msg_set_result(f->st, 9999, STORE_DELIVERED, ""), BANTER_ENOENT);
    assert_int_equal(store_msg_set_result(f->st, sin, STORE_DELIVERED, ""), BANTER_ENOENT);
    char *after = snapshot(f->path);
    assert_string_equal(after, before);
    free(before);
    free(after);

    /* c2's outbox was never touched. */
    assert_int_equal(store_outbox(f->st, c2, &ob, &n), 0);
    assert_int_equal(n, 1);
    assert_msg_equal(&ob[0], &elsewhere);
    store_msgs_free(ob, n);
    store_msgs_free(NULL, 0);
    store_msg_clear(NULL);
}

/* Whether the node wrote to a contact: its own message to them alone, in
 * any state; what they sent and a broadcast do not count. */
static void test_contact_written(void **state)
{
    struct fixture *f = *state;
    uint8_t c1[STORE_KEYLEN], c2[STORE_KEYLEN], dev[STORE_KEYLEN];
    fill_key(c1, 1);
    fill_key(c2, 2);
    fill_key(dev, 11);
    assert_int_equal(store_contact_written(f->st, c1), BANTER_ENOENT);
    store_msg in = make_in(1, c1, dev, "hello from c1");
    (void)add_ok(f->st, &in);
    store_msg bc = make_msg(2, c1, STORE_OUT, "to everyone");
    bc.broadcast = true;
    (void)add_ok(f->st, &bc);
    assert_int_equal(store_contact_written(f->st, c1), BANTER_ENOENT);
    store_msg failed = make_msg(3, c1, STORE_OUT, "to c1 alone");
    failed.state = STORE_FAILED;
    (void)add_ok(f->st, &failed);
    assert_int_equal(store_contact_written(f->st, c1), 0);
    assert_int_equal(store_contact_written(f->st, c2), BANTER_ENOENT);
    store_msg bot = make_msg(5, c2, STORE_OUT, "a plug-in's answer to c2");
    bot.flags = STORE_MSG_AUTO;
    (void)add_ok(f->st, &bot);
    assert_int_equal(store_contact_written(f->st, c2), BANTER_ENOENT);
    store_msg q = make_msg(4, c2, STORE_OUT, "queued to c2");
    (void)add_ok(f->st, &q);
    assert_int_equal(store_contact_written(f->st, c2), 0);
    assert_int_equal(store_contact_written(NULL, c2), BANTER_EINVAL);
}

static void test_find_out(void **state)
{
    struct fixture *f = *state;
    uint8_t c1[STORE_KEYLEN], c2[STORE_KEYLEN], dev[STORE_KEYLEN];
    fill_key(c1, 1);
    fill_key(c2, 2);
    fill_key(dev, 11);
    store_msg o = make_msg(1, c1, STORE_OUT, "the outgoing one");
    o.broadcast = true;
    int64_t so = add_ok(f->st, &o);
    store_msg o2 = make_msg(1, c2, STORE_OUT, "same id, the other recipient");
    o2.broadcast = true;
    int64_t so2 = add_ok(f->st, &o2);
    store_msg in = make_in(2, c1, dev, "incoming");
    (void)add_ok(f->st, &in);
    assert_int_equal(store_msg_set_result(f->st, so2, STORE_FAILED, "EQUOTA"), 0);

    store_msg got;
    assert_int_equal(store_msg_find_out(f->st, o.id, c1, &got), 0);
    assert_int_equal(got.seq, so);
    assert_msg_equal(&got, &o);
    store_msg_clear(&got);
    assert_null(got.body);
    assert_int_equal(store_msg_find_out(f->st, o.id, c2, &got), 0);
    assert_int_equal(got.seq, so2);
    assert_int_equal(got.state, STORE_FAILED);
    assert_string_equal(got.error, "EQUOTA");
    assert_string_equal(got.body, "same id, the other recipient");
    store_msg_clear(&got);
    /* Not an incoming message, not another contact's, not an unknown id. */
    assert_int_equal(store_msg_find_out(f->st, in.id, c1, &got), BANTER_ENOENT);
    uint8_t c3[STORE_KEYLEN], unknown[MSG_ID_LEN];
    fill_key(c3, 3);
    fill_id(unknown, 77);
    assert_int_equal(store_msg_find_out(f->st, o.id, c3, &got), BANTER_ENOENT);
    assert_int_equal(store_msg_find_out(f->st, unknown, c1, &got), BANTER_ENOENT);
    /* An incoming message with the id of an outgoing one is not found. */
    store_msg echo = make_in(1, c1, dev, "an echo");
    (void)add_ok(f->st, &echo);
    assert_int_equal(store_msg_find_out(f->st, o.id, c1, &got), 0);
    assert_int_equal(got.dir, STORE_OUT);
    store_msg_clear(&got);
}

/* Paging back through history with `before` covers it exactly once, in
 * order, whatever the page size. */
static void test_history_paging(void **state)
{
    struct fixture *f = *state;
    uint8_t c1[STORE_KEYLEN], c2[STORE_KEYLEN], dev[STORE_KEYLEN];
    fill_key(c1, 1);
    fill_key(c2, 2);
    fill_key(dev, 11);
    enum { TOTAL = 25 };
    char bodies[TOTAL][16];
    int64_t seqs[TOTAL];
    for (uint32_t i = 0; i < TOTAL; i++) {
        snprintf(bodies[i], sizeof bodies[i], "msg %u", i);
        store_msg m =
            i % 3 == 0 ? make_in(i, c1, dev, bodies[i]) : make_msg(i, c1, STORE_OUT, bodies[i]);
        seqs[i] = add_ok(f->st, &m);
        store_msg noise = make_msg(100 + i, c2, STORE_OUT, "not for c1");
        (void)add_ok(f->st, &noise);
    }
    /* The last ones. */
    store_msg *h = NULL;
    size_t n = 0;
    assert_int_equal(store_history(f->st, c1, 0, 4, &h, &n), 0);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(h[i].seq, seqs[TOTAL - 4 + i]);
        assert_string_equal(h[i].body, bodies[TOTAL - 4 + i]);
    }
    store_msgs_free(h, n);

    const size_t sizes[] = {1, 3, 7, 24, 25, 26};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int64_t got[TOTAL];
        size_t have = 0, pages = 0;
        int64_t before = 0;
        for (;;) {
            assert_int_equal(store_history(f->st, c1, before, sizes[s], &h, &n), 0);
            if (n == 0) {
                assert_null(h);
                break;
            }
            assert_true(n <= sizes[s]);
            assert_true(have + n <= TOTAL);
            /* A page is older than everything read so far: prepend it. */
            memmove(got + n, got, have * sizeof got[0]);
            for (size_t i = 0; i < n; i++) {
                assert_memory_equal(h[i].contact, c1, STORE_KEYLEN);
                got[i] = h[i].seq;
                if (i > 0)
                    assert_true(h[i].seq > h[i - 1].seq);
            }
            have += n;
            before = h[0].seq;
            store_msgs_free(h, n);
            pages++;
        }
        assert_int_equal(have, TOTAL);
        assert_int_equal(pages, (TOTAL + sizes[s] - 1) / sizes[s]);
        for (size_t i = 0; i < TOTAL; i++)
            assert_int_equal(got[i], seqs[i]);
    }

    /* Before the first message: nothing; before a seq of another contact:
     * c1's older ones. */
    assert_int_equal(store_history(f->st, c1, seqs[0], 10, &h, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(store_history(f->st, c1, seqs[2] + 1, 10, &h, &n), 0);
    assert_int_equal(n, 3);
    store_msgs_free(h, n);
    assert_int_equal(store_history(f->st, c1, 0, SIZE_MAX, &h, &n), 0);
    assert_int_equal(n, TOTAL);
    store_msgs_free(h, n);
    assert_int_equal(store_history(f->st, c1, 0, 0, &h, &n), 0);
    assert_int_equal(n, 0);
    assert_null(h);
    uint8_t nobody[STORE_KEYLEN];
    fill_key(nobody, 77);
    assert_int_equal(store_history(f->st, nobody, 0, 10, &h, &n), 0);
    assert_int_equal(n, 0);
    assert_null(h);
}

/* The retention rule: old history goes, what still waits to be sent and
 * anything newer stays. */
static void test_history_prune(void **state)
{
    struct fixture *f = *state;
    uint8_t c1[STORE_KEYLEN], dev[STORE_KEYLEN];
    int64_t n = -1;
    fill_key(c1, 1);
    fill_key(dev, 11);
    store_msg in_old = make_in(1, c1, dev, "old in");              /* ts ...001 */
    store_msg out_old = make_msg(2, c1, STORE_OUT, "old out");     /* delivered below */
    store_msg queued_old = make_msg(3, c1, STORE_OUT, "queued");   /* still in the outbox */
    store_msg copy_old = make_msg(4, c1, STORE_OUT, "copy waits"); /* a copy still queued */
    store_msg in_new = make_in(50, c1, dev, "new in");
    int64_t s_in = add_ok(f->st, &in_old), s_out = add_ok(f->st, &out_old);
    int64_t s_q = add_ok(f->st, &queued_old), s_c = add_ok(f->st, &copy_old);
    int64_t s_new = add_ok(f->st, &in_new);
    assert_int_equal(store_msg_set_result(f->st, s_out, STORE_DELIVERED, ""), 0);
    assert_int_equal(store_msg_set_result(f->st, s_c, STORE_SERVER, ""), 0);
    assert_int_equal(store_copy_add(f->st, s_c, dev), 0);
    assert_int_equal(store_history_prune(f->st, 1700000000000 + 10, &n), 0);
    assert_int_equal(n, 2);
    store_msg *h = NULL;
    size_t count = 0;
    assert_int_equal(store_history(f->st, c1, 0, 10, &h, &count), 0);
    assert_int_equal(count, 3);
    assert_int_equal(h[0].seq, s_q);
    assert_int_equal(h[1].seq, s_c);
    assert_int_equal(h[2].seq, s_new);
    store_msgs_free(h, count);
    (void)s_in;
    /* the search index follows */
    assert_int_equal(store_search(f->st, "old", NULL, 0, 10, &h, &count), 0);
    assert_int_equal(count, 0);
    store_msgs_free(h, count);
    assert_int_equal(store_search(f->st, "new", NULL, 0, 10, &h, &count), 0);
    assert_int_equal(count, 1);
    store_msgs_free(h, count);
    assert_int_equal(store_history_prune(f->st, 0, &n), 0);
    assert_int_equal(n, 0);
}

static void test_body_round_trip(void **state)
{
    struct fixture *f = *state;
    uint8_t c1[STORE_KEYLEN];
    fill_key(c1, 1);
    const char *bodies[] = {
        "",
        "line one\nline two\r\n\ttabbed\n",
        "Grüße, ĉu vi? 日本語 🎉👩‍💻 \xe2\x80\x8b end",
        "quote ' double \" backslash \\ percent %s semicolon ; -- DROP TABLE messages;",
    };
    size_t nb = sizeof bodies / sizeof bodies[0];
    for (uint32_t i = 0; i < nb; i++) {
        store_msg m = make_msg(i, c1, STORE_OUT, bodies[i]);
        (void)add_ok(f->st, &m);
    }
    /* An embedded NUL survives too: the length is what counts. */
    static const char withnul[] = "before\0after";
    store_msg z = make_msg(50, c1, STORE_OUT, "");
    z.body = (char *)(uintptr_t)withnul;
    z.body_len = sizeof withnul - 1;
    (void)add_ok(f->st, &z);
    /* A maximal body. */
    char *big = malloc(BANTER_MAX_BODY + 1);
    assert_non_null(big);
    for (size_t i = 0; i < BANTER_MAX_BODY; i++)
        big[i] = (char)('a' + i % 26);
    big[BANTER_MAX_BODY] = '\0';
    store_msg b = make_msg(51, c1, STORE_OUT, big);
    (void)add_ok(f->st, &b);

    reopen(f);
    store_msg *h = NULL;
    size_t n = 0;
    assert_int_equal(store_history(f->st, c1, 0, 100, &h, &n), 0);
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
    uint8_t c1[STORE_KEYLEN], dev[STORE_KEYLEN];
    fill_key(c1, 1);
    fill_key(dev, 11);
    store_msg o1 = make_msg(1, c1, STORE_OUT, "queued one");
    store_msg o2 = make_msg(2, c1, STORE_OUT, "queued two");
    store_msg o3 = make_msg(3, c1, STORE_OUT, "delivered");
    int64_t s1 = add_ok(f->st, &o1);
    (void)add_ok(f->st, &o2);
    int64_t s3 = add_ok(f->st, &o3);
    assert_int_equal(store_copy_add(f->st, s1, dev), 0);
    assert_int_equal(store_copy_set(f->st, s1, dev, COPY_SERVER, "relay", ""), 0);
    assert_int_equal(store_msg_set_result(f->st, s3, STORE_DELIVERED, ""), 0);
    reopen(f);

    store_msg *ob = NULL;
    size_t n = 0;
    assert_int_equal(store_outbox(f->st, c1, &ob, &n), 0);
    assert_int_equal(n, 2);
    assert_msg_equal(&ob[0], &o1);
    assert_msg_equal(&ob[1], &o2);
    store_msgs_free(ob, n);
    store_copy *cp = NULL;
    assert_int_equal(store_copies(f->st, s1, &cp, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(cp[0].state, COPY_SERVER);
    assert_string_equal(cp[0].route, "relay");
    free(cp);
    assert_int_equal(store_msg_add(f->st, &o1, NULL), 1);
}

/* ---- copies ---- */

static void test_copies(void **state)
{
    struct fixture *f = *state;
    uint8_t c1[STORE_KEYLEN], d1[STORE_KEYLEN], d2[STORE_KEYLEN], d3[STORE_KEYLEN];
    fill_key(c1, 1);
    fill_key(d1, 30);
    fill_key(d2, 20);
    fill_key(d3, 40);
    store_msg m = make_msg(1, c1, STORE_OUT, "to every device");
    int64_t seq = add_ok(f->st, &m);
    store_msg m2 = make_msg(2, c1, STORE_OUT, "another");
    int64_t seq2 = add_ok(f->st, &m2);

    store_copy *cp = NULL;
    size_t n = 9;
    assert_int_equal(store_copies(f->st, seq, &cp, &n), 0);
    assert_int_equal(n, 0);
    assert_null(cp);
    /* Added twice: one copy. */
    assert_int_equal(store_copy_add(f->st, seq, d1), 0);
    assert_int_equal(store_copy_add(f->st, seq, d1), 1);
    assert_int_equal(store_copy_add(f->st, seq, d2), 0);
    assert_int_equal(store_copy_add(f->st, seq, d3), 0);
    assert_int_equal(store_copy_add(f->st, seq2, d1), 0);
    assert_int_equal(store_copies(f->st, seq, &cp, &n), 0);
    assert_int_equal(n, 3);
    /* Listed by device key; each pending with no route. */
    assert_memory_equal(cp[0].device, d2, STORE_KEYLEN);
    assert_memory_equal(cp[1].device, d1, STORE_KEYLEN);
    assert_memory_equal(cp[2].device, d3, STORE_KEYLEN);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(cp[i].seq, seq);
        assert_int_equal(cp[i].state, COPY_PENDING);
        assert_string_equal(cp[i].route, "");
        assert_string_equal(cp[i].error, "");
    }
    free(cp);

    /* Settled, each its own way; a second add leaves a settled copy alone. */
    assert_int_equal(store_copy_set(f->st, seq, d1, COPY_DELIVERED, "lan", ""), 0);
    assert_int_equal(store_copy_set(f->st, seq, d2, COPY_SERVER, "relay", ""), 0);
    assert_int_equal(store_copy_set(f->st, seq, d3, COPY_FAILED, "relay", "EQUOTA"), 0);
    assert_int_equal(store_copy_add(f->st, seq, d1), 1);
    reopen(f);
    assert_int_equal(store_copies(f->st, seq, &cp, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(cp[0].state, COPY_SERVER);
    assert_string_equal(cp[0].route, "relay");
    assert_int_equal(cp[1].state, COPY_DELIVERED);
    assert_string_equal(cp[1].route, "lan");
    assert_int_equal(cp[2].state, COPY_FAILED);
    assert_string_equal(cp[2].error, "EQUOTA");
    free(cp);
    /* Reopened (the route was lost): pending again. */
    assert_int_equal(store_copy_set(f->st, seq, d2, COPY_PENDING, "", ""), 0);

    /* Refused: a state copies do not have, no such copy, no such message;
     * nothing changes. */
    char *before = snapshot(f->path);
    const int bad[] = {2, 5, -1, 42};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(store_copy_set(f->st, seq, d1, (store_copy_state)bad[i], "lan", ""),
                         BANTER_EINVAL);
    assert_int_equal(store_copy_set(f->st, seq, d1, COPY_DELIVERED, NULL, ""), BANTER_EINVAL);
    assert_int_equal(store_copy_set(f->st, seq, d1, COPY_DELIVERED, "lan", NULL), BANTER_EINVAL);
    assert_int_equal(store_copy_set(f->st, seq2, d2, COPY_DELIVERED, "lan", ""), BANTER_ENOENT);
    assert_int_equal(store_copy_set(f->st, 9999, d1, COPY_DELIVERED, "lan", ""), BANTER_ENOENT);
    assert_true(store_copy_add(f->st, 9999, d1) < 0); /* a copy of nothing */
    char *after = snapshot(f->path);
    assert_string_equal(after, before);
    free(before);
    free(after);
    assert_int_equal(store_copies(f->st, seq2, &cp, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(cp[0].state, COPY_PENDING);
    free(cp);
}

/* ---- a full disk ---- */

static void test_disk_full(void **state)
{
    struct fixture *f = *state;
    uint8_t c1[STORE_KEYLEN];
    fill_key(c1, 1);
    static char body[1500];
    memset(body, 'z', sizeof body - 1);

    for (uint32_t i = 0; i < 5; i++) {
        store_msg m = make_msg(i, c1, STORE_OUT, body);
        (void)add_ok(f->st, &m);
    }
    assert_int_equal(store_set_max_pages(f->st, 0), BANTER_EINVAL);
    assert_int_equal(store_set_max_pages(f->st, -5), BANTER_EINVAL);
    assert_int_equal(store_set_max_pages(NULL, 5), BANTER_EINVAL);
    /* A cap below the current size is raised to it: full within a page. */
    assert_int_equal(store_set_max_pages(f->st, 1), 0);
    uint32_t added = 5;
    int ret = 0;
    for (; added < 10; added++) {
        store_msg m = make_msg(added, c1, STORE_OUT, body);
        ret = store_msg_add(f->st, &m, NULL);
        if (ret != 0)
            break;
    }
    assert_int_equal(ret, BANTER_ENOSPC);
    uint32_t at_first_cap = added;

    /* A few pages more of room (a page is 4096 bytes), then full again. */
    assert_int_equal(store_set_max_pages(f->st, 80), 0);
    for (; added < 10000; added++) {
        store_msg m = make_msg(added, c1, STORE_OUT, body);
        ret = store_msg_add(f->st, &m, NULL);
        if (ret != 0)
            break;
    }
    assert_int_equal(ret, BANTER_ENOSPC);
    assert_true(added > at_first_cap + 5);
    assert_true(strlen(store_errmsg(f->st)) > 0);

    /* What was refused left the database as it was: another message, a
     * transfer of many files (one transaction), a contact, a device. */
    char *before = snapshot(f->path);
    store_msg m = make_msg(added, c1, STORE_OUT, body);
    assert_int_equal(store_msg_add(f->st, &m, NULL), BANTER_ENOSPC);
    enum { NFILES = 64 };
    store_xfile files[NFILES];
    char names[NFILES][1100];
    for (size_t i = 0; i < NFILES; i++) {
        memset(names[i], 'a' + (int)(i % 26), sizeof names[i] - 1);
        names[i][sizeof names[i] - 1] = '\0';
        files[i] = (store_xfile){.name = names[i], .local = names[i], .size = i};
    }
    store_xfer x = {.dir = 1, .dest = "", .error = "", .nfiles = NFILES, .files = files};
    memset(x.id, 7, sizeof x.id);
    assert_int_equal(store_xfer_put(f->st, &x), BANTER_ENOSPC);
    store_contact c = make_contact(1, "alice");
    memset(c.name, 'n', sizeof c.name - 1);
    c.name[sizeof c.name - 1] = '\0';
    int cret = 0;
    for (int i = 0; i < 200; i++) {
        c.key[0] = (uint8_t)i;
        cret = store_contact_put(f->st, &c);
        if (cret != 0)
            break;
        free(before); /* a row fitted: the database changed, take it again */
        before = snapshot(f->path);
    }
    assert_int_equal(cret, BANTER_ENOSPC);
    char *after = snapshot(f->path);
    assert_string_equal(after, before);
    free(after);
    free(before);

    /* Everything added before is there and readable. */
    store_msg *h = NULL;
    size_t n = 0;
    assert_int_equal(store_outbox(f->st, c1, &h, &n), 0);
    assert_int_equal(n, added);
    for (uint32_t i = 0; i < added; i++) {
        store_msg want = make_msg(i, c1, STORE_OUT, body);
        assert_msg_equal(&h[i], &want);
    }
    int64_t first = h[0].seq;
    store_msgs_free(h, n);
    /* Updating in place still works. */
    assert_int_equal(store_msg_set_result(f->st, first, STORE_DELIVERED, ""), 0);

    /* Raise the cap: the refused message goes in now, as new. */
    assert_int_equal(store_set_max_pages(f->st, 1000000), 0);
    assert_int_equal(store_msg_add(f->st, &m, NULL), 0);
    assert_int_equal(store_xfer_put(f->st, &x), 0);
    reopen(f);
    assert_int_equal(store_outbox(f->st, c1, &h, &n), 0);
    assert_int_equal(n, added); /* added - 1 queued before, plus the new one */
    store_msgs_free(h, n);
    store_xfer *all = NULL;
    assert_int_equal(store_xfer_load_all(f->st, &all, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(all[0].nfiles, NFILES);
    store_xfers_free(all, n);
}

/* ---- files it must refuse ---- */

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
    /* errmsg may be NULL, and a tiny buffer is still terminated. */
    assert_int_equal(store_open(&st, path, NULL, 0), BANTER_EDB);
    assert_null(st);
    char tiny[4];
    assert_int_equal(store_open(&st, path, tiny, sizeof tiny), BANTER_EDB);
    assert_true(strlen(tiny) < sizeof tiny);
    assert_int_equal(store_open(&st, NULL, err, sizeof err), BANTER_EINVAL);
    assert_null(st);
    assert_int_equal(store_open(NULL, path, err, sizeof err), BANTER_EINVAL);
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
    assert_true(strlen(err) > 0);
}

/* ---- transfers ---- */

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
    /* A second, newer transfer is listed first. */
    store_xfer y = x;
    memset(y.id, 2, sizeof y.id);
    y.created_ms = 2000;
    y.nfiles = 0;
    y.files = NULL;
    y.error = "ECANCELED";
    assert_int_equal(store_xfer_put(f->st, &y), 0);
    reopen(f);

    store_xfer *all = NULL;
    size_t n = 0;
    assert_int_equal(store_xfer_load_all(f->st, &all, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(all[0].id, y.id, sizeof y.id);
    assert_string_equal(all[0].error, "ECANCELED");
    assert_int_equal(all[0].nfiles, 0);
    assert_memory_equal(all[1].id, x.id, sizeof x.id);
    assert_memory_equal(all[1].peer, x.peer, sizeof x.peer);
    assert_memory_equal(all[1].secret, x.secret, sizeof x.secret);
    assert_int_equal(all[1].dir, 1);
    assert_int_equal(all[1].state, 1);
    assert_true(all[1].done == 99);
    assert_int_equal(all[1].created_ms, 1000);
    assert_int_equal(all[1].updated_ms, 1001);
    assert_string_equal(all[1].dest, "/home/u/Downloads");
    assert_string_equal(all[1].error, "");
    assert_int_equal(all[1].nfiles, 2);
    assert_string_equal(all[1].files[0].name, "Photos/a.jpg");
    assert_string_equal(all[1].files[0].local, "/home/u/Photos/a.jpg");
    assert_true(all[1].files[0].size == 123 && all[1].files[0].mtime_ns == 42);
    assert_memory_equal(all[1].files[0].hash, files[0].hash, sizeof files[0].hash);
    assert_false(all[1].files[0].verified);
    assert_string_equal(all[1].files[1].local, "Photos (1)/b.jpg");
    assert_true(all[1].files[1].verified);
    store_xfers_free(all, n);

    /* Put again replaces the transfer with all its files. */
    x.nfiles = 1;
    assert_int_equal(store_xfer_put(f->st, &x), 0);
    assert_int_equal(store_xfer_load_all(f->st, &all, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(all[1].nfiles, 1);
    assert_string_equal(all[1].files[0].name, "Photos/a.jpg");
    store_xfers_free(all, n);

    /* Delete forgets the transfer and its files' rows (a transfer put
     * again under the id has none of them); deleting none is no error. */
    store_xfer one;
    assert_int_equal(store_xfer_delete(f->st, x.id), 0);
    assert_int_equal(store_xfer_get(f->st, x.id, &one), BANTER_ENOENT);
    assert_int_equal(store_xfer_load_all(f->st, &all, &n), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(all[0].id, y.id, sizeof y.id);
    store_xfers_free(all, n);
    assert_int_equal(store_xfer_delete(f->st, x.id), 0);
    x.nfiles = 0;
    assert_int_equal(store_xfer_put(f->st, &x), 0);
    assert_int_equal(store_xfer_get(f->st, x.id, &one), 0);
    assert_int_equal(one.nfiles, 0);
    store_xfer_clear(&one);

    uint8_t other[MSG_ID_LEN] = {3};
    memcpy(x.id, other, sizeof other);
    assert_int_equal(store_xfer_save(f->st, &x), BANTER_ENOENT);
    store_xfers_free(NULL, 0);
    store_xfer_clear(NULL);
}

/* Schema 7: only live transfers are loaded; one by id; pages newest
 * first before an id; an id prefix resolves by range; migrating from 6
 * drops offers that were refused for their names (failed, never
 * accepted) and keeps everything else. */
static void test_transfer_pages(void **state)
{
    struct fixture *f = *state;
    store_xfile file = {.name = "a.txt", .local = "", .size = 1};
    /* 12 transfers, created 1000..12000; states cycle through 0..6. */
    for (int i = 0; i < 12; i++) {
        store_xfer x = {.dir = 1,
                        .state = i % 7,
                        .created_ms = 1000 * (i + 1),
                        .updated_ms = 1,
                        .dest = i % 7 == 4 && i < 7 ? "" : "/d",
                        .error = "",
                        .nfiles = 1,
                        .files = &file};
        memset(x.id, 0x10 + i, sizeof x.id);
        fill_key(x.peer, 3);
        assert_int_equal(store_xfer_put(f->st, &x), 0);
    }
    store_xfer *xs = NULL;
    size_t n = 0;
    assert_int_equal(store_xfer_load_live(f->st, &xs, &n), 0);
    size_t live = 0;
    for (int i = 0; i < 12; i++)
        live += i % 7 <= 2 || i % 7 == 4;
    assert_int_equal(n, live);
    for (size_t k = 0; k < n; k++)
        assert_true(xs[k].state <= 2 || xs[k].state == 4);
    assert_true(xs[0].created_ms > xs[n - 1].created_ms);
    store_xfers_free(xs, n);

    assert_int_equal(store_xfer_page(f->st, NULL, 5, &xs, &n), 0);
    assert_int_equal(n, 5);
    assert_int_equal(xs[0].created_ms, 12000);
    assert_int_equal(xs[4].created_ms, 8000);
    assert_int_equal(xs[0].nfiles, 1);
    uint8_t last[MSG_ID_LEN];
    memcpy(last, xs[4].id, MSG_ID_LEN);
    store_xfers_free(xs, n);
    assert_int_equal(store_xfer_page(f->st, last, 100, &xs, &n), 0);
    assert_int_equal(n, 7);
    assert_int_equal(xs[0].created_ms, 7000);
    store_xfers_free(xs, n);
    uint8_t none[MSG_ID_LEN] = {0};
    assert_int_equal(store_xfer_page(f->st, none, 100, &xs, &n), 0);
    assert_int_equal(n, 0);
    store_xfers_free(xs, n);

    store_xfer one;
    memset(last, 0x13, sizeof last);
    assert_int_equal(store_xfer_get(f->st, last, &one), 0);
    assert_int_equal(one.created_ms, 4000);
    assert_string_equal(one.files[0].name, "a.txt");
    store_xfer_clear(&one);
    assert_int_equal(store_xfer_get(f->st, none, &one), BANTER_ENOENT);

    uint8_t lo[MSG_ID_LEN], hi[MSG_ID_LEN], id[MSG_ID_LEN];
    memset(lo, 0, sizeof lo);
    memset(hi, 0xff, sizeof hi);
    lo[0] = hi[0] = 0x13;
    assert_int_equal(store_xfer_resolve(f->st, lo, hi, id), 0);
    assert_memory_equal(id, last, MSG_ID_LEN);
    lo[0] = 0x10;
    hi[0] = 0x11;
    assert_int_equal(store_xfer_resolve(f->st, lo, hi, id), BANTER_EAMBIGUOUS);
    lo[0] = hi[0] = 0x70;
    assert_int_equal(store_xfer_resolve(f->st, lo, hi, id), BANTER_ENOENT);

    /* Back to schema 6 by hand: the migrations to 7 and 8 run again; 7 drops
     * the one refused offer (i = 4: failed, incoming, never accepted). */
    sqlite3 *db = peek_open(f->path);
    /* A flood from before the caps: 600 more incoming offers waiting,
     * created 20001..20600; the newest 512 stay offered. */
    assert_int_equal(sqlite3_exec(db,
                                  "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k"
                                  " WHERE i < 600) INSERT INTO transfers (id, peer, dir, state,"
                                  " created, updated, done, dest, error, secret) SELECT"
                                  " randomblob(16), zeroblob(32), 1, 0, 20000 + i, 1, 0, '', '',"
                                  " zeroblob(32) FROM k;"
                                  "DROP INDEX transfers_live; DROP INDEX transfers_created;"
                                  /* and what 7 -> 8 added (groups) */
                                  "DROP INDEX messages_group; DROP TABLE group_chains;"
                                  "DROP TABLE groups; ALTER TABLE messages DROP COLUMN sealed;"
                                  "ALTER TABLE messages DROP COLUMN gpos;"
                                  "ALTER TABLE messages DROP COLUMN grp;"
                                  /* and what 12 -> 13 added */
                                  "ALTER TABLE devices DROP COLUMN vouched_until;"
                                  "PRAGMA user_version = 6;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    reopen(f);
    assert_int_equal(store_xfer_load_all(f->st, &xs, &n), 0);
    assert_int_equal(n, 611);
    size_t waiting = 0, expired = 0;
    for (size_t k = 0; k < n; k++) {
        assert_false(xs[k].state == 4 && xs[k].dest[0] == '\0');
        waiting += xs[k].state == 0;
        if (xs[k].state == 5 && strncmp(xs[k].error, "expired", 7) == 0) {
            expired++;
            assert_true(xs[k].created_ms <= 20000 + 600 - 512);
        }
    }
    assert_int_equal(waiting, 512);
    assert_int_equal(expired, 600 - 512 + 2); /* and the 2 of the 12 that waited */
    store_xfers_free(xs, n);
    db = peek_open(f->path);
    assert_int_equal(peek_int(db, "PRAGMA user_version"), 13);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM transfer_files"), 11);
    sqlite3_close(db);
}

/* A database of schema 2 (before relayed messages and contacts) keeps its
 * messages through the migrations to 4: a message whose peer row is gone
 * is under a contact of its own. */
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
    store_contact c;
    assert_int_equal(store_contact_get(st, peer, &c), 0);
    assert_int_equal(c.kind, CONTACT_LAN);
    assert_non_null(strstr(c.name, "former key"));
    store_msg *m = NULL;
    size_t n = 0;
    assert_int_equal(store_history(st, peer, 0, 10, &m, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(m[0].body, "kept");
    assert_int_equal(m[0].state, STORE_QUEUED);
    assert_false(m[1].has_device); /* no device row to name */
    assert_string_equal(m[1].body, "also kept");
    int64_t seq = m[0].seq;
    store_msgs_free(m, n);
    /* and the relayed states fit */
    assert_int_equal(store_msg_set_result(st, seq, STORE_FAILED, "EQUOTA"), 0);
    store_close(st);
}

/* Groups: the state and chains round-trip; group messages sort by their
 * position, not by arrival; control messages are neither history nor
 * searched; unread counts incoming messages after read_seq. */
static void test_groups(void **state)
{
    struct fixture *f = *state;
    store_group g = {.member = true, .epoch = 3, .chain_len = 10, .created_ms = 5};
    memset(g.id, 0x11, sizeof g.id);
    g.state = (char *)"{\"v\":1}";
    g.state_len = strlen(g.state);
    memset(g.chain, 0xcc, g.chain_len);
    assert_int_equal(store_group_put(f->st, &g), 0);
    g.lc = 9;
    assert_int_equal(store_group_put(f->st, &g), 0); /* an update */
    store_group back;
    assert_int_equal(store_group_get(f->st, g.id, &back), 0);
    assert_string_equal(back.state, "{\"v\":1}");
    assert_int_equal(back.epoch, 3);
    assert_int_equal(back.lc, 9);
    assert_int_equal(back.chain_len, 10);
    assert_memory_equal(back.chain, g.chain, 10);
    assert_null(back.base); /* none known */
    store_group_clear(&back);
    /* The state before, kept beside (schema 11), and forgotten again. */
    g.base = (char *)"{\"v\":0}";
    g.base_len = strlen(g.base);
    assert_int_equal(store_group_put(f->st, &g), 0);
    assert_int_equal(store_group_get(f->st, g.id, &back), 0);
    assert_string_equal(back.base, "{\"v\":0}");
    assert_int_equal(back.base_len, 7);
    store_group_clear(&back);
    /* A database of schema 10 (no base) opens, its groups without one. */
    sqlite3 *db = peek_open(f->path);
    assert_int_equal(sqlite3_exec(db,
                                  "ALTER TABLE groups DROP COLUMN base;"
                                  " ALTER TABLE devices DROP COLUMN vouched_until;"
                                  " PRAGMA user_version = 10;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    reopen(f);
    assert_int_equal(store_group_get(f->st, g.id, &back), 0);
    assert_string_equal(back.state, "{\"v\":1}");
    assert_null(back.base);
    store_group_clear(&back);
    db = peek_open(f->path);
    assert_int_equal(peek_int(db, "PRAGMA user_version"), 13);
    sqlite3_close(db);
    g.base = NULL;
    g.base_len = 0;
    assert_int_equal(store_group_put(f->st, &g), 0);
    assert_int_equal(store_group_get(f->st, g.id, &back), 0);
    assert_null(back.base);
    store_group_clear(&back);
    store_group *all = NULL;
    size_t n = 0;
    assert_int_equal(store_group_list(f->st, &all, &n), 0);
    assert_int_equal(n, 1);
    store_groups_free(all, n);

    uint8_t dev[32], buf2[STORE_GCHAIN_MAX];
    size_t len = 0;
    memset(dev, 0x22, sizeof dev);
    assert_int_equal(store_gchain_get(f->st, g.id, dev, 1, buf2, &len), BANTER_ENOENT);
    assert_int_equal(store_gchain_put(f->st, g.id, dev, 1, (const uint8_t *)"abc", 3), 0);
    assert_int_equal(store_gchain_put(f->st, g.id, dev, 2, (const uint8_t *)"defg", 4), 0);
    assert_int_equal(store_gchain_get(f->st, g.id, dev, 1, buf2, &len), 0);
    assert_int_equal(len, 3);
    assert_int_equal(store_gchain_drop_before(f->st, g.id, dev, 2), 0);
    assert_int_equal(store_gchain_get(f->st, g.id, dev, 1, buf2, &len), BANTER_ENOENT);
    assert_int_equal(store_gchain_get(f->st, g.id, dev, 2, buf2, &len), 0);
    assert_int_equal(len, 4);

    /* Three messages arriving in another order than their positions. */
    static const uint64_t lcs[] = {5, 2, 9};
    static const char *const bodies[] = {"second", "first", "third"};
    int64_t seqs[3];
    for (int i = 0; i < 3; i++) {
        store_msg m = {.dir = STORE_IN,
                       .state = STORE_RECEIVED,
                       .has_device = true,
                       .has_group = true,
                       .ts_ms = 1,
                       .stored_ms = 1,
                       .body = (char *)bodies[i],
                       .body_len = strlen(bodies[i])};
        memset(m.id, i + 1, sizeof m.id);
        memcpy(m.group, g.id, sizeof g.id);
        store_group_handle(g.id, m.contact);
        memcpy(m.device, dev, 32);
        store_gpos_make(m.gpos, lcs[i], dev, 1, (uint32_t)i);
        assert_int_equal(store_msg_add(f->st, &m, &seqs[i]), 0);
    }
    store_msg ctl = {.dir = STORE_OUT,
                     .state = STORE_QUEUED,
                     .has_group = true,
                     .flags = STORE_MSG_GCTL,
                     .body = (char *)"",
                     .body_len = 0,
                     .sealed = (uint8_t *)"xyz",
                     .sealed_len = 3};
    memset(ctl.id, 9, sizeof ctl.id);
    memcpy(ctl.group, g.id, sizeof g.id);
    store_group_handle(g.id, ctl.contact);
    store_gpos_make(ctl.gpos, 0, dev, 0, 0);
    assert_int_equal(store_msg_add(f->st, &ctl, NULL), 0);
    store_msg *h = NULL;
    assert_int_equal(store_group_history(f->st, g.id, NULL, 10, &h, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(h[0].body, "first");
    assert_string_equal(h[1].body, "second");
    assert_string_equal(h[2].body, "third");
    assert_true(h[0].has_group);
    assert_memory_equal(h[0].group, g.id, 16);
    uint8_t before[STORE_GPOS_LEN];
    memcpy(before, h[2].gpos, sizeof before);
    store_msgs_free(h, n);
    assert_int_equal(store_group_history(f->st, g.id, before, 1, &h, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(h[0].body, "second");
    store_msgs_free(h, n);
    /* The control message is in the outbox with its bytes. */
    assert_int_equal(store_outbox(f->st, ctl.contact, &h, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(h[0].sealed_len, 3);
    assert_memory_equal(h[0].sealed, "xyz", 3);
    assert_true(h[0].flags & STORE_MSG_GCTL);
    store_msgs_free(h, n);
    int64_t unread = 0;
    assert_int_equal(store_group_unread(f->st, g.id, 0, &unread), 0);
    assert_int_equal(unread, 3);
    assert_int_equal(store_group_unread(f->st, g.id, seqs[1], &unread), 0);
    assert_int_equal(unread, 1);
    assert_int_equal(store_search(f->st, "third", NULL, 0, 10, &h, &n), 0);
    assert_int_equal(n, 1);
    assert_true(h[0].has_group);
    store_msgs_free(h, n);
}

/* Whether the bytes of needle (n) are anywhere in the file at path. */
static bool file_holds(const char *path, const void *needle, size_t n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return false;
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *all = malloc(len > 0 ? (size_t)len : 1);
    size_t got = fread(all, 1, len > 0 ? (size_t)len : 0, fp);
    fclose(fp);
    bool found = false;
    for (size_t i = 0; !found && got >= n && i <= got - n; i++)
        found = memcmp(all + i, needle, n) == 0;
    free(all);
    return found;
}

/* A group message of group id (incoming from dev unless ctl: then an
 * outgoing control message, queued, with sealed bytes); its seq. */
static int64_t add_gmsg(store *st, const uint8_t id[static 16], const uint8_t dev[static 32],
                        uint8_t tag, const char *body, bool ctl)
{
    store_msg m = {.dir = ctl ? STORE_OUT : STORE_IN,
                   .state = ctl ? STORE_QUEUED : STORE_RECEIVED,
                   .has_device = !ctl,
                   .has_group = true,
                   .flags = ctl ? STORE_MSG_GCTL : 0,
                   .ts_ms = 1,
                   .stored_ms = 1,
                   .body = (char *)body,
                   .body_len = strlen(body),
                   .sealed = ctl ? (uint8_t *)"KEYDIST-SECRET-0123456789" : NULL,
                   .sealed_len = ctl ? 25 : 0};
    int64_t seq = 0;
    memset(m.id, tag, sizeof m.id);
    memcpy(m.group, id, 16);
    store_group_handle(id, m.contact);
    if (!ctl)
        memcpy(m.device, dev, 32);
    store_gpos_make(m.gpos, tag, dev, 1, tag);
    assert_int_equal(store_msg_add(st, &m, &seq), 0);
    return seq;
}

/* store_group_delete: the group, its chains, its history (search too),
 * its control messages and their copies go in one transaction, except
 * the rows kept (a leave still on its way), which go once settled; a
 * tombstone stays, at most STORE_GROUP_TOMBS_MAX of them; the chain
 * bytes are in neither the file nor its WAL afterwards; another group is
 * untouched; schema 11 takes the tombstones' table (12). */
static void test_group_delete(void **state)
{
    struct fixture *f = *state;
    static const uint8_t secret[] = "CHAIN-SECRET-abcdefghijklmnop";
    store_group g = {.member = false, .epoch = 2, .created_ms = 5};
    uint8_t other[16], dev[32], out[STORE_GCHAIN_MAX];
    size_t len = 0, n = 0;
    int64_t count = 0, gone = 0;
    memset(g.id, 0x44, sizeof g.id);
    memset(other, 0x55, sizeof other);
    memset(dev, 0x22, sizeof dev);
    g.state = (char *)"{\"v\":1}";
    g.state_len = strlen(g.state);
    g.chain_len = sizeof secret;
    memcpy(g.chain, secret, sizeof secret);
    assert_int_equal(store_group_put(f->st, &g), 0);
    memcpy(g.id, other, 16);
    memset(g.chain, 0x77, g.chain_len);
    assert_int_equal(store_group_put(f->st, &g), 0);
    memset(g.id, 0x44, sizeof g.id);
    assert_int_equal(store_gchain_put(f->st, g.id, dev, 1, secret, sizeof secret), 0);
    assert_int_equal(store_gchain_put(f->st, other, dev, 1, (const uint8_t *)"kept", 4), 0);
    add_gmsg(f->st, g.id, dev, 1, "zanzibar meeting at noon", false);
    add_gmsg(f->st, other, dev, 2, "zanzibar elsewhere", false);
    int64_t dist = add_gmsg(f->st, g.id, dev, 3, "", true);  /* a distribution: goes */
    int64_t leave = add_gmsg(f->st, g.id, dev, 4, "", true); /* the leave: kept */
    assert_int_equal(store_copy_add(f->st, dist, dev), 0);
    assert_int_equal(store_copy_add(f->st, leave, dev), 0);
    store_msg *h = NULL;
    assert_int_equal(store_search(f->st, "zanzibar", NULL, 0, 10, &h, &n), 0);
    assert_int_equal(n, 2);
    store_msgs_free(h, n);
    assert_int_equal(store_group_count(f->st, &count), 0);
    assert_int_equal(count, 2);
    assert_int_equal(store_group_deleted(f->st, g.id), BANTER_ENOENT);

    assert_int_equal(store_group_delete(f->st, g.id, &leave, 1, 1000, &gone), 0);
    assert_int_equal(gone, 2); /* the message and the distribution */
    store_group back;
    assert_int_equal(store_group_get(f->st, g.id, &back), BANTER_ENOENT);
    assert_int_equal(store_gchain_get(f->st, g.id, dev, 1, out, &len), BANTER_ENOENT);
    assert_int_equal(store_group_history(f->st, g.id, NULL, 10, &h, &n), 0);
    assert_int_equal(n, 0);
    store_msgs_free(h, n);
    assert_int_equal(store_search(f->st, "zanzibar", NULL, 0, 10, &h, &n), 0);
    assert_int_equal(n, 1); /* the other group's */
    assert_memory_equal(h[0].group, other, 16);
    store_msgs_free(h, n);
    assert_int_equal(store_search(f->st, "noon", NULL, 0, 10, &h, &n), 0);
    assert_int_equal(n, 0);
    store_msgs_free(h, n);
    store_copy *cp = NULL;
    assert_int_equal(store_copies(f->st, dist, &cp, &n), 0);
    assert_int_equal(n, 0);
    free(cp);
    /* The leave still waits in the outbox, with its copy. */
    uint8_t handle[32];
    store_group_handle(g.id, handle);
    assert_int_equal(store_outbox(f->st, handle, &h, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(h[0].seq, leave);
    store_msgs_free(h, n);
    assert_int_equal(store_copies(f->st, leave, &cp, &n), 0);
    assert_int_equal(n, 1);
    free(cp);
    /* The other group is untouched. */
    assert_int_equal(store_gchain_get(f->st, other, dev, 1, out, &len), 0);
    assert_int_equal(store_group_count(f->st, &count), 0);
    assert_int_equal(count, 1); /* the slot is free */
    assert_int_equal(store_group_deleted(f->st, g.id), 0);
    assert_int_equal(store_group_deleted(f->st, other), BANTER_ENOENT);
    assert_int_equal(store_group_delete(f->st, g.id, NULL, 0, 1001, NULL), BANTER_ENOENT);
    /* Nothing of the chains is left in the file or its WAL. */
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    assert_false(file_holds(f->path, secret, sizeof secret - 1));
    assert_false(file_holds(wal, secret, sizeof secret - 1));
    assert_false(file_holds(f->path, "meeting at noon", 15));
    assert_false(file_holds(wal, "meeting at noon", 15));

    /* Once settled, the kept leave goes at the next open. */
    assert_int_equal(store_msg_set_result(f->st, leave, STORE_DELIVERED, ""), 0);
    reopen(f);
    sqlite3 *db = peek_open(f->path);
    assert_int_equal(
        peek_int(db,
                 "SELECT count(*) FROM messages WHERE grp = x'44444444444444444444444444444444'"),
        0);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM copies"), 0);
    /* Tombstones are bounded: the oldest go. */
    assert_int_equal(sqlite3_exec(db,
                                  "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k"
                                  " WHERE i < 5000) INSERT INTO group_tombstones (id, deleted)"
                                  " SELECT randomblob(16), i FROM k",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_group_delete(f->st, other, NULL, 0, 9000, &gone), 0);
    assert_int_equal(gone, 1);
    assert_int_equal(store_group_tombstones(f->st, &count), 0);
    assert_int_equal(count, STORE_GROUP_TOMBS_MAX);
    assert_int_equal(store_group_deleted(f->st, other), 0); /* the newest stay */
    assert_int_equal(store_group_deleted(f->st, g.id), 0);  /* deleted at 1000 > 5000 - 4096 */
    assert_int_equal(store_group_count(f->st, &count), 0);
    assert_int_equal(count, 0);

    /* A database of schema 11 takes the tombstones' table. */
    db = peek_open(f->path);
    assert_int_equal(sqlite3_exec(db,
                                  "DROP TABLE group_tombstones;"
                                  " ALTER TABLE devices DROP COLUMN vouched_until;"
                                  " PRAGMA user_version = 11;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    reopen(f);
    db = peek_open(f->path);
    assert_int_equal(peek_int(db, "PRAGMA user_version"), 13);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM group_tombstones"), 0);
    sqlite3_close(db);
    assert_int_equal(store_group_deleted(f->st, g.id), BANTER_ENOENT); /* forgotten with it */
    memcpy(g.id, other, 16);
    assert_int_equal(store_group_put(f->st, &g), 0);
    assert_int_equal(store_group_delete(f->st, other, NULL, 0, 9001, NULL), 0);
    assert_int_equal(store_group_deleted(f->st, other), 0);
}

/* Schema 13: a certified device keeps until when the organisation vouches
 * for it (round trip; 0 kept for any other trust). A database of schema 12
 * gives its certified devices a day from the migration, not forever, and
 * the others 0. */
static void test_vouched_until(void **state)
{
    struct fixture *f = *state;
    store_contact c = make_contact(1, "ada");
    assert_int_equal(store_contact_put(f->st, &c), 0);
    store_device cert = make_device(10, c.key, "ada", TRUST_CERTIFIED), lan, got;
    cert.vouched_until_ms = 1700000123456;
    assert_int_equal(store_device_put(f->st, &cert), 0);
    assert_int_equal(store_device_get(f->st, cert.key, &got), 0);
    assert_int_equal(got.vouched_until_ms, 1700000123456);
    lan = make_device(11, c.key, "ada", TRUST_VERIFIED);
    lan.vouched_until_ms = 42; /* meaningless for it: not kept */
    assert_int_equal(store_device_put(f->st, &lan), 0);
    assert_int_equal(store_device_get(f->st, lan.key, &got), 0);
    assert_int_equal(got.vouched_until_ms, 0);

    /* Back to schema 12, the certified device as it was kept then. */
    sqlite3 *db = peek_open(f->path);
    assert_int_equal(sqlite3_exec(db,
                                  "ALTER TABLE devices DROP COLUMN vouched_until;"
                                  " PRAGMA user_version = 12;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    int64_t before = (int64_t)time(NULL) * 1000;
    reopen(f);
    int64_t after = (int64_t)time(NULL) * 1000 + 1000;
    db = peek_open(f->path);
    assert_int_equal(peek_int(db, "PRAGMA user_version"), 13);
    sqlite3_close(db);
    assert_int_equal(store_device_get(f->st, cert.key, &got), 0);
    assert_int_equal(got.trust, TRUST_CERTIFIED);
    assert_true(got.vouched_until_ms >= before - 1000 + 24LL * 3600 * 1000);
    assert_true(got.vouched_until_ms <= after + 24LL * 3600 * 1000);
    assert_int_equal(store_device_get(f->st, lan.key, &got), 0);
    assert_int_equal(got.trust, TRUST_VERIFIED);
    assert_int_equal(got.vouched_until_ms, 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_open_new_file),
        T(test_schema_indexes),
        T(test_contact_crud),
        T(test_contact_constraints),
        T(test_contact_list_order),
        T(test_device_crud),
        T(test_device_trust_values),
        T(test_vouched_until),
        T(test_contact_merge),
        T(test_contact_merge_atomic),
        T(test_msg_dedup),
        T(test_msg_refused),
        T(test_outbox),
        T(test_contact_written),
        T(test_find_out),
        T(test_history_paging),
        T(test_history_prune),
        T(test_body_round_trip),
        T(test_outbox_persists),
        T(test_copies),
        T(test_disk_full),
        T(test_open_missing_dir),
        T(test_open_not_a_database),
        T(test_open_newer_schema),
        T(test_transfers),
        T(test_transfer_pages),
        T(test_migrate_v2),
        T(test_groups),
        T(test_group_delete),
    };
#undef T
    return cmocka_run_group_tests_name("peer_store", tests, NULL, NULL);
}
