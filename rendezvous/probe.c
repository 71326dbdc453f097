/* SPDX-License-Identifier: MIT */
/* probe.c - the reachability probe (probe.h, docs/rendezvous.md 16). */
#include "probe.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "dlist.h"
#include "online.h"
#include "session.h"

typedef struct probe_run probe_run;

struct recent {
    uint8_t dev[32];
    uint64_t at; /* loop ms of its last probe; 0: free */
};

struct probes {
    hlist runs; /* in flight, until their handles closed (through link) */
    size_t running;
    struct recent recent[PROBE_RECENT_CAP];
};

struct probe_run {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t creq;
    probes *owner;
    dlist_link link;  /* on the owner's runs */
    conn *c;          /* NULL once cancelled or answered */
    session *s;       /* after the connect */
    uint8_t dev[32];  /* the key the node must prove */
    uint64_t started; /* loop ms */
    uint16_t port;
    uint8_t open; /* handles not yet closed */
    bool connected, done;
    char addr[CONN_ADDR_MAX];
    char who[BANTER_MAX_NAME + 1];
};

/* A copy of bytes to write, freed in the write callback. */
struct wr {
    uv_write_t req;
    size_t len;
    uint8_t data[];
};

probes *probes_new(void) { return calloc(1, sizeof(probes)); }

void probes_free(probes *p) { free(p); }

size_t probes_running(const probes *p) { return p->running; }

probe_verdict probes_admit(probes *p, bool authed, const uint8_t dev[static 32], uint64_t now_ms)
{
    struct recent *mine = NULL, *fresh = NULL;
    if (!authed)
        return PROBE_NOAUTH;
    uint64_t now = now_ms ? now_ms : 1; /* at 0 means free */
    for (size_t i = 0; i < PROBE_RECENT_CAP; i++) {
        struct recent *e = &p->recent[i];
        bool stale = !e->at || now - e->at >= PROBE_INTERVAL_MS || now < e->at;
        if (e->at && memcmp(e->dev, dev, 32) == 0)
            mine = e;
        else if (stale && !fresh)
            fresh = e;
    }
    if (mine && now - mine->at < PROBE_INTERVAL_MS && now >= mine->at)
        return PROBE_TOO_SOON;
    if (p->running >= PROBE_MAX_RUNNING || (!mine && !fresh))
        return PROBE_TOO_MANY;
    if (!mine) {
        mine = fresh;
        memcpy(mine->dev, dev, 32);
    }
    mine->at = now;
    p->running++;
    return PROBE_GO;
}

void probes_done(probes *p)
{
    if (p->running)
        p->running--;
}

bool probe_addr_allowed(const struct sockaddr *sa)
{
    const uint8_t *a;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *v6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(v6) || IN6_IS_ADDR_UNSPECIFIED(v6) || IN6_IS_ADDR_MULTICAST(v6))
            return false;
        if (!IN6_IS_ADDR_V4MAPPED(v6))
            return true;
        a = v6->s6_addr + 12;
    } else if (sa->sa_family == AF_INET) {
        a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    } else {
        return false;
    }
    /* 0/8 (this network), 127/8 (loopback), 224/4 (multicast), 240/4 and
     * 255.255.255.255 (reserved, broadcast). */
    return a[0] != 0 && a[0] != 127 && a[0] < 224;
}

/* ---- one probe ---- */

static void on_run_closed(uv_handle_t *h)
{
    probe_run *r = h->data;
    if (--r->open)
        return;
    probes *p = r->owner;
    hlist_remove(&p->runs, r, offsetof(probe_run, link));
    probes_done(p);
    session_free(r->s);
    free(r);
}

/* Stop I/O; the record goes in the close callbacks. */
static void run_close(probe_run *r)
{
    if (r->done)
        return;
    r->done = true;
    r->c = NULL;
    uv_close((uv_handle_t *)&r->timer, on_run_closed);
    uv_close((uv_handle_t *)&r->tcp, on_run_closed);
}

