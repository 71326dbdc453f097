/* SPDX-License-Identifier: MIT */
/* evloop.c - sockets watched through one epoll descriptor on the GLib loop (evloop.h). */
#include "net/evloop.h"

#include <errno.h>
#include <glib-unix.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define MAX_LOOPS 8 /* evloops with the poll hook at once (one per context) */

/* The loop is a GSource; watches hold a reference to it, so its memory
 * (and the epoll descriptor) lives until the last one is deleted. */
struct evloop {
    GSource src; /* first: an evloop is a GSource */
    GMainContext *ctx;
    int epfd;
    gpointer eptag; /* epfd's tag in the source */
    unsigned depth; /* dispatches under way (a callback may iterate the loop) */
    unsigned count;
    unsigned ntagged; /* busy watches in the source's fds now */
    bool fast;        /* busy watches through epoll, and the poll hook may wait in it */
    bool want_fast;   /* what the poll hook last found possible */
    bool hooked;      /* the poll hook is installed on ctx */
    int wake_fd;      /* GLib's wake-up descriptor, in the epoll set, or -1 */
    int nstash;       /* events the poll hook took, for the next dispatch */
    ev_watch *direct[EVLOOP_DIRECT]; /* EVLOOP_BUSY watches */
    ev_watch *dead;                  /* deleted while events may name them: freed later */
    struct epoll_event stash[EVLOOP_BATCH];
};

struct ev_watch {
    evloop *ev; /* NULL: a plain fd source */
    GMainContext *ctx;
    GSource *src; /* the plain fd source, while it asks for something */
    int fd;
    int slot;     /* in ev->direct, or -1 */
    gpointer tag; /* a busy watch's fd in ev's source (slow mode), while it asks for something */
    uint32_t want;
    bool in_set; /* in the epoll set */
    bool dead;
    bool timer; /* fd is its timerfd: read before fn, closed by evloop_del */
    ev_fn fn;
    void *ud;
    ev_watch *next; /* in ev->dead */
};

/*
 * GLib's poll hook (g_main_context_set_poll_func) takes no user data, so
 * the hook finds its evloop here, by the epoll descriptor in the array it
 * is given. Written on the loop's thread by evloop_new and evloop_free,
 * read by the hook of any context: atomic pointers.
 */
static evloop *loops[MAX_LOOPS];
static char wake_mark; /* epoll data of the wake-up descriptor */

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

/* Free what was deleted while events could still name it. */
static void bury(evloop *ev)
{
    while (ev->dead) {
        ev_watch *w = ev->dead;
        ev->dead = w->next;
        watch_free(w); /* may drop the last reference but ours: GLib holds one */
    }
}

/* ---- a watch's registration: epoll, or the source's own fds ---- */

/* In ev's source as one of its fds, polled by GLib's poll() itself.
 * Asking for nothing takes it out (a hang-up would still be reported). */
static void direct_sync(ev_watch *w, uint32_t events)
{
    GSource *s = &w->ev->src;
    bool had = w->tag != NULL;
    w->want = events;
    if (g_source_is_destroyed(s)) { /* its fds go with the source */
        w->tag = NULL;
    } else if (!events) {
        if (w->tag)
            g_source_remove_unix_fd(s, w->tag);
        w->tag = NULL;
    } else if (w->tag) {
        g_source_modify_unix_fd(s, w->tag, to_cond(events));
    } else {
        w->tag = g_source_add_unix_fd(s, w->fd, to_cond(events));
    }
    w->ev->ntagged = w->ev->ntagged + (w->tag != NULL) - had;
}

/* In the epoll set while it asks for something (in it with no events, a
 * hang-up would still be reported). */
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

/* Through epoll unless it is a busy watch in slow mode (or was left in
 * the source when epoll refused it). */
static bool direct_now(const ev_watch *w) { return w->slot >= 0 && (!w->ev->fast || w->tag); }

static int sync_events(ev_watch *w, uint32_t events)
{
    if (direct_now(w)) {
        direct_sync(w, events);
        return 0;
    }
    return epoll_sync(w, events);
}

/* Move the busy watches to epoll (fast) or to the source's fds (slow). */
static void set_fast(evloop *ev, bool fast)
{
    ev->fast = fast;
    for (int i = 0; i < EVLOOP_DIRECT; i++) {
        ev_watch *w = ev->direct[i];
        if (!w)
            continue;
        uint32_t want = w->want;
        if (fast && w->tag) {
            direct_sync(w, 0);
            if (epoll_sync(w, want) != 0) /* ENOMEM: stays in the source */
                direct_sync(w, want);
        } else if (!fast && w->in_set) {
            (void)epoll_sync(w, 0);
            direct_sync(w, want);
        }
    }
}

