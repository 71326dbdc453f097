/* SPDX-License-Identifier: MIT */
/*
 * xstream.h - an XMPP stream parser (RFC 6120 section 4), sans-I/O, over
 * expat. Bytes go in with xstream_feed; out come, through one callback,
 * the stream header (XS_OPEN, its attributes), each complete top-level
 * element as a small tree (XS_STANZA: message, presence, iq, handshake,
 * stream:error...) and the stream's end (XS_CLOSE).
 *
 * What a hostile server can send is bounded: a stanza over XS_MAX_STANZA
 * bytes or XS_MAX_NODES elements, nesting deeper than XS_MAX_DEPTH, more
 * than XS_MAX_ATTRS attributes on an element, a DOCTYPE, entity
 * declarations, comments or processing instructions (RFC 6120 11.1), text
 * between stanzas other than white space, a root other than
 * <stream:stream xmlns:stream='http://etherx.jabber.org/streams'>, and
 * anything expat finds ill-formed make xstream_feed fail with the reason;
 * the stream is then dead (every later feed fails too) and the caller
 * closes the connection.
 *
 * Used by the XMPP gateway (peer/plugin/gateways/xmpp.c); fuzzed by
 * tests/fuzz/fuzz_xstream.c.
 */
#ifndef XSTREAM_H
#define XSTREAM_H

#include <stdbool.h>
#include <stddef.h>

#define XS_MAX_STANZA 65536 /* bytes of one top-level element on the wire */
#define XS_MAX_DEPTH  16    /* element nesting inside a stanza */
#define XS_MAX_ATTRS  32    /* attributes of one element */
#define XS_MAX_NODES  1024  /* elements in one stanza */

#define XS_NS_STREAM "http://etherx.jabber.org/streams"

typedef struct xstream xstream;
typedef struct xnode xnode; /* one element of a stanza, read with the accessors */

typedef enum xs_kind { XS_OPEN, XS_STANZA, XS_CLOSE } xs_kind;

/* el: XS_OPEN the stream element (no children), XS_STANZA the stanza,
 * XS_CLOSE NULL. Valid during the call only. The callback must not free
 * the xstream; it may call xstream_stop to end parsing after this event. */
typedef void (*xstream_fn)(void *ud, xs_kind kind, const xnode *el);

/* NULL when out of memory. */
xstream *xstream_new(xstream_fn fn, void *ud);
/* Accepts NULL. */
void xstream_free(xstream *x);

/* Parse len more bytes. 0, or -1 with the reason in why (cap bytes): the
 * stream is then unusable. After XS_CLOSE or xstream_stop, further bytes
 * are ignored and 0 is returned. */
int xstream_feed(xstream *x, const char *data, size_t len, char *why, size_t cap);

/* From the callback: deliver nothing more (the caller is closing). */
void xstream_stop(xstream *x);

/* Accessors. name: the local name ("message"); ns: its namespace URI, ""
 * when none; attr: the value of an attribute without a namespace, NULL when
 * absent; text: the element's own character data, "" when none; child:
 * the first child with that local name (and that namespace unless ns is
 * NULL), or NULL; first_child and next walk the children in order. */
const char *xnode_name(const xnode *n);
const char *xnode_ns(const xnode *n);
const char *xnode_attr(const xnode *n, const char *name);
const char *xnode_text(const xnode *n);
const xnode *xnode_child(const xnode *n, const char *name, const char *ns);
const xnode *xnode_first_child(const xnode *n);
const xnode *xnode_next(const xnode *n);

/* s with & < > ' " escaped for XML text or an attribute value, malloc'd
 * (free it). Every character outside XML 1.0's Char production (control
 * characters other than tab, newline and carriage return; U+FFFE, U+FFFF)
 * becomes U+FFFD, and so does each byte that is not part of a valid UTF-8
 * sequence: whatever s holds, the result is well-formed XML text. NULL
 * when out of memory. */
char *xstream_escape(const char *s);

#endif
