/* SPDX-License-Identifier: MIT */
/*
 * ice.h - one ICE agent (libnice) with one stream of one component, on a
 * GLib main context: the datagram path under peer/net/icestream.
 *
 * Set up the way docs/ice.md's measurements say: a non-reliable agent
 * (icestream brings its own reliability), RFC 8445 with regular
 * nomination, UPnP off, ICE-TCP off unless asked for, the STUN server left
 * out when a TURN server is given (libnice 0.1.21 gathers for 2 s with
 * both; TURN's answer gives the server-reflexive candidate anyway), TURN
 * over UDP and, when asked, over TCP for networks that block UDP.
 *
 * Signaling is the caller's: ice_local_credentials() and
 * ice_local_candidates() after gathered(); the remote side's values go in
 * through ice_set_remote() only after shared/icecand checked them (the
 * lines libnice sees are icecand's canonical ones).
 *
 * Callbacks run from the main context, never from inside ice_new() (with
 * host candidates only, gathering ends at once: gathered() then comes
 * from an idle source). Lifetime: ice_free() may be called from inside a
 * callback; no callback runs after it; the libnice agent releases its TURN allocations
 * (nice_agent_close_async) and is freed later by the main context.
 */
#ifndef BANTER_PEER_ICE_H
#define BANTER_PEER_ICE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "icecand.h"

typedef struct ice_agent ice_agent;

typedef enum ice_state {
    ICE_GATHERING = 0,
    ICE_CHECKING, /* remote side set, checks running */
    ICE_CONNECTED,
    ICE_FAILED,
} ice_state;

typedef struct ice_config {
    bool controlling;
    const char *stun_host; /* numeric address, or NULL */
    uint16_t stun_port;
    const char *turn_host; /* numeric address, or NULL */
    uint16_t turn_port;
    const char *turn_user, *turn_pass; /* short-lived REST credentials */
    bool turn_tcp;                     /* also allocate over TCP */
    bool ice_tcp;                      /* TCP candidates (off: see above) */
    bool force_relay;                  /* relay candidates only (tests) */
} ice_config;

/* The selected pair, as a person would be told. */
typedef struct ice_pair {
    const char *local_type, *remote_type; /* "host" "srflx" "prflx" "relay" */
    bool local_tcp, remote_tcp;           /* the pair's transport */
    bool relay_tcp;                       /* a local relay reached over TCP */
    char local_addr[64], remote_addr[64]; /* "198.18.0.11:51744" */
} ice_pair;

typedef struct ice_callbacks {
    /* Gathering finished: the local values can be sent. */
    void (*gathered)(void *ud, ice_agent *a);
    void (*state)(void *ud, ice_agent *a, ice_state st);
    /* A (new) pair carries the traffic. */
    void (*pair)(void *ud, ice_agent *a, const ice_pair *p);
    /* One datagram from the peer (borrowed for the call). */
    void (*datagram)(void *ud, ice_agent *a, const uint8_t *p, size_t len);
} ice_callbacks;

/* A new agent; gathering starts at once. NULL with *err = BANTER_EINVAL
 * (a bad address or TURN without credentials) or BANTER_EIO (libnice
 * refused). */
ice_agent *ice_new(GMainContext *ctx, const ice_config *cfg, const ice_callbacks *cb, void *ud,
                   int *err);
void ice_free(ice_agent *a);

/* After gathered(): this end's ufrag and pwd (g_free each). */
BANTER_WUR int ice_local_credentials(ice_agent *a, char **ufrag, char **pwd);
/* After gathered(): this end's candidates as "candidate:..." lines,
 * NULL-terminated (g_strfreev). */
char **ice_local_candidates(ice_agent *a);

/* The peer's values, already checked by icecand_parse_set(). 0, or
 * BANTER_ESTATE (set twice), BANTER_EIO (libnice refused them all). */
BANTER_WUR int ice_set_remote(ice_agent *a, const icecand_set *remote);

/* Send one datagram on the selected pair: 0, or BANTER_ESTATE when not
 * connected, BANTER_EIO when it could not go (treat it as lost). */
int ice_send(ice_agent *a, const uint8_t *p, size_t len);

ice_state ice_get_state(const ice_agent *a);
/* The selected pair: 0 and *p filled, or BANTER_ENOENT. */
BANTER_WUR int ice_get_pair(ice_agent *a, ice_pair *p);

#endif
