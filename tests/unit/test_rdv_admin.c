/* SPDX-License-Identifier: MIT */
/*
 * test_rdv_admin.c - the database side of remote administration: admin
 * keys and roles, revoked devices (an admin's, and the marks of a
 * disabled or deleted account's), the audit log's chain and signatures
 * (an edited, deleted, reordered or forged entry is found), and acct.c's
 * operations without a running server (the local commands' path),
 * audited with their refusals and never with a password.
 *
 * On SQLite (a fresh file each test), or on PostgreSQL when RDV_TEST_PG
 * holds a URL (rdv_dbtest.h; tests/integration/test_rendezvous_pg.sh runs
 * this program so): a fresh schema each test, three connections
 * appending to one audit log at once, and two taking the role admin from
 * the last two admin keys at once (one must be refused).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "acct.h"
#include "db_admin.h"
#include "db_announce.h"
#include "db_mail.h"
#include "rdv_dbtest.h"

#define FAKE_HASH "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo"
#define FP_A      "1111122222333334444455555666667777788888"
#define FP_B      "99999 88888 77777 66666 55555 44444 33333 22222"

/* The PostgreSQL database under test (rdv_dbtest.h), or NULL for SQLite. */
static const char *pg_url;

struct fixture {
    struct dbt t; /* t.path: the SQLite file or the URL */
    db *d;
    identity *id, *other;
};

