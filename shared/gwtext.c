/* SPDX-License-Identifier: MIT */
/* gwtext.c - a gateway's relayed text (see gwtext.h). */
#include "gwtext.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define QUOTE "> "

char *gwtext_relay(const char *marker, const char *sep, const char *body, size_t n)
{
    size_t lines = 1, all = strlen(body), m = strlen(marker), s = strlen(sep);
    n = n < all ? n : all;
    for (size_t i = 0; i < n; i++)
        lines += body[i] == '\n';
    char *out = malloc(m + s + all + lines * (sizeof QUOTE - 1) + 1);
    if (!out)
        return NULL;
    char *o = out;
    memcpy(o, marker, m);
    o += m;
    memcpy(o, sep, s);
    o += s;
    bool line_start = s > 0 && sep[s - 1] == '\n';
    for (const char *p = body, *stop = body + n;;) {
        const char *end = memchr(p, '\n', (size_t)(stop - p));
        size_t len = end ? (size_t)(end - p) + 1 : (size_t)(stop - p);
        bool empty = len == 0 || p[0] == '\n';
        if (line_start && !empty) {
            memcpy(o, QUOTE, sizeof QUOTE - 1);
            o += sizeof QUOTE - 1;
        }
        memcpy(o, p, len);
        o += len;
        if (!end)
            break;
        p = end + 1;
        line_start = true;
    }
    memcpy(o, body + n, all - n); /* the gateway's own note */
    o += all - n;
    *o = '\0';
    return out;
}
