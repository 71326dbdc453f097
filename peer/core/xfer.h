/* SPDX-License-Identifier: MIT */
/*
 * xfer.h - file transfers between two nodes (docs/protocol.md, "File
 * transfer"; the design: docs/architecture.md, "File transfers").
 *
 * The sender hashes each file (BLAKE2b-256, in a worker thread; a file
 * hashed before and unchanged since is not read again), offers names, sizes
 * and hashes, and once the receiver accepts, streams the files as CHUNK
 * frames over the peer's session. It keeps the data in flight shallow, so
 * chat is never stuck behind it: never more than XFER_QUEUE_HIGH bytes
 * queued on the connection, and, with a receiver that acknowledges stored
 * data (FILE_ACCEPT with a window, then FILE_MARK / FILE_STORED), never more
 * than XFER_WINDOW bytes beyond what the receiver has stored.
 *
 * The receiver decrypts on the main loop and hands the data (the block it
 * was decrypted into, not a copy) to xfer_sink,
 * whose thread writes and hashes it as it arrives (through fpath, never
 * outside the chosen folder), keeps checkpoints of the hash beside the
 * partial file, and checks the whole file against the offer before it
 * moves it to its name without overwriting. After a broken connection the
 * receiver asks to continue where it stopped; after a restart it takes the
 * saved hash state when the partial file is as it left it, or re-reads the
 * file and keeps what matches its checkpoints.
 *
 * Every function runs on the node's main loop. Transfers are kept in the
 * node's database; xfer_mgr owns the in-memory state and the threads.
 */
#ifndef BANTER_PEER_XFER_H
#define BANTER_PEER_XFER_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banter_limits.h"
#include "net/conn.h"
#include "msg.h"
#include "core/store.h"

/* Bytes of file data per CHUNK frame. */
#define XFER_CHUNK           61440u
/* The sender keeps at most this much queued on a connection... */
#define XFER_QUEUE_HIGH      (256u * 1024u)
/* ...and on a path that says its rate, chunks of what it carries in
 * XFER_CHUNK_MS and a queue of XFER_QUEUE_MS (not under XFER_CHUNK_MIN). */
#define XFER_CHUNK_MS        100u
#define XFER_QUEUE_MS        150u
#define XFER_CHUNK_MIN       1024u
/* At most this much sent beyond what the receiver stored (when it answers
 * FILE_MARK); the receiver offers the same in FILE_ACCEPT. */
#define XFER_WINDOW          (4u << 20)
/* A FILE_MARK after this much data. */
#define XFER_MARK_EVERY      (1024u * 1024u)
/* Progress events for one transfer, at most this often. */
#define XFER_PROGRESS_MS     250
/* Limits on incoming offers (docs/limits.md; banter.conf sets them). */
#define XFER_OFFERS_PER_PEER 64     /* waiting for an answer, from one device */
#define XFER_OFFERS_TOTAL    512    /* ...from all devices */
#define XFER_OFFER_EXPIRY_S  604800 /* unanswered this long: declined "expired" */
#define XFER_OFFER_RATE      2      /* new offers a second from one device... */
#define XFER_OFFER_BURST     50     /* ...and at once */
#define XFER_OFFER_RATE_ALL  10     /* new offers a second from all devices... */
#define XFER_OFFER_BURST_ALL 100    /* ...and at once (a new key costs nothing) */
/* Rows `transfers` shows by default (newest first). */
#define XFER_LIST_PAGE       50

typedef enum xfer_state {
    XFER_OFFERED = 0,   /* waiting for the receiver's answer */
    XFER_ACTIVE = 1,    /* accepted: data flowing */
    XFER_PAUSED = 2,    /* accepted, but the peer is offline now */
    XFER_DONE = 3,      /* every file verified by the receiver */
    XFER_FAILED = 4,    /* see error; may be resumed with accept */
    XFER_DECLINED = 5,  /* the receiver said no */
    XFER_CANCELLED = 6, /* a person stopped it, on either side */
} xfer_state;

typedef enum xfer_dir { XFER_OUT = 0, XFER_IN = 1 } xfer_dir;

