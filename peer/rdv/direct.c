/* SPDX-License-Identifier: MIT */
/* direct.c - direct connections to organisation contacts, wired (see direct.h). */
#include "rdv/direct.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/contacts.h"
#include "icecand.h"
#include "net/icelink.h"

struct direct {
    GMainContext *ctx;
    node *n;
    rdv *r;
    lan *l;
    uint8_t self[32];
    char server_fpd[IDENTITY_FP_DIGITS + 1];
    icelink *il;
    struct rv_ice_servers servers;
    bool have_servers;
    guint scan_timer, scan_idle;
    bool subscribed;
    bool off; /* banter.conf: ice = no */
    /* The account this node last logged in as: its other devices may be
     * reached directly (kept while the server is away: a path does not
     * need it). */
    char own[BANTER_MAX_NAME + 1];
};

/* ---- what to reach ---- */

static bool approved_online(const node_peer_info *pi)
{
    return pi->contact.kind == CONTACT_ORG && strcmp(pi->state, "approved") == 0 &&
           strcmp(pi->status, "offline") != 0;
}

/* The self contact (the node's own account, user) in pi: its devices
 * are the account's other devices the server listed. false when it is
 * not known. */
static bool own_account(direct *d, const char *user, node_peer_info *pi)
{
    uint8_t key[32];
    contacts_account_key(d->server_fpd, user, key);
    return node_peer_info_get(d->n, key, pi) == 0 && pi->contact.kind == CONTACT_ORG &&
           strcmp(pi->contact.account, user) == 0;
}

/* Whether dev is to be reached: a trusted device, not this one, with no
 * connection now. */
static bool to_reach(direct *d, const store_device *dev)
{
    return node_device_trusted(d->n, dev) && memcmp(dev->key, d->self, 32) != 0 &&
           !lan_conn(d->l, dev->key);
}

/* The account's other devices that the server lists as connected now
 * (rdv_own_online; a server that does not say: all of them, and an offer
 * to one that is not connected gets EOFFLINE, icelink's backoff spacing
 * the next). Whether one is not connected. */
static bool scan_own(direct *d, const char *user)
{
    node_peer_info *pi = g_new0(node_peer_info, 1);
    bool waiting = false;
    if (own_account(d, user, pi))
        for (size_t j = 0; j < pi->ndev; j++)
            if (to_reach(d, &pi->devs[j].dev) && rdv_own_online(d->r, pi->devs[j].dev.key) != 0) {
                icelink_want(d->il, user, pi->devs[j].dev.key);
                waiting = true;
            }
    g_free(pi);
    return waiting;
}

/* Hand every device to reach to icelink; whether one is not connected
 * yet (then the timer looks again). */
static bool scan(direct *d)
{
    node_peer_info *all = NULL;
    size_t k = 0;
    rdv_status st;
    bool waiting = false;
    if (!d->r || !d->il || d->off)
        return false;
    rdv_get_status(d->r, &st);
    if (st.user[0])
        g_strlcpy(d->own, st.user, sizeof d->own);
    /* The servers come right after the login: an offer made before would
     * have no server-reflexive or relayed candidate. */
    if (!st.connected || !st.user[0] || !d->have_servers || node_peers(d->n, &all, &k) != 0) {
        free(all);
        return false;
    }
    for (size_t i = 0; i < k; i++) {
        const node_peer_info *pi = &all[i];
        if (!approved_online(pi))
            continue;
        for (size_t j = 0; j < pi->ndev; j++) {
            const store_device *dev = &pi->devs[j].dev;
            if (to_reach(d, dev)) {
                icelink_want(d->il, pi->contact.account, dev->key);
                waiting = true;
            }
        }
    }
    free(all);
    return scan_own(d, st.user) || waiting;
}

/* The timer runs only while a device waits for a path: an idle node
 * (everyone reached, or nobody to reach) does not wake up. */
static gboolean on_scan_timer(gpointer v)
{
    direct *d = v;
    if (scan(d))
        return G_SOURCE_CONTINUE;
    d->scan_timer = 0;
    return G_SOURCE_REMOVE;
}

