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
 *   DBC_ICE     an ICE message for the device, in the event's body
 *               (icesig.c checked the sender's right on its instance);
 *   DBC_CONTACT a relation of the device's account changed on another
 *               instance; the body names the other account: the account
 *               reads the pair again (contacts_remote_change);
 *   DBC_ADMIN   an admin acted on the device or its account on another
 *               instance (xinst_admin): the body says what, "refresh" (read
 *               the account again: disabled, rights), "revoke" or "kick"
 *               (end the device's session, as the admin's instance did
 *               with the devices it holds).
 * Both are hints over rows that stay the truth (the stored copy, deleted
 * only when acknowledged), so a lost or repeated event costs at most a
 * late "stored" answer or an extra fetch.
 *
 * Presence across instances: an account is online when it has a device on
 * any instance (banter_online) and did not choose invisible. contacts.c,
 * on a cluster, does not compute its contacts' presence itself: a change
 * of an account's devices or status here is announced to every instance
 * (xinst_presence_changed), each reads the account's presence from the
 * shared tables, keeps it (the accounts online anywhere, read whole at
 * every join) and, when it changed, pushes RV_PRESENCE to the account's
 * contacts connected to it (contacts_push_presence). What is kept is also
 * what those contacts were last told: a read and the instance's own push
 * of a login on it (xinst_presence_local) race, and whichever comes
 * second finds the state kept and pushes nothing. A status change is
 * pushed by the reads alone, which are answered in order (cluster.h), so
 * contacts see the changes in the order they were made; the account's
 * devices on other instances get it from the same read
 * (contacts_own_read), unless the read was sent before a change of the
 * status on their own instance.
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

/* What an admin did, for the devices on other instances: what is
 * XINST_REFRESH (every device of user: its account changed), or
 * XINST_REVOKE / XINST_KICK (device, or every device of user when NULL). */
#define XINST_REFRESH "refresh"
#define XINST_REVOKE  "revoke"
#define XINST_KICK    "kick"
void xinst_admin(core *k, const char *user, const uint8_t *device, const char *what);

/* On a cluster: an organisation-wide change was stored here: every other
 * instance reads it again (cluster_org_changed). XINST_ORG_POLICY: the
 * policy (orgpolicy_reload); XINST_ORG_REVOKED: a device was revoked
 * (orgrevoke_reload). Each instance also reads both again whenever it
 * joins the service (notifications missed meanwhile are not replayed). */
#define XINST_ORG_POLICY  "policy"
#define XINST_ORG_REVOKED "revoked"
void xinst_org_changed(core *k, const char *what);
/* On a cluster: announcement id was recorded here: every other instance
 * sends it to its devices online (announce_remote; the word is
 * "announce.ID"). */
void xinst_announced(core *k, int64_t id);

/* On a cluster: the entry of account name (its profile or devices)
 * changed here: the devices on other instances of the accounts in viewers
 * (names separated by '\n'; name itself for its own entry) read it again
 * and get it (DBC_CONTACT, body: name; one statement for all). */
void xinst_entry_changed(core *k, const char *name, const char *viewers);

/* On a cluster: the relation of user with peer changed here: user's
 * devices on other instances read it again (DBC_CONTACT, body: peer). */
void xinst_contact_changed(core *k, const char *user, const char *peer);

/* On a cluster: user's devices here or its chosen status changed. */
void xinst_presence_changed(core *k, const char *user);
/* On a cluster: read user's presence again, on this instance only (its
 * status was just loaded here: a change made elsewhere meanwhile may have
 * been read before, and skipped). */
void xinst_presence_reread(core *k, const char *user);
/* On a cluster: user's presence as contacts see it (RV_P_OFFLINE when it
 * is online nowhere or invisible) and its text (cap bytes, "" when none). */
rv_presence xinst_presence(const core *k, const char *user, char *text, size_t cap);

/* On a cluster: user logged in here, shown to contacts as status (text),
 * which this instance is about to push. True when that is news to the
 * contacts connected here (recorded: the next read that says the same
 * pushes nothing), false when the last push (a read's, which may come
 * before the login's own) said the same: push nothing, so each change
 * reaches a contact once. True without a cluster. */
bool xinst_presence_local(core *k, const char *user, rv_presence status, const char *text);

/* The presence reads this instance sent so far (cluster_reads_sent; 0
 * without a cluster). */
uint64_t xinst_reads_sent(const core *k);

/* On a cluster: whether user has a device online on some instance, as
 * the last presence read said (invisible or not). */
bool xinst_online_anywhere(const core *k, const char *user);

/* The event tag of a copy id (its first 8 bytes as a number). */
int64_t xinst_id_tag(const uint8_t id[static RV_ID_LEN]);

#endif
