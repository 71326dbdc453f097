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

/*
 * An announcement on its way (acct.c's `announce`), in three steps so
 * that the loop never waits for the database:
 *   announce_start  (loop, when the request is taken) lists the devices
 *                   online whose HELLO listed "announce", each held
 *                   (conn_hold) until announce_free; 0 or BANTER_ENOMEM
 *                   (*out NULL).
 *   announce_record (database thread, one job) records the announcement
 *                   (ts_ms, department and text given to start) and
 *                   checks which of the listed devices it is addressed
 *                   to; *id, *devices and *people as db_announce_add. 0
 *                   or the database's error (nothing recorded).
 *   announce_send   (loop, in the job's after, once recorded) sends it to
 *                   those still connected in the session they were
 *                   listed in (a device that logged in meanwhile finds it
 *                   at its login instead): how many.
 *   announce_free   (loop) releases the devices; accepts NULL.
 */
typedef struct announce_out announce_out;
BANTER_WUR int announce_start(core *k, const char *department, const char *text, int64_t ts_ms,
                              announce_out **out);
BANTER_WUR int announce_record(db *d, announce_out *o, const char *actor, int64_t *id,
                               int64_t *devices, int64_t *people);
int64_t announce_send(announce_out *o);
void announce_free(announce_out *o);
/* On a cluster: another instance recorded announcement id (xinst.h): the
 * devices connected here that take announcements and are addressed get
 * it now (read again in one database job; a failure is logged, and they
 * get it at their next login). */
void announce_remote(core *k, int64_t id);
/* c just authenticated: what waits for it. */
void announce_device_up(conn *c);
/* RV_ANNOUNCE_RCPT (the plaintext, type byte first) from a live c. */
void announce_receipt(conn *c, const uint8_t *pt, size_t len);

#endif
