/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* struct ucred */
/* control.c - JSON-lines control socket of the node (docs/control.md).
 * Requests come typed from ctlmsg (shared/ctlmsg.h, where the request
 * table is); replies and events go out through ctlmsg's writers. */
#include "ui/control.h"

#include <errno.h>
#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "core/contacts.h"
#include "core/settings.h"
#include "core/xfer.h"
#include "ctlmsg.h"
#include "rdv/roster.h"
#include "ui/acceptor.h"
#include "ui/pluginctl.h"
#include "ui/natctl.h"
#include "net/stunmap.h"
#include "ui/doctorctl.h"
#include "net/mdns.h"
#include "ui/annctl.h"
#include "ui/groupctl.h"
#include "ui/rdvctl.h"

typedef struct control_client client;

typedef struct waiter { /* a send waiting for its acknowledgement */
    client *cl;
    uint8_t id[MSG_ID_LEN];
    uint8_t peer[32];
    GSource *timer;
} waiter;

/* A send_file waiting for its hashing to finish. xfer owns it until its
 * completion callback runs, which frees it; meanwhile a client that goes
 * away sets cl to NULL, and control_free sets ctl to NULL. */
typedef struct offer_req {
    control *ctl;
    client *cl;
    uint8_t peer[32];
    bool follow;
} offer_req;

/* A client: a connection to the socket (fd >= 0), or an in-process one
 * (fd < 0: send/close/ud of control_attach, no buffers). */
struct control_client {
    control *ctl;
    int fd;
    /* The socket's watch on the node's evloop (a client's socket is the
     * node's own: through epoll, it keeps the evloop in fast mode while
     * `banter chat` or `banter listen` is attached; net/evloop.h). It
     * asks for input until closing, and for output while some waits. */
    ev_watch *w;
    buf in, out;
    control_send_fn send;
    control_close_fn close;
    void *ud;
    bool listening;
    /* closing: no more requests; freed once its output is written.
     * dead: freed at the next safe point whatever it holds (its output
     * passed CONTROL_OUT_CAP, or the socket failed). */
    bool closing, dead;
    /* At most one request in flight per client: a send waiting for its
     * acknowledgement, or a send_file waiting for its hashing. */
    waiter *wait;
    offer_req *offer;
    rdvctl_wait *rdv;       /* a rendezvous request waiting for the server */
    natctl_wait *nat;       /* a nat_check gathering (natctl.h), also for doctor */
    struct doctor_job *doc; /* a doctor request waiting for its NAT and mapping checks */
    /* After send_file with follow: this transfer's events only, until it
     * is over. */
    bool following;
    uint8_t follow_id[MSG_ID_LEN];
};

struct control {
    node *n;
    rdv *rdv; /* the rendezvous for rdvctl's requests, or NULL */
    roster *ro;
    plugins *plugins;      /* the "plugins" request's, or NULL */
    direct *dir;           /* direct connections, for nat_check (natctl.h), or NULL */
    const doctor_lan *lan; /* LAN discovery's state for doctor, or NULL */
    GMainContext *ctx;
    evloop *ev;
    int fd;
    acceptor *acc;
    char path[108];
    GList *clients;
    GList *offers;      /* offer_req whose hashing runs */
    settings *settings; /* DIR/settings.json, beside the socket */
    char *web_url;      /* the `web` answer (holds the token), or NULL */
    char web_why[256];  /* why there is no web interface */
    buf tmp;            /* the reply or event being written */
};

static void on_node_event(void *ud, const node_event *ev);

static void drop_source(GSource **s)
{
    if (*s) {
        g_source_destroy(*s);
        g_source_unref(*s);
        *s = NULL;
    }
}

static void waiter_free(waiter *w)
{
    if (!w)
        return;
    drop_source(&w->timer);
    g_free(w);
}

static void doctor_job_free(struct doctor_job *j);

/* Frees cl; an in-process client's owner hears of it through its close
 * callback (unless it detached: then close is NULL). */
static void client_free(client *cl)
{
    cl->ctl->clients = g_list_remove(cl->ctl->clients, cl);
    evloop_del(cl->w); /* before the close */
    cl->w = NULL;
    waiter_free(cl->wait);
    rdvctl_cancel(cl->rdv);
    natctl_cancel(cl->nat);
    doctor_job_free(cl->doc);
    if (cl->offer)
        cl->offer->cl = NULL; /* its callback will find no one to answer */
    if (cl->fd >= 0)
        close(cl->fd);
    else if (cl->close)
        cl->close(cl->ud);
    buf_free(&cl->in);
    buf_free(&cl->out);
    g_free(cl);
}

/* At a safe point (not inside a call that still uses cl): free a client
 * that is dead, or closing with its output written. */
static void client_done(client *cl)
{
    if (cl->dead || (cl->closing && !buf_len(&cl->out)))
        client_free(cl);
}

/* Stop serving cl at once: nothing more is read or written; freed by the
 * next client_done. */
static void client_kill(client *cl)
{
    cl->dead = cl->closing = true;
    evloop_del(cl->w);
    cl->w = NULL;
    buf_consume(&cl->out, buf_len(&cl->out));
}

/* Ask for input until closing, for output while some is queued. */
static void client_watch(client *cl)
{
    if (!cl->w)
        return;
    uint32_t want = (cl->closing ? 0 : EVLOOP_IN) | (buf_len(&cl->out) ? EVLOOP_OUT : 0);
    if (evloop_mod(cl->w, want) != 0) /* ENOMEM from epoll */
        client_kill(cl);
}

static void client_flush(client *cl)
{
    while (buf_len(&cl->out)) {
        ssize_t w =
            send(cl->fd, buf_data(&cl->out), buf_len(&cl->out), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            client_watch(cl); /* output: wait until writable */
            return;
        }
        if (w < 0) {
            client_kill(cl);
            return;
        }
        buf_consume(&cl->out, (size_t)w);
    }
    if (cl->w && (evloop_events(cl->w) & EVLOOP_OUT))
        client_watch(cl);
}

/* Queue one JSON text (no newline) as a line. A client that does not read
 * what it is sent is dropped as soon as its output would pass
 * CONTROL_OUT_CAP, rather than let fill memory (freed by the caller's
 * client_done). */
static void send_text(client *cl, const char *text, size_t n)
{
    if (cl->dead)
        return;
    if (cl->fd < 0) { /* in-process: one message per call */
        if (!cl->closing)
            cl->send(cl->ud, text, n);
        return;
    }
    if (buf_append(&cl->out, text, n) != 0 || buf_append(&cl->out, "\n", 1) != 0) {
        client_kill(cl);
        return;
    }
    client_flush(cl);
}

/* Send what ctlmsg wrote into ctl->tmp (r its result), then empty it. */
static void send_tmp(client *cl, int r)
{
    buf *t = &cl->ctl->tmp;
    if (r) { /* what the node holds cannot be written (no memory, too big) */
        buf_consume(t, buf_len(t));
        r = ctlmsg_encode_error(r, NULL, "the reply cannot be written: try a smaller request", NULL,
                                0, t);
    }
    if (r == 0)
        send_text(cl, (const char *)buf_data(t), buf_len(t));
    buf_consume(t, buf_len(t));
}