/* ---- dispatch ---- */

/* The busy watches in the source's fds: what GLib's poll() found, no
 * system call. */
static void dispatch_direct(evloop *ev)
{
    ev_watch *snap[EVLOOP_DIRECT] = {0};
    unsigned n = 0;
    if (!ev->ntagged)
        return;
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

/* The epoll set: what the poll hook took already, else one epoll_wait,
 * and only when poll() found epfd readable. */
static void dispatch_epoll(evloop *ev)
{
    struct epoll_event evs[EVLOOP_BATCH];
    int n;
    if (ev->nstash) { /* copied: a callback iterating the loop may take more */
        n = ev->nstash;
        memcpy(evs, ev->stash, (size_t)n * sizeof *evs);
    } else {
        if (!g_source_query_unix_fd(&ev->src, ev->eptag))
            return;
        n = epoll_wait(ev->epfd, evs, EVLOOP_BATCH, 0);
    }
    for (int i = 0; i < n && !g_source_is_destroyed(&ev->src); i++) {
        if (evs[i].data.ptr == &wake_mark)
            continue; /* GLib's: it reads it itself */
        ev_watch *w = evs[i].data.ptr;
        if (w->dead || !w->in_set)
            continue; /* deleted, or moved to the source's fds, since */
        uint32_t got = from_epoll(evs[i].events) & (w->want | EVLOOP_HUP | EVLOOP_ERR);
        if (got && w->want) /* else asks for something else since */
            call(w, got);
    }
    ev->nstash = 0;
}

static gboolean ev_dispatch(GSource *s, GSourceFunc cb, gpointer ud)
{
    evloop *ev = (evloop *)s;
    (void)cb;
    (void)ud;
    ev->depth++;
    dispatch_direct(ev);
    dispatch_epoll(ev);
    if (--ev->depth == 0) {
        bury(ev);
        if (ev->want_fast != ev->fast && !g_source_is_destroyed(s))
            set_fast(ev, ev->want_fast);
    }
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
    .prepare = NULL, /* with check NULL too: dispatched when one of its fds is ready */
    .check = NULL,
    .dispatch = ev_dispatch,
    .finalize = ev_finalize,
};

/* ---- the poll hook ---- */

static evloop *loop_of_fds(const GPollFD *fds, guint n, int *at)
{
    for (int k = 0; k < MAX_LOOPS; k++) {
        evloop *ev = g_atomic_pointer_get(&loops[k]);
        for (guint i = 0; ev && i < n; i++)
            if (fds[i].fd == ev->epfd) {
                *at = (int)i;
                return ev;
            }
    }
    return NULL;
}

/* Whether fd is a busy watch's in the source's fds. */
static bool is_direct(const evloop *ev, int fd)
{
    for (int i = 0; ev->ntagged && i < EVLOOP_DIRECT; i++)
        if (ev->direct[i] && ev->direct[i]->tag && ev->direct[i]->fd == fd)
            return true;
    return false;
}

/*
 * The context's poll. GLib always polls its wake-up descriptor (priority
 * 0, the first of its priority; the evloop's source has priority 0 too, so
 * whenever epfd is in the array the wake-up descriptor is). So when the
 * array holds epfd, the busy watches' fds and exactly one other
 * descriptor, that one is the wake-up descriptor, which lives as long as
 * the context: it is added to the epoll set once, and fast mode becomes
 * possible. In fast mode, with the array just {wake-up, epfd}, one
 * epoll_wait with GLib's timeout replaces poll(): the events are kept for
 * the dispatch that follows, which then makes no system call of its own.
 * Any other descriptor (another library's source) may be closed and its
 * number reused between two calls unseen, so it is never put in the epoll
 * set: then poll() as usual, and slow mode (busy watches in the source's
 * fds, one poll() for them) from the next dispatch on.
 */
static gint ev_poll(GPollFD *fds, guint n, gint timeout)
{
    int at = -1;
    evloop *ev = loop_of_fds(fds, n, &at);
    if (!ev || g_source_is_destroyed(&ev->src))
        return g_poll(fds, n, timeout);
    int other = -1, others = 0;
    for (guint i = 0; i < n; i++)
        if ((int)i != at && !is_direct(ev, fds[i].fd)) {
            other = (int)i;
            others++;
        }
    ev->want_fast = others == 1 && (ev->wake_fd < 0 || fds[other].fd == ev->wake_fd);
    if (!ev->want_fast || !ev->fast || n != 2)
        return g_poll(fds, n, timeout);
    GPollFD *wk = &fds[other];
    if (ev->wake_fd < 0) {
        struct epoll_event we = {.events = EPOLLIN, .data.ptr = &wake_mark};
        if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, wk->fd, &we) != 0) {
            ev->want_fast = false;
            return g_poll(fds, n, timeout);
        }
        ev->wake_fd = wk->fd;
    }
    if (ev->nstash && ev->depth == 0) /* a dispatch that never came: drop it */
        ev->nstash = 0;
    if (ev->depth == 0)
        bury(ev);
    struct epoll_event got[EVLOOP_BATCH];
    int k = epoll_wait(ev->epfd, got, EVLOOP_BATCH, timeout);
    if (k < 0)
        return -1;
    fds[0].revents = fds[1].revents = 0;
    int ns = 0;
    for (int i = 0; i < k; i++) {
        if (got[i].data.ptr == &wake_mark)
            wk->revents = G_IO_IN;
        else
            ev->stash[ns++] = got[i];
    }
    ev->nstash = ns;
    if (ns)
        fds[at].revents = G_IO_IN;
    return (fds[0].revents != 0) + (fds[1].revents != 0);
}

