/* SPDX-License-Identifier: MIT */
/*
 * test_peer_acceptor.c - the local interfaces' accept loop (ui/acceptor.h):
 * connections are handed over; out of descriptors it serves one more
 * client with its reserve and then backs off instead of spinning; it
 * accepts again once descriptors are free. Each test runs twice: the
 * socket polled by the loop (an fd source), and through an evloop's
 * epoll descriptor (net/evloop.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "ui/acceptor.h"

#define MAX_FDS 4096

struct got {
    int fds[64];
    int n;
};

static void on_conn(void *ud, int fd)
{
    struct got *g = ud;
    if (g->n < 64)
        g->fds[g->n++] = fd;
    else
        close(fd);
}

/* A listening socket at an abstract address; clients connect to it. */
static int listener(struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    snprintf(sa->sun_path + 1, sizeof sa->sun_path - 1, "banter-acceptor-test-%d", (int)getpid());
    assert_int_equal(bind(fd, (struct sockaddr *)sa, sizeof *sa), 0);
    assert_int_equal(listen(fd, 16), 0);
    return fd;
}

static int dial(const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (const struct sockaddr *)sa, sizeof *sa), 0);
    return fd;
}

/* Run ctx for ms; how many times it dispatched something. */
static int run(GMainContext *ctx, int ms)
{
    int n = 0;
    gint64 end = g_get_monotonic_time() + ms * 1000;
    while (g_get_monotonic_time() < end)
        n += g_main_context_iteration(ctx, FALSE) ? 1 : (g_usleep(1000), 0);
    return n;
}

/* An evloop on ctx when the test's state says so, else NULL. */
static evloop *with_evloop(void **state, GMainContext *ctx)
{
    evloop *ev = NULL;
    if (*state)
        assert_int_equal(evloop_new(&ev, ctx), 0);
    return ev;
}

static void test_accepts(void **state)
{
    struct sockaddr_un sa;
    struct got g = {0};
    GMainContext *ctx = g_main_context_new();
    evloop *w = with_evloop(state, ctx);
    int lfd = listener(&sa);
    acceptor *a = acceptor_new(ctx, w, lfd, "the test socket", false, on_conn, &g);
    int c1 = dial(&sa), c2 = dial(&sa);
    run(ctx, 50);
    assert_int_equal(g.n, 2);
    acceptor_pause(a, true);
    int c3 = dial(&sa);
    run(ctx, 50);
    assert_int_equal(g.n, 2); /* waits in the backlog */
    acceptor_pause(a, false);
    run(ctx, 50);
    assert_int_equal(g.n, 3);
    for (int i = 0; i < g.n; i++)
        close(g.fds[i]);
    close(c1);
    close(c2);
    close(c3);
    acceptor_free(a);
    close(lfd);
    evloop_free(w);
    g_main_context_unref(ctx);
}

/* Every descriptor taken: one client is still served (the reserve), the
 * rest wait without the loop spinning, and are served once some are free. */
static void test_out_of_descriptors(void **state)
{
    struct sockaddr_un sa;
    struct got g = {0};
    struct rlimit old, low;
    int filler[MAX_FDS], nfill = 0;
    GMainContext *ctx = g_main_context_new();
    evloop *w = with_evloop(state, ctx);
    int lfd = listener(&sa);
    acceptor *a = acceptor_new(ctx, w, lfd, "the test socket", true, on_conn, &g);
    int c[3];
    for (int i = 0; i < 3; i++)
        c[i] = dial(&sa); /* in the backlog before descriptors run out */
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = 256;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    int fd;
    while (nfill < MAX_FDS && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        filler[nfill++] = fd;
    int busy = run(ctx, 300);
    assert_int_equal(g.n, 1); /* the reserve */
    assert_true(busy <= 12);  /* back-off: 50, 100, 200 ms; not thousands */
    for (int i = 0; i < 8 && nfill; i++)
        close(filler[--nfill]);
    run(ctx, 1500);
    assert_int_equal(g.n, 3); /* free again: the rest are served */
    while (nfill)
        close(filler[--nfill]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    for (int i = 0; i < g.n; i++)
        close(g.fds[i]);
    for (int i = 0; i < 3; i++)
        close(c[i]);
    acceptor_free(a);
    close(lfd);
    evloop_free(w);
    g_main_context_unref(ctx);
}

int main(void)
{
    static int on = 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate(test_accepts, NULL),
        cmocka_unit_test_prestate(test_out_of_descriptors, NULL),
        cmocka_unit_test_prestate(test_accepts, &on),
        cmocka_unit_test_prestate(test_out_of_descriptors, &on),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
