/* SPDX-License-Identifier: MIT */
/*
 * icelink.h - direct connections to contacts' devices through NAT: ICE
 * sessions negotiated through the rendezvous (docs/rendezvous.md 12.2),
 * each giving a reliable stream (net/icestream over net/ice) that becomes
 * a transport ("ice") for the same connection handling as the LAN
 * (lan_adopt: Noise XX, HELLO, liveness; the messenger's "ice" route).
 *
 * Who starts: of two devices, the one with the smaller key (memcmp) sends
 * the offer (and is ICE-controlling and the Noise initiator); the other
 * waits for it. icelink_want() is called for every device that should be
 * reached directly (an approved contact's device, online at the server,
 * with no connection now); it starts a session when this end offers and
 * none runs or rests for that device.
 *
 * A session: gather (host, server-reflexive and relayed candidates against
 * the servers of the latest RV_ICE_SERVERS; TURN over UDP and TCP), send
 * RV_ICE_OFFER, take RV_ICE_ANSWER, connectivity checks, then the stream;
 * the answerer gathers when the offer arrives (only from a device
 * allowed() says may connect) and answers. The remote description goes
 * through shared/icecand (no loopback, link-local, names; at most 32
 * candidates) before libnice sees it. A session that is not connected
 * within ICELINK_CONNECT_MS, fails, or is ended by the peer or the server
 * (RV_ICE_END) is dropped (an offer without an answer within
 * ICELINK_ANSWER_MS too: it went to a dead connection of that device
 * at the server), and this end offers that device again after a
 * backoff (ICELINK_BACKOFF_MIN_MS doubling to ICELINK_BACKOFF_MAX_MS; the
 * backoff starts again after a path connected). At most ICELINK_MAX
 * sessions exist at once; offers beyond are answered RV_ICE_END EBUSY.
 *
 * Lifetime: the path's transport belongs to its connection once adopted;
 * when the connection frees it, the stream is closed and its last bytes
 * get ICELINK_LINGER_MS to go before the agent releases its TURN
 * allocation. icelink_free() frees what lingers; free the connections
 * (lan_free) first.
 */
#ifndef BANTER_PEER_ICELINK_H
#define BANTER_PEER_ICELINK_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/conn.h"
#include "rvmsg.h"

#define ICELINK_CONNECT_MS     30000
#define ICELINK_ANSWER_MS      10000
#define ICELINK_LINGER_MS      2000
#define ICELINK_BACKOFF_MIN_MS 2000
#define ICELINK_BACKOFF_MAX_MS 60000
#define ICELINK_MAX            32
/* Sessions with the devices of one account at once (of ICELINK_MAX). */
#define ICELINK_PER_ACCOUNT    8

typedef struct icelink icelink;

typedef struct icelink_callbacks {
    /* Send RV_ICE_OFFER, RV_ICE_ANSWER or RV_ICE_END through the
     * rendezvous: 0, or an error (not logged in...). */
    int (*signal)(void *ud, const rvmsg *m);
    /* Whether this device of that account may be connected directly: a
     * trusted device of an approved contact. */
    bool (*allowed)(void *ud, const char *account, const uint8_t dev[static 32]);
    /* The path is ready: run a connection over it (lan_adopt with make and
     * arg). 0, or an error (then icelink drops the path). */
    int (*adopt)(void *ud, const uint8_t dev[static 32], conn_transport_fn make, void *arg,
                 bool initiator, const char *addr);
    /* A sentence for the log. */
    void (*log)(void *ud, const char *text);
    /* A session ended or a path was let go: the device rests, and wants
     * icelink_want() again after the backoff. May be NULL. */
    void (*again)(void *ud);
} icelink_callbacks;

/* self: this device's key. NULL when out of memory. */
icelink *icelink_new(GMainContext *ctx, const uint8_t self[static 32], const icelink_callbacks *cb,
                     void *ud);
/* Accepts NULL. Ends every session (no RV_ICE_END is sent). */
void icelink_free(icelink *il);

/* The servers and TURN credentials of an RV_ICE_SERVERS (copied). A URL
 * icecand_parse_url refuses is left out (logged). */
void icelink_set_servers(icelink *il, const struct rv_ice_servers *s);

/* This device should be reached directly (see above). */
void icelink_want(icelink *il, const char *account, const uint8_t dev[static 32]);

/* RV_ICE_OFFER, RV_ICE_ANSWER or RV_ICE_END from the rendezvous. */
void icelink_signal(icelink *il, const rvmsg *m);

/* The rendezvous session ended: sessions still negotiating end (adopted
 * paths stay: they do not need the server). */
void icelink_reset(icelink *il);

/* Ask allowed() again for every path and session: one whose device may
 * no longer be reached directly (the contact was removed or blocked)
 * ends; its connection sees the transport close with BANTER_EPERM. */
void icelink_recheck(icelink *il);

/* How device is reached by a path of this icelink, for `peers`: route
 * "direct" or "relay", and text like "srflx 198.18.1.2:50000 -> srflx
 * 198.18.2.2:40000" or "TURN udp 198.18.0.1:49152 -> srflx ...". false
 * when there is no connected path to it. */
bool icelink_path(icelink *il, const uint8_t dev[static 32], char *route, size_t rcap, char *text,
                  size_t tcap);

/* The ICE servers and candidates this end would use, for `banter
 * nat-check`: fn(ud, line) for each "candidate:..." line gathered, then
 * done(ud, err) once (err 0, or BANTER_ETIMEDOUT). 0, or BANTER_ESTATE
 * when a check runs already, or ice_new's error. */
BANTER_WUR int icelink_check(icelink *il, void (*line)(void *ud, const char *text),
                             void (*done)(void *ud, int err), void *ud);

#endif
