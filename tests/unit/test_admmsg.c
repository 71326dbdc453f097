/* SPDX-License-Identifier: MIT */
/*
 * test_admmsg.c - the admin protocol's codec: round trips of requests and
 * results, the command table's argument rules, and each refusal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "admmsg.h"

static int decode_text(adm_request *r, const char *json)
{
    uint8_t pt[4096];
    size_t n = strlen(json);
    pt[0] = ADM_REQUEST;
    memcpy(pt + 1, json, n);
    return adm_request_decode(r, pt, n + 1);
}

static void test_request_roundtrip(void **state)
{
    (void)state;
    adm_request r = {.id = 42, .cmd = ADM_USER_ADD}, d;
    snprintf(r.name, sizeof r.name, "ann");
    snprintf(r.password, sizeof r.password, "pass word");
    r.admin = true;
    r.has = ADM_BIT(ADM_A_NAME) | ADM_BIT(ADM_A_PASSWORD) | ADM_BIT(ADM_A_ADMIN);
    buf b;
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    assert_int_equal(adm_request_encode(&r, &b), 0);
    assert_int_equal(buf_data(&b)[0], ADM_REQUEST);
    assert_int_equal(adm_request_decode(&d, buf_data(&b), buf_len(&b)), 0);
    assert_int_equal(d.id, 42);
    assert_int_equal(d.cmd, ADM_USER_ADD);
    assert_int_equal(d.has, r.has);
    assert_string_equal(d.name, "ann");
    assert_string_equal(d.password, "pass word");
    assert_true(d.admin);
    assert_false(d.reuse_name);
    adm_request_clear(&d);
    assert_int_equal(d.password[0], 0);
    /* reuse_name, a second yes/no: its own slot */
    r.admin = false;
    r.reuse_name = true;
    r.has |= ADM_BIT(ADM_A_REUSE);
    buf_truncate(&b, 0);
    assert_int_equal(adm_request_encode(&r, &b), 0);
    assert_int_equal(adm_request_decode(&d, buf_data(&b), buf_len(&b)), 0);
    assert_true(d.reuse_name && !d.admin);
    adm_request_clear(&d);
    assert_int_equal(decode_text(&d, "{\"id\":1,\"cmd\":\"user.add\",\"args\":{\"name\":\"a\","
                                     "\"password\":\"p\",\"reuse_name\":1}}"),
                     BANTER_ESCHEMA); /* not a bool */
    assert_int_equal(decode_text(&d, "{\"id\":1,\"cmd\":\"user.delete\",\"args\":{\"name\":\"a\","
                                     "\"reuse_name\":true}}"),
                     BANTER_ESCHEMA); /* not an argument of user.delete */
    buf_free(&b);
}

