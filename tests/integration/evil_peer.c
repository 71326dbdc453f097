/* SPDX-License-Identifier: MIT */
/*
 * evil_peer.c - a hostile Banter peer for tests/integration/test_transfer.sh
 * and test_node_limits.sh.
 *
 *   evil_peer HOST PORT NAME...
 *
 * Connects to a node, completes the handshake under a fresh random
 * identity, sends HELLO (name "mallory"), then for each NAME sends a
 * FILE_OFFER of one file with that name (1024 bytes, a zero hash) - names a
 * real node would never offer, such as "../../etc/x" - and waits up to 2 s
 * for the answer about that transfer. One line per NAME on stdout:
 *
 *   offer <id> <name> -> <type> <reason>
 *   offer <id> <name> -> none (no answer in 2 s)
 *
 * <id> is the transfer id (32 hex digits); <name> is in double quotes with
 * control characters and bytes over 0x7e as \xNN (nothing else escaped);
 * <type> is the answer's message type (file_decline, file_cancel,
 * file_accept, error); <reason> is its reason (for error, "code message"),
 * unquoted, escaped the same way. PINGs are answered meanwhile; anything
 * else is ignored. Ends with BYE.
 *
 *   evil_peer --meddle ID HOST PORT
 *
 * Meddles in someone else's transfer ID (32 hex digits): sends for it, as
 * a stranger, FILE_MARK and FILE_STORED (at 0, 1 MiB and 2^53), a CHUNK of
 * junk at offset 0, FILE_ACCEPT at 0 with a window, FILE_RESULT ok for
 * file 0, then FILE_CANCEL, and waits 2 s answering PINGs. Prints
 * "meddled N messages, M answers" (the answers the node sent in return).
 * The node must ignore all of it: only the transfer's own peer may speak
 * for it.
 *
 *   evil_peer --churn N HOST PORT
 *
 * Offers and cancels, N times: a FILE_OFFER of CHURN_FILES files with long
 * names ("churn/NNNN-KKK-xxx...", so `transfers` names it "churn (100
 * files)"), then FILE_CANCEL for it. A fresh identity every CHURN_PER_KEY
 * cycles (a key costs nothing; each stays within a device's own offer
 * rate). After each identity's cycles a PING: its PONG comes after the
 * answers to all of them. Prints
 *
 *   churn N cycles K keys M ms: declined R rate, B other; T taken
 *
 * (R: FILE_DECLINE "ERATE...", B: any other FILE_DECLINE, T: offers with
 * no answer, which the node took and then had cancelled).
 *
 *   evil_peer --certflood N [--pre] [--valid|--replay] SIGNER HOST PORT
 *
 * Shows N organisation certificates (RV_CERT) for its own fresh key,
 * signed by the identity in file SIGNER (what the test has the node pin
 * as its rendezvous server's key), as fast as the socket takes them:
 * by default each with a garbled signature (every one different); with
 * --valid each valid and new (issued a millisecond apart), as a device
 * of the organisation could; with --replay one valid certificate N
 * times, byte for byte. They go after HELLO, or with --pre before it
 * (then HELLO). Then a PING, and what comes back is read until its PONG,
 * BYE or the end of the connection (at most 5 s). Prints
 *
 *   certflood sent S of N: errors E (rate R); END
 *
 * (S: the certificates the socket took before it broke; E: ERRORs
 * received, R of them ERATE; END: "pong", "bye <reason>", "closed" or
 * "timeout").
 *
 * Exit: 0 when every offer got an answer (meddling: when every message was
 * sent; churning: when every cycle was sent and every PONG came; a
 * certificate flood: when its line was printed), 1 when one did not or
 * the connection failed (the cause on stderr), 2 on bad usage.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bcrypto.h"
#include "cert.h"
#include "identity.h"
#include "msg.h"
#include "rvmsg.h"
#include "session.h"
#include "tnet.h"

#define ANSWER_MS     2000
#define CONNECT_MS    5000
#define OFFER_SIZE    1024
#define QUOTED_MAX    (4 * 1100 + 3)
#define CHURN_FILES   100
#define CHURN_PER_KEY 25
#define CHURN_NAME    200 /* bytes of each file name */
#define CERT_ACCOUNT  "eve"
#define CERT_TTL_MS   3600000
#define CERT_END_MS   5000

