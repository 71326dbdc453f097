/* SPDX-License-Identifier: MIT */
/*
 * xmpp.c - the XMPP bridge, a plug-in (docs/plugins.md, "The XMPP
 * bridge"): an XEP-0114 external component of an XMPP server (Prosody),
 * run on a node that is an account of its own (say @xmpp-gateway).
 *
 *   Banter -> XMPP  a person writes "JID: TEXT" to the gateway (or just TEXT,
 *                   to the JID they last wrote to that way: what comes in
 *                   never changes it); it goes out as a chat message from
 *                   LOCAL@DOMAIN, LOCAL being the person's name as the
 *                   gateway node knows it, lower case
 *   XMPP -> Banter  a message to LOCAL@DOMAIN reaches that person, from the
 *                   gateway, beginning "[XMPP from JID, not end-to-end
 *                   encrypted]"; only from addresses the person wrote to
 *                   (plugin.NAME.open = yes: from any address)
 *   presence        a person's Banter presence goes to the addresses they
 *                   talk with as <presence/> from LOCAL@DOMAIN; XMPP presence
 *                   sent to LOCAL@DOMAIN is told to the person when it changes
 *
 * The component connection (host, port, secret, domain in the settings)
 * is a TCP stream: the stream header, the handshake (hex SHA-1 of the
 * stream id and the secret, nettle), then stanzas, parsed by xstream
 * (peer/plugin/xmpp/xstream.h) with its limits. A server that sends what
 * xstream refuses, a stream error, or nothing in time gets the connection
 * closed; it is opened again after 1 s, 2, 4 ... up to 60 s (1 s again
 * after a minute connected). Nothing of a message, and not the secret, is
 * logged. What the plug-in keeps (its key/value storage): which contact a
 * LOCAL stands for, the addresses each person wrote to, the last one they
 * wrote to as "JID: TEXT".
 */
#define _GNU_SOURCE /* asprintf */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <nettle/sha1.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "banter_plugin.h"
#include "gwtext.h"
#include "xstream.h"

#define MAX_LOCAL     64         /* of a Banter person's address */
#define MAX_JID       320        /* of a bare JID: local (64) @ domain (253) */
#define MAX_PAIRS     32         /* addresses one person talks with */
#define MAX_BODY      8000       /* of a message relayed into Banter */
#define MAX_OUT       (1u << 20) /* queued for the server before it is called stuck */
#define OPEN_TIMEOUT  10000
#define BACKOFF_FIRST 1000
#define BACKOFF_MAX   60000
#define HEALTHY_MS    60000
#define MAX_PRESENCE  256
#define RATE_BURST    10   /* messages one person or address may send at once */
#define RATE_MS       2000 /* ... then one per RATE_MS */
#define RATE_SLOTS    128
#define NOTICE        "[XMPP gateway] "
#define NS_STANZAS    "urn:ietf:params:xml:ns:xmpp-stanzas"

typedef enum cstate { C_IDLE, C_CONNECTING, C_OPENING, C_HANDSHAKE, C_READY } cstate;

/* The component connection. */
static struct {
    int fd;
    cstate st;
    xstream *xs;
    banter_watch *w;
    unsigned events; /* of w */
    banter_timer *retry, *timeout;
    char *out;
    size_t outlen;
    uint32_t backoff;
    int64_t ready_since;
    char close_why[200]; /* set from a stanza callback: close after the feed */
    unsigned long ids;
} c = {.fd = -1, .backoff = BACKOFF_FIRST};

/* What is known of presence: a Banter contact's (jid ""), or what an XMPP
 * address told a contact (jid set). */
typedef struct pres {
    char handle[80];
    char jid[MAX_JID + 1];
    char status[16];
} pres;

/* A token bucket per sender, both ways: one person or address cannot use
 * up the gateway's sending budget in the node (10 a second for all) nor
 * make it a relay for spam. */
typedef struct bucket {
    char key[MAX_JID + 8];
    double tokens;
    int64_t at;
} bucket;

static const banter_host *host;
static banter_ctx *gctx;
static bucket buckets[RATE_SLOTS];
static pres presence[MAX_PRESENCE];
static char domain[256], server[64], secret[256];
static int port = 5347;
static bool open_inbound;

static void conn_close(const char *why);
static void settle(void);

