/* SPDX-License-Identifier: MIT */
/*
 * db_cluster.h - several rendezvous instances on one PostgreSQL: who is
 * alive (heartbeats), which instance holds each online device, and wake-ups
 * from one instance to another (docs/rendezvous.md, "Several instances").
 * Storage only: every call is one statement on a db_pg connection
 * (asynchronous, committed when its callback reports success).
 *
 * Tables (PostgreSQL only, made by db_cluster_setup; they hold runtime
 * state, not accounts, so they are outside the numbered schema):
 *   banter_instances(id PK, started, heartbeat, link)   times: the database's
 *                                                       clock, ms since 1970;
 *                                                       link: ADDR:PORT of its
 *                                                       links (xlink.h) or NULL
 *   banter_online(device PK, "user", instance -> banter_instances.id
 *                 ON DELETE CASCADE, since)
 *   banter_events(seq PK, instance -> banter_instances.id ON DELETE CASCADE,
 *                 kind, device, row_id, created, body)
 *
 * Delivery between instances: the instance that stores a row for a device
 * (a sealed copy, a presence change, a contact update, an ICE message, an
 * admin action) posts an event naming the row (kind, row id) to the
 * instance holding the device, in one statement with pg_notify on that
 * instance's channel bt_inst_ID (payload: the event's seq, a few bytes).
 * PostgreSQL sends the notification only at commit. The woken instance
 * takes its events (db_cluster_take) and serves the rows they name. The
 * rows stay the truth: a sealed copy is deleted only when its device
 * acknowledged it, so an event lost with a dying instance costs nothing
 * (the device fetches its mailbox when it logs in again elsewhere); an
 * instance takes its events again after every reconnection (notifications
 * sent while it was away are not replayed).
 *
 * Instance ids are 1..32 bytes of a-z, 0-9 and '_'.
 */
#ifndef BANTER_RDV_DB_CLUSTER_H
#define BANTER_RDV_DB_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "db_pg.h"

#define DB_CLUSTER_MAX_ID   32
#define DB_CLUSTER_TAKE_MAX 256 /* events taken at once */

/* Event kinds: what the row id names. */
enum db_cluster_kind {
    DBC_SEALED = 1,   /* sealed.seq: a stored copy for the device */
    DBC_PRESENCE = 2, /* presence of an account changed (row id unused) */
    DBC_CONTACT = 3,  /* a relation of the device's account changed */
    DBC_ICE = 4,      /* an ICE signaling message (its row) */
    DBC_ADMIN = 5,    /* an admin action on the device or its account */
    DBC_ACK = 6,      /* sealed.seq: a copy this device sent was acknowledged */
};

#define DB_CLUSTER_MAX_USER 64

typedef struct db_cluster_event {
    int64_t seq;
    int kind;
    uint8_t device[32];
    int64_t row_id;
    char user[DB_CLUSTER_MAX_USER + 1]; /* the account device is online as at the taker, or "" */
    const uint8_t *body; /* what the poster attached (valid during the callback), or NULL */
    size_t body_len;
} db_cluster_event;

#define DB_CLUSTER_BODY_MAX 65536 /* bytes attached to one event at most */

/* Create the tables when missing (blocking, at start-up, like
 * db_pg_migrate). 0 or BANTER_EDB with errmsg. */
BANTER_WUR int db_cluster_setup(const char *conninfo, char *errmsg, size_t cap);

/* Whether id is a valid instance id. */
bool db_cluster_id_ok(const char *id);

/* A call's outcome: ret 0 or BANTER_EDB (errmsg says why); n as each call
 * documents. Runs exactly once unless the connection is freed first. */
typedef void (*db_cluster_done_fn)(void *ud, int ret, int64_t n, const char *errmsg);

/*
 * Join as instance id: listen on bt_inst_ID, register (a row of a
 * previous life of the same id is renewed and its online devices and
 * events dropped). n is 0. 0, BANTER_EINVAL for a bad id, or as
 * db_pg_query (then cb never runs).
 */
BANTER_WUR int db_cluster_join(db_pg *p, const char *id, db_cluster_done_fn cb, void *ud);

/*
 * Beat for id and reap the instances whose last beat is older than
 * dead_after_ms (their online devices and events go with them). users
 * gets the accounts that had devices on a reaped instance (their presence
 * may have changed), as db_cluster_users_fn: called once with every name,
 * then the done callback with n = the number of instances reaped, or -1
 * when id itself had been reaped by another instance (join again, then
 * register the devices again).
 */
typedef void (*db_cluster_users_fn)(void *ud, const char *const *users, size_t n);
BANTER_WUR int db_cluster_heartbeat(db_pg *p, const char *id, int64_t dead_after_ms,
                                    db_cluster_users_fn users, db_cluster_done_fn cb, void *ud);

/* Record device (of account user) online at instance id (taking it over
 * from another instance), or offline (only when id still holds it). n is
 * 1 when a row changed, else 0. */
BANTER_WUR int db_cluster_online(db_pg *p, const char *id, const uint8_t device[static 32],
                                 const char *user, bool on, db_cluster_done_fn cb, void *ud);

/* Post an event (kind, row_id) for device to whichever instance holds it,
 * waking that instance. n is 1 when posted, 0 when the device is online
 * nowhere (the row waits for the device's next login). */
BANTER_WUR int db_cluster_post(db_pg *p, const uint8_t device[static 32], int kind, int64_t row_id,
                               db_cluster_done_fn cb, void *ud);
/* The same with body (len bytes, at most DB_CLUSTER_BODY_MAX, copied
 * now) kept in the event: what has no row of its own (an ICE message in
 * transit) travels in it; and when user is not NULL, only while device is
 * online as that account (n 0 otherwise: a device key names no account
 * by itself). BANTER_ETOOBIG past the cap. */
BANTER_WUR int db_cluster_post_body(db_pg *p, const uint8_t device[static 32], const char *user,
                                    int kind, int64_t row_id, const uint8_t *body, size_t len,
                                    db_cluster_done_fn cb, void *ud);

/* Post an event (kind, row_id, body as db_cluster_post_body) for every
 * device of account user online at an instance other than id (once per
 * device); user may name several accounts, separated by '\n' (names
 * hold no control characters), in one statement; per_account: once per
 * account and instance (to one of its devices there), for an event that
 * the instance handles for the whole account. n is the number of events
 * posted. */
BANTER_WUR int db_cluster_post_user(db_pg *p, const char *id, const char *user, bool per_account,
                                    int kind, int64_t row_id, const uint8_t *body, size_t len,
                                    db_cluster_done_fn cb, void *ud);

/* Take (remove) instance id's oldest events, up to DB_CLUSTER_TAKE_MAX, in
 * the order they were posted, each with the account its device is online
 * as at id now ("" when it is not): ev (valid during the call) of n, ret as
 * db_cluster_done_fn. When n is DB_CLUSTER_TAKE_MAX take again. */
typedef void (*db_cluster_take_fn)(void *ud, int ret, const db_cluster_event *ev, size_t n,
                                   const char *errmsg);
BANTER_WUR int db_cluster_take(db_pg *p, const char *id, db_cluster_take_fn cb, void *ud);

#endif