typedef struct peer {
    int fd;
    session *s;
    identity *id;
    tnet_in in;
} peer;

/* s, in double quotes when quotes is true, with bytes below 0x20 and from
 * 0x7f up as \xNN. */
static void escape(char out[static QUOTED_MAX], const char *s, bool quotes)
{
    size_t o = 0;
    if (quotes)
        out[o++] = '"';
    for (const unsigned char *u = (const unsigned char *)s; *u && o + 6 < QUOTED_MAX; u++) {
        if (*u < 0x20 || *u >= 0x7f)
            o += (size_t)snprintf(out + o, 5, "\\x%02x", *u);
        else
            out[o++] = (char)*u;
    }
    if (quotes)
        out[o++] = '"';
    out[o] = '\0';
}

static int flush_out(peer *p)
{
    if (tnet_flush(p->fd, p->s) == 0)
        return 0;
    fprintf(stderr, "evil_peer: send: %s\n", errno ? strerror(errno) : "no progress");
    return -1;
}

static int send_msg(peer *p, const msg *m)
{
    int r = session_send_msg(p->s, m);
    if (r) {
        fprintf(stderr, "evil_peer: cannot send %s: %s\n", msg_type_name((int)m->type),
                banter_strerror(r));
        return -1;
    }
    return flush_out(p);
}

/* The next session event before deadline (tnet_mono_ms). 1 with *ev, 0 on
 * timeout, -1 on error (printed). */
static int next_event(peer *p, session_event *ev, int64_t deadline)
{
    tnet_why why;
    int r = tnet_next(p->fd, p->s, &p->in, ev, deadline, &why);
    if (r < 0) {
        char line[160];
        fprintf(stderr, "evil_peer: %s\n", tnet_strwhy(&why, line, sizeof line));
    }
    return r;
}

/* Connect and finish the handshake under a fresh identity (no HELLO). */
static int connect_peer(peer *p, const char *host, const char *port)
{
    banter_rng rng = bcrypto_rng_system();
    session_event ev;
    int r = identity_generate(&p->id, rng);
    if (r) {
        fprintf(stderr, "evil_peer: identity: %s\n", banter_strerror(r));
        return -1;
    }
    session_config cfg = {.role = NOISE_INITIATOR, .id = p->id, .rng = rng};
    r = session_new(&p->s, &cfg);
    if (r) {
        fprintf(stderr, "evil_peer: session: %s\n", banter_strerror(r));
        return -1;
    }
    p->fd = tnet_dial("evil_peer", host, port, NULL);
    if (p->fd < 0 || flush_out(p) != 0)
        return -1;
    int64_t deadline = tnet_mono_ms() + CONNECT_MS;
    do {
        r = next_event(p, &ev, deadline);
        if (r == 0)
            fprintf(stderr, "evil_peer: no handshake in %d ms\n", CONNECT_MS);
        if (r <= 0)
            return -1;
    } while (ev.type != SESSION_EV_ESTABLISHED);
    return 0;
}

static int say_hello(peer *p)
{
    msg hello = {.type = MSG_HELLO};
    hello.u.hello.version = SESSION_VERSION;
    snprintf(hello.u.hello.name, sizeof hello.u.hello.name, "mallory");
    return send_msg(p, &hello);
}

static int open_peer(peer *p, const char *host, const char *port)
{
    return connect_peer(p, host, port) == 0 ? say_hello(p) : -1;
}

/* Whether m answers transfer id; fills type and reason. */
static bool answer_for(const msg *m, const uint8_t id[static MSG_ID_LEN], const char **type,
                       char *reason, size_t cap)
{
    *type = msg_type_name((int)m->type);
    switch (m->type) {
    case MSG_FILE_DECLINE:
    case MSG_FILE_CANCEL:
        snprintf(reason, cap, "%s", m->u.end.reason);
        return memcmp(m->u.end.id, id, MSG_ID_LEN) == 0;
    case MSG_FILE_ACCEPT:
        snprintf(reason, cap, "offset %llu", (unsigned long long)m->u.accept.offset);
        return memcmp(m->u.accept.id, id, MSG_ID_LEN) == 0;
    case MSG_ERROR: /* not tied to an id: taken as the answer */
        snprintf(reason, cap, "%s %s", m->u.error.code, m->u.error.message);
        return true;
    default:
        return false;
    }
}

