/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* accept4, struct ucred */
/* node.c - peers, connections, outbox and discovery on one main loop. */
#include "core/node.h"

#include <errno.h>
#include <glib-unix.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/config.h"
#include "net/conn.h"
#include "ui/control.h"
#include "net/mdns.h"
#include "rdv/rdv.h"
#include "rdv/roster.h"
#include "session.h"
#include "utf8.h"
#include "ui/web.h"
#include "core/xfer.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define MAX_REFUSED    16

typedef struct npeer {
    char fpd[IDENTITY_FP_DIGITS + 1]; /* digits: the table key */
    char fp[IDENTITY_FP_LEN + 1];
    char name[BANTER_MAX_NAME + 1];
    uint8_t key[32];
    bool has_key;
    bool lan_seen; /* advertised on mDNS now */
    char lan_addr[64];
    uint16_t lan_port;
    conn *c;       /* the live connection, after HELLO */
    conn *dialing; /* our connect in progress */
    guint retry;
    unsigned backoff;
    node *n;
    char org[BANTER_MAX_NAME + 1]; /* account in our organisation, from its certificate */
    int64_t org_expires_ms;
} npeer;

typedef struct speer { /* a --peer HOST:PORT */
    char host[256];
    uint16_t port;
    conn *c; /* any connection we dialed to it, live or in progress */
    guint retry;
    unsigned backoff;
    node *n;
} speer;

typedef struct cstate { /* per connection */
    node *n;
    npeer *dial_for; /* we dialed because mDNS advertised this peer */
    speer *sp;       /* we dialed this static peer */
    npeer *p;        /* attached after HELLO */
    int64_t sent_seq;
    int refused;
    bool hello;
} cstate;

struct node {
    node_config cfg;
    GMainContext *ctx;
    GMainLoop *loop;
    identity *id;
    char fp[IDENTITY_FP_LEN + 1];
    char fpd[IDENTITY_FP_DIGITS + 1];
    store *st;
    config conf;
    xfer_mgr *xm;
    control *ctl;
    web *web;   /* the web interface (peer/web.h), NULL when off */
    rdv *rdv;   /* the rendezvous server: not a peer, never in peers or conns */
    roster *ro; /* its contacts and the messages relayed through it */
    char server_fpd[IDENTITY_FP_DIGITS + 1];
    mdns *md;
    int lfd;
    GSource *lsrc;
    uint16_t port;
    GHashTable *peers; /* fpd -> npeer */
    GList *conns;      /* every conn alive */
    speer statics[NODE_MAX_STATIC];
    size_t nstatic;
    guint tick; /* liveness timer: armed only while connections exist */
    bool stopping;
    bool mdns_down_said;
};

static int64_t now_ms(void) { return g_get_real_time() / 1000; }

static void emit(node *n, node_ev_type type, const uint8_t *peer, const char *name,
                 const store_msg *m, const char *text)
{
    node_event ev = {type, peer, name, m, text, NULL};
    if (n->ctl)
        control_event(n->ctl, &ev);
}

static void digits_of(const char *fp, char out[static IDENTITY_FP_DIGITS + 1])
{
    size_t o = 0;
    for (const char *p = fp; *p && o < IDENTITY_FP_DIGITS; p++)
        if (*p >= '0' && *p <= '9')
            out[o++] = *p;
    out[o] = '\0';
}

static npeer *peer_by_fpd(node *n, const char *fpd, bool create)
{
    npeer *p = g_hash_table_lookup(n->peers, fpd);
    if (p || !create)
        return p;
    p = g_new0(npeer, 1);
    p->n = n;
    g_strlcpy(p->fpd, fpd, sizeof p->fpd);
    g_hash_table_insert(n->peers, p->fpd, p);
    return p;
}

static npeer *peer_by_key(node *n, const uint8_t key[static 32], bool create)
{
    char fp[IDENTITY_FP_LEN + 1], fpd[IDENTITY_FP_DIGITS + 1];
    identity_fingerprint(key, fp);
    digits_of(fp, fpd);
    npeer *p = peer_by_fpd(n, fpd, create);
    if (p && !p->has_key) {
        memcpy(p->key, key, 32);
        p->has_key = true;
        memcpy(p->fp, fp, sizeof p->fp);
    }
    return p;
}

static void peer_free(gpointer v)
{
    npeer *p = v;
    if (p->retry)
        g_source_remove(p->retry);
    g_free(p);
}

/* ---- connections ---- */

static void on_established(void *ud, conn *c);
static void on_message(void *ud, conn *c, const uint8_t *pt, size_t len);
static void on_drained(void *ud, conn *c);
static void on_closed(void *ud, conn *c, int err);

static const conn_callbacks conn_cbs = {on_established, on_message, on_drained, on_closed};

static gboolean on_tick(gpointer v);

static conn *track(node *n, conn *c, npeer *dial_for, speer *sp)
{
    /* An idle node with no connection has no timer at all. */
    if (!n->tick)
        n->tick = g_timeout_add_seconds(NODE_KEEPALIVE_MS / 1000, on_tick, n);
    cstate *cs = g_new0(cstate, 1);
    cs->n = n;
    cs->dial_for = dial_for;
    cs->sp = sp;
    conn_set_data(c, cs);
    n->conns = g_list_prepend(n->conns, c);
    return c;
}

static void dial_peer(npeer *p)
{
    node *n = p->n;
    int err;
    if (n->stopping || p->c || p->dialing || !p->lan_seen)
        return;
    conn *c = conn_connect(n->ctx, n->id, p->lan_addr, p->lan_port, &conn_cbs, n, &err);
    if (c)
        p->dialing = track(n, c, p, NULL);
}

