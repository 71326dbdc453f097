/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* accept4 */
/* acceptor.c - an accept loop that backs off instead of spinning (acceptor.h). */
#include "ui/acceptor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

struct acceptor {
    GMainContext *ctx;
    int lfd;
    int spare; /* the reserve descriptor, or -1 */
    bool want_spare;
    char what[48];
    ev_watch *w;
    GSource *retry;
    unsigned backoff;
    bool paused, said;
    acceptor_fn fn;
    void *ud;
};

static void drop_source(GSource **s)
{
    if (*s) {
        g_source_destroy(*s);
        g_source_unref(*s);
        *s = NULL;
    }
}

static bool accepting(const acceptor *a) { return !a->paused && !a->retry; }

static void back_off(acceptor *a, int e);

static void update(acceptor *a)
{
    if (evloop_mod(a->w, accepting(a) ? EVLOOP_IN : 0) != 0)
        back_off(a, errno);
}

static void take_spare(acceptor *a)
{
    if (a->want_spare && a->spare < 0)
        a->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static gboolean on_retry(gpointer v)
{
    acceptor *a = v;
    drop_source(&a->retry);
    update(a);
    return G_SOURCE_REMOVE;
}

static void back_off(acceptor *a, int e)
{
    a->backoff = a->backoff ? MIN(a->backoff * 2, ACCEPTOR_BACKOFF1) : ACCEPTOR_BACKOFF0;
    a->retry = g_timeout_source_new(a->backoff);
    g_source_set_callback(a->retry, on_retry, a, NULL);
    g_source_attach(a->retry, a->ctx);
    evloop_mod(a->w, 0);
    if (!a->said)
        g_printerr("banter: cannot accept connections on %s: %s; trying again every %u ms "
                   "until descriptors are free\n",
                   a->what, g_strerror(e), ACCEPTOR_BACKOFF1);
    a->said = true;
}

/* Out of descriptors: give up the spare for this one connection. */
static int accept_with_spare(acceptor *a)
{
    if (a->spare < 0)
        return -1;
    close(a->spare);
    a->spare = -1;
    int fd = accept4(a->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    take_spare(a); /* fails while fd is held and nothing else is free */
    return fd;
}

static void on_readable(void *v, int fd, uint32_t events)
{
    acceptor *a = v;
    (void)fd;
    (void)events;
    take_spare(a);
    for (int i = 0; i < ACCEPTOR_BURST && accepting(a); i++) {
        int cfd = accept4(a->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        int e = errno;
        if (cfd < 0 && (e == EAGAIN || e == EWOULDBLOCK || e == EINTR || e == ECONNABORTED))
            break;
        if (cfd < 0 && e == EMFILE)
            cfd = accept_with_spare(a);
        if (cfd < 0) {
            back_off(a, e);
            return;
        }
        if (a->said)
            g_printerr("banter: accepting connections on %s again\n", a->what);
        a->said = false;
        a->backoff = 0;
        a->fn(a->ud, cfd);
    }
}

acceptor *acceptor_new(GMainContext *ctx, evloop *ev, int lfd, const char *what, bool reserve,
                       acceptor_fn fn, void *ud)
{
    acceptor *a = g_new0(acceptor, 1);
    a->ctx = ev ? evloop_context(ev) : ctx;
    a->lfd = lfd;
    a->spare = -1;
    a->want_spare = reserve;
    g_strlcpy(a->what, what, sizeof a->what);
    a->fn = fn;
    a->ud = ud;
    take_spare(a);
    a->w = evloop_add(ev, a->ctx, lfd, EVLOOP_IN, on_readable, a);
    if (!a->w) /* epoll refused the socket (ENOMEM): a plain fd source then */
        a->w = evloop_add(NULL, a->ctx, lfd, EVLOOP_IN, on_readable, a);
    return a;
}

void acceptor_pause(acceptor *a, bool paused)
{
    a->paused = paused;
    update(a);
}

void acceptor_free(acceptor *a)
{
    if (!a)
        return;
    evloop_del(a->w);
    drop_source(&a->retry);
    if (a->spare >= 0)
        close(a->spare);
    g_free(a);
}
