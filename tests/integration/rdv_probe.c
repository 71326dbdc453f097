/* SPDX-License-Identifier: MIT */
/*
 * rdv_probe.c - a scripted Banter client for the rendezvous tests
 * (tests/integration/test_rendezvous_basic.sh).
 *
 *   rdv_probe [--expect-fp FP] HOST PORT STEP...
 *
 * Connects, completes the handshake under a fresh random identity and
 * prints "fingerprint <fp>" (the key the server proved). With --expect-fp a
 * different fingerprint ends the run (exit 1). Then it runs the steps in
 * order, without waiting in between unless told:
 *
 *   hello      send HELLO (name "rdv_probe")
 *   ping       send PING
 *   bye        send BYE
 *   type=HH    send a plaintext made of the one type byte HH (hex)
 *   mute       stop answering the server's PINGs
 *   wait=MS    print what arrives for MS milliseconds
 *
 * and finally prints what arrives until the server closes the connection or
 * nothing came for 1 s. What arrives is printed one line each:
 *
 *   recv hello name=<name> features=<f1,f2>
 *   recv error <code>
 *   recv pong | recv ping | recv bye <reason> | recv <type name>
 *   recv undecodable <error name>
 *   closed            the server ended the stream
 *   closed <ERRNAME>  the session failed (a bad frame, a bad tag)
 *   quiet             nothing for 1 s, the connection still open
 *
 * PINGs from the server are answered (until mute). Text from the server is printed with
 * bytes outside printable ASCII as \xNN. Exit: 0 when the handshake
 * completed (whatever came after), 1 when it did not or the fingerprint
 * differs, 2 on bad usage.
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
#include <time.h>
#include <unistd.h>

#include "bcrypto.h"
#include "identity.h"
#include "msg.h"
#include "session.h"

#define CONNECT_MS 5000
#define QUIET_MS   1000
#define READ_CHUNK 65536
#define SAFE_MAX   (4 * 300 + 1)

typedef struct probe {
    int fd;
    session *s;
    identity *id;
    bool closed;
    bool mute;
    uint64_t token;
    size_t in_off, in_len;
    uint8_t in[READ_CHUNK];
} probe;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* s with bytes outside printable ASCII as \xNN. */
static void safe(char out[static SAFE_MAX], const char *s)
{
    size_t o = 0;
    for (const unsigned char *u = (const unsigned char *)s; *u && o + 5 < SAFE_MAX; u++) {
        if (*u < 0x20 || *u >= 0x7f)
            o += (size_t)snprintf(out + o, 5, "\\x%02x", *u);
        else
            out[o++] = (char)*u;
    }
    out[o] = '\0';
}

static void say(const char *line)
{
    printf("%s\n", line);
    fflush(stdout);
}

