/* SPDX-License-Identifier: MIT */
/* groups.c - group conversations in the node (see groups.h). */
#include "core/groups.h"

#include <glib.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gkey.h"
#include "tbucket.h"
#include "utf8.h"

_Static_assert(STORE_GCHAIN_MAX >= GKEY_SAVE_MAX, "a saved chain fits the store's column");
_Static_assert(STORE_GROUP_IDLEN == GSTATE_ID_LEN && GKEY_GROUP_LEN == GSTATE_ID_LEN,
               "one group id");

struct groups {
    store *st;
    contacts *cs;
    messenger *mr;
    node_clock clock;
    banter_rng rng;
    uint8_t own[32];
    groups_callbacks cb;
    void *ud;
    GHashTable *views;   /* group id (GBytes) -> gview*: a cache (GROUPS_VIEWS_MAX) */
    GHashTable *invites; /* device key (GBytes) -> tbucket*: its new groups (one every
                            GROUPS_INVITE_EVERY_MS) */
    int64_t refused;     /* invitations refused at GROUPS_MAX since groups_new */
    int64_t refused_ms;  /* the last one (wall clock) */
};

/* Devices whose invitation buckets are kept before the full ones (nothing
 * invited lately) are forgotten. */
#define INVITES_PRUNE 256

static void say(char *why, size_t cap, const char *text)
{
    if (why && cap)
        g_strlcpy(why, text, cap);
}

int groups_new(groups **out, store *st, contacts *cs, messenger *mr, const node_clock *clock,
               banter_rng rng, const uint8_t own[static 32], const groups_callbacks *cb, void *ud)
{
    groups *g = g_new0(groups, 1);
    g->st = st;
    g->cs = cs;
    g->mr = mr;
    g->clock = *clock;
    g->rng = rng;
    memcpy(g->own, own, 32);
    if (cb)
        g->cb = *cb;
    g->ud = ud;
    g->views =
        g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref, g_free);
    g->invites =
        g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref, g_free);
    *out = g;
    return 0;
}

void groups_free(groups *g)
{
    if (!g)
        return;
    g_hash_table_destroy(g->views);
    g_hash_table_destroy(g->invites);
    g_free(g);
}

/* ---- member ids and their devices ---- */

/* "@" and account (at most BANTER_MAX_NAME bytes) into out. */
static void account_id(char out[static GSTATE_MEMBER_MAX + 1], const char *account)
{
    out[0] = '@';
    g_strlcpy(out + 1, account, GSTATE_MEMBER_MAX);
}

void groups_me(groups *g, char *out)
{
    store_contact self;
    if (contacts_self_known(g->cs) && contacts_self(g->cs, &self) == 0) {
        account_id(out, self.account);
        return;
    }
    sodium_bin2hex(out, GSTATE_MEMBER_MAX + 1, g->own, 32);
}

/* The member id device d speaks for; BANTER_EPERM when it speaks for none
 * (unknown, or not trusted: a changed key gets nothing and says nothing). */
static int member_of(groups *g, const uint8_t dev[static 32],
                     char out[static GSTATE_MEMBER_MAX + 1])
{
    store_device d;
    store_contact c;
    if (store_device_get(g->st, dev, &d) != 0 ||
        !contacts_device_trusted(&d, clock_wall(&g->clock)) ||
        store_contact_get(g->st, d.contact, &c) != 0)
        return BANTER_EPERM;
    if (c.kind == CONTACT_ORG)
        account_id(out, c.account);
    else
        sodium_bin2hex(out, GSTATE_MEMBER_MAX + 1, dev, 32);
    return 0;
}

/* Append the trusted devices of member id (never this device) to devs. */
static void devices_of(groups *g, const char *id, GArray *devs)
{
    store_contact c;
    store_device one, *list = NULL;
    size_t n = 0;
    if (id[0] == '@') {
        if (store_contact_by_account(g->st, id + 1, &c) == 0 &&
            store_device_list(g->st, c.key, &list, &n) == 0)
            for (size_t i = 0; i < n; i++)
                if (contacts_device_trusted(&list[i], clock_wall(&g->clock)) &&
                    memcmp(list[i].key, g->own, 32) != 0)
                    g_array_append_vals(devs, list[i].key, 1);
        free(list);
        return;
    }
    uint8_t key[32];
    size_t kn = 0;
    if (sodium_hex2bin(key, 32, id, strlen(id), NULL, &kn, NULL) == 0 && kn == 32 &&
        store_device_get(g->st, key, &one) == 0 &&
        contacts_device_trusted(&one, clock_wall(&g->clock)) && memcmp(one.key, g->own, 32) != 0)
        g_array_append_vals(devs, one.key, 1);
}

/* Every device of every member of st (and of the members in extra). */
static GArray *devices_of_state(groups *g, const gstate *st, const gstate *extra)
{
    GArray *devs = g_array_new(FALSE, FALSE, 32);
    for (size_t i = 0; i < st->n; i++)
        devices_of(g, st->m[i].id, devs);
    for (size_t i = 0; extra && i < extra->n; i++)
        if (!gstate_find(st, extra->m[i].id))
            devices_of(g, extra->m[i].id, devs);
    return devs;
}

int groups_member_id(groups *g, const char *query, char *out, char *why, size_t cap)
{
    uint8_t key[32], dev[32];
    bool has_dev = false;
    store_contact c;
    store_device *list = NULL;
    size_t n = 0;
    if (gstate_member_valid(query)) {
        g_strlcpy(out, query, GSTATE_MEMBER_MAX + 1);
        return 0;
    }
    int r = contacts_resolve(g->cs, query, key, dev, &has_dev, why, cap);
    if (r)
        return r;
    if ((r = store_contact_get(g->st, key, &c)) != 0)
        return r;
    if (c.kind == CONTACT_ORG) {
        account_id(out, c.account);
        return 0;
    }
    if (has_dev) {
        sodium_bin2hex(out, GSTATE_MEMBER_MAX + 1, dev, 32);
        return 0;
    }
    r = store_device_list(g->st, key, &list, &n);
    for (size_t i = 0; r == 0 && i < n; i++)
        if (contacts_device_trusted(&list[i], clock_wall(&g->clock))) {
            sodium_bin2hex(out, GSTATE_MEMBER_MAX + 1, list[i].key, 32);
            free(list);
            return 0;
        }
    free(list);
    say(why, cap, "that contact has no trusted device");
    return r ? r : BANTER_ENOENT;
}

