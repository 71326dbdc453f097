/* SPDX-License-Identifier: MIT */
/* orgpolicy.c - the organisation's policy on the server (see orgpolicy.h). */
#include "orgpolicy.h"

#include "db_admin.h"
#include "online.h"

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
    for (conn *c = a->devs; c; c = c->dev_next)
        orgpolicy_device_up(c);
}

int orgpolicy_set(core *k, policy *p)
{
    p->serial = k->has_policy ? k->pol.serial + 1 : 1;
    p->issued_ms = core_wall_ms();
    int r = policy_sign(p, k->id);
    if (r == 0)
        r = db_policy_put(k->db, p);
    if (r)
        return r;
    k->pol = *p;
    k->has_policy = true;
    k->pub = p->public_fields;
    core_log(k, "organisation policy %llu set", (unsigned long long)p->serial);
    online_each(k->on, send_all, NULL);
    return 0;
}
