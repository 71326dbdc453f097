/* SPDX-License-Identifier: MIT */
/* server.c - the rendezvous event loop and dispatch (see server.h). */
#include "server.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "admin.h"
#include "admmsg.h"
#include "annmsg.h"
#include "announce.h"
#include "auth.h"
#include "broadcast.h"
#include "config.h"
#include "conn.h"
#include "contacts.h"
#include "ctl.h"
#include "plugins.h"
#include "directory.h"
#include "dirview.h"
#include "icert.h"
#include "icesig.h"
#include "mailbox.h"
#include "online.h"
#include "orgpolicy.h"
#include "rvbatch.h"
#include "orgrevoke.h"
#include "probe.h"
#include "pwcheck.h"
#include "ratelimit.h"
#include "xinst.h"
#include "xlink.h"

#define READ_BUF 65536

/* Counters since the last stats line. */
struct stats {
    uint64_t accepted, refused, timeouts, idle;
};

enum { H_LISTENER = 1, H_TICK = 2, H_SIGINT = 4, H_SIGTERM = 8, H_PREPARE = 16, H_CHECK = 32 };

typedef struct server {
    core k; /* first: a pointer to it is a pointer to the server */
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_timer_t tick;
    uv_signal_t sigint, sigterm;
    uv_prepare_t prepare;
    uv_check_t check;
    unsigned handles; /* H_* of the handles initialised and not closed */
    server_config cfg;
    ctl *ctl;
    struct stats st;
    size_t last_pending, last_live;
    uint64_t last_stats;
    uint64_t last_trim;  /* when heap_tick last looked */
    size_t trimmed_free; /* free heap bytes left by the last trim */
    int err;             /* why it stopped, 0 for a signal */
    char addr[CONFIG_LISTEN_MAX + 8];
    uint8_t rbuf[READ_BUF];
} server;

size_t server_conn_size(void) { return sizeof(conn) + session_size(); }

/* ---- dispatch ---- */

/* The peer's HELLO: the connection is live (off the pending list and its
 * handshake deadline, under keepalive from now). */
static void conn_hello(conn *c, const struct msg_hello *h)
{
    core *k = conn_core(c);
    for (size_t i = 0; i < h->nfeatures; i++) {
        c->wants_policy |= strcmp(h->features[i], ORGPOLICY_FEATURE) == 0;
        c->wants_announce |= strcmp(h->features[i], ANN_FEATURE) == 0;
        c->batch |= strcmp(h->features[i], RVBATCH_FEATURE) == 0;
    }
    conn_list_remove(&k->pending, c);
    c->live = true;
    c->since = conn_ms(core_now(k));
    conn_list_push(&k->live, c);
    auth_hello(c);
}

/* The handshake is done: say HELLO. The peer stays pending until its own
 * HELLO arrives, within the same deadline. */
static void conn_established(conn *c)
{
    if (conn_core(c)->icert) { /* first: the node checks it before anything else */
        uint8_t pt[1 + ICERT_LEN_MAX];
        pt[0] = ICERT_TYPE;
        memcpy(pt + 1, conn_core(c)->icert, conn_core(c)->icert_len);
        conn_send_pt(c, pt, 1 + conn_core(c)->icert_len);
    }
    msg h = {.type = MSG_HELLO};
    h.u.hello.version = SESSION_VERSION;
    snprintf(h.u.hello.name, sizeof h.u.hello.name, "%s", SERVER_NAME);
    snprintf(h.u.hello.features[0], sizeof h.u.hello.features[0], "%s", SERVER_FEATURE);
    snprintf(h.u.hello.features[1], sizeof h.u.hello.features[1], "%s", RVBATCH_FEATURE);
    h.u.hello.nfeatures = 2;
    conn_send(c, &h);
}

/* Whether a rendezvous message from a node needs an authenticated peer
 * (RV_SEAL answers EAUTH with RV_STORED itself). */
static bool needs_auth(rv_type t)
{
    return t == RV_PROFILE_SET || t == RV_SEARCH || t == RV_CONTACT || t == RV_STATUS ||
           t == RV_DELIVERED || t == RV_KEEP || t == RV_BROADCAST_TO || t == RV_ICE_OFFER ||
           t == RV_ICE_ANSWER || t == RV_ICE_END || t == RV_PROBE;
}