/* ---- the saved group, its view ---- */

static gboolean nothing_waits(gpointer key, gpointer value, gpointer ud)
{
    (void)key, (void)ud;
    return ((const gview *)value)->npending == 0;
}

/* Keep view v of group k (taken: k, v) in the cache. A full cache drops
 * the views with no state waiting first, every view if all have one. */
static void keep_view(groups *g, GBytes *k, gview *v)
{
    if (g_hash_table_size(g->views) >= GROUPS_VIEWS_MAX && !g_hash_table_contains(g->views, k)) {
        g_hash_table_foreach_remove(g->views, nothing_waits, NULL);
        if (g_hash_table_size(g->views) >= GROUPS_VIEWS_MAX)
            g_hash_table_remove_all(g->views);
    }
    g_hash_table_replace(g->views, k, v);
}

/* The view of group id: from memory, else from the store's state and
 * the one before it (so that a concurrent state that wins over the
 * applied one is still taken after a restart). */
static gview *view_of(groups *g, const store_group *sg)
{
    GBytes *k = g_bytes_new(sg->id, GSTATE_ID_LEN);
    gview *v = g_hash_table_lookup(g->views, k);
    if (v) {
        g_bytes_unref(k);
        return v;
    }
    v = g_new0(gview, 1);
    if (gstate_decode(&v->cur, sg->state, sg->state_len) != 0) {
        g_free(v);
        g_bytes_unref(k);
        return NULL;
    }
    /* A base that is not the version before (a row edited by hand) is
     * not one: such a view ignores a competing state, as before. */
    v->has_base = sg->base && gstate_decode(&v->base, sg->base, sg->base_len) == 0 &&
                  v->base.v + 1 == v->cur.v &&
                  memcmp(v->base.group, v->cur.group, GSTATE_ID_LEN) == 0;
    keep_view(g, k, v);
    return v;
}

/* Canonical JSON of st into *text (malloc'd, replacing what it held) and
 * *len; on failure both are left as they were. */
static int encode_state(const gstate *st, char **text, size_t *len)
{
    buf b;
    buf_init(&b, BANTER_MAX_JSON);
    int r = gstate_encode(st, &b);
    if (r == 0) {
        char *t = malloc(buf_len(&b) + 1);
        if (!t)
            r = BANTER_ENOMEM;
        else {
            memcpy(t, buf_data(&b), buf_len(&b));
            t[buf_len(&b)] = '\0';
            free(*text);
            *text = t;
            *len = buf_len(&b);
        }
    }
    buf_free(&b);
    return r;
}

/* st as sg's state, with no state known before it (a creation, a join). */
static int save_state(store_group *sg, const gstate *st)
{
    free(sg->base);
    sg->base = NULL;
    sg->base_len = 0;
    return encode_state(st, &sg->state, &sg->state_len);
}

/* v's state as sg's, and the one before it when v knows it. */
static int save_view(store_group *sg, const gview *v)
{
    int r = save_state(sg, &v->cur);
    if (r == 0 && v->has_base)
        r = encode_state(&v->base, &sg->base, &sg->base_len);
    return r;
}

/* Load this device's sending chain of sg. */
static int own_chain(const store_group *sg, gkey_chain **out)
{
    return gkey_chain_load(out, sg->chain, sg->chain_len);
}

static void keep_chain(store_group *sg, const gkey_chain *c)
{
    uint8_t *tmp = g_malloc(GKEY_SAVE_MAX);
    sg->chain_len = gkey_chain_save(c, tmp);
    memcpy(sg->chain, tmp, sg->chain_len);
    sodium_memzero(tmp, GKEY_SAVE_MAX);
    g_free(tmp);
}

/* ---- sending control messages ---- */

/* Queue a control message (its plaintext is every copy) for devs. */
static int queue_ctl(groups *g, const uint8_t group[static GSTATE_ID_LEN], msg *m,
                     const uint8_t id[static MSG_ID_LEN], GArray *devs)
{
    buf pt;
    buf_init(&pt, BANTER_MAX_PLAINTEXT);
    int r = msg_encode(m, &pt);
    if (r == 0) {
        store_msg sm = {.dir = STORE_OUT,
                        .state = STORE_QUEUED,
                        .flags = STORE_MSG_GCTL,
                        .has_group = true,
                        .ts_ms = clock_wall(&g->clock),
                        .stored_ms = clock_wall(&g->clock),
                        .body = (char *)"",
                        .sealed = (uint8_t *)buf_data(&pt),
                        .sealed_len = buf_len(&pt)};
        memcpy(sm.id, id, MSG_ID_LEN);
        memcpy(sm.group, group, GSTATE_ID_LEN);
        store_group_handle(group, sm.contact);
        store_gpos_make(sm.gpos, 0, g->own, 0, 0);
        r = messenger_queue_group(g->mr, &sm, (const uint8_t(*)[32])(void *)devs->data, devs->len);
    }
    sodium_memzero((void *)buf_data(&pt), buf_len(&pt)); /* a distribution holds a chain key */
    buf_free(&pt);
    return r;
}

static int send_state(groups *g, const gstate *st, GArray *devs)
{
    msg m;
    uint8_t id[MSG_ID_LEN];
    g->rng.fill(g->rng.ctx, id, sizeof id);
    int r = msg_gstate_init(&m, id, st);
    if (r == 0)
        r = queue_ctl(g, st->group, &m, id, devs);
    msg_clear(&m);
    return r;
}

/* This device's current distribution of sg to devs. */
static int send_key(groups *g, const store_group *sg, GArray *devs)
{
    gkey_chain *c = NULL;
    msg m = {.type = MSG_GROUP_KEY};
    if (devs->len == 0)
        return 0;
    int r = own_chain(sg, &c);
    if (r == 0) {
        gkey_dist_encode(c, m.u.gkey.dist);
        g->rng.fill(g->rng.ctx, m.u.gkey.id, MSG_ID_LEN);
        r = queue_ctl(g, sg->id, &m, m.u.gkey.id, devs);
    }
    sodium_memzero(&m, sizeof m);
    gkey_chain_free(c);
    return r;
}

/* A new sending epoch: a fresh chain, handed to the devices of st's
 * members only. */
