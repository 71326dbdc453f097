/* SPDX-License-Identifier: MIT */
/* client.c - a blocking client of the rendezvous server (see client.h). */
#include "client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "icert.h"
#include "msg.h"
#include "session.h"

#define IN_BUF 65536

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct aclient {
    int fd;
    session *s;
    int timeout_ms;
    size_t in_off, in_len;
    uint8_t in[IN_BUF];
};

int aclient_fp_digits(const char *typed, char out[static IDENTITY_FP_DIGITS + 1])
{
    size_t n = 0;
    for (const char *p = typed; *p; p++) {
        if (*p >= '0' && *p <= '9' && n < IDENTITY_FP_DIGITS)
            out[n++] = *p;
        else if (*p != ' ' && *p != '-')
            return BANTER_EINVAL;
    }
    out[n] = '\0';
    return n == IDENTITY_FP_DIGITS && strlen(typed) >= n ? 0 : BANTER_EINVAL;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int dial(const aclient_config *cfg, char *why, size_t cap)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int r = getaddrinfo(cfg->host, cfg->port, &hints, &ai);
    if (r != 0) {
        snprintf(why, cap, "cannot resolve %s: %s", cfg->host, gai_strerror(r));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            err = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        snprintf(why, cap, "cannot connect to %s:%s: %s", cfg->host, cfg->port, strerror(err));
        return -1;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Write everything the session queued. */
static int flush_out(aclient *c, char *why, size_t cap)
{
    size_t len;
    const uint8_t *b;
    while ((b = session_out(c->s, &len)) != NULL) {
        ssize_t w = send(c->fd, b, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(why, cap, "the server closed the connection");
            return BANTER_EIO;
        }
        session_out_consume(c->s, (size_t)w);
    }
    return 0;
}

/* The next session event within the timeout. */
static int next_event(aclient *c, session_event *ev, char *why, size_t cap)
{
    int64_t deadline = mono_ms() + c->timeout_ms;
    for (;;) {
        size_t used;
        int r = session_feed(c->s, c->in + c->in_off, c->in_len - c->in_off, &used, ev);
        c->in_off += used;
        if (r < 0) {
            snprintf(why, cap, "the connection failed: %s", banter_strerror(r));
            return r;
        }
        int e = flush_out(c, why, cap);
        if (e)
            return e;
        if (r == 1)
            return 0;
        int64_t left = deadline - mono_ms();
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int pr = left > 0 ? poll(&pfd, 1, (int)left) : 0;
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0) {
            snprintf(why, cap, "the server did not answer within %d ms", c->timeout_ms);
            return BANTER_ETIMEDOUT;
        }
        ssize_t n = pr < 0 ? -1 : recv(c->fd, c->in, sizeof c->in, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(why, cap, "the server closed the connection");
            return BANTER_EPROTO;
        }
        c->in_off = 0;
        c->in_len = (size_t)n;
    }
}

static int send_msg(aclient *c, const msg *m, char *why, size_t cap)
{
    int r = session_send_msg(c->s, m);
    if (r) {
        snprintf(why, cap, "cannot send: %s", banter_strerror(r));
        return r;
    }
    return flush_out(c, why, cap);
}

/* A plaintext that is not the answer waited for: PING is answered, BYE
 * and ERROR end the wait (BANTER_EPROTO with the server's words), the rest
 * is skipped (0). */
static int other_message(aclient *c, const uint8_t *pt, size_t len, char *why, size_t cap)
{
    msg m;
    if (msg_decode(&m, pt, len) != 0)
        return 0;
    int r = 0;
    if (m.type == MSG_PING) {
        msg pong = {.type = MSG_PONG, .u.ping.token = m.u.ping.token};
        r = send_msg(c, &pong, why, cap);
    } else if (m.type == MSG_BYE) {
        snprintf(why, cap, "the server ended the connection: %s", m.u.bye.reason);
        r = BANTER_EPROTO;
    } else if (m.type == MSG_ERROR) {
        snprintf(why, cap, "the server refused the request: %s (%s)", m.u.error.message,
                 m.u.error.code);
        r = BANTER_EPROTO;
    }
    msg_clear(&m);
    return r;
}

/* After a handshake with another key than the pinned one: NULL when the
 * first message is an instance certificate for that key from the pinned
 * key, valid now; "" when it is not a certificate at all (the caller says
 * the plain mismatch); otherwise a non-empty marker, the reason in why. */
static const char *instance_refusal(aclient *c, const aclient_config *cfg, char *why, size_t cap)
{
    session_event ev;
    icert ic;
    char fp[IDENTITY_FP_LEN + 1], fpd[IDENTITY_FP_DIGITS + 1];
    if (next_event(c, &ev, why, cap) != 0 || ev.type != SESSION_EV_MESSAGE || ev.len == 0 ||
        ev.data[0] != ICERT_TYPE)
        return "";
    int e = icert_decode(&ic, ev.data + 1, ev.len - 1);
    if (e) {
        snprintf(why, cap, "the server's instance certificate is not valid: %s",
                 banter_strerror(e));
        return "x";
    }
    identity_fingerprint(ic.org, fp);
    if (aclient_fp_digits(fp, fpd) != 0 || strcmp(fpd, cfg->pin) != 0) {
        snprintf(why, cap,
                 "the server's instance certificate is signed by %s, not by the pinned key "
                 "(someone may be in the middle)",
                 fp);
        return "x";
    }
    e = icert_check(&ic, ic.org, session_peer(c->s), wall_ms());
    if (e) {
        snprintf(why, cap, "the server's instance certificate %s",
                 e == BANTER_EKEYMISMATCH ? "is for another key"
                                          : "has expired or is not valid yet (check the clocks)");
        return "x";
    }
    return NULL;
}

static int handshake(aclient *c, const aclient_config *cfg, char *why, size_t cap)
{
    session_event ev;
    int r = flush_out(c, why, cap);
    do {
        if (r == 0)
            r = next_event(c, &ev, why, cap);
    } while (r == 0 && ev.type != SESSION_EV_ESTABLISHED);
    if (r)
        return r;
    char fp[IDENTITY_FP_LEN + 1], fpd[IDENTITY_FP_DIGITS + 1];
    identity_fingerprint(session_peer(c->s), fp);
    if (cfg->pin && (aclient_fp_digits(fp, fpd) != 0 || strcmp(fpd, cfg->pin) != 0)) {
        /* One instance of the pinned service: its first message is a
         * certificate for its key from the pinned one (docs/rendezvous.md
         * section 15.2). */
        const char *bad = instance_refusal(c, cfg, why, cap);
        if (!bad)
            goto hello;
        if (bad[0]) /* why holds the reason */
            return BANTER_EKEYMISMATCH;
        snprintf(why, cap,
                 "the server's key is not the pinned one: it has fingerprint %s (someone may "
                 "be in the middle; if the server's key really changed, pin the new one)",
                 fp);
        return BANTER_EKEYMISMATCH;
    }
hello:;
    msg h = {.type = MSG_HELLO};
    h.u.hello.version = SESSION_VERSION;
    snprintf(h.u.hello.name, sizeof h.u.hello.name, "banter-admin");
    snprintf(h.u.hello.features[0], sizeof h.u.hello.features[0], "admin");
    h.u.hello.nfeatures = 1;
    return send_msg(c, &h, why, cap);
}

int aclient_open(aclient **out, const aclient_config *cfg, char *why, size_t cap)
{
    *out = NULL;
    aclient *c = calloc(1, sizeof *c);
    if (!c)
        return BANTER_ENOMEM;
    c->timeout_ms = cfg->timeout_ms;
    session_config sc = {.role = NOISE_INITIATOR, .id = cfg->id, .rng = bcrypto_rng_system()};
    int r = session_new(&c->s, &sc);
    if (r) {
        snprintf(why, cap, "cannot start a session: %s", banter_strerror(r));
        free(c);
        return r;
    }
    c->fd = dial(cfg, why, cap);
    r = c->fd < 0 ? BANTER_EIO : handshake(c, cfg, why, cap);
    if (r) {
        if (c->fd >= 0)
            close(c->fd);
        session_free(c->s);
        free(c);
        return r;
    }
    *out = c;
    return 0;
}

int aclient_request(aclient *c, const adm_request *rq, adm_result *res, char *why, size_t cap)
{
    buf b;
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    int r = adm_request_encode(rq, &b);
    if (r == 0)
        r = session_send(c->s, buf_data(&b), buf_len(&b));
    buf_free(&b);
    if (r) {
        snprintf(why, cap, "cannot send the request: %s", banter_strerror(r));
        return r;
    }
    if ((r = flush_out(c, why, cap)) != 0)
        return r;
    for (;;) {
        session_event ev;
        r = next_event(c, &ev, why, cap);
        if (r)
            return r;
        if (ev.type != SESSION_EV_MESSAGE || ev.len == 0)
            continue;
        if (ev.data[0] != ADM_RESULT) {
            r = other_message(c, ev.data, ev.len, why, cap);
            if (r)
                return r;
            continue;
        }
        r = adm_result_decode(res, ev.data, ev.len);
        if (r) {
            snprintf(why, cap, "the server's answer is malformed: %s", banter_strerror(r));
            return r;
        }
        if (res->id == rq->id)
            return 0;
        adm_result_clear(res);
    }
}

void aclient_free(aclient *c)
{
    if (!c)
        return;
    char why[64];
    msg bye = {.type = MSG_BYE};
    snprintf(bye.u.bye.reason, sizeof bye.u.bye.reason, "done");
    if (session_established(c->s))
        (void)send_msg(c, &bye, why, sizeof why);
    close(c->fd);
    session_free(c->s);
    free(c);
}
