/* SPDX-License-Identifier: MIT */
/*
 * test_peer_rdv.c - the pure parts of the node's rendezvous support:
 * fingerprints as people type them (--server-key), search criteria as the
 * CLI and the control socket take them ("field=value", "field~value"), the
 * profile value rules, the control socket's error names, and the
 * service as --rendezvous takes it (a list of instances or an SRV name).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rdv/rdv.h"
#include <cJSON.h>

#include "ui/rdvctl.h"

#define FP_SPACED "07251 62508 23159 42536 74156 24822 86418 51830"
#define FP_DIGITS "0725162508231594253674156248228641851830"

static void test_service(void **state)
{
    rdv_config c;
    char why[300];
    (void)state;
    assert_int_equal(rdv_parse_service("rdv.example.com:7071", &c, why, sizeof why), 0);
    assert_int_equal(c.ntargets, 1);
    assert_string_equal(c.targets[0].host, "rdv.example.com");
    assert_int_equal(c.targets[0].port, 7071);
    assert_string_equal(c.srv, "");
    assert_int_equal(rdv_parse_service("127.0.0.1:1,[::1]:7072,b:65535", &c, why, sizeof why), 0);
    assert_int_equal(c.ntargets, 3);
    assert_string_equal(c.targets[1].host, "::1");
    assert_int_equal(c.targets[1].port, 7072);
    assert_string_equal(c.targets[2].host, "b");
    assert_int_equal(rdv_parse_service("_banter._tcp.example.com", &c, why, sizeof why), 0);
    assert_int_equal(c.ntargets, 0);
    assert_string_equal(c.srv, "_banter._tcp.example.com");
    assert_int_equal(rdv_parse_service("srv:rdv.example.com", &c, why, sizeof why), 0);
    assert_string_equal(c.srv, "rdv.example.com");
    /* Refused, naming the bad part. */
    const char *bad[] = {
        "",      "host",  "host:", "host:0",  "host:65536", "host:+1", "a:1,", ",a:1", "::1:7071",
        "[::1]", "a:1,b", "srv:",  "srv:a b", "_x._tcp:1",  "srv:a,b", "a:-1", "a:1x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        assert_int_not_equal(rdv_parse_service(bad[i], &c, why, sizeof why), 0);
        assert_true(why[0] != '\0');
    }
    char many[400];
    size_t o = 0;
    for (int i = 0; i < 17; i++)
        o += (size_t)snprintf(many + o, sizeof many - o, "%sh:1", i ? "," : "");
    assert_int_not_equal(rdv_parse_service(many, &c, why, sizeof why), 0);
    assert_non_null(strstr(why, "more than 16"));
    many[strlen(many) - 4] = '\0'; /* 16: fine */
    assert_int_equal(rdv_parse_service(many, &c, why, sizeof why), 0);
    assert_int_equal(c.ntargets, 16);
}

static void test_fingerprint_forms(void **state)
{
    char out[IDENTITY_FP_DIGITS + 1], back[IDENTITY_FP_LEN + 1];
    (void)state;
    assert_int_equal(rdv_parse_fingerprint(FP_SPACED, out), 0);
    assert_string_equal(out, FP_DIGITS);
    assert_int_equal(rdv_parse_fingerprint(FP_DIGITS, out), 0);
    assert_string_equal(out, FP_DIGITS);
    /* dashes, tabs, a trailing newline (from $(cat file)), surrounding blanks */
    assert_int_equal(rdv_parse_fingerprint("07251-62508-23159-42536-74156-24822-86418-51830", out),
                     0);
    assert_string_equal(out, FP_DIGITS);
    assert_int_equal(rdv_parse_fingerprint("  " FP_SPACED "\n", out), 0);
    assert_string_equal(out, FP_DIGITS);
    rdv_format_fingerprint(out, back);
    assert_string_equal(back, FP_SPACED);
}

