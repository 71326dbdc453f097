/* SPDX-License-Identifier: MIT */
/*
 * node.h - the node's core: contacts and trust (core/contacts.h), the one
 * message pipeline (core/messenger.h), file transfers (core/xfer.h), what
 * is known of presence, and the events the interfaces subscribe to.
 *
 * The core knows no socket, no server and no user interface. Adapters
 * plug into it: the LAN (net/lan.h) and the rendezvous (rdv/roster.h)
 * report devices, presence and messages through the "from adapters" calls
 * and are the messenger's routes; the control socket and the web page
 * (ui/) use the public API and subscribe to events. The composition root
 * (app.c) builds and wires them all. Every call runs on the node's main
 * loop.
 */
#ifndef BANTER_PEER_NODE_H
#define BANTER_PEER_NODE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/contacts.h"
#include "core/groups.h"
#include "core/messenger.h"
#include "core/store.h"
#include "core/xfer.h"
#include "annmsg.h"
#include "identity.h"

#define NODE_MAX_DEVICES 16 /* devices listed per contact */

typedef struct node node;

typedef enum node_ev_type {
    NODE_EV_MESSAGE,       /* a new incoming chat message */
    NODE_EV_DELIVERED,     /* an outgoing message reached its final state */
    NODE_EV_ONLINE,        /* a contact became reachable (or text: what it is now) */
    NODE_EV_OFFLINE,       /* a contact is no longer reachable */
    NODE_EV_KEY_CHANGED,   /* a new key claimed a known contact (text: the warning) */
    NODE_EV_DISCOVERY,     /* mDNS availability changed (text says how) */
    NODE_EV_RENDEZVOUS,    /* the rendezvous connection or login changed (text) */
    NODE_EV_CONTACTS,      /* the contact list changed */
    NODE_EV_PRESENCE,      /* an organisation contact's presence (status, text) */
    NODE_EV_RENAMED,       /* a device gave another name (text: what became of it) */
    NODE_EV_TRANSFER,      /* a file transfer changed (xtype, xfer) */
    NODE_EV_DEFERRED,      /* a device refused an outgoing message "not now" (msg; text:
                              the code, e.g. ERATE): it stays queued and goes again */
    NODE_EV_GROUP_MESSAGE, /* a new group message (msg, group; device: its sender) */
    NODE_EV_GROUP,         /* a group's state changed or it was deleted (group), or an
                              invitation to it was refused at GROUPS_MAX (group, text) */
    NODE_EV_ANNOUNCE,      /* an announcement of the organisation came (ann) */
} node_ev_type;

typedef struct node_event {
    node_ev_type type;
    const uint8_t *peer;   /* the contact's key, NULL when none */
    const char *name;      /* the contact's label */
    const uint8_t *device; /* the device concerned, or NULL */
    const store_msg *msg;  /* MESSAGE, DELIVERED and DEFERRED */
    const char *text;      /* a sentence, or PRESENCE: the status text */
    const char *status;    /* PRESENCE: "online", "away", "busy", "offline" */
    xfer_ev_type xtype;    /* TRANSFER */
    const xfer_info *xfer; /* TRANSFER */
    const uint8_t *group;  /* GROUP_MESSAGE, GROUP: the group's id (16 bytes) */
    const store_ann *ann;  /* ANNOUNCE */
} node_event;

typedef void (*node_event_fn)(void *ud, const node_event *ev);

typedef struct node_device_info {
    store_device dev;
    char fingerprint[IDENTITY_FP_LEN + 1];
    bool online;      /* connected on the LAN now */
    char address[80]; /* current or last known */
    /* How it is reached now: "lan", "direct" (ICE, host or server-reflexive
     * candidates), "relay" (ICE through TURN), "server" (the rendezvous's
     * sealed relay), "" (not at all); path says more ("198.18.0.2:7070",
     * "srflx 198.18.1.2:50000 -> srflx 198.18.2.2:40000", "TURN udp ...") */
    char route[8];
    char path[200];
} node_device_info;

typedef struct node_peer_info {
    store_contact contact;
    char fingerprint[IDENTITY_FP_LEN + 1]; /* the device shown first, "" when none known */
    store_trust trust;                     /* TRUST_CHANGED when one device is; else the first's */
    char source[16];                       /* "lan", "static", "rendezvous" */
    bool online;
    char address[80];
    int64_t last_seen_ms;
    /* An organisation account, as the server described it ("" when not): */
    char status[16];       /* "online", "away", "busy", "offline" */
    char status_text[129]; /* its status text */
    char state[16];        /* "approved", "incoming", "outgoing", "blocked", "" (none) */
    char display_name[65];
    char org_server[IDENTITY_FP_DIGITS + 1]; /* ORG contacts: the server's digits */
    char replaces[IDENTITY_FP_LEN + 1];      /* a changed device: the key it claims to replace */
    size_t ndev;
    node_device_info devs[NODE_MAX_DEVICES];
} node_peer_info;