static int dial(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int r = getaddrinfo(host, port, &hints, &ai);
    if (r != 0) {
        fprintf(stderr, "rdv_probe: %s:%s: %s\n", host, port, gai_strerror(r));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        fprintf(stderr, "rdv_probe: cannot connect to %s:%s: %s\n", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Write what the session queued. A failed write (the server closed) is
 * not an error of the probe: what the server said before is still read. */
static void flush_out(probe *p)
{
    size_t len;
    const uint8_t *b;
    while (!p->closed && (b = session_out(p->s, &len)) != NULL) {
        ssize_t w = send(p->fd, b, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            say("send failed");
            return;
        }
        session_out_consume(p->s, (size_t)w);
    }
}

/* The next session event before deadline. 1 with *ev, 0 on timeout, -1
 * when the connection ended (printed as "closed"). */
static int next_event(probe *p, session_event *ev, int64_t deadline)
{
    char line[64];
    for (;;) {
        size_t used;
        int r = session_feed(p->s, p->in + p->in_off, p->in_len - p->in_off, &used, ev);
        p->in_off += used;
        if (r < 0) {
            snprintf(line, sizeof line, "closed %s", banter_errname(r));
            say(line);
            return -1;
        }
        flush_out(p);
        if (r == 1)
            return 1;
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0)
            return 0;
        ssize_t n = pr < 0 ? -1 : recv(p->fd, p->in, sizeof p->in, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            say("closed");
            return -1;
        }
        p->in_off = 0;
        p->in_len = (size_t)n;
    }
}

static void send_msg(probe *p, const msg *m)
{
    int r = session_send_msg(p->s, m);
    if (r)
        fprintf(stderr, "rdv_probe: cannot send %s: %s\n", msg_type_name((int)m->type),
                banter_strerror(r));
    flush_out(p);
}

/* Print one message from the server; answer a PING. */
static void show(probe *p, const uint8_t *pt, size_t len)
{
    char line[2 * SAFE_MAX + 64], a[SAFE_MAX], b[SAFE_MAX], c[SAFE_MAX];
    msg m;
    int r = msg_decode(&m, pt, len);
    if (r) {
        snprintf(line, sizeof line, "recv undecodable %s", banter_errname(r));
        say(line);
        return;
    }
    if (m.type == MSG_HELLO) {
        size_t o = 0;
        b[0] = '\0';
        for (size_t i = 0; i < m.u.hello.nfeatures && o < sizeof b / 2; i++)
            o += (size_t)snprintf(b + o, sizeof b - o, "%s%s", i ? "," : "", m.u.hello.features[i]);
        safe(a, m.u.hello.name);
        safe(c, b);
        snprintf(line, sizeof line, "recv hello name=%s features=%s", a, c);
    } else if (m.type == MSG_ERROR) {
        safe(a, m.u.error.code);
        snprintf(line, sizeof line, "recv error %s", a);
    } else if (m.type == MSG_BYE) {
        safe(a, m.u.bye.reason);
        snprintf(line, sizeof line, "recv bye %s", a);
    } else {
        snprintf(line, sizeof line, "recv %s", msg_type_name((int)m.type));
    }
    say(line);
    if (m.type == MSG_PING && !p->mute) {
        msg pong = {.type = MSG_PONG, .u.ping.token = m.u.ping.token};
        send_msg(p, &pong);
    }
    msg_clear(&m);
}

/* Print what arrives for ms; with until_quiet, until nothing came for ms. */
static void drain(probe *p, int ms, bool until_quiet)
{
    int64_t deadline = mono_ms() + ms;
    while (!p->closed) {
        session_event ev;
        int r = next_event(p, &ev, deadline);
        if (r < 0) {
            p->closed = true;
        } else if (r == 0) {
            if (until_quiet)
                say("quiet");
            return;
        } else if (ev.type == SESSION_EV_MESSAGE) {
            show(p, ev.data, ev.len);
            if (until_quiet)
                deadline = mono_ms() + ms;
        }
    }
}

static int open_probe(probe *p, const char *host, const char *port, const char *expect)
{
    banter_rng rng = bcrypto_rng_system();
    char fp[IDENTITY_FP_LEN + 1], line[IDENTITY_FP_LEN + 16];
    session_event ev;
    if (identity_generate(&p->id, rng) != 0)
        return -1;
    session_config cfg = {.role = NOISE_INITIATOR, .id = p->id, .rng = rng};
    if (session_new(&p->s, &cfg) != 0)
        return -1;
    p->fd = dial(host, port);
    if (p->fd < 0)
        return -1;
    flush_out(p);
    int64_t deadline = mono_ms() + CONNECT_MS;
    do {
        int r = next_event(p, &ev, deadline);
        if (r == 0)
            fprintf(stderr, "rdv_probe: no handshake in %d ms\n", CONNECT_MS);
        if (r <= 0)
            return -1;
    } while (ev.type != SESSION_EV_ESTABLISHED);
    identity_fingerprint(session_peer(p->s), fp);
    snprintf(line, sizeof line, "fingerprint %s", fp);
    say(line);
    if (expect && !identity_fingerprint_has_prefix(fp, expect)) {
        fprintf(stderr, "rdv_probe: the server's fingerprint is %s, not %s\n", fp, expect);
        return -1;
    }
    return 0;
}

/* One step; 0, or -1 for a step that is not one (usage). */
static int step(probe *p, const char *s)
{
    msg m = {0};
    char *end;
    if (strcmp(s, "hello") == 0) {
        m.type = MSG_HELLO;
        m.u.hello.version = SESSION_VERSION;
        snprintf(m.u.hello.name, sizeof m.u.hello.name, "rdv_probe");
        send_msg(p, &m);
    } else if (strcmp(s, "ping") == 0) {
        m.type = MSG_PING;
        m.u.ping.token = ++p->token;
        send_msg(p, &m);
    } else if (strcmp(s, "mute") == 0) {
        p->mute = true;
    } else if (strcmp(s, "bye") == 0) {
        m.type = MSG_BYE;
        send_msg(p, &m);
    } else if (strncmp(s, "type=", 5) == 0) {
        unsigned long t = strtoul(s + 5, &end, 16);
        if (end == s + 5 || *end || t > 0xff)
            return -1;
        uint8_t b = (uint8_t)t;
        if (session_send(p->s, &b, 1) != 0)
            fprintf(stderr, "rdv_probe: cannot send type %02x\n", b);
        flush_out(p);
    } else if (strncmp(s, "wait=", 5) == 0) {
        long ms = strtol(s + 5, &end, 10);
        if (end == s + 5 || *end || ms < 0 || ms > 600000)
            return -1;
        drain(p, (int)ms, false);
    } else {
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    probe p = {.fd = -1};
    const char *expect = NULL;
    int i = 1, ret = 1;
    if (argc > 2 && strcmp(argv[1], "--expect-fp") == 0) {
        expect = argv[2];
        i = 3;
    }
    if (argc - i < 2) {
        fprintf(stderr, "usage: rdv_probe [--expect-fp FP] HOST PORT STEP...\n");
        return 2;
    }
    if (bcrypto_init() != 0 || open_probe(&p, argv[i], argv[i + 1], expect) != 0)
        goto out;
    ret = 0;
    for (int k = i + 2; k < argc; k++) {
        if (step(&p, argv[k]) != 0) {
            fprintf(stderr, "rdv_probe: unknown step \"%s\"\n", argv[k]);
            ret = 2;
            goto out;
        }
    }
    drain(&p, QUIET_MS, true);
out:
    if (p.fd >= 0)
        close(p.fd);
    session_free(p.s);
    identity_free(p.id);
    return ret;
}
