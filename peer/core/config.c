/* SPDX-License-Identifier: MIT */
/*
 * config.c - banter.conf: the defaults, then "key = value" lines read
 * strictly, so that every mistake is reported with its line and key.
 */
#include "core/config.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvconf.h"
#include "utf8.h"

#define MIB             ((uint64_t)1 << 20)
#define DEFAULT_MAX_MB  100u
#define DEFAULT_DAY_MB  1024u
#define DEFAULT_FREE_MB 1024u
#define MAX_MB          (UINT64_MAX / MIB) /* so that N MiB fits in the bytes */
/* A value quoted in a message shows at most this many bytes, then "...". */

/* Where the parser is, for messages. */
/* Defaults: download_dir is $XDG_DOWNLOAD_DIR, else $HOME/Downloads, else
 * "." (no HOME: the current directory, the only place left). */
static int set_defaults(config *c)
{
    const char *xdg = getenv("XDG_DOWNLOAD_DIR");
    const char *home = getenv("HOME");
    int n;

    memset(c, 0, sizeof *c);
    c->auto_accept_verified = false;
    c->auto_accept_max_bytes = DEFAULT_MAX_MB * MIB;
    c->auto_accept_day_bytes = DEFAULT_DAY_MB * MIB;
    c->auto_accept_keep_free = DEFAULT_FREE_MB * MIB;
    c->web_port = CONFIG_WEB_PORT_DEFAULT;
    c->ice = true;
    c->peer_max_conns = CONFIG_PEER_MAX_CONNS;
    c->peer_max_per_addr = CONFIG_PEER_MAX_PER_ADDR;
    c->peer_hello_timeout_s = CONFIG_PEER_HELLO_TIMEOUT_S;
    c->peer_frame_timeout_s = CONFIG_PEER_FRAME_TIMEOUT_S;
    c->chat_rate = CONFIG_CHAT_RATE;
    c->chat_burst = CONFIG_CHAT_BURST;
    c->offer_rate = CONFIG_OFFER_RATE;
    c->offer_burst = CONFIG_OFFER_BURST;
    c->offer_rate_all = CONFIG_OFFER_RATE_ALL;
    c->offer_burst_all = CONFIG_OFFER_BURST_ALL;
    c->offers_per_peer = CONFIG_OFFERS_PER_PEER;
    c->offers_total = CONFIG_OFFERS_TOTAL;
    c->offer_expiry_s = CONFIG_OFFER_EXPIRY_S;
    if (xdg && *xdg) {
        n = snprintf(c->download_dir, sizeof c->download_dir, "%s", xdg);
    } else if (home && *home) {
        size_t len = strlen(home);
        while (len > 1 && home[len - 1] == '/')
            len--;
        if (len == 1 && home[0] == '/')
            len = 0; /* HOME=/ gives /Downloads */
        n = snprintf(c->download_dir, sizeof c->download_dir, "%.*s/Downloads",
                     (int)(len < 4096 ? len : 4096), home);
    } else {
        n = snprintf(c->download_dir, sizeof c->download_dir, ".");
    }
    return n < 0 || (size_t)n >= sizeof c->download_dir ? BANTER_ETOOLONG : 0;
}

static int parse_bool(const kvconf *k, const char *key, const char *v, bool *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    char q[UTF8_QUOTE_CAP];

    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    utf8_quote(q, v, strlen(v));
    return kvconf_fail(k, BANTER_EFORMAT, "%s: %s is not yes or no (or true/false, on/off, 1/0)",
                       key, q);
}

/* A decimal number of MiB from 0 to MAX_MB: digits only, no sign or space. */
static int parse_mib(const kvconf *k, const char *key, const char *v, uint64_t *bytes)
{
    char q[UTF8_QUOTE_CAP], *end = NULL;
    bool digits = *v != '\0';

    for (const char *c = v; *c; c++)
        digits = digits && *c >= '0' && *c <= '9';
    if (digits) {
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (errno == 0 && end && *end == '\0' && n <= MAX_MB) {
            *bytes = (uint64_t)n * MIB;
            return 0;
        }
    }
    utf8_quote(q, v, strlen(v));
    return kvconf_fail(k, BANTER_EFORMAT, "%s: %s is not a whole number from 0 to %llu", key, q,
                       (unsigned long long)MAX_MB);
}

/* A TCP port, 0 to 65535: digits only. */
static int parse_port(const kvconf *k, const char *key, const char *v, uint16_t *port)
{
    char q[UTF8_QUOTE_CAP];
    unsigned long n = 0;
    size_t len = strlen(v);
    bool ok = len > 0 && len <= 5;
    for (const char *c = v; ok && *c; c++) {
        ok = *c >= '0' && *c <= '9';
        n = n * 10 + (unsigned long)(*c - '0');
    }
    if (ok && n <= 65535) {
        *port = (uint16_t)n;
        return 0;
    }
    utf8_quote(q, v, strlen(v));
    return kvconf_fail(k, BANTER_EFORMAT, "%s: %s is not a port from 0 to 65535", key, q);
}

