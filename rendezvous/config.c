/* SPDX-License-Identifier: MIT */
/*
 * config.c - the server's "key = value" settings, read strictly so that
 * every mistake is reported with its line, its key and the bad value.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db_pg.h"
#include "dirview.h"
#include "icecand.h"
#include "kvconf.h"
#include "utf8.h"

/* Where the parser is, for messages. */
void config_defaults(config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->db, sizeof c->db, "%s", CONFIG_DEFAULT_DB);
    snprintf(c->state, sizeof c->state, "%s", CONFIG_DEFAULT_STATE);
    snprintf(c->listen, sizeof c->listen, "0.0.0.0:%d", CONFIG_DEFAULT_PORT);
    c->ttl_days = CONFIG_TTL_DAYS;
    c->quota_messages = CONFIG_QUOTA_MSGS;
    c->quota_mb = CONFIG_QUOTA_MB;
    c->sender_pct = CONFIG_SENDER_PCT;
    c->public_fields = DIR_PUBLIC_DEFAULT;
    c->turn_ttl_s = CONFIG_TURN_TTL_S;
    c->probe = true;
}

/* "stun" or "turn": a comma-separated list of URLs (icecand_parse_url). */
static int set_urls(config *c, const kvconf *k, const char *key, const char *value)
{
    bool turn = key[0] == 't';
    size_t n = 0;
    char(*dst)[RV_ICE_URL_MAX + 1] = turn ? c->ice.turn : c->ice.stun;
    for (const char *p = value; *p;) {
        size_t len = strcspn(p, ",");
        char one[RV_ICE_URL_MAX + 1], q[UTF8_QUOTE_CAP];
        icecand_url u;
        utf8_quote(q, p, len);
        if (n == RV_ICE_URLS_MAX)
            return kvconf_fail(k, BANTER_EFORMAT, "%s: more than %u servers", key, RV_ICE_URLS_MAX);
        if (len > RV_ICE_URL_MAX)
            return kvconf_fail(k, BANTER_EFORMAT, "%s: %s is longer than %u bytes", key, q,
                               RV_ICE_URL_MAX);
        memcpy(one, p, len);
        one[len] = '\0';
        if (icecand_parse_url(one, &u) != 0 || u.turn != turn)
            return kvconf_fail(k, BANTER_EFORMAT,
                               "%s: %s is not %s:HOST:PORT with a numeric HOST%s", key, q, key,
                               turn ? " (and ?transport=udp or tcp, or nothing)" : "");
        memcpy(dst[n++], one, len + 1);
        p += len;
        if (*p == ',')
            p++;
    }
    if (turn)
        c->ice.nturn = n;
    else
        c->ice.nstun = n;
    return 0;
}

/* A whole number in min..max, decimal digits only. */
static int parse_num(const char *s, int64_t min, int64_t max, int64_t *out)
{
    int64_t v = 0;
    if (*s == '\0' || strlen(s) > 12)
        return BANTER_EINVAL;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9')
            return BANTER_EINVAL;
        v = v * 10 + (*c - '0');
    }
    if (v < min || v > max)
        return BANTER_EINVAL;
    *out = v;
    return 0;
}

/* The numeric keys: name, range, where the value goes. */
static int set_number(config *c, const kvconf *k, const char *key, const char *value, const char *q,
                      bool *known)
{
    static const struct {
        const char *key;
        int64_t min, max;
        size_t off;
    } nums[] = {
        {"message_ttl_days", 1, 3650, offsetof(config, ttl_days)},
        {"quota_messages", 1, 10000000, offsetof(config, quota_messages)},
        {"quota_mb", 1, 1048576, offsetof(config, quota_mb)},
        {"quota_sender_percent", 1, 100, offsetof(config, sender_pct)},
        {"turn_ttl_s", 600, 86400, offsetof(config, turn_ttl_s)},
    };
    *known = false;
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        if (strcmp(key, nums[i].key) != 0)
            continue;
        *known = true;
        int64_t v;
        if (parse_num(value, nums[i].min, nums[i].max, &v) != 0)
            return kvconf_fail(k, BANTER_EFORMAT, "%s: %s is not a whole number from %lld to %lld",
                               key, q, (long long)nums[i].min, (long long)nums[i].max);
        memcpy((char *)c + nums[i].off, &v, sizeof v);
        return 0;
    }
    return 0;
}

