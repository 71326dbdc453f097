/* SPDX-License-Identifier: MIT */
/*
 * contacts.h - contact authorization and presence (docs/rendezvous.md 5):
 * RV_CONTACT (request, approve, deny, remove, block, unblock), the contact
 * list (RV_CONTACTS) sent after authentication and kept up to date on
 * every connected device, RV_STATUS and the RV_PRESENCE pushes.
 *
 * Each connected account (online.h) holds its relations in memory, sorted
 * by name and kept in step with the database (db_contacts.h), so a push
 * costs O(relations) lookups in memory and the mailbox checks a sender's
 * right to seal without the disk. Without an approved relation (in both
 * directions unblocked) nobody gets the other's presence, profile details
 * or device keys.
 *
 * The list is sent in messages of at most RV_CONTACTS_PER_MSG entries and
 * only while the connection has room (conn_busy), resumed by
 * contacts_continue; any error on a connection closes it or answers ERROR.
 *
 * The database belongs to its thread (dbq.h): every read and write here is
 * a job whose after updates the caches and pushes. The caches change only
 * in afters, which run in the order of the jobs, so they follow the
 * database's order of writes. An update for a device whose list's first
 * page (the reset) is still being read is not sent: that page, read after
 * the update's write, carries it.
 */
#ifndef BANTER_RDV_CONTACTS_H
#define BANTER_RDV_CONTACTS_H

#include <stdbool.h>

#include "conn.h"
#include "online.h"
#include "rvmsg.h"

/* What follows contacts_device_up: r 0, or a BANTER_E* from the database
 * (nothing was sent). */
typedef void (*contacts_up_fn)(conn *c, int r);

/* The account's first device authenticated (first), or another one: one
 * job of the database thread reads the account's presence and relations
 * when they are not in memory yet, and the first page of the list, while
 * c's input waits (conn_input_hold: what the node sends once logged in
 * finds its contacts); its after sends that page, tells the contacts that
 * the account is online (unless invisible) and calls then(c, 0). The next
 * pages are read while c has room. then is not called when c closed or
 * left the account meanwhile; then(c, r) at once when the job cannot be
 * queued. */
void contacts_device_up(conn *c, bool first, contacts_up_fn then);

/* c stops being authenticated (its account record still holds it). */
void contacts_device_down(conn *c);

/* On a cluster (xinst.h): name's presence is now status (text): every
 * connected account here that sees name's presence gets RV_PRESENCE. */
void contacts_push_presence(core *k, const char *name, rv_presence status, const char *text);

/* On a cluster (xinst.h): the relation between user (connected here) and
 * peer changed on another instance: read it again, update user's cache
 * and push the entry. */
void contacts_remote_change(core *k, const char *user, const char *peer);

/* The last device of a went away: contacts that saw it get offline. */
void contacts_account_gone(core *k, account *a);

/* c has room again: send more of its contact list, if one is due. */
void contacts_continue(conn *c);

/* RV_CONTACT from an authenticated c: no answer on success; ERROR ENOUSER
 * (no such account; a disabled one unless c's account has a relation with
 * it, or for request and approve), EINVAL (about itself), ESTATE, ELIMIT
 * or a database code. */
void contacts_op(conn *c, const struct rv_contact_op *op);

/* RV_STATUS from an authenticated c: stored, then pushed when what
 * contacts see changed (from the job's after). ERROR on a database
 * failure. */
void contacts_status(conn *c, const struct rv_status *st);
/* Tell c (all: every connected device of c's account) the status the
 * account chose and the account's devices connected now (RV_STATUS,
 * server to node; docs/rendezvous.md 5.3). */
void contacts_own_status(conn *c, bool all);
/* On a cluster (xinst.h): presence read number `read` (cluster.h) says
 * account name chose status (RV_P_ONLINE ... RV_P_INVISIBLE) with text,
 * and has devs (n of them) online on any instance. When name is connected
 * here, it keeps the devices elsewhere and, unless the read may predate
 * the status held here (account.status_read), the status chosen (on
 * another instance); when either changed, its devices here are told
 * (contacts_own_status). */
void contacts_own_read(core *k, const char *name, uint64_t read, uint8_t status, const char *text,
                       const uint8_t (*devs)[32], size_t n);

/* What changed about an account (contacts_entry_changed): a bit per
 * profile field (1u << rv_field), and its devices. */
#define CONTACTS_CH_DEVICES (1u << RV_F_COUNT)

/* What changed about name: every connected account with an entry for it
 * that sees something that changed (an approved contact: any field and the
 * devices; others: a public field) gets the entry again; the others hear
 * nothing, so a stranger cannot even tell that a hidden field changed.
 * The entry is read by a job queued after the change's own write. */
void contacts_entry_changed(core *k, const char *name, uint32_t what);

/* name set the fields of p that are not NULL. */
void contacts_profile_changed(core *k, const char *name, const struct rv_profile *p);

/* name's devices changed. */
static inline void contacts_devices_changed(core *k, const char *name)
{
    contacts_entry_changed(k, name, CONTACTS_CH_DEVICES);
}

enum { CONTACTS_SEAL_OK, CONTACTS_SEAL_DROP, CONTACTS_SEAL_NOTCONTACT };

/* May from (connected) seal a copy to the account named to? OK for its own
 * account (another of its devices). NOTCONTACT
 * without an approved relation that from has not blocked (a broadcast
 * needs none), whether or not to blocked from; otherwise DROP when to
 * blocked from (answer "stored", keep nothing), else OK. It needs no
 * database, so it comes first: a stranger learns nothing about to. */
int contacts_may_seal(const account *from, const char *to, bool broadcast);

#endif
