/* SPDX-License-Identifier: MIT */
/* mailmsg.c - the e-mail gateway's mail (mailmsg.h): the message it writes,
 * what it shows of one it reads. */
#include "mailmsg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "utf8.h"

#define LOCAL_CHARS                                                                                \
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.!#$%&'*+/=?^_`{|}~-"
#define DOMAIN_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-"

bool mailmsg_addr_ok(const char *a)
{
    const char *at = strchr(a, '@');
    size_t len = strlen(a);
    if (!at || at == a || len > MAILMSG_MAX_ADDR || strchr(at + 1, '@') || !at[1])
        return false;
    if (strspn(a, LOCAL_CHARS) != (size_t)(at - a) ||
        strspn(at + 1, DOMAIN_CHARS) != strlen(at + 1))
        return false;
    return at[1] != '.' && a[len - 1] != '.';
}

/* 1..max bytes, all of them in chars. */
static bool only(const char *s, const char *chars, size_t max)
{
    size_t n = strlen(s);
    return n > 0 && n <= max && strspn(s, chars) == n;
}

/* The headers into out (cap bytes; a cap too small measures them):
 * snprintf's result. */
static int headers(char *out, size_t cap, const mailmsg_out *m, const char *name, const char *date)
{
    return snprintf(out, cap,
                    "From: \"%s via Banter\" <banter+%s@%s>\r\nTo: <%s>\r\n"
                    "Subject: %s%s%s\r\nDate: %s\r\n"
                    "Message-ID: <%lld.%s@%s>\r\nMIME-Version: 1.0\r\n"
                    "Content-Type: text/plain; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: 8bit\r\n\r\n",
                    name, m->token, m->domain, m->to, m->notice ? "" : "Message from ", name,
                    m->notice ? ": a message waits" : " (Banter)", date, (long long)m->now,
                    m->token, m->domain);
}

int mailmsg_compose(const mailmsg_out *m, char **out, size_t *len)
{
    char name[MAILMSG_MAX_NAME + 1], date[64] = "";
    size_t nl = 0, blen = strlen(m->body);
    *out = NULL;
    if (!mailmsg_addr_ok(m->to) ||
        !only(m->token, "abcdefghijklmnopqrstuvwxyz0123456789", MAILMSG_MAX_TOKEN) ||
        !only(m->domain, "abcdefghijklmnopqrstuvwxyz0123456789.-", MAILMSG_MAX_DOMAIN))
        return BANTER_EINVAL;
    if (blen > MAILMSG_MAX_BODY)
        return BANTER_ETOOBIG;
    for (const char *c = m->name; *c && nl < MAILMSG_MAX_NAME; c++) { /* a plain ASCII name */
        unsigned char u = (unsigned char)*c;
        name[nl++] = (u < 0x20 || u > 0x7e || u == '"' || u == '\\') ? '?' : (char)u;
    }
    name[nl] = '\0';
    time_t now = (time_t)m->now;
    struct tm tm;
    if (gmtime_r(&now, &tm))
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    char probe[1];
    int hn = headers(probe, sizeof probe, m, name, date);
    if (hn < 0)
        return BANTER_EINVAL;
    /* Each byte of the body takes at most two (".." at a line's start,
     * "\r\n" for "\n"), then "\r\n.\r\n" and a NUL. */
    size_t cap = (size_t)hn + 2 * blen + 6, o = (size_t)hn;
    char *msg = malloc(cap);
    if (!msg)
        return BANTER_ENOMEM;
    if (headers(msg, cap, m, name, date) != hn) {
        free(msg);
        return BANTER_EINVAL;
    }
    bool bol = true;
    for (const char *c = m->body; *c; c++) {
        if (bol && *c == '.')
            msg[o++] = '.';
        if (*c == '\n')
            msg[o++] = '\r';
        if (*c != '\r')
            msg[o++] = *c;
        bol = *c == '\n';
    }
    memcpy(msg + o, "\r\n.\r\n", 6);
    *out = msg;
    *len = o + 5;
    return 0;
}

