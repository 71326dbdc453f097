/* SPDX-License-Identifier: MIT */
/* serve.c - the `serve` and `fingerprint` commands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ctl.h"
#include "db_cluster.h"
#include "db_pg.h"
#include "icert.h"
#include "icesig.h"
#include "instance.h"
#include "keys.h"
#include "server.h"

/* On PostgreSQL, this instance's id among those sharing the database: its
 * certificate's name with '-' and '.' as '_' (at most DB_CLUSTER_MAX_ID
 * bytes), or "main" for a server without an instance key. false (said)
 * when the name cannot be one. */
static bool cluster_id_of(const uint8_t *icb, size_t len, char out[static DB_CLUSTER_MAX_ID + 1])
{
    icert c = {0};
    snprintf(out, DB_CLUSTER_MAX_ID + 1, "main");
    if (!len)
        return true;
    if (icert_decode(&c, icb, len) != 0 || strlen(c.name) > DB_CLUSTER_MAX_ID) {
        fprintf(stderr,
                CLI_PROG ": the instance name \"%s\" is longer than %d bytes: with a "
                         "PostgreSQL database it names the instance among the others; make a "
                         "certificate with a shorter --name\n",
                c.name, DB_CLUSTER_MAX_ID);
        return false;
    }
    for (size_t i = 0; c.name[i]; i++)
        out[i] = c.name[i] == '-' || c.name[i] == '.' ? '_' : c.name[i];
    out[strlen(c.name)] = '\0';
    return true;
}

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
    char cid[DB_CLUSTER_MAX_ID + 1];
    bool pg = db_pg_is_url(cf->db);
    if (pg && !cluster_id_of(icb, icert_len, cid)) {
        identity_free(inst);
        identity_free(id);
        db_close(d);
        return EXIT_USAGE;
    }
    struct icesig_config ic = {0}; /* server_run returns before it goes */
    ic.servers = cf->ice;
    snprintf(ic.secret, sizeof ic.secret, "%s", cf->turn_secret);
    ic.ttl_ms = cf->turn_ttl_s * 1000;
    server_config sc = {
        .id = id,
        .db = d,
        .rng = bcrypto_rng_system(),
        .listen = cf->listen,
        .ctl = ctl_path,
        .lim = core_limits_make(cf->ttl_days, cf->quota_messages, cf->quota_mb, cf->sender_pct),
        .pub = cf->public_fields,
        .log = stderr,
        .conf = ctx->conf,
        .pdir = plugin_dir,
        .ice = &ic,
        .instance = inst,
        .icert = icert_len ? icb : NULL,
        .icert_len = icert_len,
        .cluster_url = pg ? cf->db : NULL,
        .cluster_id = pg ? cid : NULL,
        .cluster_listen = pg && cf->cluster_listen[0] ? cf->cluster_listen : NULL,
        .no_probe = !cf->probe};
    int r = server_run(&sc);
    identity_free(inst);
    identity_free(id);
    db_close(d);
    return r == 0 ? EXIT_OK : EXIT_ERROR;
}
