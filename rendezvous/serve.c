/* SPDX-License-Identifier: MIT */
/* serve.c - the `serve` and `fingerprint` commands. */
#include <stdio.h>

#include "cli.h"
#include "ctl.h"
#include "icesig.h"
#include "instance.h"
#include "keys.h"
#include "server.h"

static bool no_args(const char *name, int argc, char **argv)
{
    if (argc <= 1)
        return true;
    fprintf(stderr, CLI_PROG ": %s takes no arguments (not \"%s\"); see " CLI_PROG " --help\n",
            name, argv[1]);
    return false;
}

int cmd_fingerprint(const cli_ctx *ctx, int argc, char **argv)
{
    identity *id = NULL;
    bool created;
    char why[512], fp[IDENTITY_FP_LEN + 1];

    if (!no_args("fingerprint", argc, argv))
        return EXIT_USAGE;
    if (keys_load(&id, ctx->key_path, &created, why, sizeof why) != 0) {
        fprintf(stderr, CLI_PROG ": %s\n", why);
        return EXIT_ERROR;
    }
    if (created)
        fprintf(stderr, CLI_PROG ": created server key %s\n", ctx->key_path);
    identity_fingerprint(identity_public(id), fp);
    printf("%s\n", fp);
    identity_free(id);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_ERROR;
}

int cmd_serve(const cli_ctx *ctx, int argc, char **argv)
{
    identity *id = NULL;
    bool created;
    char why[512], fp[IDENTITY_FP_LEN + 1];

    if (!no_args("serve", argc, argv))
        return EXIT_USAGE;
    db *d = cli_open_db(ctx);
    if (!d)
        return EXIT_ERROR;
    if (keys_load(&id, ctx->key_path, &created, why, sizeof why) != 0) {
        fprintf(stderr, CLI_PROG ": %s\n", why);
        db_close(d);
        return EXIT_ERROR;
    }
    if (created) {
        identity_fingerprint(identity_public(id), fp);
        fprintf(stderr, CLI_PROG ": created server key; fingerprint: %s\n", fp);
        fprintf(stderr,
                CLI_PROG ": the key is %s: back it up; nodes refuse a server whose key "
                         "changed\n",
                ctx->key_path);
    }
    char ctl_path[CONFIG_PATH_MAX + sizeof CTL_SUFFIX];
    char plugin_dir[CONFIG_PATH_MAX + sizeof ".plugins"];
    snprintf(ctl_path, sizeof ctl_path, "%s" CTL_SUFFIX, config_base(ctx->cfg));
    snprintf(plugin_dir, sizeof plugin_dir, "%s.plugins", config_base(ctx->cfg));
    const config *cf = ctx->cfg;
    if (cf->ice.nturn && !cf->turn_secret[0]) {
        fprintf(stderr, CLI_PROG ": turn servers need turn_secret (coturn's static-auth-secret)\n");
        identity_free(id);
        db_close(d);
        return EXIT_USAGE;
    }
    identity *inst = NULL;
    uint8_t icb[ICERT_LEN_MAX];
    size_t icert_len = 0;
    if (cf->instance[0]) {
        int64_t days;
        if (instance_load(cf->instance, id, instance_wall_ms(), &inst, icb, &icert_len, &days, why,
                          sizeof why) != 0) {
            fprintf(stderr, CLI_PROG ": %s\n", why);
            identity_free(id);
            db_close(d);
            return EXIT_ERROR;
        }
        if (days < INSTANCE_WARN_DAYS)
            fprintf(stderr,
                    CLI_PROG ": the instance certificate %s" INSTANCE_CERT_SUFFIX
                             " expires in %lld days: renew it\n",
                    cf->instance, (long long)days);
    }
    struct icesig_config ic = {0}; /* server_run returns before it goes */
    ic.servers = cf->ice;
    snprintf(ic.secret, sizeof ic.secret, "%s", cf->turn_secret);
    ic.ttl_ms = cf->turn_ttl_s * 1000;
    server_config sc = {.id = id,
                        .db = d,
                        .rng = bcrypto_rng_system(),
                        .listen = cf->listen,
                        .ctl = ctl_path,
                        .lim = {.ttl_ms = cf->ttl_days * 24 * 3600 * 1000,
                                .quota_messages = cf->quota_messages,
                                .quota_bytes = cf->quota_mb * 1024 * 1024},
                        .pub = cf->public_fields,
                        .log = stderr,
                        .conf = ctx->conf,
                        .pdir = plugin_dir,
                        .ice = &ic,
                        .instance = inst,
                        .icert = icert_len ? icb : NULL,
                        .icert_len = icert_len};
    int r = server_run(&sc);
    identity_free(inst);
    identity_free(id);
    db_close(d);
    return r == 0 ? EXIT_OK : EXIT_ERROR;
}