static void tell(const char *contact, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tell(const char *contact, const char *fmt, ...)
{
    char *text = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&text, fmt, ap); /* whole: a cut could split a UTF-8 character */
    va_end(ap);
    if (n < 0)
        return; /* out of memory: text is not set */
    host->send_message(gctx, contact, text);
    free(text);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- addresses ---- */

/* A JID as the gateway takes it: LOCAL@DOMAIN[/RESOURCE], ASCII only (no
 * stringprep: what would need it is refused, not guessed), LOCAL without
 * the characters RFC 7622 forbids there, DOMAIN letters, digits, dots and
 * dashes. bare receives LOCAL@DOMAIN in lower case; local (may be NULL)
 * LOCAL; dom (may be NULL) DOMAIN. */
static bool jid_parse(const char *s, char bare[static MAX_JID + 1], char *local, char *dom)
{
    const char *at = strchr(s, '@'), *slash = strchr(s, '/');
    if (!at || (slash && slash < at) || at == s || (size_t)(at - s) > MAX_LOCAL)
        return false;
    size_t dlen = slash ? (size_t)(slash - at - 1) : strlen(at + 1);
    if (dlen == 0 || dlen > 253 || at[1] == '.' || at[dlen] == '.')
        return false;
    size_t n = 0;
    for (const char *p = s; p < at + 1 + dlen; p++) {
        unsigned char ch = (unsigned char)*p;
        bool ok = p < at ? ch > 0x20 && ch < 0x7f && !strchr("\"&'/:<>@", ch)
                         : (p == at || strchr("abcdefghijklmnopqrstuvwxyz"
                                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-",
                                              ch));
        if (!ok)
            return false;
        bare[n++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    bare[n] = '\0';
    if (slash && (strlen(slash + 1) > 1023 || !slash[1]))
        return false;
    if (local)
        snprintf(local, MAX_LOCAL + 1, "%.*s", (int)(at - s), bare);
    if (dom)
        snprintf(dom, 254, "%s", bare + (at - s) + 1);
    return true;
}

/* The LOCAL standing for contact, claimed on first use: its name in lower
 * case, if that is 1..64 of a-z 0-9 . _ - and no other contact holds it.
 * -1 with why told to the person otherwise. */
static int local_for(const char *contact, const char *name, char local[static MAX_LOCAL + 1])
{
    char key[160], who[80];
    size_t len = 0;
    snprintf(key, sizeof key, "loc:%s", contact);
    if (host->kv_get(gctx, key, local, MAX_LOCAL, &len) == BANTER_PLUGIN_OK) {
        local[len] = '\0';
        return 0;
    }
    size_t n = strlen(name);
    if (n == 0 || n > MAX_LOCAL)
        goto bad;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] + 32) : name[i];
        if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789._-", ch))
            goto bad;
        local[i] = ch;
    }
    local[n] = '\0';
    snprintf(key, sizeof key, "jid:%s", local);
    if (host->kv_get(gctx, key, who, sizeof who - 1, &len) == BANTER_PLUGIN_OK) {
        tell(contact, NOTICE "the address %s@%s stands for another contact already: not sent",
             local, domain);
        return -1;
    }
    if (host->kv_set(gctx, key, contact, strlen(contact)) != BANTER_PLUGIN_OK)
        goto full;
    snprintf(key, sizeof key, "loc:%s", contact);
    if (host->kv_set(gctx, key, local, n) != BANTER_PLUGIN_OK)
        goto full;
    return 0;
bad:
    tell(contact,
         NOTICE "your name here (\"%s\") cannot be an XMPP address (1..64 of a-z 0-9 . _ -): "
                "not sent",
         name);
    return -1;
full:
    tell(contact, NOTICE "the gateway cannot store your address now: not sent");
    return -1;
}

/* The contact LOCAL stands for, or false. */
static bool contact_for(const char *local, char contact[static 80])
{
    char key[160];
    size_t len = 0;
    snprintf(key, sizeof key, "jid:%s", local);
    if (host->kv_get(gctx, key, contact, 79, &len) != BANTER_PLUGIN_OK)
        return false;
    contact[len] = '\0';
    return true;
}

/* The addresses contact talks with, "\n"-separated, into buf. */
static size_t pairs_get(const char *contact, char *buf, size_t cap)
{
    char key[160];
    size_t len = 0;
    snprintf(key, sizeof key, "pairs:%s", contact);
    if (host->kv_get(gctx, key, buf, cap - 1, &len) != BANTER_PLUGIN_OK)
        len = 0;
    buf[len] = '\0';
    return len;
}

static bool paired(const char *contact, const char *jid)
{
    char buf[MAX_PAIRS * (MAX_JID + 1) + 1];
    pairs_get(contact, buf, sizeof buf);
    char *save = NULL;
    for (char *j = strtok_r(buf, "\n", &save); j; j = strtok_r(NULL, "\n", &save))
        if (strcmp(j, jid) == 0)
            return true;
    return false;
}