static void send_reply(client *cl, const ctl_reply *rp)
{
    send_tmp(cl, ctlmsg_encode_reply(rp, &cl->ctl->tmp));
}

static void send_error(client *cl, int err, const char *message)
{
    send_tmp(cl, ctlmsg_encode_error(err, NULL, message, NULL, 0, &cl->ctl->tmp));
}

/* ---- what the node holds, as ctlmsg's types ---- */

/* A contact named in a reply or event, with the storage it points into. */
typedef struct pref {
    ctl_peer_ref ref;
    uint8_t key[32];
    char fp[IDENTITY_FP_LEN + 1];
    char name[BANTER_MAX_NAME + 1];
} pref;

/* The contact key names: the fingerprint of device when given, else of the
 * contact's first device ("" when none is known); its name when name is
 * NULL. */
static void peer_ref(node *n, pref *p, const uint8_t key[static 32], const char *name,
                     const uint8_t *device)
{
    memset(p, 0, sizeof *p);
    memcpy(p->key, key, 32);
    if (device) {
        identity_fingerprint(device, p->fp);
    } else {
        node_peer_info *pi = g_new(node_peer_info, 1);
        if (node_peer_info_get(n, key, pi) == 0) {
            g_strlcpy(p->fp, pi->fingerprint, sizeof p->fp);
            if (!name)
                g_strlcpy(p->name, pi->contact.name, sizeof p->name);
        }
        g_free(pi);
    }
    if (name)
        g_strlcpy(p->name, name, sizeof p->name);
    p->ref = (ctl_peer_ref){p->key, p->fp, p->name};
}

/* The contact a device belongs to, for naming it. */
static void device_ref(node *n, pref *p, const uint8_t device[static 32])
{
    store_device d;
    store_contact c;
    if (store_device_get(node_store(n), device, &d) == 0 &&
        store_contact_get(node_store(n), d.contact, &c) == 0)
        peer_ref(n, p, c.key, c.name, device);
    else
        peer_ref(n, p, device, "", device);
}

static const char *state_name(store_state s)
{
    static const char *names[] = {"queued", "delivered", "received", "stored", "failed"};
    return s <= STORE_FAILED ? names[s] : "?";
}

/* m as ctlmsg's message; fp receives the device's fingerprint. */
static void message_of(ctl_message *o, const store_msg *m, char fp[static IDENTITY_FP_LEN + 1])
{
    memset(o, 0, sizeof *o);
    memcpy(o->id, m->id, CTL_ID_LEN);
    o->seq = m->seq;
    o->incoming = m->dir == STORE_IN;
    o->from_self = m->dir == STORE_OUT; /* in an event: sent from another device of ours */
    fp[0] = '\0';
    if (m->has_device)
        identity_fingerprint(m->device, fp);
    o->device = fp;
    o->unverified = (m->flags & STORE_MSG_UNTRUSTED) != 0;
    o->ts = m->ts_ms;
    o->stored = m->stored_ms;
    o->state = state_name(m->state);
    o->error = m->error;
    o->broadcast = m->broadcast;
    o->body = m->body ? m->body : "";
    o->body_len = m->body ? m->body_len : 0;
}

/* A "peers" entry; devs has room for NODE_MAX_DEVICES, fold holds its
 * "fold". */
static void peer_of(ctl_peer *o, ctl_device *devs, char fold[static CONTACTS_FOLD_MAX],
                    const node_peer_info *pi)
{
    memset(o, 0, sizeof *o);
    /* The name a person sees, as the node compares names (one rule: the
     * page marks look-alikes by it instead of a rule of its own). */
    bool org = pi->contact.kind == CONTACT_ORG;
    contacts_fold(org && pi->display_name[0] ? pi->display_name : pi->contact.name, fold,
                  CONTACTS_FOLD_MAX);
    o->fold = fold;
    if (pi->trust != TRUST_NEW) /* "new" rows are advertised devices, not contacts */
        o->id = pi->contact.key;
    o->fingerprint = pi->fingerprint;
    o->name = pi->contact.name;
    o->online = pi->online;
    o->address = pi->address;
    o->source = pi->source;
    o->trust = store_trust_name(pi->trust);
    o->last_seen = pi->last_seen_ms;
    if (pi->contact.kind == CONTACT_ORG) { /* an organisation account */
        o->account = pi->contact.account;
        o->status = pi->status;
        o->text = pi->status_text;
        o->contact = pi->state;
        o->display_name = pi->display_name;
        o->org_server_fp = pi->org_server;
    }
    o->replaces = pi->replaces;
    for (size_t i = 0; i < pi->ndev && i < NODE_MAX_DEVICES; i++) {
        const node_device_info *d = &pi->devs[i];
        devs[i] = (ctl_device){d->fingerprint, d->dev.name, store_trust_name(d->dev.trust),
                               d->online,      d->address,  d->dev.source,
                               d->route,       d->path};
    }
    o->route = pi->ndev ? pi->devs[0].route : "";
    o->ndev = MIN(pi->ndev, (size_t)NODE_MAX_DEVICES);
    o->devs = devs;
}

/* A transfer; p holds its peer. */
static void transfer_of(node *n, ctl_transfer *o, pref *p, const xfer_info *t)
{
    memset(o, 0, sizeof *o);
    device_ref(n, p, t->peer);
    memcpy(o->id, t->id, CTL_ID_LEN);
    o->peer = p->ref;
    o->incoming = t->dir == XFER_IN;
    o->state = xfer_state_name(t->state);
    o->name = t->name;
    o->files = (int64_t)t->nfiles;
    o->size = (int64_t)MIN(t->size, (uint64_t)BANTER_MAX_INT);
    o->done = (int64_t)MIN(t->done, (uint64_t)BANTER_MAX_INT);
    o->rate = t->rate > 0 && t->rate < (double)BANTER_MAX_INT ? (int64_t)t->rate : 0;
    o->error = t->error;
    o->dest = t->dest;
    o->created = t->created_ms;
}

static int64_t now_ms(void) { return g_get_real_time() / 1000; }

/* ---- requests ---- */

/* The contact a "peer" argument names; dev and has_dev (may be NULL)
 * receive the device a fingerprint named. */
static bool resolve_dev(client *cl, const char *peer, uint8_t key[static 32], uint8_t *dev,
                        bool *has_dev)
{
    char why[1024];
    int r = node_resolve(cl->ctl->n, peer, key, dev, has_dev, why, sizeof why);
    if (r)
        send_error(cl, r, why);
    return r == 0;
}

static bool resolve(client *cl, const char *peer, uint8_t key[static 32])
{
    return resolve_dev(cl, peer, key, NULL, NULL);
}

