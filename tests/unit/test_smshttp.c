/* SPDX-License-Identifier: MIT */
/* test_smshttp.c - the SMS gateway's HTTP with Kannel's smsbox: a get-url
 * request read field by field, every refused shape, a request cut at every
 * byte, the sendsms request and the answer's status code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smshttp.h"

#define GOOD                                                                                       \
    "GET /sms?key=s3cret&from=%2B15551234567&to=%2B15550000&text=%40alice+hi%21%0Aok "             \
    "HTTP/1.1\r\nHost: 127.0.0.1:1\r\nUser-Agent: Kannel/1.4.5\r\n\r\n"

/* Parse s (a copy of exactly its length, so ASan sees over-reads). */
static int parse(const char *s, smshttp_req *r, size_t *used)
{
    size_t n = strlen(s);
    char *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, s, n);
    int ret = smshttp_parse_request(copy, n, r, used);
    free(copy);
    return ret;
}

static void test_good(void **state)
{
    (void)state;
    smshttp_req r;
    size_t used = 0;
    assert_int_equal(parse(GOOD "rest", &r, &used), 0);
    assert_int_equal(used, strlen(GOOD));
    assert_string_equal(r.key, "s3cret");
    assert_string_equal(r.from, "+15551234567");
    assert_string_equal(r.to, "+15550000");
    assert_string_equal(r.text, "@alice hi!\nok");
    assert_int_equal(r.text_len, 13);
}

static void test_cut_everywhere(void **state)
{
    (void)state;
    const char *g = GOOD;
    size_t n = strlen(g);
    for (size_t i = 0; i < n; i++) {
        char *copy = malloc(i ? i : 1);
        smshttp_req r;
        size_t used = 0;
        memcpy(copy, g, i);
        assert_int_equal(smshttp_parse_request(copy, i, &r, &used), BANTER_EAGAIN);
        free(copy);
    }
}

static void test_text(void **state)
{
    (void)state;
    smshttp_req r;
    size_t used;
    /* not UTF-8: read as ISO-8859-1; control characters become spaces */
    assert_int_equal(
        parse("GET /sms?key=k&from=123&to=456&text=caf%E9%07%0D HTTP/1.0\r\n\r\n", &r, &used), 0);
    assert_string_equal(r.text, "caf\xc3\xa9 ");
    /* UTF-8 kept as it is */
    assert_int_equal(
        parse("GET /sms?key=k&from=123&to=456&text=caf%C3%A9 HTTP/1.0\r\n\r\n", &r, &used), 0);
    assert_string_equal(r.text, "caf\xc3\xa9");
    /* the empty text */
    assert_int_equal(parse("GET /sms?text=&key=k&to=456&from=123 HTTP/1.1\r\n\r\n", &r, &used), 0);
    assert_int_equal(r.text_len, 0);
}

static void test_refused(void **state)
{
    (void)state;
    static const struct {
        const char *req;
        int err;
    } bad[] = {
        {"POST /sms?key=k&from=123&to=456&text=x HTTP/1.1\r\n\r\n", BANTER_EPROTO},
        {"GET /sms?key=k&from=123&to=456&text=x HTTP/2\r\n\r\n", BANTER_EPROTO},
        {"GET /sms?key=k&from=123&to=456&text=x\r\n\r\n", BANTER_EPROTO},
        {"GET /other?key=k&from=123&to=456&text=x HTTP/1.1\r\n\r\n", BANTER_ENOENT},
        {"GET /sms HTTP/1.1\r\n\r\n", BANTER_ESCHEMA},
        {"GET /sms?key=k&from=123&to=456 HTTP/1.1\r\n\r\n", BANTER_ESCHEMA},
        {"GET /sms?key=k&from=123&to=456&text=x&text=y HTTP/1.1\r\n\r\n", BANTER_ESCHEMA},
        {"GET /sms?key=k&from=123&to=456&text=x&id=1 HTTP/1.1\r\n\r\n", BANTER_ESCHEMA},
        {"GET /sms?key=k&from=123&to=456&text HTTP/1.1\r\n\r\n", BANTER_ESCHEMA},
        {"GET /sms?key=k&from=123&to=456&text=%0 HTTP/1.1\r\n\r\n", BANTER_ESCHEMA},
        {"GET /sms?key=k&from=123&to=456&text=%zz HTTP/1.1\r\n\r\n", BANTER_ESCHEMA},
        {"GET /sms?key=k&from=123&to=456&text=a%00b HTTP/1.1\r\n\r\n", BANTER_ESCHEMA},
        {"GET /sms?key=k&from=12&to=456&text=x HTTP/1.1\r\n\r\n", BANTER_EINVAL},
        {"GET /sms?key=k&from=12a3&to=456&text=x HTTP/1.1\r\n\r\n", BANTER_EINVAL},
        {"GET /sms?key=k&from=%2B%2B123&to=456&text=x HTTP/1.1\r\n\r\n", BANTER_EINVAL},
        {"GET /sms?key=k&from=123456789012345678901234&to=456&text=x HTTP/1.1\r\n\r\n",
         BANTER_ETOOLONG},
        {"GET /sms?key=k&from=123&to=456&text=x HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
         BANTER_EPROTO},
        {"GET /sms?key=k&from=123&to=456&text=x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
         BANTER_EPROTO},
        {"GET /sms?key=k&from=123&to=456&text=x HTTP/1.1\r\nno colon\r\n\r\n", BANTER_EPROTO},
        {"GET /sms?key=k&from=123&to=456&text=x HTTP/1.1\r\nA: b\nc\r\n\r\n", BANTER_EPROTO},
        {"GET /sms?key=k&from=123&to=456&text=\x01 HTTP/1.1\r\n\r\n", BANTER_EPROTO},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        smshttp_req r;
        size_t used = 0;
        int got = parse(bad[i].req, &r, &used);
        if (got != bad[i].err)
            fail_msg("%zu: %s: got %d, want %d", i, bad[i].req, got, bad[i].err);
    }
}

