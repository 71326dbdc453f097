/* SPDX-License-Identifier: MIT */
/*
 * db_admin.h - the database side of remote administration (schema 5 of
 * db.h, same connection and conventions): admin keys and their roles, the
 * audit log, revoked device keys, and the account and mailbox operations
 * only admins run (delete, new password, statistics, purge, backup).
 *
 *   admin_keys(fp PK: 40 digits, role 'admin'|'auditor', added, added_by)
 *   audit(seq PK, ts, actor, cmd, target, result, hash, sig)
 *   revoked(key PK, user, revoked, revoked_by)
 *
 * A row of revoked is an admin's `device revoke` (revoked_by: the actor;
 * refused at login for good), or a mark left by `user disable` or `user
 * delete` on the account's devices (revoked_by DB_REVOKED_BY_DISABLE or
 * DB_REVOKED_BY_DELETE, never an actor's text): on the revocation list
 * like the others, but not refused at login (the account's state
 * answers), taken off by `user enable` (the disable's) or when the key
 * logs in to that account again (db_revoked_release).
 *
 * The audit log is append-only and hash-chained: entry n's hash is
 * BLAKE2b-256 over the previous entry's hash (32 zero bytes for the first)
 * and entry n's fields (db_audit_hash), and sig is the server key's
 * Ed25519 signature of that hash. db_audit_verify walks the log in order
 * and finds an edited entry (its hash no longer matches), a removed or
 * reordered one (the chain or the sequence breaks) and a forged one (no
 * valid signature without the server key, which lives in its own file
 * beside the database, not in it).
 *
 * Errors as db.h. Statements are prepared per call: these run rarely.
 */
#ifndef BANTER_RDV_DB_ADMIN_H
#define BANTER_RDV_DB_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "identity.h"
#include "policy.h"

#define DB_FP_DIGITS          IDENTITY_FP_DIGITS /* 40 */
#define DB_AUDIT_TEXT         256u               /* bytes of an audit field (cut beyond) */
#define DB_ROLE_ADMIN         "admin"
#define DB_ROLE_AUDITOR       "auditor"
/* revoked_by of the marks of `user disable` and `user delete` */
#define DB_REVOKED_BY_DISABLE "(account disabled)"
#define DB_REVOKED_BY_DELETE  "(account deleted)"

/* The digits of a fingerprint as typed ("27015 33990 ...", dashes too)
 * into out: 0, or BANTER_EINVAL unless exactly 40 digits. */
BANTER_WUR int db_fp_digits(const char *typed, char out[static DB_FP_DIGITS + 1]);

/* The role of the admin key with fingerprint fp (40 digits) into role
 * (DB_AUDIT_TEXT bytes). BANTER_ENOENT when it is not an admin key. */
BANTER_WUR int db_admin_role(db *d, const char *fp, char *role, size_t cap);
/*
 * Authorize fp with role ("admin" or "auditor"): 0 when added, 1 when it
 * was there (its role is set to role). BANTER_EINVAL for a bad role.
 * With keep_admin, a change of role that would leave no key with the role
 * "admin" is refused with BANTER_ESTATE and nothing changes. The check and
 * the change are one statement: under SQLite's write lock, and on
 * PostgreSQL with the admin keys' rows locked first, so two instances
 * taking the role from the last two admin keys at once cannot both pass.
 */
BANTER_WUR int db_admin_add(db *d, const char *fp, const char *role, const char *by, int64_t now_ms,
                            bool keep_admin);
/* 0 when removed, 1 when it was not an admin key. With keep_admin,
 * BANTER_ESTATE (nothing removed) when it is the last key with the role
 * "admin", checked as db_admin_add does. */
BANTER_WUR int db_admin_remove(db *d, const char *fp, bool keep_admin);
/* Admin keys with the role "admin". */
BANTER_WUR int db_admin_count(db *d, int64_t *n);

typedef struct db_admin_key {
    char fp[DB_FP_DIGITS + 1];
    char role[16];
    char added_by[DB_AUDIT_TEXT];
    int64_t added_ms;
} db_admin_key;
/* Every admin key, by fingerprint: fn per row (a non-zero return stops
 * and is returned). */
BANTER_WUR int db_admin_each(db *d, int (*fn)(void *ud, const db_admin_key *k), void *ud);

/* ---- the audit log ---- */

typedef struct db_audit {
    int64_t seq, ts;
    char actor[DB_AUDIT_TEXT];  /* "admin 27015...", "auditor ...", "local uid 0" */
    char cmd[DB_AUDIT_TEXT];    /* "user.disable" */
    char target[DB_AUDIT_TEXT]; /* the arguments that say what (never a password) */
    char result[DB_AUDIT_TEXT]; /* "ok", or the error code and sentence */
} db_audit;

/* Append one entry (fields cut to DB_AUDIT_TEXT - 1 bytes), chained and
 * signed by id. *seq (may be NULL) gets its number. */
BANTER_WUR int db_audit_append(db *d, const identity *id, int64_t now_ms, const char *actor,
                               const char *cmd, const char *target, const char *result,
                               int64_t *seq);
/* The last n entries, oldest first, to fn. */
BANTER_WUR int db_audit_tail(db *d, int64_t n, int (*fn)(void *ud, const db_audit *a), void *ud);
/* The hash of an entry after prev (the chain's rule, for tests). */
void db_audit_hash(const uint8_t prev[static 32], const db_audit *a, uint8_t out[static 32]);
/*
 * Check the whole log against the server's public key. 0 when intact
 * (*n entries); BANTER_EFORMAT when not, with *bad the first entry that
 * fails and why (a sentence) in why; other codes for database failures.
 */
BANTER_WUR int db_audit_verify(db *d, const uint8_t pub[static 32], int64_t *n, int64_t *bad,
                               char *why, size_t cap);

