/* SPDX-License-Identifier: MIT */
/* gstate.c - group membership; see gstate.h. */
#include "gstate.h"

#include <stdio.h>
#include <string.h>

#include "bcrypto.h"
#include "cert.h"
#include "jsonv.h"

static void say(char *why, size_t whylen, const char *text)
{
    if (why && whylen)
        snprintf(why, whylen, "%s", text);
}

bool gstate_member_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > GSTATE_MEMBER_MAX)
        return false;
    if (s[0] == '@')
        return n - 1 <= BANTER_MAX_NAME && cert_name_valid(s + 1);
    if (n != 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

const gstate_member *gstate_find(const gstate *st, const char *id)
{
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->m[i].id, id) == 0)
            return &st->m[i];
    return NULL;
}

/* The rules every state obeys alone (gstate_check adds the transition's). */
static int well_formed(const gstate *st)
{
    size_t admins = 0;
    if (st->v == 0 || st->v > (uint64_t)JSONV_INT_MAX || st->n == 0 || st->n > GSTATE_MAX_MEMBERS ||
        !gstate_member_valid(st->creator) || !gstate_member_valid(st->by) ||
        jsonv_check_text(st->name, strlen(st->name), 1, BANTER_MAX_NAME, true) != 0)
        return BANTER_ESCHEMA;
    for (size_t i = 0; i < st->n; i++) {
        if (!gstate_member_valid(st->m[i].id))
            return BANTER_ESCHEMA;
        if (i > 0 && strcmp(st->m[i - 1].id, st->m[i].id) >= 0)
            return BANTER_ESCHEMA; /* out of order, or twice */
        admins += st->m[i].admin;
    }
    const gstate_member *c = gstate_find(st, st->creator);
    if (admins == 0 || (c && !c->admin))
        return BANTER_ESCHEMA;
    return 0;
}

static int add_members(cJSON *o, const gstate *st)
{
    cJSON *arr = cJSON_AddArrayToObject(o, "members");
    if (!arr)
        return BANTER_ENOMEM;
    for (size_t i = 0; i < st->n; i++) {
        cJSON *it = cJSON_CreateObject();
        if (!it || !cJSON_AddItemToArray(arr, it)) {
            cJSON_Delete(it);
            return BANTER_ENOMEM;
        }
        if (!cJSON_AddStringToObject(it, "id", st->m[i].id) ||
            (st->m[i].admin && !cJSON_AddTrueToObject(it, "admin")))
            return BANTER_ENOMEM;
    }
    return 0;
}

int gstate_encode(const gstate *st, buf *out)
{
    int r = well_formed(st);
    if (r)
        return r;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return BANTER_ENOMEM;
    r = jsonv_add_hex(o, "group", st->group, GSTATE_ID_LEN);
    if (!r)
        r = jsonv_add_int(o, "v", (int64_t)st->v);
    if (!r && (!cJSON_AddStringToObject(o, "name", st->name) ||
               !cJSON_AddStringToObject(o, "creator", st->creator) ||
               !cJSON_AddStringToObject(o, "by", st->by)))
        r = BANTER_ENOMEM;
    if (!r)
        r = add_members(o, st);
    if (!r)
        r = jsonv_print(o, BANTER_MAX_JSON, out);
    cJSON_Delete(o);
    return r;
}

static int get_id(const cJSON *o, const char *key, char out[static GSTATE_MEMBER_MAX + 1])
{
    const char *s;
    size_t n;
    int r = jsonv_str(o, key, true, 1, GSTATE_MEMBER_MAX, &s, &n);
    if (r)
        return r;
    jsonv_copy(out, s, n);
    return gstate_member_valid(out) ? 0 : BANTER_ESCHEMA;
}

static int get_members(gstate *st, const cJSON *o)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "members");
    const cJSON *it;
    if (!cJSON_IsArray(arr))
        return BANTER_ESCHEMA;
    st->n = 0;
    cJSON_ArrayForEach (it, arr) {
        if (st->n == GSTATE_MAX_MEMBERS || !cJSON_IsObject(it))
            return BANTER_ESCHEMA;
        int r = jsonv_members(it);
        if (!r)
            r = get_id(it, "id", st->m[st->n].id);
        if (r)
            return r;
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(it, "admin");
        if (a && !cJSON_IsTrue(a)) /* present only when true: one encoding */
            return BANTER_ESCHEMA;
        st->m[st->n].admin = a != NULL;
        if (cJSON_GetArraySize(it) != (a ? 2 : 1))
            return BANTER_ESCHEMA;
        st->n++;
    }
    return 0;
}

