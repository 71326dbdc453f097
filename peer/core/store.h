/* SPDX-License-Identifier: MIT */
/*
 * store.h - the node's SQLite database: contacts and their devices,
 * message history, the outbox with each device's copy, file transfers.
 *
 * One file in the node's home (banter.db), WAL mode, synchronous=FULL so a
 * message acknowledged to the user is on disk.
 *
 * A contact is a person, named by a 32-byte handle of the node's own (its
 * "contact key": for a LAN colleague the key of the first device seen, for
 * an organisation account a hash of the server and the account name). A
 * device is an Ed25519 key and belongs to one contact. History belongs to
 * the contact: a message is identified by (id, contact, direction, sending
 * device); a broadcast is one row per recipient with the same id, and the
 * receiver deduplicates by (id, contact, device). An outgoing message has one "copy" per
 * recipient device, with that device's delivery state; the outbox is the
 * set of outgoing messages still QUEUED, in the order they were added.
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

/* How far a device is trusted (docs/protocol.md, "Trust"). */
typedef enum store_trust {
    TRUST_NEW = 0,       /* advertised on the LAN, never connected (only in listings) */
    TRUST_KNOWN = 1,     /* key accepted on first contact (TOFU) */
    TRUST_VERIFIED = 2,  /* a person compared fingerprints: `banter verify` */
    TRUST_CHANGED = 3,   /* a new key claimed a known contact: nothing sent to it */
    TRUST_CERTIFIED = 4, /* the organisation's server vouches for it (certificate, device list),
                            until vouched_until_ms */
    TRUST_LAPSED = 5,    /* never stored: what contacts_trust says of a TRUST_CERTIFIED device
                            past its vouched_until_ms (only in listings and checks) */
} store_trust;

typedef enum store_kind {
    CONTACT_LAN = 0, /* a colleague trusted on first use */
    CONTACT_ORG = 1, /* an organisation account: devices listed and certified by the server */
} store_kind;

typedef struct store_contact {
    uint8_t key[STORE_KEYLEN]; /* the contact's handle (not a device key) */
    store_kind kind;
    char account[BANTER_MAX_NAME + 1]; /* CONTACT_ORG: the account name; "" otherwise */
    char name[BANTER_MAX_NAME + 1];    /* the label shown */
    int64_t created_ms;
} store_contact;

typedef struct store_device {
    uint8_t key[STORE_KEYLEN];      /* Ed25519 public key: the device's identity */
    uint8_t contact[STORE_KEYLEN];  /* the contact it belongs to */
    char name[BANTER_MAX_NAME + 1]; /* the name it gave itself last (a label) */
    store_trust trust;
    char source[16];                 /* "lan", "static", "rendezvous" */
    char addresses[STORE_MAX_ADDRS]; /* last known, "198.18.0.2:7070,..." */
    int64_t first_seen_ms;
    int64_t last_seen_ms;
    bool has_replaces; /* TRUST_CHANGED: the device key it would replace */
    uint8_t replaces[STORE_KEYLEN];
    /* TRUST_CERTIFIED: until when (ms since the epoch) the organisation
     * vouches for it (a certificate's expiry, a device list's time plus a
     * day); stored as 0 for any other trust. */
    int64_t vouched_until_ms;
} store_device;

typedef enum store_dir { STORE_IN = 0, STORE_OUT = 1 } store_dir;

typedef enum store_state {
    STORE_QUEUED = 0,    /* outgoing, not acknowledged yet (in the outbox) */
    STORE_DELIVERED = 1, /* outgoing, acknowledged by the peer */
    STORE_RECEIVED = 2,  /* incoming */
    STORE_SERVER = 3,    /* outgoing, relayed: on the rendezvous server's disk for the device */
    STORE_FAILED = 4,    /* outgoing, relayed: the server refused it (error says why) */
} store_state;

/* Flags of a message. STORE_MSG_UNTRUSTED: incoming from a device in
 * TRUST_CHANGED, so not the contact's word. STORE_MSG_SYNCED: outgoing,
 * sent from another device of the node's own account (device says which;
 * a copy it sent here, docs/protocol.md CHAT "to"). */
