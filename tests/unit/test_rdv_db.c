/* SPDX-License-Identifier: MIT */
/*
 * test_rdv_db.c - the rendezvous database: a new file is private and in WAL
 * mode at the current schema, accounts are added once, listed in name order
 * with their device counts, disabled, and kept across reopening; bad names
 * and a database from a newer version are refused. On both backends
 * (rdv_dbtest.h: PostgreSQL when RDV_TEST_PG is set), the file's own
 * properties on SQLite only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>
#include <sqlite3.h>

#include "db.h"
#include "dirview.h"
#include "rdv_dbtest.h"

#define PUB_DEPT (DIR_PUBLIC_DEFAULT | (1u << RV_F_DEPARTMENT))

/* Any well-formed hash string will do for storage; tests of the real hash
 * are in test_bcrypto. */
#define FAKE_HASH "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo"

struct fixture {
    struct dbt t;
    const char *path;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    dbt_make(&f->t, "rdvdb");
    f->path = f->t.path;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    dbt_remove(&f->t);
    free(f);
    return 0;
}

/* Run one statement on the file directly, as another program would. */
static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *s = NULL;
    assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
    assert_int_equal(sqlite3_exec(s, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(s);
}

static int64_t raw_int(const char *path, const char *sql)
{
    sqlite3 *s = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(s, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(s);
    return v;
}

static void test_new_file(void **state)
{
    struct fixture *f = *state;
    db *d = NULL;
    char why[256];
    struct stat st;
    dbt_sqlite_only();
    assert_int_equal(db_open(&d, f->path, why, sizeof why), 0);
    assert_non_null(d);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    db_close(d);
    assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 10);
    sqlite3 *s = NULL;
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_open(f->path, &s), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(s, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    sqlite3_close(s);
    db_close(NULL);
}

static void test_users(void **state)
{
    struct fixture *f = *state;
    db *d = NULL;
    db_user u, *all = NULL;
    size_t n = 0;
    char hash[BCRYPTO_PWHASH_STRLEN];
    assert_int_equal(db_open(&d, f->path, NULL, 0), 0);
    assert_int_equal(db_user_list(d, &all, &n), 0);
    assert_null(all);
    assert_int_equal(n, 0);

    assert_int_equal(db_user_add(d, "zoe", FAKE_HASH, false, 1000), 0);
    assert_int_equal(db_user_add(d, "adam.smith", FAKE_HASH, true, 2000), 0);
    assert_int_equal(db_user_add(d, "zoe", FAKE_HASH, true, 3000), 1);
    assert_int_equal(db_user_add(d, "Zoe", FAKE_HASH, false, 1), BANTER_EINVAL);
    assert_int_equal(db_user_add(d, "eve", "", false, 1), BANTER_EINVAL);

    assert_int_equal(db_user_get(d, "zoe", &u, hash), 0);
    assert_string_equal(u.name, "zoe");
    assert_false(u.admin);
    assert_false(u.disabled);
    assert_int_equal(u.created_ms, 1000);
    assert_string_equal(hash, FAKE_HASH);
    assert_int_equal(db_user_get(d, "nobody", &u, NULL), BANTER_ENOENT);

    assert_int_equal(db_user_disable(d, "zoe", 1), 0);
    assert_int_equal(db_user_disable(d, "zoe", 1), 1);
    assert_int_equal(db_user_disable(d, "nobody", 1), BANTER_ENOENT);
    assert_int_equal(db_user_disable(d, "../x", 1), BANTER_EINVAL);
    db_close(d);

    /* Devices are bound by the server; here written directly. */
    if (f->t.pg)
        dbt_pg_exec("INSERT INTO devices (key, \"user\", created, last_seen) VALUES"
                    " ('\\x0000000000000000000000000000000000000000000000000000000000000000',"
                    " 'zoe', 1, 1),"
                    " ('\\x0101010101010101010101010101010101010101010101010101010101010101',"
                    " 'zoe', 1, 1)");
    else
        raw_exec(f->path, "PRAGMA foreign_keys = ON; INSERT INTO devices (key, user, created, "
                          "last_seen) VALUES (zeroblob(32), 'zoe', 1, 1), "
                          "(x'0101010101010101010101010101010101010101010101010101010101010101', "
                          "'zoe', 1, 1)");

    assert_int_equal(db_open(&d, f->path, NULL, 0), 0);
    assert_int_equal(db_user_list(d, &all, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(all[0].name, "adam.smith");
    assert_true(all[0].admin);
    assert_int_equal(all[0].devices, 0);
    assert_string_equal(all[1].name, "zoe");
    assert_true(all[1].disabled);
    assert_int_equal(all[1].devices, 2);
    free(all);
    db_close(d);
}

static void test_names(void **state)
{
    (void)state;
    static const char *const good[] = {"a", "0", "j.doe", "ops-team", "x_1", "a.", "9-"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_null(db_name_problem(good[i]));
    char longest[DB_MAX_USER + 2];
    memset(longest, 'a', DB_MAX_USER);
    longest[DB_MAX_USER] = '\0';
    assert_null(db_name_problem(longest));
    longest[DB_MAX_USER] = 'a';
    longest[DB_MAX_USER + 1] = '\0';
    assert_string_equal(db_name_problem(longest), "is longer than 64 bytes");
    assert_string_equal(db_name_problem(""), "is empty");
    assert_string_equal(db_name_problem("Bob"), "has capital letters: user names are lowercase");
    assert_string_equal(db_name_problem(".bob"), "must start with a letter or a digit");
    assert_string_equal(db_name_problem("-bob"), "must start with a letter or a digit");
    static const char *const bad[] = {"a b", "a/b", "a@b", "é", "a\n", "a\x01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_string_equal(db_name_problem(bad[i]), "may only contain a-z, 0-9, '.', '_' and '-'");
}

static void test_newer_schema(void **state)
{
    struct fixture *f = *state;
    db *d = NULL;
    char why[256];
    assert_int_equal(db_open(&d, f->path, why, sizeof why), 0);
    db_close(d);
    if (f->t.pg)
        dbt_pg_exec("UPDATE banter_schema SET version = 99");
    else
        raw_exec(f->path, "PRAGMA user_version = 99");
    assert_int_equal(db_open(&d, f->path, why, sizeof why), BANTER_EDB);
    assert_null(d);
    assert_non_null(strstr(why, "schema version 99 is not supported"));
}

static void test_not_a_db(void **state)
{
    struct fixture *f = *state;
    db *d = NULL;
    char why[256];
    dbt_sqlite_only();
    FILE *fp = fopen(f->path, "wb");
    assert_non_null(fp);
    for (int i = 0; i < 1024; i++)
        fputc('x', fp);
    fclose(fp);
    assert_int_equal(db_open(&d, f->path, why, sizeof why), BANTER_EDB);
    assert_null(d);
    assert_true(why[0] != '\0');
}

/* Devices, profiles and the directory search. */
static void test_directory(void **state)
{
    struct fixture *f = *state;
    db *d = NULL;
    db_user u;
    uint8_t k1[32] = {1}, k2[32] = {2};
    assert_int_equal(db_open(&d, f->path, NULL, 0), 0);
    static const char *const names[] = {"carol", "alice", "bob", "zed"};
    for (int i = 0; i < 4; i++)
        assert_int_equal(db_user_add(d, names[i], FAKE_HASH, false, 1), 0);
    assert_int_equal(db_user_disable(d, "zed", 1), 0);
    assert_int_equal(db_device_user(d, k1, &u), BANTER_ENOENT);
    assert_int_equal(db_device_bind(d, k1, "alice", 5), 0);
    assert_int_equal(db_device_bind(d, k2, "alice", 5), 0);
    assert_int_equal(db_device_user(d, k1, &u), 0);
    assert_string_equal(u.name, "alice");
    assert_int_equal(u.devices, 2);
    assert_int_equal(db_device_bind(d, k1, "bob", 6), 0); /* rebound */
    assert_int_equal(db_device_user(d, k1, &u), 0);
    assert_string_equal(u.name, "bob");
    assert_int_equal(db_device_bind(d, k1, "nobody", 6), BANTER_EDB);
    assert_int_equal(db_device_unbind(d, k1), 0);
    assert_int_equal(db_device_unbind(d, k1), 1);

    struct rv_profile p = {0};
    p.f[RV_F_DEPARTMENT] = "Sales";
    p.f[RV_F_TITLE] = "Boss";
    assert_int_equal(db_profile_set(d, "carol", &p, 7), 0);
    assert_int_equal(db_profile_set(d, "zed", &p, 7), 0);
    p.f[RV_F_TITLE] = NULL;
    p.f[RV_F_DEPARTMENT] = "sales%";
    assert_int_equal(db_profile_set(d, "bob", &p, 7), 0);

    rvmsg m = {.type = RV_SEARCH_RESULT};
    struct rv_search q = {.n = 1, .per_page = 10};
    q.c[0] = (struct rv_criterion){.field = RV_F_DEPARTMENT, .contains = true};
    snprintf(q.c[0].value, sizeof q.c[0].value, "SALES");
    /* The department is not public by default: a stranger finds nobody by it. */
    assert_int_equal(db_search(d, "alice", &q, DIR_PUBLIC_DEFAULT, &m.u.result), 0);
    assert_int_equal(m.u.result.total, 0);
    assert_int_equal(m.u.result.n, 0);
    rvmsg_clear(&m);
    m.type = RV_SEARCH_RESULT;
    assert_int_equal(db_search(d, "alice", &q, PUB_DEPT, &m.u.result), 0);
    assert_int_equal(m.u.result.total, 2); /* zed disabled */
    assert_string_equal(m.u.result.users[0].name, "bob");
    assert_string_equal(m.u.result.users[1].name, "carol");
    /* Not a contact of alice: the public fields only. */
    assert_string_equal(m.u.result.users[1].p.f[RV_F_DISPLAY_NAME], "");
    assert_string_equal(m.u.result.users[1].p.f[RV_F_DEPARTMENT], "Sales");
    assert_null(m.u.result.users[1].p.f[RV_F_TITLE]);
    assert_null(m.u.result.users[1].p.f[RV_F_EMAIL]);
    rvmsg_clear(&m);
    /* % is not a wildcard; the account name is a field; pages */
    snprintf(q.c[0].value, sizeof q.c[0].value, "s%%");
    m.type = RV_SEARCH_RESULT;
    assert_int_equal(db_search(d, "alice", &q, PUB_DEPT, &m.u.result), 0);
    assert_int_equal(m.u.result.total, 1);
    rvmsg_clear(&m);
    q.c[0] = (struct rv_criterion){.field = RV_F_COUNT, .contains = true};
    snprintf(q.c[0].value, sizeof q.c[0].value, "o");
    q.per_page = 1;
    q.page = 1;
    m.type = RV_SEARCH_RESULT;
    assert_int_equal(db_search(d, "alice", &q, DIR_PUBLIC_DEFAULT, &m.u.result), 0);
    assert_int_equal(m.u.result.total, 2); /* bob, carol */
    assert_int_equal(m.u.result.n, 1);
    assert_string_equal(m.u.result.users[0].name, "carol");
    rvmsg_clear(&m);
    db_close(d);
}

/* Text is ordered and folded as SQLite does, whatever the database's
 * locale (test_rendezvous_pg.sh makes it C.utf8, where PostgreSQL's own
 * lower() would fold any letter): names in byte order, case ignored for
 * ASCII letters only. */
static void test_text_rules(void **state)
{
    struct fixture *f = *state;
    db *d = NULL;
    db_user *all = NULL;
    size_t n = 0;
    assert_int_equal(db_open(&d, f->path, NULL, 0), 0);
    static const char *const names[] = {"ab", "a_b", "a.b", "a-b", "a0"};
    for (int i = 0; i < 5; i++)
        assert_int_equal(db_user_add(d, names[i], FAKE_HASH, false, 1), 0);
    assert_int_equal(db_user_list(d, &all, &n), 0);
    assert_int_equal(n, 5);
    static const char *const order[] = {"a-b", "a.b", "a0", "a_b", "ab"};
    for (size_t i = 0; i < n; i++)
        assert_string_equal(all[i].name, order[i]);
    free(all);

    struct rv_profile p = {0};
    p.f[RV_F_DISPLAY_NAME] = "\xc3\x89mile Zola"; /* Émile */
    assert_int_equal(db_profile_set(d, "ab", &p, 7), 0);
    rvmsg m = {.type = RV_SEARCH_RESULT};
    struct rv_search q = {.n = 1, .per_page = 10};
    q.c[0] = (struct rv_criterion){.field = RV_F_DISPLAY_NAME, .contains = true};
    snprintf(q.c[0].value, sizeof q.c[0].value, "\xc3\x89MILE ZOLA"); /* ÉMILE: ASCII folded */
    assert_int_equal(db_search(d, "a0", &q, DIR_PUBLIC_DEFAULT, &m.u.result), 0);
    assert_int_equal(m.u.result.total, 1);
    rvmsg_clear(&m);
    snprintf(q.c[0].value, sizeof q.c[0].value, "\xc3\xa9mile"); /* émile: É is not folded */
    m.type = RV_SEARCH_RESULT;
    assert_int_equal(db_search(d, "a0", &q, DIR_PUBLIC_DEFAULT, &m.u.result), 0);
    assert_int_equal(m.u.result.total, 0);
    rvmsg_clear(&m);
    q.c[0].contains = false;
    snprintf(q.c[0].value, sizeof q.c[0].value, "\xc3\x89MILE zola");
    m.type = RV_SEARCH_RESULT;
    assert_int_equal(db_search(d, "a0", &q, DIR_PUBLIC_DEFAULT, &m.u.result), 0);
    assert_int_equal(m.u.result.total, 1);
    rvmsg_clear(&m);
    db_close(d);
}

/* PostgreSQL only: two threads on one handle at once (the contract is
 * one at a time, dbq.h; while paths move to the database thread both may
 * call): every call still gets its own right answer (db_pgs's mutex).
 * SQLite does not give that: its cached statements (db_stmt) are shared,
 * so two threads interleave binding and stepping one statement. */
struct racer {
    db *d;
    const char *name;
    int bad;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    for (int i = 0; i < 300; i++) {
        db_user u;
        char hash[BCRYPTO_PWHASH_STRLEN];
        if (db_user_get(r->d, r->name, &u, hash) != 0 || strcmp(u.name, r->name) != 0 ||
            strcmp(hash, FAKE_HASH) != 0)
            r->bad++;
    }
    return NULL;
}

static void test_two_threads(void **state)
{
    struct fixture *f = *state;
    db *d = NULL;
    if (!f->t.pg)
        skip();
    assert_int_equal(db_open(&d, f->path, NULL, 0), 0);
    assert_int_equal(db_user_add(d, "ann", FAKE_HASH, false, 1), 0);
    assert_int_equal(db_user_add(d, "bob", FAKE_HASH, false, 1), 0);
    struct racer a = {d, "ann", 0}, b = {d, "bob", 0};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, race, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, race, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.bad, 0);
    assert_int_equal(b.bad, 0);
    db_close(d);
}

/* PostgreSQL only: a connection the server dropped fails the call that
 * finds it lost (BANTER_EDB, "connection lost") and is made again at the
 * next one; a transaction it was in is gone: its calls and its commit
 * fail until the rollback, and nothing of it was committed. */
static void kill_sessions(void)
{
    dbt_pg_exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()");
}

static void test_pg_reconnect(void **state)
{
    struct fixture *f = *state;
    db *d = NULL;
    db_user u;
    if (!f->t.pg)
        skip();
    assert_int_equal(db_open(&d, f->path, NULL, 0), 0);
    assert_int_equal(db_user_add(d, "ann", FAKE_HASH, false, 1), 0);
    kill_sessions();
    int r = db_user_get(d, "ann", &u, NULL);
    if (r != 0) { /* the loss was seen by this call */
        assert_int_equal(r, BANTER_EDB);
        assert_non_null(strstr(db_errmsg(d), "connection lost"));
    }
    assert_int_equal(db_user_get(d, "ann", &u, NULL), 0);
    assert_string_equal(u.name, "ann");
    /* Inside a transaction. */
    assert_int_equal(db_begin(d), 0);
    assert_int_equal(db_user_add(d, "bob", FAKE_HASH, false, 1), 0);
    kill_sessions();
    assert_int_equal(db_user_add(d, "cat", FAKE_HASH, false, 1), BANTER_EDB);
    assert_int_equal(db_user_add(d, "dan", FAKE_HASH, false, 1), BANTER_EDB);
    assert_int_equal(db_commit(d), BANTER_EDB);
    db_rollback(d);
    assert_int_equal(db_user_get(d, "bob", &u, NULL), BANTER_ENOENT);
    assert_int_equal(db_user_add(d, "eve", FAKE_HASH, false, 1), 0);
    db_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory, setup, teardown),
        cmocka_unit_test(test_names),
        cmocka_unit_test_setup_teardown(test_newer_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_db, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_reconnect, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