/* The answer: sent to the connection (if it still waits), logged, closed. */
static void run_finish(probe_run *r, rv_probe_res res)
{
    if (r->done)
        return;
    core *k = r->tcp.loop->data;
    rvmsg m = {.type = RV_PROBE_RESULT};
    m.u.probe.port = r->port;
    m.u.probe.result = res;
    uint64_t ms = core_now(k) - r->started;
    m.u.probe.ms = ms > RV_PROBE_MS_MAX ? RV_PROBE_MS_MAX : (int64_t)ms;
    if (strcmp(r->addr, "?") != 0 && strlen(r->addr) <= RV_ADDR_MAX)
        memcpy(m.u.probe.address, r->addr, strlen(r->addr) + 1);
    core_log(k, "probe for %s: TCP %s port %u: %s (%" PRIu64 " ms)", r->who, r->addr, r->port,
             rv_probe_res_name(res), ms);
    if (r->c && !r->c->closing)
        conn_send_rv(r->c, &m);
    run_close(r);
}

static void on_written(uv_write_t *req, int status)
{
    (void)status;
    free(req->data);
}

/* Write what the session queued (a copy, owned by the write request). */
static int run_write(probe_run *r)
{
    size_t len;
    const uint8_t *p = session_out(r->s, &len);
    if (!p || !len)
        return 0;
    struct wr *w = malloc(sizeof *w + len);
    if (!w)
        return UV_ENOMEM;
    memcpy(w->data, p, len);
    w->len = len;
    w->req.data = w;
    session_out_consume(r->s, len);
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
    int e = uv_write(&w->req, (uv_stream_t *)&r->tcp, &b, 1, on_written);
    if (e)
        free(w);
    return e;
}

/* The handshake proved the device's key: say BYE (best effort) and tell. */
static void run_proved(probe_run *r)
{
    msg bye = {.type = MSG_BYE};
    snprintf(bye.u.bye.reason, sizeof bye.u.bye.reason, "rendezvous reachability probe");
    if (session_send_msg(r->s, &bye) == 0)
        (void)run_write(r);
    run_finish(r, RV_PR_REACHABLE);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    core *k = h->loop->data;
    *b = uv_buf_init((char *)k->rbuf, (unsigned)k->rbuf_len);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    probe_run *r = st->data;
    if (r->done || nread == 0)
        return;
    if (nread < 0) { /* closed before proving the key: not this node */
        run_finish(r, RV_PR_OTHER);
        return;
    }
    const uint8_t *in = (const uint8_t *)b->base;
    size_t left = (size_t)nread;
    for (;;) {
        size_t used;
        session_event ev;
        int e = session_feed(r->s, in, left, &used, &ev);
        in += used;
        left -= used;
        if (e < 0) { /* not Banter, or another key (BANTER_EKEYMISMATCH) */
            run_finish(r, RV_PR_OTHER);
            return;
        }
        if (e == 0)
            break;
        if (ev.type == SESSION_EV_ESTABLISHED) {
            run_proved(r);
            return;
        }
    }
    if (run_write(r) != 0)
        run_finish(r, RV_PR_ERROR);
}

