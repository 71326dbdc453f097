/* SPDX-License-Identifier: MIT */
/*
 * gwtext.h - the text a gateway relays into Banter: its marker, which
 * says who wrote from outside and that it was not end-to-end encrypted
 * ("[SMS from +15551234567, not end-to-end encrypted]"), then what that
 * person wrote. The marker is the only thing telling the reader who the
 * outside sender is, so nothing the sender wrote may pass for one: each
 * line of the body that begins a line of the text is shown quoted, "> "
 * before it (empty lines stay empty). Quoting every line, not only those
 * that look like a marker, leaves nothing to imitate: a marker drawn with
 * other brackets or spaces, invisible characters before it, or another
 * script's letters is quoted all the same.
 */
#ifndef BANTER_GWTEXT_H
#define BANTER_GWTEXT_H

#include <stddef.h>

/* marker, then sep (" " or "\n"), then the first n bytes of body with
 * their lines quoted as above (with sep " " the first line shares the
 * marker's and is not quoted), then the rest of body as it is (the
 * gateway's own note: "[cut: ...]"). n past the end of body: all of it.
 * NULL without memory; the caller frees it with free(). */
char *gwtext_relay(const char *marker, const char *sep, const char *body, size_t n);

#endif
