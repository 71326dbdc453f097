/* SPDX-License-Identifier: MIT */
/* rvmsg.c - node <-> rendezvous messages to and from their wire form. */
#include "rvmsg.h"

#include <stdlib.h>
#include <string.h>

#include "bcrypto.h"
#include "jsonv.h"

static const struct {
    const char *name;
    size_t max;
} fields[RV_F_COUNT] = {
    [RV_F_DISPLAY_NAME] = {"display_name", 64},
    [RV_F_DEPARTMENT] = {"department", 64},
    [RV_F_TITLE] = {"title", 64},
    [RV_F_EMAIL] = {"email", 128},
    [RV_F_PHONE] = {"phone", 32},
    [RV_F_LOCATION] = {"location", 64},
    [RV_F_ABOUT] = {"about", RV_VALUE_MAX},
};

const char *rv_field_name(rv_field f) { return f < RV_F_COUNT ? fields[f].name : "user"; }
size_t rv_field_max(rv_field f) { return f < RV_F_COUNT ? fields[f].max : BANTER_MAX_NAME; }

int rv_field_parse(const char *name, rv_field *out)
{
    for (int i = 0; i <= RV_F_COUNT; i++) {
        if (strcmp(rv_field_name((rv_field)i), name) == 0) {
            *out = (rv_field)i;
            return 0;
        }
    }
    return BANTER_EINVAL;
}

bool rvmsg_owns(int type)
{
    return (type >= RV_LOGIN && type <= RV_SEARCH_RESULT) || type == RV_CERT;
}

/* ---- decoding ---- */

static int get_name(const cJSON *o, const char *key, char out[static BANTER_MAX_NAME + 1])
{
    const char *s;
    size_t n;
    int r = jsonv_str(o, key, true, 1, BANTER_MAX_NAME, &s, &n);
    if (r)
        return r;
    jsonv_copy(out, s, n);
    return cert_name_valid(out) ? 0 : BANTER_ESCHEMA;
}

static int get_bool(const cJSON *o, const char *key, bool required, bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return required ? BANTER_ESCHEMA : 0;
    if (!cJSON_IsBool(v))
        return BANTER_ESCHEMA;
    *out = cJSON_IsTrue(v);
    return 0;
}

static int decode_profile(const cJSON *o, struct rv_profile *p)
{
    for (int i = 0; i < RV_F_COUNT; i++) {
        const char *s;
        size_t n;
        int r = jsonv_str(o, fields[i].name, false, 0, fields[i].max, &s, &n);
        if (r)
            return r;
        if (!s)
            continue;
        if (i != RV_F_ABOUT && !jsonv_plain(s))
            return BANTER_ESCHEMA;
        p->f[i] = malloc(n + 1);
        if (!p->f[i])
            return BANTER_ENOMEM;
        jsonv_copy(p->f[i], s, n);
    }
    return 0;
}

static int decode_search(const cJSON *o, struct rv_search *q)
{
    int64_t v;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "q"), *it;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < 1)
        return BANTER_ESCHEMA;
    if ((size_t)cJSON_GetArraySize(a) > RV_SEARCH_MAX)
        return BANTER_ETOOLONG;
    cJSON_ArrayForEach (it, a) {
        struct rv_criterion *c = &q->c[q->n++];
        const char *f, *op, *val;
        size_t n;
        int r = cJSON_IsObject(it) ? jsonv_members(it) : BANTER_ESCHEMA;
        if (!r)
            r = jsonv_str(it, "field", true, 1, 32, &f, &n);
        if (!r)
            r = jsonv_str(it, "op", true, 1, 16, &op, &n);
        if (!r)
            r = jsonv_str(it, "value", true, 1, sizeof c->value - 1, &val, &n);
        if (r)
            return r;
        if (rv_field_parse(f, &c->field) != 0 || !jsonv_plain(val) ||
            (strcmp(op, "eq") != 0 && strcmp(op, "contains") != 0))
            return BANTER_ESCHEMA;
        c->contains = op[0] == 'c';
        jsonv_copy(c->value, val, n);
    }
    int r = jsonv_int(o, "page", 0, 1000000, &v);
    if (r)
        return r;
    q->page = (uint32_t)v;
    r = jsonv_int(o, "per_page", 1, RV_PER_PAGE_MAX, &v);
    q->per_page = (uint32_t)v;
    return r;
}

