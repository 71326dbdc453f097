/* SPDX-License-Identifier: MIT */
/*
 * gwrate.h - how many messages each person sent through a gateway in the
 * current window: the SMS and e-mail gateways cost money or reputation
 * and are not to relay spam, so each person (a key: a contact, a number)
 * may send at most per_window in window_ms.
 *
 * Sans-I/O: the caller hands in the time (any monotonic milliseconds) and
 * owns the table of slots, a fixed number: when every slot holds another
 * key whose window is still running, a new key is refused until one ends
 * (too many people at once must not push out the ones being counted).
 * Keys are compared on their first GWRATE_KEY_MAX - 1 bytes; two longer
 * keys that share those share a count (stricter, never looser).
 */
#ifndef BANTER_GWRATE_H
#define BANTER_GWRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GWRATE_KEY_MAX 80

typedef struct gwrate_slot {
    char key[GWRATE_KEY_MAX]; /* "" when free */
    int64_t start;            /* when its window began */
    int count;                /* taken in that window, refusals too */
} gwrate_slot;

typedef struct gwrate {
    gwrate_slot *slots; /* the caller's, nslots of them, zeroed */
    size_t nslots;
    int64_t window_ms;
    int per_window;
} gwrate;

/* Count one message from key (not empty) at now. true while key has
 * taken no more than per_window in its window (which starts at its first
 * message, and again at the first after it ended); false past that, when
 * no slot is free, or for an empty key. */
bool gwrate_take(gwrate *r, const char *key, int64_t now);

/* How many key took in its current window, refused ones too (0 when it
 * has no slot or its window has ended at now). */
int gwrate_count(const gwrate *r, const char *key, int64_t now);

#endif