/* A port: decimal digits only, 0..65535. */
static int parse_port(const char *s, uint16_t *out)
{
    unsigned long v = 0;
    if (*s == '\0' || strlen(s) > 5)
        return BANTER_EINVAL;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9')
            return BANTER_EINVAL;
        v = v * 10 + (unsigned long)(*c - '0');
    }
    if (v > 65535)
        return BANTER_EINVAL;
    *out = (uint16_t)v;
    return 0;
}

int config_parse_listen(const char *s, struct sockaddr_storage *out)
{
    char host[CONFIG_LISTEN_MAX];
    const char *port;
    uint16_t p;
    size_t n = strnlen(s, CONFIG_LISTEN_MAX);

    if (n == 0 || n >= CONFIG_LISTEN_MAX)
        return BANTER_EINVAL;
    memset(out, 0, sizeof *out);
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return BANTER_EINVAL;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        port = close + 2;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)out;
        if (parse_port(port, &p) != 0 || inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
            return BANTER_EINVAL;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(p);
        return 0;
    }
    const char *colon = strrchr(s, ':');
    if (!colon)
        return BANTER_EINVAL;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    struct sockaddr_in *in = (struct sockaddr_in *)(void *)out;
    if (parse_port(colon + 1, &p) != 0 || inet_pton(AF_INET, host, &in->sin_addr) != 1)
        return BANTER_EINVAL;
    in->sin_family = AF_INET;
    in->sin_port = htons(p);
    return 0;
}

/*
 * True for an address that names no host: 0.0.0.0, :: in any spelling, and
 * the IPv4-mapped ::ffff:0.0.0.0. The text is parsed first, so "[0::]" or
 * "[::0]" cannot slip past a comparison of strings.
 */
static bool is_unspecified(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)ss;
        return in->sin_addr.s_addr == htonl(INADDR_ANY);
    }
    const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr;
    static const uint8_t zero[4];
    if (IN6_IS_ADDR_UNSPECIFIED(a))
        return true;
    return IN6_IS_ADDR_V4MAPPED(a) && memcmp(a->s6_addr + 12, zero, 4) == 0;
}

static int set_key(void *ud, const kvconf *k, const char *key, const char *value)
{
    config *c = ud;
    char q[UTF8_QUOTE_CAP];
    struct sockaddr_storage ss;

    utf8_quote(q, value, strlen(value));
    if (strcmp(key, "listen") == 0) {
        if (config_parse_listen(value, &ss) != 0)
            return kvconf_fail(k, BANTER_EFORMAT,
                               "listen: %s is not ADDR:PORT with a numeric address "
                               "(e.g. 0.0.0.0:7071 or [::]:7071)",
                               q);
        snprintf(c->listen, sizeof c->listen, "%s", value);
        return 0;
    }
    if (strcmp(key, "db") == 0) {
        if (*value == '\0')
            return kvconf_fail(k, BANTER_EFORMAT, "db: the path is empty");
        if (strlen(value) + sizeof CONFIG_KEY_SUFFIX > sizeof c->db)
            return kvconf_fail(k, BANTER_EFORMAT, "db: %s is longer than %zu bytes", q,
                               sizeof c->db - sizeof CONFIG_KEY_SUFFIX);
        snprintf(c->db, sizeof c->db, "%s", value);
        return 0;
    }
    if (strcmp(key, "directory_public_fields") == 0) {
        dir_public pub;
        const char *bad = value;
        if (dir_public_parse(value, &pub, &bad) != 0) {
            char b[UTF8_QUOTE_CAP];
            utf8_quote(b, bad, strcspn(bad, ","));
            return kvconf_fail(k, BANTER_EFORMAT,
                               "directory_public_fields: %s is not a profile field (known: "
                               "display_name, department, title, email, phone, location, about; "
                               "separated by commas)",
                               b);
        }
        c->public_fields = pub;
        return 0;
    }
    if (strncmp(key, "plugin.", 7) == 0 || strncmp(key, "plugins.", 8) == 0)
        return 0; /* the plug-ins' settings: plugins.c reads them (shared/plugconf.h) */
    if (strcmp(key, "stun") == 0 || strcmp(key, "turn") == 0)
        return set_urls(c, k, key, value);
    if (strcmp(key, "turn_secret") == 0) {
        size_t n = strlen(value);
        if (n < 8 || n > CONFIG_SECRET_MAX)
            return kvconf_fail(k, BANTER_EFORMAT, "turn_secret: from 8 to %d bytes (it is %zu)",
                               CONFIG_SECRET_MAX, n);
        memcpy(c->turn_secret, value, n + 1);
        return 0;
    }
    if (strcmp(key, "state") == 0) {
        if (*value == '\0' || strlen(value) + sizeof ".plugins" > sizeof c->state)
            return kvconf_fail(k, BANTER_EFORMAT, "state: %s is empty or too long", q);
        snprintf(c->state, sizeof c->state, "%s", value);
        return 0;
    }
    if (strcmp(key, "probe") == 0) {
        if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0)
            return kvconf_fail(k, BANTER_EFORMAT, "probe: %s is not on or off", q);
        c->probe = strcmp(value, "on") == 0;
        return 0;
    }
    if (strcmp(key, "cluster_listen") == 0) {
        if (config_parse_listen(value, &ss) != 0)
            return kvconf_fail(k, BANTER_EFORMAT,
                               "cluster_listen: %s is not ADDR:PORT with a numeric address the "
                               "other instances can dial (e.g. 10.0.0.5:7072)",
                               q);
        if (is_unspecified(&ss))
            return kvconf_fail(k, BANTER_EFORMAT,
                               "cluster_listen: %s is the unspecified address; the other "
                               "instances dial the address written here, so give this "
                               "instance's own (e.g. 10.0.0.5:7072)",
                               q);
        snprintf(c->cluster_listen, sizeof c->cluster_listen, "%s", value);
        return 0;
    }
    if (strcmp(key, "instance") == 0) {
        if (*value == '\0' || strlen(value) + sizeof ".cert" > sizeof c->instance)
            return kvconf_fail(k, BANTER_EFORMAT, "instance: %s is empty or too long", q);
        snprintf(c->instance, sizeof c->instance, "%s", value);
        return 0;
    }
    bool known;
    int r = set_number(c, k, key, value, q, &known);
    if (known)
        return r;
    utf8_quote(q, key, strlen(key));
    return kvconf_fail(k, BANTER_EFORMAT,
                       "unknown key %s (known: listen, db, message_ttl_days, quota_messages, "
                       "quota_mb, quota_sender_percent, directory_public_fields, stun, turn, "
                       "turn_secret, turn_ttl_s, probe, "
                       "instance, state, cluster_listen)",
                       q);
}

