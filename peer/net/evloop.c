/* SPDX-License-Identifier: MIT */
/* evloop.c - sockets watched through one epoll descriptor on the GLib loop (evloop.h). */
#include "net/evloop.h"

#include <errno.h>
#include <glib-unix.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* The loop is a GSource; watches hold a reference to it, so its memory
 * (and the epoll descriptor) lives until the last one is deleted. */
struct evloop {
    GSource src; /* first: an evloop is a GSource */
    int epfd;
    gpointer eptag; /* epfd's tag in the source */
    unsigned depth; /* dispatches under way (a callback may iterate the loop) */
    unsigned count;
    ev_watch *direct[EVLOOP_DIRECT]; /* EVLOOP_BUSY watches polled by the loop itself */
    ev_watch *dead;                  /* deleted during a dispatch: freed when it is over */
};

struct ev_watch {
    evloop *ev; /* NULL: a plain fd source */
    GMainContext *ctx;
    GSource *src; /* the plain fd source, while it asks for something */
    int fd;
    int slot;     /* in ev->direct, or -1: through epoll */
    gpointer tag; /* a direct watch's fd in ev's source, while it asks for something */
    uint32_t want;
    bool in_set; /* in the epoll set */
    bool dead;
    bool timer; /* fd is its timerfd: read before fn, closed by evloop_del */
    ev_fn fn;
    void *ud;
    ev_watch *next; /* in ev->dead */
};

static uint32_t from_epoll(uint32_t e)
{
    return ((e & EPOLLIN) ? EVLOOP_IN : 0) | ((e & EPOLLOUT) ? EVLOOP_OUT : 0) |
           ((e & (EPOLLHUP | EPOLLRDHUP)) ? EVLOOP_HUP : 0) | ((e & EPOLLERR) ? EVLOOP_ERR : 0);
}

static uint32_t to_epoll(uint32_t e)
{
    return ((e & EVLOOP_IN) ? (uint32_t)EPOLLIN : 0) | ((e & EVLOOP_OUT) ? (uint32_t)EPOLLOUT : 0);
}

static uint32_t from_cond(GIOCondition c)
{
    return ((c & G_IO_IN) ? EVLOOP_IN : 0) | ((c & G_IO_OUT) ? EVLOOP_OUT : 0) |
           ((c & G_IO_HUP) ? EVLOOP_HUP : 0) | ((c & (G_IO_ERR | G_IO_NVAL)) ? EVLOOP_ERR : 0);
}

static GIOCondition to_cond(uint32_t e)
{
    return (GIOCondition)(((e & EVLOOP_IN) ? G_IO_IN : 0) | ((e & EVLOOP_OUT) ? G_IO_OUT : 0));
}

static void watch_free(ev_watch *w)
{
    if (w->ev)
        g_source_unref(&w->ev->src);
    g_free(w);
}

/* Run w's callback for got (w's events already masked in). */
static void call(ev_watch *w, uint32_t got)
{
    if (w->timer) {
        uint64_t n;
        if (read(w->fd, &n, sizeof n) != (ssize_t)sizeof n)
            return; /* EAGAIN: not expired after all (set again meanwhile) */
    }
    w->fn(w->ud, w->fd, got); /* may free w */
}

/* Free what was deleted during the dispatch that just ended. */
static void bury(evloop *ev)
{
    while (ev->dead) {
        ev_watch *w = ev->dead;
        ev->dead = w->next;
        watch_free(w); /* may drop the last reference but ours: GLib holds one */
    }
}

/* The direct watches: what GLib's poll() found, no system call. */
static void dispatch_direct(evloop *ev)
{
    ev_watch *snap[EVLOOP_DIRECT];
    unsigned n = 0;
    for (unsigned i = 0; i < EVLOOP_DIRECT; i++)
        if (ev->direct[i] && ev->direct[i]->tag)
            snap[n++] = ev->direct[i];
    for (unsigned i = 0; i < n && !g_source_is_destroyed(&ev->src); i++) {
        ev_watch *w = snap[i];
        if (w->dead || !w->tag) /* deleted, or asks for nothing, since */
            continue;
        uint32_t got = from_cond(g_source_query_unix_fd(&ev->src, w->tag));
        got &= w->want | EVLOOP_HUP | EVLOOP_ERR;
        if (got)
            call(w, got);
    }
}

