/* SPDX-License-Identifier: MIT */
/* jsonv.c - strict JSON parsing and writing for the codecs (see jsonv.h). */
#include "jsonv.h"

#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banter_limits.h"
#include "utf8.h"

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Whether s[i], a digit outside any string, starts a number's integer part. */
static bool starts_number(const char *s, size_t i)
{
    char p = i ? s[i - 1] : ' ';
    if (p == '-')
        p = i >= 2 ? s[i - 2] : ' '; /* "-0..." unless it is an exponent sign */
    return !is_digit(p) && p != '.' && p != 'e' && p != 'E' && p != '+' && p != '-';
}

/*
 * What cJSON would let through but RFC 8259 (and docs/protocol.md 6.1)
 * refuses, in one pass that knows where strings are: a byte-order mark,
 * control characters (raw inside strings, anything but the four white-space
 * characters between tokens), the escape \u0000 (cJSON would cut the string
 * there), numbers with leading zeros, and nesting deeper than the cap.
 */
static int json_prescan(const char *s, size_t len)
{
    int depth = 0;
    bool in_str = false;
    if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
        return BANTER_EJSON;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if ((unsigned char)c < 0x20)
                return BANTER_EJSON;
            if (c == '\\') {
                if (i + 5 < len && s[i + 1] == 'u' && memcmp(s + i + 2, "0000", 4) == 0)
                    return BANTER_EJSON;
                i++;
            } else if (c == '"') {
                in_str = false;
            }
        } else if (c == '"') {
            in_str = true;
        } else if ((unsigned char)c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            return BANTER_EJSON;
        } else if (c == '0' && starts_number(s, i) && i + 1 < len && is_digit(s[i + 1])) {
            return BANTER_EJSON;
        } else if (c == '{' || c == '[') {
            if (++depth > BANTER_MAX_JSON_DEPTH)
                return BANTER_EJSON;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 0;
}

int jsonv_members(const cJSON *obj)
{
    int n = 0;
    for (const cJSON *a = obj->child; a; a = a->next) {
        if (++n > JSONV_MAX_MEMBERS || !a->string)
            return BANTER_ESCHEMA;
        for (const cJSON *b = a->next; b; b = b->next)
            if (b->string && strcmp(a->string, b->string) == 0)
                return BANTER_ESCHEMA;
    }
    return 0;
}

bool jsonv_plain(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* A string field of min..max bytes. Absent: *out NULL when optional. */
int jsonv_str(const cJSON *obj, const char *key, bool required, size_t min, size_t max,
              const char **out, size_t *len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    *len = 0;
    if (!v)
        return required ? BANTER_ESCHEMA : 0;
    if (!cJSON_IsString(v) || !v->valuestring)
        return BANTER_ESCHEMA;
    size_t n = strlen(v->valuestring);
    if (n > max)
        return BANTER_ETOOLONG;
    if (n < min)
        return BANTER_ESCHEMA;
    if (!utf8_valid(v->valuestring, n))
        return BANTER_EUTF8;
    *out = v->valuestring;
    *len = n;
    return 0;
}

int jsonv_int(const cJSON *obj, const char *key, double min, double max, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v))
        return BANTER_ESCHEMA;
    double d = v->valuedouble;
    if (!(d >= min && d <= max) || floor(d) != d)
        return BANTER_ESCHEMA;
    *out = (int64_t)d;
    return 0;
}

void jsonv_copy(char *dst, const char *src, size_t n)
{
    if (src)
        memcpy(dst, src, n);
    dst[src ? n : 0] = '\0';
}

int jsonv_check_text(const char *s, size_t len, size_t min, size_t max, bool plain)
{
    if (len > max)
        return BANTER_ETOOLONG;
    if (len < min || memchr(s, '\0', len))
        return BANTER_ESCHEMA;
    if (!utf8_valid(s, len))
        return BANTER_EUTF8;
    return plain && !jsonv_plain(s) ? BANTER_ESCHEMA : 0;
}

int jsonv_add_int(cJSON *o, const char *key, uint64_t v)
{
    char text[24];
    if ((double)v > JSONV_MAX_INT)
        return BANTER_ESCHEMA;
    snprintf(text, sizeof text, "%" PRIu64, v);
    return cJSON_AddRawToObject(o, key, text) ? 0 : BANTER_ENOMEM;
}

int jsonv_hex_value(const cJSON *v, uint8_t *out, size_t len)
{
    size_t bin;
    if (!cJSON_IsString(v))
        return BANTER_ESCHEMA;
    const char *s = v->valuestring;
    size_t n = strlen(s);
    if (n != 2 * len)
        return BANTER_ESCHEMA;
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
            return BANTER_ESCHEMA;
    if (sodium_hex2bin(out, len, s, n, NULL, &bin, NULL) != 0 || bin != len)
        return BANTER_ESCHEMA;
    return 0;
}

int jsonv_hex(const cJSON *obj, const char *key, uint8_t *out, size_t len)
{
    const char *s;
    size_t n;
    int r = jsonv_str(obj, key, true, 2 * len, 2 * len, &s, &n);
    if (r)
        return r;
    return jsonv_hex_value(cJSON_GetObjectItemCaseSensitive(obj, key), out, len);
}

int jsonv_add_hex(cJSON *o, const char *key, const uint8_t *p, size_t len)
{
    char *hex = malloc(2 * len + 1);
    if (!hex)
        return BANTER_ENOMEM;
    sodium_bin2hex(hex, 2 * len + 1, p, len);
    int r;
    if (key) {
        r = cJSON_AddStringToObject(o, key, hex) ? 0 : BANTER_ENOMEM;
    } else {
        cJSON *v = cJSON_CreateString(hex);
        r = v && cJSON_AddItemToArray(o, v) ? 0 : BANTER_ENOMEM;
        if (r)
            cJSON_Delete(v);
    }
    free(hex);
    return r;
}

int jsonv_parse(const char *text, size_t len, cJSON **out)
{
    const char *end = NULL;
    *out = NULL;
    if (len > BANTER_MAX_JSON)
        return BANTER_ETOOBIG;
    if (!utf8_valid(text, len))
        return BANTER_EUTF8;
    int r = json_prescan(text, len);
    if (r)
        return r;
    cJSON *o = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!o)
        return BANTER_EJSON;
    while (end && end < text + len && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
        end++;
    if (!end || end != text + len)
        r = BANTER_EJSON;
    else if (!cJSON_IsObject(o))
        r = BANTER_ESCHEMA;
    else
        r = jsonv_members(o);
    if (r) {
        cJSON_Delete(o);
        return r;
    }
    *out = o;
    return 0;
}

int jsonv_write(const cJSON *o, uint8_t type, buf *out)
{
    char *text = cJSON_PrintUnformatted(o);
    if (!text)
        return BANTER_ENOMEM;
    size_t n = strlen(text);
    uint8_t *dst;
    int r = n > BANTER_MAX_JSON ? BANTER_ETOOBIG : buf_reserve(out, n + 1, &dst);
    if (r == 0) {
        dst[0] = type;
        memcpy(dst + 1, text, n);
        buf_commit(out, n + 1);
    }
    cJSON_free(text);
    return r;
}
