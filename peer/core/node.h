/* SPDX-License-Identifier: MIT */
/*
 * node.h - the Banter node: identity, peers, connections, outbox, discovery
 * and the control socket, on one GLib main loop.
 *
 * node_run() owns everything it creates and returns when SIGINT or SIGTERM
 * arrives (after saying goodbye to peers and withdrawing its mDNS service).
 * The rest of this header is the interface control.c uses to serve
 * requests; every call runs on the node's main loop.
 */
#ifndef BANTER_PEER_NODE_H
#define BANTER_PEER_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/home.h"
#include "identity.h"
#include "core/store.h"

#define NODE_DEFAULT_PORT 7070
#define NODE_MAX_STATIC   32
/* Liveness: a PING every KEEPALIVE_MS; silence for TIMEOUT_MS ends a
 * connection; a handshake must finish within HANDSHAKE_MS. */
#define NODE_KEEPALIVE_MS 5000
#define NODE_TIMEOUT_MS   15000
#define NODE_HANDSHAKE_MS 10000
/* Connections still in their handshake, at most. */
#define NODE_MAX_PENDING  256

typedef struct node_config {
    home home;
    char name[BANTER_MAX_NAME + 1];
    uint16_t port; /* 0: any free port */
    bool mdns;
    size_t nstatic;
    char static_peers[NODE_MAX_STATIC][300]; /* "host:port" */
    char rendezvous[300];                    /* "host:port", or "" for none */
    char server_key[128];                    /* its pinned fingerprint, as typed */
    int web_port; /* --web-port 0..65535, or -1: web_port of banter.conf */
} node_config;

typedef struct node node;

/* Run a node until SIGINT/SIGTERM. Returns a process exit code (0, or 1
 * with the cause printed to stderr). */
int node_run(const node_config *cfg);

/* ---- for the control socket ---- */

typedef enum node_ev_type {
    NODE_EV_MESSAGE,     /* a new incoming chat message */
    NODE_EV_DELIVERED,   /* an outgoing message was acknowledged */
    NODE_EV_ONLINE,      /* a peer connected */
    NODE_EV_OFFLINE,     /* a peer's connection ended */
    NODE_EV_KEY_CHANGED, /* a known name came back with another key */
    NODE_EV_DISCOVERY,   /* mDNS availability changed (text says how) */
    NODE_EV_RENDEZVOUS,  /* the rendezvous connection or login changed (text) */
    NODE_EV_CONTACTS,    /* the rendezvous contact list changed */
    NODE_EV_PRESENCE,    /* a rendezvous contact's presence (status, text) */
} node_ev_type;

typedef struct node_event {
    node_ev_type type;
    const uint8_t *peer; /* Ed25519 key, NULL for DISCOVERY */
    const char *name;
    const store_msg *msg; /* MESSAGE and DELIVERED */
    const char *text;     /* DISCOVERY, KEY_CHANGED: a sentence; PRESENCE: the status text */
    const char *status;   /* PRESENCE: "online", "away", "busy", "offline" */
} node_event;

typedef struct node_peer_info {
    store_peer stored;
    char fingerprint[IDENTITY_FP_LEN + 1];
    bool online;
    char address[80]; /* current or last known */
    /* A rendezvous account (stored.source "rendezvous"), "" otherwise: */
    char status[16];       /* "online", "away", "busy", "offline" */
    char status_text[129]; /* its status text */
    char contact[16];      /* "approved", "incoming", "outgoing", "blocked", "" (none) */
    char display_name[65];
    /* A LAN peer that showed a valid certificate of our organisation: */
    char org[65];                            /* its account, "" otherwise */
    char org_server[IDENTITY_FP_DIGITS + 1]; /* the server's fingerprint digits */
} node_peer_info;

typedef struct xfer_mgr xfer_mgr;
typedef struct rdv rdv;
/* The node's rendezvous connection (peer/rdv.h), NULL when none is
 * configured. */
rdv *node_rdv(node *n);
/* Its contacts and relayed messages (peer/roster.h), NULL likewise. */
typedef struct roster roster;
roster *node_roster(node *n);
/* The node's file transfers (peer/xfer.h). */
xfer_mgr *node_xfer(node *n);

const char *node_fingerprint(const node *n);
const char *node_name(const node *n);
uint16_t node_port(const node *n);
store *node_store(node *n);

/* Resolve what a user typed (a name, or a fingerprint prefix) to a key.
 * BANTER_ENOENT, BANTER_EAMBIGUOUS; why (cap bytes) says which. */
BANTER_WUR int node_resolve(node *n, const char *query, uint8_t key[static 32], char *why,
                            size_t cap);

/* Peer list for `peers`: malloc'd array (free()). */
BANTER_WUR int node_peers(node *n, node_peer_info **out, size_t *count);
BANTER_WUR int node_peer_info_get(node *n, const uint8_t key[static 32], node_peer_info *out);

/* Store a message for key in the outbox and send it if the peer is online.
 * id receives the new message id. BANTER_EKEYMISMATCH when the peer's key
 * changed and is not verified; BANTER_ETOOLONG; BANTER_ENOSPC; BANTER_EDB. */
BANTER_WUR int node_send(node *n, const uint8_t key[static 32], const char *text, size_t len,
                         uint8_t id[static MSG_ID_LEN]);
/* The same message to every known peer (changed keys excepted); *count
 * receives the number of recipients. */
BANTER_WUR int node_broadcast(node *n, const char *text, size_t len, uint8_t id[static MSG_ID_LEN],
                              size_t *count);
/* Mark key verified (and retire the key it replaced). */
BANTER_WUR int node_verify(node *n, const uint8_t key[static 32]);

#endif
