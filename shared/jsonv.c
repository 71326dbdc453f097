/* SPDX-License-Identifier: MIT */
/* jsonv.c - strict JSON parsing and writing for the codecs (see jsonv.h). */
#include "jsonv.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banter_limits.h"
#include "bcrypto.h"
#include "utf8.h"

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/*
 * What cJSON would let through but RFC 8259 (and docs/protocol.md 6.1)
 * refuses, in one pass that knows where strings are: a byte-order mark,
 * control characters (raw inside strings, anything but the four white-space
 * characters between tokens), the escape \u0000 (cJSON would cut the string
 * there), and nesting deeper than the cap. Numbers are checked by
 * keep_numbers, after cJSON.
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

int jsonv_int_parse(const char *s, size_t n, int64_t min, int64_t max, int64_t *out)
{
    size_t i = n && s[0] == '-' ? 1 : 0;
    uint64_t mag = 0;
    /* At most 19 digits: mag stays below 10^19 < 2^64, so it cannot wrap. */
    if (i >= n || n - i > 19 || !is_digit(s[i]) || (s[i] == '0' && (n - i > 1 || i)))
        return BANTER_ESCHEMA;
    for (size_t k = i; k < n; k++) {
        if (!is_digit(s[k]))
            return BANTER_ESCHEMA;
        mag = mag * 10 + (uint64_t)(s[k] - '0');
    }
    int64_t v;
    if (i == 0 && mag <= (uint64_t)INT64_MAX)
        v = (int64_t)mag;
    else if (i == 1 && mag <= (uint64_t)INT64_MAX)
        v = -(int64_t)mag;
    else if (i == 1 && mag == (uint64_t)INT64_MAX + 1)
        v = INT64_MIN;
    else
        return BANTER_ESCHEMA;
    if (v < min || v > max)
        return BANTER_ESCHEMA;
    *out = v;
    return 0;
}

size_t jsonv_int_format(int64_t v, char out[static JSONV_INT_TEXT])
{
    int n = snprintf(out, JSONV_INT_TEXT, "%" PRId64, v);
    return n > 0 ? (size_t)n : 0;
}

int jsonv_int_value(const cJSON *v, int64_t min, int64_t max, int64_t *out)
{
    /* Numbers of a parsed tree are raw items holding their text (see
     * keep_numbers); anything else is not a number from the wire. */
    if (!cJSON_IsRaw(v) || !v->valuestring)
        return BANTER_ESCHEMA;
    return jsonv_int_parse(v->valuestring, strlen(v->valuestring), min, max, out);
}

int jsonv_int(const cJSON *obj, const char *key, int64_t min, int64_t max, int64_t *out)
{
    return jsonv_int_value(cJSON_GetObjectItemCaseSensitive(obj, key), min, max, out);
}

int jsonv_int_opt(const cJSON *obj, const char *key, int64_t min, int64_t max, int64_t def,
                  int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        *out = def;
        return 0;
    }
    return jsonv_int_value(v, min, max, out);
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

