/* SPDX-License-Identifier: MIT */
/*
 * cluster.h - this server as one instance of several sharing one
 * PostgreSQL database (docs/rendezvous.md 8.2, docs/cluster.md): its
 * membership (join, heartbeats, the reaping of dead instances), the record
 * of which of its devices are online, events posted to other instances and
 * the events posted to it. Built on db_cluster.h over one asynchronous
 * db_pg connection of its own (the loop never waits for it).
 *
 * What it does by itself, on the loop:
 *   - at start and after every reconnection: LISTEN on bt_inst_ID,
 *     register (rows of an earlier life of the same id go), then the
 *     `joined` callback (the owner registers every device it holds again:
 *     what it held before the connection broke may have been reaped), then
 *     it takes the events waiting for it;
 *   - every CLUSTER_BEAT_MS: a heartbeat that also reaps the instances
 *     silent for CLUSTER_DEAD_MS; the accounts that had devices on them go
 *     to `reaped` (their presence changed). When this instance finds it was
 *     reaped itself (it was cut off longer than that), it joins again;
 *   - on a notification on its channel (and after joining): takes its
 *     events, in order, and hands each to `event`.
 * Events are hints: the rows they name are the truth, and every path that
 * uses them must be right when an event is lost (a dead instance, a broken
 * connection) or comes twice.
 *
 * Calls that write (cluster_device, cluster_post) queue a statement and
 * return; their outcome is logged, never reported (a failed post costs a
 * hint; a failed online row is written again at the next join).
 * cluster_device and cluster_presence_changed only queue (a device key and
 * an account name, in two arrays): what one loop iteration queued, or
 * what came while the previous write was in flight, is written as ONE
 * statement (the online rows deleted and inserted as sets, then one
 * NOTIFY on bt_presence per up to 7,900 bytes of names separated by '\n';
 * at most 4,096 devices and 4,096 names a statement). A receiver likewise
 * reads the presence of every name its notifications brought in one
 * query, one in flight at a time (docs/rendezvous.md 8.2).
 */
#ifndef BANTER_RDV_CLUSTER_H
#define BANTER_RDV_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "db_cluster.h"
#include "error.h"

#define CLUSTER_BEAT_MS       1000 /* heartbeat period */
/* Device keys a presence read names for one account (an account has at
 * most 16 devices: docs/rendezvous.md 3). */
#define CLUSTER_PRESENCE_DEVS 16
#define CLUSTER_DEAD_MS       5000 /* an instance silent this long is reaped */

typedef struct cluster cluster;

/* What the cluster tells its owner, on the loop thread. Any may be NULL. */
typedef struct cluster_cbs {
    /* Registered (again): register every device held with cluster_device. */
    void (*joined)(void *ud);
    /* An event posted to this instance; user is the account the device is
     * online as here ("" when it is no longer online here). */
    void (*event)(void *ud, const db_cluster_event *ev, const char *user);
    /* Instances were reaped: users (n) had devices on them. */
    void (*reaped)(void *ud, const char *const *users, size_t n);
    /* An instance said user's presence may have changed (this one too),
     * and it was read (the names of one or more notifications read in one
     * query): the chosen status (RV_P_ONLINE when never set), its text
     * (valid during the call), how many devices are online on any
     * instance, and which (devs: the first CLUSTER_PRESENCE_DEVS by key,
     * ndev of them; valid during the call). */
    void (*presence)(void *ud, const char *user, uint8_t status, const char *text, int64_t online,
                     const uint8_t (*devs)[32], size_t ndev);
    /* The write that put devices online here committed: users (n, each
     * once) are their accounts. An admin's change on another instance that
     * looked for the account's devices before now did not find these: the
     * owner reads the account again (auth_recheck). */
    void (*recorded)(void *ud, const char *const *users, size_t n);
    /* Another instance made an organisation-wide change (cluster_org_changed):
     * what it said (at most CLUSTER_ORG_MAX bytes, no space). */
    void (*org)(void *ud, const char *what);
} cluster_cbs;

/*
 * Join the service on the PostgreSQL database at conninfo as instance id
 * (db_cluster_id_ok). Makes the cluster tables when missing (blocking: call
 * it at start-up), then connects on loop. log (may be NULL) gets a line
 * for joins, reaps and failures; never the URL. 0, BANTER_EINVAL (a bad
 * id or conninfo; why says so), BANTER_EDB (the tables; why), BANTER_ENOMEM.
 */
BANTER_WUR int cluster_new(cluster **out, uv_loop_t *loop, const char *conninfo, const char *id,
                           const cluster_cbs *cbs, void *ud, FILE *log, char *why, size_t cap);

