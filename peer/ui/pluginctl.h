/* SPDX-License-Identifier: MIT */
/*
 * pluginctl.h - the control socket's "plugins" request (docs/control.md):
 *   {"cmd":"plugins"}                               list
 *   {"cmd":"plugins","action":"list"}               the same
 *   {"cmd":"plugins","action":"enable","name":N}    start it (remembered)
 *   {"cmd":"plugins","action":"disable","name":N}   stop it (remembered)
 *   {"cmd":"plugins","action":"restart","name":N}   stop it cleanly, start it again
 * The answer: {"ok":true,"plugins":[{name, path, state, enabled, pid,
 * restarts, retry_in_ms, version, description, last_error}], "message"}.
 * Kept apart from ui/control.c so the request stays one call there.
 */
#ifndef BANTER_PEER_PLUGINCTL_H
#define BANTER_PEER_PLUGINCTL_H

#include <cJSON.h>
#include <stddef.h>

#include "plugin/plugins.h"

/* The reply object for req (a new cJSON object, the caller's), or NULL
 * with *err (a BANTER_E* code) and why (cap bytes) filled. p may be NULL
 * (no plug-ins configured: an empty list). */
cJSON *pluginctl_handle(plugins *p, const cJSON *req, int *err, char *why, size_t cap);

#endif
