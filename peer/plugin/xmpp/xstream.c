/* SPDX-License-Identifier: MIT */
/*
 * xstream.c - the XMPP stream parser (xstream.h) over expat. Expat runs in
 * namespace mode (names come as "URI local"); the parser keeps the element
 * being built as a tree of xnode and hands it over when its end tag comes
 * at depth 1. Bytes are fed to expat in pieces of FEED_PIECE so that the
 * size of an unfinished stanza is checked often and expat never buffers
 * much more than XS_MAX_STANZA.
 */
#include "xstream.h"

#include <expat.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FEED_PIECE 4096
#define NS_SEP     ' '

struct xnode {
    char *name, *ns, *text;
    size_t text_len;
    char **attrs; /* name, value, ..., NULL */
    xnode *parent, *first, *last, *next;
};

struct xstream {
    XML_Parser p;
    xstream_fn fn;
    void *ud;
    int depth;        /* 0 before the stream element, 1 inside it */
    xnode *cur, *top; /* the element being built and its stanza */
    size_t nodes;     /* elements in the stanza */
    int64_t boundary; /* where the last stanza (or the header) ended */
    int64_t fed;      /* bytes given to expat */
    char why[160];    /* our own reason to stop, "" when expat's */
    bool failed, stopped, closed;
};

static void fail(xstream *x, const char *why)
{
    if (!x->why[0])
        snprintf(x->why, sizeof x->why, "%s", why);
    x->failed = true;
    XML_StopParser(x->p, XML_FALSE);
}

static void node_free(xnode *n)
{
    while (n) {
        xnode *next = n->next;
        node_free(n->first);
        free(n->name);
        free(n->ns);
        free(n->text);
        if (n->attrs)
            for (char **a = n->attrs; *a; a++)
                free(*a);
        free(n->attrs);
        free(n);
        n = next;
    }
}

static char *dup(const char *s, size_t len)
{
    char *d = malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

/* A node for expat's name ("URI local" or "local") and attributes. */
static xnode *node_make(const XML_Char *name, const XML_Char **attrs)
{
    xnode *n = calloc(1, sizeof *n);
    size_t na = 0;
    if (!n)
        return NULL;
    const char *sep = strrchr(name, NS_SEP);
    n->name = sep ? dup(sep + 1, strlen(sep + 1)) : dup(name, strlen(name));
    n->ns = sep ? dup(name, (size_t)(sep - name)) : dup("", 0);
    n->text = dup("", 0);
    while (attrs[na])
        na++;
    n->attrs = calloc(na + 1, sizeof *n->attrs);
    if (!n->name || !n->ns || !n->text || !n->attrs)
        goto out;
    for (size_t i = 0; i < na; i++)
        if (!(n->attrs[i] = dup(attrs[i], strlen(attrs[i]))))
            goto out;
    return n;
out:
    node_free(n);
    return NULL;
}

static void on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    xstream *x = ud;
    size_t na = 0;
    if (x->failed || x->stopped || x->closed) /* expat may still call after a stop */
        return;
    while (attrs[na])
        na++;
    if (na / 2 > XS_MAX_ATTRS) {
        fail(x, "an element with too many attributes");
        return;
    }
    if (x->depth >= XS_MAX_DEPTH + 1) {
        fail(x, "elements nested too deep");
        return;
    }
    if (x->depth >= 1 && ++x->nodes > XS_MAX_NODES) {
        fail(x, "a stanza of too many elements");
        return;
    }
    xnode *n = node_make(name, attrs);
    if (!n) {
        fail(x, "out of memory");
        return;
    }
    if (x->depth == 0) {
        if (strcmp(n->name, "stream") != 0 || strcmp(n->ns, XS_NS_STREAM) != 0) {
            node_free(n);
            fail(x, "the stream does not begin with <stream:stream>");
            return;
        }
        x->depth = 1;
        x->boundary = XML_GetCurrentByteIndex(x->p) + XML_GetCurrentByteCount(x->p);
        x->fn(x->ud, XS_OPEN, n);
        node_free(n);
        return;
    }
    n->parent = x->cur;
    if (x->cur) {
        if (x->cur->last)
            x->cur->last->next = n;
        else
            x->cur->first = n;
        x->cur->last = n;
    } else {
        x->top = n;
    }
    x->cur = n;
    x->depth++;
}

