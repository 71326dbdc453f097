/* SPDX-License-Identifier: MIT */
/*
 * conn.h - one client connection of the server: its record, the calls that
 * queue messages on it, writing, backpressure and closing.
 *
 * A connection is a libuv TCP handle and a responder session
 * (shared/session.h). Messages are encrypted into the session's output
 * queue at once; the bytes are written when the server flushes, once per
 * loop iteration (conn_flush_dirty), so everything queued for one
 * connection in one iteration goes out in one write.
 *
 * Memory bounds: a connection's unsent output is capped at CONN_OUT_CAP; a
 * peer that lets it fill up is not reading and is closed. Long before
 * that, at CONN_OUT_HIGH, the server stops reading from it (it must read
 * the answers to what it sent first) and starts again below CONN_OUT_LOW;
 * the mailbox and the contact list sender also hold back while a
 * connection is above CONN_OUT_HIGH (conn_busy).
 *
 * Batching (docs/rendezvous.md section 2.2): on a connection whose HELLO
 * listed "batch" (c->batch), messages are not encrypted at once but
 * collected in plaintext, and the flush seals what one loop iteration
 * queued as one RV_BATCH (or a lone message as itself): one AEAD operation
 * for many messages. The builder is borrowed from a pool in the core only
 * while something waits, so an idle connection holds none.
 *
 * Lifetime: conn_close stops all I/O at once and tells the other modules
 * (auth_conn_gone), but the record is freed only in the handle's close
 * callback, never inside a callback of its own; after conn_close every
 * call here is a no-op (check c->closing where it matters). A database
 * job (dbq.h) that answers on c holds it (conn_hold) until its after
 * released it (conn_release): the close callback then leaves the record
 * to the last release, so an after may always look at c->closing.
 */
#ifndef BANTER_RDV_CONN_H
#define BANTER_RDV_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core.h"
#include "dlist.h"
#include "msg.h"
#include "rvmsg.h"
#include "session.h"

#define CONN_OUT_CAP     (256u * 1024u) /* unsent bytes; beyond it the peer is dropped */
#define CONN_OUT_HIGH    (64u * 1024u)  /* stop reading from the peer, hold back copies */
#define CONN_OUT_LOW     (16u * 1024u)  /* read again */
#define CONN_MAX_REFUSED 16u            /* refused messages tolerated on one connection (< 31) */
#define CONN_ADDR_MAX    64
#define CONN_HELD_MAX    (4u * 65536u) /* bytes read while the input is held (reading stops) */

typedef struct account account;
typedef struct login login;
typedef struct mb_item mb_item;
typedef struct mb_late mb_late;
struct conn_held; /* server.c: bytes read while the input is held */
typedef struct conn_batch conn_batch;

/* The mailbox's state of one authenticated device connection (mailbox.c
 * owns it; zero when not authenticated). */
struct mb_dev {
    dlist inflight;     /* copies sent to this device, not yet answered, oldest first */
    hlist sent;         /* copies this connection sealed that wait in memory */
    conn *fetch_next;   /* on the mailbox's fetch list while queued */
    conn **fetch_prevp; /* what points to this one there, NULL when not queued */
    mb_late *late;      /* copies routed here, then stored unanswered (NULL: none) */
    int64_t last_seq;   /* the newest stored copy sent on this connection */
    uint32_t bytes;     /* bytes of routed copies held for this device */
    uint16_t n;         /* copies in flight to this device (at most MB_WINDOW) */
    bool more;          /* stored copies past last_seq may wait */
    bool stalled;       /* a copy went unanswered for too long: store, do not route */
};

