/* SPDX-License-Identifier: MIT */
/*
 * test_rdv_mail.c - stored sealed copies: stored once per (id, device,
 * sending device), so two senders' copies with one id are both kept (and a
 * schema 3 database is migrated with its rows),
 * fetched per device in order past a position, deleted by seq or by id,
 * the per-account quota (count and bytes, with the usage kept by the
 * triggers through inserts, deletes and expiry), expiry in bounded
 * batches, copies kept across reopening, broadcast recipients; one
 * sending account's share of a mailbox (count and bytes, other senders
 * still stored, the account's own copies not limited by it, kept by the
 * triggers, counted from the copies at the migration from schema 6); a
 * block takes back the blocked account's copies and stores none after.
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
#include <sqlite3.h>

#include "db_admin.h"
#include "db_contacts.h"
#include "db_mail.h"
#include "rdv_dbtest.h"
#include "rel.h"

#define FAKE_HASH "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo"

struct fixture {
    struct dbt t;
    const char *path;
    db *d;
};

static const uint8_t DEV_A[32] = {0xa1}, DEV_B[32] = {0xb1}, DEV_B2[32] = {0xb2};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    dbt_make(&f->t, "rdvm");
    f->path = f->t.path;
    assert_int_equal(db_open(&f->d, f->path, NULL, 0), 0);
    assert_int_equal(db_user_add(f->d, "ann", FAKE_HASH, false, 1), 0);
    assert_int_equal(db_user_add(f->d, "bob", FAKE_HASH, false, 1), 0);
    /* Copies are fetched for the account a device is bound to now. */
    assert_int_equal(db_device_bind(f->d, DEV_B, "bob", 1), 0);
    assert_int_equal(db_device_bind(f->d, DEV_B2, "bob", 1), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    db_close(f->d);
    dbt_remove(&f->t);
    free(f);
    return 0;
}

/* A copy from ann's DEV_A to bob's device dev, id n, len bytes, made at
 * created, expiring 1000 ms later. */
static db_sealed copy(uint8_t n, const uint8_t *dev, const uint8_t *blob, size_t len,
                      int64_t created)
{
    db_sealed s = {.to_user = "bob",
                   .from_user = "ann",
                   .flags = 0,
                   .blob = blob,
                   .len = len,
                   .created_ms = created,
                   .expires_ms = created + 1000};
    memset(s.id, n, sizeof s.id);
    memcpy(s.to_device, dev, 32);
    memcpy(s.from_device, DEV_A, 32);
    return s;
}

struct seen {
    size_t n;
    int64_t seq[16];
    uint8_t first_id_byte[16];
    size_t len[16];
};

static void on_row(void *ud, const db_sealed *s)
{
    struct seen *v = ud;
    assert_true(v->n < 16);
    assert_string_equal(s->from_user, "ann");
    assert_string_equal(s->to_user, "bob");
    assert_memory_equal(s->from_device, DEV_A, 32);
    v->seq[v->n] = s->seq;
    v->first_id_byte[v->n] = s->id[0];
    v->len[v->n] = s->len;
    v->n++;
}

static void test_store_fetch_delete(void **state)
{
    struct fixture *f = *state;
    uint8_t blob[100];
    int64_t count, bytes;
    struct seen v = {0};
    memset(blob, 7, sizeof blob);
    assert_int_equal(db_begin(f->d), 0);
    for (uint8_t i = 1; i <= 3; i++) {
        db_sealed s = copy(i, DEV_B, blob, 10u * i, 100);
        assert_int_equal(db_mail_put(f->d, &s, 100, 1 << 20), DB_MAIL_STORED);
    }
    db_sealed other = copy(9, DEV_B2, blob, 5, 100);
    assert_int_equal(db_mail_put(f->d, &other, 100, 1 << 20), DB_MAIL_STORED);
    db_sealed dup = copy(2, DEV_B, blob, 20, 100);
    assert_int_equal(db_mail_put(f->d, &dup, 100, 1 << 20), DB_MAIL_DUPLICATE);
    assert_int_equal(db_commit(f->d), 0);
    assert_int_equal(db_mail_usage(f->d, "bob", &count, &bytes), 0);
    assert_int_equal(count, 4);
    assert_int_equal(bytes, 10 + 20 + 30 + 5);

    /* Only for the account the device is bound to now: bound to ann
     * since, DEV_B2 gets none of bob's; bob's again, it does. */
    assert_int_equal(db_device_bind(f->d, DEV_B2, "ann", 2), 0);
    assert_int_equal(db_mail_fetch(f->d, DEV_B2, 0, 100, 10, on_row, &v), 0);
    assert_int_equal(db_device_unbind(f->d, DEV_B2), 0);
    assert_int_equal(db_mail_fetch(f->d, DEV_B2, 0, 100, 10, on_row, &v), 0);
    assert_int_equal(db_device_bind(f->d, DEV_B2, "bob", 3), 0);
    assert_int_equal(db_mail_fetch(f->d, DEV_B2, 0, 100, 10, on_row, &v), 1);
    v = (struct seen){0};

    /* Per device, in order, from a position, at most max. */
    assert_int_equal(db_mail_fetch(f->d, DEV_B, 0, 100, 2, on_row, &v), 2);
    assert_int_equal(v.first_id_byte[0], 1);
    assert_int_equal(v.first_id_byte[1], 2);
    assert_int_equal(v.len[1], 20);
    int64_t after = v.seq[1];
    v.n = 0;
    assert_int_equal(db_mail_fetch(f->d, DEV_B, after, 100, 10, on_row, &v), 1);
    assert_int_equal(v.first_id_byte[0], 3);

    /* Delete by seq and by id; unknown ones are no error. */
    assert_int_equal(db_mail_del_seq(f->d, after), 0);
    uint8_t id[16];
    memset(id, 3, sizeof id);
    assert_int_equal(db_mail_del_id(f->d, id, DEV_B, DEV_A), 0);
    assert_int_equal(db_mail_del_id(f->d, id, DEV_B, DEV_A), 0);
    assert_int_equal(db_mail_del_seq(f->d, 999999), 0);
    v.n = 0;
    assert_int_equal(db_mail_fetch(f->d, DEV_B, 0, 100, 10, on_row, &v), 1);
    assert_int_equal(v.first_id_byte[0], 1);
    assert_int_equal(db_mail_usage(f->d, "bob", &count, &bytes), 0);
    assert_int_equal(count, 2);
    assert_int_equal(bytes, 10 + 5);

    /* Kept across reopening. */
    db_close(f->d);
    assert_int_equal(db_open(&f->d, f->path, NULL, 0), 0);
    v.n = 0;
    assert_int_equal(db_mail_fetch(f->d, DEV_B2, 0, 100, 10, on_row, &v), 1);
    assert_int_equal(v.first_id_byte[0], 9);
    /* Bad copies. */
    db_sealed bad = copy(4, DEV_B, blob, 0, 100);
    assert_int_equal(db_mail_put(f->d, &bad, 100, 1 << 20), BANTER_EINVAL);
    bad = copy(4, DEV_B, blob, 1, 100);
    bad.to_user = "nobody";
    assert_int_equal(db_mail_put(f->d, &bad, 100, 1 << 20), BANTER_EDB);
}