/* Run sql on the test's database as another program would. */
static void raw_exec(const struct fixture *f, const char *sql)
{
    if (pg_url) {
        dbt_pg_exec(sql);
        return;
    }
    sqlite3 *s = NULL;
    assert_int_equal(sqlite3_open(f->t.path, &s), SQLITE_OK);
    assert_int_equal(sqlite3_exec(s, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(s);
}

/* The first column of sql's only row, as text, into out. */
static void raw_text(const struct fixture *f, const char *sql, char *out, size_t cap)
{
    if (pg_url) {
        PGconn *c = PQconnectdb(pg_url);
        assert_int_equal(PQstatus(c), CONNECTION_OK);
        PGresult *r = PQexec(c, sql);
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        assert_int_equal(PQntuples(r), 1);
        snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        PQfinish(c);
        return;
    }
    sqlite3 *s = NULL;
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_open(f->t.path, &s), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(s, sql, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    const unsigned char *t = sqlite3_column_text(q, 0);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
    sqlite3_finalize(q);
    sqlite3_close(s);
}

static long raw_int(const struct fixture *f, const char *sql)
{
    char t[32];
    raw_text(f, sql, t, sizeof t);
    return strtol(t, NULL, 10);
}

/* The stored hash of audit entry seq. */
static void read_hash(const struct fixture *f, int seq, uint8_t out[32])
{
    char sql[128], hex[80] = "";
    snprintf(sql, sizeof sql,
             pg_url ? "SELECT encode(hash, 'hex') FROM audit WHERE seq = %d"
                    : "SELECT lower(hex(hash)) FROM audit WHERE seq = %d",
             seq);
    raw_text(f, sql, hex, sizeof hex);
    assert_int_equal(strlen(hex), 64);
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    uint8_t seed[32] = {1}, seed2[32] = {2};
    assert_non_null(f);
    dbt_make(&f->t, "rdvadm");
    assert_int_equal(db_open(&f->d, f->t.path, NULL, 0), 0);
    assert_int_equal(identity_from_seed(&f->id, seed), 0);
    assert_int_equal(identity_from_seed(&f->other, seed2), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char p[600];
    db_close(f->d);
    identity_free(f->id);
    identity_free(f->other);
    snprintf(p, sizeof p, "%s/copy.db", f->t.dir);
    unlink(p);
    dbt_remove(&f->t);
    free(f);
    return 0;
}

static void test_keys(void **state)
{
    struct fixture *f = *state;
    char role[16], fpd[DB_FP_DIGITS + 1];
    int64_t n;
    assert_int_equal(db_fp_digits("12345", fpd), BANTER_EINVAL);
    assert_int_equal(db_fp_digits(FP_A "1", fpd), BANTER_EINVAL);
    assert_int_equal(db_fp_digits("1111x22222333334444455555666667777788888", fpd), BANTER_EINVAL);
    assert_int_equal(db_fp_digits(FP_B, fpd), 0);
    assert_string_equal(fpd, "9999988888777776666655555444443333322222");
    assert_int_equal(db_admin_role(f->d, FP_A, role, sizeof role), BANTER_ENOENT);
    assert_int_equal(db_admin_add(f->d, FP_A, "admin", "test", 1, false), 0);
    assert_int_equal(db_admin_add(f->d, FP_B, "auditor", "test", 1, false), 0);
    assert_int_equal(db_admin_add(f->d, FP_B, "root", "test", 1, false), BANTER_EINVAL);
    assert_int_equal(db_admin_role(f->d, FP_A, role, sizeof role), 0);
    assert_string_equal(role, "admin");
    assert_int_equal(db_admin_role(f->d, fpd, role, sizeof role), 0);
    assert_string_equal(role, "auditor");
    assert_int_equal(db_admin_count(f->d, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(db_admin_add(f->d, FP_B, "admin", "test", 2, false), 1); /* role changed */
    assert_int_equal(db_admin_count(f->d, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(db_admin_remove(f->d, FP_B, false), 0);
    assert_int_equal(db_admin_remove(f->d, FP_B, false), 1);
    assert_int_equal(db_admin_role(f->d, fpd, role, sizeof role), BANTER_ENOENT);
}

/* The last key with the role admin keeps it, when asked (remotely):
 * neither removed nor made an auditor; other changes go on, and on the
 * server machine (keep_admin false) it may go. */
static void test_keep_admin(void **state)
{
    struct fixture *f = *state;
    char role[16];
    int64_t n;
    assert_int_equal(db_admin_add(f->d, FP_A, "admin", "test", 1, true), 0);
    assert_int_equal(db_admin_add(f->d, FP_B, "auditor", "test", 1, true), 0);
    assert_int_equal(db_admin_add(f->d, FP_A, "auditor", "test", 2, true), BANTER_ESTATE);
    assert_int_equal(db_admin_remove(f->d, FP_A, true), BANTER_ESTATE);
    assert_int_equal(db_admin_role(f->d, FP_A, role, sizeof role), 0);
    assert_string_equal(role, "admin");
    assert_int_equal(db_admin_add(f->d, FP_A, "admin", "test", 2, true), 1); /* stays admin */
    assert_int_equal(db_admin_add(f->d, FP_B, "auditor", "test", 2, true), 1);
    assert_int_equal(db_admin_remove(f->d, FP_B, true), 0); /* an auditor */
    assert_int_equal(db_admin_remove(f->d, FP_B, true), 1);
    /* with a second admin, either may go; then the other is the last */
    assert_int_equal(db_admin_add(f->d, FP_B, "admin", "test", 3, true), 0);
    assert_int_equal(db_admin_add(f->d, FP_A, "auditor", "test", 3, true), 1);
    assert_int_equal(db_admin_remove(f->d, FP_B, true), BANTER_ESTATE);
    assert_int_equal(db_admin_add(f->d, FP_B, "auditor", "test", 3, true), BANTER_ESTATE);
    assert_int_equal(db_admin_count(f->d, &n), 0);
    assert_int_equal(n, 1);
    /* inside a transaction, the same */
    assert_int_equal(db_begin(f->d), 0);
    assert_int_equal(db_admin_remove(f->d, FP_B, true), BANTER_ESTATE);
    assert_int_equal(db_commit(f->d), 0);
    /* on the server machine it may go; with no admin left, an auditor still may */
    assert_int_equal(db_admin_add(f->d, FP_B, "auditor", "test", 4, false), 1);
    assert_int_equal(db_admin_count(f->d, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(db_admin_remove(f->d, FP_A, true), 0);
    assert_int_equal(db_admin_add(f->d, FP_A, "auditor", "test", 5, true), 0);
}

static void test_revoke(void **state)
{
    struct fixture *f = *state;
    uint8_t key[32] = {7}, other[32] = {8};
    char user[DB_MAX_USER + 1];
    assert_int_equal(db_user_add(f->d, "ann", FAKE_HASH, false, 1), 0);
    assert_int_equal(db_device_bind(f->d, key, "ann", 1), 0);
    assert_int_equal(db_device_revoked(f->d, key), 0);
    assert_int_equal(db_device_revoke(f->d, key, "test", 5, user), 0);
    assert_string_equal(user, "ann");
    assert_int_equal(db_device_revoked(f->d, key), 1);
    db_user u;
    assert_int_equal(db_device_user(f->d, key, &u), BANTER_ENOENT); /* unbound */
    assert_int_equal(db_device_revoke(f->d, other, "test", 5, user), BANTER_ENOENT);
    assert_int_equal(db_device_revoked(f->d, other), 0);
}

/* Whether key is among the n keys. */
static bool listed(uint8_t (*keys)[32], size_t n, const uint8_t key[32])
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(keys[i], key, 32) == 0)
            return true;
    return false;
}

/* `user disable` puts the account's devices on the revocation list
 * (still bound, not refused at login: the account's state answers, and
 * not listed to its contacts); `user enable` takes exactly those off (a
 * device an admin revoked on its own stays); `user delete` lists its
 * devices before they go; a listed key that logs in to that account again
 * leaves the list. */
static void test_account_marks(void **state)
{
    struct fixture *f = *state;
    uint8_t b1[32] = {1}, b2[32] = {2}, b3[32] = {3}, a1[32] = {4}, keys[8][32], dev[4][32];
    char user[DB_MAX_USER + 1], by[64];
    size_t n;
    db_user u;
    assert_int_equal(db_user_add(f->d, "ann", FAKE_HASH, false, 1), 0);
    assert_int_equal(db_user_add(f->d, "bob", FAKE_HASH, false, 1), 0);
    assert_int_equal(db_device_bind(f->d, a1, "ann", 1), 0);
    assert_int_equal(db_device_bind(f->d, b1, "bob", 1), 0);
    assert_int_equal(db_device_bind(f->d, b2, "bob", 2), 0);
    assert_int_equal(db_device_bind(f->d, b3, "bob", 3), 0);
    assert_int_equal(db_device_revoke(f->d, b3, "admin x", 10, user), 0);
    assert_int_equal(db_user_disable(f->d, "bob", 100), 0);
    assert_int_equal(db_revoked_since(f->d, 0, keys, 8, &n), 0);
    assert_int_equal(n, 3);
    assert_true(listed(keys, n, b1) && listed(keys, n, b2) && listed(keys, n, b3));
    assert_int_equal(db_revoked_since(f->d, 50, keys, 8, &n), 0); /* at the disable's time */
    assert_int_equal(n, 2);
    raw_text(f, "SELECT revoked_by FROM revoked WHERE revoked = 100 LIMIT 1", by, sizeof by);
    assert_string_equal(by, DB_REVOKED_BY_DISABLE);
    assert_int_equal(db_device_revoked(f->d, b1), 0); /* login: EDISABLED, not EREVOKED */
    assert_int_equal(db_device_revoked(f->d, b3), 1);
    assert_int_equal(db_device_user(f->d, b1, &u), 0); /* still bound */
    assert_true(u.disabled);
    assert_int_equal(db_devices_of(f->d, "bob", dev, 4, &n), 0);
    assert_int_equal(n, 0); /* its contacts get no device of it */
    assert_int_equal(db_devices_of(f->d, "ann", dev, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(db_user_disable(f->d, "bob", 110), 1); /* again: the marks renewed */
    assert_int_equal(db_revoked_since(f->d, 105, keys, 8, &n), 0);
    assert_int_equal(n, 2);
    /* an admin revokes one of its devices meanwhile: that one stays */
    assert_int_equal(db_device_revoke(f->d, b2, "admin x", 120, user), 0);
    assert_int_equal(db_user_enable(f->d, "bob"), 0);
    assert_int_equal(db_revoked_since(f->d, 0, keys, 8, &n), 0);
    assert_int_equal(n, 2);
    assert_true(listed(keys, n, b2) && listed(keys, n, b3) && !listed(keys, n, b1));
    assert_int_equal(db_device_revoked(f->d, b2), 1);
    assert_int_equal(db_devices_of(f->d, "bob", dev, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(dev[0], b1, 32);
    assert_int_equal(db_user_enable(f->d, "bob"), 1);
    assert_int_equal(db_user_enable(f->d, "nobody"), BANTER_ENOENT);
    assert_int_equal(db_user_disable(f->d, "nobody", 1), BANTER_ENOENT);
    /* delete: its devices listed, then gone */
    assert_int_equal(db_user_delete(f->d, "bob", 300), 0);
    assert_int_equal(db_revoked_since(f->d, 200, keys, 8, &n), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(keys[0], b1, 32);
    raw_text(f, "SELECT revoked_by FROM revoked WHERE revoked = 300", by, sizeof by);
    assert_string_equal(by, DB_REVOKED_BY_DELETE);
    assert_int_equal(db_device_user(f->d, b1, &u), BANTER_ENOENT);
    assert_int_equal(db_device_revoked(f->d, b1), 0); /* may log in to another account */
    assert_int_equal(db_user_delete(f->d, "bob", 301), BANTER_ENOENT);
    /* logging in to another account leaves the mark; to a new bob, it goes */
    assert_int_equal(db_device_bind(f->d, b1, "ann", 310), 0);
    assert_int_equal(db_revoked_release(f->d, b1, "ann"), 0);
    /* ann's disable and enable leave it listed as the deleted bob's */
    assert_int_equal(db_user_disable(f->d, "ann", 311), 0);
    assert_int_equal(db_user_enable(f->d, "ann"), 0);
    raw_text(f, "SELECT revoked_by FROM revoked WHERE revoked = 300", by, sizeof by);
    assert_string_equal(by, DB_REVOKED_BY_DELETE);
    assert_int_equal(db_revoked_since(f->d, 200, keys, 8, &n), 0);
    assert_true(listed(keys, n, b1));
    assert_int_equal(db_user_add(f->d, "bob", FAKE_HASH, false, 320), 0);
    assert_int_equal(db_device_bind(f->d, b1, "bob", 330), 0);
    assert_int_equal(db_revoked_release(f->d, b1, "bob"), 1);
    assert_int_equal(db_revoked_release(f->d, b1, "bob"), 0);
    assert_int_equal(db_revoked_release(f->d, b2, "bob"), 0); /* an admin's stays */
    assert_int_equal(db_revoked_since(f->d, 0, keys, 8, &n), 0);
    assert_int_equal(n, 2);
    assert_false(listed(keys, n, b1));
    /* in a transaction, undone with it */
    assert_int_equal(db_begin(f->d), 0);
    assert_int_equal(db_user_disable(f->d, "bob", 400), 0);
    db_rollback(f->d);
    assert_int_equal(db_revoked_since(f->d, 0, keys, 8, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(db_user_get(f->d, "bob", &u, NULL), 0);
    assert_false(u.disabled);
}

/* The marked keys no account has bound, to test_deleted_device. */
struct marked {
    size_t n;
    uint8_t key[4][32];
    char user[4][DB_MAX_USER + 1];
};
static int marked_keep(void *ud, const db_device *v)
{
    struct marked *m = ud;
    if (m->n == 4)
        return BANTER_ENOSPC;
    memcpy(m->key[m->n], v->key, 32);
    snprintf(m->user[m->n], sizeof m->user[m->n], "%s", v->user);
    m->n++;
    return 0;
}

/* A deleted account's device: found among the marked keys no account
 * has bound, and `device revoke` turns its mark into a lasting
 * revocation that a login to the name handed over again does not take
 * off. A marked key bound again (another account) is not among them. */
static void test_deleted_device(void **state)
{
    struct fixture *f = *state;
    uint8_t a1[32] = {1}, a2[32] = {2}, keys[8][32];
    char user[DB_MAX_USER + 1], by[64];
    size_t n;
    struct marked m = {0};
    assert_int_equal(db_user_add(f->d, "ann", FAKE_HASH, false, 1), 0);
    assert_int_equal(db_user_add(f->d, "bob", FAKE_HASH, false, 1), 0);
    assert_int_equal(db_device_bind(f->d, a1, "ann", 1), 0);
    assert_int_equal(db_device_bind(f->d, a2, "ann", 2), 0);
    assert_int_equal(db_device_marked_each(f->d, marked_keep, &m), 0);
    assert_int_equal(m.n, 0); /* bound: `device list` has them */
    assert_int_equal(db_user_delete(f->d, "ann", 100), 0);
    assert_int_equal(db_device_marked_each(f->d, marked_keep, &m), 0);
    assert_int_equal(m.n, 2);
    assert_memory_equal(m.key[0], a1, 32);
    assert_string_equal(m.user[0], "ann");
    assert_int_equal(db_device_revoke(f->d, a1, "admin x", 200, user), 1);
    assert_string_equal(user, "ann");
    assert_int_equal(db_device_revoked(f->d, a1), 1);
    raw_text(f, "SELECT revoked_by FROM revoked WHERE revoked = 200", by, sizeof by);
    assert_string_equal(by, "admin x");
    assert_int_equal(db_revoked_since(f->d, 150, keys, 8, &n), 0); /* listed from now */
    assert_int_equal(n, 1);
    assert_memory_equal(keys[0], a1, 32);
    m.n = 0;
    assert_int_equal(db_device_marked_each(f->d, marked_keep, &m), 0);
    assert_int_equal(m.n, 1); /* an admin's revocation is no mark */
    assert_memory_equal(m.key[0], a2, 32);
    assert_int_equal(db_device_revoke(f->d, a1, "admin x", 210, user), BANTER_ENOENT);
    /* the name handed over: a login of the revoked key keeps it revoked */
    assert_int_equal(db_user_add(f->d, "ann", FAKE_HASH, false, 300), 0);
    assert_int_equal(db_revoked_release(f->d, a1, "ann"), 0);
    assert_int_equal(db_device_revoked(f->d, a1), 1);
    /* the other one logs in to bob: bound, no longer among them */
    assert_int_equal(db_device_bind(f->d, a2, "bob", 310), 0);
    m.n = 0;
    assert_int_equal(db_device_marked_each(f->d, marked_keep, &m), 0);
    assert_int_equal(m.n, 0);
    assert_int_equal(db_device_revoke(f->d, a2, "admin x", 320, user), 0);
    assert_string_equal(user, "bob");
}

/* Announcements: addressed per device (a department's only when given),
 * receipts only from an addressed device, once each, the report per device
 * and per person; the recent revocations for the list. */
static void test_announce(void **state)
{
    struct fixture *f = *state;
    uint8_t a1[32] = {1}, a2[32] = {2}, b1[32] = {3}, c1[32] = {4}, stranger[32] = {9};
    int64_t id, id2, id3, devices, people;
    char user[DB_MAX_USER + 1];
    assert_int_equal(db_user_add(f->d, "ann", FAKE_HASH, false, 1), 0);
    assert_int_equal(db_user_add(f->d, "bob", FAKE_HASH, false, 1), 0);
    assert_int_equal(db_user_add(f->d, "cat", FAKE_HASH, false, 1), 0);
    assert_int_equal(db_device_bind(f->d, a1, "ann", 1), 0);
    assert_int_equal(db_device_bind(f->d, a2, "ann", 1), 0);
    assert_int_equal(db_device_bind(f->d, b1, "bob", 1), 0);
    assert_int_equal(db_device_bind(f->d, c1, "cat", 1), 0);
    assert_int_equal(db_user_disable(f->d, "cat", 1), 0);
    struct rv_profile p = {0};
    p.f[RV_F_DEPARTMENT] = "Sales";
    assert_int_equal(db_profile_set(f->d, "ann", &p, 1), 0);
    assert_int_equal(db_announce_add(f->d, 10, "admin x", "", "hello", &id, &devices, &people), 0);
    assert_int_equal(devices, 3); /* ann's two, bob's; cat is disabled */
    assert_int_equal(people, 2);
    assert_int_equal(
        db_announce_add(f->d, 11, "admin x", "sales", "sales only", &id2, &devices, &people), 0);
    assert_int_equal(devices, 2);
    assert_int_equal(people, 1);
    assert_int_equal(db_announce_addressed(f->d, id2, b1), 0);
    /* case is ASCII's on both backends (SQLite's lower()): "ÄRZTE" is not
     * "ärzte", "Ärzte" is "äRZTE" */
    p.f[RV_F_DEPARTMENT] = "\xc3\x84rzte";
    assert_int_equal(db_profile_set(f->d, "bob", &p, 1), 0);
    assert_int_equal(
        db_announce_add(f->d, 12, "admin x", "\xc3\xa4rzte", "a", &id3, &devices, &people), 0);
    assert_int_equal(devices, 0);
    assert_int_equal(
        db_announce_add(f->d, 12, "admin x", "\xc3\x84RZTE", "b", &id3, &devices, &people), 0);
    assert_int_equal(devices, 1);
    /* receipts */
    assert_int_equal(db_announce_receipt(f->d, id2, b1, true, 20), BANTER_ENOENT);
    assert_int_equal(db_announce_receipt(f->d, id, stranger, false, 20), BANTER_ENOENT);
    assert_int_equal(db_announce_receipt(f->d, 999, a1, false, 20), BANTER_ENOENT);
    assert_int_equal(db_announce_receipt(f->d, id, a1, false, 20), 0);
    assert_int_equal(db_announce_receipt(f->d, id, a1, false, 21), 1);
    assert_int_equal(db_announce_receipt(f->d, id, a1, true, 22), 0);
    assert_int_equal(db_announce_receipt(f->d, id, a1, true, 23), 1);
    assert_int_equal(db_announce_receipt(f->d, id, a2, true, 24), 0); /* read implies delivered */
    assert_int_equal(db_announce_receipt(f->d, id, a2, false, 25), 1);
    assert_int_equal(db_announce_receipt(f->d, id, b1, false, 26), 0);
    db_announce_report *r = malloc(sizeof *r);
    assert_non_null(r);
    assert_int_equal(db_announce_report_get(f->d, id, r), 0);
    assert_string_equal(r->text, "hello");
    assert_int_equal(r->devices, 3);
    assert_int_equal(r->delivered, 3);
    assert_int_equal(r->read, 2);
    assert_int_equal(r->people, 2);
    assert_int_equal(r->people_delivered, 2);
    assert_int_equal(r->people_read, 1); /* ann, on two devices */
    assert_int_equal(db_announce_report_get(f->d, 999, r), BANTER_ENOENT);
    free(r);
    /* the recent revocations, newest first */
    uint8_t keys[4][32];
    size_t n;
    assert_int_equal(db_device_revoke(f->d, a2, "test", 100, user), 0);
    assert_int_equal(db_device_revoke(f->d, b1, "test", 200, user), 0);
    assert_int_equal(db_revoked_since(f->d, 150, keys, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(keys[0], b1, 32);
    assert_int_equal(db_revoked_since(f->d, 0, keys, 4, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(keys[1], a2, 32);
    assert_memory_equal(keys[2], c1, 32); /* disabled cat's, at 1 */
}

static void append(struct fixture *f, int n)
{
    char t[32];
    for (int i = 0; i < n; i++) {
        snprintf(t, sizeof t, "name=u%d", i);
        assert_int_equal(
            db_audit_append(f->d, f->id, 1000 + i, "admin 1", "user.disable", t, "ok", NULL), 0);
    }
}

static int verify(struct fixture *f, const identity *by, int64_t *bad)
{
    int64_t n;
    char why[256];
    return db_audit_verify(f->d, identity_public(by), &n, bad, why, sizeof why);
}

static void test_audit_chain(void **state)
{
    struct fixture *f = *state;
    int64_t bad, n, seq;
    char why[256];
    assert_int_equal(db_audit_verify(f->d, identity_public(f->id), &n, &bad, why, sizeof why), 0);
    assert_int_equal(n, 0);
    append(f, 5);
    assert_int_equal(db_audit_append(f->d, f->id, 2000, "a", "c", "", "ok", &seq), 0);
    assert_int_equal(seq, 6);
    assert_int_equal(db_audit_verify(f->d, identity_public(f->id), &n, &bad, why, sizeof why), 0);
    assert_int_equal(n, 6);
    /* another key's signatures do not verify */
    assert_int_equal(verify(f, f->other, &bad), BANTER_EFORMAT);
    assert_int_equal(bad, 1);
    /* an edited entry */
    raw_exec(f, "UPDATE audit SET result = 'EPERM' WHERE seq = 4");
    assert_int_equal(verify(f, f->id, &bad), BANTER_EFORMAT);
    assert_int_equal(bad, 4);
}

static void test_audit_delete_forge(void **state)
{
    struct fixture *f = *state;
    int64_t bad;
    append(f, 5);
    raw_exec(f, "DELETE FROM audit WHERE seq = 2");
    assert_int_equal(verify(f, f->id, &bad), BANTER_EFORMAT);
    assert_int_equal(bad, 3);
    /* renumbering the rest does not help: each hash covers its seq and the
     * previous hash */
    if (pg_url) /* PostgreSQL checks the key row by row: two steps */
        raw_exec(f, "UPDATE audit SET seq = -seq WHERE seq > 2;"
                    "UPDATE audit SET seq = -seq - 1 WHERE seq < 0");
    else
        raw_exec(f, "UPDATE audit SET seq = seq - 1 WHERE seq > 2");
    assert_int_equal(verify(f, f->id, &bad), BANTER_EFORMAT);
    assert_int_equal(bad, 2);
}

static void test_audit_forge(void **state)
{
    struct fixture *f = *state;
    int64_t bad;
    append(f, 3);
    /* Rewriting an entry with its hash recomputed still fails: the
     * signature is the server key's. */
    db_audit a = {.seq = 2, .ts = 1001};
    uint8_t prev[32], hash[32];
    char sql[512], hex[65];
    snprintf(a.actor, sizeof a.actor, "admin 1");
    snprintf(a.cmd, sizeof a.cmd, "user.enable");
    snprintf(a.target, sizeof a.target, "name=u1");
    snprintf(a.result, sizeof a.result, "ok");
    read_hash(f, 1, prev);
    db_audit_hash(prev, &a, hash);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", hash[i]);
    snprintf(sql, sizeof sql,
             pg_url ? "UPDATE audit SET cmd = 'user.enable', hash = '\\x%s' WHERE seq = 2"
                    : "UPDATE audit SET cmd = 'user.enable', hash = x'%s' WHERE seq = 2",
             hex);
    raw_exec(f, sql);
    assert_int_equal(verify(f, f->id, &bad), BANTER_EFORMAT);
    assert_int_equal(bad, 2);
}

static void test_acct_local(void **state)
{
    struct fixture *f = *state;
    acct_ctx x = {.d = f->d, .id = f->id, .actor = "local uid 0", .now_ms = 5000};
    adm_request rq = {
        .id = 3, .cmd = ADM_USER_ADD, .has = ADM_BIT(ADM_A_NAME) | ADM_BIT(ADM_A_PASSWORD)};
    adm_result res;
    snprintf(rq.name, sizeof rq.name, "bob");
    snprintf(rq.password, sizeof rq.password, "hunter2 secret");
    assert_int_equal(acct_exec(&x, &rq, &res), 0);
    assert_true(res.ok);
    assert_int_equal(res.id, 3);
    assert_non_null(strstr(res.text, "added user bob"));
    adm_result_clear(&res);
    assert_int_equal(acct_exec(&x, &rq, &res), 0);
    assert_false(res.ok);
    assert_string_equal(res.error, "EEXIST");
    adm_result_clear(&res);
    adm_request st = {.cmd = ADM_STATUS};
    assert_int_equal(acct_exec(&x, &st, &res), 0);
    assert_false(res.ok);
    assert_string_equal(res.error, "ENOSERVER");
    adm_result_clear(&res);
    adm_request dis = {.cmd = ADM_USER_DISABLE, .has = ADM_BIT(ADM_A_NAME)};
    snprintf(dis.name, sizeof dis.name, "bob");
    assert_int_equal(acct_refuse(&x, &dis, &res, "EPERM", "no"), 0);
    assert_false(res.ok);
    adm_result_clear(&res);
    db_user u;
    assert_int_equal(db_user_get(f->d, "bob", &u, NULL), 0);
    assert_false(u.disabled);
    /* every request is audited, refusals too; never the password */
    int64_t n, bad;
    char why[256];
    assert_int_equal(db_audit_verify(f->d, identity_public(f->id), &n, &bad, why, sizeof why), 0);
    assert_int_equal(n, 4);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM audit WHERE target LIKE '%hunter2%'"
                                " OR result LIKE '%hunter2%'"),
                     0);
}

static void test_backup(void **state)
{
    struct fixture *f = *state;
    char path[256], why[256];
    assert_int_equal(db_user_add(f->d, "cat", FAKE_HASH, false, 1), 0);
    if (pg_url) { /* names are checked the same; the copy is pg_dump's job */
        assert_int_equal(db_backup(f->d, "a b.db", path, sizeof path, why, sizeof why),
                         BANTER_EINVAL);
        assert_int_equal(db_backup(f->d, "copy.db", path, sizeof path, why, sizeof why),
                         BANTER_EUNSUPPORTED);
        assert_non_null(strstr(why, "pg_dump"));
        return;
    }
    assert_int_equal(db_backup(f->d, "copy.db", path, sizeof path, why, sizeof why), 0);
    assert_int_equal(db_backup(f->d, "copy.db", path, sizeof path, why, sizeof why), BANTER_EIO);
    assert_int_equal(db_backup(f->d, "rdv.db-journal", path, sizeof path, why, sizeof why),
                     BANTER_EINVAL);
    assert_int_equal(db_backup(f->d, ".hidden.db", path, sizeof path, why, sizeof why),
                     BANTER_EINVAL);
    assert_int_equal(db_backup(f->d, "a b.db", path, sizeof path, why, sizeof why), BANTER_EINVAL);
    db *c = NULL;
    db_user u;
    assert_int_equal(db_open(&c, path, NULL, 0), 0);
    assert_int_equal(db_user_get(c, "cat", &u, NULL), 0);
    db_close(c);
}

/* The calls of db_admin.h no other test reaches, the same on both
 * backends: admin keys in order, devices by page, the audit log's tail,
 * counts, a new password, deleting an account, the offline store's
 * statistics and purge, the organisation's policy. */
struct collect {
    int n;
    char text[8][DB_AUDIT_TEXT + 64];
};

static int collect_key(void *ud, const db_admin_key *k)
{
    struct collect *c = ud;
    snprintf(c->text[c->n++ % 8], sizeof c->text[0], "%s %s", k->fp, k->role);
    return 0;
}

static int collect_device(void *ud, const db_device *v)
{
    struct collect *c = ud;
    snprintf(c->text[c->n++ % 8], sizeof c->text[0], "%s %d %lld", v->user, v->key[0],
             (long long)v->created_ms);
    return 0;
}

static int collect_audit(void *ud, const db_audit *a)
{
    struct collect *c = ud;
    snprintf(c->text[c->n++ % 8], sizeof c->text[0], "%lld %s", (long long)a->seq, a->target);
    return 0;
}

static int stop_at_first(void *ud, const db_admin_key *k)
{
    (void)k;
    (*(int *)ud)++;
    return 42;
}

static void test_admin_misc(void **state)
{
    struct fixture *f = *state;
    struct collect c = {0};
    int calls = 0;
    assert_int_equal(db_admin_add(f->d, FP_B, "auditor", "test", 1, false), 0);
    assert_int_equal(db_admin_add(f->d, FP_A, "admin", "test", 2, false), 0);
    assert_int_equal(db_admin_each(f->d, collect_key, &c), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.text[0], FP_A " admin");
    assert_string_equal(c.text[1], "9999988888777776666655555444443333322222 auditor");
    assert_int_equal(db_admin_each(f->d, stop_at_first, &calls), 42);
    assert_int_equal(calls, 1);
    /* devices: by user (bytewise: "Z" would sort before "a"), then age */
    uint8_t k1[32] = {1}, k2[32] = {2}, k3[32] = {3};
    assert_int_equal(db_user_add(f->d, "bob", FAKE_HASH, false, 1), 0);
    assert_int_equal(db_user_add(f->d, "ann", FAKE_HASH, false, 1), 0);
    assert_int_equal(db_device_bind(f->d, k1, "bob", 10), 0);
    assert_int_equal(db_device_bind(f->d, k2, "ann", 30), 0);
    assert_int_equal(db_device_bind(f->d, k3, "ann", 20), 0);
    int64_t total = 0, users = 0, devices = 0;
    memset(&c, 0, sizeof c);
    assert_int_equal(db_device_each(f->d, NULL, 1, 2, &total, collect_device, &c), 0);
    assert_int_equal(total, 3);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.text[0], "ann 2 30");
    assert_string_equal(c.text[1], "bob 1 10");
    memset(&c, 0, sizeof c);
    assert_int_equal(db_device_each(f->d, "ann", 0, INT64_MAX, &total, collect_device, &c), 0);
    assert_int_equal(total, 2);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.text[0], "ann 3 20");
    assert_int_equal(db_counts(f->d, &users, &devices), 0);
    assert_int_equal(users, 2);
    assert_int_equal(devices, 3);
    /* the audit log's last entries, oldest first */
    append(f, 5);
    memset(&c, 0, sizeof c);
    assert_int_equal(db_audit_tail(f->d, 2, collect_audit, &c), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.text[0], "4 name=u3");
    assert_string_equal(c.text[1], "5 name=u4");
    /* a new password; a deleted account takes its devices */
    char hash[BCRYPTO_PWHASH_STRLEN];
    db_user u;
    assert_int_equal(db_user_set_password(f->d, "ann", "$argon2id$new"), 0);
    assert_int_equal(db_user_get(f->d, "ann", &u, hash), 0);
    assert_string_equal(hash, "$argon2id$new");
    assert_int_equal(db_user_set_password(f->d, "nobody", "$argon2id$new"), BANTER_ENOENT);
    assert_int_equal(db_user_set_password(f->d, "Bad Name", "$argon2id$new"), BANTER_EINVAL);
    int64_t gone = 0;
    assert_int_equal(db_name_retired(f->d, "ann", &gone), BANTER_ENOENT);
    assert_int_equal(db_user_delete(f->d, "ann", 1), 0);
    assert_int_equal(db_user_delete(f->d, "ann", 1), BANTER_ENOENT);
    assert_int_equal(db_user_delete(f->d, "../x", 1), BANTER_EINVAL);
    /* the name is kept as a deleted account's, with when (the database's
     * clock), until an account of that name is added again */
    assert_int_equal(db_name_retired(f->d, "ann", &gone), 0);
    assert_true(gone > 1700000000000LL);
    assert_int_equal(db_name_retired(f->d, "bob", &gone), BANTER_ENOENT);
    assert_int_equal(db_user_add(f->d, "ann", "$argon2id$again", false, 1), 0);
    assert_int_equal(db_name_retired(f->d, "ann", &gone), BANTER_ENOENT);
    assert_int_equal(db_user_delete(f->d, "ann", 1), 0);
    assert_int_equal(db_name_retired(f->d, "ann", &gone), 0);
    assert_int_equal(db_counts(f->d, &users, &devices), 0);
    assert_int_equal(users, 1);
    assert_int_equal(devices, 1);
    /* the offline store */
    db_mail_stats st;
    uint8_t blob[100] = {0};
    assert_int_equal(db_mail_stats_get(f->d, &st), 0);
    assert_int_equal(st.copies, 0);
    assert_int_equal(st.oldest_ms, 0);
    for (int i = 0; i < 3; i++) {
        db_sealed m = {.to_user = "bob",
                       .from_user = "bob",
                       .blob = blob,
                       .len = (size_t)(10 * (i + 1)),
                       .created_ms = 100 * (i + 1),
                       .expires_ms = 100000};
        m.id[0] = (uint8_t)i;
        memcpy(m.to_device, k1, 32);
        assert_int_equal(db_mail_put(f->d, &m, 100, 100000), DB_MAIL_STORED);
    }
    assert_int_equal(db_mail_stats_get(f->d, &st), 0);
    assert_int_equal(st.copies, 3);
    assert_int_equal(st.bytes, 60);
    assert_int_equal(st.users, 1);
    assert_int_equal(st.oldest_ms, 100);
    int64_t n = -1;
    assert_int_equal(db_mail_purge(f->d, 250, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(db_mail_stats_get(f->d, &st), 0);
    assert_int_equal(st.copies, 1);
    assert_int_equal(st.bytes, 30);
    /* the policy: none, then the values stored (all 64 bits of serial),
     * only over a lower serial */
    policy p, q;
    assert_int_equal(db_policy_get(f->d, &p), BANTER_ENOENT);
    policy_default(&p);
    p.serial = UINT64_MAX - 1;
    p.issued_ms = 1234;
    p.max_file_mb = 50;
    p.history_days = 30;
    p.flags = 0x5;
    p.public_fields = 0x7;
    assert_int_equal(db_policy_put(f->d, &p), 0);
    p.history_days = 31;
    assert_int_equal(db_policy_put(f->d, &p), BANTER_ESTATE); /* the same serial */
    p.serial = UINT64_MAX;
    assert_int_equal(db_policy_put(f->d, &p), 0);
    assert_int_equal(db_policy_get(f->d, &q), 0);
    assert_true(q.serial == UINT64_MAX);
    assert_int_equal(q.issued_ms, 1234);
    assert_int_equal(q.max_file_mb, 50);
    assert_int_equal(q.history_days, 31);
    assert_int_equal(q.flags, 0x5);
    assert_int_equal(q.public_fields, 0x7);
}

/* Inside a transaction, each call is undone with it. */
static void test_admin_rollback(void **state)
{
    struct fixture *f = *state;
    uint8_t key[32] = {5};
    char user[DB_MAX_USER + 1], role[16];
    int64_t seq = 0, id, devices, people;
    assert_int_equal(db_user_add(f->d, "ann", FAKE_HASH, false, 1), 0);
    assert_int_equal(db_device_bind(f->d, key, "ann", 1), 0);
    assert_int_equal(db_begin(f->d), 0);
    assert_int_equal(db_admin_add(f->d, FP_A, "admin", "test", 1, false), 0);
    assert_int_equal(db_device_revoke(f->d, key, "test", 5, user), 0);
    assert_int_equal(db_audit_append(f->d, f->id, 5, "a", "c", "t", "ok", &seq), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(db_announce_add(f->d, 5, "a", "", "hi", &id, &devices, &people), 0);
    assert_int_equal(devices, 0); /* revoked, so unbound */
    db_rollback(f->d);
    assert_int_equal(db_admin_role(f->d, FP_A, role, sizeof role), BANTER_ENOENT);
    assert_int_equal(db_device_revoked(f->d, key), 0);
    db_user u;
    assert_int_equal(db_device_user(f->d, key, &u), 0);
    assert_int_equal(db_audit_append(f->d, f->id, 6, "a", "c", "t", "ok", &seq), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM announcements"), 0);
}

/* PostgreSQL: several instances append to one audit log at once; the
 * chain holds, every entry is there once. */
#define RACE_ROUNDS 40

struct racer {
    db *d;
    const identity *id;
    int failed;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    for (int i = 0; i < RACE_ROUNDS; i++)
        if (db_audit_append(r->d, r->id, 1000 + i, "admin r", "user.disable", "name=x", "ok",
                            NULL) != 0)
            r->failed++;
    return NULL;
}

static void test_audit_instances(void **state)
{
    struct fixture *f = *state;
    if (!pg_url) {
        skip(); /* one SQLite file has one writer at a time */
        return;
    }
    struct racer r[3] = {{.d = f->d, .id = f->id}, {.id = f->id}, {.id = f->id}};
    pthread_t t[3];
    for (int i = 1; i < 3; i++)
        assert_int_equal(db_open(&r[i].d, pg_url, NULL, 0), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int i = 1; i < 3; i++)
        db_close(r[i].d);
    for (int i = 0; i < 3; i++)
        assert_int_equal(r[i].failed, 0);
    int64_t n, bad;
    char why[256];
    assert_int_equal(db_audit_verify(f->d, identity_public(f->id), &n, &bad, why, sizeof why), 0);
    assert_int_equal(n, 3 * RACE_ROUNDS);
}

/* PostgreSQL: two instances take the role admin from the last two admin
 * keys at the same moment (each removes or demotes one): one wins, the
 * other is refused BANTER_ESTATE (never both pass, never a deadlock). */
#define KEEP_ROUNDS 30

struct keeper {
    db *d;
    const char *fp;
    bool demote;
    pthread_barrier_t *go;
    int results[KEEP_ROUNDS];
};

static void *keep_race(void *arg)
{
    struct keeper *k = arg;
    for (int i = 0; i < KEEP_ROUNDS; i++) {
        pthread_barrier_wait(k->go); /* both keys are admins */
        k->results[i] = k->demote ? db_admin_add(k->d, k->fp, "auditor", "race", 1, true)
                                  : db_admin_remove(k->d, k->fp, true);
        pthread_barrier_wait(k->go); /* both done */
        pthread_barrier_wait(k->go); /* the keys are set again */
    }
    return NULL;
}

static void test_keep_admin_instances(void **state)
{
    struct fixture *f = *state;
    if (!pg_url) {
        skip(); /* one SQLite file has one writer at a time */
        return;
    }
    pthread_barrier_t go;
    assert_int_equal(pthread_barrier_init(&go, NULL, 3), 0);
    struct keeper k[2] = {{.fp = FP_A, .go = &go}, {.fp = FP_B, .go = &go}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(db_open(&k[i].d, pg_url, NULL, 0), 0);
        assert_int_equal(pthread_create(&t[i], NULL, keep_race, &k[i]), 0);
    }
    for (int round = 0; round < KEEP_ROUNDS; round++) {
        k[0].demote = round % 2 == 1; /* remove and remove, then demote and remove */
        k[1].demote = round % 4 == 3;
        assert_int_equal(db_admin_add(f->d, FP_A, "admin", "test", 1, false) >= 0, 1);
        assert_int_equal(db_admin_add(f->d, FP_B, "admin", "test", 1, false) >= 0, 1);
        pthread_barrier_wait(&go);
        pthread_barrier_wait(&go);
        int64_t n = 0;
        assert_int_equal(db_admin_count(f->d, &n), 0);
        assert_int_equal(n, 1);
        int won = 0, refused = 0;
        for (int i = 0; i < 2; i++) {
            int r = k[i].results[round];
            won += r == 0 || r == 1;
            refused += r == BANTER_ESTATE;
        }
        if (won != 1 || refused != 1)
            fail_msg("round %d: %d and %d", round, k[0].results[round], k[1].results[round]);
        pthread_barrier_wait(&go);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        db_close(k[i].d);
    }
    pthread_barrier_destroy(&go);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_admin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_marks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_delete_forge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_forge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acct_local, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_announce, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_misc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_instances, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_admin_instances, setup, teardown),
    };
    pg_url = dbt_pg_url();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
