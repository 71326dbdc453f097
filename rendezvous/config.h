/* SPDX-License-Identifier: MIT */
/*
 * config.h - the rendezvous server's settings: defaults, an optional
 * configuration file, and command-line overrides, all checked alike.
 *
 * The file (--config FILE) is "key = value" lines; "#" starts a comment at
 * the start of a line or after a space or tab; blank lines are ignored, and
 * so are spaces around keys and values. Keys (a later line wins):
 *   listen = ADDR:PORT   numeric IPv4 "0.0.0.0:7071" or IPv6 "[::]:7071";
 *                        port 0 picks a free port (default 0.0.0.0:7071)
 *   db = PATH            the SQLite database (default ./rendezvous.db); the
 *                        server key is PATH.key beside it, the control socket
 *                        PATH.sock. A relative path is taken from the current
 *                        directory. A postgresql:// URL names a PostgreSQL
 *                        database instead (docs/cluster.md).
 *   state = PATH         with a PostgreSQL db only: where the files a server
 *                        keeps on its own machine are, PATH.key (the server
 *                        key), PATH.sock (the control socket), PATH.plugins
 *                        (default ./rendezvous); with a SQLite db they are
 *                        beside the database and this is ignored
 *   message_ttl_days = N stored copies are deleted unsent after N days
 *                        (1..3650, default 30)
 *   quota_messages = N   copies stored for one account at most (1..10000000,
 *                        default 10000)
 *   quota_mb = N         MiB of copies stored for one account at most
 *                        (1..1048576, default 100)
 *   quota_sender_percent = N  the share of those two one sending account
 *                        may hold of another account's mailbox, in percent
 *                        rounded up (1..100, default 25): over it that
 *                        sender gets EQUOTA while others still reach the
 *                        account (docs/rendezvous.md 6.3)
 *   directory_public_fields = LIST  the profile fields every account sees
 *                        of every other (dirview.h): field names separated
 *                        by commas, "" for none (default display_name);
 *                        the others only the account itself and its
 *                        approved contacts see, or find it by in a search
 *   stun = URLS          STUN servers nodes gather against, comma-separated
 *                        "stun:HOST:PORT" with a numeric HOST (at most 4;
 *                        default none)
 *   turn = URLS          TURN servers (coturn), "turn:HOST:PORT" or with
 *                        "?transport=udp|tcp" (at most 4; default none);
 *                        needs turn_secret
 *   turn_secret = TEXT   coturn's static-auth-secret (8..256 bytes): the
 *                        server derives each device's short-lived TURN
 *                        credentials from it (icesig.h); keep the file 0600
 *   turn_ttl_s = N       how long those credentials work (600..86400,
 *                        default 3600); they are sent again before
 *   probe = on|off       whether logged-in devices may ask the server to
 *                        connect back to a port of theirs (probe.h,
 *                        docs/rendezvous.md 16; default on): turn it off
 *                        when the server sees a proxy's address instead
 *                        of its clients'
 *   instance = PATH      run as one instance of a service (instance.h,
 *                        docs/cluster.md): PATH is this instance's key,
 *                        PATH.cert its certificate from the server key
 *                        (made by `banter-rendezvous instance new`)
 *   cluster_listen = ADDR:PORT  with a PostgreSQL db: listen there for
 *                        links from the other instances (xlink.h) and
 *                        publish it as the address they dial: a numeric
 *                        address they reach (not 0.0.0.0); default none
 *                        (no links: copies between instances go through
 *                        the database)
 * An unknown key, a bad value, a line without "=", a NUL byte or a file
 * over 64 KiB is an error that names the line.
 */
#ifndef BANTER_RDV_CONFIG_H
#define BANTER_RDV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "banter_limits.h"
#include "error.h"
#include "rvmsg.h"

#define CONFIG_PATH_MAX      4096
#define CONFIG_LISTEN_MAX    64 /* "[ipv6]:port" fits */
#define CONFIG_DEFAULT_DB    "./rendezvous.db"
#define CONFIG_DEFAULT_STATE "./rendezvous"
#define CONFIG_DEFAULT_PORT  7071
#define CONFIG_KEY_SUFFIX    ".key"
/* The largest stored copy (its sealed bytes): what fits one RV_SEALED
 * beside its head for a one-byte sender name (mailbox.c asserts that it
 * equals its own limit). A sender's share of a mailbox must hold one. */
#define CONFIG_MAX_COPY_BYTES                                                                      \
    ((int64_t)BANTER_MAX_PLAINTEXT - (1 + RV_ID_LEN + 1 + 8 + 1 + 1 + RV_KEY_LEN))
#define CONFIG_TTL_DAYS   30
#define CONFIG_QUOTA_MSGS 10000
#define CONFIG_QUOTA_MB   100
#define CONFIG_SENDER_PCT 25
#define CONFIG_TURN_TTL_S 3600
#define CONFIG_SECRET_MAX 256

typedef struct config {
    char db[CONFIG_PATH_MAX];
    char state[CONFIG_PATH_MAX]; /* the local files' base with a PostgreSQL db */
    char listen[CONFIG_LISTEN_MAX];
    int64_t ttl_days;
    int64_t quota_messages;
    int64_t quota_mb;
    int64_t sender_pct;        /* quota_sender_percent */
    uint32_t public_fields;    /* dir_public (dirview.h) */
    struct rv_ice_servers ice; /* stun and turn URLs (no credentials) */
    char turn_secret[CONFIG_SECRET_MAX + 1];
    int64_t turn_ttl_s;
    char instance[CONFIG_PATH_MAX];         /* "" or the instance key's path (instance.h) */
    bool probe;                             /* reachability probes offered (probe.h) */
    char cluster_listen[CONFIG_LISTEN_MAX]; /* "" or where links are accepted (xlink.h) */
} config;

/* The defaults. */
void config_defaults(config *c);

/* pct percent of v, rounded up, at least 1 (v >= 1, 1 <= pct <= 100):
 * a sender's share of quota_messages and of quota_mb's bytes. */
int64_t config_share(int64_t v, int64_t pct);

/* Read the file at path (it must exist) over what c holds. BANTER_EFORMAT
 * with why (cap bytes) like "rdv.conf line 3: unknown key \"lisen\"",
 * also when the settings disagree: quota_sender_percent of quota_mb must
 * hold one largest copy (CONFIG_MAX_COPY_BYTES; why names both and the
 * least value of each that would),
 * BANTER_EIO (cannot open or read; errno set; why says so), BANTER_ENOMEM.
 * On an error c is unchanged. why may be NULL. */
BANTER_WUR int config_load(config *c, const char *path, char *why, size_t cap);

/* Set one key as the file would (used for command-line options). 0, or
 * BANTER_EFORMAT with why like "listen: \"x\" is not ADDR:PORT ...". */
BANTER_WUR int config_set(config *c, const char *key, const char *value, char *why, size_t cap);

/* Parse "ADDR:PORT" (numeric IPv4, or IPv6 in brackets). 0 or
 * BANTER_EINVAL. */
BANTER_WUR int config_parse_listen(const char *s, struct sockaddr_storage *out);

/* The base of the files the server keeps on its own machine (its key,
 * control socket and plug-in state: BASE.key, BASE.sock, BASE.plugins):
 * the SQLite database's path, or `state` when db is a PostgreSQL URL. */
const char *config_base(const config *c);

/* The server key's path: config_base with CONFIG_KEY_SUFFIX added.
 * 0, or BANTER_ETOOLONG when it does not fit in cap bytes. */
BANTER_WUR int config_key_path(const config *c, char *out, size_t cap);

#endif
