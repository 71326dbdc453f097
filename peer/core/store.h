/* SPDX-License-Identifier: MIT */
/*
 * store.h - the node's SQLite database: known peers, message history and
 * the outbox (outgoing messages not yet acknowledged).
 *
 * One file in the node's home (banter.db), WAL mode, synchronous=FULL so a
 * message acknowledged to the user is on disk. A message is identified by
 * (id, peer, direction): a broadcast sends one row per recipient with the
 * same id, and the receiver deduplicates by (id, peer). The outbox is the
 * set of outgoing rows still in state QUEUED, in the order they were added.
 *
 * Every call returns 0 or a negative BANTER_E* code: BANTER_ENOENT (no such
 * row), BANTER_ENOSPC (disk full: nothing was written), BANTER_EDB (any
 * other SQLite failure; store_errmsg() has SQLite's text), BANTER_ENOMEM,
 * BANTER_EINVAL. A failed call leaves the database as it was.
 */
#ifndef BANTER_PEER_STORE_H
#define BANTER_PEER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "banter_limits.h"
#include "msg.h"

#define STORE_KEYLEN    32
#define STORE_MAX_ADDRS 256

typedef struct store store;

typedef enum store_trust {
    TRUST_NEW = 0,      /* seen, never connected */
    TRUST_KNOWN = 1,    /* key accepted on first contact (TOFU) */
    TRUST_VERIFIED = 2, /* a person compared fingerprints: `banter verify` */
    TRUST_CHANGED = 3,  /* a known name came back with another key: refused */
} store_trust;

typedef struct store_peer {
    uint8_t key[STORE_KEYLEN]; /* Ed25519 public key: the peer's identity */
    char name[BANTER_MAX_NAME + 1];
    store_trust trust;
    char source[16];                 /* "lan", "static" */
    char addresses[STORE_MAX_ADDRS]; /* last known, "198.18.0.2:7070,..." */
    int64_t first_seen_ms;
    int64_t last_seen_ms;
    bool has_replaces; /* TRUST_CHANGED: the key it replaced */
    uint8_t replaces[STORE_KEYLEN];
} store_peer;

typedef enum store_dir { STORE_IN = 0, STORE_OUT = 1 } store_dir;

typedef enum store_state {
    STORE_QUEUED = 0,    /* outgoing, not acknowledged yet (in the outbox) */
    STORE_DELIVERED = 1, /* outgoing, acknowledged by the peer */
    STORE_RECEIVED = 2,  /* incoming */
    STORE_SERVER = 3,    /* outgoing, relayed: on the rendezvous server's disk for the device */
    STORE_FAILED = 4,    /* outgoing, relayed: the server refused it (error says why) */
} store_state;

typedef struct store_msg {
    int64_t seq; /* local order, assigned by store_msg_add */
    uint8_t id[MSG_ID_LEN];
    uint8_t peer[STORE_KEYLEN];
    store_dir dir;
    store_state state;
    bool broadcast;
    int64_t ts_ms;     /* sender's clock */
    int64_t stored_ms; /* when this node stored it */
    char *body;        /* NUL-terminated; owned (store_msgs_free) */
    size_t body_len;
    char error[BANTER_MAX_ERRCODE + 1]; /* STORE_FAILED: the server's code */
} store_msg;

/* Open or create the database at path and its schema (a new file is created
 * mode 0600). On failure *out is NULL and errmsg (may be NULL) receives
 * SQLite's text: BANTER_EDB (cannot open, not a database, schema newer than
 * this program...), or BANTER_ENOSPC / BANTER_ENOMEM. */
BANTER_WUR int store_open(store **out, const char *path, char *errmsg, size_t errlen);
/* Accepts NULL. */
void store_close(store *st);
/* SQLite's text for the last failure on st. Never NULL. */
const char *store_errmsg(const store *st);

/* Insert or replace the peer with p->key. */
BANTER_WUR int store_peer_put(store *st, const store_peer *p);
/* BANTER_ENOENT when unknown. */
BANTER_WUR int store_peer_get(store *st, const uint8_t key[static STORE_KEYLEN], store_peer *out);
/* All peers, ordered by name then key. *out is malloc'd (free()); NULL when
 * *n is 0. */
