/* SPDX-License-Identifier: MIT */
/*
 * plugconf.h - the plug-in settings of a configuration file (the node's
 * banter.conf; the server's --config file when it hosts plug-ins), read
 * alike wherever plug-ins run (docs/plugins.md):
 *
 *   plugins.host = PATH          the host program (absolute)
 *   plugin.NAME.path = PATH      the plug-in (absolute); makes NAME a plug-in
 *                                (NAME: 1..32 of a-z 0-9 _ -)
 *   plugin.NAME.enabled = yes|no (also true/false, 1/0; default yes)
 *   plugin.NAME.contacts = *|LIST  who it may hear from and write to
 *                                (default none)
 *   plugin.NAME.memory_mb = N    16..1048576 (default 512)
 *   plugin.NAME.heartbeat_ms = N 100..600000 (default 5000)
 *   plugin.NAME.KEY = VALUE      the plug-in's own (KEY: 1..64 of a-z 0-9 _
 *                                . -; VALUE: UTF-8, at most 1024 bytes)
 *
 * A later line wins. Other keys are not this module's: plugconf_set
 * returns 1 for them, and plugconf_load skips them (except "plugins.*",
 * which is refused). Every error names the file's line (kvconf.h).
 */
#ifndef BANTER_PLUGCONF_H
#define BANTER_PLUGCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "kvconf.h"
#include "plugmsg.h"

#define PLUGCONF_MAX       32 /* plug-ins in one file */
#define PLUGCONF_NAME_MAX  32
#define PLUGCONF_PATH_MAX  1024
#define PLUGCONF_NODE_KEYS 5 /* path, enabled, contacts, memory_mb, heartbeat_ms */
#define PLUGCONF_OWN_MAX   (PLUG_MAX_CONF - PLUGCONF_NODE_KEYS)
#define PLUGCONF_MEM_MB    512u
#define PLUGCONF_HB_MS     5000u

/* One plug-in. key/value: its own settings, owned (plugconf_entry_clear). */
typedef struct plugconf_entry {
    char name[PLUGCONF_NAME_MAX + 1];
    char path[PLUGCONF_PATH_MAX];
    bool enabled;
    bool all_contacts;                /* contacts = * */
    char contacts[PLUG_MAX_LINE + 1]; /* the list as written, "" for none or * */
    uint64_t memory_mb;
    uint32_t heartbeat_ms;
    size_t nconf;
    char *key[PLUGCONF_OWN_MAX], *value[PLUGCONF_OWN_MAX];
} plugconf_entry;

typedef struct plugconf {
    char host[4096]; /* "" when not set */
    size_t count;
    plugconf_entry *e[PLUGCONF_MAX]; /* owned */
} plugconf;

/* Start empty. */
void plugconf_init(plugconf *pc);
/* Free every entry; pc is empty again. Accepts an empty one. */
void plugconf_clear(plugconf *pc);
/* Free what e owns (not e itself). */
void plugconf_entry_clear(plugconf_entry *e);
/* The PLUG_CONFIG message that gives e's own settings to its host (its
 * strings are e's: m is valid while e is). */
void plugconf_entry_config(const plugconf_entry *e, plugmsg *m);

/* One setting: 0 taken, 1 not a plug-in key (someone else's), or the
 * kvconf_fail error (BANTER_EFORMAT; BANTER_ENOMEM). */
BANTER_WUR int plugconf_set(plugconf *pc, const kvconf *k, const char *key, const char *value);

/* Read the plug-in settings of path (a missing file: none), then check
 * that every plug-in has its path. BANTER_EFORMAT with why like
 * "banter.conf line 4: plugin.echo.memory_mb: ..." or "banter.conf:
 * plugin.echo.path is missing"; BANTER_EIO, BANTER_ENOMEM. On an error pc
 * is empty. */
BANTER_WUR int plugconf_load(plugconf *pc, const char *path, char *why, size_t cap);

#endif