static void test_request_rules(void **state)
{
    (void)state;
    adm_request r;
    assert_int_equal(decode_text(&r, "{\"id\":1,\"cmd\":\"status\",\"args\":{}}"), 0);
    assert_int_equal(r.cmd, ADM_STATUS);
    assert_int_equal(decode_text(&r, "{\"id\":1,\"cmd\":\"audit.tail\",\"args\":{\"count\":5}}"),
                     0);
    assert_int_equal(r.count, 5);
    assert_int_equal(
        decode_text(&r, "{\"id\":1,\"cmd\":\"user.set\",\"args\":{\"name\":\"a\",\"field\":"
                        "\"department\",\"value\":\"\"}}"),
        0);
    assert_int_equal(
        decode_text(&r, "{\"id\":1,\"cmd\":\"plugin.restart\",\"args\":{\"name\":\"sms\"}}"), 0);
    assert_int_equal(r.cmd, ADM_PLUGIN_RESTART);
    assert_string_equal(r.name, "sms");
    assert_int_equal(decode_text(&r, "{\"id\":1,\"cmd\":\"plugin.restart\",\"args\":{}}"),
                     BANTER_ESCHEMA);
    assert_int_equal(
        decode_text(&r, "{\"id\":1,\"cmd\":\"plugin.enable\",\"args\":{\"name\":\"../x\"}}"),
        BANTER_ESCHEMA);
    /* unknown command, argument not allowed, argument missing */
    assert_int_equal(decode_text(&r, "{\"id\":1,\"cmd\":\"rm.rf\",\"args\":{}}"), BANTER_ESCHEMA);
    assert_int_equal(decode_text(&r, "{\"id\":1,\"cmd\":\"status\",\"args\":{\"name\":\"a\"}}"),
                     BANTER_ESCHEMA);
    assert_int_equal(decode_text(&r, "{\"id\":1,\"cmd\":\"user.disable\",\"args\":{}}"),
                     BANTER_ESCHEMA);
    /* values out of their rules */
    assert_int_equal(
        decode_text(&r, "{\"id\":1,\"cmd\":\"user.show\",\"args\":{\"name\":\"Ann\"}}"),
        BANTER_ESCHEMA);
    assert_int_equal(decode_text(&r, "{\"id\":1,\"cmd\":\"backup\",\"args\":{\"file\":\"a/b\"}}"),
                     BANTER_ESCHEMA);
    assert_int_equal(decode_text(&r, "{\"id\":1,\"cmd\":\"backup\",\"args\":{\"file\":\"..\"}}"),
                     BANTER_ESCHEMA);
    assert_int_equal(decode_text(&r, "{\"id\":1,\"cmd\":\"mailbox.purge\",\"args\":{\"days\":-1}}"),
                     BANTER_ESCHEMA);
    assert_int_equal(
        decode_text(&r, "{\"id\":1,\"cmd\":\"device.revoke\",\"args\":{\"fp\":\"12a\"}}"),
        BANTER_ESCHEMA);
    assert_int_equal(decode_text(&r, "{\"id\":-1,\"cmd\":\"status\",\"args\":{}}"), BANTER_ESCHEMA);
    assert_int_equal(decode_text(&r, "{\"id\":1,\"cmd\":\"status\",\"args\":{},\"x\":1}"),
                     BANTER_ESCHEMA);
    assert_int_equal(decode_text(&r, "{\"id\":1,\"cmd\":\"status\"}"), BANTER_ESCHEMA);
    assert_int_equal(decode_text(&r, "{\"id\":1,\"cmd\":\"status\",\"args\":{}"), BANTER_EJSON);
    /* announce: text with newlines and tabs, an optional department; no
     * other control character; the report needs an id */
    assert_int_equal(decode_text(&r, "{\"id\":1,\"cmd\":\"announce\",\"args\":{\"text\":"
                                     "\"Closed.\\n\\tBye\"}}"),
                     0);
    assert_int_equal(r.cmd, ADM_ANNOUNCE);
    assert_string_equal(r.text, "Closed.\n\tBye");
    assert_false(r.has & ADM_BIT(ADM_A_DEPARTMENT));
    assert_int_equal(decode_text(&r, "{\"id\":1,\"cmd\":\"announce\",\"args\":{\"text\":"
                                     "\"x\",\"department\":\"Sales\"}}"),
                     0);
    assert_string_equal(r.department, "Sales");
    assert_int_equal(decode_text(&r, "{\"id\":1,\"cmd\":\"announce\",\"args\":{\"text\":"
                                     "\"\\u001b[2J\"}}"),
                     BANTER_ESCHEMA);
    assert_int_equal(decode_text(&r, "{\"id\":1,\"cmd\":\"announce\",\"args\":{\"text\":\"\"}}"),
                     BANTER_ESCHEMA);
    /* C1 controls (U+009B, CSI) in a text or a department */
    assert_int_equal(decode_text(&r, "{\"id\":1,\"cmd\":\"announce\",\"args\":{\"text\":"
                                     "\"x\\u009b2J\"}}"),
                     BANTER_ESCHEMA);
    assert_int_equal(decode_text(&r, "{\"id\":1,\"cmd\":\"announce\",\"args\":{\"text\":"
                                     "\"x\",\"department\":\"S\\u009b\"}}"),
                     BANTER_ESCHEMA);
    assert_int_equal(decode_text(&r, "{\"id\":1,\"cmd\":\"announce\",\"args\":{\"text\":"
                                     "\"x\",\"department\":\"a\\nb\"}}"),
                     BANTER_ESCHEMA);
    assert_int_equal(decode_text(&r, "{\"id\":1,\"cmd\":\"announce.report\",\"args\":{}}"),
                     BANTER_ESCHEMA);
    assert_int_equal(decode_text(&r, "{\"id\":1,\"cmd\":\"announce.report\",\"args\":"
                                     "{\"announcement\":0}}"),
                     BANTER_ESCHEMA);
    assert_int_equal(decode_text(&r, "{\"id\":1,\"cmd\":\"announce.report\",\"args\":"
                                     "{\"announcement\":7}}"),
                     0);
    assert_int_equal(r.ann, 7);
    assert_false(adm_cmd_get(ADM_ANNOUNCE_REPORT)->change);
    assert_true(adm_cmd_get(ADM_ANNOUNCE)->change);
    uint8_t t = ADM_RESULT;
    assert_int_equal(adm_request_decode(&r, &t, 1), BANTER_EBADTYPE);
    assert_int_equal(adm_request_decode(&r, &t, 0), BANTER_ETRUNCATED);
}

