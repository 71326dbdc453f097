/* SPDX-License-Identifier: MIT */
/*
 * contacts.h - who is who: contacts (people), their devices (keys) and how
 * far each device is trusted. The rules live here and nowhere else
 * (docs/protocol.md, "Contacts, devices and trust"):
 *
 *   - A device is its Ed25519 key, proven in the handshake. A name is a
 *     label: it never decides which contact a known key belongs to, never
 *     takes over another contact's label, history or trust.
 *   - Names are compared by one rule everywhere (contacts_fold): Unicode
 *     NFKC normalisation, what cannot be seen dropped (default-ignorable
 *     code points such as U+200B and the bidi controls; white space at
 *     either end; runs of white space count as one), then case folding,
 *     then letters of other scripts drawn like Latin ones in both cases
 *     taken as those (Cyrillic а, Greek Ο...: the table in contacts.c). "BOB", "bob",
 *     "ｂｏｂ", "bob ", "b\u200bob" and "b\u043eb" are the same name.
 *   - A LAN colleague is trusted on first use: a new key with a new name
 *     is a new contact with one device (TRUST_KNOWN). A new key whose name
 *     is a LAN contact's label claims that contact: it becomes a device of
 *     it in TRUST_CHANGED, nothing is sent to it, and what it sends is
 *     flagged, until a person verifies it (it then replaces the old key).
 *   - An organisation account is a contact whose devices the server lists
 *     (approved contacts) or certifies (a LAN device showing a valid
 *     certificate for the account): TRUST_CERTIFIED. A LAN device without
 *     a certificate never joins, hides or replaces an organisation contact:
 *     a name clash only makes the plain name ambiguous (@ACCOUNT always
 *     names the organisation's).
 *   - The organisation's word lapses: a certified device is vouched for
 *     until its certificate expires (shown again on every connection and
 *     when renewed), or a day (CONTACTS_VOUCH_MS) after the server last
 *     listed it. Past that it is TRUST_LAPSED (contacts_trust): it stays a
 *     device of the contact, but like a changed key nothing for the
 *     contact goes to it, what it sends is flagged as unverified, it
 *     speaks for no group or own-account copy, and a note says why when it
 *     connects (ADMIT_LAPSED). A valid certificate or a new listing vouches
 *     for it again; `banter verify` makes it TRUST_VERIFIED (the person's
 *     word, for good). So a device of an account deleted, revoked or
 *     renamed to someone else while this node was away from the server
 *     does not stay that account's.
 *   - When a device that was a LAN contact of its own shows a certificate,
 *     that contact is merged into the organisation contact (history kept).
 *   - The node's own account (contacts_set_self) is the "self" contact: an
 *     organisation contact whose devices are the account's other devices
 *     (listed by the server in its own entry, or certified on the LAN),
 *     never this node's own key. It is no conversation: it is not resolved
 *     from what a user types; it receives the copies of what this device
 *     sends (docs/protocol.md, CHAT "to"), and only its devices may send
 *     such copies.
 *
 * Persistence is the store's; this module holds no state of its own but
 * the server's fingerprint and the clock. Every call runs on the node's
 * loop and returns 0 or a negative BANTER_E*.
 */
#ifndef BANTER_PEER_CONTACTS_H
#define BANTER_PEER_CONTACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/clock.h"
#include "core/store.h"
#include "identity.h"

/* How long the server's word for a device holds: a device list vouches
 * for each device it names this long from when it came, and so does a
 * certificate whose expiry is not known. The life of a certificate:
 * rendezvous/auth.h AUTH_CERT_TTL_MS (24 h), which the node does not
 * include (the server's module). */
#define CONTACTS_VOUCH_MS       (24LL * 3600 * 1000)
/* A device listed again within this long of its last listing is not
 * written again (a login lists every contact): it lapses between
 * CONTACTS_VOUCH_MS - CONTACTS_VOUCH_SLACK_MS and CONTACTS_VOUCH_MS after
 * the last listing. */
#define CONTACTS_VOUCH_SLACK_MS (3600LL * 1000)

/* Room for a folded name: folding can grow a name (ß -> ss, ligatures). */
#define CONTACTS_FOLD_MAX (4 * BANTER_MAX_NAME + 1)

