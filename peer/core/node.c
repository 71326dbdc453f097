/* SPDX-License-Identifier: MIT */
/* node.c - the node's core: contacts, messages, transfers, presence, events (see node.h). */
#include "core/node.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/autoaccept.h"

typedef struct sub {
    node_event_fn fn;
    void *ud;
} sub;

typedef struct org_info { /* an organisation contact as the server described it */
    char state[16];
    char status[16];
    char text[129];
    char display_name[65];
    uint8_t (*devs)[32]; /* approved: the devices the server lists now (g_free) */
    size_t ndev;
} org_info;

static void org_info_free(gpointer p)
{
    org_info *o = p;
    g_free(o->devs);
    g_free(o);
}

struct node {
    GMainContext *ctx;
    const identity *id;
    store *st;
    config conf;
    char name[BANTER_MAX_NAME + 1];
    char fp[IDENTITY_FP_LEN + 1];
    char server_fpd[IDENTITY_FP_DIGITS + 1];
    uint16_t port;
    node_clock clock;
    contacts *cs;
    messenger *mr;
    groups *gr;
    int (*ann_tell)(void *ud, int64_t id); /* node_set_ann_teller */
    void *ann_tell_ud;
    xfer_mgr *xm;
    node_link link;
    GArray *subs;              /* sub */
    GHashTable *up;            /* device key (32 bytes) -> address: connected on the LAN */
    GHashTable *org;           /* contact key (32 bytes) -> org_info */
    bool relay_online;         /* the relay is logged in */
    uint64_t pol_max_file;     /* the organisation's policy: largest file, 0: none */
    bool pol_no_auto;          /* the organisation's policy forbids auto-accepting files */
    uint32_t pol_history_days; /* ... keeps history this many days, 0: for good */
    guint retention;           /* the hourly pruning while pol_history_days > 0 */
    guint retry;               /* the messenger's retry timer, while copies are in flight */
    guint vouch;               /* while logged in: the server's lists still hold (on_vouch) */
    uint8_t (*own)[32];        /* the devices the server lists for the own account (g_free) */
    size_t nown;
    autoaccept *aa; /* what was accepted without asking, for its budgets */
};

static guint key_hash(gconstpointer k)
{
    guint h;
    memcpy(&h, k, sizeof h);
    return h;
}

static gboolean key_equal(gconstpointer a, gconstpointer b) { return memcmp(a, b, 32) == 0; }

/* ---- events ---- */

void node_subscribe(node *n, node_event_fn fn, void *ud)
{
    sub s = {fn, ud};
    g_array_append_val(n->subs, s);
}

void node_unsubscribe(node *n, node_event_fn fn, void *ud)
{
    for (guint i = 0; i < n->subs->len; i++) {
        sub *s = &g_array_index(n->subs, sub, i);
        if (s->fn == fn && s->ud == ud) {
            g_array_remove_index(n->subs, i);
            return;
        }
    }
}

void node_emit(node *n, const node_event *ev)
{
    /* A subscriber may unsubscribe from inside: walk a copy. */
    GArray *copy = g_array_copy(n->subs);
    for (guint i = 0; i < copy->len; i++) {
        sub *s = &g_array_index(copy, sub, i);
        s->fn(s->ud, ev);
    }
    g_array_unref(copy);
}

static void emit(node *n, node_ev_type type, const store_contact *c, const uint8_t *device,
                 const store_msg *m, const char *text)
{
    node_event ev = {.type = type,
                     .peer = c ? c->key : NULL,
                     .name = c ? c->name : NULL,
                     .device = device,
                     .msg = m,
                     .text = text};
    node_emit(n, &ev);
}

/* ---- the messenger's timer and callbacks ---- */

static gboolean on_retry(gpointer v)
{
    node *n = v;
    if (messenger_tick(n->mr))
        return G_SOURCE_CONTINUE;
    n->retry = 0;
    return G_SOURCE_REMOVE;
}

/* A timer only while copies are in flight: an idle node has none. */
static void arm_retry(node *n)
{
    if (!n->retry && messenger_inflight(n->mr))
        n->retry = g_timeout_add_seconds(5, on_retry, n);
}

static void on_received(void *ud, const store_contact *c, const store_device *d, const store_msg *m)
{
    emit(ud, NODE_EV_MESSAGE, c, d->key, m, NULL);
}

static void on_settled(void *ud, const store_contact *c, const store_msg *m)
{
    if (m->has_group) { /* no contact; a control message is nobody's business */
        node_event ev = {.type = NODE_EV_DELIVERED, .msg = m, .group = m->group};
        if (!(m->flags & STORE_MSG_GCTL))
            node_emit(ud, &ev);
        return;
    }
    emit(ud, NODE_EV_DELIVERED, c, NULL, m, NULL);
}