static void on_end(void *ud, const XML_Char *name)
{
    xstream *x = ud;
    (void)name;
    if (x->failed || x->stopped || x->closed)
        return;
    if (x->depth == 1) { /* </stream:stream> */
        x->depth = 0;
        x->closed = true;
        x->fn(x->ud, XS_CLOSE, NULL);
        XML_StopParser(x->p, XML_FALSE);
        return;
    }
    x->depth--;
    x->cur = x->cur->parent;
    if (x->depth > 1)
        return;
    xnode *top = x->top;
    x->top = NULL;
    x->nodes = 0;
    x->boundary = XML_GetCurrentByteIndex(x->p) + XML_GetCurrentByteCount(x->p);
    x->fn(x->ud, XS_STANZA, top);
    node_free(top);
    if (x->stopped)
        XML_StopParser(x->p, XML_FALSE);
}

static void on_text(void *ud, const XML_Char *s, int len)
{
    xstream *x = ud;
    if (len <= 0 || x->failed || x->stopped || x->closed)
        return;
    if (!x->cur) { /* between stanzas: white space (keepalives) only */
        for (int i = 0; i < len; i++)
            if (!strchr(" \t\r\n", s[i])) {
                fail(x, "text between stanzas");
                return;
            }
        return;
    }
    xnode *n = x->cur;
    if (n->text_len + (size_t)len > XS_MAX_STANZA) {
        fail(x, "a stanza too large");
        return;
    }
    char *t = realloc(n->text, n->text_len + (size_t)len + 1);
    if (!t) {
        fail(x, "out of memory");
        return;
    }
    memcpy(t + n->text_len, s, (size_t)len);
    n->text_len += (size_t)len;
    t[n->text_len] = '\0';
    n->text = t;
}

static void on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                       int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    fail(ud, "a DOCTYPE (not allowed in XMPP)");
}

static void on_comment(void *ud, const XML_Char *data)
{
    (void)data;
    fail(ud, "a comment (not allowed in XMPP)");
}

static void on_pi(void *ud, const XML_Char *target, const XML_Char *data)
{
    (void)target, (void)data;
    fail(ud, "a processing instruction (not allowed in XMPP)");
}

static void on_entity(void *ud, const XML_Char *name, int is_param, const XML_Char *value,
                      int value_len, const XML_Char *base, const XML_Char *sysid,
                      const XML_Char *pubid, const XML_Char *notation)
{
    (void)name, (void)is_param, (void)value, (void)value_len, (void)base, (void)sysid;
    (void)pubid, (void)notation;
    fail(ud, "an entity declaration (not allowed in XMPP)");
}

xstream *xstream_new(xstream_fn fn, void *ud)
{
    xstream *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->fn = fn;
    x->ud = ud;
    x->p = XML_ParserCreateNS("UTF-8", NS_SEP);
    if (!x->p) {
        free(x);
        return NULL;
    }
    XML_SetUserData(x->p, x);
    XML_SetElementHandler(x->p, on_start, on_end);
    XML_SetCharacterDataHandler(x->p, on_text);
    XML_SetStartDoctypeDeclHandler(x->p, on_doctype);
    XML_SetCommentHandler(x->p, on_comment);
    XML_SetProcessingInstructionHandler(x->p, on_pi);
    XML_SetEntityDeclHandler(x->p, on_entity);
    XML_SetParamEntityParsing(x->p, XML_PARAM_ENTITY_PARSING_NEVER);
    return x;
}

void xstream_free(xstream *x)
{
    if (!x)
        return;
    node_free(x->top);
    XML_ParserFree(x->p);
    free(x);
}

void xstream_stop(xstream *x) { x->stopped = true; }