static void test_caps(void **state)
{
    (void)state;
    smshttp_req r;
    size_t used;
    /* a text of exactly the cap is read; one byte more is refused */
    size_t cap = BANTER_SMS_MAX_TEXT, n = 64 + cap + 32;
    char *req = malloc(n + 64);
    assert_non_null(req);
    int len = snprintf(req, n + 64, "GET /sms?key=k&from=123&to=456&text=");
    memset(req + len, 'a', cap);
    memcpy(req + (size_t)len + cap, " HTTP/1.1\r\n\r\n", 14);
    assert_int_equal(smshttp_parse_request(req, strlen(req), &r, &used), 0);
    assert_int_equal(r.text_len, cap);
    memset(req + len, 'a', cap + 1);
    memcpy(req + (size_t)len + cap + 1, " HTTP/1.1\r\n\r\n", 14);
    assert_int_equal(smshttp_parse_request(req, strlen(req), &r, &used), BANTER_ETOOLONG);
    free(req);
    /* no end of headers within the cap */
    char *big = malloc(BANTER_SMS_MAX_REQUEST);
    assert_non_null(big);
    memset(big, 'x', BANTER_SMS_MAX_REQUEST);
    assert_int_equal(smshttp_parse_request(big, BANTER_SMS_MAX_REQUEST, &r, &used), BANTER_ETOOBIG);
    assert_int_equal(smshttp_parse_request(big, BANTER_SMS_MAX_REQUEST - 1, &r, &used),
                     BANTER_EAGAIN);
    free(big);
}

static void test_sendsms(void **state)
{
    (void)state;
    char out[2048];
    int n = smshttp_sendsms_request(out, sizeof out, "127.0.0.1", 13013, "gw", "p&w=d", "+15550000",
                                    "+15551234567", "ann (Banter): hi & bye\n");
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(out));
    assert_string_equal(out, "GET /cgi-bin/sendsms?username=gw&password=p%26w%3Dd"
                             "&from=%2B15550000&to=%2B15551234567&charset=UTF-8"
                             "&text=ann%20%28Banter%29%3A%20hi%20%26%20bye%0A HTTP/1.0\r\n"
                             "Host: 127.0.0.1:13013\r\nConnection: close\r\n\r\n");
    assert_int_equal(smshttp_sendsms_request(out, 40, "127.0.0.1", 13013, "gw", "pw", "+1555",
                                             "+15551234567", "hi"),
                     BANTER_ETOOBIG);
    assert_int_equal(smshttp_sendsms_request(out, sizeof out, "127.0.0.1", 13013, "gw", "pw",
                                             "+1555", "+1556\r\nX: y", "hi"),
                     BANTER_EINVAL);
    assert_int_equal(smshttp_sendsms_request(out, sizeof out, "127.0.0.1", 13013, "gw", "pw",
                                             "+1555", "+15551234567", "\xff"),
                     BANTER_EINVAL);
    /* to: international only (a short code or a national number: refused) */
    static const char *const bad_to[] = {"+1556", "81010", "15551234567", "+1555123"};
    for (size_t i = 0; i < sizeof bad_to / sizeof bad_to[0]; i++)
        assert_int_equal(smshttp_sendsms_request(out, sizeof out, "127.0.0.1", 13013, "gw", "pw",
                                                 "+1555", bad_to[i], "hi"),
                         BANTER_EINVAL);
}

