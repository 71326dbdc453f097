/* SPDX-License-Identifier: MIT */
/*
 * selfexe.h - a program installed beside the running one.
 *
 * Banter's programs come as a set in one folder (bin/ of a build tree,
 * /usr/bin of a package): `banter node` becomes banter-node, the node
 * starts banter-plugin-host. Each looks beside its own executable first,
 * so a build tree runs its own programs, not whatever $PATH holds.
 */
#ifndef BANTER_SELFEXE_H
#define BANTER_SELFEXE_H

#include <stddef.h>

#include "error.h"

/*
 * Write to out (cap bytes) the path of the program name (a bare file name,
 * no '/') in the folder of the running executable (/proc/self/exe, links
 * resolved by the kernel). 0 when that is a regular file (links
 * followed) we may execute; BANTER_ENOENT when it is not there, not a
 * regular file or not executable, or the running
 * executable cannot be read; BANTER_ETOOLONG when the path does not fit;
 * BANTER_EINVAL when name is empty or has a '/'. out is "" on failure.
 */
BANTER_WUR int selfexe_sibling(const char *name, char *out, size_t cap);

#endif
