/* SPDX-License-Identifier: MIT */
/*
 * lan.h - the node's connections to other nodes' devices: listening,
 * dialing what mDNS and --peer name, the handshake's HELLO and
 * certificate, one connection per device, liveness and limits.
 *
 * lan moves messages; it decides nothing about trust or delivery. After a
 * device proved its key and said HELLO, the owner admits it (hello());
 * from then on every CHAT, ACK and file message goes to message(), and
 * the device's presence to up() and down(). lan is also the messenger's
 * "lan" route (lan_route).
 *
 * Which of two connections between the same pair survives
 * (docs/protocol.md, "Duplicate connections"): the one dialed last when
 * one side dialed both; when each side dialed one, the one dialed by the
 * side with the smaller key, unless the older one is more than
 * LAN_FRESH_MS old, in which case the newer one (a peer that restarted
 * while the other still holds its old, half-open connection). The loser
 * gets BYE "duplicate connection".
 *
 * Limits (docs/limits.md; docs/protocol.md, "Limits"): at most max_conns
 * connections in all, max_per_addr accepted from one address and as many
 * dialed to mDNS devices at one address; a handshake must
 * finish within LAN_HANDSHAKE_MS, HELLO must follow within hello_ms; a
 * frame that has started must complete within frame_ms; LAN_TIMEOUT_MS
 * without a complete frame ends a connection (a PING goes out after
 * LAN_KEEPALIVE_MS of silence). Bytes that do not complete frames keep
 * nothing alive. Until HELLO a frame may be at most LAN_PREHELLO_FRAME
 * bytes, so a stranger can make the node hold little; a connection quiet
 * for LAN_TRIM_MS gives its buffers back. An accepted connection is
 * closed at once when it would leave fewer than LAN_FD_RESERVE (or a
 * quarter of the limit, when that is less) descriptors under the
 * process's limit (RLIMIT_NOFILE), so that the
 * control socket, the web page and the database always have some.
 *
 * Certificates (RV_CERT): a connection may show one before its HELLO and
 * after it LAN_CERT_BURST at once, one more every LAN_CERT_EVERY_MS
 * (a certificate is shown again only when renewed: twice a day, and at
 * each login to the rendezvous). A byte-identical repeat of the last one
 * taken is ignored before any check; one over the limit is refused
 * unchecked (logged once per connection); one that does not verify, or
 * is for another key, is refused. Refused ones count towards the
 * refused-message limit. Ours, renewed, go to each connected device
 * within one certificate fewer than that limit (the rest wait, and the
 * newest goes when the limit allows), so a peer never refuses them.
 *
 * Rates: each device (by key, across its connections and reconnections)
 * has a token bucket for CHAT. A CHAT over its rate is answered with
 * ERROR `ERATE` naming the CHAT's id and is not handed on (not stored,
 * not acknowledged: the sender keeps it and sends it again later). Such
 * refusals do not count towards the refused-message limit that closes a
 * connection. (Offers have their rate in xfer, which knows an offer sent
 * again from a new one.)
 */
#ifndef BANTER_PEER_LAN_H
#define BANTER_PEER_LAN_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "cert.h"
#include "core/messenger.h"
#include "identity.h"
#include "msg.h"
#include "net/conn.h"
#include "net/evloop.h"

#define LAN_DEFAULT_PORT     7070
#define LAN_KEEPALIVE_MS     5000
#define LAN_TIMEOUT_MS       15000
#define LAN_HANDSHAKE_MS     10000
#define LAN_HELLO_MS         5000
#define LAN_FRAME_MS         10000
#define LAN_FRESH_MS         5000
#define LAN_MAX_STATIC       32
#define LAN_DEFAULT_MAX_CONN 256
#define LAN_DEFAULT_PER_ADDR 8
#define LAN_PREHELLO_FRAME   4096 /* largest frame before the peer's HELLO */
#define LAN_TRIM_MS          1000 /* a connection quiet this long keeps no buffers */
#define LAN_FD_RESERVE       64 /* descriptors left for the rest of the node (at most a quarter) */
#define LAN_CERT_BURST       4  /* certificates a connection takes after HELLO at once... */
#define LAN_CERT_EVERY_MS    (10u * 60u * 1000u) /* ...and one more each this long */
#define LAN_REFUTE_FAILS     3u /* failed dials in a row that refute an mDNS record */

typedef struct lan lan;

typedef struct lan_config {
    uint16_t port; /* 0: any free port */
    char name[BANTER_MAX_NAME + 1];
    const char *server_fpd;         /* the pinned rendezvous server's digits, "" for none */
    unsigned max_conns;             /* connections at once, in all (0: LAN_DEFAULT_MAX_CONN) */
    unsigned max_per_addr;          /* from one address (0: LAN_DEFAULT_PER_ADDR) */
    unsigned hello_ms;              /* 0: LAN_HELLO_MS */
    unsigned frame_ms;              /* 0: LAN_FRAME_MS */
    uint32_t chat_rate, chat_burst; /* CHATs, and GROUP_MSGs apart, from one device:
                                       per second, at once (rate 0: no limit) */
    evloop *ev;                     /* watches the sockets (NULL: fd sources on the loop) */
} lan_config;