static void cmd_id(client *cl)
{
    node *n = cl->ctl->n;
    ctl_reply rp = {.kind = CTL_ID};
    rp.u.id.fingerprint = node_fingerprint(n);
    rp.u.id.name = node_name(n);
    rp.u.id.port = node_port(n);
    send_reply(cl, &rp);
}

static void cmd_peers(client *cl)
{
    node_peer_info *pi = NULL;
    size_t k = 0;
    int r = node_peers(cl->ctl->n, &pi, &k);
    if (r) {
        send_error(cl, r, NULL);
        return;
    }
    ctl_peer *ps = g_new0(ctl_peer, k + 1);
    ctl_device *ds = g_new0(ctl_device, (k + 1) * NODE_MAX_DEVICES);
    char(*folds)[CONTACTS_FOLD_MAX] = g_malloc0_n(k + 1, CONTACTS_FOLD_MAX);
    for (size_t i = 0; i < k; i++)
        peer_of(&ps[i], &ds[i * NODE_MAX_DEVICES], folds[i], &pi[i]);
    ctl_reply rp = {.kind = CTL_PEERS, .u.peers = {k, ps}};
    send_reply(cl, &rp);
    g_free(folds);
    g_free(ds);
    g_free(ps);
    free(pi);
}

static void send_state(client *cl, const uint8_t id[static MSG_ID_LEN], const char *state,
                       const char *error)
{
    ctl_reply rp = {.kind = CTL_SEND};
    memcpy(rp.u.send.id, id, CTL_ID_LEN);
    rp.u.send.state = state;
    rp.u.send.error = error;
    send_reply(cl, &rp);
}

static gboolean on_wait_timeout(gpointer v)
{
    client *cl = v;
    waiter *w = cl->wait;
    uint8_t id[MSG_ID_LEN];
    memcpy(id, w->id, sizeof id);
    cl->wait = NULL;
    g_source_unref(w->timer);
    w->timer = NULL; /* this source is being removed by returning REMOVE */
    waiter_free(w);
    send_state(cl, id, "queued", NULL);
    client_done(cl);
    return G_SOURCE_REMOVE;
}

static const char *send_error_text(int r)
{
    switch (r) {
    case BANTER_EKEYMISMATCH:
        return "this peer's key changed and is not verified: compare fingerprints "
               "(banter peers) and run `banter verify PEER` before sending";
    case BANTER_ETOOLONG:
        return "message too long (at most 32768 bytes)";
    case BANTER_EUTF8:
        return "message is not valid UTF-8";
    case BANTER_ENOSPC:
        return "the disk is full: the message was not queued";
    case BANTER_EINVAL:
        return "empty message";
    case BANTER_EPERM:
        return "this account is not an approved contact: ask with `banter contact add USER` "
               "and wait until they approve";
    default:
        return NULL;
    }
}

static void cmd_send(client *cl, const struct ctl_send *q)
{
    uint8_t key[32], id[MSG_ID_LEN];
    if (!resolve(cl, q->peer, key))
        return;
    int r = node_send(cl->ctl->n, key, q->text.s, q->text.len, id);
    if (r) {
        send_error(cl, r, send_error_text(r));
        return;
    }
    /* Wait for the acknowledgement while the peer is online, or also while
     * it is offline when the caller asked so explicitly. An approved
     * account is reachable while the relay is logged in: the server
     * answers for it (delivered, or stored for later). */
    bool online = node_reachable(cl->ctl->n, key);
    if (q->wait_ms > 0 && (online || q->wait_offline)) {
        waiter *w = g_new0(waiter, 1);
        w->cl = cl;
        memcpy(w->id, id, sizeof w->id);
        memcpy(w->peer, key, sizeof w->peer);
        w->timer = g_timeout_source_new((guint)q->wait_ms);
        g_source_set_callback(w->timer, on_wait_timeout, cl, NULL);
        g_source_attach(w->timer, cl->ctl->ctx);
        cl->wait = w;
        return;
    }
    send_state(cl, id, "queued", NULL);
}

static void cmd_broadcast(client *cl, const struct ctl_broadcast *q)
{
    ctl_reply rp = {.kind = CTL_BROADCAST};
    size_t count = 0;
    int r = node_broadcast(cl->ctl->n, q->text.s, q->text.len, rp.u.broadcast.id, &count);
    if (r) {
        send_error(cl, r, send_error_text(r));
        return;
    }
    rp.u.broadcast.recipients = (int64_t)count;
    send_reply(cl, &rp);
}

/* Encode the newest k of m[0..n) as a history reply into out; more:
 * older ones exist. */
static int history_encode(buf *out, const pref *p, const store_msg *m, size_t n, size_t k,
                          bool more)
{
    ctl_message *cm = g_new0(ctl_message, k + 1);
    typedef char fp_text[IDENTITY_FP_LEN + 1];
    fp_text *fps = g_new(fp_text, k + 1);
    for (size_t i = 0; i < k; i++)
        message_of(&cm[i], &m[n - k + i], fps[i]);
    ctl_reply rp = {.kind = CTL_HISTORY};
    rp.u.history.peer = p->ref;
    rp.u.history.n = k;
    rp.u.history.messages = cm;
    rp.u.history.more = more;
    buf_consume(out, buf_len(out));
    int r = ctlmsg_encode_reply(&rp, out);
    g_free(fps);
    g_free(cm);
    return r;
}

/* A page of history: the newest of the messages asked for, at most
 * CONTROL_HISTORY_PAGE of them in at most CONTROL_MAX_REPLY bytes; "more"
 * when older ones exist (docs/control.md, "history"). */
static void cmd_history(client *cl, const struct ctl_history *q)
{
    uint8_t key[32];
    store_msg *m = NULL;
    size_t n = 0;
    pref p;
    buf page;
    if (!resolve(cl, q->peer, key))
        return;
    size_t want = MIN((size_t)q->limit, (size_t)CONTROL_HISTORY_PAGE);
    /* One more than asked: whether older ones exist. */
    int r = store_history(node_store(cl->ctl->n), key, q->before, want + 1, &m, &n);
    if (r) {
        send_error(cl, r, NULL);
        return;
    }
    peer_ref(cl->ctl->n, &p, key, NULL, NULL);
    buf_init(&page, CONTROL_MAX_REPLY);
    size_t k = MIN(n, want);
    while ((r = history_encode(&page, &p, m, n, k, n > k)) == BANTER_ETOOBIG && k > 1)
        k /= 2; /* long messages: fewer in this page */
    store_msgs_free(m, n);
    if (r)
        send_error(cl, r, "the history cannot be written");
    else
        send_text(cl, (const char *)buf_data(&page), buf_len(&page));
    buf_free(&page);
}