static void on_deferred(void *ud, const store_contact *c, const store_msg *m, const char *error)
{
    if (m->has_group) { /* as on_settled: no contact; control messages unsaid */
        node_event ev = {.type = NODE_EV_DEFERRED, .msg = m, .text = error, .group = m->group};
        if (!(m->flags & STORE_MSG_GCTL))
            node_emit(ud, &ev);
        return;
    }
    emit(ud, NODE_EV_DEFERRED, c, NULL, m, error);
}

/* ---- groups ---- */

static void on_group_message(void *ud, const store_msg *m)
{
    node *n = ud;
    node_event ev = {.type = NODE_EV_GROUP_MESSAGE,
                     .peer = m->contact,
                     .device = m->has_device ? m->device : NULL,
                     .msg = m,
                     .group = m->group};
    node_emit(n, &ev);
}

static void on_group_changed(void *ud, const uint8_t group[static GSTATE_ID_LEN])
{
    node *n = ud;
    node_event ev = {.type = NODE_EV_GROUP, .group = group};
    arm_retry(n); /* a change queues states and keys */
    node_emit(n, &ev);
}

/* An invitation refused at GROUPS_MAX: in the log and as an event, with
 * what makes room. */
static void on_group_refused(void *ud, const uint8_t device[static 32], const gstate *st)
{
    node *n = ud;
    char text[400];
    (void)device;
    snprintf(text, sizeof text,
             "refused an invitation to the group \"%s\" from %s: this node holds %d groups, the "
             "most it may; delete old ones (banter group list, banter group delete GROUP)",
             st->name, st->by, GROUPS_MAX);
    g_printerr("banter: %s\n", text);
    node_event ev = {.type = NODE_EV_GROUP, .group = st->group, .text = text};
    node_emit(n, &ev);
}

groups *node_groups(node *n) { return n->gr; }

void node_arm(node *n) { arm_retry(n); }

int node_group_received(node *n, const uint8_t device[static 32], const msg *m)
{
    int r = groups_received(n->gr, device, m);
    arm_retry(n);
    return r;
}

/* ---- transfers ---- */

static conn *xfer_conn_for(void *ud, const uint8_t peer[static 32])
{
    node *n = ud;
    return n->link.conn_for ? n->link.conn_for(n->link.ud, peer) : NULL;
}

static void xfer_event(void *ud, xfer_ev_type type, const xfer_info *info)
{
    node *n = ud;
    store_device d;
    store_contact c;
    bool known = store_device_get(n->st, info->peer, &d) == 0 &&
                 store_contact_get(n->st, d.contact, &c) == 0;
    node_event ev = {.type = NODE_EV_TRANSFER,
                     .peer = known ? c.key : NULL,
                     .name = known ? c.name : NULL,
                     .device = info->peer,
                     .xtype = type,
                     .xfer = info};
    node_emit(n, &ev);
}

/* A verified colleague's offer is accepted without asking when the
 * settings allow it and it fits the budgets (core/autoaccept.h); one that
 * does not waits for the person, with a line saying why. */
static bool xfer_auto(void *ud, const uint8_t peer[static 32], uint64_t size)
{
    node *n = ud;
    store_device d;
    if (n->pol_no_auto || !n->conf.auto_accept_verified || store_device_get(n->st, peer, &d) != 0 ||
        d.trust != TRUST_VERIFIED)
        return false;
    aa_limits lim = {.max_file = n->conf.auto_accept_max_bytes,
                     .per_day = n->conf.auto_accept_day_bytes,
                     .keep_free = n->conf.auto_accept_keep_free};
    int64_t now = clock_mono(&n->clock);
    aa_verdict v = autoaccept_check(n->aa, &lim, size, xfer_disk_room(n->xm), now);
    if (v != AA_YES) {
        char fp[IDENTITY_FP_LEN + 1];
        identity_fingerprint(peer, fp);
        g_printerr("banter: a file offer of %" PRIu64
                   " bytes from the device %s waits for you: %s\n",
                   size, fp, autoaccept_why(v));
        return false;
    }
    autoaccept_took(n->aa, size, now);
    return true;
}

/* An established colleague's device: one the organisation certifies now,
 * one the person verified, or a known one of a contact the person wrote
 * to (store_contact_written: a message to them alone, not a broadcast, a
 * group message or a plug-in's): none of these can a stranger make by
 * inventing keys, announcing itself or talking to a bot. */
static bool xfer_established(void *ud, const uint8_t peer[static 32])
{
    node *n = ud;
    store_device d;
    if (store_device_get(n->st, peer, &d) != 0)
        return false;
    switch (contacts_trust(&d, clock_wall(&n->clock))) {
    case TRUST_VERIFIED:
    case TRUST_CERTIFIED:
        return true;
    case TRUST_KNOWN:
        return store_contact_written(n->st, d.contact) == 0;
    default:
        return false;
    }
}

bool node_contact_established(node *n, const uint8_t contact[static 32])
{
    return contacts_established(n->cs, contact);
}

static uint64_t xfer_max_file(void *ud, const char **rule)
{
    node *n = ud;
    *rule = "the organisation's policy";
    return n->pol_max_file;
}