static void test_encoder_refuses(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    adm_request r = {.cmd = ADM_USER_DISABLE};
    assert_int_equal(adm_request_encode(&r, &b), BANTER_ESCHEMA); /* no name */
    r.has = ADM_BIT(ADM_A_NAME) | ADM_BIT(ADM_A_DAYS);
    snprintf(r.name, sizeof r.name, "ann");
    assert_int_equal(adm_request_encode(&r, &b), BANTER_ESCHEMA); /* days not allowed */
    r.has = ADM_BIT(ADM_A_NAME);
    snprintf(r.name, sizeof r.name, "a b");
    assert_int_equal(adm_request_encode(&r, &b), BANTER_ESCHEMA);
    assert_int_equal(buf_len(&b), 0);
    buf_free(&b);
}

static void test_result_roundtrip(void **state)
{
    (void)state;
    char text[] = "disabled user ann\n", data[] = "{\"sessions\":2,\"list\":[1,\"x\"]}";
    adm_result r = {.id = 7, .ok = true, .text = text, .data = data}, d;
    buf b;
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    assert_int_equal(adm_result_encode(&r, &b), 0);
    assert_int_equal(adm_result_decode(&d, buf_data(&b), buf_len(&b)), 0);
    assert_int_equal(d.id, 7);
    assert_true(d.ok);
    assert_string_equal(d.text, text);
    assert_string_equal(d.data, data);
    adm_result_clear(&d);
    buf_free(&b);

    adm_result e = {.id = 8, .ok = false};
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    assert_int_equal(adm_result_encode(&e, &b), BANTER_ESCHEMA); /* an error needs a code */
    snprintf(e.error, sizeof e.error, "EPERM");
    assert_int_equal(adm_result_encode(&e, &b), 0);
    assert_int_equal(adm_result_decode(&d, buf_data(&b), buf_len(&b)), 0);
    assert_false(d.ok);
    assert_string_equal(d.error, "EPERM");
    assert_null(d.text);
    assert_null(d.data);
    adm_result_clear(&d);
    buf_free(&b);

    char bad[] = "[1,2]";
    adm_result f = {.id = 1, .ok = true, .data = bad};
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    assert_int_not_equal(adm_result_encode(&f, &b), 0); /* data must be an object */
    buf_free(&b);
}

