/* SPDX-License-Identifier: MIT */
/*
 * peer_probe.c - a scripted Banter peer for the node's integration tests:
 * it speaks the LAN protocol (docs/protocol.md) the way a test needs, well
 * or badly, on several connections at once under one identity.
 *
 *   peer_probe [--key FILE] HOST PORT STEP...
 *
 * --key FILE uses (or creates, 0600) that identity, so that two runs or
 * two connections are the same device; without it a fresh key is made.
 * Steps run in order on the "current" connection:
 *
 *   conn N            open connection N (handshake done) and make it current
 *   use N             make connection N current
 *   hello NAME        send HELLO
 *   chat TEXT         send a CHAT with a fresh id (prints "chat ID")
 *   expect TYPE MS    wait up to MS ms for a message of TYPE (ack, error,
 *                     bye, pong, file_decline...) on the current connection;
 *                     prints "got TYPE ..." or fails with exit 1
 *   wait MS           for MS ms, answer PINGs on every connection, print
 *                     what arrives ("got TYPE ..." with the connection)
 *   ping              send a PING
 *   partial N         send a frame header announcing 65535 bytes, then N
 *                     bytes of it (a frame that never completes)
 *   drip MS COUNT     send one more byte of that frame every MS ms, COUNT times
 *   drop N            close connection N without a word (no BYE, no FIN
 *                     first: an abrupt close)
 *   hold N            keep connection N open but never read it again (a
 *                     half-open connection, as a crashed peer leaves)
 *   offer NAME        send a FILE_OFFER of one 1024-byte file named NAME
 *   offers N          send N such offers ("fN.txt") as fast as the socket
 *                     takes them; then print "offers sent N rate R busy B
 *                     other O" after draining answers for 2 s (R, B: the
 *                     FILE_DECLINEs whose reason starts ERATE, EBUSY)
 *   flood N           send N CHATs as fast as the socket takes them; then
 *                     print "flood sent N acked A refused R" after draining
 *                     answers for 2 s
 *   raw TYPE JSON     send a plaintext of message type TYPE (decimal) and
 *                     body JSON as given, unchecked (for malformed messages)
 *   fp                print our fingerprint ("fp DIGITS")
 *
 * Exit: 0 when every step did what it said, 1 when one failed (the cause
 * on stderr), 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
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

#define MAXC       8
#define CONNECT_MS 5000

typedef struct pconn {
    int fd;
    session *s;
    bool held; /* never read again */
    tnet_in in;
} pconn;

static identity *me;
static pconn conns[MAXC];
static int cur_c = -1;
static const char *host, *port;

static int fail(const char *what)
{
    fprintf(stderr, "peer_probe: %s\n", what);
    return -1;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    return tnet_write_all(fd, p, len) != 0 ? fail("send failed") : 0;
}

static int flush_out(pconn *c) { return tnet_flush(c->fd, c->s) != 0 ? fail("send failed") : 0; }

static int send_msg(pconn *c, const msg *m)
{
    return session_send_msg(c->s, m) != 0 ? fail("cannot encode a message") : flush_out(c);
}

/* The next session event on c before deadline: 1 with *ev, 0 on timeout,
 * -1 when the connection ended or broke (printed unless the node closed it). */
static int next_event(pconn *c, session_event *ev, int64_t deadline)
{
    tnet_why why;
    int r = tnet_next(c->fd, c->s, &c->in, ev, deadline, &why);
    if (r < 0 && !(strcmp(why.op, "recv") == 0 && why.err == 0)) {
        char line[160];
        fail(tnet_strwhy(&why, line, sizeof line));
    }
    return r;
}

static void print_msg(int n, const msg *m)
{
    printf("got %s conn %d", msg_type_name((int)m->type), n);
    if (m->type == MSG_ERROR)
        printf(" %s %s", m->u.error.code, m->u.error.message);
    else if (m->type == MSG_BYE)
        printf(" %s", m->u.bye.reason);
    else if (m->type == MSG_FILE_DECLINE || m->type == MSG_FILE_CANCEL)
        printf(" %s", m->u.end.reason);
    else if (m->type == MSG_HELLO)
        printf(" %s", m->u.hello.name);
    printf("\n");
    fflush(stdout);
}

