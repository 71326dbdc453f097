/* SPDX-License-Identifier: MIT */
/*
 * test_peer_search.c - full-text search over the node's history
 * (store_search, FTS5): words and prefixes in any case and with or without
 * accents, all words required, one conversation or all, newest first and
 * paged, the index kept in step when messages are added or removed, text
 * that looks like FTS5 syntax taken literally, limits, and a schema-4 file
 * whose history is indexed by the migration.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/store.h"

struct fixture {
    char dir[64];
    char path[128];
    store *st;
};

static const uint8_t ADA[STORE_KEYLEN] = {0xad};
static const uint8_t BOB[STORE_KEYLEN] = {0xb0};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/banter-search-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/banter.db", f->dir);
    char err[256];
    assert_int_equal(store_open(&f->st, f->path, err, sizeof err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char p[160];
    store_close(f->st);
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static int64_t add(store *st, uint32_t n, const uint8_t *contact, store_dir dir, const char *body)
{
    store_msg m;
    memset(&m, 0, sizeof m);
    for (size_t i = 0; i < MSG_ID_LEN; i++)
        m.id[i] = (uint8_t)(n >> (8 * (i % 4)));
    m.id[MSG_ID_LEN - 1] = 0x5e;
    memcpy(m.contact, contact, STORE_KEYLEN);
    m.dir = dir;
    m.state = dir == STORE_OUT ? STORE_QUEUED : STORE_RECEIVED;
    if (dir == STORE_IN) {
        m.has_device = true;
        memcpy(m.device, contact, STORE_KEYLEN);
    }
    m.ts_ms = 1700000000000 + n;
    m.stored_ms = 1700000000500 + n;
    m.body = (char *)(uintptr_t)body;
    m.body_len = strlen(body);
    int64_t seq = 0;
    assert_int_equal(store_msg_add(st, &m, &seq), 0);
    return seq;
}

/* The bodies found, newest first, joined by '|'. */
static const char *found(store *st, const char *q, const uint8_t *contact, int64_t before,
                         size_t limit)
{
    static char out[1024];
    store_msg *m = NULL;
    size_t n = 0;
    assert_int_equal(store_search(st, q, contact, before, limit, &m, &n), 0);
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && len < sizeof out; i++)
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%s", i ? "|" : "", m[i].body);
    store_msgs_free(m, n);
    return out;
}

static void test_words_prefixes_case_accents(void **state)
{
    struct fixture *f = *state;
    add(f->st, 1, ADA, STORE_IN, "The quarterly report is ready");
    add(f->st, 2, ADA, STORE_OUT, "Thanks, I'll read the report tonight");
    add(f->st, 3, BOB, STORE_IN, "Café at 3? The Résumé meeting moved");
    add(f->st, 4, BOB, STORE_OUT, "see https://intranet.example.org/reports/q3");
    assert_string_equal(found(f->st, "report", NULL, 0, 10),
                        "see https://intranet.example.org/reports/q3|"
                        "Thanks, I'll read the report tonight|The quarterly report is ready");
    assert_string_equal(found(f->st, "REPORT ready", NULL, 0, 10), "The quarterly report is ready");
    assert_string_equal(found(f->st, "cafe resume", NULL, 0, 10),
                        "Café at 3? The Résumé meeting moved");
    assert_string_equal(found(f->st, "quart", NULL, 0, 10), "The quarterly report is ready");
    assert_string_equal(found(f->st, "report", BOB, 0, 10),
                        "see https://intranet.example.org/reports/q3");
    assert_string_equal(found(f->st, "nothing-like-this", NULL, 0, 10), "");
}

