/* SPDX-License-Identifier: MIT */
/*
 * orgnote.h - what the organisation's server tells a node beside the
 * policy (docs/rendezvous.md sections 13-14): announcements (RV_ANNOUNCE,
 * answered with RV_ANNOUNCE_RCPT) and the signed revocation list
 * (RV_REVOKED).
 *
 * The revocation list is taken when the pinned server signed it and it is
 * newer (issued_ms) than the one kept; it is kept in a file (0600) and
 * loaded, checked again, at start, so LAN peers whose keys were revoked
 * stay untrusted while the server is out of reach. The node's callback
 * then demotes those devices (they are no longer the organisation's).
 *
 * An announcement goes to the callback; when it returns 0 (stored), a
 * receipt "delivered" goes back to the server. orgnote_read sends "read"
 * when the node showed it to its user.
 */
#ifndef BANTER_PEER_ORGNOTE_H
#define BANTER_PEER_ORGNOTE_H

#include <stdbool.h>
#include <stdint.h>

#include "annmsg.h"
#include "core/home.h"
#include "rdv/rdv.h"

typedef struct orgnote orgnote;

typedef struct orgnote_callbacks {
    /* A newer revocation list was taken (or loaded at start). */
    void (*revoked)(void *ud, const revlist *l);
    /* An announcement came: 0 once it is stored (the server is told it
     * was delivered); a negative BANTER_E* otherwise (it comes again at
     * the next login). */
    int (*announce)(void *ud, const ann_msg *m);
    /* The server sent its revocation list, as it does after every login
     * (newer or not): a moment to send what waits (read receipts). */
    void (*login)(void *ud);
} orgnote_callbacks;

/* Hooks itself into r (call before rdv_start; NULL: no server, messages
 * come only through orgnote_feed). path: where the list is kept ("" for
 * nowhere); fpd: the pinned server's digits. NULL when out of memory. */
orgnote *orgnote_new(rdv *r, const char *path, const char *fpd, const orgnote_callbacks *cb,
                     void *ud);
/* Accepts NULL. */
void orgnote_free(orgnote *o);
/* One message the server sent (pt: RV_REVOKED or RV_ANNOUNCE, type byte
 * first; anything else is ignored); server: the key the connection
 * proved (rdv_server_key, NULL: none). What r's hook does with each,
 * exposed so that tests feed real signed bytes. */
void orgnote_feed(orgnote *o, const uint8_t *server, const uint8_t *pt, size_t len);
/* Run the revoked callback for the list kept from an earlier run (if any). */
void orgnote_start(orgnote *o);
/* Whether device key is on the revocation list. Accepts NULL (false). */
bool orgnote_revoked(const orgnote *o, const uint8_t key[static 32]);
/* Tell the server announcement id was shown to the user (or, read false,
 * that it was stored). 0, or BANTER_ESTATE when not logged in now. */
BANTER_WUR int orgnote_receipt(orgnote *o, int64_t id, bool read);

#endif
