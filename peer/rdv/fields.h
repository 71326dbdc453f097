/* SPDX-License-Identifier: MIT */
/*
 * fields.h - directory search criteria and profile values as the user
 * types them, checked before they go to the rendezvous server
 * (docs/rendezvous.md, SEARCH and PROFILE_SET). Pure: no I/O, no GLib, so
 * the command-line client links it without the node.
 */
#ifndef BANTER_PEER_RDV_FIELDS_H
#define BANTER_PEER_RDV_FIELDS_H

#include <stddef.h>

#include "rvmsg.h"

/* "field=value" (exact) or "field~value" (substring), both case-insensitive
 * at the server; field is user or a profile field. Fills c (zeroed first).
 * BANTER_EINVAL with why (cap bytes) naming the problem. */
BANTER_WUR int rdv_parse_criterion(const char *s, struct rv_criterion *c, char *why, size_t cap);
/* Whether the user may set profile field f to value: BANTER_EPERM with
 * why for a field the organisation's admins set (rv_field_by_admin: the
 * department); BANTER_EINVAL with why for a value rv_field_check refuses
 * (length, UTF-8, no control characters except newlines and tabs in
 * "about"). */
BANTER_WUR int rdv_check_value(rv_field f, const char *value, char *why, size_t cap);

#endif