/* Whether c may send one more message of a rate-limited kind now: at
 * most max in SERVER_RATE_WINDOW_MS. */
static bool within(conn *c, uint32_t *window, uint16_t *count, unsigned max)
{
    uint64_t now = core_now(conn_core(c));
    if (conn_age(now, *window) >= SERVER_RATE_WINDOW_MS) {
        *window = conn_ms(now);
        *count = 0;
    }
    if (*count < UINT16_MAX)
        ++*count;
    return *count <= max;
}

/* Changes that every contact's devices hear of, and searches (each a
 * database query), under their rates: refused ERATE beyond. */
static bool rate_ok(conn *c, rv_type t)
{
    if (t == RV_STATUS || t == RV_PROFILE_SET || t == RV_CONTACT) {
        if (within(c, &c->chg_window, &c->chg_count, SERVER_CHANGES))
            return true;
        conn_refuse(c, "ERATE", "too many status, profile and contact changes; wait");
        return false;
    }
    if (t == RV_SEARCH) {
        if (within(c, &c->srch_window, &c->srch_count, SERVER_SEARCHES))
            return true;
        conn_refuse(c, "ERATE", "too many searches; wait");
        return false;
    }
    return true;
}

static void rv_dispatch(conn *c, rvmsg *m)
{
    if (!rate_ok(c, m->type))
        return;
    switch (m->type) {
    case RV_LOGIN:
        auth_login(c, &m->u.login);
        break;
    case RV_LOGOUT:
        auth_logout(c);
        break;
    case RV_PROFILE_SET:
        directory_profile_set(c, &m->u.profile);
        break;
    case RV_SEARCH:
        directory_search(c, &m->u.search);
        break;
    case RV_CONTACT:
        contacts_op(c, &m->u.contact);
        break;
    case RV_STATUS:
        contacts_status(c, &m->u.status);
        break;
    case RV_SEAL:
        mailbox_seal(c, &m->u.seal);
        break;
    case RV_DELIVERED:
        mailbox_delivered(c, m->u.stored.id, m->u.stored.has_from ? m->u.stored.from : NULL);
        break;
    case RV_KEEP:
        mailbox_keep(c, m->u.stored.id, m->u.stored.from);
        break;
    case RV_BROADCAST_TO:
        broadcast_to(c, &m->u.bto);
        break;
    case RV_ICE_OFFER:
    case RV_ICE_ANSWER:
    case RV_ICE_END:
        icesig_relay(c, m);
        break;
    case RV_PROBE:
        probe_request(c, &m->u.probe);
        break;
    default:
        conn_refuse(c, "EBADTYPE", "a server-to-node type");
        break;
    }
}

/* One rendezvous message (the type byte is the codec's) from a live peer. */
static void conn_rv_message(conn *c, const uint8_t *pt, size_t len)
{
    rvmsg m;
    int r = rvmsg_decode(&m, pt, len);
    if (r) {
        conn_refuse(c, banter_errname(r), "message refused");
        return;
    }
    if (needs_auth(m.type) && !c->acct)
        conn_refuse(c, "EAUTH", "log in first");
    else
        rv_dispatch(c, &m);
    rvmsg_clear(&m); /* wipes the password of an RV_LOGIN */
}

static void conn_message(conn *c, const uint8_t *pt, size_t len);

static void keep_batch(conn *c, const uint8_t *pt, size_t len, size_t skip);

/* The messages of a checked RV_BATCH after the first skip, until one of
 * them holds c's input (conn_input_hold: the rest waits for it). */
static void batch_messages(conn *c, const uint8_t *pt, size_t len, size_t skip)
{
    rvbatch_iter it = rvbatch_iter_make(pt, len);
    const uint8_t *m;
    size_t mlen;
    for (size_t i = 0; !c->closing && rvbatch_next(&it, &m, &mlen); i++) {
        if (i < skip)
            continue;
        if (c->input_holds) {
            keep_batch(c, pt, len, i);
            return;
        }
        conn_message(c, m, mlen);
    }
}

/* An RV_BATCH: checked whole first, then its messages one by one, exactly
 * as if each had come alone (docs/rendezvous.md section 2.2). Only after
 * both HELLOs listed "batch"; a malformed one ends the connection. */
