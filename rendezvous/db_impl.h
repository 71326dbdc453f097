/* SPDX-License-Identifier: MIT */
/*
 * db_impl.h - private to the database modules (db.c, db_contacts.c,
 * db_mail.c, db_pgs*.c ...): the connection record, the cached statements
 * and the small helpers they share. Nothing else includes it.
 */
#ifndef BANTER_RDV_DB_IMPL_H
#define BANTER_RDV_DB_IMPL_H

#include <sqlite3.h>

#include "db.h"

#define DB_ERRMSG_LEN 256

/* Every cached statement, whichever file uses it. Prepared on first use
 * (db_stmt) and kept until db_close. */
enum db_slot {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_USER_ADD,
    S_USER_GET,
    S_USER_LIST,
    S_USER_FLAG,
    S_DEVICE_USER,
    S_DEVICE_BIND,
    S_DEVICE_UNBIND,
    S_DEVICES_OF,
    S_PROFILE_SET,
    S_PROFILE_GET,
    S_REL_LIST,
    S_REL_GET,
    S_REL_PUT,
    S_REL_DEL,
    S_REL_COUNT,
    S_PRESENCE_GET,
    S_PRESENCE_SET,
    S_MAIL_USAGE,
    S_MAIL_INSERT,
    S_MAIL_DEL_SEQ,
    S_MAIL_DEL_ID,
    S_MAIL_FETCH,
    S_MAIL_EXPIRE,
    S_RCPT_COUNT,
    S_RCPT_PAGE,
    S_SLOT_COUNT
};

struct pgs; /* db_pgs.c: the PostgreSQL connection */

/* One of sql (SQLite) and pg (PostgreSQL, db_pgs.h) is set: every public
 * db_* function starts with `if (d->pg) return pgs_...`. */
struct db {
    struct pgs *pg;
    sqlite3 *sql;
    sqlite3_stmt *stmt[S_SLOT_COUNT];
    char errmsg[DB_ERRMSG_LEN];
};

/* The schema's migrations, SQLite's and PostgreSQL's forms (arrays of the
 * returned count, static; either pointer may be NULL). */
int db_schema(const char *const **sqlite, const char *const **pg);
/* Record text as the last failure. */
void db_seterr(db *d, const char *text);
/* Record SQLite's text for rc and return the matching BANTER_E* code. */
int db_fail(db *d, int rc);
/* The cached statement for slot, preparing sql on first use. 0, or a
 * BANTER_E* code (recorded). */
BANTER_WUR int db_stmt(db *d, enum db_slot slot, const char *sql, sqlite3_stmt **out);
/* Reset a statement and clear its bindings (after every use). */
void db_done(sqlite3_stmt *s);
/* Bind a user name, after checking it (BANTER_EINVAL for a bad one). */
BANTER_WUR int db_bind_name(db *d, sqlite3_stmt *s, int col, const char *name);
/* Step s (bound) for one row; its first column as an integer into *out.
 * s is reset. No row: BANTER_EDB. */
BANTER_WUR int db_step_int(db *d, sqlite3_stmt *s, int64_t *out);
/* Room for one more element in the growable array *arrp (of *cap
 * elements of size bytes, n used): 0 or BANTER_ENOMEM (unchanged). */
BANTER_WUR int db_grow(void *arrp, size_t *cap, size_t n, size_t size);
/* A text column as a new string ("" for NULL); NULL when out of memory. */
char *db_column_dup(sqlite3_stmt *s, int col);
/* A text column into out (cap bytes, cut if longer). */
void db_column_copy(sqlite3_stmt *s, int col, char *out, size_t cap);

#endif
