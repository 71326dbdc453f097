/* SPDX-License-Identifier: MIT */
/* db_admin.c - admin keys, the audit log, revoked devices, backup (see
 * db_admin.h). */
#include "db_admin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "bcrypto.h"
#include "db_impl.h"
#include "db_pgs.h"
#include "sqlh.h"

/* What the server key signs for each audit entry: this context, then the
 * entry's hash. */
#define AUDIT_SIG_CONTEXT "banter-audit-v1"

/* PostgreSQL: how often an append is tried while other instances append
 * the same entry number first. Each lost try is another instance's
 * append, so this only bounds a loop that always makes progress. */
#define AUDIT_TRIES 1000

int db_fp_digits(const char *typed, char out[static DB_FP_DIGITS + 1])
{
    size_t n = 0;
    for (const char *p = typed; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            if (n == DB_FP_DIGITS)
                return BANTER_EINVAL;
            out[n++] = *p;
        } else if (*p != ' ' && *p != '-') {
            return BANTER_EINVAL;
        }
    }
    out[n] = '\0';
    return n == DB_FP_DIGITS ? 0 : BANTER_EINVAL;
}

/* Prepare sql (finalize *s after). */
static int prep(db *d, const char *sql, sqlite3_stmt **s)
{
    int rc = sqlite3_prepare_v2(d->sql, sql, -1, s, NULL);
    return rc == SQLITE_OK ? 0 : db_fail(d, rc);
}

/* Step a bound statement that returns no row: 0 or the failure. */
static int exec_done(db *d, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    return rc == SQLITE_DONE ? 0 : db_fail(d, rc);
}

static int bind_text(db *d, sqlite3_stmt *s, int col, const char *t)
{
    int rc = sqlite3_bind_text(s, col, t, -1, SQLITE_STATIC);
    return rc == SQLITE_OK ? 0 : db_fail(d, rc);
}

/* ---- admin keys ---- */

int db_admin_role(db *d, const char *fp, char *role, size_t cap)
{
    if (d->pg)
        return pgs_admin_role(d, fp, role, cap);
    sqlite3_stmt *s = NULL;
    int ret = prep(d, "SELECT role FROM admin_keys WHERE fp = ?1", &s);
    if (ret == 0)
        ret = bind_text(d, s, 1, fp);
    if (ret == 0) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            db_column_copy(s, 0, role, cap);
        else
            ret = rc == SQLITE_DONE ? BANTER_ENOENT : db_fail(d, rc);
    }
    sqlite3_finalize(s);
    return ret;
}

/* In the statements below: whether a key other than ?1 has the role
 * "admin" (a change of ?1 that would leave none is made only if so). */
#define OTHER_ADMIN "(SELECT count(*) FROM admin_keys WHERE role = 'admin' AND fp <> ?1) >= 1"

int db_admin_add(db *d, const char *fp, const char *role, const char *by, int64_t now_ms,
                 bool keep_admin)
{
    char digits[DB_FP_DIGITS + 1], had[16];
    if (db_fp_digits(fp, digits) != 0 ||
        (strcmp(role, DB_ROLE_ADMIN) != 0 && strcmp(role, DB_ROLE_AUDITOR) != 0)) {
        db_seterr(d, "bad fingerprint or role");
        return BANTER_EINVAL;
    }
    if (d->pg)
        return pgs_admin_add(d, digits, role, by, now_ms, keep_admin);
    int old = db_admin_role(d, digits, had, sizeof had);
    if (old && old != BANTER_ENOENT)
        return old;
    /* One statement: SQLite runs it under its write lock, so the count
     * and the change cannot be split by another writer. */
    sqlite3_stmt *s = NULL;
    int ret = prep(d,
                   "INSERT INTO admin_keys (fp, role, added, added_by) VALUES (?1, ?2, ?3, ?4)"
                   " ON CONFLICT (fp) DO UPDATE SET role = ?2 WHERE ?5 = 0 OR ?2 = 'admin'"
                   " OR admin_keys.role <> 'admin' OR " OTHER_ADMIN,
                   &s);
    if (ret == 0)
        ret = bind_text(d, s, 1, digits);
    if (ret == 0)
        ret = bind_text(d, s, 2, role);
    if (ret == 0)
        ret = sqlite3_bind_int64(s, 3, now_ms) == SQLITE_OK ? 0 : db_fail(d, SQLITE_ERROR);
    if (ret == 0)
        ret = bind_text(d, s, 4, by);
    if (ret == 0)
        ret = sqlite3_bind_int(s, 5, keep_admin) == SQLITE_OK ? 0 : db_fail(d, SQLITE_ERROR);
    if (ret == 0)
        ret = exec_done(d, s);
    sqlite3_finalize(s);
    if (ret == 0 && sqlite3_changes(d->sql) == 0) {
        db_seterr(d, "the last key with the role admin");
        ret = BANTER_ESTATE;
    }
    return ret ? ret : old == 0 ? 1 : 0;
}