/* Offer one file named name; print the answer. 1 answered, 0 none, -1 error. */
static int offer_one(peer *p, const char *name)
{
    uint8_t id[MSG_ID_LEN];
    char hex[2 * MSG_ID_LEN + 1], qname[QUOTED_MAX], reason[BANTER_MAX_REASON + 64],
        qreason[QUOTED_MAX];
    msg offer;
    bcrypto_rng_system().fill(NULL, id, sizeof id);
    msg_id_to_hex(id, hex);
    escape(qname, name, true);
    if (msg_offer_init(&offer, id, tnet_wall_ms(), 1) != 0 ||
        msg_offer_set_name(&offer, 0, name) != 0) {
        fprintf(stderr, "evil_peer: cannot build an offer for %s\n", qname);
        msg_clear(&offer);
        return -1;
    }
    offer.u.offer.files[0].size = OFFER_SIZE;
    int r = send_msg(p, &offer);
    msg_clear(&offer);
    if (r)
        return -1;
    int64_t deadline = tnet_mono_ms() + ANSWER_MS;
    for (;;) {
        session_event ev;
        msg m;
        r = next_event(p, &ev, deadline);
        if (r < 0)
            return -1;
        if (r == 0) {
            printf("offer %s %s -> none (no answer in %d s)\n", hex, qname, ANSWER_MS / 1000);
            fflush(stdout);
            return 0;
        }
        if (ev.type != SESSION_EV_MESSAGE || msg_decode(&m, ev.data, ev.len) != 0)
            continue;
        const char *type;
        bool hit = answer_for(&m, id, &type, reason, sizeof reason);
        r = 0;
        if (m.type == MSG_PING) {
            msg pong = {.type = MSG_PONG, .u.ping.token = m.u.ping.token};
            r = send_msg(p, &pong);
        } else if (m.type == MSG_BYE) {
            fprintf(stderr, "evil_peer: node said BYE: %s\n", m.u.bye.reason);
            r = -1;
        }
        msg_clear(&m);
        if (r)
            return -1;
        if (hit) {
            escape(qreason, reason, false);
            printf("offer %s %s -> %s %s\n", hex, qname, type, qreason);
            fflush(stdout);
            return 1;
        }
    }
}

/* Someone else's transfer id: messages a stranger has no right to send. */
static int meddle(peer *p, const uint8_t id[static MSG_ID_LEN])
{
    static uint8_t junk[BANTER_CHUNK_HDR + 4096];
    static const uint64_t offs[] = {0, 1u << 20, BANTER_MAX_FILE_SIZE};
    int sent = 0, answers = 0;
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        for (int t = MSG_FILE_MARK; t <= MSG_FILE_STORED; t++) {
            msg m = {.type = (msg_type)t};
            memcpy(m.u.mark.id, id, MSG_ID_LEN);
            m.u.mark.offset = offs[i];
            if (send_msg(p, &m) != 0)
                return -1;
            sent++;
        }
    }
    junk[0] = MSG_CHUNK;
    memcpy(junk + 1, id, MSG_ID_LEN); /* offset 0, then junk */
    memset(junk + BANTER_CHUNK_HDR, 0x5a, sizeof junk - BANTER_CHUNK_HDR);
    int e = session_send(p->s, junk, sizeof junk);
    if (e) {
        fprintf(stderr, "evil_peer: cannot send a chunk: %s\n", banter_strerror(e));
        return -1;
    }
    if (flush_out(p) != 0)
        return -1;
    msg acc = {.type = MSG_FILE_ACCEPT}, res = {.type = MSG_FILE_RESULT},
        can = {.type = MSG_FILE_CANCEL};
    memcpy(acc.u.accept.id, id, MSG_ID_LEN);
    acc.u.accept.window = 1u << 20;
    memcpy(res.u.result.id, id, MSG_ID_LEN);
    res.u.result.ok = true;
    memcpy(can.u.end.id, id, MSG_ID_LEN);
    snprintf(can.u.end.reason, sizeof can.u.end.reason, "mallory says stop");
    if (send_msg(p, &acc) != 0 || send_msg(p, &res) != 0 || send_msg(p, &can) != 0)
        return -1;
    sent += 4;
    int64_t deadline = tnet_mono_ms() + ANSWER_MS;
    for (;;) {
        session_event ev;
        msg m;
        int r = next_event(p, &ev, deadline);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        if (ev.type != SESSION_EV_MESSAGE || msg_decode(&m, ev.data, ev.len) != 0)
            continue;
        r = 0;
        if (m.type == MSG_PING) {
            msg pong = {.type = MSG_PONG, .u.ping.token = m.u.ping.token};
            r = send_msg(p, &pong);
        } else if (m.type != MSG_HELLO) {
            answers++;
        }
        msg_clear(&m);
        if (r)
            return -1;
    }
    printf("meddled %d messages, %d answers\n", sent, answers);
    fflush(stdout);
    return 0;
}

