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

#endif