static void test_syntax_is_literal(void **state)
{
    struct fixture *f = *state;
    add(f->st, 1, ADA, STORE_IN, "a NOT b OR c");
    add(f->st, 2, ADA, STORE_IN, "say \"hi\" to body:x");
    /* FTS5 operators, column filters, quotes and stars are plain words. */
    assert_string_equal(found(f->st, "NOT", NULL, 0, 10), "a NOT b OR c");
    assert_string_equal(found(f->st, "OR c", NULL, 0, 10), "a NOT b OR c");
    assert_string_equal(found(f->st, "\"hi\"", NULL, 0, 10), "say \"hi\" to body:x");
    assert_string_equal(found(f->st, "body:x", NULL, 0, 10), "say \"hi\" to body:x");
    assert_string_equal(found(f->st, "* ( ) ^ -", NULL, 0, 10), "");
    store_msg *m = NULL;
    size_t n = 0;
    assert_int_equal(store_search(f->st, "  \t ", NULL, 0, 10, &m, &n), BANTER_EINVAL);
    char big[STORE_SEARCH_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(store_search(f->st, big, NULL, 0, 10, &m, &n), BANTER_ETOOLONG);
    char many[2 * (STORE_SEARCH_MAX_WORDS + 1) + 1];
    for (size_t i = 0; i < STORE_SEARCH_MAX_WORDS + 1; i++)
        memcpy(many + 2 * i, "a ", 2);
    many[sizeof many - 1] = '\0';
    assert_int_equal(store_search(f->st, many, NULL, 0, 10, &m, &n), BANTER_ETOOLONG);
    /* Exactly the word cap is fine. */
    many[2 * STORE_SEARCH_MAX_WORDS] = '\0';
    assert_int_equal(store_search(f->st, many, NULL, 0, 10, &m, &n), 0);
    store_msgs_free(m, n);
}

static void test_pages(void **state)
{
    struct fixture *f = *state;
    int64_t seq[30];
    char body[64];
    for (uint32_t i = 0; i < 30; i++) {
        snprintf(body, sizeof body, "standup note %u", i);
        seq[i] = add(f->st, i + 1, i % 2 ? ADA : BOB, STORE_IN, body);
    }
    /* Pages of 12, newest first, following the cursor: every hit once. */
    int64_t before = 0;
    size_t total = 0;
    for (int page = 0; page < 4; page++) {
        store_msg *m = NULL;
        size_t n = 0;
        assert_int_equal(store_search(f->st, "standup", NULL, before, 12, &m, &n), 0);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(m[i].seq, seq[29 - total]);
            total++;
        }
        if (n > 0)
            before = m[n - 1].seq;
        store_msgs_free(m, n);
    }
    assert_int_equal(total, 30);
}

static void test_index_follows_history(void **state)
{
    struct fixture *f = *state;
    add(f->st, 1, ADA, STORE_IN, "budget draft");
    add(f->st, 2, BOB, STORE_IN, "budget final");
    /* A merge of contacts, a reopen: still found. */
    store_close(f->st);
    char err[256];
    assert_int_equal(store_open(&f->st, f->path, err, sizeof err), 0);
    assert_string_equal(found(f->st, "budget", NULL, 0, 10), "budget final|budget draft");
    /* Rows removed behind the store's back (as a forget would) leave the
     * index: the trigger keeps it in step. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "DELETE FROM messages WHERE body = 'budget draft';"
                                  "UPDATE messages SET body = 'forecast final'"
                                  " WHERE body = 'budget final';",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_string_equal(found(f->st, "budget", NULL, 0, 10), "");
    assert_string_equal(found(f->st, "forecast", NULL, 0, 10), "forecast final");
}

/* A file at schema 4 with history (the index and triggers dropped, the
 * version set back) is indexed when opened. */
static void test_migration_indexes_history(void **state)
{
    struct fixture *f = *state;
    add(f->st, 1, ADA, STORE_IN, "migrated words here");
    add(f->st, 2, BOB, STORE_OUT, "more migrated text");
    store_close(f->st);
    f->st = NULL;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "DROP TRIGGER messages_fts_add; DROP TRIGGER messages_fts_del;"
                                  "DROP TRIGGER messages_fts_set; DROP TABLE messages_fts;"
                                  /* and what 5 -> 7 added */
                                  "DROP INDEX messages_group; DROP TABLE group_chains;"
                                  "DROP TABLE groups; ALTER TABLE messages DROP COLUMN sealed;"
                                  "ALTER TABLE messages DROP COLUMN gpos;"
                                  "ALTER TABLE messages DROP COLUMN grp;"
                                  "ALTER TABLE devices DROP COLUMN vouched_until;"
                                  "PRAGMA user_version = 4;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    char err[256];
    assert_int_equal(store_open(&f->st, f->path, err, sizeof err), 0);
    assert_string_equal(found(f->st, "migrated", NULL, 0, 10),
                        "more migrated text|migrated words here");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_words_prefixes_case_accents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_is_literal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_follows_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_indexes_history, setup, teardown),
    };
    return cmocka_run_group_tests_name("peer_search", tests, NULL, NULL);
}
