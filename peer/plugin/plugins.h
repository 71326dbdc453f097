/* SPDX-License-Identifier: MIT */
/*
 * plugins.h - the node's plug-ins, each in a process of its own
 * (banter-plugin-host, docs/plugins.md).
 *
 * Configured in banter.conf (read by shared/plugconf.h):
 *   plugins.host = PATH          the host program (default: banter-plugin-host
 *                                beside the banter executable, else $PATH)
 *   plugin.NAME.path = PATH      the plug-in's shared object (absolute); this
 *                                key makes NAME a plug-in ([a-z0-9_-], 1..32)
 *   plugin.NAME.enabled = yes|no (default yes)
 *   plugin.NAME.contacts = *|A, B, ...
 *                                who it may hear from and write to: every
 *                                contact, or those named (as `banter send`
 *                                takes them); default none
 *   plugin.NAME.memory_mb = N    its resident-memory limit, checked at each
 *                                heartbeat (default 512, 16..1048576); its
 *                                address space is capped at 2N + 256 MiB
 *   plugin.NAME.heartbeat_ms = N how often it is pinged (default 5000, 100..
 *                                600000); no answer by the next ping and it
 *                                is killed
 *   plugin.NAME.KEY = VALUE      anything else is the plug-in's own setting
 *
 * Each enabled plug-in's host is started with one end of a socket pair as
 * fd 3, RLIMIT_AS and a parent-death signal, in a process group of its own. Whatever it sends is
 * decoded with shared/plugmsg.h and checked: a bad frame, a send to a contact it was not given, a
 * missing heartbeat answer or a resident size over its limit gets it killed (SIGKILL, by its PID)
 * and restarted after a back-off (1 s, doubling to 60 s; back to 1 s after a minute of good
 * health). Its state and the last error are kept for `banter plugins`. A plug-in that cannot be
 * loaded (FAIL: wrong ABI, no entry symbol) or that stopped itself is not restarted until it is
 * enabled again. `plugins disable` is remembered across restarts (DIR/plugins/NAME/disabled);
 * DIR/plugins/NAME is the plug-in's own folder (its key/value storage).
 *
 * Everything runs on the node's main loop; nothing here blocks except
 * plugins_free, which gives each host up to a second to stop.
 */
#ifndef BANTER_PEER_PLUGINS_H
#define BANTER_PEER_PLUGINS_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/node.h"

#define PLUGINS_MAX      32
#define PLUGIN_NAME_MAX  32
#define PLUGIN_ERROR_MAX 256

typedef struct plugins plugins;

/* What `banter plugins` shows of one. */
typedef struct plugin_status {
    char name[PLUGIN_NAME_MAX + 1];
    char path[1024];
    char state[16]; /* "disabled", "starting", "running", "backoff", "failed", "stopped" */
    bool enabled;
    int64_t pid;           /* 0 when not running */
    unsigned restarts;     /* since the node started */
    int64_t retry_in_ms;   /* backoff: when it is started again */
    char version[65];      /* from its HELLO, "" before */
    char description[257]; /* from its HELLO, "" before */
    char last_error[PLUGIN_ERROR_MAX];
} plugin_status;

/* Read the plug-in settings of conf_path (banter.conf; missing is fine)
 * and get ready; nothing starts before plugins_start. home: the node's
 * folder. BANTER_EFORMAT with why like "banter.conf line 4: plugin.echo.
 * memory_mb: ..."; BANTER_ENOMEM. */
BANTER_WUR int plugins_new(plugins **out, node *n, GMainContext *ctx, const char *home,
                           const char *conf_path, char *why, size_t cap);
/* Start every enabled plug-in. */
void plugins_start(plugins *p);
/* Stop them all (QUIT, then SIGKILL after a second) and free. Accepts NULL. */
void plugins_free(plugins *p);

/* A malloc'd array (free()) of every configured plug-in. */
BANTER_WUR int plugins_list(plugins *p, plugin_status **out, size_t *count);
/* Enable (start now) or disable (stop, remembered). BANTER_ENOENT (no such
 * plug-in), BANTER_EIO (the marker file). why says what happened. */
BANTER_WUR int plugins_enable(plugins *p, const char *name, bool on, char *why, size_t cap);
/* Stop it cleanly and start it again (a new .so is loaded); a plug-in that
 * is not running is enabled and started. Errors as plugins_enable. */
BANTER_WUR int plugins_restart(plugins *p, const char *name, char *why, size_t cap);

#endif
