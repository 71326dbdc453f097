/* SPDX-License-Identifier: MIT */
/*
 * test_peer_evloop.c - sockets watched through one epoll descriptor
 * (net/evloop.h): callbacks on the loop for what is asked, nothing while
 * a watch asks for nothing or after evloop_del (of itself, or of another
 * watch whose event is in the same batch: under ASan a freed watch would
 * be caught), many descriptors for one polled descriptor and more ready
 * than one batch, hang-up reported and never spinning, timers, the loop freed
 * before its watches; the same calls without an evloop (plain fd sources).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib-unix.h>

#include "net/evloop.h"

#define MANY 200

typedef struct got {
    int calls;
    int fd;         /* read one byte per call when >= 0 */
    uint32_t last;  /* the events of the last call */
    ev_watch **del; /* deleted (and set NULL) from inside the callback */
} got;

static void on_ready(void *ud, int fd, uint32_t events)
{
    got *g = ud;
    char c;
    g->calls++;
    g->last = events;
    if (g->fd >= 0 && (events & EVLOOP_IN))
        assert_int_equal(read(fd, &c, 1), 1);
    if (g->del) {
        evloop_del(*g->del);
        *g->del = NULL;
        g->del = NULL;
    }
}

/* Iterate ctx until *calls reaches n (bounded: 5 s). */
static void run_until(GMainContext *ctx, const int *calls, int n)
{
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (*calls < n && g_get_monotonic_time() < end)
        if (!g_main_context_iteration(ctx, FALSE))
            g_usleep(1000);
}

/* Iterate ctx for ms milliseconds. */
static void run_for(GMainContext *ctx, int ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;
    while (g_get_monotonic_time() < end)
        if (!g_main_context_iteration(ctx, FALSE))
            g_usleep(1000);
}

/* The number of descriptors ctx would poll now. */
static int polled(GMainContext *ctx)
{
    GPollFD fds[MANY + 16];
    gint prio, timeout;
    g_main_context_acquire(ctx);
    g_main_context_prepare(ctx, &prio);
    int n = g_main_context_query(ctx, G_MAXINT, &timeout, fds, MANY + 16);
    g_main_context_check(ctx, G_MAXINT, fds, n < MANY + 16 ? n : MANY + 16);
    g_main_context_release(ctx);
    return n;
}

static evloop *loop_of(void **state, GMainContext *ctx)
{
    evloop *ev = NULL;
    if (*state) /* the plain variant */
        return NULL;
    assert_int_equal(evloop_new(&ev, ctx), 0);
    assert_ptr_equal(evloop_context(ev), ctx);
    return ev;
}

