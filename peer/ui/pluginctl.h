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
 * The request comes typed from ctlmsg (which checked its arguments); the
 * reply is written by ctlmsg. Kept apart from ui/control.c so the request
 * stays one call there.
 */
#ifndef BANTER_PEER_PLUGINCTL_H
#define BANTER_PEER_PLUGINCTL_H

#include <stddef.h>

#include "buf.h"
#include "ctlmsg.h"
#include "plugin/plugins.h"

/* Append the reply to q (ok, or the error) to out. p may be NULL (no
 * plug-ins configured: an empty list). Returns ctlmsg's result (nonzero:
 * nothing appended). */
BANTER_WUR int pluginctl_request(plugins *p, const struct ctl_plugins_req *q, buf *out);

#endif
