/* SPDX-License-Identifier: MIT */
/* test_utf8.c - strict UTF-8 validation: valid forms, every refused form, and an exhaustive
 * comparison with the well-formed byte sequences of Unicode Table 3-7. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "utf8.h"

/* utf8_valid over a string literal's bytes (without its terminator). */
#define VALID(lit) utf8_valid(lit, sizeof(lit) - 1)

/* The same check over a copy in a heap block of exactly len bytes, so that
 * AddressSanitizer catches any read past the end. */
static bool valid_exact(const void *p, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, p, len);
    bool ok = utf8_valid((const char *)copy, len);
    free(copy);
    return ok;
}

/* Encode code point cp (any value up to 0x1fffff, surrogates included) in
 * the shortest form; returns the length. */
static size_t encode(uint32_t cp, uint8_t out[4])
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xc0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xe0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

static void test_valid(void **state)
{
    (void)state;
    assert_true(utf8_valid("", 0));
    assert_true(utf8_valid(NULL, 0));
    assert_true(VALID("hello, world"));
    assert_true(VALID("\x7f"));
    /* NUL is a valid character: the length decides, not a terminator. */
    assert_true(VALID("a\0b"));
    /* 2-byte: U+0080, U+00E9, U+07FF. */
    assert_true(VALID("\xc2\x80"));
    assert_true(VALID("caf\xc3\xa9"));
    assert_true(VALID("\xdf\xbf"));
    /* 3-byte: U+0800, U+20AC, U+D7FF (below the surrogates), U+E000 (above),
     * U+FFFD, U+FFFF. */
    assert_true(VALID("\xe0\xa0\x80"));
    assert_true(VALID("\xe2\x82\xac"));
    assert_true(VALID("\xed\x9f\xbf"));
    assert_true(VALID("\xee\x80\x80"));
    assert_true(VALID("\xef\xbf\xbd"));
    assert_true(VALID("\xef\xbf\xbf"));
    /* 4-byte: U+10000, U+1D11E, U+1F600, U+10FFFF. */
    assert_true(VALID("\xf0\x90\x80\x80"));
    assert_true(VALID("\xf0\x9d\x84\x9e"));
    assert_true(VALID("\xf0\x9f\x98\x80"));
    assert_true(VALID("\xf4\x8f\xbf\xbf"));
    /* Mixed. */
    assert_true(VALID("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z"));
    /* Only len bytes are looked at: a valid prefix of an invalid string. */
    assert_true(utf8_valid("ab\xff", 2));
    assert_true(utf8_valid("\xe2\x82\xac\xe2\x82", 3));
}

static void test_overlong(void **state)
{
    (void)state;
    assert_false(VALID("\xc0\x80"));
    assert_false(VALID("\xc0\xaf")); /* '/' */
    assert_false(VALID("\xc1\xbf"));
    assert_false(VALID("\xe0\x80\x80"));
    assert_false(VALID("\xe0\x80\xaf"));
    assert_false(VALID("\xe0\x9f\xbf")); /* U+07FF in three bytes */
    assert_false(VALID("\xf0\x80\x80\x80"));
    assert_false(VALID("\xf0\x80\x80\xaf"));
    assert_false(VALID("\xf0\x8f\xbf\xbf")); /* U+FFFF in four bytes */
    /* Inside otherwise valid text. */
    assert_false(VALID("abc\xc0\x80xyz"));
}

static void test_surrogates_and_range(void **state)
{
    (void)state;
    assert_false(VALID("\xed\xa0\x80")); /* U+D800 */
    assert_false(VALID("\xed\xad\xbf")); /* U+DB7F */
    assert_false(VALID("\xed\xb0\x80")); /* U+DC00 */
    assert_false(VALID("\xed\xbf\xbf")); /* U+DFFF */
    /* A surrogate pair written as two 3-byte forms (CESU-8). */
    assert_false(VALID("\xed\xa0\xbd\xed\xb8\x80"));
    /* Above U+10FFFF. */
    assert_false(VALID("\xf4\x90\x80\x80"));
    assert_false(VALID("\xf4\xbf\xbf\xbf"));
    assert_false(VALID("\xf7\xbf\xbf\xbf"));
}

