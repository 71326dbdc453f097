/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* accept4, struct ucred */
/* control.c - JSON-lines control socket of the node (docs/control.md). */
#include "ui/control.h"

#include <cJSON.h>
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
#include "links.h"
#include "ui/pluginctl.h"
#include "ui/natctl.h"
#include "ui/groupctl.h"
#include "ui/rdvctl.h"
#include "rdv/roster.h"
#include "core/settings.h"
#include "utf8.h"
#include "core/xfer.h"

#define CLIENT_OUT_CAP (4u << 20)
#define MAX_WAIT_MS    600000
#define MAX_SEND_PATHS 256
#define MAX_ABS_PATH   4096

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
    GSource *rsrc, *wsrc;
    buf in, out;
    control_send_fn send;
    control_close_fn close;
    void *ud;
    bool listening;
    bool closing;
    /* At most one request in flight per client: a send waiting for its
     * acknowledgement, or a send_file waiting for its hashing. */
    waiter *wait;
    offer_req *offer;
    rdvctl_wait *rdv; /* a rendezvous request waiting for the server */
    natctl_wait *nat; /* a nat_check gathering (natctl.h) */
    /* After send_file with follow: this transfer's events only, until it
     * is over. */
    bool following;
    uint8_t follow_id[MSG_ID_LEN];
};

struct control {
    node *n;
    rdv *rdv; /* the rendezvous for rdvctl's requests, or NULL */
    roster *ro;
    plugins *plugins; /* the "plugins" request's, or NULL */
    direct *dir;      /* direct connections, for nat_check (natctl.h), or NULL */
    GMainContext *ctx;
    int fd;
    GSource *src;
    char path[108];
    GList *clients;
    GList *offers;      /* offer_req whose hashing runs */
    settings *settings; /* DIR/settings.json, beside the socket */
    char *web_url;      /* the `web` answer (holds the token), or NULL */
    char web_why[256];  /* why there is no web interface */
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

/* Frees cl; an in-process client's owner hears of it through its close
 * callback (unless it detached: then close is NULL). */
static void client_free(client *cl)
{
    cl->ctl->clients = g_list_remove(cl->ctl->clients, cl);
    drop_source(&cl->rsrc);
    drop_source(&cl->wsrc);
    waiter_free(cl->wait);
    rdvctl_cancel(cl->rdv);
    natctl_cancel(cl->nat);
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
 * that is closing once its output is written. */
static void client_done(client *cl)
{
    if (cl->closing && !buf_len(&cl->out))
        client_free(cl);
}

static gboolean on_client_writable(gint fd, GIOCondition cond, gpointer v);

static void client_flush(client *cl)
{
    while (buf_len(&cl->out)) {
        ssize_t w =
            send(cl->fd, buf_data(&cl->out), buf_len(&cl->out), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!cl->wsrc) {
                cl->wsrc = g_unix_fd_source_new(cl->fd, G_IO_OUT);
                g_source_set_callback(cl->wsrc, G_SOURCE_FUNC(on_client_writable), cl, NULL);
                g_source_attach(cl->wsrc, cl->ctl->ctx);
            }
            return;
        }
        if (w < 0) {
            cl->closing = true;
            buf_consume(&cl->out, buf_len(&cl->out));
            break;
        }
        buf_consume(&cl->out, (size_t)w);
    }
    drop_source(&cl->wsrc);
}

static gboolean on_client_writable(gint fd, GIOCondition cond, gpointer v)
{
    client *cl = v;
    (void)fd;
    (void)cond;
    client_flush(cl);
    client_done(cl);
    return G_SOURCE_CONTINUE;
}

/* Queue one JSON object as a line. Frees o. A client that does not read
 * its events is dropped rather than let to fill memory. */
static void send_json(client *cl, cJSON *o)
{
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text) {
        cl->closing = true;
        return;
    }
    size_t n = strlen(text);
    if (cl->fd < 0) { /* in-process: one message per call */
        if (!cl->closing)
            cl->send(cl->ud, text, n);
        cJSON_free(text);
        return;
    }
    if (buf_append(&cl->out, text, n) != 0 || buf_append(&cl->out, "\n", 1) != 0)
        cl->closing = true;
    cJSON_free(text);
    client_flush(cl);
}

static void send_error(client *cl, int err, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddFalseToObject(o, "ok");
    cJSON_AddStringToObject(o, "error", banter_errname(err));
    cJSON_AddStringToObject(o, "message", message ? message : banter_strerror(err));
    send_json(cl, o);
}

static cJSON *ok_reply(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddTrueToObject(o, "ok");
    return o;
}

static void add_id(cJSON *o, const uint8_t id[static MSG_ID_LEN])
{
    char hex[2 * MSG_ID_LEN + 1];
    msg_id_to_hex(id, hex);
    cJSON_AddStringToObject(o, "id", hex);
}

/* "id": the contact's key in hex, the handle "#ID" requests accept. */
static void add_contact_id(cJSON *o, const uint8_t key[static 32])
{
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    cJSON_AddStringToObject(o, "id", hex);
}

/* {"id", "name", "fingerprint"} of a contact: the fingerprint of device when
 * given, else of the contact's first device ("" when none is known). */
