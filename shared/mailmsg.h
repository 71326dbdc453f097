/* SPDX-License-Identifier: MIT */
/*
 * mailmsg.h - the mail the e-mail gateway (peer/plugin/gateways/mail.c)
 * writes, sans-I/O: the message it hands to SMTP's DATA, headers and
 * body, sized from what it holds (a long domain or address never makes it
 * cut or overrun anything: docs/plugins.md, "The e-mail gateway").
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

#endif