static gboolean on_scan_idle(gpointer v)
{
    direct *d = v;
    d->scan_idle = 0;
    icelink_recheck(d->il); /* a contact removed or blocked: its path ends */
    if (scan(d) && !d->scan_timer)
        d->scan_timer = g_timeout_add(DIRECT_SCAN_MS, on_scan_timer, d);
    return G_SOURCE_REMOVE;
}

static void on_node_event(void *ud, const node_event *ev)
{
    direct *d = ud;
    if (ev->type == NODE_EV_RENDEZVOUS && d->r) {
        rdv_status st;
        rdv_get_status(d->r, &st);
        if (!st.connected || !st.user[0])
            d->have_servers = false; /* the next session sends them again */
    }
    if ((ev->type == NODE_EV_ONLINE || ev->type == NODE_EV_PRESENCE ||
         ev->type == NODE_EV_CONTACTS || ev->type == NODE_EV_OFFLINE ||
         ev->type == NODE_EV_RENDEZVOUS) &&
        !d->scan_idle)
        d->scan_idle = g_idle_add(on_scan_idle, d);
}

/* The server said which of the account's devices are connected: those
 * that came are offered to (the next scan), those gone no longer are. */
static void on_own_devices(void *ud)
{
    direct *d = ud;
    if (!d->scan_idle)
        d->scan_idle = g_idle_add(on_scan_idle, d);
}

/* ---- icelink's callbacks ---- */

static int il_signal(void *ud, const rvmsg *m)
{
    direct *d = ud;
    return d->r ? rdv_send(d->r, m) : BANTER_ESTATE;
}

/* A trusted device of an approved contact with that account, or of the
 * node's own account (logged in now): the server lists both. */
static bool il_allowed(void *ud, const char *account, const uint8_t dev[static 32])
{
    direct *d = ud;
    uint8_t key[32];
    node_peer_info *pi = g_new0(node_peer_info, 1);
    bool ok = false;
    bool own = d->own[0] && strcmp(d->own, account) == 0;
    contacts_account_key(d->server_fpd, account, key);
    if (node_peer_info_get(d->n, key, pi) == 0 && pi->contact.kind == CONTACT_ORG &&
        strcmp(pi->contact.account, account) == 0 && (own || strcmp(pi->state, "approved") == 0))
        for (size_t i = 0; i < pi->ndev && !ok; i++)
            ok = memcmp(pi->devs[i].dev.key, dev, 32) == 0 &&
                 node_device_trusted(d->n, &pi->devs[i].dev);
    g_free(pi);
    return ok;
}

static int il_adopt(void *ud, const uint8_t dev[static 32], conn_transport_fn make, void *arg,
                    bool initiator, const char *addr)
{
    direct *d = ud;
    return lan_adopt(d->l, make, arg, initiator, dev, addr);
}

static void il_again(void *ud)
{
    direct *d = ud;
    if (d->r && !d->scan_timer)
        d->scan_timer = g_timeout_add(DIRECT_SCAN_MS, on_scan_timer, d);
}

static void il_log(void *ud, const char *text)
{
    direct *d = ud;
    g_printerr("banter: %s\n", text);
    node_event ev = {.type = NODE_EV_RENDEZVOUS, .text = text};
    node_emit(d->n, &ev);
}

/* ---- the rendezvous ---- */

static void on_ice(void *ud, const rvmsg *m)
{
    direct *d = ud;
    if (m->type == RV_ICE_SERVERS) {
        d->servers = m->u.ice_servers;
        d->have_servers = true;
        icelink_set_servers(d->il, &m->u.ice_servers);
        if (!d->scan_idle)
            d->scan_idle = g_idle_add(on_scan_idle, d);
        return;
    }
    if (!d->off)
        icelink_signal(d->il, m);
}

/* ---- lifecycle ---- */