static void cmd_verify(client *cl, const struct ctl_verify *q)
{
    uint8_t key[32], dev[32];
    bool has_dev = false;
    char note[256];
    if (!resolve_dev(cl, q->peer, key, dev, &has_dev))
        return;
    int r = node_verify(cl->ctl->n, key, has_dev ? dev : NULL, note, sizeof note);
    if (r) {
        send_error(cl, r, NULL);
        return;
    }
    node_peer_info *pi = g_new(node_peer_info, 1);
    ctl_peer peer;
    ctl_device devs[NODE_MAX_DEVICES];
    char fold[CONTACTS_FOLD_MAX];
    ctl_reply rp = {.kind = CTL_VERIFY};
    rp.u.verify.message = note;
    if (node_peer_info_get(cl->ctl->n, key, pi) == 0) {
        peer_of(&peer, devs, fold, pi);
        rp.u.verify.peer = &peer;
    }
    send_reply(cl, &rp);
    g_free(pi);
}

/* ---- file transfers ---- */

static bool xfer_over(xfer_state s)
{
    return s == XFER_DONE || s == XFER_FAILED || s == XFER_DECLINED || s == XFER_CANCELLED;
}

static void send_xfer_event(client *cl, xfer_ev_type type, const xfer_info *info)
{
    static const ctl_event_kind kinds[] = {CTL_EV_FILE_OFFER, CTL_EV_FILE_STATE,
                                           CTL_EV_FILE_PROGRESS, CTL_EV_FILE_DONE,
                                           CTL_EV_FILE_FAILED};
    ctl_transfer t;
    pref p;
    transfer_of(cl->ctl->n, &t, &p, info);
    ctl_event ev = {.kind = kinds[type], .at = now_ms(), .transfer = &t};
    send_tmp(cl, ctlmsg_encode_event(&ev, &cl->ctl->tmp));
}

static void offer_reply(client *cl, const offer_req *o, const uint8_t id[static MSG_ID_LEN])
{
    node *n = cl->ctl->n;
    xfer_info info;
    ctl_transfer t;
    pref p;
    bool have = xfer_get(node_xfer(n), id, &info) == 0;
    ctl_reply rp = {.kind = CTL_SEND_FILE};
    memcpy(rp.u.send_file.id, id, CTL_ID_LEN);
    rp.u.send_file.offered = node_device_online(n, o->peer);
    if (have) {
        transfer_of(n, &t, &p, &info);
        rp.u.send_file.transfer = &t;
    }
    send_reply(cl, &rp);
    if (!o->follow)
        return;
    if (have && xfer_over(info.state)) { /* over before the reply: say so now */
        send_xfer_event(cl, info.state == XFER_DONE ? XFER_EV_DONE : XFER_EV_FAILED, &info);
        return;
    }
    cl->following = true;
    memcpy(cl->follow_id, id, MSG_ID_LEN);
}

static void on_offer_done(void *ud2, int err, const uint8_t id[static MSG_ID_LEN], const char *why)
{
    offer_req *o = ud2;
    client *cl = o->cl;
    if (o->ctl)
        o->ctl->offers = g_list_remove(o->ctl->offers, o);
    if (cl) {
        cl->offer = NULL;
        if (err)
            send_error(cl, err, why && *why ? why : NULL);
        else
            offer_reply(cl, o, id);
        client_done(cl);
    }
    g_free(o);
}

static void cmd_send_file(client *cl, const struct ctl_send_file *q)
{
    uint8_t key[32], dev[32];
    char why[256];
    if (!resolve(cl, q->peer, key))
        return;
    node_peer_info *pi = g_new(node_peer_info, 1);
    int pr = node_peer_info_get(cl->ctl->n, key, pi);
    bool changed = pr == 0 && pi->trust == TRUST_CHANGED;
    g_free(pi);
    if (changed) {
        send_error(cl, BANTER_EKEYMISMATCH, send_error_text(BANTER_EKEYMISMATCH));
        return;
    }
    int dr = node_file_device(cl->ctl->n, key, dev, why, sizeof why);
    if (dr) {
        send_error(cl, dr, why);
        return;
    }
    const char **paths = g_new(const char *, q->npaths);
    for (size_t i = 0; i < q->npaths; i++)
        paths[i] = q->paths[i].s; /* xfer_send copies what it keeps */
    offer_req *o = g_new0(offer_req, 1);
    o->ctl = cl->ctl;
    o->cl = cl;
    memcpy(o->peer, dev, sizeof o->peer);
    o->follow = q->follow;
    cl->offer = o;
    cl->ctl->offers = g_list_prepend(cl->ctl->offers, o);
    /* o may be answered and freed inside xfer_send: not touched after. */
    int r = xfer_send(node_xfer(cl->ctl->n), dev, paths, q->npaths, on_offer_done, o);
    g_free(paths);
    if (r) { /* the callback never runs */
        cl->ctl->offers = g_list_remove(cl->ctl->offers, o);
        cl->offer = NULL;
        g_free(o);
        send_error(cl, r, NULL);
    }
}

/* A page of transfers, newest first: limit (1..1000, default 50), before
 * (a transfer's full id: older ones only; "" for the newest). */
static void cmd_transfers(client *cl, const struct ctl_transfers *q)
{
    xfer_info *t = NULL;
    size_t k = 0;
    uint8_t before[MSG_ID_LEN];
    char lower[2 * MSG_ID_LEN + 1];
    g_strlcpy(lower, q->before, sizeof lower);
    for (char *p = lower; *p; p++)
        *p = g_ascii_tolower(*p);
    if (q->before[0] && msg_id_from_hex(before, lower) != 0) {
        send_error(cl, BANTER_EINVAL, "\"before\" must be a transfer's id (32 hex digits)");
        return;
    }
    int r = xfer_list_page(node_xfer(cl->ctl->n), q->before[0] ? before : NULL, (size_t)q->limit,
                           &t, &k);
    if (r) {
        send_error(cl, r, NULL);
        return;
    }
    ctl_transfer *ts = g_new0(ctl_transfer, k + 1);
    pref *ps = g_new0(pref, k + 1);
    for (size_t i = 0; i < k; i++)
        transfer_of(cl->ctl->n, &ts[i], &ps[i], &t[i]);
    ctl_reply rp = {.kind = CTL_TRANSFERS, .u.transfers = {k, ts}};
    send_reply(cl, &rp);
    g_free(ps);
    g_free(ts);
    free(t);
}

/* The transfer an "id" argument names (an id or a unique prefix). */
static bool resolve_xfer(client *cl, const char *q, uint8_t id[static MSG_ID_LEN])
{
    char text[160];
    int r = xfer_resolve(node_xfer(cl->ctl->n), q, id);
    if (r == BANTER_ENOENT)
        snprintf(text, sizeof text, "no transfer matches '%s' (banter transfers lists them)", q);
    else if (r == BANTER_EAMBIGUOUS)
        snprintf(text, sizeof text, "'%s' matches more than one transfer: give more digits", q);
    if (r)
        send_error(cl, r, r == BANTER_ENOENT || r == BANTER_EAMBIGUOUS ? text : NULL);
    return r == 0;
}

