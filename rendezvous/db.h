/* SPDX-License-Identifier: MIT */
/*
 * db.h - the rendezvous server's database (SQLite, or PostgreSQL): accounts,
 * the devices bound to them, profiles and the directory, broadcast
 * recipients. The
 * relations and presence are in db_contacts.h, the stored sealed copies in
 * db_mail.h (same connection, same conventions).
 *
 * One file (--db, default ./rendezvous.db) in WAL mode with
 * synchronous=FULL, created 0600. The schema is versioned with
 * PRAGMA user_version and brought up to date in one transaction when the
 * database is opened; a database from a newer version is refused.
 *
 *   users(name PK, pwhash, admin, disabled, created)
 *   devices(key PK, user -> users.name, created, last_seen)
 *   profiles(user PK -> users.name, display_name, department, title, email,
 *            phone, location, about, visibility, updated)     (schema 2)
 *   users.broadcast; contacts, presence, sealed, mailbox      (schema 3, see
 *            db_contacts.h and db_mail.h)
 *   sealed unique on (id, to_device, from_device)             (schema 4)
 *   admin_keys, audit, revoked                                (schema 5, see
 *            db_admin.h)
 *   announcements (6), mailbox_from (7), retired_names (8),
 *   sealed.from_gone: a deleted sender's copies (schema 9, decided at
 *            the insert too: 10, db_mail.h)
 *
 * Times are milliseconds since 1970-01-01 UTC, handed in by the caller.
 * Every call returns 0, a documented positive value, or a negative
 * BANTER_E* code: BANTER_ENOENT (no such row), BANTER_EINVAL (a bad
 * argument, such as a malformed user name), BANTER_ENOSPC (disk full),
 * BANTER_EDB (any other SQLite or PostgreSQL failure, a lost connection
 * included; db_errmsg() has the text),
 * BANTER_ENOMEM. A failed call leaves the database as it was.
 */
#ifndef BANTER_RDV_DB_H
#define BANTER_RDV_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bcrypto.h"
#include "error.h"
#include "rvmsg.h"

#define DB_MAX_USER 64 /* bytes of a user name */

typedef struct db db;

typedef struct db_user {
    char name[DB_MAX_USER + 1];
    bool admin;
    bool disabled;
    bool broadcast; /* may send organisation broadcasts (admins unless revoked) */
    int64_t created_ms;
    int64_t devices; /* devices bound to the account */
} db_user;

/* Open (creating when missing) the database at path and migrate it. On
 * failure *out is NULL and errmsg (errlen bytes, may be NULL) says why.
 * A path that is a PostgreSQL URL (db_pg_is_url: postgresql://...) opens
 * PostgreSQL instead: its schema brought up to date (db_pg_migrate), then
 * one blocking libpq connection that every call below uses, with the same
 * results (docs/rendezvous.md 8). Calls block: on the server they run on
 * the database thread (dbq.h). */
BANTER_WUR int db_open(db **out, const char *path, char *errmsg, size_t errlen);
/* Accepts NULL. */
void db_close(db *d);
/* Whether d is a PostgreSQL database (else SQLite). */
bool db_is_pg(const db *d);
/* SQLite's text for the last failure. Never NULL. */
const char *db_errmsg(const db *d);

/* Why name is not a valid user name, as a sentence fragment ("may only
 * contain ..."), or NULL when it is valid: 1..DB_MAX_USER bytes of a-z,
 * 0-9, '.', '_', '-', starting with a letter or a digit. */
const char *db_name_problem(const char *name);

/* Add an account. pwhash is a bcrypto_pwhash_str() string. 0 when added,
 * 1 when an account of that name exists (nothing changed), BANTER_EINVAL
 * for a bad name or hash. */
BANTER_WUR int db_user_add(db *d, const char *name, const char *pwhash, bool admin, int64_t now_ms);

/* One account, and its password hash into pwhash (NULL, or
 * BCRYPTO_PWHASH_STRLEN bytes). BANTER_ENOENT when there is none. */
BANTER_WUR int db_user_get(db *d, const char *name, db_user *out, char *pwhash);

