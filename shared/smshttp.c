/* SPDX-License-Identifier: MIT */
/*
 * smshttp.c - the gateway's HTTP with smsbox (smshttp.h): a strict reader
 * of the get-url request, the sendsms request, the answer's status code.
 */
#include "smshttp.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "utf8.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode s[0..n) ("+" is a space) into out (cap bytes, room for a
 * NUL). Returns the decoded length, BANTER_ESCHEMA for a bad escape or a
 * NUL, BANTER_ETOOLONG when it does not fit. */
static int pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return BANTER_ESCHEMA;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return BANTER_ESCHEMA;
            c = hi * 16 + lo;
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (c == 0)
            return BANTER_ESCHEMA;
        if (o + 1 >= cap)
            return BANTER_ETOOLONG;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return (int)o;
}

bool smshttp_number_ok(const char *s)
{
    size_t n = strlen(s), d = s[0] == '+' ? 1 : 0;
    if (n - d < 3 || n > BANTER_SMS_MAX_NUMBER)
        return false;
    return strspn(s + d, "0123456789") == n - d;
}

bool smshttp_number_intl(const char *s)
{
    size_t n = strlen(s);
    return s[0] == '+' && n - 1 >= SMSHTTP_INTL_MIN_DIGITS && n <= BANTER_SMS_MAX_NUMBER &&
           strspn(s + 1, "0123456789") == n - 1;
}

/* The next item of a prefix list at *p (spaces around it dropped) into
 * item and n, *p moved past it and its comma: 1; 0 at the list's end; -1
 * when the list is malformed there (an empty item, a comma at the end,
 * spaces inside an item). */
static int next_prefix(const char **p, const char **item, size_t *n)
{
    const char *start = *p;
    if (!start[0])
        return 0;
    start += strspn(start, " ");
    size_t len = strcspn(start, ", ");
    const char *end = start + len;
    end += strspn(end, " ");
    if (len == 0 || (end[0] && end[0] != ','))
        return -1;
    if (end[0] == ',' && !end[1 + strspn(end + 1, " ")])
        return -1;
    *item = start;
    *n = len;
    *p = end[0] ? end + 1 : end;
    return 1;
}

bool smshttp_prefixes_ok(const char *prefixes)
{
    const char *p = prefixes ? prefixes : "", *item = NULL;
    size_t n = 0, count = 0;
    int r;
    while ((r = next_prefix(&p, &item, &n)) == 1)
        if (++count > SMSHTTP_PREFIX_MAX || item[0] != '+' || n < 2 || n >= BANTER_SMS_MAX_NUMBER ||
            strspn(item + 1, "0123456789") != n - 1)
            return false;
    return r == 0;
}

bool smshttp_number_allowed(const char *number, const char *prefixes)
{
    const char *p = prefixes, *item = NULL;
    size_t n = 0;
    if (!smshttp_number_intl(number) || !smshttp_prefixes_ok(prefixes))
        return false;
    if (!prefixes || !prefixes[0])
        return true;
    while (next_prefix(&p, &item, &n) == 1)
        if (strncmp(number, item, n) == 0)
            return true;
    return false;
}

/* The text as the gateway keeps it: UTF-8 as is, anything else read as
 * ISO-8859-1; control characters but newline and tab become spaces, CR
 * goes. */
static void clean_text(const char *in, size_t n, smshttp_req *out)
{
    bool utf8 = utf8_valid(in, n);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '\r')
            continue;
        if (c < 0x20 && c != '\n' && c != '\t')
            c = ' ';
        if (c == 0x7f)
            c = ' ';
        if (!utf8 && c >= 0x80) {
            out->text[o++] = (char)(0xc0 | (c >> 6));
            out->text[o++] = (char)(0x80 | (c & 0x3f));
            continue;
        }
        out->text[o++] = (char)c;
    }
    out->text[o] = '\0';
    out->text_len = o;
}