static void op_error(client *cl, int r, ctl_kind op, const xfer_info *before, const char *why)
{
    char hex[2 * MSG_ID_LEN + 1], text[200];
    const char *verb = op == CTL_ACCEPT ? "accepted" : op == CTL_DECLINE ? "declined" : "cancelled";
    msg_id_to_hex(before->id, hex);
    if (r == BANTER_EIO && why[0]) {
        send_error(cl, r, why);
        return;
    }
    if (r == BANTER_ENOENT && before->dir == XFER_OUT)
        snprintf(text, sizeof text,
                 "transfer %.8s is outgoing: only the receiver can accept or decline it", hex);
    else if (r == BANTER_ESTATE)
        snprintf(text, sizeof text, "transfer %.8s cannot be %s: it is %s", hex, verb,
                 xfer_state_name(before->state));
    else
        snprintf(text, sizeof text, "%s", banter_strerror(r));
    send_error(cl, r, text);
}

static void cmd_xfer_op(client *cl, ctl_kind op, const struct ctl_xfer *q)
{
    uint8_t id[MSG_ID_LEN];
    char why[512] = "";
    xfer_info info;
    xfer_mgr *x = node_xfer(cl->ctl->n);
    if (!resolve_xfer(cl, q->id, id))
        return;
    int r = xfer_get(x, id, &info);
    if (r == 0 && op == CTL_ACCEPT)
        r = xfer_accept(x, id, q->to.s, why, sizeof why);
    else if (r == 0 && op == CTL_DECLINE)
        r = xfer_decline(x, id);
    else if (r == 0)
        r = xfer_cancel(x, id);
    if (r) {
        op_error(cl, r, op, &info, why);
        return;
    }
    ctl_transfer t;
    pref p;
    ctl_reply rp = {.kind = op};
    if (xfer_get(x, id, &info) == 0) {
        transfer_of(cl->ctl->n, &t, &p, &info);
        rp.u.xfer.transfer = &t;
    }
    send_reply(cl, &rp);
}

/* ---- rendezvous (rdvctl.c) ---- */

static void on_rdv_reply(void *ud, const char *json, size_t len)
{
    client *cl = ud;
    cl->rdv = NULL;
    send_text(cl, json, len);
    client_done(cl);
}

static void cmd_rdv(client *cl, ctl_request *q)
{
    buf *t = &cl->ctl->tmp;
    int r = rdvctl_request(cl->ctl->rdv, cl->ctl->ro, q, t, on_rdv_reply, cl, &cl->rdv);
    if (!cl->rdv)
        send_tmp(cl, r);
}

static void send_nat(client *cl, const natctl_report *rep)
{
    ctl_reply rp = {.kind = CTL_NAT_CHECK, .u.nat_check = rep->summary};
    send_reply(cl, &rp);
}

static void on_nat_reply(void *ud, const natctl_report *rep)
{
    client *cl = ud;
    cl->nat = NULL;
    send_nat(cl, rep);
    client_done(cl);
}

static void cmd_nat_check(client *cl)
{
    natctl_error err;
    if (natctl_request(cl->ctl->dir, on_nat_reply, cl, &cl->nat, &err) != 0)
        send_tmp(cl, ctlmsg_encode_error(0, err.name, err.message, NULL, 0, &cl->ctl->tmp));
}

void control_set_direct(control *ctl, direct *d) { ctl->dir = d; }

void control_set_lan_state(control *ctl, const doctor_lan *st) { ctl->lan = st; }

/* ---- doctor (doctorctl.h) ---- */

typedef struct doctor_job {
    doctor_check c[DOCTOR_MAX_CHECKS];
    size_t n;
    bool nat_done; /* nat and turn hold their checks (from natctl) */
    doctor_check nat, turn;
    stunmap *map;         /* the mapping check while it runs (net/stunmap.h) */
    bool map_done;        /* mapping holds its check */
    doctor_check mapping; /* the mapping check, once done */
    rdv_req *probe;       /* the port check's RV_PROBE while it waits (rdv.h) */
    bool port_done;       /* port holds its check */
    doctor_check port;    /* the port check, once done */
} doctor_job;

static void doctor_job_free(struct doctor_job *j)
{
    if (!j)
        return;
    stunmap_cancel(j->map);
    rdv_req_cancel(j->probe);
    g_free(j);
}

static void send_doctor(client *cl)
{
    doctor_job *j = cl->doc;
    ctl_check cs[DOCTOR_MAX_CHECKS];
    for (size_t i = 0; i < j->n; i++)
        cs[i] = (ctl_check){j->c[i].name, j->c[i].status, j->c[i].text};
    ctl_reply rp = {.kind = CTL_DOCTOR, .u.doctor = {j->n, cs}};
    send_reply(cl, &rp);
    doctor_job_free(j);
    cl->doc = NULL;
}

/* Send the reply once the NAT, mapping and port checks are all in;
 * whether it was sent. */
static bool doctor_try_finish(client *cl)
{
    doctor_job *j = cl->doc;
    if (!j->nat_done || !j->map_done || !j->port_done)
        return false;
    j->c[j->n++] = j->nat;
    j->c[j->n++] = j->turn;
    j->c[j->n++] = j->mapping;
    j->c[j->n++] = j->port;
    send_doctor(cl);
    return true;
}

static void on_doctor_nat(void *ud, const natctl_report *rep)
{
    client *cl = ud;
    doctor_job *j = cl->doc;
    cl->nat = NULL;
    doctor_nat(&j->nat, &j->turn, &rep->summary, NULL);
    j->nat_done = true;
    if (doctor_try_finish(cl))
        client_done(cl);
}

static void on_doctor_map(void *ud, const natmap_report *r)
{
    client *cl = ud;
    doctor_job *j = cl->doc;
    j->map = NULL; /* stunmap frees itself after this returns */
    doctor_mapping(&j->mapping, r, NULL);
    j->map_done = true;
    if (doctor_try_finish(cl))
        client_done(cl);
}

/* Start the mapping check against the STUN vantage points the rendezvous
 * named, or say at once why it cannot run. */
static void doctor_map_start(client *cl, doctor_job *j)
{
    stun_addr pts[BANTER_MAX_STUN_DEST];
    size_t n = direct_stun_points(cl->ctl->dir, pts, BANTER_MAX_STUN_DEST);
    const char *why = !cl->ctl->dir ? "no rendezvous configured: the STUN servers come from it"
                      : !n ? "the rendezvous has named no STUN or TURN server (log in first; an "
                             "admin sets stun and turn in its configuration)"
                           : "cannot open a UDP socket for STUN";
    if (n) {
        banter_rng rng = bcrypto_rng_system();
        j->map = stunmap_start(cl->ctl->ctx, pts, n, &rng, on_doctor_map, cl);
    }
    if (!j->map) {
        doctor_mapping(&j->mapping, NULL, why);
        j->map_done = true;
    }
}

static void on_doctor_probe(void *ud, const rdv_answer *a)
{
    client *cl = ud;
    doctor_job *j = cl->doc;
    j->probe = NULL;
    doctor_port(&j->port, node_port(cl->ctl->n), a, "");
    j->port_done = true;
    if (doctor_try_finish(cl))
        client_done(cl);
}

