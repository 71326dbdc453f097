/* SPDX-License-Identifier: MIT */
/* xlink.c - direct links between instances (see xlink.h). */
#include "xlink.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "config.h"
#include "conn.h"
#include "db_cluster.h"
#include "devset.h"
#include "icert.h"
#include "mailbox.h"
#include "online.h"
#include "ratelimit.h"
#include "rvbatch.h"
#include "session.h"
#include "tbucket.h"

/* ---- links ---- */

typedef struct link {
    uv_tcp_t tcp; /* first: a pointer to the handle is a pointer to the link */
    uv_connect_t creq;
    struct xlink *x;
    session *s;
    rvbatch ob;   /* plaintexts queued this iteration */
    devset *devs; /* what the peer holds */
    uint64_t since;
    uint64_t up_at; /* loop ms it came up */
    uint32_t handle;
    size_t wbytes;
    uint64_t rx_bytes; /* sealed bytes received and not answered yet */
    uint32_t rx_n;     /* copies received and not answered yet */
    char addr[CONN_ADDR_MAX];
    char akey[RL_KEY_MAX];            /* accepted: its source (rl_addr_key), else "" */
    char peer[DB_CLUSTER_MAX_ID + 1]; /* the peer's instance id, once up */
    int known;                        /* the dialer's entry in x->known, else -1 */
    bool dialer, connected, up, writing, closing;
    bool listed; /* its instance was in the last read of the table */
    bool heard;  /* bytes came in */
} link;

typedef struct wreq {
    uv_write_t req; /* first: freed through the request pointer */
    uint8_t data[];
} wreq;

/* An instance whose address the table gave: dialed when its id sorts
 * after ours. */
struct known {
    char id[DB_CLUSTER_MAX_ID + 1];
    char addr[CONFIG_LISTEN_MAX];
    uint64_t next_try;
    uint32_t backoff;
    bool seen; /* in the last poll */
    bool live; /* a link (pending or up) is made for it */
};

/* A source address's rate of accepted connections. */
struct arate {
    char key[RL_KEY_MAX]; /* rl_addr_key; "" when free */
    tbucket b;
    uint64_t seen; /* loop ms of its last connection */
};

struct xlink {
    core *k;
    const identity *me;
    uv_tcp_t listener;
    bool listening, polling, stopped;
    uint32_t gen;
    uint64_t stamp;        /* XL_DEV "up" keys received, all links */
    uint64_t last_poll;    /* loop ms the last read of the table started */
    uint64_t last_refusal; /* loop ms of the last refusal logged */
    uint32_t quiet;        /* refusals since then */
    link *slot[XLINK_MAX];
    struct known known[XLINK_MAX];
    size_t nknown;
    struct arate rate[XLINK_RATE_ADDRS];
    xlink_stats st;
    char addr[CONFIG_LISTEN_MAX + 16];
    uint8_t scratch[BANTER_MAX_PLAINTEXT];
};

static link *by_handle(const struct xlink *x, uint32_t h)
{
    if (!x || h == 0)
        return NULL;
    link *l = x->slot[(h & 0xff) - 1 < XLINK_MAX ? (h & 0xff) - 1 : 0];
    return l && l->handle == h && !l->closing ? l : NULL;
}

static void on_link_closed(uv_handle_t *h)
{
    link *l = (link *)(void *)h;
    session_free(l->s);
    rvbatch_free(&l->ob);
    devset_free(l->devs);
    free(l);
}

/* A connection refused (counted; logged a line a second at most). */
static void log_refusal(struct xlink *x, const char *dir, const char *addr, const char *why)
{
    x->st.refused++;
    uint64_t now = core_now(x->k);
    if (x->last_refusal == 0 || now - x->last_refusal >= 1000) {
        core_log(x->k, "link %s %s refused: %s%s", dir, addr, why,
                 x->quiet ? " (and others not logged)" : "");
        x->last_refusal = now;
        x->quiet = 0;
    } else {
        x->quiet++;
    }
}