typedef struct contacts contacts;

/* server_fpd: the pinned rendezvous server's 40 digits, or "" without a
 * server (then no certificate is accepted and no account is made). */
BANTER_WUR int contacts_new(contacts **out, store *st, const char *server_fpd,
                            const node_clock *clock);
void contacts_free(contacts *cs);

/* The name rule: NFKC, invisible code points dropped and white space
 * trimmed and collapsed, then case folding, into out (cap bytes, cut at
 * a character). Invalid UTF-8 folds to "", and so does a name of nothing
 * visible. */
void contacts_fold(const char *name, char *out, size_t cap);
bool contacts_same_name(const char *a, const char *b);

/* The handle of the organisation contact for account:
 * BLAKE2b-256("banter-account-v1" || server_fpd || 0 || account). */
void contacts_account_key(const char *server_fpd, const char *account, uint8_t key[static 32]);

typedef enum contacts_admitted {
    ADMIT_SAME,    /* a known device, nothing changed but when it was seen */
    ADMIT_NEW,     /* a new contact with this one device (trust on first use) */
    ADMIT_RENAMED, /* a known device gave another name (text says what became of it) */
    ADMIT_CHANGED, /* a new key claimed a known contact: TRUST_CHANGED (text: the warning) */
    ADMIT_JOINED,  /* the device is now the organisation account's (certificate), or again */
    ADMIT_LAPSED,  /* a device of an organisation contact the organisation no longer vouches
                      for connected without a certificate (text: the note) */
} contacts_admitted;

typedef struct contacts_admit_result {
    contacts_admitted what;
    store_device dev;
    store_contact contact;
    char text[640]; /* a sentence for the log and listeners, "" when none */
} contacts_admit_result;

/* fn(ud, key): whether the organisation revoked device key (its signed
 * revocation list, orgnote.h). Such a key is never admitted as the
 * organisation's, whatever certificate or device list names it. */
void contacts_set_revoked(contacts *cs, bool (*fn)(void *ud, const uint8_t key[static 32]),
                          void *ud);
/* The organisation revoked device key (its key is on the server's signed
 * revocation list): when it is a device of an organisation contact, it
 * leaves it and becomes a LAN contact of its own (a fresh label, trust
 * on first use: no longer the organisation's word), its history staying
 * with the account. 1 when it was moved (*out says where, with a
 * sentence), 0 when there was nothing to do; BANTER_EDB. */
BANTER_WUR int contacts_revoked(contacts *cs, const uint8_t key[static 32],
                                contacts_admit_result *out);

/* A LAN device proved key in a handshake and said HELLO with name (valid
 * UTF-8, at most BANTER_MAX_NAME bytes). account: the organisation account
 * named by a certificate the caller checked (signed by the pinned server,
 * for this key, valid now), or NULL; expires_ms: that certificate's
 * expiry, until which the device is vouched for (0 when the caller does
 * not know it: CONTACTS_VOUCH_MS from now). Called again with a renewed
 * certificate. source: "lan" or "static"; addr: its address. */
BANTER_WUR int contacts_admit(contacts *cs, const uint8_t key[static 32], const char *name,
                              const char *source, const char *addr, const char *account,
                              int64_t expires_ms, contacts_admit_result *out);

/* The server lists these devices for account (an approved contact), or
 * vouches for one device (a sealed message it relayed from it): the
 * organisation contact exists, each device is a TRUST_CERTIFIED device of
 * it (a LAN contact of its own is merged in), vouched for CONTACTS_VOUCH_MS
 * from now (a device a person verified stays TRUST_VERIFIED). *out
 * receives the contact when out is not NULL. */
BANTER_WUR int contacts_org(contacts *cs, const char *account, const uint8_t (*devs)[32],
                            size_t ndev, store_contact *out);

/* This node's own account ("" or NULL: none known) and device key. Called
 * at start (the saved certificate) and when the node logs in. */
