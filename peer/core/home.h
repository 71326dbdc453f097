/* SPDX-License-Identifier: MIT */
/*
 * home.h - where a node keeps its files.
 *
 * The home is --home DIR, else $BANTER_HOME, else $XDG_DATA_HOME/banter,
 * else ~/.local/share/banter. It holds identity.key (0600), banter.db and
 * control.sock; it is created 0700.
 */
#ifndef BANTER_PEER_HOME_H
#define BANTER_PEER_HOME_H

#include <stddef.h>

#include "error.h"

#define HOME_PATH_MAX 4096

typedef struct home {
    char dir[HOME_PATH_MAX];
    char key[HOME_PATH_MAX];
    char db[HOME_PATH_MAX];
    char sock[108]; /* sun_path size */
} home;

/* Resolve the paths. opt_dir is --home or NULL. BANTER_ETOOLONG when a path
 * does not fit (the control socket path is limited to 107 bytes),
 * BANTER_ENOENT when no home can be found (no HOME and no XDG_DATA_HOME). */
BANTER_WUR int home_resolve(home *h, const char *opt_dir);

/* argv[0] as a --home option, the same for banter and banter-node: "--home
 * DIR" (2 arguments, when DIR is there) or "--home=DIR" (1), DIR (borrowed)
 * in *dir; 0 when argv[0] is neither. */
int home_option(int argc, char **argv, const char **dir);

/* Create the directory (and parents) with mode 0700. BANTER_EIO, errno set. */
BANTER_WUR int home_create(const home *h);

#endif