static void link_close(link *l, const char *why)
{
    if (l->closing)
        return;
    struct xlink *x = l->x;
    l->closing = true;
    x->slot[(l->handle & 0xff) - 1] = NULL;
    if (l->known >= 0 && (size_t)l->known < x->nknown) {
        struct known *kn = &x->known[l->known];
        kn->live = false;
        if (!l->up) { /* failed before it was up: back off */
            kn->backoff = kn->backoff ? kn->backoff * 2 : XLINK_RETRY_MIN_MS;
            if (kn->backoff > XLINK_RETRY_MAX_MS)
                kn->backoff = XLINK_RETRY_MAX_MS;
        } else {
            kn->backoff = XLINK_RETRY_MIN_MS;
        }
        kn->next_try = core_now(x->k) + kn->backoff;
    }
    if (l->up) {
        x->st.up--;
        core_log(x->k, "link to instance %s (%s) closed: %s", l->peer, l->addr, why);
        mailbox_link_down(x->k, l->handle);
    } else {
        log_refusal(x, l->dialer ? "to" : "from", l->addr, why);
        /* Best effort: the peer learns why (our certificate was queued). */
        size_t len;
        const uint8_t *p = rvbatch_plaintext(&l->ob, &len);
        if (l->connected && !l->writing && (!p || session_send(l->s, p, len) == 0) &&
            (p = session_out(l->s, &len)) != NULL) {
            uv_buf_t b = uv_buf_init((char *)(uintptr_t)p, (unsigned)len);
            (void)uv_try_write((uv_stream_t *)&l->tcp, &b, 1);
        }
    }
    uv_close((uv_handle_t *)&l->tcp, on_link_closed);
}

static link *link_new(struct xlink *x, bool dialer)
{
    int i = 0;
    while (i < XLINK_MAX && x->slot[i])
        i++;
    if (i == XLINK_MAX)
        return NULL;
    link *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    session_config sc = {.role = dialer ? NOISE_INITIATOR : NOISE_RESPONDER,
                         .id = x->me,
                         .rng = x->k->rng,
                         .out_cap = XLINK_OUT_CAP};
    if ((l->devs = devset_new(XLINK_DEVS_MAX)) == NULL || uv_tcp_init(x->k->loop, &l->tcp) != 0) {
        devset_free(l->devs);
        free(l);
        return NULL;
    }
    if (session_new(&l->s, &sc) != 0) {
        uv_close((uv_handle_t *)&l->tcp, on_link_closed);
        return NULL;
    }
    rvbatch_init(&l->ob);
    l->x = x;
    l->dialer = dialer;
    l->known = -1;
    l->since = core_now(x->k);
    x->gen = (x->gen + 1) & 0xffffff;
    if (x->gen == 0)
        x->gen = 1;
    l->handle = x->gen << 8 | (uint32_t)(i + 1);
    x->slot[i] = l;
    snprintf(l->addr, sizeof l->addr, "?");
    return l;
}

/* ---- output ---- */

static size_t link_queued(const link *l)
{
    size_t len, pending;
    (void)session_out(l->s, &len);
    (void)rvbatch_plaintext(&l->ob, &pending);
    return len + pending + l->wbytes;
}

/* Seal what the batch holds as one transport message. */
static void seal(link *l)
{
    size_t len;
    const uint8_t *p = rvbatch_plaintext(&l->ob, &len);
    if (!p)
        return;
    int r = session_send(l->s, p, len);
    rvbatch_reset(&l->ob);
    if (r)
        link_close(l, r == BANTER_ETOOBIG ? "the peer does not read" : banter_strerror(r));
}

/* Queue one plaintext on l (false: l is closing). */
static bool queue_pt(link *l, const uint8_t *pt, size_t len)
{
    if (l->closing)
        return false;
    int r = rvbatch_add(&l->ob, pt, len);
    if (r == BANTER_ETOOBIG) {
        seal(l);
        r = l->closing ? BANTER_ESTATE : rvbatch_add(&l->ob, pt, len);
    }
    if (r == BANTER_EINVAL) { /* too large for a batch: alone, in order */
        seal(l);
        r = l->closing ? BANTER_ESTATE : session_send(l->s, pt, len);
    }
    if (r && !l->closing)
        link_close(l, banter_strerror(r));
    return r == 0;
}

