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

#endif
