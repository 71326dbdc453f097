/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* accept4 */
/* tcp.c - TCP as a transport, and a listener with back-off (see tcp.h). */
#include "net/tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/evloop.h"

/* One read takes up to four of a file's 64 KiB frames: a quarter of the
 * reads (and main loop wakeups) of 64 KiB ones, and a frame split between
 * two reads (copied into the session's frame decoder) once per four. */
#define READ_CHUNK      (256 * 1024)
#define ACCEPT_BURST    64
#define ACCEPT_BACKOFF0 100
#define ACCEPT_BACKOFF1 5000

typedef struct tcp {
    transport t; /* first: a tcp is a transport */
    GMainContext *ctx;
    evloop *ev; /* NULL: plain fd sources on ctx */
    int fd;
    uint16_t port;
    bool connecting, paused, want_w, dead, freed;
    bool busy, gone; /* in its event callback; freed there, to free after it */
    ev_watch *w;     /* the socket's watch, while it has one */
    GSource *idle;
    GResolver *resolver;
    GCancellable *cancel;
    int err; /* for the closed() an idle source reports */
    enum { IDLE_NONE, IDLE_READY, IDLE_CLOSED } idle_what;
    char remote[64];
} tcp;

static void drop_source(GSource **s)
{
    if (*s) {
        g_source_destroy(*s);
        g_source_unref(*s);
        *s = NULL;
    }
}