/* Add jid to contact's addresses: 1 when new, 0 when there, -1 when full. */
static int pair_add(const char *contact, const char *jid)
{
    char buf[MAX_PAIRS * (MAX_JID + 1) + 1], key[160];
    if (paired(contact, jid))
        return 0;
    size_t len = pairs_get(contact, buf, sizeof buf), count = 0;
    for (size_t i = 0; i < len; i++)
        count += buf[i] == '\n';
    if (count >= MAX_PAIRS)
        return -1;
    snprintf(buf + len, sizeof buf - len, "%s\n", jid);
    snprintf(key, sizeof key, "pairs:%s", contact);
    return host->kv_set(gctx, key, buf, strlen(buf)) == BANTER_PLUGIN_OK ? 1 : -1;
}

/* Whether key ("in:JID" or "out:CONTACT") may send one more message now. */
static bool rate_ok(const char *key)
{
    int64_t now = now_ms();
    bucket *b = NULL, *oldest = &buckets[0];
    for (size_t i = 0; i < RATE_SLOTS && !b; i++) {
        if (strcmp(buckets[i].key, key) == 0)
            b = &buckets[i];
        else if (buckets[i].at < oldest->at)
            oldest = &buckets[i];
    }
    if (!b) { /* a new sender takes the slot used least recently */
        b = oldest;
        snprintf(b->key, sizeof b->key, "%s", key);
        b->tokens = RATE_BURST;
        b->at = now;
    }
    b->tokens += (double)(now - b->at) / RATE_MS;
    if (b->tokens > RATE_BURST)
        b->tokens = RATE_BURST;
    b->at = now;
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}

/* ---- presence table ---- */

static pres *pres_find(const char *handle, const char *jid, bool make)
{
    pres *free_slot = NULL;
    for (size_t i = 0; i < MAX_PRESENCE; i++) {
        pres *p = &presence[i];
        if (strcmp(p->handle, handle) == 0 && strcmp(p->jid, jid) == 0)
            return p;
        if (!free_slot && !p->handle[0])
            free_slot = p;
    }
    if (!make)
        return NULL;
    if (!free_slot) /* full: forget the oldest-placed entry of XMPP addresses */
        free_slot = &presence[(size_t)now_ms() % MAX_PRESENCE];
    snprintf(free_slot->handle, sizeof free_slot->handle, "%s", handle);
    snprintf(free_slot->jid, sizeof free_slot->jid, "%s", jid);
    free_slot->status[0] = '\0';
    return free_slot;
}

/* ---- the connection ---- */

static void on_io(banter_ctx *ctx, banter_watch *w, int fd, unsigned revents, void *ud);

/* Watch for reading, and for writing while output waits (or a connect). */
static void rewatch(void)
{
    unsigned want = BANTER_IO_READ | (c.outlen || c.st == C_CONNECTING ? BANTER_IO_WRITE : 0);
    if (c.w && c.events == want)
        return;
    if (c.w)
        host->watch_remove(gctx, c.w);
    c.events = want;
    c.w = host->watch_fd(gctx, c.fd, want, on_io, NULL);
    if (!c.w && !c.close_why[0]) /* closed by whoever called, outside the parser */
        snprintf(c.close_why, sizeof c.close_why, "cannot watch the socket");
}

static void flush_out(void)
{
    while (c.outlen > 0) {
        ssize_t n = send(c.fd, c.out, c.outlen, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            snprintf(c.close_why, sizeof c.close_why, "write: %s", strerror(errno));
            return;
        }
        memmove(c.out, c.out + n, c.outlen - (size_t)n);
        c.outlen -= (size_t)n;
    }
    rewatch();
}

/* Queue a piece of XML for the server (already escaped). */
static void out_add(const char *s)
{
    size_t n = strlen(s);
    if (c.fd < 0 || c.close_why[0])
        return;
    if (c.outlen + n > MAX_OUT) {
        snprintf(c.close_why, sizeof c.close_why, "the server does not read what it is sent");
        return;
    }
    char *o = realloc(c.out, c.outlen + n);
    if (!o) {
        snprintf(c.close_why, sizeof c.close_why, "out of memory");
        return;
    }
    memcpy(o + c.outlen, s, n);
    c.out = o;
    c.outlen += n;
    if (c.st != C_CONNECTING)
        flush_out();
}

static void out_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) >= 0) {
        out_add(s);
        free(s);
    }
    va_end(ap);
}

static void on_retry(banter_ctx *ctx, banter_timer *t, void *ud);

