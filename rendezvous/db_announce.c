/* SPDX-License-Identifier: MIT */
/* db_announce.c - announcements and the revocation list in the database
 * (see db_announce.h). */
#include "db_announce.h"

#include <stdio.h>
#include <string.h>

#include "db_impl.h"
#include "db_pgs.h"
#include "sqlh.h"

static int prep(db *d, const char *sql, sqlite3_stmt **s)
{
    int rc = sqlite3_prepare_v2(d->sql, sql, -1, s, NULL);
    return rc == SQLITE_OK ? 0 : db_fail(d, rc);
}

static int bind_key(db *d, sqlite3_stmt *s, int col, const uint8_t key[static 32])
{
    int rc = sqlite3_bind_blob(s, col, key, 32, SQLITE_STATIC);
    return rc == SQLITE_OK ? 0 : db_fail(d, rc);
}

#define TO_WHOM DB_ANN_TO_WHOM("?2", "lower(coalesce(p.department, '')) = lower(?2)")

static int address(db *d, int64_t id, const char *department, int64_t *devices, int64_t *people)
{
    sqlite3_stmt *s = NULL;
    int ret =
        prep(d, "INSERT INTO announce_to (ann, key, user) SELECT ?1, v.key, v.user" TO_WHOM, &s);
    if (ret == 0) {
        int rc = sqlite3_bind_int64(s, 1, id);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(s, 2, department, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(s);
        ret = rc == SQLITE_DONE ? 0 : db_fail(d, rc);
    }
    sqlite3_finalize(s);
    s = NULL;
    if (ret == 0)
        ret = prep(d, "SELECT count(*), count(DISTINCT user) FROM announce_to WHERE ann = ?1", &s);
    if (ret == 0) {
        int rc = sqlite3_bind_int64(s, 1, id);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            *devices = sqlite3_column_int64(s, 0);
            *people = sqlite3_column_int64(s, 1);
        } else {
            ret = db_fail(d, rc);
        }
    }
    sqlite3_finalize(s);
    return ret;
}