static gboolean retry_peer(gpointer v)
{
    npeer *p = v;
    p->retry = 0;
    dial_peer(p);
    return G_SOURCE_REMOVE;
}

static void dial_static(speer *sp)
{
    node *n = sp->n;
    int err;
    if (n->stopping || sp->c)
        return;
    conn *c = conn_connect(n->ctx, n->id, sp->host, sp->port, &conn_cbs, n, &err);
    if (c)
        sp->c = track(n, c, NULL, sp);
}

static gboolean retry_static(gpointer v)
{
    speer *sp = v;
    sp->retry = 0;
    dial_static(sp);
    if (!sp->c) { /* could not even start: try again later */
        sp->backoff = sp->backoff ? MIN(sp->backoff * 2, BACKOFF_MAX_MS) : BACKOFF_MIN_MS;
        sp->retry = g_timeout_add(sp->backoff, retry_static, sp);
    }
    return G_SOURCE_REMOVE;
}

static unsigned next_backoff(unsigned *b)
{
    *b = *b ? MIN(*b * 2, BACKOFF_MAX_MS) : BACKOFF_MIN_MS;
    return *b;
}

/* Send queued messages for p after the last one sent on this conn. */
static void flush_outbox(npeer *p)
{
    node *n = p->n;
    store_msg *m = NULL;
    size_t count = 0;
    if (!p->c || !conn_established(p->c))
        return;
    cstate *cs = conn_get_data(p->c);
    if (store_outbox(n->st, p->key, &m, &count) != 0)
        return;
    for (size_t i = 0; i < count; i++) {
        if (m[i].seq <= cs->sent_seq)
            continue;
        msg out;
        if (msg_chat_init(&out, m[i].id, m[i].ts_ms, m[i].body, m[i].body_len, m[i].broadcast) != 0)
            break;
        int r = conn_send(p->c, &out);
        msg_clear(&out);
        if (r != 0)
            break; /* queue full: on_drained resumes */
        cs->sent_seq = m[i].seq;
    }
    store_msgs_free(m, count);
}

static bool conn_wins(node *n, conn *a, conn *b)
{
    /* Of two connections between the same pair, both sides keep the one
     * dialed by the side with the smaller key. */
    const uint8_t *peer = conn_peer(a);
    const uint8_t *me = identity_public(n->id);
    const uint8_t *ia = conn_is_initiator(a) ? me : peer;
    const uint8_t *ib = conn_is_initiator(b) ? me : peer;
    int cmp = memcmp(ia, ib, 32);
    return cmp < 0 || (cmp == 0 && a < b);
}

static void on_established(void *ud, conn *c)
{
    node *n = ud;
    cstate *cs = conn_get_data(c);
    char fp[IDENTITY_FP_LEN + 1], fpd[IDENTITY_FP_DIGITS + 1];

    identity_fingerprint(conn_peer(c), fp);
    digits_of(fp, fpd);
    if (cs->dial_for && strcmp(cs->dial_for->fpd, fpd) != 0) {
        g_printerr("banter: %s answered with fingerprint %s, not the advertised %s; "
                   "closing\n",
                   conn_remote(c), fp, cs->dial_for->fpd);
        /* A stale record (a key retired or replaced, still in Avahi's cache)
         * or a false one: either way, stop listing and dialing it until mDNS
         * announces it again. */
        cs->dial_for->lan_seen = false;
        conn_close(c, BANTER_EKEYMISMATCH, true, "unexpected key");
        return;
    }
    if (memcmp(conn_peer(c), identity_public(n->id), 32) == 0) {
        conn_close(c, BANTER_EPROTO, true, "connected to self");
        return;
    }
    msg h = {.type = MSG_HELLO};
    h.u.hello.version = SESSION_VERSION;
    g_strlcpy(h.u.hello.name, n->cfg.name, sizeof h.u.hello.name);
    g_strlcpy(h.u.hello.features[0], "chat", sizeof h.u.hello.features[0]);
    g_strlcpy(h.u.hello.features[1], "broadcast", sizeof h.u.hello.features[1]);
    g_strlcpy(h.u.hello.features[2], "file", sizeof h.u.hello.features[2]);
    h.u.hello.nfeatures = 3;
    if (conn_send(c, &h) != 0)
        conn_close(c, BANTER_EIO, false, NULL);
}

/* First contact decides trust: a new key under a name we already trust is
 * a key change, refused until verified; anything else is accepted (TOFU). */
static int admit_peer(node *n, npeer *p, const char *name, const char *source, const char *addr)
{
    store_peer sp;
    int r = store_peer_get(n->st, p->key, &sp);
    if (r == BANTER_ENOENT) {
        memset(&sp, 0, sizeof sp);
        memcpy(sp.key, p->key, 32);
        sp.trust = TRUST_KNOWN;
        sp.first_seen_ms = now_ms();
        store_peer *all = NULL;
        size_t count = 0;
        if (store_peer_list(n->st, &all, &count) == 0) {
            for (size_t i = 0; i < count; i++) {
                if (strcmp(all[i].name, name) != 0 || memcmp(all[i].key, p->key, 32) == 0 ||
                    (all[i].trust != TRUST_KNOWN && all[i].trust != TRUST_VERIFIED))
                    continue;
                sp.trust = TRUST_CHANGED;
                sp.has_replaces = true;
                memcpy(sp.replaces, all[i].key, 32);
            }
            free(all);
        }
    } else if (r != 0) {
        return r;
    }
    g_strlcpy(sp.name, name, sizeof sp.name);
    g_strlcpy(sp.source, source, sizeof sp.source);
    g_strlcpy(sp.addresses, addr, sizeof sp.addresses);
    sp.last_seen_ms = now_ms();
    r = store_peer_put(n->st, &sp);
    if (r)
        return r;
    if (sp.trust == TRUST_CHANGED) {
        char old[IDENTITY_FP_LEN + 1], text[512];
        identity_fingerprint(sp.replaces, old);
        snprintf(text, sizeof text,
                 "WARNING: %s now has a different key. Old fingerprint %s, new %s. Messages "
                 "to %s are refused until you compare fingerprints with them and run "
                 "`banter verify %s`.",
                 name, old, p->fp, name, name);
        g_printerr("banter: %s\n", text);
        emit(n, NODE_EV_KEY_CHANGED, p->key, name, NULL, text);
    }
    return 0;
}