static bool queue_msg(link *l, const xlmsg *m)
{
    size_t len;
    uint8_t *out = l->x->scratch;
    if (xlmsg_encode(m, out, sizeof l->x->scratch, &len) != 0)
        return false;
    return queue_pt(l, out, len);
}

static void on_write(uv_write_t *req, int status);

static void link_write(link *l)
{
    size_t len;
    const uint8_t *p;
    if (l->closing || l->writing || !l->connected)
        return;
    seal(l);
    if (l->closing || (p = session_out(l->s, &len)) == NULL)
        return;
    wreq *w = malloc(sizeof *w + len);
    if (!w) {
        link_close(l, "out of memory");
        return;
    }
    memcpy(w->data, p, len);
    session_out_consume(l->s, len);
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&l->tcp, &b, 1, on_write) != 0) {
        free(w);
        link_close(l, "write failed");
        return;
    }
    l->writing = true;
    l->wbytes = len;
}

static void on_write(uv_write_t *req, int status)
{
    link *l = (link *)(void *)req->handle;
    free(req);
    l->writing = false;
    l->wbytes = 0;
    if (l->closing)
        return;
    if (status < 0) {
        link_close(l, uv_strerror(status));
        return;
    }
    link_write(l);
}

void xlink_flush(core *k)
{
    struct xlink *x = k->xl;
    for (int i = 0; x && i < XLINK_MAX; i++)
        if (x->slot[i])
            link_write(x->slot[i]);
}

/* ---- input ---- */

/* Every device connected here, to a link just up. */
struct devlist {
    link *l;
    uint8_t keys[XL_DEV_MAX][32];
    size_t n;
};

static void devlist_send(struct devlist *d)
{
    if (d->n == 0)
        return;
    xlmsg m = {.type = XL_DEV, .u.dev = {.op = XL_DEV_UP, .n = d->n, .keys = &d->keys[0][0]}};
    (void)queue_msg(d->l, &m);
    d->n = 0;
}

static void each_account(account *a, void *ud)
{
    struct devlist *d = ud;
    for (conn *c = a->devs.head; c; c = c->dev.next) {
        if (c->closing)
            continue;
        memcpy(d->keys[d->n++], conn_device(c), 32);
        if (d->n == XL_DEV_MAX)
            devlist_send(d);
    }
}

static void link_up(link *l, const char *name)
{
    struct xlink *x = l->x;
    size_t j = 0;
    for (const char *p = name; *p && j < DB_CLUSTER_MAX_ID; p++)
        l->peer[j++] = (*p == '-' || *p == '.') ? '_' : *p;
    l->peer[j] = '\0';
    /* One link per peer: a newer one replaces an older (it died unseen). */
    for (int i = 0; i < XLINK_MAX; i++) {
        link *o = x->slot[i];
        if (o && o != l && o->up && strcmp(o->peer, l->peer) == 0)
            link_close(o, "replaced by a newer link");
    }
    l->up = true;
    l->up_at = core_now(x->k);
    x->st.up++;
    session_set_rx_max(l->s, 65535);
    core_log(x->k, "link to instance %s (%s) up", l->peer, l->addr);
    struct devlist *d = malloc(sizeof *d);
    if (!d) {
        link_close(l, "out of memory");
        return;
    }
    d->l = l;
    d->n = 0;
    online_each(x->k->on, each_account, d);
    devlist_send(d);
    free(d);
}

static void handle_one(link *l, const uint8_t *pt, size_t len);