/* Every account, ordered by name, in a new array (*out, free() it; NULL
 * when there are none) of *n entries. */
BANTER_WUR int db_user_list(db *d, db_user **out, size_t *n);

/* Disable an account and mark its devices on the revocation list
 * (DB_REVOKED_BY_DISABLE at now_ms, db_admin.h; also when it was
 * disabled already), in one transaction: 0, 1 when it was already
 * disabled, BANTER_ENOENT. */
BANTER_WUR int db_user_disable(db *d, const char *name, int64_t now_ms);
/* Enable it again and take its disable marks off the revocation list (not
 * a device an admin revoked): 0, 1 when it was not disabled,
 * BANTER_ENOENT. */
BANTER_WUR int db_user_enable(db *d, const char *name);
/* Grant (on) or revoke the broadcast right: 0, 1 when it was already so,
 * BANTER_ENOENT. */
BANTER_WUR int db_user_set_broadcast(db *d, const char *name, bool on);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK on this connection (the calls below
 * run in it when one is open). db_rollback is a no-op without one. */
BANTER_WUR int db_begin(db *d);
BANTER_WUR int db_commit(db *d);
void db_rollback(db *d);

/* The enabled or disabled account a device key is bound to (devices of
 * out->devices is filled too). BANTER_ENOENT when the key is not bound. */
BANTER_WUR int db_device_user(db *d, const uint8_t key[static 32], db_user *out);
/* Bind a device key to an account (several per account), rebinding it when
 * it was bound to another one. BANTER_EDB when the account does not exist. */
BANTER_WUR int db_device_bind(db *d, const uint8_t key[static 32], const char *name,
                              int64_t now_ms);
/* Unbind a device key: 0, or 1 when it was not bound. */
BANTER_WUR int db_device_unbind(db *d, const uint8_t key[static 32]);
/* The keys of name's devices, oldest binding first, at most max into
 * keys; *n gets how many: none while the account is disabled (its
 * contacts get no device of it). */
BANTER_WUR int db_devices_of(db *d, const char *name, uint8_t (*keys)[32], size_t max, size_t *n);

/* Set the fields of p that are not NULL ("" clears one) in name's profile,
 * creating it (other fields "") when there is none. BANTER_EINVAL for a
 * field longer than rv_field_max(). */
BANTER_WUR int db_profile_set(db *d, const char *name, const struct rv_profile *p, int64_t now_ms);

/* name's profile: every field that is set (not ""), others NULL; a
 * missing profile has none. Free with db_profile_clear. */
BANTER_WUR int db_profile_get(db *d, const char *name, struct rv_profile *out);
void db_profile_clear(struct rv_profile *p);

/*
 * Search the directory for searcher: accounts that are enabled and match
 * every criterion of q (eq: equal, contains: a substring, both ignoring the
 * case of ASCII letters; RV_F_COUNT is the account name; a missing profile
 * matches as all fields ""), leaving out those whose presence is invisible
 * unless they are the searcher or its approved contacts. What the searcher
 * sees of each account is dirview.h's rule with the public fields pub
 * (dir_public): a criterion on a field only matches accounts whose field
 * the searcher sees, and each result carries the fields it sees that are
 * set (the display name, when seen, also when ""). res gets the total and
 * page q->page of q->per_page accounts ordered by name.
 * On success and on failure, free what res holds with rvmsg_clear() on an
 * rvmsg of type RV_SEARCH_RESULT that contains it. BANTER_EINVAL for a
 * query outside the codec's limits.
 */
BANTER_WUR int db_search(db *d, const char *searcher, const struct rv_search *q, uint32_t pub,
                         struct rv_search_result *res);

/*
 * Who an organisation broadcast from sender goes to (docs/rendezvous.md
 * 7): enabled accounts other than sender with at least one device, in
 * department when it is not "" (equal ignoring ASCII case), ordered by
 * name; page `page` of RV_RCPT_PER_PAGE, each with its devices. On success
 * and on failure free out->users (free()).
 */
BANTER_WUR int db_recipients(db *d, const char *sender, const char *department, uint32_t page,
                             struct rv_recipients *out);

#endif
