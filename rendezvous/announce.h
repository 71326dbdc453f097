/* SPDX-License-Identifier: MIT */
/*
 * announce.h - organisation announcements from an admin
 * (docs/rendezvous.md section 13): `banter-admin announce TEXT
 * [--department D]` records one and addresses it to every device of every
 * enabled account (of D); devices online whose HELLO listed the feature
 * "announce" get RV_ANNOUNCE (0x63) at once, the others at their next
 * login (RV_AUTH ok, then each announcement they have not confirmed,
 * oldest first, ANNOUNCE_PENDING_MAX at most per login).
 *
 * A node answers RV_ANNOUNCE_RCPT (0x64): read false when it stored the
 * announcement, read true when its user was shown it. Authorization: only
 * an authenticated device the announcement was addressed to, once per
 * device for each of the two; anything else is refused (ERROR ENOENT: no
 * announcement of that id for this device; EALREADY: confirmed before),
 * counted like every refused message. `announce report ID` counts them
 * (db_announce.h).
 */
#ifndef BANTER_RDV_ANNOUNCE_H
#define BANTER_RDV_ANNOUNCE_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "core.h"

#define ANNOUNCE_PENDING_MAX 64 /* announcements sent at one login */

/* Record, address and send an announcement. *id, *devices and *people as
 * db_announce_add; *now how many devices had it sent at once. 0 or the
 * database's error (nothing recorded or sent). */
BANTER_WUR int announce_make(core *k, const char *actor, const char *department, const char *text,
                             int64_t *id, int64_t *devices, int64_t *people, int64_t *now);
/* c just authenticated: what waits for it. */
void announce_device_up(conn *c);
/* RV_ANNOUNCE_RCPT (the plaintext, type byte first) from a live c. */
void announce_receipt(conn *c, const uint8_t *pt, size_t len);

#endif
