/* SPDX-License-Identifier: MIT */
/* test_plugsup.c - the plug-in supervisor's decisions on a fake clock:
 * HELLO first and once, the ABI, heartbeat and memory, why a host ended,
 * the back-off schedule (doubling, capped, reset after health), failures
 * that are not restarted, enable, disable and restart. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "banter_plugin.h"
#include "plugsup.h"

static char logged[4096];

static void log_line(void *ud, const char *text)
{
    (void)ud;
    size_t n = strlen(logged);
    snprintf(logged + n, sizeof logged - n, "%s\n", text);
}

static plugsup_do hello(plugsup *s, uint16_t major, uint16_t minor)
{
    plugmsg m = {.type = PLUG_HELLO,
                 .major = major,
                 .minor = minor,
                 .name = "echo",
                 .version = "1.2",
                 .text = "says\nit back"};
    return plugsup_host_message(s, &m, 0);
}

/* Start at now, say HELLO, and return the engine in running state. */
static void run(plugsup *s, int64_t now)
{
    plugsup_started(s, now);
    assert_int_equal(plugsup_get_state(s), PLUGSUP_STARTING);
    assert_int_equal(hello(s, BANTER_PLUGIN_ABI_MAJOR, BANTER_PLUGIN_ABI_MINOR), PLUGSUP_CONFIG);
    assert_int_equal(plugsup_get_state(s), PLUGSUP_RUNNING);
}

static void test_hello(void **state)
{
    (void)state;
    plugsup s;
    plugsup_init(&s, true, log_line, NULL);
    assert_string_equal(plugsup_state_name(plugsup_get_state(&s)), "backoff");
    plugsup_started(&s, 0);
    plugmsg early = {.type = PLUG_SEND, .num = 1, .contact = "ada", .text = "hi"};
    assert_int_equal(plugsup_host_message(&s, &early, 0), PLUGSUP_KILL);
    uint64_t delay = 0;
    assert_int_equal(plugsup_exited(&s, 0, SIGKILL, "/h", 10, &delay), PLUGSUP_RETRY);
    assert_string_equal(plugsup_last_error(&s), "broke the protocol: 3 before HELLO");

    run(&s, 2000);
    assert_string_equal(plugsup_version(&s), "1.2");
    assert_string_equal(plugsup_description(&s), "says it back"); /* one line */
    assert_int_equal(plugsup_host_message(&s, &early, 0), PLUGSUP_PASS);
    assert_int_equal(hello(&s, BANTER_PLUGIN_ABI_MAJOR, 0), PLUGSUP_KILL); /* a second one */
    assert_int_equal(plugsup_exited(&s, 0, SIGKILL, "/h", 3000, &delay), PLUGSUP_RETRY);
    assert_string_equal(plugsup_last_error(&s), "broke the protocol: a second HELLO");

    plugsup_started(&s, 5000); /* a later major: killed and never restarted */
    assert_int_equal(hello(&s, BANTER_PLUGIN_ABI_MAJOR + 1, 0), PLUGSUP_KILL);
    assert_int_equal(plugsup_exited(&s, 0, SIGKILL, "/h", 5010, &delay), PLUGSUP_NOTHING);
    assert_int_equal(plugsup_get_state(&s), PLUGSUP_FAILED);
    assert_non_null(strstr(plugsup_last_error(&s), "built for plug-in ABI"));

    plugsup_started(&s, 6000); /* a later minor of the same major */
    assert_int_equal(hello(&s, BANTER_PLUGIN_ABI_MAJOR, BANTER_PLUGIN_ABI_MINOR + 1), PLUGSUP_KILL);
}

static void test_messages(void **state)
{
    (void)state;
    plugsup s;
    uint64_t delay = 0;
    logged[0] = '\0';
    plugsup_init(&s, true, log_line, NULL);
    plugsup_started(&s, 0);
    plugmsg lg = {.type = PLUG_LOG, .level = 1, .text = "a\tb"}; /* before HELLO: allowed */
    assert_int_equal(plugsup_host_message(&s, &lg, 0), PLUGSUP_NOTHING);
    assert_non_null(strstr(logged, "warning: a b\n"));
    assert_int_equal(hello(&s, BANTER_PLUGIN_ABI_MAJOR, 0), PLUGSUP_CONFIG);
    plugmsg sub = {.type = PLUG_SUBSCRIBE, .mask = 3};
    assert_int_equal(plugsup_host_message(&s, &sub, 0), PLUGSUP_PASS);
    plugmsg stop = {.type = PLUG_STOP, .text = "bye"};
    assert_int_equal(plugsup_host_message(&s, &stop, 0), PLUGSUP_NOTHING);
    assert_int_equal(plugsup_exited(&s, 0, 0, "/h", 10, &delay), PLUGSUP_NOTHING);
    assert_int_equal(plugsup_get_state(&s), PLUGSUP_STOPPED);
    assert_string_equal(plugsup_last_error(&s), "stopped itself: bye");

    plugsup_started(&s, 20); /* FAIL before HELLO: the loader's words, not restarted */
    plugmsg fail = {.type = PLUG_FAIL, .text = "no entry symbol"};
    assert_int_equal(plugsup_host_message(&s, &fail, 0), PLUGSUP_NOTHING);
    assert_int_equal(plugsup_exited(&s, 1, 0, "/h", 30, &delay), PLUGSUP_NOTHING);
    assert_int_equal(plugsup_get_state(&s), PLUGSUP_FAILED);
    assert_string_equal(plugsup_last_error(&s), "no entry symbol");
}