static void conn_batch_in(conn *c, const uint8_t *pt, size_t len)
{
    size_t n;
    if (!c->live) {
        conn_refuse(c, "EPROTO", "HELLO must come first");
        return;
    }
    if (!c->batch) {
        conn_refuse(c, "EPROTO", "RV_BATCH needs the feature \"batch\" in HELLO");
        return;
    }
    int r = rvbatch_check(pt, len, &n);
    if (r) {
        conn_close(c, BANTER_EPROTO, "malformed batch");
        return;
    }
    batch_messages(c, pt, len, 0);
}

/* One transport plaintext from an established peer. */
static void conn_message(conn *c, const uint8_t *pt, size_t len)
{
    msg m;
    if (len > 0 && pt[0] == RV_BATCH) {
        conn_batch_in(c, pt, len);
        return;
    }
    if (len > 0 && rvmsg_owns(pt[0])) {
        if (c->live)
            conn_rv_message(c, pt, len);
        else
            conn_refuse(c, "EPROTO", "HELLO must come first");
        return;
    }
    if (len > 0 && annmsg_owns(pt[0])) {
        if (!c->live)
            conn_refuse(c, "EPROTO", "HELLO must come first");
        else if (pt[0] == RV_ANNOUNCE_RCPT)
            announce_receipt(c, pt, len);
        else
            conn_refuse(c, "EBADTYPE", "a server-to-node type");
        return;
    }
    if (len > 0 && admmsg_owns(pt[0])) {
        if (c->live)
            admin_message(c, pt, len);
        else
            conn_refuse(c, "EPROTO", "HELLO must come first");
        return;
    }
    int r = msg_decode(&m, pt, len);
    if (r) {
        conn_refuse(c, banter_errname(r),
                    r == BANTER_EBADTYPE ? "type not supported by the rendezvous server"
                                         : "message refused");
        return;
    }
    if (!c->live && m.type != MSG_HELLO && m.type != MSG_BYE) {
        conn_refuse(c, "EPROTO", "HELLO must come first");
        msg_clear(&m);
        return;
    }
    switch (m.type) {
    case MSG_HELLO:
        if (c->live)
            conn_refuse(c, "EPROTO", "HELLO was already received");
        else
            conn_hello(c, &m.u.hello);
        break;
    case MSG_PING: {
        msg pong = {.type = MSG_PONG, .u.ping.token = m.u.ping.token};
        conn_send(c, &pong);
        break;
    }
    case MSG_PONG:  /* the answer to a keepalive: the byte count did it */
    case MSG_ERROR: /* the peer refused something of ours: nothing to undo */
        break;
    case MSG_BYE:
        conn_close(c, 0, NULL);
        break;
    default:
        conn_refuse(c, "EBADTYPE", "type not supported by the rendezvous server");
        break;
    }
    msg_clear(&m);
}

/* A byte arrived on a live connection: it moves to the end of the live
 * list (the list stays sorted by the last byte received). */
static void conn_touch(conn *c)
{
    core *k = conn_core(c);
    c->since = conn_ms(core_now(k));
    c->pinged = false;
    if (k->live.l.tail != c) {
        conn_list_remove(&k->live, c);
        conn_list_push(&k->live, c);
    }
}

void conn_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    conn *c = (conn *)(void *)h;
    (void)suggested;
    *b = uv_buf_init((char *)conn_core(c)->rbuf, (unsigned)conn_core(c)->rbuf_len);
}

/* What waits while c's input is held (one allocation, rare): the rest of
 * an RV_BATCH whose first batch_skip messages were handled (its
 * plaintext, batch_len bytes), then len bytes read from the socket. */
struct conn_held {
    size_t batch_len, batch_skip, len;
    uint8_t data[];
};

/* Keep the rest of a read for conn_input_resume (appended: what an
 * earlier hold kept comes first). Closes c when out of memory. */
