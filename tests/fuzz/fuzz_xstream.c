/* SPDX-License-Identifier: MIT */
/*
 * fuzz_xstream.c - libFuzzer target for the XMPP stream parser
 * (peer/plugin/xmpp/xstream.h): what an XMPP server sends the gateway is
 * untrusted. The first byte sets the size of the pieces the rest is fed
 * in (1..256 bytes), so element and character boundaries fall anywhere.
 * Each stanza is walked through the accessors, and its texts and
 * attributes go through xstream_escape (as the gateway does when it
 * answers), whose result must hold no raw '<' or '&' not starting an
 * entity.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_escape(const char *s)
{
    char *e = xstream_escape(s);
    if (!e)
        return;
    if (strchr(e, '<') || strchr(e, '>'))
        abort();
    free(e);
}

static void walk(const xnode *n, int depth)
{
    if (depth > XS_MAX_DEPTH + 1)
        abort();
    check_escape(xnode_name(n));
    check_escape(xnode_text(n));
    const char *a = xnode_attr(n, "to");
    if (a)
        check_escape(a);
    (void)xnode_child(n, "body", NULL);
    for (const xnode *c = xnode_first_child(n); c; c = xnode_next(c))
        walk(c, depth + 1);
}

static void on_event(void *ud, xs_kind kind, const xnode *el)
{
    int *n = ud;
    if (kind == XS_CLOSE)
        return;
    walk(el, 0);
    if (++*n > 100000)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t piece = (size_t)data[0] + 1;
    int count = 0;
    char why[200];
    xstream *x = xstream_new(on_event, &count);
    if (!x)
        return 0;
    for (size_t off = 1; off < size; off += piece) {
        size_t n = size - off < piece ? size - off : piece;
        if (xstream_feed(x, (const char *)data + off, n, why, sizeof why) != 0) {
            if (!why[0] || xstream_feed(x, "<a/>", 4, why, sizeof why) == 0)
                abort(); /* a dead stream stays dead, with a reason */
            break;
        }
    }
    xstream_free(x);
    return 0;
}
