/* SPDX-License-Identifier: MIT */
/* annmsg.c - announcements and the revocation list (see annmsg.h). */
#include "annmsg.h"

#include <cJSON.h>
#include <string.h>

#include "banter_limits.h"
#include "bcrypto.h"
#include "jsonv.h"
#include "utf8.h"

#define CONTEXT "banter-revoked-v1"

bool annmsg_owns(int type)
{
    return type == RV_ANNOUNCE || type == RV_ANNOUNCE_RCPT || type == RV_REVOKED;
}

/* Text a person reads: UTF-8, no control character (C0, DEL, C1) but tab
 * and newline in a text (none in a department): no terminal escape reaches
 * a screen. */
static bool text_ok(const char *s, size_t n, size_t min, size_t max, bool lines)
{
    return n >= min && n <= max && !memchr(s, '\0', n) && utf8_no_controls(s, n, lines);
}

static bool ann_valid(const ann_msg *m)
{
    return m->id >= 1 && m->id <= BANTER_MAX_INT && m->ts_ms >= 0 && m->ts_ms <= BANTER_MAX_INT &&
           text_ok(m->department, strnlen(m->department, ANN_MAX_DEPT + 1), 0, ANN_MAX_DEPT,
                   false) &&
           jsonv_plain(m->department) &&
           text_ok(m->text, strnlen(m->text, ANN_MAX_TEXT + 1), 1, ANN_MAX_TEXT, true);
}

int ann_encode(const ann_msg *m, buf *out)
{
    if (!ann_valid(m))
        return BANTER_ESCHEMA;
    cJSON *o = cJSON_CreateObject();
    int ret = BANTER_ENOMEM;
    if (o && jsonv_add_int(o, "id", m->id) == 0 && jsonv_add_int(o, "ts", m->ts_ms) == 0 &&
        cJSON_AddStringToObject(o, "department", m->department) &&
        cJSON_AddStringToObject(o, "text", m->text))
        ret = jsonv_write(o, RV_ANNOUNCE, out);
    cJSON_Delete(o);
    return ret;
}

/* The JSON object of a plaintext of type t. */
static int parse(const uint8_t *pt, size_t len, int t, cJSON **o)
{
    *o = NULL;
    if (len < 1)
        return BANTER_ETRUNCATED;
    if (pt[0] != t)
        return BANTER_EBADTYPE;
    return jsonv_parse((const char *)pt + 1, len - 1, o);
}

int ann_decode(ann_msg *m, const uint8_t *pt, size_t len)
{
    cJSON *o;
    const char *s = NULL, *d = NULL;
    size_t n = 0, dn = 0;
    memset(m, 0, sizeof *m);
    int ret = parse(pt, len, RV_ANNOUNCE, &o);
    if (ret == 0 && cJSON_GetArraySize(o) != 4)
        ret = BANTER_ESCHEMA;
    if (ret == 0)
        ret = jsonv_int(o, "id", 1, BANTER_MAX_INT, &m->id);
    if (ret == 0)
        ret = jsonv_int(o, "ts", 0, BANTER_MAX_INT, &m->ts_ms);
    if (ret == 0)
        ret = jsonv_str(o, "department", true, 0, ANN_MAX_DEPT, &d, &dn);
    if (ret == 0)
        ret = jsonv_str(o, "text", true, 1, ANN_MAX_TEXT, &s, &n);
    if (ret == 0 &&
        (!text_ok(d, dn, 0, ANN_MAX_DEPT, false) || !text_ok(s, n, 1, ANN_MAX_TEXT, true)))
        ret = BANTER_ESCHEMA;
    if (ret == 0) {
        jsonv_copy(m->department, d, dn);
        jsonv_copy(m->text, s, n);
        if (!jsonv_plain(m->department))
            ret = BANTER_ESCHEMA;
    }
    cJSON_Delete(o);
    if (ret)
        memset(m, 0, sizeof *m);
    return ret;
}

int ann_rcpt_encode(const ann_rcpt *r, buf *out)
{
    if (r->id < 1 || r->id > BANTER_MAX_INT)
        return BANTER_ESCHEMA;
    cJSON *o = cJSON_CreateObject();
    int ret = BANTER_ENOMEM;
    if (o && jsonv_add_int(o, "id", r->id) == 0 && cJSON_AddBoolToObject(o, "read", r->read))
        ret = jsonv_write(o, RV_ANNOUNCE_RCPT, out);
    cJSON_Delete(o);
    return ret;
}