static void keep_input(conn *c, const uint8_t *in, size_t len)
{
    if (len == 0)
        return;
    size_t blen = c->held ? c->held->batch_len : 0, had = c->held ? c->held->len : 0;
    if (len > CONN_HELD_MAX - had) {
        conn_close(c, BANTER_ETOOBIG, NULL);
        return;
    }
    struct conn_held *h = realloc(c->held, sizeof *h + blen + had + len);
    if (!h) {
        conn_close(c, BANTER_ENOMEM, NULL);
        return;
    }
    if (!c->held)
        h->batch_len = h->batch_skip = 0;
    memcpy(h->data + blen + had, in, len);
    h->len = had + len;
    c->held = h;
}

/* Keep an RV_BATCH (pt, len) whose first skip messages were handled, for
 * conn_input_resume; it comes before any bytes kept after it. */
static void keep_batch(conn *c, const uint8_t *pt, size_t len, size_t skip)
{
    if (c->held) { /* cannot happen: a batch is handled before the rest is kept */
        conn_close(c, BANTER_ESTATE, NULL);
        return;
    }
    struct conn_held *h = malloc(sizeof *h + len);
    if (!h) {
        conn_close(c, BANTER_ENOMEM, NULL);
        return;
    }
    h->batch_len = len;
    h->batch_skip = skip;
    h->len = 0;
    memcpy(h->data, pt, len);
    c->held = h;
}

/* Feed what the peer sent to its session and handle the messages, until
 * the bytes are used up, c closes, or a message held c's input. */
static void conn_feed(conn *c, const uint8_t *in, size_t left)
{
    while (!c->closing && !c->input_holds) {
        size_t used;
        session_event ev;
        int r = session_feed(c->s, in, left, &used, &ev);
        in += used;
        left -= used;
        if (r < 0) {
            conn_close(c, r, NULL);
            return;
        }
        if (r == 0)
            break;
        if (ev.type == SESSION_EV_ESTABLISHED)
            conn_established(c);
        else
            conn_message(c, ev.data, ev.len);
    }
    if (!c->closing && c->input_holds)
        keep_input(c, in, left);
    conn_mark_dirty(c); /* handshake messages are queued by the session itself */
    if (!c->closing)
        session_trim(c->s); /* the plaintexts were handled */
}

void conn_on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    conn *c = (conn *)(void *)st;
    if (c->closing || nread == 0)
        return;
    if (nread < 0) {
        conn_close(c, nread == UV_EOF ? session_finish(c->s) : BANTER_EIO, NULL);
        return;
    }
    if (c->live)
        conn_touch(c);
    conn_feed(c, (const uint8_t *)b->base, (size_t)nread);
}

void conn_input_hold(conn *c)
{
    if (c->closing)
        return;
    if (c->input_holds == UINT8_MAX)
        abort();
    if (c->input_holds++ == 0)
        (void)uv_read_stop((uv_stream_t *)&c->tcp);
}

void conn_input_resume(conn *c)
{
    if (c->closing || c->input_holds == 0 || --c->input_holds > 0)
        return;
    struct conn_held *held = c->held;
    c->held = NULL;
    if (held && held->batch_len)
        batch_messages(c, held->data, held->batch_len, held->batch_skip);
    if (held && held->len && !c->closing) {
        if (c->input_holds) /* held again inside the batch: the bytes wait on */
            keep_input(c, held->data + held->batch_len, held->len);
        else
            conn_feed(c, held->data + held->batch_len, held->len);
    }
    free(held);
    if (!c->closing && !c->input_holds && !c->paused &&
        uv_read_start((uv_stream_t *)&c->tcp, conn_on_alloc, conn_on_read) != 0)
        conn_close(c, BANTER_EIO, NULL);
}

/* ---- the server ---- */

static void server_stop(server *srv, int err);

static void on_conn_refused(uv_handle_t *h) { conn_free((conn *)(void *)h); }