static int new_epoch(groups *g, store_group *sg, const gstate *st)
{
    gkey_chain *c = NULL;
    int r = gkey_chain_new(&c, sg->id, g->own, sg->epoch + 1, g->rng);
    if (r)
        return r;
    sg->epoch++;
    sg->sent = 0;
    sg->epoch_started_ms = clock_wall(&g->clock);
    keep_chain(sg, c);
    gkey_chain_free(c);
    r = store_group_put(g->st, sg);
    if (r == 0) {
        GArray *devs = devices_of_state(g, st, NULL);
        r = send_key(g, sg, devs);
        g_array_free(devs, TRUE);
    }
    return r;
}

/* Whether some member of a is not in b. */
static bool someone_left(const gstate *a, const gstate *b)
{
    for (size_t i = 0; i < a->n; i++)
        if (!gstate_find(b, a->m[i].id))
            return true;
    return false;
}

/* Devices of the members of b not in a (newcomers). */
static GArray *newcomers(groups *g, const gstate *a, const gstate *b)
{
    GArray *devs = g_array_new(FALSE, FALSE, 32);
    for (size_t i = 0; i < b->n; i++)
        if (!gstate_find(a, b->m[i].id))
            devices_of(g, b->m[i].id, devs);
    return devs;
}

/* After the state moved from prev to sg's (applied here or received):
 * newcomers get this device's distribution; when someone left, a new
 * epoch for those who stay. */
static int after_change(groups *g, store_group *sg, const gstate *prev, const gstate *now)
{
    char me[GSTATE_MEMBER_MAX + 1];
    groups_me(g, me);
    sg->member = gstate_find(now, me) != NULL;
    int r = store_group_put(g->st, sg);
    if (r || !sg->member)
        return r;
    if (someone_left(prev, now))
        return new_epoch(g, sg, now); /* everyone, newcomers too, gets the new chain */
    GArray *devs = newcomers(g, prev, now);
    r = send_key(g, sg, devs);
    g_array_free(devs, TRUE);
    return r;
}

/* ---- changes by this node ---- */

static int load(groups *g, const uint8_t id[static GSTATE_ID_LEN], store_group *sg, gview **v)
{
    int r = store_group_get(g->st, id, sg);
    if (r)
        return r;
    *v = view_of(g, sg);
    if (!*v) {
        store_group_clear(sg);
        return BANTER_EDB;
    }
    return 0;
}

/* Apply next (made by this node from the view's state) and send it. */
static int apply_own(groups *g, const uint8_t id[static GSTATE_ID_LEN],
                     void (*edit)(gstate *st, const void *arg), const void *arg, char *why,
                     size_t cap)
{
    store_group sg;
    gview *v;
    int r = load(g, id, &sg, &v);
    if (r) {
        say(why, cap, r == BANTER_ENOENT ? "no such group" : "cannot read the group");
        return r;
    }
    if (!sg.member) {
        store_group_clear(&sg);
        say(why, cap, "this node is no longer a member of the group");
        return BANTER_ESTATE;
    }
    gstate *prev = g_new(gstate, 1), *next = g_new(gstate, 1);
    *prev = v->cur;
    *next = v->cur;
    next->v++;
    groups_me(g, next->by);
    edit(next, arg);
    gview_result res;
    r = gview_receive(v, next, &res, why, cap);
    if (r == 0 && res != GVIEW_APPLIED)
        r = BANTER_ESTATE;
    if (r == 0)
        r = save_view(&sg, v);
    if (r == 0) {
        /* Everyone who is or was a member hears of it. */
        GArray *devs = devices_of_state(g, &v->cur, prev);
        r = send_state(g, &v->cur, devs);
        g_array_free(devs, TRUE);
    }
    if (r == 0)
        r = after_change(g, &sg, prev, &v->cur);
    if (r == 0 && g->cb.changed)
        g->cb.changed(g->ud, id);
    g_free(prev);
    g_free(next);
    store_group_clear(&sg);
    return r;
}

static void sort_members(gstate *st)
{
    for (size_t i = 1; i < st->n; i++)
        for (size_t j = i; j > 0 && strcmp(st->m[j - 1].id, st->m[j].id) > 0; j--) {
            gstate_member t = st->m[j];
            st->m[j] = st->m[j - 1];
            st->m[j - 1] = t;
        }
}

static void add_member(gstate *st, const char *id, bool admin)
{
    if (gstate_find(st, id) || st->n == GSTATE_MAX_MEMBERS)
        return;
    g_strlcpy(st->m[st->n].id, id, sizeof st->m[st->n].id);
    st->m[st->n++].admin = admin;
    sort_members(st);
}

static void drop_member(gstate *st, const char *id)
{
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->m[i].id, id) == 0) {
            memmove(&st->m[i], &st->m[i + 1], (st->n - i - 1) * sizeof st->m[0]);
            st->n--;
            return;
        }
}

static int check_ids(const char *const *members, size_t n, char *why, size_t cap)
{
    for (size_t i = 0; i < n; i++)
        if (!gstate_member_valid(members[i])) {
            char text[160];
            snprintf(text, sizeof text, "not a member id: %.64s (\"@account\" or 64 hex digits)",
                     members[i]);
            say(why, cap, text);
            return BANTER_EINVAL;
        }
    if (n > GSTATE_MAX_MEMBERS) {
        say(why, cap, "too many members");
        return BANTER_EINVAL;
    }
    return 0;
}

int groups_create(groups *g, const char *name, const char *const *members, size_t n,
                  uint8_t id[static GSTATE_ID_LEN], char *why, size_t cap)
{
    store_group sg = {.member = true, .epoch = 0};
    gstate *st = g_new0(gstate, 1);
    gview *v = g_new0(gview, 1);
    int r = check_ids(members, n, why, cap);
    if (r)
        goto out;
    g->rng.fill(g->rng.ctx, id, GSTATE_ID_LEN);
    memcpy(st->group, id, GSTATE_ID_LEN);
    st->v = 1;
    g_strlcpy(st->name, name, sizeof st->name);
    groups_me(g, st->creator);
    groups_me(g, st->by);
    add_member(st, st->creator, true);
    for (size_t i = 0; i < n; i++)
        add_member(st, members[i], false);
    r = gview_init(v, st, why, cap);
    if (r) {
        if (why && !why[0])
            say(why, cap, "not a valid group (its name: 1 to 64 bytes, no control characters)");
        r = BANTER_EINVAL;
        goto out;
    }
    memcpy(sg.id, id, GSTATE_ID_LEN);
    sg.created_ms = clock_wall(&g->clock);
    r = save_state(&sg, st);
    gkey_chain *c = NULL;
    if (r == 0)
        r = gkey_chain_new(&c, id, g->own, 1, g->rng);
    if (r == 0) {
        sg.epoch = 1;
        sg.epoch_started_ms = sg.created_ms;
        keep_chain(&sg, c);
        gkey_chain_free(c);
        r = store_group_put(g->st, &sg);
    }
    if (r == 0) {
        keep_view(g, g_bytes_new(id, GSTATE_ID_LEN), v);
        v = NULL;
        GArray *devs = devices_of_state(g, st, NULL);
        r = send_state(g, st, devs);
        if (r == 0)
            r = send_key(g, &sg, devs);
        g_array_free(devs, TRUE);
    }
    if (r == 0 && g->cb.changed)
        g->cb.changed(g->ud, id);
out:
    store_group_clear(&sg);
    g_free(st);
    g_free(v);
    return r;
}