int db_announce_add(db *d, int64_t now_ms, const char *actor, const char *department,
                    const char *text, int64_t *id, int64_t *devices, int64_t *people)
{
    if (d->pg)
        return pgs_announce_add(d, now_ms, actor, department, text, id, devices, people);
    sqlite3_stmt *s = NULL;
    db_sp sp;
    int ret = db_sp_begin(d, &sp, "announce");
    if (ret)
        return ret;
    ret = prep(d, "INSERT INTO announcements (ts, actor, department, text) VALUES (?1, ?2, ?3, ?4)",
               &s);
    if (ret == 0) {
        int rc = sqlite3_bind_int64(s, 1, now_ms);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(s, 2, actor, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(s, 3, department, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(s, 4, text, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(s);
        ret = rc == SQLITE_DONE ? 0 : db_fail(d, rc);
    }
    sqlite3_finalize(s);
    if (ret == 0) {
        *id = sqlite3_last_insert_rowid(d->sql);
        ret = address(d, *id, department, devices, people);
    }
    return db_sp_end(d, &sp, ret);
}

static int addressed(db *d, int64_t id, const uint8_t key[static 32], bool awaited)
{
    if (d->pg)
        return pgs_announce_addressed(d, id, key, awaited);
    sqlite3_stmt *s = NULL;
    int ret = prep(d, awaited ? DB_ANN_AWAITED("?") : DB_ANN_ADDRESSED("?"), &s);
    if (ret == 0 && sqlite3_bind_int64(s, 1, id) != SQLITE_OK)
        ret = db_fail(d, SQLITE_ERROR);
    if (ret == 0)
        ret = bind_key(d, s, 2, key);
    if (ret == 0) {
        int rc = sqlite3_step(s);
        ret = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) > 0 : db_fail(d, rc);
    }
    sqlite3_finalize(s);
    return ret;
}

int db_announce_addressed(db *d, int64_t id, const uint8_t key[static 32])
{
    return addressed(d, id, key, false);
}

int db_announce_awaited(db *d, int64_t id, const uint8_t key[static 32])
{
    return addressed(d, id, key, true);
}

int db_announce_pending(db *d, const uint8_t key[static 32], size_t max,
                        int (*fn)(void *ud, const ann_msg *m), void *ud)
{
    if (d->pg)
        return pgs_announce_pending(d, key, max, fn, ud);
    static const char sql[] = DB_ANN_PENDING("?");
    sqlite3_stmt *s = NULL;
    ann_msg m;
    int rc = SQLITE_DONE;
    int ret = prep(d, sql, &s);
    if (ret == 0)
        ret = bind_key(d, s, 1, key);
    if (ret == 0 && (rc = sqlite3_bind_int64(s, 2, (int64_t)max)) != SQLITE_OK)
        ret = db_fail(d, rc);
    while (ret == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        memset(&m, 0, sizeof m);
        m.id = sqlite3_column_int64(s, 0);
        m.ts_ms = sqlite3_column_int64(s, 1);
        db_column_copy(s, 2, m.department, sizeof m.department);
        db_column_copy(s, 3, m.text, sizeof m.text);
        ret = fn(ud, &m);
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_fail(d, rc);
    sqlite3_finalize(s);
    return ret;
}

int db_announce_receipt(db *d, int64_t id, const uint8_t key[static 32], bool read, int64_t now_ms)
{
    if (d->pg)
        return pgs_announce_receipt(d, id, key, read, now_ms);
    static const char sql_delivered[] = DB_ANN_DELIVERED("?"), sql_read[] = DB_ANN_READ("?");
    int known = db_announce_addressed(d, id, key);
    if (known < 0)
        return known;
    if (known == 0)
        return BANTER_ENOENT;
    sqlite3_stmt *s = NULL;
    int ret = prep(d, read ? sql_read : sql_delivered, &s);
    if (ret == 0) {
        int rc = sqlite3_bind_int64(s, 1, id);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_blob(s, 2, key, 32, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 3, now_ms);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(s);
        ret = rc == SQLITE_DONE ? 0 : db_fail(d, rc);
    }
    if (ret == 0 && sqlite3_changes(d->sql) == 0)
        ret = 1;
    sqlite3_finalize(s);
    return ret;
}

int db_announce_report_get(db *d, int64_t id, db_announce_report *out)
{
    if (d->pg)
        return pgs_announce_report_get(d, id, out);
    static const char sql[] =
        "SELECT a.id, a.ts, a.actor, a.department, a.text,"
        " (SELECT count(*) FROM announce_to t WHERE t.ann = a.id),"
        " (SELECT count(*) FROM announce_to t WHERE t.ann = a.id AND t.delivered IS NOT NULL),"
        " (SELECT count(*) FROM announce_to t WHERE t.ann = a.id AND t.read IS NOT NULL),"
        " (SELECT count(DISTINCT user) FROM announce_to t WHERE t.ann = a.id),"
        " (SELECT count(DISTINCT user) FROM announce_to t"
        "  WHERE t.ann = a.id AND t.delivered IS NOT NULL),"
        " (SELECT count(DISTINCT user) FROM announce_to t WHERE t.ann = a.id AND t.read IS NOT "
        "NULL)"
        " FROM announcements a WHERE a.id = ?1";
    sqlite3_stmt *s = NULL;
    memset(out, 0, sizeof *out);
    int ret = prep(d, sql, &s);
    if (ret == 0) {
        int rc = sqlite3_bind_int64(s, 1, id);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            out->id = sqlite3_column_int64(s, 0);
            out->ts = sqlite3_column_int64(s, 1);
            db_column_copy(s, 2, out->actor, sizeof out->actor);
            db_column_copy(s, 3, out->department, sizeof out->department);
            db_column_copy(s, 4, out->text, sizeof out->text);
            out->devices = sqlite3_column_int64(s, 5);
            out->delivered = sqlite3_column_int64(s, 6);
            out->read = sqlite3_column_int64(s, 7);
            out->people = sqlite3_column_int64(s, 8);
            out->people_delivered = sqlite3_column_int64(s, 9);
            out->people_read = sqlite3_column_int64(s, 10);
        } else {
            ret = rc == SQLITE_DONE ? BANTER_ENOENT : db_fail(d, rc);
        }
    }
    sqlite3_finalize(s);
    return ret;
}

int db_revoked_since(db *d, int64_t since_ms, uint8_t (*keys)[32], size_t max, size_t *n)
{
    if (d->pg)
        return pgs_revoked_since(d, since_ms, keys, max, n);
    sqlite3_stmt *s = NULL;
    int rc = SQLITE_DONE;
    *n = 0;
    int ret = prep(d, DB_REVOKED_SINCE("?"), &s);
    if (ret == 0 && ((rc = sqlite3_bind_int64(s, 1, since_ms)) != SQLITE_OK ||
                     (rc = sqlite3_bind_int64(s, 2, (int64_t)max)) != SQLITE_OK))
        ret = db_fail(d, rc);
    while (ret == 0 && *n < max && (rc = sqlite3_step(s)) == SQLITE_ROW)
        if (sqlite3_column_bytes(s, 0) == 32)
            memcpy(keys[(*n)++], sqlite3_column_blob(s, 0), 32);
    if (ret == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
        ret = db_fail(d, rc);
    sqlite3_finalize(s);
    return ret;
}

int db_shared_clock_ms(db *d, int64_t *now_ms)
{
    return d->pg ? pgs_shared_clock_ms(d, now_ms) : BANTER_EUNSUPPORTED;
}