void tcp_format_addr(const void *sockaddr, char *out, size_t cap)
{
    const struct sockaddr *sa = sockaddr;
    char host[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = sockaddr;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(out, cap, "%s:%u", host, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = sockaddr;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(out, cap, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else {
        snprintf(out, cap, "?");
    }
}

/* ---- callbacks from the loop ---- */

static gboolean on_idle(gpointer p)
{
    tcp *c = p;
    int what = c->idle_what;
    drop_source(&c->idle);
    c->idle_what = IDLE_NONE;
    if (what == IDLE_READY && !c->dead && c->t.cb.ready)
        c->t.cb.ready(c->t.ud);
    else if (what == IDLE_CLOSED && c->t.cb.closed)
        c->t.cb.closed(c->t.ud, c->err);
    return G_SOURCE_REMOVE;
}

static void later(tcp *c, int what)
{
    drop_source(&c->idle);
    c->idle_what = what;
    c->idle = g_idle_source_new();
    g_source_set_callback(c->idle, on_idle, c, NULL);
    g_source_attach(c->idle, c->ctx);
}

/* The stream ended: stop I/O now; closed() runs from the loop. */
static void die(tcp *c, int err)
{
    if (c->dead)
        return;
    c->dead = true;
    c->err = err;
    evloop_del(c->w);
    c->w = NULL;
    later(c, IDLE_CLOSED);
}

static bool reading(const tcp *c) { return !c->dead && !c->connecting && !c->paused && c->fd >= 0; }

static bool writing(const tcp *c) { return !c->dead && c->fd >= 0 && (c->connecting || c->want_w); }

static void on_events(void *p, int fd, uint32_t events);

/* Make the socket's watch ask for what the state needs. The watch is made
 * with the socket and kept until it dies: asking for nothing costs no
 * GLib source (see net/evloop.h). */
static void update(tcp *c)
{
    if (c->dead || c->fd < 0)
        return;
    uint32_t want = (reading(c) ? EVLOOP_IN : 0) | (writing(c) ? EVLOOP_OUT : 0);
    if (!c->w) {
        c->w = evloop_add(c->ev, c->ctx, c->fd, want | EVLOOP_BUSY, on_events, c);
        if (!c->w)
            die(c, BANTER_EIO);
    } else if (evloop_mod(c->w, want) != 0) {
        die(c, BANTER_EIO);
    }
}

static void on_readable(tcp *c)
{
    static uint8_t in[READ_CHUNK]; /* one main loop, one thread */
    ssize_t n = recv(c->fd, in, sizeof in, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        die(c, n < 0 ? BANTER_EIO : 0);
        return;
    }
    if (c->t.cb.data)
        c->t.cb.data(c->t.ud, in, (size_t)n);
}

static void on_writable(tcp *c)
{
    if (c->connecting) {
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
            die(c, BANTER_EIO);
            return;
        }
        c->connecting = false;
        update(c);
        if (c->t.cb.ready)
            c->t.cb.ready(c->t.ud);
        return;
    }
    c->want_w = false; /* one writable() per want_write(true) */
    update(c);
    if (c->t.cb.writable)
        c->t.cb.writable(c->t.ud);
}

static void tcp_release(tcp *c);

/* One callback for both directions (epoll has one registration per
 * descriptor). Writable first: a connect completes before reading. Either
 * callback may free the transport (the owner closing its conn): that is
 * done here once both are over. */
static void on_events(void *p, int fd, uint32_t events)
{
    tcp *c = p;
    const uint32_t fault = EVLOOP_HUP | EVLOOP_ERR;
    (void)fd;
    c->busy = true;
    if ((events & (EVLOOP_OUT | fault)) && writing(c))
        on_writable(c);
    if (!c->gone && (events & (EVLOOP_IN | fault)) && reading(c))
        on_readable(c);
    c->busy = false;
    if (c->gone)
        tcp_release(c);
}

/* ---- ops ---- */

static ssize_t tcp_write(transport *t, const uint8_t *p, size_t len)
{
    tcp *c = (tcp *)t;
    if (c->dead || c->connecting)
        return c->dead ? BANTER_EIO : 0;
    for (;;) {
        ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w >= 0)
            return w;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        die(c, BANTER_EIO);
        return BANTER_EIO;
    }
}

static void tcp_want_write(transport *t, bool on)
{
    tcp *c = (tcp *)t;
    c->want_w = on;
    update(c);
}

static void tcp_pause(transport *t, bool paused)
{
    tcp *c = (tcp *)t;
    c->paused = paused;
    update(c);
}

static const char *tcp_remote(const transport *t) { return ((const tcp *)t)->remote; }

static void tcp_release(tcp *c)
{
    if (c->resolver)
        g_object_unref(c->resolver);
    g_free(c);
}

static void tcp_free(transport *t)
{
    tcp *c = (tcp *)t;
    evloop_del(c->w);
    c->w = NULL;
    drop_source(&c->idle);
    if (c->cancel) { /* a resolution in flight: its callback frees c */
        g_cancellable_cancel(c->cancel);
        c->freed = true;
        c->dead = true;
        return;
    }
    if (c->fd >= 0) {
        shutdown(c->fd, SHUT_RDWR);
        close(c->fd);
        c->fd = -1;
    }
    c->dead = true;
    if (c->busy) /* inside on_events: it frees c when it returns */
        c->gone = true;
    else
        tcp_release(c);
}

static const transport_ops tcp_ops = {
    .kind = "tcp",
    .write = tcp_write,
    .want_write = tcp_want_write,
    .pause = tcp_pause,
    .remote = tcp_remote,
    .free = tcp_free,
};

static tcp *tcp_new(GMainContext *ctx, evloop *ev, const transport_callbacks *cb, void *ud)
{
    tcp *c = g_new0(tcp, 1);
    c->t.ops = &tcp_ops;
    c->t.cb = *cb;
    c->t.ud = ud;
    c->ctx = ev ? evloop_context(ev) : ctx;
    c->ev = ev;
    c->fd = -1;
    return c;
}

static void set_sockopts(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* Connect to one numeric address; failures end the stream. */
static void start_connect(tcp *c, const struct sockaddr *sa, socklen_t len)
{
    tcp_format_addr(sa, c->remote, sizeof c->remote);
    c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || (connect(c->fd, sa, len) != 0 && errno != EINPROGRESS)) {
        die(c, BANTER_EIO);
        return;
    }
    set_sockopts(c->fd);
    c->connecting = true;
    update(c); /* the connect completes when writable */
}

static void on_resolved(GObject *src, GAsyncResult *res, gpointer p)
{
    tcp *c = p;
    GError *e = NULL;
    GList *addrs = g_resolver_lookup_by_name_finish(G_RESOLVER(src), res, &e);
    g_clear_object(&c->cancel);
    if (c->freed) {
        g_resolver_free_addresses(addrs);
        g_clear_error(&e);
        c->cancel = NULL;
        tcp_free(&c->t);
        return;
    }
    if (!addrs) {
        g_clear_error(&e);
        die(c, BANTER_ENOENT);
        return;
    }
    GInetSocketAddress *isa =
        G_INET_SOCKET_ADDRESS(g_inet_socket_address_new(G_INET_ADDRESS(addrs->data), c->port));
    struct sockaddr_storage ss;
    gssize len = g_socket_address_get_native_size(G_SOCKET_ADDRESS(isa));
    if (len > 0 && g_socket_address_to_native(G_SOCKET_ADDRESS(isa), &ss, sizeof ss, NULL))
        start_connect(c, (struct sockaddr *)&ss, (socklen_t)len);
    else
        die(c, BANTER_EINVAL);
    g_object_unref(isa);
    g_resolver_free_addresses(addrs);
}

transport *tcp_dial(GMainContext *ctx, evloop *ev, const char *host, uint16_t port,
                    const transport_callbacks *cb, void *ud, int *err)
{
    if (!host[0] || port == 0) {
        *err = BANTER_EINVAL;
        return NULL;
    }
    tcp *c = tcp_new(ctx, ev, cb, ud);
    c->port = port;
    struct sockaddr_in in4 = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    *err = 0;
    if (inet_pton(AF_INET, host, &in4.sin_addr) == 1) {
        start_connect(c, (struct sockaddr *)&in4, sizeof in4);
    } else if (inet_pton(AF_INET6, host, &in6.sin6_addr) == 1) {
        start_connect(c, (struct sockaddr *)&in6, sizeof in6);
    } else {
        /* A name: resolved off the loop by GResolver's own thread. */
        snprintf(c->remote, sizeof c->remote, "%.50s:%u", host, port);
        c->resolver = g_resolver_get_default();
        c->cancel = g_cancellable_new();
        g_main_context_push_thread_default(c->ctx);
        g_resolver_lookup_by_name_async(c->resolver, host, c->cancel, on_resolved, c);
        g_main_context_pop_thread_default(c->ctx);
    }
    return &c->t;
}

transport *tcp_wrap(GMainContext *ctx, evloop *ev, int fd, const transport_callbacks *cb, void *ud)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    tcp *c = tcp_new(ctx, ev, cb, ud);
    c->fd = fd;
    set_sockopts(fd);
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        tcp_format_addr(&ss, c->remote, sizeof c->remote);
    else
        g_strlcpy(c->remote, "?", sizeof c->remote);
    update(c);
    if (!c->dead) /* else closed() is on its way */
        later(c, IDLE_READY);
    return &c->t;
}