direct *direct_new(GMainContext *ctx, node *n, rdv *r, lan *l, const identity *id,
                   const char *server_fpd)
{
    static const icelink_callbacks cb = {il_signal, il_allowed, il_adopt, il_log, il_again};
    direct *d = g_new0(direct, 1);
    d->ctx = ctx;
    d->n = n;
    d->r = r;
    d->l = l;
    memcpy(d->self, identity_public(id), 32);
    g_strlcpy(d->server_fpd, server_fpd, sizeof d->server_fpd);
    d->il = icelink_new(ctx, d->self, &cb, d);
    rdv_set_ice_hook(r, on_ice, d);
    rdv_set_own_hook(r, on_own_devices, d);
    node_subscribe(n, on_node_event, d);
    d->subscribed = true;
    return d;
}

void direct_detach(direct *d)
{
    if (!d || !d->r)
        return;
    rdv_set_ice_hook(d->r, NULL, NULL);
    rdv_set_own_hook(d->r, NULL, NULL);
    d->r = NULL;
    if (d->subscribed)
        node_unsubscribe(d->n, on_node_event, d);
    d->subscribed = false;
    if (d->scan_timer)
        g_source_remove(d->scan_timer);
    if (d->scan_idle)
        g_source_remove(d->scan_idle);
    d->scan_timer = d->scan_idle = 0;
    icelink_reset(d->il);
}

void direct_free(direct *d)
{
    if (!d)
        return;
    direct_detach(d);
    icelink_free(d->il);
    memset(&d->servers, 0, sizeof d->servers);
    g_free(d);
}

void direct_set_ice(direct *d, bool on)
{
    if (d)
        d->off = !on;
}

bool direct_path(direct *d, const uint8_t dev[static 32], char *route, size_t rcap, char *text,
                 size_t tcap)
{
    return d && d->il && icelink_path(d->il, dev, route, rcap, text, tcap);
}

int direct_check(direct *d, void (*line)(void *ud, const char *text),
                 void (*done)(void *ud, int err), void *ud)
{
    if (!d->have_servers || (!d->servers.nstun && !d->servers.nturn))
        return BANTER_ENOENT;
    return icelink_check(d->il, line, done, ud);
}

void direct_servers(direct *d, char *out, size_t cap, int64_t *cred_expires_ms)
{
    size_t o = 0;
    out[0] = '\0';
    *cred_expires_ms = d->have_servers && d->servers.nturn ? d->servers.expires_ms : 0;
    for (size_t i = 0; d->have_servers && i < d->servers.nstun + d->servers.nturn; i++) {
        const char *u =
            i < d->servers.nstun ? d->servers.stun[i] : d->servers.turn[i - d->servers.nstun];
        int w = snprintf(out + o, cap - o, "%s%s", o ? " " : "", u);
        if (w < 0 || (size_t)w >= cap - o)
            break;
        o += (size_t)w;
    }
}

/* url as a STUN vantage point: false for a bad URL or TURN over TCP only. */
static bool stun_point(const char *url, stun_addr *a)
{
    icecand_url u;
    if (icecand_parse_url(url, &u) != 0 || (u.turn && u.transport == ICECAND_URL_TCP))
        return false;
    memset(a, 0, sizeof *a);
    a->port = u.port;
    if (inet_pton(AF_INET, u.host, a->ip) == 1)
        a->family = 4;
    else if (inet_pton(AF_INET6, u.host, a->ip) == 1)
        a->family = 6;
    return a->family != 0;
}

size_t direct_stun_points(direct *d, stun_addr *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; d && d->have_servers && i < d->servers.nstun + d->servers.nturn; i++) {
        const char *u =
            i < d->servers.nstun ? d->servers.stun[i] : d->servers.turn[i - d->servers.nstun];
        stun_addr a;
        bool dup = false;
        if (n >= max || !stun_point(u, &a) || (n && a.family != out[0].family))
            continue;
        for (size_t k = 0; k < n; k++)
            dup = dup || stun_addr_equal(&a, &out[k]);
        if (!dup)
            out[n++] = a;
    }
    return n;
}
