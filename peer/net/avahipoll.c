/* SPDX-License-Identifier: MIT */
/* avahipoll.c - Avahi's poll API on the node's evloop (see avahipoll.h). */
#define _GNU_SOURCE /* F_DUPFD_CLOEXEC */
#include "net/avahipoll.h"

#include <avahi-common/timeval.h>
#include <fcntl.h>
#include <unistd.h>

struct avahipoll {
    AvahiPoll api; /* api.userdata is this */
    evloop *ev;
    GMainContext *ctx;
};

struct AvahiWatch {
    ev_watch *w;
    int fd;                   /* ours: a duplicate, watched and closed here */
    int avahi_fd;             /* the one Avahi gave, passed back to its callback */
    AvahiWatchEvent happened; /* the events of the last callback */
    AvahiWatchCallback cb;
    void *ud;
};

struct AvahiTimeout {
    GMainContext *ctx;
    GSource *src; /* while armed */
    AvahiTimeoutCallback cb;
    void *ud;
};

static uint32_t to_ev(AvahiWatchEvent e)
{
    return ((e & AVAHI_WATCH_IN) ? EVLOOP_IN : 0) | ((e & AVAHI_WATCH_OUT) ? EVLOOP_OUT : 0);
}

static AvahiWatchEvent from_ev(uint32_t e)
{
    return (AvahiWatchEvent)(((e & EVLOOP_IN) ? AVAHI_WATCH_IN : 0) |
                             ((e & EVLOOP_OUT) ? AVAHI_WATCH_OUT : 0) |
                             ((e & EVLOOP_HUP) ? AVAHI_WATCH_HUP : 0) |
                             ((e & EVLOOP_ERR) ? AVAHI_WATCH_ERR : 0));
}

/* ---- watches ---- */

static void on_watch(void *ud, int fd, uint32_t events)
{
    AvahiWatch *w = ud;
    (void)fd;
    w->happened = from_ev(events);
    w->cb(w, w->avahi_fd, w->happened, w->ud); /* may free w */
}

static AvahiWatch *watch_new(const AvahiPoll *api, int fd, AvahiWatchEvent event,
                             AvahiWatchCallback cb, void *ud)
{
    avahipoll *p = api->userdata;
    AvahiWatch *w = g_new0(AvahiWatch, 1);
    w->avahi_fd = fd;
    w->cb = cb;
    w->ud = ud;
    w->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (w->fd >= 0)
        w->w = evloop_add(p->ev, p->ctx, w->fd, to_ev(event), on_watch, w);
    if (!w->w) {
        if (w->fd >= 0)
            close(w->fd);
        g_free(w);
        return NULL; /* Avahi reports the failure to its caller */
    }
    return w;
}

static void watch_update(AvahiWatch *w, AvahiWatchEvent event)
{
    if (evloop_mod(w->w, to_ev(event)) != 0) /* ENOMEM from epoll: nothing better to do */
        g_warning("mDNS: cannot watch the connection to avahi-daemon");
}

static AvahiWatchEvent watch_get_events(AvahiWatch *w) { return w->happened; }

static void watch_free(AvahiWatch *w)
{
    evloop_del(w->w); /* before the close: the evloop's rule */
    close(w->fd);
    g_free(w);
}

/* ---- timeouts ---- */

static void drop(AvahiTimeout *t)
{
    if (t->src) {
        g_source_destroy(t->src);
        g_source_unref(t->src);
        t->src = NULL;
    }
}

static gboolean on_timeout(gpointer ud)
{
    AvahiTimeout *t = ud;
    drop(t);         /* expired: disabled until updated, as the API says */
    t->cb(t, t->ud); /* may update or free t */
    return G_SOURCE_REMOVE;
}

/* Armed for the absolute time tv (gettimeofday's clock, as Avahi gives
 * it), or disarmed with tv NULL. */
static void arm(AvahiTimeout *t, const struct timeval *tv)
{
    drop(t);
    if (!tv)
        return;
    AvahiUsec left = -avahi_age(tv);
    guint ms = left <= 0 ? 0 : (guint)MIN((left + 999) / 1000, (AvahiUsec)G_MAXUINT);
    t->src = g_timeout_source_new(ms);
    g_source_set_callback(t->src, on_timeout, t, NULL);
    g_source_attach(t->src, t->ctx);
}

static AvahiTimeout *timeout_new(const AvahiPoll *api, const struct timeval *tv,
                                 AvahiTimeoutCallback cb, void *ud)
{
    avahipoll *p = api->userdata;
    AvahiTimeout *t = g_new0(AvahiTimeout, 1);
    t->ctx = p->ctx;
    t->cb = cb;
    t->ud = ud;
    arm(t, tv);
    return t;
}

static void timeout_update(AvahiTimeout *t, const struct timeval *tv) { arm(t, tv); }

static void timeout_free(AvahiTimeout *t)
{
    drop(t);
    g_free(t);
}

/* ---- the API ---- */

int avahipoll_new(avahipoll **out, evloop *ev, GMainContext *ctx)
{
    avahipoll *p = g_try_new0(avahipoll, 1);
    *out = NULL;
    if (!p)
        return BANTER_ENOMEM;
    p->ev = ev;
    p->ctx = g_main_context_ref(ctx ? ctx : g_main_context_default());
    p->api = (AvahiPoll){
        .userdata = p,
        .watch_new = watch_new,
        .watch_update = watch_update,
        .watch_get_events = watch_get_events,
        .watch_free = watch_free,
        .timeout_new = timeout_new,
        .timeout_update = timeout_update,
        .timeout_free = timeout_free,
    };
    *out = p;
    return 0;
}

void avahipoll_free(avahipoll *p)
{
    if (!p)
        return;
    g_main_context_unref(p->ctx);
    g_free(p);
}

const AvahiPoll *avahipoll_api(const avahipoll *p) { return &p->api; }