/* A plug-in that floods the log: PLUGSUP_LOG_BURST lines, then
 * PLUGSUP_LOG_RATE a second, the rest counted; its HELLO's name and
 * version cannot start a line of their own. */
static void test_log_limit(void **state)
{
    (void)state;
    plugsup s;
    plugsup_init(&s, true, log_line, NULL);
    plugsup_started(&s, 0);
    plugmsg h = {.type = PLUG_HELLO,
                 .major = BANTER_PLUGIN_ABI_MAJOR,
                 .name = "echo\nbanter: node stopped",
                 .version = "1\r2"};
    assert_int_equal(plugsup_host_message(&s, &h, 0), PLUGSUP_CONFIG);
    assert_string_equal(plugsup_name(&s), "echo banter: node stopped");
    assert_string_equal(plugsup_version(&s), "1 2");
    plugmsg lg = {.type = PLUG_LOG, .level = 2, .text = "x"};
    int seen = 0;
    for (int i = 0; i < 10000; i++) {
        logged[0] = '\0';
        assert_int_equal(plugsup_host_message(&s, &lg, 0), PLUGSUP_NOTHING);
        seen += logged[0] != '\0';
    }
    assert_int_equal(seen, PLUGSUP_LOG_BURST);
    logged[0] = '\0';
    assert_int_equal(plugsup_host_message(&s, &lg, 1000), PLUGSUP_NOTHING); /* a second later */
    char want[128];
    snprintf(want, sizeof want, "%d log lines dropped (over %d a second)\ninfo: x\n",
             10000 - PLUGSUP_LOG_BURST, PLUGSUP_LOG_RATE);
    assert_string_equal(logged, want);
    seen = 0;
    for (int i = 0; i < 1000; i++) {
        logged[0] = '\0';
        (void)plugsup_host_message(&s, &lg, 1000);
        seen += logged[0] != '\0';
    }
    assert_int_equal(seen, PLUGSUP_LOG_RATE - 1);
}

static void test_heartbeat(void **state)
{
    (void)state;
    plugsup s;
    uint64_t seq = 0, delay = 0;
    plugsup_init(&s, true, NULL, NULL);
    run(&s, 0);
    assert_int_equal(plugsup_heartbeat(&s, 10, 64, 500, &seq), PLUGSUP_PING);
    assert_int_equal(seq, 1);
    plugmsg pong = {.type = PLUG_PONG, .num = 1};
    assert_int_equal(plugsup_host_message(&s, &pong, 0), PLUGSUP_NOTHING);
    assert_int_equal(plugsup_heartbeat(&s, 0, 64, 500, &seq), PLUGSUP_PING); /* 0: unknown */
    assert_int_equal(seq, 2);
    pong.num = 1; /* an old answer does not count */
    assert_int_equal(plugsup_host_message(&s, &pong, 0), PLUGSUP_NOTHING);
    assert_int_equal(plugsup_heartbeat(&s, 10, 64, 500, &seq), PLUGSUP_KILL);
    assert_int_equal(plugsup_exited(&s, 0, SIGKILL, "/h", 1000, &delay), PLUGSUP_RETRY);
    assert_string_equal(plugsup_last_error(&s),
                        "did not answer the heartbeat within 500 ms (hung?): killed");

    run(&s, 2000);
    assert_int_equal(plugsup_heartbeat(&s, 65, 64, 500, &seq), PLUGSUP_KILL);
    plugsup_killing(&s, "a later reason"); /* the first reason is kept */
    assert_int_equal(plugsup_exited(&s, 0, SIGKILL, "/h", 2500, &delay), PLUGSUP_RETRY);
    assert_string_equal(plugsup_last_error(&s),
                        "over its memory limit (65 MiB resident, limit 64 MiB): killed");
}

