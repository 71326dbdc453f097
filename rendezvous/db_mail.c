/* SPDX-License-Identifier: MIT */
/* db_mail.c - stored sealed copies (see db_mail.h). */
#include "db_mail.h"

#include <stdlib.h>
#include <string.h>

#include "db_impl.h"
#include "db_pgs.h"

static int lock_cmp(const void *a, const void *b)
{
    const db_mail_lock *x = a, *y = b;
    int c = strcmp(x->user, y->user);
    return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

void db_mail_lock_order(db_mail_lock *w, size_t n)
{
    size_t i = 1;
    while (i < n && lock_cmp(&w[i - 1], &w[i]) < 0)
        i++;
    if (i < n) /* pos breaks ties: qsort's order is then stable */
        qsort(w, n, sizeof *w, lock_cmp);
}

int db_mail_usage(db *d, const char *user, int64_t *count, int64_t *bytes)
{
    if (d->pg)
        return pgs_mail_usage(d, user, count, bytes);
    sqlite3_stmt *s;
    *count = *bytes = 0;
    int ret = db_stmt(d, S_MAIL_USAGE, "SELECT count, bytes FROM mailbox WHERE user = ?1", &s);
    if (ret == 0)
        ret = db_bind_name(d, s, 1, user);
    if (ret == 0) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            *count = sqlite3_column_int64(s, 0);
            *bytes = sqlite3_column_int64(s, 1);
        } else if (rc != SQLITE_DONE) {
            ret = db_fail(d, rc);
        }
    }
    db_done(s);
    return ret;
}

