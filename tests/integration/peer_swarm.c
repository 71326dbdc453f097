/* SPDX-License-Identifier: MIT */
/*
 * peer_swarm.c - many LAN connections at once against a node, for the
 * limits' tests (tests/integration/test_node_limits.sh): the attacks of
 * issue 12 from one process, each connection with a key of its own.
 *
 *   peer_swarm HOST PORT COUNT SECONDS [OPTION...]
 *
 * opens COUNT connections to HOST:PORT, one after the other, and keeps
 * them for SECONDS, then closes them all. Options:
 *
 *   --from A.B.C.D --addrs K   bind connection i to address A.B.C.(D + i % K)
 *   --sit                      plain TCP: connect and send nothing
 *   --reconnect                open again (after 200 ms) what the node closes
 *   --hello                    after the handshake, say HELLO ("swarm-I")
 *   --partial B                then announce a 65535-byte frame and send B
 *                              bytes of it
 *   --drip MS                  then one more byte of it every MS ms
 *
 * Without --sit every connection completes the Noise handshake with a
 * fresh key and answers PINGs (unless a partial frame is on the way).
 * Each second it prints "t=S open=K" (connections the node has not
 * closed); at the end "swarm opened O handshakes H refused R closed C".
 * Exit 0, or 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bcrypto.h"
#include "identity.h"
#include "msg.h"
#include "session.h"
#include "tnet.h"

#define MAXN       4096
#define SHAKE_MS   5000
#define RECONN_MS  200
#define READ_CHUNK 16384

typedef struct sconn {
    int fd;
    session *s;
    identity *id;
    bool partial; /* a partial frame is on the way: nothing else may be sent */
    int64_t closed_ms, drip_ms;
} sconn;

static sconn cs[MAXN];
static struct sockaddr_in dst;
static struct in_addr from;
static int naddrs, count;
static bool sit, reconnect, hello;
static long partial = -1, drip_ms;
static long opened, shakes, refused, closed;

/* Not tnet_write_all: a swarm's sockets are written without blocking,
 * with a bounded wait (1 s) when one is full. */
static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (poll(&pfd, 1, 1000) <= 0)
                return -1;
            continue;
        }
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int flush_out(sconn *c)
{
    size_t len;
    const uint8_t *b;
    while ((b = session_out(c->s, &len)) != NULL) {
        if (write_all(c->fd, b, len) != 0)
            return -1;
        session_out_consume(c->s, len);
    }
    return 0;
}

static void drop(sconn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    session_free(c->s);
    c->s = NULL;
    identity_free(c->id);
    c->id = NULL;
    c->partial = false;
    c->closed_ms = tnet_mono_ms();
}

/* Feed what arrived; answer PINGs. -1 when the node closed it. */
static int pump(sconn *c)
{
    uint8_t in[READ_CHUNK];
    ssize_t n = recv(c->fd, in, sizeof in, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0)
        return -1;
    if (!c->s)
        return 0; /* --sit: whatever it says */
    size_t off = 0;
    for (;;) {
        size_t used;
        session_event ev;
        int r = session_feed(c->s, in + off, (size_t)n - off, &used, &ev);
        off += used;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        msg m;
        if (ev.type == SESSION_EV_MESSAGE && msg_decode(&m, ev.data, ev.len) == 0) {
            if (m.type == MSG_PING && !c->partial) {
                msg pong = {.type = MSG_PONG, .u.ping.token = m.u.ping.token};
                if (session_send_msg(c->s, &pong) != 0 || flush_out(c) != 0) {
                    msg_clear(&m);
                    return -1;
                }
            }
            msg_clear(&m);
        }
    }
    return 0;
}