/* The epoll set: one epoll_wait, only when poll() found epfd readable. */
static void dispatch_epoll(evloop *ev)
{
    struct epoll_event evs[EVLOOP_BATCH];
    if (!g_source_query_unix_fd(&ev->src, ev->eptag))
        return;
    int n = epoll_wait(ev->epfd, evs, EVLOOP_BATCH, 0);
    for (int i = 0; i < n && !g_source_is_destroyed(&ev->src); i++) {
        ev_watch *w = evs[i].data.ptr;
        if (w->dead)
            continue; /* deleted by an earlier callback of this batch */
        uint32_t got = from_epoll(evs[i].events) & (w->want | EVLOOP_HUP | EVLOOP_ERR);
        if (got && w->want) /* else asks for something else since */
            call(w, got);
    }
}

static gboolean ev_dispatch(GSource *s, GSourceFunc cb, gpointer ud)
{
    evloop *ev = (evloop *)s;
    (void)cb;
    (void)ud;
    ev->depth++;
    dispatch_direct(ev);
    dispatch_epoll(ev);
    if (--ev->depth == 0)
        bury(ev);
    return G_SOURCE_CONTINUE;
}

static void ev_finalize(GSource *s)
{
    evloop *ev = (evloop *)s;
    if (ev->epfd >= 0)
        close(ev->epfd);
    ev->epfd = -1;
}

static GSourceFuncs ev_funcs = {
    .prepare = NULL, /* with check NULL too: dispatched when the epoll fd is readable */
    .check = NULL,
    .dispatch = ev_dispatch,
    .finalize = ev_finalize,
};

int evloop_new(evloop **out, GMainContext *ctx)
{
    *out = NULL;
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return BANTER_EIO;
    evloop *ev = (evloop *)g_source_new(&ev_funcs, sizeof(evloop));
    ev->epfd = epfd;
    g_source_set_name(&ev->src, "evloop");
    /* Nothing runs the loop from inside a callback today; allowing
     * recursion spares GLib blocking and unblocking the source around each
     * dispatch (two wake-ups of the loop, see tcp.c's fd_source). */
    g_source_set_can_recurse(&ev->src, TRUE);
    ev->eptag = g_source_add_unix_fd(&ev->src, epfd, G_IO_IN);
    g_source_attach(&ev->src, ctx);
    *out = ev;
    return 0;
}

void evloop_free(evloop *ev)
{
    if (!ev)
        return;
    g_source_destroy(&ev->src);
    g_source_unref(&ev->src);
}

GMainContext *evloop_context(const evloop *ev) { return g_source_get_context((GSource *)&ev->src); }

unsigned evloop_count(const evloop *ev) { return ev->count; }

/* ---- without an evloop: a plain fd source ---- */

static gboolean on_plain(gint fd, GIOCondition cond, gpointer p)
{
    ev_watch *w = p;
    uint32_t got = from_cond(cond) & (w->want | EVLOOP_HUP | EVLOOP_ERR);
    (void)fd;
    if (got)
        call(w, got); /* may free w: not touched after */
    return G_SOURCE_CONTINUE;
}

static void plain_sync(ev_watch *w, uint32_t events)
{
    if (w->src) {
        g_source_destroy(w->src);
        g_source_unref(w->src);
        w->src = NULL;
    }
    w->want = events;
    if (!events)
        return;
    w->src = g_unix_fd_source_new(w->fd, to_cond(events));
    g_source_set_can_recurse(w->src, TRUE); /* as above */
    g_source_set_callback(w->src, G_SOURCE_FUNC(on_plain), w, NULL);
    g_source_attach(w->src, w->ctx);
}

/* ---- watches ---- */

/* A direct watch: its fd in ev's source, polled by GLib's poll() itself.
 * Asking for nothing takes it out (a hang-up would still be reported). */
static void direct_sync(ev_watch *w, uint32_t events)
{
    GSource *s = &w->ev->src;
    w->want = events;
    if (g_source_is_destroyed(s)) { /* its fds go with the source */
        w->tag = NULL;
        return;
    }
    if (!events) {
        if (w->tag)
            g_source_remove_unix_fd(s, w->tag);
        w->tag = NULL;
    } else if (w->tag) {
        g_source_modify_unix_fd(s, w->tag, to_cond(events));
    } else {
        w->tag = g_source_add_unix_fd(s, w->fd, to_cond(events));
    }
}

/* A watch through epoll: in the set while it asks for something (in it
 * with no events, a hang-up would still be reported). */