static void conn_close(const char *why)
{
    if (c.w)
        host->watch_remove(gctx, c.w);
    if (c.timeout)
        host->timer_remove(gctx, c.timeout);
    if (c.fd >= 0)
        close(c.fd);
    xstream_free(c.xs);
    free(c.out);
    bool was_ready = c.st == C_READY;
    if (was_ready && now_ms() - c.ready_since >= HEALTHY_MS)
        c.backoff = BACKOFF_FIRST;
    host->log(gctx, BANTER_LOG_WARN, "XMPP server connection closed: %s; again in %u ms", why,
              c.backoff);
    c.w = NULL;
    c.timeout = NULL;
    c.fd = -1;
    c.xs = NULL;
    c.out = NULL;
    c.outlen = 0;
    c.st = C_IDLE;
    c.close_why[0] = '\0';
    c.retry = host->timer_add(gctx, c.backoff, 0, on_retry, NULL);
    c.backoff = c.backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : c.backoff * 2;
}

static void on_timeout(banter_ctx *ctx, banter_timer *t, void *ud)
{
    (void)ctx, (void)t, (void)ud;
    c.timeout = NULL; /* a one-shot timer: freed after this returns */
    conn_close("the server did not complete the handshake in time");
}

static void on_stanza(void *ud, xs_kind kind, const xnode *el);

static void conn_open(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, server, &sa.sin_addr);
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    c.xs = xstream_new(on_stanza, NULL);
    if (c.fd < 0 || !c.xs) {
        conn_close("no socket or memory");
        return;
    }
    c.timeout = host->timer_add(gctx, OPEN_TIMEOUT, 0, on_timeout, NULL);
    if (connect(c.fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
        char why[128];
        snprintf(why, sizeof why, "connect to %s:%d: %s", server, port, strerror(errno));
        conn_close(why);
        return;
    }
    c.st = C_CONNECTING;
    out_fmt("<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
            "xmlns:stream='http://etherx.jabber.org/streams' to='%s'>",
            domain);
    rewatch();
    settle();
}

static void on_retry(banter_ctx *ctx, banter_timer *t, void *ud)
{
    (void)ctx, (void)t, (void)ud;
    c.retry = NULL;
    conn_open();
}

static void on_io(banter_ctx *ctx, banter_watch *w, int fd, unsigned revents, void *ud)
{
    (void)ctx, (void)w, (void)ud;
    if (c.st == C_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
            char why[128];
            snprintf(why, sizeof why, "connect to %s:%d: %s", server, port, strerror(err));
            conn_close(why);
            return;
        }
        c.st = C_OPENING;
    }
    if (revents & BANTER_IO_WRITE)
        flush_out();
    if (revents & (BANTER_IO_READ | BANTER_IO_ERROR) && !c.close_why[0]) {
        char buf[8192], why[200];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            snprintf(c.close_why, sizeof c.close_why, "%s",
                     n == 0 ? "the server closed the connection" : strerror(errno));
        } else if (n > 0 && xstream_feed(c.xs, buf, (size_t)n, why, sizeof why) != 0) {
            if (c.st == C_READY || c.st == C_HANDSHAKE || c.st == C_OPENING)
                out_add("<stream:error><not-well-formed "
                        "xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
                        "</stream:stream>");
            snprintf(c.close_why, sizeof c.close_why, "the server sent %.160s", why);
        }
    }
    settle();
}

/* From a stanza callback: close once the feed returns. */
static void close_later(const char *why)
{
    if (!c.close_why[0])
        snprintf(c.close_why, sizeof c.close_why, "%s", why);
    xstream_stop(c.xs);
}

/* ---- stanzas out ---- */

static const char *show_for(const char *status)
{
    if (strcmp(status, "away") == 0)
        return "<show>away</show>";
    if (strcmp(status, "busy") == 0)
        return "<show>dnd</show>";
    return "";
}

/* Banter contact's presence (status) from LOCAL@DOMAIN to jid. */
static void presence_out(const char *local, const char *jid, const char *status)
{
    if (c.st != C_READY)
        return;
    if (strcmp(status, "offline") == 0 || !status[0])
        out_fmt("<presence from='%s@%s/banter' to='%s' type='unavailable'/>", local, domain, jid);
    else
        out_fmt("<presence from='%s@%s/banter' to='%s'>%s</presence>", local, domain, jid,
                show_for(status));
}

