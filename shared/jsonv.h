/* SPDX-License-Identifier: MIT */
/*
 * jsonv.h - strict JSON for the codec modules (msg, rvmsg, ctlmsg).
 *
 * Parsing applies every rule of docs/protocol.md section 6.1 (size, UTF-8,
 * no byte-order mark, no unescaped control characters, no \u0000, numbers
 * exactly as RFC 8259 writes them (no leading zeros, no "1.", no "+1"),
 * nesting, one object, member count, no duplicate keys); the getters check
 * types, ranges and lengths; the writers refuse what a getter would
 * refuse, so nothing is sent that a peer would reject.
 *
 * Integers are exact. cJSON keeps numbers as a double, which rounds every
 * integer above 2^53 (2^53 + 1 reads as 2^53). So jsonv_parse keeps each
 * number's own text instead: every number of a parsed tree is a cJSON_Raw
 * item holding the digits as they came (cJSON_IsNumber is false for it,
 * and valuedouble is not set), and jsonv_int and its siblings are the only
 * way to read one: "0" or an optional "-" and digits without a leading
 * zero, within the field's range. A fraction or an exponent (1.0, 1e3) is
 * not an integer and is refused, whatever its value. jsonv_add_int is the
 * only way to write one: plain decimal digits, never through a double.
 *
 * Only codec modules include this header: cJSON never leaves them. (Until
 * they move to ctlmsg, the node's printers that still build cJSON may use
 * jsonv_add_int for their integers: it is a drop-in for
 * cJSON_AddNumberToObject that prints 2^53 as 9007199254740992, not
 * 9.00719925474099e+15.)
 */
#ifndef BANTER_JSONV_H
#define BANTER_JSONV_H

#include <cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banter_limits.h"
#include "buf.h"
#include "error.h"

/* The largest magnitude of any integer in Banter's JSON: 2^53, the largest
 * integer from which a double (and so JavaScript, the web page) never
 * strays. Every field documents its own range within it. */
#define JSONV_INT_MAX     ((int64_t)BANTER_MAX_INT)
#define JSONV_INT_MIN     (-JSONV_INT_MAX)
/* Room for any int64_t in decimal with its sign and NUL. */
#define JSONV_INT_TEXT    21
#define JSONV_MAX_MEMBERS 32

/* Parse one JSON object of len bytes (at most BANTER_MAX_JSON). *out is
 * the caller's (cJSON_Delete) on success. BANTER_ETOOBIG, BANTER_EUTF8,
 * BANTER_EJSON, BANTER_ESCHEMA (not an object, too many members, a key
 * twice), BANTER_ENOMEM. */
BANTER_WUR int jsonv_parse(const char *text, size_t len, cJSON **out);
/* The same with another cap on len (the control socket's lines). */
BANTER_WUR int jsonv_parse_max(const char *text, size_t len, size_t max, cJSON **out);
/* The member rules alone, for nested objects. */
BANTER_WUR int jsonv_members(const cJSON *obj);
/* cJSON_Delete after wiping every string and number in o (a request that
 * held a password). Accepts NULL. */
void jsonv_delete_wiped(cJSON *o);

/* A string of min..max bytes of UTF-8 (borrowed from obj). Absent and not
 * required: 0 with *s NULL. BANTER_ESCHEMA, BANTER_ETOOLONG, BANTER_EUTF8. */
BANTER_WUR int jsonv_str(const cJSON *obj, const char *key, bool required, size_t min, size_t max,
                         const char **s, size_t *n);

/* The text of an integer, s[0..n), exactly: "0", or an optional "-" and
 * 1..19 digits of which the first is not 0 ("-0", "007", "+1", "1.0",
 * "1e3", " 1" are not integers); its value in [min, max]. BANTER_ESCHEMA
 * otherwise (out untouched). */
BANTER_WUR int jsonv_int_parse(const char *s, size_t n, int64_t min, int64_t max, int64_t *out);
/* v in plain decimal digits; returns the length. */
size_t jsonv_int_format(int64_t v, char out[static JSONV_INT_TEXT]);
/* A required integer member in [min, max] (min and max within
 * JSONV_INT_MIN..JSONV_INT_MAX). BANTER_ESCHEMA when absent, not a
 * number of a parsed tree, not an integer or out of range. */
BANTER_WUR int jsonv_int(const cJSON *obj, const char *key, int64_t min, int64_t max, int64_t *out);
/* The same for an optional member: absent gives def. */
BANTER_WUR int jsonv_int_opt(const cJSON *obj, const char *key, int64_t min, int64_t max,
                             int64_t def, int64_t *out);
/* The same for a value already found (an array item, a member). */
BANTER_WUR int jsonv_int_value(const cJSON *v, int64_t min, int64_t max, int64_t *out);

/* Exactly 2*len lowercase hex digits. BANTER_ESCHEMA, BANTER_ETOOLONG. */
BANTER_WUR int jsonv_hex(const cJSON *obj, const char *key, uint8_t *out, size_t len);
/* The same for a value already found (an array item). */
BANTER_WUR int jsonv_hex_value(const cJSON *v, uint8_t *out, size_t len);
/* No control characters (U+0000-U+001F, U+007F). */
bool jsonv_plain(const char *s);
/* Copy n bytes and terminate (src NULL: empty). */
void jsonv_copy(char *dst, const char *src, size_t n);

/* Whether text may be written: min..max bytes, no NUL, UTF-8, plain when
 * asked. BANTER_ETOOLONG, BANTER_ESCHEMA, BANTER_EUTF8. */
BANTER_WUR int jsonv_check_text(const char *s, size_t len, size_t min, size_t max, bool plain);
/* Add the integer v to the object o under key (key NULL: append to the
 * array o) as plain decimal digits. 0; BANTER_ESCHEMA when |v| is over
 * 2^53 (nothing is added); BANTER_ENOMEM. Codecs check the result; a
 * printer that ignores it, as it would cJSON_AddNumberToObject's, leaves
 * the member out. */
int jsonv_add_int(cJSON *o, const char *key, int64_t v);
/* Add len bytes as lowercase hex; key NULL: append to the array o.
 * BANTER_ENOMEM. */
BANTER_WUR int jsonv_add_hex(cJSON *o, const char *key, const uint8_t *p, size_t len);
/* Print o compactly and append type byte + text to out. BANTER_ETOOBIG
 * (over BANTER_MAX_JSON or out's cap), BANTER_ENOMEM. o stays the caller's;
 * the printed copy is wiped before it is freed (it may hold a password). */
BANTER_WUR int jsonv_write(const cJSON *o, uint8_t type, buf *out);
/* Print o compactly and append the text alone (no type byte, no newline),
 * at most max bytes. Errors as jsonv_write. */
BANTER_WUR int jsonv_print(const cJSON *o, size_t max, buf *out);

#endif
