/* SPDX-License-Identifier: MIT */
/*
 * plugins.h - plug-ins on the rendezvous server, each in its own
 * banter-plugin-host process, supervised as the node does
 * (docs/plugins.md, "On the server").
 *
 * Configured in the server's --config file with the node's keys
 * (shared/plugconf.h): plugins.host, plugin.NAME.path, .enabled,
 * .memory_mb, .heartbeat_ms and the plug-in's own keys; .contacts is not
 * used (a server plug-in hears of every account). Only the organisation's
 * admins write that file. Each plug-in's folder is DB.plugins/NAME (its
 * key/value storage).
 *
 * A server plug-in hears BANTER_EV_LOGIN and BANTER_EV_LOGOUT, with the
 * contact "@ACCOUNT", when an account's first device logs in and its last
 * one leaves, and BANTER_EV_STORED when a sealed copy is stored for an
 * account with no device online (no content: the server has none). It sends no messages: the server
 * cannot read or write what people say to each other (a gateway is an account on a node); a
 * send_message is answered EPERM.
 *
 * What a host sends is decoded with shared/plugmsg.h; a bad frame, a
 * missed heartbeat or a resident size over memory_mb gets it killed by its
 * PID and restarted after a back-off (1 s doubling to 60 s; 1 s again after
 * a minute of health). Everything runs on the server's loop.
 */
#ifndef BANTER_RDV_PLUGINS_H
#define BANTER_RDV_PLUGINS_H

#include <stdbool.h>
#include <stddef.h>

#include "core.h"
#include "error.h"

typedef struct rplugins rplugins;

/* Read the plug-in settings of conf_path (NULL: none) and get ready; the
 * hosts start with rplugins_start. state_dir: where each plug-in's folder
 * goes (created when needed). BANTER_EFORMAT (why names the line),
 * BANTER_ENOMEM. */
BANTER_WUR int rplugins_new(rplugins **out, core *k, const char *conf_path, const char *state_dir,
                            char *why, size_t cap);
void rplugins_start(rplugins *p);
/* Stop every host (QUIT, SIGKILL a second later) and close the handles;
 * free with rplugins_free once the loop has ended. Accepts NULL. */
void rplugins_close(rplugins *p);
void rplugins_free(rplugins *p);

/* An account's first device came (online) or its last one went. */
void rplugins_account(rplugins *p, const char *account, bool up);
/* A sealed copy was stored for account, none of whose devices is online
 * (BANTER_EV_STORED: who, never what). */
void rplugins_stored(rplugins *p, const char *account);

/* The control socket's "plugins" line (ctl.h): "plugins", "plugins list",
 * "plugins enable|disable|restart NAME". Writes the answer line into out
 * (cap bytes, ending "\n"): "ok JSON" (JSON: the list, one object per
 * plug-in) or "error TEXT". */
void rplugins_ctl(rplugins *p, const char *line, char *out, size_t cap);

#endif