static cJSON *peer_ref(node *n, const uint8_t key[static 32], const char *name,
                       const uint8_t *device)
{
    char fp[IDENTITY_FP_LEN + 1] = "";
    node_peer_info *pi = NULL;
    cJSON *o = cJSON_CreateObject();
    if (device) {
        identity_fingerprint(device, fp);
    } else {
        pi = g_new(node_peer_info, 1);
        if (node_peer_info_get(n, key, pi) == 0)
            g_strlcpy(fp, pi->fingerprint, sizeof fp);
    }
    add_contact_id(o, key);
    cJSON_AddStringToObject(o, "fingerprint", fp);
    cJSON_AddStringToObject(o, "name", name ? name : (pi ? pi->contact.name : ""));
    g_free(pi);
    return o;
}

/* The contact a device belongs to, for naming it. */
static cJSON *device_ref(node *n, const uint8_t device[static 32])
{
    store_device d;
    store_contact c;
    if (store_device_get(node_store(n), device, &d) == 0 &&
        store_contact_get(node_store(n), d.contact, &c) == 0)
        return peer_ref(n, c.key, c.name, device);
    return peer_ref(n, device, "", device);
}

static cJSON *links_of(const char *body, size_t len)
{
    cJSON *a = cJSON_CreateArray();
    size_t off = 0, start, n;
    while (links_next(body, len, &off, &start, &n)) {
        char *s = g_strndup(body + start, n);
        cJSON_AddItemToArray(a, cJSON_CreateString(s));
        g_free(s);
    }
    return a;
}

static const char *state_name(store_state s)
{
    static const char *names[] = {"queued", "delivered", "received", "stored", "failed"};
    return s <= STORE_FAILED ? names[s] : "?";
}

static cJSON *message_json(const store_msg *m)
{
    cJSON *o = cJSON_CreateObject();
    add_id(o, m->id);
    cJSON_AddNumberToObject(o, "seq", (double)m->seq);
    cJSON_AddStringToObject(o, "direction", m->dir == STORE_IN ? "in" : "out");
    if (m->has_device) {
        char fp[IDENTITY_FP_LEN + 1];
        identity_fingerprint(m->device, fp);
        cJSON_AddStringToObject(o, "device", fp);
    }
    if (m->flags & STORE_MSG_UNTRUSTED)
        cJSON_AddTrueToObject(o, "unverified");
    cJSON_AddNumberToObject(o, "ts", (double)m->ts_ms);
    cJSON_AddNumberToObject(o, "stored", (double)m->stored_ms);
    cJSON_AddStringToObject(o, "state", state_name(m->state));
    if (m->error[0])
        cJSON_AddStringToObject(o, "error", m->error);
    cJSON_AddBoolToObject(o, "broadcast", m->broadcast);
    cJSON_AddStringToObject(o, "body", m->body ? m->body : "");
    cJSON_AddItemToObject(o, "links", links_of(m->body ? m->body : "", m->body_len));
    return o;
}

/* ---- requests ---- */

static const char *str_arg(const cJSON *req, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The contact "peer" names; dev and has_dev (may be NULL) receive the
 * device a fingerprint named. */
static bool resolve_dev(client *cl, const cJSON *req, uint8_t key[static 32], uint8_t *dev,
                        bool *has_dev)
{
    char why[1024];
    const char *q = str_arg(req, "peer");
    if (!q || !*q) {
        send_error(cl, BANTER_EINVAL, "missing \"peer\": a name or a fingerprint prefix");
        return false;
    }
    int r = node_resolve(cl->ctl->n, q, key, dev, has_dev, why, sizeof why);
    if (r)
        send_error(cl, r, why);
    return r == 0;
}

static bool resolve(client *cl, const cJSON *req, uint8_t key[static 32])
{
    return resolve_dev(cl, req, key, NULL, NULL);
}

static void cmd_id(client *cl)
{
    node *n = cl->ctl->n;
    cJSON *o = ok_reply();
    cJSON_AddStringToObject(o, "fingerprint", node_fingerprint(n));
    cJSON_AddStringToObject(o, "name", node_name(n));
    cJSON_AddNumberToObject(o, "port", node_port(n));
    send_json(cl, o);
}

static cJSON *device_json(const node_device_info *d)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "fingerprint", d->fingerprint);
    cJSON_AddStringToObject(o, "name", d->dev.name);
    cJSON_AddStringToObject(o, "trust", store_trust_name(d->dev.trust));
    cJSON_AddBoolToObject(o, "online", d->online);
    cJSON_AddStringToObject(o, "address", d->address);
    cJSON_AddStringToObject(o, "source", d->dev.source);
    cJSON_AddStringToObject(o, "route", d->route); /* lan, direct, relay, server or "" */
    cJSON_AddStringToObject(o, "path", d->path);
    return o;
}

