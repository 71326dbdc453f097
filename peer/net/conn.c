/* SPDX-License-Identifier: MIT */
/* conn.c - a Banter session over a non-blocking TCP socket (see conn.h). */
#include "net/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "session.h"

#define READ_CHUNK 65536

struct conn {
    GMainContext *ctx;
    conn_callbacks cb;
    void *ud;
    void *data;
    session *s;
    int fd;
    GSource *rsrc, *wsrc, *done_src, *drain_src;
    bool connecting, initiator, open, was_established;
    int err;
    int64_t created, last_rx;
    char remote[64];
};

static void fire_closed(conn *c);

static gboolean on_done(gpointer p)
{
    conn *c = p;
    fire_closed(c);
    return G_SOURCE_REMOVE;
}

static void drop_source(GSource **s)
{
    if (*s) {
        g_source_destroy(*s);
        g_source_unref(*s);
        *s = NULL;
    }
}

void conn_close(conn *c, int err, bool bye, const char *reason)
{
    if (!c->open)
        return;
    if (bye && session_established(c->s)) {
        msg m = {.type = MSG_BYE};
        g_strlcpy(m.u.bye.reason, reason ? reason : "", sizeof m.u.bye.reason);
        if (session_send_msg(c->s, &m) == 0) {
            size_t len;
            const uint8_t *p = session_out(c->s, &len);
            if (p) {
                ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                (void)w; /* best effort: the peer also notices the close */
            }
        }
    }
    c->open = false;
    c->err = err;
    drop_source(&c->rsrc);
    drop_source(&c->wsrc);
    drop_source(&c->drain_src);
    if (c->fd >= 0) {
        shutdown(c->fd, SHUT_RDWR);
        close(c->fd);
        c->fd = -1;
    }
    c->done_src = g_idle_source_new();
    g_source_set_callback(c->done_src, on_done, c, NULL);
    g_source_attach(c->done_src, c->ctx);
}

static void fire_closed(conn *c)
{
    if (c->cb.closed)
        c->cb.closed(c->ud, c, c->err);
    drop_source(&c->done_src);
    session_free(c->s);
    g_free(c);
}

static gboolean on_writable(gint fd, GIOCondition cond, gpointer p);

static void want_write(conn *c, bool on)
{
    if (on && !c->wsrc) {
        c->wsrc = g_unix_fd_source_new(c->fd, G_IO_OUT);
        g_source_set_callback(c->wsrc, G_SOURCE_FUNC(on_writable), c, NULL);
        g_source_attach(c->wsrc, c->ctx);
    } else if (!on) {
        drop_source(&c->wsrc);
    }
}

static gboolean on_drained_idle(gpointer p)
{
    conn *c = p;
    drop_source(&c->drain_src);
    if (c->open && c->cb.drained && c->was_established)
        c->cb.drained(c->ud, c);
    return G_SOURCE_REMOVE;
}

/* Write what the session queued, as far as the socket takes it. When a
 * queue that had filled the socket empties, whatever path emptied it,
 * drained() is reported from an idle callback: never lost, and never run
 * inside conn_send, so a drained handler that sends cannot recurse. */
static void flush(conn *c)
{
    size_t len;
    const uint8_t *p;
    while (c->open && (p = session_out(c->s, &len)) != NULL) {
        ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            want_write(c, true);
            return;
        }
        if (w < 0) {
            conn_close(c, BANTER_EIO, false, NULL);
            return;
        }
        session_out_consume(c->s, (size_t)w);
    }
    if (!c->open)
        return;
    bool was_blocked = c->wsrc != NULL;
    want_write(c, false);
    if (was_blocked && !c->drain_src) {
        c->drain_src = g_idle_source_new();
        g_source_set_callback(c->drain_src, on_drained_idle, c, NULL);
        g_source_attach(c->drain_src, c->ctx);
    }
}

static void handle_event(conn *c, const session_event *ev)
{
    if (ev->type == SESSION_EV_ESTABLISHED) {
        c->was_established = true;
        if (c->cb.established)
            c->cb.established(c->ud, c);
    } else if (c->cb.message) {
        c->cb.message(c->ud, c, ev->data, ev->len);
    }
}