static rv_probe_res connect_result(int status)
{
    switch (status) {
    case UV_ECONNREFUSED:
        return RV_PR_REFUSED;
    case UV_ETIMEDOUT:
        return RV_PR_TIMEOUT;
    case UV_EHOSTUNREACH:
    case UV_ENETUNREACH:
        return RV_PR_UNREACHABLE;
    default:
        return RV_PR_ERROR;
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    probe_run *r = req->data;
    if (r->done) /* cancelled (UV_ECANCELED) or already answered */
        return;
    if (status < 0) {
        run_finish(r, connect_result(status));
        return;
    }
    core *k = r->tcp.loop->data;
    r->connected = true;
    session_config sc = {
        .role = NOISE_INITIATOR, .id = k->id, .rng = k->rng, .expect_peer = r->dev, .out_cap = 0};
    if (session_new(&r->s, &sc) != 0 || run_write(r) != 0 ||
        uv_read_start((uv_stream_t *)&r->tcp, on_alloc, on_read) != 0)
        run_finish(r, RV_PR_ERROR);
}

/* The deadline: no connection means nothing answered (dropped); a
 * connection without the handshake means something else answered. */
static void on_deadline(uv_timer_t *t)
{
    probe_run *r = t->data;
    run_finish(r, r->connected ? RV_PR_OTHER : RV_PR_TIMEOUT);
}

/* Start a probe of port on c's source address. 0, or a libuv error (the
 * record is then closed and freed by the loop, and counted until then). */
static int run_start(probes *p, conn *c, uint16_t port)
{
    core *k = conn_core(c);
    struct sockaddr_storage ss;
    probe_run *r = calloc(1, sizeof *r);
    if (!r) {
        probes_done(p);
        return UV_ENOMEM;
    }
    r->owner = p;
    r->c = c;
    r->port = port;
    r->started = core_now(k);
    memcpy(r->dev, conn_device(c), 32);
    conn_addr(c, r->addr);
    snprintf(r->who, sizeof r->who, "%s", c->acct ? c->acct->name : "?");
    r->tcp.data = r->timer.data = r->creq.data = r;
    hlist_push(&p->runs, r, offsetof(probe_run, link));
    (void)uv_timer_init(k->loop, &r->timer); /* cannot fail */
    r->open = 1;
    int e = uv_tcp_init(k->loop, &r->tcp);
    if (e) {
        r->done = true;
        uv_close((uv_handle_t *)&r->timer, on_run_closed);
        return e;
    }
    r->open = 2;
    e = conn_peer(c, &ss) != 0 ? UV_EINVAL : 0;
    if (!e && ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)(void *)&ss)->sin6_port = htons(port);
    else if (!e)
        ((struct sockaddr_in *)(void *)&ss)->sin_port = htons(port);
    if (!e)
        e = uv_timer_start(&r->timer, on_deadline, PROBE_DEADLINE_MS, 0);
    if (!e)
        e = uv_tcp_connect(&r->creq, &r->tcp, (const struct sockaddr *)&ss, on_connect);
    if (e) /* connect(2) may fail at once: ENETUNREACH, ... */
        run_finish(r, connect_result(e));
    return 0;
}

void probe_request(conn *c, const struct rv_probe *q)
{
    core *k = conn_core(c);
    struct sockaddr_storage ss;
    if (!c->acct) {
        conn_refuse(c, "EAUTH", "log in first");
        return;
    }
    if (!k->probes) {
        conn_refuse(c, "EPERM", "this server does not offer reachability probes (probe = off)");
        return;
    }
    if (conn_peer(c, &ss) != 0 || !probe_addr_allowed((const struct sockaddr *)&ss)) {
        conn_refuse(c, "EPERM",
                    "this server does not probe the address it sees for this connection "
                    "(loopback, or not a unicast address)");
        return;
    }
    probe_verdict v = probes_admit(k->probes, true, conn_device(c), core_now(k));
    if (v != PROBE_GO) {
        conn_refuse(c, "ERATE",
                    v == PROBE_TOO_SOON ? "one reachability probe per device every 10 s; wait"
                                        : "too many reachability probes at once; try again");
        return;
    }
    if (run_start(k->probes, c, q->port) != 0) {
        rvmsg m = {.type = RV_PROBE_RESULT};
        m.u.probe.port = q->port;
        m.u.probe.result = RV_PR_ERROR;
        conn_send_rv(c, &m);
    }
}

void probe_conn_gone(conn *c)
{
    probes *p = conn_core(c)->probes;
    if (!p)
        return;
    for (probe_run *r = p->runs.head; r; r = r->link.next)
        if (r->c == c)
            run_close(r);
}

void probes_stop(probes *p)
{
    if (!p)
        return;
    for (probe_run *r = p->runs.head; r; r = r->link.next)
        run_close(r);
}
