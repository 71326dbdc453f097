/* SPDX-License-Identifier: MIT */
/*
 * mailmsg.h - the mail of the e-mail gateway (peer/plugin/gateways/mail.c),
 * sans-I/O, both ways (docs/plugins.md, "The e-mail gateway"):
 *   out: the message it hands to SMTP's DATA, headers and body, sized from
 *        what it holds (a long domain or address never makes it cut or
 *        overrun anything);
 *   in:  what it shows in Banter of a mail read from its Maildir (anyone
 *        can send one: fuzzed by tests/fuzz/fuzz_mailmsg.c): always valid
 *        UTF-8, whatever the mail's bytes, cut on a character boundary.
 */
#ifndef BANTER_MAILMSG_H
#define BANTER_MAILMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define MAILMSG_MAX_ADDR   254  /* of an address (RFC 5321's path, less the brackets) */
#define MAILMSG_MAX_DOMAIN 253  /* of the gateway's own mail domain */
#define MAILMSG_MAX_NAME   79   /* of the sender's name in From and Subject */
#define MAILMSG_MAX_TOKEN  16   /* of the TOKEN in banter+TOKEN@DOMAIN */
#define MAILMSG_MAX_BODY   8192 /* of the text of one mail */
#define MAILMSG_MAX_SHOWN  4000 /* of a mail's text shown in Banter */
#define MAILMSG_SHOWN_CAP  (MAILMSG_MAX_SHOWN + 64) /* the text, a note that it was cut, NUL */

/* A plain address: local@domain, ASCII, no quoting, no comments, nothing
 * that could end a header or an SMTP command, at most MAILMSG_MAX_ADDR
 * bytes. */
bool mailmsg_addr_ok(const char *a);

/* One mail to write. Every string is NUL-terminated. */
typedef struct mailmsg_out {
    const char *name;   /* the sender's name: shown as plain ASCII ('?' for
                           anything else, '"' and '\\' too), cut after
                           MAILMSG_MAX_NAME bytes */
    const char *token;  /* TOKEN in banter+TOKEN@DOMAIN: 1..MAILMSG_MAX_TOKEN of a-z 0-9 */
    const char *domain; /* DOMAIN: 1..MAILMSG_MAX_DOMAIN of a-z 0-9 . - */
    const char *to;     /* the recipient: mailmsg_addr_ok */
    const char *body;   /* the text, at most MAILMSG_MAX_BODY bytes */
    bool notice;        /* Subject "NAME: a message waits", else "Message from NAME (Banter)" */
    int64_t now;        /* seconds since the epoch: Date and Message-ID */
} mailmsg_out;

/* The whole of what follows DATA: the headers, the body with CRLF line
 * ends and dot-stuffing, and the final "\r\n.\r\n". Returns 0 with *out
 * malloc'd (the caller frees it) and its length in *len; BANTER_EINVAL
 * when a field is not what it must be (to, token, domain), BANTER_ETOOBIG
 * for a body over MAILMSG_MAX_BODY, BANTER_ENOMEM. On failure *out is
 * NULL: nothing is ever cut to fit. */
BANTER_WUR int mailmsg_compose(const mailmsg_out *m, char **out, size_t *len);

/* The value of header name (case-insensitive) in hdrs, the header block
 * (NUL-terminated, lines ending "\n" or "\r\n"), unfolded, without the
 * spaces that begin it, into out (cap > 0 bytes, NUL-terminated; a longer
 * value is cut, perhaps inside a UTF-8 character: read it with
 * mailmsg_text). false when there is no such header. */
bool mailmsg_header(const char *hdrs, const char *name, char *out, size_t cap);

/* s[0..n) as text for Banter into out (cap > 0 bytes), NUL-terminated and
 * valid UTF-8 whatever s holds: with latin1 every byte is read as
 * ISO-8859-1; otherwise a byte that is not part of a valid UTF-8 sequence
 * becomes U+FFFD. CR goes; other control characters (C0 and, read as
 * ISO-8859-1, C1) but newline and tab become spaces. It stops before the
 * first character that does not fit. Returns how many bytes of s were
 * used (n when all of it fits). */
size_t mailmsg_text(char *out, size_t cap, const char *s, size_t n, bool latin1);

/* What of a mail is shown, into out: its body as mailmsg_text reads it
 * (latin1 when the Content-Type's charset is ISO-8859-1), at most
 * MAILMSG_MAX_SHOWN bytes, and when cut a last line saying so; or, for a
 * mail that is not plain text (a Content-Type other than text/plain, a
 * Content-Transfer-Encoding other than 7bit and 8bit), a line saying it is
 * not shown. hdrs: the header block; body: what follows it. Returns how
 * many bytes at the start of out are the mail's own text; the rest is the
 * gateway's (the line saying it was cut or not shown). */
size_t mailmsg_shown(char out[static MAILMSG_SHOWN_CAP], const char *hdrs, const char *body);

#endif