/* One row of `banter transfers`. */
typedef struct xfer_info {
    uint8_t id[MSG_ID_LEN];
    uint8_t peer[32];
    xfer_dir dir;
    xfer_state state;
    char name[BANTER_MAX_PATH + 32]; /* "a.txt", or "Photos (12 files)" */
    size_t nfiles;
    uint64_t size;
    uint64_t done; /* bytes verified (receiver) or acknowledged (sender) */
    double rate;   /* bytes per second over the last seconds, 0 when idle */
    char error[BANTER_MAX_REASON + 1];
    char dest[4096]; /* receiver: the folder it goes to, once accepted */
    int64_t created_ms;
} xfer_info;

typedef enum xfer_ev_type {
    XFER_EV_OFFER,    /* an incoming offer waits for accept/decline */
    XFER_EV_STATE,    /* a transfer changed state (active, paused...) */
    XFER_EV_PROGRESS, /* bytes moved (rate-limited) */
    XFER_EV_DONE,     /* every file verified */
    XFER_EV_FAILED,   /* failed, declined or cancelled: see info.state */
} xfer_ev_type;

typedef struct xfer_callbacks {
    /* The connection to peer, when it is online (NULL otherwise). */
    conn *(*conn_for)(void *ud, const uint8_t peer[static 32]);
    /* Tell listeners (control socket). info is valid during the call. */
    void (*event)(void *ud, xfer_ev_type type, const xfer_info *info);
    /* Whether an offer of size bytes (all its files) from peer is
     * accepted without asking (xfer_disk_room tells what the disk can
     * take). */
    bool (*auto_accept)(void *ud, const uint8_t peer[static 32], uint64_t size);
    /* The largest file that may be sent or received, 0 for no limit, and
     * the rule's name for messages ("the organisation's policy"); may be
     * NULL. A file over it is refused before it is offered, and an offer
     * holding one is declined with that reason. */
    uint64_t (*max_file)(void *ud, const char **rule);
    /* Whether peer is an established colleague's device (may be NULL):
     * its new offers then count only against its own rate and its own cap
     * of waiting offers, not against the node-wide ones a flood of new
     * keys uses up. */
    bool (*established)(void *ud, const uint8_t peer[static 32]);
} xfer_callbacks;

typedef struct xfer_mgr xfer_mgr;

typedef struct xfer_limits {
    unsigned per_peer; /* 0: the default for each */
    unsigned total;
    unsigned expiry_s;
    uint32_t rate, burst;         /* new offers a second and at once, per device (rate 0: none) */
    uint32_t rate_all, burst_all; /* ...and from all devices together (rate 0: none) */
} xfer_limits;

/* Load the transfers of st (accepted ones come back paused); download_dir
 * is the default destination. BANTER_ENOMEM, BANTER_EDB. */
BANTER_WUR int xfer_mgr_new(xfer_mgr **out, store *st, const char *download_dir,
                            const xfer_callbacks *cb, void *ud);
/* Stops the worker thread: queued jobs give up at once, and a send whose
 * hashing had not finished gets its done() callback with BANTER_ESTATE
 * ("the node is stopping"). Closes files; transfers stay in the database and
 * resume after a restart. Accepts NULL. */
void xfer_mgr_free(xfer_mgr *m);

/*
 * Offer files and folders (absolute paths) to peer. Hashing happens in the
 * worker thread; done(ud2, err, id) is called on the main loop once the
 * offer is made (err 0; id is the first transfer's id; more than
 * BANTER_MAX_FILES files make several transfers) or failed (BANTER_ENOENT
 * for a missing path, BANTER_EINVAL with why for a name that cannot be
 * sent, BANTER_EIO, BANTER_ESTATE when the node stops first). done runs
 * exactly once. paths are copied. The offer goes out now if the peer is
 * online, else when it is next seen. Returns an error at once only for bad
 * arguments (and then done never runs).
 */
typedef void (*xfer_offer_done)(void *ud2, int err, const uint8_t id[static MSG_ID_LEN],
                                const char *why);
BANTER_WUR int xfer_send(xfer_mgr *m, const uint8_t peer[static 32], const char *const *paths,
                         size_t npaths, xfer_offer_done done, void *ud2);