/* Whether the copy (id, device, from) is stored: 1, 0, or BANTER_E*. */
static int mail_has(db *d, const uint8_t id[16], const uint8_t device[32], const uint8_t from[32])
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(
        d->sql, "SELECT 1 FROM sealed WHERE id = ?1 AND to_device = ?2 AND from_device = ?3", -1,
        &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(s, 1, id, 16, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(s, 2, device, 32, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(s, 3, from, 32, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    int ret = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : db_fail(d, rc);
    sqlite3_finalize(s);
    return ret;
}

static int bind_sealed(sqlite3_stmt *s, const db_sealed *m)
{
    int rc = sqlite3_bind_blob(s, 1, m->id, 16, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(s, 2, m->to_device, 32, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 3, m->to_user, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 4, m->from_user, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(s, 5, m->from_device, 32, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 6, m->flags);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 7, (int64_t)m->len);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(s, 8, m->blob, (int)m->len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 9, m->created_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 10, m->expires_ms);
    return rc;
}

/* Whether user blocked sender, and what sender's copies hold of user's
 * mailbox: 0 or BANTER_E*. */
static int sender_usage(db *d, const char *user, const char *sender, bool *blocked, int64_t *count,
                        int64_t *bytes)
{
    sqlite3_stmt *s;
    *blocked = false;
    *count = *bytes = 0;
    int ret =
        db_stmt(d, S_MAIL_SENDER,
                "SELECT EXISTS (SELECT 1 FROM contacts WHERE user = ?1 AND peer = ?2"
                " AND blocked = 1),"
                " coalesce((SELECT count FROM mailbox_from WHERE user = ?1 AND sender = ?2), 0),"
                " coalesce((SELECT bytes FROM mailbox_from WHERE user = ?1 AND sender = ?2), 0)",
                &s);
    if (ret == 0)
        ret = db_bind_name(d, s, 1, user);
    if (ret == 0)
        ret = db_bind_name(d, s, 2, sender);
    if (ret == 0) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            *blocked = sqlite3_column_int(s, 0) != 0;
            *count = sqlite3_column_int64(s, 1);
            *bytes = sqlite3_column_int64(s, 2);
        } else {
            ret = db_fail(d, rc);
        }
    }
    db_done(s);
    return ret;
}

/* Whether m is a copy of an earlier holder of its sender's name (no
 * account of that name made at or before it: deleted since it was
 * accepted, the name perhaps given again): 0 or BANTER_E*. */
static int from_gone(db *d, const db_sealed *m, bool *gone)
{
    sqlite3_stmt *s;
    *gone = false;
    int ret = db_stmt(d, S_MAIL_FROM_GONE, "SELECT " DB_FROM_GONE("?"), &s);
    if (ret == 0)
        ret = db_bind_name(d, s, 1, m->from_user);
    if (ret == 0) {
        int rc = sqlite3_bind_int64(s, 2, m->created_ms);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            *gone = sqlite3_column_int(s, 0) != 0;
        else
            ret = db_fail(d, rc);
    }
    db_done(s);
    return ret;
}

int db_mail_put(db *d, const db_sealed *m, int64_t max_count, int64_t max_bytes)
{
    db_mail_quota q = {max_count, max_bytes, max_count, max_bytes};
    return db_mail_put_q(d, m, &q);
}

int db_mail_put_q(db *d, const db_sealed *m, const db_mail_quota *q)
{
    if (!m->to_user || !m->from_user || db_name_problem(m->to_user) ||
        db_name_problem(m->from_user) || m->len == 0 || m->len > INT32_MAX) {
        db_seterr(d, "bad sealed copy");
        return BANTER_EINVAL;
    }
    if (d->pg)
        return pgs_mail_put(d, m, q);
    sqlite3_stmt *s;
    int64_t count, bytes, scount = 0, sbytes = 0;
    bool blocked = false, gone = false, self = strcmp(m->to_user, m->from_user) == 0;
    /* One writer at a time (BEGIN IMMEDIATE): what is read here stays so
     * to the insert, and a block's purge runs before or after it all. */
    int ret = db_mail_usage(d, m->to_user, &count, &bytes);
    if (ret == 0)
        ret = from_gone(d, m, &gone);
    if (ret == 0 && !self)
        ret = sender_usage(d, m->to_user, m->from_user, &blocked, &scount, &sbytes);
    if (ret)
        return ret;
    if (blocked && !gone) /* a block is of the account that has the name now */
        return DB_MAIL_BLOCKED;
    int64_t len = (int64_t)m->len;
    int over = count + 1 > q->count || bytes + len > q->bytes ? DB_MAIL_OVER_QUOTA
               : !self && !gone && (scount + 1 > q->sender_count || sbytes + len > q->sender_bytes)
                   ? DB_MAIL_OVER_SHARE
                   : 0;
    if (over) {
        ret = mail_has(d, m->id, m->to_device, m->from_device);
        return ret < 0 ? ret : ret == 1 ? DB_MAIL_DUPLICATE : over;
    }
    ret = db_stmt(d, S_MAIL_INSERT,
                  "INSERT INTO sealed (id, to_device, to_user, from_user, from_device, flags,"
                  " size, blob, created, expires, from_gone)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                  " ON CONFLICT (id, to_device, from_device) DO NOTHING",
                  &s);
    if (ret)
        return ret;
    int rc = bind_sealed(s, m);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 11, gone);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
        ret = sqlite3_changes(d->sql) == 1 ? DB_MAIL_STORED : DB_MAIL_DUPLICATE;
    else
        ret = db_fail(d, rc);
    db_done(s);
    return ret;
}

int db_mail_purge_from(db *d, const char *user, const char *sender, int64_t *n)
{
    int64_t dummy;
    if (!n)
        n = &dummy;
    *n = 0;
    if (!user || !sender || db_name_problem(user) || db_name_problem(sender)) {
        db_seterr(d, "bad account name");
        return BANTER_EINVAL;
    }
    if (d->pg)
        return pgs_mail_purge_from(d, user, sender, n);
    sqlite3_stmt *s;
    int ret = db_stmt(d, S_MAIL_PURGE_FROM,
                      "DELETE FROM sealed WHERE to_user = ?1 AND from_user = ?2"
                      " AND from_gone = 0",
                      &s);
    if (ret == 0)
        ret = db_bind_name(d, s, 1, user);
    if (ret == 0)
        ret = db_bind_name(d, s, 2, sender);
    if (ret == 0) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
            *n = sqlite3_changes(d->sql);
        else
            ret = db_fail(d, rc);
    }
    db_done(s);
    return ret;
}

int db_mail_purge_blocked(db *d, const char *a, const char *b, bool a_blocked, bool b_blocked)
{
    bool a_first = strcmp(a, b) < 0;
    const char *first = a_first ? a : b, *second = a_first ? b : a;
    bool first_on = a_first ? a_blocked : b_blocked, second_on = a_first ? b_blocked : a_blocked;
    int ret = first_on ? db_mail_purge_from(d, first, second, NULL) : 0;
    if (ret == 0 && second_on)
        ret = db_mail_purge_from(d, second, first, NULL);
    return ret;
}

