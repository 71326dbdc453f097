/* SPDX-License-Identifier: MIT */
/*
 * messenger.h - the one message pipeline: the outbox, ordering,
 * deduplication, acknowledgements and delivery state, for every route.
 *
 * A message to a contact is one outgoing row in the store and one copy per
 * trusted device of the contact (store copies, made when the message is
 * first flushed and for devices that appear while it is queued). Each
 * copy goes over the first route, in the order the routes were added,
 * that reaches its device now (a LAN connection first, then the
 * rendezvous's sealed relay for an organisation account); with none it
 * waits. A route reports each copy's outcome (messenger_settled) or that
 * it lost the device (messenger_route_lost): copies in flight on it go
 * back to pending and are sent again, over whatever route reaches the
 * device then. A copy in flight longer than MESSENGER_RETRY_MS is sent
 * again too. A route that refuses a copy with a code that means "not now"
 * (EQUOTA: the device's mailbox is full; ENOMEM, EBUSY, ERATE, ENOSPC,
 * EDB, EAGAIN) leaves it pending and rests for that device
 * MESSENGER_DEFER_MS (MESSENGER_RATE_DEFER_MS for ERATE: the device takes
 * messages again within seconds; MESSENGER_AGAIN_DEFER_MS for EAGAIN: a
 * group key or message that came before the group's state or the sender's
 * key, which are on their way), and says so (deferred()); another route may carry it
 * meanwhile. The receiver keeps one row per (id, contact, device), so a
 * copy that arrives twice, over two routes, is shown once.
 *
 * Copies of what this device sends also go to every other device of the
 * node's own account (the self contact, contacts.h), as CHATs with "to"
 * naming the conversation, until each is settled, also after the message
 * itself is final (they do not count for its state), so that history reads
 * the same on every device of the account. Broadcasts are not copied.
 *
 * The message's own state is final once every copy is settled: FAILED
 * when every copy failed, SERVER ("stored") when the server holds some,
 * else DELIVERED; the route that settled each copy is recorded with it.
 *
 * Routes only move messages: they know nothing of outboxes or states.
 * The messenger takes its clock and randomness from the caller and does
 * no I/O but the store's, so it is unit-tested on a fake clock.
 */
#ifndef BANTER_PEER_MESSENGER_H
#define BANTER_PEER_MESSENGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bcrypto.h"
#include "core/clock.h"
#include "core/contacts.h"
#include "core/store.h"
#include "msg.h"

#define MESSENGER_RETRY_MS      30000 /* a copy unanswered this long is sent again */
#define MESSENGER_DEFER_MS      60000 /* a route that said "not now" rests this long for a device */
#define MESSENGER_RATE_DEFER_MS 5000  /* ...when it said ERATE (too many messages) */
#define MESSENGER_AGAIN_DEFER_MS                                                                   \
    2000 /* ...when it said EAGAIN (a group message ahead of its state or key) */
#define MESSENGER_MAX_ROUTES 4

typedef struct messenger messenger;

typedef struct mr_route {
    const char *name; /* "lan", "relay": kept with each copy it settles */
    /* Whether this route reaches device d of contact c now. */
    bool (*reaches)(void *ud, const store_contact *c, const store_device *d);
    /* Send one copy of m (outgoing; messenger_chat_of makes its CHAT) to d.
     * c is the self contact for a copy to another device of the node's own
     * account (m->to names the conversation). 0: sent, the outcome
     * comes later (messenger_settled or messenger_route_lost);
     * BANTER_EAGAIN: full now (messenger_kick when it is not); another
     * error: this route cannot carry it now. */
    int (*send)(void *ud, const store_contact *c, const store_device *d, const store_msg *m);
    void *ud;
} mr_route;

typedef struct messenger_callbacks {
    /* A new incoming message was stored (not a duplicate). */
    void (*received)(void *ud, const store_contact *c, const store_device *d, const store_msg *m);
    /* An outgoing message reached its final state (m->state, m->error). */
    void (*settled)(void *ud, const store_contact *c, const store_msg *m);
    /* A copy of m was refused "not now" (error: ERATE, EQUOTA...): it stays
     * queued and goes again later. Once per rest of the route for that
     * device (the first refusal; the copies in flight with it are refused
     * too, unannounced). May be NULL. */
    void (*deferred)(void *ud, const store_contact *c, const store_msg *m, const char *error);
} messenger_callbacks;

BANTER_WUR int messenger_new(messenger **out, store *st, contacts *cs, const node_clock *clock,
                             banter_rng rng, const messenger_callbacks *cb, void *ud);
/* Accepts NULL. What is in flight stays queued in the store. */
void messenger_free(messenger *m);

/* Add a route; earlier ones are preferred. r is copied. BANTER_ENOMEM
 * past MESSENGER_MAX_ROUTES. */
BANTER_WUR int messenger_add_route(messenger *m, const mr_route *r);