static void test_bad_bytes(void **state)
{
    (void)state;
    /* Lone continuation bytes, alone and after valid text. */
    assert_false(VALID("\x80"));
    assert_false(VALID("\xbf"));
    assert_false(VALID("a\x80"));
    assert_false(VALID("\xc3\xa9\xa9"));
    assert_false(VALID("\xe2\x82\xac\x80"));
    /* F5..FF never appear in UTF-8, alone or followed by continuations. */
    for (unsigned c = 0xf5; c <= 0xff; c++) {
        uint8_t s[4] = {(uint8_t)c, 0x80, 0x80, 0x80};
        assert_false(valid_exact(s, 1));
        assert_false(valid_exact(s, 2));
        assert_false(valid_exact(s, 4));
    }
    /* A lead byte followed by something that is not a continuation. */
    assert_false(VALID("\xc3("));
    assert_false(VALID("\xe2\x82("));
    assert_false(VALID("\xf0\x9f\x98("));
    assert_false(VALID("\xe2\xc3\xa9"));
}

static void test_truncated(void **state)
{
    (void)state;
    /* Every proper prefix of a multi-byte character is refused, at the end
     * of the input where a read past it would be the bug. */
    const char *whole[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf"};
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++) {
        size_t n = strlen(whole[i]);
        assert_true(valid_exact(whole[i], n));
        for (size_t k = 1; k < n; k++) {
            char s[8] = "ab";
            memcpy(s + 2, whole[i], k);
            assert_false(valid_exact(whole[i], k));
            assert_false(valid_exact(s, 2 + k));
        }
    }
}

/* The well-formed byte sequences of The Unicode Standard, Table 3-7,
 * written independently of the code under test. */
static size_t table37_len(const uint8_t *s, size_t len)
{
    uint8_t b0 = s[0];
    uint8_t lo = 0x80, hi = 0xbf;
    size_t n;
    if (b0 <= 0x7f)
        return 1;
    if (b0 >= 0xc2 && b0 <= 0xdf)
        n = 2;
    else if (b0 >= 0xe0 && b0 <= 0xef)
        n = 3;
    else if (b0 >= 0xf0 && b0 <= 0xf4)
        n = 4;
    else
        return 0;
    if (b0 == 0xe0)
        lo = 0xa0;
    else if (b0 == 0xed)
        hi = 0x9f;
    else if (b0 == 0xf0)
        lo = 0x90;
    else if (b0 == 0xf4)
        hi = 0x8f;
    if (len < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < n; k++)
        if (s[k] < 0x80 || s[k] > 0xbf)
            return 0;
    return n;
}

static bool table37_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t n = table37_len(s + i, len - i);
        if (!n)
            return false;
        i += n;
    }
    return true;
}

static void test_exhaustive_short(void **state)
{
    (void)state;
    uint8_t s[4];
    size_t accepted = 0;
    /* Every 1- and 2-byte input. */
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (uint8_t)a;
        assert_int_equal(utf8_valid((const char *)s, 1), table37_valid(s, 1));
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (uint8_t)b;
            bool ok = utf8_valid((const char *)s, 2);
            if (ok != table37_valid(s, 2))
                fail_msg("%02x %02x: utf8_valid says %d", a, b, ok);
        }
    }
    /* Every 3-byte input whose first byte is a 3-byte or 4-byte lead, and
     * every 4-byte input with a 4-byte lead and continuation bytes
     * (or one byte just outside that range) after it. */
    for (unsigned a = 0xe0; a <= 0xff; a++) {
        s[0] = (uint8_t)a;
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (uint8_t)b;
            for (unsigned c = 0; c < 256; c++) {
                s[2] = (uint8_t)c;
                bool ok = utf8_valid((const char *)s, 3);
                if (ok != table37_valid(s, 3))
                    fail_msg("%02x %02x %02x: utf8_valid says %d", a, b, c, ok);
                accepted += ok;
            }
        }
    }
    assert_int_equal(accepted, 0xffff - 0x800 + 1 - 0x800); /* U+0800..U+FFFF minus surrogates */
    for (unsigned a = 0xf0; a <= 0xf7; a++) {
        s[0] = (uint8_t)a;
        for (unsigned b = 0x7f; b <= 0xc0; b++) {
            s[1] = (uint8_t)b;
            for (unsigned c = 0x7f; c <= 0xc0; c++) {
                s[2] = (uint8_t)c;
                for (unsigned d = 0x7f; d <= 0xc0; d++) {
                    s[3] = (uint8_t)d;
                    bool ok = utf8_valid((const char *)s, 4);
                    if (ok != table37_valid(s, 4))
                        fail_msg("%02x %02x %02x %02x: utf8_valid says %d", a, b, c, d, ok);
                }
            }
        }
    }
}