/* Delete the history older than the policy keeps. */
static gboolean on_retention(gpointer ud)
{
    node *n = ud;
    int64_t deleted = 0;
    int64_t before = clock_wall(&n->clock) - (int64_t)n->pol_history_days * 86400000;
    if (store_history_prune(n->st, before, &deleted) != 0)
        g_printerr("banter: cannot delete old history: %s\n", store_errmsg(n->st));
    else if (deleted > 0)
        g_printerr("banter: deleted %lld messages older than %u days (the organisation's "
                   "policy)\n",
                   (long long)deleted, n->pol_history_days);
    return G_SOURCE_CONTINUE;
}

void node_set_policy(node *n, uint64_t max_file, bool auto_accept, uint32_t history_days)
{
    n->pol_max_file = max_file;
    n->pol_no_auto = !auto_accept;
    n->pol_history_days = history_days;
    if (n->retention && !history_days) {
        g_source_remove(n->retention);
        n->retention = 0;
    }
    if (history_days) {
        (void)on_retention(n);
        if (!n->retention)
            n->retention = g_timeout_add_seconds(NODE_RETENTION_S, on_retention, n);
    }
}

/* ---- lifecycle ---- */

int node_new(node **out, const node_init *init, char *why, size_t cap)
{
    node *n = g_new0(node, 1);
    n->ctx = init->ctx;
    n->id = init->id;
    n->st = init->st;
    n->conf = *init->conf;
    n->clock = init->clock;
    g_strlcpy(n->name, init->name, sizeof n->name);
    g_strlcpy(n->server_fpd, init->server_fpd ? init->server_fpd : "", sizeof n->server_fpd);
    identity_fingerprint(identity_public(init->id), n->fp);
    n->subs = g_array_new(FALSE, FALSE, sizeof(sub));
    n->up = g_hash_table_new_full(key_hash, key_equal, g_free, g_free);
    n->org = g_hash_table_new_full(key_hash, key_equal, g_free, org_info_free);
    n->aa = autoaccept_new();
    messenger_callbacks mc = {on_received, on_settled, on_deferred};
    xfer_callbacks xc = {xfer_conn_for, xfer_event, xfer_auto, xfer_max_file, xfer_established};
    int r = n->aa ? contacts_new(&n->cs, n->st, n->server_fpd, &n->clock) : BANTER_ENOMEM;
    if (r == 0)
        r = messenger_new(&n->mr, n->st, n->cs, &n->clock, init->rng, &mc, n);
    if (r == 0) {
        groups_callbacks gc = {on_group_message, on_group_changed, on_group_refused};
        r = groups_new(&n->gr, n->st, n->cs, n->mr, &n->clock, init->rng, identity_public(init->id),
                       &gc, n);
    }
    if (r == 0) {
        r = xfer_mgr_new(&n->xm, n->st, n->conf.download_dir, &xc, n);
        if (r)
            snprintf(why, cap, "cannot load file transfers: %s", store_errmsg(n->st));
        else
            xfer_set_limits(n->xm, &(xfer_limits){.per_peer = n->conf.offers_per_peer,
                                                  .total = n->conf.offers_total,
                                                  .expiry_s = n->conf.offer_expiry_s,
                                                  .rate = n->conf.offer_rate,
                                                  .burst = n->conf.offer_burst,
                                                  .rate_all = n->conf.offer_rate_all,
                                                  .burst_all = n->conf.offer_burst_all});
    }
    if (r) {
        node_free(n);
        *out = NULL;
        return r;
    }
    *out = n;
    return 0;
}

void node_free(node *n)
{
    if (!n)
        return;
    if (n->retry)
        g_source_remove(n->retry);
    if (n->retention)
        g_source_remove(n->retention);
    if (n->vouch)
        g_source_remove(n->vouch);
    g_free(n->own);
    xfer_mgr_free(n->xm);
    autoaccept_free(n->aa);
    groups_free(n->gr);
    messenger_free(n->mr);
    contacts_free(n->cs);
    if (n->subs)
        g_array_unref(n->subs);
    if (n->up)
        g_hash_table_destroy(n->up);
    if (n->org)
        g_hash_table_destroy(n->org);
    g_free(n);
}

const char *node_fingerprint(const node *n) { return n->fp; }
const char *node_name(const node *n) { return n->name; }
uint16_t node_port(const node *n) { return n->port; }
void node_set_port(node *n, uint16_t port) { n->port = port; }
store *node_store(node *n) { return n->st; }
xfer_mgr *node_xfer(node *n) { return n->xm; }
messenger *node_messenger(node *n) { return n->mr; }
void node_set_link(node *n, const node_link *link) { n->link = *link; }

/* ---- what is known of presence ---- */

/* How many of the contact's devices are on the LAN now. */
static size_t lan_up_count(node *n, const uint8_t contact[static 32])
{
    store_device *devs = NULL;
    size_t k = 0, up = 0;
    if (store_device_list(n->st, contact, &devs, &k) != 0)
        return 0;
    for (size_t i = 0; i < k; i++)
        up += g_hash_table_contains(n->up, devs[i].key) ? 1u : 0u;
    free(devs);
    return up;
}

