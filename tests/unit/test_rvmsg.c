/* SPDX-License-Identifier: MIT */
/* test_rvmsg.c - node <-> rendezvous codec: round trips and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcrypto.h"
#include "rvmsg.h"

static void round_trip(const rvmsg *in, rvmsg *out)
{
    buf w;
    buf_init(&w, BANTER_MAX_PLAINTEXT);
    assert_int_equal(rvmsg_encode(in, &w), 0);
    assert_int_equal(buf_data(&w)[0], in->type);
    assert_int_equal(rvmsg_decode(out, buf_data(&w), buf_len(&w)), 0);
    buf_free(&w);
}

static int dec(rvmsg *m, uint8_t type, const char *json)
{
    size_t n = strlen(json);
    uint8_t *p = malloc(n + 1);
    assert_non_null(p);
    p[0] = type;
    memcpy(p + 1, json, n);
    int r = rvmsg_decode(m, p, n + 1);
    free(p);
    return r;
}

static void test_login_auth(void **state)
{
    (void)state;
    rvmsg in = {.type = RV_LOGIN}, out;
    snprintf(in.u.login.user, sizeof in.u.login.user, "ada");
    snprintf(in.u.login.password, sizeof in.u.login.password, "correct horse \"battery\"");
    round_trip(&in, &out);
    assert_string_equal(out.u.login.user, "ada");
    assert_string_equal(out.u.login.password, "correct horse \"battery\"");
    rvmsg_clear(&out);
    char zero[sizeof out.u.login.password] = {0};
    assert_memory_equal(out.u.login.password, zero, sizeof zero); /* wiped */

    rvmsg a = {.type = RV_AUTH};
    a.u.auth.ok = true;
    a.u.auth.admin = true;
    snprintf(a.u.auth.user, sizeof a.u.auth.user, "ada");
    round_trip(&a, &out);
    assert_true(out.u.auth.ok && out.u.auth.admin);
    assert_string_equal(out.u.auth.user, "ada");
    rvmsg_clear(&out);
    rvmsg f = {.type = RV_AUTH};
    snprintf(f.u.auth.error, sizeof f.u.auth.error, "EPASSWORD");
    f.u.auth.retry_after_ms = 4000;
    round_trip(&f, &out);
    assert_false(out.u.auth.ok);
    assert_string_equal(out.u.auth.error, "EPASSWORD");
    assert_true(out.u.auth.retry_after_ms == 4000);
    rvmsg_clear(&out);

    rvmsg m;
    assert_int_equal(dec(&m, RV_LOGIN, "{\"user\":\"Ada\",\"password\":\"x\"}"), BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_LOGIN, "{\"user\":\"ada\",\"password\":\"\"}"), BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_LOGIN, "{\"user\":\"ada\"}"), BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_AUTH, "{\"ok\":false}"), BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_AUTH, "{\"ok\":1}"), BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_LOGOUT, "{}"), 0);
    rvmsg_clear(&m);
    assert_int_equal(dec(&m, 0x37, "{}"), BANTER_EBADTYPE);
}

static void test_profile_search(void **state)
{
    (void)state;
    rvmsg p = {.type = RV_PROFILE_SET}, out;
    p.u.profile.f[RV_F_DEPARTMENT] = strdup("Research");
    p.u.profile.f[RV_F_ABOUT] = strdup("line one\nline two");
    p.u.profile.f[RV_F_PHONE] = strdup("");
    round_trip(&p, &out);
    assert_string_equal(out.u.profile.f[RV_F_DEPARTMENT], "Research");
    assert_string_equal(out.u.profile.f[RV_F_ABOUT], "line one\nline two");
    assert_string_equal(out.u.profile.f[RV_F_PHONE], "");
    assert_null(out.u.profile.f[RV_F_EMAIL]);
    rvmsg_clear(&out);
    rvmsg_clear(&p);

    rvmsg s = {.type = RV_SEARCH};
    s.u.search.n = 2;
    s.u.search.c[0] = (struct rv_criterion){RV_F_DEPARTMENT, false, "research"};
    s.u.search.c[1] = (struct rv_criterion){RV_F_COUNT, true, "ad"};
    s.u.search.page = 3;
    s.u.search.per_page = 20;
    round_trip(&s, &out);
    assert_int_equal(out.u.search.n, 2);
    assert_int_equal(out.u.search.c[1].field, RV_F_COUNT);
    assert_true(out.u.search.c[1].contains);
    assert_int_equal(out.u.search.per_page, 20);
    rvmsg_clear(&out);

    rvmsg res = {.type = RV_SEARCH_RESULT};
    struct rv_user users[2] = {{.name = "ada"}, {.name = "grace"}};
    users[1].p.f[RV_F_TITLE] = "Rear Admiral";
    res.u.result.total = 42;
    res.u.result.n = 2;
    res.u.result.users = users;
    round_trip(&res, &out);
    assert_true(out.u.result.total == 42);
    assert_string_equal(out.u.result.users[1].name, "grace");
    assert_string_equal(out.u.result.users[1].p.f[RV_F_TITLE], "Rear Admiral");
    rvmsg_clear(&out);

    rvmsg m;
    assert_int_equal(dec(&m, RV_SEARCH, "{\"q\":[],\"page\":0,\"per_page\":10}"), BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_SEARCH,
                         "{\"q\":[{\"field\":\"salary\",\"op\":\"eq\",\"value\":\"1\"}],"
                         "\"page\":0,\"per_page\":10}"),
                     BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_SEARCH,
                         "{\"q\":[{\"field\":\"title\",\"op\":\"like\",\"value\":\"1\"}],"
                         "\"page\":0,\"per_page\":10}"),
                     BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_SEARCH,
                         "{\"q\":[{\"field\":\"title\",\"op\":\"eq\",\"value\":\"x\"}],"
                         "\"page\":0,\"per_page\":101}"),
                     BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_PROFILE_SET, "{\"title\":\"a\\u0001b\"}"), BANTER_ESCHEMA);
    char big[200];
    snprintf(big, sizeof big, "{\"phone\":\"%040d\"}", 1);
    assert_int_equal(dec(&m, RV_PROFILE_SET, big), BANTER_ETOOLONG);
}

static void test_cert_message(void **state)
{
    (void)state;
    uint8_t seed[32] = {5}, dev[32] = {6};
    identity *s;
    assert_int_equal(identity_from_seed(&s, seed), 0);
    rvmsg c = {.type = RV_CERT}, out;
    assert_int_equal(cert_issue(&c.u.cert, s, dev, "ada", 10, 100), 0);
    round_trip(&c, &out);
    assert_string_equal(out.u.cert.name, "ada");
    assert_int_equal(cert_check(&out.u.cert, identity_public(s), dev, 50), 0);
    rvmsg_clear(&out);
    identity_free(s);
}

int main(void)
{
    if (bcrypto_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_auth),
        cmocka_unit_test(test_profile_search),
        cmocka_unit_test(test_cert_message),
    };
    return cmocka_run_group_tests_name("rvmsg", tests, NULL, NULL);
}
