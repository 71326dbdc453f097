/* SPDX-License-Identifier: MIT */
/*
 * test_peer_avahipoll.c - Avahi's poll API on the evloop (net/avahipoll.h):
 * a watch is called with Avahi's own descriptor and the events that
 * happened, its events can be changed and it can be freed from inside its
 * callback; a timeout fires once at its absolute time, is disabled after
 * it (until updated), can be disarmed, re-armed or freed from inside its
 * callback; and with Avahi's descriptor watched, the evloop stays in fast
 * mode (avahi-glib's own source would have put it in slow mode).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <avahi-common/timeval.h>
#include <cmocka.h>
#include <glib.h>

#include "net/avahipoll.h"
#include "net/evloop.h"

typedef struct seen {
    int calls;
    int fd;                 /* the descriptor the callback was given */
    AvahiWatchEvent events; /* what it was given */
    AvahiWatchEvent got;    /* watch_get_events from inside the callback */
    const AvahiPoll *api;   /* set: free the watch or timeout in the callback */
    bool rearm;             /* a timeout re-arms itself once */
} seen;

static void run_until(GMainContext *ctx, const int *calls, int n)
{
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (*calls < n && g_get_monotonic_time() < end)
        if (!g_main_context_iteration(ctx, FALSE))
            g_usleep(1000);
}

static void run_for(GMainContext *ctx, int ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;
    while (g_get_monotonic_time() < end)
        if (!g_main_context_iteration(ctx, FALSE))
            g_usleep(1000);
}

static void on_watch(AvahiWatch *w, int fd, AvahiWatchEvent events, void *ud)
{
    seen *s = ud;
    char c;
    s->calls++;
    s->fd = fd;
    s->events = events;
    if (events & AVAHI_WATCH_IN)
        assert_int_equal(read(fd, &c, 1), 1);
    if (s->api) {
        s->got = s->api->watch_get_events(w);
        s->api->watch_free(w);
    }
}

static void test_watch(void **state)
{
    (void)state;
    GMainContext *ctx = g_main_context_new();
    evloop *ev;
    avahipoll *p;
    int sp[2];
    assert_int_equal(evloop_new(&ev, ctx), 0);
    assert_int_equal(avahipoll_new(&p, ev, ctx), 0);
    const AvahiPoll *api = avahipoll_api(p);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);

    seen s = {0};
    AvahiWatch *w = api->watch_new(api, sp[0], AVAHI_WATCH_IN, on_watch, &s);
    assert_non_null(w);
    assert_int_equal(evloop_count(ev), 1);
    assert_int_equal(write(sp[1], "a", 1), 1);
    run_until(ctx, &s.calls, 1);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.fd, sp[0]); /* Avahi's own descriptor, not the duplicate */
    assert_int_equal(s.events, AVAHI_WATCH_IN);
    assert_true(evloop_fast(ev)); /* Avahi's descriptor is no foreign one on the loop */

    api->watch_update(w, AVAHI_WATCH_OUT); /* a socket with room: writable at once */
    run_until(ctx, &s.calls, 2);
    assert_int_equal(s.events, AVAHI_WATCH_OUT);
    api->watch_update(w, (AvahiWatchEvent)0);
    int before = s.calls;
    run_for(ctx, 50);
    assert_int_equal(s.calls, before); /* asks for nothing: never called */

    /* Freed from inside its own callback. */
    api->watch_update(w, AVAHI_WATCH_IN);
    s.api = api;
    assert_int_equal(write(sp[1], "b", 1), 1);
    run_until(ctx, &s.calls, before + 1);
    assert_int_equal(s.calls, before + 1);
    assert_int_equal(s.got, AVAHI_WATCH_IN);
    assert_int_equal(evloop_count(ev), 0);
    assert_int_equal(write(sp[1], "c", 1), 1);
    run_for(ctx, 50);
    assert_int_equal(s.calls, before + 1);

    /* The duplicate was closed: sp[0] is still Avahi's, and open. */
    assert_int_equal(write(sp[1], "d", 1), 1);
    char c[2];
    assert_int_equal(read(sp[0], c, sizeof c), 2);
    close(sp[0]);
    close(sp[1]);
    avahipoll_free(p);
    evloop_free(ev);
    g_main_context_unref(ctx);
}

static void on_timeout(AvahiTimeout *t, void *ud)
{
    seen *s = ud;
    s->calls++;
    if (s->rearm) {
        struct timeval tv;
        s->rearm = false;
        s->api->timeout_update(t, avahi_elapse_time(&tv, 20, 0));
    } else if (s->api) {
        s->api->timeout_free(t);
    }
}

static void test_timeout(void **state)
{
    (void)state;
    GMainContext *ctx = g_main_context_new();
    avahipoll *p;
    struct timeval tv;
    assert_int_equal(avahipoll_new(&p, NULL, ctx), 0); /* watches as plain fd sources */
    const AvahiPoll *api = avahipoll_api(p);

    /* Once, not before its time, then disabled. */
    seen s = {0};
    gint64 t0 = g_get_monotonic_time();
    AvahiTimeout *t = api->timeout_new(api, avahi_elapse_time(&tv, 30, 0), on_timeout, &s);
    run_until(ctx, &s.calls, 1);
    assert_int_equal(s.calls, 1);
    assert_true(g_get_monotonic_time() - t0 >= 25 * 1000);
    run_for(ctx, 60);
    assert_int_equal(s.calls, 1);

    /* Disarmed (tv NULL) before its time: never. */
    api->timeout_update(t, avahi_elapse_time(&tv, 10, 0));
    api->timeout_update(t, NULL);
    run_for(ctx, 60);
    assert_int_equal(s.calls, 1);

    /* A time already past: on the next iteration. */
    gettimeofday(&tv, NULL);
    api->timeout_update(t, avahi_timeval_add(&tv, -1000 * 1000));
    run_until(ctx, &s.calls, 2);
    assert_int_equal(s.calls, 2);
    api->timeout_free(t);

    /* Re-armed from inside its callback, then freed there. */
    seen r = {.api = api, .rearm = true};
    api->timeout_new(api, avahi_elapse_time(&tv, 0, 0), on_timeout, &r);
    run_until(ctx, &r.calls, 2);
    assert_int_equal(r.calls, 2);
    run_for(ctx, 50);
    assert_int_equal(r.calls, 2);

    /* Made disabled, freed unfired. */
    seen u = {0};
    t = api->timeout_new(api, NULL, on_timeout, &u);
    run_for(ctx, 20);
    assert_int_equal(u.calls, 0);
    api->timeout_free(t);

    avahipoll_free(p);
    g_main_context_unref(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watch),
        cmocka_unit_test(test_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