static int decode_result(const cJSON *o, struct rv_search_result *res)
{
    int64_t v;
    int r = jsonv_int(o, "total", 0, JSONV_MAX_INT, &v);
    if (r)
        return r;
    res->total = (uint64_t)v;
    r = jsonv_int(o, "page", 0, 1000000, &v);
    if (r)
        return r;
    res->page = (uint32_t)v;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "users"), *it;
    if (!cJSON_IsArray(a))
        return BANTER_ESCHEMA;
    int count = cJSON_GetArraySize(a);
    if ((size_t)count > RV_PER_PAGE_MAX)
        return BANTER_ETOOLONG;
    res->users = count ? calloc((size_t)count, sizeof *res->users) : NULL;
    if (count && !res->users)
        return BANTER_ENOMEM;
    cJSON_ArrayForEach (it, a) {
        struct rv_user *u = &res->users[res->n++];
        r = cJSON_IsObject(it) ? jsonv_members(it) : BANTER_ESCHEMA;
        if (!r)
            r = get_name(it, "user", u->name);
        if (!r)
            r = decode_profile(it, &u->p);
        if (r)
            return r;
    }
    return 0;
}

static int decode_auth(const cJSON *o, struct rv_auth *a)
{
    int64_t v = 0;
    int r = get_bool(o, "ok", true, &a->ok);
    if (r)
        return r;
    if (a->ok) {
        r = get_name(o, "user", a->user);
        return r ? r : get_bool(o, "admin", false, &a->admin);
    }
    const char *s;
    size_t n;
    r = jsonv_str(o, "error", true, 1, BANTER_MAX_ERRCODE, &s, &n);
    if (r)
        return r;
    if (!jsonv_plain(s))
        return BANTER_ESCHEMA;
    jsonv_copy(a->error, s, n);
    if (cJSON_GetObjectItemCaseSensitive(o, "retry_after_ms")) {
        r = jsonv_int(o, "retry_after_ms", 0, 86400000, &v);
        a->retry_after_ms = v;
    }
    return r;
}

static int decode_json(rvmsg *m, const char *text, size_t len)
{
    cJSON *o;
    int r = jsonv_parse(text, len, &o);
    if (r)
        return r;
    switch (m->type) {
    case RV_LOGIN: {
        const char *s;
        size_t n;
        r = get_name(o, "user", m->u.login.user);
        if (!r)
            r = jsonv_str(o, "password", true, 1, RV_PASSWORD_MAX, &s, &n);
        if (!r)
            jsonv_copy(m->u.login.password, s, n);
        break;
    }
    case RV_AUTH:
        r = decode_auth(o, &m->u.auth);
        break;
    case RV_LOGOUT:
        break;
    case RV_PROFILE_SET:
        r = decode_profile(o, &m->u.profile);
        break;
    case RV_SEARCH:
        r = decode_search(o, &m->u.search);
        break;
    default: /* RV_SEARCH_RESULT */
        r = decode_result(o, &m->u.result);
        break;
    }
    cJSON_Delete(o);
    return r;
}

int rvmsg_decode(rvmsg *m, const uint8_t *pt, size_t len)
{
    memset(m, 0, sizeof *m);
    if (len < 1)
        return BANTER_ETRUNCATED;
    if (!rvmsg_owns(pt[0]))
        return BANTER_EBADTYPE;
    m->type = (rv_type)pt[0];
    int r = m->type == RV_CERT ? cert_decode(&m->u.cert, pt + 1, len - 1)
                               : decode_json(m, (const char *)pt + 1, len - 1);
    if (r)
        rvmsg_clear(m);
    return r;
}

static void profile_free(struct rv_profile *p)
{
    for (int i = 0; i < RV_F_COUNT; i++)
        free(p->f[i]);
}

void rvmsg_clear(rvmsg *m)
{
    if (m->type == RV_PROFILE_SET)
        profile_free(&m->u.profile);
    if (m->type == RV_SEARCH_RESULT && m->u.result.users) {
        for (size_t i = 0; i < m->u.result.n; i++)
            profile_free(&m->u.result.users[i].p);
        free(m->u.result.users);
    }
    bcrypto_wipe(m, sizeof *m);
}

/* ---- encoding ---- */

static int add_text(cJSON *o, const char *key, const char *s, size_t min, size_t max, bool plain)
{
    int r = jsonv_check_text(s, strlen(s), min, max, plain);
    if (r)
        return r;
    return cJSON_AddStringToObject(o, key, s) ? 0 : BANTER_ENOMEM;
}

static int add_name(cJSON *o, const char *key, const char *name)
{
    return cert_name_valid(name) ? add_text(o, key, name, 1, BANTER_MAX_NAME, true)
                                 : BANTER_ESCHEMA;
}