#define STORE_MSG_UNTRUSTED 1u
#define STORE_MSG_SYNCED    2u
/* STORE_MSG_GCTL: outgoing, a group control message (GROUP_STATE or
 * GROUP_KEY, its plaintext in sealed) for the devices its copies name;
 * not history, never searched. */
#define STORE_MSG_GCTL      4u
/* STORE_MSG_AUTO: outgoing, written by a plug-in (a bot, a gateway) on the
 * node's behalf, not by its person: it does not make its contact one the
 * person wrote to (store_contact_written). */
#define STORE_MSG_AUTO      8u

#define STORE_GROUP_IDLEN 16
/* A message's place in its group: lc (8, BE) || sending device (32) ||
 * epoch (4, BE) || iteration (4, BE); byte order is display order
 * (docs/protocol.md 13.5). */
#define STORE_GPOS_LEN    48
/* A saved sender-key chain (shared/gkey.h GKEY_SAVE_MAX). */
#define STORE_GCHAIN_MAX  9500

typedef struct store_msg {
    int64_t seq; /* local order, assigned by store_msg_add */
    uint8_t id[MSG_ID_LEN];
    uint8_t contact[STORE_KEYLEN];
    bool has_device; /* incoming: the device that sent it */
    uint8_t device[STORE_KEYLEN];
    store_dir dir;
    store_state state;
    unsigned flags; /* STORE_MSG_* */
    bool broadcast;
    int64_t ts_ms;     /* sender's clock */
    int64_t stored_ms; /* when this node stored it */
    char *body;        /* NUL-terminated; owned (store_msgs_free) */
    size_t body_len;
    char error[BANTER_MAX_ERRCODE + 1]; /* STORE_FAILED: the code */
    /* Not stored: set by the messenger on a copy it hands a route for
     * another device of the node's own account (CHAT "to"), "" otherwise. */
    char to[MSG_TO_MAX + 1];
    /* A group message (contact is then store_group_handle(group)). */
    bool has_group;
    uint8_t group[STORE_GROUP_IDLEN];
    uint8_t gpos[STORE_GPOS_LEN];
    /* Outgoing group rows: what every copy carries (GROUP_MSG: the sender-
     * key message; GCTL: the message's plaintext). Owned; NULL when none. */
    uint8_t *sealed;
    size_t sealed_len;
} store_msg;

/* One device's copy of an outgoing message. */
typedef enum store_copy_state {
    COPY_PENDING = 0,   /* not handed to a route yet, or the route was lost */
    COPY_DELIVERED = 1, /* the device acknowledged it */
    COPY_SERVER = 3,    /* on the rendezvous server's disk for the device */
    COPY_FAILED = 4,    /* refused (error says why) */
} store_copy_state;

typedef struct store_copy {
    int64_t seq; /* the message */
    uint8_t device[STORE_KEYLEN];
    store_copy_state state;
    char route[16]; /* the route that settled it: "lan", "relay" ("" while pending) */
    char error[BANTER_MAX_ERRCODE + 1];
} store_copy;

/* Open or create the database at path and its schema (a new file is created
 * mode 0600). On failure *out is NULL and errmsg (may be NULL) receives
 * SQLite's text: BANTER_EDB (cannot open, not a database, schema newer than
 * this program...), or BANTER_ENOSPC / BANTER_ENOMEM. */
BANTER_WUR int store_open(store **out, const char *path, char *errmsg, size_t errlen);
/* Accepts NULL. */
void store_close(store *st);
/* SQLite's text for the last failure on st. Never NULL. */
const char *store_errmsg(const store *st);

/* ---- contacts and devices ---- */

/* Insert or replace the contact with c->key. BANTER_EINVAL for an ORG
 * contact without an account (or a LAN one with one). */
BANTER_WUR int store_contact_put(store *st, const store_contact *c);
/* BANTER_ENOENT when unknown. */
BANTER_WUR int store_contact_get(store *st, const uint8_t key[static STORE_KEYLEN],
                                 store_contact *out);
