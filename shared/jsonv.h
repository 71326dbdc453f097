/* SPDX-License-Identifier: MIT */
/*
 * jsonv.h - strict JSON for the codec modules (msg, rvmsg).
 *
 * Parsing applies every rule of docs/protocol.md section 6.1 (size, UTF-8,
 * no byte-order mark, no unescaped control characters, no \u0000, no
 * leading zeros, nesting, one object, member count, no duplicate keys);
 * the getters check types, ranges and lengths; the writers refuse what a
 * getter would refuse, so nothing is sent that a peer would reject.
 * Only codec modules include this header: cJSON never leaves them.
 */
#ifndef BANTER_JSONV_H
#define BANTER_JSONV_H

#include <cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

/* Largest integer a JSON number carries exactly (2^53). */
#define JSONV_MAX_INT     9007199254740992.0
#define JSONV_MAX_MEMBERS 32

/* Parse one JSON object of len bytes (at most BANTER_MAX_JSON). *out is
 * the caller's (cJSON_Delete) on success. BANTER_ETOOBIG, BANTER_EUTF8,
 * BANTER_EJSON, BANTER_ESCHEMA (not an object, too many members, a key
 * twice), BANTER_ENOMEM. */
BANTER_WUR int jsonv_parse(const char *text, size_t len, cJSON **out);
/* The member rules alone, for nested objects. */
BANTER_WUR int jsonv_members(const cJSON *obj);

/* A string of min..max bytes of UTF-8 (borrowed from obj). Absent and not
 * required: 0 with *s NULL. BANTER_ESCHEMA, BANTER_ETOOLONG, BANTER_EUTF8. */
BANTER_WUR int jsonv_str(const cJSON *obj, const char *key, bool required, size_t min, size_t max,
                         const char **s, size_t *n);
/* A whole number in [min, max]. BANTER_ESCHEMA. */
BANTER_WUR int jsonv_int(const cJSON *obj, const char *key, double min, double max, int64_t *out);
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
/* Add an integer exactly (not through double formatting). BANTER_ESCHEMA
 * over 2^53, BANTER_ENOMEM. */
BANTER_WUR int jsonv_add_int(cJSON *o, const char *key, uint64_t v);
/* Add len bytes as lowercase hex; key NULL: append to the array o.
 * BANTER_ENOMEM. */
BANTER_WUR int jsonv_add_hex(cJSON *o, const char *key, const uint8_t *p, size_t len);
/* Print o compactly and append type byte + text to out. BANTER_ETOOBIG
 * (over BANTER_MAX_JSON or out's cap), BANTER_ENOMEM. o stays the caller's. */
BANTER_WUR int jsonv_write(const cJSON *o, uint8_t type, buf *out);

#endif