int db_admin_remove(db *d, const char *fp, bool keep_admin)
{
    char digits[DB_FP_DIGITS + 1], role[16];
    if (db_fp_digits(fp, digits) != 0) {
        db_seterr(d, "bad fingerprint");
        return BANTER_EINVAL;
    }
    if (d->pg)
        return pgs_admin_remove(d, digits, keep_admin);
    sqlite3_stmt *s = NULL;
    int ret = prep(
        d,
        "DELETE FROM admin_keys WHERE fp = ?1 AND (?2 = 0 OR role <> 'admin' OR " OTHER_ADMIN ")",
        &s);
    if (ret == 0)
        ret = bind_text(d, s, 1, digits);
    if (ret == 0)
        ret = sqlite3_bind_int(s, 2, keep_admin) == SQLITE_OK ? 0 : db_fail(d, SQLITE_ERROR);
    if (ret == 0)
        ret = exec_done(d, s);
    sqlite3_finalize(s);
    if (ret || sqlite3_changes(d->sql) == 1)
        return ret;
    /* Nothing deleted: not there, or the last admin kept. */
    ret = db_admin_role(d, digits, role, sizeof role);
    if (ret == 0) {
        db_seterr(d, "the last key with the role admin");
        return BANTER_ESTATE;
    }
    return ret == BANTER_ENOENT ? 1 : ret;
}

int db_admin_count(db *d, int64_t *n)
{
    if (d->pg)
        return pgs_admin_count(d, n);
    sqlite3_stmt *s = NULL;
    int ret = prep(d, "SELECT count(*) FROM admin_keys WHERE role = 'admin'", &s);
    if (ret == 0)
        ret = db_step_int(d, s, n);
    sqlite3_finalize(s);
    return ret;
}

int db_admin_each(db *d, int (*fn)(void *ud, const db_admin_key *k), void *ud)
{
    if (d->pg)
        return pgs_admin_each(d, fn, ud);
    sqlite3_stmt *s = NULL;
    int rc = SQLITE_DONE;
    int ret = prep(d, "SELECT fp, role, added, added_by FROM admin_keys ORDER BY fp", &s);
    while (ret == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        db_admin_key k;
        db_column_copy(s, 0, k.fp, sizeof k.fp);
        db_column_copy(s, 1, k.role, sizeof k.role);
        k.added_ms = sqlite3_column_int64(s, 2);
        db_column_copy(s, 3, k.added_by, sizeof k.added_by);
        ret = fn(ud, &k);
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_fail(d, rc);
    sqlite3_finalize(s);
    return ret;
}

/* ---- the audit log ---- */

static void hash_text(bcrypto_hash *h, const char *t)
{
    size_t n = strlen(t);
    uint8_t len[2] = {(uint8_t)(n >> 8), (uint8_t)n};
    bcrypto_hash_update(h, len, 2);
    bcrypto_hash_update(h, (const uint8_t *)t, n);
}

static void hash_int(bcrypto_hash *h, int64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
    bcrypto_hash_update(h, b, 8);
}

void db_audit_hash(const uint8_t prev[static 32], const db_audit *a, uint8_t out[static 32])
{
    bcrypto_hash h;
    bcrypto_hash_init(&h, 32);
    bcrypto_hash_update(&h, prev, 32);
    hash_int(&h, a->seq);
    hash_int(&h, a->ts);
    hash_text(&h, a->actor);
    hash_text(&h, a->cmd);
    hash_text(&h, a->target);
    hash_text(&h, a->result);
    bcrypto_hash_final(&h, out, 32);
}

static void sig_message(const uint8_t hash[static 32], uint8_t msg[static 64])
{
    memset(msg, 0, 64);
    memcpy(msg, AUDIT_SIG_CONTEXT, sizeof AUDIT_SIG_CONTEXT - 1);
    memcpy(msg + 32, hash, 32);
}

/* The last entry's seq and hash (0 and zeros when the log is empty). */
static int audit_last(db *d, int64_t *seq, uint8_t hash[static 32])
{
    sqlite3_stmt *s = NULL;
    *seq = 0;
    memset(hash, 0, 32);
    int ret = prep(d, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &s);
    if (ret == 0) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 1) == 32) {
            *seq = sqlite3_column_int64(s, 0);
            memcpy(hash, sqlite3_column_blob(s, 1), 32);
        } else if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
            ret = db_fail(d, rc);
        }
    }
    sqlite3_finalize(s);
    return ret;
}

