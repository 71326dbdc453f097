/* SPDX-License-Identifier: MIT */
/* rvmsg.c - node <-> rendezvous messages to and from their wire form. */
#include "rvmsg.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "bcrypto.h"
#include "jsonv.h"
#include "utf8.h"

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

/* Whether s begins with an at sign ('@' or a look-alike: U+FE6B, U+FF20),
 * which would make a display name pass for an account's handle: its
 * length, else 0. */
static size_t at_sign_len(const char *s)
{
    if (s[0] == '@')
        return 1;
    if (strncmp(s, "\xef\xb9\xab", 3) == 0 || strncmp(s, "\xef\xbc\xa0", 3) == 0)
        return 3;
    return 0;
}

/* Whether s begins with a space (U+0020, or Unicode's: U+00A0, U+1680,
 * U+2000-U+200A, U+202F, U+205F, U+3000): its length, else 0. */
static size_t space_len(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] == ' ')
        return 1;
    if (u[0] == 0xc2 && u[1] == 0xa0)
        return 2;
    if ((u[0] == 0xe1 && u[1] == 0x9a && u[2] == 0x80) ||
        (u[0] == 0xe2 && u[1] == 0x80 && (u[2] <= 0x8a || u[2] == 0xaf)) ||
        (u[0] == 0xe2 && u[1] == 0x81 && u[2] == 0x9f) ||
        (u[0] == 0xe3 && u[1] == 0x80 && u[2] == 0x80))
        return 3;
    return 0;
}

/* Where the last character of the valid UTF-8 s begins, and whether it
 * is a space (space_len's); false for "" or what is not UTF-8. */
static bool last_is_space(const char *s, size_t *at)
{
    size_t k;
    bool space = false;
    for (size_t i = 0; s[i]; i += k) {
        k = space_len(s + i);
        space = k > 0;
        if (!k)
            k = utf8_seq_len(s + i, strnlen(s + i, 4));
        if (!k)
            return false;
        *at = i;
    }
    return space;
}

static bool ends_with_space(const char *s)
{
    size_t at = 0;
    return last_is_space(s, &at);
}

/* A display name's faults that pass for another name: invisible
 * characters, spaces at either end (" @alice"), a leading at sign. */
static bool display_name_ok(const char *value, size_t n)
{
    return utf8_no_invisible(value, n) && !space_len(value) && !ends_with_space(value) &&
           !at_sign_len(value);
}

int rv_field_check(rv_field f, const char *value)
{
    size_t n = strlen(value);
    if (n > rv_field_max(f))
        return BANTER_ETOOLONG;
    if (!utf8_valid(value, n))
        return BANTER_EUTF8;
    if (!utf8_no_controls(value, n, f == RV_F_ABOUT))
        return BANTER_ESCHEMA;
    if (f == RV_F_DISPLAY_NAME && !display_name_ok(value, n))
        return BANTER_ESCHEMA;
    return 0;
}

const char *rv_field_rule(rv_field f)
{
    switch (f) {
    case RV_F_ABOUT:
        return "newlines and tabs but no other control characters (C0, DEL, C1)";
    case RV_F_DISPLAY_NAME:
        return "no control characters (C0, DEL, C1), no invisible characters (bidi controls, "
               "zero-width, tag characters), no space at either end and no leading @";
    default:
        return "no control characters (C0, DEL, C1)";
    }
}

bool rv_field_by_admin(rv_field f) { return f == RV_F_DEPARTMENT; }

void rv_field_mask(rv_field f, char *value)
{
    (void)utf8_mask_controls(value, f == RV_F_ABOUT);
    if (f != RV_F_DISPLAY_NAME)
        return;
    (void)utf8_drop_invisible(value);
    size_t k = 0, a;
    while ((a = at_sign_len(value + k)) > 0 || (a = space_len(value + k)) > 0)
        k += a;
    memmove(value, value + k, strlen(value + k) + 1);
    size_t at = 0;
    while (last_is_space(value, &at)) /* cut the last space off */
        value[at] = '\0';
}

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

static const char *const op_names[RV_OP_COUNT] = {"request", "approve", "deny",
                                                  "remove",  "block",   "unblock"};
static const char *const cstate_names[RV_CS_COUNT] = {"none",     "approved", "incoming",
                                                      "outgoing", "blocked",  "self"};
static const char *const fate_names[RV_STORED_COUNT] = {"stored", "delivered", "refused"};
static const char *const presence_names[RV_P_COUNT] = {"offline", "online", "away", "busy",
                                                       "invisible"};

static const char *const probe_names[RV_PR_COUNT] = {"reachable", "other",       "refused",
                                                     "timeout",   "unreachable", "error"};

const char *rv_probe_res_name(rv_probe_res r) { return r < RV_PR_COUNT ? probe_names[r] : "?"; }

