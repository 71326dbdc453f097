/* SPDX-License-Identifier: MIT */
/*
 * core.h - what every part of the running server shares: the event loop,
 * the database, the server key, randomness, the log, the settings, and the
 * subsystems (the index of connected accounts, the mailbox, the password
 * checks, the login backoff).
 *
 * One core per server, made and freed by server.c; the other modules get a
 * pointer to it and never free what it points to. Everything runs on the
 * loop thread; nothing here is locked. The database belongs to the
 * database thread (dbq) while the server runs: the loop reaches it only
 * through jobs (core_job), never by calling db_* with k->db itself.
 */
#ifndef BANTER_RDV_CORE_H
#define BANTER_RDV_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "bcrypto.h"
#include "db.h"
#include "dbq.h"
#include "dlist.h"
#include "identity.h"
#include "policy.h"

#define SERVER_NAME "banter-rendezvous"

typedef struct conn conn;
typedef struct online online;
typedef struct mailbox mailbox;
typedef struct pwcheck pwcheck;
typedef struct ratelimit ratelimit;
typedef struct rplugins rplugins;
typedef struct cluster cluster;
typedef struct xinst xinst;
struct xlink;
typedef struct probes probes;
struct icesig_config;

/* Connections in the order they were appended; O(1) removal (conn.c). */
typedef struct conn_list {
    dlist l; /* through conn.list */
    size_t n;
} conn_list;

/* Settings of the offline store (config.h has the keys and defaults). */
typedef struct core_limits {
    int64_t ttl_ms;         /* a stored copy is deleted unsent after this */
    int64_t quota_messages; /* copies per recipient account */
    int64_t quota_bytes;    /* bytes of copies per recipient account */
    /* Of those, what one other sending account may hold in one recipient
     * account's mailbox (quota_sender_percent, rounded up). */
    int64_t sender_pct;
    int64_t sender_messages;
    int64_t sender_bytes;
} core_limits;

/* The limits for ttl_days, the mailbox quota and the sender's share of it
 * in percent (config.h's keys). */
core_limits core_limits_make(int64_t ttl_days, int64_t quota_messages, int64_t quota_mb,
                             int64_t sender_pct);

typedef struct core {
    uv_loop_t *loop;
    db *db;             /* borrowed from the caller of server_run: the dbq's once it runs */
    dbq *dbq;           /* the database thread (dbq.h); NULL before it and once stopping */
    const identity *id; /* the server key, borrowed */
    banter_rng rng;
    FILE *log;
    core_limits lim;
    uint32_t pub;     /* the profile fields everyone sees (dir_public, dirview.h) */
    online *on;       /* connected accounts (online.h) */
    mailbox *mb;      /* sealed copies (mailbox.h) */
    pwcheck *pw;      /* Argon2id in the thread pool (pwcheck.h) */
    ratelimit *rl;    /* login backoff (ratelimit.h) */
    rplugins *pg;     /* plug-in hosts (plugins.h) */
    cluster *cl;      /* the other instances on the shared database (xinst.h), or NULL */
    xinst *xi;        /* what this server knows of them (xinst.c), with cl */
    struct xlink *xl; /* direct links to them (xlink.h), or NULL */
    /* Reachability probes in flight (probe.h). */
    probes *probes;
    /* STUN/TURN for the nodes (icesig.h), or NULL; loop ms of the last
     * scan for TURN credentials due again. */
    const struct icesig_config *ice;
    uint64_t ice_scan;
    /* An instance's certificate (RV_INSTANCE's payload, server.h), sent
     * first on every connection; NULL when the server key is the one the
     * handshake proves. */
    const uint8_t *icert;
    size_t icert_len;
    /* Connections: pending (handshake, before HELLO) in accept order, live
     * ones in order of their last byte received (conn.c keeps both). */
    conn_list pending, live;
    conn *dirty; /* connections with output to write at the next flush */
    /* RV_BATCH builders (conn.c) not in use: a connection holds one only
     * between its first message of a loop iteration and the flush. */
    struct conn_batch *batch_pool;
    size_t batch_pooled;
    /* Connection records, each with its session after it (conn.c). */
    struct slab *conn_pool;
    uint8_t *rbuf; /* every read lands here (callbacks never nest) */
    size_t rbuf_len;
    uint64_t errors;     /* connections closed on an error since the last count */
    int64_t started_ms;  /* wall clock at start (status, acct.h) */
    uint8_t log_level;   /* CORE_LOG_INFO, or CORE_LOG_DEBUG (`log level`, acct.h) */
    bool has_policy;     /* an admin set the organisation's policy (pol) */
    policy pol;          /* the policy, signed (acct.h); its public_fields is pub */
    struct revlist *rev; /* the signed revocation list (orgrevoke.h), or NULL */
    uint64_t rev_built;  /* loop ms it was built */
    bool rev_building;   /* a rebuild is in a database job (orgrevoke.c) */
    uint64_t cert_scan;  /* loop ms of the last scan for certificates to renew (auth.h) */
    bool stopping;
} core;

enum { CORE_LOG_INFO = 0, CORE_LOG_DEBUG = 1 };

/* One log line "banter-rendezvous: ...". Never a password, a key or a
 * message's content. */
__attribute__((format(printf, 2, 3))) void core_log(const core *k, const char *fmt, ...);
/* The same, only at log level debug (each connection accepted and
 * closed, each admin request's arguments). */
__attribute__((format(printf, 2, 3))) void core_debug(const core *k, const char *fmt, ...);

/* Milliseconds since 1970-01-01 UTC (certificates, stored copies). */
int64_t core_wall_ms(void);

/* Hand the database thread a job (dbq_submit): 0, or BANTER_ENOMEM, or
 * BANTER_ESTATE when the server is stopping (no dbq any more); on an
 * error after never runs, and the caller answers and frees arg itself. */
BANTER_WUR static inline int core_job(core *k, dbq_work_fn work, dbq_after_fn after, void *arg)
{
    return k->dbq ? dbq_submit(k->dbq, work, after, arg) : BANTER_ESTATE;
}

/* The loop's clock in milliseconds (deadlines). */
static inline uint64_t core_now(const core *k) { return uv_now(k->loop); }

#endif