/* Accept an incoming offer (or resume a failed or paused one) into dir, or
 * the default folder when dir is NULL. A fresh accept chooses free names
 * and makes the top folder of each folder sent whole at once (so an offer
 * accepted next cannot choose it too). BANTER_ENOENT (no such incoming
 * transfer), BANTER_ESTATE (done, declined or cancelled), BANTER_EIO or
 * BANTER_ENOSPC (a folder cannot be opened or created; why says why). */
BANTER_WUR int xfer_accept(xfer_mgr *m, const uint8_t id[static MSG_ID_LEN], const char *dir,
                           char *why, size_t cap);
/* Decline an incoming offer. BANTER_ENOENT, BANTER_ESTATE. */
BANTER_WUR int xfer_decline(xfer_mgr *m, const uint8_t id[static MSG_ID_LEN]);
/* Cancel a transfer in either direction; the partial files of an incoming
 * one are deleted. BANTER_ENOENT, BANTER_ESTATE (already over). */
BANTER_WUR int xfer_cancel(xfer_mgr *m, const uint8_t id[static MSG_ID_LEN]);

/*
 * Incoming offers are bounded (docs/limits.md): a new offer (not one sent
 * again after a reconnect) beyond lim->rate a second (lim->burst at once)
 * from its device, or beyond lim->rate_all (lim->burst_all) from all
 * devices together, is answered FILE_DECLINE "ERATE: ..." and not kept; an
 * offer beyond
 * lim->per_peer waiting from its device, or lim->total from all, is
 * answered FILE_DECLINE "EBUSY: ..." and not kept; an offer refused for
 * its names is answered FILE_DECLINE with why, told to listeners (one
 * FAILED event) and not kept either; an offer unanswered for
 * lim->expiry_s is declined ("expired: ..."). An offer its sender cancels
 * before it was answered is forgotten: told to listeners (one FAILED event,
 * state cancelled), then gone from memory and from the store. Only live
 * transfers (offered, active, paused, failed) are loaded at start; declined
 * ones leave memory (the store keeps them for the list).
 */
void xfer_set_limits(xfer_mgr *m, const xfer_limits *lim);

/* The newest XFER_LIST_PAGE transfers: malloc'd array (free()). */
BANTER_WUR int xfer_list(xfer_mgr *m, xfer_info **out, size_t *n);
/* At most limit transfers, newest first, older than transfer `before`
 * (NULL: from the newest). BANTER_EDB, BANTER_ENOMEM. */
BANTER_WUR int xfer_list_page(xfer_mgr *m, const uint8_t *before, size_t limit, xfer_info **out,
                              size_t *n);
/* One transfer (in memory or stored). BANTER_ENOENT. */
BANTER_WUR int xfer_get(xfer_mgr *m, const uint8_t id[static MSG_ID_LEN], xfer_info *out);
/* Resolve what a user typed (an id or a unique prefix of one):
 * BANTER_ENOENT, BANTER_EAMBIGUOUS. */
BANTER_WUR int xfer_resolve(xfer_mgr *m, const char *query, uint8_t id[static MSG_ID_LEN]);

/* From the node: a file-transfer message from peer on c (msg_is_file():
 * types 0x10-0x14, CHUNK, FILE_MARK, FILE_STORED), from inside c's message
 * callback: a CHUNK's data is taken from c's session as it is
 * (conn_take_plaintext), not copied. Protocol errors are answered on c;
 * nothing here closes c. */
void xfer_on_message(xfer_mgr *m, conn *c, const uint8_t peer[static 32], const msg *msg_in);
/* The peer is online (after HELLO) or went offline. */
void xfer_peer_online(xfer_mgr *m, const uint8_t peer[static 32]);
void xfer_peer_offline(xfer_mgr *m, const uint8_t peer[static 32]);
/* The connection's output queue drained: sending may continue. */
void xfer_drained(xfer_mgr *m, const uint8_t peer[static 32]);

const char *xfer_state_name(xfer_state s);

/* What the download folder's disk can still take: its free space (for an
 * unprivileged user) less what accepted incoming transfers still have to
 * write, wherever they go (never less than the truth); 0 when the folder
 * cannot be looked at. A statvfs: call it only when the answer matters. */
uint64_t xfer_disk_room(const xfer_mgr *m);

#endif