/* Handle one event on connection n: PING answered; 1 with m decoded when
 * it is a message the caller may want (m to be cleared), 0 otherwise. */
static int take(int n, const session_event *ev, msg *m)
{
    if (ev->type != SESSION_EV_MESSAGE || msg_decode(m, ev->data, ev->len) != 0)
        return 0;
    if (m->type == MSG_PING) {
        msg pong = {.type = MSG_PONG, .u.ping.token = m->u.ping.token};
        (void)send_msg(&conns[n], &pong);
    }
    return 1;
}

static int step_conn(int n)
{
    pconn *c = &conns[n];
    session_event ev;
    session_config cfg = {.role = NOISE_INITIATOR, .id = me, .rng = bcrypto_rng_system()};
    if (session_new(&c->s, &cfg) != 0)
        return fail("session");
    c->fd = tnet_dial("peer_probe", host, port, NULL);
    if (c->fd < 0 || flush_out(c) != 0)
        return -1;
    int64_t deadline = tnet_mono_ms() + CONNECT_MS;
    do {
        if (next_event(c, &ev, deadline) <= 0)
            return fail("no handshake");
    } while (ev.type != SESSION_EV_ESTABLISHED);
    cur_c = n;
    return 0;
}

static int step_expect(const char *type, int ms)
{
    int64_t deadline = tnet_mono_ms() + ms;
    for (;;) {
        session_event ev;
        msg m;
        int r = next_event(&conns[cur_c], &ev, deadline);
        if (r <= 0) {
            fprintf(stderr, "peer_probe: no %s on connection %d within %d ms%s\n", type, cur_c, ms,
                    r < 0 ? " (it ended)" : "");
            return -1;
        }
        if (!take(cur_c, &ev, &m))
            continue;
        bool hit = strcmp(msg_type_name((int)m.type), type) == 0;
        if (hit)
            print_msg(cur_c, &m);
        msg_clear(&m);
        if (hit)
            return 0;
    }
}

static int step_wait(int ms)
{
    int64_t end = tnet_mono_ms() + ms;
    while (tnet_mono_ms() < end) {
        for (int n = 0; n < MAXC; n++) {
            session_event ev;
            msg m;
            if (!conns[n].s || conns[n].fd < 0 || conns[n].held)
                continue;
            int r = next_event(&conns[n], &ev, tnet_mono_ms() + 20);
            if (r < 0) {
                printf("closed conn %d\n", n);
                fflush(stdout);
                close(conns[n].fd);
                conns[n].fd = -1;
            } else if (r == 1 && take(n, &ev, &m)) {
                if (m.type != MSG_PING && m.type != MSG_PONG)
                    print_msg(n, &m);
                msg_clear(&m);
            }
        }
    }
    return 0;
}

static int step_chat(const char *text)
{
    uint8_t id[MSG_ID_LEN];
    char hex[2 * MSG_ID_LEN + 1];
    msg m;
    bcrypto_rng_system().fill(NULL, id, sizeof id);
    if (msg_chat_init(&m, id, tnet_wall_ms(), text, strlen(text), false) != 0)
        return fail("bad chat text");
    int r = send_msg(&conns[cur_c], &m);
    msg_clear(&m);
    msg_id_to_hex(id, hex);
    printf("chat %s\n", hex);
    fflush(stdout);
    return r;
}

static int step_flood(long count)
{
    long acked = 0, refused = 0;
    pconn *c = &conns[cur_c];
    char text[64];
    for (long i = 0; i < count; i++) {
        uint8_t id[MSG_ID_LEN];
        msg m;
        bcrypto_rng_system().fill(NULL, id, sizeof id);
        snprintf(text, sizeof text, "flood %ld", i);
        if (msg_chat_init(&m, id, tnet_wall_ms(), text, strlen(text), false) != 0)
            return fail("chat");
        int r = send_msg(c, &m);
        msg_clear(&m);
        if (r)
            return -1;
        /* Read what is there without waiting, so neither side stalls. */
        session_event ev;
        msg a;
        while (next_event(c, &ev, tnet_mono_ms()) == 1)
            if (take(cur_c, &ev, &a)) {
                acked += a.type == MSG_ACK;
                refused += a.type == MSG_ERROR;
                msg_clear(&a);
            }
    }
    int64_t end = tnet_mono_ms() + 2000;
    session_event ev;
    msg a;
    while (next_event(c, &ev, end) == 1)
        if (take(cur_c, &ev, &a)) {
            acked += a.type == MSG_ACK;
            refused += a.type == MSG_ERROR;
            msg_clear(&a);
        }
    printf("flood sent %ld acked %ld refused %ld\n", count, acked, refused);
    fflush(stdout);
    return 0;
}