int gstate_decode(gstate *st, const char *json, size_t len)
{
    cJSON *o = NULL;
    int64_t v = 0;
    const char *name;
    size_t nlen;
    memset(st, 0, sizeof *st);
    int r = jsonv_parse(json, len, &o);
    if (r)
        return r;
    r = jsonv_hex(o, "group", st->group, GSTATE_ID_LEN);
    if (!r)
        r = jsonv_int(o, "v", 1, JSONV_INT_MAX, &v);
    if (!r)
        r = jsonv_str(o, "name", true, 1, BANTER_MAX_NAME, &name, &nlen);
    if (!r) {
        jsonv_copy(st->name, name, nlen);
        r = get_id(o, "creator", st->creator);
    }
    if (!r)
        r = get_id(o, "by", st->by);
    if (!r)
        r = get_members(st, o);
    if (!r && cJSON_GetArraySize(o) != 6)
        r = BANTER_ESCHEMA; /* a member this version does not know */
    cJSON_Delete(o);
    st->v = (uint64_t)v;
    if (!r)
        r = well_formed(st);
    return r;
}

/* What a non-admin author may do: remove itself and nothing else. */
static int check_leave(const gstate *prev, const gstate *next, char *why, size_t whylen)
{
    if (gstate_find(next, next->by) || next->n + 1 != prev->n ||
        strcmp(prev->name, next->name) != 0) {
        say(why, whylen, "only an admin may change the group");
        return BANTER_EPERM;
    }
    for (size_t i = 0; i < next->n; i++) {
        const gstate_member *p = gstate_find(prev, next->m[i].id);
        if (!p || p->admin != next->m[i].admin) {
            say(why, whylen, "only an admin may change the group");
            return BANTER_EPERM;
        }
    }
    return 0;
}

/* An admin's change: anything but touching the creator. */
static int check_admin(const gstate *prev, const gstate *next, char *why, size_t whylen)
{
    const gstate_member *was = gstate_find(prev, prev->creator);
    const gstate_member *is = gstate_find(next, next->creator);
    bool by_creator = strcmp(next->by, next->creator) == 0;
    if (was && !is && !by_creator) {
        say(why, whylen, "only the creator removes the creator");
        return BANTER_EPERM;
    }
    if (!gstate_find(next, next->by)) {
        /* An admin who leaves: that alone. */
        return check_leave(prev, next, why, whylen);
    }
    return 0;
}

int gstate_check(const gstate *prev, const gstate *next, char *why, size_t whylen)
{
    int r = well_formed(next);
    if (r) {
        say(why, whylen, "malformed state");
        return r;
    }
    if (!prev) {
        const gstate_member *c = gstate_find(next, next->creator);
        if (next->v != 1 || strcmp(next->by, next->creator) != 0 || !c) {
            say(why, whylen, "a group is created by its creator, at version 1");
            return BANTER_EPERM;
        }
        return 0;
    }
    if (memcmp(prev->group, next->group, GSTATE_ID_LEN) != 0 || next->v != prev->v + 1 ||
        strcmp(prev->creator, next->creator) != 0) {
        say(why, whylen, "not the next version of this group");
        return BANTER_ESTATE;
    }
    const gstate_member *author = gstate_find(prev, next->by);
    if (!author) {
        say(why, whylen, "the author is not a member");
        return BANTER_EPERM;
    }
    return author->admin ? check_admin(prev, next, why, whylen)
                         : check_leave(prev, next, why, whylen);
}

static void digest(const gstate *st, uint8_t out[static BCRYPTO_HASHLEN])
{
    buf b;
    buf_init(&b, BANTER_MAX_JSON);
    if (gstate_encode(st, &b) == 0)
        bcrypto_hash2(out, buf_data(&b), buf_len(&b), NULL, 0);
    else
        memset(out, 0, BCRYPTO_HASHLEN);
    buf_free(&b);
}

int gstate_order(const gstate *a, const gstate *b)
{
    uint8_t da[BCRYPTO_HASHLEN], db[BCRYPTO_HASHLEN];
    digest(a, da);
    digest(b, db);
    return memcmp(da, db, sizeof da);
}

/* Whether s removes or demotes member id (a member of base). */
static bool strikes(const gstate *base, const gstate *s, const char *id)
{
    const gstate_member *was = gstate_find(base, id);
    const gstate_member *is = gstate_find(s, id);
    return was && (!is || (was->admin && !is->admin));
}

/* The rank of st's author in a conflict at st's version: a hash of
 * what no author of a competing state chooses. */
static void author_rank(const gstate *st, uint8_t out[static BCRYPTO_HASHLEN])
{
    static const char label[] = "banter-group-tie";
    uint8_t head[sizeof label - 1 + GSTATE_ID_LEN + 8];
    memcpy(head, label, sizeof label - 1);
    memcpy(head + sizeof label - 1, st->group, GSTATE_ID_LEN);
    for (int i = 0; i < 8; i++)
        head[sizeof label - 1 + GSTATE_ID_LEN + (size_t)i] = (uint8_t)(st->v >> (56 - 8 * i));
    bcrypto_hash2(out, head, sizeof head, (const uint8_t *)st->by, strlen(st->by));
}