const char *rv_op_name(rv_op op) { return op < RV_OP_COUNT ? op_names[op] : "?"; }
const char *rv_cstate_name(rv_cstate st) { return st < RV_CS_COUNT ? cstate_names[st] : "?"; }
const char *rv_presence_name(rv_presence p) { return p < RV_P_COUNT ? presence_names[p] : "?"; }

static int parse_name(const char *s, const char *const *names, int count, int *out)
{
    for (int i = 0; i < count; i++) {
        if (strcmp(names[i], s) == 0) {
            *out = i;
            return 0;
        }
    }
    return BANTER_EINVAL;
}

int rv_op_parse(const char *s, rv_op *out)
{
    int i = 0, r = parse_name(s, op_names, RV_OP_COUNT, &i);
    *out = (rv_op)i;
    return r;
}

int rv_presence_parse(const char *s, rv_presence *out)
{
    int i = 0, r = parse_name(s, presence_names, RV_P_COUNT, &i);
    *out = (rv_presence)i;
    return r;
}

bool rv_text_valid(const char *text)
{
    return jsonv_check_text(text, strlen(text), 0, RV_TEXT_MAX, true) == 0;
}

bool rvmsg_owns(int type)
{
    return (type >= RV_LOGIN && type <= RV_KEEP) ||
           (type >= RV_ICE_SERVERS && type <= RV_ICE_END) || type == RV_PROBE ||
           type == RV_PROBE_RESULT || (type >= RV_CERT && type <= RV_SEALED);
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

/* The profile fields of o: each at most its length of UTF-8 and, when
 * check, without control characters (rv_field_check). RV_PROFILE_SET is
 * decoded without: the server checks its values itself and says which
 * field it refuses (EINVAL), rather than "message refused". */
static int decode_profile(const cJSON *o, struct rv_profile *p, bool check)
{
    for (int i = 0; i < RV_F_COUNT; i++) {
        const char *s;
        size_t n;
        int r = jsonv_str(o, fields[i].name, false, 0, fields[i].max, &s, &n);
        if (r)
            return r;
        if (!s)
            continue;
        if (check && !utf8_no_controls(s, n, i == RV_F_ABOUT))
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
    int r = jsonv_int(o, "page", 0, RV_PAGE_MAX, &v);
    if (r)
        return r;
    q->page = (uint32_t)v;
    r = jsonv_int(o, "per_page", 1, RV_PER_PAGE_MAX, &v);
    q->per_page = (uint32_t)v;
    return r;
}

/* A page of users (RV_SEARCH_RESULT, RV_RECIPIENTS): "total", "page" and
 * the "users" array (at most max), whose items (elem bytes each, zeroed)
 * the caller fills; *items is the caller's even on error. */
static int decode_page(const cJSON *o, uint64_t *total, uint32_t *page, size_t max, size_t elem,
                       void **items, const cJSON **users)
{
    int64_t v;
    int r = jsonv_int(o, "total", 0, JSONV_INT_MAX, &v);
    if (r)
        return r;
    *total = (uint64_t)v;
    r = jsonv_int(o, "page", 0, RV_PAGE_MAX, &v);
    if (r)
        return r;
    *page = (uint32_t)v;
    *users = cJSON_GetObjectItemCaseSensitive(o, "users");
    if (!cJSON_IsArray(*users))
        return BANTER_ESCHEMA;
    int count = cJSON_GetArraySize(*users);
    if ((size_t)count > max)
        return BANTER_ETOOLONG;
    *items = count ? calloc((size_t)count, elem) : NULL;
    return count && !*items ? BANTER_ENOMEM : 0;
}

static int decode_result(const cJSON *o, struct rv_search_result *res)
{
    const cJSON *a, *it;
    void *items = NULL;
    int r =
        decode_page(o, &res->total, &res->page, RV_PER_PAGE_MAX, sizeof *res->users, &items, &a);
    res->users = items;
    if (r)
        return r;
    cJSON_ArrayForEach (it, a) {
        struct rv_user *u = &res->users[res->n++];
        r = cJSON_IsObject(it) ? jsonv_members(it) : BANTER_ESCHEMA;
        if (!r)
            r = get_name(it, "user", u->name);
        if (!r)
            r = decode_profile(it, &u->p, true);
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
        r = jsonv_int(o, "retry_after_ms", 0, RV_RETRY_MAX_MS, &v);
        a->retry_after_ms = v;
    }
    return r;
}

/* A member that must be one of names[0..count). */
static int get_enum(const cJSON *o, const char *key, bool required, const char *const *names,
                    int count, int *out)
{
    const char *s;
    size_t n;
    int r = jsonv_str(o, key, required, 1, 16, &s, &n);
    if (r || !s)
        return r;
    return parse_name(s, names, count, out) ? BANTER_ESCHEMA : 0;
}

static int get_text(const cJSON *o, char out[static RV_TEXT_MAX + 1])
{
    const char *s;
    size_t n;
    int r = jsonv_str(o, "text", false, 0, RV_TEXT_MAX, &s, &n);
    if (r || !s)
        return r;
    if (!jsonv_plain(s))
        return BANTER_ESCHEMA;
    jsonv_copy(out, s, n);
    return 0;
}

static int get_devices(const cJSON *o, size_t *n, uint8_t dev[][RV_KEY_LEN])
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "devices"), *it;
    if (!a)
        return 0;
    if (!cJSON_IsArray(a))
        return BANTER_ESCHEMA;
    if ((size_t)cJSON_GetArraySize(a) > RV_DEVICES_MAX)
        return BANTER_ETOOLONG;
    cJSON_ArrayForEach (it, a) {
        int r = jsonv_hex_value(it, dev[*n], RV_KEY_LEN);
        if (r)
            return r;
        (*n)++;
    }
    return 0;
}