typedef struct ids_arg {
    const char *const *ids;
    size_t n;
    bool admin;
} ids_arg;

static void edit_invite(gstate *st, const void *arg)
{
    const ids_arg *a = arg;
    for (size_t i = 0; i < a->n; i++)
        add_member(st, a->ids[i], false);
}

static void edit_remove(gstate *st, const void *arg) { drop_member(st, arg); }

static void edit_rename(gstate *st, const void *arg) { g_strlcpy(st->name, arg, sizeof st->name); }

static void edit_admin(gstate *st, const void *arg)
{
    const ids_arg *a = arg;
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->m[i].id, a->ids[0]) == 0)
            st->m[i].admin = a->admin;
}

int groups_invite(groups *g, const uint8_t id[static GSTATE_ID_LEN], const char *const *members,
                  size_t n, char *why, size_t cap)
{
    ids_arg a = {members, n, false};
    int r = check_ids(members, n, why, cap);
    return r ? r : apply_own(g, id, edit_invite, &a, why, cap);
}

int groups_remove(groups *g, const uint8_t id[static GSTATE_ID_LEN], const char *member, char *why,
                  size_t cap)
{
    int r = check_ids(&member, 1, why, cap);
    return r ? r : apply_own(g, id, edit_remove, member, why, cap);
}

/* Whether me is the only admin of st and others stay (a group keeps an
 * admin: gstate's rule), after saying so in why. */
static bool last_admin(const gstate *st, const char *me, char *why, size_t cap)
{
    size_t admins = 0;
    const gstate_member *m = gstate_find(st, me);
    for (size_t i = 0; i < st->n; i++)
        admins += st->m[i].admin;
    if (!m || !m->admin || admins > 1 || st->n < 2)
        return false;
    say(why, cap,
        "this node is the group's last admin: make another member an admin first (banter "
        "group admin GROUP MEMBER on)");
    return true;
}

int groups_leave(groups *g, const uint8_t id[static GSTATE_ID_LEN], char *why, size_t cap)
{
    char me[GSTATE_MEMBER_MAX + 1];
    groups_info info;
    groups_me(g, me);
    if (groups_get(g, id, &info) == 0 && info.member && last_admin(&info.st, me, why, cap))
        return BANTER_EPERM;
    return apply_own(g, id, edit_remove, me, why, cap);
}

int groups_rename(groups *g, const uint8_t id[static GSTATE_ID_LEN], const char *name, char *why,
                  size_t cap)
{
    if (!name[0] || strlen(name) > BANTER_MAX_NAME || !utf8_valid(name, strlen(name))) {
        say(why, cap, "a group name is 1 to 64 bytes of text");
        return BANTER_EINVAL;
    }
    return apply_own(g, id, edit_rename, name, why, cap);
}

int groups_set_admin(groups *g, const uint8_t id[static GSTATE_ID_LEN], const char *member,
                     bool admin, char *why, size_t cap)
{
    ids_arg a = {&member, 1, admin};
    int r = check_ids(&member, 1, why, cap);
    return r ? r : apply_own(g, id, edit_admin, &a, why, cap);
}

/* The seqs of group id's control messages still on their way that are
 * states (a leave, and the changes before it that the others may still
 * need to take it): *keep malloc'd (free()). Distributions (a chain
 * key), and messages, are not kept. */
static int pending_states(groups *g, const uint8_t id[static GSTATE_ID_LEN], int64_t **keep,
                          size_t *nkeep)
{
    uint8_t handle[32];
    store_msg *out = NULL;
    size_t n = 0;
    *keep = NULL;
    *nkeep = 0;
    store_group_handle(id, handle);
    int r = store_outbox(g->st, handle, &out, &n);
    if (r == 0 && n)
        *keep = calloc(n, sizeof **keep);
    if (r == 0 && n && !*keep)
        r = BANTER_ENOMEM;
    for (size_t i = 0; r == 0 && i < n; i++) {
        msg m;
        if (!(out[i].flags & STORE_MSG_GCTL) || !out[i].sealed ||
            msg_decode(&m, out[i].sealed, out[i].sealed_len) != 0)
            continue;
        if (m.type == MSG_GROUP_STATE)
            (*keep)[(*nkeep)++] = out[i].seq;
        msg_clear(&m);
    }
    for (size_t i = 0; i < n; i++)
        if (out[i].sealed)
            sodium_memzero(out[i].sealed, out[i].sealed_len); /* a distribution holds a key */
    store_msgs_free(out, n);
    return r;
}

int groups_delete(groups *g, const uint8_t id[static GSTATE_ID_LEN], groups_deleted *out, char *why,
                  size_t cap)
{
    store_group sg;
    gstate *st = g_new0(gstate, 1);
    int64_t *keep = NULL;
    size_t nkeep = 0;
    memset(out, 0, sizeof *out);
    int r = store_group_get(g->st, id, &sg);
    if (r) {
        say(why, cap, r == BANTER_ENOENT ? "no such group" : "cannot read the group");
        g_free(st);
        return r;
    }
    bool member = sg.member, decoded = gstate_decode(st, sg.state, sg.state_len) == 0;
    if (decoded)
        g_strlcpy(out->name, st->name, sizeof out->name);
    store_group_clear(&sg);
    /* Still a member: a leave first, as `group leave` (the others take
     * this node out and start a new epoch); alone in it, or with a state
     * that cannot be read (nobody to name), nobody is told. */
    if (member && decoded && st->n > 1) {
        r = groups_leave(g, id, why, cap);
        if (r)
            goto out;
        out->left = true;
    }
    r = pending_states(g, id, &keep, &nkeep);
    if (r == 0)
        r = store_group_delete(g->st, id, keep, nkeep, clock_wall(&g->clock), &out->messages);
    if (r) {
        say(why, cap,
            out->left ? "left the group, but could not delete it (try again)"
                      : "could not delete the group");
        goto out;
    }
    GBytes *k = g_bytes_new(id, GSTATE_ID_LEN);
    g_hash_table_remove(g->views, k);
    g_bytes_unref(k);
    if (g->cb.changed)
        g->cb.changed(g->ud, id);
out:
    free(keep);
    g_free(st);
    return r;
}

