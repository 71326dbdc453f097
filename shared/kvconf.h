/* SPDX-License-Identifier: MIT */
/*
 * kvconf.h - "key = value" configuration files (the node's banter.conf, the
 * rendezvous server's --config).
 *
 * One setting per line; "#" starts a comment at the start of a line or
 * after a space or tab (so a path may hold "#1"); blank lines are ignored;
 * keys and values are trimmed. A file over 64 KiB, one that is not a regular
 * file, a NUL byte, a line without "=" or with an empty key is an error,
 * and every error names the file and the line: "banter.conf line 3: ...".
 * The meaning of keys belongs to the caller's setter.
 */
#ifndef BANTER_KVCONF_H
#define BANTER_KVCONF_H

#include <stddef.h>

#include "error.h"

#define KVCONF_MAX_FILE (64u * 1024u)

/* Where an error is reported; a small value type, fields private. */
typedef struct kvconf {
    const char *file; /* the file's base name, or NULL (a command-line option) */
    unsigned line;    /* 1-based while lines are read, else 0 */
    char *why;
    size_t cap;
} kvconf;

/* Report err about the current place: "FILE line N: MSG", "FILE: MSG", or
 * "MSG" without a file. Returns err. why may be NULL. */
__attribute__((format(printf, 3, 4))) int kvconf_fail(const kvconf *k, int err, const char *fmt,
                                                      ...);

/* A setter: accept value for key, or return kvconf_fail(k, ...). */
typedef int (*kvconf_set_fn)(void *ud, const kvconf *k, const char *key, const char *value);

/* Read path and call set for each setting, in order, stopping at the first
 * error. BANTER_ENOENT (why filled) when the file does not exist, so a
 * caller for whom the file is optional can go on with its defaults;
 * BANTER_EIO, BANTER_EFORMAT, BANTER_ENOMEM, or the setter's error. */
BANTER_WUR int kvconf_load(const char *path, kvconf_set_fn set, void *ud, char *why, size_t cap);

#endif