static void on_connection(uv_stream_t *l, int status)
{
    server *srv = l->data;
    if (status < 0) {
        core_log(&srv->k, "accept failed: %s", uv_strerror(status));
        return;
    }
    conn *c = conn_new(&srv->k);
    if (!c) {
        core_log(&srv->k, "out of memory: cannot accept connections");
        server_stop(srv, BANTER_ENOMEM);
        return;
    }
    c->closing = true; /* on no list until it is set up */
    session_config sc = {.role = NOISE_RESPONDER,
                         .id = srv->cfg.instance ? srv->cfg.instance : srv->cfg.id,
                         .rng = srv->cfg.rng,
                         .out_cap = CONN_OUT_CAP};
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_conn_refused);
        return;
    }
    if (srv->k.stopping || srv->k.pending.n >= SERVER_MAX_PENDING ||
        conn_start_session(c, &sc) != 0) {
        srv->st.refused++;
        uv_close((uv_handle_t *)&c->tcp, on_conn_refused);
        return;
    }
    c->closing = false;
    c->since = conn_ms(core_now(&srv->k));
    conn_list_push(&srv->k.pending, c);
    srv->st.accepted++;
    (void)uv_tcp_nodelay(&c->tcp, 1);
    if (srv->k.log_level >= CORE_LOG_DEBUG) {
        char addr[CONN_ADDR_MAX];
        conn_addr(c, addr);
        core_debug(&srv->k, "connection from %s accepted", addr);
    }
    if (uv_read_start((uv_stream_t *)&c->tcp, conn_on_alloc, conn_on_read) != 0)
        conn_close(c, BANTER_EIO, NULL);
}

/* The counters, when anything changed since the last line (or always). */
static void log_stats(server *srv, uint64_t now, bool always)
{
    static const struct stats zero;
    mailbox_stats ms;
    core *k = &srv->k;
    srv->last_stats = now;
    mailbox_take_stats(k->mb, &ms);
    bool quiet = memcmp(&srv->st, &zero, sizeof zero) == 0 && k->errors == 0 &&
                 ms.routed + ms.stored + ms.refused + ms.delivered + ms.expired + ms.linked == 0;
    if (!always && quiet && k->pending.n == srv->last_pending && k->live.n == srv->last_live)
        return;
    core_log(k,
             "connections: %zu established, %zu in handshake or before HELLO; %zu accounts "
             "online; since the last count: %" PRIu64 " accepted, %" PRIu64
             " refused (too many handshakes), %" PRIu64 " handshake timeouts, %" PRIu64
             " idle, %" PRIu64 " closed on errors; copies: %" PRIu64 " routed, %" PRIu64
             " stored, %" PRIu64 " delivered, %" PRIu64 " refused, %" PRIu64 " expired in %" PRIu64
             " commits, %" PRIu64 " forwarded to other instances",
             k->live.n, k->pending.n, online_count(k->on), srv->st.accepted, srv->st.refused,
             srv->st.timeouts, srv->st.idle, k->errors, ms.routed, ms.stored, ms.delivered,
             ms.refused, ms.expired, ms.commits, ms.linked);
    srv->st = zero;
    k->errors = 0;
    srv->last_pending = k->pending.n;
    srv->last_live = k->live.n;
}

/*
 * Give back to the system the heap pages a burst left free (a login wave
 * on a cluster queues thousands of database statements, and the small
 * long-lived records made meanwhile keep the heap from shrinking by
 * itself): every SERVER_TRIM_MS, when the free bytes inside the heap grew
 * by SERVER_TRIM_MIN since the last trim, malloc_trim returns the whole
 * free pages among them (about 66 bytes per connection held after 16,667
 * logins on PostgreSQL; docs/cluster.md, "Capacity"). Only a look at the
 * allocator's counters otherwise.
 */
static void heap_tick(server *srv, uint64_t now)
{
#ifdef __GLIBC__
    if (now - srv->last_trim < SERVER_TRIM_MS)
        return;
    srv->last_trim = now;
    struct mallinfo2 mi = mallinfo2();
    if (mi.fordblks < srv->trimmed_free + SERVER_TRIM_MIN)
        return;
    (void)malloc_trim(0);
    srv->trimmed_free = mallinfo2().fordblks;
#else
    (void)srv;
    (void)now;
#endif
}

/* Deadlines: handshakes too slow, keepalive PINGs, idle connections,
 * unanswered routed copies, silent control clients. Both lists are sorted
 * by `since`, so the scans stop at the first conn not due. */
