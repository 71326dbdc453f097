/* SPDX-License-Identifier: MIT */
/*
 * cmd_node_exec.c - `banter node`: become banter-node, the node program,
 * in this same process (execv: same process id, signals and descriptors),
 * as `banter-node --home DIR node ARGS`. The client commands then load no
 * more than libsodium and cJSON: the node's libraries (GLib, libsoup,
 * libnice, Avahi, SQLite) cost a short-lived `banter send` several times
 * its own run time in the dynamic loader.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "selfexe.h"

#define NODE_PROGRAM "banter-node"

int cmd_node_exec(const cli_ctx *ctx, int argc, char **argv)
{
    char path[4200];
    /* banter-node --home DIR node ARGS... NULL */
    char **nargv = calloc((size_t)argc + 4, sizeof *nargv);
    if (!nargv) {
        fprintf(stderr, "banter node: out of memory\n");
        return EXIT_ERROR;
    }
    nargv[0] = (char *)NODE_PROGRAM;
    nargv[1] = (char *)"--home";
    nargv[2] = (char *)ctx->home->dir;
    for (int i = 0; i < argc; i++)
        nargv[3 + i] = argv[i];
    fflush(NULL);
    /* beside our own executable (an installed pair, a build tree), else $PATH */
    const char *p = selfexe_sibling(NODE_PROGRAM, path, sizeof path) == 0 ? path : NULL;
    if (p)
        execv(p, nargv);
    else
        execvp(NODE_PROGRAM, nargv);
    int e = errno;
    fprintf(stderr, "banter node: cannot run %s: %s (it is installed beside banter)\n",
            p ? p : NODE_PROGRAM, strerror(e));
    free(nargv);
    return EXIT_ERROR;
}
