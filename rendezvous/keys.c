/* SPDX-License-Identifier: MIT */
/* keys.c - the server key file, with errors that say how to fix them. */
#include "keys.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Why identity_load refused path with BANTER_EPERM: the mode or the owner. */
static void explain_perm(const char *path, char *why, size_t cap)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(why, cap, "cannot check the server key %s: %s", path, strerror(errno));
    } else if (st.st_uid != geteuid()) {
        snprintf(why, cap,
                 "the server key %s belongs to another user (uid %lu): run "
                 "banter-rendezvous as that user",
                 path, (unsigned long)st.st_uid);
    } else {
        snprintf(why, cap,
                 "the server key %s can be read by others (mode %04o): make it "
                 "private with chmod 600 %s",
                 path, (unsigned)(st.st_mode & 07777), path);
    }
}

int keys_load(identity **out, const char *path, bool *created, char *why, size_t cap)
{
    *created = false;
    int r = identity_load_or_create(out, path, bcrypto_rng_system(), created);
    if (r == 0)
        return 0;
    switch (r) {
    case BANTER_EPERM:
        explain_perm(path, why, cap);
        break;
    case BANTER_EFORMAT:
        snprintf(why, cap,
                 "%s is not a Banter key file: restore the server key from a backup "
                 "(a new key would make every node refuse this server)",
                 path);
        break;
    case BANTER_EIO:
        snprintf(why, cap, "cannot read or create the server key %s: %s", path, strerror(errno));
        break;
    default:
        snprintf(why, cap, "cannot load the server key %s: %s", path, banter_strerror(r));
        break;
    }
    return r;
}