static void on_tick(uv_timer_t *t)
{
    server *srv = t->data;
    core *k = &srv->k;
    uint64_t now = core_now(k);
    conn *first;
    while ((first = k->pending.l.head) != NULL &&
           conn_age(now, first->since) >= SERVER_HANDSHAKE_MS) {
        srv->st.timeouts++;
        conn_close(first, 0, NULL);
    }
    for (conn *c = k->live.l.head, *next; c && conn_age(now, c->since) >= SERVER_PING_MS;
         c = next) {
        next = c->list.next;
        if (conn_age(now, c->since) >= SERVER_IDLE_MS) {
            srv->st.idle++;
            conn_close(c, 0, "idle");
        } else if (!c->pinged) {
            msg ping = {.type = MSG_PING};
            k->rng.fill(k->rng.ctx, (uint8_t *)&ping.u.ping.token, sizeof ping.u.ping.token);
            c->pinged = true;
            conn_send(c, &ping);
        }
    }
    mailbox_tick(k->mb, now);
    xlink_tick(k, now);
    icesig_tick(k, now);
    auth_tick(k, now);
    orgrevoke_tick(k);
    ctl_tick(srv->ctl, now);
    if (now - srv->last_stats >= SERVER_STATS_MS)
        log_stats(srv, now, false);
    heap_tick(srv, now);
}

/* The flush: once after the poll for I/O (check) and once before it
 * (prepare, for what timers and pending callbacks queued). */
static void flush(core *k)
{
    mailbox_flush(k->mb);
    xlink_flush(k);
    conn_flush_dirty(k);
}

static void on_prepare(uv_prepare_t *h) { flush(h->data); }
static void on_check(uv_check_t *h) { flush(h->data); }

/* Close the server's own handles (they live in srv, freed after the loop
 * ends) and every connection; what the mailbox still holds is stored. */
static void server_stop(server *srv, int err)
{
    core *k = &srv->k;
    if (k->stopping)
        return;
    k->stopping = true;
    srv->err = err;
    if (srv->handles & H_LISTENER)
        uv_close((uv_handle_t *)&srv->listener, NULL);
    if (srv->handles & H_TICK)
        uv_close((uv_handle_t *)&srv->tick, NULL);
    if (srv->handles & H_SIGINT)
        uv_close((uv_handle_t *)&srv->sigint, NULL);
    if (srv->handles & H_SIGTERM)
        uv_close((uv_handle_t *)&srv->sigterm, NULL);
    if (srv->handles & H_PREPARE)
        uv_close((uv_handle_t *)&srv->prepare, NULL);
    if (srv->handles & H_CHECK)
        uv_close((uv_handle_t *)&srv->check, NULL);
    srv->handles = 0;
    flush(k);
    while (k->pending.l.head)
        conn_close(k->pending.l.head, 0, NULL);
    while (k->live.l.head)
        conn_close(k->live.l.head, 0, "server shutting down");
    probes_stop(k->probes);
    xlink_stop(k); /* before the mailbox: what went over links is stored */
    mailbox_stop(k->mb);
    xinst_stop(k);
    /* The jobs queued so far (the mailbox's last batch, ...) are done and
     * their afters run here, while the control socket and the plug-ins
     * are still there; later ones are refused (core_job). */
    dbq_free(k->dbq);
    k->dbq = NULL;
    ctl_close(srv->ctl);
    rplugins_close(k->pg);
}

static void on_signal(uv_signal_t *h, int signum)
{
    server *srv = h->data;
    log_stats(srv, core_now(&srv->k), true);
    core_log(&srv->k, "%s: stopping; closing %zu connections",
             signum == SIGINT ? "SIGINT" : "SIGTERM", srv->k.pending.n + srv->k.live.n);
    server_stop(srv, 0);
}

/* "198.18.0.1:7071" or "[::1]:7071": where the listener is bound. */
static void format_bound(server *srv)
{
    struct sockaddr_storage ss;
    int len = (int)sizeof ss;
    char host[64] = "?";
    unsigned port = 0;
    if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)&ss;
            (void)uv_ip6_name(a, host, sizeof host);
            port = ntohs(a->sin6_port);
            snprintf(srv->addr, sizeof srv->addr, "[%s]:%u", host, port);
            return;
        }
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)&ss;
        (void)uv_ip4_name(a, host, sizeof host);
        port = ntohs(a->sin_port);
    }
    snprintf(srv->addr, sizeof srv->addr, "%s:%u", host, port);
}

