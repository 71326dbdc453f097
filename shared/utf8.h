/* SPDX-License-Identifier: MIT */
/*
 * utf8.h - strict UTF-8 validation (RFC 3629): no overlong forms, no
 * surrogates, nothing above U+10FFFF. Text from the network is checked with
 * it before it is parsed or shown.
 */
#ifndef BANTER_UTF8_H
#define BANTER_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

bool utf8_valid(const char *s, size_t len);

/* The length (1..4) of the valid UTF-8 sequence that s[0..n) begins with;
 * 0 when it begins with none (or n is 0). */
size_t utf8_seq_len(const char *s, size_t n);

/* Untrusted text quoted for an error message: s[0..n) in double quotes,
 * printable, with control characters, bytes that are not UTF-8, '"' and '\\'
 * escaped (\xNN), cut after UTF8_QUOTE_MAX bytes with "...". */
#define UTF8_QUOTE_MAX 80u
#define UTF8_QUOTE_CAP (UTF8_QUOTE_MAX * 4u + 8u)
void utf8_quote(char out[static UTF8_QUOTE_CAP], const char *s, size_t n);

/*
 * Control characters: what a terminal may take as a command rather than
 * text (ESC starts an escape sequence; U+009B is CSI where C1 controls are
 * honoured; CR and BS overwrite what was shown). They are C0 (U+0000-
 * U+001F), DEL (U+007F) and C1 (U+0080-U+009F: in UTF-8 the bytes C2 80
 * to C2 9F). With lines, '\n' and '\t' are text, not controls.
 */

/* Whether s[0..n) is valid UTF-8 without control characters. */
bool utf8_no_controls(const char *s, size_t n, bool lines);

/*
 * Invisible characters: code points that change nothing a person sees but
 * make two names differ (default-ignorable code points: soft hyphen, the
 * zero-width ones, the bidi controls U+200E-U+200F, U+202A-U+202E,
 * U+2066-U+2069 and U+061C, variation selectors, fillers, tag characters
 * U+E0000-U+E0FFF, ...). One list for the whole project (the node's name
 * rule and the server's display names).
 */
bool utf8_invisible(uint32_t cp);
/* Whether the valid UTF-8 s[0..n) holds no invisible character (false
 * for what is not UTF-8). */
bool utf8_no_invisible(const char *s, size_t n);
/* In the NUL-terminated, valid UTF-8 s, in place: invisible characters
 * dropped. Returns the new length. */
size_t utf8_drop_invisible(char *s);

/* In the NUL-terminated s, in place: each control character, and each
 * byte that is not part of valid UTF-8, becomes '?'. Returns the new
 * length (never more than the old: a C1 control is two bytes). */
size_t utf8_mask_controls(char *s, bool lines);

/* How utf8_escape writes what it escapes. */
typedef enum utf8_esc {
    UTF8_ESC_TERM, /* for a terminal: \xNN, NN the code point (\x1b, \x7f,
                      \x9b) or the byte that is not UTF-8; '\n' and '\t' kept */
    UTF8_ESC_JSON, /* inside the strings of a JSON text without whitespace
                      between its tokens (cJSON_PrintUnformatted's): \u00NN
                      for every control, \ufffd for a byte that is not UTF-8;
                      the text means the same after */
} utf8_esc;

/* The most bytes utf8_escape writes for n bytes, with the NUL. */
#define UTF8_ESCAPE_MAX(n) (6u * (n) + 1u)

/*
 * s[0..n) made safe to show: as it is, but each control character and
 * each byte that is not part of valid UTF-8 escaped as how says. Into out
 * (cap bytes; cut before an escape or a character that does not fit,
 * terminated when cap > 0). Returns the length of the whole, as snprintf
 * does: it was cut when that is cap or more.
 */
size_t utf8_escape(char *out, size_t cap, const char *s, size_t n, utf8_esc how);
/* s[0..n) written to f escaped as utf8_escape does (what a server or an
 * account sent, on a person's terminal); "(out of memory)" when the room
 * for it cannot be had. */
void utf8_fwrite_escaped(FILE *f, const char *s, size_t n, utf8_esc how);

#endif
