/* SPDX-License-Identifier: MIT */
/*
 * xfer_sink.h - the receiving end of file transfers, on a thread of its own
 * (docs/architecture.md, "File transfers"; the files on disk:
 * docs/protocol.md section 7.2).
 *
 * For each file being received the main loop opens an xpart, then queues
 * its data, a finish, checkpoints or a discard. One worker thread runs every
 * queued operation of every part in order: it writes each piece and hashes
 * it as it goes (the file is never read back), keeps checkpoints of the hash
 * beside the partial file (shared/hstate.h), starts writeback as data piles
 * up (and has a second thread sync the file then, without waiting for
 * it, so the disk's cache never holds much of it), and at the end checks
 * the hash against the offer, syncs, and moves the file to its final name
 * without replacing anything. So the main loop
 * only queues data (copied, or the block it was decrypted into handed
 * over): it never waits on the disk, except when a peer sends more than
 * XSINK_QUEUE_MAX unwritten bytes, where xsink_write waits for room.
 *
 * After a restart, opening a part with resume set finds out what the partial
 * file holds: when its last checkpoint is sealed (written after a sync, by
 * xsink_checkpoint) and the file is exactly as it was then (same inode,
 * size and change time), the saved hash state is taken as it is and nothing
 * is read. Otherwise the file is read once and its hash compared with each
 * checkpoint: data from the first checkpoint that does not match onwards is
 * cut off (a changed or damaged file is fetched again from there, and never
 * gets its final name).
 *
 * Results reach the main loop through one callback, from a source attached
 * to its context. Nothing here closes a partial file on the main loop.
 */
#ifndef BANTER_PEER_XFER_SINK_H
#define BANTER_PEER_XFER_SINK_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banter_limits.h"
#include "hstate.h"

/* A checkpoint of the hash every this many bytes of a file. */
#define XSINK_CHECKPOINT (8u << 20)
/* Start writeback of the data written every this many bytes. */
#define XSINK_WRITEBACK  (8u << 20)
/* The size of a data block (xsink_block): a CHUNK's plaintext fits. */
#define XSINK_BLOCK      (64u << 10)
/* xsink_write waits while more than this much data is queued. */
#define XSINK_QUEUE_MAX  (16u << 20)

typedef struct xsink xsink;
typedef struct xpart xpart;

typedef enum xsink_ev_type {
    XSINK_OPENED,   /* the part is ready; bytes: how much of the file it holds */
    XSINK_STORED,   /* bytes: how much of the file is written and hashed (every
                       MiB, at the end, and after xsink_notify) */
    XSINK_FINISHED, /* ok: matched the offer and has its final name; else deleted */
    XSINK_FAILED,   /* a write or open failed (err, why); later data is dropped */
} xsink_ev_type;

typedef struct xsink_ev {
    xsink_ev_type type;
    xpart *part;      /* valid during the call */
    void *owner;      /* as given in xpart_params */
    size_t idx;       /* as given in xpart_params */
    uint64_t bytes;   /* OPENED, STORED */
    bool ok;          /* FINISHED */
    int err;          /* FAILED: BANTER_ENOSPC, BANTER_EIO, BANTER_EPERM... */
    const char *why;  /* FAILED; OPENED after a resume: what was checked */
    const char *name; /* FINISHED ok: the final name below the folder */
} xsink_ev;

typedef void (*xsink_cb)(void *ud, const xsink_ev *ev);

typedef struct xpart_params {
    int dir_fd;         /* the folder the files go to (duplicated) */
    const char *part;   /* the partial file, below dir_fd */
    const char *state;  /* its checkpoint file, below dir_fd */
    const char *legacy; /* a file of an older version to delete on resume, or NULL */
    const char *local;  /* the final name below dir_fd (a free one is taken if it is used) */
    uint64_t size;      /* the file's size in the offer */
    uint8_t hash[BANTER_FILE_HASHLEN];
    hstate_key key; /* what its checkpoints are bound to */
    bool resume;    /* find out what the partial holds; else start it empty */
    void *owner;    /* handed back in events */
    size_t idx;
} xpart_params;

/* Start the worker; events go to cb on ctx. BANTER_ENOMEM. */
BANTER_WUR int xsink_new(xsink **out, GMainContext *ctx, xsink_cb cb, void *ud);
/* Run everything queued (so checkpoints asked for are written), stop the
 * worker, and deliver the events still waiting (the callback may queue
 * nothing more: it is ignored). Accepts NULL. */
void xsink_free(xsink *s);

/* Open a part: queued like everything else; XSINK_OPENED (or FAILED)
 * follows. Strings are copied. NULL only when out of memory. The caller
 * holds one reference, given back with xsink_release. */
xpart *xsink_open(xsink *s, const xpart_params *p);
/* Queue len bytes (copied) at off in the file; pieces come in order. */
void xsink_write(xpart *p, uint64_t off, const uint8_t *data, size_t len);
/* The same without a copy: data lies inside block (cap bytes from malloc),
 * which the sink owns from now on (it frees it, or keeps it as a spare).
 * A receiver decrypts into a block from xsink_block and hands it on. */
void xsink_write_block(xpart *p, uint64_t off, uint8_t *block, size_t cap, const uint8_t *data,
                       size_t len);
/* A block of XSINK_BLOCK bytes from malloc, one of the sink's spares when
 * it has one: for the caller to fill and pass to xsink_write_block, or to
 * free(). */
uint8_t *xsink_block(xsink *s);
/* An XSINK_STORED event once everything queued so far is stored (progress
 * is otherwise reported only every MiB and at the file's end). */
void xsink_notify(xpart *p);
/* Every byte is queued: check, sync and rename (XSINK_FINISHED). */
void xsink_finish(xpart *p);
/* Sync and write a sealed checkpoint, so a restart resumes without reading
 * (when the peer goes away, the transfer fails or the node stops). */
void xsink_checkpoint(xpart *p);
/* Delete the partial file and its checkpoints (a cancel). */
void xsink_discard(xpart *p);
/* The caller is done with p: its files are closed once its queued work is
 * done. */
void xsink_release(xpart *p);

#endif