typedef struct node_init {
    GMainContext *ctx;
    const identity *id;     /* borrowed; outlives the node */
    store *st;              /* borrowed; outlives the node */
    const config *conf;     /* copied */
    const char *name;       /* our HELLO name */
    const char *server_fpd; /* the pinned rendezvous server, "" for none */
    node_clock clock;
    banter_rng rng;
} node_init;

/* BANTER_ENOMEM, or the store's error when transfers cannot be loaded
 * (why says so). */
BANTER_WUR int node_new(node **out, const node_init *init, char *why, size_t cap);
/* Accepts NULL. Transfers are saved; queued messages stay in the store. */
void node_free(node *n);

/* ---- public API (interfaces) ---- */

void node_subscribe(node *n, node_event_fn fn, void *ud);
void node_unsubscribe(node *n, node_event_fn fn, void *ud);

const char *node_fingerprint(const node *n);
const char *node_name(const node *n);
uint16_t node_port(const node *n);
store *node_store(node *n);
xfer_mgr *node_xfer(node *n);

/* Whether contact (a contact key) is an established colleague
 * (contacts_established: per contact, for what a plug-in may name; the
 * file offers' rule, xfer_established in node.c, is per device and asks
 * the device's trust now). */
bool node_contact_established(node *n, const uint8_t contact[static 32]);
/* Resolve what a user typed (contacts_resolve) to a contact key; dev and
 * has_dev (may be NULL) receive the device a fingerprint named.
 * BANTER_ENOENT, BANTER_EAMBIGUOUS; why (cap bytes) says which. */
BANTER_WUR int node_resolve(node *n, const char *query, uint8_t key[static 32], uint8_t *dev,
                            bool *has_dev, char *why, size_t cap);

/* Contact list for `peers`: malloc'd array (free()). */
BANTER_WUR int node_peers(node *n, node_peer_info **out, size_t *count);
BANTER_WUR int node_peer_info_get(node *n, const uint8_t key[static 32], node_peer_info *out);
/* Whether the device is connected on the LAN now. */
bool node_device_online(node *n, const uint8_t device[static 32]);
/* Whether the device speaks for its contact now (contacts_device_trusted at
 * the node's clock: a certified device whose vouching lapsed does not). */
bool node_device_trusted(node *n, const store_device *d);
/* Whether the contact is reachable now (a device on the LAN, or an
 * approved account while the relay is logged in). */
bool node_reachable(node *n, const uint8_t key[static 32]);
/* Whether the node is logged in to its rendezvous server now. */
bool node_org_online(const node *n);

/* Queue a message for the contact and send it (core/messenger.h). id
 * receives the message id. BANTER_EKEYMISMATCH (a changed key not
 * verified); BANTER_EPERM (an organisation account that is not an approved
 * contact and has no device on the LAN); text errors; BANTER_ENOSPC. */
BANTER_WUR int node_send(node *n, const uint8_t key[static 32], const char *text, size_t len,
                         uint8_t id[static MSG_ID_LEN]);
/* node_send with the row's flags: STORE_MSG_AUTO for what a plug-in
 * writes (it makes nobody a contact the person wrote to), or 0. */
BANTER_WUR int node_send_as(node *n, const uint8_t key[static 32], const char *text, size_t len,
                            unsigned flags, uint8_t id[static MSG_ID_LEN]);
/* The same message to every contact it may go to; *count recipients. */
BANTER_WUR int node_broadcast(node *n, const char *text, size_t len, uint8_t id[static MSG_ID_LEN],
                              size_t *count);
/* contacts_verify, then send what waited. note (cap bytes) says what. */
BANTER_WUR int node_verify(node *n, const uint8_t key[static 32], const uint8_t *device, char *note,
                           size_t cap);
/* The device to offer files to for a contact: its connected LAN device, or
 * BANTER_ENOENT (why says it is offline). */
BANTER_WUR int node_file_device(node *n, const uint8_t key[static 32], uint8_t dev[static 32],
                                char *why, size_t cap);

/* Group conversations (core/groups.h). After a call that queues
 * something (send, create, invite, ...) call node_arm, so copies in
 * flight are sent again when unanswered. */
groups *node_groups(node *n);
void node_arm(node *n);

/* ---- from adapters ---- */

/* A GROUP_STATE, GROUP_KEY or GROUP_MSG from device (groups_received). */
BANTER_WUR int node_group_received(node *n, const uint8_t device[static 32], const msg *m);

/* Tell every subscriber. */
void node_emit(node *n, const node_event *ev);
/* The messenger, for routes to register and report to. */
messenger *node_messenger(node *n);
void node_set_port(node *n, uint16_t port);
/* The organisation's policy (docs/rendezvous.md section 11), as the
 * rendezvous client checked it: the largest file sent or received (bytes,
 * 0 for no limit), whether files may be accepted without asking, and how
 * many days of history are kept (0: for good; else older messages are
 * deleted now and every NODE_RETENTION_S, except what still waits to be
 * sent). */