static void test_fingerprint_refused(void **state)
{
    char out[IDENTITY_FP_DIGITS + 1];
    (void)state;
    assert_int_equal(rdv_parse_fingerprint("", out), BANTER_EINVAL);
    assert_int_equal(rdv_parse_fingerprint("07251 62508", out), BANTER_EINVAL); /* too short */
    assert_int_equal(rdv_parse_fingerprint(FP_DIGITS "1", out), BANTER_EINVAL); /* too long */
    assert_int_equal(rdv_parse_fingerprint(FP_DIGITS "12345678901234567890", out), BANTER_EINVAL);
    assert_int_equal(rdv_parse_fingerprint("0725a62508231594253674156248228641851830", out),
                     BANTER_EINVAL);
    assert_int_equal(rdv_parse_fingerprint("07251:62508:23159:42536:74156:24822:86418:51830", out),
                     BANTER_EINVAL);
}

static void test_criterion_ok(void **state)
{
    struct rv_criterion c;
    char why[300];
    (void)state;
    assert_int_equal(rdv_parse_criterion("department=Research", &c, why, sizeof why), 0);
    assert_int_equal(c.field, RV_F_DEPARTMENT);
    assert_false(c.contains);
    assert_string_equal(c.value, "Research");

    assert_int_equal(rdv_parse_criterion("display_name~ada", &c, why, sizeof why), 0);
    assert_int_equal(c.field, RV_F_DISPLAY_NAME);
    assert_true(c.contains);
    assert_string_equal(c.value, "ada");

    /* The account name is a field; the first '=' or '~' splits. */
    assert_int_equal(rdv_parse_criterion("user=ada", &c, why, sizeof why), 0);
    assert_int_equal(c.field, RV_F_COUNT);
    assert_int_equal(rdv_parse_criterion("email=a=b@x", &c, why, sizeof why), 0);
    assert_int_equal(c.field, RV_F_EMAIL);
    assert_string_equal(c.value, "a=b@x");
    assert_int_equal(rdv_parse_criterion("about~x=y~z", &c, why, sizeof why), 0);
    assert_true(c.contains);
    assert_string_equal(c.value, "x=y~z");
    assert_int_equal(rdv_parse_criterion("location=Zürich Süd", &c, why, sizeof why), 0);
    assert_string_equal(c.value, "Zürich Süd");
}

static void test_criterion_refused(void **state)
{
    struct rv_criterion c;
    char why[300], long_value[200];
    (void)state;
    assert_int_equal(rdv_parse_criterion("ada", &c, why, sizeof why), BANTER_EINVAL);
    assert_non_null(strstr(why, "\"ada\": expected FIELD=VALUE"));
    assert_int_equal(rdv_parse_criterion("shoe_size=42", &c, why, sizeof why), BANTER_EINVAL);
    assert_non_null(strstr(why, "unknown field"));
    assert_int_equal(rdv_parse_criterion("=x", &c, why, sizeof why), BANTER_EINVAL);
    assert_int_equal(rdv_parse_criterion("Department=x", &c, why, sizeof why), BANTER_EINVAL);
    assert_int_equal(rdv_parse_criterion("title=", &c, why, sizeof why), BANTER_EINVAL);
    assert_int_equal(rdv_parse_criterion("title~a\tb", &c, why, sizeof why), BANTER_EINVAL);
    assert_int_equal(rdv_parse_criterion("title~\xff", &c, why, sizeof why), BANTER_EINVAL);
    memset(long_value, 'a', sizeof long_value);
    memcpy(long_value, "title=", 6);
    long_value[sizeof long_value - 1] = '\0';
    assert_int_equal(rdv_parse_criterion(long_value, &c, why, sizeof why), BANTER_EINVAL);
    long_value[6 + sizeof c.value - 1] = '\0'; /* exactly the longest value */
    assert_int_equal(rdv_parse_criterion(long_value, &c, why, sizeof why), 0);
}