/* Ask the rendezvous to connect back to this node's port (up to 3 s), or
 * say at once why it cannot. */
static void doctor_port_start(client *cl, doctor_job *j)
{
    char why[700] = "";
    unsigned port = node_port(cl->ctl->n);
    rdv_status *st = cl->ctl->rdv ? g_new0(rdv_status, 1) : NULL;
    if (st)
        rdv_get_status(cl->ctl->rdv, st);
    if (!st)
        snprintf(why, sizeof why, "no rendezvous to test this node's port from outside");
    else if (!port)
        snprintf(why, sizeof why, "this node does not listen on a TCP port");
    else if (!st->connected || !st->user[0])
        snprintf(why, sizeof why,
                 "the rendezvous tests whether port %u is reachable from outside once this node "
                 "is connected and logged in",
                 port);
    else if (rdv_port_probe(cl->ctl->rdv, (uint16_t)port, on_doctor_probe, cl, &j->probe, why,
                            sizeof why) == RDV_OK) {
        g_free(st);
        return;
    }
    g_free(st);
    doctor_port(&j->port, port, NULL, why);
    j->port_done = true;
}

static void doctor_contact_check(client *cl, doctor_check *c, const char *peer)
{
    uint8_t key[32];
    char why[1024];
    int r = node_resolve(cl->ctl->n, peer, key, NULL, NULL, why, sizeof why);
    node_peer_info *pi = g_new0(node_peer_info, 1);
    if (!r && node_peer_info_get(cl->ctl->n, key, pi) != 0)
        snprintf(why, sizeof why, "no contact \"%s\"", peer), r = BANTER_ENOENT;
    doctor_contact(c, peer, r ? NULL : pi, why);
    g_free(pi);
}

static void cmd_doctor(client *cl, const struct ctl_doctor_req *q)
{
    char ifaces[256];
    rdv_status *st = cl->ctl->rdv ? g_new0(rdv_status, 1) : NULL;
    doctor_job *j = cl->doc = g_new0(doctor_job, 1);
    mdns_ifaces(ifaces, sizeof ifaces);
    doctor_discovery(&j->c[j->n++], cl->ctl->lan, ifaces, g_get_monotonic_time() / 1000);
    if (st)
        rdv_get_status(cl->ctl->rdv, st);
    doctor_rendezvous(&j->c[j->n++], st);
    g_free(st);
    if (q->peer[0])
        doctor_contact_check(cl, &j->c[j->n++], q->peer);
    doctor_map_start(cl, j);
    doctor_port_start(cl, j);
    natctl_error err;
    if (natctl_request(cl->ctl->dir, on_doctor_nat, cl, &cl->nat, &err) != 0) {
        doctor_nat(&j->nat, &j->turn, NULL, err.message);
        j->nat_done = true;
        doctor_try_finish(cl);
    }
}

/* ---- settings and the web interface ---- */

static void broadcast_settings(control *ctl, const client *self);

static void cmd_settings_get(client *cl)
{
    struct ctl_read_mark *marks = NULL;
    ctl_reply rp = {.kind = CTL_SETTINGS_GET};
    int r = settings_view(cl->ctl->settings, &rp.u.settings, &marks);
    if (r)
        send_error(cl, r, NULL);
    else
        send_reply(cl, &rp);
    g_free(marks);
}

static void cmd_settings_set(client *cl, const struct ctl_settings_set *q)
{
    char why[256];
    int r = settings_apply(cl->ctl->settings, q, why, sizeof why);
    if (r && r != BANTER_EIO) {
        send_error(cl, r, why);
        return;
    }
    if (r) /* kept in memory: say so, and still tell everyone */
        send_error(cl, r, why);
    else
        cmd_settings_get(cl);
    broadcast_settings(cl->ctl, cl);
}

static void cmd_web(client *cl)
{
    control *ctl = cl->ctl;
    ctl_reply rp = {.kind = CTL_WEB};
    rp.u.web.enabled = ctl->web_url != NULL;
    rp.u.web.url = ctl->web_url;
    rp.u.web.message = ctl->web_why;
    send_reply(cl, &rp);
}

void control_set_web(control *ctl, const char *url, const char *why)
{
    if (ctl->web_url) {
        bcrypto_wipe(ctl->web_url, strlen(ctl->web_url));
        g_free(ctl->web_url);
    }
    ctl->web_url = url ? g_strdup(url) : NULL;
    g_strlcpy(ctl->web_why, why ? why : "", sizeof ctl->web_why);
}

static void cmd_plugins(client *cl, const struct ctl_plugins_req *q)
{
    send_tmp(cl, pluginctl_request(cl->ctl->plugins, q, &cl->ctl->tmp));
}

void control_set_plugins(control *ctl, plugins *p) { ctl->plugins = p; }

static void dispatch(client *cl, ctl_request *q)
{
    switch (q->kind) {
    case CTL_ID:
        cmd_id(cl);
        break;
    case CTL_PEERS:
        cmd_peers(cl);
        break;
    case CTL_SEND:
        cmd_send(cl, &q->u.send);
        break;
    case CTL_BROADCAST:
        cmd_broadcast(cl, &q->u.broadcast);
        break;
    case CTL_HISTORY:
        cmd_history(cl, &q->u.history);
        break;
    case CTL_VERIFY:
        cmd_verify(cl, &q->u.verify);
        break;
    case CTL_LISTEN: {
        ctl_reply rp = {.kind = CTL_LISTEN};
        cl->listening = true;
        send_reply(cl, &rp);
        break;
    }
    case CTL_SEND_FILE:
        cmd_send_file(cl, &q->u.send_file);
        break;
    case CTL_TRANSFERS:
        cmd_transfers(cl, &q->u.transfers);
        break;
    case CTL_ACCEPT:
    case CTL_DECLINE:
    case CTL_CANCEL:
        cmd_xfer_op(cl, q->kind, &q->u.xfer);
        break;
    case CTL_SETTINGS_GET:
        cmd_settings_get(cl);
        break;
    case CTL_SETTINGS_SET:
        cmd_settings_set(cl, &q->u.settings);
        break;
    case CTL_WEB:
        cmd_web(cl);
        break;
    case CTL_PLUGINS:
        cmd_plugins(cl, &q->u.plugins);
        break;
    case CTL_NAT_CHECK:
        cmd_nat_check(cl);
        break;
    case CTL_DOCTOR:
        cmd_doctor(cl, &q->u.doctor);
        break;
    default:
        if (groupctl_owns(q->kind)) /* groups and find */
            send_tmp(cl, groupctl_request(cl->ctl->n, q, &cl->ctl->tmp));
        else if (annctl_owns(q->kind)) /* the organisation's announcements */
            send_tmp(cl, annctl_request(cl->ctl->n, q, &cl->ctl->tmp));
        else /* the rendezvous's (rdvctl_owns) */
            cmd_rdv(cl, q);
        break;
    }
}

