/* SPDX-License-Identifier: MIT */
/* xinst.c - the server's side of a cluster (see xinst.h). */
#include "xinst.h"

#include <stdlib.h>
#include <string.h>

#include "announce.h"
#include "auth.h"
#include "cluster.h"
#include "contacts.h"
#include "mailbox.h"
#include "online.h"
#include "orgpolicy.h"
#include "orgrevoke.h"
#include "xlink.h"

/* The accounts online on some instance, as the shared tables last said:
 * a hash table with chaining (names are chosen by admins, FNV-1a does). */
struct rpres {
    struct rpres *next;
    uint64_t gen;   /* the full read that last saw it (xi->gen) */
    uint8_t status; /* rv_presence as contacts see it: never OFFLINE here */
    char *text;     /* owned; NULL for "" */
    char name[];
};

struct xinst {
    struct rpres **b;
    size_t nb, n;
    uint64_t gen; /* the full read in progress */
};

static uint32_t hash_name(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static struct rpres **slot(const xinst *xi, const char *name)
{
    struct rpres **pp = &xi->b[hash_name(name) & (xi->nb - 1)];
    while (*pp && strcmp((*pp)->name, name) != 0)
        pp = &(*pp)->next;
    return pp;
}

static void grow(xinst *xi)
{
    size_t nb = xi->nb * 2;
    struct rpres **b = calloc(nb, sizeof *b);
    if (!b)
        return; /* longer chains; still right */
    for (size_t i = 0; i < xi->nb; i++)
        for (struct rpres *e = xi->b[i], *next; e; e = next) {
            next = e->next;
            e->next = b[hash_name(e->name) & (nb - 1)];
            b[hash_name(e->name) & (nb - 1)] = e;
        }
    free(xi->b);
    xi->b = b;
    xi->nb = nb;
}

static void rpres_free(struct rpres *e)
{
    free(e->text);
    free(e);
}

/* Record name's presence: online somewhere (shown to contacts as st:
 * OFFLINE when invisible) or not at all (forgotten). Whether what contacts
 * see changed. */
static bool rpres_set(xinst *xi, const char *name, bool on, rv_presence st, const char *text)
{
    struct rpres **pp = slot(xi, name), *e = *pp;
    const char *now = st == RV_P_OFFLINE ? "" : text;
    if (!on) {
        if (!e)
            return false;
        bool was = e->status != RV_P_OFFLINE;
        *pp = e->next;
        rpres_free(e);
        xi->n--;
        return was;
    }
    if (e) {
        e->gen = xi->gen;
        if (e->status == st && strcmp(e->text ? e->text : "", now) == 0)
            return false;
    } else {
        size_t len = strlen(name);
        e = calloc(1, sizeof *e + len + 1);
        if (!e)
            return st != RV_P_OFFLINE; /* shown offline here; pushed anyway */
        memcpy(e->name, name, len + 1);
        e->gen = xi->gen;
        e->next = *pp;
        *pp = e;
        if (++xi->n > xi->nb)
            grow(xi);
        if (st == RV_P_OFFLINE) { /* invisible: online, but nothing to tell */
            e->status = (uint8_t)st;
            return false;
        }
    }
    e->status = (uint8_t)st;
    free(e->text);
    e->text = now[0] ? strdup(now) : NULL;
    return true;
}

static void xi_free(xinst *xi)
{
    if (!xi)
        return;
    for (size_t i = 0; i < xi->nb; i++)
        for (struct rpres *e = xi->b[i], *next; e; e = next) {
            next = e->next;
            rpres_free(e);
        }
    free(xi->b);
    free(xi);
}

/* What contacts see of an account with status chosen and online devices. */
static rv_presence seen(uint8_t status, int64_t nonline)
{
    if (nonline <= 0 || status == RV_P_INVISIBLE || status >= RV_P_COUNT)
        return RV_P_OFFLINE;
    return (rv_presence)status;
}

static void on_presence_read(void *ud, int ret, const char *user, uint8_t status, const char *text,
                             int64_t nonline, const uint8_t (*devs)[32], size_t ndev)
{
    core *k = ud;
    if (ret != 0 || !k->xi)
        return;
    /* No device online anywhere, while one of user's is online here: the
     * read was queued before that device's login wrote its row (a
     * notification of an earlier logout raced the login) and would push a
     * stale "offline". Online here is online anywhere; the next change
     * here is read again. */
    const account *here = online_find(k->on, user);
    if (nonline <= 0 && here && here->ndevs > 0)
        return;
    /* Its devices here learn which of the account's are online elsewhere,
     * and a status chosen on another instance. */
    contacts_own_read(k, user, cluster_read_answering(k->cl), status, text, devs, ndev);
    rv_presence st = seen(status, nonline);
    if (rpres_set(k->xi, user, nonline > 0, st, text))
        contacts_push_presence(k, user, st, st == RV_P_OFFLINE ? "" : text);
}

static void on_presence(void *ud, const char *user, uint8_t status, const char *text,
                        int64_t nonline, const uint8_t (*devs)[32], size_t ndev)
{
    on_presence_read(ud, 0, user, status, text, nonline, devs, ndev);
}

/* A full read (after a join): each account online anywhere, then the end,
 * when those not seen any more are offline. */
static void on_presence_all(void *ud, int ret, const char *user, uint8_t status, const char *text,
                            int64_t nonline, const uint8_t (*devs)[32], size_t ndev)
{
    core *k = ud;
    xinst *xi = k->xi;
    if (!xi || ret < 0)
        return;
    if (ret == 0) {
        on_presence_read(ud, 0, user, status, text, nonline, devs, ndev);
        return;
    }
    for (size_t i = 0; i < xi->nb; i++)
        for (struct rpres **pp = &xi->b[i]; *pp;) {
            struct rpres *e = *pp;
            if (e->gen == xi->gen) {
                pp = &e->next;
                continue;
            }
            *pp = e->next;
            xi->n--;
            if (e->status != RV_P_OFFLINE)
                contacts_push_presence(k, e->name, RV_P_OFFLINE, "");
            rpres_free(e);
        }
}

void xinst_admin(core *k, const char *user, const uint8_t *device, const char *what)
{
    if (!k->cl)
        return;
    if (device)
        cluster_post_body(k->cl, device, NULL, DBC_ADMIN, 0, (const uint8_t *)what, strlen(what),
                          NULL, NULL);
    else
        cluster_post_user(k->cl, user, strcmp(what, XINST_REFRESH) == 0, DBC_ADMIN,
                          (const uint8_t *)what, strlen(what)); /* a kick: every device */
}

void xinst_org_changed(core *k, const char *what)
{
    if (k->cl)
        cluster_org_changed(k->cl, what);
}

#define XINST_ORG_ANNOUNCE "announce." /* and the number (xinst_announced) */

void xinst_announced(core *k, int64_t id)
{
    char what[CLUSTER_ORG_MAX + 1];
    snprintf(what, sizeof what, "%s%lld", XINST_ORG_ANNOUNCE, (long long)id);
    xinst_org_changed(k, what);
}

/* 1 to 15 digits, no leading zero: an announcement's number (as
 * xinst_announced writes it). */
static bool announce_id_ok(const char *s)
{
    size_t n = strspn(s, "0123456789");
    return n > 0 && n < 16 && s[n] == '\0' && s[0] != '0';
}

/* Another instance stored an organisation-wide change. */
static void on_org(void *ud, const char *what)
{
    core *k = ud;
    if (strcmp(what, XINST_ORG_POLICY) == 0)
        orgpolicy_reload(k);
    else if (strcmp(what, XINST_ORG_REVOKED) == 0)
        orgrevoke_reload(k);
    else if (strncmp(what, XINST_ORG_ANNOUNCE, strlen(XINST_ORG_ANNOUNCE)) == 0 &&
             announce_id_ok(what + strlen(XINST_ORG_ANNOUNCE)))
        announce_remote(k, strtoll(what + strlen(XINST_ORG_ANNOUNCE), NULL, 10));
    else
        core_log(k, "cluster: an organisation change of an unknown kind: ignored");
}

void xinst_entry_changed(core *k, const char *name, const char *viewers)
{
    if (k->cl)
        cluster_post_user(k->cl, viewers, true, DBC_CONTACT, (const uint8_t *)name, strlen(name));
}

void xinst_contact_changed(core *k, const char *user, const char *peer)
{
    xinst_entry_changed(k, peer, user); /* user reads its entry of peer again */
}

void xinst_presence_changed(core *k, const char *user)
{
    if (k->cl)
        cluster_presence_changed(k->cl, user);
}

void xinst_presence_reread(core *k, const char *user)
{
    if (k->cl)
        cluster_presence_reread(k->cl, user);
}

bool xinst_presence_local(core *k, const char *user, rv_presence status, const char *text)
{
    return !k->xi || rpres_set(k->xi, user, true, status, text);
}

uint64_t xinst_reads_sent(const core *k) { return k->cl ? cluster_reads_sent(k->cl) : 0; }

bool xinst_online_anywhere(const core *k, const char *user)
{
    return k->xi && *slot(k->xi, user) != NULL;
}

rv_presence xinst_presence(const core *k, const char *user, char *text, size_t cap)
{
    if (cap)
        text[0] = '\0';
    const struct rpres *e = k->xi ? *slot(k->xi, user) : NULL;
    if (!e)
        return RV_P_OFFLINE;
    if (cap && e->text)
        snprintf(text, cap, "%s", e->text);
    return (rv_presence)e->status;
}

/* The connected device of an event, or NULL. */
static conn *device_here(core *k, const db_cluster_event *ev, const char *user)
{
    account *a = user[0] ? online_find(k->on, user) : NULL;
    conn *c = a ? online_device(a, ev->device) : NULL;
    return c && !c->closing ? c : NULL;
}

/* An ICE message another instance forwarded to c (icesig.c checked the
 * sender's right there): sent on as it is, when it is one. */
static void ice_here(core *k, conn *c, const db_cluster_event *ev)
{
    rvmsg m;
    if (!ev->body || rvmsg_decode(&m, ev->body, ev->body_len) != 0) {
        core_log(k, "cluster: an ICE event that is not a message: dropped");
        return;
    }
    unsigned type = m.type;
    rvmsg_clear(&m);
    if (type != RV_ICE_OFFER && type != RV_ICE_ANSWER && type != RV_ICE_END) {
        core_log(k, "cluster: an ICE event with message type %02x: dropped", type);
        return;
    }
    if (!conn_busy(c)) /* full: the sender's session times out and tries again */
        conn_send_pt(c, ev->body, ev->body_len);
}

/* A relation of user changed on another instance; the body names the
 * other account. */
static void contact_here(core *k, const char *user, const db_cluster_event *ev)
{
    char peer[BANTER_MAX_NAME + 1];
    if (!ev->body || ev->body_len == 0 || ev->body_len > BANTER_MAX_NAME) {
        core_log(k, "cluster: a contact event without an account: dropped");
        return;
    }
    memcpy(peer, ev->body, ev->body_len);
    peer[ev->body_len] = '\0';
    contacts_remote_change(k, user, peer);
}

/* An admin acted on another instance (xinst_admin). */
static void admin_here(core *k, conn *c, const char *user, const db_cluster_event *ev)
{
    size_t n = ev->body ? ev->body_len : 0;
    const char *what = (const char *)ev->body;
    if (n == strlen(XINST_REFRESH) && memcmp(what, XINST_REFRESH, n) == 0) {
        auth_refresh(k, user); /* in a database job; a failure is logged */
    } else if (n == strlen(XINST_REVOKE) && memcmp(what, XINST_REVOKE, n) == 0) {
        conn_close(c, 0, "device revoked by an admin");
    } else if (n == strlen(XINST_KICK) && memcmp(what, XINST_KICK, n) == 0) {
        conn_close(c, 0, "session ended by an admin");
    } else {
        core_log(k, "cluster: an admin event of an unknown kind: dropped");
    }
}

static void on_event(void *ud, const db_cluster_event *ev, const char *user)
{
    core *k = ud;
    conn *c = device_here(k, ev, user);
    if (!c)
        return; /* gone meanwhile: the rows wait for its next login */
    switch (ev->kind) {
    case DBC_SEALED:
        mailbox_more(c);
        break;
    case DBC_ACK:
        mailbox_remote_delivered(c, ev->row_id);
        break;
    case DBC_ICE:
        ice_here(k, c, ev);
        break;
    case DBC_ADMIN:
        admin_here(k, c, user, ev);
        break;
    case DBC_CONTACT:
        contact_here(k, user, ev);
        break;
    default:
        core_debug(k, "cluster: event kind %d not handled here", ev->kind);
        break;
    }
}

static void register_account(account *a, void *ud)
{
    core *k = ud;
    for (conn *c = a->devs.head; c; c = c->dev.next)
        if (!c->closing)
            cluster_device(k->cl, conn_device(c), a->name, true);
}

/* Registered again (at start, or after the connection broke or this
 * instance was reaped): every device held here is written again. */
static void on_joined(void *ud)
{
    core *k = ud;
    online_each(k->on, register_account, k);
    if (k->xi) { /* read whole again: notifications missed meanwhile are not replayed */
        k->xi->gen++;
        cluster_presence_all(k->cl, on_presence_all, k);
        orgpolicy_reload(k);
        orgrevoke_reload(k);
    }
}

static void on_reaped(void *ud, const char *const *users, size_t n)
{
    core *k = ud;
    for (size_t i = 0; i < n; i++) /* their devices there are gone: every instance reads again */
        xinst_presence_changed(k, users[i]);
    core_log(k, "cluster: %zu account%s had devices on the instances reaped", n, n == 1 ? "" : "s");
}

/* Devices of these accounts are online here in the shared table now: an
 * admin's change made elsewhere just before may have missed them. */
static void on_recorded(void *ud, const char *const *users, size_t n)
{
    core *k = ud;
    for (size_t i = 0; i < n; i++)
        auth_recheck(k, users[i]);
}

int xinst_start(core *k, const char *url, const char *id)
{
    char why[256] = "";
    const cluster_cbs cbs = {.joined = on_joined,
                             .event = on_event,
                             .reaped = on_reaped,
                             .presence = on_presence,
                             .recorded = on_recorded,
                             .org = on_org};
    k->xi = calloc(1, sizeof *k->xi);
    if (k->xi && !(k->xi->b = calloc(64, sizeof *k->xi->b))) {
        free(k->xi);
        k->xi = NULL;
    }
    if (!k->xi)
        return BANTER_ENOMEM;
    k->xi->nb = 64;
    int r = cluster_new(&k->cl, k->loop, url, id, &cbs, k, k->log, why, sizeof why);
    if (r != 0) {
        core_log(k, "cannot join the cluster as \"%s\": %s", id, why);
        xi_free(k->xi);
        k->xi = NULL;
    } else
        core_log(k, "cluster: instance \"%s\" on the shared database", id);
    return r;
}

void xinst_stop(core *k)
{
    xinst *xi = k->xi;
    k->xi = NULL; /* callbacks cluster_free runs now find nothing to update */
    cluster_free(k->cl);
    k->cl = NULL;
    xi_free(xi);
}

void xinst_device_up(conn *c)
{
    core *k = conn_core(c);
    if (k->cl && c->acct) {
        cluster_device(k->cl, conn_device(c), c->acct->name, true);
        xlink_device(k, conn_device(c), true);
        /* The account's devices on other instances learn of it (a read of
         * its presence there: contacts_own_read). */
        cluster_presence_changed(k->cl, c->acct->name);
    }
}

void xinst_device_down(conn *c)
{
    core *k = conn_core(c);
    if (!k->cl || !c->acct)
        return;
    /* The same device connected again here: it stays online. */
    for (conn *o = c->acct->devs.head; o; o = o->dev.next)
        if (o != c && !o->closing && memcmp(conn_device(o), conn_device(c), 32) == 0)
            return;
    cluster_device(k->cl, conn_device(c), c->acct->name, false);
    xlink_device(k, conn_device(c), false);
    cluster_presence_changed(k->cl, c->acct->name);
}

struct stored {
    void (*done)(void *ud, bool held);
    void *ud;
};

static void on_stored_posted(void *ud, int ret, int64_t n)
{
    struct stored *s = ud;
    s->done(s->ud, ret == 0 && n > 0);
    free(s);
}

void xinst_stored(core *k, const uint8_t device[static 32], void (*done)(void *ud, bool held),
                  void *ud)
{
    if (!k->cl) {
        if (done)
            done(ud, false);
        return;
    }
    struct stored *s = done ? malloc(sizeof *s) : NULL;
    if (done && !s) {
        done(ud, false);
        return;
    }
    if (s)
        *s = (struct stored){done, ud};
    cluster_post(k->cl, device, DBC_SEALED, 0, s ? on_stored_posted : NULL, s);
}

int64_t xinst_id_tag(const uint8_t id[static RV_ID_LEN])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | id[i];
    return (int64_t)(v >> 1); /* a non-negative BIGINT */
}

void xinst_acked(core *k, const uint8_t from_device[static 32], const uint8_t id[static RV_ID_LEN])
{
    if (k->cl)
        cluster_post(k->cl, from_device, DBC_ACK, xinst_id_tag(id), NULL, NULL);
}
