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

/* Build and sign the list; *changed whether its keys differ from the
 * last one's. */
static int build(core *k, bool *changed)
{
    revlist *l = calloc(1, sizeof *l);
    if (!l)
        return BANTER_ENOMEM;
    l->issued_ms = core_wall_ms();
    int r =
        db_revoked_since(k->db, l->issued_ms - AUTH_CERT_TTL_MS, l->keys, REVLIST_MAX_KEYS, &l->n);
    if (r == 0)
        r = revlist_sign(l, k->id);
    if (r) {
        core_log(k, "cannot build the revocation list: %s",
                 r == BANTER_EDB ? db_errmsg(k->db) : banter_strerror(r));
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

int orgrevoke_load(core *k)
{
    bool changed;
    return build(k, &changed);
}

void orgrevoke_device_up(conn *c)
{
    uint8_t *pt;
    if (!conn_core(c)->rev || !c->wants_announce || c->closing || !c->acct)
        return;
    pt = malloc(1 + REVLIST_LEN_MAX);
    if (!pt)
        return;
    pt[0] = RV_REVOKED;
    size_t n = revlist_encode(conn_core(c)->rev, pt + 1, REVLIST_LEN_MAX);
    conn_send_pt(c, pt, 1 + n);
    free(pt);
}

static void send_all(account *a, void *ud)
{
    (void)ud;
    for (conn *c = a->devs; c; c = c->dev_next)
        orgrevoke_device_up(c);
}

void orgrevoke_changed(core *k)
{
    bool changed;
    if (build(k, &changed) == 0)
        online_each(k->on, send_all, NULL);
}

void orgrevoke_tick(core *k)
{
    bool changed;
    if (core_now(k) - k->rev_built >= (uint64_t)ORGREVOKE_REFRESH_MS && build(k, &changed) == 0 &&
        changed)
        online_each(k->on, send_all, NULL); /* a key aged out; an unchanged list waits for logins */
}

void orgrevoke_free(core *k)
{
    free(k->rev);
    k->rev = NULL;
}
