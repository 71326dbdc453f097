/* SPDX-License-Identifier: MIT */
/*
 * settings.h - the user's preferences for the web interface, kept by the
 * node in DIR/settings.json (0600) so that every browser and every tab
 * shows the same: theme, font size, notification sound, desktop
 * notifications, and a "read up to" mark per conversation (for unread
 * counts). Served by the control requests settings_get and settings_set
 * (docs/control.md).
 *
 * Keys and values (anything else is refused with a sentence naming it):
 *   theme      "system" (default), "light" or "dark"
 *   font_size  a whole number of CSS pixels, 12..24 (default 15)
 *   sound      true (default) or false: a short tone for a new message
 *   notify     true or false (default): desktop notifications
 *   read       an object: conversation key (1..80 printable ASCII bytes,
 *              for example a peer's fingerprint) -> milliseconds since the
 *              epoch; merged into the stored marks, null removes one; at
 *              most SETTINGS_MAX_READ marks
 *
 * A file that cannot be parsed is set aside as settings.json.bad and the
 * defaults are used (preferences are not worth refusing to start for).
 */
#ifndef BANTER_PEER_SETTINGS_H
#define BANTER_PEER_SETTINGS_H

#include <cJSON.h>
#include <stddef.h>

#include "ctlmsg.h"
#include "error.h"

#define SETTINGS_MAX_READ 4096
#define SETTINGS_MAX_FILE (512u * 1024u)

typedef struct settings settings;

/* Load DIR/settings.json (a missing file gives the defaults). Only
 * BANTER_ENOMEM or BANTER_ETOOLONG (dir too long) fail; a bad file is
 * moved aside, with why (cap bytes) saying so and *out still set. */
BANTER_WUR int settings_open(settings **out, const char *dir, char *why, size_t cap);
/* Accepts NULL. */
void settings_free(settings *s);

/* All current values as a new JSON object (the caller's). */
cJSON *settings_json(const settings *s);

/* Apply the keys of changes (a JSON object) after checking all of them;
 * then write the file (a temporary file, fsync, rename). BANTER_EINVAL
 * with why naming the key when one is unknown or bad (nothing changed);
 * BANTER_EIO when the file cannot be written (the new values stay in
 * memory; why says so). */
BANTER_WUR int settings_set(settings *s, const cJSON *changes, char *why, size_t cap);

/* The same for a typed request (ctlmsg.h): the keys in c->has. Errors as
 * settings_set. */
BANTER_WUR int settings_apply(settings *s, const struct ctl_settings_set *c, char *why, size_t cap);
/* All current values, for ctlmsg's writers: out->read points into *marks,
 * an array the caller frees with g_free (NULL when there are none).
 * BANTER_ENOMEM. */
BANTER_WUR int settings_view(const settings *s, ctl_settings *out, struct ctl_read_mark **marks);

#endif