int ann_rcpt_decode(ann_rcpt *r, const uint8_t *pt, size_t len)
{
    cJSON *o;
    memset(r, 0, sizeof *r);
    int ret = parse(pt, len, RV_ANNOUNCE_RCPT, &o);
    if (ret == 0 && cJSON_GetArraySize(o) != 2)
        ret = BANTER_ESCHEMA;
    if (ret == 0)
        ret = jsonv_int(o, "id", 1, BANTER_MAX_INT, &r->id);
    const cJSON *b = ret == 0 ? cJSON_GetObjectItemCaseSensitive(o, "read") : NULL;
    if (ret == 0 && !cJSON_IsBool(b))
        ret = BANTER_ESCHEMA;
    if (ret == 0)
        r->read = cJSON_IsTrue(b);
    cJSON_Delete(o);
    if (ret)
        memset(r, 0, sizeof *r);
    return ret;
}

/* ---- the revocation list ---- */

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* body: the bytes before the signature (REVLIST_LEN(n) - 64). */
static size_t encode_body(const revlist *l, uint8_t *b)
{
    b[0] = REVLIST_VERSION;
    memcpy(b + 1, l->server, 32);
    put_be(b + 33, (uint64_t)l->issued_ms, 8);
    put_be(b + 41, l->n, 2);
    for (size_t i = 0; i < l->n; i++)
        memcpy(b + REVLIST_HEAD + 32 * i, l->keys[i], 32);
    return REVLIST_LEN(l->n) - 64;
}

/* "banter-revoked-v1" || body, into m (cap REVLIST_LEN_MAX + context). */
static size_t signed_msg(const uint8_t *body, size_t n, uint8_t *m)
{
    memcpy(m, CONTEXT, sizeof CONTEXT - 1);
    memcpy(m + sizeof CONTEXT - 1, body, n);
    return sizeof CONTEXT - 1 + n;
}

int revlist_sign(revlist *l, const identity *server)
{
    uint8_t m[sizeof CONTEXT - 1 + REVLIST_LEN_MAX];
    if (l->n > REVLIST_MAX_KEYS || l->issued_ms < 0 || l->issued_ms > BANTER_MAX_INT)
        return BANTER_EINVAL;
    memcpy(l->server, identity_public(server), 32);
    memcpy(m, CONTEXT, sizeof CONTEXT - 1);
    size_t n = encode_body(l, m + sizeof CONTEXT - 1);
    identity_sign(server, m, sizeof CONTEXT - 1 + n, l->sig);
    return 0;
}

size_t revlist_encode(const revlist *l, uint8_t *out, size_t cap)
{
    if (cap < REVLIST_LEN(l->n))
        return 0;
    size_t n = encode_body(l, out);
    memcpy(out + n, l->sig, 64);
    return n + 64;
}

int revlist_decode(revlist *l, const uint8_t *in, size_t len)
{
    uint8_t m[sizeof CONTEXT - 1 + REVLIST_LEN_MAX];
    memset(l, 0, sizeof *l);
    if (len < REVLIST_LEN(0))
        return BANTER_ETRUNCATED;
    if (in[0] != REVLIST_VERSION)
        return BANTER_EUNSUPPORTED;
    uint64_t issued = get_be(in + 33, 8), n = get_be(in + 41, 2);
    if (issued > (uint64_t)BANTER_MAX_INT || n > REVLIST_MAX_KEYS)
        return BANTER_ESCHEMA;
    if (len < REVLIST_LEN(n))
        return BANTER_ETRUNCATED;
    if (len > REVLIST_LEN(n))
        return BANTER_ETRAILING;
    memcpy(l->server, in + 1, 32);
    l->issued_ms = (int64_t)issued;
    l->n = (size_t)n;
    for (size_t i = 0; i < l->n; i++)
        memcpy(l->keys[i], in + REVLIST_HEAD + 32 * i, 32);
    memcpy(l->sig, in + len - 64, 64);
    size_t mn = signed_msg(in, len - 64, m);
    if (bcrypto_verify(l->sig, m, mn, l->server) != 0) {
        memset(l, 0, sizeof *l);
        return BANTER_EIDENTITY;
    }
    return 0;
}

bool revlist_has(const revlist *l, const uint8_t key[static 32])
{
    for (size_t i = 0; i < l->n; i++)
        if (memcmp(l->keys[i], key, 32) == 0)
            return true;
    return false;
}