static void cut_copy(char *dst, const char *src)
{
    snprintf(dst, DB_AUDIT_TEXT, "%s", src ? src : "");
    /* never end inside a UTF-8 sequence */
    size_t n = strlen(dst);
    if (n == DB_AUDIT_TEXT - 1)
        while (n > 0 && ((unsigned char)dst[n - 1] & 0xc0) == 0x80)
            dst[--n] = '\0';
    if (n > 0 && ((unsigned char)dst[n - 1] & 0xc0) == 0xc0)
        dst[n - 1] = '\0';
}

static int audit_insert(db *d, const db_audit *a, const uint8_t hash[32], const uint8_t sig[64])
{
    sqlite3_stmt *s = NULL;
    int ret = prep(d,
                   "INSERT INTO audit (seq, ts, actor, cmd, target, result, hash, sig)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                   &s);
    if (ret)
        return ret;
    int rc = sqlite3_bind_int64(s, 1, a->seq);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, a->ts);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 3, a->actor, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 4, a->cmd, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 5, a->target, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 6, a->result, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(s, 7, hash, 32, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(s, 8, sig, 64, SQLITE_STATIC);
    ret = rc == SQLITE_OK ? exec_done(d, s) : db_fail(d, rc);
    sqlite3_finalize(s);
    return ret;
}

/* Number a (after the last entry, seq and prev), hash and sign it. */
static void audit_seal(const identity *id, db_audit *a, int64_t last, const uint8_t prev[32],
                       uint8_t hash[32], uint8_t sig[64])
{
    uint8_t msg[64];
    a->seq = last + 1;
    db_audit_hash(prev, a, hash);
    sig_message(hash, msg);
    identity_sign(id, msg, sizeof msg, sig);
}

/* PostgreSQL: several instances may append at once. Each reads the last
 * entry and inserts the next seq; the one that finds that seq taken (1)
 * reads again. Entries are never changed, so an insert that succeeds
 * follows the entry it was chained to. */
static int audit_append_pg(db *d, const identity *id, db_audit *a)
{
    uint8_t prev[32], hash[32], sig[64];
    int64_t last = 0;
    int ret = 1;
    for (int i = 0; ret == 1 && i < AUDIT_TRIES; i++) {
        ret = pgs_audit_last(d, &last, prev);
        if (ret == 0) {
            audit_seal(id, a, last, prev, hash, sig);
            ret = pgs_audit_insert(d, a, hash, sig);
        }
    }
    if (ret == 1) {
        db_seterr(d, "the audit log is busy: other instances kept appending");
        ret = BANTER_EDB;
    }
    return ret;
}

int db_audit_append(db *d, const identity *id, int64_t now_ms, const char *actor, const char *cmd,
                    const char *target, const char *result, int64_t *seq)
{
    db_audit a = {.ts = now_ms};
    uint8_t prev[32], hash[32], sig[64];
    int64_t last = 0;
    cut_copy(a.actor, actor);
    cut_copy(a.cmd, cmd);
    cut_copy(a.target, target);
    cut_copy(a.result, result);
    if (d->pg) {
        int r = audit_append_pg(d, id, &a);
        if (r == 0 && seq)
            *seq = a.seq;
        return r;
    }
    /* A savepoint works inside and outside a transaction; the read of the
     * last entry and the insert are one step for every writer. */
    db_sp sp;
    int ret = db_sp_begin(d, &sp, "audit");
    if (ret)
        return ret;
    ret = audit_last(d, &last, prev);
    if (ret == 0) {
        audit_seal(id, &a, last, prev, hash, sig);
        ret = audit_insert(d, &a, hash, sig);
    }
    ret = db_sp_end(d, &sp, ret);
    if (ret == 0 && seq)
        *seq = a.seq;
    return ret;
}

static void read_audit(sqlite3_stmt *s, db_audit *a)
{
    a->seq = sqlite3_column_int64(s, 0);
    a->ts = sqlite3_column_int64(s, 1);
    db_column_copy(s, 2, a->actor, sizeof a->actor);
    db_column_copy(s, 3, a->cmd, sizeof a->cmd);
    db_column_copy(s, 4, a->target, sizeof a->target);
    db_column_copy(s, 5, a->result, sizeof a->result);
}

int db_audit_tail(db *d, int64_t n, int (*fn)(void *ud, const db_audit *a), void *ud)
{
    if (d->pg)
        return pgs_audit_tail(d, n, fn, ud);
    sqlite3_stmt *s = NULL;
    int rc = SQLITE_DONE;
    int ret = prep(d,
                   "SELECT * FROM (SELECT seq, ts, actor, cmd, target, result FROM audit"
                   " ORDER BY seq DESC LIMIT ?1) ORDER BY seq",
                   &s);
    if (ret == 0 && sqlite3_bind_int64(s, 1, n) != SQLITE_OK)
        ret = db_fail(d, SQLITE_ERROR);
    while (ret == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        db_audit a;
        read_audit(s, &a);
        ret = fn(ud, &a);
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_fail(d, rc);
    sqlite3_finalize(s);
    return ret;
}

/* One entry against the chain, with its stored hash and signature
 * (sizes_ok false when either has the wrong length): NULL when it holds,
 * else why not. */
static const char *audit_check(const db_audit *a, const uint8_t *stored, const uint8_t *sig,
                               bool sizes_ok, int64_t want, const uint8_t prev[32],
                               const uint8_t pub[32], uint8_t hash[32])
{
    uint8_t msg[64];
    if (a->seq != want)
        return a->seq > want ? "an entry before it is missing" : "the entries are out of order";
    if (!sizes_ok)
        return "its hash or signature is damaged";
    db_audit_hash(prev, a, hash);
    if (!bcrypto_equal(hash, stored, 32))
        return "it was changed, or an entry before it was removed or changed";
    sig_message(hash, msg);
    if (bcrypto_verify(sig, msg, sizeof msg, pub) != 0)
        return "its signature is not the server key's";
    return NULL;
}

/* The walk of db_audit_verify, entry by entry, whichever backend. */
struct audit_walk {
    const uint8_t *pub;
    uint8_t prev[32];
    int64_t *n, *bad;
    char *why;
    size_t cap;
};

static int audit_step(void *ud, const db_audit *a, const uint8_t hash[32], const uint8_t sig[64],
                      bool sizes_ok)
{
    struct audit_walk *w = ud;
    uint8_t mine[32];
    const char *no = audit_check(a, hash, sig, sizes_ok, *w->n + 1, w->prev, w->pub, mine);
    if (no) {
        *w->bad = a->seq;
        snprintf(w->why, w->cap, "entry %lld: %s", (long long)a->seq, no);
        return BANTER_EFORMAT;
    }
    memcpy(w->prev, mine, 32);
    (*w->n)++;
    return 0;
}

int db_audit_verify(db *d, const uint8_t pub[static 32], int64_t *n, int64_t *bad, char *why,
                    size_t cap)
{
    sqlite3_stmt *s = NULL;
    struct audit_walk w = {.pub = pub, .n = n, .bad = bad, .why = why, .cap = cap};
    int rc = SQLITE_DONE;
    *n = 0;
    *bad = 0;
    if (cap)
        why[0] = '\0';
    if (d->pg)
        return pgs_audit_each(d, audit_step, &w);
    int ret = prep(d,
                   "SELECT seq, ts, actor, cmd, target, result, hash, sig FROM audit"
                   " ORDER BY rowid",
                   &s);
    while (ret == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        db_audit a;
        read_audit(s, &a);
        bool ok = sqlite3_column_bytes(s, 6) == 32 && sqlite3_column_bytes(s, 7) == 64;
        ret = audit_step(&w, &a, ok ? sqlite3_column_blob(s, 6) : w.prev,
                         ok ? sqlite3_column_blob(s, 7) : NULL, ok);
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_fail(d, rc);
    sqlite3_finalize(s);
    return ret;
}

/* ---- devices ---- */

static int count_devices(db *d, const char *user, int64_t *total)
{
    sqlite3_stmt *s = NULL;
    int ret = prep(d, "SELECT count(*) FROM devices WHERE ?1 IS NULL OR user = ?1", &s);
    if (ret == 0 && user)
        ret = bind_text(d, s, 1, user);
    if (ret == 0)
        ret = db_step_int(d, s, total);
    sqlite3_finalize(s);
    return ret;
}

int db_device_each(db *d, const char *user, int64_t offset, int64_t limit, int64_t *total,
                   int (*fn)(void *ud, const db_device *v), void *ud)
{
    if (d->pg)
        return pgs_device_each(d, user, offset, limit, total, fn, ud);
    sqlite3_stmt *s = NULL;
    int rc = SQLITE_DONE;
    int ret = count_devices(d, user, total);
    if (ret == 0)
        ret = prep(d,
                   "SELECT key, user, created, last_seen FROM devices WHERE ?1 IS NULL OR"
                   " user = ?1 ORDER BY user, created, key LIMIT ?2 OFFSET ?3",
                   &s);
    if (ret == 0 && user)
        ret = bind_text(d, s, 1, user);
    if (ret == 0 && (sqlite3_bind_int64(s, 2, limit) != SQLITE_OK ||
                     sqlite3_bind_int64(s, 3, offset) != SQLITE_OK))
        ret = db_fail(d, SQLITE_ERROR);
    while (ret == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        db_device v;
        if (sqlite3_column_bytes(s, 0) != 32)
            continue;
        memcpy(v.key, sqlite3_column_blob(s, 0), 32);
        db_column_copy(s, 1, v.user, sizeof v.user);
        v.created_ms = sqlite3_column_int64(s, 2);
        v.last_seen_ms = sqlite3_column_int64(s, 3);
        ret = fn(ud, &v);
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_fail(d, rc);
    sqlite3_finalize(s);
    return ret;
}

int db_device_marked_each(db *d, int (*fn)(void *ud, const db_device *v), void *ud)
{
    if (d->pg)
        return pgs_device_marked_each(d, fn, ud);
    sqlite3_stmt *s = NULL;
    int rc = SQLITE_DONE;
    int ret = prep(d, DB_MARKED_UNBOUND, &s);
    while (ret == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        db_device v = {.last_seen_ms = 0};
        if (sqlite3_column_bytes(s, 0) != 32)
            continue;
        memcpy(v.key, sqlite3_column_blob(s, 0), 32);
        db_column_copy(s, 1, v.user, sizeof v.user);
        v.created_ms = sqlite3_column_int64(s, 2);
        ret = fn(ud, &v);
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_fail(d, rc);
    sqlite3_finalize(s);
    return ret;
}

/* db_device_revoke of a key no account has bound: 1 when a mark named
 * it (now this revocation), BANTER_ENOENT when none. */
static int revoke_marked(db *d, const uint8_t key[static 32], const char *by, int64_t now_ms,
                         char out[static DB_MAX_USER + 1])
{
    sqlite3_stmt *s = NULL;
    int ret = prep(d, DB_REVOKE_MARKED("?"), &s);
    if (ret == 0) {
        int rc = sqlite3_bind_blob(s, 1, key, 32, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 2, now_ms);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(s, 3, by, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            db_column_copy(s, 0, out, DB_MAX_USER + 1);
            ret = 1;
            rc = sqlite3_step(s);
        } else {
            ret = BANTER_ENOENT;
        }
        if (rc != SQLITE_DONE)
            ret = db_fail(d, rc);
    }
    sqlite3_finalize(s);
    return ret;
}

int db_device_revoke(db *d, const uint8_t key[static 32], const char *by, int64_t now_ms,
                     char out[static DB_MAX_USER + 1])
{
    if (d->pg)
        return pgs_device_revoke(d, key, by, now_ms, out);
    db_user u;
    int ret = db_device_user(d, key, &u);
    if (ret == BANTER_ENOENT)
        return revoke_marked(d, key, by, now_ms, out);
    if (ret)
        return ret;
    snprintf(out, DB_MAX_USER + 1, "%s", u.name);
    sqlite3_stmt *s = NULL;
    db_sp sp;
    ret = db_sp_begin(d, &sp, "revoke");
    if (ret)
        return ret;
    ret = prep(d,
               "INSERT INTO revoked (key, user, revoked, revoked_by) VALUES (?1, ?2, ?3, ?4)"
               " ON CONFLICT (key) DO UPDATE SET user = ?2, revoked = ?3, revoked_by = ?4",
               &s);
    if (ret == 0) {
        int rc = sqlite3_bind_blob(s, 1, key, 32, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(s, 2, u.name, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 3, now_ms);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(s, 4, by, -1, SQLITE_STATIC);
        ret = rc == SQLITE_OK ? exec_done(d, s) : db_fail(d, rc);
    }
    sqlite3_finalize(s);
    if (ret == 0)
        ret = db_device_unbind(d, key) < 0 ? BANTER_EDB : 0;
    return db_sp_end(d, &sp, ret);
}

int db_device_revoked(db *d, const uint8_t key[static 32])
{
    if (d->pg)
        return pgs_device_revoked(d, key);
    sqlite3_stmt *s = NULL;
    int64_t n = 0;
    int ret = prep(d, DB_KEY_REVOKED("?"), &s);
    if (ret == 0) {
        int rc = sqlite3_bind_blob(s, 1, key, 32, SQLITE_STATIC);
        ret = rc == SQLITE_OK ? db_step_int(d, s, &n) : db_fail(d, rc);
    }
    sqlite3_finalize(s);
    return ret ? ret : n > 0 ? 1 : 0;
}

int db_revoked_release(db *d, const uint8_t key[static 32], const char *name)
{
    if (d->pg)
        return pgs_revoked_release(d, key, name);
    sqlite3_stmt *s = NULL;
    int ret = prep(d, DB_UNMARK_KEY("?"), &s);
    if (ret == 0) {
        int rc = sqlite3_bind_blob(s, 1, key, 32, SQLITE_STATIC);
        ret = rc == SQLITE_OK ? bind_text(d, s, 2, name) : db_fail(d, rc);
    }
    if (ret == 0)
        ret = exec_done(d, s);
    sqlite3_finalize(s);
    return ret ? ret : sqlite3_changes(d->sql) > 0 ? 1 : 0;
}

/* ---- accounts ---- */

/* Run one statement on a user name: 0 when it changed a row,
 * BANTER_ENOENT when none. */
static int user_exec(db *d, const char *sql, const char *name, const char *text)
{
    sqlite3_stmt *s = NULL;
    int ret = prep(d, sql, &s);
    if (ret == 0)
        ret = db_bind_name(d, s, 1, name);
    if (ret == 0 && text)
        ret = bind_text(d, s, 2, text);
    if (ret == 0)
        ret = exec_done(d, s);
    sqlite3_finalize(s);
    return ret ? ret : sqlite3_changes(d->sql) >= 1 ? 0 : BANTER_ENOENT;
}

int db_user_delete(db *d, const char *name, int64_t now_ms)
{
    if (d->pg)
        return pgs_user_delete(d, name, now_ms);
    db_sp sp;
    int ret = db_sp_begin(d, &sp, "userdel");
    if (ret)
        return ret;
    ret = db_mark_devices(d, name, DB_REVOKED_BY_DELETE, now_ms);
    if (ret == 0)
        ret = user_exec(d, DB_SENDER_GONE("?"), name, NULL);
    if (ret == 0 || ret == BANTER_ENOENT)
        ret = user_exec(d, DB_SENDER_SHARE_GONE("?"), name, NULL);
    if (ret == 0 || ret == BANTER_ENOENT)
        ret = user_exec(d, "DELETE FROM users WHERE name = ?1", name, NULL);
    return db_sp_end(d, &sp, ret);
}

int db_name_retired(db *d, const char *name, int64_t *deleted_ms)
{
    if (d->pg)
        return pgs_name_retired(d, name, deleted_ms);
    sqlite3_stmt *s = NULL;
    int ret = prep(d, "SELECT deleted FROM retired_names WHERE name = ?1", &s);
    if (ret == 0)
        ret = bind_text(d, s, 1, name);
    if (ret == 0) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            *deleted_ms = sqlite3_column_int64(s, 0);
        else
            ret = rc == SQLITE_DONE ? BANTER_ENOENT : db_fail(d, rc);
    }
    sqlite3_finalize(s);
    return ret;
}

int db_user_set_password(db *d, const char *name, const char *pwhash)
{
    if (d->pg)
        return pgs_user_set_password(d, name, pwhash);
    return user_exec(d, "UPDATE users SET pwhash = ?2 WHERE name = ?1", name, pwhash);
}

int db_counts(db *d, int64_t *users, int64_t *devices)
{
    if (d->pg)
        return pgs_counts(d, users, devices);
    sqlite3_stmt *s = NULL;
    int ret = prep(d, "SELECT count(*) FROM users", &s);
    if (ret == 0)
        ret = db_step_int(d, s, users);
    sqlite3_finalize(s);
    return ret ? ret : count_devices(d, NULL, devices);
}

int db_online_elsewhere(db *d, const char *instance, int64_t offset, size_t limit,
                        db_online_row *rows, size_t *n, int64_t *total)
{
    *n = 0;
    *total = 0;
    return d->pg ? pgs_online_elsewhere(d, instance, offset, limit, rows, n, total)
                 : BANTER_EUNSUPPORTED;
}

int db_cluster_counts(db *d, int64_t *instances, int64_t *accounts, int64_t *devices)
{
    *instances = *accounts = *devices = 0;
    return d->pg ? pgs_cluster_counts(d, instances, accounts, devices) : BANTER_EUNSUPPORTED;
}

/* ---- the offline store ---- */

int db_mail_stats_get(db *d, db_mail_stats *out)
{
    if (d->pg)
        return pgs_mail_stats_get(d, out);
    sqlite3_stmt *s = NULL;
    memset(out, 0, sizeof *out);
    int ret = prep(d,
                   "SELECT count(*), coalesce(sum(size), 0), count(DISTINCT to_user),"
                   " coalesce(min(created), 0) FROM sealed",
                   &s);
    if (ret == 0) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            out->copies = sqlite3_column_int64(s, 0);
            out->bytes = sqlite3_column_int64(s, 1);
            out->users = sqlite3_column_int64(s, 2);
            out->oldest_ms = sqlite3_column_int64(s, 3);
        } else {
            ret = db_fail(d, rc);
        }
    }
    sqlite3_finalize(s);
    return ret;
}

int db_mail_purge(db *d, int64_t before_ms, int64_t *n)
{
    sqlite3_stmt *s = NULL;
    *n = 0;
    if (d->pg)
        return pgs_mail_purge(d, before_ms, n);
    int ret = prep(d, "DELETE FROM sealed WHERE created < ?1", &s);
    if (ret == 0)
        ret = sqlite3_bind_int64(s, 1, before_ms) == SQLITE_OK ? exec_done(d, s)
                                                               : db_fail(d, SQLITE_ERROR);
    sqlite3_finalize(s);
    if (ret == 0)
        *n = sqlite3_changes(d->sql);
    return ret;
}

/* ---- the organisation's policy ---- */

int db_policy_get(db *d, policy *out)
{
    if (d->pg)
        return pgs_policy_get(d, out);
    sqlite3_stmt *s = NULL;
    policy_default(out);
    int ret = prep(d,
                   "SELECT serial, issued, max_file_mb, history_days, flags, public_fields"
                   " FROM policy WHERE id = 1",
                   &s);
    if (ret == 0) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            out->serial = (uint64_t)sqlite3_column_int64(s, 0);
            out->issued_ms = sqlite3_column_int64(s, 1);
            out->max_file_mb = sqlite3_column_int64(s, 2);
            out->history_days = (uint32_t)sqlite3_column_int64(s, 3);
            out->flags = (uint8_t)sqlite3_column_int(s, 4);
            out->public_fields = (uint32_t)sqlite3_column_int64(s, 5);
        } else {
            ret = rc == SQLITE_DONE ? BANTER_ENOENT : db_fail(d, rc);
        }
    }
    sqlite3_finalize(s);
    return ret;
}

int db_policy_put(db *d, const policy *p)
{
    if (d->pg)
        return pgs_policy_put(d, p);
    sqlite3_stmt *s = NULL;
    int ret = prep(d,
                   "INSERT INTO policy (id, serial, issued, max_file_mb, history_days,"
                   " flags, public_fields) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)"
                   " ON CONFLICT (id) DO UPDATE SET serial = excluded.serial,"
                   " issued = excluded.issued, max_file_mb = excluded.max_file_mb,"
                   " history_days = excluded.history_days, flags = excluded.flags,"
                   " public_fields = excluded.public_fields"
                   " WHERE policy.serial < excluded.serial",
                   &s);
    if (ret)
        return ret;
    int rc = sqlite3_bind_int64(s, 1, (int64_t)p->serial);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, p->issued_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 3, p->max_file_mb);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 4, p->history_days);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 5, p->flags);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 6, p->public_fields);
    ret = rc == SQLITE_OK ? exec_done(d, s) : db_fail(d, rc);
    sqlite3_finalize(s);
    if (ret == 0 && sqlite3_changes(d->sql) == 0) {
        db_seterr(d, "a policy of that serial or a later one is stored");
        ret = BANTER_ESTATE;
    }
    return ret;
}

