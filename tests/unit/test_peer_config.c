/* SPDX-License-Identifier: MIT */
/*
 * test_peer_config.c - banter.conf: the defaults from the environment, a
 * full file with comments and spaces, and every mistake refused with its
 * line and key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"

#define MIB ((uint64_t)1 << 20)

/* A scratch folder holding banter.conf, and the environment to put back. */
struct fixture {
    char dir[64];
    char path[128];
    char *home;
    char *xdg;
};

static char *saved(const char *name)
{
    const char *v = getenv(name);
    char *copy = v ? strdup(v) : NULL;
    assert_true(!v || copy);
    return copy;
}

static void restore(const char *name, char *value)
{
    if (value)
        assert_int_equal(setenv(name, value, 1), 0);
    else
        assert_int_equal(unsetenv(name), 0);
    free(value);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/banter-test-config-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/banter.conf", f->dir);
    f->home = saved("HOME");
    f->xdg = saved("XDG_DOWNLOAD_DIR");
    assert_int_equal(setenv("HOME", "/home/tester", 1), 0);
    assert_int_equal(unsetenv("XDG_DOWNLOAD_DIR"), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    restore("HOME", f->home);
    restore("XDG_DOWNLOAD_DIR", f->xdg);
    unlink(f->path);
    rmdir(f->path); /* when a test made a folder of that name */
    int r = rmdir(f->dir);
    free(f);
    return r;
}

static void write_conf(const struct fixture *f, const char *text, size_t len)
{
    FILE *fp = fopen(f->path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static void assert_defaults(const config *c, const char *dir)
{
    assert_string_equal(c->download_dir, dir);
    assert_false(c->auto_accept_verified);
    assert_int_equal(c->auto_accept_max_bytes, 100 * MIB);
    assert_int_equal(c->auto_accept_day_bytes, 1024 * MIB);
    assert_int_equal(c->auto_accept_keep_free, 1024 * MIB);
    assert_int_equal(c->web_port, 7420);
    assert_true(c->ice);
    assert_int_equal(c->peer_max_conns, 256);
    assert_int_equal(c->peer_max_per_addr, 8);
    assert_int_equal(c->peer_hello_timeout_s, 5);
    assert_int_equal(c->peer_frame_timeout_s, 10);
    assert_int_equal(c->chat_rate, 20);
    assert_int_equal(c->chat_burst, 100);
    assert_int_equal(c->offers_per_peer, 64);
    assert_int_equal(c->offers_total, 512);
    assert_int_equal(c->offer_expiry_s, 604800);
}

static void test_missing_file_defaults(void **state)
{
    struct fixture *f = *state;
    config c;
    char why[256];

    /* HOME only. */
    assert_int_equal(config_load(&c, f->path, why, sizeof why), 0);
    assert_defaults(&c, "/home/tester/Downloads");
    assert_string_equal(why, "");
    /* XDG_DOWNLOAD_DIR wins when set and not empty. */
    assert_int_equal(setenv("XDG_DOWNLOAD_DIR", "/srv/dl", 1), 0);
    assert_int_equal(config_load(&c, f->path, why, sizeof why), 0);
    assert_defaults(&c, "/srv/dl");
    assert_int_equal(setenv("XDG_DOWNLOAD_DIR", "", 1), 0);
    assert_int_equal(config_load(&c, f->path, why, sizeof why), 0);
    assert_defaults(&c, "/home/tester/Downloads");
    /* HOME with a trailing slash, HOME=/, and no HOME at all. */
    assert_int_equal(setenv("HOME", "/home/tester/", 1), 0);
    assert_int_equal(config_load(&c, f->path, why, sizeof why), 0);
    assert_defaults(&c, "/home/tester/Downloads");
    assert_int_equal(setenv("HOME", "/", 1), 0);
    assert_int_equal(config_load(&c, f->path, why, sizeof why), 0);
    assert_defaults(&c, "/Downloads");
    assert_int_equal(unsetenv("HOME"), 0);
    assert_int_equal(config_load(&c, f->path, why, sizeof why), 0);
    assert_defaults(&c, ".");
    /* A file in a folder that does not exist is missing too. */
    assert_int_equal(config_load(&c, "/nonexistent-banter/banter.conf", NULL, 0), 0);
    /* An empty file, and one of comments only, change nothing. */
    assert_int_equal(setenv("HOME", "/home/tester", 1), 0);
    write_conf(f, "", 0);
    assert_int_equal(config_load(&c, f->path, why, sizeof why), 0);
    assert_defaults(&c, "/home/tester/Downloads");
    const char *comments = "# nothing here\n\n   # indented\n\t\n";
    write_conf(f, comments, strlen(comments));
    assert_int_equal(config_load(&c, f->path, why, sizeof why), 0);
    assert_defaults(&c, "/home/tester/Downloads");
    /* An environment path that does not fit. */
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[0] = '/';
    big[sizeof big - 1] = '\0';
    assert_int_equal(setenv("XDG_DOWNLOAD_DIR", big, 1), 0);
    assert_int_equal(config_load(&c, f->path, why, sizeof why), BANTER_ETOOLONG);
    assert_non_null(strstr(why, "download_dir"));
}

static void test_full_file(void **state)
{
    struct fixture *f = *state;
    config c;
    char why[256];
    const char *text = "# Banter settings\n"
                       "\n"
                       "   download_dir   =   /data/incoming #1 files  \n"
                       "\tauto_accept_verified=YES\t\n"
                       "# a comment between\n"
                       "auto_accept_max_mb = 250\r\n"
                       "auto_accept_day_mb = 600\n"
                       "auto_accept_keep_free_mb = 0\n"
                       "web_port = 8080\n"
                       "   \n"
                       "# the end, without a newline";
    write_conf(f, text, strlen(text));
    why[0] = 'x';
    assert_int_equal(config_load(&c, f->path, why, sizeof why), 0);
    assert_string_equal(why, "");
    assert_string_equal(c.download_dir, "/data/incoming");
    assert_true(c.auto_accept_verified);
    assert_int_equal(c.auto_accept_max_bytes, 250 * MIB);
    assert_int_equal(c.auto_accept_day_bytes, 600 * MIB);
    assert_int_equal(c.auto_accept_keep_free, 0);
    assert_int_equal(c.web_port, 8080);

    /* "~/" is $HOME; "#" inside a word stays; a later line wins; 0 is no
     * limit; the largest number fits. */
    text = "download_dir = ~/Incoming/#1\n"
           "auto_accept_verified = true\n"
           "auto_accept_verified = 0\n"
           "auto_accept_max_mb = 0\n";
    write_conf(f, text, strlen(text));
    assert_int_equal(config_load(&c, f->path, why, sizeof why), 0);
    assert_string_equal(c.download_dir, "/home/tester/Incoming/#1");
    assert_false(c.auto_accept_verified);
    assert_int_equal(c.auto_accept_max_bytes, 0);

    text = "download_dir = ~\nauto_accept_max_mb = 17592186044415\nweb_port = 0\n";
    write_conf(f, text, strlen(text));
    assert_int_equal(config_load(&c, f->path, why, sizeof why), 0);
    assert_int_equal(c.web_port, 0);
    assert_string_equal(c.download_dir, "/home/tester");
    assert_int_equal(c.auto_accept_max_bytes, UINT64_MAX - (MIB - 1));

    /* The limits (docs/limits.md). */
    text = "peer_max_conns = 300\npeer_max_per_addr = 2\npeer_hello_timeout = 3\n"
           "peer_frame_timeout = 4\nchat_rate = 0\nchat_burst = 7\noffer_rate = 1\n"
           "offer_burst = 1000000\noffers_per_peer = 5\noffers_total = 6\n"
           "offer_expiry = 31536000\noffer_rate_all = 0\noffer_burst_all = 7\n";
    write_conf(f, text, strlen(text));
    assert_int_equal(config_load(&c, f->path, why, sizeof why), 0);
    assert_int_equal(c.peer_max_conns, 300);
    assert_int_equal(c.peer_max_per_addr, 2);
    assert_int_equal(c.peer_hello_timeout_s, 3);
    assert_int_equal(c.peer_frame_timeout_s, 4);
    assert_int_equal(c.chat_rate, 0);
    assert_int_equal(c.chat_burst, 7);
    assert_int_equal(c.offer_rate, 1);
    assert_int_equal(c.offer_burst, 1000000);
    assert_int_equal(c.offers_per_peer, 5);
    assert_int_equal(c.offers_total, 6);
    assert_int_equal(c.offer_expiry_s, 31536000);
    assert_int_equal(c.offer_rate_all, 0);
    assert_int_equal(c.offer_burst_all, 7);
}

static void test_booleans(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *text;
        bool value;
    } cases[] = {
        {"yes", true}, {"Yes", true}, {"TRUE", true},   {"true", true}, {"1", true},
        {"no", false}, {"NO", false}, {"False", false}, {"0", false},
    };
    char line[64], why[256];
    config c;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = snprintf(line, sizeof line, "auto_accept_verified = %s\n", cases[i].text);
        write_conf(f, line, (size_t)n);
        assert_int_equal(config_load(&c, f->path, why, sizeof why), 0);
        assert_int_equal(c.auto_accept_verified, cases[i].value);
    }
    static const struct {
        const char *text;
        bool value;
    } ice[] = {{"off", false}, {"OFF", false}, {"no", false}, {"on", true}, {"yes", true}};
    for (size_t i = 0; i < sizeof ice / sizeof ice[0]; i++) {
        int n = snprintf(line, sizeof line, "ice = %s\n", ice[i].text);
        write_conf(f, line, (size_t)n);
        assert_int_equal(config_load(&c, f->path, why, sizeof why), 0);
        assert_int_equal(c.ice, ice[i].value);
    }
}

/* text must fail on line with a message holding want; c keeps the defaults. */
static void refused(const struct fixture *f, const char *text, unsigned line, const char *want)
{
    config c;
    char why[256], prefix[64];
    write_conf(f, text, strlen(text));
    memset(&c, 0x55, sizeof c);
    int r = config_load(&c, f->path, why, sizeof why);
    if (r != BANTER_EFORMAT)
        fail_msg("accepted %s (%d)", text, r);
    snprintf(prefix, sizeof prefix, "banter.conf line %u: ", line);
    if (strncmp(why, prefix, strlen(prefix)) != 0 || !strstr(why, want))
        fail_msg("why is \"%s\", wanted \"%s...%s\"", why, prefix, want);
    assert_defaults(&c, "/home/tester/Downloads");
}

static void test_errors(void **state)
{
    struct fixture *f = *state;
    config c;
    char why[256];

    const char *typo = "# settings\n\ndonwload_dir = /x\n";
    write_conf(f, typo, strlen(typo));
    assert_int_equal(config_load(&c, f->path, why, sizeof why), BANTER_EFORMAT);
    assert_string_equal(why, "banter.conf line 3: unknown key \"donwload_dir\"");

    refused(f, "Download_Dir = /x\n", 1, "unknown key \"Download_Dir\"");
    refused(f, "\n\n\ndownload_dir /tmp\n", 4, "\"download_dir /tmp\" has no \"=\"");
    refused(f, "auto_accept_verified\n", 1, "\"auto_accept_verified\" has no \"=\"");
    refused(f, "= 5\n", 1, "no key");

    refused(f, "auto_accept_verified = maybe\n", 1, "auto_accept_verified: \"maybe\" is not");
    refused(f, "auto_accept_verified =\n", 1, "auto_accept_verified: \"\" is not");
    refused(f, "auto_accept_verified = yes please\n", 1, "\"yes please\"");
    refused(f, "auto_accept_verified = 2\n", 1, "auto_accept_verified");
    refused(f, "ice = disabled\n", 1, "ice: \"disabled\" is not yes or no (or true/false, on/off");

    refused(f, "x = 1\n", 1, "unknown key \"x\"");
    refused(f, "#\nauto_accept_max_mb = -5\n", 2, "auto_accept_max_mb: \"-5\" is not");
    refused(f, "auto_accept_max_mb = +5\n", 1, "auto_accept_max_mb: \"+5\"");
    refused(f, "auto_accept_max_mb = 18446744073709551616\n", 1, "auto_accept_max_mb");
    refused(f, "auto_accept_max_mb = 99999999999999999999999\n", 1, "auto_accept_max_mb");
    refused(f, "auto_accept_max_mb = 17592186044416\n", 1, "from 0 to 17592186044415");
    refused(f, "auto_accept_max_mb = ten\n", 1, "auto_accept_max_mb: \"ten\"");
    refused(f, "auto_accept_max_mb = 0x10\n", 1, "\"0x10\"");
    refused(f, "auto_accept_max_mb = 1.5\n", 1, "\"1.5\"");
    refused(f, "auto_accept_max_mb = 5 MB\n", 1, "\"5 MB\"");
    refused(f, "auto_accept_max_mb =\n", 1, "auto_accept_max_mb: \"\"");
    refused(f, "auto_accept_day_mb = -1\n", 1, "auto_accept_day_mb: \"-1\" is not");
    refused(f, "auto_accept_keep_free_mb = 1G\n", 1, "auto_accept_keep_free_mb: \"1G\" is not");

    refused(f, "web_port = 65536\n", 1, "web_port: \"65536\" is not a port from 0 to 65535");
    refused(f, "web_port = -1\n", 1, "web_port: \"-1\"");
    refused(f, "web_port = 7420x\n", 1, "web_port: \"7420x\"");
    refused(f, "web_port = 0000080\n", 1, "web_port: \"0000080\"");
    refused(f, "web_port =\n", 1, "web_port: \"\"");

    refused(f, "peer_max_conns = 0\n", 1, "peer_max_conns: \"0\" is not a whole number from 1");
    refused(f, "peer_max_conns = 65537\n", 1, "from 1 to 65536");
    refused(f, "chat_rate = -1\n", 1, "chat_rate: \"-1\"");
    refused(f, "chat_burst = 99999999999\n", 1, "chat_burst: \"99999999999\"");
    refused(f, "offer_expiry = 1d\n", 1, "offer_expiry: \"1d\"");

    refused(f, "download_dir = Downloads\n", 1, "download_dir: \"Downloads\" is not an absolute");
    refused(f, "download_dir = ./x\n", 1, "download_dir: \"./x\"");
    refused(f, "download_dir = ~user/x\n", 1, "download_dir: \"~user/x\"");
    refused(f, "download_dir =\n", 1, "download_dir: \"\"");
    refused(f, "download_dir = \"/quoted\"\n", 1, "download_dir: \"\\\"/quoted\\\"\"");
    refused(f, "download_dir = /a\x01z\nfoo\n", 2, "\"foo\"");

    /* A control character is shown escaped. */
    refused(f, "download_dir = rel\x1b[1m\n", 1, "\"rel\\x1b[1m\"");
    /* A path that does not fit. */
    char big[4200];
    memcpy(big, "download_dir = /", 16);
    memset(big + 16, 'd', sizeof big - 18);
    big[sizeof big - 2] = '\n';
    big[sizeof big - 1] = '\0';
    refused(f, big, 1, "download_dir: \"/ddd");

    /* "~" with no HOME. */
    assert_int_equal(unsetenv("HOME"), 0);
    write_conf(f, "download_dir = ~/x\n", strlen("download_dir = ~/x\n"));
    assert_int_equal(config_load(&c, f->path, why, sizeof why), BANTER_EFORMAT);
    assert_non_null(strstr(why, "line 1: download_dir: \"~/x\" needs $HOME"));
    assert_string_equal(c.download_dir, ".");

    /* A NUL byte. */
    write_conf(f, "auto_accept_verified = yes\nx\0y = 1\n", 35);
    assert_int_equal(config_load(&c, f->path, why, sizeof why), BANTER_EFORMAT);
    assert_non_null(strstr(why, "line 2: a NUL byte"));
    /* why may be NULL; a small one is cut and terminated. */
    assert_int_equal(config_load(&c, f->path, NULL, 0), BANTER_EFORMAT);
    char small[8];
    assert_int_equal(config_load(&c, f->path, small, sizeof small), BANTER_EFORMAT);
    assert_string_equal(small, "banter.");
}

static void test_file_size_and_type(void **state)
{
    struct fixture *f = *state;
    config c;
    char why[256];
    size_t max = 64 * 1024;
    char *text = malloc(max + 2);
    assert_non_null(text);

    /* Exactly 64 KiB of comments, then a setting at the very end: fine. */
    memset(text, '#', max);
    const char *tail = "\nauto_accept_max_mb = 7";
    memcpy(text + max - strlen(tail), tail, strlen(tail));
    write_conf(f, text, max);
    assert_int_equal(config_load(&c, f->path, why, sizeof why), 0);
    assert_int_equal(c.auto_accept_max_bytes, 7 * MIB);
    /* One byte more is refused. */
    text[max] = '\n';
    write_conf(f, text, max + 1);
    assert_int_equal(config_load(&c, f->path, why, sizeof why), BANTER_EFORMAT);
    assert_string_equal(why, "banter.conf: larger than 64 KiB");
    assert_defaults(&c, "/home/tester/Downloads");
    free(text);

    /* A folder where the file should be. */
    unlink(f->path);
    assert_int_equal(mkdir(f->path, 0700), 0);
    assert_int_equal(config_load(&c, f->path, why, sizeof why), BANTER_EFORMAT);
    assert_string_equal(why, "banter.conf: not a regular file");
    assert_int_equal(rmdir(f->path), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_missing_file_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_booleans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_size_and_type, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
