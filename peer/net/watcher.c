/* SPDX-License-Identifier: MIT */
/* watcher.c - seldom-ready descriptors polled off the node's loop (watcher.h). */
#include "net/watcher.h"

#include <glib-unix.h>

struct watcher {
    GMainContext *owner; /* where callbacks run */
    GMainContext *hctx;  /* the thread's */
    GMainLoop *hloop;
    GThread *thread;
};

/*
 * A watch is shared by two threads: the owner's (callbacks, arm, free) and
 * the watcher's (its fd source, hsrc). Each side holds references while
 * it may touch it: the creator's until watch_free, hsrc's while it is
 * attached, and one per posted one-shot source. armed and dead are written
 * by the owner only; the watcher's thread reads them when it syncs.
 */
struct watch {
    gint ref;
    watcher *w; /* NULL: a plain fd source on owner */
    GMainContext *owner;
    int fd;
    watch_fn fn;
    void *ud;
    gint armed, dead;
    GSource *src; /* the fd source: on the watcher's thread, or on owner with w NULL */
};

static watch *watch_ref(watch *wt)
{
    g_atomic_int_inc(&wt->ref);
    return wt;
}

static void watch_unref(gpointer v)
{
    watch *wt = v;
    if (!g_atomic_int_dec_and_test(&wt->ref))
        return;
    if (wt->src) /* destroyed with the watcher's context already */
        g_source_unref(wt->src);
    g_free(wt);
}

static void drop_src(watch *wt)
{
    if (wt->src) {
        g_source_destroy(wt->src);
        g_source_unref(wt->src);
        wt->src = NULL;
    }
}

static bool wanted(watch *wt)
{
    return g_atomic_int_get(&wt->armed) && !g_atomic_int_get(&wt->dead);
}

/* Run fn(wt) once on ctx, from any thread, holding a reference. Never
 * called directly, even when the calling thread could own ctx. */
static void post(GMainContext *ctx, GSourceFunc fn, watch *wt)
{
    GSource *s = g_idle_source_new();
    g_source_set_priority(s, G_PRIORITY_DEFAULT);
    g_source_set_callback(s, fn, watch_ref(wt), watch_unref);
    g_source_attach(s, ctx);
    g_source_unref(s);
}

static gboolean on_owner(gpointer v);

/* ---- the watcher's thread ---- */

/* Readable: a one-shot watch, handed to the owner's context. */
static gboolean on_ready(gint fd, GIOCondition cond, gpointer v)
{
    watch *wt = watch_ref(v);
    (void)fd;
    (void)cond;
    drop_src(wt);
    if (wanted(wt))
        post(wt->owner, on_owner, wt);
    watch_unref(wt);
    return G_SOURCE_REMOVE;
}

/* Make the fd source match armed and dead. */
static gboolean sync_src(gpointer v)
{
    watch *wt = v;
    if (wanted(wt) && !wt->src) {
        wt->src = g_unix_fd_source_new(wt->fd, G_IO_IN);
        g_source_set_callback(wt->src, G_SOURCE_FUNC(on_ready), watch_ref(wt), watch_unref);
        g_source_attach(wt->src, wt->w->hctx);
    } else if (!wanted(wt)) {
        drop_src(wt);
    }
    return G_SOURCE_REMOVE;
}

static gpointer thread_main(gpointer v)
{
    watcher *w = v;
    g_main_context_push_thread_default(w->hctx);
    g_main_loop_run(w->hloop);
    g_main_context_pop_thread_default(w->hctx);
    return NULL;
}

/* ---- the owner's thread ---- */

static gboolean on_owner(gpointer v)
{
    watch *wt = v;
    if (!wanted(wt))
        return G_SOURCE_REMOVE;
    wt->fn(wt->ud);
    if (wanted(wt))
        post(wt->w->hctx, sync_src, wt); /* watch again */
    return G_SOURCE_REMOVE;
}

/* w NULL: the plain fd source on the owner's context. */
static gboolean on_direct(gint fd, GIOCondition cond, gpointer v)
{
    watch *wt = watch_ref(v);
    (void)fd;
    (void)cond;
    if (wanted(wt))
        wt->fn(wt->ud);
    watch_unref(wt);
    return G_SOURCE_CONTINUE;
}

static void sync_direct(watch *wt)
{
    if (wanted(wt) && !wt->src) {
        wt->src = g_unix_fd_source_new(wt->fd, G_IO_IN);
        g_source_set_callback(wt->src, G_SOURCE_FUNC(on_direct), wt, NULL);
        g_source_attach(wt->src, wt->owner);
    } else if (!wanted(wt)) {
        drop_src(wt);
    }
}

static void resync(watch *wt)
{
    if (wt->w)
        post(wt->w->hctx, sync_src, wt);
    else
        sync_direct(wt);
}

watch *watch_new(watcher *w, GMainContext *ctx, int fd, watch_fn fn, void *ud)
{
    watch *wt = g_new0(watch, 1);
    wt->ref = 1;
    wt->w = w;
    wt->owner = w ? w->owner : ctx;
    wt->fd = fd;
    wt->fn = fn;
    wt->ud = ud;
    wt->armed = 1;
    resync(wt);
    return wt;
}

void watch_arm(watch *wt, bool on)
{
    if (g_atomic_int_get(&wt->armed) == (int)on)
        return;
    g_atomic_int_set(&wt->armed, on);
    resync(wt);
}

void watch_free(watch *wt)
{
    if (!wt)
        return;
    g_atomic_int_set(&wt->dead, 1);
    resync(wt);
    watch_unref(wt);
}

static gboolean quit_thread(gpointer v)
{
    g_main_loop_quit(v);
    return G_SOURCE_REMOVE;
}

int watcher_new(watcher **out, GMainContext *ctx)
{
    watcher *w = g_new0(watcher, 1);
    w->owner = ctx ? ctx : g_main_context_default();
    w->hctx = g_main_context_new();
    w->hloop = g_main_loop_new(w->hctx, FALSE);
    w->thread = g_thread_try_new("watcher", thread_main, w, NULL);
    if (!w->thread) {
        watcher_free(w);
        *out = NULL;
        return BANTER_ENOMEM;
    }
    *out = w;
    return 0;
}

void watcher_free(watcher *w)
{
    if (!w)
        return;
    if (w->thread) {
        /* Quit from inside the loop: a quit before the thread entered
         * g_main_loop_run would be lost. */
        GSource *s = g_idle_source_new();
        g_source_set_callback(s, quit_thread, w->hloop, NULL);
        g_source_attach(s, w->hctx);
        g_source_unref(s);
        g_thread_join(w->thread);
    }
    g_main_loop_unref(w->hloop);
    g_main_context_unref(w->hctx); /* what is left drops its references */
    g_free(w);
}