/* The query string q[0..n) into r: key, from, to, text, each exactly once. */
static int parse_query(const char *q, size_t n, smshttp_req *r)
{
    static const char *const names[] = {"key", "from", "to", "text"};
    char text[BANTER_SMS_MAX_TEXT + 1];
    unsigned seen = 0;
    int tlen = 0;
    const char *end = q + n;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q)), *pe = amp ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(pe - q));
        if (!eq)
            return BANTER_ESCHEMA;
        size_t nl = (size_t)(eq - q), k = 0;
        for (; k < 4; k++)
            if (strlen(names[k]) == nl && memcmp(q, names[k], nl) == 0)
                break;
        if (k == 4 || (seen & (1u << k)))
            return BANTER_ESCHEMA;
        seen |= 1u << k;
        const char *v = eq + 1;
        size_t vl = (size_t)(pe - v);
        int got;
        switch (k) {
        case 0:
            got = pct_decode(v, vl, r->key, sizeof r->key);
            break;
        case 1:
            got = pct_decode(v, vl, r->from, sizeof r->from);
            break;
        case 2:
            got = pct_decode(v, vl, r->to, sizeof r->to);
            break;
        default:
            got = tlen = pct_decode(v, vl, text, sizeof text);
            break;
        }
        if (got < 0)
            return got;
        q = amp ? amp + 1 : end;
    }
    if (seen != 0xfu)
        return BANTER_ESCHEMA;
    if (!smshttp_number_ok(r->from) || !smshttp_number_ok(r->to))
        return BANTER_EINVAL;
    clean_text(text, (size_t)tlen, r);
    return 0;
}

/* The header lines hdrs[0..n) (each ending CRLF): printable, "Name: value",
 * and nothing that announces a body. */
static int check_headers(const char *h, size_t n)
{
    const char *end = h + n;
    while (h < end) {
        const char *cr = memchr(h, '\r', (size_t)(end - h));
        if (!cr || cr + 1 >= end || cr[1] != '\n')
            return BANTER_EPROTO;
        const char *colon = memchr(h, ':', (size_t)(cr - h));
        if (!colon || colon == h)
            return BANTER_EPROTO;
        for (const char *c = h; c < cr; c++)
            if ((unsigned char)*c < 0x20 && *c != '\t')
                return BANTER_EPROTO;
        size_t nl = (size_t)(colon - h);
        if ((nl == 14 && strncasecmp(h, "Content-Length", 14) == 0 &&
             strspn(colon + 1, " 0") != (size_t)(cr - colon - 1)) ||
            (nl == 17 && strncasecmp(h, "Transfer-Encoding", 17) == 0))
            return BANTER_EPROTO;
        h = cr + 2;
    }
    return 0;
}

int smshttp_parse_request(const char *buf, size_t len, smshttp_req *out, size_t *used)
{
    size_t n = len < BANTER_SMS_MAX_REQUEST ? len : BANTER_SMS_MAX_REQUEST;
    const char *hend = NULL;
    for (size_t i = 0; i + 4 <= n && !hend; i++)
        if (memcmp(buf + i, "\r\n\r\n", 4) == 0)
            hend = buf + i;
    if (!hend)
        return len >= BANTER_SMS_MAX_REQUEST ? BANTER_ETOOBIG : BANTER_EAGAIN;
    const char *line_end = memchr(buf, '\r', (size_t)(hend - buf) + 1);
    size_t ll = (size_t)(line_end - buf);
    if (ll < 4 || memcmp(buf, "GET ", 4) != 0)
        return BANTER_EPROTO;
    const char *target = buf + 4, *sp = memchr(target, ' ', ll - 4);
    if (!sp || (size_t)(buf + ll - sp) != 9 ||
        (memcmp(sp, " HTTP/1.1", 9) != 0 && memcmp(sp, " HTTP/1.0", 9) != 0))
        return BANTER_EPROTO;
    int ret =
        (size_t)(hend - line_end) >= 2 ? check_headers(line_end + 2, (size_t)(hend - line_end)) : 0;
    if (ret != 0)
        return ret;
    size_t tl = (size_t)(sp - target);
    for (size_t i = 0; i < tl; i++)
        if ((unsigned char)target[i] <= 0x20 || (unsigned char)target[i] >= 0x7f)
            return BANTER_EPROTO;
    const char *qm = memchr(target, '?', tl);
    size_t pl = qm ? (size_t)(qm - target) : tl;
    if (pl != 4 || memcmp(target, "/sms", 4) != 0)
        return BANTER_ENOENT;
    if (!qm)
        return BANTER_ESCHEMA;
    smshttp_req r;
    memset(&r, 0, sizeof r);
    ret = parse_query(qm + 1, tl - pl - 1, &r);
    if (ret != 0)
        return ret;
    *out = r;
    *used = (size_t)(hend - buf) + 4;
    return 0;
}

