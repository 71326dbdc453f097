/* SPDX-License-Identifier: MIT */
/*
 * test_peer_watcher.c - descriptors polled off the loop (net/watcher.h):
 * the callback runs on the owner's context and thread, again while the
 * descriptor stays readable, never while disarmed or after watch_free
 * (also when it was on its way), and the owner's context polls nothing
 * for a watch; the same calls without a watcher use a plain fd source.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/watcher.h"

typedef struct got {
    int calls;
    int fd;          /* read one byte per call when >= 0 */
    GThread *thread; /* the thread of the last call */
    watch **self;    /* freed from inside the callback when set */
} got;

static void on_ready(void *ud)
{
    got *g = ud;
    char c;
    g->calls++;
    g->thread = g_thread_self();
    if (g->fd >= 0)
        assert_int_equal(read(g->fd, &c, 1), 1);
    if (g->self) {
        watch_free(*g->self);
        *g->self = NULL;
    }
}

/* Iterate ctx until g has at least n calls (bounded: 5 s). */
static void run_until(GMainContext *ctx, got *g, int n)
{
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (g->calls < n && g_get_monotonic_time() < end)
        g_main_context_iteration(ctx, FALSE), g_usleep(1000);
}

/* Iterate ctx for ms milliseconds. */
static void run_for(GMainContext *ctx, int ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;
    while (g_get_monotonic_time() < end)
        g_main_context_iteration(ctx, FALSE), g_usleep(1000);
}

/* The number of descriptors ctx would poll now. */
static int polled(GMainContext *ctx)
{
    GPollFD fds[16];
    gint prio, timeout;
    g_main_context_acquire(ctx);
    g_main_context_prepare(ctx, &prio);
    int n = g_main_context_query(ctx, G_MAXINT, &timeout, fds, 16);
    g_main_context_check(ctx, G_MAXINT, fds, n < 16 ? n : 16);
    g_main_context_release(ctx);
    return n;
}

static void both(watcher *w, GMainContext *ctx)
{
    int p[2];
    got g = {.fd = -1};
    assert_int_equal(pipe(p), 0);
    g.fd = p[0];
    int before = polled(ctx);
    watch *wt = watch_new(w, ctx, p[0], on_ready, &g);
    /* Off the loop: the context polls nothing more for it. */
    if (w)
        assert_int_equal(polled(ctx), before);
    else
        assert_int_equal(polled(ctx), before + 1);
    run_for(ctx, 30);
    assert_int_equal(g.calls, 0);

    /* Readable twice: two calls (re-armed after each), on this thread. */
    assert_int_equal(write(p[1], "ab", 2), 2);
    run_until(ctx, &g, 2);
    assert_int_equal(g.calls, 2);
    assert_ptr_equal(g.thread, g_thread_self());

    /* Disarmed: nothing while data waits; armed again: it comes. */
    watch_arm(wt, false);
    assert_int_equal(write(p[1], "c", 1), 1);
    run_for(ctx, 50);
    assert_int_equal(g.calls, 2);
    watch_arm(wt, true);
    run_until(ctx, &g, 3);
    assert_int_equal(g.calls, 3);

    /* Freed while readable and maybe on its way: no call after. */
    assert_int_equal(write(p[1], "d", 1), 1);
    g_usleep(20000); /* the watcher's thread has seen it */
    watch_free(wt);
    run_for(ctx, 50);
    assert_int_equal(g.calls, 3);

    /* Freed from inside its own callback. */
    watch *self = watch_new(w, ctx, p[0], on_ready, &g);
    g.self = &self;
    run_until(ctx, &g, 4);
    assert_int_equal(g.calls, 4);
    assert_null(self);
    assert_int_equal(write(p[1], "e", 1), 1);
    run_for(ctx, 50);
    assert_int_equal(g.calls, 4);
    close(p[0]);
    close(p[1]);
}

static void test_threaded(void **state)
{
    (void)state;
    GMainContext *ctx = g_main_context_new();
    watcher *w;
    assert_int_equal(watcher_new(&w, ctx), 0);
    both(w, ctx);
    watcher_free(w);
    run_for(ctx, 10); /* posted callbacks of freed watches drop their references */
    g_main_context_unref(ctx);
}

static void test_plain(void **state)
{
    (void)state;
    GMainContext *ctx = g_main_context_new();
    both(NULL, ctx);
    g_main_context_unref(ctx);
}

/* A watcher freed at once (its thread maybe not in its loop yet) stops. */
static void test_free_at_once(void **state)
{
    (void)state;
    for (int i = 0; i < 20; i++) {
        watcher *w;
        assert_int_equal(watcher_new(&w, NULL), 0);
        watcher_free(w);
    }
    watcher_free(NULL);
    watch_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threaded),
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_free_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
