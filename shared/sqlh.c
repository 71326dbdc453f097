/* SPDX-License-Identifier: MIT */
/* sqlh.c - SQLite helpers (see sqlh.h). */
#include "sqlh.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void set_msg(char *errmsg, size_t cap, const char *text)
{
    if (errmsg && cap)
        snprintf(errmsg, cap, "%s", text);
}

int sqlh_map(sqlite3 *db, int rc)
{
    switch (rc & 0xff) {
    case SQLITE_FULL:
        return BANTER_ENOSPC;
    case SQLITE_NOMEM:
        return BANTER_ENOMEM;
    case SQLITE_IOERR:
        return db && sqlite3_system_errno(db) == ENOSPC ? BANTER_ENOSPC : BANTER_EDB;
    default:
        return BANTER_EDB;
    }
}

int sqlh_fail(sqlite3 *db, int rc, char *errmsg, size_t cap)
{
    set_msg(errmsg, cap, sqlite3_errmsg(db));
    return sqlh_map(db, rc);
}

int sqlh_exec(sqlite3 *db, const char *sql, char *errmsg, size_t cap)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sqlh_fail(db, rc, errmsg, cap);
}

int sqlh_query_one(sqlite3 *db, const char *sql, int64_t *val, char *txt, size_t txtlen,
                   char *errmsg, size_t cap)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return sqlh_fail(db, rc, errmsg, cap);
    rc = sqlite3_step(s);
    int ret = 0;
    if (rc == SQLITE_ROW) {
        if (val)
            *val = sqlite3_column_int64(s, 0);
        if (txt) {
            const unsigned char *t = sqlite3_column_text(s, 0);
            snprintf(txt, txtlen, "%s", t ? (const char *)t : "");
        }
    } else if (rc == SQLITE_DONE) {
        set_msg(errmsg, cap, "the query returned no row");
        ret = BANTER_EDB;
    } else {
        ret = sqlh_fail(db, rc, errmsg, cap);
    }
    sqlite3_finalize(s);
    return ret;
}

int sqlh_setup(sqlite3 *db, int busy_ms, char *errmsg, size_t cap)
{
    char mode[16];
    sqlite3_extended_result_codes(db, 1);
    int rc = sqlite3_busy_timeout(db, busy_ms);
    if (rc != SQLITE_OK)
        return sqlh_fail(db, rc, errmsg, cap);
    int ret = sqlh_query_one(db, "PRAGMA journal_mode = WAL", NULL, mode, sizeof mode, errmsg, cap);
    if (ret)
        return ret;
    if (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0) {
        set_msg(errmsg, cap, "cannot enable the WAL journal mode");
        return BANTER_EDB;
    }
    return sqlh_exec(db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", errmsg, cap);
}

int sqlh_migrate(sqlite3 *db, const char *const *migrations, int count, const char *who,
                 char *errmsg, size_t cap)
{
    int64_t version = 0;
    int ret = sqlh_exec(db, "BEGIN IMMEDIATE", errmsg, cap);
    if (ret)
        return ret;
    ret = sqlh_query_one(db, "PRAGMA user_version", &version, NULL, 0, errmsg, cap);
    if (ret == 0 && (version < 0 || version > count)) {
        if (errmsg && cap)
            snprintf(errmsg, cap,
                     "database schema version %" PRId64
                     " is not supported (this program knows up to %d): a newer %s made it",
                     version, count, who);
        ret = BANTER_EDB;
    }
    for (int64_t v = version; ret == 0 && v < count; v++)
        ret = sqlh_exec(db, migrations[v], errmsg, cap);
    if (ret == 0 && version < count) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", count);
        ret = sqlh_exec(db, sql, errmsg, cap);
    }
    if (ret == 0)
        ret = sqlh_exec(db, "COMMIT", errmsg, cap);
    if (ret)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return ret;
}
