/* SPDX-License-Identifier: MIT */
/* links.c - URL detection in message text. */
#include "links.h"

#include <string.h>

static const char *const prefixes[] = {"https://", "http://", "ftp://", "mailto:", "www."};

static bool is_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == '@' || c == '/';
}

static bool ends_link(unsigned char c)
{
    return c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '"';
}

static bool lower_eq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != b[i])
            return false;
    }
    return true;
}

/* Length of the link starting at p (at most len), before trimming. */
static size_t scan(const char *p, size_t len)
{
    size_t i = 0;
    while (i < len && !ends_link((unsigned char)p[i]))
        i++;
    return i;
}

static size_t trim(const char *p, size_t n)
{
    while (n > 0) {
        char c = p[n - 1];
        if (c == ')' || c == ']') {
            char open = c == ')' ? '(' : '[';
            int depth = 0;
            for (size_t i = 0; i < n; i++)
                depth += p[i] == open ? 1 : p[i] == c ? -1 : 0;
            if (depth >= 0)
                break; /* balanced: part of the link */
        } else if (!strchr(".,;:!?'", c)) {
            break;
        }
        n--;
    }
    return n;
}

bool links_next(const char *text, size_t len, size_t *off, size_t *start, size_t *n)
{
    for (size_t i = *off; i < len; i++) {
        if (i > 0 && is_word(text[i - 1]))
            continue;
        for (size_t k = 0; k < sizeof prefixes / sizeof prefixes[0]; k++) {
            size_t pl = strlen(prefixes[k]);
            if (len - i <= pl || !lower_eq(text + i, prefixes[k], pl))
                continue;
            size_t m = trim(text + i, scan(text + i, len - i));
            if (m <= pl)
                continue;
            *start = i;
            *n = m;
            *off = i + m;
            return true;
        }
    }
    *off = len;
    return false;
}