static void test_quota(void **state)
{
    struct fixture *f = *state;
    uint8_t blob[64] = {0};
    int64_t count, bytes;
    for (uint8_t i = 1; i <= 3; i++) {
        db_sealed s = copy(i, DEV_B, blob, 10, 100);
        assert_int_equal(db_mail_put(f->d, &s, 3, 1000), DB_MAIL_STORED);
    }
    db_sealed s = copy(4, DEV_B, blob, 10, 100);
    assert_int_equal(db_mail_put(f->d, &s, 3, 1000), DB_MAIL_OVER_QUOTA);
    /* A copy already stored is still "stored" when the mailbox is full. */
    s = copy(2, DEV_B, blob, 10, 100);
    assert_int_equal(db_mail_put(f->d, &s, 3, 1000), DB_MAIL_DUPLICATE);
    /* Bytes: 30 stored, 64 more is over 80. */
    s = copy(5, DEV_B, blob, 64, 100);
    assert_int_equal(db_mail_put(f->d, &s, 100, 80), DB_MAIL_OVER_QUOTA);
    s = copy(5, DEV_B, blob, 50, 100);
    assert_int_equal(db_mail_put(f->d, &s, 100, 80), DB_MAIL_STORED);
    assert_int_equal(db_mail_usage(f->d, "bob", &count, &bytes), 0);
    assert_int_equal(count, 4);
    assert_int_equal(bytes, 80);
    /* Another account's mailbox is its own. */
    assert_int_equal(db_mail_usage(f->d, "ann", &count, &bytes), 0);
    assert_int_equal(count, 0);
}