BANTER_WUR int store_contact_by_account(store *st, const char *account, store_contact *out);
/* Whether this node's person ever wrote to contact key (a message of its
 * own to it alone in the history, in any state; a broadcast, a group
 * message or what a plug-in wrote (STORE_MSG_AUTO) does not count): 0
 * yes, BANTER_ENOENT no, or an error. */
BANTER_WUR int store_contact_written(store *st, const uint8_t key[static STORE_KEYLEN]);
/* All contacts, ordered by name then key; *out is malloc'd (free()), NULL
 * when *n is 0. */
BANTER_WUR int store_contact_list(store *st, store_contact **out, size_t *n);
/* Move everything of contact `from` (devices, history, copies) to `into`
 * and delete `from`, atomically. A message both hold (same id and
 * direction) is kept once, as `into` has it. BANTER_ENOENT. */
BANTER_WUR int store_contact_merge(store *st, const uint8_t from[static STORE_KEYLEN],
                                   const uint8_t into[static STORE_KEYLEN]);

/* Insert or replace the device with d->key. */
BANTER_WUR int store_device_put(store *st, const store_device *d);
BANTER_WUR int store_device_get(store *st, const uint8_t key[static STORE_KEYLEN],
                                store_device *out);
/* The devices of one contact (contact non-NULL) or all (NULL), ordered by
 * first seen; *out is malloc'd (free()). */
BANTER_WUR int store_device_list(store *st, const uint8_t *contact, store_device **out, size_t *n);
/* BANTER_ENOENT. */
BANTER_WUR int store_device_delete(store *st, const uint8_t key[static STORE_KEYLEN]);

/* ---- messages ---- */

/* Add a message. Returns 0 when added (m->seq is ignored; the new seq is
 * stored in *seq when seq is not NULL), 1 when a row with the same (id,
 * contact, dir, device) exists already (nothing changed), or an error. m->stored_ms is
 * stored as given (the caller owns the clock); m->error is not (a new
 * message has none). BANTER_EINVAL when the state does not fit the
 * direction (STORE_IN: RECEIVED; STORE_OUT: QUEUED, DELIVERED, SERVER or
 * FAILED) or body is NULL with body_len > 0. */
BANTER_WUR int store_msg_add(store *st, const store_msg *m, int64_t *seq);
/* Set the state of the outgoing message seq, with an error code (at most
 * BANTER_MAX_ERRCODE bytes, "" for none). BANTER_ENOENT; BANTER_EINVAL
 * unless state is QUEUED, DELIVERED, SERVER or FAILED. */
BANTER_WUR int store_msg_set_result(store *st, int64_t seq, store_state state, const char *error);
/* The outgoing message (id, contact): 0 with *out filled (body owned:
 * store_msg_clear), or BANTER_ENOENT. */
BANTER_WUR int store_msg_find_out(store *st, const uint8_t id[static MSG_ID_LEN],
                                  const uint8_t contact[static STORE_KEYLEN], store_msg *out);
/* The outgoing message id that has a copy for device, whatever contact
 * it was sent to (the device may have joined another contact since). 0
 * with *out filled (store_msg_clear), or BANTER_ENOENT. */
BANTER_WUR int store_msg_find_copy(store *st, const uint8_t id[static MSG_ID_LEN],
                                   const uint8_t device[static STORE_KEYLEN], store_msg *out);
/* Outgoing QUEUED messages for contact (every contact when NULL), oldest
 * first. */
BANTER_WUR int store_outbox(store *st, const uint8_t *contact, store_msg **out, size_t *n);
/* Outgoing messages to contact (every contact when NULL) that are no
 * longer QUEUED but still have a pending copy for a device of contact
 * `self` (the node's own account: copies for its other devices), oldest
 * first. */
BANTER_WUR int store_sync_pending(store *st, const uint8_t *contact,
                                  const uint8_t self[static STORE_KEYLEN], store_msg **out,
                                  size_t *n);