typedef struct lan_callbacks {
    /* Device key proved itself and said HELLO as name; account is what a
     * valid certificate it showed names (or NULL), expires_ms when that
     * certificate expires (wall clock; 0 without one). 0 to keep it; a
     * negative BANTER_E* closes the connection. */
    int (*hello)(void *ud, const uint8_t key[static 32], const char *name, const char *source,
                 const char *addr, const char *account, int64_t expires_ms);
    /* After HELLO, a valid certificate for account (new, or renewed),
     * expiring at expires_ms. */
    void (*cert)(void *ud, const uint8_t key[static 32], const char *name, const char *account,
                 int64_t expires_ms);
    /* The device is reachable (its one connection) or no longer. */
    void (*up)(void *ud, const uint8_t key[static 32], const char *addr);
    void (*down)(void *ud, const uint8_t key[static 32]);
    /* CHAT, ACK, ERROR and file messages of an admitted device. */
    void (*message)(void *ud, conn *c, const uint8_t key[static 32], const msg *m);
    /* A device's connection can take more. */
    void (*drained)(void *ud, const uint8_t key[static 32]);
    /* A sentence for the log. */
    void (*log)(void *ud, const char *text);
    /* Our organisation certificate to show, or NULL. */
    const cert *(*own_cert)(void *ud);
    /* Whether the organisation revoked device key (its certificate is then
     * not trusted, however valid). NULL: none is. */
    bool (*revoked)(void *ud, const uint8_t key[static 32]);
    /* The mDNS record lan_found gave (fingerprint digits fpd at addr:port)
     * proved false (see lan_found): the owner tells mdns (mdns_refute).
     * Runs from a connection's callback, never from inside lan_found or
     * lan_lost; may call lan_found and lan_lost. NULL: nobody is told. */
    void (*refuted)(void *ud, const char *fpd, const char *addr, uint16_t port);
    /* A dial made for that record completed its handshake with the key it
     * advertised: the owner tells mdns (mdns_confirm), so a record refuted
     * while its node did not answer counts again. Runs from a connection's
     * callback. NULL: nobody is told. */
    void (*confirmed)(void *ud, const char *fpd, const char *addr, uint16_t port);
} lan_callbacks;

/* Listen and get ready (dialing starts with lan_add_static and lan_found).
 * BANTER_EIO (with errno) when the port cannot be bound. */
BANTER_WUR int lan_new(lan **out, GMainContext *ctx, const identity *id, const lan_config *cfg,
                       const lan_callbacks *cb, void *ud);
/* BYE to every device, close everything, free. Accepts NULL. */
void lan_free(lan *l);
uint16_t lan_port(const lan *l);

/* A --peer HOST:PORT to keep a connection with. BANTER_EINVAL, BANTER_ENOMEM. */
BANTER_WUR int lan_add_static(lan *l, const char *host, uint16_t port);
/* mDNS resolved a node (fingerprint digits, name, address): dial it, at
 * once when the address (or port) is new; the same address announced
 * again (a changed TXT record, a goodbye and a return) is dialed only
 * when nothing is under way, after the back-off of its failed dials,
 * which only a new address or a HELLO resets. Whether the address may
 * be a colleague's is mdns's to check (mdns.h).
 * The record is refuted (refuted(), with the address and port dialed)
 * when a dial there proves another key: the device is then not dialed
 * until lan_found reports it again (then after the back-off, unless the
 * address is new). It is refuted too, once, when LAN_REFUTE_FAILS dials in
 * a row to it end before the handshake completes (refused, no answer in
 * LAN_HANDSHAKE_MS, cut); those dials go on with the back-off until
 * lan_lost, so a colleague cut off for a while is met again. A dial that
 * completes its handshake with the advertised key restarts the count; so
 * does a new address; lan_found at the same address after the count was
 * reached leaves one failed dial to the next refutation. */
void lan_found(lan *l, const char *fpd, const char *name, const char *addr, uint16_t port);
/* mDNS says it went away. */
void lan_lost(lan *l, const char *fpd);
/* Nodes advertised now that we have no connection with: fn(ud, fpd, name,
 * "addr:port") for each. */
void lan_each_advertised(lan *l,
                         void (*fn)(void *ud, const char *fpd, const char *name, const char *addr),
                         void *ud);
/* Show our (new) certificate to every connected device, at once or, where
 * it would be over the limit the device keeps (see above), later. */
void lan_present_cert(lan *l);

/* The live connection to device key after HELLO, or NULL. */
conn *lan_conn(lan *l, const uint8_t key[static 32]);
/* How many connections exist now (for the limits' tests and stats). */
unsigned lan_count(const lan *l);

/* The messenger's "lan" route over this lan: devices whose connection is
 * TCP (found by mDNS or --peer). */
mr_route lan_route(lan *l);
/* The messenger's "ice" route: devices whose connection is a direct path
 * (lan_adopt). A device has one connection at a time, and a TCP one wins
 * over an ICE one whichever came first (see old_wins in lan.c); when one
 * replaces the other the device goes down() and up() again, so what was
 * in flight on the old route is sent again on the new one. */
mr_route lan_ice_route(lan *l);

/* A connection over a path the caller made (an ICE stream: make creates
 * its transport, as conn_over takes it), run like any other: handshake,
 * HELLO, certificate, liveness, one connection per device. The key the
 * peer proves must be expect (the device the rendezvous lists), else the
 * connection is closed and logged. initiator: this end starts the Noise
 * handshake. addr: the remote address for logs. 0, BANTER_EAGAIN (at
 * max_conns, or stopping) or conn_over's error; make was not called, or
 * failed, when this fails: the caller still owns what make would take. */
BANTER_WUR int lan_adopt(lan *l, conn_transport_fn make, void *arg, bool initiator,
                         const uint8_t expect[static 32], const char *addr);

#endif