/* ---- backup ---- */

/* dir/name of the database's folder into path. */
static int backup_path(db *d, const char *name, char *path, size_t cap)
{
    const char *main_path = sqlite3_db_filename(d->sql, "main");
    if (!main_path || !main_path[0])
        return BANTER_EINVAL;
    const char *slash = strrchr(main_path, '/');
    int n = slash ? snprintf(path, cap, "%.*s/%s", (int)(slash - main_path), main_path, name)
                  : snprintf(path, cap, "%s", name);
    return n > 0 && (size_t)n < cap ? 0 : BANTER_ETOOLONG;
}

/* Copy every page of d into the open file at path. */
static int backup_copy(db *d, const char *path, char *why, size_t whycap)
{
    sqlite3 *to = NULL;
    int rc = sqlite3_open_v2(path, &to, SQLITE_OPEN_READWRITE, NULL);
    sqlite3_backup *b = rc == SQLITE_OK ? sqlite3_backup_init(to, "main", d->sql, "main") : NULL;
    if (b) {
        rc = sqlite3_backup_step(b, -1);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        int frc = sqlite3_backup_finish(b);
        rc = rc == SQLITE_OK ? frc : rc;
    } else if (rc == SQLITE_OK) {
        rc = sqlite3_errcode(to);
    }
    if (rc != SQLITE_OK)
        snprintf(why, whycap, "the copy failed: %s", to ? sqlite3_errmsg(to) : sqlite3_errstr(rc));
    sqlite3_close_v2(to);
    return rc == SQLITE_OK ? 0 : BANTER_EDB;
}