static void handle_msg(link *l, const uint8_t *pt, size_t len)
{
    if (len > 0 && pt[0] == RV_BATCH) {
        size_t n;
        const uint8_t *m;
        if (rvbatch_check(pt, len, &n) != 0) { /* the certificate may be in one */
            link_close(l, "malformed batch");
            return;
        }
        rvbatch_iter it = rvbatch_iter_make(pt, len);
        while (!l->closing && rvbatch_next(&it, &m, &n))
            handle_one(l, m, n);
        return;
    }
    handle_one(l, pt, len);
}

static void handle_one(link *l, const uint8_t *pt, size_t len)
{
    struct xlink *x = l->x;
    xlmsg m;
    int r = xlmsg_decode(&m, pt, len);
    if (r) {
        link_close(l, banter_strerror(r));
        return;
    }
    if (!l->up) {
        char name[BANTER_MAX_NAME + 1];
        if (m.type != XL_CERT) {
            link_close(l, "no instance certificate first");
            return;
        }
        r = xlmsg_peer_check(m.u.cert.cert, m.u.cert.len, identity_public(x->k->id),
                             session_peer(l->s), core_wall_ms(), name);
        if (r) {
            link_close(l, r == BANTER_EKEYMISMATCH ? "not an instance of this organisation "
                                                     "(another organisation, or another key)"
                          : r == BANTER_ETIMEDOUT  ? "its instance certificate is not valid now"
                                                   : "no valid instance certificate");
            return;
        }
        link_up(l, name);
        return;
    }
    switch (m.type) {
    case XL_DEV:
        for (size_t i = 0; i < m.u.dev.n; i++) {
            const uint8_t *key = m.u.dev.keys + 32 * i;
            if (m.u.dev.op == XL_DEV_DOWN) {
                devset_del(l->devs, key);
                continue;
            }
            r = devset_add(l->devs, key, ++x->stamp);
            if (r == BANTER_ETOOBIG) {
                link_close(l, "it lists more devices than an instance holds");
                return;
            }
            if (r)
                break; /* out of memory: copies for it go through the database */
        }
        break;
    case XL_FWD:
        if (l->rx_n >= XLINK_RX_MAX || l->rx_bytes + m.u.fwd.sealed_len > XLINK_RX_BYTES) {
            link_close(l, "more copies unanswered than an instance may forward");
            return;
        }
        l->rx_n++;
        l->rx_bytes += m.u.fwd.sealed_len;
        x->st.received++;
        mailbox_link_fwd(x->k, l->handle, &m.u.fwd);
        break;
    case XL_ANS:
        x->st.answered++;
        mailbox_link_ans(x->k, l->handle, &m.u.ans);
        break;
    default:
        link_close(l, "a second certificate");
        break;
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    core *k = h->loop->data;
    *b = uv_buf_init((char *)k->rbuf, (unsigned)k->rbuf_len);
}

static void send_cert(link *l)
{
    core *k = l->x->k;
    xlmsg m = {.type = XL_CERT, .u.cert = {.cert = k->icert, .len = k->icert ? k->icert_len : 0}};
    /* Alone in its transport message: until the peer accepted it, the
     * peer takes frames of a certificate's size only (what a stranger can
     * make it buffer), so the device list must not ride along. */
    if (queue_msg(l, &m))
        seal(l);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    link *l = (link *)(void *)st;
    if (l->closing)
        return;
    if (nread < 0) {
        link_close(l, nread == UV_EOF ? "closed by the peer" : uv_strerror((int)nread));
        return;
    }
    const uint8_t *in = (const uint8_t *)b->base;
    size_t left = (size_t)nread;
    l->heard = l->heard || nread > 0;
    for (;;) {
        size_t used = 0;
        session_event ev;
        int r = session_feed(l->s, in, left, &used, &ev);
        in += used;
        left -= used;
        if (r < 0) {
            link_close(l, banter_strerror(r));
            return;
        }
        if (r == 0)
            break;
        if (ev.type == SESSION_EV_ESTABLISHED) {
            session_set_rx_max(l->s, XL_PRE_RX_MAX);
            send_cert(l);
        } else {
            handle_msg(l, ev.data, ev.len);
        }
        if (l->closing)
            return;
    }
    link_write(l);
}

/* TCP keepalive: a peer whose host died or restarted (no FIN came) is
 * noticed on a link that carries nothing (no copy to time out), within
 * XLINK_KEEPALIVE_S + 5 probes 2 s apart; the peer's kernel answers them,
 * so a busy peer is never closed by them. */
static void link_keepalive(link *l)
{
    uv_os_fd_t fd;
    int intvl = 2, cnt = 5;
    (void)uv_tcp_keepalive(&l->tcp, 1, XLINK_KEEPALIVE_S);
    if (uv_fileno((const uv_handle_t *)&l->tcp, &fd) != 0)
        return;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
}

static void link_go(link *l)
{
    l->connected = true;
    (void)uv_tcp_nodelay(&l->tcp, 1);
    link_keepalive(l);
    if (uv_read_start((uv_stream_t *)&l->tcp, on_alloc, on_read) != 0) {
        link_close(l, "cannot read");
        return;
    }
    link_write(l); /* the initiator's first handshake message */
}

/* How far an accepted connection got: 0 nothing received, 1 in the
 * handshake, 2 handshake done (the certificate awaited). */
static int progress(const link *l) { return session_established(l->s) ? 2 : l->heard ? 1 : 0; }

/* The accepted connection still in its handshake, other than except, to
 * close for room (the least advanced, the oldest of those: a stranger's
 * idle connections go before a peer's handshake under way), and how many
 * such others there are. */
static link *evictable(const struct xlink *x, const link *except, int *n)
{
    link *old = NULL;
    *n = 0;
    for (int i = 0; i < XLINK_MAX; i++) {
        link *l = x->slot[i];
        if (!l || l == except || l->up || l->dialer)
            continue;
        (*n)++;
        if (!old || progress(l) < progress(old) ||
            (progress(l) == progress(old) && l->since < old->since))
            old = l;
    }
    return old;
}

/* Take one connection from source key at now off its rate: false when
 * the address is over it. A new address takes a free entry or the one
 * seen least recently. */
static bool rate_take(struct xlink *x, const char *key, uint64_t now)
{
    struct arate *e = NULL;
    for (size_t i = 0; i < XLINK_RATE_ADDRS && !e; i++)
        if (strcmp(x->rate[i].key, key) == 0)
            e = &x->rate[i];
    if (!e) {
        e = &x->rate[0];
        for (size_t i = 1; i < XLINK_RATE_ADDRS && e->key[0]; i++)
            if (!x->rate[i].key[0] || x->rate[i].seen < e->seen)
                e = &x->rate[i];
        snprintf(e->key, sizeof e->key, "%s", key);
        tbucket_init(&e->b, XLINK_ACCEPT_RATE, XLINK_ACCEPT_BURST, (int64_t)now);
    }
    e->seen = now;
    return tbucket_take(&e->b, (int64_t)now);
}

/* Why the accepted connection l may not stay because of its source (its
 * address's rate, or its connections already in their handshake), or
 * NULL. */
static const char *source_refusal(struct xlink *x, const link *l)
{
    if (!rate_take(x, l->akey, core_now(x->k)))
        return "too many connections from this address";
    unsigned n = 0;
    for (int i = 0; i < XLINK_MAX; i++) {
        const link *o = x->slot[i];
        if (o && o != l && !o->up && !o->dialer && strcmp(o->akey, l->akey) == 0)
            n++;
    }
    return n >= XLINK_PENDING_ADDR ? "too many handshakes from this address" : NULL;
}

/* l's source address, for the log and the limits. */
static void peer_name(link *l)
{
    struct sockaddr_storage ss;
    int n = sizeof ss;
    char host[64] = "?";
    if (uv_tcp_getpeername(&l->tcp, (struct sockaddr *)&ss, &n) != 0) {
        rl_addr_key(NULL, l->akey);
        return;
    }
    if (ss.ss_family == AF_INET)
        uv_ip4_name((struct sockaddr_in *)(void *)&ss, host, sizeof host);
    else if (ss.ss_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)(void *)&ss, host, sizeof host);
    snprintf(l->addr, sizeof l->addr, "%s", host);
    rl_addr_key((const struct sockaddr *)&ss, l->akey);
}

