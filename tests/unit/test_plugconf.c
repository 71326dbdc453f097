/* SPDX-License-Identifier: MIT */
/* test_plugconf.c - plug-in settings: defaults, every key, a later line
 * winning, other modules' keys left alone, and each mistake named with its
 * line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "plugconf.h"

static char path[64];

static int load(plugconf *pc, const char *text, char *why, size_t cap)
{
    snprintf(path, sizeof path, "/tmp/test_plugconf.%ld.conf", (long)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    int r = plugconf_load(pc, path, why, cap);
    unlink(path);
    return r;
}

static void test_settings(void **state)
{
    (void)state;
    plugconf pc;
    char why[256];
    plugconf_init(&pc);
    assert_int_equal(load(&pc,
                          "web_port = 0\n"
                          "plugins.host = /usr/bin/banter-plugin-host\n"
                          "plugin.echo.path = /p/echo.so\n"
                          "plugin.echo.prefix = bot>\n"
                          "plugin.mail.path = /p/mail.so\n"
                          "plugin.mail.enabled = no\n"
                          "plugin.mail.contacts = ada, @grace, 12345 67890 12345 67890 12345 "
                          "67890-12345-67890\n"
                          "plugin.mail.memory_mb = 64\n"
                          "plugin.mail.heartbeat_ms = 250\n"
                          "plugin.echo.prefix = bot:\n"
                          "plugin.echo.contacts = *\n",
                          why, sizeof why),
                     0);
    assert_string_equal(pc.host, "/usr/bin/banter-plugin-host");
    assert_int_equal(pc.count, 2);
    const plugconf_entry *e = pc.e[0], *m = pc.e[1];
    assert_string_equal(e->name, "echo");
    assert_true(e->enabled);
    assert_true(e->all_contacts);
    assert_int_equal(e->memory_mb, PLUGCONF_MEM_MB);
    assert_int_equal(e->heartbeat_ms, PLUGCONF_HB_MS);
    assert_int_equal(e->nconf, 1);
    assert_string_equal(e->key[0], "prefix");
    assert_string_equal(e->value[0], "bot:"); /* a later line wins */
    plugmsg cm;
    plugconf_entry_config(e, &cm); /* what its host is given */
    assert_int_equal(cm.type, PLUG_CONFIG);
    assert_int_equal(cm.nconf, 1);
    assert_string_equal(cm.key[0], "prefix");
    assert_string_equal(cm.value[0], "bot:");
    assert_false(m->enabled);
    assert_false(m->all_contacts);
    assert_string_equal(m->contacts,
                        "ada, @grace, 12345 67890 12345 67890 12345 67890-12345-67890");
    assert_int_equal(m->memory_mb, 64);
    assert_int_equal(m->heartbeat_ms, 250);
    assert_int_equal(m->nconf, 0);
    plugconf_clear(&pc);
    assert_int_equal(pc.count, 0);
    /* No file, no plug-ins. */
    assert_int_equal(plugconf_load(&pc, "/nonexistent/banter.conf", why, sizeof why), 0);
    assert_int_equal(pc.count, 0);
}

static void refused(const char *text, const char *want)
{
    plugconf pc;
    char why[256] = "";
    plugconf_init(&pc);
    assert_int_equal(load(&pc, text, why, sizeof why), BANTER_EFORMAT);
    if (!strstr(why, want))
        fail_msg("\"%s\" does not say \"%s\"", why, want);
    assert_int_equal(pc.count, 0); /* nothing kept */
}

static void test_mistakes(void **state)
{
    (void)state;
    refused("plugin.echo.contacts = *\n", ": plugin.echo.path is missing");
    refused("# c\nplugin.Echo.path = /x.so\n",
            "line 2: \"plugin.Echo.path\": expected plugin.NAME");
    refused("plugin.echo = /x.so\n", "expected plugin.NAME.KEY");
    refused("plugin.echo.path = /x.so\nplugin.echo.x/y = 1\n",
            "line 2: \"plugin.echo.x/y\": a plug");
    refused("plugin.e.path = x.so\n", "line 1: plugin.e.path: \"x.so\" is not an absolute path");
    refused("plugin.e.path = /x.so\nplugin.e.memory_mb = 15\n", "line 2: plugin.e.memory_mb");
    refused("plugin.e.path = /x.so\nplugin.e.memory_mb = 1048577\n", "from 16 to 1048576");
    refused("plugin.e.path = /x.so\nplugin.e.heartbeat_ms = 99\n", "plugin.e.heartbeat_ms");
    refused("plugin.e.path = /x.so\nplugin.e.heartbeat_ms = -5\n", "not a whole number");
    refused("plugin.e.path = /x.so\nplugin.e.enabled = maybe\n", "is not yes or no");
    refused("plugin.e.path = /x.so\nplugin.e.Key = 1\n", "a plug-in's key is");
    refused("plugin.e.path = /x.so\nplugin.e.contacts = ada, 12345\n",
            "line 2: plugin.e.contacts: \"12345\" is part of a fingerprint: give all 40 digits");
    refused("plugin.e.path = /x.so\nplugin.e.contacts = 12345-67890 12345\n",
            "part of a fingerprint");
    /* a tab before the digits (the node strips every blank off an entry) */
    refused("plugin.e.path = /x.so\nplugin.e.contacts = bob,\t1234\n",
            "line 2: plugin.e.contacts: \"1234\" is part of a fingerprint");
    refused("plugins.hots = /x\n", "unknown key \"plugins.hots\"");
    refused("plugins.host = relative\n", "plugins.host: expected an absolute path");
    refused("plugin.abcdefghijabcdefghijabcdefghijabc.path = /x.so\n", "NAME: 1..32");
    char many[4096] = "plugin.e.path = /x.so\n";
    for (unsigned i = 0; i <= PLUGCONF_OWN_MAX; i++) {
        char line[64];
        snprintf(line, sizeof line, "plugin.e.k%u = v\n", i);
        strncat(many, line, sizeof many - strlen(many) - 1);
    }
    refused(many, "settings for one plug-in");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_mistakes),
    };
    return cmocka_run_group_tests_name("plugconf", tests, NULL, NULL);
}