/* Our organisation certificate, shown to a LAN peer right after HELLO
 * (docs/rendezvous.md section 3). */
static void present_cert(node *n, conn *c)
{
    const cert *ct = n->rdv ? rdv_cert(n->rdv) : NULL;
    if (!ct || ct->expires_ms <= now_ms())
        return;
    rvmsg m = {.type = RV_CERT};
    m.u.cert = *ct;
    buf b;
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    if (rvmsg_encode(&m, &b) == 0 && conn_send_raw(c, buf_data(&b), buf_len(&b)) != 0)
        g_printerr("banter: cannot show the organisation certificate to %s\n", conn_remote(c));
    buf_free(&b);
}

/* A LAN peer's certificate: kept when it is for this peer's key, signed by
 * the server we pin, and valid now; anything else is ignored (a node
 * without a rendezvous, or of another organisation, cannot check it). */
static void on_peer_cert(node *n, conn *c, cstate *cs, const uint8_t *pt, size_t len)
{
    rvmsg m;
    char fp[IDENTITY_FP_LEN + 1], fpd[IDENTITY_FP_DIGITS + 1];
    if (!cs->p || rvmsg_decode(&m, pt, len) != 0)
        return;
    identity_fingerprint(m.u.cert.server, fp);
    digits_of(fp, fpd);
    if (n->server_fpd[0] && strcmp(fpd, n->server_fpd) == 0 &&
        cert_check(&m.u.cert, m.u.cert.server, conn_peer(c), now_ms()) == 0) {
        bool changed = strcmp(cs->p->org, m.u.cert.name) != 0;
        g_strlcpy(cs->p->org, m.u.cert.name, sizeof cs->p->org);
        cs->p->org_expires_ms = m.u.cert.expires_ms;
        if (changed) {
            char text[200];
            snprintf(text, sizeof text, "%s is %s of the organisation", cs->p->name, cs->p->org);
            emit(n, NODE_EV_ONLINE, cs->p->key, cs->p->name, NULL, text);
        }
    }
    rvmsg_clear(&m);
}

static void on_hello(node *n, conn *c, cstate *cs, const struct msg_hello *h)
{
    if (cs->hello)
        return;
    cs->hello = true;
    npeer *p = peer_by_key(n, conn_peer(c), true);
    g_strlcpy(p->name, h->name, sizeof p->name);
    const char *source = cs->sp ? "static" : "lan";
    if (admit_peer(n, p, h->name, source, conn_remote(c)) != 0) {
        conn_close(c, BANTER_EDB, true, "storage error");
        return;
    }
    if (p->c && conn_is_open(p->c)) {
        if (conn_wins(n, p->c, c)) {
            conn_close(c, 0, true, "duplicate connection");
            return;
        }
        conn *old = p->c;
        p->c = NULL;
        conn_close(old, 0, true, "duplicate connection");
    }
    bool was_online = p->c != NULL;
    cs->p = p;
    p->c = c;
    p->backoff = 0;
    if (cs->sp)
        cs->sp->backoff = 0;
    if (!was_online)
        emit(n, NODE_EV_ONLINE, p->key, p->name, NULL, NULL);
    present_cert(n, c);
    flush_outbox(p);
    xfer_peer_online(n->xm, p->key);
}

static void reply(conn *c, const msg *m);

static void on_chat(node *n, conn *c, cstate *cs, const struct msg_chat *ch)
{
    store_msg m = {.dir = STORE_IN,
                   .state = STORE_RECEIVED,
                   .broadcast = ch->broadcast,
                   .ts_ms = ch->ts_ms,
                   .stored_ms = now_ms(),
                   .body = ch->body,
                   .body_len = ch->body_len};
    memcpy(m.id, ch->id, MSG_ID_LEN);
    memcpy(m.peer, cs->p->key, 32);
    int64_t seq = 0;
    int r = store_msg_add(n->st, &m, &seq);
    if (r < 0) {
        /* Not stored, so not acknowledged: the sender keeps it queued. */
        msg e = {.type = MSG_ERROR};
        g_strlcpy(e.u.error.code, banter_errname(r), sizeof e.u.error.code);
        g_strlcpy(e.u.error.message, "receiver could not store the message",
                  sizeof e.u.error.message);
        reply(c, &e);
        g_printerr("banter: cannot store a message from %s: %s\n", cs->p->name, banter_strerror(r));
        return;
    }
    if (r == 0) {
        m.seq = seq;
        emit(n, NODE_EV_MESSAGE, cs->p->key, cs->p->name, &m, NULL);
    }
    msg ack = {.type = MSG_ACK};
    memcpy(ack.u.ack.id, ch->id, MSG_ID_LEN);
    reply(c, &ack);
}