int db_mail_del_seq(db *d, int64_t seq)
{
    if (d->pg)
        return pgs_mail_del_seq(d, seq);
    sqlite3_stmt *s;
    int ret = db_stmt(d, S_MAIL_DEL_SEQ, "DELETE FROM sealed WHERE seq = ?1", &s);
    if (ret)
        return ret;
    int rc = sqlite3_bind_int64(s, 1, seq);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    ret = rc == SQLITE_DONE ? 0 : db_fail(d, rc);
    db_done(s);
    return ret;
}

int db_mail_del_id(db *d, const uint8_t id[static 16], const uint8_t device[static 32],
                   const uint8_t from_device[static 32])
{
    if (d->pg)
        return pgs_mail_del_id(d, id, device, from_device);
    sqlite3_stmt *s;
    int ret =
        db_stmt(d, S_MAIL_DEL_ID,
                "DELETE FROM sealed WHERE id = ?1 AND to_device = ?2 AND from_device = ?3", &s);
    if (ret)
        return ret;
    int rc = sqlite3_bind_blob(s, 1, id, 16, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(s, 2, device, 32, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(s, 3, from_device, 32, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    ret = rc == SQLITE_DONE ? 0 : db_fail(d, rc);
    db_done(s);
    return ret;
}

/* The current row of the fetch statement into m (pointers into the row). */
static bool read_sealed(sqlite3_stmt *s, db_sealed *m)
{
    memset(m, 0, sizeof *m);
    m->seq = sqlite3_column_int64(s, 0);
    if (sqlite3_column_bytes(s, 1) != 16 || sqlite3_column_bytes(s, 2) != 32)
        return false;
    memcpy(m->id, sqlite3_column_blob(s, 1), 16);
    memcpy(m->from_device, sqlite3_column_blob(s, 2), 32);
    m->from_user = (const char *)sqlite3_column_text(s, 3);
    m->to_user = (const char *)sqlite3_column_text(s, 4);
    m->flags = (uint8_t)sqlite3_column_int(s, 5);
    m->blob = sqlite3_column_blob(s, 6);
    m->len = (size_t)sqlite3_column_bytes(s, 6);
    m->created_ms = sqlite3_column_int64(s, 7);
    m->expires_ms = sqlite3_column_int64(s, 8);
    return m->from_user && m->to_user && m->blob && m->len > 0;
}

int db_mail_fetch(db *d, const uint8_t device[static 32], int64_t after, int64_t now_ms, size_t max,
                  db_mail_fn fn, void *ud)
{
    if (d->pg)
        return pgs_mail_fetch(d, device, after, now_ms, max, fn, ud);
    sqlite3_stmt *s;
    int ret = db_stmt(
        d, S_MAIL_FETCH,
        "SELECT seq, id, from_device, from_user, to_user, " DB_FETCH_FLAGS(
            "user") ", blob, created,"
                    " expires FROM sealed WHERE to_device = ?1 AND seq > ?2 AND expires > ?3"
                    " AND to_user = (SELECT user FROM devices WHERE key = ?1)"
                    " ORDER BY seq LIMIT ?4",
        &s);
    if (ret)
        return ret;
    int rc = sqlite3_bind_blob(s, 1, device, 32, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, after);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 3, now_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 4, (int64_t)max);
    int n = 0;
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        rc = sqlite3_step(s);
        db_sealed m;
        if (rc == SQLITE_ROW && read_sealed(s, &m)) {
            fn(ud, &m);
            n++;
        }
    }
    ret = rc == SQLITE_DONE ? n : db_fail(d, rc);
    db_done(s);
    return ret;
}

int db_mail_expire(db *d, int64_t now_ms, int64_t max, int64_t *n)
{
    if (d->pg)
        return pgs_mail_expire(d, now_ms, max, n);
    sqlite3_stmt *s;
    *n = 0;
    int ret = db_stmt(d, S_MAIL_EXPIRE,
                      "DELETE FROM sealed WHERE seq IN"
                      " (SELECT seq FROM sealed WHERE expires <= ?1 ORDER BY expires LIMIT ?2)",
                      &s);
    if (ret)
        return ret;
    int rc = sqlite3_bind_int64(s, 1, now_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, max);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
        *n = sqlite3_changes(d->sql);
    else
        ret = db_fail(d, rc);
    db_done(s);
    return ret;
}