int config_set(config *c, const char *key, const char *value, char *why, size_t cap)
{
    kvconf k = {NULL, 0, why, cap};
    if (why && cap)
        why[0] = '\0';
    return set_key(c, &k, key, value);
}

int64_t config_share(int64_t v, int64_t pct)
{
    int64_t s = v / 100 * pct + ((v % 100) * pct + 99) / 100;
    return s < 1 ? 1 : s;
}

#define MIB (1024 * 1024)

/* The settings that only make sense together: a sender's byte share of a
 * mailbox under one largest copy would leave such a copy waiting for
 * good (EQUOTA is "not now" to a node). */
static int check_together(const config *c, const char *path, char *why, size_t cap)
{
    int64_t share = config_share(c->quota_mb * MIB, c->sender_pct);
    if (share >= CONFIG_MAX_COPY_BYTES)
        return 0;
    int64_t pct = c->sender_pct, mb = c->quota_mb;
    while (pct < 100 && config_share(c->quota_mb * MIB, pct) < CONFIG_MAX_COPY_BYTES)
        pct++;
    while (config_share(mb * MIB, c->sender_pct) < CONFIG_MAX_COPY_BYTES)
        mb++;
    if (why && cap)
        snprintf(why, cap,
                 "%s: quota_sender_percent = %lld of quota_mb = %lld leaves one sender %lld "
                 "bytes of a mailbox, less than one largest copy (%lld bytes), which would "
                 "never be stored: raise quota_sender_percent to at least %lld or quota_mb to "
                 "at least %lld",
                 path, (long long)c->sender_pct, (long long)c->quota_mb, (long long)share,
                 (long long)CONFIG_MAX_COPY_BYTES, (long long)pct, (long long)mb);
    return BANTER_EFORMAT;
}

int config_load(config *c, const char *path, char *why, size_t cap)
{
    /* Parsed into a copy: on an error c is unchanged. */
    config tmp = *c;
    int ret = kvconf_load(path, set_key, &tmp, why, cap);
    if (ret == 0)
        ret = check_together(&tmp, path, why, cap);
    if (ret == 0)
        *c = tmp;
    return ret == BANTER_ENOENT ? BANTER_EIO : ret; /* the server's --config must exist */
}

const char *config_base(const config *c) { return db_pg_is_url(c->db) ? c->state : c->db; }

int config_key_path(const config *c, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s%s", config_base(c), CONFIG_KEY_SUFFIX);
    return n < 0 || (size_t)n >= cap ? BANTER_ETOOLONG : 0;
}