static void on_ack(node *n, cstate *cs, const struct msg_ack *a)
{
    if (store_msg_set_state(n->st, a->id, cs->p->key, STORE_DELIVERED) != 0)
        return;
    store_msg m = {.dir = STORE_OUT, .state = STORE_DELIVERED};
    memcpy(m.id, a->id, MSG_ID_LEN);
    memcpy(m.peer, cs->p->key, 32);
    emit(n, NODE_EV_DELIVERED, cs->p->key, cs->p->name, &m, NULL);
}

/* Queue a reply; a peer whose queue is full is not reading: drop it. */
static void reply(conn *c, const msg *m)
{
    int r = conn_send(c, m);
    if (r && r != BANTER_ESTATE)
        conn_close(c, r, false, NULL);
}

static void refuse(conn *c, cstate *cs, int err, const char *what)
{
    msg e = {.type = MSG_ERROR};
    g_strlcpy(e.u.error.code, banter_errname(err), sizeof e.u.error.code);
    g_strlcpy(e.u.error.message, what, sizeof e.u.error.message);
    reply(c, &e);
    if (++cs->refused > MAX_REFUSED)
        conn_close(c, BANTER_EPROTO, true, "too many refused messages");
}

static void on_message(void *ud, conn *c, const uint8_t *pt, size_t len)
{
    node *n = ud;
    cstate *cs = conn_get_data(c);
    msg m;
    if (len && pt[0] == RV_CERT) {
        on_peer_cert(n, c, cs, pt, len);
        return;
    }
    int r = msg_decode(&m, pt, len);
    if (r) {
        refuse(c, cs, r, "message refused");
        return;
    }
    if (m.type != MSG_HELLO && m.type != MSG_PING && m.type != MSG_PONG && m.type != MSG_BYE &&
        !cs->p) {
        refuse(c, cs, BANTER_EPROTO, "HELLO must come first");
        msg_clear(&m);
        return;
    }
    switch (m.type) {
    case MSG_HELLO:
        on_hello(n, c, cs, &m.u.hello);
        break;
    case MSG_CHAT:
        on_chat(n, c, cs, &m.u.chat);
        break;
    case MSG_ACK:
        on_ack(n, cs, &m.u.ack);
        break;
    case MSG_BYE:
        conn_close(c, 0, false, NULL);
        break;
    case MSG_PING: {
        msg pong = {.type = MSG_PONG};
        pong.u.ping.token = m.u.ping.token;
        reply(c, &pong);
        break;
    }
    case MSG_ERROR:
        g_printerr("banter: %s refused a message: %s %s\n", cs->p ? cs->p->name : "peer",
                   m.u.error.code, m.u.error.message);
        break;
    case MSG_PONG:
        break;
    case MSG_FILE_OFFER:
    case MSG_FILE_ACCEPT:
    case MSG_FILE_DECLINE:
    case MSG_FILE_CANCEL:
    case MSG_FILE_RESULT:
    case MSG_CHUNK:
        xfer_on_message(n->xm, c, cs->p->key, &m);
        break;
    default:
        refuse(c, cs, BANTER_EBADTYPE, "type not supported");
        break;
    }
    msg_clear(&m);
}

static void on_drained(void *ud, conn *c)
{
    node *n = ud;
    cstate *cs = conn_get_data(c);
    if (cs->p && cs->p->c == c) {
        flush_outbox(cs->p);
        xfer_drained(n->xm, cs->p->key);
    }
}

static void on_closed(void *ud, conn *c, int err)
{
    node *n = ud;
    cstate *cs = conn_get_data(c);
    n->conns = g_list_remove(n->conns, c);
    if (!n->conns && n->tick) {
        g_source_remove(n->tick);
        n->tick = 0;
    }
    if (cs->dial_for && cs->dial_for->dialing == c)
        cs->dial_for->dialing = NULL;
    npeer *p = cs->p ? cs->p : cs->dial_for;
    if (cs->p && cs->p->c == c) {
        cs->p->c = NULL;
        emit(n, NODE_EV_OFFLINE, cs->p->key, cs->p->name, NULL, NULL);
        if (n->xm)
            xfer_peer_offline(n->xm, cs->p->key);
    }
    if (!n->stopping && p && !p->c && !p->dialing && p->lan_seen && !p->retry)
        p->retry = g_timeout_add(next_backoff(&p->backoff), retry_peer, p);
    if (cs->sp && cs->sp->c == c) {
        cs->sp->c = NULL;
        if (!n->stopping && !cs->sp->retry)
            cs->sp->retry = g_timeout_add(next_backoff(&cs->sp->backoff), retry_static, cs->sp);
    }
    (void)err;
    g_free(cs);
}

/* ---- listening ---- */

static size_t pending_count(node *n)
{
    size_t k = 0;
    for (GList *l = n->conns; l; l = l->next)
        k += !conn_established(l->data);
    return k;
}

static gboolean on_accept(gint fd, GIOCondition cond, gpointer v)
{
    node *n = v;
    (void)cond;
    for (int i = 0; i < 64; i++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
            break;
        if (n->stopping || pending_count(n) >= NODE_MAX_PENDING) {
            close(cfd); /* too many half-open connections: refuse */
            continue;
        }
        int err;
        conn *c = conn_accept(n->ctx, n->id, cfd, &conn_cbs, n, &err);
        if (c)
            track(n, c, NULL, NULL);
    }
    return G_SOURCE_CONTINUE;
}