static int build_profile(const struct rv_profile *p, cJSON *o)
{
    for (int i = 0; i < RV_F_COUNT; i++) {
        if (!p->f[i])
            continue;
        int r = add_text(o, fields[i].name, p->f[i], 0, fields[i].max, i != RV_F_ABOUT);
        if (r)
            return r;
    }
    return 0;
}

static int build_search(const struct rv_search *q, cJSON *o)
{
    if (q->n < 1 || q->n > RV_SEARCH_MAX || q->per_page < 1 || q->per_page > RV_PER_PAGE_MAX)
        return BANTER_ESCHEMA;
    cJSON *a = cJSON_AddArrayToObject(o, "q");
    if (!a)
        return BANTER_ENOMEM;
    for (size_t i = 0; i < q->n; i++) {
        cJSON *c = cJSON_CreateObject();
        if (!c || !cJSON_AddItemToArray(a, c)) {
            cJSON_Delete(c);
            return BANTER_ENOMEM;
        }
        if (!cJSON_AddStringToObject(c, "field", rv_field_name(q->c[i].field)) ||
            !cJSON_AddStringToObject(c, "op", q->c[i].contains ? "contains" : "eq"))
            return BANTER_ENOMEM;
        int r = add_text(c, "value", q->c[i].value, 1, sizeof q->c[i].value - 1, true);
        if (r)
            return r;
    }
    int r = jsonv_add_int(o, "page", q->page);
    return r ? r : jsonv_add_int(o, "per_page", q->per_page);
}

static int build_result(const struct rv_search_result *res, cJSON *o)
{
    if (res->n > RV_PER_PAGE_MAX)
        return BANTER_ESCHEMA;
    int r = jsonv_add_int(o, "total", res->total);
    if (!r)
        r = jsonv_add_int(o, "page", res->page);
    cJSON *a = r ? NULL : cJSON_AddArrayToObject(o, "users");
    if (!a)
        return r ? r : BANTER_ENOMEM;
    for (size_t i = 0; i < res->n && r == 0; i++) {
        cJSON *u = cJSON_CreateObject();
        if (!u || !cJSON_AddItemToArray(a, u)) {
            cJSON_Delete(u);
            return BANTER_ENOMEM;
        }
        r = add_name(u, "user", res->users[i].name);
        if (!r)
            r = build_profile(&res->users[i].p, u);
    }
    return r;
}

static int build_auth(const struct rv_auth *a, cJSON *o)
{
    if (!cJSON_AddBoolToObject(o, "ok", a->ok))
        return BANTER_ENOMEM;
    if (a->ok) {
        int r = add_name(o, "user", a->user);
        if (r)
            return r;
        return a->admin && !cJSON_AddTrueToObject(o, "admin") ? BANTER_ENOMEM : 0;
    }
    int r = add_text(o, "error", a->error, 1, BANTER_MAX_ERRCODE, true);
    if (r || a->retry_after_ms <= 0)
        return r;
    return jsonv_add_int(o, "retry_after_ms", (uint64_t)a->retry_after_ms);
}

static int build_json(const rvmsg *m, cJSON *o)
{
    switch (m->type) {
    case RV_LOGIN: {
        int r = add_name(o, "user", m->u.login.user);
        return r ? r : add_text(o, "password", m->u.login.password, 1, RV_PASSWORD_MAX, false);
    }
    case RV_AUTH:
        return build_auth(&m->u.auth, o);
    case RV_LOGOUT:
        return 0;
    case RV_PROFILE_SET:
        return build_profile(&m->u.profile, o);
    case RV_SEARCH:
        return build_search(&m->u.search, o);
    default: /* RV_SEARCH_RESULT */
        return build_result(&m->u.result, o);
    }
}

int rvmsg_encode(const rvmsg *m, buf *out)
{
    if (!rvmsg_owns((int)m->type))
        return BANTER_EBADTYPE;
    if (m->type == RV_CERT) {
        uint8_t *dst;
        size_t n;
        int r = buf_reserve(out, 1 + CERT_LEN_MAX, &dst);
        if (r)
            return r;
        dst[0] = RV_CERT;
        r = cert_encode(&m->u.cert, dst + 1, CERT_LEN_MAX, &n);
        if (!r)
            buf_commit(out, 1 + n);
        return r;
    }
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return BANTER_ENOMEM;
    int r = build_json(m, o);
    if (r == 0)
        r = jsonv_write(o, (uint8_t)m->type, out);
    cJSON_Delete(o);
    return r;
}