static void test_every_code_point(void **state)
{
    (void)state;
    /* Every scalar value's shortest form is accepted; every surrogate and
     * everything up to 0x1fffff past U+10FFFF is refused. */
    uint8_t s[4];
    for (uint32_t cp = 0; cp <= 0x1fffff; cp++) {
        size_t n = encode(cp, s);
        bool want = cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
        if (utf8_valid((const char *)s, n) != want)
            fail_msg("U+%04X", (unsigned)cp);
    }
}

/* Untrusted text quoted for messages: printable, escaped, cut. */
static void test_quote(void **state)
{
    (void)state;
    char q[UTF8_QUOTE_CAP];
    utf8_quote(q, "a\x01\"b\\\xff\xc3\xa9", 8);
    assert_string_equal(q, "\"a\\x01\\\"b\\\\\\xff\xc3\xa9\"");
    char long_in[200];
    memset(long_in, 'x', sizeof long_in);
    utf8_quote(q, long_in, sizeof long_in);
    assert_int_equal(strlen(q), 1 + UTF8_QUOTE_MAX + 3 + 1);
    assert_memory_equal(q + 1 + UTF8_QUOTE_MAX, "...\"", 4);
    utf8_quote(q, "", 0);
    assert_string_equal(q, "\"\"");
}

/* Control characters (C0, DEL, C1; '\n' and '\t' only with lines):
 * found, escaped for a terminal (\xNN) and for JSON (\u00NN), masked. */
/* Invisible characters: found and dropped; everything else kept. */
static void test_invisible(void **state)
{
    (void)state;
    assert_true(utf8_invisible(0x200b) && utf8_invisible(0x202e) && utf8_invisible(0x2066) &&
                utf8_invisible(0x061c) && utf8_invisible(0xfeff) && utf8_invisible(0xe0001) &&
                utf8_invisible(0x00ad) && utf8_invisible(0xfe0f));
    assert_false(utf8_invisible('a') || utf8_invisible(0x00a0) || utf8_invisible(0x05d0) ||
                 utf8_invisible(0x1f600) || utf8_invisible(0xe1000));
    assert_true(utf8_no_invisible("plain \xc3\xa9", 8));
    assert_false(utf8_no_invisible("a\xe2\x80\x8b", 4));
    assert_false(utf8_no_invisible("a\xff", 2)); /* not UTF-8 */
    char s[32];
    snprintf(s, sizeof s, "%s",
             "\xe2\x80\xae"
             "a\xf3\xa0\x80\x81"
             "b\xc2\xad"
             "c");
    assert_int_equal(utf8_drop_invisible(s), 3);
    assert_string_equal(s, "abc");
    snprintf(s, sizeof s, "%s", "x\xffy\xe2\x80\x8b");
    assert_int_equal(utf8_drop_invisible(s), 3);
    assert_string_equal(s, "x\xffy");
}

