/* SPDX-License-Identifier: MIT */
/* selfexe.c - a program installed beside the running one. */
#include "selfexe.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int selfexe_sibling(const char *name, char *out, size_t cap)
{
    if (cap)
        out[0] = '\0';
    if (!name || !name[0] || strchr(name, '/'))
        return BANTER_EINVAL;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return BANTER_ENOENT;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return BANTER_ENOENT;
    *slash = '\0';
    int w = snprintf(out, cap, "%s/%s", self, name);
    if (w < 0 || (size_t)w >= cap) {
        if (cap)
            out[0] = '\0';
        return BANTER_ETOOLONG;
    }
    struct stat st;
    if (stat(out, &st) != 0 || !S_ISREG(st.st_mode) || access(out, X_OK) != 0) {
        out[0] = '\0';
        return BANTER_ENOENT;
    }
    return 0;
}
