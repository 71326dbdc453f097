/* SPDX-License-Identifier: MIT */
/*
 * icecand.c - ICE credentials and candidate lines from a remote device,
 * checked (see icecand.h).
 */
#include "icecand.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "netaddr.h"

#define MAX_TOKENS 24
#define ADDR_TEXT  46 /* INET6_ADDRSTRLEN */
#define PREFIX     "candidate:"
#define A_PREFIX   "a=candidate:"

typedef struct tok {
    const char *p;
    size_t n;
} tok;

static bool ice_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

static int check_ice_chars(const char *s, size_t len, size_t min, size_t max)
{
    if (len > max)
        return BANTER_ETOOLONG;
    if (len < min)
        return BANTER_EFORMAT;
    for (size_t i = 0; i < len; i++)
        if (!ice_char(s[i]))
            return BANTER_EFORMAT;
    return 0;
}

int icecand_check_ufrag(const char *s, size_t len)
{
    return check_ice_chars(s, len, BANTER_ICE_MIN_UFRAG, BANTER_ICE_MAX_UFRAG);
}

int icecand_check_pwd(const char *s, size_t len)
{
    return check_ice_chars(s, len, BANTER_ICE_MIN_PWD, BANTER_ICE_MAX_PWD);
}

static bool tok_is(const tok *t, const char *word)
{
    size_t n = strlen(word);
    return t->n == n && memcmp(t->p, word, n) == 0;
}

static bool tok_is_nocase(const tok *t, const char *word)
{
    size_t n = strlen(word);
    if (t->n != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = t->p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != word[i])
            return false;
    }
    return true;
}