/* ---- messages ---- */

static int check_text(const char *text, size_t len)
{
    if (len == 0 || memchr(text, '\0', len))
        return BANTER_EINVAL;
    if (len > BANTER_MAX_BODY)
        return BANTER_ETOOLONG;
    return utf8_valid(text, len) ? 0 : BANTER_EUTF8;
}

/* A new epoch when this one has carried enough or lasted long enough. */
static int rotate_if_due(groups *g, store_group *sg, const gstate *now)
{
    if (sg->sent < GROUPS_EPOCH_MSGS &&
        clock_wall(&g->clock) - sg->epoch_started_ms < GROUPS_EPOCH_MS)
        return 0;
    return new_epoch(g, sg, now);
}

/* The clock of this device's next message: one more than lc, stopping at
 * GROUPS_LC_MAX (a store from before GROUPS_LC_STEP_MAX may hold it). */
static uint64_t next_lc(uint64_t lc) { return lc < GROUPS_LC_MAX ? lc + 1 : GROUPS_LC_MAX; }

static int seal_text(store_group *sg, const uint8_t msgid[static MSG_ID_LEN], int64_t ts,
                     const char *text, size_t len, uint8_t **sealed, size_t *slen, gkey_header *h)
{
    msg t;
    buf pt;
    gkey_chain *c = NULL;
    buf_init(&pt, BANTER_MAX_PLAINTEXT);
    int r = msg_gtext_init(&t, msgid, ts, (int64_t)next_lc(sg->lc), text, len);
    if (r == 0)
        r = msg_encode(&t, &pt);
    msg_clear(&t);
    if (r == 0 && buf_len(&pt) + GKEY_OVERHEAD > MSG_GROUP_SEALED_MAX)
        r = BANTER_ETOOBIG;
    if (r == 0)
        r = own_chain(sg, &c);
    if (r == 0) {
        *h = gkey_chain_header(c); /* the iteration this message takes */
        *slen = buf_len(&pt) + GKEY_OVERHEAD;
        *sealed = g_malloc(*slen);
        r = gkey_seal(c, *sealed, buf_data(&pt), buf_len(&pt));
        if (r) {
            g_free(*sealed);
            *sealed = NULL;
        } else {
            keep_chain(sg, c);
        }
    }
    gkey_chain_free(c);
    buf_free(&pt);
    return r;
}

int groups_send(groups *g, const uint8_t id[static GSTATE_ID_LEN], const char *text, size_t len,
                uint8_t msgid[static MSG_ID_LEN])
{
    store_group sg;
    gview *v;
    uint8_t *sealed = NULL;
    size_t slen = 0;
    gkey_header h;
    int r = check_text(text, len);
    if (r)
        return r;
    if ((r = load(g, id, &sg, &v)) != 0)
        return r;
    if (!sg.member) {
        r = BANTER_ESTATE;
        goto out;
    }
    if ((r = rotate_if_due(g, &sg, &v->cur)) != 0)
        goto out;
    g->rng.fill(g->rng.ctx, msgid, MSG_ID_LEN);
    int64_t ts = clock_wall(&g->clock);
    r = seal_text(&sg, msgid, ts, text, len, &sealed, &slen, &h);
    if (r)
        goto out;
    sg.lc = next_lc(sg.lc);
    sg.sent++;
    /* The chain moved on: saved before the message leaves. */
    if ((r = store_group_put(g->st, &sg)) != 0)
        goto out;
    store_msg sm = {.dir = STORE_OUT,
                    .state = STORE_QUEUED,
                    .has_group = true,
                    .ts_ms = ts,
                    .stored_ms = ts,
                    .body = (char *)text,
                    .body_len = len,
                    .sealed = sealed,
                    .sealed_len = slen};
    memcpy(sm.id, msgid, MSG_ID_LEN);
    memcpy(sm.group, id, GSTATE_ID_LEN);
    store_group_handle(id, sm.contact);
    store_gpos_make(sm.gpos, sg.lc, g->own, h.epoch, h.iteration);
    GArray *devs = devices_of_state(g, &v->cur, NULL);
    r = messenger_queue_group(g->mr, &sm, (const uint8_t(*)[32])(void *)devs->data, devs->len);
    g_array_free(devs, TRUE);
out:
    g_free(sealed);
    store_group_clear(&sg);
    return r;
}

/* ---- receiving ---- */

/* Whether st invites this node (me): made by an admin of it, naming me. */
static bool invites(const gstate *st, const char *me)
{
    const gstate_member *by = gstate_find(st, st->by);
    return by && by->admin && gstate_find(st, me);
}

/* Whether st may take this node back into the group it last knew at
 * last: same group and creator, a version after last but at most
 * GSTATE_MAX_JUMP on, made by an admin of last. */
static bool rejoins(const gstate *last, const gstate *st)
{
    const gstate_member *by = gstate_find(last, st->by);
    return memcmp(last->group, st->group, GSTATE_ID_LEN) == 0 &&
           strcmp(last->creator, st->creator) == 0 && st->v > last->v &&
           st->v - last->v <= GSTATE_MAX_JUMP && by && by->admin;
}

/* Take st as the group's state without the versions before it (an
 * invitation, or one back after leaving or being removed): a fresh
 * sending chain (the epoch after any this device used in the group), its
 * distribution to every member device. sg: the group's row, or NULL. */
