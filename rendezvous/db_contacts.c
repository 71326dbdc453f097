/* SPDX-License-Identifier: MIT */
/* db_contacts.c - relations and presence (see db_contacts.h). */
#include "db_contacts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_impl.h"
#include "db_mail.h"
#include "db_pgs.h"

int db_rel_list(db *d, const char *user, db_rel **out, size_t *n)
{
    if (d->pg)
        return pgs_rel_list(d, user, out, n);
    sqlite3_stmt *s;
    db_rel *arr = NULL;
    size_t count = 0, cap = 0;
    int rc = SQLITE_DONE;
    *out = NULL;
    *n = 0;
    int ret = db_stmt(d, S_REL_LIST,
                      "SELECT c.peer, c.rel, c.blocked, coalesce(o.blocked, 0) FROM contacts c"
                      " LEFT JOIN contacts o ON o.user = c.peer AND o.peer = c.user"
                      " WHERE c.user = ?1"
                      " UNION ALL SELECT o.user, 0, 0, 1 FROM contacts o"
                      " WHERE o.peer = ?1 AND o.blocked = 1 AND NOT EXISTS"
                      " (SELECT 1 FROM contacts c WHERE c.user = ?1 AND c.peer = o.user)"
                      " ORDER BY 1",
                      &s);
    if (ret == 0)
        ret = db_bind_name(d, s, 1, user);
    while (ret == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if ((ret = db_grow(&arr, &cap, count, sizeof *arr)) != 0)
            break;
        db_rel *r = &arr[count++];
        db_column_copy(s, 0, r->peer, sizeof r->peer);
        r->side.rel = (uint8_t)(sqlite3_column_int(s, 1) & 3);
        r->side.blocked = sqlite3_column_int(s, 2) != 0;
        r->blocked_me = sqlite3_column_int(s, 3) != 0;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_fail(d, rc);
    db_done(s);
    if (ret) {
        free(arr);
        return ret;
    }
    *out = arr;
    *n = count;
    return 0;
}

/* One side's row: its values, or none and not blocked. */
static int side_get(db *d, const char *user, const char *peer, rel_side *out)
{
    sqlite3_stmt *s;
    *out = (rel_side){REL_NONE, false};
    int ret = db_stmt(d, S_REL_GET,
                      "SELECT rel, blocked FROM contacts WHERE user = ?1 AND peer = ?2", &s);
    if (ret == 0)
        ret = db_bind_name(d, s, 1, user);
    if (ret == 0)
        ret = db_bind_name(d, s, 2, peer);
    if (ret == 0) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            out->rel = (uint8_t)(sqlite3_column_int(s, 0) & 3);
            out->blocked = sqlite3_column_int(s, 1) != 0;
        } else if (rc != SQLITE_DONE) {
            ret = db_fail(d, rc);
        }
    }
    db_done(s);
    return ret;
}

int db_rel_pair(db *d, const char *a, const char *b, rel_side *sa, rel_side *sb)
{
    if (d->pg)
        return pgs_rel_pair(d, a, b, sa, sb);
    int ret = side_get(d, a, b, sa);
    return ret ? ret : side_get(d, b, a, sb);
}

static int side_put(db *d, const char *user, const char *peer, rel_side v, int64_t now_ms)
{
    sqlite3_stmt *s;
    bool keep = rel_exists(v);
    int ret = keep
                  ? db_stmt(d, S_REL_PUT,
                            "INSERT INTO contacts (user, peer, rel, blocked, updated)"
                            " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (user, peer) DO UPDATE"
                            " SET rel = ?3, blocked = ?4, updated = ?5",
                            &s)
                  : db_stmt(d, S_REL_DEL, "DELETE FROM contacts WHERE user = ?1 AND peer = ?2", &s);
    if (ret == 0)
        ret = db_bind_name(d, s, 1, user);
    if (ret == 0)
        ret = db_bind_name(d, s, 2, peer);
    if (ret == 0) {
        int rc = SQLITE_OK;
        if (keep)
            rc = sqlite3_bind_int(s, 3, v.rel);
        if (keep && rc == SQLITE_OK)
            rc = sqlite3_bind_int(s, 4, v.blocked ? 1 : 0);
        if (keep && rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 5, now_ms);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(s);
        ret = rc == SQLITE_DONE ? 0 : db_fail(d, rc);
    }
    db_done(s);
    return ret;
}

int db_rel_write(db *d, const char *a, const char *b, rel_side sa, rel_side sb, int64_t now_ms)
{
    if (d->pg)
        return pgs_rel_write(d, a, b, sa, sb, now_ms);
    int ret = db_begin(d);
    if (ret == 0)
        ret = db_mail_purge_blocked(d, a, b, sa.blocked, sb.blocked);
    if (ret == 0)
        ret = side_put(d, a, b, sa, now_ms);
    if (ret == 0)
        ret = side_put(d, b, a, sb, now_ms);
    if (ret == 0)
        ret = db_commit(d);
    if (ret)
        db_rollback(d);
    return ret;
}

int db_rel_count(db *d, const char *user, int64_t *n)
{
    if (d->pg)
        return pgs_rel_count(d, user, n);
    sqlite3_stmt *s;
    *n = 0;
    int ret = db_stmt(d, S_REL_COUNT, "SELECT count(*) FROM contacts WHERE user = ?1", &s);
    if (ret == 0)
        ret = db_bind_name(d, s, 1, user);
    if (ret == 0)
        ret = db_step_int(d, s, n);
    db_done(s);
    return ret;
}

int db_presence_get(db *d, const char *user, uint8_t *status, char *text)
{
    if (d->pg)
        return pgs_presence_get(d, user, status, text);
    sqlite3_stmt *s;
    *status = RV_P_ONLINE;
    text[0] = '\0';
    int ret = db_stmt(d, S_PRESENCE_GET, "SELECT status, text FROM presence WHERE user = ?1", &s);
    if (ret == 0)
        ret = db_bind_name(d, s, 1, user);
    if (ret == 0) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            int v = sqlite3_column_int(s, 0);
            *status = v >= RV_P_ONLINE && v <= RV_P_INVISIBLE ? (uint8_t)v : RV_P_ONLINE;
            db_column_copy(s, 1, text, RV_TEXT_MAX + 1);
            if (!rv_text_valid(text))
                text[0] = '\0';
        } else if (rc != SQLITE_DONE) {
            ret = db_fail(d, rc);
        }
    }
    db_done(s);
    return ret;
}

int db_presence_set(db *d, const char *user, uint8_t status, const char *text, int64_t now_ms)
{
    if (d->pg)
        return pgs_presence_set(d, user, status, text, now_ms);
    sqlite3_stmt *s;
    if (status < RV_P_ONLINE || status > RV_P_INVISIBLE || !rv_text_valid(text)) {
        db_seterr(d, "bad presence");
        return BANTER_EINVAL;
    }
    int ret = db_stmt(d, S_PRESENCE_SET,
                      "INSERT INTO presence (user, status, text, updated) VALUES (?1, ?2, ?3, ?4)"
                      " ON CONFLICT (user) DO UPDATE SET status = ?2, text = ?3, updated = ?4",
                      &s);
    if (ret == 0)
        ret = db_bind_name(d, s, 1, user);
    if (ret == 0) {
        int rc = sqlite3_bind_int(s, 2, status);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(s, 3, text, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 4, now_ms);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(s);
        ret = rc == SQLITE_DONE ? 0 : db_fail(d, rc);
    }
    db_done(s);
    return ret;
}
