/* SPDX-License-Identifier: MIT */
/*
 * test_peer_settings.c - the web interface's preferences: defaults, values
 * kept across a reload (0600), every bad value refused with nothing
 * changed, read marks merged and capped, a corrupt file set aside, a file
 * that cannot be written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <glib.h>

#include "core/settings.h"

struct fixture {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/banter-test-settings-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/settings.json", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static settings *open_ok(const struct fixture *f, char *why, size_t cap)
{
    settings *s = NULL;
    assert_int_equal(settings_open(&s, f->dir, why, cap), 0);
    assert_non_null(s);
    return s;
}

/* The JSON text of key in s's current values (the caller frees). */
static char *value_of(const settings *s, const char *key)
{
    cJSON *v = settings_json(s);
    char *text = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(v, key));
    cJSON_Delete(v);
    assert_non_null(text);
    return text;
}

static void assert_value(const settings *s, const char *key, const char *want)
{
    char *got = value_of(s, key);
    if (strcmp(got, want) != 0)
        fail_msg("%s is %s, wanted %s", key, got, want);
    cJSON_free(got);
}

static int set_text(settings *s, const char *json, char *why, size_t cap)
{
    cJSON *c = cJSON_Parse(json);
    assert_non_null(c);
    int r = settings_set(s, c, why, cap);
    cJSON_Delete(c);
    return r;
}

static void test_defaults(void **state)
{
    struct fixture *f = *state;
    char why[256] = "x";
    settings *s = open_ok(f, why, sizeof why);
    assert_string_equal(why, "");
    assert_value(s, "theme", "\"system\"");
    assert_value(s, "font_size", "15");
    assert_value(s, "sound", "true");
    assert_value(s, "notify", "false");
    assert_value(s, "read", "{}");
    assert_int_equal(access(f->path, F_OK), -1); /* nothing written yet */
    settings_free(s);
    settings_free(NULL);
}

static void test_kept(void **state)
{
    struct fixture *f = *state;
    char why[256];
    struct stat st;
    settings *s = open_ok(f, why, sizeof why);
    assert_int_equal(set_text(s,
                              "{\"theme\":\"dark\",\"font_size\":18,\"sound\":false,"
                              "\"notify\":true,\"read\":{\"07251 62508\":1795303925123}}",
                              why, sizeof why),
                     0);
    settings_free(s);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    s = open_ok(f, why, sizeof why);
    assert_value(s, "theme", "\"dark\"");
    assert_value(s, "font_size", "18");
    assert_value(s, "sound", "false");
    assert_value(s, "notify", "true");
    assert_value(s, "read", "{\"07251 62508\":1795303925123}");
    /* Only the keys given change. */
    assert_int_equal(set_text(s, "{\"theme\":\"light\"}", why, sizeof why), 0);
    assert_value(s, "theme", "\"light\"");
    assert_value(s, "font_size", "18");
    settings_free(s);
}

static void test_refused(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"{\"theme\":\"pink\"}", "\"theme\""},
        {"{\"theme\":1}", "\"theme\""},
        {"{\"font_size\":11}", "12 to 24"},
        {"{\"font_size\":25}", "12 to 24"},
        {"{\"font_size\":15.5}", "whole number"},
        {"{\"font_size\":\"15\"}", "font_size"},
        {"{\"sound\":1}", "\"sound\" must be true or false"},
        {"{\"notify\":\"yes\"}", "\"notify\""},
        {"{\"read\":[]}", "\"read\" must be an object"},
        {"{\"read\":{\"a\":-1}}", "\"read\""},
        {"{\"read\":{\"a\":1.5}}", "\"read\""},
        {"{\"read\":{\"a\":\"1\"}}", "\"read\""},
        {"{\"read\":{\"\":1}}", "\"read\""},
        {"{\"read\":{\"a\\nb\":1}}", "\"read\""},
        {"{\"colour\":\"red\"}", "unknown setting \"colour\""},
        /* One bad key: the good one before it is not applied either. */
        {"{\"theme\":\"dark\",\"font_size\":99}", "font_size"},
    };
    char why[256];
    settings *s = open_ok(f, why, sizeof why);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        why[0] = '\0';
        if (set_text(s, cases[i].json, why, sizeof why) != BANTER_EINVAL)
            fail_msg("accepted %s", cases[i].json);
        if (!strstr(why, cases[i].want))
            fail_msg("%s: why is \"%s\", wanted \"%s\"", cases[i].json, why, cases[i].want);
        assert_value(s, "theme", "\"system\"");
        assert_value(s, "font_size", "15");
    }
    cJSON *notobj = cJSON_CreateArray();
    assert_int_equal(settings_set(s, notobj, why, sizeof why), BANTER_EINVAL);
    assert_int_equal(settings_set(s, NULL, why, sizeof why), BANTER_EINVAL);
    cJSON_Delete(notobj);
    settings_free(s);
    assert_int_equal(access(f->path, F_OK), -1);
}

