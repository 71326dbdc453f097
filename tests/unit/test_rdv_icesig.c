/* SPDX-License-Identifier: MIT */
/*
 * test_rdv_icesig.c - the TURN REST credentials (coturn's scheme):
 * username "EXPIRY:ACCOUNT", password base64(HMAC-SHA1(secret, username)),
 * against a value made with `openssl dgst -sha1 -hmac` (the command is in
 * the test), and the refusals; plus the config keys stun, turn,
 * turn_secret, turn_ttl_s.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <string.h>

#include "config.h"
#include "icesig.h"

static void test_credentials(void **state)
{
    (void)state;
    char user[RV_ICE_CRED_MAX + 1], pass[RV_ICE_CRED_MAX + 1];
    assert_int_equal(icesig_credentials("north-wind-secret", "ada", 1796000000, user, pass), 0);
    assert_string_equal(user, "1796000000:ada");
    /* echo -n 1796000000:ada | openssl dgst -sha1 -hmac north-wind-secret -binary | base64 */
    assert_string_equal(pass, "FoyeHj2veyH/AcLK3CP3wwPTrOA=");
    assert_int_equal(icesig_credentials("", "ada", 1, user, pass), BANTER_EINVAL);
    assert_int_equal(icesig_credentials("s", "Not A Name", 1, user, pass), BANTER_EINVAL);
    assert_int_equal(icesig_credentials("s", "ada", -1, user, pass), BANTER_EINVAL);
}

static void test_config(void **state)
{
    (void)state;
    config c;
    char why[512];
    config_defaults(&c);
    assert_int_equal(c.turn_ttl_s, 3600);
    assert_int_equal(config_set(&c, "stun", "stun:198.18.0.1:3478", why, sizeof why), 0);
    assert_int_equal(c.ice.nstun, 1);
    assert_int_equal(config_set(&c, "turn",
                                "turn:198.18.0.1:3478,turn:[2001:db8::1]:443?transport=tcp", why,
                                sizeof why),
                     0);
    assert_int_equal(c.ice.nturn, 2);
    assert_string_equal(c.ice.turn[1], "turn:[2001:db8::1]:443?transport=tcp");
    assert_int_equal(config_set(&c, "turn", "turn:turn.example.com:3478", why, sizeof why),
                     BANTER_EFORMAT);
    assert_non_null(strstr(why, "numeric"));
    assert_int_equal(config_set(&c, "stun", "turn:1.2.3.4:3478", why, sizeof why), BANTER_EFORMAT);
    assert_int_equal(config_set(&c, "stun",
                                "stun:1.1.1.1:1,stun:1.1.1.1:2,stun:1.1.1.1:3,stun:1.1.1.1:4,"
                                "stun:1.1.1.1:5",
                                why, sizeof why),
                     BANTER_EFORMAT);
    assert_int_equal(config_set(&c, "turn_secret", "short", why, sizeof why), BANTER_EFORMAT);
    assert_int_equal(config_set(&c, "turn_secret", "north-wind-secret", why, sizeof why), 0);
    assert_string_equal(c.turn_secret, "north-wind-secret");
    assert_int_equal(config_set(&c, "turn_ttl_s", "60", why, sizeof why), BANTER_EFORMAT);
    assert_int_equal(config_set(&c, "turn_ttl_s", "7200", why, sizeof why), 0);
    assert_int_equal(c.turn_ttl_s, 7200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_credentials),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests_name("rdv_icesig", tests, NULL, NULL);
}
