/* SPDX-License-Identifier: MIT */
/* utf8.c - strict UTF-8 validation. */
#include "utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        unsigned c = p[i];
        size_t n;
        uint32_t cp, min;

        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i - 1 < n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

size_t utf8_seq_len(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t len = 0;
    if (n == 0)
        return 0;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4;
    if (len == 0 || len > n || !utf8_valid(str, len))
        return 0;
    return len;
}

void utf8_quote(char out[static UTF8_QUOTE_CAP], const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0, i = 0;
    out[o++] = '"';
    while (i < n && i < UTF8_QUOTE_MAX) {
        size_t len = utf8_seq_len(s + i, n - i);
        if (len > 1 && i + len <= UTF8_QUOTE_MAX) {
            memcpy(out + o, u + i, len);
            o += len;
            i += len;
            continue;
        }
        if (len > 1)
            break; /* a sequence that does not fit: cut before it */
        if (len == 1 && u[i] >= 0x20 && u[i] != 0x7f && u[i] != '"' && u[i] != '\\') {
            out[o++] = (char)u[i++];
            continue;
        }
        if (u[i] == '"' || u[i] == '\\') {
            out[o++] = '\\';
            out[o++] = (char)u[i++];
            continue;
        }
        snprintf(out + o, 5, "\\x%02x", u[i++]);
        o += 4;
    }
    if (i < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '"';
    out[o] = '\0';
}

/* Whether the valid sequence s[0..len) is a control character (utf8.h):
 * one byte for C0 and DEL, two for C1; longer ones never are. */
static bool is_control(const unsigned char *s, size_t len, bool lines)
{
    if (len == 1)
        return (s[0] < 0x20 && !(lines && (s[0] == '\n' || s[0] == '\t'))) || s[0] == 0x7f;
    return len == 2 && s[0] == 0xc2 && s[1] <= 0x9f; /* U+0080-U+009F */
}

bool utf8_no_controls(const char *s, size_t n, bool lines)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq_len((const char *)u + i, n - i);
        if (len == 0 || is_control(u + i, len, lines))
            return false;
        i += len;
    }
    return true;
}

/* The code point of the valid sequence s[0..len). */
static uint32_t code_point(const unsigned char *s, size_t len)
{
    static const unsigned char lead_mask[5] = {0, 0x7f, 0x1f, 0x0f, 0x07};
    uint32_t cp = s[0] & lead_mask[len];
    for (size_t k = 1; k < len; k++)
        cp = cp << 6 | (s[k] & 0x3f);
    return cp;
}

bool utf8_invisible(uint32_t c)
{
    return c == 0x00ad || c == 0x034f || c == 0x061c || c == 0x115f || c == 0x1160 || c == 0x17b4 ||
           c == 0x17b5 || (c >= 0x180b && c <= 0x180f) || (c >= 0x200b && c <= 0x200f) ||
           (c >= 0x202a && c <= 0x202e) || (c >= 0x2060 && c <= 0x206f) || c == 0x3164 ||
           (c >= 0xfe00 && c <= 0xfe0f) || c == 0xfeff || c == 0xffa0 ||
           (c >= 0xfff0 && c <= 0xfff8) || (c >= 0x1bca0 && c <= 0x1bca3) ||
           (c >= 0x1d173 && c <= 0x1d17a) || (c >= 0xe0000 && c <= 0xe0fff);
}

bool utf8_no_invisible(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq_len(s + i, n - i);
        if (len == 0 || utf8_invisible(code_point(u + i, len)))
            return false;
        i += len;
    }
    return true;
}

size_t utf8_drop_invisible(char *s)
{
    unsigned char *u = (unsigned char *)s;
    size_t n = strlen(s), o = 0;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq_len(s + i, n - i);
        if (len == 0) /* not UTF-8: kept as it is, one byte at a time */
            len = 1;
        else if (utf8_invisible(code_point(u + i, len))) {
            i += len;
            continue;
        }
        memmove(u + o, u + i, len);
        o += len;
        i += len;
    }
    u[o] = '\0';
    return o;
}

size_t utf8_mask_controls(char *s, bool lines)
{
    unsigned char *u = (unsigned char *)s;
    size_t n = strlen(s), o = 0;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq_len((const char *)u + i, n - i);
        if (len == 0 || is_control(u + i, len, lines)) {
            u[o++] = '?';
            i += len ? len : 1;
            continue;
        }
        memmove(u + o, u + i, len);
        o += len;
        i += len;
    }
    u[o] = '\0';
    return o;
}

size_t utf8_escape(char *out, size_t cap, const char *s, size_t n, utf8_esc how)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t need = 0;
    bool cut = false;
    if (cap > 0)
        out[0] = '\0';
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq_len((const char *)u + i, n - i);
        char esc[8];
        const char *piece = (const char *)u + i;
        size_t plen = len;
        if (len == 0 || is_control(u + i, len, how == UTF8_ESC_TERM)) {
            unsigned cp = len == 2 ? u[i + 1] : u[i]; /* C2 80..9F is U+0080..U+009F */
            if (how == UTF8_ESC_TERM)
                snprintf(esc, sizeof esc, "\\x%02x", cp);
            else if (len == 0)
                snprintf(esc, sizeof esc, "\\ufffd");
            else
                snprintf(esc, sizeof esc, "\\u%04x", cp);
            piece = esc;
            plen = strlen(esc);
            len = len ? len : 1;
        }
        if (!cut && need + plen < cap)
            memcpy(out + need, piece, plen);
        else
            cut = true;
        if (!cut && cap > 0)
            out[need + plen] = '\0';
        need += plen;
        i += len;
    }
    return need;
}

void utf8_fwrite_escaped(FILE *f, const char *s, size_t n, utf8_esc how)
{
    size_t cap = UTF8_ESCAPE_MAX(n);
    char *e = malloc(cap);
    if (!e) {
        fputs("(out of memory)", f);
        return;
    }
    fwrite(e, 1, utf8_escape(e, cap, s, n, how), f);
    free(e);
}