static void handle_line(client *cl, const char *line, size_t len)
{
    char why[CTL_WHY_CAP];
    ctl_request q;
    int r = ctlmsg_decode(&q, line, len, why, sizeof why);
    if (r) {
        send_error(cl, r, why);
        return;
    }
    if ((ctl_kind_flags(q.kind) & CTL_F_IDLE) &&
        (cl->wait || cl->offer || cl->rdv || cl->nat || cl->doc))
        send_error(cl, BANTER_ESTATE, "one request at a time");
    else
        dispatch(cl, &q);
    ctl_request_clear(&q); /* wipes a password */
}

/* Handle every complete line in the input buffer. */
static void process_input(client *cl)
{
    while (!cl->closing && buf_len(&cl->in)) {
        const char *data = (const char *)buf_data(&cl->in);
        const char *nl = memchr(data, '\n', buf_len(&cl->in));
        if (!nl)
            break;
        size_t len = (size_t)(nl - data);
        if (len && data[len - 1] == '\r')
            len--;
        if (len)
            handle_line(cl, data, len);
        /* A request may carry a password (login): wipe every line. */
        bcrypto_wipe((void *)(uintptr_t)data, (size_t)(nl - data));
        buf_consume(&cl->in, (size_t)(nl - data) + 1);
    }
}

/* Read what the client sent and handle its complete lines. May free cl. */
static void client_read(client *cl)
{
    uint8_t tmp[8192];
    ssize_t n = recv(cl->fd, tmp, sizeof tmp, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        client_free(cl);
        return;
    }
    if (buf_append(&cl->in, tmp, (size_t)n) != 0) {
        send_error(cl, BANTER_ETOOBIG, "request line longer than 65536 bytes: closing");
        bcrypto_wipe((void *)(uintptr_t)buf_data(&cl->in), buf_len(&cl->in));
        buf_consume(&cl->in, buf_len(&cl->in));
        cl->closing = true;
        client_watch(cl);
    } else {
        process_input(cl);
    }
    bcrypto_wipe(tmp, (size_t)n);
    client_done(cl);
}

/* The socket is ready: output first (a hang-up with output waiting ends
 * it there), then input. */
static void on_client_events(void *v, int fd, uint32_t events)
{
    client *cl = v;
    const uint32_t fault = EVLOOP_HUP | EVLOOP_ERR;
    (void)fd;
    if ((events & (EVLOOP_OUT | fault)) && buf_len(&cl->out))
        client_flush(cl);
    if (!cl->dead && !cl->closing && (events & (EVLOOP_IN | fault))) {
        client_read(cl); /* may free cl */
        return;
    }
    client_done(cl); /* may free cl */
}

static unsigned socket_clients(const control *ctl)
{
    unsigned k = 0;
    for (const GList *l = ctl->clients; l; l = l->next)
        k += ((const client *)l->data)->fd >= 0;
    return k;
}

static void on_accept(void *ud, int cfd)
{
    control *ctl = ud;
    struct ucred cred;
    socklen_t sl = sizeof cred;
    if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &sl) != 0 || cred.uid != geteuid()) {
        close(cfd);
        return;
    }
    if (socket_clients(ctl) >= CONTROL_MAX_CLIENTS) {
        static const char busy[] = "{\"ok\":false,\"error\":\"EBUSY\",\"message\":\"the node "
                                   "already serves 64 control clients: try again\"}\n";
        ssize_t w = send(cfd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w; /* best effort: the client learns why, or sees the close */
        close(cfd);
        return;
    }
    client *cl = g_new0(client, 1);
    cl->ctl = ctl;
    cl->fd = cfd;
    buf_init(&cl->in, CONTROL_MAX_LINE + 1);
    buf_init(&cl->out, CONTROL_OUT_CAP);
    ctl->clients = g_list_prepend(ctl->clients, cl);
    cl->w = evloop_add(ctl->ev, ctl->ctx, cfd, EVLOOP_IN, on_client_events, cl);
    if (!cl->w) /* ENOMEM from epoll */
        client_free(cl);
}

/* ---- in-process clients ---- */

control_client *control_attach(control *ctl, control_send_fn send, control_close_fn close_fn,
                               void *ud)
{
    if (g_list_length(ctl->clients) - socket_clients(ctl) >= CONTROL_MAX_INPROC)
        return NULL;
    client *cl = g_new0(client, 1);
    cl->ctl = ctl;
    cl->fd = -1;
    cl->send = send;
    cl->close = close_fn;
    cl->ud = ud;
    buf_init(&cl->in, 0);
    buf_init(&cl->out, 0);
    ctl->clients = g_list_prepend(ctl->clients, cl);
    return cl;
}

void control_client_input(control_client *cl, const char *json, size_t len)
{
    if (cl->closing)
        return;
    if (len > CONTROL_MAX_LINE) {
        send_error(cl, BANTER_ETOOBIG, "request longer than 65536 bytes: closing");
        cl->closing = true;
    } else {
        /* A private copy, wiped afterwards: a request may carry a password. */
        char *copy = g_strndup(json, len);
        handle_line(cl, copy, len);
        bcrypto_wipe(copy, len);
        g_free(copy);
    }
    client_done(cl);
}

void control_detach(control_client *cl)
{
    if (!cl)
        return;
    cl->close = NULL; /* the owner knows */
    client_free(cl);
}

/* 0 when something accepts connections at path. */
static int probe(const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int r = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
    close(fd);
    return r;
}

/* The settings live in the home, the folder of the socket. */
static int open_settings(control *ctl, const char *path)
{
    char why[512];
    gchar *dir = g_path_get_dirname(path);
    int r = settings_open(&ctl->settings, dir, why, sizeof why);
    g_free(dir);
    if (r == 0 && why[0])
        g_printerr("banter: %s\n", why);
    return r;
}

