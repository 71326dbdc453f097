/* SPDX-License-Identifier: MIT */
/*
 * rdv_probe.c - a scripted Banter client for the rendezvous tests
 * (tests/integration/test_rendezvous_basic.sh).
 *
 *   rdv_probe [--expect-fp FP] [--key FILE] [--source ADDR] HOST PORT STEP...
 *
 * --key keeps the device identity in FILE (created when missing), so a
 * later run is the same device; --source binds the local address (another
 * 127.x address stands for another client to the server's rate limits).
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
 *   login=USER:PASSWORD   send RV_LOGIN, then print what arrives until
 *              its RV_AUTH (and certificate) or an ERROR (5 s at most)
 *   logout     send RV_LOGOUT
 *   profile=FIELD=VALUE   send RV_PROFILE_SET with that one field
 *   search=PAGE:PER_PAGE:CRIT[,CRIT...]  send RV_SEARCH; CRIT is
 *              FIELD=VALUE (eq) or FIELD~VALUE (contains); then wait for
 *              the answer
 *   logins=USER:PASSWORD:N  log in N times in a row and print
 *              "logins N ok K in MS ms" (a measurement)
 *
 * and finally prints what arrives until the server closes the connection or
 * nothing came for 1 s. What arrives is printed one line each:
 *
 *   recv hello name=<name> features=<f1,f2>
 *   recv error <code>
 *   recv pong | recv ping | recv bye <reason> | recv <type name>
 *   recv auth ok user=<name> admin=<0|1>
 *   recv auth fail error=<code> retry_after_ms=<ms>
 *   recv cert user=<name> server=<ok|other> device=<ok|other>
 *             check=<ERRNAME|ok> days=<validity in days>
 *   recv result total=<n> page=<p> users=<name,name...>
 *   recv user <name> display_name=<v> department=<v> title=<v>
 *             (one per user of a result, fields present only)
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
#include "rvmsg.h"
#include "session.h"

#define CONNECT_MS 5000
#define QUIET_MS   1000
#define READ_CHUNK 65536
#define SAFE_MAX   (4 * 300 + 1)

enum { AW_NONE, AW_LOGIN, AW_RESULT };

typedef struct probe {
    int fd;
    session *s;
    identity *id;
    bool closed;
    bool mute;
    int await;   /* AW_*: what ends the current wait */
    bool done;   /* the awaited answer came */
    bool authed; /* an RV_AUTH ok came */
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

static int dial(const char *host, const char *port, const char *source)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int r = getaddrinfo(host, port, &hints, &ai);
    if (r != 0) {
        fprintf(stderr, "rdv_probe: %s:%s: %s\n", host, port, gai_strerror(r));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct addrinfo *src = NULL;
    struct addrinfo shints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST};
    if (fd >= 0 && source &&
        (getaddrinfo(source, NULL, &shints, &src) != 0 ||
         bind(fd, src->ai_addr, src->ai_addrlen) != 0)) {
        fprintf(stderr, "rdv_probe: cannot bind to %s\n", source);
        close(fd);
        fd = -1;
    }
    if (src)
        freeaddrinfo(src);
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

/* A certificate: for us, from the server we talked to, valid now? */
static void show_cert(probe *p, const cert *c, char *line, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int r = cert_check(c, session_peer(p->s), identity_public(p->id), now);
    snprintf(line, cap, "recv cert user=%s server=%s device=%s check=%s days=%lld", c->name,
             memcmp(c->server, session_peer(p->s), 32) == 0 ? "ok" : "other",
             memcmp(c->device, identity_public(p->id), 32) == 0 ? "ok" : "other",
             r ? banter_errname(r) : "ok", (long long)((c->expires_ms - c->issued_ms) / 86400000));
}

static void show_result(const struct rv_search_result *res, char *line, size_t cap)
{
    char a[SAFE_MAX], b[SAFE_MAX], c[SAFE_MAX], u[3 * SAFE_MAX + BANTER_MAX_NAME + 128];
    size_t o = (size_t)snprintf(line, cap, "recv result total=%llu page=%u users=",
                                (unsigned long long)res->total, res->page);
    for (size_t i = 0; i < res->n && o < cap; i++)
        o += (size_t)snprintf(line + o, cap - o, "%s%s", i ? "," : "", res->users[i].name);
    say(line);
    for (size_t i = 0; i < res->n; i++) {
        const struct rv_profile *pr = &res->users[i].p;
        safe(a, pr->f[RV_F_DISPLAY_NAME] ? pr->f[RV_F_DISPLAY_NAME] : "-");
        safe(b, pr->f[RV_F_DEPARTMENT] ? pr->f[RV_F_DEPARTMENT] : "-");
        safe(c, pr->f[RV_F_TITLE] ? pr->f[RV_F_TITLE] : "-");
        snprintf(u, sizeof u, "recv user %s display_name=%s department=%s title=%s%s",
                 res->users[i].name, a, b, c, pr->f[RV_F_EMAIL] ? " email=present" : "");
        say(u);
    }
    line[0] = '\0';
}