/* Delete the history older than before_ms (by the message's time), in
 * both directions, except what still waits to be sent (an outgoing
 * message queued, or with a copy queued for a device): the organisation's
 * retention rule (docs/rendezvous.md section 11). *n gets how many. */
BANTER_WUR int store_history_prune(store *st, int64_t before_ms, int64_t *n);
/* Up to `limit` messages with contact, both directions, oldest first: the
 * last ones, or the last ones before seq `before` when it is > 0 (a page
 * of older history). */
BANTER_WUR int store_history(store *st, const uint8_t contact[static STORE_KEYLEN], int64_t before,
                             size_t limit, store_msg **out, size_t *n);
/* Full-text search over history (all conversations, or one contact's):
 * the messages whose body has every word of text (each word also as a
 * prefix; case and diacritics ignored; nothing in text is query syntax),
 * newest first, with seq < before when before > 0, at most limit. text
 * is at most STORE_SEARCH_MAX bytes of at most STORE_SEARCH_MAX_WORDS
 * words: BANTER_ETOOLONG beyond, BANTER_EINVAL when it has no word. The
 * caller frees *out with store_msgs_free. */
#define STORE_SEARCH_MAX       256
#define STORE_SEARCH_MAX_WORDS 16
BANTER_WUR int store_search(store *st, const char *text, const uint8_t *contact, int64_t before,
                            size_t limit, store_msg **out, size_t *n);
/* Free what one store_msg owns. */
void store_msg_clear(store_msg *m);
/* Free an array from store_outbox/store_history. Accepts NULL. */
void store_msgs_free(store_msg *msgs, size_t n);

/* ---- copies: one per device an outgoing message goes to ---- */

/* Add a pending copy of message seq for device; 1 when it exists already. */
BANTER_WUR int store_copy_add(store *st, int64_t seq, const uint8_t device[static STORE_KEYLEN]);
/* Settle (or reopen, COPY_PENDING) one copy. BANTER_ENOENT. */
BANTER_WUR int store_copy_set(store *st, int64_t seq, const uint8_t device[static STORE_KEYLEN],
                              store_copy_state state, const char *route, const char *error);
/* Every copy of message seq; *out malloc'd (free()). */
BANTER_WUR int store_copies(store *st, int64_t seq, store_copy **out, size_t *n);

/* Cap the database at `pages` pages (PRAGMA max_page_count; a page is 4096
 * bytes by default): a quota, and how tests simulate a full disk. A cap
 * below the current size is raised to the current size. The cap lasts until
 * store_close (it is not saved in the file). BANTER_EINVAL when pages < 1. */
BANTER_WUR int store_set_max_pages(store *st, int64_t pages);

/* "new", "known", "verified", "changed", "certified", "lapsed"; "unknown" for any
 * other value. */
const char *store_trust_name(store_trust t);

/* ---- groups (docs/protocol.md 12, 13) ---- */

/* The contact handle of a group's conversation: BLAKE2b-256 keyed with a
 * label, never a contact's or a device's key. */
void store_group_handle(const uint8_t id[static STORE_GROUP_IDLEN],
                        uint8_t out[static STORE_KEYLEN]);
/* A display position (STORE_GPOS_LEN). */
void store_gpos_make(uint8_t out[static STORE_GPOS_LEN], uint64_t lc,
                     const uint8_t device[static STORE_KEYLEN], uint32_t epoch, uint32_t iteration);

typedef struct store_group {
    uint8_t id[STORE_GROUP_IDLEN];
    char *state; /* canonical JSON of the applied state; owned */
    size_t state_len;
    bool member;                     /* false once this node left or was removed */
    uint32_t epoch;                  /* this device's sending epoch */
    uint8_t chain[STORE_GCHAIN_MAX]; /* this device's sending chain (gkey_chain_save) */
    size_t chain_len;
    int64_t epoch_started_ms;
    uint64_t sent;    /* messages sent in this epoch */
    uint64_t lc;      /* the largest Lamport clock seen */
    int64_t read_seq; /* messages up to this seq were read */
    int64_t created_ms;
    /* The state before the applied one (canonical JSON; owned), to take a
     * concurrent state that wins over the applied one (gview's base);
     * NULL when not known (a creation, a join). */
    char *base;
    size_t base_len;
} store_group;