static void on_accept(uv_stream_t *srv, int status)
{
    struct xlink *x = srv->data;
    if (status < 0)
        return;
    int pending;
    link *old, *l = link_new(x, false);
    if (!l && (old = evictable(x, NULL, &pending)) != NULL) {
        link_close(old, "too many links in their handshake");
        l = link_new(x, false);
    }
    if (!l) {
        uv_tcp_t *t = malloc(sizeof *t);
        if (t && uv_tcp_init(x->k->loop, t) == 0) {
            if (uv_accept(srv, (uv_stream_t *)t) == 0)
                log_refusal(x, "from", "?", "too many links");
            uv_close((uv_handle_t *)t, (uv_close_cb)free);
        } else {
            free(t);
        }
        return;
    }
    if (uv_accept(srv, (uv_stream_t *)&l->tcp) != 0) {
        link_close(l, "accept failed");
        return;
    }
    peer_name(l);
    /* One address may not hold many handshakes nor open connections fast:
     * over either, this one goes at once and takes no one's slot. */
    const char *why = source_refusal(x, l);
    if (why) {
        link_close(l, why);
        return;
    }
    /* Connections in their handshake (anyone can open them) take at most
     * XLINK_PENDING_MAX slots, so the rest stays for links up and for this
     * instance's own dials; the least advanced of the others makes room. */
    if ((old = evictable(x, l, &pending)) != NULL && pending >= (int)XLINK_PENDING_MAX)
        link_close(old, "too many links in their handshake");
    link_go(l);
}