static int listen_on(node *n, uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    int one = 1;
    n->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (n->lfd < 0)
        return -1;
    (void)setsockopt(n->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(n->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(n->lfd, 512) != 0)
        return -1;
    socklen_t sl = sizeof sa;
    if (getsockname(n->lfd, (struct sockaddr *)&sa, &sl) != 0)
        return -1;
    n->port = ntohs(sa.sin_port);
    n->lsrc = g_unix_fd_source_new(n->lfd, G_IO_IN);
    g_source_set_callback(n->lsrc, G_SOURCE_FUNC(on_accept), n, NULL);
    g_source_attach(n->lsrc, n->ctx);
    return 0;
}

/* ---- liveness ---- */

static gboolean on_tick(gpointer v)
{
    node *n = v;
    int64_t t = g_get_monotonic_time() / 1000;
    if (!n->conns) {
        n->tick = 0;
        return G_SOURCE_REMOVE;
    }
    GList *copy = g_list_copy(n->conns);
    for (GList *l = copy; l; l = l->next) {
        conn *c = l->data;
        if (!conn_is_open(c))
            continue;
        if (!conn_established(c)) {
            if (t - conn_created(c) > NODE_HANDSHAKE_MS)
                conn_close(c, BANTER_ETIMEDOUT, false, NULL);
            continue;
        }
        if (t - conn_last_rx(c) > NODE_TIMEOUT_MS) {
            conn_close(c, BANTER_ETIMEDOUT, false, NULL);
            continue;
        }
        /* Ping only a quiet connection: its PONG (or the peer's own ping)
         * keeps both sides' timers fresh. */
        if (t - conn_last_rx(c) < NODE_KEEPALIVE_MS - 500)
            continue;
        msg ping = {.type = MSG_PING};
        ping.u.ping.token = (uint64_t)t;
        reply(c, &ping);
    }
    g_list_free(copy);
    return G_SOURCE_CONTINUE;
}

/* ---- discovery ---- */

static void on_found(void *ud, const mdns_peer *mp)
{
    node *n = ud;
    if (strcmp(mp->fingerprint, n->fpd) == 0)
        return;
    npeer *p = peer_by_fpd(n, mp->fingerprint, true);
    p->lan_seen = true;
    g_strlcpy(p->lan_addr, mp->address, sizeof p->lan_addr);
    p->lan_port = mp->port;
    if (!p->name[0])
        g_strlcpy(p->name, mp->name, sizeof p->name);
    p->backoff = 0;
    if (p->retry) {
        g_source_remove(p->retry);
        p->retry = 0;
    }
    dial_peer(p);
}

static void on_lost(void *ud, const char *fpd)
{
    node *n = ud;
    npeer *p = peer_by_fpd(n, fpd, false);
    if (!p)
        return;
    p->lan_seen = false;
    if (p->retry) {
        g_source_remove(p->retry);
        p->retry = 0;
    }
}

static void on_mdns_status(void *ud, bool up, const char *why)
{
    node *n = ud;
    char text[256];
    if (!up && n->mdns_down_said)
        return;
    n->mdns_down_said = !up;
    snprintf(text, sizeof text,
             up ? "LAN discovery is running (avahi-daemon)"
                : "LAN discovery is unavailable (%s); static peers still work, and the node "
                  "registers again when avahi-daemon returns",
             why ? why : "avahi-daemon not reachable");
    g_printerr("banter: %s\n", text);
    emit(n, NODE_EV_DISCOVERY, NULL, NULL, NULL, text);
}

/* ---- control interface ---- */

xfer_mgr *node_xfer(node *n) { return n->xm; }
rdv *node_rdv(node *n) { return n->rdv; }
roster *node_roster(node *n) { return n->ro; }

static conn *xfer_conn_for(void *ud, const uint8_t peer[static 32])
{
    npeer *p = peer_by_key(ud, peer, false);
    return p && p->c && conn_established(p->c) ? p->c : NULL;
}

static void xfer_event(void *ud, xfer_ev_type type, const xfer_info *info)
{
    node *n = ud;
    if (n->ctl)
        control_xfer_event(n->ctl, type, info);
}

static bool xfer_auto(void *ud, const uint8_t peer[static 32], uint64_t size)
{
    node *n = ud;
    store_peer sp;
    if (!n->conf.auto_accept_verified || store_peer_get(n->st, peer, &sp) != 0 ||
        sp.trust != TRUST_VERIFIED)
        return false;
    return n->conf.auto_accept_max_bytes == 0 || size <= n->conf.auto_accept_max_bytes;
}

const char *node_fingerprint(const node *n) { return n->fp; }
const char *node_name(const node *n) { return n->cfg.name; }
uint16_t node_port(const node *n) { return n->port; }
store *node_store(node *n) { return n->st; }

static void fill_info(node *n, const store_peer *sp, node_peer_info *out)
{
    memset(out, 0, sizeof *out);
    out->stored = *sp;
    identity_fingerprint(sp->key, out->fingerprint);
    npeer *p = peer_by_key(n, sp->key, false);
    out->online = p && p->c && conn_established(p->c);
    roster_contact rc;
    if (strcmp(sp->source, ROSTER_SOURCE) == 0 && n->ro && roster_get(n->ro, sp->key, &rc) == 0) {
        out->online = rc.status != RV_P_OFFLINE;
        g_strlcpy(out->status, rv_presence_name(rc.status), sizeof out->status);
        g_strlcpy(out->status_text, rc.text, sizeof out->status_text);
        g_strlcpy(out->contact, rv_cstate_name(rc.state), sizeof out->contact);
        if (rc.profile->f[RV_F_DISPLAY_NAME])
            g_strlcpy(out->display_name, rc.profile->f[RV_F_DISPLAY_NAME],
                      sizeof out->display_name);
    }
    if (p && p->org[0] && p->org_expires_ms > now_ms()) {
        g_strlcpy(out->org, p->org, sizeof out->org);
        g_strlcpy(out->org_server, n->server_fpd, sizeof out->org_server);
    }
    if (p && p->c)
        g_strlcpy(out->address, conn_remote(p->c), sizeof out->address);
    else if (p && p->lan_seen)
        snprintf(out->address, sizeof out->address, "%s:%u", p->lan_addr, p->lan_port);
    else
        g_strlcpy(out->address, sp->addresses, sizeof out->address);
}

/* Colleagues advertised on the LAN that we have not talked to yet: listed
 * with trust "new" (their key is not proven until a handshake). */
static int add_unconnected(node *n, node_peer_info **out, size_t *count)
{
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, n->peers);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        npeer *p = v;
        store_peer sp;
        if (!p->lan_seen || (p->has_key && store_peer_get(n->st, p->key, &sp) == 0))
            continue;
        node_peer_info *grown = realloc(*out, (*count + 1) * sizeof **out);
        if (!grown)
            return BANTER_ENOMEM;
        *out = grown;
        node_peer_info *pi = &(*out)[(*count)++];
        memset(pi, 0, sizeof *pi);
        for (size_t g = 0, o = 0; g < IDENTITY_FP_GROUPS; g++) {
            if (g)
                pi->fingerprint[o++] = ' ';
            memcpy(pi->fingerprint + o, p->fpd + 5 * g, 5);
            o += 5;
        }
        g_strlcpy(pi->stored.name, p->name, sizeof pi->stored.name);
        g_strlcpy(pi->stored.source, "lan", sizeof pi->stored.source);
        pi->stored.trust = TRUST_NEW;
        snprintf(pi->address, sizeof pi->address, "%s:%u", p->lan_addr, p->lan_port);
    }
    return 0;
}

