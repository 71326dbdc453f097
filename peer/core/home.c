/* SPDX-License-Identifier: MIT */
/* home.c - the node's home directory and the paths inside it. */
#include "core/home.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap ? BANTER_ETOOLONG : 0;
}

int home_option(int argc, char **argv, const char **dir)
{
    if (argc >= 2 && strcmp(argv[0], "--home") == 0) {
        *dir = argv[1];
        return 2;
    }
    if (argc >= 1 && strncmp(argv[0], "--home=", 7) == 0) {
        *dir = argv[0] + 7;
        return 1;
    }
    return 0;
}

int home_resolve(home *h, const char *opt_dir)
{
    const char *env = getenv("BANTER_HOME");
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *user = getenv("HOME");
    int n;

    memset(h, 0, sizeof *h);
    if (opt_dir && *opt_dir)
        n = snprintf(h->dir, sizeof h->dir, "%s", opt_dir);
    else if (env && *env)
        n = snprintf(h->dir, sizeof h->dir, "%s", env);
    else if (xdg && *xdg)
        n = snprintf(h->dir, sizeof h->dir, "%s/banter", xdg);
    else if (user && *user)
        n = snprintf(h->dir, sizeof h->dir, "%s/.local/share/banter", user);
    else
        return BANTER_ENOENT;
    if (n < 0 || (size_t)n >= sizeof h->dir)
        return BANTER_ETOOLONG;
    /* Trailing slashes would double up in the paths below. */
    for (size_t len = strlen(h->dir); len > 1 && h->dir[len - 1] == '/'; len--)
        h->dir[len - 1] = '\0';
    if (join(h->key, sizeof h->key, h->dir, "identity.key") ||
        join(h->db, sizeof h->db, h->dir, "banter.db") ||
        join(h->sock, sizeof h->sock, h->dir, "control.sock"))
        return BANTER_ETOOLONG;
    return 0;
}

int home_create(const home *h)
{
    char path[HOME_PATH_MAX];
    memcpy(path, h->dir, sizeof path);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return BANTER_EIO;
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return BANTER_EIO;
    return 0;
}