int xstream_feed(xstream *x, const char *data, size_t len, char *why, size_t cap)
{
    size_t off = 0;
    if (x->closed || x->stopped)
        return 0;
    if (x->failed) {
        snprintf(why, cap, "%s", x->why[0] ? x->why : "the stream failed before");
        return -1;
    }
    while (off < len) {
        size_t n = len - off < FEED_PIECE ? len - off : FEED_PIECE;
        enum XML_Status st = XML_Parse(x->p, data + off, (int)n, XML_FALSE);
        off += n;
        x->fed += (int64_t)n;
        if ((x->closed || x->stopped) && !x->failed)
            return 0;
        if (st != XML_STATUS_OK || x->failed) {
            x->failed = true;
            if (x->why[0])
                snprintf(why, cap, "%s", x->why);
            else
                snprintf(why, cap, "bad XML at byte %ld: %s", (long)XML_GetCurrentByteIndex(x->p),
                         XML_ErrorString(XML_GetErrorCode(x->p)));
            if (!x->why[0])
                snprintf(x->why, sizeof x->why, "%s", why);
            return -1;
        }
        if (x->fed - x->boundary > XS_MAX_STANZA) {
            fail(x, x->depth ? "a stanza too large" : "a stream header too large");
            snprintf(why, cap, "%s", x->why);
            return -1;
        }
    }
    return 0;
}

const char *xnode_name(const xnode *n) { return n->name; }

const char *xnode_ns(const xnode *n) { return n->ns; }

const char *xnode_attr(const xnode *n, const char *name)
{
    for (char **a = n->attrs; a[0] && a[1]; a += 2)
        if (strcmp(a[0], name) == 0)
            return a[1];
    return NULL;
}

const char *xnode_text(const xnode *n) { return n->text; }

const xnode *xnode_child(const xnode *n, const char *name, const char *ns)
{
    for (const xnode *c = n->first; c; c = c->next)
        if (strcmp(c->name, name) == 0 && (!ns || strcmp(c->ns, ns) == 0))
            return c;
    return NULL;
}

const xnode *xnode_first_child(const xnode *n) { return n->first; }

const xnode *xnode_next(const xnode *n) { return n->next; }

/* The character at s: its length (1..4) with its code point in *cp, or 0
 * when s does not begin a UTF-8 sequence (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF; the NUL ending s ends it too). */
static size_t utf8_char(const unsigned char *s, uint32_t *cp)
{
    uint32_t v, min;
    size_t n;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    } else if ((s[0] & 0xe0) == 0xc0) {
        n = 2, v = s[0] & 0x1fu, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3, v = s[0] & 0x0fu, min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        n = 4, v = s[0] & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (s[k] & 0x3fu);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

/* XML 1.0's Char production: what a document may hold at all. */
static bool xml_char(uint32_t cp)
{
    return cp == 0x9 || cp == 0xa || cp == 0xd || (cp >= 0x20 && cp <= 0xd7ff) ||
           (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/* What the character at s becomes: an entity, U+FFFD, or NULL to copy its
 * *n bytes as they are. */
static const char *escape_one(const char *s, size_t *n)
{
    uint32_t cp = 0;
    *n = utf8_char((const unsigned char *)s, &cp);
    if (*n == 0) { /* a byte that is not UTF-8: one U+FFFD each */
        *n = 1;
        return "\xef\xbf\xbd";
    }
    switch (cp) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '\'':
        return "&apos;";
    case '"':
        return "&quot;";
    default:
        return xml_char(cp) ? NULL : "\xef\xbf\xbd"; /* U+FFFD */
    }
}

char *xstream_escape(const char *s)
{
    size_t need = 1, n;
    for (const char *c = s; *c; c += n) {
        const char *rep = escape_one(c, &n);
        need += rep ? strlen(rep) : n;
    }
    char *out = malloc(need), *o = out;
    if (!out)
        return NULL;
    for (const char *c = s; *c; c += n) {
        const char *rep = escape_one(c, &n);
        size_t len = rep ? strlen(rep) : n;
        memcpy(o, rep ? rep : c, len);
        o += len;
    }
    *o = '\0';
    return out;
}