int node_peers(node *n, node_peer_info **out, size_t *count)
{
    store_peer *all = NULL;
    size_t k = 0;
    *out = NULL;
    *count = 0;
    int r = store_peer_list(n->st, &all, &k);
    if (r)
        return r;
    if (k) {
        *out = calloc(k, sizeof **out);
        if (!*out) {
            free(all);
            return BANTER_ENOMEM;
        }
    }
    for (size_t i = 0; i < k; i++)
        fill_info(n, &all[i], &(*out)[i]);
    *count = k;
    free(all);
    return add_unconnected(n, out, count);
}

int node_peer_info_get(node *n, const uint8_t key[static 32], node_peer_info *out)
{
    store_peer sp;
    int r = store_peer_get(n->st, key, &sp);
    if (r)
        return r;
    fill_info(n, &sp, out);
    return 0;
}

int node_resolve(node *n, const char *query, uint8_t key[static 32], char *why, size_t cap)
{
    store_peer *all = NULL;
    size_t k = 0, hits = 0;
    int r = store_peer_list(n->st, &all, &k);
    if (r)
        return r;
    /* A name first (a replaced key is hidden behind its successor), then a
     * fingerprint prefix. */
    /* "@account" names a rendezvous account only (a LAN peer may have
     * the same name). */
    bool account = query[0] == '@';
    for (int pass = 0; pass < (account ? 1 : 2) && hits == 0; pass++) {
        for (size_t i = 0; i < k; i++) {
            char fp[IDENTITY_FP_LEN + 1];
            identity_fingerprint(all[i].key, fp);
            bool match = pass == 0 ? g_ascii_strcasecmp(all[i].name, query + account) == 0 &&
                                         (!account || strcmp(all[i].source, ROSTER_SOURCE) == 0)
                                   : identity_fingerprint_has_prefix(fp, query);
            if (!match)
                continue;
            bool replaced = false;
            for (size_t j = 0; j < k; j++)
                replaced |= all[j].has_replaces && memcmp(all[j].replaces, all[i].key, 32) == 0;
            if (replaced && pass == 0)
                continue;
            if (hits++ == 0)
                memcpy(key, all[i].key, 32);
        }
    }
    free(all);
    if (hits == 1)
        return 0;
    snprintf(why, cap,
             hits ? "'%s' matches %zu peers: use more digits of the fingerprint, or @NAME for "
                    "the organisation account (banter peers)"
                  : "no peer matches '%s' (banter peers lists them)",
             query, hits);
    return hits ? BANTER_EAMBIGUOUS : BANTER_ENOENT;
}

static int queue_for(node *n, const uint8_t key[static 32], const uint8_t id[static MSG_ID_LEN],
                     int64_t ts, const char *text, size_t len, bool broadcast)
{
    store_msg m = {.dir = STORE_OUT,
                   .state = STORE_QUEUED,
                   .broadcast = broadcast,
                   .ts_ms = ts,
                   .stored_ms = now_ms(),
                   .body = (char *)text,
                   .body_len = len};
    memcpy(m.id, id, MSG_ID_LEN);
    memcpy(m.peer, key, 32);
    int r = store_msg_add(n->st, &m, NULL);
    if (r < 0)
        return r;
    npeer *p = peer_by_key(n, key, false);
    if (p)
        flush_outbox(p);
    roster_kick(n->ro, key);
    return 0;
}

static int check_text(const char *text, size_t len)
{
    if (len == 0 || memchr(text, '\0', len))
        return BANTER_EINVAL;
    if (len > BANTER_MAX_BODY)
        return BANTER_ETOOLONG;
    return utf8_valid(text, len) ? 0 : BANTER_EUTF8;
}

/* A rendezvous account takes messages only while it is an approved
 * contact (the server refuses others); LAN peers always do. */
