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
 * first (libpq's connection is not safe for concurrent use). The SQLite
 * backend has no such guard: its cached statements are shared. Conventions:
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
#include "db_admin.h"
#include "db_announce.h"
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
BANTER_WUR int pgs_user_disabled(db *d, const char *name, bool on, int64_t now_ms);
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
BANTER_WUR int pgs_mail_put(db *d, const db_sealed *s, const db_mail_quota *q);
BANTER_WUR int pgs_mail_purge_from(db *d, const char *user, const char *sender, int64_t *n);
BANTER_WUR int pgs_mail_del_seq(db *d, int64_t seq);
BANTER_WUR int pgs_mail_del_id(db *d, const uint8_t id[static 16], const uint8_t device[static 32],
                               const uint8_t from_device[static 32]);
int pgs_mail_fetch(db *d, const uint8_t device[static 32], int64_t after, int64_t now_ms,
                   size_t max, db_mail_fn fn, void *ud);
BANTER_WUR int pgs_mail_expire(db *d, int64_t now_ms, int64_t max, int64_t *n);
BANTER_WUR int pgs_mail_usage(db *d, const char *user, int64_t *count, int64_t *bytes);

/* ---- later files (db_admin.h, db_announce.h ...): append a section ---- */

/* ---- db_pgs_admin.c: the forms of db_admin.h ----
 * The audit log's chain (numbering, hashing, signing) stays in
 * db_admin.c for both backends: it reads the last entry
 * (pgs_audit_last: 0 and zeros when empty), seals the next one and
 * inserts it (pgs_audit_insert: 1 when another instance appended that seq
 * first, so the caller reads again), and verifies the log by walking it
 * in order of seq (pgs_audit_each: hash_ok false when the stored hash or
 * signature has the wrong length). db_backup has no PostgreSQL form (it
 * refuses: pg_dump). */
typedef int (*pgs_audit_fn)(void *ud, const db_audit *a, const uint8_t hash[32],
                            const uint8_t sig[64], bool hash_ok);
BANTER_WUR int pgs_admin_role(db *d, const char *fp, char *role, size_t cap);
BANTER_WUR int pgs_admin_add(db *d, const char *fp, const char *role, const char *by,
                             int64_t now_ms, bool keep_admin);
BANTER_WUR int pgs_admin_remove(db *d, const char *fp, bool keep_admin);
BANTER_WUR int pgs_admin_count(db *d, int64_t *n);
BANTER_WUR int pgs_admin_each(db *d, int (*fn)(void *ud, const db_admin_key *k), void *ud);
BANTER_WUR int pgs_audit_last(db *d, int64_t *seq, uint8_t hash[static 32]);
BANTER_WUR int pgs_audit_insert(db *d, const db_audit *e, const uint8_t hash[static 32],
                                const uint8_t sig[static 64]);
BANTER_WUR int pgs_audit_tail(db *d, int64_t n, int (*fn)(void *ud, const db_audit *a), void *ud);
BANTER_WUR int pgs_audit_each(db *d, pgs_audit_fn fn, void *ud);
BANTER_WUR int pgs_device_each(db *d, const char *user, int64_t offset, int64_t limit,
                               int64_t *total, int (*fn)(void *ud, const db_device *v), void *ud);
BANTER_WUR int pgs_device_marked_each(db *d, int (*fn)(void *ud, const db_device *v), void *ud);
BANTER_WUR int pgs_device_revoke(db *d, const uint8_t key[static 32], const char *by,
                                 int64_t now_ms, char out[static DB_MAX_USER + 1]);
BANTER_WUR int pgs_device_revoked(db *d, const uint8_t key[static 32]);
BANTER_WUR int pgs_revoked_release(db *d, const uint8_t key[static 32], const char *name);
BANTER_WUR int pgs_user_delete(db *d, const char *name, int64_t now_ms);
BANTER_WUR int pgs_name_retired(db *d, const char *name, int64_t *deleted_ms);
BANTER_WUR int pgs_user_set_password(db *d, const char *name, const char *pwhash);
BANTER_WUR int pgs_counts(db *d, int64_t *users, int64_t *devices);
BANTER_WUR int pgs_online_elsewhere(db *d, const char *instance, int64_t offset, size_t limit,
                                    db_online_row *rows, size_t *n, int64_t *total);
BANTER_WUR int pgs_cluster_counts(db *d, int64_t *instances, int64_t *accounts, int64_t *devices);
BANTER_WUR int pgs_mail_stats_get(db *d, db_mail_stats *out);
BANTER_WUR int pgs_mail_purge(db *d, int64_t before_ms, int64_t *n);
BANTER_WUR int pgs_policy_get(db *d, policy *out);
BANTER_WUR int pgs_policy_put(db *d, const policy *p);

/* ---- db_pgs_announce.c: the forms of db_announce.h ---- */
BANTER_WUR int pgs_announce_add(db *d, int64_t now_ms, const char *actor, const char *department,
                                const char *text, int64_t *id, int64_t *devices, int64_t *people);
BANTER_WUR int pgs_shared_clock_ms(db *d, int64_t *now_ms);
BANTER_WUR int pgs_announce_addressed(db *d, int64_t id, const uint8_t key[static 32],
                                      bool awaited);
BANTER_WUR int pgs_announce_pending(db *d, const uint8_t key[static 32], size_t max,
                                    int (*fn)(void *ud, const ann_msg *m), void *ud);
BANTER_WUR int pgs_announce_receipt(db *d, int64_t id, const uint8_t key[static 32], bool read,
                                    int64_t now_ms);
BANTER_WUR int pgs_announce_report_get(db *d, int64_t id, db_announce_report *out);
BANTER_WUR int pgs_revoked_since(db *d, int64_t since_ms, uint8_t (*keys)[32], size_t max,
                                 size_t *n);

#endif
