/* SPDX-License-Identifier: MIT */
/*
 * xlink.h - direct links between the instances of a service on one
 * PostgreSQL (docs/rendezvous.md 8.3, "Instance links"), so that a sealed
 * copy for a device connected to another instance goes to it without the
 * database: forwarded over the link, answered "delivered" back over it.
 *
 * Each instance with `cluster_listen` listens there and publishes the
 * address in its banter_instances row (cluster_set_link). Every
 * XLINK_POLL_MS it reads the others' addresses (cluster_links) and dials
 * those whose id sorts after its own that it has no link with (so one
 * link per pair), again after a failure with a back-off doubling from
 * XLINK_RETRY_MIN_MS to XLINK_RETRY_MAX_MS.
 *
 * A link is a session (session.h, Noise XX) between the two instance keys;
 * each side's first message is XL_CERT (xlmsg.h), and the link is up only
 * once the peer's certificate is signed by the organisation key this
 * instance loads and names the key the peer proved (xlmsg_peer_check).
 * Anything else (a wrong key, another organisation's certificate, an
 * expired one, garbage, a slow handshake) closes that connection and is
 * logged (a line a second at most); the instance keeps serving. What one
 * address may have in its handshake at once, and how fast it may connect,
 * is bounded (XLINK_PENDING_ADDR, XLINK_ACCEPT_RATE), so one stranger
 * cannot keep the XLINK_PENDING_MAX slots busy.
 *
 * Once up, each side sends the devices connected to it (XL_DEV) and every
 * change after; xlink_where answers from those sets. Everything queued for
 * a link in one loop iteration is sealed as one RV_BATCH at xlink_flush.
 * What the mailbox forwards and what comes back goes through
 * mailbox_link_* (mailbox.h); a link that closes tells the mailbox
 * (mailbox_link_down), which stores what it had forwarded over it.
 *
 * Links are named by a handle (never 0) that no later link reuses soon,
 * so an answer for a link that is gone is dropped (xlink_answer).
 */
#ifndef BANTER_RDV_XLINK_H
#define BANTER_RDV_XLINK_H

#include <stdbool.h>
#include <stdint.h>

#include "core.h"
#include "identity.h"
#include "rvmsg.h"
#include "xlmsg.h"

#define XLINK_MAX          64 /* links, pending ones included */
#define XLINK_PENDING_MAX  16 /* accepted ones in their handshake */
/* One source address (an IPv4 address or an IPv6 /64, rl_addr_key) may
 * hold at most XLINK_PENDING_ADDR of those, and open XLINK_ACCEPT_RATE
 * connections a second (bursts of XLINK_ACCEPT_BURST); beyond either a
 * new one is closed at once, taking no one's slot. XLINK_RATE_ADDRS
 * addresses are remembered (the least recently seen make room). */
#define XLINK_PENDING_ADDR 4u
#define XLINK_ACCEPT_RATE  2u
#define XLINK_ACCEPT_BURST 8u
#define XLINK_RATE_ADDRS   64u
#define XLINK_POLL_MS      1000u /* read the others' addresses */
#define XLINK_RETRY_MIN_MS 250u
#define XLINK_RETRY_MAX_MS 5000u
#define XLINK_HANDSHAKE_MS 10000u                /* handshake and certificate */
#define XLINK_NOISE_MS     5000u                 /* an accepted connection's Noise handshake */
#define XLINK_KEEPALIVE_S  10u                   /* idle before TCP keepalive probes */
#define XLINK_OUT_HIGH     (4u * 1024u * 1024u)  /* queued: no more forwards */
#define XLINK_OUT_CAP      (16u * 1024u * 1024u) /* queued: the peer does not read, closed */
/* Devices a peer may list (XL_DEV) on one link: twice the service's
 * 100,000 connections, a table of 2^18 keys (8.6 MB); more closes it. */
#define XLINK_DEVS_MAX     196608u
/* Copies received over one link and not answered yet: what a sending
 * instance may have waiting at most (mailbox.h MB_REMOTE_MAX copies,
 * MB_ROUTED_BYTES); more closes the link (a peer that does not wait). */
#define XLINK_RX_MAX       65536u
#define XLINK_RX_BYTES     (256u * 1024u * 1024u)

/* Listen on addr ("ADDR:PORT", also the address published to the others)
 * with key me (the instance key, or the server key when it is the
 * organisation key); needs the cluster (k->cl). 0, or BANTER_EINVAL (bad
 * address), BANTER_EIO (cannot listen), BANTER_ENOMEM; logged. */
BANTER_WUR int xlink_start(core *k, const char *addr, const identity *me);
/* Close every link and the listener (handles close with the loop); the
 * mailbox is told of each link. Accepts a core without links. */
void xlink_stop(core *k);
/* After the loop ended. */
void xlink_free(core *k);

/* Once per loop iteration: seal and write what the links queued. */
void xlink_flush(core *k);
/* Every server tick: handshake deadlines, dialing, the address poll. */
void xlink_tick(core *k, uint64_t now);

/* A device was authenticated here (up) or left the last of its sessions
 * here: tell the other instances. */
void xlink_device(core *k, const uint8_t dev[static 32], bool up);
/* The link whose peer said it holds dev, or 0; of several, the one that
 * said so last (the device moved, the old holder has not said it left). */
uint32_t xlink_where(const core *k, const uint8_t dev[static 32]);
/* Forward f over link: 0, or BANTER_ENOENT (the link is gone),
 * BANTER_EAGAIN (too much queued on it), BANTER_ETOOBIG (too large for a
 * link). On failure nothing was queued. */
BANTER_WUR int xlink_forward(core *k, uint32_t link, const xl_fwd *f);
/* Close link (why is logged); nothing when it is gone already. The
 * mailbox is told (mailbox_link_down) before this returns. */
void xlink_drop(core *k, uint32_t link, const char *why);
/* Answer the forward tag (len sealed bytes) that came over link; nothing
 * when it is gone. Each copy that came over a link is answered once. */
void xlink_answer(core *k, uint32_t link, uint64_t tag, size_t len, rv_fate fate,
                  const char *error);

/* Counters since start (status). */
typedef struct xlink_stats {
    uint64_t up;        /* links up now */
    uint64_t forwarded; /* copies sent over links */
    uint64_t received;  /* copies received over links */
    uint64_t answered;  /* answers received for forwarded copies */
    uint64_t refused;   /* links refused (handshake, certificate, protocol) */
} xlink_stats;
void xlink_get_stats(const core *k, xlink_stats *out);

#endif