static const org_info *org_of(node *n, const uint8_t contact[static 32])
{
    return g_hash_table_lookup(n->org, contact);
}

static bool org_present(node *n, const uint8_t contact[static 32])
{
    const org_info *o = org_of(n, contact);
    return o && o->status[0] && strcmp(o->status, "offline") != 0;
}

bool node_device_online(node *n, const uint8_t device[static 32])
{
    return g_hash_table_contains(n->up, device);
}

bool node_device_trusted(node *n, const store_device *d)
{
    return contacts_device_trusted(d, clock_wall(&n->clock));
}

bool node_reachable(node *n, const uint8_t key[static 32])
{
    const org_info *o = org_of(n, key);
    return lan_up_count(n, key) > 0 || (n->relay_online && o && strcmp(o->state, "approved") == 0);
}

static void fill_device(node *n, const store_device *d, node_device_info *out)
{
    memset(out, 0, sizeof *out);
    out->dev = *d;
    out->dev.trust = contacts_trust(d, clock_wall(&n->clock)); /* lapsed: shown so */
    identity_fingerprint(d->key, out->fingerprint);
    const char *addr = g_hash_table_lookup(n->up, d->key);
    out->online = addr != NULL;
    g_strlcpy(out->address, addr ? addr : d->addresses, sizeof out->address);
    if (addr && n->link.path_for &&
        n->link.path_for(n->link.ud, d->key, out->route, sizeof out->route, out->path,
                         sizeof out->path))
        return;
    store_contact c;
    if (store_contact_get(n->st, d->contact, &c) == 0 && c.kind == CONTACT_ORG &&
        org_present(n, c.key) && n->relay_online &&
        contacts_device_trusted(d, clock_wall(&n->clock)))
        g_strlcpy(out->route, "server", sizeof out->route);
}

static void fill_info(node *n, const store_contact *c, node_peer_info *out)
{
    store_device *devs = NULL;
    size_t k = 0;
    memset(out, 0, sizeof *out);
    out->contact = *c;
    out->trust = c->kind == CONTACT_ORG ? TRUST_CERTIFIED : TRUST_KNOWN;
    g_strlcpy(out->source, c->kind == CONTACT_ORG ? "rendezvous" : "lan", sizeof out->source);
    if (store_device_list(n->st, c->key, &devs, &k) == 0) {
        /* Connected devices first, then the rest in the order first seen. */
        for (int pass = 0; pass < 2; pass++)
            for (size_t i = 0; i < k && out->ndev < NODE_MAX_DEVICES; i++)
                if (g_hash_table_contains(n->up, devs[i].key) == (pass == 0))
                    fill_device(n, &devs[i], &out->devs[out->ndev++]);
        free(devs);
    }
    for (size_t i = 0; i < out->ndev; i++) {
        const node_device_info *d = &out->devs[i];
        out->online |= d->online;
        if (d->dev.last_seen_ms > out->last_seen_ms)
            out->last_seen_ms = d->dev.last_seen_ms;
        if (d->dev.trust == TRUST_CHANGED) {
            out->trust = TRUST_CHANGED;
            if (d->dev.has_replaces)
                identity_fingerprint(d->dev.replaces, out->replaces);
        }
    }
    if (c->kind == CONTACT_ORG && out->trust != TRUST_CHANGED && out->ndev) {
        /* The account's trust as its devices have it now: lapsed when the
         * organisation vouches for none of them any more. */
        bool vouched = false, lapsed = false;
        for (size_t i = 0; i < out->ndev; i++) {
            store_trust t = out->devs[i].dev.trust;
            vouched |= t == TRUST_CERTIFIED || t == TRUST_VERIFIED;
            lapsed |= t == TRUST_LAPSED;
        }
        if (lapsed && !vouched)
            out->trust = TRUST_LAPSED;
    }
    if (out->ndev) {
        const node_device_info *first = &out->devs[0];
        g_strlcpy(out->fingerprint, first->fingerprint, sizeof out->fingerprint);
        g_strlcpy(out->address, first->address, sizeof out->address);
        if (c->kind == CONTACT_LAN) {
            g_strlcpy(out->source, first->dev.source, sizeof out->source);
            if (out->trust != TRUST_CHANGED)
                out->trust = first->dev.trust;
        }
    }
    if (c->kind == CONTACT_ORG) {
        g_strlcpy(out->org_server, n->server_fpd, sizeof out->org_server);
        const org_info *o = org_of(n, c->key);
        g_strlcpy(out->status, o && o->status[0] ? o->status : "offline", sizeof out->status);
        if (o) {
            g_strlcpy(out->status_text, o->text, sizeof out->status_text);
            g_strlcpy(out->state, o->state, sizeof out->state);
            g_strlcpy(out->display_name, o->display_name, sizeof out->display_name);
        }
        out->online |= org_present(n, c->key);
    }
}

