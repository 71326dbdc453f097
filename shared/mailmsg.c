/* SPDX-License-Identifier: MIT */
/* mailmsg.c - the e-mail gateway's mail (mailmsg.h): the message it writes. */
#include "mailmsg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* The headers into out (cap bytes; out may be NULL with cap 0, to measure
 * them): snprintf's result. */
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
    int hn = headers(NULL, 0, m, name, date);
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
