/* SPDX-License-Identifier: MIT */
/*
 * test_xstream.c - the XMPP stream parser (peer/plugin/xmpp/xstream.h):
 * a component stream parsed whole and a byte at a time alike; every limit
 * and every construct XMPP forbids ends the stream with a reason, and the
 * stream stays dead; escaping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xstream.h"

#define HEADER                                                                                     \
    "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' "         \
    "xmlns='jabber:component:accept' from='banter.example' id='s1d'>"

typedef struct seen {
    int opens, stanzas, closes;
    char id[32];
    char log[2048]; /* "name(ns)[to]{text}/" per stanza and first child */
} seen;

static void on_event(void *ud, xs_kind kind, const xnode *el)
{
    seen *s = ud;
    size_t n = strlen(s->log);
    if (kind == XS_OPEN) {
        s->opens++;
        snprintf(s->id, sizeof s->id, "%s", xnode_attr(el, "id") ? xnode_attr(el, "id") : "");
    } else if (kind == XS_CLOSE) {
        s->closes++;
    } else {
        s->stanzas++;
        const xnode *c = xnode_first_child(el);
        const char *to = xnode_attr(el, "to");
        snprintf(s->log + n, sizeof s->log - n, "%s(%s)[%s]{%s}%s/", xnode_name(el), xnode_ns(el),
                 to ? to : "", c ? xnode_text(c) : "", c ? xnode_name(c) : "");
    }
}

/* Feed text in pieces of step bytes (0: whole); the result of the last feed. */
static int feed(xstream *x, const char *text, size_t step, char *why, size_t cap)
{
    size_t len = strlen(text);
    if (!step)
        return xstream_feed(x, text, len, why, cap);
    for (size_t off = 0; off < len; off += step) {
        size_t n = len - off < step ? len - off : step;
        if (xstream_feed(x, text + off, n, why, cap) != 0)
            return -1;
    }
    return 0;
}

static void test_stream(void **state)
{
    (void)state;
    const char *text = HEADER "<handshake/>\n  <message from='romeo@example.org/o' "
                              "to='bob@banter.example' type='chat'><body>Hi &amp; &lt;3 "
                              "\xe2\x98\xba</body></message>"
                              "<presence to='bob@banter.example'><show>away</show></presence>"
                              "</stream:stream>";
    const char *want = "handshake(jabber:component:accept)[]{}/"
                       "message(jabber:component:accept)[bob@banter.example]{Hi & <3 "
                       "\xe2\x98\xba}body/"
                       "presence(jabber:component:accept)[bob@banter.example]{away}show/";
    for (size_t step = 0; step < 4; step++) {
        seen s = {0};
        char why[200] = "";
        xstream *x = xstream_new(on_event, &s);
        assert_non_null(x);
        assert_int_equal(feed(x, text, step, why, sizeof why), 0);
        assert_int_equal(s.opens, 1);
        assert_string_equal(s.id, "s1d");
        assert_int_equal(s.stanzas, 3);
        assert_int_equal(s.closes, 1);
        assert_string_equal(s.log, want);
        assert_int_equal(xstream_feed(x, "<more/>", 7, why, sizeof why), 0); /* after the end */
        xstream_free(x);
    }
}

/* text must end the stream with a reason containing reason, and the
 * stream stays dead. */
static void refused(const char *text, const char *reason)
{
    seen s = {0};
    char why[200] = "";
    xstream *x = xstream_new(on_event, &s);
    assert_non_null(x);
    int rc = feed(x, text, 0, why, sizeof why);
    if (rc == 0 || !strstr(why, reason))
        fail_msg("\"%.60s...\": %d, \"%s\" (wanted \"%s\")", text, rc, why, reason);
    why[0] = '\0';
    assert_int_equal(xstream_feed(x, "<a/>", 4, why, sizeof why), -1);
    assert_true(why[0] != '\0');
    xstream_free(x);
}

static void test_forbidden(void **state)
{
    (void)state;
    refused("<?xml version='1.0'?><!DOCTYPE s [<!ENTITY a 'aaaa'>]>" HEADER, "DOCTYPE");
    refused(HEADER "<!-- hi -->", "comment");
    refused(HEADER "<?pi x?>", "processing instruction");
    refused(HEADER "garbage", "text between stanzas");
    refused(HEADER "<message><body>&undefined;</body></message>", "bad XML");
    refused(HEADER "<<<\x01", "bad XML");
    refused("<html><body>not xmpp</body></html>", "does not begin with <stream:stream>");
    refused("<stream:stream xmlns:stream='urn:other'>", "does not begin");
}