/* Readable, asked for, disarmed, armed again, writable, deleted. */
static void test_basic(void **state)
{
    GMainContext *ctx = g_main_context_new();
    evloop *ev = loop_of(state, ctx);
    int p[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
    got g = {.fd = p[0]};
    ev_watch *w = evloop_add(ev, ctx, p[0], EVLOOP_IN, on_ready, &g);
    assert_non_null(w);
    assert_int_equal(evloop_events(w), EVLOOP_IN);
    run_for(ctx, 20);
    assert_int_equal(g.calls, 0);

    /* Two bytes, one read per call: level-triggered, called twice. */
    assert_int_equal(write(p[1], "ab", 2), 2);
    run_until(ctx, &g.calls, 2);
    assert_int_equal(g.calls, 2);
    assert_int_equal(g.last, EVLOOP_IN);
    run_for(ctx, 20);
    assert_int_equal(g.calls, 2);

    /* Asking for nothing: the byte waits; asked again: it comes. */
    assert_int_equal(evloop_mod(w, 0), 0);
    assert_int_equal(write(p[1], "c", 1), 1);
    run_for(ctx, 30);
    assert_int_equal(g.calls, 2);
    assert_int_equal(evloop_mod(w, EVLOOP_IN), 0);
    run_until(ctx, &g.calls, 3);
    assert_int_equal(g.calls, 3);

    /* Writable: a socket with room is ready at once. */
    assert_int_equal(evloop_mod(w, EVLOOP_OUT), 0);
    run_until(ctx, &g.calls, 4);
    assert_int_equal(g.last, EVLOOP_OUT);
    assert_int_equal(evloop_mod(w, 0), 0);

    /* Deleted while readable: never called again. */
    assert_int_equal(evloop_mod(w, EVLOOP_IN), 0);
    int n = g.calls;
    assert_int_equal(write(p[1], "d", 1), 1);
    evloop_del(w);
    run_for(ctx, 30);
    assert_int_equal(g.calls, n);
    evloop_del(NULL);
    close(p[0]);
    close(p[1]);
    evloop_free(ev);
    g_main_context_unref(ctx);
}

/* Two watches ready in the same iteration; whichever runs first deletes
 * the other (and itself): the other is never called, and no freed memory
 * is touched (ASan). Then a watch deleting only itself. */
static void test_delete_in_dispatch(void **state)
{
    GMainContext *ctx = g_main_context_new();
    evloop *ev = loop_of(state, ctx);
    int a[2], b[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
    got ga = {.fd = a[0]}, gb = {.fd = b[0]};
    ev_watch *wa = evloop_add(ev, ctx, a[0], EVLOOP_IN, on_ready, &ga);
    ev_watch *wb = evloop_add(ev, ctx, b[0], EVLOOP_IN, on_ready, &gb);
    assert_non_null(wa);
    assert_non_null(wb);
    ga.del = &wb; /* a deletes b */
    gb.del = &wa; /* b deletes a */
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(b[1], "x", 1), 1);
    g_usleep(1000);
    g_main_context_iteration(ctx, FALSE); /* one iteration: both ready in it */
    run_for(ctx, 30);
    assert_int_equal(ga.calls + gb.calls, 1);
    /* The survivor is still watched. */
    got *live = ga.calls ? &ga : &gb;
    ev_watch **lw = ga.calls ? &wa : &wb;
    assert_non_null(*lw);
    assert_null(ga.calls ? wb : wa);
    int cfd = ga.calls ? a[1] : b[1];
    assert_int_equal(write(cfd, "y", 1), 1);
    run_until(ctx, &live->calls, 2);
    assert_int_equal(live->calls, 2);

    /* Deleting itself from its own callback. */
    live->del = lw;
    assert_int_equal(write(cfd, "z", 1), 1);
    run_until(ctx, &live->calls, 3);
    assert_null(*lw);
    assert_int_equal(write(cfd, "w", 1), 1);
    run_for(ctx, 30);
    assert_int_equal(live->calls, 3);
    if (ev)
        assert_int_equal(evloop_count(ev), 0);
    for (int i = 0; i < 2; i++)
        close(a[i]), close(b[i]);
    evloop_free(ev);
    g_main_context_unref(ctx);
}

/* MANY sockets, all ready at once (more than one batch): each is called;
 * the loop polls one descriptor for all of them. */
static void test_many(void **state)
{
    GMainContext *ctx = g_main_context_new();
    evloop *ev = loop_of(state, ctx);
    static int s[MANY][2];
    static got g[MANY];
    static ev_watch *w[MANY];
    int before = polled(ctx);
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s[i]), 0);
        g[i] = (got){.fd = s[i][0]};
        w[i] = evloop_add(ev, ctx, s[i][0], EVLOOP_IN, on_ready, &g[i]);
        assert_non_null(w[i]);
    }
    if (ev) {
        assert_int_equal(polled(ctx), before);
        assert_int_equal(evloop_count(ev), MANY);
        /* One watch per descriptor and loop. */
        assert_null(evloop_add(ev, ctx, s[0][0], EVLOOP_IN, on_ready, &g[0]));
    } else {
        assert_int_equal(polled(ctx), before + MANY);
    }
    for (int i = 0; i < MANY; i++)
        assert_int_equal(write(s[i][1], "m", 1), 1);
    int total = 0;
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (total < MANY && g_get_monotonic_time() < end) {
        g_main_context_iteration(ctx, FALSE);
        total = 0;
        for (int i = 0; i < MANY; i++)
            total += g[i].calls;
    }
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(g[i].calls, 1);
        evloop_del(w[i]);
        close(s[i][0]);
        close(s[i][1]);
    }
    evloop_free(ev);
    g_main_context_unref(ctx);
}

