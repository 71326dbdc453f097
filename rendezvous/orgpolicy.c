/* SPDX-License-Identifier: MIT */
/* orgpolicy.c - the organisation's policy on the server (see orgpolicy.h). */
#include "orgpolicy.h"

#include <stdlib.h>

#include "db_admin.h"
#include "online.h"
#include "xinst.h"

int orgpolicy_load(core *k)
{
    policy p;
    int r = db_policy_get(k->db, &p);
    if (r == BANTER_ENOENT)
        return 0;
    if (r == 0)
        r = policy_sign(&p, k->id);
    if (r) {
        core_log(k, "cannot load the organisation's policy: %s",
                 r == BANTER_EDB ? db_errmsg(k->db) : banter_strerror(r));
        return r;
    }
    k->pol = p;
    k->has_policy = true;
    k->pub = p.public_fields;
    return 0;
}

void orgpolicy_device_up(conn *c)
{
    uint8_t pt[1 + POLICY_LEN];
    if (!conn_core(c)->has_policy || !c->wants_policy || c->closing)
        return;
    pt[0] = RV_POLICY;
    policy_encode(&conn_core(c)->pol, pt + 1);
    conn_send_pt(c, pt, sizeof pt);
}

static void send_all(account *a, void *ud)
{
    (void)ud;
    for (conn *c = a->devs.head; c; c = c->dev.next)
        orgpolicy_device_up(c);
}

/* A policy on its way to the database, and the one it replaced. */
struct put_job {
    core *k;
    policy p, prev;
    bool had;
};

static int put_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct put_job *j = arg;
    int r = db_policy_put(d, &j->p);
    if (r)
        snprintf(errmsg, DBQ_ERRMSG_LEN, "%s", r == BANTER_EDB ? db_errmsg(d) : banter_strerror(r));
    return r;
}

/* Stored: devices get it. Not stored: the one before is the policy again,
 * unless a later one replaced it meanwhile (then that one's own put
 * decides). */
static void put_after(void *arg, int r, const char *errmsg)
{
    struct put_job *j = arg;
    core *k = j->k;
    if (r == 0) {
        core_log(k, "organisation policy %llu set", (unsigned long long)j->p.serial);
        online_each(k->on, send_all, NULL);
        xinst_org_changed(k, XINST_ORG_POLICY);
    } else {
        core_log(k, "cannot store organisation policy %llu: %s", (unsigned long long)j->p.serial,
                 errmsg);
        if (r == BANTER_ESTATE) /* another instance's came first: take it */
            orgpolicy_reload(k);
        if (k->has_policy && k->pol.serial == j->p.serial) {
            k->has_policy = j->had;
            if (j->had)
                k->pol = j->prev;
            k->pub = j->prev.public_fields;
        }
    }
    free(j);
}

int orgpolicy_set(core *k, policy *p)
{
    p->serial = k->has_policy ? k->pol.serial + 1 : 1;
    p->issued_ms = core_wall_ms();
    int r = policy_sign(p, k->id);
    if (r)
        return r;
    struct put_job *j = calloc(1, sizeof *j);
    if (!j)
        return BANTER_ENOMEM;
    j->k = k;
    j->p = *p;
    j->had = k->has_policy;
    j->prev = k->pol;
    j->prev.public_fields = k->pub; /* what to go back to without a policy */
    r = core_job(k, put_work, put_after, j);
    if (r) {
        free(j);
        return r;
    }
    /* At once, so that the next one's serial follows (the put is queued
     * in order); devices get it once it is stored. */
    k->pol = *p;
    k->has_policy = true;
    k->pub = p->public_fields;
    return 0;
}

/* The stored policy, read for orgpolicy_reload. */
struct reload_job {
    core *k;
    policy p;
    bool none; /* nothing stored */
};

static int reload_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct reload_job *j = arg;
    int r = db_policy_get(d, &j->p);
    j->none = r == BANTER_ENOENT;
    if (r && !j->none)
        snprintf(errmsg, DBQ_ERRMSG_LEN, "%s", r == BANTER_EDB ? db_errmsg(d) : banter_strerror(r));
    return j->none ? 0 : r;
}

static void reload_after(void *arg, int r, const char *errmsg)
{
    struct reload_job *j = arg;
    core *k = j->k;
    if (r) {
        core_log(k, "cannot read the organisation's policy again: %s", errmsg);
    } else if (!j->none && (!k->has_policy || j->p.serial > k->pol.serial)) {
        r = policy_sign(&j->p, k->id);
        if (r) {
            core_log(k, "cannot sign the organisation's policy: %s", banter_strerror(r));
        } else {
            k->pol = j->p;
            k->has_policy = true;
            k->pub = j->p.public_fields;
            core_log(k, "organisation policy %llu taken from the database",
                     (unsigned long long)j->p.serial);
            online_each(k->on, send_all, NULL);
        }
    }
    free(j);
}

void orgpolicy_reload(core *k)
{
    struct reload_job *j = calloc(1, sizeof *j);
    int r = j ? 0 : BANTER_ENOMEM;
    if (j) {
        j->k = k;
        r = core_job(k, reload_work, reload_after, j);
    }
    if (r) {
        core_log(k, "cannot read the organisation's policy again: %s", banter_strerror(r));
        free(j);
    }
}