static cJSON *peer_json(const node_peer_info *pi)
{
    cJSON *o = cJSON_CreateObject();
    if (pi->trust != TRUST_NEW) /* "new" rows are advertised devices, not contacts */
        add_contact_id(o, pi->contact.key);
    cJSON_AddStringToObject(o, "fingerprint", pi->fingerprint);
    cJSON_AddStringToObject(o, "name", pi->contact.name);
    cJSON_AddBoolToObject(o, "online", pi->online);
    cJSON *addrs = cJSON_AddArrayToObject(o, "addresses");
    if (pi->address[0])
        cJSON_AddItemToArray(addrs, cJSON_CreateString(pi->address));
    cJSON_AddStringToObject(o, "source", pi->source);
    cJSON_AddStringToObject(o, "route", pi->ndev ? pi->devs[0].route : "");
    cJSON_AddStringToObject(o, "trust", store_trust_name(pi->trust));
    cJSON_AddNumberToObject(o, "last_seen", (double)pi->last_seen_ms);
    if (pi->contact.kind == CONTACT_ORG) { /* an organisation account */
        cJSON_AddStringToObject(o, "account", pi->contact.account);
        cJSON_AddStringToObject(o, "status", pi->status);
        cJSON_AddStringToObject(o, "text", pi->status_text);
        cJSON_AddStringToObject(o, "contact", pi->state);
        cJSON_AddStringToObject(o, "display_name", pi->display_name);
        cJSON *org = cJSON_AddObjectToObject(o, "org");
        cJSON_AddStringToObject(org, "account", pi->contact.account);
        cJSON_AddStringToObject(org, "server_fp", pi->org_server);
    }
    if (pi->replaces[0])
        cJSON_AddStringToObject(o, "replaces", pi->replaces);
    cJSON *devs = cJSON_AddArrayToObject(o, "devices");
    for (size_t i = 0; i < pi->ndev; i++)
        cJSON_AddItemToArray(devs, device_json(&pi->devs[i]));
    return o;
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
    cJSON *o = ok_reply();
    cJSON *a = cJSON_AddArrayToObject(o, "peers");
    for (size_t i = 0; i < k; i++)
        cJSON_AddItemToArray(a, peer_json(&pi[i]));
    free(pi);
    send_json(cl, o);
}

