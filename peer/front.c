/* SPDX-License-Identifier: MIT */
/* front.c - the start banter and banter-node share. */
#include "front.h"

#include <string.h>

#include "bcrypto.h"

int front_options(int argc, char **argv, const char *prog, void (*usage)(FILE *f),
                  const char **home_opt, int *code)
{
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        int used = home_option(argc - i, argv + i, home_opt);
        if (used) {
            i += used;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            *code = EXIT_OK;
            return -1;
        } else {
            fprintf(stderr, "%s: unknown option %s\n", prog, argv[i]);
            usage(stderr);
            *code = EXIT_USAGE;
            return -1;
        }
    }
    return i;
}

int front_run(const char *home_opt, cli_cmd_fn fn, int argc, char **argv)
{
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
    return fn(&ctx, argc, argv);
}
