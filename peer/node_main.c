/* SPDX-License-Identifier: MIT */
/*
 * node_main.c - `banter-node`: the node program (peer/app.c and what it
 * runs). People start it as `banter node`, which becomes
 * `banter-node --home DIR node [OPTIONS]` (cmd/cmd_node_exec.c); the same
 * command line works here directly.
 */
#include <stdio.h>
#include <string.h>

#include "bcrypto.h"
#include "cli.h"

static int usage(FILE *f, int code)
{
    fprintf(f, "usage: banter-node [--home DIR] node [OPTIONS]\n\n"
               "The Banter node; `banter node --help` lists the options (banter(1)).\n");
    return code;
}

int main(int argc, char **argv)
{
    const char *home_opt = NULL;
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        int used = home_option(argc - i, argv + i, &home_opt);
        if (used) {
            i += used;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            return usage(stdout, EXIT_OK);
        } else {
            fprintf(stderr, "banter-node: unknown option %s\n", argv[i]);
            return usage(stderr, EXIT_USAGE);
        }
    }
    if (i == argc || strcmp(argv[i], "node") != 0)
        return usage(stderr, EXIT_USAGE);
    home h;
    int r = home_resolve(&h, home_opt);
    if (r) {
        fprintf(stderr, "banter: cannot find a home directory (%s): use --home DIR\n",
                banter_strerror(r));
        return EXIT_USAGE;
    }
    if (bcrypto_init() != 0) {
        fprintf(stderr, "banter: libsodium failed to initialise\n");
        return EXIT_ERROR;
    }
    cli_ctx ctx = {&h, "banter"};
    return cmd_node(&ctx, argc - i, argv + i);
}