/* ---- listener ---- */

struct tcp_listener {
    GMainContext *ctx;
    int fd;
    uint16_t port;
    ev_watch *w;
    GSource *retry;
    unsigned backoff;
    bool paused, said;
    tcp_accept_fn fn;
    tcp_log_fn log;
    void *ud;
};

static bool accepting(const tcp_listener *l) { return !l->paused && !l->retry; }

static void back_off(tcp_listener *l, int e);

static void listener_watch(tcp_listener *l)
{
    if (evloop_mod(l->w, accepting(l) ? EVLOOP_IN : 0) != 0)
        back_off(l, errno);
}

static gboolean on_retry(gpointer v)
{
    tcp_listener *l = v;
    drop_source(&l->retry);
    listener_watch(l);
    return G_SOURCE_REMOVE;
}

/* accept() failed with EMFILE, ENFILE, ENOBUFS...: the socket stays
 * readable, so watching it now would spin. Wait, then try again. */
static void back_off(tcp_listener *l, int e)
{
    if (l->retry)
        return;
    l->backoff = l->backoff ? MIN(l->backoff * 2, ACCEPT_BACKOFF1) : ACCEPT_BACKOFF0;
    l->retry = g_timeout_source_new(l->backoff);
    g_source_set_callback(l->retry, on_retry, l, NULL);
    g_source_attach(l->retry, l->ctx);
    evloop_mod(l->w, 0);
    if (!l->said && l->log) {
        char text[200];
        snprintf(text, sizeof text,
                 "cannot accept connections on port %u: %s; new connections wait "
                 "until descriptors are free again",
                 l->port, g_strerror(e));
        l->log(l->ud, text);
    }
    l->said = true;
}

static void on_accept(void *v, int fd, uint32_t events)
{
    tcp_listener *l = v;
    (void)events;
    for (int i = 0; i < ACCEPT_BURST && accepting(l); i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0 &&
            (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED))
            break;
        if (cfd < 0) {
            back_off(l, errno);
            return;
        }
        if (l->said && l->log) {
            char text[100];
            snprintf(text, sizeof text, "accepting connections on port %u again", l->port);
            l->log(l->ud, text);
        }
        l->said = false;
        l->backoff = 0;
        char addr[64];
        tcp_format_addr(&ss, addr, sizeof addr);
        l->fn(l->ud, cfd, addr);
    }
}

int tcp_listen(tcp_listener **out, GMainContext *ctx, evloop *ev, uint16_t port, tcp_accept_fn fn,
               tcp_log_fn log, void *ud)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    int one = 1;
    *out = NULL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return BANTER_EIO;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t sl = sizeof sa;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 512) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return BANTER_EIO;
    }
    tcp_listener *l = g_new0(tcp_listener, 1);
    l->ctx = ev ? evloop_context(ev) : ctx;
    l->fd = fd;
    l->port = ntohs(sa.sin_port);
    l->fn = fn;
    l->log = log;
    l->ud = ud;
    l->w = evloop_add(ev, ctx, fd, EVLOOP_IN, on_accept, l);
    if (!l->w) {
        int e = errno;
        close(fd);
        g_free(l);
        errno = e;
        return BANTER_EIO;
    }
    *out = l;
    return 0;
}

uint16_t tcp_listener_port(const tcp_listener *l) { return l->port; }

void tcp_listener_pause(tcp_listener *l, bool paused)
{
    l->paused = paused;
    listener_watch(l);
}

void tcp_listener_free(tcp_listener *l)
{
    if (!l)
        return;
    evloop_del(l->w); /* before the close */
    drop_source(&l->retry);
    close(l->fd);
    g_free(l);
}