/* Print one rendezvous message. */
static void show_rv(probe *p, const uint8_t *pt, size_t len)
{
    char line[4 * SAFE_MAX + 64], a[SAFE_MAX];
    rvmsg m;
    int r = rvmsg_decode(&m, pt, len);
    if (r) {
        snprintf(line, sizeof line, "recv undecodable %s", banter_errname(r));
        say(line);
        return;
    }
    if (m.type == RV_AUTH && m.u.auth.ok) {
        snprintf(line, sizeof line, "recv auth ok user=%s admin=%d", m.u.auth.user,
                 m.u.auth.admin ? 1 : 0);
        p->authed = true;
    } else if (m.type == RV_AUTH) {
        safe(a, m.u.auth.error);
        snprintf(line, sizeof line, "recv auth fail error=%s retry_after_ms=%lld", a,
                 (long long)m.u.auth.retry_after_ms);
        p->authed = false;
        p->done |= p->await == AW_LOGIN;
    } else if (m.type == RV_CERT) {
        show_cert(p, &m.u.cert, line, sizeof line);
        p->done |= p->await == AW_LOGIN;
    } else if (m.type == RV_SEARCH_RESULT) {
        show_result(&m.u.result, line, sizeof line);
        p->done |= p->await == AW_RESULT;
    } else {
        snprintf(line, sizeof line, "recv rv type %02x", (unsigned)m.type);
    }
    if (line[0])
        say(line);
    rvmsg_clear(&m);
}

/* Print one message from the server; answer a PING. */
static void show(probe *p, const uint8_t *pt, size_t len)
{
    char line[2 * SAFE_MAX + 64], a[SAFE_MAX], b[SAFE_MAX], c[SAFE_MAX];
    msg m;
    if (len > 0 && rvmsg_owns(pt[0])) {
        show_rv(p, pt, len);
        return;
    }
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
        p->done |= p->await != AW_NONE;
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
            if (p->await != AW_NONE && p->done)
                return;
        }
    }
}

struct opts {
    const char *expect, *key, *source;
};