/* ---- mail coming in ---- */

bool mailmsg_header(const char *hdrs, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *l = hdrs; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncasecmp(l, name, nl) != 0 || l[nl] != ':')
            continue;
        size_t o = 0;
        for (const char *c = l + nl + 1; *c && o + 1 < cap; c++) {
            if (*c == '\n' && c[1] != ' ' && c[1] != '\t')
                break;
            if (*c == '\r' || *c == '\n' || (o == 0 && (*c == ' ' || *c == '\t')))
                continue; /* unfolded, without the spaces that begin it */
            out[o++] = (*c == '\t') ? ' ' : *c;
        }
        out[o] = '\0';
        return true;
    }
    return false;
}

size_t mailmsg_text(char *out, size_t cap, const char *s, size_t n, bool latin1)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0, i = 0;
    while (i < n) {
        char ch[4];
        size_t len = 1, used = 1;
        if (u[i] == '\r') {
            i++;
            continue;
        }
        if (u[i] < 0x80) {
            ch[0] = (u[i] < 0x20 && u[i] != '\n' && u[i] != '\t') ? ' ' : (char)u[i];
        } else if (latin1 && u[i] >= 0xa0) { /* U+00A0..U+00FF */
            ch[0] = (char)(0xc0 | u[i] >> 6);
            ch[1] = (char)(0x80 | (u[i] & 0x3f));
            len = 2;
        } else if (latin1) {
            ch[0] = ' '; /* C1 controls */
        } else if ((used = utf8_seq_len(s + i, n - i)) > 0) {
            memcpy(ch, s + i, used);
            len = used;
        } else {
            memcpy(ch, "\xef\xbf\xbd", 3); /* U+FFFD for one byte that is not UTF-8 */
            len = 3;
            used = 1;
        }
        if (o + len >= cap)
            break;
        memcpy(out + o, ch, len);
        o += len;
        i += used;
    }
    out[o] = '\0';
    return i;
}

/* Whether a Content-Type value names ISO-8859-1 as its charset. */
static bool charset_latin1(const char *ct)
{
    static const char *const names[] = {"iso-8859-1", "iso8859-1", "iso_8859-1",
                                        "latin1",     "latin-1",   "l1"};
    for (const char *p = ct; (p = strchr(p, ';')) != NULL;) {
        p++;
        p += strspn(p, " \t");
        if (strncasecmp(p, "charset=", 8) != 0)
            continue;
        p += 8;
        bool quoted = *p == '"';
        p += quoted;
        size_t len = strcspn(p, quoted ? "\"" : "; \t");
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
            if (strlen(names[k]) == len && strncasecmp(p, names[k], len) == 0)
                return true;
        return false;
    }
    return false;
}

size_t mailmsg_shown(char out[static MAILMSG_SHOWN_CAP], const char *hdrs, const char *body)
{
    char ct[256] = "", cte[64] = "";
    mailmsg_header(hdrs, "Content-Type", ct, sizeof ct);
    mailmsg_header(hdrs, "Content-Transfer-Encoding", cte, sizeof cte);
    if ((ct[0] && strncasecmp(ct, "text/plain", 10) != 0) ||
        (cte[0] && strcasecmp(cte, "7bit") != 0 && strcasecmp(cte, "8bit") != 0)) {
        snprintf(out, MAILMSG_SHOWN_CAP,
                 "(the mail is not plain text; the gateway does not show it)");
        return 0;
    }
    size_t n = strlen(body);
    size_t o = 0;
    if (mailmsg_text(out, MAILMSG_MAX_SHOWN + 1, body, n, charset_latin1(ct)) < n) {
        o = strlen(out);
        snprintf(out + o, MAILMSG_SHOWN_CAP - o, "\n[cut: the mail's text is over %d bytes]",
                 MAILMSG_MAX_SHOWN);
        return o;
    }
    return strlen(out);
}