/* Initialise the loop handles (signals, tick, flush). */
static int init_handles(server *srv)
{
    int r = uv_signal_init(&srv->loop, &srv->sigint);
    if (r == 0) {
        srv->handles |= H_SIGINT;
        r = uv_signal_init(&srv->loop, &srv->sigterm);
    }
    if (r == 0) {
        srv->handles |= H_SIGTERM;
        r = uv_timer_init(&srv->loop, &srv->tick);
    }
    if (r == 0) {
        srv->handles |= H_TICK;
        r = uv_prepare_init(&srv->loop, &srv->prepare);
    }
    if (r == 0) {
        srv->handles |= H_PREPARE;
        r = uv_check_init(&srv->loop, &srv->check);
    }
    if (r == 0) {
        srv->handles |= H_CHECK;
        r = uv_tcp_init(&srv->loop, &srv->listener);
    }
    if (r == 0)
        srv->handles |= H_LISTENER;
    srv->listener.data = srv->tick.data = srv->sigint.data = srv->sigterm.data = srv;
    srv->prepare.data = srv->check.data = &srv->k;
    return r;
}

/* Initialise the handles, bind and listen. On failure the handles that
 * were initialised are closed (uv_run then finishes closing them). */
static int server_start(server *srv, const struct sockaddr_storage *ss)
{
    int r = init_handles(srv);
    if (r == 0)
        r = uv_tcp_bind(&srv->listener, (const struct sockaddr *)ss, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&srv->listener, SERVER_BACKLOG, on_connection);
    if (r == 0)
        r = uv_signal_start(&srv->sigint, on_signal, SIGINT);
    if (r == 0)
        r = uv_signal_start(&srv->sigterm, on_signal, SIGTERM);
    if (r == 0)
        r = uv_timer_start(&srv->tick, on_tick, SERVER_TICK_MS, SERVER_TICK_MS);
    if (r == 0)
        r = uv_prepare_start(&srv->prepare, on_prepare);
    if (r == 0)
        r = uv_check_start(&srv->check, on_check);
    if (r) {
        core_log(&srv->k, "cannot listen on %s: %s", srv->cfg.listen, uv_strerror(r));
        server_stop(srv, BANTER_EIO);
        return BANTER_EIO;
    }
    format_bound(srv);
    return 0;
}

/* The control socket, when configured. A path too long only costs the
 * live notifications (logged); another server on it stops this one. */
static int start_ctl(server *srv)
{
    char why[512];
    if (!srv->cfg.ctl)
        return 0;
    int r = ctl_open(&srv->ctl, &srv->k, srv->cfg.ctl, why, sizeof why);
    if (r == BANTER_ETOOLONG) {
        core_log(&srv->k, "%s: `user disable` takes effect at the next login only", why);
        return 0;
    }
    if (r) {
        core_log(&srv->k, "%s", why);
        server_stop(srv, r);
    }
    return r;
}

/* The plug-ins of the --config file, each in its own host process. */
static int start_plugins(server *srv)
{
    char why[512] = "";
    int r = rplugins_new(&srv->k.pg, &srv->k, srv->cfg.conf,
                         srv->cfg.pdir ? srv->cfg.pdir : "plugins", why, sizeof why);
    if (r) {
        core_log(&srv->k, "%s", why[0] ? why : banter_strerror(r));
        server_stop(srv, r);
        return r;
    }
    rplugins_start(srv->k.pg);
    return 0;
}

/* As many connections as the hard limit on open files allows. */
static void raise_nofile(const server *srv)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    core_log(&srv->k, "open file limit %llu: at most about that many connections",
             (unsigned long long)rl.rlim_cur);
}

/* After the loop was closed. */
static void server_free(server *srv)
{
    pwcheck_free(srv->k.pw);
    rl_free(srv->k.rl);
    mailbox_free(srv->k.mb);
    online_free(srv->k.on);
    ctl_free(srv->ctl);
    rplugins_free(srv->k.pg);
    orgrevoke_free(&srv->k);
    probes_free(srv->k.probes);
    conn_batch_pool_free(&srv->k);
    xlink_free(&srv->k);
    conn_pool_free(&srv->k);
    free(srv);
}