static void on_connect(uv_connect_t *req, int status)
{
    link *l = req->data;
    if (l->closing)
        return;
    if (status < 0) {
        link_close(l, uv_strerror(status));
        return;
    }
    link_go(l);
}

/* ---- dialing ---- */

static void dial(struct xlink *x, int ki)
{
    struct known *kn = &x->known[ki];
    struct sockaddr_storage ss;
    if (config_parse_listen(kn->addr, &ss) != 0)
        return;
    link *l = link_new(x, true);
    if (!l)
        return;
    l->known = ki;
    kn->live = true;
    snprintf(l->addr, sizeof l->addr, "%s", kn->addr);
    l->creq.data = l;
    if (uv_tcp_connect(&l->creq, &l->tcp, (const struct sockaddr *)&ss, on_connect) != 0)
        link_close(l, "cannot connect");
}

static bool has_link(const struct xlink *x, const char *id)
{
    for (int i = 0; i < XLINK_MAX; i++)
        if (x->slot[i] && x->slot[i]->up && strcmp(x->slot[i]->peer, id) == 0)
            return true;
    return false;
}

static void on_links(void *ud, int ret, const char *id, const char *addr)
{
    struct xlink *x = ud;
    if (ret != 0) { /* the end, or a failure */
        x->polling = false;
        if (x->stopped)
            return;
        for (int s = 0; ret == 1 && s < XLINK_MAX; s++) {
            link *l = x->slot[s];
            /* Reaped, or left: do not wait for TCP. Only a link up before
             * the read began: one up since may be from an instance that
             * joined after the read's snapshot. */
            if (l && l->up && !l->listed && l->up_at < x->last_poll)
                link_close(l, "its instance is no longer in the shared table");
            else if (l)
                l->listed = false;
        }
        if (ret == 1) { /* forget those gone from the table (no link is dialing them) */
            size_t j = 0;
            for (size_t i = 0; i < x->nknown; i++) {
                if (x->known[i].seen || x->known[i].live) {
                    if (i != j)
                        for (int s = 0; s < XLINK_MAX; s++)
                            if (x->slot[s] && x->slot[s]->known == (int)i)
                                x->slot[s]->known = (int)j;
                    x->known[j++] = x->known[i];
                }
            }
            x->nknown = j;
        }
        return;
    }
    const char *me = cluster_id(x->k->cl);
    for (int s = 0; s < XLINK_MAX; s++)
        if (x->slot[s] && x->slot[s]->up && strcmp(x->slot[s]->peer, id) == 0)
            x->slot[s]->listed = true;
    if (strcmp(id, me) <= 0 || strlen(id) > DB_CLUSTER_MAX_ID || strlen(addr) >= CONFIG_LISTEN_MAX)
        return; /* the other side dials */
    size_t i = 0;
    while (i < x->nknown && strcmp(x->known[i].id, id) != 0)
        i++;
    if (i == x->nknown) {
        if (x->nknown == XLINK_MAX)
            return;
        memset(&x->known[i], 0, sizeof x->known[i]);
        snprintf(x->known[i].id, sizeof x->known[i].id, "%s", id);
        x->nknown++;
    }
    struct known *kn = &x->known[i];
    kn->seen = true;
    if (strcmp(kn->addr, addr) != 0) {
        snprintf(kn->addr, sizeof kn->addr, "%s", addr);
        kn->backoff = 0;
        kn->next_try = 0;
    }
}