/* Stop beating, close the connection (the handles close with the loop).
 * The instance's rows stay until another reaps them or it joins again.
 * Accepts NULL. Never from one of its own callbacks. */
void cluster_free(cluster *c);

/* This instance's id. */
const char *cluster_id(const cluster *c);

/* Device (of account user) is online here now (on), or no longer (off:
 * the row goes only when it still names this instance). */
void cluster_device(cluster *c, const uint8_t device[static 32], const char *user, bool on);

/* Post an event (kind, row_id) for device to whichever instance holds it
 * (none: nothing happens; this one: it comes back here). done (may be
 * NULL) runs exactly once, also when the cluster is freed first (ret
 * BANTER_EDB): ret 0 with n 1 when an instance holds the device, 0 when
 * none does. */
typedef void (*cluster_posted_fn)(void *ud, int ret, int64_t n);
void cluster_post(cluster *c, const uint8_t device[static 32], int kind, int64_t row_id,
                  cluster_posted_fn done, void *ud);
/* Post an event (kind, body) to every device of account user (or of the
 * accounts named, separated by '\n') online at another instance
 * (db_cluster_post_user; per_account: once per account and instance);
 * the outcome is logged. */
void cluster_post_user(cluster *c, const char *user, bool per_account, int kind,
                       const uint8_t *body, size_t len);
/* The same with body (len bytes, copied now), and when user is not NULL
 * only while device is online as that account (db_cluster_post_body). */
void cluster_post_body(cluster *c, const uint8_t device[static 32], const char *user, int kind,
                       int64_t row_id, const uint8_t *body, size_t len, cluster_posted_fn done,
                       void *ud);

/*
 * Presence across instances: every instance listens on the channel
 * bt_presence. cluster_presence_changed tells them all (this one too) that
 * user's devices or chosen status changed; it is written with (or after)
 * the online rows queued before it, so a reader sees them. Each then reads
 * the presence of the names told (cbs.presence).
 * cluster_presence_all reads every account with a device online anywhere
 * (at start and after a reconnection: notifications missed meanwhile are
 * not replayed): for each, the chosen status (RV_P_ONLINE and "" when
 * never set) and text, and the devices online on any instance (how many,
 * and which). Its callback runs as said below, also when the cluster is
 * freed first (ret BANTER_EDB); text is valid during the call.
 */
typedef void (*cluster_presence_fn)(void *ud, int ret, const char *user, uint8_t status,
                                    const char *text, int64_t online, const uint8_t (*devs)[32],
                                    size_t ndev);
void cluster_presence_changed(cluster *c, const char *user);
/* Read user's presence again here only (cbs.presence), as if told. */
void cluster_presence_reread(cluster *c, const char *user);
/* fn once per account (ret 0), then once with ret 1 and user NULL at the
 * end (or with a BANTER_E* code on failure). */
void cluster_presence_all(cluster *c, cluster_presence_fn fn, void *ud);

/* An organisation-wide change was stored (a word of 1 to CLUSTER_ORG_MAX
 * bytes, no space, e.g. "policy"): every other instance's cbs.org gets it
 * (NOTIFY bt_org, payload "WHAT INSTANCE"; this instance's own is
 * ignored). A lost one costs what the change's reader reads at its next
 * start or timer; a failure is logged. */
#define CLUSTER_ORG_MAX 32
void cluster_org_changed(cluster *c, const char *what);

/* Presence reads (cbs.presence's and cluster_presence_all's) are
 * numbered from 1 in the order they are sent, and answered in that order,
 * each from a later snapshot of the tables. cluster_reads_sent: how many
 * were sent so far (a change committed before now is seen by every read
 * numbered higher). cluster_read_answering: during a presence callback,
 * the number of the read it answers; 0 outside one. */
uint64_t cluster_reads_sent(const cluster *c);
uint64_t cluster_read_answering(const cluster *c);

/*
 * Links between instances (xlink.h): cluster_set_link publishes addr (at
 * most 63 bytes) as this instance's link address in its banter_instances
 * row, now and after every join. cluster_links reads the other instances'
 * addresses: fn once per instance (ret 0), then once with ret 1 and NULL
 * strings at the end, or once with a BANTER_E* code (also when the
 * cluster is freed first); the strings are valid during the call.
 */
typedef void (*cluster_link_fn)(void *ud, int ret, const char *id, const char *addr);
void cluster_set_link(cluster *c, const char *addr);
void cluster_links(cluster *c, cluster_link_fn fn, void *ud);

/* Whether the connection is up and the instance registered. */
bool cluster_joined(const cluster *c);

#endif