/* A whole number from min to max: digits only, no sign or space. */
static int parse_u32(const kvconf *k, const char *key, const char *v, uint32_t min, uint32_t max,
                     uint32_t *out)
{
    char q[UTF8_QUOTE_CAP];
    uint64_t n = 0;
    size_t len = strlen(v);
    bool ok = len > 0 && len <= 10;
    for (const char *c = v; ok && *c; c++) {
        ok = *c >= '0' && *c <= '9';
        n = n * 10 + (uint64_t)(*c - '0');
    }
    if (ok && n >= min && n <= max) {
        *out = (uint32_t)n;
        return 0;
    }
    utf8_quote(q, v, strlen(v));
    return kvconf_fail(k, BANTER_EFORMAT, "%s: %s is not a whole number from %u to %u", key, q, min,
                       max);
}

/* The limits' keys: name, range, field. */
typedef struct limit_key {
    const char *name;
    uint32_t min, max;
    size_t off;
} limit_key;

static const limit_key limit_keys[] = {
    {"peer_max_conns", 1, 65536, offsetof(config, peer_max_conns)},
    {"peer_max_per_addr", 1, 65536, offsetof(config, peer_max_per_addr)},
    {"peer_hello_timeout", 1, 300, offsetof(config, peer_hello_timeout_s)},
    {"peer_frame_timeout", 1, 300, offsetof(config, peer_frame_timeout_s)},
    {"chat_rate", 0, 1000000, offsetof(config, chat_rate)},
    {"chat_burst", 1, 1000000, offsetof(config, chat_burst)},
    {"offer_rate", 0, 1000000, offsetof(config, offer_rate)},
    {"offer_burst", 1, 1000000, offsetof(config, offer_burst)},
    {"offer_rate_all", 0, 1000000, offsetof(config, offer_rate_all)},
    {"offer_burst_all", 1, 1000000, offsetof(config, offer_burst_all)},
    {"offers_per_peer", 1, 1000000, offsetof(config, offers_per_peer)},
    {"offers_total", 1, 1000000, offsetof(config, offers_total)},
    {"offer_expiry", 1, 31536000, offsetof(config, offer_expiry_s)},
};

/* An absolute path, or one starting "~/" (or just "~") under $HOME. */
static int parse_dir(const kvconf *k, const char *key, const char *v, config *c)
{
    char q[UTF8_QUOTE_CAP];
    const char *home = getenv("HOME");
    int n;

    utf8_quote(q, v, strlen(v));
    if (v[0] == '~' && (v[1] == '/' || v[1] == '\0')) {
        if (!home || home[0] != '/')
            return kvconf_fail(k, BANTER_EFORMAT,
                               "%s: %s needs $HOME, which is not an absolute path", key, q);
        n = snprintf(c->download_dir, sizeof c->download_dir, "%s%s", home, v + 1);
    } else if (v[0] == '/') {
        n = snprintf(c->download_dir, sizeof c->download_dir, "%s", v);
    } else {
        return kvconf_fail(k, BANTER_EFORMAT,
                           "%s: %s is not an absolute path (start it with / or ~/)", key, q);
    }
    if (n < 0 || (size_t)n >= sizeof c->download_dir)
        return kvconf_fail(k, BANTER_EFORMAT, "%s: %s is longer than %zu bytes", key, q,
                           sizeof c->download_dir - 1);
    return 0;
}

static int set_key(void *ud, const kvconf *k, const char *key, const char *value)
{
    config *c = ud;
    char q[UTF8_QUOTE_CAP];
    if (strcmp(key, "download_dir") == 0)
        return parse_dir(k, key, value, c);
    if (strcmp(key, "auto_accept_verified") == 0)
        return parse_bool(k, key, value, &c->auto_accept_verified);
    if (strcmp(key, "auto_accept_max_mb") == 0)
        return parse_mib(k, key, value, &c->auto_accept_max_bytes);
    if (strcmp(key, "auto_accept_day_mb") == 0)
        return parse_mib(k, key, value, &c->auto_accept_day_bytes);
    if (strcmp(key, "auto_accept_keep_free_mb") == 0)
        return parse_mib(k, key, value, &c->auto_accept_keep_free);
    if (strcmp(key, "web_port") == 0)
        return parse_port(k, key, value, &c->web_port);
    if (strcmp(key, "ice") == 0)
        return parse_bool(k, key, value, &c->ice);
    for (size_t i = 0; i < sizeof limit_keys / sizeof limit_keys[0]; i++) {
        const limit_key *l = &limit_keys[i];
        if (strcmp(key, l->name) == 0)
            return parse_u32(k, key, value, l->min, l->max, (uint32_t *)((char *)c + l->off));
    }
    if (strncmp(key, "plugin.", 7) == 0 || strncmp(key, "plugins.", 8) == 0)
        return 0; /* the plug-ins' settings: plugin/plugins.c reads them */
    utf8_quote(q, key, strlen(key));
    return kvconf_fail(k, BANTER_EFORMAT, "unknown key %s", q);
}

int config_load(config *c, const char *path, char *why, size_t cap)
{
    const char *slash = strrchr(path, '/');
    kvconf k = {slash ? slash + 1 : path, 0, why, cap};

    if (why && cap)
        why[0] = '\0';
    int ret = set_defaults(c);
    if (ret)
        return kvconf_fail(&k, ret,
                           "the default download_dir (from $XDG_DOWNLOAD_DIR or $HOME) is "
                           "too long");
    /* Parsed into a copy: on an error c keeps the defaults. */
    config tmp = *c;
    ret = kvconf_load(path, set_key, &tmp, why, cap);
    if (ret == BANTER_ENOENT) { /* no file: the defaults */
        if (why && cap)
            why[0] = '\0';
        return 0;
    }
    if (ret == 0)
        *c = tmp;
    return ret;
}
