/* SPDX-License-Identifier: MIT */
/*
 * test_rdv_config.c - the rendezvous server's settings: defaults, a file
 * with comments, listen addresses of both families, and every mistake
 * refused with its line, key and value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "config.h"
#include "dirview.h"

struct fixture {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/banter-test-rdvconf-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/rdv.conf", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static void test_defaults(void **state)
{
    (void)state;
    config c;
    char key[CONFIG_PATH_MAX];
    config_defaults(&c);
    assert_string_equal(c.db, "./rendezvous.db");
    assert_string_equal(c.listen, "0.0.0.0:7071");
    assert_int_equal(config_key_path(&c, key, sizeof key), 0);
    assert_string_equal(key, "./rendezvous.db.key");
    assert_int_equal(config_key_path(&c, key, 10), BANTER_ETOOLONG);
    assert_int_equal(c.public_fields, DIR_PUBLIC_DEFAULT);
}

static void test_file(void **state)
{
    struct fixture *f = *state;
    static const char text[] = "# the rendezvous\n"
                               "\n"
                               "  listen =  127.0.0.1:17000   # loopback\r\n"
                               "db = /srv/#1/rdv.db\n"
                               "listen = [::1]:7071\n";
    config c;
    char why[256];
    config_defaults(&c);
    write_file(f->path, text, sizeof text - 1);
    assert_int_equal(config_load(&c, f->path, why, sizeof why), 0);
    assert_string_equal(c.listen, "[::1]:7071");
    assert_string_equal(c.db, "/srv/#1/rdv.db");
}

/* Load text and expect BANTER_EFORMAT with a message containing want. */
static void refused(struct fixture *f, const char *text, size_t len, const char *want)
{
    config c, before;
    char why[512];
    config_defaults(&c);
    before = c;
    write_file(f->path, text, len);
    assert_int_equal(config_load(&c, f->path, why, sizeof why), BANTER_EFORMAT);
    if (!strstr(why, want))
        fail_msg("\"%s\" does not contain \"%s\"", why, want);
    assert_memory_equal(&c, &before, sizeof c);
}

/* directory_public_fields: a list of profile fields, "" for none; an
 * unknown name is refused with the name. */
static void test_public_fields(void **state)
{
    struct fixture *f = *state;
    static const char text[] = "directory_public_fields = department, title,location\n";
    config c;
    char why[512];
    config_defaults(&c);
    write_file(f->path, text, sizeof text - 1);
    assert_int_equal(config_load(&c, f->path, why, sizeof why), 0);
    assert_int_equal(c.public_fields,
                     (1u << RV_F_DEPARTMENT) | (1u << RV_F_TITLE) | (1u << RV_F_LOCATION));
    assert_int_equal(config_set(&c, "directory_public_fields", "", why, sizeof why), 0);
    assert_int_equal(c.public_fields, 0);
    refused(f, "directory_public_fields = title,phonenumber\n", 44,
            "line 1: directory_public_fields: \"phonenumber\" is not a profile field");
    refused(f, "directory_public_fields = user\n", 31, "\"user\" is not a profile field");
}

static void test_mistakes(void **state)
{
    struct fixture *f = *state;
    refused(f, "listen = 1.2.3.4:7071\nlisen = x\n", 29, "rdv.conf line 2: unknown key \"lisen\"");
    refused(f, "listen 1.2.3.4:7071\n", 20,
            "rdv.conf line 1: \"listen 1.2.3.4:7071\" has no \"=\"");
    refused(f, "= 3\n", 4, "line 1: no key before");
    refused(f, "db =\n", 5, "line 1: db: the path is empty");
    refused(f, "listen = a\x01:1\n", 13, "listen: \"a\\x01:1\" is not ADDR:PORT");
    refused(f, "db = x\0y\n", 9, "line 1: a NUL byte");
    static const char *const bad[] = {
        "1.2.3.4",  "1.2.3.4:",     "1.2.3.4:65536", "1.2.3.4:-1",    "1.2.3.4:+80", "1.2.3.4: 80",
        "host:80",  ":80",          "[::1]80",       "[::1]:",        "::1:80",      "[1.2.3.4]:80",
        "1.2.3:80", "1.2.3.4:0x10", "[::1]:123456",  "1.2.3.4:7071 ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[128];
        int n = snprintf(text, sizeof text, "listen=%s", bad[i]);
        /* A trailing space is trimmed like any, so that one is valid. */
        if (bad[i][strlen(bad[i]) - 1] == ' ')
            continue;
        refused(f, text, (size_t)n, "is not ADDR:PORT");
    }
}