static void test_expiry(void **state)
{
    struct fixture *f = *state;
    uint8_t blob[8] = {1};
    int64_t n, count, bytes;
    struct seen v = {0};
    for (uint8_t i = 1; i <= 5; i++) {
        db_sealed s = copy(i, DEV_B, blob, 8, 100 * i); /* expires 1000 ms later */
        assert_int_equal(db_mail_put(f->d, &s, 100, 1000), DB_MAIL_STORED);
    }
    /* At 1250 the first two expired: not fetched any more. */
    assert_int_equal(db_mail_fetch(f->d, DEV_B, 0, 1250, 10, on_row, &v), 3);
    assert_int_equal(v.first_id_byte[0], 3);
    /* Expiry in batches of at most max. */
    assert_int_equal(db_mail_expire(f->d, 1350, 2, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(db_mail_expire(f->d, 1350, 2, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(db_mail_expire(f->d, 1350, 2, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(db_mail_usage(f->d, "bob", &count, &bytes), 0);
    assert_int_equal(count, 2);
    assert_int_equal(bytes, 16);
}

static void test_recipients(void **state)
{
    struct fixture *f = *state;
    struct rv_recipients r;
    struct rv_profile p = {0};
    assert_int_equal(db_user_add(f->d, "cat", FAKE_HASH, false, 1), 0);
    assert_int_equal(db_user_add(f->d, "dan", FAKE_HASH, false, 1), 0);
    assert_int_equal(db_device_bind(f->d, DEV_A, "ann", 1), 0);
    assert_int_equal(db_device_bind(f->d, DEV_B, "bob", 1), 0);
    assert_int_equal(db_device_bind(f->d, DEV_B2, "bob", 2), 0);
    uint8_t dev_c[32] = {0xc1};
    assert_int_equal(db_device_bind(f->d, dev_c, "cat", 1), 0);
    assert_int_equal(db_user_disable(f->d, "cat", 1), 0);
    p.f[RV_F_DEPARTMENT] = "Ops";
    assert_int_equal(db_profile_set(f->d, "bob", &p, 1), 0);
    /* Everyone but the sender, with a device, enabled: bob only (dan has
     * no device, cat is disabled). */
    assert_int_equal(db_recipients(f->d, "ann", "", 0, &r), 0);
    assert_int_equal(r.total, 1);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.users[0].name, "bob");
    assert_int_equal(r.users[0].ndev, 2);
    assert_memory_equal(r.users[0].dev[0], DEV_B, 32);
    free(r.users);
    assert_int_equal(db_recipients(f->d, "ann", "ops", 0, &r), 0);
    assert_int_equal(r.total, 1);
    free(r.users);
    assert_int_equal(db_recipients(f->d, "ann", "Sales", 0, &r), 0);
    assert_int_equal(r.total, 0);
    assert_int_equal(r.n, 0);
    free(r.users);
    assert_int_equal(db_recipients(f->d, "bob", "", 0, &r), 0);
    assert_int_equal(r.total, 1);
    assert_string_equal(r.users[0].name, "ann");
    free(r.users);
    assert_int_equal(db_recipients(f->d, "bob", "", 1, &r), 0);
    assert_int_equal(r.n, 0);
    free(r.users);
}

static const uint8_t DEV_C[32] = {0xc7};

struct rows {
    size_t n;
    uint8_t from0[16]; /* first byte of each copy's sending device */
    int64_t seq[16];
    uint8_t flags[16];
};

static void on_any(void *ud, const db_sealed *s)
{
    struct rows *r = ud;
    assert_true(r->n < 16);
    r->from0[r->n] = s->from_device[0];
    r->flags[r->n] = s->flags;
    r->seq[r->n++] = s->seq;
}

/* Another sender's copy with the same id does not displace the genuine
 * one: both are stored and fetched; each sender's own duplicate is still
 * stored once; deleting by id removes the one sender's copy only. */
static void test_same_id_two_senders(void **state)
{
    struct fixture *f = *state;
    uint8_t blob[8] = {1}, id[16];
    struct rows r = {0};
    int64_t count, bytes;
    db_sealed genuine = copy(5, DEV_B, blob, 8, 100);
    db_sealed other = copy(5, DEV_B, blob, 6, 100);
    memcpy(other.from_device, DEV_C, 32);
    other.from_user = "bob";
    assert_int_equal(db_mail_put(f->d, &other, 100, 1000), DB_MAIL_STORED);
    assert_int_equal(db_mail_put(f->d, &genuine, 100, 1000), DB_MAIL_STORED);
    assert_int_equal(db_mail_put(f->d, &genuine, 100, 1000), DB_MAIL_DUPLICATE);
    assert_int_equal(db_mail_put(f->d, &other, 100, 1000), DB_MAIL_DUPLICATE);
    /* Over quota, a duplicate is still recognised by its sender. */
    assert_int_equal(db_mail_put(f->d, &genuine, 2, 1000), DB_MAIL_DUPLICATE);
    assert_int_equal(db_mail_usage(f->d, "bob", &count, &bytes), 0);
    assert_int_equal(count, 2);
    assert_int_equal(bytes, 14);
    assert_int_equal(db_mail_fetch(f->d, DEV_B, 0, 100, 10, on_any, &r), 2);
    assert_int_equal(r.from0[0], DEV_C[0]);
    assert_int_equal(r.from0[1], DEV_A[0]);
    memset(id, 5, sizeof id);
    assert_int_equal(db_mail_del_id(f->d, id, DEV_B, DEV_C), 0);
    r.n = 0;
    assert_int_equal(db_mail_fetch(f->d, DEV_B, 0, 100, 10, on_any, &r), 1);
    assert_int_equal(r.from0[0], DEV_A[0]);
}

/* Run sql on the database file (outside db.h). */
static void raw_sql(const char *path, const char *sql)
{
    sqlite3 *s = NULL;
    char *err = NULL;
    assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
    int rc = sqlite3_exec(s, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fail_msg("%s", err ? err : "?");
    sqlite3_free(err);
    sqlite3_close(s);
}

/* A schema 3 database (sealed unique on id and to_device) with stored
 * copies is brought to schema 4 at open: every row kept, in order, the
 * mailbox counts right, and a second sender's copy with a stored id now
 * kept beside the first. */
static void test_migrate_3_to_4(void **state)
{
    struct fixture *f = *state;
    uint8_t blob[8] = {2};
    struct rows r = {0};
    int64_t count, bytes;
    dbt_sqlite_only(); /* PostgreSQL's form of migration 4 is in test_rdv_pg */
    for (uint8_t i = 1; i <= 3; i++) {
        db_sealed s = copy(i, DEV_B, blob, 4u + i, 100);
        assert_int_equal(db_mail_put(f->d, &s, 100, 1000), DB_MAIL_STORED);
    }
    db_close(f->d);
    f->d = NULL;
    /* Back to the shape of schema 3, rows and all. */
    raw_sql(f->path, "BEGIN;"
                     "CREATE TABLE old AS SELECT * FROM sealed;"
                     "DROP TABLE sealed;"
                     "CREATE TABLE sealed ("
                     " seq INTEGER PRIMARY KEY,"
                     " id BLOB NOT NULL CHECK (length(id) = 16),"
                     " to_device BLOB NOT NULL CHECK (length(to_device) = 32),"
                     " to_user TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,"
                     " from_user TEXT NOT NULL,"
                     " from_device BLOB NOT NULL CHECK (length(from_device) = 32),"
                     " flags INTEGER NOT NULL, size INTEGER NOT NULL, blob BLOB NOT NULL,"
                     " created INTEGER NOT NULL, expires INTEGER NOT NULL,"
                     " UNIQUE (id, to_device));"
                     "INSERT INTO sealed SELECT seq, id, to_device, to_user, from_user,"
                     " from_device, flags, size, blob, created, expires FROM old;"
                     "DROP TABLE old;"
                     "CREATE INDEX sealed_device ON sealed (to_device, seq);"
                     "CREATE INDEX sealed_user ON sealed (to_user);"
                     "CREATE INDEX sealed_expires ON sealed (expires);"
                     "CREATE TRIGGER sealed_added AFTER INSERT ON sealed BEGIN"
                     " INSERT OR IGNORE INTO mailbox (user, count, bytes)"
                     " VALUES (new.to_user, 0, 0);"
                     " UPDATE mailbox SET count = count + 1, bytes = bytes + new.size"
                     " WHERE user = new.to_user; END;"
                     "CREATE TRIGGER sealed_deleted AFTER DELETE ON sealed BEGIN"
                     " UPDATE mailbox SET count = count - 1, bytes = bytes - old.size"
                     " WHERE user = old.to_user; END;"
                     "PRAGMA user_version = 3; COMMIT;");
    assert_int_equal(db_open(&f->d, f->path, NULL, 0), 0);
    assert_int_equal(db_mail_fetch(f->d, DEV_B, 0, 100, 10, on_any, &r), 3);
    assert_true(r.seq[0] < r.seq[1] && r.seq[1] < r.seq[2]);
    assert_int_equal(db_mail_usage(f->d, "bob", &count, &bytes), 0);
    assert_int_equal(count, 3);
    assert_int_equal(bytes, 5 + 6 + 7);
    db_sealed other = copy(2, DEV_B, blob, 8, 100);
    memcpy(other.from_device, DEV_C, 32);
    assert_int_equal(db_mail_put(f->d, &other, 100, 1000), DB_MAIL_STORED);
    db_sealed again = copy(2, DEV_B, blob, 6, 100);
    assert_int_equal(db_mail_put(f->d, &again, 100, 1000), DB_MAIL_DUPLICATE);
    assert_int_equal(db_mail_usage(f->d, "bob", &count, &bytes), 0);
    assert_int_equal(count, 4);
    assert_int_equal(db_mail_del_seq(f->d, r.seq[0]), 0); /* the triggers work */
    assert_int_equal(db_mail_usage(f->d, "bob", &count, &bytes), 0);
    assert_int_equal(count, 3);
}

/* A quota of 8 copies and 1000 bytes, of which one sender may hold 2
 * copies and 100 bytes. */
static const db_mail_quota SHARE = {8, 1000, 2, 100};

/* A copy from sender (device dev_from) to bob's DEV_B, id n. */
static db_sealed copy_from(uint8_t n, const char *sender, const uint8_t *dev_from,
                           const uint8_t *blob, size_t len)
{
    db_sealed s = copy(n, DEV_B, blob, len, 100);
    s.from_user = sender;
    memcpy(s.from_device, dev_from, 32);
    return s;
}

/* copy_from of 10 bytes made at created (a sender's copies are made after
 * its account was: a copy made before is an earlier holder's). */
static db_sealed copy_at(uint8_t n, const char *sender, const uint8_t *dev_from,
                         const uint8_t *blob, int64_t created)
{
    db_sealed s = copy_from(n, sender, dev_from, blob, 10);
    s.created_ms = created;
    s.expires_ms = created + 1000;
    return s;
}

/* One sender fills its share, not the mailbox: it gets
 * DB_MAIL_OVER_SHARE (its own duplicate still "stored"), another sender
 * and bob's own devices still store; bytes count as well; a delivered
 * copy frees its sender's share. Fails before the share existed (the
 * third copy was stored). */
static void test_sender_share(void **state)
{
    struct fixture *f = *state;
    uint8_t blob[100] = {3};
    int64_t count, bytes;
    assert_int_equal(db_user_add(f->d, "cat", FAKE_HASH, false, 1), 0);
    static const uint8_t DEV_CAT[32] = {0xca};
    for (uint8_t i = 1; i <= 2; i++) {
        db_sealed s = copy_from(i, "ann", DEV_A, blob, 10);
        assert_int_equal(db_mail_put_q(f->d, &s, &SHARE), DB_MAIL_STORED);
    }
    db_sealed third = copy_from(3, "ann", DEV_A, blob, 10);
    assert_int_equal(db_mail_put_q(f->d, &third, &SHARE), DB_MAIL_OVER_SHARE);
    db_sealed again = copy_from(2, "ann", DEV_A, blob, 10);
    assert_int_equal(db_mail_put_q(f->d, &again, &SHARE), DB_MAIL_DUPLICATE);
    /* Another contact still reaches bob. */
    db_sealed c1 = copy_from(1, "cat", DEV_CAT, blob, 10);
    assert_int_equal(db_mail_put_q(f->d, &c1, &SHARE), DB_MAIL_STORED);
    /* Bytes: cat holds 10, 91 more is over its 100. */
    db_sealed big = copy_from(2, "cat", DEV_CAT, blob, 91);
    assert_int_equal(db_mail_put_q(f->d, &big, &SHARE), DB_MAIL_OVER_SHARE);
    big.len = 90;
    assert_int_equal(db_mail_put_q(f->d, &big, &SHARE), DB_MAIL_STORED);
    /* bob's own devices: the whole mailbox only (8 copies). */
    for (uint8_t i = 1; i <= 4; i++) {
        db_sealed s = copy_from(i, "bob", DEV_B2, blob, 1);
        assert_int_equal(db_mail_put_q(f->d, &s, &SHARE), DB_MAIL_STORED);
    }
    db_sealed self = copy_from(5, "bob", DEV_B2, blob, 1);
    assert_int_equal(db_mail_put_q(f->d, &self, &SHARE), DB_MAIL_OVER_QUOTA);
    assert_int_equal(db_mail_usage(f->d, "bob", &count, &bytes), 0);
    assert_int_equal(count, 8);
    assert_int_equal(bytes, 10 + 10 + 10 + 90 + 4);
    /* The whole mailbox is checked first: full, ann hears EQUOTA's kind. */
    assert_int_equal(db_mail_put_q(f->d, &third, &SHARE), DB_MAIL_OVER_QUOTA);
    /* ann's first copy delivered: her share has room again (and the
     * mailbox too). */
    uint8_t id[16];
    memset(id, 1, sizeof id);
    assert_int_equal(db_mail_del_id(f->d, id, DEV_B, DEV_A), 0);
    assert_int_equal(db_mail_put_q(f->d, &third, &SHARE), DB_MAIL_STORED);
    db_sealed fourth = copy_from(4, "ann", DEV_A, blob, 10);
    assert_int_equal(db_mail_put_q(f->d, &fourth, &SHARE), DB_MAIL_OVER_QUOTA);
    /* Every copy of ann's gone (expired here): her share is whole again
     * (the counter row goes and comes back). */
    int64_t n;
    assert_int_equal(db_mail_expire(f->d, 1000000, 100, &n), 0);
    assert_int_equal(n, 8);
    for (uint8_t i = 10; i <= 11; i++) {
        db_sealed s = copy_from(i, "ann", DEV_A, blob, 50);
        assert_int_equal(db_mail_put_q(f->d, &s, &SHARE), DB_MAIL_STORED);
    }
    db_sealed s12 = copy_from(12, "ann", DEV_A, blob, 1);
    assert_int_equal(db_mail_put_q(f->d, &s12, &SHARE), DB_MAIL_OVER_SHARE);
}

/* bob blocks ann: what ann stored for bob is deleted in the block's
 * transaction (cat's and what bob stored for ann stay), the usage
 * follows, and a copy from ann after is not stored (DB_MAIL_BLOCKED, even
 * when the server's caches did not know of the block yet). Unblocked,
 * ann stores again. */
static void test_block_purges(void **state)
{
    struct fixture *f = *state;
    uint8_t blob[16] = {4};
    int64_t count, bytes;
    struct rows r = {0};
    assert_int_equal(db_user_add(f->d, "cat", FAKE_HASH, false, 1), 0);
    static const uint8_t DEV_CAT[32] = {0xca};
    rel_side approved = {REL_APPROVED, false};
    assert_int_equal(db_rel_write(f->d, "ann", "bob", approved, approved, 5), 0);
    for (uint8_t i = 1; i <= 2; i++) {
        db_sealed s = copy_from(i, "ann", DEV_A, blob, 10);
        assert_int_equal(db_mail_put_q(f->d, &s, &SHARE), DB_MAIL_STORED);
    }
    db_sealed c = copy_from(1, "cat", DEV_CAT, blob, 7);
    assert_int_equal(db_mail_put_q(f->d, &c, &SHARE), DB_MAIL_STORED);
    db_sealed to_ann = copy(1, DEV_A, blob, 5, 100);
    to_ann.to_user = "ann";
    to_ann.from_user = "bob";
    memcpy(to_ann.from_device, DEV_B, 32);
    assert_int_equal(db_mail_put_q(f->d, &to_ann, &SHARE), DB_MAIL_STORED);
    assert_int_equal(db_mail_usage(f->d, "bob", &count, &bytes), 0);
    assert_int_equal(count, 3);
    /* bob's side blocked (as rel_apply makes it for RV_OP_BLOCK). */
    assert_int_equal(db_rel_write(f->d, "bob", "ann", (rel_side){REL_APPROVED, true}, approved, 6),
                     0);
    assert_int_equal(db_mail_usage(f->d, "bob", &count, &bytes), 0);
    assert_int_equal(count, 1);
    assert_int_equal(bytes, 7);
    assert_int_equal(db_mail_fetch(f->d, DEV_B, 0, 100, 10, on_any, &r), 1);
    assert_int_equal(r.from0[0], DEV_CAT[0]);
    assert_int_equal(db_mail_usage(f->d, "ann", &count, &bytes), 0);
    assert_int_equal(count, 1);
    /* Nothing from ann is stored while bob blocks her. */
    db_sealed later = copy_from(9, "ann", DEV_A, blob, 10);
    assert_int_equal(db_mail_put_q(f->d, &later, &SHARE), DB_MAIL_BLOCKED);
    assert_int_equal(db_mail_put(f->d, &later, 100, 1000), DB_MAIL_BLOCKED);
    assert_int_equal(db_mail_usage(f->d, "bob", &count, &bytes), 0);
    assert_int_equal(count, 1);
    /* Her share was freed: unblocked, she stores her 2 again. */
    assert_int_equal(db_rel_write(f->d, "bob", "ann", approved, approved, 7), 0);
    assert_int_equal(db_mail_put_q(f->d, &later, &SHARE), DB_MAIL_STORED);
    db_sealed more = copy_from(10, "ann", DEV_A, blob, 10);
    assert_int_equal(db_mail_put_q(f->d, &more, &SHARE), DB_MAIL_STORED);
}

/* Back to schema 6 (no mailbox_from, the triggers that kept only the
 * mailbox row), with copies from two senders stored: opening migrates,
 * and each sender's share counts what it already stored. */
static void test_migrate_6_to_7(void **state)
{
    struct fixture *f = *state;
    uint8_t blob[16] = {5};
    int64_t count, bytes;
    assert_int_equal(db_user_add(f->d, "cat", FAKE_HASH, false, 1), 0);
    static const uint8_t DEV_CAT[32] = {0xca};
    for (uint8_t i = 1; i <= 2; i++) {
        db_sealed s = copy_from(i, "ann", DEV_A, blob, 10);
        assert_int_equal(db_mail_put_q(f->d, &s, &SHARE), DB_MAIL_STORED);
    }
    db_sealed c1 = copy_from(1, "cat", DEV_CAT, blob, 10);
    assert_int_equal(db_mail_put_q(f->d, &c1, &SHARE), DB_MAIL_STORED);
    db_close(f->d);
    f->d = NULL;
    if (f->t.pg)
        dbt_pg_exec(
            "DROP TABLE mailbox_from;"
            "ALTER TABLE sealed DROP COLUMN from_gone;"
            "DROP FUNCTION sealed_put;"
            "CREATE OR REPLACE FUNCTION sealed_added() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN"
            " INSERT INTO mailbox (\"user\", count, bytes) VALUES (NEW.to_user, 1, NEW.size)"
            " ON CONFLICT (\"user\") DO UPDATE SET count = mailbox.count + 1,"
            " bytes = mailbox.bytes + NEW.size;"
            " RETURN NULL; END $$;"
            "CREATE OR REPLACE FUNCTION sealed_deleted() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN"
            " UPDATE mailbox SET count = count - 1, bytes = bytes - OLD.size"
            " WHERE \"user\" = OLD.to_user;"
            " RETURN NULL; END $$;"
            "UPDATE banter_schema SET version = 6");
    else
        raw_sql(f->path, "BEGIN;"
                         "DROP TABLE mailbox_from;"
                         "DROP TRIGGER sealed_added;"
                         "DROP TRIGGER sealed_deleted;"
                         "ALTER TABLE sealed DROP COLUMN from_gone;"
                         "CREATE TRIGGER sealed_added AFTER INSERT ON sealed BEGIN"
                         " INSERT OR IGNORE INTO mailbox (user, count, bytes)"
                         " VALUES (new.to_user, 0, 0);"
                         " UPDATE mailbox SET count = count + 1, bytes = bytes + new.size"
                         " WHERE user = new.to_user; END;"
                         "CREATE TRIGGER sealed_deleted AFTER DELETE ON sealed BEGIN"
                         " UPDATE mailbox SET count = count - 1, bytes = bytes - old.size"
                         " WHERE user = old.to_user; END;"
                         "PRAGMA user_version = 6; COMMIT;");
    assert_int_equal(db_open(&f->d, f->path, NULL, 0), 0);
    assert_int_equal(db_mail_usage(f->d, "bob", &count, &bytes), 0);
    assert_int_equal(count, 3);
    /* ann holds her 2 already; cat 1 of 2. */
    db_sealed a3 = copy_from(3, "ann", DEV_A, blob, 10);
    assert_int_equal(db_mail_put_q(f->d, &a3, &SHARE), DB_MAIL_OVER_SHARE);
    db_sealed c2 = copy_from(2, "cat", DEV_CAT, blob, 10);
    assert_int_equal(db_mail_put_q(f->d, &c2, &SHARE), DB_MAIL_STORED);
    db_sealed c3 = copy_from(3, "cat", DEV_CAT, blob, 10);
    assert_int_equal(db_mail_put_q(f->d, &c3, &SHARE), DB_MAIL_OVER_SHARE);
    /* The new triggers count down: ann's first copy delivered, room for one. */
    uint8_t id[16];
    memset(id, 1, sizeof id);
    assert_int_equal(db_mail_del_id(f->d, id, DEV_B, DEV_A), 0);
    assert_int_equal(db_mail_put_q(f->d, &a3, &SHARE), DB_MAIL_STORED);
}

/* What an account stored for others before it was deleted stays
 * deliverable (as from its name) and in the recipient's mailbox, but no
 * longer counts against the share of the account given the name again
 * (--reuse-name): that one stores its whole share at once, a delivery
 * of an old copy frees none of it, and a block of the new account takes
 * back only its own copies. Fails on schema 8 (the new account got
 * DB_MAIL_OVER_SHARE at once). */
static void test_share_after_reuse(void **state)
{
    struct fixture *f = *state;
    uint8_t blob[16] = {5};
    int64_t count, bytes, n;
    struct rows r = {0};
    for (uint8_t i = 1; i <= 2; i++) {
        db_sealed s = copy_from(i, "ann", DEV_A, blob, 10);
        assert_int_equal(db_mail_put_q(f->d, &s, &SHARE), DB_MAIL_STORED);
    }
    assert_int_equal(db_user_delete(f->d, "ann", 200), 0);
    assert_int_equal(db_user_add(f->d, "ann", FAKE_HASH, false, 300), 0);
    static const uint8_t DEV_A2[32] = {0xa2};
    for (uint8_t i = 3; i <= 4; i++) {
        db_sealed s = copy_at(i, "ann", DEV_A2, blob, 400);
        assert_int_equal(db_mail_put_q(f->d, &s, &SHARE), DB_MAIL_STORED);
    }
    db_sealed fifth = copy_at(5, "ann", DEV_A2, blob, 400);
    assert_int_equal(db_mail_put_q(f->d, &fifth, &SHARE), DB_MAIL_OVER_SHARE);
    assert_int_equal(db_mail_usage(f->d, "bob", &count, &bytes), 0);
    assert_int_equal(count, 4); /* the recipient's mailbox holds all four */
    assert_int_equal(db_mail_fetch(f->d, DEV_B, 0, 100, 10, on_any, &r), 4);
    /* the old account's first copy delivered: the new one's share as full */
    uint8_t id[16];
    memset(id, 1, sizeof id);
    assert_int_equal(db_mail_del_id(f->d, id, DEV_B, DEV_A), 0);
    assert_int_equal(db_mail_put_q(f->d, &fifth, &SHARE), DB_MAIL_OVER_SHARE);
    /* bob blocks the new ann: her copies go, the old account's stays */
    assert_int_equal(db_mail_purge_from(f->d, "bob", "ann", &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(db_mail_usage(f->d, "bob", &count, &bytes), 0);
    assert_int_equal(count, 1);
    assert_int_equal(db_mail_put_q(f->d, &fifth, &SHARE), DB_MAIL_STORED);
}

/* Back to schema 8 (no sealed.from_gone, the trigger that counted every
 * delivered copy down from its sender's share) with copies of an earlier
 * holder of ann's name (stored before the account ann now is was made)
 * and of cat: opening migrates, ann's share is empty, cat's counted. */
static void test_migrate_8_to_9(void **state)
{
    struct fixture *f = *state;
    uint8_t blob[16] = {5};
    int64_t count, bytes;
    assert_int_equal(db_user_add(f->d, "cat", FAKE_HASH, false, 1), 0);
    static const uint8_t DEV_CAT[32] = {0xca};
    for (uint8_t i = 1; i <= 2; i++) {
        db_sealed s = copy_from(i, "ann", DEV_A, blob, 10);
        assert_int_equal(db_mail_put_q(f->d, &s, &SHARE), DB_MAIL_STORED);
    }
    db_sealed c1 = copy_from(1, "cat", DEV_CAT, blob, 10);
    assert_int_equal(db_mail_put_q(f->d, &c1, &SHARE), DB_MAIL_STORED);
    db_close(f->d);
    f->d = NULL;
    /* the copies were made at 100: an ann made at 150 is a later holder */
    if (f->t.pg)
        dbt_pg_exec(
            "ALTER TABLE sealed DROP COLUMN from_gone;"
            "CREATE OR REPLACE FUNCTION sealed_deleted() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN"
            " UPDATE mailbox SET count = count - 1, bytes = bytes - OLD.size"
            " WHERE \"user\" = OLD.to_user;"
            " DELETE FROM mailbox_from WHERE \"user\" = OLD.to_user AND sender = OLD.from_user"
            " AND count <= 1;"
            " IF NOT FOUND THEN"
            " UPDATE mailbox_from SET count = count - 1, bytes = bytes - OLD.size"
            " WHERE \"user\" = OLD.to_user AND sender = OLD.from_user;"
            " END IF;"
            " RETURN NULL; END $$;"
            "UPDATE users SET created = 150 WHERE name = 'ann';"
            "UPDATE banter_schema SET version = 8");
    else
        raw_sql(f->path, "BEGIN;"
                         "DROP TRIGGER sealed_deleted;"
                         "DROP TRIGGER sealed_added;"
                         "CREATE TRIGGER sealed_added AFTER INSERT ON sealed BEGIN"
                         " INSERT OR IGNORE INTO mailbox (user, count, bytes)"
                         " VALUES (new.to_user, 0, 0);"
                         " UPDATE mailbox SET count = count + 1, bytes = bytes + new.size"
                         " WHERE user = new.to_user;"
                         " INSERT OR IGNORE INTO mailbox_from (user, sender, count, bytes)"
                         " VALUES (new.to_user, new.from_user, 0, 0);"
                         " UPDATE mailbox_from SET count = count + 1, bytes = bytes + new.size"
                         " WHERE user = new.to_user AND sender = new.from_user; END;"
                         "ALTER TABLE sealed DROP COLUMN from_gone;"
                         "CREATE TRIGGER sealed_deleted AFTER DELETE ON sealed BEGIN"
                         " UPDATE mailbox SET count = count - 1, bytes = bytes - old.size"
                         " WHERE user = old.to_user;"
                         " DELETE FROM mailbox_from WHERE user = old.to_user"
                         " AND sender = old.from_user AND count <= 1;"
                         " UPDATE mailbox_from SET count = count - 1, bytes = bytes - old.size"
                         " WHERE user = old.to_user AND sender = old.from_user; END;"
                         "UPDATE users SET created = 150 WHERE name = 'ann';"
                         "PRAGMA user_version = 8; COMMIT;");
    assert_int_equal(db_open(&f->d, f->path, NULL, 0), 0);
    assert_int_equal(db_mail_usage(f->d, "bob", &count, &bytes), 0);
    assert_int_equal(count, 3);
    /* ann: the earlier holder's 2 are not hers, she stores 2; cat 1 of 2 */
    for (uint8_t i = 3; i <= 4; i++) {
        db_sealed s = copy_at(i, "ann", DEV_A, blob, 200);
        assert_int_equal(db_mail_put_q(f->d, &s, &SHARE), DB_MAIL_STORED);
    }
    db_sealed a5 = copy_at(5, "ann", DEV_A, blob, 200);
    assert_int_equal(db_mail_put_q(f->d, &a5, &SHARE), DB_MAIL_OVER_SHARE);
    db_sealed c2 = copy_from(2, "cat", DEV_CAT, blob, 10);
    assert_int_equal(db_mail_put_q(f->d, &c2, &SHARE), DB_MAIL_STORED);
    db_sealed c3 = copy_from(3, "cat", DEV_CAT, blob, 10);
    assert_int_equal(db_mail_put_q(f->d, &c3, &SHARE), DB_MAIL_OVER_SHARE);
    /* the new trigger: an earlier holder's copy delivered frees nothing */
    uint8_t id[16];
    memset(id, 1, sizeof id);
    assert_int_equal(db_mail_del_id(f->d, id, DEV_B, DEV_A), 0);
    assert_int_equal(db_mail_put_q(f->d, &a5, &SHARE), DB_MAIL_OVER_SHARE);
    assert_int_equal(db_mail_usage(f->d, "bob", &count, &bytes), 0);
    assert_int_equal(count, 5);
}

/* The server vouches for a fetched copy's device only while it is bound
 * to the sending account: a copy from ann's bound device comes without
 * DB_MAIL_SENDER_GONE, the same copy once the device is unbound (or
 * bound to another account) with it, and every copy of a deleted
 * account with it, also after the name is given again. Fails before
 * schema 10 (the flags were the stored ones). */
static void test_fetch_sender_gone(void **state)
{
    struct fixture *f = *state;
    uint8_t blob[16] = {5};
    struct rows r = {0};
    static const uint8_t DEV_A2[32] = {0xa2};
    assert_int_equal(db_device_bind(f->d, DEV_A, "ann", 1), 0);
    db_sealed s = copy_from(1, "ann", DEV_A, blob, 10);
    s.flags = 1; /* a broadcast stays one */
    assert_int_equal(db_mail_put_q(f->d, &s, &SHARE), DB_MAIL_STORED);
    assert_int_equal(db_mail_fetch(f->d, DEV_B, 0, 100, 10, on_any, &r), 1);
    assert_int_equal(r.flags[0], 1);
    assert_int_equal(db_device_unbind(f->d, DEV_A), 0);
    r = (struct rows){0};
    assert_int_equal(db_mail_fetch(f->d, DEV_B, 0, 100, 10, on_any, &r), 1);
    assert_int_equal(r.flags[0], 1 | DB_MAIL_SENDER_GONE);
    assert_int_equal(db_device_bind(f->d, DEV_A, "bob", 2), 0); /* another account's now */
    r = (struct rows){0};
    assert_int_equal(db_mail_fetch(f->d, DEV_B, 0, 100, 10, on_any, &r), 1);
    assert_int_equal(r.flags[0], 1 | DB_MAIL_SENDER_GONE);
    assert_int_equal(db_device_unbind(f->d, DEV_A), 0);
    assert_int_equal(db_device_bind(f->d, DEV_A, "ann", 3), 0);
    /* ann deleted (her device goes with her), the name given again, and
     * the old device bound to the new ann: the old copy is still gone */
    assert_int_equal(db_user_delete(f->d, "ann", 200), 0);
    assert_int_equal(db_user_add(f->d, "ann", FAKE_HASH, false, 300), 0);
    assert_int_equal(db_device_bind(f->d, DEV_A, "ann", 300), 0);
    assert_int_equal(db_device_bind(f->d, DEV_A2, "ann", 300), 0);
    db_sealed n = copy_from(2, "ann", DEV_A2, blob, 10);
    n.created_ms = 400;
    n.expires_ms = 1400;
    assert_int_equal(db_mail_put_q(f->d, &n, &SHARE), DB_MAIL_STORED);
    r = (struct rows){0};
    assert_int_equal(db_mail_fetch(f->d, DEV_B, 0, 100, 10, on_any, &r), 2);
    assert_int_equal(r.flags[0], 1 | DB_MAIL_SENDER_GONE);
    assert_int_equal(r.flags[1], 0);
}

/* A copy accepted before its sender was deleted but stored after (a
 * routed or forwarded copy reaches the store later) is the old
 * account's: it is stored and delivered (flagged), but counts in no
 * share, the new holder of the name stores its whole share, and a block
 * of the new holder does not take it back. Fails on schema 9 (the late
 * copy counted as the new ann's: her second copy was over the share, and
 * the block took the late copy too). */
static void test_late_copy_after_reuse(void **state)
{
    struct fixture *f = *state;
    uint8_t blob[16] = {5};
    int64_t count, bytes, n;
    struct rows r = {0};
    static const uint8_t DEV_A2[32] = {0xa2};
    db_sealed early = copy_from(1, "ann", DEV_A, blob, 10);
    assert_int_equal(db_mail_put_q(f->d, &early, &SHARE), DB_MAIL_STORED);
    assert_int_equal(db_user_delete(f->d, "ann", 200), 0);
    assert_int_equal(db_user_add(f->d, "ann", FAKE_HASH, false, 300), 0);
    assert_int_equal(db_device_bind(f->d, DEV_A2, "ann", 300), 0);
    /* accepted at 150, before the delete; stored now */
    db_sealed late = copy_from(2, "ann", DEV_A, blob, 10);
    late.created_ms = 150;
    assert_int_equal(db_mail_put_q(f->d, &late, &SHARE), DB_MAIL_STORED);
    for (uint8_t i = 3; i <= 4; i++) {
        db_sealed s = copy_from(i, "ann", DEV_A2, blob, 10);
        s.created_ms = 400;
        s.expires_ms = 1400;
        assert_int_equal(db_mail_put_q(f->d, &s, &SHARE), DB_MAIL_STORED);
    }
    db_sealed fifth = copy_from(5, "ann", DEV_A2, blob, 10);
    fifth.created_ms = 400;
    fifth.expires_ms = 1400;
    assert_int_equal(db_mail_put_q(f->d, &fifth, &SHARE), DB_MAIL_OVER_SHARE);
    assert_int_equal(db_mail_usage(f->d, "bob", &count, &bytes), 0);
    assert_int_equal(count, 4);
    assert_int_equal(db_mail_fetch(f->d, DEV_B, 0, 100, 10, on_any, &r), 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(r.flags[i], i < 2 ? DB_MAIL_SENDER_GONE : 0);
    /* bob blocks the new ann: her 2 go, the old account's 2 stay */
    assert_int_equal(db_mail_purge_from(f->d, "bob", "ann", &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(db_mail_usage(f->d, "bob", &count, &bytes), 0);
    assert_int_equal(count, 2);
}

/* Back to schema 9 (the insert's trigger counted every copy in its
 * sender's share) with copies a schema-9 server stored late (made before
 * the account now holding ann's name was, from_gone 0, in her share):
 * opening migrates, they leave the share (ann stores 2), the trigger
 * leaves a late copy out. */
static void test_migrate_9_to_10(void **state)
{
    struct fixture *f = *state;
    uint8_t blob[16] = {5};
    int64_t count, bytes;
    for (uint8_t i = 1; i <= 2; i++) {
        db_sealed s = copy_from(i, "ann", DEV_A, blob, 10);
        assert_int_equal(db_mail_put_q(f->d, &s, &SHARE), DB_MAIL_STORED);
    }
    db_close(f->d);
    f->d = NULL;
    if (f->t.pg)
        dbt_pg_exec(
            "CREATE OR REPLACE FUNCTION sealed_added() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " UPDATE mailbox SET count = count + 1, bytes = bytes + NEW.size"
            " WHERE \"user\" = NEW.to_user;"
            " IF NOT FOUND THEN"
            " INSERT INTO mailbox (\"user\", count, bytes) VALUES (NEW.to_user, 1, NEW.size)"
            " ON CONFLICT (\"user\") DO UPDATE SET count = mailbox.count + 1,"
            " bytes = mailbox.bytes + NEW.size;"
            " END IF;"
            " UPDATE mailbox_from SET count = count + 1, bytes = bytes + NEW.size"
            " WHERE \"user\" = NEW.to_user AND sender = NEW.from_user;"
            " IF NOT FOUND THEN"
            " INSERT INTO mailbox_from (\"user\", sender, count, bytes)"
            " VALUES (NEW.to_user, NEW.from_user, 1, NEW.size)"
            " ON CONFLICT (\"user\", sender) DO UPDATE SET count = mailbox_from.count + 1,"
            " bytes = mailbox_from.bytes + NEW.size;"
            " END IF;"
            " RETURN NULL; END $$;"
            "UPDATE users SET created = 150 WHERE name = 'ann';"
            "UPDATE banter_schema SET version = 9");
    else
        raw_sql(f->path, "BEGIN;"
                         "DROP TRIGGER sealed_added;"
                         "CREATE TRIGGER sealed_added AFTER INSERT ON sealed BEGIN"
                         " INSERT OR IGNORE INTO mailbox (user, count, bytes)"
                         " VALUES (new.to_user, 0, 0);"
                         " UPDATE mailbox SET count = count + 1, bytes = bytes + new.size"
                         " WHERE user = new.to_user;"
                         " INSERT OR IGNORE INTO mailbox_from (user, sender, count, bytes)"
                         " VALUES (new.to_user, new.from_user, 0, 0);"
                         " UPDATE mailbox_from SET count = count + 1, bytes = bytes + new.size"
                         " WHERE user = new.to_user AND sender = new.from_user; END;"
                         "UPDATE users SET created = 150 WHERE name = 'ann';"
                         "PRAGMA user_version = 9; COMMIT;");
    assert_int_equal(db_open(&f->d, f->path, NULL, 0), 0);
    /* a late copy after the upgrade: stored, in no share */
    db_sealed late = copy_from(3, "ann", DEV_A, blob, 10);
    assert_int_equal(db_mail_put_q(f->d, &late, &SHARE), DB_MAIL_STORED);
    for (uint8_t i = 4; i <= 5; i++) {
        db_sealed s = copy_from(i, "ann", DEV_A, blob, 10);
        s.created_ms = 200;
        s.expires_ms = 1200;
        assert_int_equal(db_mail_put_q(f->d, &s, &SHARE), DB_MAIL_STORED);
    }
    db_sealed a6 = copy_from(6, "ann", DEV_A, blob, 10);
    a6.created_ms = 200;
    a6.expires_ms = 1200;
    assert_int_equal(db_mail_put_q(f->d, &a6, &SHARE), DB_MAIL_OVER_SHARE);
    assert_int_equal(db_mail_usage(f->d, "bob", &count, &bytes), 0);
    assert_int_equal(count, 5);
}

/* A batch in one transaction (mailbox.c's commit_batch): a copy that
 * fails (no such account) undoes only itself, the others are committed
 * together; a rolled-back batch leaves nothing; no nesting, no COMMIT
 * without BEGIN. The same on both backends. */
static void test_batch(void **state)
{
    struct fixture *f = *state;
    uint8_t blob[4] = {7};
    struct rows r = {0};
    int64_t count, bytes;
    assert_int_equal(db_begin(f->d), 0);
    assert_int_equal(db_begin(f->d), BANTER_EDB);
    db_sealed a = copy(1, DEV_B, blob, 4, 100);
    assert_int_equal(db_mail_put(f->d, &a, 100, 1000), DB_MAIL_STORED);
    db_sealed ghost = copy(2, DEV_B, blob, 4, 100);
    ghost.to_user = "ghost";
    assert_int_equal(db_mail_put(f->d, &ghost, 100, 1000), BANTER_EDB);
    db_sealed b = copy(3, DEV_B, blob, 4, 100);
    assert_int_equal(db_mail_put(f->d, &b, 100, 1000), DB_MAIL_STORED);
    /* The quota sees the batch's earlier copies. */
    db_sealed c = copy(4, DEV_B, blob, 4, 100);
    assert_int_equal(db_mail_put(f->d, &c, 2, 1000), DB_MAIL_OVER_QUOTA);
    assert_int_equal(db_mail_put(f->d, &a, 100, 1000), DB_MAIL_DUPLICATE);
    assert_int_equal(db_commit(f->d), 0);
    assert_int_equal(db_commit(f->d), BANTER_EDB);
    assert_int_equal(db_mail_fetch(f->d, DEV_B, 0, 100, 10, on_any, &r), 2);
    assert_int_equal(db_mail_usage(f->d, "bob", &count, &bytes), 0);
    assert_int_equal(count, 2);
    assert_int_equal(bytes, 8);
    /* Rolled back: nothing of it stays. */
    assert_int_equal(db_begin(f->d), 0);
    assert_int_equal(db_mail_put(f->d, &c, 100, 1000), DB_MAIL_STORED);
    assert_int_equal(db_mail_del_seq(f->d, r.seq[0]), 0);
    db_rollback(f->d);
    db_rollback(f->d); /* a no-op without a transaction */
    assert_int_equal(db_mail_usage(f->d, "bob", &count, &bytes), 0);
    assert_int_equal(count, 2);
    r.n = 0;
    assert_int_equal(db_mail_fetch(f->d, DEV_B, 0, 100, 10, on_any, &r), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_same_id_two_senders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_3_to_4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_fetch_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recipients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sender_share, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_purges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_6_to_7, setup, teardown),
        cmocka_unit_test_setup_teardown(test_share_after_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_8_to_9, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_sender_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_copy_after_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_9_to_10, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
