/* SPDX-License-Identifier: MIT */
/* test_jsonv.c - strict JSON for the codecs: numbers keep their text, integers are exact. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonv.h"

static int int_of(const char *s, int64_t min, int64_t max, int64_t *out)
{
    return jsonv_int_parse(s, strlen(s), min, max, out);
}

static void test_int_parse(void **state)
{
    (void)state;
    int64_t v = 42;
    static const struct {
        const char *s;
        int64_t v;
    } good[] = {
        {"0", 0},
        {"1", 1},
        {"-1", -1},
        {"9007199254740992", INT64_C(9007199254740992)},
        {"9007199254740993", INT64_C(9007199254740993)},
        {"9223372036854775807", INT64_MAX},
        {"-9223372036854775808", INT64_MIN},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(int_of(good[i].s, INT64_MIN, INT64_MAX, &v), 0);
        assert_true(v == good[i].v);
    }
    static const char *const bad[] = {
        "",
        "-",
        "-0",
        "00",
        "01",
        "+1",
        " 1",
        "1 ",
        "1.0",
        "1e3",
        "1E3",
        "0x1",
        "1.",
        ".1",
        "--1",
        "1-",
        "９",
        "1\xc2\xa0",
        "9223372036854775808",
        "-9223372036854775809",
        "18446744073709551616",
        "99999999999999999999",
        "100000000000000000000",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 42;
        if (int_of(bad[i], INT64_MIN, INT64_MAX, &v) != BANTER_ESCHEMA)
            fail_msg("\"%s\" was taken", bad[i]);
        assert_true(v == 42); /* untouched */
    }
    /* The range, inclusive. */
    assert_int_equal(int_of("5", 5, 5, &v), 0);
    assert_int_equal(int_of("4", 5, 9, &v), BANTER_ESCHEMA);
    assert_int_equal(int_of("10", 5, 9, &v), BANTER_ESCHEMA);
    assert_int_equal(int_of("-1", 0, 9, &v), BANTER_ESCHEMA);
    assert_int_equal(int_of("9007199254740993", 0, JSONV_INT_MAX, &v), BANTER_ESCHEMA);
    /* n bounds the text: no NUL needed. */
    assert_int_equal(jsonv_int_parse("123456", 2, 0, 100, &v), 0);
    assert_true(v == 12);
}

static void test_int_format(void **state)
{
    (void)state;
    char t[JSONV_INT_TEXT];
    assert_int_equal(jsonv_int_format(0, t), 1);
    assert_string_equal(t, "0");
    assert_int_equal(jsonv_int_format(INT64_MIN, t), 20);
    assert_string_equal(t, "-9223372036854775808");
    assert_int_equal(jsonv_int_format(INT64_C(9007199254740992), t), 16);
    assert_string_equal(t, "9007199254740992");
    /* Every value written is read back as itself. */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 10000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t v = (int64_t)x, back;
        if (i % 3 == 0)
            v %= 1000;
        size_t n = jsonv_int_format(v, t);
        assert_int_equal(jsonv_int_parse(t, n, INT64_MIN, INT64_MAX, &back), 0);
        assert_true(back == v);
    }
}

/* Parse a document that must be accepted. */
static cJSON *parse_ok(const char *text)
{
    cJSON *o = NULL;
    int r = jsonv_parse(text, strlen(text), &o);
    if (r)
        fail_msg("%s: %s", text, banter_errname(r));
    return o;
}

static void test_numbers_keep_text(void **state)
{
    (void)state;
    cJSON *o = parse_ok("{\"a\":9007199254740993,\"b\":[1,{\"c\":-7}],\"s\":\"12\",\"d\":1.5e3,"
                        "\"e\":-0}");
    int64_t v = 0;
    assert_int_equal(jsonv_int(o, "a", 0, INT64_MAX, &v), 0);
    assert_true(v == INT64_C(9007199254740993)); /* a double would say ...992 */
    assert_int_equal(jsonv_int(o, "a", 0, JSONV_INT_MAX, &v), BANTER_ESCHEMA);
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "b");
    assert_int_equal(jsonv_int_value(b->child, 0, 9, &v), 0);
    assert_true(v == 1);
    assert_int_equal(jsonv_int(b->child->next, "c", -10, 0, &v), 0);
    assert_true(v == -7);
    /* Numbers are not cJSON numbers any more: nothing can read them as a
     * double by mistake. */
    assert_false(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "a")));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "d")->valuestring, "1.5e3");
    assert_int_equal(jsonv_int(o, "d", 0, 10000, &v), BANTER_ESCHEMA);
    assert_int_equal(jsonv_int(o, "e", -1, 1, &v), BANTER_ESCHEMA);
    assert_int_equal(jsonv_int(o, "s", 0, 100, &v), BANTER_ESCHEMA);  /* a string */
    assert_int_equal(jsonv_int(o, "zz", 0, 100, &v), BANTER_ESCHEMA); /* absent */
    v = 0;
    assert_int_equal(jsonv_int_opt(o, "zz", 0, 100, 50, &v), 0);
    assert_true(v == 50);
    assert_int_equal(jsonv_int_opt(o, "s", 0, 100, 50, &v), BANTER_ESCHEMA);
    /* Printing a parsed tree gives the numbers back exactly. */
    char *text = cJSON_PrintUnformatted(o);
    assert_string_equal(text, "{\"a\":9007199254740993,\"b\":[1,{\"c\":-7}],\"s\":\"12\","
                              "\"d\":1.5e3,\"e\":-0}");
    cJSON_free(text);
    cJSON_Delete(o);

    /* A number the program made (not from the wire) is not read either. */
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", 5);
    assert_int_equal(jsonv_int(o, "n", 0, 9, &v), BANTER_ESCHEMA);
    cJSON_Delete(o);
}