/* Queue text (valid UTF-8, 1..BANTER_MAX_BODY bytes, no NUL) for the
 * contact and send what can go; id receives the message id.
 * BANTER_EINVAL, BANTER_ETOOLONG, BANTER_EUTF8 for bad text;
 * BANTER_EKEYMISMATCH when one of the contact's devices is in
 * TRUST_CHANGED; BANTER_ENOENT; BANTER_ENOSPC, BANTER_EDB. */
BANTER_WUR int messenger_send(messenger *m, const uint8_t contact[static 32], const char *text,
                              size_t len, uint8_t id[static MSG_ID_LEN]);
/* messenger_send with the row's flags: STORE_MSG_AUTO (a plug-in wrote
 * it) or 0; others are ignored. */
BANTER_WUR int messenger_send_as(messenger *m, const uint8_t contact[static 32], const char *text,
                                 size_t len, unsigned flags, uint8_t id[static MSG_ID_LEN]);
/* The same text, one id, to every contact that may be sent to (accept:
 * NULL, or a filter the caller adds, e.g. "an approved account");
 * *count receives how many. */
typedef bool (*messenger_filter)(void *ud, const store_contact *c);
BANTER_WUR int messenger_broadcast(messenger *m, const char *text, size_t len,
                                   messenger_filter accept, void *ud, uint8_t id[static MSG_ID_LEN],
                                   size_t *count);

/* A route may reach more now (a device connected, the relay logged in or
 * drained): send what can go, for one contact or (NULL) every contact
 * with queued messages. */
void messenger_kick(messenger *m, const uint8_t *contact);

/* Devices of the contact went away (the server no longer lists them):
 * a queued message whose other copies are all settled gets its final
 * state; then as messenger_kick. */
void messenger_devices_changed(messenger *m, const uint8_t contact[static 32]);

/* The route lost the device: its copies in flight there go back to
 * pending and are sent again. */
void messenger_route_lost(messenger *m, const char *route, const uint8_t device[static 32]);

/* The outcome of the copy of message id for device, as the route saw it:
 * COPY_DELIVERED, COPY_SERVER, or COPY_FAILED with error (a code, at most
 * BANTER_MAX_ERRCODE bytes). An answer for no copy in flight is ignored. */
void messenger_settled(messenger *m, const char *route, const uint8_t device[static 32],
                       const uint8_t id[static MSG_ID_LEN], store_copy_state state,
                       const char *error);

/* A CHAT from device (known to the store: admitted on the LAN, or vouched
 * for by the server). 0: stored, or a duplicate: acknowledge it; < 0 (not
 * stored, e.g. BANTER_ENOSPC): do not, the sender keeps it.
 * A CHAT with "to" is a copy of what another device of the node's own
 * account sent: taken only from a trusted device of the self contact
 * (BANTER_EPERM from any other, and for a CHAT without "to" from one), and
 * stored as outgoing in the conversation "to" names, marked
 * STORE_MSG_SYNCED with the sending device (kept once, whichever route
 * brought it; one for a LAN contact this node never met is taken and not
 * kept). */
BANTER_WUR int messenger_received(messenger *m, const uint8_t device[static 32],
                                  const struct msg_chat *chat);
/* A CHAT the rendezvous server relayed from device as from account but
 * no longer vouches for (RV_SEAL_SENDER_GONE: the account was deleted, or
 * the device is not bound to it now): stored as incoming in account's
 * organisation contact, marked STORE_MSG_UNTRUSTED, without making the
 * device known, certified or any more trusted than it was. BANTER_EPERM
 * for a copy with "to" or from the node's own account (only a vouched
 * device speaks for it) and without a server; otherwise as
 * messenger_received. */
BANTER_WUR int messenger_received_unvouched(messenger *m, const char *account,
                                            const uint8_t device[static 32],
                                            const struct msg_chat *chat);

/* Queue a group row sm (outgoing, QUEUED, has_group, sealed set: a
 * GROUP_MSG's sender-key message, or with STORE_MSG_GCTL the plaintext of
 * a GROUP_STATE or GROUP_KEY) with one copy for each of the n devices,
 * and send what can go. Copies go to those devices only, each over the
 * route that reaches it as a device of its own contact; they settle as any
 * copy does. With no device the row is DELIVERED at once. BANTER_EINVAL,
 * the store's errors. */
BANTER_WUR int messenger_queue_group(messenger *m, const store_msg *sm, const uint8_t (*devs)[32],
                                     size_t n);

/* The message a route sends for the copy sm it was handed: a CHAT, or
 * for a group row its GROUP_MSG, GROUP_STATE or GROUP_KEY. */
/* The CHAT a route sends for the copy sm it was handed (with sm->to, set
 * for a copy to another device of the node's own account). out is a msg
 * to msg_clear. BANTER_ENOMEM, BANTER_ETOOLONG. */
BANTER_WUR int messenger_chat_of(const store_msg *sm, msg *out);

/* Send again what was in flight longer than MESSENGER_RETRY_MS, and what
 * waited for a resting route. Returns whether anything still waits (the
 * caller's timer may stop when not). */
bool messenger_tick(messenger *m);
/* How many copies are in flight, plus routes resting for a device. */
size_t messenger_inflight(const messenger *m);

#endif
