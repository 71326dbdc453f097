/* SPDX-License-Identifier: MIT */
/*
 * parking.h - relayed group messages that came too early, waiting in
 * memory (docs/protocol.md 13.6, "not now").
 *
 * A GROUP_KEY or GROUP_MSG relayed by the server can come before the
 * group's state or its sender's key (the node answers BANTER_EAGAIN). The
 * roster answers it RV_KEEP, so the server keeps it stored (and sends it
 * again at the next login), and parks it here until something that may let it in is taken: the
 * group's state (any parked message of that group) or a key from its sender (that sender's messages
 * of that group). Nothing else is tried again, so a group message taken costs nothing here, and a
 * state or key costs the messages of its own group only.
 *
 * Shares: at most max messages in all and per_sender from one sending
 * device, so one contact (or group member) cannot take the room everyone
 * else's early messages need. Past either cap a message is refused; the
 * server's copy waits for the next login (the roster answers every early
 * message RV_KEEP, parked or not, so the server keeps it stored and its
 * window for this device stays open).
 *
 * Pure code on opaque items: no clock, no I/O. Not thread-safe.
 */
#ifndef BANTER_PEER_PARKING_H
#define BANTER_PEER_PARKING_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define PARKING_ID_LEN     16 /* MSG_ID_LEN */
#define PARKING_GROUP_LEN  16 /* GSTATE_ID_LEN */
#define PARKING_SENDER_LEN 32 /* a device key */

/* The roster's caps: 256 in all, 32 from one device (8 senders fill it). */
#define PARKING_MAX        256
#define PARKING_PER_SENDER 32

typedef struct parking parking;

/* An empty parking of at most max items, per_sender from one sender
 * (both at least 1). item_free (may be NULL) frees the items still
 * parked when it is freed. Never NULL (GLib aborts without memory). */
parking *parking_new(size_t max, size_t per_sender, void (*item_free)(void *));
/* Frees the items still parked. Accepts NULL. */
void parking_free(parking *p);

/* Park item, message id from sender for group. 0: parked, p owns item.
 * 1: a message of that id from that sender is parked already (nothing
 * done, item stays the caller's; another sender's of the same id is
 * parked beside it). BANTER_EAGAIN: the sender's share or the total is full
 * (nothing done, item stays the caller's). */
BANTER_WUR int parking_add(parking *p, const uint8_t id[static PARKING_ID_LEN],
                           const uint8_t sender[static PARKING_SENDER_LEN],
                           const uint8_t group[static PARKING_GROUP_LEN], void *item);

/* Take out the items parked for group, from sender only unless sender is
 * NULL, oldest first: their count, *items a new array of them (g_free;
 * NULL when none). The caller owns the items taken. */
size_t parking_take(parking *p, const uint8_t group[static PARKING_GROUP_LEN],
                    const uint8_t *sender, void ***items);

/* Items parked from sender, or in all when sender is NULL. */
size_t parking_count(const parking *p, const uint8_t *sender);

#endif