static void test_limits(void **state)
{
    (void)state;
    char *big = malloc(XS_MAX_STANZA + 4096);
    assert_non_null(big);
    /* nesting */
    size_t n = (size_t)snprintf(big, 4096, "%s", HEADER);
    for (int i = 0; i < XS_MAX_DEPTH + 2; i++)
        n += (size_t)snprintf(big + n, 4096 - n, "<a>");
    refused(big, "nested too deep");
    /* attributes */
    n = (size_t)snprintf(big, 4096, "%s<m", HEADER);
    for (int i = 0; i < XS_MAX_ATTRS + 1; i++)
        n += (size_t)snprintf(big + n, 4096 - n, " a%d='x'", i);
    snprintf(big + n, 4096 - n, "/>");
    refused(big, "too many attributes");
    /* elements */
    char *many = malloc(XS_MAX_NODES * 4 + 512);
    assert_non_null(many);
    n = (size_t)snprintf(many, 512, "%s<m>", HEADER);
    for (int i = 0; i < XS_MAX_NODES + 1; i++) {
        memcpy(many + n, "<a/>", 4);
        n += 4;
    }
    many[n] = '\0';
    refused(many, "too many elements");
    free(many);
    /* size, with the stanza unfinished: expat must not buffer it all */
    n = (size_t)snprintf(big, 512, "%s<message><body>", HEADER);
    memset(big + n, 'x', XS_MAX_STANZA + 4096 - n - 1);
    big[XS_MAX_STANZA + 4096 - 1] = '\0';
    refused(big, "too large");
    /* one attribute value that never ends */
    n = (size_t)snprintf(big, 512, "%s<message to='", HEADER);
    memset(big + n, 'x', XS_MAX_STANZA + 4096 - n - 1);
    refused(big, "too large");
    free(big);
}

static void test_stop(void **state)
{
    (void)state;
    seen s = {0};
    char why[200] = "";
    xstream *x = xstream_new(on_event, &s);
    assert_non_null(x);
    assert_int_equal(feed(x, HEADER "<a/>", 0, why, sizeof why), 0);
    xstream_stop(x);
    assert_int_equal(feed(x, "<b/><c/>", 0, why, sizeof why), 0);
    assert_int_equal(s.stanzas, 1);
    xstream_free(x);
}

static void test_escape(void **state)
{
    (void)state;
    char *e = xstream_escape("a<b>&'\"\x01\tz");
    assert_non_null(e);
    assert_string_equal(e, "a&lt;b&gt;&amp;&apos;&quot;\xef\xbf\xbd\tz");
    free(e);
}

/* Every character XML 1.0's Char production leaves out, and bytes that
 * are not UTF-8, become U+FFFD: what is escaped always parses (expat
 * refuses U+FFFE and U+FFFF as Prosody's parser does, and one such
 * character from a Banter user once closed the component link). */
static void test_escape_not_xml(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"\xef\xbf\xbf", "\xef\xbf\xbd"},     /* U+FFFF */
        {"a\xef\xbf\xbe!", "a\xef\xbf\xbd!"}, /* U+FFFE */
        {"\x01\x08\x0b\x0c\x1f", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\t\n\r\x7f", "\t\n\r\x7f"}, /* allowed */
        {"\xef\xbf\xbd\xee\x80\x80\xed\x9f\xbf",
         "\xef\xbf\xbd\xee\x80\x80\xed\x9f\xbf"}, /* U+FFFD, E000, D7FF */
        {"\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf",
         "\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf"},                     /* U+1F600, U+10FFFF */
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* a surrogate: not UTF-8 */
        {"x\xff\xc3", "x\xef\xbf\xbd\xef\xbf\xbd"},               /* not UTF-8, cut */
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},                 /* overlong */
        {"\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd"},                 /* cut short at the end */
        {"<\xef\xbf\xbf&", "&lt;\xef\xbf\xbd&amp;"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *e = xstream_escape(cases[i].in);
        assert_non_null(e);
        assert_string_equal(e, cases[i].out);
        char text[512], why[200] = "";
        snprintf(text, sizeof text,
                 HEADER "<message to='bob@banter.example'><body>%s</body></message>", e);
        seen s = {0};
        xstream *x = xstream_new(on_event, &s);
        assert_non_null(x);
        if (feed(x, text, 0, why, sizeof why) != 0)
            fail_msg("case %zu does not parse: %s", i, why);
        assert_int_equal(s.stanzas, 1);
        xstream_free(x);
        free(e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream), cmocka_unit_test(test_forbidden),
        cmocka_unit_test(test_limits), cmocka_unit_test(test_stop),
        cmocka_unit_test(test_escape), cmocka_unit_test(test_escape_not_xml),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