static void test_backoff(void **state)
{
    (void)state;
    plugsup s;
    uint64_t delay = 0;
    int64_t now = 0;
    plugsup_init(&s, true, NULL, NULL);
    const uint64_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        run(&s, now);
        now += 100;
        assert_int_equal(plugsup_exited(&s, 0, SIGSEGV, "/h", now, &delay), PLUGSUP_RETRY);
        assert_int_equal(delay, want[i]);
        assert_int_equal(plugsup_get_state(&s), PLUGSUP_BACKOFF);
        assert_int_equal(plugsup_retry_in_ms(&s, now + 10), (int64_t)want[i] - 10);
        assert_int_equal(plugsup_restarts(&s), i);
        now += (int64_t)delay;
    }
    assert_non_null(strstr(plugsup_last_error(&s), "crashed: killed by signal 11"));
    run(&s, now); /* a minute of health: 1 s again */
    now += PLUGSUP_HEALTHY_MS;
    assert_int_equal(plugsup_exited(&s, 3, 0, "/h", now, &delay), PLUGSUP_RETRY);
    assert_int_equal(delay, 1000);
    assert_string_equal(plugsup_last_error(&s), "exited with status 3");
    plugsup_started(&s, now);
    assert_int_equal(plugsup_exited(&s, 127, 0, "/usr/bin/h", now, &delay), PLUGSUP_RETRY);
    assert_string_equal(plugsup_last_error(&s), "cannot run the host program /usr/bin/h");
    run(&s, now);
    assert_int_equal(plugsup_exited(&s, 0, 0, "/h", now, &delay), PLUGSUP_RETRY);
    assert_string_equal(plugsup_last_error(&s), "exited by itself");
    plugsup_start_failed(&s, "cannot start: EMFILE");
    assert_int_equal(plugsup_get_state(&s), PLUGSUP_FAILED);
    assert_int_equal(plugsup_retry_in_ms(&s, now), 0);
}

static void test_switches(void **state)
{
    (void)state;
    plugsup s;
    uint64_t delay = 0;
    plugsup_init(&s, false, NULL, NULL);
    assert_int_equal(plugsup_get_state(&s), PLUGSUP_DISABLED);
    assert_false(plugsup_enabled(&s));
    assert_int_equal(plugsup_enable(&s, false, false), PLUGSUP_SPAWN);
    run(&s, 0);
    assert_int_equal(plugsup_enable(&s, false, true), PLUGSUP_NOTHING); /* running already */
    assert_int_equal(plugsup_disable(&s, true), PLUGSUP_QUIT);
    assert_int_equal(plugsup_disable(&s, true), PLUGSUP_NOTHING); /* told once */
    assert_int_equal(plugsup_exited(&s, 0, 0, "/h", 100, &delay), PLUGSUP_NOTHING);
    assert_int_equal(plugsup_get_state(&s), PLUGSUP_DISABLED);
    assert_string_equal(plugsup_last_error(&s), "");

    assert_int_equal(plugsup_enable(&s, true, false), PLUGSUP_SPAWN); /* restart when stopped */
    run(&s, 200);
    assert_int_equal(plugsup_enable(&s, true, true), PLUGSUP_QUIT);
    assert_int_equal(plugsup_get_state(&s), PLUGSUP_STARTING);
    assert_true(plugsup_quit_sent(&s));
    assert_int_equal(plugsup_exited(&s, 0, 0, "/h", 300, &delay), PLUGSUP_SPAWN);
    run(&s, 300);

    assert_int_equal(plugsup_disable(&s, true), PLUGSUP_QUIT); /* enabled while stopping */
    assert_int_equal(plugsup_enable(&s, false, true), PLUGSUP_NOTHING);
    assert_int_equal(plugsup_get_state(&s), PLUGSUP_STARTING);
    assert_int_equal(plugsup_exited(&s, 0, SIGKILL, "/h", 400, &delay), PLUGSUP_SPAWN);

    run(&s, 500); /* stopped cleanly at shutdown: no restart */
    assert_int_equal(plugsup_quit(&s, true), PLUGSUP_QUIT);
    assert_int_equal(plugsup_exited(&s, 0, 0, "/h", 600, &delay), PLUGSUP_NOTHING);
    assert_int_equal(plugsup_get_state(&s), PLUGSUP_STOPPED);
    assert_int_equal(plugsup_quit(&s, false), PLUGSUP_NOTHING);

    run(&s, 700); /* disabled in back-off: no retry */
    assert_int_equal(plugsup_exited(&s, 0, SIGSEGV, "/h", 800, &delay), PLUGSUP_RETRY);
    assert_int_equal(plugsup_disable(&s, false), PLUGSUP_NOTHING);
    assert_int_equal(plugsup_get_state(&s), PLUGSUP_DISABLED);
    assert_int_equal(plugsup_retry_in_ms(&s, 800), 0);
    assert_string_equal(plugsup_state_name((plugsup_state)99), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello),     cmocka_unit_test(test_messages),
        cmocka_unit_test(test_heartbeat), cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_switches),  cmocka_unit_test(test_log_limit),
    };
    return cmocka_run_group_tests_name("plugsup", tests, NULL, NULL);
}