/* Load text and expect it taken, with the share of quota_mb's bytes
 * given. */
static void taken(struct fixture *f, const char *text, int64_t share)
{
    config c;
    char why[512];
    config_defaults(&c);
    write_file(f->path, text, strlen(text));
    if (config_load(&c, f->path, why, sizeof why) != 0)
        fail_msg("%s", why);
    assert_int_equal(config_share(c.quota_mb * 1024 * 1024, c.sender_pct), share);
}

/* One sender's share of a mailbox's bytes must hold the largest copy
 * (65459 bytes), or such a copy would wait for good (EQUOTA is "not now"
 * to a node): refused at load, naming both settings and the least value
 * of each that would do; just enough is taken. Fails before the check
 * (every one loaded). */
static void test_share_holds_a_copy(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(CONFIG_MAX_COPY_BYTES, 65459);
    static const char six[] = "quota_mb = 1\nquota_sender_percent = 6\n";
    refused(f, six, sizeof six - 1,
            "rdv.conf: quota_sender_percent = 6 of quota_mb = 1 leaves one sender 62915 "
            "bytes of a mailbox, less than one largest copy (65459 bytes), which would never "
            "be stored: raise quota_sender_percent to at least 7 or quota_mb to at least 2");
    static const char one[] = "quota_sender_percent = 1\nquota_mb = 6\n";
    refused(f, one, sizeof one - 1,
            "raise quota_sender_percent to at least 2 or quota_mb to at least 7");
    static const char tiny[] = "quota_mb = 1\nquota_sender_percent = 1\n";
    refused(f, tiny, sizeof tiny - 1,
            "raise quota_sender_percent to at least 7 or quota_mb to at least 7");
    taken(f, "quota_mb = 1\nquota_sender_percent = 7\n", 73401);
    taken(f, "quota_mb = 7\nquota_sender_percent = 1\n", 73401);
    taken(f, "quota_mb = 1\nquota_sender_percent = 100\n", 1048576);
    taken(f, "# the defaults: 25 of 100 MiB\n", 26214400);
}

static void test_too_big(void **state)
{
    struct fixture *f = *state;
    size_t n = 64 * 1024 + 1;
    char *text = malloc(n);
    assert_non_null(text);
    memset(text, '#', n);
    refused(f, text, n, "larger than 64 KiB");
    free(text);
}

static void test_missing(void **state)
{
    struct fixture *f = *state;
    config c;
    char why[256];
    config_defaults(&c);
    assert_int_equal(config_load(&c, f->path, why, sizeof why), BANTER_EIO);
    assert_non_null(strstr(why, "rdv.conf: cannot open"));
}

static void test_set_and_parse(void **state)
{
    (void)state;
    config c;
    char why[256];
    struct sockaddr_storage ss;
    config_defaults(&c);
    assert_int_equal(config_set(&c, "listen", "198.18.0.1:0", why, sizeof why), 0);
    assert_string_equal(c.listen, "198.18.0.1:0");
    assert_int_equal(config_set(&c, "listen", "nope", why, sizeof why), BANTER_EFORMAT);
    assert_string_equal(why, "listen: \"nope\" is not ADDR:PORT with a numeric address "
                             "(e.g. 0.0.0.0:7071 or [::]:7071)");
    assert_int_equal(config_set(&c, "colour", "red", why, sizeof why), BANTER_EFORMAT);
    assert_non_null(strstr(why, "unknown key \"colour\""));
    /* One sender's share of a mailbox, in percent. */
    assert_int_equal(c.sender_pct, CONFIG_SENDER_PCT);
    assert_int_equal(config_set(&c, "quota_sender_percent", "50", why, sizeof why), 0);
    assert_int_equal(c.sender_pct, 50);
    assert_int_equal(config_set(&c, "quota_sender_percent", "0", why, sizeof why), BANTER_EFORMAT);
    assert_int_equal(config_set(&c, "quota_sender_percent", "101", why, sizeof why),
                     BANTER_EFORMAT);
    assert_non_null(
        strstr(why, "quota_sender_percent: \"101\" is not a whole number from 1 to 100"));
    assert_int_equal(c.sender_pct, 50);

    assert_int_equal(config_parse_listen("198.18.0.1:17071", &ss), 0);
    const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)&ss;
    assert_int_equal(in->sin_family, AF_INET);
    assert_int_equal(ntohs(in->sin_port), 17071);
    assert_int_equal(ntohl(in->sin_addr.s_addr), 0xc6120001u);
    assert_int_equal(config_parse_listen("[::]:65535", &ss), 0);
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)&ss;
    assert_int_equal(in6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(in6->sin6_port), 65535);
    char long_addr[CONFIG_LISTEN_MAX + 8];
    memset(long_addr, '1', sizeof long_addr - 1);
    long_addr[sizeof long_addr - 1] = '\0';
    assert_int_equal(config_parse_listen(long_addr, &ss), BANTER_EINVAL);
}

