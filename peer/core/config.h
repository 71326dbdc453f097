/* SPDX-License-Identifier: MIT */
/*
 * config.h - the node's settings, from DIR/banter.conf.
 *
 * A text file of "key = value" lines; "#" starts a comment (at the start of
 * a line or after a space or tab, so "/data/#1" stays a path); blank lines
 * are ignored; spaces around keys and values are too. Values are taken as
 * written, without quotes. Keys (all optional; a later line wins):
 *   download_dir = PATH             where accepted files go (default
 *                                   $XDG_DOWNLOAD_DIR, else ~/Downloads, or
 *                                   "." when HOME is not set); an absolute
 *                                   path, or "~/..." under $HOME
 *   auto_accept_verified = yes|no   accept files from verified peers without
 *                                   asking (default no; also true/false, on/off, 1/0,
 *                                   any case)
 *   auto_accept_max_mb = N          ...when the offer is at most N MiB
 *                                   (default 100; 0 means no limit; decimal
 *                                   digits only, at most 2^44 - 1)
 *   auto_accept_day_mb = N          ...and what was accepted without asking
 *                                   in this hour and the 23 before, the offer
 *                                   included, is at most N MiB (default
 *                                   1024; 0 means no limit; digits as above)
 *   auto_accept_keep_free_mb = N    ...and the download folder's disk keeps
 *                                   N MiB free after it, counting what
 *                                   accepted transfers still write (default
 *                                   1024; 0: the file only has to fit).
 *                                   An offer over any of these waits for
 *                                   the person (core/autoaccept.h).
 *   web_port = N                    the web interface's port on 127.0.0.1
 *                                   (default 7420; 0 turns it off; when it
 *                                   is taken the next 9 ports are tried)
 *   ice = yes|no                    direct connections to organisation
 *                                   contacts through NAT (default yes; also
 *                                   on/off); no: this node neither seeks
 *                                   nor answers ICE, its messages go over
 *                                   the LAN or the rendezvous's sealed relay
 * The node's limits (docs/limits.md; whole numbers, digits only):
 *   peer_max_conns = N              LAN connections at once (256; 1..65536)
 *   peer_max_per_addr = N           ...from one address (8; 1..65536)
 *   peer_hello_timeout = S          seconds from handshake to HELLO (5; 1..300)
 *   peer_frame_timeout = S          seconds a started frame may take (10; 1..300)
 *   chat_rate = N, chat_burst = N   CHATs per second from one device, and
 *                                   at once (20 and 100; 0..1000000; rate 0:
 *                                   no limit); GROUP_MSGs likewise, apart
 *   offer_rate = N, offer_burst = N FILE_OFFERs likewise (2 and 50)
 *   offer_rate_all = N,             ...from all devices together (10 and
 *   offer_burst_all = N             100; rate 0: no limit)
 *   offers_per_peer = N             incoming offers waiting for an answer,
 *                                   per device (64; 1..1000000)
 *   offers_total = N                ...from all devices (512; 1..1000000)
 *   offer_expiry = S                seconds an unanswered incoming offer
 *                                   waits before it is declined ("expired")
 *                                   (604800: 7 days; 1..31536000)
 *   plugin.NAME.KEY, plugins.KEY    plug-ins: read by plugin/plugins.h
 * An unknown key, a bad value, a line without "=", or a file over 64 KiB is
 * an error that names the line, so a typo never goes unnoticed.
 */
#ifndef BANTER_PEER_CONFIG_H
#define BANTER_PEER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct config {
    char download_dir[4096];
    bool auto_accept_verified;
    uint64_t auto_accept_max_bytes; /* 0: no limit */
    uint64_t auto_accept_day_bytes; /* 0: no limit */
    uint64_t auto_accept_keep_free; /* bytes; 0: none */
    uint16_t web_port;              /* 0: no web interface */
    bool ice;                       /* direct paths through NAT (rdv/direct) */
    /* Limits (docs/limits.md). */
    uint32_t peer_max_conns, peer_max_per_addr;
    uint32_t peer_hello_timeout_s, peer_frame_timeout_s;
    uint32_t chat_rate, chat_burst;           /* per second, at once; rate 0: none */
    uint32_t offer_rate, offer_burst;         /* likewise for FILE_OFFER */
    uint32_t offer_rate_all, offer_burst_all; /* ...from all devices together */
    uint32_t offers_per_peer, offers_total;
    uint32_t offer_expiry_s;
} config;

#define CONFIG_WEB_PORT_DEFAULT     7420
#define CONFIG_PEER_MAX_CONNS       256
#define CONFIG_PEER_MAX_PER_ADDR    8
#define CONFIG_PEER_HELLO_TIMEOUT_S 5
#define CONFIG_PEER_FRAME_TIMEOUT_S 10
#define CONFIG_CHAT_RATE            20
#define CONFIG_CHAT_BURST           100
#define CONFIG_OFFER_RATE           2
#define CONFIG_OFFER_BURST          50
#define CONFIG_OFFER_RATE_ALL       10
#define CONFIG_OFFER_BURST_ALL      100
#define CONFIG_OFFERS_PER_PEER      64
#define CONFIG_OFFERS_TOTAL         512
#define CONFIG_OFFER_EXPIRY_S       604800

/* Defaults, then the file at path if it exists (a missing file is not an
 * error). BANTER_EFORMAT with why (cap bytes) like
 * "banter.conf line 3: unknown key \"donwload_dir\"" (lines count from 1;
 * also a file that is not a regular file, or a NUL byte), BANTER_EIO (cannot
 * open or read; errno set), BANTER_ETOOLONG (the default download_dir from
 * the environment does not fit), BANTER_ENOMEM. On an error c holds the
 * defaults (all of them unless ETOOLONG). why may be NULL. */
BANTER_WUR int config_load(config *c, const char *path, char *why, size_t cap);

#endif