/* Counts of the answers to churned offers. */
typedef struct churn_count {
    int rate, other;
} churn_count;

/* One offer of CHURN_FILES long names, then its cancel. */
static int churn_one(peer *p, int cycle)
{
    uint8_t id[MSG_ID_LEN];
    char name[CHURN_NAME + 1];
    msg offer;
    bcrypto_rng_system().fill(NULL, id, sizeof id);
    if (msg_offer_init(&offer, id, tnet_wall_ms(), CHURN_FILES) != 0) {
        fprintf(stderr, "evil_peer: cannot build an offer\n");
        return -1;
    }
    for (int k = 0; k < CHURN_FILES; k++) {
        int n = snprintf(name, sizeof name, "churn/%04d-%03d-", cycle, k);
        memset(name + n, 'x', sizeof name - 1 - (size_t)n);
        name[sizeof name - 1] = '\0';
        if (msg_offer_set_name(&offer, (size_t)k, name) != 0) {
            fprintf(stderr, "evil_peer: cannot name file %d of an offer\n", k);
            msg_clear(&offer);
            return -1;
        }
        offer.u.offer.files[k].size = OFFER_SIZE;
    }
    int r = send_msg(p, &offer);
    msg_clear(&offer);
    msg can = {.type = MSG_FILE_CANCEL};
    memcpy(can.u.end.id, id, MSG_ID_LEN);
    snprintf(can.u.end.reason, sizeof can.u.end.reason, "never mind");
    return r ? r : send_msg(p, &can);
}

/* Read until the PONG for token: count the declines on the way. */
static int churn_answers(peer *p, uint64_t token, churn_count *c)
{
    msg ping = {.type = MSG_PING, .u.ping.token = token};
    if (send_msg(p, &ping) != 0)
        return -1;
    int64_t deadline = tnet_mono_ms() + 10 * ANSWER_MS;
    for (;;) {
        session_event ev;
        msg m;
        int r = next_event(p, &ev, deadline);
        if (r == 0)
            fprintf(stderr, "evil_peer: no PONG in %d ms\n", 10 * ANSWER_MS);
        if (r <= 0)
            return -1;
        if (ev.type != SESSION_EV_MESSAGE || msg_decode(&m, ev.data, ev.len) != 0)
            continue;
        bool pong = m.type == MSG_PONG && m.u.ping.token == token;
        r = 0;
        if (m.type == MSG_PING) {
            msg answer = {.type = MSG_PONG, .u.ping.token = m.u.ping.token};
            r = send_msg(p, &answer);
        } else if (m.type == MSG_FILE_DECLINE) {
            if (strncmp(m.u.end.reason, "ERATE", 5) == 0)
                c->rate++;
            else
                c->other++;
        } else if (m.type == MSG_BYE) {
            fprintf(stderr, "evil_peer: node said BYE: %s\n", m.u.bye.reason);
            r = -1;
        }
        msg_clear(&m);
        if (r)
            return -1;
        if (pong)
            return 0;
    }
}