typedef struct adv_ctx {
    node *n;
    node_peer_info **out;
    size_t *count;
    int err;
} adv_ctx;

/* Colleagues advertised on the LAN that we have never talked to: listed
 * with trust "new" (their key is not proven until a handshake). */
static void add_advertised(void *ud, const char *fpd, const char *name, const char *addr)
{
    adv_ctx *a = ud;
    store_device *devs = NULL;
    size_t k = 0;
    if (a->err || store_device_list(a->n->st, NULL, &devs, &k) != 0)
        return;
    bool known = false;
    for (size_t i = 0; i < k && !known; i++) {
        char fp[IDENTITY_FP_LEN + 1], d[IDENTITY_FP_DIGITS + 1];
        identity_fingerprint(devs[i].key, fp);
        size_t o = 0;
        for (const char *p = fp; *p; p++)
            if (*p != ' ')
                d[o++] = *p;
        d[o] = '\0';
        known = strcmp(d, fpd) == 0;
    }
    free(devs);
    if (known)
        return;
    node_peer_info *grown = realloc(*a->out, (*a->count + 1) * sizeof **a->out);
    if (!grown) {
        a->err = BANTER_ENOMEM;
        return;
    }
    *a->out = grown;
    node_peer_info *pi = &(*a->out)[(*a->count)++];
    memset(pi, 0, sizeof *pi);
    for (size_t g = 0, o = 0; g < IDENTITY_FP_GROUPS; g++) {
        if (g)
            pi->fingerprint[o++] = ' ';
        memcpy(pi->fingerprint + o, fpd + 5 * g, 5);
        o += 5;
    }
    g_strlcpy(pi->contact.name, name, sizeof pi->contact.name);
    g_strlcpy(pi->source, "lan", sizeof pi->source);
    pi->trust = TRUST_NEW;
    g_strlcpy(pi->address, addr, sizeof pi->address);
}

int node_peers(node *n, node_peer_info **out, size_t *count)
{
    store_contact *all = NULL;
    size_t k = 0;
    *out = NULL;
    *count = 0;
    int r = store_contact_list(n->st, &all, &k);
    if (r)
        return r;
    if (k) {
        *out = calloc(k, sizeof **out);
        if (!*out) {
            free(all);
            return BANTER_ENOMEM;
        }
    }
    size_t o = 0;
    for (size_t i = 0; i < k; i++) /* the node's own account is no peer */
        if (!contacts_is_self(n->cs, &all[i]))
            fill_info(n, &all[i], &(*out)[o++]);
    *count = o;
    free(all);
    adv_ctx a = {n, out, count, 0};
    if (n->link.each_advertised)
        n->link.each_advertised(n->link.ud, add_advertised, &a);
    return a.err;
}

int node_peer_info_get(node *n, const uint8_t key[static 32], node_peer_info *out)
{
    store_contact c;
    int r = store_contact_get(n->st, key, &c);
    if (r)
        return r;
    fill_info(n, &c, out);
    return 0;
}

int node_resolve(node *n, const char *query, uint8_t key[static 32], uint8_t *dev, bool *has_dev,
                 char *why, size_t cap)
{
    bool hd = false;
    int r = contacts_resolve(n->cs, query, key, dev, &hd, why, cap);
    if (has_dev)
        *has_dev = hd;
    return r;
}

/* ---- sending ---- */

/* An organisation account takes messages while it is an approved contact
 * (the server refuses others) or while one of its devices is on the LAN.
 * While the node is not logged in and the server has said nothing of the
 * account since the node started (it is down, or not reached yet), they
 * are queued, as before schema 4: the relay sends them once the server
 * lists the account as approved (a device met on the LAN may take them
 * first). */
static int may_send(node *n, const uint8_t key[static 32])
{
    store_contact c;
    int r = store_contact_get(n->st, key, &c);
    if (r)
        return r;
    if (c.kind != CONTACT_ORG)
        return 0;
    if (contacts_is_self(n->cs, &c))
        return BANTER_EPERM; /* its devices get copies of every conversation */
    const org_info *o = org_of(n, key);
    if ((o && strcmp(o->state, "approved") == 0) || lan_up_count(n, key) > 0)
        return 0;
    if (!o && !n->relay_online && n->server_fpd[0])
        return 0;
    return BANTER_EPERM;
}

int node_send(node *n, const uint8_t key[static 32], const char *text, size_t len,
              uint8_t id[static MSG_ID_LEN])
{
    return node_send_as(n, key, text, len, 0, id);
}

int node_send_as(node *n, const uint8_t key[static 32], const char *text, size_t len,
                 unsigned flags, uint8_t id[static MSG_ID_LEN])
{
    int r = may_send(n, key);
    if (r == 0)
        r = messenger_send_as(n->mr, key, text, len, flags, id);
    arm_retry(n);
    return r;
}

static bool broadcast_ok(void *ud, const store_contact *c) { return may_send(ud, c->key) == 0; }