static int join(groups *g, const gstate *st, const store_group *old)
{
    store_group sg;
    gkey_chain *c = NULL;
    memset(&sg, 0, sizeof sg);
    memcpy(sg.id, st->group, GSTATE_ID_LEN);
    sg.member = true;
    sg.epoch = old ? old->epoch + 1 : 1;
    sg.lc = old ? old->lc : 0;
    sg.read_seq = old ? old->read_seq : 0;
    sg.created_ms = old ? old->created_ms : clock_wall(&g->clock);
    sg.epoch_started_ms = clock_wall(&g->clock);
    int r = save_state(&sg, st);
    if (r == 0)
        r = gkey_chain_new(&c, sg.id, g->own, sg.epoch, g->rng);
    if (r == 0) {
        keep_chain(&sg, c);
        gkey_chain_free(c);
        r = store_group_put(g->st, &sg);
    }
    if (r == 0) {
        /* No view yet (view_of reads the row when the group is used); one
         * of the state this node last knew goes. */
        GBytes *k = g_bytes_new(st->group, GSTATE_ID_LEN);
        g_hash_table_remove(g->views, k);
        g_bytes_unref(k);
        GArray *devs = devices_of_state(g, st, NULL); /* every member device reads us */
        r = send_key(g, &sg, devs);
        g_array_free(devs, TRUE);
    }
    if (r == 0 && g->cb.changed)
        g->cb.changed(g->ud, st->group);
    store_group_clear(&sg);
    return r;
}

static gboolean bucket_full(gpointer key, gpointer value, gpointer now)
{
    (void)key;
    return tbucket_full(value, *(const int64_t *)now);
}

/* Whether dev may invite this node into one more group: 0 (an invitation
 * of its bucket taken), BANTER_ELIMIT (GROUPS_MAX held already: nothing
 * taken), BANTER_ERATE (over dev's rate), BANTER_EDB. Checked before
 * anything of the invitation is stored or allocated. */
static int may_join(groups *g, const uint8_t dev[static 32])
{
    int64_t n = 0, now = clock_mono(&g->clock);
    int r = store_group_count(g->st, &n);
    if (r)
        return r;
    if (n >= GROUPS_MAX)
        return BANTER_ELIMIT;
    GBytes *k = g_bytes_new(dev, 32);
    tbucket *b = g_hash_table_lookup(g->invites, k);
    if (b)
        g_bytes_unref(k);
    else {
        if (g_hash_table_size(g->invites) >= INVITES_PRUNE)
            g_hash_table_foreach_remove(g->invites, bucket_full, &now);
        b = g_new(tbucket, 1);
        tbucket_init_every(b, GROUPS_INVITE_EVERY_MS, GROUPS_INVITE_BURST, now);
        g_hash_table_insert(g->invites, k, b);
    }
    return tbucket_take(b, now) ? 0 : BANTER_ERATE;
}

/* Whether the user deleted group id here (its tombstone is kept): what
 * comes for it is refused, never a way back (an error reading the
 * tombstone refuses too). */
static bool deleted(groups *g, const uint8_t id[static GSTATE_ID_LEN])
{
    return store_group_deleted(g->st, id) != BANTER_ENOENT;
}

/* An invitation by dev to st was refused at GROUPS_MAX: counted and told. */
static void refused_full(groups *g, const uint8_t dev[static 32], const gstate *st)
{
    g->refused++;
    g->refused_ms = clock_wall(&g->clock);
    if (g->cb.refused)
        g->cb.refused(g->ud, dev, st);
}

void groups_refusals(groups *g, int64_t *count, int64_t *last_ms)
{
    *count = g->refused;
    *last_ms = g->refused_ms;
}

static int received_state(groups *g, const uint8_t dev[static 32], const gstate *st)
{
    char who[GSTATE_MEMBER_MAX + 1], me[GSTATE_MEMBER_MAX + 1], why[128] = "";
    store_group sg;
    gview *v;
    /* Only a device of the author speaks for the author. */
    if (member_of(g, dev, who) != 0 || strcmp(who, st->by) != 0)
        return BANTER_EPERM;
    groups_me(g, me);
    int r = load(g, st->group, &sg, &v);
    if (r == BANTER_ENOENT) { /* an invitation: by an admin of it, naming this node */
        if (!invites(st, me) || deleted(g, st->group))
            return BANTER_EPERM;
        r = may_join(g, dev);
        if (r == BANTER_ELIMIT)
            refused_full(g, dev, st);
        return r ? r : join(g, st, NULL);
    }
    if (r == 0 && !sg.member && st->v > v->cur.v && invites(st, me)) {
        /* Invited again after leaving or being removed: only as a
         * successor of the state this node last knew (the author an admin
         * there, not too many versions on), never a copy made up by
         * someone else. */
        r = rejoins(&v->cur, st) ? join(g, st, &sg) : BANTER_EPERM;
        store_group_clear(&sg);
        return r;
    }
    if (r)
        return r;
    gstate *prev = g_new(gstate, 1);
    *prev = v->cur;
    gview_result res;
    r = gview_receive(v, st, &res, why, sizeof why);
    if (r == BANTER_ESTATE)
        r = 0; /* not the next version of this group: nothing to do */
    else if (r)
        r = BANTER_EPERM;
    else if (res == GVIEW_PENDING || res == GVIEW_DEFERRED)
        r = BANTER_EAGAIN; /* ahead: kept in memory at most, so sent again */
    if (r == 0 && res == GVIEW_APPLIED) {
        r = save_view(&sg, v);
        if (r == 0)
            r = after_change(g, &sg, prev, &v->cur);
        if (r == 0 && g->cb.changed)
            g->cb.changed(g->ud, st->group);
    }
    g_free(prev);
    store_group_clear(&sg);
    return r;
}

/* The group of a received key or message, with this node a member and
 * dev a trusted device of a current member. A group this node does not
 * know yet is BANTER_EAGAIN: its state may still be on its way (a member
 * hands out its key as soon as it has the state, often over a faster path
 * than the creator's state takes); nothing is kept, the sender tries again
 * shortly, and a stranger gains nothing by it. */
static int sender_ok(groups *g, const uint8_t group[static GSTATE_ID_LEN],
                     const uint8_t dev[static 32], store_group *sg, gview **v)
{
    char who[GSTATE_MEMBER_MAX + 1];
    int r = load(g, group, sg, v);
    if (r == BANTER_ENOENT && deleted(g, group))
        return BANTER_EPERM; /* deleted here: never again, not "later" */
    if (r)
        return r == BANTER_ENOENT ? BANTER_EAGAIN : BANTER_EPERM;
    if (!sg->member || member_of(g, dev, who) != 0 || !gstate_find(&(*v)->cur, who)) {
        store_group_clear(sg);
        return BANTER_EPERM;
    }
    return 0;
}