/* Whether the file system of path (the backup's, the database's own)
 * keeps room after a copy of d: the copy's size and then at least the
 * database's size and DB_BACKUP_KEEP_FREE more, so that a backup can
 * never fill the disk the database and its audit log write to. 0, or
 * BANTER_ENOSPC / BANTER_EIO / BANTER_EDB with why. */
static int backup_room(db *d, const char *path, char *why, size_t whycap)
{
    int64_t pages = 0, psize = 0;
    int r = sqlh_query_one(d->sql, "PRAGMA main.page_count", &pages, NULL, 0, d->errmsg,
                           sizeof d->errmsg);
    if (r == 0)
        r = sqlh_query_one(d->sql, "PRAGMA main.page_size", &psize, NULL, 0, d->errmsg,
                           sizeof d->errmsg);
    if (r) {
        snprintf(why, whycap, "cannot read the database's size: %s", d->errmsg);
        return r;
    }
    char dir[1024];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    struct statvfs v;
    if (statvfs(dir[0] ? dir : "/", &v) != 0) {
        snprintf(why, whycap, "cannot read the free space of %s: %s", dir, strerror(errno));
        return BANTER_EIO;
    }
    uint64_t size = (uint64_t)pages * (uint64_t)psize;
    uint64_t avail = (uint64_t)v.f_bavail * (uint64_t)v.f_frsize;
    uint64_t keep = size > DB_BACKUP_KEEP_FREE ? size : DB_BACKUP_KEEP_FREE;
    if (avail >= size && avail - size >= keep)
        return 0;
    snprintf(why, whycap,
             "it would leave less than %llu MiB free on the server's disk (%llu MiB free, the "
             "database is %llu MiB): remove old backups or make room",
             (unsigned long long)(keep >> 20), (unsigned long long)(avail >> 20),
             (unsigned long long)((size + (1u << 20) - 1) >> 20));
    return BANTER_ENOSPC;
}