void contacts_set_self(contacts *cs, const char *account, const uint8_t own_key[static 32]);
/* Whether the node's own account is known (no store access). */
bool contacts_self_known(const contacts *cs);
/* Whether c is the self contact (the node's own account). */
bool contacts_is_self(const contacts *cs, const store_contact *c);
/* The self contact, made when missing. BANTER_ENOENT when no account is
 * known. */
BANTER_WUR int contacts_self(contacts *cs, store_contact *out);
/* The server lists the devices of the node's own account (its own key
 * among them or not): they become the self contact's certified devices,
 * and devices of it the server no longer lists are forgotten.
 * BANTER_ENOENT when no account is known. */
BANTER_WUR int contacts_self_devices(contacts *cs, const uint8_t (*devs)[32], size_t ndev);

/* The CHAT "to" naming conversation c, for a copy to the self contact's
 * devices (MSG_TO_MAX + 1 bytes): "@ACCOUNT" for an organisation contact,
 * else the hex key of one of its trusted devices. BANTER_ENOENT when it has
 * none; BANTER_EINVAL for the self contact. */
BANTER_WUR int contacts_sync_to(contacts *cs, const store_contact *c, char *to);
/* The conversation a received "to" names: the organisation contact
 * (made when missing) or the contact owning that device. BANTER_ENOENT
 * (a device this node never met), BANTER_EPERM (the self contact). */
BANTER_WUR int contacts_sync_from(contacts *cs, const char *to, store_contact *out);

/* The whole list of the devices of account (an approved contact, or the
 * node's own): contacts_org, then the devices of the account the list
 * lacks are forgotten (*removed says whether there were any). */
BANTER_WUR int contacts_org_devices(contacts *cs, const char *account, const uint8_t (*devs)[32],
                                    size_t ndev, store_contact *out, bool *removed);

/* What a user typed: "@ACCOUNT" (the organisation contact), "#ID" (a
 * contact's key in 64 hex digits, as the control socket lists it), a name
 * (by the rule above), or a fingerprint prefix of a device (digits, spaces and
 * dashes). 0 with the contact's key, and the device when a fingerprint
 * named one (*has_dev; dev may be NULL); BANTER_ENOENT or BANTER_EAMBIGUOUS
 * with why (cap bytes) saying which, and listing the candidates. */
BANTER_WUR int contacts_resolve(contacts *cs, const char *query, uint8_t key[static 32],
                                uint8_t *dev, bool *has_dev, char *why, size_t cap);

/* A person compared fingerprints. device NULL: the contact's device in
 * TRUST_CHANGED if there is one (it replaces the key it claimed), else
 * every device of the contact the organisation does not vouch for now
 * (lapsed ones included): they become TRUST_VERIFIED. A device the
 * organisation vouches for now is left as it is. *note (cap bytes) says
 * what was done. BANTER_ENOENT. */
BANTER_WUR int contacts_verify(contacts *cs, const uint8_t contact[static 32],
                               const uint8_t *device, char *note, size_t cap);

/* Whether anything may be sent to the contact: not when one of its
 * devices is in TRUST_CHANGED (BANTER_EKEYMISMATCH). BANTER_ENOENT. */
BANTER_WUR int contacts_may_send(contacts *cs, const uint8_t contact[static 32]);

/* A device's trust at now_ms: its stored trust, but TRUST_LAPSED for a
 * TRUST_CERTIFIED device at or past its vouched_until_ms. Every check of
 * a device's trust and every listing goes through this (or the next). */
store_trust contacts_trust(const store_device *d, int64_t now_ms);
/* Whether the person knows contact (a contact key) by its label: an
 * organisation account's contact, one with a device the person verified,
 * or one the person wrote to (store_contact_written). A name a LAN key
 * gave itself makes none of these. False also when the store fails. */
bool contacts_established(contacts *cs, const uint8_t contact[static 32]);
/* Whether what a user typed names one key whatever labels say: an
 * @account, a #id, or a whole fingerprint (all its digits); a plain name
 * is a label, which a LAN key can give itself while no one has it. */
bool contacts_names_one(const char *query);
/* Whether the device speaks for its contact at now_ms and a copy of a
 * message for the contact may go to it: known, verified, or certified and
 * still vouched for (contacts_trust). */
bool contacts_device_trusted(const store_device *d, int64_t now_ms);

#endif
