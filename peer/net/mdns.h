/* SPDX-License-Identifier: MIT */
/*
 * mdns.h - LAN discovery through the system's avahi-daemon (Avahi client
 * with the GLib poll adapter).
 *
 * Publishes this node as a _banter._tcp service with TXT records
 *   v=1  fp=<40 fingerprint digits, no spaces>  name=<display name>
 * and browses for colleagues, resolving each to an address and port. When
 * avahi-daemon is absent or restarts, mdns says so once through status()
 * and re-registers by itself when the daemon returns (AVAHI_CLIENT_NO_FAIL).
 * Our own service is never reported.
 *
 * Browsing and resolved addresses are IPv4 only (AVAHI_PROTO_INET); the
 * service itself is published on every protocol the daemon runs. A record
 * whose address no colleague can have (loopback, unspecified, multicast,
 * reserved or broadcast; IPv6 link-local, which would need a scope the
 * address text does not carry: netaddr.h) is not reported: found() does
 * not come for it, and log() says so once per service. IPv4 link-local
 * (169.254/16, a LAN without DHCP) is a colleague's address. The
 * instance name is "<name> [<first 5 fingerprint digits>]" in at most 63
 * bytes (the name is cut on a character boundary), renamed "... #2" on a
 * collision.
 *
 * Callbacks run on the GMainContext given to mdns_new, never from inside
 * mdns_new; they must not call mdns_free on the same object. found() may
 * come more than once for one fingerprint (records changed, or seen on
 * several interfaces); lost() comes once, when no service with that
 * fingerprint is left (a refuted one counts until it goes: mdns_refute).
 * When the daemon goes away every peer that was found is lost() (after
 * status(false)), and found() again once it is back. Names from the LAN
 * are valid UTF-8 of at most BANTER_MAX_NAME bytes with ASCII control
 * bytes replaced by '?'; TXT records without a 40-digit fp or a v in
 * 1..9999 are ignored (the caller decides which versions it speaks).
 *
 * Bounds under a hostile LAN (docs/limits.md): at most 1024 services are
 * tracked, and at most 8 of them are found at one address at once; one
 * more there waits, costing no resolver, and is found when one of those
 * 8 goes away. A service that does not resolve (no answer, a failure, a
 * record refused) or waits at a full address gives way to a new one when
 * the table is full or avahi-daemon will make no more resolvers, so a
 * flood of services a neighbour never lets resolve, or announces all at
 * one address, does not keep a colleague who comes later from being
 * found. Found services are never given up for a new one, unless the LAN
 * proved them false (mdns_refute): a refuted service no longer counts at
 * its address (the oldest waiting there is resolved in its place) and
 * gives way to a new one like a failed one. A service announced when
 * there is no room for it (every tracked service found, or no resolver to
 * be had), or put out while it was still resolving, is remembered in a
 * list of at most 1024 waiting services, oldest first, and resolved when
 * room is made (a service goes away, is refuted, fails or waits at a full
 * address), the oldest first; so a colleague announced while a neighbour
 * fills the table is found once room is made, though the LAN announces
 * it only once. When more wait, the oldest waiting is forgotten (log()
 * says so once, and how many when the list empties); one that goes away
 * while waiting is forgotten.
 */
#ifndef BANTER_PEER_MDNS_H
#define BANTER_PEER_MDNS_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "identity.h"
#include "banter_limits.h"
#include "net/evloop.h"

#define MDNS_SERVICE_TYPE "_banter._tcp"

typedef struct mdns_peer {
    char fingerprint[IDENTITY_FP_DIGITS + 1]; /* digits only */
    char name[BANTER_MAX_NAME + 1];
    char address[64]; /* numeric IPv4 or IPv6 address */
    uint16_t port;
    int version; /* the v= TXT value */
} mdns_peer;

typedef struct mdns_callbacks {
    /* A colleague's service was resolved (again, when its records change). */
    void (*found)(void *ud, const mdns_peer *p);
    /* The service with this fingerprint (digits) went away (goodbye). */
    void (*lost)(void *ud, const char *fingerprint);
    /* The daemon became reachable (true) or not (false); why is for logs. */
    void (*status)(void *ud, bool available, const char *why);
    /* A sentence for the log: a record refused (once per service); the
     * waiting list overflowed (once, until it empties: then the count). */
    void (*log)(void *ud, const char *text);
} mdns_callbacks;

typedef struct mdns mdns;

/* Start publishing and browsing. ctx: NULL for the default context (a
 * reference is held); ev: the evloop on ctx that watches the connection to
 * avahi-daemon (NULL: a plain fd source on ctx; net/avahipoll.h); name: display
 * name, 1..BANTER_MAX_NAME bytes of UTF-8; fingerprint: the 47-character form from
 * identity_fingerprint (spaces are dropped in TXT); port: non-zero; cb is copied and any of its
 * members may be NULL. Fails (BANTER_ENOMEM, BANTER_EINVAL) only on bad
 * arguments or memory; a missing daemon or system bus is reported through
 * status() and retried. */
BANTER_WUR int mdns_new(mdns **out, GMainContext *ctx, evloop *ev, const char *name,
                        const char *fingerprint, uint16_t port, const mdns_callbacks *cb, void *ud);
/* Withdraws the service (Avahi sends goodbye packets) and stops browsing;
 * no callback runs after it. Accepts NULL. */
void mdns_free(mdns *m);

/* The caller proved the record found() reported with fingerprint fpd
 * (digits) at addr:port false: the node there answered with another key,
 * or did not answer. Every service reported with exactly that
 * fingerprint, address and port is refuted: it no longer counts toward
 * the 8 found at addr (the oldest service waiting there is resolved and
 * may be found in its place), it gives way to a new service like one that
 * failed to resolve, and it is not reported again while its records stay
 * the same; when they change (another key, address or port), or the
 * service goes and comes back, it is resolved and may be found() again.
 * lost(fpd) is not called now (the caller proved the record false and
 * knows it): it comes when the last service with fpd goes, refuted ones
 * included (a goodbye, an eviction, its records changed). When a found
 * service with fpd at another address or port is left, found() reports
 * it before this returns. Nothing happens when no found service matches.
 * Must not be called from inside one of m's callbacks. Accepts NULL m. */
void mdns_refute(mdns *m, const char *fpd, const char *addr, uint16_t port);
/* The caller proved the record with fingerprint fpd at addr:port true
 * after all (a dial there completed its handshake with that key: a
 * colleague who did not answer for a while is back). A refuted service
 * with exactly that fingerprint, address and port is found again: it
 * counts at addr and is not given up for a new service, so a flood that
 * comes later cannot push it out. When addr already holds 8 found, it
 * stays refuted (it still holds its key: lost() does not come). Must not
 * be called from inside one of m's callbacks. Accepts NULL m. */
void mdns_confirm(mdns *m, const char *fpd, const char *addr, uint16_t port);

/* The interfaces mDNS can use on this host now: up, not loopback, with
 * multicast on and an IPv4 address. Their "NAME ADDRESS" pairs, separated
 * by ", ", go in out (cap bytes, cut at a pair); returns how many there
 * are (0: multicast cannot leave this host, whatever avahi-daemon does). */
size_t mdns_ifaces(char *out, size_t cap);

#endif