static int decode_contact(const cJSON *it, struct rv_contact *c)
{
    int st = 0, pr = RV_P_OFFLINE;
    int r = cJSON_IsObject(it) ? jsonv_members(it) : BANTER_ESCHEMA;
    if (!r)
        r = get_name(it, "user", c->name);
    if (!r)
        r = get_enum(it, "state", true, cstate_names, RV_CS_COUNT, &st);
    if (!r)
        r = get_enum(it, "status", false, presence_names, RV_P_INVISIBLE, &pr);
    if (!r)
        r = get_text(it, c->text);
    if (!r)
        r = get_devices(it, &c->ndev, c->dev);
    c->state = (rv_cstate)st;
    c->status = (rv_presence)pr;
    return r ? r : decode_profile(it, &c->p, true);
}

static int decode_contacts(const cJSON *o, struct rv_contacts *cs)
{
    int r = get_bool(o, "reset", false, &cs->reset);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "contacts"), *it;
    if (r || !cJSON_IsArray(a))
        return r ? r : BANTER_ESCHEMA;
    int count = cJSON_GetArraySize(a);
    if ((size_t)count > RV_CONTACTS_PER_MSG)
        return BANTER_ETOOLONG;
    cs->c = count ? calloc((size_t)count, sizeof *cs->c) : NULL;
    if (count && !cs->c)
        return BANTER_ENOMEM;
    cJSON_ArrayForEach (it, a) {
        r = decode_contact(it, &cs->c[cs->n++]);
        if (r)
            return r;
    }
    return 0;
}

static int decode_status(const cJSON *o, struct rv_status *st, bool presence)
{
    int p = 0;
    int r = presence ? get_name(o, "user", st->user) : 0;
    if (!r)
        r = get_enum(o, "status", true, presence_names, presence ? RV_P_INVISIBLE : RV_P_COUNT, &p);
    if (!r && !presence && p == RV_P_OFFLINE)
        r = BANTER_ESCHEMA;
    st->status = (rv_presence)p;
    if (!r)
        r = get_text(o, st->text);
    if (!r && !presence) {
        st->has_devices = cJSON_GetObjectItemCaseSensitive(o, "devices") != NULL;
        r = get_devices(o, &st->ndev, st->dev);
    }
    return r;
}

static int decode_stored(const cJSON *o, struct rv_stored *st, rv_type t)
{
    int r = jsonv_hex(o, "id", st->id, RV_ID_LEN);
    if (!r && t != RV_STORED) { /* RV_DELIVERED, RV_KEEP: from (RV_KEEP: always) */
        st->has_from = t == RV_KEEP || cJSON_GetObjectItemCaseSensitive(o, "from");
        if (st->has_from)
            r = jsonv_hex(o, "from", st->from, RV_KEY_LEN);
    }
    if (r || t != RV_STORED)
        return r;
    int d = 0;
    r = jsonv_hex(o, "device", st->device, RV_KEY_LEN);
    if (!r)
        r = get_enum(o, "state", true, fate_names, RV_STORED_COUNT, &d);
    st->fate = (rv_fate)d;
    if (r || st->fate != RV_STORED_REFUSED)
        return r;
    const char *e;
    size_t n;
    r = jsonv_str(o, "error", true, 1, BANTER_MAX_ERRCODE, &e, &n);
    if (!r && !jsonv_plain(e))
        r = BANTER_ESCHEMA;
    if (!r)
        jsonv_copy(st->error, e, n);
    return r;
}