static void test_number_grammar(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"a\":01}",        "{\"a\":-01}",   "{\"a\":00}",     "{\"a\":1.}",       "{\"a\":1.e5}",
        "{\"a\":-}",         "{\"a\":+1}",    "{\"a\":.5}",     "{\"a\":1e}",       "{\"a\":1e+}",
        "{\"a\":0x1}",       "{\"a\":1.2.3}", "{\"a\":[1,02]}", "{\"a\":Infinity}", "{\"a\":NaN}",
        "{\"a\":-Infinity}", "{\"a\":1,}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *o = NULL;
        int r = jsonv_parse(bad[i], strlen(bad[i]), &o);
        if (r != BANTER_EJSON)
            fail_msg("%s: got %s", bad[i], banter_errname(r));
        assert_null(o);
    }
    static const char *const good[] = {
        "{\"a\":0}",          "{\"a\":-0.0}",          "{\"a\":1e400}",
        "{\"a\":1E-7}",       "{\"a\":[0,-1,2.5e+3]}", "{\"0\":\"01\",\"a\":\"1.\"}",
        "{\"a\":\"\\\"01\"}", " {\"a\" : 10 } \n",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cJSON_Delete(parse_ok(good[i]));
}

static void test_add_int(void **state)
{
    (void)state;
    cJSON *o = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(o, "a");
    assert_int_equal(jsonv_add_int(o, "max", JSONV_INT_MAX), 0);
    assert_int_equal(jsonv_add_int(o, "min", JSONV_INT_MIN), 0);
    assert_int_equal(jsonv_add_int(o, "big", JSONV_INT_MAX + 1), BANTER_ESCHEMA);
    assert_int_equal(jsonv_add_int(o, "small", JSONV_INT_MIN - 1), BANTER_ESCHEMA);
    assert_int_equal(jsonv_add_int(a, NULL, 0), 0);
    assert_int_equal(jsonv_add_int(a, NULL, -5), 0);
    char *text = cJSON_PrintUnformatted(o);
    assert_string_equal(text, "{\"a\":[0,-5],\"max\":9007199254740992,\"min\":-9007199254740992}");
    cJSON_free(text);
    /* The writer's output reads back through the getter. */
    buf b;
    buf_init(&b, 1000);
    assert_int_equal(jsonv_print(o, 1000, &b), 0);
    cJSON *back = NULL;
    assert_int_equal(jsonv_parse((const char *)buf_data(&b), buf_len(&b), &back), 0);
    int64_t v;
    assert_int_equal(jsonv_int(back, "max", 0, JSONV_INT_MAX, &v), 0);
    assert_true(v == JSONV_INT_MAX);
    cJSON_Delete(back);
    /* jsonv_print: no type byte; a cap */
    assert_int_equal(buf_data(&b)[0], '{');
    buf_free(&b);
    buf_init(&b, 1000);
    assert_int_equal(jsonv_print(o, 10, &b), BANTER_ETOOBIG);
    assert_int_equal(buf_len(&b), 0);
    assert_int_equal(jsonv_write(o, 0x02, &b), 0);
    assert_int_equal(buf_data(&b)[0], 0x02);
    buf_free(&b);
    cJSON_Delete(o);
}

static void test_parse_max_and_wipe(void **state)
{
    (void)state;
    cJSON *o = NULL;
    const char *t = "{\"password\":\"hunter2\",\"n\":[12345]}";
    assert_int_equal(jsonv_parse_max(t, strlen(t), strlen(t) - 1, &o), BANTER_ETOOBIG);
    assert_int_equal(jsonv_parse_max(t, strlen(t), strlen(t), &o), 0);
    jsonv_delete_wiped(o); /* ASan would see a use after free; nothing to assert */
    jsonv_delete_wiped(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int_parse),         cmocka_unit_test(test_int_format),
        cmocka_unit_test(test_numbers_keep_text), cmocka_unit_test(test_number_grammar),
        cmocka_unit_test(test_add_int),           cmocka_unit_test(test_parse_max_and_wipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