void xlink_tick(core *k, uint64_t now)
{
    struct xlink *x = k->xl;
    if (!x || x->stopped)
        return;
    for (int i = 0; i < XLINK_MAX; i++) {
        link *l = x->slot[i];
        if (!l || l->up)
            continue;
        if (now - l->since >= XLINK_HANDSHAKE_MS)
            link_close(l, "no handshake and certificate in time");
        else if (!l->dialer && !session_established(l->s) && now - l->since >= XLINK_NOISE_MS)
            link_close(l, "no handshake in time"); /* a stranger's slot is given back sooner */
    }
    for (size_t i = 0; i < x->nknown; i++) {
        struct known *kn = &x->known[i];
        if (kn->seen && !kn->live && now >= kn->next_try && !has_link(x, kn->id))
            dial(x, (int)i);
    }
    if (!x->polling && now - x->last_poll >= XLINK_POLL_MS && cluster_joined(k->cl)) {
        for (size_t i = 0; i < x->nknown; i++)
            x->known[i].seen = false;
        x->last_poll = now;
        x->polling = true;
        cluster_links(k->cl, on_links, x);
    }
}

/* ---- the mailbox's calls ---- */

void xlink_device(core *k, const uint8_t dev[static 32], bool up)
{
    struct xlink *x = k->xl;
    xlmsg m = {.type = XL_DEV, .u.dev = {.op = up ? XL_DEV_UP : XL_DEV_DOWN, .n = 1, .keys = dev}};
    for (int i = 0; x && i < XLINK_MAX; i++)
        if (x->slot[i] && x->slot[i]->up)
            (void)queue_msg(x->slot[i], &m);
}

uint32_t xlink_where(const core *k, const uint8_t dev[static 32])
{
    const struct xlink *x = k->xl;
    uint32_t best = 0;
    uint64_t best_stamp = 0, st;
    for (int i = 0; x && i < XLINK_MAX; i++) {
        const link *l = x->slot[i];
        if (l && l->up && !l->closing && devset_get(l->devs, dev, &st) &&
            (!best || st > best_stamp)) {
            best = l->handle;
            best_stamp = st;
        }
    }
    return best;
}

int xlink_forward(core *k, uint32_t h, const xl_fwd *f)
{
    link *l = by_handle(k->xl, h);
    if (!l || !l->up)
        return BANTER_ENOENT;
    if (link_queued(l) >= XLINK_OUT_HIGH)
        return BANTER_EAGAIN;
    xlmsg m = {.type = XL_FWD};
    m.u.fwd = *f;
    size_t len;
    int r = xlmsg_encode(&m, k->xl->scratch, sizeof k->xl->scratch, &len);
    if (r)
        return r;
    if (!queue_pt(l, k->xl->scratch, len))
        return BANTER_ENOENT;
    k->xl->st.forwarded++;
    return 0;
}

void xlink_drop(core *k, uint32_t h, const char *why)
{
    link *l = by_handle(k->xl, h);
    if (l)
        link_close(l, why);
}