/* An error answer to a stanza (kind: message, presence, iq). */
static void error_out(const xnode *st, const char *type, const char *cond, const char *text)
{
    if (!st)
        return;
    const char *from = xnode_attr(st, "from"), *to = xnode_attr(st, "to");
    const char *id = xnode_attr(st, "id");
    if (!from || !to)
        return;
    char *f = xstream_escape(from), *t = xstream_escape(to), *i = xstream_escape(id ? id : "");
    char *x = xstream_escape(text);
    if (f && t && i && x)
        out_fmt("<%s type='error' from='%s' to='%s'%s%s%s><error type='%s'><%s xmlns='%s'/>"
                "<text xmlns='%s'>%s</text></error></%s>",
                xnode_name(st), t, f, id ? " id='" : "", i, id ? "'" : "", type, cond, NS_STANZAS,
                NS_STANZAS, x, xnode_name(st));
    free(f);
    free(t);
    free(i);
    free(x);
}

/* ---- stanzas in ---- */

/* The contact an incoming stanza is for, and its sender's bare JID;
 * answers an error (unless the stanza is one) and returns false when it
 * cannot be mapped. */
static bool stanza_route(const xnode *st, char contact[static 80], char from[static MAX_JID + 1],
                         char local[static MAX_LOCAL + 1])
{
    const char *type = xnode_attr(st, "type");
    const xnode *answer = type && strcmp(type, "error") == 0 ? NULL : st; /* not to an error */
    char to_bare[MAX_JID + 1], dom[254];
    const char *f = xnode_attr(st, "from"), *t = xnode_attr(st, "to");
    if (!f || !t || !jid_parse(f, from, NULL, NULL)) {
        error_out(answer, "modify", "jid-malformed",
                  "the sender is not an address the gateway takes");
        return false;
    }
    if (!jid_parse(t, to_bare, local, dom) || strcmp(dom, domain) != 0 ||
        !contact_for(local, contact)) {
        error_out(answer, "cancel", "item-not-found",
                  "no Banter user by that address (one must write to you first)");
        return false;
    }
    return true;
}

static void message_in(const xnode *st)
{
    char contact[80], from[MAX_JID + 1], local[MAX_LOCAL + 1];
    const char *type = xnode_attr(st, "type");
    if (!stanza_route(st, contact, from, local))
        return;
    if (type && strcmp(type, "error") == 0) {
        const xnode *e = xnode_child(st, "error", NULL);
        const xnode *cond = e ? xnode_first_child(e) : NULL;
        const char *what = cond ? xnode_name(cond) : "";
        if (!what[0] || strlen(what) > 64 ||
            strspn(what, "abcdefghijklmnopqrstuvwxyz-") != strlen(what))
            what = "an error"; /* only a condition's plain name is shown */
        if (paired(contact, from))
            tell(contact, NOTICE "%s did not get a message: %s", from, what);
        return;
    }
    const xnode *body = xnode_child(st, "body", NULL);
    if (!body || (type && strcmp(type, "chat") != 0 && strcmp(type, "normal") != 0))
        return; /* chat states, headlines, group chat: nothing to relay */
    if (!open_inbound && !paired(contact, from)) {
        error_out(st, "auth", "forbidden",
                  "this Banter user has not written to you through the gateway");
        return;
    }
    char rk[MAX_JID + 8];
    snprintf(rk, sizeof rk, "in:%s", from);
    if (!rate_ok(rk)) {
        error_out(st, "wait", "policy-violation", "too many messages: wait a little");
        return;
    }
    if (strlen(xnode_text(body)) > MAX_BODY) {
        error_out(st, "modify", "not-acceptable", "a message too long for the gateway");
        return;
    }
    char *marker = NULL, *text = NULL; /* last:CONTACT stays: only the person's own addressed
                                          messages set it */
    if (asprintf(&marker, "[XMPP from %s, not end-to-end encrypted]", from) >= 0 &&
        (text = gwtext_relay(marker, " ", xnode_text(body),
                             SIZE_MAX))) /* no line passes for a marker */
        host->send_message(gctx, contact, text);
    free(marker);
    free(text);
}