/* Decimal digits only, at most 10 of them, value <= max. */
static bool tok_uint(const tok *t, uint32_t max, uint32_t *out)
{
    uint64_t v = 0;
    if (t->n == 0 || t->n > 10)
        return false;
    for (size_t i = 0; i < t->n; i++) {
        if (t->p[i] < '0' || t->p[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(t->p[i] - '0');
    }
    if (v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* Split on single spaces; false on an empty token or too many. */
static bool split(const char *s, size_t len, tok *t, size_t *n)
{
    size_t start = 0;
    *n = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != ' ')
            continue;
        if (i == start || *n == MAX_TOKENS)
            return false;
        t[(*n)++] = (tok){s + start, i - start};
        start = i + 1;
    }
    return true;
}

/* Whether an address is loopback, link-local (what only a shared LAN
 * reaches), or never a valid target (unspecified, multicast, broadcast,
 * reserved). */
static void classify(const icecand *c, bool *local, bool *never)
{
    netaddr_kind k = netaddr_classify(c->ipv6, c->addr);
    *never = k == NETADDR_UNSPECIFIED || k == NETADDR_MULTICAST || k == NETADDR_RESERVED;
    *local = k == NETADDR_LOOPBACK || k == NETADDR_LINK_LOCAL;
}

static int parse_addr(const tok *t, const icecand_policy *pol, bool *ipv6, uint8_t out[16])
{
    char text[ADDR_TEXT];
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (t->n == 0 || t->n >= sizeof text)
        return BANTER_EFORMAT;
    memcpy(text, t->p, t->n);
    text[t->n] = '\0';
    memset(out, 0, 16);
    if (inet_pton(AF_INET, text, out) == 1) {
        *ipv6 = false;
        return 0;
    }
    if (memchr(text, ':', t->n) && inet_pton(AF_INET6, text, out) == 1) {
        *ipv6 = true;
        /* An IPv4 address dressed as IPv6 would dodge the IPv4 checks. */
        if (!pol->allow_ipv6 || memcmp(out, mapped, 12) == 0)
            return BANTER_EUNSUPPORTED;
        return 0;
    }
    return BANTER_EUNSUPPORTED; /* a name (mDNS .local) or garbage */
}

static int parse_type(const tok *t, icecand_type *type)
{
    static const char *const names[] = {"host", "srflx", "prflx", "relay"};
    for (int i = 0; i < 4; i++)
        if (tok_is(t, names[i])) {
            *type = (icecand_type)i;
            return 0;
        }
    return BANTER_EFORMAT;
}

/* The optional "key value" pairs after the type. */
static int parse_extensions(const tok *t, size_t n, const icecand_policy *pol, icecand *c)
{
    bool seen_raddr = false, seen_rport = false, seen_tcptype = false;
    uint32_t v;
    uint8_t raddr[16];
    bool r6;

    for (size_t i = 0; i < n; i += 2) {
        const tok *k = &t[i], *val = &t[i + 1];
        if (i + 1 >= n)
            return BANTER_EFORMAT;
        if (tok_is(k, "raddr") && !seen_raddr) {
            seen_raddr = true;
            if (parse_addr(val, pol, &r6, raddr) != 0)
                return BANTER_EFORMAT;
        } else if (tok_is(k, "rport") && !seen_rport) {
            seen_rport = true;
            if (!tok_uint(val, 65535, &v))
                return BANTER_EFORMAT;
        } else if (tok_is(k, "tcptype") && !seen_tcptype && c->tcp) {
            seen_tcptype = true;
            if (tok_is(val, "active"))
                c->tcptype = ICECAND_TCP_ACTIVE;
            else if (tok_is(val, "passive"))
                c->tcptype = ICECAND_TCP_PASSIVE;
            else if (tok_is(val, "so"))
                c->tcptype = ICECAND_TCP_SO;
            else
                return BANTER_EFORMAT;
        } else if (tok_is(k, "generation") || tok_is(k, "network-id") ||
                   tok_is(k, "network-cost")) {
            if (!tok_uint(val, UINT32_MAX, &v))
                return BANTER_EFORMAT;
        } else {
            return BANTER_EFORMAT;
        }
    }
    if (seen_raddr != seen_rport || (c->tcp && !seen_tcptype))
        return BANTER_EFORMAT;
    return 0;
}

int icecand_parse(const char *line, size_t len, const icecand_policy *pol, icecand *c)
{
    tok t[MAX_TOKENS];
    size_t n;
    uint32_t v;
    bool local, never;
    int ret;

    memset(c, 0, sizeof *c);
    if (len > BANTER_ICE_MAX_LINE)
        return BANTER_ETOOLONG;
    if (len >= sizeof A_PREFIX - 1 && memcmp(line, A_PREFIX, sizeof A_PREFIX - 1) == 0) {
        line += 2;
        len -= 2;
    }
    if (len < sizeof PREFIX - 1 || memcmp(line, PREFIX, sizeof PREFIX - 1) != 0)
        return BANTER_EFORMAT;
    line += sizeof PREFIX - 1;
    len -= sizeof PREFIX - 1;
    if (!split(line, len, t, &n) || n < 8 || !tok_is(&t[6], "typ"))
        return BANTER_EFORMAT;
    if ((ret = check_ice_chars(t[0].p, t[0].n, 1, BANTER_ICE_MAX_FOUNDATION)) != 0)
        return ret == BANTER_ETOOLONG ? BANTER_ETOOLONG : BANTER_EFORMAT;
    memcpy(c->foundation, t[0].p, t[0].n);
    if (!tok_uint(&t[1], 256, &v) || v == 0)
        return BANTER_EFORMAT;
    c->component = (uint16_t)v;
    if (tok_is_nocase(&t[2], "tcp"))
        c->tcp = true;
    else if (!tok_is_nocase(&t[2], "udp"))
        return BANTER_EUNSUPPORTED;
    if (c->tcp && !pol->allow_tcp)
        return BANTER_EUNSUPPORTED;
    if (!tok_uint(&t[3], 0x7fffffffu, &c->priority) || c->priority == 0)
        return BANTER_EFORMAT;
    if ((ret = parse_addr(&t[4], pol, &c->ipv6, c->addr)) != 0)
        return ret;
    if (!tok_uint(&t[5], 65535, &v))
        return BANTER_EFORMAT;
    c->port = (uint16_t)v;
    if ((ret = parse_type(&t[7], &c->type)) != 0 ||
        (ret = parse_extensions(t + 8, n - 8, pol, c)) != 0)
        return ret;
    if (c->port == 0 && c->tcptype != ICECAND_TCP_ACTIVE)
        return BANTER_EFORMAT;
    classify(c, &local, &never);
    if (never || (local && !pol->same_lan))
        return BANTER_EPERM;
    return 0;
}

int icecand_format(const icecand *c, char *buf, size_t cap)
{
    static const char *const types[] = {"host", "srflx", "prflx", "relay"};
    static const char *const tcptypes[] = {"", " tcptype active", " tcptype passive",
                                           " tcptype so"};
    char addr[ADDR_TEXT];
    if (!inet_ntop(c->ipv6 ? AF_INET6 : AF_INET, c->addr, addr, sizeof addr) ||
        (unsigned)c->type > ICECAND_RELAY || (unsigned)c->tcptype > ICECAND_TCP_SO)
        return BANTER_EINVAL;
    int n = snprintf(buf, cap, "candidate:%s %u %s %u %s %u typ %s%s", c->foundation,
                     (unsigned)c->component, c->tcp ? "tcp" : "udp", (unsigned)c->priority, addr,
                     (unsigned)c->port, types[c->type], tcptypes[c->tcptype]);
    if (n < 0 || (size_t)n >= cap)
        return BANTER_ETOOLONG;
    return n;
}

int icecand_parse_set(const char *ufrag, const char *pwd, const char *const *lines, size_t nlines,
                      const icecand_policy *pol, icecand_set *out, size_t *rejected, int *first_err)
{
    size_t ul = strnlen(ufrag, BANTER_ICE_MAX_UFRAG + 1);
    size_t pl = strnlen(pwd, BANTER_ICE_MAX_PWD + 1);
    int ret;

    out->n = 0;
    *rejected = 0;
    if (first_err)
        *first_err = 0;
    if ((ret = icecand_check_ufrag(ufrag, ul)) != 0 || (ret = icecand_check_pwd(pwd, pl)) != 0)
        return ret;
    if (nlines > BANTER_ICE_MAX_CANDS)
        return BANTER_ETOOBIG;
    memcpy(out->ufrag, ufrag, ul + 1);
    memcpy(out->pwd, pwd, pl + 1);
    for (size_t i = 0; i < nlines; i++) {
        size_t len = strnlen(lines[i], BANTER_ICE_MAX_LINE + 1);
        ret = icecand_parse(lines[i], len, pol, &out->c[out->n]);
        if (ret == 0) {
            out->n++;
        } else {
            (*rejected)++;
            if (first_err && !*first_err)
                *first_err = ret;
        }
    }
    return 0;
}

int icecand_parse_url(const char *url, icecand_url *out)
{
    size_t len = strlen(url), hl;
    const char *h, *end, *colon;
    uint8_t bin[16];
    memset(out, 0, sizeof *out);
    if (len > 128)
        return BANTER_ETOOLONG;
    if (strncmp(url, "stun:", 5) == 0 || strncmp(url, "turn:", 5) == 0)
        out->turn = url[0] == 't';
    else
        return BANTER_EFORMAT;
    h = url + 5;
    end = strchr(h, '?');
    if (!end)
        end = url + len;
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (!rb || rb + 1 >= end || rb[1] != ':')
            return BANTER_EFORMAT;
        hl = (size_t)(rb - h - 1);
        h++;
        colon = rb + 1;
    } else {
        colon = memchr(h, ':', (size_t)(end - h));
        if (!colon)
            return BANTER_EFORMAT;
        hl = (size_t)(colon - h);
    }
    if (hl == 0 || hl >= sizeof out->host)
        return BANTER_EFORMAT;
    memcpy(out->host, h, hl);
    out->host[hl] = '\0';
    if (inet_pton(h[-1] == '[' ? AF_INET6 : AF_INET, out->host, bin) != 1)
        return BANTER_EFORMAT;
    tok pt = {colon + 1, (size_t)(end - colon - 1)};
    uint32_t port;
    if (!tok_uint(&pt, 65535, &port) || port == 0)
        return BANTER_EFORMAT;
    out->port = (uint16_t)port;
    if (*end == '\0')
        return 0;
    if (!out->turn)
        return BANTER_EFORMAT;
    if (strcmp(end, "?transport=udp") == 0)
        out->transport = ICECAND_URL_UDP;
    else if (strcmp(end, "?transport=tcp") == 0)
        out->transport = ICECAND_URL_TCP;
    else
        return BANTER_EFORMAT;
    return 0;
}