int control_new(control **out, node *n, GMainContext *ctx, evloop *ev, const char *path, char *why,
                size_t cap)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    control *ctl;
    *out = NULL;
    if (strlen(path) >= sizeof sa.sun_path) {
        snprintf(why, cap, "control socket path too long: %s", path);
        return BANTER_ETOOLONG;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (probe(&sa) == 0) {
        snprintf(why, cap, "a node is already running with this home (%s)", path);
        return BANTER_EIO;
    }
    unlink(path); /* stale socket of a node that died */
    ctl = g_new0(control, 1);
    ctl->n = n;
    ctl->ctx = ctx;
    ctl->ev = ev;
    buf_init(&ctl->tmp, CONTROL_OUT_CAP);
    g_strlcpy(ctl->path, path, sizeof ctl->path);
    ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    mode_t old = umask(077);
    int r = ctl->fd < 0 ? -1 : bind(ctl->fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (r != 0 || chmod(path, 0600) != 0 || listen(ctl->fd, CONTROL_BACKLOG) != 0) {
        snprintf(why, cap, "cannot create the control socket %s: %s", path, g_strerror(errno));
        if (ctl->fd >= 0)
            close(ctl->fd);
        buf_free(&ctl->tmp);
        g_free(ctl);
        return BANTER_EIO;
    }
    ctl->acc = acceptor_new(ctx, ev, ctl->fd, "the control socket", true, on_accept, ctl);
    g_strlcpy(ctl->web_why, "the node was started without the web interface", sizeof ctl->web_why);
    node_subscribe(n, on_node_event, ctl);
    if (open_settings(ctl, path) != 0) {
        snprintf(why, cap, "cannot load the settings beside %s", path);
        control_free(ctl);
        return BANTER_ENOMEM;
    }
    *out = ctl;
    return 0;
}

void control_free(control *ctl)
{
    if (!ctl)
        return;
    node_unsubscribe(ctl->n, on_node_event, ctl);
    while (ctl->clients)
        client_free(ctl->clients->data);
    /* Offers still hashing are freed by their callbacks; they must not
     * reach back into ctl. */
    for (GList *l = ctl->offers; l; l = l->next)
        ((offer_req *)l->data)->ctl = NULL;
    g_list_free(ctl->offers);
    acceptor_free(ctl->acc);
    close(ctl->fd);
    unlink(ctl->path);
    settings_free(ctl->settings);
    control_set_web(ctl, NULL, NULL);
    buf_free(&ctl->tmp);
    g_free(ctl);
}

/* ---- events ---- */

/* The settings event to every listener. self is the client whose request
 * caused it: still in use, not freed here. */
static void broadcast_settings(control *ctl, const client *self)
{
    struct ctl_read_mark *marks = NULL;
    ctl_settings s;
    if (settings_view(ctl->settings, &s, &marks) != 0)
        return;
    ctl_event ev = {.kind = CTL_EV_SETTINGS, .at = now_ms(), .settings = &s};
    buf text;
    buf_init(&text, CONTROL_OUT_CAP);
    int r = ctlmsg_encode_event(&ev, &text);
    g_free(marks);
    GList *copy = g_list_copy(ctl->clients);
    for (GList *l = copy; l; l = l->next) {
        client *cl = l->data;
        if (r == 0 && cl->listening && !cl->following)
            send_text(cl, (const char *)buf_data(&text), buf_len(&text));
        if (cl != self)
            client_done(cl);
    }
    g_list_free(copy);
    buf_free(&text);
}

/* A node event as JSON text into out. */
static int event_text(control *ctl, const node_event *ev, buf *out)
{
    static const ctl_event_kind kinds[] = {CTL_EV_MESSAGE,
                                           CTL_EV_DELIVERED,
                                           CTL_EV_ONLINE,
                                           CTL_EV_OFFLINE,
                                           CTL_EV_KEY_CHANGED,
                                           CTL_EV_DISCOVERY,
                                           CTL_EV_RENDEZVOUS,
                                           CTL_EV_CONTACTS,
                                           CTL_EV_PRESENCE,
                                           CTL_EV_RENAMED,
                                           CTL_EV_COUNT /* NODE_EV_TRANSFER: control_xfer_event */,
                                           CTL_EV_DEFERRED};
    if ((unsigned)ev->type >= sizeof kinds / sizeof kinds[0] || kinds[ev->type] == CTL_EV_COUNT)
        return BANTER_EINVAL; /* a kind this table does not know yet: not shown */
    ctl_event e = {.kind = kinds[ev->type], .at = now_ms()};
    ctl_message m;
    char fp[IDENTITY_FP_LEN + 1];
    pref p;
    if (ev->peer) {
        peer_ref(ctl->n, &p, ev->peer, ev->name, ev->device);
        e.peer = &p.ref;
    }
    if ((ev->type == NODE_EV_MESSAGE || ev->type == NODE_EV_DELIVERED ||
         ev->type == NODE_EV_DEFERRED) &&
        ev->msg) {
        message_of(&m, ev->msg, fp);
        e.message = &m;
    }
    e.status = ev->status;
    e.text = ev->text;
    return ctlmsg_encode_event(&e, out);
}

static void control_event(control *ctl, const node_event *ev)
{
    buf text;
    bool made = false;
    int r = 0;
    buf_init(&text, CONTROL_OUT_CAP);
    GList *copy = g_list_copy(ctl->clients);
    for (GList *l = copy; l; l = l->next) {
        client *cl = l->data;
        waiter *w = cl->wait;
        if (ev->type == NODE_EV_DELIVERED && w && ev->msg && ev->peer &&
            memcmp(w->id, ev->msg->id, MSG_ID_LEN) == 0 && memcmp(w->peer, ev->peer, 32) == 0) {
            cl->wait = NULL;
            waiter_free(w);
            send_state(cl, ev->msg->id, state_name(ev->msg->state), ev->msg->error);
        }
        if (cl->listening && !cl->following) {
            if (!made) /* written once, for the first listener */
                r = event_text(ctl, ev, &text);
            made = true;
            if (r == 0)
                send_text(cl, (const char *)buf_data(&text), buf_len(&text));
        }
        client_done(cl);
    }
    g_list_free(copy);
    buf_free(&text);
}

static void control_xfer_event(control *ctl, xfer_ev_type type, const xfer_info *info)
{
    bool over = xfer_over(info->state);
    GList *copy = g_list_copy(ctl->clients);
    for (GList *l = copy; l; l = l->next) {
        client *cl = l->data;
        bool mine = cl->following && memcmp(cl->follow_id, info->id, MSG_ID_LEN) == 0;
        if (cl->following ? mine : cl->listening)
            send_xfer_event(cl, type, info);
        if (mine && over)
            cl->following = false; /* back to an ordinary connection */
        client_done(cl);
    }
    g_list_free(copy);
}

/* An event written by groupctl or annctl (0, or nothing written) to
 * every listener. */
static void listeners_send(control *ctl, int r, buf *text)
{
    if (r == 0) {
        GList *copy = g_list_copy(ctl->clients);
        for (GList *l = copy; l; l = l->next) {
            client *cl = l->data;
            if (cl->listening && !cl->following)
                send_text(cl, (const char *)buf_data(text), buf_len(text));
            client_done(cl);
        }
        g_list_free(copy);
    }
    buf_free(text);
}

/* The node's events, subscribed in control_new. */
static void on_node_event(void *ud, const node_event *ev)
{
    control *ctl = ud;
    if (ev->type == NODE_EV_TRANSFER)
        control_xfer_event(ctl, ev->xtype, ev->xfer);
    else if (groupctl_event_owns(ev) || annctl_event_owns(ev)) {
        buf text;
        buf_init(&text, CONTROL_OUT_CAP);
        listeners_send(ctl,
                       groupctl_event_owns(ev) ? groupctl_event(ctl->n, ev, now_ms(), &text)
                                               : annctl_event(ev, now_ms(), &text),
                       &text);
    } else
        control_event(ctl, ev);
}

void control_set_rendezvous(control *ctl, rdv *r, roster *ro)
{
    ctl->rdv = r;
    ctl->ro = ro;
}