static bool relay_ok(node *n, const store_peer *sp)
{
    roster_contact rc;
    if (strcmp(sp->source, ROSTER_SOURCE) != 0)
        return true;
    return n->ro && roster_get(n->ro, sp->key, &rc) == 0 && rc.state == RV_CS_APPROVED;
}

int node_send(node *n, const uint8_t key[static 32], const char *text, size_t len,
              uint8_t id[static MSG_ID_LEN])
{
    store_peer sp;
    int r = check_text(text, len);
    if (r)
        return r;
    r = store_peer_get(n->st, key, &sp);
    if (r)
        return r;
    if (sp.trust == TRUST_CHANGED)
        return BANTER_EKEYMISMATCH;
    if (!relay_ok(n, &sp))
        return BANTER_EPERM;
    banter_rng rng = bcrypto_rng_system();
    rng.fill(rng.ctx, id, MSG_ID_LEN);
    return queue_for(n, key, id, now_ms(), text, len, false);
}

int node_broadcast(node *n, const char *text, size_t len, uint8_t id[static MSG_ID_LEN],
                   size_t *count)
{
    store_peer *all = NULL;
    size_t k = 0;
    int r = check_text(text, len);
    *count = 0;
    if (r)
        return r;
    r = store_peer_list(n->st, &all, &k);
    if (r)
        return r;
    banter_rng rng = bcrypto_rng_system();
    rng.fill(rng.ctx, id, MSG_ID_LEN);
    int64_t ts = now_ms();
    for (size_t i = 0; i < k && r == 0; i++) {
        if (all[i].trust == TRUST_CHANGED || !relay_ok(n, &all[i]))
            continue;
        bool replaced = false;
        for (size_t j = 0; j < k; j++)
            replaced |= all[j].has_replaces && memcmp(all[j].replaces, all[i].key, 32) == 0;
        if (replaced)
            continue;
        r = queue_for(n, all[i].key, id, ts, text, len, true);
        *count += r == 0;
    }
    free(all);
    return r;
}

int node_verify(node *n, const uint8_t key[static 32])
{
    store_peer sp;
    int r = store_peer_get(n->st, key, &sp);
    if (r)
        return r;
    if (sp.has_replaces) {
        int d = store_peer_delete(n->st, sp.replaces);
        if (d && d != BANTER_ENOENT)
            return d;
        sp.has_replaces = false;
    }
    sp.trust = TRUST_VERIFIED;
    r = store_peer_put(n->st, &sp);
    if (r == 0) {
        npeer *p = peer_by_key(n, key, false);
        if (p)
            flush_outbox(p);
    }
    return r;
}

/* ---- lifecycle ---- */

static gboolean on_signal(gpointer v)
{
    node *n = v;
    g_main_loop_quit(n->loop);
    return G_SOURCE_CONTINUE;
}