static void test_controls(void **state)
{
    (void)state;
    char out[UTF8_ESCAPE_MAX(64)];
    static const char evil[] = "a\x1b[31mred\r\x7f\xc2\x9b"
                               "2J\tb\nc\xc3\xa9\xe2\x82\xac";
    assert_false(utf8_no_controls(evil, sizeof evil - 1, true));
    assert_true(utf8_no_controls("tab\tnew\nline \xc2\xa0\xc3\xa9", 17, true));
    assert_false(utf8_no_controls("tab\t", 4, false));
    assert_false(utf8_no_controls("\xc2\x80", 2, true)); /* U+0080 */
    assert_false(utf8_no_controls("\xc2\x9f", 2, true)); /* U+009F */
    assert_true(utf8_no_controls("\xc2\xa0", 2, true));  /* U+00A0 is text */
    assert_false(utf8_no_controls("\xff", 1, true));     /* not UTF-8 */
    assert_false(utf8_no_controls("a\0b", 3, true));
    assert_true(utf8_no_controls("", 0, false));
    size_t n = utf8_escape(out, sizeof out, evil, sizeof evil - 1, UTF8_ESC_TERM);
    assert_string_equal(out, "a\\x1b[31mred\\x0d\\x7f\\x9b"
                             "2J\tb\nc\xc3\xa9\xe2\x82\xac");
    assert_int_equal(n, strlen(out));
    n = utf8_escape(out, sizeof out, evil, sizeof evil - 1, UTF8_ESC_JSON);
    assert_string_equal(out, "a\\u001b[31mred\\u000d\\u007f\\u009b"
                             "2J\\u0009b\\u000ac\xc3\xa9\xe2\x82\xac");
    utf8_escape(out, sizeof out, "x\xff\xc3y\0z", 6, UTF8_ESC_TERM);
    assert_string_equal(out, "x\\xff\\xc3y\\x00z");
    utf8_escape(out, sizeof out, "x\xffy", 3, UTF8_ESC_JSON);
    assert_string_equal(out, "x\\ufffdy");
    /* cut before an escape or a character that does not fit, as snprintf */
    assert_int_equal(utf8_escape(out, 5, "ab\x1b", 3, UTF8_ESC_TERM), 6);
    assert_string_equal(out, "ab");
    assert_int_equal(utf8_escape(out, 3, "a\xc3\xa9", 3, UTF8_ESC_TERM), 3);
    assert_string_equal(out, "a");
    assert_int_equal(utf8_escape(NULL, 0, "\x1b", 1, UTF8_ESC_JSON), 6);
    assert_int_equal(utf8_escape(out, sizeof out, "", 0, UTF8_ESC_TERM), 0);
    assert_string_equal(out, "");
    /* masked in place: one '?' each */
    char m[] = "a\x1b[1m\xc2\x9b\tb\nc\xff\xc3\xa9";
    assert_int_equal(utf8_mask_controls(m, true), 13);
    assert_string_equal(m, "a?[1m?\tb\nc?\xc3\xa9");
    char m2[] = "a\tb\nc";
    utf8_mask_controls(m2, false);
    assert_string_equal(m2, "a?b?c");
}

/* Every code point alone: a control exactly when it is in C0 (but '\n'
 * and '\t' with lines), DEL or C1; escaped to \xNN and \u00NN with its
 * value, anything else left as it is; nothing escaped for a terminal
 * leaves a control byte but '\n' and '\t'. */
static void test_controls_every_code_point(void **state)
{
    (void)state;
    for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
        if (cp >= 0xd800 && cp <= 0xdfff)
            continue;
        uint8_t b[4];
        char out[UTF8_ESCAPE_MAX(4)], want[16];
        size_t len = encode(cp, b);
        bool control = cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
        bool line = cp == '\n' || cp == '\t';
        assert_int_equal(utf8_no_controls((const char *)b, len, true), !control || line);
        assert_int_equal(utf8_no_controls((const char *)b, len, false), !control);
        utf8_escape(out, sizeof out, (const char *)b, len, UTF8_ESC_TERM);
        if (control && !line)
            snprintf(want, sizeof want, "\\x%02x", (unsigned)cp);
        else
            memcpy(want, b, len), want[len] = '\0';
        assert_string_equal(out, want);
        for (const char *p = out; *p; p++) {
            unsigned char c = (unsigned char)*p;
            assert_true(c >= 0x20 || c == '\n' || c == '\t');
            assert_true(c != 0x7f && !(c == 0xc2 && (unsigned char)p[1] < 0xa0));
        }
        utf8_escape(out, sizeof out, (const char *)b, len, UTF8_ESC_JSON);
        if (control)
            snprintf(want, sizeof want, "\\u%04x", (unsigned)cp);
        else
            memcpy(want, b, len), want[len] = '\0';
        assert_string_equal(out, want);
    }
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quote),
        cmocka_unit_test(test_invisible),
        cmocka_unit_test(test_controls),
        cmocka_unit_test(test_controls_every_code_point),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_overlong),
        cmocka_unit_test(test_surrogates_and_range),
        cmocka_unit_test(test_bad_bytes),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_exhaustive_short),
        cmocka_unit_test(test_every_code_point),
    };
    return cmocka_run_group_tests_name("utf8", tests, NULL, NULL);
}