int node_broadcast(node *n, const char *text, size_t len, uint8_t id[static MSG_ID_LEN],
                   size_t *count)
{
    int r = messenger_broadcast(n->mr, text, len, broadcast_ok, n, id, count);
    arm_retry(n);
    return r;
}

int node_verify(node *n, const uint8_t key[static 32], const uint8_t *device, char *note,
                size_t cap)
{
    int r = contacts_verify(n->cs, key, device, note, cap);
    if (r == 0) {
        messenger_kick(n->mr, key);
        arm_retry(n);
    }
    return r;
}

int node_file_device(node *n, const uint8_t key[static 32], uint8_t dev[static 32], char *why,
                     size_t cap)
{
    store_device *devs = NULL;
    size_t k = 0;
    int r = store_device_list(n->st, key, &devs, &k);
    if (r)
        return r;
    /* A connected trusted device first; else the one seen last. */
    const store_device *pick = NULL;
    for (size_t i = 0; i < k; i++) {
        if (!contacts_device_trusted(&devs[i], clock_wall(&n->clock)))
            continue;
        bool up = g_hash_table_contains(n->up, devs[i].key);
        if (!pick || (up && !g_hash_table_contains(n->up, pick->key)) ||
            (!g_hash_table_contains(n->up, pick->key) && devs[i].last_seen_ms > pick->last_seen_ms))
            pick = &devs[i];
    }
    if (pick)
        memcpy(dev, pick->key, 32);
    else
        snprintf(why, cap, "no device of this contact is known to take files yet");
    free(devs);
    return pick ? 0 : BANTER_ENOENT;
}

/* ---- from the LAN ---- */

static int contact_of(node *n, const uint8_t device[static 32], store_contact *c)
{
    store_device d;
    int r = store_device_get(n->st, device, &d);
    return r ? r : store_contact_get(n->st, d.contact, c);
}

/* node_device_hello, saying in *what what the admission changed. */
static int admit(node *n, const uint8_t key[static 32], const char *name, const char *source,
                 const char *addr, const char *account, int64_t expires_ms, contacts_admitted *what)
{
    contacts_admit_result res;
    int r = contacts_admit(n->cs, key, name, source, addr, account, expires_ms, &res);
    *what = res.what;
    if (r) {
        if (r == BANTER_EINVAL)
            g_printerr("banter: a device's name has nothing visible in it (or is not UTF-8): "
                       "not admitted\n");
        else
            g_printerr("banter: cannot admit a device: %s\n", banter_strerror(r));
        return r;
    }
    if (res.text[0])
        g_printerr("banter: %s\n", res.text);
    switch (res.what) {
    case ADMIT_CHANGED:
        emit(n, NODE_EV_KEY_CHANGED, &res.contact, key, NULL, res.text);
        break;
    case ADMIT_RENAMED:
        emit(n, NODE_EV_RENAMED, &res.contact, key, NULL, res.text);
        break;
    case ADMIT_NEW:
    case ADMIT_JOINED:
    case ADMIT_LAPSED:
        emit(n, NODE_EV_CONTACTS, &res.contact, key, NULL, res.text[0] ? res.text : NULL);
        break;
    case ADMIT_SAME:
        break;
    }
    return 0;
}

int node_device_hello(node *n, const uint8_t key[static 32], const char *name, const char *source,
                      const char *addr, const char *account, int64_t expires_ms)
{
    contacts_admitted what;
    return admit(n, key, name, source, addr, account, expires_ms, &what);
}

int node_announcement(node *n, const ann_msg *m)
{
    store_ann *a = g_malloc0(sizeof *a);
    a->id = m->id;
    a->ts_ms = m->ts_ms;
    a->received_ms = clock_wall(&n->clock);
    g_strlcpy(a->department, m->department, sizeof a->department);
    g_strlcpy(a->text, m->text, sizeof a->text);
    int r = store_ann_add(n->st, a);
    if (r < 0) {
        g_printerr("banter: cannot keep an announcement: %s\n", banter_strerror(r));
    } else if (r == 0) {
        node_event ev = {.type = NODE_EV_ANNOUNCE, .ann = a, .text = a->text};
        node_emit(n, &ev);
        r = 0;
    } else {
        r = 0; /* kept before: the server did not hear our receipt */
    }
    g_free(a);
    return r;
}

int node_announcement_read(node *n, int64_t id)
{
    int r = store_ann_read(n->st, id, clock_wall(&n->clock));
    if (r == 0 && n->ann_tell && n->ann_tell(n->ann_tell_ud, id) == 0)
        r = store_ann_told(n->st, id);
    return r == 1 ? 0 : r;
}

void node_set_ann_teller(node *n, int (*fn)(void *ud, int64_t id), void *ud)
{
    n->ann_tell = fn;
    n->ann_tell_ud = ud;
}

