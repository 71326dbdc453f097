/* SPDX-License-Identifier: MIT */
/* xinst.c - the server's side of a cluster (see xinst.h). */
#include "xinst.h"

#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "mailbox.h"
#include "online.h"

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
    default:
        core_debug(k, "cluster: event kind %d not handled here", ev->kind);
        break;
    }
}

static void register_account(account *a, void *ud)
{
    core *k = ud;
    for (conn *c = a->devs; c; c = c->dev_next)
        if (!c->closing)
            cluster_device(k->cl, conn_device(c), a->name, true);
}

/* Registered again (at start, or after the connection broke or this
 * instance was reaped): every device held here is written again. */
static void on_joined(void *ud)
{
    core *k = ud;
    online_each(k->on, register_account, k);
}

static void on_reaped(void *ud, const char *const *users, size_t n)
{
    core *k = ud;
    (void)users;
    core_log(k, "cluster: %zu account%s had devices on the instances reaped", n, n == 1 ? "" : "s");
}

int xinst_start(core *k, const char *url, const char *id)
{
    char why[256] = "";
    const cluster_cbs cbs = {.joined = on_joined, .event = on_event, .reaped = on_reaped};
    int r = cluster_new(&k->cl, k->loop, url, id, &cbs, k, k->log, why, sizeof why);
    if (r != 0)
        core_log(k, "cannot join the cluster as \"%s\": %s", id, why);
    else
        core_log(k, "cluster: instance \"%s\" on the shared database", id);
    return r;
}

void xinst_stop(core *k)
{
    cluster_free(k->cl);
    k->cl = NULL;
}

void xinst_device_up(conn *c)
{
    core *k = conn_core(c);
    if (k->cl && c->acct)
        cluster_device(k->cl, conn_device(c), c->acct->name, true);
}

void xinst_device_down(conn *c)
{
    core *k = conn_core(c);
    if (!k->cl || !c->acct)
        return;
    /* The same device connected again here: it stays online. */
    for (conn *o = c->acct->devs; o; o = o->dev_next)
        if (o != c && !o->closing && memcmp(conn_device(o), conn_device(c), 32) == 0)
            return;
    cluster_device(k->cl, conn_device(c), c->acct->name, false);
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