/* Insert or replace. BANTER_EINVAL for a missing state or chain. */
BANTER_WUR int store_group_put(store *st, const store_group *g);
/* BANTER_ENOENT. *out owns its state and base: store_group_clear. */
BANTER_WUR int store_group_get(store *st, const uint8_t id[static STORE_GROUP_IDLEN],
                               store_group *out);
/* Every group, oldest first: store_groups_free. */
BANTER_WUR int store_group_list(store *st, store_group **out, size_t *n);
/* How many groups there are (members or not; deleted ones are not
 * groups). */
BANTER_WUR int store_group_count(store *st, int64_t *n);

/* Tombstones of deleted groups kept at most: beyond, the oldest are
 * forgotten (a group id is 16 random bytes; late traffic for a group
 * deleted that long ago is treated as for any group not known). */
#define STORE_GROUP_TOMBS_MAX 4096
/* Delete group id from this node in one transaction: its row (state,
 * this device's sending chain), the receiving chains of every member
 * device (overwritten, then deleted), every message of it (history,
 * control messages, their sealed bytes, their copies, their full-text
 * index entries, the index merged so that nothing of them is left in
 * it) except the rows whose seq is in keep (nkeep of them: control
 * messages still on their way, a leave), and a tombstone (id, now_ms)
 * added, the oldest beyond STORE_GROUP_TOMBS_MAX forgotten; kept rows
 * of deleted groups go once they are settled (here, and at store_open).
 * Freed pages are zeroed (secure_delete) and the WAL written back and
 * truncated. *messages (may be NULL): how many message rows went.
 * BANTER_ENOENT (no such group: nothing changes), BANTER_ENOSPC,
 * BANTER_EDB: nothing changed. */
BANTER_WUR int store_group_delete(store *st, const uint8_t id[static STORE_GROUP_IDLEN],
                                  const int64_t *keep, size_t nkeep, int64_t now_ms,
                                  int64_t *messages);
/* 0 when group id was deleted here (a tombstone is kept), BANTER_ENOENT
 * when not. */
BANTER_WUR int store_group_deleted(store *st, const uint8_t id[static STORE_GROUP_IDLEN]);
/* How many tombstones are kept. */
BANTER_WUR int store_group_tombstones(store *st, int64_t *n);
void store_group_clear(store_group *g);
void store_groups_free(store_group *gs, size_t n);
/* A member device's receiving chain at epoch (gkey_chain_save bytes). */
BANTER_WUR int store_gchain_put(store *st, const uint8_t group[static STORE_GROUP_IDLEN],
                                const uint8_t device[static STORE_KEYLEN], uint32_t epoch,
                                const uint8_t *chain, size_t len);
/* BANTER_ENOENT when none. */
BANTER_WUR int store_gchain_get(store *st, const uint8_t group[static STORE_GROUP_IDLEN],
                                const uint8_t device[static STORE_KEYLEN], uint32_t epoch,
                                uint8_t out[static STORE_GCHAIN_MAX], size_t *len);
/* Forget the device's chains of epochs before epoch. */
BANTER_WUR int store_gchain_drop_before(store *st, const uint8_t group[static STORE_GROUP_IDLEN],
                                        const uint8_t device[static STORE_KEYLEN], uint32_t epoch);
/* The newest epoch of the device's chains held for the group; BANTER_ENOENT
 * when none. */
BANTER_WUR int store_gchain_newest(store *st, const uint8_t group[static STORE_GROUP_IDLEN],
                                   const uint8_t device[static STORE_KEYLEN], uint32_t *epoch);
/* Forget all but the keep (>= 1) newest epochs of the device's chains of
 * the group. */