static gboolean on_wait_timeout(gpointer v)
{
    client *cl = v;
    waiter *w = cl->wait;
    cJSON *o = ok_reply();
    add_id(o, w->id);
    cJSON_AddStringToObject(o, "state", "queued");
    cl->wait = NULL;
    g_source_unref(w->timer);
    w->timer = NULL; /* this source is being removed by returning REMOVE */
    waiter_free(w);
    send_json(cl, o);
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

static void cmd_send(client *cl, const cJSON *req)
{
    uint8_t key[32], id[MSG_ID_LEN];
    const char *text = str_arg(req, "text");
    const cJSON *wait = cJSON_GetObjectItemCaseSensitive(req, "wait");
    const cJSON *wait_off = cJSON_GetObjectItemCaseSensitive(req, "wait_offline");
    double wait_ms = cJSON_IsNumber(wait) ? wait->valuedouble : 0;
    if (!text) {
        send_error(cl, BANTER_EINVAL, "missing \"text\"");
        return;
    }
    if (!(wait_ms >= 0 && wait_ms <= MAX_WAIT_MS)) {
        send_error(cl, BANTER_EINVAL, "\"wait\" must be 0..600000 milliseconds");
        return;
    }
    if (!resolve(cl, req, key))
        return;
    int r = node_send(cl->ctl->n, key, text, strlen(text), id);
    if (r) {
        send_error(cl, r, send_error_text(r));
        return;
    }
    /* Wait for the acknowledgement while the peer is online, or also while
     * it is offline when the caller asked so explicitly. */
    /* An approved account is reachable while the relay is logged in: the
     * server answers for it (delivered, or stored for later). */
    bool online = node_reachable(cl->ctl->n, key);
    if (wait_ms > 0 && (online || cJSON_IsTrue(wait_off))) {
        waiter *w = g_new0(waiter, 1);
        w->cl = cl;
        memcpy(w->id, id, sizeof w->id);
        memcpy(w->peer, key, sizeof w->peer);
        w->timer = g_timeout_source_new((guint)wait_ms);
        g_source_set_callback(w->timer, on_wait_timeout, cl, NULL);
        g_source_attach(w->timer, cl->ctl->ctx);
        cl->wait = w;
        return;
    }
    cJSON *o = ok_reply();
    add_id(o, id);
    cJSON_AddStringToObject(o, "state", "queued");
    send_json(cl, o);
}

static void cmd_broadcast(client *cl, const cJSON *req)
{
    uint8_t id[MSG_ID_LEN];
    size_t count = 0;
    const char *text = str_arg(req, "text");
    if (!text) {
        send_error(cl, BANTER_EINVAL, "missing \"text\"");
        return;
    }
    int r = node_broadcast(cl->ctl->n, text, strlen(text), id, &count);
    if (r) {
        send_error(cl, r, send_error_text(r));
        return;
    }
    cJSON *o = ok_reply();
    add_id(o, id);
    cJSON_AddNumberToObject(o, "recipients", (double)count);
    send_json(cl, o);
}

static void cmd_history(client *cl, const cJSON *req)
{
    uint8_t key[32];
    store_msg *m = NULL;
    size_t k = 0;
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive(req, "limit");
    const cJSON *bef = cJSON_GetObjectItemCaseSensitive(req, "before");
    double limit = cJSON_IsNumber(lim) ? lim->valuedouble : 50;
    double before = cJSON_IsNumber(bef) ? bef->valuedouble : 0;
    if (!(limit >= 1 && limit <= 100000) || (lim && !cJSON_IsNumber(lim))) {
        send_error(cl, BANTER_EINVAL, "\"limit\" must be 1..100000");
        return;
    }
    if (!(before >= 0 && before <= 9007199254740991.0) || (bef && !cJSON_IsNumber(bef))) {
        send_error(cl, BANTER_EINVAL, "\"before\" must be a message's seq (0: the newest)");
        return;
    }
    if (!resolve(cl, req, key))
        return;
    int r = store_history(node_store(cl->ctl->n), key, (int64_t)before, (size_t)limit, &m, &k);
    if (r) {
        send_error(cl, r, NULL);
        return;
    }
    cJSON *o = ok_reply();
    cJSON_AddItemToObject(o, "peer", peer_ref(cl->ctl->n, key, NULL, NULL));
    cJSON *a = cJSON_AddArrayToObject(o, "messages");
    for (size_t i = 0; i < k; i++)
        cJSON_AddItemToArray(a, message_json(&m[i]));
    store_msgs_free(m, k);
    send_json(cl, o);
}

static void cmd_verify(client *cl, const cJSON *req)
{
    uint8_t key[32], dev[32];
    bool has_dev = false;
    char note[256];
    if (!resolve_dev(cl, req, key, dev, &has_dev))
        return;
    int r = node_verify(cl->ctl->n, key, has_dev ? dev : NULL, note, sizeof note);
    if (r) {
        send_error(cl, r, NULL);
        return;
    }
    node_peer_info *pi = g_new(node_peer_info, 1);
    cJSON *o = ok_reply();
    cJSON_AddStringToObject(o, "message", note);
    if (node_peer_info_get(cl->ctl->n, key, pi) == 0)
        cJSON_AddItemToObject(o, "peer", peer_json(pi));
    g_free(pi);
    send_json(cl, o);
}

/* ---- file transfers ---- */

static bool xfer_over(xfer_state s)
{
    return s == XFER_DONE || s == XFER_FAILED || s == XFER_DECLINED || s == XFER_CANCELLED;
}

static cJSON *transfer_json(node *n, const xfer_info *t)
{
    cJSON *o = cJSON_CreateObject();
    add_id(o, t->id);
    cJSON_AddItemToObject(o, "peer", device_ref(n, t->peer));
    cJSON_AddStringToObject(o, "direction", t->dir == XFER_IN ? "in" : "out");
    cJSON_AddStringToObject(o, "state", xfer_state_name(t->state));
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddNumberToObject(o, "files", (double)t->nfiles);
    cJSON_AddNumberToObject(o, "size", (double)t->size);
    cJSON_AddNumberToObject(o, "done", (double)t->done);
    cJSON_AddNumberToObject(o, "rate", t->rate > 0 ? (double)(uint64_t)t->rate : 0);
    cJSON_AddStringToObject(o, "error", t->error);
    cJSON_AddStringToObject(o, "dest", t->dest);
    cJSON_AddNumberToObject(o, "created", (double)t->created_ms);
    return o;
}

static cJSON *xfer_event_json(node *n, xfer_ev_type type, const xfer_info *info)
{
    static const char *names[] = {"file_offer", "file_state", "file_progress", "file_done",
                                  "file_failed"};
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "event", names[type]);
    cJSON_AddNumberToObject(o, "at", (double)(g_get_real_time() / 1000));
    cJSON_AddItemToObject(o, "transfer", transfer_json(n, info));
    return o;
}

/* The path strings stay in req; xfer_send copies what it keeps. */
static bool take_paths(client *cl, const cJSON *req, const char **paths, size_t *np)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(req, "paths");
    const cJSON *p;
    int k = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
    if (k < 1 || k > MAX_SEND_PATHS) {
        send_error(cl, BANTER_EINVAL, "\"paths\" must be an array of 1..256 absolute paths");
        return false;
    }
    *np = 0;
    cJSON_ArrayForEach (p, arr) {
        if (!cJSON_IsString(p) || p->valuestring[0] != '/' ||
            strlen(p->valuestring) >= MAX_ABS_PATH) {
            send_error(cl, BANTER_EINVAL,
                       "each of \"paths\" must be an absolute path (a string starting with /, "
                       "under 4096 bytes)");
            return false;
        }
        paths[(*np)++] = p->valuestring;
    }
    return true;
}