void node_announcements_retell(node *n)
{
    int64_t ids[64];
    size_t k = 0;
    if (!n->ann_tell || store_ann_untold(n->st, ids, 64, &k) != 0)
        return;
    for (size_t i = 0; i < k; i++)
        if (n->ann_tell(n->ann_tell_ud, ids[i]) != 0 || store_ann_told(n->st, ids[i]) != 0)
            break;
}

bool node_device_revoked(node *n, const uint8_t key[static 32])
{
    contacts_admit_result res;
    int r = contacts_revoked(n->cs, key, &res);
    if (r < 0) {
        g_printerr("banter: cannot apply a revocation: %s\n", banter_strerror(r));
    } else if (r == 1) {
        g_printerr("banter: %s\n", res.text);
        emit(n, NODE_EV_CONTACTS, &res.contact, key, NULL, res.text);
    }
    return r != 0;
}

void node_set_revoked(node *n, bool (*fn)(void *ud, const uint8_t key[static 32]), void *ud)
{
    contacts_set_revoked(n->cs, fn, ud);
}

void node_device_cert(node *n, const uint8_t key[static 32], const char *name, const char *account,
                      int64_t expires_ms)
{
    store_device d;
    contacts_admitted what;
    /* Only a device that became the account's has messages to take now
     * (a renewal changes nothing). */
    if (store_device_get(n->st, key, &d) == 0 &&
        admit(n, key, name, d.source, d.addresses, account, expires_ms, &what) == 0 &&
        what != ADMIT_SAME)
        messenger_kick(n->mr, NULL);
}

void node_device_up(node *n, const uint8_t key[static 32], const char *addr)
{
    store_contact c;
    if (contact_of(n, key, &c) != 0)
        return;
    bool was = lan_up_count(n, c.key) > 0 || org_present(n, c.key);
    g_hash_table_replace(n->up, g_memdup2(key, 32), g_strdup(addr));
    /* Already reachable (through the server, or another device): ONLINE
     * again says how it is reached changed (peers shows the route). */
    emit(n, NODE_EV_ONLINE, &c, key, NULL, was ? "a device is connected" : NULL);
    messenger_kick(n->mr, c.key);
    arm_retry(n);
    xfer_peer_online(n->xm, key);
}

void node_device_down(node *n, const uint8_t key[static 32])
{
    store_contact c;
    if (!g_hash_table_remove(n->up, key))
        return;
    messenger_route_lost(n->mr, "lan", key);
    messenger_route_lost(n->mr, "ice", key);
    arm_retry(n);
    if (n->xm)
        xfer_peer_offline(n->xm, key);
    if (contact_of(n, key, &c) != 0)
        return;
    if (lan_up_count(n, c.key) == 0 && !org_present(n, c.key))
        emit(n, NODE_EV_OFFLINE, &c, key, NULL, NULL);
    else /* still reachable, by another way: the route changed */
        emit(n, NODE_EV_ONLINE, &c, key, NULL, "a device's connection ended");
}

void node_device_drained(node *n, const uint8_t key[static 32])
{
    store_contact c;
    if (contact_of(n, key, &c) == 0)
        messenger_kick(n->mr, c.key);
    arm_retry(n);
    xfer_drained(n->xm, key);
}

/* ---- from the rendezvous ---- */

void node_org_update(node *n, const node_org_entry *e)
{
    store_contact c;
    uint8_t key[32];
    contacts_account_key(n->server_fpd, e->account, key);
    bool approved = strcmp(e->state, "approved") == 0, removed = false;
    if (approved) {
        if (contacts_org_devices(n->cs, e->account, e->devs, e->ndev, &c, &removed) != 0)
            return;
        if (removed)
            messenger_devices_changed(n->mr, key);
    } else if (store_contact_get(n->st, key, &c) != 0) {
        memset(&c, 0, sizeof c); /* not (yet) a contact in the store: presence only */
        memcpy(c.key, key, 32);
        c.kind = CONTACT_ORG;
        g_strlcpy(c.account, e->account, sizeof c.account);
        g_strlcpy(c.name, e->account, sizeof c.name);
    }
    org_info *o = g_hash_table_lookup(n->org, key);
    if (!e->state[0]) {
        bool was = o && org_present(n, key);
        g_hash_table_remove(n->org, key);
        if (was && lan_up_count(n, key) == 0)
            emit(n, NODE_EV_OFFLINE, &c, NULL, NULL, NULL);
        return;
    }
    if (!o) {
        o = g_new0(org_info, 1);
        g_hash_table_insert(n->org, g_memdup2(key, 32), o);
    }
    const char *status = approved ? e->status : "offline";
    bool was = org_present(n, key) || lan_up_count(n, key) > 0;
    bool changed = strcmp(o->status, status) != 0 || strcmp(o->text, e->text) != 0;
    g_strlcpy(o->state, e->state, sizeof o->state);
    g_strlcpy(o->status, status, sizeof o->status);
    g_strlcpy(o->text, e->text, sizeof o->text);
    g_strlcpy(o->display_name, e->display_name ? e->display_name : "", sizeof o->display_name);
    g_free(o->devs); /* what on_vouch takes as listed again */
    o->devs = approved && e->ndev ? g_memdup2(e->devs, e->ndev * 32) : NULL;
    o->ndev = o->devs ? e->ndev : 0;
    bool now = org_present(n, key) || lan_up_count(n, key) > 0;
    if (was != now)
        emit(n, now ? NODE_EV_ONLINE : NODE_EV_OFFLINE, &c, NULL, NULL, NULL);
    if (changed) {
        node_event ev = {.type = NODE_EV_PRESENCE,
                         .peer = c.key,
                         .name = c.name,
                         .text = o->text,
                         .status = o->status};
        node_emit(n, &ev);
    }
    if (approved)
        messenger_kick(n->mr, key);
    arm_retry(n);
}