static int decode_bto(const cJSON *o, struct rv_broadcast_to *b)
{
    const char *s;
    size_t n;
    int64_t v;
    int r = jsonv_str(o, "department", false, 0, 64, &s, &n);
    if (r)
        return r;
    if (s && !jsonv_plain(s))
        return BANTER_ESCHEMA;
    if (s)
        jsonv_copy(b->department, s, n);
    r = jsonv_int(o, "page", 0, RV_PAGE_MAX, &v);
    b->page = (uint32_t)v;
    return r;
}

static int decode_rcpt(const cJSON *o, struct rv_recipients *res)
{
    const cJSON *a, *it;
    void *items = NULL;
    int r =
        decode_page(o, &res->total, &res->page, RV_RCPT_PER_PAGE, sizeof *res->users, &items, &a);
    res->users = items;
    if (r)
        return r;
    cJSON_ArrayForEach (it, a) {
        struct rv_rcpt *u = &res->users[res->n++];
        r = cJSON_IsObject(it) ? jsonv_members(it) : BANTER_ESCHEMA;
        if (!r)
            r = get_name(it, "user", u->name);
        if (!r)
            r = get_devices(it, &u->ndev, u->dev);
        if (r)
            return r;
    }
    return 0;
}

/* A string member of at most max bytes of plain text (no control
 * characters) into out; "" when absent and not required. */
static int get_plain(const cJSON *o, const char *key, bool required, size_t min, size_t max,
                     char *out)
{
    const char *s;
    size_t n;
    int r = jsonv_str(o, key, required, min, max, &s, &n);
    if (r || !s)
        return r;
    if (!jsonv_plain(s))
        return BANTER_ESCHEMA;
    jsonv_copy(out, s, n);
    return 0;
}

static int get_urls(const cJSON *o, const char *key, const char *scheme, size_t *n,
                    char out[][RV_ICE_URL_MAX + 1])
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key), *it;
    if (!a)
        return 0;
    if (!cJSON_IsArray(a))
        return BANTER_ESCHEMA;
    if ((size_t)cJSON_GetArraySize(a) > RV_ICE_URLS_MAX)
        return BANTER_ETOOLONG;
    cJSON_ArrayForEach (it, a) {
        const char *s = cJSON_GetStringValue(it);
        size_t len = s ? strlen(s) : 0;
        if (!s || len > RV_ICE_URL_MAX || strncmp(s, scheme, strlen(scheme)) != 0 ||
            !jsonv_plain(s))
            return BANTER_ESCHEMA;
        jsonv_copy(out[(*n)++], s, len);
    }
    return 0;
}

static int decode_ice_servers(const cJSON *o, struct rv_ice_servers *v)
{
    int r = get_urls(o, "stun", "stun:", &v->nstun, v->stun);
    if (!r)
        r = get_urls(o, "turn", "turn:", &v->nturn, v->turn);
    if (!r)
        r = get_plain(o, "username", v->nturn > 0, 1, RV_ICE_CRED_MAX, v->username);
    if (!r)
        r = get_plain(o, "password", v->nturn > 0, 1, RV_ICE_CRED_MAX, v->password);
    if (!r && v->nturn)
        r = jsonv_int(o, "expires_ms", 0, JSONV_INT_MAX, &v->expires_ms);
    return r;
}

static int decode_ice(const cJSON *o, struct rv_ice *v, rv_type t)
{
    int r = get_name(o, "user", v->user);
    if (!r)
        r = jsonv_hex(o, "device", v->device, RV_KEY_LEN);
    if (!r)
        r = jsonv_hex(o, "session", v->session, RV_ICE_SESSION_LEN);
    if (r || t == RV_ICE_END)
        return r ? r : get_plain(o, "error", false, 1, BANTER_MAX_ERRCODE, v->error);
    r = get_plain(o, "ufrag", true, BANTER_ICE_MIN_UFRAG, BANTER_ICE_MAX_UFRAG, v->ufrag);
    if (!r)
        r = get_plain(o, "pwd", true, BANTER_ICE_MIN_PWD, BANTER_ICE_MAX_PWD, v->pwd);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "candidates"), *it;
    if (r || !cJSON_IsArray(a))
        return r ? r : BANTER_ESCHEMA;
    int count = cJSON_GetArraySize(a);
    if ((size_t)count > BANTER_ICE_MAX_CANDS)
        return BANTER_ETOOLONG;
    v->cand = count ? calloc((size_t)count, sizeof *v->cand) : NULL;
    if (count && !v->cand)
        return BANTER_ENOMEM;
    cJSON_ArrayForEach (it, a) {
        const char *s = cJSON_GetStringValue(it);
        size_t len = s ? strlen(s) : 0;
        if (!s || len < 1 || len > BANTER_ICE_MAX_LINE || !jsonv_plain(s))
            return BANTER_ESCHEMA;
        jsonv_copy(v->cand[v->ncand++], s, len);
    }
    return 0;
}