static int parse_hostport(const char *s, char *host, size_t cap, uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    char *end;
    if (!colon || colon == s || (size_t)(colon - s) >= cap)
        return BANTER_EINVAL;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (errno || *end || p == 0 || p > 65535)
        return BANTER_EINVAL;
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (h[0] == '[' && hl > 2 && h[hl - 1] == ']') { /* [v6]:port */
        h++;
        hl -= 2;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (uint16_t)p;
    return 0;
}

static void on_rdv_event(void *ud, const char *text)
{
    emit(ud, NODE_EV_RENDEZVOUS, NULL, NULL, NULL, text);
}

/* A new certificate: show it to every LAN peer already connected. */
static void on_new_cert(void *ud)
{
    node *n = ud;
    for (GList *l = n->conns; l; l = l->next) {
        cstate *cs = conn_get_data(l->data);
        if (cs && cs->p && cs->p->c == l->data && conn_established(l->data))
            present_cert(n, l->data);
    }
}

static void on_roster_event(void *ud, const node_event *ev)
{
    node *n = ud;
    if (n->ctl)
        control_event(n->ctl, ev);
}

/* --rendezvous HOST:PORT --server-key FINGERPRINT: 1 with the cause printed
 * when they do not parse. The server connection is rdv's alone. */
static int start_rendezvous(node *n, const node_config *cfg)
{
    static rdv_config rc; /* large; one per node */
    memset(&rc, 0, sizeof rc);
    if (parse_hostport(cfg->rendezvous, rc.host, sizeof rc.host, &rc.port) != 0) {
        g_printerr("banter: --rendezvous %s: expected HOST:PORT\n", cfg->rendezvous);
        return 1;
    }
    if (rdv_parse_fingerprint(cfg->server_key, rc.fpd) != 0) {
        g_printerr("banter: --server-key %s: expected the 40 digits printed by "
                   "`banter-rendezvous fingerprint`\n",
                   cfg->server_key);
        return 1;
    }
    g_strlcpy(rc.name, cfg->name, sizeof rc.name);
    if (snprintf(rc.cert_path, sizeof rc.cert_path, "%s/cert.bin", cfg->home.dir) >=
            (int)sizeof rc.cert_path ||
        rdv_new(&n->rdv, n->ctx, n->id, &rc, on_rdv_event, n) != 0 ||
        roster_new(&n->ro, n->st, n->rdv, n->id, rc.fpd, on_roster_event, n) != 0) {
        g_printerr("banter: cannot set up the rendezvous connection\n");
        return 1;
    }
    g_strlcpy(n->server_fpd, rc.fpd, sizeof n->server_fpd);
    rdv_set_cert_hook(n->rdv, on_new_cert, n);
    return 0;
}

static int node_start(node *n, const node_config *cfg)
{
    char why[512];
    bool created;
    int r;

    n->cfg = *cfg;
    n->lfd = -1;
    n->ctx = g_main_context_default();
    n->loop = g_main_loop_new(n->ctx, FALSE);
    n->peers = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, peer_free);
    if (home_create(&cfg->home) != 0) {
        g_printerr("banter: cannot create %s: %s\n", cfg->home.dir, g_strerror(errno));
        return 1;
    }
    r = identity_load_or_create(&n->id, cfg->home.key, bcrypto_rng_system(), &created);
    if (r) {
        g_printerr("banter: cannot use the identity in %s: %s%s\n", cfg->home.key,
                   banter_strerror(r),
                   r == BANTER_EPERM ? " (run: chmod 600 on it)"
                   : r == BANTER_EIO ? ""
                                     : " (move it away to create a new identity)");
        return 1;
    }
    identity_fingerprint(identity_public(n->id), n->fp);
    digits_of(n->fp, n->fpd);
    r = store_open(&n->st, cfg->home.db, why, sizeof why);
    if (r) {
        g_printerr("banter: cannot open the database %s: %s\n", cfg->home.db, why);
        return 1;
    }
    char conf_path[HOME_PATH_MAX + 16];
    snprintf(conf_path, sizeof conf_path, "%s/banter.conf", cfg->home.dir);
    r = config_load(&n->conf, conf_path, why, sizeof why);
    if (r) {
        g_printerr("banter: %s\n", why);
        return 1;
    }
    xfer_callbacks xc = {xfer_conn_for, xfer_event, xfer_auto};
    r = xfer_mgr_new(&n->xm, n->st, n->conf.download_dir, &xc, n);
    if (r) {
        g_printerr("banter: cannot load file transfers: %s\n", store_errmsg(n->st));
        return 1;
    }
    r = control_new(&n->ctl, n, n->ctx, cfg->home.sock, why, sizeof why);
    if (r) {
        g_printerr("banter: %s\n", why);
        return 1;
    }
    web_start(&n->web, n->ctl, n->ctx, cfg->home.dir,
              cfg->web_port >= 0 ? (uint16_t)cfg->web_port : n->conf.web_port);
    if (cfg->rendezvous[0] && start_rendezvous(n, cfg) != 0)
        return 1;
    if (listen_on(n, cfg->port) != 0) {
        g_printerr("banter: cannot listen on TCP port %u: %s (choose another with --port)\n",
                   cfg->port, g_strerror(errno));
        return 1;
    }
    for (size_t i = 0; i < cfg->nstatic; i++) {
        speer *sp = &n->statics[n->nstatic];
        if (parse_hostport(cfg->static_peers[i], sp->host, sizeof sp->host, &sp->port) != 0) {
            g_printerr("banter: --peer %s: expected HOST:PORT\n", cfg->static_peers[i]);
            return 1;
        }
        sp->n = n;
        n->nstatic++;
    }
    if (cfg->mdns) {
        mdns_callbacks mc = {on_found, on_lost, on_mdns_status};
        r = mdns_new(&n->md, n->ctx, cfg->name, n->fp, n->port, &mc, n);
        if (r) {
            g_printerr("banter: LAN discovery failed to start: %s\n", banter_strerror(r));
            return 1;
        }
    }
    printf("banter: node \"%s\" %s listening on port %u%s\n", cfg->name, n->fp, n->port,
           created ? " (new identity)" : "");
    fflush(stdout);
    return 0;
}

static void node_stop(node *n)
{
    n->stopping = true;
    for (size_t i = 0; i < n->nstatic; i++)
        if (n->statics[i].retry)
            g_source_remove(n->statics[i].retry);
    mdns_free(n->md); /* goodbye packets first: colleagues drop us at once */
    n->md = NULL;
    roster_free(n->ro); /* what is in flight stays queued in the store */
    n->ro = NULL;
    rdv_free(n->rdv); /* answers its waiting control requests */
    n->rdv = NULL;
    GList *copy = g_list_copy(n->conns);
    for (GList *l = copy; l; l = l->next)
        conn_close(l->data, 0, true, "node stopping");
    g_list_free(copy);
    /* Let the idle callbacks of the closed conns run. */
    while (n->conns && g_main_context_iteration(n->ctx, FALSE))
        ;
    web_free(n->web); /* its clients first: then control is alone */
    n->web = NULL;
    xfer_mgr_free(n->xm);
    n->xm = NULL;
    control_free(n->ctl);
    n->ctl = NULL;
}

int node_run(const node_config *cfg)
{
    node *n = g_new0(node, 1);
    int rc = node_start(n, cfg);
    if (rc == 0) {
        for (size_t i = 0; i < n->nstatic; i++)
            dial_static(&n->statics[i]);
        if (n->rdv)
            rdv_start(n->rdv);
        guint s1 = g_unix_signal_add(SIGINT, on_signal, n);
        guint s2 = g_unix_signal_add(SIGTERM, on_signal, n);
        g_main_loop_run(n->loop);
        if (n->tick)
            g_source_remove(n->tick);
        n->tick = 0;
        g_source_remove(s1);
        g_source_remove(s2);
        printf("banter: node stopping\n");
        fflush(stdout);
    }
    node_stop(n);
    if (n->lsrc) {
        g_source_destroy(n->lsrc);
        g_source_unref(n->lsrc);
    }
    if (n->lfd >= 0)
        close(n->lfd);
    if (n->peers)
        g_hash_table_destroy(n->peers);
    store_close(n->st);
    identity_free(n->id);
    if (n->loop)
        g_main_loop_unref(n->loop);
    g_free(n);
    return rc;
}