struct conn {
    uv_tcp_t tcp;       /* first: a pointer to the handle is a pointer to the conn */
    session *s;         /* in the same slot, after the record (conn_start_session); NULL before */
    dlist_link list;    /* on k->pending or k->live */
    conn *dirty_next;   /* on k->dirty while dirty */
    conn **dirty_prevp; /* what points to this one on k->dirty */
    login *login;       /* an RV_LOGIN being checked (auth.c), or NULL */
    account *acct;      /* the account, once authenticated (online.c), else NULL */
    dlist_link dev;     /* on the account's list of connected devices */
    char *clist_after;  /* the contact list is being sent: the last name sent (contacts.c) */
    struct conn_held *held; /* bytes read while the input was held (conn_input_hold), or NULL */
    conn_batch *ob;         /* messages queued this iteration, not yet sealed (batch only) */
    struct mb_dev mb;
    /* Times are loop ms modulo 2^32 (conn_ms, conn_age: differences are
     * right up to 49 days), so the record stays small: one per connection. */
    uint32_t since; /* the accept (pending), the last byte (live) */
    /* ICE (icesig.c): when the TURN credentials were last sent (0:
     * never); the start of the signaling rate window, and the messages
     * in it. */
    uint32_t ice_sent, ice_window;
    /* The start of the rate windows (server.c) of the changes that reach
     * the account's contacts (RV_STATUS, RV_PROFILE_SET, RV_CONTACT) and
     * of searches, and the messages in each (saturating). */
    uint32_t chg_window, srch_window;
    uint16_t chg_count, srch_count;
    uint32_t cert_sent; /* the last certificate was sent (auth.c renews it; 0: never) */
    uint32_t wbytes;    /* bytes in the write in flight */
    uint16_t ice_count;
    uint16_t holds;          /* database jobs that will still look at this record */
    uint8_t input_holds;     /* conn_input_hold calls not resumed yet: no message is handled */
    uint8_t sess_gen;        /* sessions authenticated on it so far (auth.c): jobs of an earlier one
                                send nothing */
    uint8_t refused : 5;     /* messages refused so far (up to CONN_MAX_REFUSED + 1) */
    bool live : 1;           /* the peer's HELLO arrived */
    bool pinged : 1;         /* a keepalive PING went out since the last byte */
    bool writing : 1;        /* a uv_write is in flight */
    bool closing : 1;        /* uv_close was called (or it was never set up) */
    bool closed : 1;         /* the handle's close callback ran: freed with the last hold */
    bool mb_batch : 1;       /* a copy it sent is in the mailbox's commit (mailbox.c) */
    bool mb_fetching : 1;    /* its stored copies are being read (mailbox.c) */
    bool dirty : 1;          /* on k->dirty */
    bool paused : 1;         /* reading stopped until the output drains */
    bool wants_policy : 1;   /* the peer's HELLO listed "policy" (orgpolicy.h) */
    bool wants_announce : 1; /* ... "announce": RV_ANNOUNCE and RV_REVOKED (announce.h, orgrevoke.h)
                              */
    bool clist_busy : 1;     /* a page of the contact list is being read (contacts.c) */
    bool batch : 1;          /* ... "batch": RV_BATCH both ways (rvbatch.h) */
    bool ann_up : 1;         /* this session's waiting announcements were asked for (announce.c):
                                a live one is sent only then, or it would go twice */
};

/* A loop time (core_now) as kept in a conn, and how long ago one was. */
static inline uint32_t conn_ms(uint64_t now) { return (uint32_t)now; }
static inline uint32_t conn_age(uint64_t now, uint32_t then) { return (uint32_t)now - then; }
_Static_assert(offsetof(conn, tcp) == 0, "conn starts with its handle");
_Static_assert(sizeof(conn) % 8 == 0, "the session after the record is aligned to 8");

/* The server core: the loop's data (one pointer less per connection). */
static inline core *conn_core(const conn *c) { return c->tcp.loop->data; }

/* Pin c's record for a database job (dbq.h): it is not freed, even once
 * the connection closed, before as many conn_release calls, the last of
 * which frees it when the handle is closed. Loop thread only; an after
 * checks c->closing before answering, then releases. More than
 * UINT16_MAX holds, or a release without a hold, abort (a bug). */
void conn_hold(conn *c);
void conn_release(conn *c);

/*
 * A request's database job (dbq.h) that answers on c, its prologue and
 * epilogue written once. The job's record starts with a conn_job:
 *
 *     struct x_job { conn_job h; ... };
 *     struct x_job *j = conn_job_new(c, sizeof *j);
 *     if (!j)
 *         return;                          (out of memory: c is closed)
 *     ... fill j (j->h.user: c's account)
 *     if (conn_job_submit(j, x_work, x_after) != 0) {
 *         ... answer the error, free j
 *     }
 *
 * conn_job_new: a zeroed record of size bytes (at least a conn_job) with
 * h.c = c and h.user = the name of c's account ("" before login). NULL
 * when out of memory: then c is closed (BANTER_ENOMEM), since a request
 * that cannot be queued cannot be answered in its place. The record is
 * the caller's until it is submitted, then its after's.
 *
 * conn_job_submit: work(d, job, errmsg) runs on the database thread as
 * any job's; then, on the loop, exactly once, after(c, job, ret, errmsg)
 * (ret and errmsg are work's), also when c closed meanwhile: its record
 * is still there (check c->closing before answering). The after frees the
 * job and what it owns. Until it returned, c is held (conn_hold) and so
 * is its input (conn_input_hold): c's next messages are handled, and
 * answered, after this one's answer; then its input resumes and c is
 * released. Returns 0, or core_job's error (BANTER_ENOMEM, BANTER_ESTATE
 * when stopping): nothing queued or held, the job is still the caller's.
 * Loop thread only.
 */