static int step_partial(long n)
{
    uint8_t hdr[2] = {0xff, 0xff};
    if (write_all(conns[cur_c].fd, hdr, 2) != 0)
        return -1;
    uint8_t *junk = calloc(1, (size_t)n + 1);
    int r = junk ? write_all(conns[cur_c].fd, junk, (size_t)n) : -1;
    free(junk);
    return r;
}

static int step_drip(int ms, long count)
{
    uint8_t b = 0;
    for (long i = 0; i < count; i++) {
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        if (send(conns[cur_c].fd, &b, 1, MSG_NOSIGNAL) != 1) {
            printf("drip ended after %ld bytes\n", i);
            fflush(stdout);
            return 0;
        }
    }
    printf("drip sent %ld bytes\n", count);
    fflush(stdout);
    return 0;
}

static int step_offer(const char *name)
{
    uint8_t id[MSG_ID_LEN];
    msg offer;
    bcrypto_rng_system().fill(NULL, id, sizeof id);
    if (msg_offer_init(&offer, id, tnet_wall_ms(), 1) != 0 ||
        msg_offer_set_name(&offer, 0, name) != 0) {
        msg_clear(&offer);
        return fail("cannot build an offer");
    }
    offer.u.offer.files[0].size = 1024;
    int r = send_msg(&conns[cur_c], &offer);
    msg_clear(&offer);
    return r;
}

static void count_decline(const msg *a, long *rate, long *busy, long *other)
{
    if (a->type != MSG_FILE_DECLINE)
        return;
    if (strncmp(a->u.end.reason, "ERATE", 5) == 0)
        (*rate)++;
    else if (strncmp(a->u.end.reason, "EBUSY", 5) == 0)
        (*busy)++;
    else
        (*other)++;
}

static int step_offers(long count)
{
    long rate = 0, busy = 0, other = 0;
    pconn *c = &conns[cur_c];
    session_event ev;
    msg a;
    for (long i = 0; i < count; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%ld.txt", i);
        if (step_offer(name) != 0)
            return -1;
        while (next_event(c, &ev, tnet_mono_ms()) == 1)
            if (take(cur_c, &ev, &a)) {
                count_decline(&a, &rate, &busy, &other);
                msg_clear(&a);
            }
    }
    int64_t end = tnet_mono_ms() + 2000;
    while (next_event(c, &ev, end) == 1)
        if (take(cur_c, &ev, &a)) {
            count_decline(&a, &rate, &busy, &other);
            msg_clear(&a);
        }
    printf("offers sent %ld rate %ld busy %ld other %ld\n", count, rate, busy, other);
    fflush(stdout);
    return 0;
}

static long num(const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return errno || *end || v < lo || v > hi ? -1 : v;
}

