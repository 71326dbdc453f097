/* SPDX-License-Identifier: MIT */
/*
 * fuzz_mailmsg.c - libFuzzer target for what the e-mail gateway reads of a
 * mail (shared/mailmsg.h): anyone can send one to its Maildir.
 *
 * The input is a mail, split into headers and body at the first empty line
 * as the gateway does. Every header value read must fit its buffer, and
 * what would be shown in Banter (the From header through mailmsg_text,
 * the body through mailmsg_shown, and the whole input read both as UTF-8
 * and as ISO-8859-1) must be valid UTF-8 within its cap.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailmsg.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, size_t n, bool latin1)
{
    char out[512];
    size_t used = mailmsg_text(out, sizeof out, s, n, latin1);
    size_t len = strlen(out);
    if (used > n || len >= sizeof out || !utf8_valid(out, len))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *mail = malloc(size + 1), *shown = malloc(MAILMSG_SHOWN_CAP);
    if (!mail || !shown)
        goto out;
    memcpy(mail, data, size);
    mail[size] = '\0';
    check_text((const char *)data, size, false);
    check_text((const char *)data, size, true);
    char *sep = strstr(mail, "\n\n"), *body = mail + strlen(mail);
    if (sep) {
        *sep = '\0';
        body = sep + 2;
    }
    static const char *const names[] = {"From", "To", "X-RcptTo", "Content-Type",
                                        "Content-Transfer-Encoding"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char v[64];
        if (mailmsg_header(mail, names[i], v, sizeof v) && strlen(v) >= sizeof v)
            abort();
        if (mailmsg_header(mail, names[i], v, sizeof v))
            check_text(v, strlen(v), false);
    }
    mailmsg_shown(shown, mail, body);
    size_t len = strlen(shown);
    if (len >= MAILMSG_SHOWN_CAP || !utf8_valid(shown, len))
        abort();
out:
    free(mail);
    free(shown);
    return 0;
}
