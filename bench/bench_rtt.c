/* SPDX-License-Identifier: MIT */
/*
 * bench_rtt.c - message round trip to a running node, against a bare TCP
 * ping-pong of the same size on the same path.
 *
 *   bench_rtt echo PORT             bare TCP echo server (the baseline's far end)
 *   bench_rtt tcp HOST PORT SIZE N  bare ping-pong: SIZE bytes there and back, N times
 *   bench_rtt banter [--expect-fp FP] [--ping-only] HOST PORT N
 *                                   a Banter peer: handshake, HELLO, then N PING/PONG
 *                                   and N CHAT/ACK round trips against a node
 *
 * --expect-fp: the peer must prove the key with this fingerprint (digits, any
 * spaces or dashes); otherwise the run ends with exit 1 right after the
 * handshake. --ping-only: no CHAT/ACK (a rendezvous server has no chat).
 *
 * Every client mode runs a warm-up first, then prints one machine-readable
 * line per measurement:
 *
 *   RESULT <what> size=<wire bytes each way> n=<N> median_us=<> p99_us=<> min_us=<>
 *
 * The PING wire frame is 2 (length) + 16 (tag) + 1 (type) + 8 (token) = 27
 * bytes, so the baseline is run with SIZE 27. The CHAT/ACK figure is context:
 * the node stores the message durably (SQLite, fsync) before it acknowledges.
 *
 * bench/bench_node.sh runs all of this between two network namespaces;
 * `make bench` runs this binary with no arguments, which only prints a note.
 * Sockets are blocking with a receive timeout, so a stuck peer ends the run
 * with an error instead of hanging it.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "bcrypto.h"
#include "identity.h"
#include "msg.h"
#include "session.h"

#define IO_TIMEOUT_S    10  /* a reply slower than this ends the run */
#define ECHO_LIFETIME_S 300 /* the echo server exits by itself after this */
#define ECHO_MAX_CLIENT 16  /* ... or after serving this many clients */
#define MAX_N           1000000L
#define MAX_SIZE        65536L
#define CHAT_BODY_LEN   100
#define READ_CHUNK      65536

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sort v and print its median, 99th percentile and minimum. */
static void report(const char *what, size_t size, double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    double median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    size_t i99 = (n * 99 + 99) / 100; /* ceil(0.99 n), 1-based */
    printf("RESULT %s size=%zu n=%zu median_us=%.1f p99_us=%.1f min_us=%.1f\n", what, size, n,
           median, v[i99 - 1], v[0]);
    fflush(stdout);
}