int jsonv_add_int(cJSON *o, const char *key, int64_t v)
{
    char text[JSONV_INT_TEXT];
    if (v < JSONV_INT_MIN || v > JSONV_INT_MAX)
        return BANTER_ESCHEMA;
    jsonv_int_format(v, text);
    if (key)
        return cJSON_AddRawToObject(o, key, text) ? 0 : BANTER_ENOMEM;
    cJSON *item = cJSON_CreateRaw(text);
    if (item && cJSON_AddItemToArray(o, item))
        return 0;
    cJSON_Delete(item);
    return BANTER_ENOMEM;
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

/* Length of the number (RFC 8259: -? (0 | [1-9][0-9]*) (.[0-9]+)?
 * ([eE][+-]?[0-9]+)?) that starts at s[i], or 0 when the characters there
 * are not one. cJSON takes "01", "1." and "1.e5" as numbers; JSON does not. */
static size_t number_len(const char *s, size_t len, size_t i)
{
    size_t j = i < len && s[i] == '-' ? i + 1 : i;
    if (j >= len || !is_digit(s[j]))
        return 0;
    if (s[j++] != '0')
        while (j < len && is_digit(s[j]))
            j++;
    if (j < len && s[j] == '.') {
        if (++j >= len || !is_digit(s[j]))
            return 0;
        while (j < len && is_digit(s[j]))
            j++;
    }
    if (j < len && (s[j] == 'e' || s[j] == 'E')) {
        if (++j < len && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j >= len || !is_digit(s[j]))
            return 0;
        while (j < len && is_digit(s[j]))
            j++;
    }
    if (j < len && (is_digit(s[j]) || strchr(".eE+-", s[j]) != NULL))
        return 0; /* "01", "1.2.3", "1e5e5": not one number */
    return j - i;
}

/* From *pos, the start of the next number outside strings (false: none). */
static bool next_number(const char *s, size_t len, size_t *pos)
{
    for (size_t i = *pos; i < len; i++) {
        if (s[i] == '"') {
            for (i++; i < len && s[i] != '"'; i++)
                if (s[i] == '\\')
                    i++;
        } else if (s[i] == '-' || is_digit(s[i])) {
            *pos = i;
            return true;
        }
    }
    *pos = len;
    return false;
}

/*
 * Give every number of the tree its own text: cJSON has read it as a
 * double, which is not exact above 2^53. Numbers appear in the text in the
 * order of a depth-first walk of the tree (keys are strings), so the k-th
 * number item is the k-th number in the text. Each becomes a cJSON_Raw
 * item with that text (cJSON_Delete frees it), which only jsonv_int reads.
 */
static int keep_numbers(cJSON *item, const char *s, size_t len, size_t *pos)
{
    for (; item; item = item->next) {
        if (item->child) {
            int r = keep_numbers(item->child, s, len, pos);
            if (r)
                return r;
        }
        if (!cJSON_IsNumber(item))
            continue;
        size_t n = next_number(s, len, pos) ? number_len(s, len, *pos) : 0;
        if (n == 0)
            return BANTER_EJSON;
        char *text = cJSON_malloc(n + 1);
        if (!text)
            return BANTER_ENOMEM;
        memcpy(text, s + *pos, n);
        text[n] = '\0';
        item->type = cJSON_Raw;
        item->valuestring = text;
        item->valuedouble = 0;
        item->valueint = 0;
        *pos += n;
    }
    return 0;
}

int jsonv_parse_max(const char *text, size_t len, size_t max, cJSON **out)
{
    const char *end = NULL;
    size_t pos = 0;
    *out = NULL;
    if (len > max)
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
    else
        r = keep_numbers(o, text, len, &pos);
    if (!r && next_number(text, len, &pos))
        r = BANTER_EJSON; /* a number cJSON did not see: cannot happen */
    if (!r && !cJSON_IsObject(o))
        r = BANTER_ESCHEMA;
    if (!r)
        r = jsonv_members(o);
    if (r) {
        cJSON_Delete(o);
        return r;
    }
    *out = o;
    return 0;
}

int jsonv_parse(const char *text, size_t len, cJSON **out)
{
    return jsonv_parse_max(text, len, BANTER_MAX_JSON, out);
}

static void wipe_values(cJSON *o)
{
    for (; o; o = o->next) {
        if (o->valuestring)
            bcrypto_wipe(o->valuestring, strlen(o->valuestring));
        wipe_values(o->child);
    }
}

void jsonv_delete_wiped(cJSON *o)
{
    wipe_values(o);
    cJSON_Delete(o);
}

static int print_into(const cJSON *o, bool typed, uint8_t type, size_t max, buf *out)
{
    char *text = cJSON_PrintUnformatted(o);
    if (!text)
        return BANTER_ENOMEM;
    size_t n = strlen(text), k = typed ? 1 : 0;
    uint8_t *dst;
    int r = n > max ? BANTER_ETOOBIG : buf_reserve(out, n + k, &dst);
    if (r == 0) {
        if (typed)
            dst[0] = type;
        memcpy(dst + k, text, n);
        buf_commit(out, n + k);
    }
    bcrypto_wipe(text, n); /* it may have held a password (RV_LOGIN, login) */
    cJSON_free(text);
    return r;
}

int jsonv_write(const cJSON *o, uint8_t type, buf *out)
{
    return print_into(o, true, type, BANTER_MAX_JSON, out);
}

int jsonv_print(const cJSON *o, size_t max, buf *out) { return print_into(o, false, 0, max, out); }