static void test_profile_values(void **state)
{
    char why[300], v[600];
    (void)state;
    /* the department is the organisation's (its admins set it), set or cleared */
    assert_int_equal(rdv_check_value(RV_F_DEPARTMENT, "Research", why, sizeof why), BANTER_EPERM);
    assert_non_null(strstr(why, "department is set by your organisation's admins"));
    assert_int_equal(rdv_check_value(RV_F_DEPARTMENT, "", why, sizeof why), BANTER_EPERM);
    assert_int_equal(rdv_check_value(RV_F_TITLE, "", why, sizeof why), 0); /* clears */
    assert_int_equal(rdv_check_value(RV_F_ABOUT, "line one\nline two", why, sizeof why), 0);
    assert_int_equal(rdv_check_value(RV_F_ABOUT, "\x1b[2J", why, sizeof why), BANTER_EINVAL);
    assert_int_equal(rdv_check_value(RV_F_ABOUT,
                                     "\xc2\x9b"
                                     "2J",
                                     why, sizeof why),
                     BANTER_EINVAL);
    assert_int_equal(rdv_check_value(RV_F_TITLE, "a\nb", why, sizeof why), BANTER_EINVAL);
    assert_int_equal(rdv_check_value(RV_F_TITLE, "\xc3", why, sizeof why), BANTER_EINVAL);
    assert_int_equal(rdv_check_value(RV_F_COUNT, "ada", why, sizeof why), BANTER_EINVAL);
    memset(v, 'x', sizeof v);
    v[32] = '\0';
    assert_int_equal(rdv_check_value(RV_F_PHONE, v, why, sizeof why), 0);
    v[32] = 'x';
    v[33] = '\0';
    assert_int_equal(rdv_check_value(RV_F_PHONE, v, why, sizeof why), BANTER_EINVAL);
    assert_non_null(strstr(why, "phone must be at most 32 bytes"));
    v[33] = 'x';
    v[512] = '\0';
    assert_int_equal(rdv_check_value(RV_F_ABOUT, v, why, sizeof why), 0);
    v[512] = 'x';
    v[513] = '\0';
    assert_int_equal(rdv_check_value(RV_F_ABOUT, v, why, sizeof why), BANTER_EINVAL);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(rdv_errname(RDV_ENOTCONN), "ENOTCONN");
    assert_string_equal(rdv_errname(RDV_ENOTAUTH), "ENOTAUTH");
    assert_string_equal(rdv_errname(RDV_EAUTH), "EAUTH");
    assert_string_equal(rdv_errname(RDV_ESERVER), "ESERVER");
    assert_string_equal(rdv_errname(RDV_ETIMEDOUT), "ETIMEDOUT");
    assert_true(rdvctl_owns(CTL_LOGIN));
    assert_true(rdvctl_owns(CTL_RENDEZVOUS));
    assert_true(rdvctl_owns(CTL_PROFILE_SET));
    assert_true(rdvctl_owns(CTL_ORG_BROADCAST));
    assert_false(rdvctl_owns(CTL_SEND));
    assert_false(rdvctl_owns(CTL_HISTORY));
}

/* Without a rendezvous, the status says so and every other request names
 * the fix; a password in the request is wiped either way. */
static void test_not_configured(void **state)
{
    rdvctl_wait *w = NULL;
    ctl_request q;
    char why[CTL_WHY_CAP];
    buf out;
    (void)state;
    buf_init(&out, 1u << 20);
    q = (ctl_request){.kind = CTL_RENDEZVOUS};
    assert_int_equal(rdvctl_request(NULL, NULL, &q, &out, NULL, NULL, &w), 0);
    assert_null(w);
    cJSON *st = cJSON_ParseWithLength((const char *)buf_data(&out), buf_len(&out));
    assert_non_null(st);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "ok")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(st, "configured")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(st, "user")));
    cJSON_Delete(st);
    buf_consume(&out, buf_len(&out));

    static const char login[] = "{\"cmd\":\"login\",\"user\":\"ada\",\"password\":\"s3cret\"}";
    assert_int_equal(ctlmsg_decode(&q, login, sizeof login - 1, why, sizeof why), 0);
    assert_int_equal(rdvctl_request(NULL, NULL, &q, &out, NULL, NULL, &w), 0);
    assert_null(w);
    cJSON *r = cJSON_ParseWithLength((const char *)buf_data(&out), buf_len(&out));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(r, "error")->valuestring, "ENOTCONF");
    assert_non_null(strstr(cJSON_GetObjectItemCaseSensitive(r, "message")->valuestring,
                           "--rendezvous HOST:PORT --server-key FINGERPRINT"));
    assert_int_equal(q.u.login.password[0], '\0');
    cJSON_Delete(r);
    ctl_request_clear(&q);
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_service),
        cmocka_unit_test(test_fingerprint_forms),
        cmocka_unit_test(test_fingerprint_refused),
        cmocka_unit_test(test_criterion_ok),
        cmocka_unit_test(test_criterion_refused),
        cmocka_unit_test(test_profile_values),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_not_configured),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