/* A backup's name: [A-Za-z0-9._-]+ ending in ".db", not starting with a
 * dot. Nothing SQLite or the server keeps beside the database ("-wal",
 * "-journal", ".key", ".sock") can be named so, and a name that exists
 * is refused by O_EXCL. */
static bool backup_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n < 4 || n > 128 || name[0] == '.' || strcmp(name + n - 3, ".db") != 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
              (name[i] >= '0' && name[i] <= '9') || name[i] == '.' || name[i] == '_' ||
              name[i] == '-'))
            return false;
    return true;
}

int db_backup(db *d, const char *name, char *path, size_t cap, char *why, size_t whycap)
{
    if (!backup_name_ok(name)) {
        snprintf(why, whycap,
                 "\"%s\" is not a backup name: letters, digits, '.', '_' and '-', ending in "
                 "\".db\"",
                 name);
        return BANTER_EINVAL;
    }
    if (d->pg) {
        snprintf(why, whycap,
                 "the database is PostgreSQL: back it up with pg_dump (docs/rendezvous.md,"
                 " PostgreSQL)");
        return BANTER_EUNSUPPORTED;
    }
    int ret = backup_path(d, name, path, cap);
    if (ret) {
        snprintf(why, whycap, "the backup's path is too long or the database has none");
        return ret;
    }
    ret = backup_room(d, path, why, whycap);
    if (ret)
        return ret;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(why, whycap, "cannot create %s: %s", path, strerror(errno));
        return BANTER_EIO;
    }
    close(fd);
    ret = backup_copy(d, path, why, whycap);
    if (ret)
        unlink(path);
    return ret;
}