/* A numeric IPv4 or IPv6 address, as inet_pton reads it. */
static bool addr_valid(const char *s)
{
    unsigned char a[16];
    return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

static int decode_probe(const cJSON *o, struct rv_probe *p, bool result)
{
    int64_t v = 0;
    int res = 0;
    int r = jsonv_int(o, "port", 1, 65535, &v);
    p->port = (uint16_t)v;
    if (r || !result)
        return r;
    r = get_enum(o, "result", true, probe_names, RV_PR_COUNT, &res);
    p->result = (rv_probe_res)res;
    if (!r)
        r = get_plain(o, "address", false, 1, RV_ADDR_MAX, p->address);
    if (!r && p->address[0] && !addr_valid(p->address))
        r = BANTER_ESCHEMA;
    if (!r)
        r = jsonv_int(o, "ms", 0, RV_PROBE_MS_MAX, &p->ms);
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
        r = decode_profile(o, &m->u.profile, false);
        break;
    case RV_SEARCH:
        r = decode_search(o, &m->u.search);
        break;
    case RV_SEARCH_RESULT:
        r = decode_result(o, &m->u.result);
        break;
    case RV_CONTACT: {
        int op = 0;
        r = get_enum(o, "op", true, op_names, RV_OP_COUNT, &op);
        m->u.contact.op = (rv_op)op;
        if (!r)
            r = get_name(o, "user", m->u.contact.user);
        break;
    }
    case RV_CONTACTS:
        r = decode_contacts(o, &m->u.contacts);
        break;
    case RV_STATUS:
    case RV_PRESENCE:
        r = decode_status(o, &m->u.status, m->type == RV_PRESENCE);
        break;
    case RV_STORED:
    case RV_DELIVERED:
    case RV_KEEP:
        r = decode_stored(o, &m->u.stored, m->type);
        break;
    case RV_BROADCAST_TO:
        r = decode_bto(o, &m->u.bto);
        break;
    case RV_ICE_SERVERS:
        r = decode_ice_servers(o, &m->u.ice_servers);
        break;
    case RV_ICE_OFFER:
    case RV_ICE_ANSWER:
    case RV_ICE_END:
        r = decode_ice(o, &m->u.ice, m->type);
        break;
    case RV_PROBE:
    case RV_PROBE_RESULT:
        r = decode_probe(o, &m->u.probe, m->type == RV_PROBE_RESULT);
        break;
    default: /* RV_RECIPIENTS */
        r = decode_rcpt(o, &m->u.rcpt);
        break;
    }
    cJSON_Delete(o);
    return r;
}

static uint64_t load_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static void store_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* The flags an RV_SEALED (sealed) or RV_SEAL may carry: only the server
 * says a sender is gone. */
static unsigned seal_flags(bool sealed)
{
    return sealed ? RV_SEAL_BROADCAST | RV_SEAL_SENDER_GONE : RV_SEAL_BROADCAST;
}

/* RV_SEAL / RV_SEALED (layout in rvmsg.h). */
static int decode_seal(struct rv_seal *s, bool sealed, const uint8_t *p, size_t len)
{
    size_t head = RV_ID_LEN + 1 + (sealed ? 8u : 0u) + 1;
    if (len < head)
        return BANTER_ETRUNCATED;
    memcpy(s->id, p, RV_ID_LEN);
    s->flags = p[RV_ID_LEN];
    if (s->flags & ~seal_flags(sealed))
        return BANTER_ESCHEMA;
    if (sealed) {
        uint64_t t = load_be64(p + RV_ID_LEN + 1);
        if (t > (uint64_t)JSONV_INT_MAX)
            return BANTER_ESCHEMA;
        s->created_ms = (int64_t)t;
    }
    size_t nlen = p[head - 1];
    if (nlen < 1 || nlen > BANTER_MAX_NAME)
        return BANTER_ESCHEMA;
    if (len < head + nlen + RV_KEY_LEN + 1)
        return BANTER_ETRUNCATED;
    memcpy(s->user, p + head, nlen);
    s->user[nlen] = 0;
    if (!cert_name_valid(s->user))
        return BANTER_ESCHEMA;
    memcpy(s->device, p + head + nlen, RV_KEY_LEN);
    s->sealed = p + head + nlen + RV_KEY_LEN;
    s->sealed_len = len - (head + nlen + RV_KEY_LEN);
    return 0;
}