BANTER_WUR int store_peer_list(store *st, store_peer **out, size_t *n);
/* Delete a peer record (its messages stay). BANTER_ENOENT. */
BANTER_WUR int store_peer_delete(store *st, const uint8_t key[static STORE_KEYLEN]);

/* Add a message. Returns 0 when added (m->seq is ignored; the new seq is
 * stored in *seq when seq is not NULL), 1 when a row with the same (id,
 * peer, dir) exists already (nothing changed), or an error. m->stored_ms is
 * stored as given (the caller owns the clock); m->error is not (a new
 * message has none). BANTER_EINVAL when the state does not fit the
 * direction (STORE_IN: RECEIVED; STORE_OUT: QUEUED, DELIVERED, SERVER or
 * FAILED) or body is NULL with body_len > 0. */
BANTER_WUR int store_msg_add(store *st, const store_msg *m, int64_t *seq);
/* Set the state of the outgoing message (id, peer). BANTER_ENOENT;
 * BANTER_EINVAL unless state is QUEUED, DELIVERED, SERVER or FAILED. */
BANTER_WUR int store_msg_set_state(store *st, const uint8_t id[static MSG_ID_LEN],
                                   const uint8_t peer[static STORE_KEYLEN], store_state state);
/* The same with an error code (at most BANTER_MAX_ERRCODE bytes, "" for none). */
BANTER_WUR int store_msg_set_result(store *st, const uint8_t id[static MSG_ID_LEN],
                                    const uint8_t peer[static STORE_KEYLEN], store_state state,
                                    const char *error);
/* Outgoing QUEUED messages for peer, oldest first. */
BANTER_WUR int store_outbox(store *st, const uint8_t peer[static STORE_KEYLEN], store_msg **out,
                            size_t *n);
/* The last `limit` messages with peer, both directions, oldest first. */
BANTER_WUR int store_history(store *st, const uint8_t peer[static STORE_KEYLEN], size_t limit,
                             store_msg **out, size_t *n);
/* Free an array from store_outbox/store_history. Accepts NULL. */
void store_msgs_free(store_msg *msgs, size_t n);

/* Cap the database at `pages` pages (PRAGMA max_page_count; a page is 4096
 * bytes by default): a quota, and how tests simulate a full disk. A cap
 * below the current size is raised to the current size. The cap lasts until
 * store_close (it is not saved in the file). BANTER_EINVAL when pages < 1. */
BANTER_WUR int store_set_max_pages(store *st, int64_t pages);

/* "new", "known", "verified", "changed"; "unknown" for any other value. */
const char *store_trust_name(store_trust t);

/* ---- file transfers (see peer/xfer.h) ---- */

typedef struct store_xfile {
    char *name;  /* relative path as offered; owned */
    char *local; /* sender: source path; receiver: chosen path below dest; owned */
    uint64_t size;
    uint8_t hash[BANTER_FILE_HASHLEN];
    int64_t mtime_ns; /* sender: the source's mtime when hashed */
    bool verified;    /* receiver verified (and renamed) it */
} store_xfile;

typedef struct store_xfer {
    uint8_t id[MSG_ID_LEN];
    uint8_t peer[STORE_KEYLEN];
    int dir;   /* xfer_dir */
    int state; /* xfer_state */
    int64_t created_ms;
    int64_t updated_ms;
    uint64_t done;
    char *dest;         /* receiver: absolute folder, "" before accept; owned */
    char *error;        /* "" when none; owned */
    uint8_t secret[32]; /* receiver: key of the chunk checksums */
    size_t nfiles;
    store_xfile *files; /* owned */
} store_xfer;

/* Insert or replace a transfer and all its files, atomically. */
BANTER_WUR int store_xfer_put(store *st, const store_xfer *x);
/* Update the transfer row only (state, done, dest, error, updated). */
BANTER_WUR int store_xfer_save(store *st, const store_xfer *x);
/* Update one file's local path and verified flag. */
BANTER_WUR int store_xfile_save(store *st, const uint8_t id[static MSG_ID_LEN], size_t idx,
                                const store_xfile *f);
/* Every transfer with its files, newest first. *out is an array to free
 * with store_xfers_free. */
BANTER_WUR int store_xfer_load_all(store *st, store_xfer **out, size_t *n);
/* Free what a store_xfer owns (not x itself), and whole arrays. */
void store_xfer_clear(store_xfer *x);
void store_xfers_free(store_xfer *xs, size_t n);

#endif