static int dial(int i)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (naddrs > 0) {
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl(ntohl(from.s_addr) + (uint32_t)(i % naddrs));
        if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) {
            close(fd);
            return -1;
        }
    }
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Open connection i as the options say: 0, or -1 (counted as refused). */
static int open_one(int i)
{
    sconn *c = &cs[i];
    c->fd = dial(i);
    if (c->fd < 0)
        return -1;
    opened++;
    if (sit)
        return 0;
    if (identity_generate(&c->id, bcrypto_rng_system()) != 0)
        return -1;
    session_config cfg = {.role = NOISE_INITIATOR, .id = c->id, .rng = bcrypto_rng_system()};
    if (session_new(&c->s, &cfg) != 0 || flush_out(c) != 0)
        goto refused;
    int64_t deadline = tnet_mono_ms() + SHAKE_MS;
    while (!session_established(c->s)) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int left = (int)(deadline - tnet_mono_ms());
        if (left <= 0 || poll(&pfd, 1, left) <= 0 || pump(c) != 0)
            goto refused;
        if (flush_out(c) != 0)
            goto refused;
    }
    shakes++;
    if (hello) {
        msg h = {.type = MSG_HELLO};
        h.u.hello.version = SESSION_VERSION;
        snprintf(h.u.hello.name, sizeof h.u.hello.name, "swarm-%d", i);
        if (session_send_msg(c->s, &h) != 0 || flush_out(c) != 0)
            goto refused;
    }
    if (partial >= 0) {
        static uint8_t junk[65535 + 2] = {0xff, 0xff};
        c->partial = true;
        if (write_all(c->fd, junk, 2 + (size_t)partial) != 0)
            goto refused;
        c->drip_ms = tnet_mono_ms();
    }
    return 0;
refused:
    drop(c);
    return -1;
}

/* A whole number in lo..hi, or -1. */
static long num(const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : -1;
    return !s || errno || *end || v < lo || v > hi ? -1 : v;
}

static int usage(void)
{
    fprintf(stderr, "usage: peer_swarm HOST PORT COUNT SECONDS [--from A.B.C.D --addrs K] "
                    "[--sit] [--reconnect] [--hello] [--partial B] [--drip MS]\n");
    return 2;
}

static int parse(int argc, char **argv)
{
    if (argc < 5)
        return -1;
    dst.sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1)
        return -1;
    long port = num(argv[2], 1, 65535), secs = num(argv[4], 1, 3600);
    count = (int)num(argv[3], 1, MAXN);
    if (port < 0 || secs < 0 || count < 1)
        return -1;
    dst.sin_port = htons((uint16_t)port);
    for (int i = 5; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--sit") == 0) {
            sit = true;
        } else if (strcmp(a, "--reconnect") == 0) {
            reconnect = true;
        } else if (strcmp(a, "--hello") == 0) {
            hello = true;
        } else if (strcmp(a, "--from") == 0 && v && inet_pton(AF_INET, v, &from) == 1) {
            i++;
        } else if (strcmp(a, "--addrs") == 0 && v && (naddrs = (int)num(v, 1, 65536)) > 0) {
            i++;
        } else if (strcmp(a, "--partial") == 0 && v && (partial = num(v, 0, 65535)) >= 0) {
            i++;
        } else if (strcmp(a, "--drip") == 0 && v && (drip_ms = num(v, 1, 3600000)) > 0) {
            i++;
        } else {
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (parse(argc, argv) != 0)
        return usage();
    int64_t start = tnet_mono_ms(), end = start + num(argv[4], 1, 3600) * 1000, next_say = start;
    for (int i = 0; i < count; i++) {
        cs[i].fd = -1;
        if (open_one(i) != 0)
            refused++;
    }
    static struct pollfd pfd[MAXN];
    while (tnet_mono_ms() < end) {
        int64_t t = tnet_mono_ms();
        int open = 0;
        for (int i = 0; i < count; i++) {
            sconn *c = &cs[i];
            pfd[i] = (struct pollfd){.fd = c->fd, .events = POLLIN};
            open += c->fd >= 0;
            if (c->fd < 0 && reconnect && t - c->closed_ms >= RECONN_MS && open_one(i) != 0) {
                refused++;
                c->closed_ms = t;
            }
            if (c->fd >= 0 && c->partial && drip_ms && t - c->drip_ms >= drip_ms) {
                uint8_t b = 0;
                c->drip_ms = t;
                if (send(c->fd, &b, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1) {
                    closed++;
                    drop(c);
                }
            }
        }
        if (t >= next_say) {
            printf("t=%lld open=%d\n", (long long)((t - start) / 1000), open);
            fflush(stdout);
            next_say += 1000;
        }
        if (poll(pfd, (nfds_t)count, 100) <= 0)
            continue;
        for (int i = 0; i < count; i++)
            if (cs[i].fd >= 0 && (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
                pump(&cs[i]) != 0) {
                closed++;
                drop(&cs[i]);
            }
    }
    for (int i = 0; i < count; i++)
        if (cs[i].fd >= 0)
            drop(&cs[i]);
    printf("swarm opened %ld handshakes %ld refused %ld closed %ld\n", opened, shakes, refused,
           closed);
    return 0;
}
