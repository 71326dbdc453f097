/* SPDX-License-Identifier: MIT */
/*
 * db_mail.h - sealed copies stored for devices that were not connected
 * (docs/rendezvous.md 6.3; schema 3, the conventions of db.h).
 *
 *   sealed(seq, id, to_device, to_user, from_user, from_device, flags,
 *          size, blob, created, expires): one row per copy, delivered in
 *          seq order; (id, to_device, from_device) is unique, so a copy
 *          sent twice is stored once, and copies from different senders
 *          with the same id are all kept (schema 4).
 *   mailbox(user, count, bytes): what each recipient account's copies
 *          hold, kept by triggers on sealed, for the quota.
 *   mailbox_from(user, sender, count, bytes): what one sending account's
 *          copies hold of a recipient account's mailbox, kept by the same
 *          triggers (a row while there is one copy), for the sender's
 *          share (schema 7).
 *   sealed.from_gone: 1 for a copy whose sending account was deleted
 *          after storing it (db_user_delete), or stored after that (a
 *          copy accepted before the delete reaches the store later: no
 *          account of its sender's name was made at or before its
 *          created time, decided at the insert since schema 10): still
 *          delivered as from that name (flagged DB_MAIL_SENDER_GONE) and
 *          counted in its recipient's mailbox, but in no sender's share,
 *          so an account given the name again (--reuse-name) starts with
 *          an empty share (schema 9).
 *
 * The writes are meant to run inside one transaction per batch (db_begin
 * ... db_commit), so a whole loop iteration's copies share one commit.
 */
#ifndef BANTER_RDV_DB_MAIL_H
#define BANTER_RDV_DB_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

enum {
    DB_MAIL_STORED = 0,
    DB_MAIL_DUPLICATE = 1,
    DB_MAIL_OVER_QUOTA = 2, /* the recipient's mailbox is full */
    DB_MAIL_OVER_SHARE = 3, /* the sender holds its whole share of it */
    DB_MAIL_BLOCKED = 4,    /* the recipient blocked the sender: nothing stored */
};

/* The flag db_mail_fetch adds to a copy whose sending account was deleted
 * (from_gone) or whose sending device is not bound to that account now:
 * the server no longer vouches for the device (rvmsg.h
 * RV_SEAL_SENDER_GONE). */
#define DB_MAIL_SENDER_GONE 0x02u

/* What a put may fill: the recipient account's mailbox in all, and what
 * one other sending account may hold of it (the account's own copies, to
 * its other devices, count against the whole only). */
typedef struct db_mail_quota {
    int64_t count, bytes;
    int64_t sender_count, sender_bytes;
} db_mail_quota;

/* One copy. The pointers are borrowed (by db_mail_put for the call; from
 * db_mail_fetch valid during the callback only). */
typedef struct db_sealed {
    int64_t seq; /* set by the database */
    uint8_t id[16];
    uint8_t to_device[32];
    uint8_t from_device[32];
    const char *to_user;
    const char *from_user;
    uint8_t flags;
    const uint8_t *blob;
    size_t len;
    int64_t created_ms;
    int64_t expires_ms;
} db_sealed;

/* Store s unless its recipient account blocked its sender account
 * (contacts: DB_MAIL_BLOCKED, nothing stored), or that would take the
 * recipient's mailbox over q->count copies or q->bytes bytes
 * (DB_MAIL_OVER_QUOTA), or what the sender account holds of it over
 * q->sender_count or q->sender_bytes (DB_MAIL_OVER_SHARE; not for a copy
 * to the sender's own account). DB_MAIL_STORED, DB_MAIL_DUPLICATE (the
 * same id from the same sending device for the same device is already
 * stored: nothing changed; also when over the quota or the share), or
 * BANTER_E*. Atomic against puts and purges on other connections (other
 * instances): the recipient's usage row is locked first (see
 * db_pgs_mail.c), and the checks read what was committed before. A copy
 * of an earlier holder of its sender's name (no account of that name made
 * at or before s->created_ms: accepted before the account was deleted) is
 * stored with from_gone 1, checked against the mailbox only (no share, no
 * block: both are the name's present holder's). */
BANTER_WUR int db_mail_put_q(db *d, const db_sealed *s, const db_mail_quota *q);

/* db_mail_put_q with the sender's share the whole mailbox. */
BANTER_WUR int db_mail_put(db *d, const db_sealed *s, int64_t max_count, int64_t max_bytes);

/* Delete every copy sender's account stored for user's (what a block
 * takes back; not the copies of a deleted account that had the name
 * before, from_gone); *n gets how many (n may be NULL). On PostgreSQL user's
 * usage row is locked first, to the end of the transaction: run it in the
 * transaction that writes the block, before the block's row, and no put
 * for user on another connection stores a copy from sender after (it
 * waits, then sees the block). */
BANTER_WUR int db_mail_purge_from(db *d, const char *user, const char *sender, int64_t *n);

/* The purges of a pair's blocked sides (db_rel_write): a blocked
 * sa takes back what b stored for a, a blocked sb what a stored for b,
 * in the accounts' lock order (db_mail_lock_order). */
BANTER_WUR int db_mail_purge_blocked(db *d, const char *a, const char *b, bool a_blocked,
                                     bool b_blocked);

/* Delete one copy by its seq, or by id, device and sending device;
 * deleting nothing is not an error. */
BANTER_WUR int db_mail_del_seq(db *d, int64_t seq);
BANTER_WUR int db_mail_del_id(db *d, const uint8_t id[static 16], const uint8_t device[static 32],
                              const uint8_t from_device[static 32]);

typedef void (*db_mail_fn)(void *ud, const db_sealed *s);

/* Call fn with each copy for device with a seq above after that has not
 * expired at now_ms, oldest first, at most max; only copies for the
 * account the device is bound to now (a device bound to another account
 * since gets none of the first account's copies). A copy's flags have
 * DB_MAIL_SENDER_GONE added when its sender account was deleted after
 * storing it or its sending device is not bound to that account now.
 * Returns how many (>= 0) or BANTER_E*. fn must not use the database. */
int db_mail_fetch(db *d, const uint8_t device[static 32], int64_t after, int64_t now_ms, size_t max,
                  db_mail_fn fn, void *ud);

/* Delete at most max copies that expired at now_ms; *n gets how many. */
BANTER_WUR int db_mail_expire(db *d, int64_t now_ms, int64_t max, int64_t *n);

/* One write of a batch, for db_mail_lock_order: the account whose
 * mailbox usage row it locks (a put with FOR UPDATE on PostgreSQL, a
 * delete through the trigger that counts it down: the account of the row
 * deleted) and its place in the batch as the caller gave it. */
typedef struct db_mail_lock {
    const char *user;
    size_t pos; /* unique in the batch: 0, 1, 2, ... as given */
} db_mail_lock;

/* Sort a batch's writes into the order every batch takes its row locks
 * in, so that two batches on two connections (two instances) never wait
 * for each other in a circle: by account (byte order), stable (one
 * account's writes keep the order of pos: a recipient's copies are stored
 * in the order they came, before the deletes placed after them). Without
 * it PostgreSQL aborts one of two batches that lock the same accounts in
 * opposite orders (deadlock_timeout later). Costs one pass when the
 * writes are already in that order. */
void db_mail_lock_order(db_mail_lock *w, size_t n);

/* What user's mailbox holds. */
BANTER_WUR int db_mail_usage(db *d, const char *user, int64_t *count, int64_t *bytes);

#endif