static int run(int argc, char **argv, int i)
{
    while (i < argc) {
        const char *s = argv[i++];
        const char *a = i < argc ? argv[i] : NULL;
        const char *b = i + 1 < argc ? argv[i + 1] : NULL;
        long n, m;
        int r;
        if (strcmp(s, "conn") == 0 && a && (n = num(a, 0, MAXC - 1)) >= 0 && !conns[n].s) {
            r = step_conn((int)n);
            i++;
        } else if (strcmp(s, "use") == 0 && a && (n = num(a, 0, MAXC - 1)) >= 0 && conns[n].s) {
            cur_c = (int)n;
            r = 0;
            i++;
        } else if (strcmp(s, "fp") == 0) {
            char fp[IDENTITY_FP_LEN + 1];
            identity_fingerprint(identity_public(me), fp);
            printf("fp %s\n", fp);
            r = 0;
        } else if (cur_c < 0 || !conns[cur_c].s || conns[cur_c].fd < 0) {
            fprintf(stderr, "peer_probe: %s needs an open connection (conn N)\n", s);
            return -1;
        } else if (strcmp(s, "hello") == 0 && a) {
            msg h = {.type = MSG_HELLO};
            h.u.hello.version = SESSION_VERSION;
            snprintf(h.u.hello.name, sizeof h.u.hello.name, "%s", a);
            r = send_msg(&conns[cur_c], &h);
            i++;
        } else if (strcmp(s, "chat") == 0 && a) {
            r = step_chat(a);
            i++;
        } else if (strcmp(s, "expect") == 0 && a && b && (n = num(b, 0, 600000)) >= 0) {
            r = step_expect(a, (int)n);
            i += 2;
        } else if (strcmp(s, "wait") == 0 && a && (n = num(a, 0, 600000)) >= 0) {
            r = step_wait((int)n);
            i++;
        } else if (strcmp(s, "raw") == 0 && a && b && (n = num(a, 0, 255)) >= 0) {
            size_t len = strlen(b);
            uint8_t *pt = malloc(len + 1);
            if (!pt)
                return fail("memory");
            pt[0] = (uint8_t)n;
            memcpy(pt + 1, b, len);
            r = session_send(conns[cur_c].s, pt, len + 1) != 0 ? fail("raw too long")
                                                               : flush_out(&conns[cur_c]);
            free(pt);
            i += 2;
        } else if (strcmp(s, "ping") == 0) {
            msg p = {.type = MSG_PING, .u.ping.token = 7};
            r = send_msg(&conns[cur_c], &p);
        } else if (strcmp(s, "partial") == 0 && a && (n = num(a, 0, 65534)) >= 0) {
            r = step_partial(n);
            i++;
        } else if (strcmp(s, "drip") == 0 && a && b && (n = num(a, 1, 600000)) >= 0 &&
                   (m = num(b, 0, 100000)) >= 0) {
            r = step_drip((int)n, m);
            i += 2;
        } else if (strcmp(s, "drop") == 0 && a && (n = num(a, 0, MAXC - 1)) >= 0) {
            struct linger lg = {1, 0}; /* RST: no goodbye at all */
            (void)setsockopt(conns[n].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            close(conns[n].fd);
            conns[n].fd = -1;
            r = 0;
            i++;
        } else if (strcmp(s, "hold") == 0 && a && (n = num(a, 0, MAXC - 1)) >= 0) {
            conns[n].held = true;
            r = 0;
            i++;
        } else if (strcmp(s, "offer") == 0 && a) {
            r = step_offer(a);
            i++;
        } else if (strcmp(s, "offers") == 0 && a && (n = num(a, 1, 100000)) >= 0) {
            r = step_offers(n);
            i++;
        } else if (strcmp(s, "flood") == 0 && a && (n = num(a, 1, 10000000)) >= 0) {
            r = step_flood(n);
            i++;
        } else {
            fprintf(stderr, "peer_probe: bad step \"%s\" (see the comment at the top)\n", s);
            return -2;
        }
        if (r)
            return r;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int i = 1, ret;
    const char *key = NULL;
    if (argc > 2 && strcmp(argv[1], "--key") == 0) {
        key = argv[2];
        i = 3;
    }
    if (argc - i < 3) {
        fprintf(stderr, "usage: peer_probe [--key FILE] HOST PORT STEP...\n");
        return 2;
    }
    host = argv[i];
    port = argv[i + 1];
    bool created;
    if (bcrypto_init() != 0 ||
        (key ? identity_load_or_create(&me, key, bcrypto_rng_system(), &created)
             : identity_generate(&me, bcrypto_rng_system())) != 0) {
        fprintf(stderr, "peer_probe: no identity\n");
        return 1;
    }
    for (int n = 0; n < MAXC; n++)
        conns[n].fd = -1;
    ret = run(argc, argv, i + 2);
    for (int n = 0; n < MAXC; n++) {
        if (conns[n].fd >= 0)
            close(conns[n].fd);
        session_free(conns[n].s);
    }
    identity_free(me);
    return ret == 0 ? 0 : ret == -2 ? 2 : 1;
}