int rvmsg_decode(rvmsg *m, const uint8_t *pt, size_t len)
{
    memset(m, 0, sizeof *m);
    if (len < 1)
        return BANTER_ETRUNCATED;
    if (!rvmsg_owns(pt[0]))
        return BANTER_EBADTYPE;
    m->type = (rv_type)pt[0];
    int r;
    if (m->type == RV_CERT)
        r = cert_decode(&m->u.cert, pt + 1, len - 1);
    else if (m->type == RV_SEAL || m->type == RV_SEALED)
        r = decode_seal(&m->u.seal, m->type == RV_SEALED, pt + 1, len - 1);
    else
        r = decode_json(m, (const char *)pt + 1, len - 1);
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
    if (m->type == RV_CONTACTS && m->u.contacts.c) {
        for (size_t i = 0; i < m->u.contacts.n; i++)
            profile_free(&m->u.contacts.c[i].p);
        free(m->u.contacts.c);
    }
    if (m->type == RV_RECIPIENTS)
        free(m->u.rcpt.users);
    if (m->type == RV_ICE_OFFER || m->type == RV_ICE_ANSWER)
        free(m->u.ice.cand);
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
        int r = rv_field_check((rv_field)i, p->f[i]);
        if (r)
            return r;
        if (!cJSON_AddStringToObject(o, fields[i].name, p->f[i]))
            return BANTER_ENOMEM;
    }
    return 0;
}