static void hook(evloop *ev, bool on)
{
    for (int k = 0; k < MAX_LOOPS; k++) {
        if (on && g_atomic_pointer_compare_and_exchange(&loops[k], NULL, ev)) {
            g_main_context_set_poll_func(ev->ctx, ev_poll);
            ev->hooked = true;
            return;
        }
        if (!on && g_atomic_pointer_compare_and_exchange(&loops[k], ev, NULL)) {
            g_main_context_set_poll_func(ev->ctx, NULL); /* g_poll again */
            ev->hooked = false;
            return;
        }
    }
}

/* ---- the loop ---- */

int evloop_new(evloop **out, GMainContext *ctx)
{
    *out = NULL;
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return BANTER_EIO;
    evloop *ev = (evloop *)g_source_new(&ev_funcs, sizeof(evloop));
    ev->ctx = ctx ? ctx : g_main_context_default();
    ev->epfd = epfd;
    ev->wake_fd = -1;
    g_source_set_name(&ev->src, "evloop");
    /* Nothing runs the loop from inside a callback today; allowing
     * recursion spares GLib blocking and unblocking the source around each
     * dispatch (two wake-ups of the loop, see tcp.c's fd_source). */
    g_source_set_can_recurse(&ev->src, TRUE);
    ev->eptag = g_source_add_unix_fd(&ev->src, epfd, G_IO_IN);
    g_source_attach(&ev->src, ev->ctx);
    /* Slow mode until the hook has seen the context's descriptors; with a
     * poll function already set by someone else, slow mode for good. */
    if (g_main_context_get_poll_func(ev->ctx) == g_poll)
        hook(ev, true);
    *out = ev;
    return 0;
}

void evloop_free(evloop *ev)
{
    if (!ev)
        return;
    if (ev->hooked)
        hook(ev, false);
    g_source_destroy(&ev->src);
    g_source_unref(&ev->src);
}

GMainContext *evloop_context(const evloop *ev) { return ev->ctx; }

unsigned evloop_count(const evloop *ev) { return ev->count; }

bool evloop_fast(const evloop *ev) { return ev->fast; }

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
    /* Added to the epoll set once even when it will not stay there:
     * EEXIST says the descriptor has a watch already. */
    struct epoll_event e = {.events = 0, .data.ptr = w};
    int r = epoll_ctl(ev->epfd, EPOLL_CTL_ADD, fd, &e);
    if (r == 0)
        r = epoll_ctl(ev->epfd, EPOLL_CTL_DEL, fd, NULL);
    if (r == 0 && (events & EVLOOP_BUSY) && (w->slot = free_slot(ev)) >= 0)
        ev->direct[w->slot] = w;
    if (r == 0)
        r = sync_events(w, events & (EVLOOP_IN | EVLOOP_OUT));
    if (r != 0) {
        int err = errno;
        if (w->slot >= 0)
            ev->direct[w->slot] = NULL;
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
    if (!w->ev) {
        plain_sync(w, events);
        return 0;
    }
    return sync_events(w, events);
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
    direct_sync(w, 0);
    (void)epoll_sync(w, 0);
    if (w->slot >= 0)
        ev->direct[w->slot] = NULL;
    w->dead = true;
    ev->count--;
    if (w->timer)
        close(w->fd);
    if (ev->depth || ev->nstash) { /* events being dispatched, or kept, may name w */
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
