/* SPDX-License-Identifier: MIT */
/* orgrevoke.c - the signed revocation list (see orgrevoke.h). */
#include "orgrevoke.h"

#include <stdlib.h>
#include <string.h>

#include "annmsg.h"
#include "auth.h"
#include "db_announce.h"
#include "online.h"

/* Whether a and b hold the same keys in the same order. */
static bool same_keys(const revlist *a, const revlist *b)
{
    return a && b && a->n == b->n && memcmp(a->keys, b->keys, 32 * a->n) == 0;
}

/* Sign l (its keys read) and make it the list; *changed whether its keys
 * differ from the last one's. Takes l, also on failure. */
static int install(core *k, revlist *l, bool *changed)
{
    int r = revlist_sign(l, k->id);
    if (r) {
        core_log(k, "cannot build the revocation list: %s", banter_strerror(r));
        free(l);
        return r;
    }
    if (l->n == REVLIST_MAX_KEYS)
        core_log(k,
                 "the revocation list is full (%u keys): older revocations rely on the "
                 "certificates' expiry",
                 REVLIST_MAX_KEYS);
    *changed = !same_keys(k->rev, l);
    free(k->rev);
    k->rev = l;
    k->rev_built = core_now(k);
    return 0;
}

/* The keys revoked within a certificate's life, into l. */
static int read_keys(db *d, revlist *l)
{
    return db_revoked_since(d, l->issued_ms - AUTH_CERT_TTL_MS, l->keys, REVLIST_MAX_KEYS, &l->n);
}

/* Build and sign the list on the caller's thread (before the database
 * thread runs). */
static int build(core *k, bool *changed)
{
    revlist *l = calloc(1, sizeof *l);
    if (!l)
        return BANTER_ENOMEM;
    int64_t shared;
    l->issued_ms = db_shared_clock_ms(k->db, &shared) == 0 ? shared : core_wall_ms();
    int r = read_keys(k->db, l);
    if (r) {
        core_log(k, "cannot build the revocation list: %s",
                 r == BANTER_EDB ? db_errmsg(k->db) : banter_strerror(r));
        free(l);
        return r;
    }
    return install(k, l, changed);
}

/* A rebuild through the database thread. */
struct rebuild_job {
    core *k;
    revlist *l;
    bool always; /* send it to everyone even when its keys did not change */
};

static int rebuild_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct rebuild_job *j = arg;
    int64_t shared;
    if (db_shared_clock_ms(d, &shared) == 0) /* instances: one clock for their lists */
        j->l->issued_ms = shared;
    int r = read_keys(d, j->l);
    if (r)
        snprintf(errmsg, DBQ_ERRMSG_LEN, "%s", r == BANTER_EDB ? db_errmsg(d) : banter_strerror(r));
    return r;
}

static void send_all(account *a, void *ud);

static void rebuild_after(void *arg, int r, const char *errmsg)
{
    struct rebuild_job *j = arg;
    core *k = j->k;
    bool changed = false;
    k->rev_building = false;
    if (r) {
        core_log(k, "cannot build the revocation list: %s", errmsg);
        free(j->l);
    } else if (install(k, j->l, &changed) == 0 && (changed || j->always)) {
        unsigned sent = 0;
        online_each(k->on, send_all, &sent);
        if (changed)
            core_log(k, "the revocation list changed: %zu key%s, sent to %u device%s online",
                     k->rev->n, k->rev->n == 1 ? "" : "s", sent, sent == 1 ? "" : "s");
    }
    free(j);
}

/* Rebuild the list in a job; then send it to every device online when
 * always, or when its keys changed (a key aged out). */
static void rebuild(core *k, bool always)
{
    struct rebuild_job *j = calloc(1, sizeof *j);
    if (j)
        j->l = calloc(1, sizeof *j->l);
    int r = j && j->l ? 0 : BANTER_ENOMEM;
    if (r == 0) {
        j->k = k;
        j->always = always;
        j->l->issued_ms = core_wall_ms();
        r = core_job(k, rebuild_work, rebuild_after, j);
    }
    if (r) {
        core_log(k, "cannot build the revocation list: %s", banter_strerror(r));
        if (j)
            free(j->l);
        free(j);
        return;
    }
    k->rev_building = true;
}

int orgrevoke_load(core *k)
{
    bool changed;
    return build(k, &changed);
}

/* The list to c when it takes it: true when queued. */
static bool send_to(conn *c)
{
    uint8_t *pt;
    if (!conn_core(c)->rev || !c->wants_announce || c->closing || !c->acct)
        return false;
    pt = malloc(1 + REVLIST_LEN_MAX);
    if (!pt)
        return false;
    pt[0] = RV_REVOKED;
    size_t n = revlist_encode(conn_core(c)->rev, pt + 1, REVLIST_LEN_MAX);
    conn_send_pt(c, pt, 1 + n);
    free(pt);
    return true;
}

void orgrevoke_device_up(conn *c) { (void)send_to(c); }

static void send_all(account *a, void *ud)
{
    unsigned *sent = ud;
    for (conn *c = a->devs.head; c; c = c->dev.next)
        *sent += send_to(c);
}

void orgrevoke_changed(core *k) { rebuild(k, true); }

void orgrevoke_reload(core *k) { rebuild(k, false); }

void orgrevoke_tick(core *k)
{
    if (!k->rev_building && core_now(k) - k->rev_built >= (uint64_t)ORGREVOKE_REFRESH_MS)
        rebuild(k, false); /* an unchanged list waits for logins */
}

void orgrevoke_free(core *k)
{
    free(k->rev);
    k->rev = NULL;
}