static void say_bye(peer *p)
{
    if (p->s && p->fd >= 0 && session_established(p->s)) {
        msg bye = {.type = MSG_BYE};
        snprintf(bye.u.bye.reason, sizeof bye.u.bye.reason, "done");
        (void)send_msg(p, &bye);
    }
    if (p->fd >= 0)
        close(p->fd);
    session_free(p->s);
    identity_free(p->id);
    *p = (peer){.fd = -1};
}

static int churn(int n, const char *host, const char *port)
{
    churn_count c = {0};
    int keys = 0;
    int64_t t0 = tnet_mono_ms();
    for (int i = 0; i < n;) {
        peer p = {.fd = -1};
        if (open_peer(&p, host, port) != 0) {
            say_bye(&p);
            return 1;
        }
        keys++;
        int r = 0;
        for (int k = 0; k < CHURN_PER_KEY && i < n && r == 0; k++)
            r = churn_one(&p, i++);
        if (r == 0)
            r = churn_answers(&p, (uint64_t)i, &c);
        say_bye(&p);
        if (r)
            return 1;
    }
    printf("churn %d cycles %d keys %lld ms: declined %d rate, %d other; %d taken\n", n, keys,
           (long long)(tnet_mono_ms() - t0), c.rate, c.other, n - c.rate - c.other);
    fflush(stdout);
    return 0;
}

/* ---- certificates ---- */

typedef enum flood_kind { FLOOD_GARBLED, FLOOD_VALID, FLOOD_REPLAY } flood_kind;

/* Certificate i of the flood as an RV_CERT frame in out; its length. */
static size_t flood_frame(const peer *p, const identity *signer, flood_kind kind, int i,
                          int64_t now, uint8_t out[static 1 + CERT_LEN_MAX])
{
    cert c;
    size_t n = 0;
    int64_t issued = kind == FLOOD_VALID ? now - i : now;
    out[0] = RV_CERT;
    if (cert_issue(&c, signer, identity_public(p->id), CERT_ACCOUNT, issued, CERT_TTL_MS) != 0 ||
        cert_encode(&c, out + 1, CERT_LEN_MAX, &n) != 0)
        return 0;
    if (kind == FLOOD_GARBLED) /* the signature's last 4 bytes, xor i + 1 */
        for (size_t b = 0; b < 4; b++)
            out[n - b] ^= (uint8_t)((uint32_t)(i + 1) >> (8 * b));
    return 1 + n;
}

/* After the flood: a PING, then read until its PONG, BYE or the end,
 * counting ERRORs. end gets what ended it. */
static void flood_answers(peer *p, int *errors, int *rate, char *end, size_t cap)
{
    msg ping = {.type = MSG_PING, .u.ping.token = 4242};
    snprintf(end, cap, "closed");
    if (send_msg(p, &ping) != 0)
        return;
    int64_t deadline = tnet_mono_ms() + CERT_END_MS;
    for (;;) {
        session_event ev;
        msg m;
        tnet_why why;
        int r = tnet_next(p->fd, p->s, &p->in, &ev, deadline, &why);
        if (r <= 0) {
            snprintf(end, cap, "%s", r == 0 ? "timeout" : "closed");
            return;
        }
        if (ev.type != SESSION_EV_MESSAGE || msg_decode(&m, ev.data, ev.len) != 0)
            continue;
        bool done = false;
        if (m.type == MSG_ERROR) {
            (*errors)++;
            *rate += strcmp(m.u.error.code, "ERATE") == 0;
        } else if (m.type == MSG_PING) {
            msg pong = {.type = MSG_PONG, .u.ping.token = m.u.ping.token};
            (void)send_msg(p, &pong);
        } else if (m.type == MSG_PONG && m.u.ping.token == 4242) {
            snprintf(end, cap, "pong");
            done = true;
        } else if (m.type == MSG_BYE) {
            snprintf(end, cap, "bye %s", m.u.bye.reason);
            done = true;
        }
        msg_clear(&m);
        if (done)
            return;
    }
}