typedef void (*conn_after_fn)(conn *c, void *job, int ret, const char *errmsg);
typedef struct conn_job {
    conn *c;
    conn_after_fn after;
    char user[BANTER_MAX_NAME + 1];
} conn_job;
void *conn_job_new(conn *c, size_t size);
BANTER_WUR int conn_job_submit(void *job, dbq_work_fn work, conn_after_fn after);

/* Append to / remove from a list (pending or live). */
void conn_list_push(conn_list *l, conn *c);
void conn_list_remove(conn_list *l, conn *c);

/*
 * Stop all I/O on c; it is freed in its close callback. With bye, an
 * established session first says BYE with that reason, if the socket
 * takes it at once (best effort: the peer notices the close anyway). err
 * (0 or BANTER_E*) only feeds the error count. Safe to call twice.
 */
void conn_close(conn *c, int err, const char *bye);

/* Queue one message (encrypted at once). A peer whose output is full is
 * closed (it does not read). */
void conn_send(conn *c, const msg *m);
/* Queue an rvmsg; one the codec refuses (a bug, or a stored value it does
 * not accept) is reported to the peer as ERROR instead, and logged. */
void conn_send_rv(conn *c, const rvmsg *m);
/* Queue one plaintext already encoded (type byte first). */
void conn_send_pt(conn *c, const uint8_t *pt, size_t len);
/* Queue ERROR code ("EAUTH") with a sentence for people. */
void conn_error(conn *c, const char *code, const char *why);
/* ERROR for a refused message, counted: past CONN_MAX_REFUSED refusals
 * the connection is closed (BYE "too many refused messages"). */
void conn_refuse(conn *c, const char *code, const char *why);

/* Bytes queued for the peer and not yet written. */
size_t conn_queued(const conn *c);
/* Whether the peer has CONN_OUT_HIGH or more waiting: do not add bulk. */
static inline bool conn_busy(const conn *c) { return conn_queued(c) >= CONN_OUT_HIGH; }

/* c has output (e.g. a handshake message the session queued itself): write
 * it at the next flush. */
void conn_mark_dirty(conn *c);
/* Write what every dirty connection queued (the server's flush). */
void conn_flush_dirty(core *k);
/* Free the pool of batch builders (at shutdown, no connection left). */
void conn_batch_pool_free(core *k);

/*
 * The records of connections come from a pool (shared/slab.h), each with
 * its session in the same slot, right after it: one connection costs
 * sizeof(conn) + session_size() bytes, no malloc header and no rounding
 * (docs/cluster.md, "Capacity"). conn_pool_new makes the core's pool: 0
 * or BANTER_ENOMEM. conn_pool_free unmaps it at shutdown and logs the
 * records still in use (a bug: they are not freed one by one then).
 */
int conn_pool_new(core *k);
void conn_pool_free(core *k);
/* A record for a connection being accepted: zeroed, from k's pool, its
 * handle initialised on k's loop (uv_tcp_init); NULL when out of memory.
 * conn_start_session sets up its session (c->s) in the slot: 0 or
 * session_init's error. conn_free gives back the record and what it holds,
 * from the handle's close callback only (conn_close's does it for a
 * connection that was set up). */
conn *conn_new(core *k);
int conn_start_session(conn *c, const session_config *sc);
void conn_free(conn *c);

/* The read callbacks (server.c: reading feeds the session and dispatches
 * its messages); conn.c restarts reading with them after a pause. */
void conn_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
void conn_on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b);

/*
 * Handle no more of c's messages before as many conn_input_resume calls:
 * for a message answered by a database job, so that the next messages
 * are handled, and answered, after it as when it was answered at once
 * (its answer may change what they may do, like the authentication at
 * HELLO, and a PING's PONG must not overtake it: clients use PING as a
 * barrier). Reading stops; bytes already read wait in c->held. The last
 * conn_input_resume (on the loop, from the job's after, once the answer
 * is queued) handles them, then reads again. Both are no-ops on a
 * closing c; more than UINT8_MAX holds abort (a bug).
 */
void conn_input_hold(conn *c);
void conn_input_resume(conn *c);

/* The peer's address without the port ("?" when unknown). */
void conn_addr(conn *c, char out[static CONN_ADDR_MAX]);
/* The peer's address: 0, or -1 when it is unknown (*out zeroed). */
int conn_peer(conn *c, struct sockaddr_storage *out);

/* The device key the peer proved (NULL before the handshake). */
static inline const uint8_t *conn_device(const conn *c) { return session_peer(c->s); }

#endif
