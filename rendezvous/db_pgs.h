/* SPDX-License-Identifier: MIT */
/*
 * db_pgs.h - private to the database modules: the synchronous PostgreSQL
 * backend behind db.h (db = postgresql://...). db_open makes d->pg, and
 * every public db_* function starts with its dispatch line
 *
 *     if (d->pg)
 *         return pgs_user_add(d, name, pwhash, admin, now_ms);
 *
 * to its PostgreSQL form, named pgs_<the name without db_>, with the same
 * arguments, return codes and semantics (db.h). The forms live in
 * db_pgs_<area>.c and are declared below, one section per file.
 *
 * The connection is libpq's blocking API (it runs on the database thread,
 * dbq.h, or in the offline CLI: never on the loop). One thread at a time
 * is the contract; a mutex makes a second thread's call wait for the
 * first (libpq's connection is not safe for concurrent use; SQLite's
 * serialized mode behaves so too). Conventions:
 *   - Statements are fixed texts with parameters $1..$n, never values
 *     pasted in. pgs_query prepares a text once per connection, keyed by
 *     its address (pass a string literal); pgs_query_once is for a text
 *     built at run time from constant fragments (the directory search).
 *   - Parameters are collected in a pgs_args: integers and text go as
 *     text (PostgreSQL converts them to the column's type; cast with
 *     ::bigint where the type cannot be inferred), blobs as binary.
 *   - Results come in binary: pgs_int reads any integer or boolean
 *     column, pgs_text a text column ("" for NULL), pgs_blob a bytea.
 *   - The column "user" is quoted; text compared or ordered as SQLite does
 *     takes COLLATE "C" (byte order, ASCII-only lower()).
 *   - Errors: BANTER_ENOSPC (disk full), BANTER_ENOMEM, BANTER_EDB for
 *     anything else (a constraint, a lost connection), with the text in
 *     db_errmsg. A lost connection is made again once, at the start of the
 *     next call (prepared statements are prepared again); a transaction it
 *     was in is gone: every call fails until db_rollback.
 *   - Inside db_begin ... db_commit each statement runs under a savepoint,
 *     so a failed call undoes only itself and the transaction goes on, as
 *     on SQLite; db_commit checks that PostgreSQL really committed.
 */
#ifndef BANTER_RDV_DB_PGS_H
#define BANTER_RDV_DB_PGS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "db_contacts.h"
#include "db_mail.h"

#define PGS_ARGS_MAX     16
#define PGS_PREPARED_MAX 96 /* statement texts prepared per connection */

/* The parameters of one statement (fill with pgs_arg_*; fields private). */
typedef struct pgs_args {
    int n;
    bool bad; /* more than PGS_ARGS_MAX, or a blob over INT32_MAX bytes */
    const char *v[PGS_ARGS_MAX];
    int len[PGS_ARGS_MAX];
    int fmt[PGS_ARGS_MAX];
    char num[PGS_ARGS_MAX][24];
} pgs_args;

/* Text (borrowed until the query ran); NULL is SQL NULL. */
void pgs_arg_text(pgs_args *a, const char *s);
/* An integer (as text). */
void pgs_arg_int(pgs_args *a, int64_t v);
/* A bytea of len bytes (borrowed). */
void pgs_arg_blob(pgs_args *a, const void *p, size_t len);
/* A user name, checked first: 0, or BANTER_EINVAL recorded ("bad user
 * name") as db_bind_name does. */
BANTER_WUR int pgs_arg_name(db *d, pgs_args *a, const char *name);

/* Connect d to url (the schema is migrated already). 0, or BANTER_EDB /
 * BANTER_ENOMEM with the reason in d's errmsg. */
BANTER_WUR int pgs_open(db *d, const char *url);
/* Close d's connection (d->pg NULL after). Accepts d->pg NULL. */
void pgs_close(db *d);

/* Run sql (a string literal: prepared once per connection, keyed by its
 * address) with a (NULL for none). On success *out is the result
 * (PGRES_TUPLES_OK or PGRES_COMMAND_OK; PQclear it) and 0 is returned;
 * else *out is NULL and a BANTER_E* code is returned, recorded. */
BANTER_WUR int pgs_query(db *d, const char *sql, const pgs_args *a, PGresult **out);
/* The same for a text built at run time (not prepared). */
BANTER_WUR int pgs_query_once(db *d, const char *sql, const pgs_args *a, PGresult **out);
/* pgs_query for a statement whose result is not needed. */
BANTER_WUR int pgs_exec(db *d, const char *sql, const pgs_args *a);
/* pgs_query for a statement that changes rows: *n gets how many. */
BANTER_WUR int pgs_exec_n(db *d, const char *sql, const pgs_args *a, int64_t *n);
/* pgs_query for a one-row, one-integer-column result into *v (no row:
 * BANTER_EDB, as db_step_int). */