static void presence_in(const xnode *st)
{
    char contact[80], from[MAX_JID + 1], local[MAX_LOCAL + 1];
    const char *type = xnode_attr(st, "type");
    if (type && strcmp(type, "error") == 0)
        return;
    if (!stanza_route(st, contact, from, local))
        return;
    bool ok = open_inbound || paired(contact, from);
    if (type && (strcmp(type, "subscribe") == 0 || strcmp(type, "probe") == 0)) {
        if (strcmp(type, "subscribe") == 0)
            out_fmt("<presence from='%s@%s' to='%s' type='%s'/>", local, domain, from,
                    ok ? "subscribed" : "unsubscribed");
        pres *p = pres_find(contact, "", false);
        if (ok)
            presence_out(local, from, p ? p->status : "offline");
        return;
    }
    if (!ok || (type && strcmp(type, "unavailable") != 0))
        return; /* a stranger's presence, or (un)subscribed: nothing to tell */
    const xnode *show = xnode_child(st, "show", NULL);
    const char *s = type ? "offline" : "online";
    if (show && (strcmp(xnode_text(show), "away") == 0 || strcmp(xnode_text(show), "xa") == 0))
        s = "away";
    else if (show && strcmp(xnode_text(show), "dnd") == 0)
        s = "busy";
    pres *p = pres_find(contact, from, true);
    if (strcmp(p->status, s) == 0)
        return;
    snprintf(p->status, sizeof p->status, "%s", s);
    tell(contact, NOTICE "%s is %s (XMPP)", from, s);
}

static void iq_in(const xnode *st)
{
    const char *type = xnode_attr(st, "type");
    if (type && (strcmp(type, "get") == 0 || strcmp(type, "set") == 0))
        error_out(st, "cancel", "service-unavailable", "the gateway answers no queries");
}