/* ---- devices ---- */

typedef struct db_device {
    uint8_t key[32];
    char user[DB_MAX_USER + 1];
    int64_t created_ms, last_seen_ms;
} db_device;
/* Devices (of user, or all when user is NULL) ordered by user and age,
 * from offset, at most limit, to fn. *total gets how many there are. */
BANTER_WUR int db_device_each(db *d, const char *user, int64_t offset, int64_t limit,
                              int64_t *total, int (*fn)(void *ud, const db_device *v), void *ud);
/* The keys no account has bound that a mark of `user delete` or `user
 * disable` still names (a deleted account's devices), by key, to fn:
 * user is the account the mark names, created_ms the mark's time,
 * last_seen_ms 0. A non-zero return of fn stops and is returned. */
BANTER_WUR int db_device_marked_each(db *d, int (*fn)(void *ud, const db_device *v), void *ud);
/* Revoke a device key: unbound, and refused at login from now on. 0 when
 * it was bound (out: the account it was bound to); 1 when no account had
 * it bound but a mark named it (a deleted account's device,
 * db_device_marked_each): the mark becomes this revocation, at now_ms
 * (out: the account the mark named). BANTER_ENOENT when neither. */
BANTER_WUR int db_device_revoke(db *d, const uint8_t key[static 32], const char *by, int64_t now_ms,
                                char out[static DB_MAX_USER + 1]);
/* 1 when an admin revoked key (`device revoke`), 0 when not (also when
 * only a disable's or a delete's mark names it). */
BANTER_WUR int db_device_revoked(db *d, const uint8_t key[static 32]);
/* key just logged in to account name: the mark a disable or a delete of
 * that account left on it is taken off. 1 when one was, 0 when none, or
 * BANTER_E* (negative). */
BANTER_WUR int db_revoked_release(db *d, const uint8_t key[static 32], const char *name);

/* ---- accounts ---- */

/* Delete an account and everything of it (devices, profile, relations,
 * stored copies); its devices are marked on the revocation list first
 * (DB_REVOKED_BY_DELETE, at now_ms), and the copies it stored for others
 * are kept for them but leave its sender share (sealed.from_gone,
 * db_mail.h), in the same transaction. 0, BANTER_ENOENT. */
BANTER_WUR int db_user_delete(db *d, const char *name, int64_t now_ms);
/* Whether name is the name of a deleted account (a trigger keeps it when
 * the account row goes, and drops it when an account of that name is
 * added again): 0 with *deleted_ms when it is, BANTER_ENOENT when not. */
BANTER_WUR int db_name_retired(db *d, const char *name, int64_t *deleted_ms);
/* A new password hash (bcrypto_pwhash_str). 0, BANTER_ENOENT. */
BANTER_WUR int db_user_set_password(db *d, const char *name, const char *pwhash);
/* The number of accounts, of bound devices. */
BANTER_WUR int db_counts(db *d, int64_t *users, int64_t *devices);
/* A device online at another instance (banter_online, db_cluster.h). */
typedef struct db_online_row {
    uint8_t key[32];
    char user[DB_MAX_USER + 1];
    char instance[33]; /* DB_CLUSTER_MAX_ID + 1 */
    int64_t since_ms;
} db_online_row;
/* On PostgreSQL: the devices online at instances other than instance,
 * ordered by instance, user and key, from offset, at most limit (<= cap
 * of rows); *n how many came, *total how many there are.
 * BANTER_EUNSUPPORTED on SQLite. */
BANTER_WUR int db_online_elsewhere(db *d, const char *instance, int64_t offset, size_t limit,
                                   db_online_row *rows, size_t *n, int64_t *total);

/* On PostgreSQL, the service's instances (db_cluster.h: banter_instances,
 * banter_online): how many are registered, and the accounts and devices
 * online on any of them. BANTER_EUNSUPPORTED on SQLite (zeros). */
BANTER_WUR int db_cluster_counts(db *d, int64_t *instances, int64_t *accounts, int64_t *devices);

/* ---- the offline store ---- */

typedef struct db_mail_stats {
    int64_t copies, bytes, users; /* stored copies, their bytes, accounts with any */
    int64_t oldest_ms;            /* the oldest copy's time, 0 with none */
} db_mail_stats;
BANTER_WUR int db_mail_stats_get(db *d, db_mail_stats *out);
/* Delete stored copies created before before_ms; *n how many. */
BANTER_WUR int db_mail_purge(db *d, int64_t before_ms, int64_t *n);

/* ---- the organisation's policy ---- */

/* The stored policy's values (not its signature: the server signs what it
 * sends). BANTER_ENOENT when no admin set one. */
BANTER_WUR int db_policy_get(db *d, policy *out);
/* Store p's values (serial, issued, rules). BANTER_ESTATE when the
 * stored one's serial is not lower (on PostgreSQL, shared by instances:
 * another instance stored that serial or a later one first). */
BANTER_WUR int db_policy_put(db *d, const policy *p);

/* ---- backup ---- */

/* A consistent copy of the database (SQLite's online backup) into the
 * new file name, created 0600 beside the database: letters, digits, '.',
 * '_', '-', ending in ".db" (else BANTER_EINVAL with why: so it can never
 * be a file SQLite or the server keeps beside the database, such as a
 * journal); an existing file is never replaced (BANTER_EIO with why).
 * path gets the file's full path. BANTER_ENOSPC (nothing written) when
 * the copy would leave less than the database's size, and at least
 * DB_BACKUP_KEEP_FREE, free on the database's file system. */
#define DB_BACKUP_KEEP_FREE (64ull << 20)
BANTER_WUR int db_backup(db *d, const char *name, char *path, size_t cap, char *why, size_t whycap);

#endif
