/* SPDX-License-Identifier: MIT */
/*
 * tcpcopy.c - a plain kernel TCP copy, the baseline that the delay line
 * and the streams over ICE are measured against.
 *
 *   tcpcopy recv PORT            accept one connection, read to EOF
 *   tcpcopy send ADDR PORT BYTES connect, write BYTES (zeros), close
 *
 * The receiver prints one line on stdout when the sender has closed:
 *   bytes <N> secs <S> MBps <R>
 * (MB = 10^6 bytes; the clock runs from accept to EOF). Both sides use
 * 1 MiB writes and reads and the system's congestion control. Exit 0 on
 * success, 1 on an error (named on stderr), 2 on bad usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1u << 20)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what)
{
    fprintf(stderr, "tcpcopy: %s: %s\n", what, strerror(errno));
    return 1;
}

static int do_recv(uint16_t port, char *buf)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    int one = 1, ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), s;
    unsigned long long total = 0;

    if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 1) != 0)
        return fail("listen");
    fprintf(stderr, "tcpcopy: listening on %u\n", (unsigned)port);
    if ((s = accept(ls, NULL, NULL)) < 0)
        return fail("accept");
    double t0 = now_s();
    for (;;) {
        ssize_t n = read(s, buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail("read");
        if (n == 0)
            break;
        total += (unsigned long long)n;
    }
    double secs = now_s() - t0;
    printf("bytes %llu secs %.3f MBps %.2f\n", total, secs, (double)total / secs / 1e6);
    close(s);
    close(ls);
    return 0;
}

static int do_send(const char *addr, uint16_t port, unsigned long long bytes, const char *buf)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        fprintf(stderr, "tcpcopy: bad address %s\n", addr);
        return 2;
    }
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) != 0)
        return fail("connect");
    while (bytes > 0) {
        size_t want = bytes < CHUNK ? (size_t)bytes : CHUNK;
        ssize_t n = write(s, buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail("write");
        bytes -= (unsigned long long)n;
    }
    close(s);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: tcpcopy recv PORT | tcpcopy send ADDR PORT BYTES\n");
    return 2;
}

int main(int argc, char **argv)
{
    static char buf[CHUNK];
    char *end;
    int rc;

    if (argc == 3 && strcmp(argv[1], "recv") == 0) {
        unsigned long port = strtoul(argv[2], &end, 10);
        if (*end || port == 0 || port > 65535)
            return usage();
        rc = do_recv((uint16_t)port, buf);
    } else if (argc == 5 && strcmp(argv[1], "send") == 0) {
        unsigned long port = strtoul(argv[3], &end, 10);
        if (*end || port == 0 || port > 65535)
            return usage();
        unsigned long long bytes = strtoull(argv[4], &end, 10);
        if (*end || argv[4][0] == '-')
            return usage();
        rc = do_send(argv[2], (uint16_t)port, bytes, buf);
    } else {
        rc = usage();
    }
    return rc;
}