static void handshake_send(const char *id)
{
    struct sha1_ctx h;
    uint8_t d[SHA1_DIGEST_SIZE];
    char hex[2 * SHA1_DIGEST_SIZE + 1];
    sha1_init(&h);
    sha1_update(&h, strlen(id), (const uint8_t *)id);
    sha1_update(&h, strlen(secret), (const uint8_t *)secret);
    sha1_digest(&h, sizeof d, d);
    for (size_t i = 0; i < sizeof d; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    out_fmt("<handshake>%s</handshake>", hex);
    c.st = C_HANDSHAKE;
}

/* Once connected: tell every address its contact's presence. */
static void presence_all(void)
{
    for (size_t i = 0; i < MAX_PRESENCE; i++) {
        pres *p = &presence[i];
        char local[MAX_LOCAL + 1], key[160], buf[MAX_PAIRS * (MAX_JID + 1) + 1];
        size_t len = 0;
        if (!p->handle[0] || p->jid[0])
            continue;
        snprintf(key, sizeof key, "loc:%.79s", p->handle);
        if (host->kv_get(gctx, key, local, MAX_LOCAL, &len) != BANTER_PLUGIN_OK)
            continue;
        local[len] = '\0';
        pairs_get(p->handle, buf, sizeof buf);
        char *save = NULL;
        for (char *j = strtok_r(buf, "\n", &save); j; j = strtok_r(NULL, "\n", &save))
            presence_out(local, j, p->status);
    }
}

static void on_stanza(void *ud, xs_kind kind, const xnode *el)
{
    (void)ud;
    if (kind == XS_CLOSE) {
        close_later("the server ended the stream");
        return;
    }
    if (kind == XS_OPEN) {
        const char *id = xnode_attr(el, "id");
        if (c.st != C_OPENING || !id || !id[0] || strlen(id) > 256)
            close_later("the server's stream header has no id");
        else
            handshake_send(id);
        return;
    }
    const char *name = xnode_name(el);
    if (strcmp(xnode_ns(el), XS_NS_STREAM) == 0 && strcmp(name, "error") == 0) {
        const xnode *cond = xnode_first_child(el);
        char why[160];
        snprintf(why, sizeof why, "the server refused: %.100s%s",
                 cond ? xnode_name(cond) : "a stream error",
                 cond && strcmp(xnode_name(cond), "not-authorized") == 0 ? " (check the secret)"
                                                                         : "");
        close_later(why);
    } else if (c.st == C_HANDSHAKE && strcmp(name, "handshake") == 0) {
        c.st = C_READY;
        c.ready_since = now_ms();
        if (c.timeout)
            host->timer_remove(gctx, c.timeout);
        c.timeout = NULL;
        host->log(gctx, BANTER_LOG_INFO, "connected to %s:%d as %s", server, port, domain);
        presence_all();
    } else if (c.st != C_READY) {
        close_later("the server sent a stanza before the handshake");
    } else if (strcmp(name, "message") == 0) {
        message_in(el);
    } else if (strcmp(name, "presence") == 0) {
        presence_in(el);
    } else if (strcmp(name, "iq") == 0) {
        iq_in(el);
    }
}

/* ---- Banter events ---- */

/* text to jid from contact. addressed: the person wrote "JID: TEXT", and
 * jid becomes where their plain messages go (last:CONTACT); nothing else
 * sets that, so a message coming in cannot redirect a conversation. */
static void send_out(const char *contact, const char *name, const char *jid, const char *text,
                     bool addressed)
{
    char local[MAX_LOCAL + 1], key[160];
    if (local_for(contact, name, local) != 0)
        return;
    if (c.st != C_READY) {
        tell(contact, NOTICE "the XMPP server cannot be reached now: not sent to %s", jid);
        return;
    }
    snprintf(key, sizeof key, "out:%s", contact);
    if (!rate_ok(key)) {
        tell(contact, NOTICE "too many messages at once: not sent to %s (wait a little)", jid);
        return;
    }
    int added = pair_add(contact, jid);
    if (added < 0) {
        tell(contact, NOTICE "you talk with %d addresses already: not sent to %s", MAX_PAIRS, jid);
        return;
    }
    if (addressed) {
        snprintf(key, sizeof key, "last:%s", contact);
        host->kv_set(gctx, key, jid, strlen(jid));
    }
    char *body = xstream_escape(text);
    if (!body)
        return;
    out_fmt("<message from='%s@%s/banter' to='%s' type='chat' id='b%lu'><body>%s</body></message>",
            local, domain, jid, ++c.ids, body);
    free(body);
    if (added == 1) {
        pres *p = pres_find(contact, "", true);
        if (!p->status[0])
            snprintf(p->status, sizeof p->status, "online");
        presence_out(local, jid, p->status);
        tell(contact,
             NOTICE "to %s as %s@%s over XMPP: not end-to-end encrypted from here on; "
                    "its messages and presence come back here",
             jid, local, domain);
    }
}

/* Outside the stream's callbacks: close now if a write failed. */
static void settle(void)
{
    if (c.close_why[0]) {
        char why[200];
        snprintf(why, sizeof why, "%s", c.close_why);
        conn_close(why);
    }
}

static void list_pairs(const char *contact)
{
    /* Every line fits: "\n", a JID, " (", a status (15 at most), ")". */
    char buf[MAX_PAIRS * (MAX_JID + 1) + 1], out[sizeof NOTICE + 16 + MAX_PAIRS * (MAX_JID + 20)];
    size_t n = (size_t)snprintf(out, sizeof out, NOTICE "you talk with:");
    pairs_get(contact, buf, sizeof buf);
    char *save = NULL;
    for (char *j = strtok_r(buf, "\n", &save); j && n < sizeof out;
         j = strtok_r(NULL, "\n", &save)) {
        pres *p = pres_find(contact, j, false);
        n += (size_t)snprintf(out + n, sizeof out - n, "\n%s (%s)", j,
                              p && p->status[0] ? p->status : "unknown");
    }
    tell(contact, "%s", n == strlen(NOTICE "you talk with:") ? NOTICE "nobody yet" : out);
}

static void on_message(banter_ctx *ctx, const banter_event *ev, void *ud)
{
    const char *contact = host->event_contact(ev), *text = host->event_text(ev);
    char key[160], v[2], jid[MAX_JID + 1];
    size_t len;
    (void)ctx, (void)ud;
    snprintf(key, sizeof key, "seen:%s", contact);
    bool first = host->kv_get(gctx, key, v, sizeof v, &len) != BANTER_PLUGIN_OK;
    if (first) {
        tell(contact,
             NOTICE "This is an XMPP gateway. What you send here leaves Banter's end-to-end "
                    "encryption: it goes to the XMPP network as you@%s, and the answers come "
                    "back here. Write: ADDRESS: TEXT (then just TEXT to the same address); "
                    "who lists the addresses you talk with.",
             domain);
        host->kv_set(gctx, key, "1", 1);
    }
    const char *colon = strchr(text, ':'), *space = strpbrk(text, " \t\n");
    if (colon && (!space || colon < space) && strchr(text, '@') && strchr(text, '@') < colon) {
        char addr[MAX_JID + 2];
        snprintf(addr, sizeof addr, "%.*s", (int)(colon - text), text);
        if ((size_t)(colon - text) > MAX_JID || !jid_parse(addr, jid, NULL, NULL) ||
            strchr(addr, '/')) {
            int shown = (int)(colon - text < 100 ? colon - text : 100);
            while (shown > 0 && ((unsigned char)text[shown] & 0xc0) == 0x80)
                shown--; /* not inside a UTF-8 sequence */
            tell(contact, NOTICE "\"%.*s\" is not an XMPP address the gateway takes: not sent",
                 shown, text);
            return;
        }
        text = colon + 1 + (colon[1] == ' ');
        if (!text[0]) {
            tell(contact, NOTICE "nothing to send to %s", jid);
            return;
        }
        send_out(contact, host->event_contact_name(ev), jid, text, true);
        settle();
        return;
    }
    if (strcmp(text, "who") == 0) {
        list_pairs(contact);
        return;
    }
    snprintf(key, sizeof key, "last:%s", contact);
    if (host->kv_get(gctx, key, jid, MAX_JID, &len) == BANTER_PLUGIN_OK) {
        jid[len] = '\0';
        send_out(contact, host->event_contact_name(ev), jid, text, false);
        settle();
    } else if (!first) {
        tell(contact, NOTICE "write: ADDRESS: TEXT (e.g. romeo@example.org: hello)");
    }
}

static void on_presence(banter_ctx *ctx, const banter_event *ev, void *ud)
{
    const char *contact = host->event_contact(ev), *status = host->event_text(ev);
    char local[MAX_LOCAL + 1], key[160], buf[MAX_PAIRS * (MAX_JID + 1) + 1];
    size_t len = 0;
    (void)ctx, (void)ud;
    if (!contact[0])
        return;
    pres *p = pres_find(contact, "", true);
    if (strcmp(p->status, status) == 0)
        return;
    snprintf(p->status, sizeof p->status, "%s", status);
    snprintf(key, sizeof key, "loc:%s", contact);
    if (host->kv_get(gctx, key, local, MAX_LOCAL, &len) != BANTER_PLUGIN_OK)
        return;
    local[len] = '\0';
    pairs_get(contact, buf, sizeof buf);
    char *save = NULL;
    for (char *j = strtok_r(buf, "\n", &save); j; j = strtok_r(NULL, "\n", &save))
        presence_out(local, j, status);
    settle();
}

static int xmpp_init(banter_ctx *ctx, const banter_host *h)
{
    host = h;
    gctx = ctx;
    const char *d = h->config_get(ctx, "domain"), *s = h->config_get(ctx, "secret");
    const char *sv = h->config_get(ctx, "server"), *pt = h->config_get(ctx, "port");
    const char *op = h->config_get(ctx, "open");
    struct in_addr a;
    if (!d || !d[0] || strlen(d) > 253 || !s || !s[0] || strlen(s) >= sizeof secret ||
        strspn(d, "abcdefghijklmnopqrstuvwxyz0123456789.-") != strlen(d) || strchr(s, '\'')) {
        h->log(ctx, BANTER_LOG_ERROR,
               "needs plugin.NAME.domain (the component's domain: lower-case letters, digits, "
               "dots, dashes) and plugin.NAME.secret (its shared secret with the server)");
        return -1;
    }
    snprintf(domain, sizeof domain, "%s", d);
    snprintf(secret, sizeof secret, "%s", s);
    snprintf(server, sizeof server, "%s", sv ? sv : "127.0.0.1");
    port = pt ? (int)strtol(pt, NULL, 10) : 5347;
    open_inbound = op && strcmp(op, "yes") == 0;
    if (inet_pton(AF_INET, server, &a) != 1 || port < 1 || port > 65535 ||
        (op && strcmp(op, "yes") != 0 && strcmp(op, "no") != 0)) {
        h->log(ctx, BANTER_LOG_ERROR,
               "server must be an IPv4 address, port 1..65535, open yes or no");
        return -1;
    }
    if (h->subscribe(ctx, BANTER_EV_BIT(BANTER_EV_MESSAGE_IN), on_message, NULL) < 0 ||
        h->subscribe(ctx, BANTER_EV_BIT(BANTER_EV_PRESENCE), on_presence, NULL) < 0)
        return -1;
    h->log(ctx, BANTER_LOG_INFO, "XMPP gateway for %s, server %s:%d", domain, server, port);
    conn_open();
    return 0;
}

static void xmpp_fini(banter_ctx *ctx)
{
    (void)ctx;
    if (c.fd >= 0 && c.st == C_READY) {
        out_add("</stream:stream>");
        if (c.outlen)
            flush_out();
    }
    if (c.retry)
        host->timer_remove(gctx, c.retry);
    c.retry = NULL;
    if (c.w)
        host->watch_remove(gctx, c.w);
    if (c.timeout)
        host->timer_remove(gctx, c.timeout);
    if (c.fd >= 0)
        close(c.fd);
    xstream_free(c.xs);
    free(c.out);
}

static const banter_plugin ME = {
    BANTER_PLUGIN_INIT,
    .name = "xmpp",
    .version = "1.0",
    .description = "XMPP gateway: not end-to-end encrypted beyond it; write ADDRESS: TEXT",
    .init = xmpp_init,
    .fini = xmpp_fini,
};

const banter_plugin *banter_plugin_entry(void);
const banter_plugin *banter_plugin_entry(void) { return &ME; }
