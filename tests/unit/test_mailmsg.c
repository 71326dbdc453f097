/* SPDX-License-Identifier: MIT */
/*
 * test_mailmsg.c - the e-mail gateway's mail (shared/mailmsg.h): the
 * message for DATA with every field at its longest (a long domain and
 * address once overran the buffer), dot-stuffing and CRLF, the name made
 * plain, and what a header cannot carry refused; a mail read back: its
 * headers, its text always valid UTF-8 (ISO-8859-1 converted, bad bytes
 * U+FFFD) and cut on a character boundary at 4000 bytes, never dropped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mailmsg.h"
#include "utf8.h"

/* n copies of c then tail, into out. */
static char *fill(char *out, char c, size_t n, const char *tail)
{
    memset(out, c, n);
    snprintf(out + n, strlen(tail) + 1, "%s", tail);
    return out;
}

static void test_longest_fields(void **state)
{
    (void)state;
    char domain[MAILMSG_MAX_DOMAIN + 1], to[MAILMSG_MAX_ADDR + 1], name[300], want[1024];
    fill(domain, 'd', MAILMSG_MAX_DOMAIN - 4, ".org");
    fill(to, 'a', 64, "@");
    fill(to + 65, 'b', MAILMSG_MAX_ADDR - 65 - 4, ".com");
    fill(name, 'n', sizeof name - 1, "");
    assert_int_equal(strlen(to), MAILMSG_MAX_ADDR);
    assert_true(mailmsg_addr_ok(to));
    const char *bodies[] = {"", "hi", ".", "a\n.b\r\n..c\n"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        mailmsg_out m = {.name = name,
                         .token = "0123456789ab",
                         .domain = domain,
                         .to = to,
                         .body = bodies[i],
                         .now = 1700000000};
        char *out = NULL;
        size_t len = 0;
        assert_int_equal(mailmsg_compose(&m, &out, &len), 0);
        assert_non_null(out);
        assert_int_equal(strlen(out), len); /* NUL-terminated, nothing past it */
        snprintf(want, sizeof want, "From: \"%.*s via Banter\" <banter+0123456789ab@%s>\r\n",
                 MAILMSG_MAX_NAME, name, domain);
        assert_memory_equal(out, want, strlen(want));
        snprintf(want, sizeof want, "\r\nTo: <%s>\r\n", to);
        assert_non_null(strstr(out, want));
        snprintf(want, sizeof want, "\r\nMessage-ID: <1700000000.0123456789ab@%s>\r\n", domain);
        assert_non_null(strstr(out, want));
        assert_non_null(strstr(out, "\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"));
        assert_true(len >= 5 && memcmp(out + len - 5, "\r\n.\r\n", 5) == 0);
        free(out);
    }
}

static void test_body(void **state)
{
    (void)state;
    mailmsg_out m = {.name = "bob",
                     .token = "notify",
                     .domain = "gw.example",
                     .to = "carol@example.org",
                     .body = ".one\ntwo\r\n.\n..three",
                     .now = 0,
                     .notice = true};
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(mailmsg_compose(&m, &out, &len), 0);
    assert_non_null(strstr(out, "\r\nSubject: bob: a message waits\r\n"));
    const char *body = strstr(out, "\r\n\r\n");
    assert_non_null(body);
    assert_string_equal(body + 4, "..one\r\ntwo\r\n..\r\n...three\r\n.\r\n");
    free(out);
    m.notice = false;
    m.name = "B\"o\\b \xc3\xa9\r\nBcc: x";
    assert_int_equal(mailmsg_compose(&m, &out, &len), 0);
    assert_non_null(
        strstr(out, "From: \"B?o?b ????Bcc: x via Banter\" <banter+notify@gw.example>"));
    assert_non_null(strstr(out, "\r\nSubject: Message from B?o?b ????Bcc: x (Banter)\r\n"));
    free(out);
}