/* The local files' base: beside a SQLite database, at `state` with a
 * PostgreSQL URL. */
static void test_state(void **state)
{
    (void)state;
    config c;
    char why[256], key[CONFIG_PATH_MAX];
    config_defaults(&c);
    assert_string_equal(config_base(&c), CONFIG_DEFAULT_DB);
    assert_int_equal(config_key_path(&c, key, sizeof key), 0);
    assert_string_equal(key, CONFIG_DEFAULT_DB ".key");
    assert_int_equal(config_set(&c, "state", "/var/lib/banter/rdv-a", why, sizeof why), 0);
    assert_string_equal(config_base(&c), CONFIG_DEFAULT_DB); /* ignored with SQLite */
    assert_int_equal(config_set(&c, "db", "postgresql://banter@db/banter", why, sizeof why), 0);
    assert_string_equal(config_base(&c), "/var/lib/banter/rdv-a");
    assert_int_equal(config_key_path(&c, key, sizeof key), 0);
    assert_string_equal(key, "/var/lib/banter/rdv-a.key");
    config_defaults(&c);
    assert_int_equal(config_set(&c, "db", "postgres://x/y", why, sizeof why), 0);
    assert_string_equal(config_base(&c), CONFIG_DEFAULT_STATE);
    assert_int_equal(config_set(&c, "state", "", why, sizeof why), BANTER_EFORMAT);
    assert_non_null(strstr(why, "state:"));
}

/* cluster_listen: an address the other instances dial (docs/rendezvous.md 8.3). */
static void test_cluster_listen(void **state)
{
    (void)state;
    config c;
    char why[256];
    config_defaults(&c);
    assert_string_equal(c.cluster_listen, "");
    assert_int_equal(config_set(&c, "cluster_listen", "10.0.0.5:7072", why, sizeof why), 0);
    assert_string_equal(c.cluster_listen, "10.0.0.5:7072");
    assert_int_equal(config_set(&c, "cluster_listen", "127.0.0.1:0", why, sizeof why), 0);
    assert_int_equal(config_set(&c, "cluster_listen", "[::1]:7072", why, sizeof why), 0);
    const char *bad[] = {"0.0.0.0:7072", "[::]:7072", "rdv-a:7072", "10.0.0.5", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(config_set(&c, "cluster_listen", bad[i], why, sizeof why), BANTER_EFORMAT);
        assert_non_null(strstr(why, "cluster_listen:"));
    }
    /* The unspecified address in any spelling: refused after parsing, with the reason. */
    const char *any[] = {"0.0.0.0:7072",
                         "[::]:7072",
                         "[0::]:7072",
                         "[::0]:7072",
                         "[0:0:0:0:0:0:0:0]:7072",
                         "[::ffff:0.0.0.0]:7072",
                         "[::0.0.0.0]:7072",
                         "[0000::0000]:7072"};
    for (size_t i = 0; i < sizeof any / sizeof any[0]; i++) {
        assert_int_equal(config_set(&c, "cluster_listen", any[i], why, sizeof why), BANTER_EFORMAT);
        assert_non_null(strstr(why, "unspecified address"));
    }
    /* inet_pton takes only dotted quads: "0:7072" is not a numeric address at all. */
    assert_int_equal(config_set(&c, "cluster_listen", "0:7072", why, sizeof why), BANTER_EFORMAT);
    /* A mapped real address is an address. */
    assert_int_equal(config_set(&c, "cluster_listen", "[::ffff:10.0.0.5]:7072", why, sizeof why),
                     0);
    assert_int_equal(config_set(&c, "cluster_listen", "[::1]:7072", why, sizeof why), 0);
    assert_string_equal(c.cluster_listen, "[::1]:7072");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_public_fields, setup, teardown),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test_setup_teardown(test_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mistakes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_share_holds_a_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
        cmocka_unit_test(test_set_and_parse),
        cmocka_unit_test(test_state),
        cmocka_unit_test(test_cluster_listen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