static int parse_long(const char *s, long lo, long hi, const char *what, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "bench_rtt: %s must be %ld to %ld, not \"%s\"\n", what, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

static size_t warmup_of(size_t n) { return n / 10 < 200 ? n / 10 : 200; }

static void set_nodelay(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Connect a blocking TCP socket with TCP_NODELAY and a receive timeout.
 * Returns the fd, or -1 with the cause printed. */
static int dial(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int fd = -1;
    int r = getaddrinfo(host, port, &hints, &ai);
    if (r != 0) {
        fprintf(stderr, "bench_rtt: %s:%s: %s\n", host, port, gai_strerror(r));
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        fprintf(stderr, "bench_rtt: cannot connect to %s:%s: %s\n", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    set_nodelay(fd);
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "bench_rtt: send: %s\n", w < 0 ? strerror(errno) : "no progress");
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Why a recv() returned n <= 0. */
static const char *recv_error(ssize_t n)
{
    if (n == 0)
        return "connection closed";
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return "no answer in time";
    return strerror(errno);
}

static int read_all(int fd, uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "bench_rtt: recv: %s\n", recv_error(n));
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- echo ---- */

static void echo_client(int fd)
{
    static uint8_t b[READ_CHUNK];
    set_nodelay(fd);
    for (;;) {
        ssize_t n = recv(fd, b, sizeof b, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || write_all(fd, b, (size_t)n) != 0)
            break;
    }
    close(fd);
}

static int cmd_echo(int argc, char **argv)
{
    long port;
    int one = 1;
    if (argc != 3 || parse_long(argv[2], 1, 65535, "PORT", &port) != 0)
        return 2;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 4) != 0) {
        fprintf(stderr, "bench_rtt echo: cannot listen on port %ld: %s\n", port, strerror(errno));
        return 1;
    }
    printf("bench_rtt echo: listening on port %ld\n", port);
    fflush(stdout);
    /* Bounded: a few clients, a limited lifetime, then exit by itself. */
    double deadline = now_us() + ECHO_LIFETIME_S * 1e6;
    for (int served = 0; served < ECHO_MAX_CLIENT;) {
        double left_ms = (deadline - now_us()) / 1e3;
        if (left_ms <= 0)
            break;
        struct pollfd pfd = {.fd = lfd, .events = POLLIN};
        int r = poll(&pfd, 1, (int)left_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        int cfd = accept(lfd, NULL, NULL);
        if (cfd < 0)
            continue;
        struct timeval tv = {.tv_sec = IO_TIMEOUT_S * 3};
        (void)setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        echo_client(cfd);
        served++;
    }
    close(lfd);
    return 0;
}

/* ---- bare TCP ping-pong ---- */

static int cmd_tcp(int argc, char **argv)
{
    long size, n;
    int ret = 1;
    if (argc != 6 || parse_long(argv[4], 1, MAX_SIZE, "SIZE", &size) != 0 ||
        parse_long(argv[5], 1, MAX_N, "N", &n) != 0)
        return 2;
    uint8_t *out = malloc((size_t)size), *in = malloc((size_t)size);
    double *rtt = calloc((size_t)n, sizeof *rtt);
    int fd = out && in && rtt ? dial(argv[2], argv[3]) : -1;
    if (fd < 0)
        goto out;
    memset(out, 0xa5, (size_t)size);
    size_t warm = warmup_of((size_t)n);
    for (size_t i = 0; i < warm + (size_t)n; i++) {
        out[0] = (uint8_t)i;
        double t = now_us();
        if (write_all(fd, out, (size_t)size) != 0 || read_all(fd, in, (size_t)size) != 0)
            goto out;
        double dt = now_us() - t;
        if (in[0] != out[0]) {
            fprintf(stderr, "bench_rtt tcp: echo returned other bytes\n");
            goto out;
        }
        if (i >= warm)
            rtt[i - warm] = dt;
    }
    report("tcp", (size_t)size, rtt, (size_t)n);
    ret = 0;
out:
    if (fd >= 0)
        close(fd);
    free(out);
    free(in);
    free(rtt);
    return ret;
}

/* ---- Banter client ---- */

typedef struct client {
    int fd;
    session *s;
    identity *id;
    size_t in_off, in_len;
    uint8_t in[READ_CHUNK];
    size_t last_frame; /* wire size of the last message queued */
} client;

/* Write everything the session queued. */
static int client_flush(client *c)
{
    size_t len;
    const uint8_t *p;
    while ((p = session_out(c->s, &len)) != NULL) {
        if (write_all(c->fd, p, len) != 0)
            return -1;
        session_out_consume(c->s, len);
    }
    return 0;
}

static int client_send(client *c, const msg *m)
{
    size_t before, after;
    (void)session_out(c->s, &before);
    int r = session_send_msg(c->s, m);
    if (r) {
        fprintf(stderr, "bench_rtt: cannot send %s: %s\n", msg_type_name(m->type),
                banter_strerror(r));
        return -1;
    }
    (void)session_out(c->s, &after);
    c->last_frame = after - before;
    return client_flush(c);
}

/*
 * Wait for the next session event. Returns 1 with *ev set, or -1 on error
 * (printed). A MESSAGE event's data is valid until the next call.
 */
static int client_next(client *c, session_event *ev)
{
    for (;;) {
        size_t used;
        int r = session_feed(c->s, c->in + c->in_off, c->in_len - c->in_off, &used, ev);
        c->in_off += used;
        if (r < 0) {
            fprintf(stderr, "bench_rtt: session: %s\n", banter_strerror(r));
            return -1;
        }
        if (client_flush(c) != 0) /* handshake replies */
            return -1;
        if (r == 1)
            return 1;
        ssize_t n = recv(c->fd, c->in, sizeof c->in, 0);
        if (n < 0 && errno == EINTR)
            n = recv(c->fd, c->in, sizeof c->in, 0);
        if (n <= 0) {
            fprintf(stderr, "bench_rtt: node: %s\n", recv_error(n));
            return -1;
        }
        c->in_off = 0;
        c->in_len = (size_t)n;
    }
}

/* Wait for a message of type want (and, for ACK, with id; for PONG, with
 * token). Anything else the node sends is answered if it is a PING and
 * otherwise ignored. 0 or -1. */
static int client_await(client *c, msg_type want, uint64_t token, const uint8_t *id)
{
    for (;;) {
        session_event ev;
        msg m;
        if (client_next(c, &ev) < 0)
            return -1;
        if (ev.type != SESSION_EV_MESSAGE || msg_decode(&m, ev.data, ev.len) != 0)
            continue;
        bool hit = m.type == want;
        if (hit && want == MSG_PONG)
            hit = m.u.ping.token == token;
        else if (hit && want == MSG_ACK)
            hit = memcmp(m.u.ack.id, id, MSG_ID_LEN) == 0;
        int r = 0;
        if (m.type == MSG_PING) {
            msg pong = {.type = MSG_PONG, .u.ping.token = m.u.ping.token};
            r = client_send(c, &pong);
        } else if (m.type == MSG_BYE) {
            fprintf(stderr, "bench_rtt: node said BYE: %s\n", m.u.bye.reason);
            r = -1;
        } else if (m.type == MSG_ERROR) {
            fprintf(stderr, "bench_rtt: node refused a message: %s %s\n", m.u.error.code,
                    m.u.error.message);
        }
        msg_clear(&m);
        if (r)
            return r;
        if (hit)
            return 0;
    }
}

/* The fingerprint's digits only, for comparing what a person typed. */
static void fp_digits(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (; *in && o + 1 < cap; in++)
        if (*in >= '0' && *in <= '9')
            out[o++] = *in;
    out[o] = '\0';
}

/* 0 when the established peer has fingerprint expect (or expect is NULL). */
static int check_fp(const client *c, const char *expect)
{
    char fp[IDENTITY_FP_LEN + 1], a[IDENTITY_FP_LEN + 1], b[IDENTITY_FP_LEN + 1];
    if (!expect)
        return 0;
    identity_fingerprint(session_peer(c->s), fp);
    fp_digits(fp, a, sizeof a);
    fp_digits(expect, b, sizeof b);
    if (strcmp(a, b) == 0)
        return 0;
    fprintf(stderr, "bench_rtt: the peer's fingerprint is %s, not the expected %s\n", fp, expect);
    return -1;
}

static int client_open(client *c, const char *host, const char *port, const char *expect_fp)
{
    banter_rng rng = bcrypto_rng_system();
    session_event ev;
    int r = identity_generate(&c->id, rng);
    if (r) {
        fprintf(stderr, "bench_rtt: identity: %s\n", banter_strerror(r));
        return -1;
    }
    session_config cfg = {.role = NOISE_INITIATOR, .id = c->id, .rng = rng};
    r = session_new(&c->s, &cfg);
    if (r) {
        fprintf(stderr, "bench_rtt: session: %s\n", banter_strerror(r));
        return -1;
    }
    c->fd = dial(host, port);
    if (c->fd < 0 || client_flush(c) != 0)
        return -1;
    do {
        if (client_next(c, &ev) < 0)
            return -1;
    } while (ev.type != SESSION_EV_ESTABLISHED);
    if (check_fp(c, expect_fp) != 0)
        return -1;
    msg hello = {.type = MSG_HELLO};
    hello.u.hello.version = SESSION_VERSION;
    snprintf(hello.u.hello.name, sizeof hello.u.hello.name, "bench_rtt");
    return client_send(c, &hello);
}

static void client_close(client *c)
{
    if (c->s && c->fd >= 0 && session_established(c->s)) {
        msg bye = {.type = MSG_BYE};
        snprintf(bye.u.bye.reason, sizeof bye.u.bye.reason, "benchmark done");
        (void)client_send(c, &bye);
    }
    if (c->fd >= 0)
        close(c->fd);
    session_free(c->s);
    identity_free(c->id);
}

static int bench_ping(client *c, size_t n, double *rtt)
{
    size_t warm = warmup_of(n), size = 0;
    for (size_t i = 0; i < warm + n; i++) {
        msg ping = {.type = MSG_PING, .u.ping.token = 0x62656e6300000000u + i};
        double t = now_us();
        if (client_send(c, &ping) != 0 || client_await(c, MSG_PONG, ping.u.ping.token, NULL) != 0)
            return -1;
        double dt = now_us() - t;
        size = c->last_frame;
        if (i >= warm)
            rtt[i - warm] = dt;
    }
    report("banter_ping", size, rtt, n);
    return 0;
}

static int bench_chat(client *c, size_t n, double *rtt)
{
    banter_rng rng = bcrypto_rng_system();
    char body[CHAT_BODY_LEN];
    size_t warm = warmup_of(n) < 20 ? warmup_of(n) : 20, size = 0;
    memset(body, 'b', sizeof body);
    for (size_t i = 0; i < warm + n; i++) {
        uint8_t id[MSG_ID_LEN];
        msg chat;
        struct timespec ts;
        rng.fill(rng.ctx, id, sizeof id);
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        if (msg_chat_init(&chat, id, ms, body, sizeof body, false) != 0)
            return -1;
        double t = now_us();
        int r = client_send(c, &chat);
        msg_clear(&chat);
        if (r != 0 || client_await(c, MSG_ACK, 0, id) != 0)
            return -1;
        double dt = now_us() - t;
        size = c->last_frame;
        if (i >= warm)
            rtt[i - warm] = dt;
    }
    report("banter_chat", size, rtt, n);
    return 0;
}

static int cmd_banter(int argc, char **argv)
{
    client c = {.fd = -1};
    const char *expect_fp = NULL;
    bool ping_only = false;
    long n;
    int ret = 1, i = 2;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--expect-fp") == 0 && i + 1 < argc)
            expect_fp = argv[++i];
        else if (strcmp(argv[i], "--ping-only") == 0)
            ping_only = true;
        else
            return 2;
    }
    if (argc - i != 3 || parse_long(argv[i + 2], 1, MAX_N, "N", &n) != 0)
        return 2;
    double *rtt = calloc((size_t)n, sizeof *rtt);
    if (!rtt || bcrypto_init() != 0 || client_open(&c, argv[i], argv[i + 1], expect_fp) != 0)
        goto out;
    if (bench_ping(&c, (size_t)n, rtt) != 0 || (!ping_only && bench_chat(&c, (size_t)n, rtt) != 0))
        goto out;
    ret = 0;
out:
    client_close(&c);
    free(rtt);
    return ret;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_rtt echo PORT\n"
               "       bench_rtt tcp HOST PORT SIZE N\n"
               "       bench_rtt banter [--expect-fp FP] [--ping-only] HOST PORT N\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        printf("bench_rtt: node round trip needs two namespaces; run by bench/bench_node.sh\n");
        return 0;
    }
    if (strcmp(argv[1], "echo") == 0)
        return cmd_echo(argc, argv);
    if (strcmp(argv[1], "tcp") == 0)
        return cmd_tcp(argc, argv);
    if (strcmp(argv[1], "banter") == 0)
        return cmd_banter(argc, argv);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