/* The server record and its subsystems; NULL (logged) on failure. */
static server *server_new(const server_config *cfg)
{
    server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return NULL;
    srv->cfg = *cfg;
    core *k = &srv->k;
    *k = (core){.loop = &srv->loop,
                .db = cfg->db,
                .id = cfg->id,
                .rng = cfg->rng,
                .log = cfg->log,
                .lim = cfg->lim,
                .pub = cfg->pub,
                .ice = cfg->ice,
                .icert = cfg->icert,
                .icert_len = cfg->icert_len,
                .rbuf = srv->rbuf,
                .rbuf_len = READ_BUF,
                .started_ms = core_wall_ms()};
    int r = uv_loop_init(&srv->loop);
    if (r) {
        core_log(k, "cannot start the event loop: %s", uv_strerror(r));
        free(srv);
        return NULL;
    }
    srv->loop.data = k; /* conn_core() */
    k->pw = pwcheck_new(&srv->loop, AUTH_PW_RUNNING, AUTH_PW_WAITING);
    k->rl = rl_new(RL_DEFAULT_CAP);
    k->on = online_new();
    k->probes = cfg->no_probe ? NULL : probes_new();
    k->mb = k->pw && k->rl && k->on && (k->probes || cfg->no_probe) && conn_pool_new(k) == 0
                ? mailbox_new(k)
                : NULL;
    if (!k->mb) {
        core_log(k, "out of memory");
        (void)uv_loop_close(&srv->loop);
        server_free(srv);
        return NULL;
    }
    (void)orgpolicy_load(k); /* logged; the configuration's rules apply then */
    (void)orgrevoke_load(k); /* logged; certificates expire within a day anyway */
    /* From here on the database is the database thread's. */
    if (dbq_new(&k->dbq, &srv->loop, k->db) != 0) {
        core_log(k, "cannot start the database thread");
        (void)uv_loop_close(&srv->loop);
        server_free(srv);
        return NULL;
    }
    return srv;
}

int server_run(const server_config *cfg)
{
    struct sockaddr_storage ss;
    char fp[IDENTITY_FP_LEN + 1];
    if (config_parse_listen(cfg->listen, &ss) != 0) {
        fprintf(cfg->log, SERVER_NAME ": cannot listen on \"%s\": not ADDR:PORT\n", cfg->listen);
        return BANTER_EINVAL;
    }
    server *srv = server_new(cfg);
    if (!srv)
        return BANTER_ENOMEM;
    /* A peer that vanishes must not kill the server through a write. */
    struct sigaction sa = {.sa_handler = SIG_IGN};
    sigaction(SIGPIPE, &sa, NULL);
    raise_nofile(srv);
    int ret = server_start(srv, &ss);
    if (ret == 0)
        ret = start_ctl(srv);
    if (ret == 0)
        ret = start_plugins(srv);
    if (ret == 0 && cfg->cluster_url)
        ret = xinst_start(&srv->k, cfg->cluster_url, cfg->cluster_id);
    if (ret == 0 && cfg->cluster_url && cfg->cluster_listen) {
        ret = xlink_start(&srv->k, cfg->cluster_listen, cfg->instance ? cfg->instance : cfg->id);
        if (ret)
            server_stop(srv, ret);
    }
    if (ret == 0) {
        identity_fingerprint(identity_public(cfg->id), fp);
        core_log(&srv->k, "listening on %s, fingerprint %s", srv->addr, fp);
        if (cfg->instance) {
            identity_fingerprint(identity_public(cfg->instance), fp);
            core_log(&srv->k, "an instance of that service: instance key fingerprint %s", fp);
        }
        char pub[DIR_PUBLIC_TEXT];
        dir_public_format(srv->k.pub, pub, sizeof pub);
        core_log(&srv->k, "directory: public fields: %s%s", pub[0] ? pub : "none",
                 srv->k.has_policy ? " (the organisation's policy)" : "");
        srv->last_stats = core_now(&srv->k);
    }
    uv_run(&srv->loop, UV_RUN_DEFAULT);
    if (ret == 0)
        ret = srv->err;
    if (uv_loop_close(&srv->loop) != 0) {
        /* A handle left open is a bug; leaking beats freeing it in use. */
        core_log(&srv->k, "bug: handles still open at exit");
        return ret ? ret : BANTER_ESTATE;
    }
    if (ret == 0)
        core_log(&srv->k, "stopped");
    server_free(srv);
    return ret;
}