/* The other end closes: a reader is told (EVLOOP_HUP with EVLOOP_IN, a
 * read gives 0); a watch asking for nothing is not called, however long
 * the hang-up lasts (no spinning). */
static void test_hangup(void **state)
{
    GMainContext *ctx = g_main_context_new();
    evloop *ev = loop_of(state, ctx);
    int p[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
    got g = {.fd = -1};
    ev_watch *w = evloop_add(ev, ctx, p[0], 0, on_ready, &g);
    assert_non_null(w);
    close(p[1]);
    run_for(ctx, 50);
    assert_int_equal(g.calls, 0);
    assert_int_equal(evloop_mod(w, EVLOOP_IN), 0);
    run_until(ctx, &g.calls, 1);
    assert_true(g.last & EVLOOP_IN);
    if (ev) /* GLib's poll() reports a socket pair's end as readable only */
        assert_true(g.last & EVLOOP_HUP);
    char c;
    assert_int_equal(read(p[0], &c, 1), 0);
    assert_int_equal(evloop_mod(w, 0), 0);
    int n = g.calls;
    run_for(ctx, 50);
    assert_int_equal(g.calls, n);
    evloop_del(w);
    close(p[0]);
    evloop_free(ev);
    g_main_context_unref(ctx);
}

/* A timer: runs on each expiry, not while stopped, and may be deleted
 * from its own callback (its descriptor closed). */
static void test_timer(void **state)
{
    GMainContext *ctx = g_main_context_new();
    evloop *ev = loop_of(state, ctx);
    got g = {.fd = -1};
    ev_watch *t = evloop_timer(ev, ctx, on_ready, &g);
    assert_non_null(t);
    run_for(ctx, 40);
    assert_int_equal(g.calls, 0); /* made stopped */
    assert_int_equal(evloop_timer_set(t, 10), 0);
    run_until(ctx, &g.calls, 3);
    assert_int_equal(g.calls, 3);
    assert_int_equal(g.last, EVLOOP_IN);
    assert_int_equal(evloop_timer_set(t, 0), 0);
    int n = g.calls;
    run_for(ctx, 40);
    assert_int_equal(g.calls, n);
    assert_int_equal(evloop_timer_set(t, 5), 0);
    g.del = &t;
    run_until(ctx, &g.calls, n + 1);
    assert_null(t);
    run_for(ctx, 30);
    assert_int_equal(g.calls, n + 1);
    if (ev)
        assert_int_equal(evloop_count(ev), 0);
    evloop_free(ev);
    g_main_context_unref(ctx);
}

static gboolean never(gint fd, GIOCondition cond, gpointer p)
{
    (void)fd, (void)cond, (void)p;
    return G_SOURCE_CONTINUE;
}

/* Fast mode while the evloop's descriptor and GLib's wake-up one are all
 * the context polls; slow mode (busy watches in GLib's poll) while
 * another source has a descriptor; a busy watch served in both and across
 * the changes. */
static void test_modes(void **state)
{
    (void)state;
    GMainContext *ctx = g_main_context_new();
    evloop *ev = loop_of(state, ctx);
    int p[2], q[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
    assert_int_equal(pipe(q), 0);
    got g = {.fd = p[0]};
    ev_watch *w = evloop_add(ev, ctx, p[0], EVLOOP_IN | EVLOOP_BUSY, on_ready, &g);
    assert_non_null(w);
    assert_false(evloop_fast(ev)); /* until the poll hook has seen the context */
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(write(p[1], "f", 1), 1);
        run_until(ctx, &g.calls, i);
        assert_int_equal(g.calls, i);
    }
    assert_true(evloop_fast(ev));

    GSource *other = g_unix_fd_source_new(q[0], G_IO_IN); /* never ready */
    g_source_set_callback(other, G_SOURCE_FUNC(never), NULL, NULL);
    g_source_attach(other, ctx);
    for (int i = 4; i <= 6; i++) {
        assert_int_equal(write(p[1], "s", 1), 1);
        run_until(ctx, &g.calls, i);
        assert_int_equal(g.calls, i);
    }
    assert_false(evloop_fast(ev));

    g_source_destroy(other);
    g_source_unref(other);
    for (int i = 7; i <= 9; i++) {
        assert_int_equal(write(p[1], "f", 1), 1);
        run_until(ctx, &g.calls, i);
        assert_int_equal(g.calls, i);
    }
    assert_true(evloop_fast(ev));
    evloop_del(w);
    for (int i = 0; i < 2; i++)
        close(p[i]), close(q[i]);
    evloop_free(ev);
    g_main_context_unref(ctx);
}

static gboolean set_flag(gpointer p)
{
    g_atomic_int_set((gint *)p, 1);
    return G_SOURCE_REMOVE;
}

/* In fast mode the loop waits in epoll_wait: a source attached from
 * another thread (GLib's wake-up descriptor) still wakes it. */
typedef struct wake_arg {
    GMainContext *ctx;
    gint flag;
    int release; /* written after 3 s if the wake-up was lost */
} wake_arg;

static gpointer wake_later(gpointer p)
{
    wake_arg *a = p;
    g_usleep(50000);
    GSource *s = g_idle_source_new();
    g_source_set_callback(s, set_flag, &a->flag, NULL);
    g_source_attach(s, a->ctx);
    g_source_unref(s);
    for (int i = 0; i < 300 && !g_atomic_int_get(&a->flag); i++)
        g_usleep(10000);
    if (!g_atomic_int_get(&a->flag))
        assert_int_equal(write(a->release, "r", 1), 1);
    return NULL;
}

static void test_wakeup(void **state)
{
    wake_arg a = {.ctx = g_main_context_new()};
    evloop *ev = loop_of(state, a.ctx);
    int p[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
    got g = {.fd = p[0]};
    ev_watch *w = evloop_add(ev, a.ctx, p[0], EVLOOP_IN | EVLOOP_BUSY, on_ready, &g);
    for (int i = 1; i <= 2; i++) {
        assert_int_equal(write(p[1], "f", 1), 1);
        run_until(a.ctx, &g.calls, i);
    }
    assert_true(evloop_fast(ev));
    /* The idle source wakes the blocked iteration; it runs in it or the
     * next (a byte after 3 s ends the wait if the wake-up were lost). */
    a.release = p[1];
    GThread *t = g_thread_new("wake", wake_later, &a);
    g_main_context_iteration(a.ctx, TRUE);
    g_main_context_iteration(a.ctx, FALSE);
    assert_true(g_atomic_int_get(&a.flag));
    assert_int_equal(g.calls, 2);
    g_thread_join(t);
    evloop_del(w);
    close(p[0]);
    close(p[1]);
    evloop_free(ev);
    g_main_context_unref(a.ctx);
}

/* The loop freed before its watches: nothing runs, the watches are
 * deleted after (the loop's memory lives until then). */
static void test_free_first(void **state)
{
    (void)state;
    GMainContext *ctx = g_main_context_new();
    evloop *ev = NULL;
    assert_int_equal(evloop_new(&ev, ctx), 0);
    int p[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
    got g = {.fd = -1};
    ev_watch *w = evloop_add(ev, ctx, p[0], EVLOOP_IN, on_ready, &g);
    assert_int_equal(write(p[1], "q", 1), 1);
    evloop_free(ev);
    run_for(ctx, 30);
    assert_int_equal(g.calls, 0);
    assert_int_equal(evloop_mod(w, EVLOOP_IN | EVLOOP_OUT), 0);
    evloop_del(w);
    evloop_free(NULL);
    close(p[0]);
    close(p[1]);
    g_main_context_unref(ctx);
}

int main(void)
{
    static int plain = 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_delete_in_dispatch),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_hangup),
        cmocka_unit_test(test_timer),
        cmocka_unit_test(test_modes),
        cmocka_unit_test(test_wakeup),
        cmocka_unit_test(test_free_first),
        cmocka_unit_test_prestate(test_basic, &plain),
        cmocka_unit_test_prestate(test_delete_in_dispatch, &plain),
        cmocka_unit_test_prestate(test_many, &plain),
        cmocka_unit_test_prestate(test_hangup, &plain),
        cmocka_unit_test_prestate(test_timer, &plain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
