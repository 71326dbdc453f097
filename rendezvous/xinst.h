/* SPDX-License-Identifier: MIT */
/*
 * xinst.h - the server's side of a cluster (cluster.h; docs/rendezvous.md
 * 8.2): which of its devices are online goes to the shared tables, and the
 * events other instances post for its devices are acted on.
 *
 * Only with a PostgreSQL database (core->cl set by xinst_start); every
 * call is a no-op without one, so the rest of the server calls them
 * unconditionally.
 *
 * Events acted on:
 *   DBC_SEALED  a copy was stored for the device (by another instance):
 *               the device fetches its stored copies now (mailbox_more);
 *   DBC_ACK     a copy the device sent was acknowledged by its recipient
 *               on another instance (row_id: the copy id's first 8 bytes,
 *               xinst_id_tag): its sender gets "delivered"
 *               (mailbox_remote_delivered).
 * Both are hints over rows that stay the truth (the stored copy, deleted
 * only when acknowledged), so a lost or repeated event costs at most a
 * late "stored" answer or an extra fetch.
 */
#ifndef BANTER_RDV_XINST_H
#define BANTER_RDV_XINST_H

#include <stdint.h>

#include "conn.h"
#include "core.h"
#include "rvmsg.h"

/* Join the service on the database at url as instance id (cluster_new).
 * 0, or a BANTER_E* code with the reason logged. */
BANTER_WUR int xinst_start(core *k, const char *url, const char *id);
/* Leave (the rows stay until another instance reaps them). Accepts a core
 * without a cluster. */
void xinst_stop(core *k);

/* c was authenticated (attached to its account) / is leaving it. */
void xinst_device_up(conn *c);
void xinst_device_down(conn *c);

/* A copy for device (not connected here) was stored: wake the instance
 * holding it, if any. done (may be NULL) gets whether one holds it. */
void xinst_stored(core *k, const uint8_t device[static 32], void (*done)(void *ud, bool held),
                  void *ud);
/* The stored copy id, sent by from_device, was acknowledged here by its
 * recipient: tell the sender's instance. */
void xinst_acked(core *k, const uint8_t from_device[static 32], const uint8_t id[static RV_ID_LEN]);

/* The event tag of a copy id (its first 8 bytes as a number). */
int64_t xinst_id_tag(const uint8_t id[static RV_ID_LEN]);

#endif
