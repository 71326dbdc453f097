/* SPDX-License-Identifier: MIT */
/* cmd_node.c - `banter node`: parse options, run the node. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "app.h"
#include "net/lan.h"
#include "rdv/rdv.h"
#include "utf8.h"

static int bad(const char *what, const char *value)
{
    fprintf(stderr, "banter node: %s: \"%s\" (banter node --help)\n", what, value);
    return EXIT_USAGE;
}

static void default_name(char *out, size_t cap)
{
    const char *u = getenv("USER");
    if (!u || !*u)
        u = getlogin();
    snprintf(out, cap, "%s", u && *u ? u : "banter");
}

int cmd_node(const cli_ctx *ctx, int argc, char **argv)
{
    static app_config cfg; /* large; one per process */
    cfg.home = *ctx->home;
    cfg.mdns = true;
    cfg.port = LAN_DEFAULT_PORT;
    cfg.web_port = -1;
    default_name(cfg.name, sizeof cfg.name);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--no-mdns") == 0) {
            cfg.mdns = false;
        } else if (strcmp(a, "--name") == 0 && v) {
            size_t n = strlen(v);
            if (n == 0 || n > BANTER_MAX_NAME || !utf8_valid(v, n))
                return bad("--name must be 1 to 64 bytes of UTF-8", v);
            for (const char *p = v; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                    return bad("--name must not contain control characters", v);
            snprintf(cfg.name, sizeof cfg.name, "%s", v);
            i++;
        } else if (strcmp(a, "--port") == 0 && v) {
            char *end;
            errno = 0;
            unsigned long p = strtoul(v, &end, 10);
            if (errno || *end || p > 65535)
                return bad("--port must be 0 to 65535", v);
            cfg.port = (uint16_t)p;
            i++;
        } else if (strcmp(a, "--web-port") == 0 && v) {
            char *end;
            errno = 0;
            unsigned long p = strtoul(v, &end, 10);
            if (errno || *end || !*v || p > 65535 || v[0] == '-' || v[0] == '+')
                return bad("--web-port must be 0 (off) to 65535", v);
            cfg.web_port = (int)p;
            i++;
        } else if (strcmp(a, "--peer") == 0 && v) {
            if (cfg.nstatic == APP_MAX_STATIC)
                return bad("too many --peer (at most 32)", v);
            if (strlen(v) >= sizeof cfg.static_peers[0])
                return bad("--peer too long", v);
            snprintf(cfg.static_peers[cfg.nstatic++], sizeof cfg.static_peers[0], "%s", v);
            i++;
        } else if (strcmp(a, "--rendezvous") == 0 && v) {
            if (strlen(v) >= sizeof cfg.rendezvous || !v[0])
                return bad("--rendezvous takes HOST:PORT[,HOST:PORT...] or a DNS SRV name", v);
            snprintf(cfg.rendezvous, sizeof cfg.rendezvous, "%s", v);
            i++;
        } else if (strcmp(a, "--server-key") == 0 && v) {
            char fpd[IDENTITY_FP_DIGITS + 1];
            if (strlen(v) >= sizeof cfg.server_key || rdv_parse_fingerprint(v, fpd) != 0)
                return bad("--server-key takes the 40 digits printed by `banter-rendezvous "
                           "fingerprint` (spaces optional)",
                           v);
            snprintf(cfg.server_key, sizeof cfg.server_key, "%s", v);
            i++;
        } else {
            return bad("unknown option or missing value", a);
        }
    }
    if (!cfg.rendezvous[0] != !cfg.server_key[0]) {
        fprintf(stderr, "banter node: --rendezvous and --server-key go together: the node "
                        "refuses a server whose key it cannot check (banter node --help)\n");
        return EXIT_USAGE;
    }
    return app_run(&cfg);
}