static int open_probe(probe *p, const char *host, const char *port, const struct opts *o)
{
    banter_rng rng = bcrypto_rng_system();
    char fp[IDENTITY_FP_LEN + 1], line[IDENTITY_FP_LEN + 16];
    const char *expect = o->expect;
    session_event ev;
    bool created;
    if (o->key ? identity_load_or_create(&p->id, o->key, rng, &created) != 0
               : identity_generate(&p->id, rng) != 0)
        return -1;
    session_config cfg = {.role = NOISE_INITIATOR, .id = p->id, .rng = rng};
    if (session_new(&p->s, &cfg) != 0)
        return -1;
    p->fd = dial(host, port, o->source);
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

/* Send an rvmsg; 0 or -1 (the codec refused it). */
static int send_rv(probe *p, const rvmsg *m)
{
    buf b;
    buf_init(&b, 65536);
    int r = rvmsg_encode(m, &b);
    if (r == 0)
        r = session_send(p->s, buf_data(&b), buf_len(&b));
    buf_free(&b);
    if (r)
        fprintf(stderr, "rdv_probe: cannot send type %02x: %s\n", (unsigned)m->type,
                banter_strerror(r));
    flush_out(p);
    return r ? -1 : 0;
}

/* Wait up to 5 s for the answer of the kind aw. */
static void await_answer(probe *p, int aw)
{
    p->await = aw;
    p->done = false;
    drain(p, 5000, false);
    p->await = AW_NONE;
}

/* "USER:PASSWORD" into a login message. */
static int parse_login(const char *arg, rvmsg *m)
{
    const char *colon = strchr(arg, ':');
    m->type = RV_LOGIN;
    if (!colon || (size_t)(colon - arg) > BANTER_MAX_NAME || strlen(colon + 1) > RV_PASSWORD_MAX)
        return -1;
    memcpy(m->u.login.user, arg, (size_t)(colon - arg));
    snprintf(m->u.login.password, sizeof m->u.login.password, "%s", colon + 1);
    return 0;
}

/* "PAGE:PER_PAGE:CRIT[,CRIT...]" into a search. */
static int parse_search(const char *arg, struct rv_search *q)
{
    char tmp[1024], *save = NULL, *end;
    snprintf(tmp, sizeof tmp, "%s", arg);
    unsigned long page = strtoul(tmp, &end, 10);
    if (*end != ':')
        return -1;
    unsigned long per = strtoul(end + 1, &end, 10);
    if (*end != ':' || page > 1000000 || per > 1000)
        return -1;
    q->page = (uint32_t)page;
    q->per_page = (uint32_t)per;
    for (char *c = strtok_r(end + 1, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        char *op = strpbrk(c, "=~");
        if (!op || q->n >= RV_SEARCH_MAX)
            return -1;
        struct rv_criterion *cr = &q->c[q->n++];
        cr->contains = *op == '~';
        *op = '\0';
        if (rv_field_parse(c, &cr->field) != 0)
            return -1;
        snprintf(cr->value, sizeof cr->value, "%s", op + 1);
    }
    return 0;
}

/* "USER:PASSWORD:N": N logins in a row on this connection, timed. */
static int bench_logins(probe *p, const char *arg)
{
    char tmp[1200], line[128];
    rvmsg m = {0};
    snprintf(tmp, sizeof tmp, "%s", arg);
    char *last = strrchr(tmp, ':'), *end;
    if (!last)
        return -1;
    *last = '\0';
    long n = strtol(last + 1, &end, 10);
    if (*end || n < 1 || n > 100000 || parse_login(tmp, &m) != 0)
        return -1;
    long ok = 0;
    int64_t t0 = mono_ms();
    for (long i = 0; i < n && !p->closed; i++) {
        p->authed = false;
        if (send_rv(p, &m) != 0)
            break;
        await_answer(p, AW_LOGIN);
        ok += p->authed;
    }
    rvmsg_clear(&m);
    snprintf(line, sizeof line, "logins %ld ok %ld in %lld ms", n, ok, (long long)(mono_ms() - t0));
    say(line);
    return 0;
}

/* The rendezvous steps; 0, 1 when s is not one of them, -1 for bad usage. */
static int rv_step(probe *p, const char *s)
{
    rvmsg m = {0};
    int r = 0;
    if (strncmp(s, "login=", 6) == 0) {
        r = parse_login(s + 6, &m);
        if (r == 0 && send_rv(p, &m) == 0)
            await_answer(p, AW_LOGIN);
    } else if (strcmp(s, "logout") == 0) {
        m.type = RV_LOGOUT;
        (void)send_rv(p, &m);
    } else if (strncmp(s, "profile=", 8) == 0) {
        const char *eq = strchr(s + 8, '=');
        char name[32];
        rv_field f;
        snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - s - 8) : 0, s + 8);
        m.type = RV_PROFILE_SET;
        if (!eq || rv_field_parse(name, &f) != 0 || f == RV_F_COUNT)
            return -1;
        m.u.profile.f[f] = strdup(eq + 1);
        (void)send_rv(p, &m);
    } else if (strncmp(s, "search=", 7) == 0) {
        m.type = RV_SEARCH;
        r = parse_search(s + 7, &m.u.search);
        if (r == 0 && send_rv(p, &m) == 0)
            await_answer(p, AW_RESULT);
    } else if (strncmp(s, "logins=", 7) == 0) {
        r = bench_logins(p, s + 7);
    } else {
        return 1;
    }
    rvmsg_clear(&m);
    return r;
}

/* One step; 0, or -1 for a step that is not one (usage). */
static int step(probe *p, const char *s)
{
    msg m = {0};
    char *end;
    int rv = rv_step(p, s);
    if (rv <= 0)
        return rv;
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
    struct opts o = {0};
    int i = 1, ret = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--expect-fp") == 0)
            o.expect = argv[i + 1];
        else if (strcmp(argv[i], "--key") == 0)
            o.key = argv[i + 1];
        else if (strcmp(argv[i], "--source") == 0)
            o.source = argv[i + 1];
        else
            break;
    }
    if (argc - i < 2) {
        fprintf(stderr, "usage: rdv_probe [--expect-fp FP] [--key FILE] [--source ADDR] HOST "
                        "PORT STEP...\n");
        return 2;
    }
    if (bcrypto_init() != 0 || open_probe(&p, argv[i], argv[i + 1], &o) != 0)
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