static void test_refused(void **state)
{
    (void)state;
    char big[MAILMSG_MAX_BODY + 2], addr[MAILMSG_MAX_ADDR + 2];
    fill(big, 'x', MAILMSG_MAX_BODY + 1, "");
    fill(addr, 'a', 64, "@");
    fill(addr + 65, 'b', MAILMSG_MAX_ADDR - 65 - 3, ".com");
    assert_int_equal(strlen(addr), MAILMSG_MAX_ADDR + 1);
    assert_false(mailmsg_addr_ok(addr));
    const char *bad_to[] = {"carol@example.org>\r\nRCPT TO:<x@evil",
                            "carol@example.org\r\n",
                            "\"carol\"@example.org",
                            "carol@exa mple.org",
                            "carol@@example.org",
                            "@example.org",
                            "carol@",
                            "carol@.example.org",
                            "carol@example.org.",
                            "carol",
                            addr};
    for (size_t i = 0; i < sizeof bad_to / sizeof bad_to[0]; i++) {
        mailmsg_out m = {
            .name = "bob", .token = "t", .domain = "gw.example", .to = bad_to[i], .body = "x"};
        char *out = (char *)"unchanged";
        size_t len = 0;
        assert_int_equal(mailmsg_compose(&m, &out, &len), BANTER_EINVAL);
        assert_null(out);
    }
    const char *bad_domain[] = {"", "GW.example", "gw.example>", "gw example", "gw.example\r\n"};
    for (size_t i = 0; i < sizeof bad_domain / sizeof bad_domain[0]; i++) {
        mailmsg_out m = {
            .name = "bob", .token = "t", .domain = bad_domain[i], .to = "c@d.e", .body = "x"};
        char *out = NULL;
        size_t len = 0;
        assert_int_equal(mailmsg_compose(&m, &out, &len), BANTER_EINVAL);
    }
    char domain[MAILMSG_MAX_DOMAIN + 2];
    fill(domain, 'd', MAILMSG_MAX_DOMAIN + 1, "");
    mailmsg_out m = {.name = "bob", .token = "t", .domain = domain, .to = "c@d.e", .body = "x"};
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(mailmsg_compose(&m, &out, &len), BANTER_EINVAL);
    m.domain = "gw.example";
    m.token = "0123456789abcdef0";
    assert_int_equal(mailmsg_compose(&m, &out, &len), BANTER_EINVAL);
    m.token = "x>y";
    assert_int_equal(mailmsg_compose(&m, &out, &len), BANTER_EINVAL);
    m.token = "t";
    m.body = big;
    assert_int_equal(mailmsg_compose(&m, &out, &len), BANTER_ETOOBIG);
    assert_null(out);
}

static void test_header(void **state)
{
    (void)state;
    const char *h = "Received: x\r\nfrom: Carol\r\n  <carol@example.org>\r\n"
                    "Subject:\tHi\r\nX-Empty:\r\nTo: banter+1@gw\r\n";
    char out[64];
    assert_true(mailmsg_header(h, "From", out, sizeof out));
    assert_string_equal(out, "Carol  <carol@example.org>");
    assert_true(mailmsg_header(h, "subject", out, sizeof out));
    assert_string_equal(out, "Hi");
    assert_true(mailmsg_header(h, "X-Empty", out, sizeof out));
    assert_string_equal(out, "");
    assert_false(mailmsg_header(h, "Cc", out, sizeof out));
    assert_false(mailmsg_header(h, "Rece", out, sizeof out));
    assert_true(mailmsg_header(h, "To", out, 5));
    assert_string_equal(out, "bant");
}