/* Append the percent-encoding of s (unreserved characters as they are). */
static bool pct_append(char *out, size_t cap, size_t *o, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        bool plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                     (*c >= '0' && *c <= '9') || strchr("-._~", *c);
        if (*o + (plain ? 1 : 3) >= cap)
            return false;
        if (plain) {
            out[(*o)++] = (char)*c;
        } else {
            out[(*o)++] = '%';
            out[(*o)++] = hex[*c >> 4];
            out[(*o)++] = hex[*c & 15];
        }
    }
    out[*o] = '\0';
    return true;
}

static bool str_append(char *out, size_t cap, size_t *o, const char *s)
{
    size_t n = strlen(s);
    if (*o + n >= cap)
        return false;
    memcpy(out + *o, s, n + 1);
    *o += n;
    return true;
}

int smshttp_sendsms_request(char *out, size_t cap, const char *host, int port, const char *user,
                            const char *pass, const char *from, const char *to, const char *text)
{
    size_t o = 0, tl = strlen(text);
    char hostport[96];
    if (cap == 0 || !smshttp_number_ok(from) || !smshttp_number_intl(to) ||
        tl > BANTER_SMS_MAX_TEXT || !utf8_valid(text, tl) || port < 1 || port > 65535 ||
        strlen(host) > 64)
        return BANTER_EINVAL;
    snprintf(hostport, sizeof hostport, "%s:%d", host, port);
    bool ok = str_append(out, cap, &o, "GET /cgi-bin/sendsms?username=") &&
              pct_append(out, cap, &o, user) && str_append(out, cap, &o, "&password=") &&
              pct_append(out, cap, &o, pass) && str_append(out, cap, &o, "&from=") &&
              pct_append(out, cap, &o, from) && str_append(out, cap, &o, "&to=") &&
              pct_append(out, cap, &o, to) && str_append(out, cap, &o, "&charset=UTF-8&text=") &&
              pct_append(out, cap, &o, text) && str_append(out, cap, &o, " HTTP/1.0\r\nHost: ") &&
              str_append(out, cap, &o, hostport) &&
              str_append(out, cap, &o, "\r\nConnection: close\r\n\r\n");
    return ok ? (int)o : BANTER_ETOOBIG;
}

int smshttp_parse_status(const char *buf, size_t len, int *code)
{
    const char *nl = memchr(buf, '\n', len);
    if (!nl)
        return len > 256 ? BANTER_EPROTO : BANTER_EAGAIN;
    size_t ll = (size_t)(nl - buf);
    if (ll < 12 || (memcmp(buf, "HTTP/1.1 ", 9) != 0 && memcmp(buf, "HTTP/1.0 ", 9) != 0))
        return BANTER_EPROTO;
    int c = 0;
    for (size_t i = 9; i < 12; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return BANTER_EPROTO;
        c = c * 10 + (buf[i] - '0');
    }
    if (c < 100 || c > 599 || (ll > 12 && buf[12] != ' ' && buf[12] != '\r'))
        return BANTER_EPROTO;
    *code = c;
    return 0;
}