static int certflood(int n, bool pre, flood_kind kind, const char *signer_path, const char *host,
                     const char *port)
{
    identity *signer = NULL;
    peer p = {.fd = -1};
    uint8_t frame[1 + CERT_LEN_MAX];
    int sent = 0, errors = 0, rate = 0, ret = 1;
    char end[BANTER_MAX_REASON + 8];
    int r = identity_load(&signer, signer_path);
    if (r) {
        fprintf(stderr, "evil_peer: %s: %s\n", signer_path, banter_strerror(r));
        return 1;
    }
    if (connect_peer(&p, host, port) != 0 || (!pre && say_hello(&p) != 0))
        goto out;
    int64_t now = tnet_wall_ms();
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        if ((i == 0 || kind != FLOOD_REPLAY) &&
            !(len = flood_frame(&p, signer, kind, i, now, frame))) {
            fprintf(stderr, "evil_peer: cannot make a certificate\n");
            goto out;
        }
        if (session_send(p.s, frame, len) != 0 || tnet_flush(p.fd, p.s) != 0)
            break; /* the node cut the connection */
        sent++;
    }
    if (pre && sent == n && say_hello(&p) != 0)
        snprintf(end, sizeof end, "closed");
    else
        flood_answers(&p, &errors, &rate, end, sizeof end);
    printf("certflood sent %d of %d: errors %d (rate %d); %s\n", sent, n, errors, rate, end);
    fflush(stdout);
    ret = 0;
out:
    say_bye(&p);
    identity_free(signer);
    return ret;
}

int main(int argc, char **argv)
{
    peer p = {.fd = -1};
    int ret = 1, answered = 0;
    if (argc == 5 && strcmp(argv[1], "--meddle") == 0) {
        uint8_t id[MSG_ID_LEN];
        if (msg_id_from_hex(id, argv[2]) != 0) {
            fprintf(stderr, "evil_peer: --meddle needs a transfer id (32 hex digits)\n");
            return 2;
        }
        if (bcrypto_init() == 0 && open_peer(&p, argv[3], argv[4]) == 0 && meddle(&p, id) == 0)
            ret = 0;
        goto out;
    }
    if (argc == 5 && strcmp(argv[1], "--churn") == 0) {
        char *end;
        long n = strtol(argv[2], &end, 10);
        if (*end || n < 1 || n > 100000) {
            fprintf(stderr, "evil_peer: --churn needs a number of cycles (1..100000)\n");
            return 2;
        }
        return bcrypto_init() == 0 ? churn((int)n, argv[3], argv[4]) : 1;
    }
    if (argc >= 6 && strcmp(argv[1], "--certflood") == 0) {
        char *end;
        long n = strtol(argv[2], &end, 10);
        bool pre = false;
        flood_kind kind = FLOOD_GARBLED;
        int i = 3;
        for (; i < argc - 3; i++) {
            if (strcmp(argv[i], "--pre") == 0)
                pre = true;
            else if (strcmp(argv[i], "--valid") == 0)
                kind = FLOOD_VALID;
            else if (strcmp(argv[i], "--replay") == 0)
                kind = FLOOD_REPLAY;
            else
                break;
        }
        if (*end || n < 1 || n > 1000000 || i != argc - 3) {
            fprintf(stderr, "evil_peer: --certflood N [--pre] [--valid|--replay] SIGNER HOST "
                            "PORT (N in 1..1000000)\n");
            return 2;
        }
        return bcrypto_init() == 0 ? certflood((int)n, pre, kind, argv[i], argv[i + 1], argv[i + 2])
                                   : 1;
    }
    if (argc < 4) {
        fprintf(stderr, "usage: evil_peer HOST PORT NAME...\n"
                        "       evil_peer --meddle ID HOST PORT\n"
                        "       evil_peer --churn N HOST PORT\n"
                        "       evil_peer --certflood N [--pre] [--valid|--replay] SIGNER HOST "
                        "PORT\n");
        return 2;
    }
    if (bcrypto_init() != 0 || open_peer(&p, argv[1], argv[2]) != 0)
        goto out;
    for (int i = 3; i < argc; i++) {
        int r = offer_one(&p, argv[i]);
        if (r < 0)
            goto out;
        answered += r;
    }
    ret = answered == argc - 3 ? 0 : 1;
out:
    say_bye(&p);
    return ret;
}