static void offer_reply(client *cl, const offer_req *o, const uint8_t id[static MSG_ID_LEN])
{
    node *n = cl->ctl->n;
    xfer_info info;
    bool online = node_device_online(n, o->peer);
    bool have = xfer_get(node_xfer(n), id, &info) == 0;
    cJSON *r = ok_reply();
    add_id(r, id);
    cJSON_AddStringToObject(r, "state", online ? "offered" : "queued");
    if (have)
        cJSON_AddItemToObject(r, "transfer", transfer_json(n, &info));
    send_json(cl, r);
    if (!o->follow)
        return;
    if (have && xfer_over(info.state)) { /* over before the reply: say so now */
        xfer_ev_type t = info.state == XFER_DONE ? XFER_EV_DONE : XFER_EV_FAILED;
        send_json(cl, xfer_event_json(n, t, &info));
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

static void cmd_send_file(client *cl, const cJSON *req)
{
    uint8_t key[32], dev[32];
    const char *paths[MAX_SEND_PATHS];
    size_t np = 0;
    char why[256];
    const cJSON *follow = cJSON_GetObjectItemCaseSensitive(req, "follow");
    if (follow && !cJSON_IsBool(follow)) {
        send_error(cl, BANTER_EINVAL, "\"follow\" must be true or false");
        return;
    }
    if (!take_paths(cl, req, paths, &np) || !resolve(cl, req, key))
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
    offer_req *o = g_new0(offer_req, 1);
    o->ctl = cl->ctl;
    o->cl = cl;
    memcpy(o->peer, dev, sizeof o->peer);
    o->follow = cJSON_IsTrue(follow);
    cl->offer = o;
    cl->ctl->offers = g_list_prepend(cl->ctl->offers, o);
    /* o may be answered and freed inside xfer_send: not touched after. */
    int r = xfer_send(node_xfer(cl->ctl->n), dev, paths, np, on_offer_done, o);
    if (r) { /* the callback never runs */
        cl->ctl->offers = g_list_remove(cl->ctl->offers, o);
        cl->offer = NULL;
        g_free(o);
        send_error(cl, r, NULL);
    }
}

/* A page of transfers, newest first: "limit" (1..1000, default 50),
 * "before" (a transfer's full id: older ones only). */
static void cmd_transfers(client *cl, const cJSON *req)
{
    xfer_info *t = NULL;
    size_t k = 0;
    uint8_t before[MSG_ID_LEN];
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive(req, "limit");
    const char *bef = str_arg(req, "before");
    double limit = cJSON_IsNumber(lim) ? lim->valuedouble : XFER_LIST_PAGE;
    if (!(limit >= 1 && limit <= 1000) || (lim && !cJSON_IsNumber(lim))) {
        send_error(cl, BANTER_EINVAL, "\"limit\" must be 1..1000");
        return;
    }
    if (cJSON_GetObjectItemCaseSensitive(req, "before") &&
        (!bef || msg_id_from_hex(before, bef) != 0)) {
        send_error(cl, BANTER_EINVAL, "\"before\" must be a transfer's id (32 hex digits)");
        return;
    }
    int r = xfer_list_page(node_xfer(cl->ctl->n), bef ? before : NULL, (size_t)limit, &t, &k);
    if (r) {
        send_error(cl, r, NULL);
        return;
    }
    cJSON *o = ok_reply();
    cJSON *a = cJSON_AddArrayToObject(o, "transfers");
    for (size_t i = 0; i < k; i++)
        cJSON_AddItemToArray(a, transfer_json(cl->ctl->n, &t[i]));
    free(t);
    send_json(cl, o);
}

static bool all_hex(const char *s)
{
    for (; *s; s++)
        if (!g_ascii_isxdigit(*s))
            return false;
    return true;
}

/* The transfer "id" of req names (an id or a unique prefix). */
static bool resolve_xfer(client *cl, const cJSON *req, uint8_t id[static MSG_ID_LEN])
{
    char text[160];
    const char *q = str_arg(req, "id");
    if (!q || !*q || strlen(q) > 2 * MSG_ID_LEN || !all_hex(q)) {
        send_error(cl, BANTER_EINVAL,
                   "\"id\" must be a transfer id or a unique prefix of one (hex digits)");
        return false;
    }
    int r = xfer_resolve(node_xfer(cl->ctl->n), q, id);
    if (r == BANTER_ENOENT)
        snprintf(text, sizeof text, "no transfer matches '%s' (banter transfers lists them)", q);
    else if (r == BANTER_EAMBIGUOUS)
        snprintf(text, sizeof text, "'%s' matches more than one transfer: give more digits", q);
    if (r)
        send_error(cl, r, r == BANTER_ENOENT || r == BANTER_EAMBIGUOUS ? text : NULL);
    return r == 0;
}

typedef enum xfer_op { OP_ACCEPT, OP_DECLINE, OP_CANCEL } xfer_op;

static void op_error(client *cl, int r, xfer_op op, const xfer_info *before, const char *why)
{
    static const char *verbs[] = {"accepted", "declined", "cancelled"};
    char hex[2 * MSG_ID_LEN + 1], text[200];
    msg_id_to_hex(before->id, hex);
    if (r == BANTER_EIO && why[0]) {
        send_error(cl, r, why);
        return;
    }
    if (r == BANTER_ENOENT && before->dir == XFER_OUT)
        snprintf(text, sizeof text,
                 "transfer %.8s is outgoing: only the receiver can accept or decline it", hex);
    else if (r == BANTER_ESTATE)
        snprintf(text, sizeof text, "transfer %.8s cannot be %s: it is %s", hex, verbs[op],
                 xfer_state_name(before->state));
    else
        snprintf(text, sizeof text, "%s", banter_strerror(r));
    send_error(cl, r, text);
}

static void cmd_xfer_op(client *cl, const cJSON *req, xfer_op op)
{
    uint8_t id[MSG_ID_LEN];
    char why[512] = "";
    xfer_info info;
    xfer_mgr *x = node_xfer(cl->ctl->n);
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(req, "to");
    if (to && !(cJSON_IsString(to) && to->valuestring[0] == '/' &&
                strlen(to->valuestring) < MAX_ABS_PATH)) {
        send_error(cl, BANTER_EINVAL, "\"to\" must be an absolute path (under 4096 bytes)");
        return;
    }
    if (!resolve_xfer(cl, req, id))
        return;
    int r = xfer_get(x, id, &info);
    if (r == 0 && op == OP_ACCEPT)
        r = xfer_accept(x, id, to ? to->valuestring : NULL, why, sizeof why);
    else if (r == 0 && op == OP_DECLINE)
        r = xfer_decline(x, id);
    else if (r == 0)
        r = xfer_cancel(x, id);
    if (r) {
        op_error(cl, r, op, &info, why);
        return;
    }
    cJSON *o = ok_reply();
    if (xfer_get(x, id, &info) == 0)
        cJSON_AddItemToObject(o, "transfer", transfer_json(cl->ctl->n, &info));
    send_json(cl, o);
}

/* ---- rendezvous (rdvctl.c) ---- */

static void on_rdv_reply(void *ud, cJSON *reply)
{
    client *cl = ud;
    cl->rdv = NULL;
    send_json(cl, reply);
    client_done(cl);
}

static void cmd_rdv(client *cl, const char *cmd, cJSON *req)
{
    cJSON *o = rdvctl_request(cl->ctl->rdv, cl->ctl->ro, cmd, req, on_rdv_reply, cl, &cl->rdv);
    if (o)
        send_json(cl, o);
}

static void on_nat_reply(void *ud, cJSON *reply)
{
    client *cl = ud;
    cl->nat = NULL;
    send_json(cl, reply);
    client_done(cl);
}

static void cmd_nat_check(client *cl)
{
    cJSON *o = natctl_request(cl->ctl->dir, on_nat_reply, cl, &cl->nat);
    if (o)
        send_json(cl, o);
}

void control_set_direct(control *ctl, direct *d) { ctl->dir = d; }

/* ---- settings and the web interface ---- */

static void broadcast_json(control *ctl, cJSON *ev, const client *self);

static void cmd_settings_get(client *cl)
{
    cJSON *o = ok_reply();
    cJSON_AddItemToObject(o, "settings", settings_json(cl->ctl->settings));
    send_json(cl, o);
}

static void cmd_settings_set(client *cl, const cJSON *req)
{
    char why[256];
    const cJSON *changes = cJSON_GetObjectItemCaseSensitive(req, "settings");
    int r = settings_set(cl->ctl->settings, changes, why, sizeof why);
    if (r && r != BANTER_EIO) {
        send_error(cl, r, why);
        return;
    }
    if (r) /* kept in memory: say so, and still tell everyone */
        send_error(cl, r, why);
    else
        cmd_settings_get(cl);
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "event", "settings");
    cJSON_AddNumberToObject(ev, "at", (double)(g_get_real_time() / 1000));
    cJSON_AddItemToObject(ev, "settings", settings_json(cl->ctl->settings));
    broadcast_json(cl->ctl, ev, cl);
}

static void cmd_web(client *cl)
{
    control *ctl = cl->ctl;
    cJSON *o = ok_reply();
    cJSON_AddBoolToObject(o, "enabled", ctl->web_url != NULL);
    if (ctl->web_url)
        cJSON_AddStringToObject(o, "url", ctl->web_url);
    else
        cJSON_AddStringToObject(o, "message", ctl->web_why);
    send_json(cl, o);
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

static void cmd_plugins(client *cl, const cJSON *req)
{
    char why[512] = "";
    int err = 0;
    cJSON *o = pluginctl_handle(cl->ctl->plugins, req, &err, why, sizeof why);
    if (o)
        send_json(cl, o);
    else
        send_error(cl, err, why[0] ? why : NULL);
}

void control_set_plugins(control *ctl, plugins *p) { ctl->plugins = p; }

/* A group request or find, read by the codec (shared/ctlmsg). */
static void cmd_group(client *cl, const char *line, size_t len)
{
    ctl_request q;
    char why[CTL_WHY_CAP];
    int r = ctlmsg_decode(&q, line, len, why, sizeof why);
    if (r) {
        send_error(cl, r, why);
        return;
    }
    send_json(cl, groupctl_request(cl->ctl->n, &q));
    ctl_request_clear(&q);
}

static void handle_line(client *cl, const char *line, size_t len)
{
    ctl_kind kind;
    if (!utf8_valid(line, len)) {
        send_error(cl, BANTER_EUTF8, "request is not valid UTF-8");
        return;
    }
    cJSON *req = cJSON_ParseWithLength(line, len);
    const char *cmd = req ? str_arg(req, "cmd") : NULL;
    if (!req || !cJSON_IsObject(req)) {
        send_error(cl, BANTER_EJSON, "request is not a JSON object");
    } else if (!cmd) {
        send_error(cl, BANTER_ESCHEMA, "request has no \"cmd\"");
    } else if (cl->wait || cl->offer || cl->rdv || cl->nat) {
        send_error(cl, BANTER_ESTATE, "one request at a time");
    } else if (strcmp(cmd, "id") == 0) {
        cmd_id(cl);
    } else if (strcmp(cmd, "peers") == 0) {
        cmd_peers(cl);
    } else if (strcmp(cmd, "send") == 0) {
        cmd_send(cl, req);
    } else if (strcmp(cmd, "broadcast") == 0) {
        cmd_broadcast(cl, req);
    } else if (strcmp(cmd, "history") == 0) {
        cmd_history(cl, req);
    } else if (strcmp(cmd, "verify") == 0) {
        cmd_verify(cl, req);
    } else if (strcmp(cmd, "send_file") == 0) {
        cmd_send_file(cl, req);
    } else if (strcmp(cmd, "transfers") == 0) {
        cmd_transfers(cl, req);
    } else if (strcmp(cmd, "accept") == 0) {
        cmd_xfer_op(cl, req, OP_ACCEPT);
    } else if (strcmp(cmd, "decline") == 0) {
        cmd_xfer_op(cl, req, OP_DECLINE);
    } else if (strcmp(cmd, "cancel") == 0) {
        cmd_xfer_op(cl, req, OP_CANCEL);
    } else if (strcmp(cmd, "settings_get") == 0) {
        cmd_settings_get(cl);
    } else if (strcmp(cmd, "settings_set") == 0) {
        cmd_settings_set(cl, req);
    } else if (strcmp(cmd, "web") == 0) {
        cmd_web(cl);
    } else if (strcmp(cmd, "plugins") == 0) {
        cmd_plugins(cl, req);
    } else if (rdvctl_owns(cmd)) {
        cmd_rdv(cl, cmd, req);
    } else if (strcmp(cmd, "nat_check") == 0) {
        cmd_nat_check(cl);
    } else if (ctl_kind_parse(cmd, &kind) == 0 && groupctl_owns(kind)) {
        cmd_group(cl, line, len);
    } else if (strcmp(cmd, "listen") == 0) {
        cl->listening = true;
        cJSON *o = ok_reply();
        cJSON_AddTrueToObject(o, "listening");
        send_json(cl, o);
    } else {
        char text[128];
        snprintf(text, sizeof text, "unknown command \"%.40s\"", cmd);
        send_error(cl, BANTER_EBADTYPE, text);
    }
    cJSON_Delete(req);
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

static gboolean on_client_readable(gint fd, GIOCondition cond, gpointer v)
{
    client *cl = v;
    uint8_t tmp[8192];
    (void)cond;
    ssize_t n = recv(fd, tmp, sizeof tmp, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        client_free(cl);
        return G_SOURCE_CONTINUE;
    }
    if (buf_append(&cl->in, tmp, (size_t)n) != 0) {
        send_error(cl, BANTER_ETOOBIG, "request line longer than 65536 bytes: closing");
        buf_consume(&cl->in, buf_len(&cl->in));
        cl->closing = true;
        drop_source(&cl->rsrc);
    } else {
        process_input(cl);
    }
    client_done(cl);
    return G_SOURCE_CONTINUE;
}

static unsigned socket_clients(const control *ctl)
{
    unsigned k = 0;
    for (const GList *l = ctl->clients; l; l = l->next)
        k += ((const client *)l->data)->fd >= 0;
    return k;
}

static gboolean on_accept(gint fd, GIOCondition cond, gpointer v)
{
    control *ctl = v;
    (void)cond;
    int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0)
        return G_SOURCE_CONTINUE;
    struct ucred cred;
    socklen_t sl = sizeof cred;
    if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &sl) != 0 || cred.uid != geteuid()) {
        close(cfd);
        return G_SOURCE_CONTINUE;
    }
    if (socket_clients(ctl) >= CONTROL_MAX_CLIENTS) {
        static const char busy[] = "{\"ok\":false,\"error\":\"EBUSY\",\"message\":\"the node "
                                   "already serves 64 control clients: try again\"}\n";
        ssize_t w = send(cfd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w; /* best effort: the client learns why, or sees the close */
        close(cfd);
        return G_SOURCE_CONTINUE;
    }
    client *cl = g_new0(client, 1);
    cl->ctl = ctl;
    cl->fd = cfd;
    buf_init(&cl->in, CONTROL_MAX_LINE + 1);
    buf_init(&cl->out, CLIENT_OUT_CAP);
    cl->rsrc = g_unix_fd_source_new(cfd, G_IO_IN);
    g_source_set_callback(cl->rsrc, G_SOURCE_FUNC(on_client_readable), cl, NULL);
    g_source_attach(cl->rsrc, ctl->ctx);
    ctl->clients = g_list_prepend(ctl->clients, cl);
    return G_SOURCE_CONTINUE;
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

int control_new(control **out, node *n, GMainContext *ctx, const char *path, char *why, size_t cap)
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
    g_strlcpy(ctl->path, path, sizeof ctl->path);
    ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    mode_t old = umask(077);
    int r = ctl->fd < 0 ? -1 : bind(ctl->fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (r != 0 || chmod(path, 0600) != 0 || listen(ctl->fd, 16) != 0) {
        snprintf(why, cap, "cannot create the control socket %s: %s", path, g_strerror(errno));
        if (ctl->fd >= 0)
            close(ctl->fd);
        g_free(ctl);
        return BANTER_EIO;
    }
    ctl->src = g_unix_fd_source_new(ctl->fd, G_IO_IN);
    g_source_set_callback(ctl->src, G_SOURCE_FUNC(on_accept), ctl, NULL);
    g_source_attach(ctl->src, ctx);
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
    drop_source(&ctl->src);
    close(ctl->fd);
    unlink(ctl->path);
    settings_free(ctl->settings);
    control_set_web(ctl, NULL, NULL);
    g_free(ctl);
}

static cJSON *event_json(control *ctl, const node_event *ev)
{
    static const char *names[] = {"message",     "delivered", "online",     "offline",
                                  "key_changed", "discovery", "rendezvous", "contacts",
                                  "presence",    "renamed",   "transfer",   "deferred"};
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "event", names[ev->type]);
    cJSON_AddNumberToObject(o, "at", (double)(g_get_real_time() / 1000));
    if (ev->peer)
        cJSON_AddItemToObject(o, "peer", peer_ref(ctl->n, ev->peer, ev->name, ev->device));
    if (ev->type == NODE_EV_MESSAGE && ev->msg) {
        const store_msg *m = ev->msg;
        add_id(o, m->id);
        cJSON_AddNumberToObject(o, "seq", (double)m->seq);
        cJSON_AddNumberToObject(o, "ts", (double)m->ts_ms);
        if (m->flags & STORE_MSG_UNTRUSTED)
            cJSON_AddTrueToObject(o, "unverified");
        if (m->dir == STORE_OUT) /* sent from another device of this account */
            cJSON_AddStringToObject(o, "direction", "out");
        cJSON_AddBoolToObject(o, "broadcast", m->broadcast);
        cJSON_AddStringToObject(o, "body", m->body);
        cJSON_AddItemToObject(o, "links", links_of(m->body, m->body_len));
    } else if ((ev->type == NODE_EV_DELIVERED || ev->type == NODE_EV_DEFERRED) && ev->msg) {
        add_id(o, ev->msg->id);
        cJSON_AddStringToObject(o, "state", state_name(ev->msg->state));
        if (ev->msg->error[0])
            cJSON_AddStringToObject(o, "error", ev->msg->error);
    }
    if (ev->status)
        cJSON_AddStringToObject(o, "status", ev->status);
    if (ev->text)
        cJSON_AddStringToObject(o, "text", ev->text);
    return o;
}

/* An event of control's own (settings) to every listener; frees ev. self
 * is the client whose request caused it: still in use, not freed here. */
static void broadcast_json(control *ctl, cJSON *ev, const client *self)
{
    GList *copy = g_list_copy(ctl->clients);
    for (GList *l = copy; l; l = l->next) {
        client *cl = l->data;
        if (cl->listening && !cl->following)
            send_json(cl, cJSON_Duplicate(ev, true));
        if (cl != self)
            client_done(cl);
    }
    g_list_free(copy);
    cJSON_Delete(ev);
}

static void control_xfer_event(control *ctl, xfer_ev_type type, const xfer_info *info);

static void control_event(control *ctl, const node_event *ev)
{
    GList *copy = g_list_copy(ctl->clients);
    for (GList *l = copy; l; l = l->next) {
        client *cl = l->data;
        waiter *w = cl->wait;
        if (ev->type == NODE_EV_DELIVERED && w && ev->msg && ev->peer &&
            memcmp(w->id, ev->msg->id, MSG_ID_LEN) == 0 && memcmp(w->peer, ev->peer, 32) == 0) {
            cJSON *o = ok_reply();
            add_id(o, w->id);
            cJSON_AddStringToObject(o, "state", state_name(ev->msg->state));
            if (ev->msg->error[0])
                cJSON_AddStringToObject(o, "error", ev->msg->error);
            cl->wait = NULL;
            waiter_free(w);
            send_json(cl, o);
        }
        if (cl->listening && !cl->following)
            send_json(cl, event_json(ctl, ev));
        client_done(cl);
    }
    g_list_free(copy);
}

static void control_xfer_event(control *ctl, xfer_ev_type type, const xfer_info *info)
{
    cJSON *ev = xfer_event_json(ctl->n, type, info);
    bool over = xfer_over(info->state);
    GList *copy = g_list_copy(ctl->clients);
    for (GList *l = copy; l; l = l->next) {
        client *cl = l->data;
        bool mine = cl->following && memcmp(cl->follow_id, info->id, MSG_ID_LEN) == 0;
        if (cl->following ? mine : cl->listening)
            send_json(cl, cJSON_Duplicate(ev, true));
        if (mine && over)
            cl->following = false; /* back to an ordinary connection */
        client_done(cl);
    }
    g_list_free(copy);
    cJSON_Delete(ev);
}

/* The node's events, subscribed in control_new. */
static void on_node_event(void *ud, const node_event *ev)
{
    control *ctl = ud;
    if (ev->type == NODE_EV_TRANSFER)
        control_xfer_event(ctl, ev->xtype, ev->xfer);
    else if (groupctl_event_owns(ev))
        broadcast_json(ctl, groupctl_event(ctl->n, ev), NULL);
    else
        control_event(ctl, ev);
}

void control_set_rendezvous(control *ctl, rdv *r, roster *ro)
{
    ctl->rdv = r;
    ctl->ro = ro;
}