static int epoll_sync(ev_watch *w, uint32_t events)
{
    struct epoll_event e = {.events = to_epoll(events), .data.ptr = w};
    int r = 0;
    if (!events) {
        if (w->in_set) /* EBADF or ENOENT: not in the set anyway */
            (void)epoll_ctl(w->ev->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    } else {
        r = epoll_ctl(w->ev->epfd, w->in_set ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, w->fd, &e);
    }
    if (r != 0) {
        int err = errno;
        if (w->in_set)
            (void)epoll_ctl(w->ev->epfd, EPOLL_CTL_DEL, w->fd, NULL);
        w->in_set = false;
        w->want = 0;
        errno = err;
        return BANTER_EIO;
    }
    w->in_set = events != 0;
    w->want = events;
    return 0;
}

static int free_slot(const evloop *ev)
{
    for (int i = 0; i < EVLOOP_DIRECT; i++)
        if (!ev->direct[i])
            return i;
    return -1;
}

ev_watch *evloop_add(evloop *ev, GMainContext *ctx, int fd, uint32_t events, ev_fn fn, void *ud)
{
    ev_watch *w = g_new0(ev_watch, 1);
    w->fd = fd;
    w->fn = fn;
    w->ud = ud;
    w->slot = -1;
    if (!ev) {
        w->ctx = ctx;
        plain_sync(w, events & (EVLOOP_IN | EVLOOP_OUT));
        return w;
    }
    w->ev = ev;
    g_source_ref(&ev->src);
    ev->count++;
    if ((events & EVLOOP_BUSY) && (w->slot = free_slot(ev)) >= 0) {
        ev->direct[w->slot] = w;
        direct_sync(w, events & (EVLOOP_IN | EVLOOP_OUT));
        return w;
    }
    /* Added once even when asking for nothing: EEXIST says the descriptor
     * has a watch already. */
    struct epoll_event e = {.events = 0, .data.ptr = w};
    if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, fd, &e) != 0 ||
        epoll_ctl(ev->epfd, EPOLL_CTL_DEL, fd, NULL) != 0 ||
        epoll_sync(w, events & (EVLOOP_IN | EVLOOP_OUT)) != 0) {
        int err = errno;
        ev->count--;
        watch_free(w);
        errno = err;
        return NULL;
    }
    return w;
}

int evloop_mod(ev_watch *w, uint32_t events)
{
    events &= EVLOOP_IN | EVLOOP_OUT;
    if (w->dead || events == w->want)
        return 0;
    if (!w->ev)
        plain_sync(w, events);
    else if (w->slot >= 0)
        direct_sync(w, events);
    else
        return epoll_sync(w, events);
    return 0;
}

uint32_t evloop_events(const ev_watch *w) { return w->want; }

void evloop_del(ev_watch *w)
{
    if (!w || w->dead)
        return;
    if (!w->ev) {
        plain_sync(w, 0);
        if (w->timer)
            close(w->fd);
        g_free(w);
        return;
    }
    evloop *ev = w->ev;
    if (w->slot >= 0) {
        direct_sync(w, 0);
        ev->direct[w->slot] = NULL;
    } else {
        (void)epoll_sync(w, 0);
    }
    w->dead = true;
    ev->count--;
    if (w->timer)
        close(w->fd);
    if (ev->depth) { /* a batch being dispatched may still name w */
        w->next = ev->dead;
        ev->dead = w;
        return;
    }
    watch_free(w);
}

ev_watch *evloop_timer(evloop *ev, GMainContext *ctx, ev_fn fn, void *ud)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0)
        return NULL;
    ev_watch *w = evloop_add(ev, ctx, fd, 0, fn, ud);
    if (!w) {
        int e = errno;
        close(fd);
        errno = e;
        return NULL;
    }
    w->timer = true;
    return w;
}

int evloop_timer_set(ev_watch *w, unsigned ms)
{
    struct itimerspec its = {0};
    its.it_interval.tv_sec = ms / 1000;
    its.it_interval.tv_nsec = (long)(ms % 1000) * 1000000L;
    its.it_value = its.it_interval;
    if (timerfd_settime(w->fd, 0, &its, NULL) != 0 || evloop_mod(w, ms ? EVLOOP_IN : 0) != 0) {
        int e = errno;
        struct itimerspec off = {0};
        (void)timerfd_settime(w->fd, 0, &off, NULL);
        evloop_mod(w, 0);
        errno = e;
        return BANTER_EIO;
    }
    return 0;
}