static int received_key(groups *g, const uint8_t dev[static 32], const struct msg_gkey *k)
{
    gkey_chain *c = NULL;
    store_group sg;
    gview *v;
    uint8_t *tmp = NULL;
    size_t n = 0;
    int r = gkey_dist_decode(&c, k->dist, sizeof k->dist);
    if (r)
        return BANTER_EPERM;
    gkey_header h = gkey_chain_header(c);
    /* Only the device a chain belongs to hands it out. */
    if (memcmp(h.device, dev, 32) != 0 || memcmp(h.device, g->own, 32) == 0) {
        gkey_chain_free(c);
        return BANTER_EPERM;
    }
    r = sender_ok(g, h.group, dev, &sg, &v);
    if (r) {
        gkey_chain_free(c);
        return r;
    }
    tmp = g_malloc(STORE_GCHAIN_MAX);
    /* A chain known already is kept as it is: a resent distribution must
     * not bring back keys used since. */
    r = store_gchain_get(g->st, h.group, dev, h.epoch, tmp, &n);
    if (r == BANTER_ENOENT) {
        /* Epochs only go up: one at or below the newest held is refused
         * (falling epochs would each take a row). */
        uint32_t newest = 0;
        r = store_gchain_newest(g->st, h.group, dev, &newest);
        if (r == 0 && h.epoch <= newest)
            r = BANTER_EPERM;
        else if (r == 0 || r == BANTER_ENOENT) {
            n = gkey_chain_save(c, tmp);
            r = store_gchain_put(g->st, h.group, dev, h.epoch, tmp, n);
        }
        /* Keep the epoch before for messages still on their way. */
        if (r == 0)
            r = store_gchain_keep(g->st, h.group, dev, GROUPS_CHAINS_PER_DEVICE);
    }
    sodium_memzero(tmp, STORE_GCHAIN_MAX);
    g_free(tmp);
    gkey_chain_free(c);
    store_group_clear(&sg);
    return r;
}

/* Open a GROUP_MSG's sealed bytes with dev's chain into *text; *out is
 * the chain moved past it, not saved yet: the caller saves it once the
 * message is stored (a message that could not be stored opens again when
 * it is sent again). 1: a replay, or a key long gone (nothing to store). */
static int open_msg(groups *g, const gkey_header *h, const struct msg_gmsg *gm, msg *text,
                    gkey_chain **out)
{
    uint8_t *tmp = g_malloc(STORE_GCHAIN_MAX), *pt = NULL;
    size_t n = 0, ptlen = 0;
    gkey_chain *c = NULL;
    int r = store_gchain_get(g->st, h->group, h->device, h->epoch, tmp, &n);
    if (r == BANTER_ENOENT)
        r = BANTER_EAGAIN; /* its distribution may still be on its way */
    if (r == 0)
        r = gkey_chain_load(&c, tmp, n);
    if (r == 0) {
        pt = g_malloc(gm->len);
        r = gkey_open(c, pt, &ptlen, gm->sealed, gm->len);
        if (r == BANTER_ENOENT)
            r = 1; /* a replay, or a key long gone: taken, not stored again */
        else if (r)
            r = BANTER_EPERM;
    }
    if (r == 0 && (msg_decode(text, pt, ptlen) != 0 || text->type != MSG_GROUP_TEXT ||
                   memcmp(text->u.gtext.id, gm->id, MSG_ID_LEN) != 0)) {
        if (text->type)
            msg_clear(text);
        r = BANTER_EPERM; /* not the message it claims to be */
    }
    if (r == 0) {
        *out = c;
        c = NULL;
    }
    if (pt) {
        sodium_memzero(pt, gm->len);
        g_free(pt);
    }
    sodium_memzero(tmp, STORE_GCHAIN_MAX);
    g_free(tmp);
    gkey_chain_free(c);
    return r;
}

/* Save the receiving chain c of h's device and epoch. */
static int save_chain(groups *g, const gkey_header *h, const gkey_chain *c)
{
    uint8_t *tmp = g_malloc(STORE_GCHAIN_MAX);
    size_t n = gkey_chain_save(c, tmp);
    int r = store_gchain_put(g->st, h->group, h->device, h->epoch, tmp, n);
    sodium_memzero(tmp, STORE_GCHAIN_MAX);
    g_free(tmp);
    return r;
}

/* The group's clock after a message with clock lc: lc, but never more
 * than GROUPS_LC_STEP_MAX past what was known (a member who claims a clock
 * near the end of the range moves everyone's by a step only). */
static uint64_t adopt_lc(uint64_t known, uint64_t lc)
{
    uint64_t most =
        known < GROUPS_LC_MAX - GROUPS_LC_STEP_MAX ? known + GROUPS_LC_STEP_MAX : GROUPS_LC_MAX;
    return lc < known ? known : lc > most ? most : lc;
}

static int received_msg(groups *g, const uint8_t dev[static 32], const struct msg_gmsg *gm)
{
    gkey_header h;
    store_group sg;
    gview *v;
    store_device d;
    gkey_chain *c = NULL;
    msg text = {0};
    if (gkey_peek(&h, gm->sealed, gm->len) != 0 || memcmp(h.device, dev, 32) != 0)
        return BANTER_EPERM; /* nodes never forward: the sealer is the sender */
    int r = sender_ok(g, h.group, dev, &sg, &v);
    if (r)
        return r;
    r = open_msg(g, &h, gm, &text, &c);
    if (r) {
        store_group_clear(&sg);
        return r == 1 ? 0 : r;
    }
    store_contact self;
    bool own = store_device_get(g->st, dev, &d) == 0 && contacts_self_known(g->cs) &&
               contacts_self(g->cs, &self) == 0 && memcmp(d.contact, self.key, 32) == 0;
    store_msg sm = {.dir = own ? STORE_OUT : STORE_IN,
                    .state = own ? STORE_DELIVERED : STORE_RECEIVED,
                    .flags = own ? STORE_MSG_SYNCED : 0,
                    .has_device = true,
                    .has_group = true,
                    .ts_ms = text.u.gtext.ts_ms,
                    .stored_ms = clock_wall(&g->clock),
                    .body = text.u.gtext.body,
                    .body_len = text.u.gtext.body_len};
    memcpy(sm.id, gm->id, MSG_ID_LEN);
    memcpy(sm.device, dev, 32);
    memcpy(sm.group, h.group, GSTATE_ID_LEN);
    store_group_handle(h.group, sm.contact);
    store_gpos_make(sm.gpos, (uint64_t)text.u.gtext.lc, dev, h.epoch, h.iteration);
    /* The message first, then the chain past it: a message that cannot
     * be stored leaves the chain as it was, so it opens again when it is
     * sent again (not acknowledged). One stored whose chain could not be
     * saved is a duplicate when it comes again, and the chain moves on
     * then. */
    int64_t seq = 0;
    int added = store_msg_add(g->st, &sm, &seq);
    r = added < 0 ? added : save_chain(g, &h, c);
    uint64_t lc = adopt_lc(sg.lc, (uint64_t)text.u.gtext.lc);
    if (r == 0 && lc > sg.lc) {
        sg.lc = lc;
        r = store_group_put(g->st, &sg);
    }
    if (added == 0 && g->cb.message) {
        sm.seq = seq;
        g->cb.message(g->ud, &sm);
    }
    gkey_chain_free(c);
    msg_clear(&text);
    store_group_clear(&sg);
    return r;
}