static void test_status(void **state)
{
    (void)state;
    int code = 0;
    assert_int_equal(smshttp_parse_status("HTTP/1.1 202 Accepted\r\n\r\n0: Accepted", 38, &code),
                     0);
    assert_int_equal(code, 202);
    assert_int_equal(smshttp_parse_status("HTTP/1.0 403\r\n", 14, &code), 0);
    assert_int_equal(code, 403);
    assert_int_equal(smshttp_parse_status("HTTP/1.1 202 Acc", 16, &code), BANTER_EAGAIN);
    assert_int_equal(smshttp_parse_status("HTTP/1.1 2x2 Accepted\r\n", 23, &code), BANTER_EPROTO);
    assert_int_equal(smshttp_parse_status("SMTP 220\r\n", 10, &code), BANTER_EPROTO);
    assert_int_equal(smshttp_parse_status("HTTP/1.1 099 x\r\n", 16, &code), BANTER_EPROTO);
}

static void test_numbers(void **state)
{
    (void)state;
    assert_true(smshttp_number_ok("+15551234567"));
    assert_true(smshttp_number_ok("123"));
    assert_false(smshttp_number_ok("12"));
    assert_false(smshttp_number_ok("+"));
    assert_false(smshttp_number_ok(""));
    assert_false(smshttp_number_ok("+1 555"));
    assert_false(smshttp_number_ok("+123456789012345678901"));
}

/* Where the gateway may send: international numbers only (a short code
 * or premium-rate service is refused), within plugin.sms.allow_prefixes. */
static void test_allowed(void **state)
{
    (void)state;
    assert_true(smshttp_number_intl("+15551234"));
    assert_true(smshttp_number_intl("+12345678901234567890"));
    assert_false(smshttp_number_intl("+1555123")); /* 7 digits */
    assert_false(smshttp_number_intl("81010"));    /* a short code */
    assert_false(smshttp_number_intl("+81010"));
    assert_false(smshttp_number_intl("0900123456")); /* national, no country */
    assert_false(smshttp_number_intl("+123456789012345678901"));
    assert_false(smshttp_number_intl("+1555123456x"));
    assert_false(smshttp_number_intl(""));
    assert_true(smshttp_number_allowed("+33612345678", NULL));
    assert_true(smshttp_number_allowed("+33612345678", ""));
    assert_false(smshttp_number_allowed("3669", NULL));
    assert_true(smshttp_number_allowed("+33612345678", "+33,+49"));
    assert_true(smshttp_number_allowed("+4915112345678", " +33 , +49 "));
    assert_false(smshttp_number_allowed("+15551234567", "+33,+49"));
    assert_false(smshttp_number_allowed("+3361234567", "+336123456789")); /* longer prefix */
    assert_false(smshttp_number_allowed("+3361", "+33"));                 /* not international */
    assert_true(smshttp_prefixes_ok(NULL));
    assert_true(smshttp_prefixes_ok(""));
    assert_true(smshttp_prefixes_ok("+1"));
    assert_true(smshttp_prefixes_ok("+33,+49, +4930"));
    static const char *const bad[] = {"33",
                                      "+",
                                      "+33,",
                                      ",+33",
                                      "+33,,+49",
                                      "+3 3",
                                      "+3a",
                                      "+33;",
                                      " ",
                                      "+33 +49",
                                      "+12345678901234567890"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(smshttp_prefixes_ok(bad[i]));
        assert_false(smshttp_number_allowed("+33612345678", bad[i])); /* never: a bad list */
    }
    char many[SMSHTTP_PREFIX_MAX * 5 + 8] = "";
    for (int i = 0; i <= SMSHTTP_PREFIX_MAX; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s+%d", i ? "," : "", i + 10);
    assert_false(smshttp_prefixes_ok(many)); /* one item too many */
    *strrchr(many, ',') = '\0';
    assert_true(smshttp_prefixes_ok(many));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),    cmocka_unit_test(test_cut_everywhere),
        cmocka_unit_test(test_text),    cmocka_unit_test(test_refused),
        cmocka_unit_test(test_caps),    cmocka_unit_test(test_sendsms),
        cmocka_unit_test(test_status),  cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_allowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
