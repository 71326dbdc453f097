/* SPDX-License-Identifier: MIT */
/*
 * mailbox.h - sealed copies (docs/rendezvous.md 6, 7): RV_SEAL in,
 * RV_SEALED out, RV_DELIVERED and RV_STORED; routing to a connected device
 * without the disk, the durable store with group commit, delivery at
 * login, expiry and quota.
 *
 * A copy for a connected device is sent at once and held in memory until
 * the device answers RV_DELIVERED (then the sender gets RV_STORED
 * "delivered"). It is stored instead when the device does not answer
 * within MB_ROUTE_TIMEOUT_MS (the device is then "stalled": everything
 * it holds is stored and nothing more is routed to it until it answers
 * something), when its connection ends, when MB_WINDOW copies already wait
 * for it, or when holding it would pass a memory bound (MB_DEV_BYTES for
 * the device, MB_ROUTED_BYTES for the server) or the device's output queue
 * is busy (conn_busy).
 *
 * Storing: every copy to store that arrived in one loop iteration is
 * written in one transaction (synchronous=FULL) by mailbox_flush, which
 * the server calls once per iteration; each sender gets RV_STORED "stored"
 * (or "refused" EQUOTA, or a database error code) only after the COMMIT
 * returned. RV_DELIVERED of stored copies delete their rows in the same
 * batches. A stored copy goes to its device right after the device
 * authenticates (after its whole contact list), oldest first, at most
 * MB_WINDOW unanswered at a time, and while its output queue has room.
 *
 * Refusals answered at once, in this order: EAUTH, EPERM (a broadcast
 * without the right), ETOOBIG (the RV_SEALED would not fit one transport
 * message), ENOTCONTACT (not a broadcast, and no approved relation: the
 * same answer whether the account exists or not), ENOUSER, ENODEVICE. A
 * copy for an account that blocked the sender is answered "stored" after
 * the next commit, like a stored one, and kept nowhere.
 */
#ifndef BANTER_RDV_MAILBOX_H
#define BANTER_RDV_MAILBOX_H

#include <stdint.h>

#include "conn.h"
#include "rvmsg.h"
#include "xlmsg.h"

#define MB_WINDOW           256u                   /* copies in flight to one device */
#define MB_ROUTE_TIMEOUT_MS 10000u                 /* a routed copy's answer, else stored */
#define MB_DEV_BYTES        (1024u * 1024u)        /* routed bytes held for one device */
#define MB_ROUTED_BYTES     (256u * 1024u * 1024u) /* routed bytes held in all */
#define MB_EXPIRE_EVERY_MS  (3600u * 1000u)        /* expiry runs at start and this often */
#define MB_EXPIRE_BATCH     10000                  /* rows deleted per expiry step */
#define MB_REMOTE_MAX       65536u /* copies waiting for another instance's "delivered" */
/* A copy forwarded over a link (xlink.h) with no answer this long is
 * stored here: longer than the holder's own MB_ROUTE_TIMEOUT_MS and
 * commit, so its answer normally comes first. */
#define MB_LINK_TIMEOUT_MS  (MB_ROUTE_TIMEOUT_MS + 5000u)

/* NULL when out of memory. Starts the expiry timer on k->loop (a first
 * run right away). */
mailbox *mailbox_new(core *k);
/* Stop the timer (the handle closes with the loop); call when the server
 * stops, after every connection was closed. Unanswered copies still
 * queued are dropped: their senders got no answer, so they send again. */
void mailbox_stop(mailbox *mb);
/* After the loop ended. Accepts NULL. */
void mailbox_free(mailbox *mb);

/* RV_SEAL from c (authenticated or not: EAUTH). s->sealed is borrowed. */
void mailbox_seal(conn *c, const struct rv_seal *s);
/* RV_DELIVERED from c: the copy id (sent by device from, when not NULL)
 * reached it. */
void mailbox_delivered(conn *c, const uint8_t id[static RV_ID_LEN], const uint8_t *from);
/* RV_KEEP from c: the copy id from device from is not taken now (a group
 * message ahead of its state or key, a store that failed): it stays
 * stored (a routed one is stored now; its sender is answered "stored"),
 * leaves c's window without stalling c, and is not sent again in this
 * session; a later RV_DELIVERED still deletes it, else it comes again at
 * the device's next login. */
void mailbox_keep(conn *c, const uint8_t id[static RV_ID_LEN],
                  const uint8_t from[static RV_KEY_LEN]);

/* c was authenticated: send what is stored for its device. */
void mailbox_device_up(conn *c);
/* c stops being authenticated: its copies in flight go to the store, its
 * own copies waiting for an answer lose their sender. */
void mailbox_device_down(conn *c);
/* c has room in its output queue again. */
void mailbox_wake(conn *c);
/* Copies were stored for c's device elsewhere (another instance): fetch. */
void mailbox_more(conn *c);
/* A copy c sent (the copy id's tag, xinst_id_tag) was acknowledged by its
 * device on another instance: c gets RV_STORED "delivered". */
void mailbox_remote_delivered(conn *c, int64_t tag);

/*
 * Links between instances (xlink.h). A copy for a device that is not
 * connected here but that a link's peer says it holds is forwarded over
 * that link and held (with its bytes) until the peer answers; the
 * sender's RV_STORED is the peer's answer. If the link closes, or no
 * answer comes within MB_LINK_TIMEOUT_MS, the copy is stored here as any
 * copy for a device not connected (so "stored" still comes only after a
 * commit; the device may then get it twice, and drops the duplicate).
 *   mailbox_link_fwd: a copy forwarded to this instance (the sender's
 *     instance checked the sender's right to send it): routed to its
 *     device here as a copy from a connection, or stored here when the
 *     device is not connected or cannot take it; the answer goes back
 *     over the link.
 *   mailbox_link_ans: the answer to a copy this instance forwarded.
 *   mailbox_link_down: link closed: what was forwarded over it is stored.
 */
void mailbox_link_fwd(core *k, uint32_t link, const xl_fwd *f);
void mailbox_link_ans(core *k, uint32_t link, const xl_ans *a);
void mailbox_link_down(core *k, uint32_t link);

/* Once per loop iteration: commit the batch, answer its senders, send
 * stored copies to devices that wait for them. */
void mailbox_flush(mailbox *mb);
/* Every tick: routed copies unanswered too long are stored. */
void mailbox_tick(mailbox *mb, uint64_t now);

/* Counters for the stats line since the last call (then reset). */
typedef struct mailbox_stats {
    uint64_t routed, delivered, stored, refused, expired, commits;
    uint64_t linked; /* forwarded over links to other instances */
} mailbox_stats;
void mailbox_take_stats(mailbox *mb, mailbox_stats *out);

#endif