#define NODE_RETENTION_S 3600
void node_set_policy(node *n, uint64_t max_file, bool auto_accept, uint32_t history_days);

/* The LAN: a device said HELLO (contacts_admit, with the account and
 * expiry of the certificate it showed, NULL and 0 without; events
 * emitted). */
BANTER_WUR int node_device_hello(node *n, const uint8_t key[static 32], const char *name,
                                 const char *source, const char *addr, const char *account,
                                 int64_t expires_ms);
/* An announcement of the organisation (orgnote.h): kept (0; NODE_EV_ANNOUNCE
 * when it is new) or BANTER_EDB (the server sends it again later). */
BANTER_WUR int node_announcement(node *n, const ann_msg *m);
/* The user was shown announcement id: kept as read, and tell(ud, id) runs
 * (the caller tells the server) unless it was read before. 0,
 * BANTER_ENOENT, BANTER_EDB. */
BANTER_WUR int node_announcement_read(node *n, int64_t id);
/* Who tells the server an announcement was read: fn(ud, id) returns 0 when
 * it was sent (then it is not told again). node_announcements_retell
 * tells every read one not told yet (after a login). */
void node_set_ann_teller(node *n, int (*fn)(void *ud, int64_t id), void *ud);
void node_announcements_retell(node *n);
/* The organisation revoked device key (orgnote.h): a device of an
 * organisation contact becomes an unverified LAN contact of its own
 * (logged, NODE_EV_CONTACTS). True when it was the organisation's until
 * now, or when the store failed (logged): a connection with it starts
 * over, as its certificate no longer counts; false when it was not the
 * organisation's. */
bool node_device_revoked(node *n, const uint8_t key[static 32]);
/* fn(ud, key): whether key is on the organisation's revocation list; such
 * a key is never admitted as the organisation's. */
void node_set_revoked(node *n, bool (*fn)(void *ud, const uint8_t key[static 32]), void *ud);
/* A valid certificate after HELLO: admitted again with its account; the
 * outboxes are kicked when that changed something. */
void node_device_cert(node *n, const uint8_t key[static 32], const char *name, const char *account,
                      int64_t expires_ms);
void node_device_up(node *n, const uint8_t key[static 32], const char *addr);
void node_device_down(node *n, const uint8_t key[static 32]);
/* A device's connection can take more (transfers, queued messages). */
void node_device_drained(node *n, const uint8_t key[static 32]);

/* How the LAN is reached, for transfers and listings. */
typedef struct node_link {
    conn *(*conn_for)(void *ud, const uint8_t device[static 32]);
    void (*each_advertised)(void *ud,
                            void (*fn)(void *ud2, const char *fpd, const char *name,
                                       const char *addr),
                            void *ud2);
    /* How a connected device is reached (route and path as in
     * node_device_info); false when it is not. May be NULL. */
    bool (*path_for)(void *ud, const uint8_t device[static 32], char *route, size_t rcap,
                     char *path, size_t pcap);
    void *ud;
} node_link;
void node_set_link(node *n, const node_link *link);

/* The rendezvous: an organisation contact as the server describes it.
 * state: rv_cstate name ("approved", ... "" when none: forgotten); status
 * and text its presence; devs its devices (approved only). Emits CONTACTS,
 * PRESENCE, ONLINE/OFFLINE as they change. */
typedef struct node_org_entry {
    const char *account;
    const char *state;
    const char *status;
    const char *text;
    const char *display_name;
    const uint8_t (*devs)[32];
    size_t ndev;
} node_org_entry;
void node_org_update(node *n, const node_org_entry *e);
/* Every organisation contact's presence ends (logged out, connection lost). */
void node_org_offline(node *n);
/* The server relays a message from device of account (it vouches for the
 * pair): the device is the account's. */
BANTER_WUR int node_org_device(node *n, const char *account, const uint8_t dev[static 32]);
/* The relay is logged in (or not): whether approved accounts count as
 * reachable. While it is, every NODE_VOUCH_S the devices the server
 * last listed for each approved account and for the node's own are taken
 * as listed again (contacts_org): the server sends every change on the
 * session, so the lists still hold, and a device does not lapse only
 * because the node stayed logged in for a day. */
#define NODE_VOUCH_S (CONTACTS_VOUCH_MS / 4 / 1000)
void node_org_session(node *n, bool logged_in);
/* This node's own organisation account (its certificate, or the login):
 * its other devices get a copy of what this one sends (contacts.h, the
 * self contact). NULL or "": none. */
void node_set_account(node *n, const char *account);
/* The server lists the devices of the node's own account. */
void node_self_update(node *n, const uint8_t (*devs)[32], size_t ndev);

#endif
