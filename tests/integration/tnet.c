/* SPDX-License-Identifier: MIT */
/* tnet.c - the client side the test tools share. */
#include "tnet.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "error.h"

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tnet_mono_ms(void) { return clock_ms(CLOCK_MONOTONIC); }

int64_t tnet_wall_ms(void) { return clock_ms(CLOCK_REALTIME); }

int tnet_dial(const char *who, const char *host, const char *port, const char *source)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int r = getaddrinfo(host, port, &hints, &ai);
    if (r != 0) {
        fprintf(stderr, "%s: %s:%s: %s\n", who, host, port, gai_strerror(r));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        fprintf(stderr, "%s: socket: %s\n", who, strerror(errno));
    struct addrinfo *src = NULL;
    struct addrinfo shints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST};
    if (fd >= 0 && source &&
        (getaddrinfo(source, NULL, &shints, &src) != 0 ||
         bind(fd, src->ai_addr, src->ai_addrlen) != 0)) {
        fprintf(stderr, "%s: cannot bind to %s\n", who, source);
        close(fd);
        fd = -1;
    }
    if (src)
        freeaddrinfo(src);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        fprintf(stderr, "%s: cannot connect to %s:%s: %s\n", who, host, port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd >= 0) {
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

int tnet_write_all(int fd, const void *p, size_t len)
{
    const uint8_t *b = p;
    while (len > 0) {
        ssize_t w = send(fd, b, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = 0;
            return -1;
        }
        b += w;
        len -= (size_t)w;
    }
    return 0;
}

int tnet_flush(int fd, session *s)
{
    size_t len;
    const uint8_t *b;
    while ((b = session_out(s, &len)) != NULL) {
        if (tnet_write_all(fd, b, len) != 0)
            return -1;
        session_out_consume(s, len);
    }
    return 0;
}

static int ended(tnet_why *why, const char *op, int err)
{
    why->op = op;
    why->err = err;
    return -1;
}

int tnet_next(int fd, session *s, tnet_in *in, session_event *ev, int64_t deadline, tnet_why *why)
{
    for (;;) {
        size_t used;
        int r = session_feed(s, in->buf + in->off, in->len - in->off, &used, ev);
        in->off += used;
        if (r < 0)
            return ended(why, "session", r);
        if (tnet_flush(fd, s) != 0)
            return ended(why, "send", errno);
        if (r == 1)
            return 1;
        int64_t left = deadline - tnet_mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            return ended(why, "poll", errno);
        if (pr == 0)
            return 0;
        ssize_t n = recv(fd, in->buf, sizeof in->buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return ended(why, "recv", n == 0 ? 0 : errno);
        in->off = 0;
        in->len = (size_t)n;
    }
}

const char *tnet_strwhy(const tnet_why *why, char *out, size_t cap)
{
    if (strcmp(why->op, "session") == 0)
        snprintf(out, cap, "session: %s", banter_strerror(why->err));
    else if (strcmp(why->op, "recv") == 0 && why->err == 0)
        snprintf(out, cap, "connection closed");
    else
        snprintf(out, cap, "%s: %s", why->op, why->err ? strerror(why->err) : "no progress");
    return out;
}