BANTER_WUR int store_gchain_keep(store *st, const uint8_t group[static STORE_GROUP_IDLEN],
                                 const uint8_t device[static STORE_KEYLEN], size_t keep);
/* Up to limit messages of the group (no control messages), in display
 * order, the last ones or those before position before (NULL: none). */
BANTER_WUR int store_group_history(store *st, const uint8_t group[static STORE_GROUP_IDLEN],
                                   const uint8_t *before, size_t limit, store_msg **out, size_t *n);
/* How many incoming messages of the group have seq > after_seq. */
BANTER_WUR int store_group_unread(store *st, const uint8_t group[static STORE_GROUP_IDLEN],
                                  int64_t after_seq, int64_t *count);

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
/* Forget a transfer: its row and its files' rows go, atomically (none
 * stored is not an error). BANTER_EDB. */
BANTER_WUR int store_xfer_delete(store *st, const uint8_t id[static MSG_ID_LEN]);
/* Update one file's local path and verified flag. */
BANTER_WUR int store_xfile_save(store *st, const uint8_t id[static MSG_ID_LEN], size_t idx,
                                const store_xfile *f);
/* Every transfer with its files, newest first. *out is an array to free
 * with store_xfers_free. */
BANTER_WUR int store_xfer_load_all(store *st, store_xfer **out, size_t *n);
/* Only the transfers still going somewhere (offered, active, paused,
 * failed: what a node holds in memory), newest first. */
BANTER_WUR int store_xfer_load_live(store *st, store_xfer **out, size_t *n);
/* The one transfer whose id lies in [lo, hi]: BANTER_ENOENT for none,
 * BANTER_EAMBIGUOUS for several. */
BANTER_WUR int store_xfer_resolve(store *st, const uint8_t lo[static MSG_ID_LEN],
                                  const uint8_t hi[static MSG_ID_LEN],
                                  uint8_t id[static MSG_ID_LEN]);
/* One transfer with its files (store_xfer_clear it). BANTER_ENOENT. */
BANTER_WUR int store_xfer_get(store *st, const uint8_t id[static MSG_ID_LEN], store_xfer *out);
/* At most limit transfers, newest first (by creation, then id), that come
 * after transfer `before` in that order (NULL: from the newest; an id
 * not stored: none). */
BANTER_WUR int store_xfer_page(store *st, const uint8_t *before, size_t limit, store_xfer **out,
                               size_t *n);
/* Free what a store_xfer owns (not x itself), and whole arrays. */
void store_xfer_clear(store_xfer *x);
void store_xfers_free(store_xfer *xs, size_t n);

/* ---- the organisation's announcements (schema 10) ---- */

#define STORE_ANN_TEXT 4096u /* annmsg.h ANN_MAX_TEXT */

typedef struct store_ann {
    int64_t id;          /* the server's */
    int64_t ts_ms;       /* when the admin made it (server's clock) */
    int64_t received_ms; /* when this node stored it */
    int64_t read_ms;     /* when it was shown to the user; 0: not yet */
    bool read_told;      /* the server was told it was read */
    char department[65];
    char text[STORE_ANN_TEXT + 1];
} store_ann;

/* Keep an announcement (id, ts_ms, department, text, received_ms): 0 when
 * new, 1 when it was kept already (nothing changes). */
BANTER_WUR int store_ann_add(store *st, const store_ann *a);
/* The newest max announcements (only the unread ones when unread_only),
 * oldest first, in a new array (*out, free()) of *n. */
BANTER_WUR int store_ann_list(store *st, bool unread_only, size_t max, store_ann **out, size_t *n);
/* Mark announcement id read at now_ms: 0 when it was unread, 1 when read
 * before, BANTER_ENOENT when there is none. */
BANTER_WUR int store_ann_read(store *st, int64_t id, int64_t now_ms);
/* Up to max ids of announcements read but not told to the server. */
BANTER_WUR int store_ann_untold(store *st, int64_t *ids, size_t max, size_t *n);
/* The server was told id was read. */
BANTER_WUR int store_ann_told(store *st, int64_t id);

#endif