int gstate_conflict(const gstate *base, const gstate *a, const gstate *b)
{
    bool sa = strikes(base, a, b->by), sb = strikes(base, b, a->by);
    if (sa != sb)
        return sa ? 1 : -1;
    if (strcmp(a->by, b->by) != 0) {
        uint8_t ra[BCRYPTO_HASHLEN], rb[BCRYPTO_HASHLEN];
        author_rank(a, ra);
        author_rank(b, rb);
        return memcmp(ra, rb, sizeof ra);
    }
    return gstate_order(a, b);
}

int gview_init(gview *g, const gstate *created, char *why, size_t whylen)
{
    int r = gstate_check(NULL, created, why, whylen);
    if (r)
        return r;
    memset(g, 0, sizeof *g);
    g->cur = *created;
    return 0;
}

static bool same(const gstate *a, const gstate *b) { return gstate_order(a, b) == 0; }

/* Hold st (ahead) when its author is a member now: anyone else's states
 * would crowd out the real ones. */
static gview_result keep_pending(gview *g, const gstate *st)
{
    if (!gstate_find(&g->cur, st->by))
        return GVIEW_DEFERRED;
    for (size_t i = 0; i < g->npending; i++)
        if (same(&g->pending[i], st))
            return GVIEW_PENDING;
    if (g->npending == GSTATE_MAX_PENDING) {
        /* Keep the nearest versions: drop the farthest. */
        size_t far = 0;
        for (size_t i = 1; i < g->npending; i++)
            if (g->pending[i].v > g->pending[far].v)
                far = i;
        if (g->pending[far].v <= st->v)
            return GVIEW_DEFERRED;
        g->pending[far] = *st;
        return GVIEW_PENDING;
    }
    g->pending[g->npending++] = *st;
    return GVIEW_PENDING;
}

/* A state at most one version ahead: the next one, or a concurrent one
 * of the current version (gstate_conflict picks the winner), or an old
 * one. */
static int take(gview *g, const gstate *st, gview_result *res, char *why, size_t whylen)
{
    int r;
    if (st->v == g->cur.v + 1) {
        r = gstate_check(&g->cur, st, why, whylen);
        if (r)
            return r;
        g->base = g->cur;
        g->has_base = true;
        g->cur = *st;
        *res = GVIEW_APPLIED;
        return 0;
    }
    if (st->v == g->cur.v && g->has_base && !same(st, &g->cur)) {
        r = gstate_check(&g->base, st, why, whylen);
        if (r)
            return r;
        if (gstate_conflict(&g->base, st, &g->cur) > 0) {
            g->cur = *st;
            *res = GVIEW_APPLIED;
        }
    }
    return 0; /* known, or older than what is applied */
}

/* Take the waiting states that are no longer ahead, lowest version first,
 * until none is; those refused are dropped. */
static void drain(gview *g, gview_result *res)
{
    for (;;) {
        size_t best = g->npending;
        for (size_t i = 0; i < g->npending; i++)
            if (g->pending[i].v <= g->cur.v + 1 &&
                (best == g->npending || g->pending[i].v < g->pending[best].v))
                best = i;
        if (best == g->npending)
            return;
        gstate st = g->pending[best];
        g->pending[best] = g->pending[--g->npending];
        (void)take(g, &st, res, NULL, 0);
    }
}

int gview_receive(gview *g, const gstate *st, gview_result *res, char *why, size_t whylen)
{
    *res = GVIEW_IGNORED;
    if (memcmp(st->group, g->cur.group, GSTATE_ID_LEN) != 0) {
        say(why, whylen, "another group");
        return BANTER_ESTATE;
    }
    int r = well_formed(st);
    if (r) {
        say(why, whylen, "malformed state");
        return r;
    }
    if (st->v > g->cur.v + GSTATE_MAX_JUMP) {
        say(why, whylen, "too many versions ahead");
        return BANTER_EPERM;
    }
    if (st->v > g->cur.v + 1) {
        *res = keep_pending(g, st);
        return 0;
    }
    r = take(g, st, res, why, whylen);
    if (r)
        return r;
    drain(g, res);
    return 0;
}

int gstate_pos_cmp(const gstate_pos *a, const gstate_pos *b)
{
    if (a->lc != b->lc)
        return a->lc < b->lc ? -1 : 1;
    int d = memcmp(a->device, b->device, sizeof a->device);
    if (d)
        return d < 0 ? -1 : 1;
    if (a->epoch != b->epoch)
        return a->epoch < b->epoch ? -1 : 1;
    if (a->iteration != b->iteration)
        return a->iteration < b->iteration ? -1 : 1;
    return 0;
}
