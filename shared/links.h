/* SPDX-License-Identifier: MIT */
/*
 * links.h - find URLs in message text, so they can be shown as links.
 *
 * Recognised: http://, https://, ftp://, mailto: and www. at a word start.
 * A link ends at white space, a control character or one of < > " and loses
 * trailing punctuation (. , ; : ! ? ' ) ]) that is not part of it; a closing
 * ) or ] is kept when the link opened one. The text itself is never changed.
 */
#ifndef BANTER_LINKS_H
#define BANTER_LINKS_H

#include <stdbool.h>
#include <stddef.h>

/* Find the next link in text[*off..len). true with *start and *n set and
 * *off advanced past it; false when there is none. */
bool links_next(const char *text, size_t len, size_t *off, size_t *start, size_t *n);

#endif