static void test_table(void **state)
{
    (void)state;
    for (int c = 0; c < ADM_CMD_COUNT; c++) {
        const adm_cmd_info *ci = adm_cmd_get((adm_cmd)c);
        assert_non_null(ci->wire);
        assert_int_equal(adm_cmd_find(ci->wire), c);
        assert_int_equal(ci->need & ~ci->allow, 0);
    }
    assert_false(adm_cmd_get(ADM_STATUS)->change);
    assert_false(adm_cmd_get(ADM_AUDIT_VERIFY)->change);
    assert_true(adm_cmd_get(ADM_USER_DISABLE)->change);
    /* plug-ins: an auditor may list, not change */
    assert_false(adm_cmd_get(ADM_PLUGIN_LIST)->change);
    assert_true(adm_cmd_get(ADM_PLUGIN_ENABLE)->change);
    assert_true(adm_cmd_get(ADM_PLUGIN_DISABLE)->change);
    assert_true(adm_cmd_get(ADM_PLUGIN_RESTART)->change);
    assert_int_equal(adm_cmd_find("plugin.restart"), ADM_PLUGIN_RESTART);
    assert_int_equal(adm_cmd_find("nope"), -1);
}

/* Where each argument lives: every one is text, a number, or the admin
 * flag, and the slots are the request's own fields. */
static void test_slots(void **state)
{
    (void)state;
    adm_request r;
    size_t cap = 0;
    memset(&r, 0, sizeof r);
    assert_ptr_equal(adm_request_text(&r, ADM_A_NAME, &cap), r.name);
    assert_true(cap < sizeof r.name);
    assert_ptr_equal(adm_request_text(&r, ADM_A_VALUE, &cap), r.value);
    assert_int_equal(cap, sizeof r.value - 1);
    assert_ptr_equal(adm_request_text(&r, ADM_A_RIGHT, &cap), r.right);
    assert_ptr_equal(adm_request_int(&r, ADM_A_DAYS), &r.days);
    assert_ptr_equal(adm_request_int(&r, ADM_A_COUNT), &r.count);
    assert_ptr_equal(adm_request_int(&r, ADM_A_OFFSET), &r.offset);
    assert_null(adm_request_text(&r, ADM_A_DAYS, &cap));
    assert_null(adm_request_int(&r, ADM_A_NAME));
    assert_null(adm_request_text(&r, ADM_A_ADMIN, &cap));
    assert_null(adm_request_int(&r, ADM_A_ADMIN));
    assert_ptr_equal(adm_request_bool(&r, ADM_A_ADMIN), &r.admin);
    assert_ptr_equal(adm_request_bool(&r, ADM_A_REUSE), &r.reuse_name);
    assert_null(adm_request_bool(&r, ADM_A_NAME));
    for (int a = 0; a < ADM_A_COUNT_OF; a++) { /* each argument has one slot of one kind */
        char *t = adm_request_text(&r, (adm_arg)a, &cap);
        bool num = adm_request_int(&r, (adm_arg)a) != NULL;
        bool yn = adm_request_bool(&r, (adm_arg)a) != NULL;
        assert_int_equal((t != NULL) + num + yn, 1);
        if (t)
            assert_true((uint8_t *)t >= (uint8_t *)&r &&
                        (uint8_t *)t + cap < (uint8_t *)&r + sizeof r);
    }
}

static void test_pages(void **state)
{
    (void)state;
    char *acc = strdup("{\"users\":[{\"name\":\"a\"}],\"total\":3,\"next\":1}");
    assert_non_null(acc);
    assert_int_equal(adm_data_next(acc), 1);
    assert_int_equal(adm_data_next("{\"total\":3}"), -1);
    assert_int_equal(adm_data_next("not json"), -1);
    assert_int_equal(adm_data_next(NULL), -1);
    assert_int_equal(adm_data_merge(&acc, "{\"users\":[{\"name\":\"b\"},{\"name\":\"c\"}],"
                                          "\"total\":3}"),
                     0);
    assert_string_equal(acc, "{\"users\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"}],"
                             "\"total\":3}");
    assert_int_not_equal(adm_data_merge(&acc, "[1]"), 0); /* not an object: acc unchanged */
    assert_int_equal(adm_data_next(acc), -1);
    free(acc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_roundtrip),
        cmocka_unit_test(test_request_rules),
        cmocka_unit_test(test_encoder_refuses),
        cmocka_unit_test(test_result_roundtrip),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_slots),
        cmocka_unit_test(test_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
