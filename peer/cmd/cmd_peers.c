/* SPDX-License-Identifier: MIT */
/* cmd_peers.c - `banter id`, `banter peers`, `banter verify`. */
#include <string.h>

#include "cli.h"

static bool has_flag(int argc, char **argv, const char *flag)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], flag) == 0)
            return true;
    return false;
}

static int only_flags(const char *cmd, int argc, char **argv, const char *allowed)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], allowed) != 0) {
            fprintf(stderr, "banter %s: unexpected argument \"%s\"\n", cmd, argv[i]);
            return EXIT_USAGE;
        }
    }
    return EXIT_OK;
}

/* Send one request with no arguments but cmd; returns the reply or NULL
 * with *rc set. */
static cJSON *simple(const cli_ctx *ctx, const char *cmd, const char *peer, int *rc)
{
    ctl_request q = {0};
    if (ctl_kind_parse(cmd, &q.kind) != 0) {
        *rc = EXIT_USAGE;
        return NULL;
    }
    /* verify is the one with a peer */
    if (peer && !cli_copy(q.u.verify.peer, sizeof q.u.verify.peer, peer, cmd, "the peer")) {
        *rc = EXIT_USAGE;
        return NULL;
    }
    return cli_call(ctx, &q, rc);
}

static const char *str(const cJSON *o, const char *key) { return cli_str(o, key); }

int cmd_id(const cli_ctx *ctx, int argc, char **argv)
{
    int rc = only_flags("id", argc, argv, "--json");
    if (rc)
        return rc;
    cJSON *r = simple(ctx, "id", NULL, &rc);
    if (!r)
        return rc;
    if (has_flag(argc, argv, "--json")) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "fingerprint", str(r, "fingerprint"));
        cJSON_AddStringToObject(o, "name", str(r, "name"));
        cli_print_json(o);
        cJSON_Delete(o);
    } else {
        printf("name:        %s\nfingerprint: %s\n", str(r, "name"), str(r, "fingerprint"));
    }
    cJSON_Delete(r);
    return EXIT_OK;
}

int cmd_peers(const cli_ctx *ctx, int argc, char **argv)
{
    int rc = only_flags("peers", argc, argv, "--json");
    if (rc)
        return rc;
    cJSON *r = simple(ctx, "peers", NULL, &rc);
    if (!r)
        return rc;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(r, "peers");
    if (has_flag(argc, argv, "--json")) {
        cli_print_json(list);
    } else if (cJSON_GetArraySize(list) == 0) {
        printf("no peers yet: colleagues on this LAN appear when they start banter\n");
    } else {
        printf("%-20s %-7s %-9s %-7s %-47s %s\n", "NAME", "ONLINE", "TRUST", "SOURCE",
               "FINGERPRINT", "ADDRESS");
        const cJSON *p;
        cJSON_ArrayForEach (p, list) {
            const cJSON *addrs = cJSON_GetObjectItemCaseSensitive(p, "addresses");
            const cJSON *a0 = cJSON_GetArrayItem(addrs, 0);
            const cJSON *org = cJSON_GetObjectItemCaseSensitive(p, "org");
            bool rdv = strcmp(str(p, "source"), "rendezvous") == 0;
            printf("%-20s %-7s %-9s %-7s %-47s %s\n", str(p, "name"),
                   cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "online")) ? "yes" : "no",
                   str(p, "trust"), rdv ? "rdv" : str(p, "source"),
                   rdv ? str(p, "status") : str(p, "fingerprint"),
                   rdv                  ? str(p, "text")
                   : cJSON_IsString(a0) ? a0->valuestring
                                        : "");
            if (org)
                printf("  ^ organisation account: %s\n", str(org, "account"));
            const cJSON *d;
            cJSON_ArrayForEach (d, cJSON_GetObjectItemCaseSensitive(p, "devices"))
                if (str(d, "route")[0] && strcmp(str(d, "route"), "server") != 0)
                    printf("  ^ device %.11s: %s%s%s\n", str(d, "fingerprint"), str(d, "route"),
                           str(d, "path")[0] ? ", " : "", str(d, "path"));
                else if (strcmp(str(d, "route"), "server") == 0)
                    printf("  ^ device %.11s: through the server (sealed relay)\n",
                           str(d, "fingerprint"));
            if (strcmp(str(p, "trust"), "changed") == 0)
                printf("  ^ WARNING: key changed (was %s); messages refused until "
                       "`banter verify`\n",
                       str(p, "replaces"));
        }
    }
    cJSON_Delete(r);
    return EXIT_OK;
}

int cmd_verify(const cli_ctx *ctx, int argc, char **argv)
{
    int rc;
    if (argc != 2) {
        cli_usage(stderr, cli_find("verify"));
        return EXIT_USAGE;
    }
    cJSON *r = simple(ctx, "verify", argv[1], &rc);
    if (!r)
        return rc;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(r, "peer");
    printf("verified %s: %s\n", str(p, "name"), str(p, "fingerprint"));
    cJSON_Delete(r);
    return EXIT_OK;
}
