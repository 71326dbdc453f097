/* SPDX-License-Identifier: MIT */
/*
 * fpath.h - file names from a peer, made safe to write.
 *
 * A file transfer names each file by a relative path ("Photos/2026/a.jpg").
 * Before anything is created, the receiver checks every name with
 * fpath_check(); then it creates directories and files only through
 * fpath_open_beneath(), which walks the path one component at a time
 * below an open directory, never following a symbolic link, so nothing is
 * ever written outside the folder the user chose.
 */
#ifndef BANTER_FPATH_H
#define BANTER_FPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "error.h"

#define FPATH_MAX           1024 /* bytes of a relative path in an offer */
#define FPATH_MAX_COMPONENT 255
#define FPATH_MAX_DEPTH     32

/*
 * Check a relative path from a peer. 0 when it is safe, else
 * BANTER_EINVAL with why (cap bytes) naming the problem: empty, longer
 * than FPATH_MAX, not UTF-8, absolute ("/x"), a backslash, a component
 * that is empty ("a//b"), "." or "..", longer than 255 bytes or deeper than
 * 32 levels, a control character (U+0000-U+001F, U+007F), or a component
 * ending in the temporary suffix ".banter-partial".
 */
BANTER_WUR int fpath_check(const char *path, char *why, size_t cap);

/*
 * Open (creating with mode 0600 when flags have O_CREAT) the file at the
 * relative path below the directory dirfd, creating missing intermediate
 * directories (0700) when create_dirs is true. Every component is opened
 * with O_NOFOLLOW: a symbolic link anywhere on the way fails with
 * BANTER_EPERM. Returns the file descriptor (>= 0, O_CLOEXEC added) or a
 * negative BANTER_E*: BANTER_EINVAL (path fails fpath_check), BANTER_EPERM
 * (a link), BANTER_ENOENT, BANTER_ENOSPC, BANTER_EIO (errno set).
 * The one exception to fpath_check: the final component may be a temporary
 * name made by fpath_partial() (".x.banter-partial"), so the receiver can
 * open it; names from a peer never have that suffix (fpath_check refuses it).
 */
BANTER_WUR int fpath_open_beneath(int dirfd, const char *path, int flags, bool create_dirs);

/*
 * Delete the file at the relative path below dirfd (fpath_check's rules,
 * a fpath_partial() name allowed last): the folders on the way are opened
 * as fpath_open_beneath does, never following a link, and only the last
 * component is unlinked (a link there is removed, not followed). 0, or
 * BANTER_EINVAL, BANTER_EPERM (a link on the way), BANTER_ENOENT,
 * BANTER_EIO (errno set). (Not warn_unused_result: deleting what is left
 * over is often best effort.)
 */
int fpath_unlink_beneath(int dirfd, const char *path);

/*
 * lstat the relative path below dirfd, the folders on the way opened
 * without following a link (the last component is not followed either:
 * a link gives S_ISLNK). 0 with *st, or the codes of
 * fpath_unlink_beneath.
 */
BANTER_WUR int fpath_stat_beneath(int dirfd, const char *path, struct stat *st);

/*
 * Find a name like path that does not exist below dirfd: path itself, or
 * "name (1).ext", "name (2).ext"... on the first component when
 * first_component is true (for a folder sent whole), else on the last.
 * Writes it to out (cap bytes). The extension is what follows the last '.'
 * of that component, unless the dot is its first byte (".bashrc" has none).
 * Taken means anything, a link too, has the name (lstat); a missing
 * directory on the way makes the name free. BANTER_ETOOLONG (out, or the
 * numbered name would break a limit of fpath_check), BANTER_EINVAL (path
 * fails fpath_check), BANTER_EPERM (a link on the way), BANTER_EIO (errno
 * set; EEXIST when "(1)" to "(9999)" are all taken).
 * (A name can still be taken before it is used; renames use RENAME_NOREPLACE.)
 */
BANTER_WUR int fpath_unique(int dirfd, const char *path, bool first_component, char *out,
                            size_t cap);

/* The temporary name beside path's final component:
 * "a/b/.c.txt.banter-partial". BANTER_ETOOLONG (out too small, or the name
 * would be over FPATH_MAX_COMPONENT bytes - a final component of more than
 * 239 bytes - or the path over FPATH_MAX), BANTER_EINVAL (no final name). */
BANTER_WUR int fpath_partial(const char *path, char *out, size_t cap);

#endif
