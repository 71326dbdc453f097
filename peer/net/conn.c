/* SPDX-License-Identifier: MIT */
/* conn.c - a Banter session over a transport (see conn.h). */
#include "net/conn.h"

#include <string.h>
#include <unistd.h>

#include "net/tcp.h"
#include "session.h"

struct conn {
    GMainContext *ctx;
    conn_callbacks cb;
    void *ud;
    void *data;
    session *s;
    transport *t;
    GSource *done_src, *drain_src;
    bool initiator, open, ready, blocked, was_established, corked;
    int err;
    int64_t created, last_rx, partial_since;
};

static int64_t mono_ms(void) { return g_get_monotonic_time() / 1000; }

static void drop_source(GSource **s)
{
    if (*s) {
        g_source_destroy(*s);
        g_source_unref(*s);
        *s = NULL;
    }
}

static void fire_closed(conn *c)
{
    if (c->cb.closed)
        c->cb.closed(c->ud, c, c->err);
    drop_source(&c->done_src);
    session_free(c->s);
    g_free(c);
}

static gboolean on_done(gpointer p)
{
    fire_closed(p);
    return G_SOURCE_REMOVE;
}

void conn_close(conn *c, int err, bool bye, const char *reason)
{
    if (!c->open)
        return;
    if (bye && c->ready && session_established(c->s)) {
        msg m = {.type = MSG_BYE};
        g_strlcpy(m.u.bye.reason, reason ? reason : "", sizeof m.u.bye.reason);
        size_t len;
        const uint8_t *p;
        if (session_send_msg(c->s, &m) == 0 && (p = session_out(c->s, &len)) != NULL) {
            ssize_t w = transport_write(c->t, p, len);
            (void)w; /* best effort: the peer also notices the close */
        }
    }
    c->open = false;
    c->err = err;
    drop_source(&c->drain_src);
    transport_free(c->t);
    c->t = NULL;
    c->done_src = g_idle_source_new();
    g_source_set_callback(c->done_src, on_done, c, NULL);
    g_source_attach(c->done_src, c->ctx);
}

static gboolean on_drained_idle(gpointer p)
{
    conn *c = p;
    drop_source(&c->drain_src);
    if (c->open && c->cb.drained && c->was_established)
        c->cb.drained(c->ud, c);
    return G_SOURCE_REMOVE;
}

/* Write what the session queued, as far as the transport takes it. When a
 * queue that had filled the transport empties, drained() is reported from
 * an idle callback: never lost, and never run inside conn_send, so a
 * drained handler that sends cannot recurse. */
static void flush(conn *c)
{
    size_t len;
    const uint8_t *p;
    if (!c->ready || c->corked)
        return;
    while (c->open && (p = session_out(c->s, &len)) != NULL) {
        ssize_t w = transport_write(c->t, p, len);
        if (w < 0) {
            conn_close(c, (int)w, false, NULL);
            return;
        }
        if (w == 0) {
            c->blocked = true;
            transport_want_write(c->t, true);
            return;
        }
        session_out_consume(c->s, (size_t)w);
    }
    if (!c->open)
        return;
    if (c->blocked && !c->drain_src) {
        c->drain_src = g_idle_source_new();
        g_source_set_callback(c->drain_src, on_drained_idle, c, NULL);
        g_source_attach(c->drain_src, c->ctx);
    }
    c->blocked = false;
}

/* ---- the transport's callbacks ---- */

static void t_ready(void *ud)
{
    conn *c = ud;
    c->ready = true;
    flush(c); /* an initiator's first handshake message */
}

static void t_data(void *ud, const uint8_t *in, size_t n)
{
    conn *c = ud;
    size_t off = 0;
    int64_t now = mono_ms();
    bool completed = false;
    while (c->open) {
        size_t used;
        session_event ev;
        int r = session_feed(c->s, in + off, n - off, &used, &ev);
        off += used;
        if (r < 0) {
            conn_close(c, r, false, NULL);
            return;
        }
        if (r == 0)
            break;
        c->last_rx = now;
        completed = true;
        if (ev.type == SESSION_EV_ESTABLISHED) {
            c->was_established = true;
            if (c->cb.established)
                c->cb.established(c->ud, c);
        } else if (c->cb.message) {
            c->cb.message(c->ud, c, ev.data, ev.len);
        }
    }
    if (!c->open)
        return;
    /* Bytes of a frame still incomplete: since when (see
     * conn_partial_since). A frame completed in this read: the incomplete
     * one began now (on a slow stream of frames, almost every read ends
     * inside one; the time is the current frame's, not the first's). */
    if (session_finish(c->s) == 0) {
        c->partial_since = 0;
    } else if (!c->partial_since || completed) {
        c->partial_since = now;
        if (c->cb.partial)
            c->cb.partial(c->ud, c);
        if (!c->open)
            return;
    }
    flush(c);
}