static void test_text(void **state)
{
    (void)state;
    char out[32];
    /* UTF-8 kept; CR gone; controls become spaces */
    assert_int_equal(mailmsg_text(out, sizeof out, "\xc3\xa9t\xc3\xa9\r\n\x01\t", 9, false), 9);
    assert_string_equal(out, "\xc3\xa9t\xc3\xa9\n \t");
    /* not UTF-8: U+FFFD for each bad byte, never a dropped text */
    assert_int_equal(mailmsg_text(out, sizeof out, "caf\xe9 \xc3", 6, false), 6);
    assert_string_equal(out, "caf\xef\xbf\xbd \xef\xbf\xbd");
    /* ISO-8859-1 converted; C1 controls become spaces */
    assert_int_equal(mailmsg_text(out, sizeof out, "caf\xe9 \xa0\xff\x85", 8, true), 8);
    assert_string_equal(out, "caf\xc3\xa9 \xc2\xa0\xc3\xbf ");
    /* cut before a character that does not fit, never inside it */
    assert_int_equal(mailmsg_text(out, 5, "ab\xe2\x82\xac", 5, false), 2);
    assert_string_equal(out, "ab");
    assert_int_equal(mailmsg_text(out, 6, "ab\xe2\x82\xac", 5, false), 5);
    assert_string_equal(out, "ab\xe2\x82\xac");
    assert_int_equal(mailmsg_text(out, 3, "a\xe9", 2, true), 1);
    assert_string_equal(out, "a");
    assert_int_equal(mailmsg_text(out, 1, "abc", 3, false), 0);
    assert_string_equal(out, "");
}

/* The text shown of a body of n bytes made of unit, cut where it must be. */
static void check_cut(const char *unit, const char *hdrs, bool latin1)
{
    size_t ul = strlen(unit), n = 5000;
    char *body = malloc(n + 1), *out = malloc(MAILMSG_SHOWN_CAP);
    assert_non_null(body);
    assert_non_null(out);
    for (size_t i = 0; i < n; i++)
        body[i] = unit[i % ul];
    body[n] = '\0';
    size_t own = mailmsg_shown(out, hdrs, body);
    assert_true(utf8_valid(out, strlen(out)));
    const char *note = strstr(out, "\n[cut: the mail's text is over 4000 bytes]");
    assert_non_null(note);
    assert_ptr_equal(note, out + own); /* the mail's text, then the gateway's note */
    size_t shown = (size_t)(note - out);
    assert_true(shown <= MAILMSG_MAX_SHOWN && shown > MAILMSG_MAX_SHOWN - 4);
    if (!latin1)
        assert_memory_equal(out, body, shown);
    free(body);
    free(out);
}

static void test_shown(void **state)
{
    (void)state;
    char *out = malloc(MAILMSG_SHOWN_CAP);
    assert_non_null(out);
    assert_int_equal(
        mailmsg_shown(out, "Content-Type: text/plain; charset=utf-8", "Hello\r\n\xe2\x98\xba\r\n"),
        10);
    assert_string_equal(out, "Hello\n\xe2\x98\xba\n");
    mailmsg_shown(out, "Content-Type: text/plain; charset=\"ISO-8859-1\"; format=flowed",
                  "Gr\xfc\xdf"
                  "e");
    assert_string_equal(out, "Gr\xc3\xbc\xc3\x9f"
                             "e");
    mailmsg_shown(out, "Content-Type: text/plain; charset=latin1", "\xe9");
    assert_string_equal(out, "\xc3\xa9");
    mailmsg_shown(out, "Subject: no type",
                  "Gr\xfc\xdf"
                  "e"); /* not said: U+FFFD */
    assert_string_equal(out, "Gr\xef\xbf\xbd\xef\xbf\xbd"
                             "e");
    mailmsg_shown(out, "Content-Type: text/html", "<p>x</p>");
    assert_string_equal(out, "(the mail is not plain text; the gateway does not show it)");
    mailmsg_shown(out, "Content-Transfer-Encoding: base64", "eA==");
    assert_string_equal(out, "(the mail is not plain text; the gateway does not show it)");
    mailmsg_shown(out, "", "");
    assert_string_equal(out, "");
    free(out);
    /* 4000 bytes at most, cut on a character boundary, said */
    check_cut("x", "", false);
    check_cut("\xc3\xa9", "", false);
    check_cut("\xe2\x82\xac", "", false);
    check_cut("a\xf0\x9f\x98\x80", "", false);
    check_cut("\xe9", "Content-Type: text/plain; charset=iso-8859-1", true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_longest_fields), cmocka_unit_test(test_body),
        cmocka_unit_test(test_refused),        cmocka_unit_test(test_header),
        cmocka_unit_test(test_text),           cmocka_unit_test(test_shown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