int groups_received(groups *g, const uint8_t device[static 32], const msg *m)
{
    switch (m->type) {
    case MSG_GROUP_STATE:
        return received_state(g, device, m->u.gstate.st);
    case MSG_GROUP_KEY:
        return received_key(g, device, &m->u.gkey);
    case MSG_GROUP_MSG:
        return received_msg(g, device, &m->u.gmsg);
    default: /* GROUP_TEXT travels only inside a GROUP_MSG */
        return BANTER_EPERM;
    }
}

/* ---- listings ---- */

static int info_of(groups *g, store_group *sg, groups_info *out)
{
    char me[GSTATE_MEMBER_MAX + 1];
    memset(out, 0, sizeof *out);
    /* From the row, not a view: listing every group loads none. */
    if (gstate_decode(&out->st, sg->state, sg->state_len) != 0)
        return BANTER_EDB;
    out->member = sg->member;
    groups_me(g, me);
    const gstate_member *mm = gstate_find(&out->st, me);
    out->admin = sg->member && mm && mm->admin;
    out->epoch = sg->epoch;
    out->created_ms = sg->created_ms;
    return store_group_unread(g->st, sg->id, sg->read_seq, &out->unread);
}

int groups_get(groups *g, const uint8_t id[static GSTATE_ID_LEN], groups_info *out)
{
    store_group sg;
    int r = store_group_get(g->st, id, &sg);
    if (r) /* sg holds nothing (and is not set) */
        return r;
    r = info_of(g, &sg, out);
    store_group_clear(&sg);
    return r;
}

int groups_list(groups *g, groups_info **out, size_t *n)
{
    store_group *all = NULL;
    size_t k = 0;
    *out = NULL;
    *n = 0;
    int r = store_group_list(g->st, &all, &k);
    if (r || k == 0)
        return r;
    groups_info *info = calloc(k, sizeof *info);
    if (!info)
        r = BANTER_ENOMEM;
    for (size_t i = 0; r == 0 && i < k; i++)
        r = info_of(g, &all[i], &info[i]);
    store_groups_free(all, k);
    if (r) {
        free(info);
        return r;
    }
    *out = info;
    *n = k;
    return 0;
}

int groups_find(groups *g, const char *query, uint8_t id[static GSTATE_ID_LEN])
{
    size_t bin = 0;
    if (strlen(query) == 2 * GSTATE_ID_LEN &&
        sodium_hex2bin(id, GSTATE_ID_LEN, query, strlen(query), NULL, &bin, NULL) == 0 &&
        bin == GSTATE_ID_LEN) {
        store_group sg;
        int r = store_group_get(g->st, id, &sg);
        if (r == 0) /* on an error sg holds nothing (and is not set) */
            store_group_clear(&sg);
        if (r != BANTER_ENOENT)
            return r;
    }
    groups_info *all = NULL;
    size_t n = 0, found = 0;
    int r = groups_list(g, &all, &n);
    for (size_t i = 0; r == 0 && i < n; i++)
        if (contacts_same_name(all[i].st.name, query)) {
            if (found++ == 0)
                memcpy(id, all[i].st.group, GSTATE_ID_LEN);
        }
    free(all);
    if (r)
        return r;
    return found == 1 ? 0 : found ? BANTER_EAMBIGUOUS : BANTER_ENOENT;
}

int groups_mark_read(groups *g, const uint8_t id[static GSTATE_ID_LEN])
{
    store_group sg;
    store_msg *last = NULL;
    size_t n = 0;
    int r = store_group_get(g->st, id, &sg);
    if (r)
        return r;
    uint8_t handle[32];
    store_group_handle(id, handle);
    r = store_history(g->st, handle, 0, 1, &last, &n);
    if (r == 0 && n == 1 && last[0].seq > sg.read_seq) {
        sg.read_seq = last[0].seq;
        r = store_group_put(g->st, &sg);
    }
    store_msgs_free(last, n);
    store_group_clear(&sg);
    return r;
}

int groups_delivery(groups *g, const uint8_t id[static GSTATE_ID_LEN],
                    const uint8_t msgid[static MSG_ID_LEN], groups_member_delivery **out, size_t *n)
{
    store_msg sm;
    store_copy *copies = NULL;
    size_t nc = 0;
    groups_info info;
    char me[GSTATE_MEMBER_MAX + 1];
    uint8_t handle[32];
    *out = NULL;
    *n = 0;
    store_group_handle(id, handle);
    int r = groups_get(g, id, &info);
    if (r == 0)
        r = store_msg_find_out(g->st, msgid, handle, &sm);
    if (r)
        return r;
    r = store_copies(g->st, sm.seq, &copies, &nc);
    store_msg_clear(&sm);
    if (r)
        return r;
    groups_me(g, me);
    groups_member_delivery *d = calloc(info.st.n ? info.st.n : 1, sizeof *d);
    if (!d) {
        free(copies);
        return BANTER_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < info.st.n; i++) {
        if (strcmp(info.st.m[i].id, me) == 0)
            continue;
        groups_member_delivery *e = &d[k++];
        bool any = false, all_failed = true;
        g_strlcpy(e->id, info.st.m[i].id, sizeof e->id);
        for (size_t c = 0; c < nc; c++) {
            char who[GSTATE_MEMBER_MAX + 1];
            if (member_of(g, copies[c].device, who) != 0 || strcmp(who, e->id) != 0)
                continue;
            any = true;
            e->delivered |= copies[c].state == COPY_DELIVERED;
            e->server |= copies[c].state == COPY_SERVER;
            all_failed &= copies[c].state == COPY_FAILED;
        }
        e->failed = any && all_failed;
    }
    free(copies);
    *out = d;
    *n = k;
    return 0;
}