BANTER_WUR int pgs_query_int(db *d, const char *sql, const pgs_args *a, int64_t *v);

/* Result cells (binary). An integer of 1 (boolean), 2, 4 or 8 bytes; 0
 * for NULL or another width. */
int64_t pgs_int(const PGresult *r, int row, int col);
/* A text cell: "" for NULL; valid while r is. */
const char *pgs_text(const PGresult *r, int row, int col);
/* A text cell into out (cap bytes, cut if longer). */
void pgs_copy(const PGresult *r, int row, int col, char *out, size_t cap);
/* A text cell as a new string ("" for NULL); NULL when out of memory. */
char *pgs_dup(const PGresult *r, int row, int col);
/* A bytea cell: its bytes (valid while r is) and *len; NULL for NULL. */
const uint8_t *pgs_blob(const PGresult *r, int row, int col, size_t *len);

/* db_begin / db_commit / db_rollback. */
BANTER_WUR int pgs_begin(db *d);
BANTER_WUR int pgs_commit(db *d);
void pgs_rollback(db *d);

/* ---- db_pgs_db.c: the forms of db.h ---- */
BANTER_WUR int pgs_user_add(db *d, const char *name, const char *pwhash, bool admin,
                            int64_t now_ms);
BANTER_WUR int pgs_user_get(db *d, const char *name, db_user *out, char *pwhash);
BANTER_WUR int pgs_user_list(db *d, db_user **out, size_t *n);
BANTER_WUR int pgs_user_flag(db *d, const char *name, const char *col, bool on);
BANTER_WUR int pgs_device_user(db *d, const uint8_t key[static 32], db_user *out);
BANTER_WUR int pgs_device_bind(db *d, const uint8_t key[static 32], const char *name,
                               int64_t now_ms);
BANTER_WUR int pgs_device_unbind(db *d, const uint8_t key[static 32]);
BANTER_WUR int pgs_devices_of(db *d, const char *name, uint8_t (*keys)[32], size_t max, size_t *n);
BANTER_WUR int pgs_profile_set(db *d, const char *name, const struct rv_profile *p, int64_t now_ms);
BANTER_WUR int pgs_profile_get(db *d, const char *name, struct rv_profile *out);
BANTER_WUR int pgs_search(db *d, const char *searcher, const struct rv_search *q, uint32_t pub,
                          struct rv_search_result *res);
BANTER_WUR int pgs_recipients(db *d, const char *sender, const char *department, uint32_t page,
                              struct rv_recipients *out);

/* ---- db_pgs_contacts.c: the forms of db_contacts.h ---- */
BANTER_WUR int pgs_rel_list(db *d, const char *user, db_rel **out, size_t *n);
BANTER_WUR int pgs_rel_pair(db *d, const char *a, const char *b, rel_side *sa, rel_side *sb);
BANTER_WUR int pgs_rel_write(db *d, const char *a, const char *b, rel_side sa, rel_side sb,
                             int64_t now_ms);
BANTER_WUR int pgs_rel_count(db *d, const char *user, int64_t *n);
BANTER_WUR int pgs_presence_get(db *d, const char *user, uint8_t *status, char *text);
BANTER_WUR int pgs_presence_set(db *d, const char *user, uint8_t status, const char *text,
                                int64_t now_ms);

/* ---- db_pgs_mail.c: the forms of db_mail.h ---- */
BANTER_WUR int pgs_mail_put(db *d, const db_sealed *s, int64_t max_count, int64_t max_bytes);
BANTER_WUR int pgs_mail_del_seq(db *d, int64_t seq);
BANTER_WUR int pgs_mail_del_id(db *d, const uint8_t id[static 16], const uint8_t device[static 32],
                               const uint8_t from_device[static 32]);
int pgs_mail_fetch(db *d, const uint8_t device[static 32], int64_t after, int64_t now_ms,
                   size_t max, db_mail_fn fn, void *ud);
BANTER_WUR int pgs_mail_expire(db *d, int64_t now_ms, int64_t max, int64_t *n);
BANTER_WUR int pgs_mail_usage(db *d, const char *user, int64_t *count, int64_t *bytes);

/* ---- later files (db_admin.h, db_announce.h ...): append a section ---- */

#endif
