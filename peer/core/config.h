/* SPDX-License-Identifier: MIT */
/*
 * config.h - the node's settings, from DIR/banter.conf.
 *
 * A text file of "key = value" lines; "#" starts a comment (at the start of
 * a line or after a space or tab, so "/data/#1" stays a path); blank lines
 * are ignored; spaces around keys and values are too. Values are taken as
 * written, without quotes. Keys (all optional; a later line wins):
 *   download_dir = PATH             where accepted files go (default
 *                                   $XDG_DOWNLOAD_DIR, else ~/Downloads, or
 *                                   "." when HOME is not set); an absolute
 *                                   path, or "~/..." under $HOME
 *   auto_accept_verified = yes|no   accept files from verified peers without
 *                                   asking (default no; also true/false, 1/0,
 *                                   any case)
 *   auto_accept_max_mb = N          ...when the offer is at most N MiB
 *                                   (default 100; 0 means no limit; decimal
 *                                   digits only, at most 2^44 - 1)
 *   web_port = N                    the web interface's port on 127.0.0.1
 *                                   (default 7420; 0 turns it off; when it
 *                                   is taken the next 9 ports are tried)
 * An unknown key, a bad value, a line without "=", or a file over 64 KiB is
 * an error that names the line, so a typo never goes unnoticed.
 */
#ifndef BANTER_PEER_CONFIG_H
#define BANTER_PEER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct config {
    char download_dir[4096];
    bool auto_accept_verified;
    uint64_t auto_accept_max_bytes; /* 0: no limit */
    uint16_t web_port;              /* 0: no web interface */
} config;

#define CONFIG_WEB_PORT_DEFAULT 7420

/* Defaults, then the file at path if it exists (a missing file is not an
 * error). BANTER_EFORMAT with why (cap bytes) like
 * "banter.conf line 3: unknown key \"donwload_dir\"" (lines count from 1;
 * also a file that is not a regular file, or a NUL byte), BANTER_EIO (cannot
 * open or read; errno set), BANTER_ETOOLONG (the default download_dir from
 * the environment does not fit), BANTER_ENOMEM. On an error c holds the
 * defaults (all of them unless ETOOLONG). why may be NULL. */
BANTER_WUR int config_load(config *c, const char *path, char *why, size_t cap);

#endif
