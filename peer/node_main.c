/* SPDX-License-Identifier: MIT */
/*
 * node_main.c - `banter-node`: the node program (peer/app.c and what it
 * runs). People start it as `banter node`, which becomes
 * `banter-node --home DIR node [OPTIONS]` (cmd/cmd_node_exec.c); the same
 * command line works here directly.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "front.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: banter-node [--home DIR] node [OPTIONS]\n\n"
               "The Banter node; `banter node --help` lists the options (banter(1)).\n");
}

int main(int argc, char **argv)
{
    const char *home_opt = NULL;
    int code;
    int i = front_options(argc, argv, "banter-node", usage, &home_opt, &code);
    if (i < 0)
        return code;
    if (i == argc || strcmp(argv[i], "node") != 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    return front_run(home_opt, cmd_node, argc - i, argv + i);
}