static gboolean on_readable(gint fd, GIOCondition cond, gpointer p)
{
    static uint8_t in[READ_CHUNK]; /* the main loop is single-threaded */
    conn *c = p;
    (void)cond;
    ssize_t n = recv(fd, in, sizeof in, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        int err = n < 0 ? BANTER_EIO : session_finish(c->s);
        conn_close(c, err, false, NULL);
        return G_SOURCE_CONTINUE; /* the source was destroyed by close */
    }
    c->last_rx = g_get_monotonic_time() / 1000;
    size_t off = 0;
    while (c->open) {
        size_t used;
        session_event ev;
        int r = session_feed(c->s, in + off, (size_t)n - off, &used, &ev);
        off += used;
        if (r < 0) {
            conn_close(c, r, false, NULL);
            break;
        }
        if (r == 0)
            break;
        handle_event(c, &ev);
    }
    if (c->open)
        flush(c);
    return G_SOURCE_CONTINUE;
}

static gboolean on_writable(gint fd, GIOCondition cond, gpointer p)
{
    conn *c = p;
    (void)cond;
    if (c->connecting) {
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
            conn_close(c, BANTER_EIO, false, NULL);
            return G_SOURCE_CONTINUE;
        }
        c->connecting = false;
        c->rsrc = g_unix_fd_source_new(c->fd, G_IO_IN);
        g_source_set_callback(c->rsrc, G_SOURCE_FUNC(on_readable), c, NULL);
        g_source_attach(c->rsrc, c->ctx);
    }
    flush(c);
    return G_SOURCE_CONTINUE;
}

static conn *conn_new(GMainContext *ctx, const identity *id, noise_role role,
                      const conn_callbacks *cb, void *ud, int *err)
{
    conn *c = g_new0(conn, 1);
    c->ctx = ctx;
    c->cb = *cb;
    c->ud = ud;
    c->fd = -1;
    c->open = true;
    c->initiator = role == NOISE_INITIATOR;
    c->created = c->last_rx = g_get_monotonic_time() / 1000;
    session_config sc = {.role = role, .id = id, .rng = bcrypto_rng_system()};
    *err = session_new(&c->s, &sc);
    if (*err) {
        g_free(c);
        return NULL;
    }
    return c;
}

static void set_sockopts(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static void format_addr(const struct sockaddr *sa, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        snprintf(out, cap, "%s:%u", host, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
        snprintf(out, cap, "[%s]:%u", host, port);
    } else {
        snprintf(out, cap, "?");
    }
}

conn *conn_connect(GMainContext *ctx, const identity *id, const char *host, uint16_t port,
                   const conn_callbacks *cb, void *ud, int *err)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char service[8];
    snprintf(service, sizeof service, "%u", port);
    if (getaddrinfo(host, service, &hints, &ai) != 0 || !ai) {
        *err = BANTER_EINVAL;
        return NULL;
    }
    conn *c = conn_new(ctx, id, NOISE_INITIATOR, cb, ud, err);
    if (!c) {
        freeaddrinfo(ai);
        return NULL;
    }
    format_addr(ai->ai_addr, c->remote, sizeof c->remote);
    c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || (connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)) {
        freeaddrinfo(ai);
        if (c->fd >= 0)
            close(c->fd);
        session_free(c->s);
        g_free(c);
        *err = BANTER_EIO;
        return NULL;
    }
    freeaddrinfo(ai);
    set_sockopts(c->fd);
    c->connecting = true;
    want_write(c, true); /* connect completes when writable */
    *err = 0;
    return c;
}

conn *conn_accept(GMainContext *ctx, const identity *id, int fd, const conn_callbacks *cb, void *ud,
                  int *err)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    conn *c = conn_new(ctx, id, NOISE_RESPONDER, cb, ud, err);
    if (!c) {
        close(fd);
        return NULL;
    }
    c->fd = fd;
    set_sockopts(fd);
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        format_addr((struct sockaddr *)&ss, c->remote, sizeof c->remote);
    c->rsrc = g_unix_fd_source_new(c->fd, G_IO_IN);
    g_source_set_callback(c->rsrc, G_SOURCE_FUNC(on_readable), c, NULL);
    g_source_attach(c->rsrc, c->ctx);
    *err = 0;
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

bool conn_is_open(const conn *c) { return c->open; }
bool conn_established(const conn *c) { return c->open && session_established(c->s); }
bool conn_is_initiator(const conn *c) { return c->initiator; }
const uint8_t *conn_peer(const conn *c) { return session_peer(c->s); }
const char *conn_remote(const conn *c) { return c->remote; }
int64_t conn_last_rx(const conn *c) { return c->last_rx; }
int64_t conn_created(const conn *c) { return c->created; }
void conn_set_data(conn *c, void *data) { c->data = data; }
void *conn_get_data(const conn *c) { return c->data; }

size_t conn_queued(const conn *c)
{
    size_t len;
    (void)session_out(c->s, &len);
    return len;
}
