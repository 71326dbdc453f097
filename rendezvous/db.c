/* SPDX-License-Identifier: MIT */
/* db.c - accounts and devices in one SQLite database (see db.h). */
#include "db.h"

#include "sqlh.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#define BUSY_TIMEOUT_MS 5000
#define ERRMSG_LEN      256

/*
 * The schema, one migration per version: migrations[i] takes the database
 * from user_version i to i + 1. Append to change the schema; never edit an
 * entry that has shipped.
 */
static const char *const migrations[] = {
    /* 0 -> 1: accounts and their devices */
    "CREATE TABLE users ("
    " name TEXT PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 64),"
    " pwhash TEXT NOT NULL,"
    " admin INTEGER NOT NULL CHECK (admin IN (0, 1)),"
    " disabled INTEGER NOT NULL CHECK (disabled IN (0, 1)),"
    " created INTEGER NOT NULL);"
    "CREATE TABLE devices ("
    " key BLOB PRIMARY KEY NOT NULL CHECK (length(key) = 32),"
    " user TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,"
    " created INTEGER NOT NULL,"
    " last_seen INTEGER NOT NULL);"
    "CREATE INDEX devices_user ON devices (user);",
    /* 1 -> 2: the directory. visibility: 0 = found by searches; other
     * values are kept for invisibility (not used yet). */
    "CREATE TABLE profiles ("
    " user TEXT PRIMARY KEY NOT NULL REFERENCES users (name) ON DELETE CASCADE,"
    " display_name TEXT NOT NULL DEFAULT '',"
    " department TEXT NOT NULL DEFAULT '',"
    " title TEXT NOT NULL DEFAULT '',"
    " email TEXT NOT NULL DEFAULT '',"
    " phone TEXT NOT NULL DEFAULT '',"
    " location TEXT NOT NULL DEFAULT '',"
    " about TEXT NOT NULL DEFAULT '',"
    " visibility INTEGER NOT NULL DEFAULT 0,"
    " updated INTEGER NOT NULL);",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

#define USER_COLS                                                                                  \
    "u.name, u.admin, u.disabled, u.created,"                                                      \
    " (SELECT count(*) FROM devices d WHERE d.user = u.name), u.pwhash"

enum stmt_id {
    S_USER_ADD,
    S_USER_GET,
    S_USER_LIST,
    S_USER_DISABLE,
    S_DEVICE_USER,
    S_DEVICE_BIND,
    S_DEVICE_UNBIND,
    S_PROFILE_SET,
    S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
    [S_USER_ADD] = "INSERT INTO users (name, pwhash, admin, disabled, created)"
                   " VALUES (?1, ?2, ?3, 0, ?4) ON CONFLICT (name) DO NOTHING",
    [S_USER_GET] = "SELECT " USER_COLS " FROM users u WHERE u.name = ?1",
    [S_USER_LIST] = "SELECT " USER_COLS " FROM users u ORDER BY u.name",
    [S_USER_DISABLE] = "UPDATE users SET disabled = 1 WHERE name = ?1 AND disabled = 0",
    [S_DEVICE_USER] = "SELECT " USER_COLS " FROM devices v JOIN users u ON u.name = v.user"
                      " WHERE v.key = ?1",
    [S_DEVICE_BIND] = "INSERT INTO devices (key, user, created, last_seen) VALUES (?1, ?2, ?3, ?3)"
                      " ON CONFLICT (key) DO UPDATE SET user = ?2, last_seen = ?3,"
                      " created = CASE WHEN user = ?2 THEN created ELSE ?3 END",
    [S_DEVICE_UNBIND] = "DELETE FROM devices WHERE key = ?1",
    /* NULL leaves a field as it is; a new row starts with every field "". */
    [S_PROFILE_SET] =
        "INSERT INTO profiles (user, display_name, department, title, email, phone, location,"
        " about, updated) VALUES (?1, coalesce(?2, ''), coalesce(?3, ''), coalesce(?4, ''),"
        " coalesce(?5, ''), coalesce(?6, ''), coalesce(?7, ''), coalesce(?8, ''), ?9)"
        " ON CONFLICT (user) DO UPDATE SET display_name = coalesce(?2, display_name),"
        " department = coalesce(?3, department), title = coalesce(?4, title),"
        " email = coalesce(?5, email), phone = coalesce(?6, phone),"
        " location = coalesce(?7, location), about = coalesce(?8, about), updated = ?9",
};

struct db {
    sqlite3 *sql;
    sqlite3_stmt *stmt[S_COUNT];
    char errmsg[ERRMSG_LEN];
};

static void set_errmsg(db *d, const char *text)
{
    snprintf(d->errmsg, sizeof d->errmsg, "%s", text);
}

/* Record SQLite's text for rc and return the matching BANTER_E* code. */
static int fail(db *d, int rc) { return sqlh_fail(d->sql, rc, d->errmsg, sizeof d->errmsg); }

static void stmt_done(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

/* Connection settings, schema, cached statements. */
static int setup(db *d)
{
    int ret = sqlh_setup(d->sql, BUSY_TIMEOUT_MS, d->errmsg, sizeof d->errmsg);
    if (ret)
        return ret;
    ret = sqlh_migrate(d->sql, migrations, SCHEMA_VERSION, "banter-rendezvous", d->errmsg,
                       sizeof d->errmsg);
    if (ret)
        return ret;
    int rc;
    for (int i = 0; i < S_COUNT; i++) {
        rc = sqlite3_prepare_v3(d->sql, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &d->stmt[i],
                                NULL);
        if (rc != SQLITE_OK)
            return fail(d, rc);
    }
    return 0;
}

int db_open(db **out, const char *path, char *errmsg, size_t errlen)
{
    *out = NULL;
    if (errmsg && errlen)
        errmsg[0] = '\0';
    db *d = calloc(1, sizeof *d);
    if (!d)
        return BANTER_ENOMEM;
    /* Create a missing file private to its owner: SQLite gives the -wal and
     * -shm files the database's mode. Other failures are left to SQLite. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0)
        close(fd);
    int ret;
    int rc = sqlite3_open_v2(path, &d->sql, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        set_errmsg(d, d->sql ? sqlite3_errmsg(d->sql) : sqlite3_errstr(rc));
        ret = rc == SQLITE_NOMEM ? BANTER_ENOMEM : BANTER_EDB;
    } else {
        ret = setup(d);
    }
    if (ret) {
        if (errmsg && errlen)
            snprintf(errmsg, errlen, "%s", d->errmsg);
        db_close(d);
        return ret;
    }
    *out = d;
    return 0;
}

void db_close(db *d)
{
    if (!d)
        return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(d->stmt[i]);
    sqlite3_close_v2(d->sql);
    free(d);
}

const char *db_errmsg(const db *d) { return d ? d->errmsg : "no database"; }

const char *db_name_problem(const char *name)
{
    size_t n = strnlen(name, DB_MAX_USER + 1);
    if (n == 0)
        return "is empty";
    if (n > DB_MAX_USER)
        return "is longer than 64 bytes";
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z')
            return "has capital letters: user names are lowercase";
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return "may only contain a-z, 0-9, '.', '_' and '-'";
    }
    if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
        return "must start with a letter or a digit";
    return NULL;
}

/* Bind a user name, after checking it. */
static int bind_name(db *d, sqlite3_stmt *s, int col, const char *name)
{
    if (!name || db_name_problem(name)) {
        set_errmsg(d, "bad user name");
        return BANTER_EINVAL;
    }
    int rc = sqlite3_bind_text(s, col, name, -1, SQLITE_STATIC);
    return rc == SQLITE_OK ? 0 : fail(d, rc);
}

int db_user_add(db *d, const char *name, const char *pwhash, bool admin, int64_t now_ms)
{
    sqlite3_stmt *s = d->stmt[S_USER_ADD];
    size_t hlen = pwhash ? strnlen(pwhash, BCRYPTO_PWHASH_STRLEN) : 0;
    if (hlen == 0 || hlen == BCRYPTO_PWHASH_STRLEN) {
        set_errmsg(d, "bad password hash");
        return BANTER_EINVAL;
    }
    int ret = bind_name(d, s, 1, name);
    if (ret == 0) {
        int rc = sqlite3_bind_text(s, 2, pwhash, (int)hlen, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(s, 3, admin ? 1 : 0);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 4, now_ms);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
            ret = sqlite3_changes(d->sql) == 1 ? 0 : 1;
        else
            ret = fail(d, rc);
    }
    stmt_done(s);
    return ret;
}

/* The current row of a USER_COLS statement. */
static void read_user(sqlite3_stmt *s, db_user *u, char *pwhash)
{
    memset(u, 0, sizeof *u);
    const unsigned char *t = sqlite3_column_text(s, 0);
    snprintf(u->name, sizeof u->name, "%s", t ? (const char *)t : "");
    u->admin = sqlite3_column_int(s, 1) != 0;
    u->disabled = sqlite3_column_int(s, 2) != 0;
    u->created_ms = sqlite3_column_int64(s, 3);
    u->devices = sqlite3_column_int64(s, 4);
    if (pwhash) {
        t = sqlite3_column_text(s, 5);
        snprintf(pwhash, BCRYPTO_PWHASH_STRLEN, "%s", t ? (const char *)t : "");
    }
}

int db_user_get(db *d, const char *name, db_user *out, char *pwhash)
{
    sqlite3_stmt *s = d->stmt[S_USER_GET];
    int ret = bind_name(d, s, 1, name);
    if (ret == 0) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            read_user(s, out, pwhash);
        else
            ret = rc == SQLITE_DONE ? BANTER_ENOENT : fail(d, rc);
    }
    stmt_done(s);
    return ret;
}

int db_user_list(db *d, db_user **out, size_t *n)
{
    sqlite3_stmt *s = d->stmt[S_USER_LIST];
    db_user *arr = NULL;
    size_t count = 0, cap = 0;
    int ret = 0, rc;

    *out = NULL;
    *n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            db_user *a = ncap < SIZE_MAX / sizeof *a ? realloc(arr, ncap * sizeof *a) : NULL;
            if (!a) {
                ret = BANTER_ENOMEM;
                break;
            }
            arr = a;
            cap = ncap;
        }
        read_user(s, &arr[count++], NULL);
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = fail(d, rc);
    stmt_done(s);
    if (ret) {
        free(arr);
        return ret;
    }
    *out = arr;
    *n = count;
    return 0;
}

int db_user_disable(db *d, const char *name)
{
    sqlite3_stmt *s = d->stmt[S_USER_DISABLE];
    int ret = bind_name(d, s, 1, name);
    if (ret == 0) {
        int rc = sqlite3_step(s);
        ret = rc == SQLITE_DONE ? 0 : fail(d, rc);
    }
    stmt_done(s);
    if (ret || sqlite3_changes(d->sql) == 1)
        return ret;
    db_user u;
    ret = db_user_get(d, name, &u, NULL);
    return ret ? ret : 1;
}

/* ---- devices ---- */

int db_device_user(db *d, const uint8_t key[static 32], db_user *out)
{
    sqlite3_stmt *s = d->stmt[S_DEVICE_USER];
    int ret = 0;
    int rc = sqlite3_bind_blob(s, 1, key, 32, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        read_user(s, out, NULL);
    else
        ret = rc == SQLITE_DONE ? BANTER_ENOENT : fail(d, rc);
    stmt_done(s);
    return ret;
}

int db_device_bind(db *d, const uint8_t key[static 32], const char *name, int64_t now_ms)
{
    sqlite3_stmt *s = d->stmt[S_DEVICE_BIND];
    int ret = bind_name(d, s, 2, name);
    if (ret == 0) {
        int rc = sqlite3_bind_blob(s, 1, key, 32, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 3, now_ms);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(s);
        ret = rc == SQLITE_DONE ? 0 : fail(d, rc);
    }
    stmt_done(s);
    return ret;
}

int db_device_unbind(db *d, const uint8_t key[static 32])
{
    sqlite3_stmt *s = d->stmt[S_DEVICE_UNBIND];
    int rc = sqlite3_bind_blob(s, 1, key, 32, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    int ret = rc == SQLITE_DONE ? (sqlite3_changes(d->sql) == 1 ? 0 : 1) : fail(d, rc);
    stmt_done(s);
    return ret;
}

/* ---- the directory ---- */

/* Column names, indexed by rv_field; RV_F_COUNT is the account name. Only
 * these constants ever become part of SQL text; values are bound. */
static const char *const field_col[RV_F_COUNT + 1] = {
    [RV_F_DISPLAY_NAME] = "p.display_name",
    [RV_F_DEPARTMENT] = "p.department",
    [RV_F_TITLE] = "p.title",
    [RV_F_EMAIL] = "p.email",
    [RV_F_PHONE] = "p.phone",
    [RV_F_LOCATION] = "p.location",
    [RV_F_ABOUT] = "p.about",
    [RV_F_COUNT] = "u.name",
};

int db_profile_set(db *d, const char *name, const struct rv_profile *p, int64_t now_ms)
{
    sqlite3_stmt *s = d->stmt[S_PROFILE_SET];
    int ret = bind_name(d, s, 1, name);
    int rc = SQLITE_OK;
    for (int i = 0; ret == 0 && rc == SQLITE_OK && i < RV_F_COUNT; i++) {
        if (p->f[i] && strlen(p->f[i]) > rv_field_max((rv_field)i)) {
            set_errmsg(d, "profile field too long");
            ret = BANTER_EINVAL;
        } else if (p->f[i]) {
            rc = sqlite3_bind_text(s, 2 + i, p->f[i], -1, SQLITE_STATIC);
        }
    }
    if (ret == 0) {
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 2 + RV_F_COUNT, now_ms);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(s);
        ret = rc == SQLITE_DONE ? 0 : fail(d, rc);
    }
    stmt_done(s);
    return ret;
}

#define SEARCH_FROM                                                                                \
    " FROM users u LEFT JOIN profiles p ON p.user = u.name"                                        \
    " WHERE u.disabled = 0 AND coalesce(p.visibility, 0) = 0"
#define SEARCH_SQL_MAX 2048

/*
 * The WHERE clause of a search, from constant fragments only: each
 * criterion adds " AND <column> <test> ?N" with the column from field_col
 * and its value bound as parameter N (1..n). Case-insensitive as SQLite's
 * lower() is: ASCII letters only.
 */
static void search_where(const struct rv_search *q, char *sql, size_t cap, size_t *o)
{
    for (size_t i = 0; i < q->n; i++) {
        const char *col = field_col[q->c[i].field <= RV_F_COUNT ? q->c[i].field : RV_F_COUNT];
        *o += (size_t)snprintf(sql + *o, cap - *o,
                               q->c[i].contains
                                   ? " AND instr(lower(coalesce(%s, '')), lower(?%zu)) > 0"
                                   : " AND lower(coalesce(%s, '')) = lower(?%zu)",
                               col, i + 1);
    }
}

/* Prepare one search statement (the count or the page) and bind the values. */
static int search_prepare(db *d, const struct rv_search *q, bool count, sqlite3_stmt **out)
{
    char sql[SEARCH_SQL_MAX];
    size_t o =
        (size_t)snprintf(sql, sizeof sql, "%s",
                         count ? "SELECT count(*)" SEARCH_FROM
                               : "SELECT u.name, coalesce(p.display_name, ''),"
                                 " coalesce(p.department, ''), coalesce(p.title, '')" SEARCH_FROM);
    search_where(q, sql, sizeof sql, &o);
    if (!count)
        o += (size_t)snprintf(sql + o, sizeof sql - o, " ORDER BY u.name LIMIT ?%zu OFFSET ?%zu",
                              q->n + 1, q->n + 2);
    if (o >= sizeof sql)
        return BANTER_EINVAL;
    int rc = sqlite3_prepare_v2(d->sql, sql, -1, out, NULL);
    for (size_t i = 0; rc == SQLITE_OK && i < q->n; i++)
        rc = sqlite3_bind_text(*out, (int)i + 1, q->c[i].value, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK && !count)
        rc = sqlite3_bind_int64(*out, (int)q->n + 1, q->per_page);
    if (rc == SQLITE_OK && !count)
        rc = sqlite3_bind_int64(*out, (int)q->n + 2, (int64_t)q->page * q->per_page);
    return rc == SQLITE_OK ? 0 : fail(d, rc);
}

static char *column_dup(sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    return strdup(t ? (const char *)t : "");
}

/* The rows of a page statement into res->users (per_page at most). */
static int search_rows(db *d, sqlite3_stmt *s, uint32_t per_page, struct rv_search_result *res)
{
    static const rv_field shown[] = {RV_F_DISPLAY_NAME, RV_F_DEPARTMENT, RV_F_TITLE};
    int rc = SQLITE_DONE;
    res->users = calloc(per_page, sizeof *res->users);
    if (!res->users)
        return BANTER_ENOMEM;
    while (res->n < per_page && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct rv_user *u = &res->users[res->n++];
        const unsigned char *t = sqlite3_column_text(s, 0);
        snprintf(u->name, sizeof u->name, "%s", t ? (const char *)t : "");
        for (int i = 0; i < 3; i++)
            if (!(u->p.f[shown[i]] = column_dup(s, i + 1)))
                return BANTER_ENOMEM;
    }
    return res->n == per_page || rc == SQLITE_DONE ? 0 : fail(d, rc);
}

int db_search(db *d, const struct rv_search *q, struct rv_search_result *res)
{
    sqlite3_stmt *s = NULL;
    memset(res, 0, sizeof *res);
    res->page = q->page;
    if (q->n < 1 || q->n > RV_SEARCH_MAX || q->per_page < 1 || q->per_page > RV_PER_PAGE_MAX)
        return BANTER_EINVAL;
    int ret = search_prepare(d, q, true, &s);
    if (ret == 0) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            res->total = (uint64_t)sqlite3_column_int64(s, 0);
        else
            ret = fail(d, rc);
    }
    sqlite3_finalize(s);
    s = NULL;
    if (ret == 0)
        ret = search_prepare(d, q, false, &s);
    if (ret == 0)
        ret = search_rows(d, s, q->per_page, res);
    sqlite3_finalize(s);
    return ret;
}