static void t_writable(void *ud) { flush(ud); }

static void t_closed(void *ud, int err)
{
    conn *c = ud;
    if (err == 0)
        err = session_finish(c->s); /* EOF in the middle of a frame */
    conn_close(c, err, false, NULL);
}

static const transport_callbacks conn_tcbs = {t_ready, t_data, t_writable, t_closed};

conn *conn_over(GMainContext *ctx, const identity *id, bool initiator, conn_transport_fn make,
                void *arg, const conn_callbacks *cb, void *ud, int *err)
{
    conn *c = g_new0(conn, 1);
    c->ctx = ctx;
    c->cb = *cb;
    c->ud = ud;
    c->open = true;
    c->initiator = initiator;
    c->created = c->last_rx = mono_ms();
    session_config sc = {.role = initiator ? NOISE_INITIATOR : NOISE_RESPONDER,
                         .id = id,
                         .rng = bcrypto_rng_system(),
                         .keep_buffers = true}; /* file data; conn_trim when quiet */
    *err = session_new(&c->s, &sc);
    if (*err == 0) {
        c->t = make(arg, &conn_tcbs, c, err);
        if (c->t)
            return c;
    }
    session_free(c->s);
    g_free(c);
    return NULL;
}

typedef struct dial_args {
    GMainContext *ctx;
    evloop *ev;
    const char *host;
    uint16_t port;
    int fd;
} dial_args;

static transport *make_dial(void *arg, const transport_callbacks *cb, void *ud, int *err)
{
    dial_args *a = arg;
    return tcp_dial(a->ctx, a->ev, a->host, a->port, cb, ud, err);
}

static transport *make_wrap(void *arg, const transport_callbacks *cb, void *ud, int *err)
{
    dial_args *a = arg;
    *err = 0;
    return tcp_wrap(a->ctx, a->ev, a->fd, cb, ud);
}

conn *conn_connect(GMainContext *ctx, evloop *ev, const identity *id, const char *host,
                   uint16_t port, const conn_callbacks *cb, void *ud, int *err)
{
    dial_args a = {ctx, ev, host, port, -1};
    return conn_over(ctx, id, true, make_dial, &a, cb, ud, err);
}

conn *conn_accept(GMainContext *ctx, evloop *ev, const identity *id, int fd,
                  const conn_callbacks *cb, void *ud, int *err)
{
    dial_args a = {ctx, ev, NULL, 0, fd};
    conn *c = conn_over(ctx, id, false, make_wrap, &a, cb, ud, err);
    if (!c && *err) /* session_new failed before the socket was handed over */
        close(fd);
    return c;
}

int conn_send(conn *c, const msg *m)
{
    if (!c->open)
        return BANTER_ESTATE;
    int r = session_send_msg(c->s, m);
    if (r == 0)
        flush(c);
    return r;
}

int conn_send_raw(conn *c, const uint8_t *pt, size_t len)
{
    if (!c->open)
        return BANTER_ESTATE;
    int r = session_send(c->s, pt, len);
    if (r == 0)
        flush(c);
    return r;
}

void conn_cork(conn *c, bool on)
{
    c->corked = on;
    if (!on && c->open)
        flush(c);
}

uint8_t *conn_take_plaintext(conn *c, uint8_t *spare, size_t spare_len, size_t *cap)
{
    return session_take_plaintext(c->s, spare, spare_len, cap);
}

bool conn_is_open(const conn *c) { return c->open; }
bool conn_established(const conn *c) { return c->open && session_established(c->s); }
bool conn_is_initiator(const conn *c) { return c->initiator; }
const uint8_t *conn_peer(const conn *c) { return session_peer(c->s); }
const char *conn_remote(const conn *c) { return c->t ? transport_remote(c->t) : "?"; }
const char *conn_kind(const conn *c) { return c->t ? transport_kind(c->t) : "?"; }
int64_t conn_last_rx(const conn *c) { return c->last_rx; }
int64_t conn_partial_since(const conn *c) { return c->partial_since; }
int64_t conn_created(const conn *c) { return c->created; }
void conn_set_data(conn *c, void *data) { c->data = data; }
void *conn_get_data(const conn *c) { return c->data; }

void conn_trim(conn *c)
{
    if (c->open)
        session_trim(c->s);
}

size_t conn_held(const conn *c) { return c->open ? session_held(c->s) : 0; }

void conn_set_rx_max(conn *c, size_t max)
{
    if (c->open)
        session_set_rx_max(c->s, max);
}

size_t conn_rate(const conn *c) { return c->open && c->t ? transport_rate(c->t) : 0; }

size_t conn_queued(const conn *c)
{
    size_t len;
    (void)session_out(c->s, &len);
    return len;
}
