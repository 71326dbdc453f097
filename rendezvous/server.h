/* SPDX-License-Identifier: MIT */
/*
 * server.h - the rendezvous server's event loop (libuv): a TCP listener,
 * one Banter session (shared/session.h, responder side) per connection,
 * the timers, and the dispatch of messages to the modules that own them
 * (auth, directory, contacts, mailbox, broadcast; docs/architecture.md).
 *
 * What a connection goes through:
 *   accepted      counted as a pending handshake; refused (closed at once)
 *                 when SERVER_MAX_PENDING are already pending or the server
 *                 is stopping;
 *   handshake     Noise XX with identity proofs; then the server sends
 *                 HELLO ("banter-rendezvous", features ["rendezvous"]) and
 *                 the peer's first message must be HELLO. Both must be done
 *                 within SERVER_HANDSHAKE_MS of the accept, else closed;
 *   established   right after the peer's HELLO a device key bound to an
 *                 account is authenticated (auth.h); rendezvous messages
 *                 go to their module; PING is answered with PONG; BYE
 *                 closes. Anything else is refused with ERROR (EBADTYPE, or
 *                 the codec's error for a malformed message); after
 *                 CONN_MAX_REFUSED refusals the connection is closed (BYE
 *                 "too many refused messages");
 *   keepalive     after SERVER_PING_MS without a byte from the peer the
 *                 server sends one PING; after SERVER_IDLE_MS without a byte
 *                 the connection is closed (BYE "idle");
 *   closed        on any session error, end of stream, write error, a peer
 *                 whose unsent output passes CONN_OUT_CAP, or shutdown.
 *
 * Once per loop iteration (right after the poll for I/O, and before the
 * next poll for what timers queued) the server flushes: the mailbox
 * commits its batch of copies to store and answers their senders, then
 * every connection with queued output is written once.
 *
 * One timer, ticking every SERVER_TICK_MS, enforces the deadlines: pending
 * connections are kept in accept order and established ones in order of
 * their last byte received, so each tick only looks at connections that are
 * due. Counts are logged every SERVER_STATS_MS when they changed, never
 * addresses or message contents.
 */
#ifndef BANTER_RDV_SERVER_H
#define BANTER_RDV_SERVER_H

#include <stddef.h>
#include <stdio.h>

#include "core.h"
#include "db.h"
#include "identity.h"

#define SERVER_FEATURE        "rendezvous"
#define SERVER_TICK_MS        1000u
#define SERVER_HANDSHAKE_MS   10000u
#define SERVER_PING_MS        30000u
#define SERVER_IDLE_MS        60000u
#define SERVER_MAX_PENDING    1024u
/* Per connection and SERVER_RATE_WINDOW_MS: changes its contacts hear of
 * (RV_STATUS, RV_PROFILE_SET, RV_CONTACT) and searches; ERATE beyond. */
#define SERVER_RATE_WINDOW_MS 10000u
#define SERVER_CHANGES        64u
#define SERVER_SEARCHES       64u
#define SERVER_STATS_MS       60000u
/* heap_tick (server.c): how often the heap's free bytes are looked at, and
 * by how much they must have grown for a malloc_trim. */
#define SERVER_TRIM_MS        10000u
#define SERVER_TRIM_MIN       (256u * 1024u)
#define SERVER_BACKLOG        4096

typedef struct server_config {
    const identity *id; /* borrowed: the server key */
    db *db;             /* borrowed: accounts, devices, profiles */
    banter_rng rng;     /* ephemeral keys and ping tokens */
    const char *listen; /* "ADDR:PORT", as config_parse_listen() accepts */
    const char *ctl;    /* the control socket's path (ctl.h), or NULL for none */
    core_limits lim;    /* the offline store's expiry and quota */
    uint32_t pub;       /* the profile fields everyone sees (dir_public, dirview.h) */
    FILE *log;          /* where log lines go (stderr) */
    const char *conf;   /* the --config file: its plug-in keys (plugins.h); NULL */
    const char *pdir;   /* where plug-ins keep their folders */
    /* STUN/TURN servers and the TURN secret (icesig.h), or NULL. */
    const struct icesig_config *ice;
    /* One instance of a service (docs/rendezvous.md 15.2): the key this
     * instance proves in the handshake and its certificate from the
     * organisation key (id), sent first as RV_INSTANCE. NULL: id is both. */
    const identity *instance;
    const uint8_t *icert;
    size_t icert_len;
    /* On PostgreSQL: the database's URL and this instance's id among the
     * instances sharing it (xinst.h), or NULL. */
    const char *cluster_url;
    const char *cluster_id;
    /* With a cluster: where to listen for links from the other instances
     * (xlink.h; also the address they dial), or NULL for no links. */
    const char *cluster_listen;
    /* No reachability probes (config `probe = off`): RV_PROBE is refused
     * with EPERM (probe.h). */
    bool no_probe;
} server_config;

/*
 * Listen and serve until SIGINT or SIGTERM, then close every connection
 * (BYE "server shutting down"), free everything and return 0. Returns a
 * negative BANTER_E* code, after logging why, when it cannot start
 * (BANTER_EINVAL: bad address; BANTER_EIO: cannot listen, e.g. the port is
 * taken, or another server uses the control socket) or stopped on an error
 * (BANTER_ENOMEM).
 */
BANTER_WUR int server_run(const server_config *cfg);

/* Bytes of the server's own state per connection (the slot of the
 * connection pool: the record, its libuv handle included, and its
 * session), for the memory figures in docs and bench. */
size_t server_conn_size(void);

#endif