void xlink_answer(core *k, uint32_t h, uint64_t tag, size_t len, rv_fate fate, const char *error)
{
    link *l = by_handle(k->xl, h);
    if (!l || !l->up)
        return;
    if (l->rx_n) {
        l->rx_n--;
        l->rx_bytes -= len <= l->rx_bytes ? len : l->rx_bytes;
    }
    xlmsg m = {.type = XL_ANS, .u.ans = {.tag = tag, .fate = (uint8_t)fate}};
    if (fate == RV_STORED_REFUSED) {
        snprintf(m.u.ans.error, sizeof m.u.ans.error, "%s", error && *error ? error : "EPROTO");
        for (char *e = m.u.ans.error; *e; e++)
            if (!((*e >= 'A' && *e <= 'Z') || (*e >= '0' && *e <= '9')))
                *e = '0'; /* the wire takes A-Z 0-9 only: never left unanswered */
    }
    (void)queue_msg(l, &m);
}

void xlink_get_stats(const core *k, xlink_stats *out)
{
    if (k->xl)
        *out = k->xl->st;
    else
        memset(out, 0, sizeof *out);
}

/* ---- start and stop ---- */

int xlink_start(core *k, const char *addr, const identity *me)
{
    struct sockaddr_storage ss;
    if (!k->cl)
        return BANTER_EINVAL;
    if (config_parse_listen(addr, &ss) != 0) {
        core_log(k, "cannot listen for links on \"%s\": not ADDR:PORT", addr);
        return BANTER_EINVAL;
    }
    struct xlink *x = calloc(1, sizeof *x);
    if (!x)
        return BANTER_ENOMEM;
    x->k = k;
    x->me = me;
    snprintf(x->addr, sizeof x->addr, "%s", addr);
    int r = uv_tcp_init(k->loop, &x->listener);
    if (r == 0) {
        x->listening = true;
        x->listener.data = x;
        r = uv_tcp_bind(&x->listener, (const struct sockaddr *)&ss, 0);
    }
    if (r == 0)
        r = uv_listen((uv_stream_t *)&x->listener, 64, on_accept);
    if (r != 0) {
        core_log(k, "cannot listen for links on %s: %s", addr, uv_strerror(r));
        if (x->listening)
            uv_close((uv_handle_t *)&x->listener, NULL);
        k->xl = x;
        x->stopped = true;
        return BANTER_EIO;
    }
    k->xl = x;
    /* Port 0: the one the system chose is the one published. */
    struct sockaddr_storage got;
    int n = sizeof got;
    char host[46];
    if (uv_tcp_getsockname(&x->listener, (struct sockaddr *)&got, &n) == 0) {
        if (got.ss_family == AF_INET &&
            uv_ip4_name((struct sockaddr_in *)(void *)&got, host, sizeof host) == 0)
            snprintf(x->addr, sizeof x->addr, "%.46s:%u", host,
                     ntohs(((struct sockaddr_in *)(void *)&got)->sin_port));
        else if (got.ss_family == AF_INET6 &&
                 uv_ip6_name((struct sockaddr_in6 *)(void *)&got, host, sizeof host) == 0)
            snprintf(x->addr, sizeof x->addr, "[%.46s]:%u", host,
                     ntohs(((struct sockaddr_in6 *)(void *)&got)->sin6_port));
    }
    cluster_set_link(k->cl, x->addr);
    core_log(k, "links to the other instances: accepted on %s", x->addr);
    return 0;
}

void xlink_stop(core *k)
{
    struct xlink *x = k->xl;
    if (!x || x->stopped)
        return;
    x->stopped = true;
    for (int i = 0; i < XLINK_MAX; i++)
        if (x->slot[i])
            link_close(x->slot[i], "server shutting down");
    if (x->listening)
        uv_close((uv_handle_t *)&x->listener, NULL);
    x->listening = false;
}

void xlink_free(core *k)
{
    free(k->xl);
    k->xl = NULL;
}