static void test_read_marks(void **state)
{
    struct fixture *f = *state;
    char why[256], json[128];
    settings *s = open_ok(f, why, sizeof why);
    assert_int_equal(set_text(s, "{\"read\":{\"a\":1,\"b\":2}}", why, sizeof why), 0);
    assert_int_equal(set_text(s, "{\"read\":{\"a\":5,\"b\":null,\"c\":3}}", why, sizeof why), 0);
    assert_value(s, "read", "{\"a\":5,\"c\":3}");
    /* At most SETTINGS_MAX_READ: the oldest go first. */
    cJSON *many = cJSON_CreateObject();
    cJSON *m = cJSON_AddObjectToObject(many, "read");
    for (int i = 0; i < SETTINGS_MAX_READ + 10; i++) {
        snprintf(json, sizeof json, "k%d", i);
        cJSON_AddNumberToObject(m, json, i);
    }
    assert_int_equal(settings_set(s, many, why, sizeof why), 0);
    cJSON_Delete(many);
    cJSON *v = settings_json(s);
    cJSON *marks = cJSON_GetObjectItemCaseSensitive(v, "read");
    assert_int_equal(cJSON_GetArraySize(marks), SETTINGS_MAX_READ);
    assert_null(cJSON_GetObjectItemCaseSensitive(marks, "a"));
    assert_null(cJSON_GetObjectItemCaseSensitive(marks, "k0"));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(marks, "k4105"));
    cJSON_Delete(v);
    settings_free(s);
}

/* The typed calls the control socket uses: a decoded settings_set applied,
 * and the whole view for ctlmsg's writers. */
static void test_typed(void **state)
{
    struct fixture *f = *state;
    char why[256];
    ctl_request q;
    static const char req[] = "{\"cmd\":\"settings_set\",\"settings\":{\"theme\":\"dark\","
                              "\"font_size\":20,\"notify\":true,\"read\":{\"a\":"
                              "9007199254740992,\"b\":7}}}";
    settings *s = open_ok(f, why, sizeof why);
    assert_int_equal(ctlmsg_decode(&q, req, sizeof req - 1, why, sizeof why), 0);
    assert_int_equal(settings_apply(s, &q.u.settings, why, sizeof why), 0);
    ctl_request_clear(&q);
    static const char del[] = "{\"cmd\":\"settings_set\",\"settings\":{\"read\":{\"b\":null}}}";
    assert_int_equal(ctlmsg_decode(&q, del, sizeof del - 1, why, sizeof why), 0);
    assert_int_equal(settings_apply(s, &q.u.settings, why, sizeof why), 0);
    ctl_request_clear(&q);
    ctl_settings v;
    struct ctl_read_mark *marks = NULL;
    assert_int_equal(settings_view(s, &v, &marks), 0);
    assert_int_equal(v.theme, CTL_THEME_DARK);
    assert_true(v.font_size == 20 && v.sound && v.notify);
    assert_int_equal(v.nread, 1);
    assert_string_equal(v.read[0].key, "a");
    assert_true(v.read[0].ts == INT64_C(9007199254740992));
    g_free(marks);
    /* What ctlmsg would refuse, the file refuses too: nothing changes. */
    static const char bad[] = "{\"cmd\":\"settings_set\",\"settings\":{\"font_size\":30}}";
    assert_int_equal(ctlmsg_decode(&q, bad, sizeof bad - 1, why, sizeof why), BANTER_EINVAL);
    settings_free(s);
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

static void test_corrupt_file(void **state)
{
    struct fixture *f = *state;
    static const char *bad[] = {"{not json", "[1,2]", "{\"theme\":\"pink\"}", "{\"extra\":1}",
                                "\xff\xfe"};
    char why[512], moved[160];
    snprintf(moved, sizeof moved, "%s.bad", f->path);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(f->path, bad[i]);
        settings *s = open_ok(f, why, sizeof why);
        if (!strstr(why, "not a valid settings file"))
            fail_msg("%s: why is \"%s\"", bad[i], why);
        assert_value(s, "theme", "\"system\"");
        assert_int_equal(access(moved, F_OK), 0);
        assert_int_equal(access(f->path, F_OK), -1);
        settings_free(s);
        unlink(moved);
    }
}

static void test_write_fails(void **state)
{
    struct fixture *f = *state;
    char why[512], tmp[160];
    settings *s = open_ok(f, why, sizeof why);
    snprintf(tmp, sizeof tmp, "%s.tmp", f->path);
    assert_int_equal(mkdir(tmp, 0700), 0); /* the temporary file cannot be made */
    assert_int_equal(set_text(s, "{\"theme\":\"dark\"}", why, sizeof why), BANTER_EIO);
    assert_non_null(strstr(why, "cannot write"));
    assert_value(s, "theme", "\"dark\""); /* kept in memory */
    assert_int_equal(rmdir(tmp), 0);
    assert_int_equal(set_text(s, "{\"font_size\":20}", why, sizeof why), 0);
    settings_free(s);
    s = open_ok(f, why, sizeof why);
    assert_value(s, "theme", "\"dark\"");
    assert_value(s, "font_size", "20");
    settings_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_marks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_typed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_fails, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