static int build_search(const struct rv_search *q, cJSON *o)
{
    if (q->n < 1 || q->n > RV_SEARCH_MAX || q->per_page < 1 || q->per_page > RV_PER_PAGE_MAX ||
        q->page > RV_PAGE_MAX)
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

static cJSON *add_object(cJSON *array)
{
    cJSON *o = cJSON_CreateObject();
    if (o && !cJSON_AddItemToArray(array, o)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* "total", "page" and an empty "users" array (*a) for n of at most max. */
static int build_page(cJSON *o, uint64_t total, uint32_t page, size_t n, size_t max, cJSON **a)
{
    if (n > max || total > (uint64_t)JSONV_INT_MAX || page > RV_PAGE_MAX)
        return BANTER_ESCHEMA;
    int r = jsonv_add_int(o, "total", (int64_t)total);
    if (!r)
        r = jsonv_add_int(o, "page", page);
    *a = r ? NULL : cJSON_AddArrayToObject(o, "users");
    return r ? r : *a ? 0 : BANTER_ENOMEM;
}

static int build_result(const struct rv_search_result *res, cJSON *o)
{
    cJSON *a;
    int r = build_page(o, res->total, res->page, res->n, RV_PER_PAGE_MAX, &a);
    for (size_t i = 0; i < res->n && r == 0; i++) {
        cJSON *u = add_object(a);
        r = u ? add_name(u, "user", res->users[i].name) : BANTER_ENOMEM;
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
    if (a->retry_after_ms > RV_RETRY_MAX_MS)
        return BANTER_ESCHEMA;
    return jsonv_add_int(o, "retry_after_ms", a->retry_after_ms);
}

static int add_devices(cJSON *o, size_t n, const uint8_t dev[][RV_KEY_LEN])
{
    if (n > RV_DEVICES_MAX)
        return BANTER_ESCHEMA;
    if (!n)
        return 0;
    cJSON *a = cJSON_AddArrayToObject(o, "devices");
    if (!a)
        return BANTER_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int r = jsonv_add_hex(a, NULL, dev[i], RV_KEY_LEN);
        if (r)
            return r;
    }
    return 0;
}

static int build_contact(const struct rv_contact *c, cJSON *o)
{
    if (c->state >= RV_CS_COUNT || c->status >= RV_P_INVISIBLE)
        return BANTER_ESCHEMA;
    int r = add_name(o, "user", c->name);
    if (!r && !cJSON_AddStringToObject(o, "state", cstate_names[c->state]))
        r = BANTER_ENOMEM;
    if (!r && c->state == RV_CS_APPROVED &&
        !cJSON_AddStringToObject(o, "status", presence_names[c->status]))
        r = BANTER_ENOMEM;
    if (!r && c->text[0])
        r = add_text(o, "text", c->text, 0, RV_TEXT_MAX, true);
    if (!r)
        r = add_devices(o, c->ndev, c->dev);
    return r ? r : build_profile(&c->p, o);
}

static int build_contacts(const struct rv_contacts *cs, cJSON *o)
{
    if (cs->n > RV_CONTACTS_PER_MSG)
        return BANTER_ESCHEMA;
    if (cs->reset && !cJSON_AddTrueToObject(o, "reset"))
        return BANTER_ENOMEM;
    cJSON *a = cJSON_AddArrayToObject(o, "contacts");
    if (!a)
        return BANTER_ENOMEM;
    for (size_t i = 0; i < cs->n; i++) {
        cJSON *c = add_object(a);
        int r = c ? build_contact(&cs->c[i], c) : BANTER_ENOMEM;
        if (r)
            return r;
    }
    return 0;
}

static int build_status(const struct rv_status *st, cJSON *o, bool presence)
{
    if (st->status >= (presence ? RV_P_INVISIBLE : RV_P_COUNT) ||
        (!presence && st->status == RV_P_OFFLINE))
        return BANTER_ESCHEMA;
    int r = presence ? add_name(o, "user", st->user) : 0;
    if (!r && !cJSON_AddStringToObject(o, "status", presence_names[st->status]))
        r = BANTER_ENOMEM;
    if (!r && st->text[0])
        r = add_text(o, "text", st->text, 0, RV_TEXT_MAX, true);
    if (!r && !presence && st->has_devices) {
        if (!st->ndev && !cJSON_AddArrayToObject(o, "devices"))
            r = BANTER_ENOMEM;
        else
            r = add_devices(o, st->ndev, st->dev);
    }
    return r;
}

static int build_stored(const struct rv_stored *st, cJSON *o, rv_type t)
{
    int r = jsonv_add_hex(o, "id", st->id, RV_ID_LEN);
    if (!r && t != RV_STORED && (t == RV_KEEP || st->has_from))
        r = jsonv_add_hex(o, "from", st->from, RV_KEY_LEN);
    if (r || t != RV_STORED)
        return r;
    if (st->fate >= RV_STORED_COUNT)
        return BANTER_ESCHEMA;
    r = jsonv_add_hex(o, "device", st->device, RV_KEY_LEN);
    if (!r && !cJSON_AddStringToObject(o, "state", fate_names[st->fate]))
        r = BANTER_ENOMEM;
    if (!r && st->fate == RV_STORED_REFUSED)
        r = add_text(o, "error", st->error, 1, BANTER_MAX_ERRCODE, true);
    return r;
}

static int build_bto(const struct rv_broadcast_to *b, cJSON *o)
{
    int r = b->page > RV_PAGE_MAX ? BANTER_ESCHEMA : 0;
    if (!r && b->department[0])
        r = add_text(o, "department", b->department, 0, 64, true);
    return r ? r : jsonv_add_int(o, "page", b->page);
}

static int build_rcpt(const struct rv_recipients *res, cJSON *o)
{
    cJSON *a;
    int r = build_page(o, res->total, res->page, res->n, RV_RCPT_PER_PAGE, &a);
    for (size_t i = 0; i < res->n && r == 0; i++) {
        cJSON *u = add_object(a);
        r = u ? add_name(u, "user", res->users[i].name) : BANTER_ENOMEM;
        if (!r)
            r = add_devices(u, res->users[i].ndev, res->users[i].dev);
    }
    return r;
}

static int add_urls(cJSON *o, const char *key, const char *scheme, size_t n,
                    const char urls[][RV_ICE_URL_MAX + 1])
{
    if (n > RV_ICE_URLS_MAX)
        return BANTER_ESCHEMA;
    if (!n)
        return 0;
    cJSON *a = cJSON_AddArrayToObject(o, key);
    if (!a)
        return BANTER_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        cJSON *s = NULL;
        if (strncmp(urls[i], scheme, strlen(scheme)) != 0 ||
            jsonv_check_text(urls[i], strlen(urls[i]), 1, RV_ICE_URL_MAX, true) != 0)
            return BANTER_ESCHEMA;
        s = cJSON_CreateString(urls[i]);
        if (!s || !cJSON_AddItemToArray(a, s)) {
            cJSON_Delete(s);
            return BANTER_ENOMEM;
        }
    }
    return 0;
}

static int build_ice_servers(const struct rv_ice_servers *v, cJSON *o)
{
    int r = add_urls(o, "stun", "stun:", v->nstun, v->stun);
    if (!r)
        r = add_urls(o, "turn", "turn:", v->nturn, v->turn);
    if (r || !v->nturn)
        return r;
    r = add_text(o, "username", v->username, 1, RV_ICE_CRED_MAX, true);
    if (!r)
        r = add_text(o, "password", v->password, 1, RV_ICE_CRED_MAX, true);
    if (!r && (v->expires_ms < 0 || v->expires_ms > JSONV_INT_MAX))
        r = BANTER_ESCHEMA;
    return r ? r : jsonv_add_int(o, "expires_ms", v->expires_ms);
}

static int build_ice(const struct rv_ice *v, cJSON *o, rv_type t)
{
    int r = add_name(o, "user", v->user);
    if (!r)
        r = jsonv_add_hex(o, "device", v->device, RV_KEY_LEN);
    if (!r)
        r = jsonv_add_hex(o, "session", v->session, RV_ICE_SESSION_LEN);
    if (r || t == RV_ICE_END)
        return r || !v->error[0] ? r : add_text(o, "error", v->error, 1, BANTER_MAX_ERRCODE, true);
    r = add_text(o, "ufrag", v->ufrag, BANTER_ICE_MIN_UFRAG, BANTER_ICE_MAX_UFRAG, true);
    if (!r)
        r = add_text(o, "pwd", v->pwd, BANTER_ICE_MIN_PWD, BANTER_ICE_MAX_PWD, true);
    if (!r && v->ncand > BANTER_ICE_MAX_CANDS)
        r = BANTER_ESCHEMA;
    cJSON *a = r ? NULL : cJSON_AddArrayToObject(o, "candidates");
    if (!r && !a)
        r = BANTER_ENOMEM;
    for (size_t i = 0; i < v->ncand && !r; i++) {
        cJSON *s = NULL;
        r = jsonv_check_text(v->cand[i], strlen(v->cand[i]), 1, BANTER_ICE_MAX_LINE, true);
        if (!r && (!(s = cJSON_CreateString(v->cand[i])) || !cJSON_AddItemToArray(a, s))) {
            cJSON_Delete(s);
            r = BANTER_ENOMEM;
        }
    }
    return r;
}

static int build_probe(const struct rv_probe *p, cJSON *o, bool result)
{
    if (p->port < 1)
        return BANTER_ESCHEMA;
    int r = jsonv_add_int(o, "port", p->port);
    if (r || !result)
        return r;
    if (p->result >= RV_PR_COUNT || p->ms < 0 || p->ms > RV_PROBE_MS_MAX ||
        (p->address[0] && !addr_valid(p->address)))
        return BANTER_ESCHEMA;
    if (!cJSON_AddStringToObject(o, "result", probe_names[p->result]))
        return BANTER_ENOMEM;
    if (p->address[0])
        r = add_text(o, "address", p->address, 1, RV_ADDR_MAX, true);
    return r ? r : jsonv_add_int(o, "ms", p->ms);
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
    case RV_SEARCH_RESULT:
        return build_result(&m->u.result, o);
    case RV_CONTACT:
        if (m->u.contact.op >= RV_OP_COUNT)
            return BANTER_ESCHEMA;
        if (!cJSON_AddStringToObject(o, "op", op_names[m->u.contact.op]))
            return BANTER_ENOMEM;
        return add_name(o, "user", m->u.contact.user);
    case RV_CONTACTS:
        return build_contacts(&m->u.contacts, o);
    case RV_STATUS:
    case RV_PRESENCE:
        return build_status(&m->u.status, o, m->type == RV_PRESENCE);
    case RV_STORED:
    case RV_DELIVERED:
    case RV_KEEP:
        return build_stored(&m->u.stored, o, m->type);
    case RV_BROADCAST_TO:
        return build_bto(&m->u.bto, o);
    case RV_ICE_SERVERS:
        return build_ice_servers(&m->u.ice_servers, o);
    case RV_ICE_OFFER:
    case RV_ICE_ANSWER:
    case RV_ICE_END:
        return build_ice(&m->u.ice, o, m->type);
    case RV_PROBE:
    case RV_PROBE_RESULT:
        return build_probe(&m->u.probe, o, m->type == RV_PROBE_RESULT);
    default: /* RV_RECIPIENTS */
        return build_rcpt(&m->u.rcpt, o);
    }
}

static int encode_seal(const struct rv_seal *s, bool sealed, uint8_t type, buf *out)
{
    size_t nlen = strlen(s->user);
    if (!cert_name_valid(s->user) || (s->flags & ~seal_flags(sealed)) || !s->sealed_len ||
        (sealed && (s->created_ms < 0 || s->created_ms > JSONV_INT_MAX)))
        return BANTER_ESCHEMA;
    size_t total = 1 + RV_ID_LEN + 1 + (sealed ? 8u : 0u) + 1 + nlen + RV_KEY_LEN + s->sealed_len;
    if (total > BANTER_MAX_PLAINTEXT)
        return BANTER_ETOOBIG;
    uint8_t *p;
    int r = buf_reserve(out, total, &p);
    if (r)
        return r;
    *p++ = type;
    memcpy(p, s->id, RV_ID_LEN);
    p += RV_ID_LEN;
    *p++ = s->flags;
    if (sealed) {
        store_be64(p, (uint64_t)s->created_ms);
        p += 8;
    }
    *p++ = (uint8_t)nlen;
    memcpy(p, s->user, nlen);
    memcpy(p + nlen, s->device, RV_KEY_LEN);
    memcpy(p + nlen + RV_KEY_LEN, s->sealed, s->sealed_len);
    buf_commit(out, total);
    return 0;
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
    if (m->type == RV_SEAL || m->type == RV_SEALED)
        return encode_seal(&m->u.seal, m->type == RV_SEALED, (uint8_t)m->type, out);
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return BANTER_ENOMEM;
    int r = build_json(m, o);
    if (r == 0)
        r = jsonv_write(o, (uint8_t)m->type, out);
    cJSON_Delete(o);
    return r;
}