void node_org_offline(node *n)
{
    GHashTableIter it;
    gpointer k, v;
    GPtrArray *gone = g_ptr_array_new_with_free_func(g_free);
    g_hash_table_iter_init(&it, n->org);
    while (g_hash_table_iter_next(&it, &k, &v))
        if (strcmp(((org_info *)v)->status, "offline") != 0)
            g_ptr_array_add(gone, g_memdup2(k, 32));
    for (guint i = 0; i < gone->len; i++) {
        const uint8_t *key = g_ptr_array_index(gone, i);
        org_info *o = g_hash_table_lookup(n->org, key);
        store_contact c;
        g_strlcpy(o->status, "offline", sizeof o->status);
        if (store_contact_get(n->st, key, &c) != 0)
            continue;
        if (lan_up_count(n, key) == 0)
            emit(n, NODE_EV_OFFLINE, &c, NULL, NULL, NULL);
        node_event ev = {.type = NODE_EV_PRESENCE,
                         .peer = c.key,
                         .name = c.name,
                         .text = o->text,
                         .status = o->status};
        node_emit(n, &ev);
    }
    g_ptr_array_free(gone, TRUE);
}

int node_org_device(node *n, const char *account, const uint8_t dev[static 32])
{
    const uint8_t(*one)[32] = (const uint8_t(*)[32])dev;
    return contacts_org(n->cs, account, one, 1, NULL);
}

void node_set_account(node *n, const char *account)
{
    contacts_set_self(n->cs, account, identity_public(n->id));
}

void node_self_update(node *n, const uint8_t (*devs)[32], size_t ndev)
{
    store_contact self;
    g_free(n->own);
    n->own = ndev ? g_memdup2(devs, ndev * 32) : NULL;
    n->nown = n->own ? ndev : 0;
    int r = contacts_self_devices(n->cs, devs, ndev);
    if (r == 0)
        r = contacts_self(n->cs, &self);
    if (r) {
        g_printerr("banter: cannot keep this account's other devices: %s\n", banter_strerror(r));
        return;
    }
    messenger_kick(n->mr, self.key); /* copies for a device that appeared: every conversation */
    arm_retry(n);
}

bool node_org_online(const node *n) { return n->relay_online; }

/* While the node is logged in, the server's lists of its approved
 * contacts' devices and of its own still hold (it sends every change on
 * the session): they are taken as listed again, so those devices do not
 * lapse a day after the lists came at login. Only the devices the lists
 * name: one certified on the LAN alone is vouched for by its certificate. */
static gboolean on_vouch(gpointer ud)
{
    node *n = ud;
    GHashTableIter it;
    gpointer k, v;
    if (!n->relay_online)
        return G_SOURCE_CONTINUE;
    g_hash_table_iter_init(&it, n->org);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const org_info *o = v;
        store_contact c;
        if (o->ndev && strcmp(o->state, "approved") == 0 && store_contact_get(n->st, k, &c) == 0 &&
            c.kind == CONTACT_ORG &&
            contacts_org(n->cs, c.account, (const uint8_t(*)[32])o->devs, o->ndev, NULL) != 0)
            g_printerr("banter: cannot keep the server's word for %s's devices\n", c.account);
    }
    store_contact self;
    if (n->nown && contacts_self(n->cs, &self) == 0 &&
        contacts_org(n->cs, self.account, (const uint8_t(*)[32])n->own, n->nown, NULL) != 0)
        g_printerr("banter: cannot keep the server's word for this account's devices\n");
    return G_SOURCE_CONTINUE;
}

void node_org_session(node *n, bool logged_in)
{
    n->relay_online = logged_in;
    if (logged_in && !n->vouch)
        n->vouch = g_timeout_add_seconds(NODE_VOUCH_S, on_vouch, n);
    if (!logged_in && n->vouch) {
        g_source_remove(n->vouch);
        n->vouch = 0;
    }
    if (logged_in)
        return;
    /* Only the lists of the session to come hold then. */
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, n->org);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        org_info *o = v;
        g_free(o->devs);
        o->devs = NULL;
        o->ndev = 0;
    }
    g_free(n->own);
    n->own = NULL;
    n->nown = 0;
    node_org_offline(n);
}
