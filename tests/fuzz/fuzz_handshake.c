/* SPDX-License-Identifier: MIT */
/*
 * fuzz_handshake.c - libFuzzer target for a session: framing, the Noise XX
 * handshake with identity proofs, and the transport phase.
 *
 * Input: byte 0 picks the mode and the expected-peer setting, byte 1 the
 * chunking of deliveries, the rest is the stream.
 *
 *  - Raw mode (byte 0 even): a responder is fed the stream as if it came
 *    from the network. It must never crash, and must fail only with a
 *    documented error, after which every call is refused. Keys and
 *    ephemerals are deterministic, so a recorded initiator transcript
 *    (see the seed corpus) gets it all the way to the transport phase.
 *  - Man-in-the-middle mode (byte 0 odd): a real initiator and a real
 *    responder talk; the stream is XOR-ed into the bytes between them, in
 *    both directions. Whatever is flipped, if both sides establish they
 *    agree on the handshake hash and on each other's keys, and every
 *    message delivered is one that was sent. With nothing flipped the
 *    handshake and the message exchange must succeed.
 *
 * No real randomness: each side's banter_rng counts from a fixed start, so
 * every run of an input is the same.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bcrypto.h"
#include "buf.h"
#include "error.h"
#include "identity.h"
#include "banter_limits.h"
#include "msg.h"
#include "noise.h"
#include "session.h"

/* Identity seeds (all bytes equal) and rng starts of the two sides. */
#define INIT_SEED_BYTE 0x49 /* 'I' */
#define RESP_SEED_BYTE 0x52 /* 'R' */
#define INIT_RNG_START 0x1000u
#define RESP_RNG_START 0x2000u
#define MODE_MITM      0x01
/* Byte 0, bits 1-2: what the side that checks its peer expects. */
#define EXPECT_RIGHT   1
#define EXPECT_WRONG   2
#define MITM_ROUNDS    16

/* Largest delivery per chunking pattern; 0 delivers everything at once. */
static const size_t chunk_max[8] = {0, 1, 2, 3, 7, 33, 100, 512};
static const uint8_t wrong_key[BCRYPTO_ED_PKLEN] = {0x58, 0x58, 0x58};

struct det_rng {
    uint64_t ctr;
};

struct chunker {
    uint32_t state;
    size_t max;
};

/* The stream XOR-ed into the bytes between the two sides. */
struct xor_stream {
    const uint8_t *p;
    size_t left;
    bool flipped; /* a nonzero byte was applied */
};

struct peer {
    identity *id;
    struct det_rng rng;
    session *s;
    buf sent; /* plaintexts sent and not yet received: u16 length, bytes */
    int err;  /* first error, 0 while alive */
    bool established;
    uint64_t next_id; /* for message ids and ping tokens */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* Deterministic: bytes of a mixed counter, 8 per step. */
static void det_fill(void *ctx, uint8_t *out, size_t len)
{
    struct det_rng *r = ctx;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t w = splitmix64(r->ctr++);
        for (size_t k = 0; k < 8 && i + k < len; k++)
            out[i + k] = (uint8_t)(w >> (8 * k));
    }
}

static size_t chunk_next(struct chunker *c, size_t left)
{
    if (c->max == 0)
        return left;
    c->state = c->state * 1103515245u + 12345u;
    size_t n = 1 + (size_t)(c->state >> 16) % c->max;
    return n < left ? n : left;
}

static identity *make_identity(uint8_t seed_byte)
{
    uint8_t seed[BCRYPTO_ED_SEEDLEN];
    identity *id;
    memset(seed, seed_byte, sizeof seed);
    if (identity_from_seed(&id, seed) != 0)
        abort();
    return id;
}

static void peer_init(struct peer *p, uint8_t seed_byte, uint64_t rng_start, noise_role role,
                      const uint8_t *expect)
{
    *p = (struct peer){.id = make_identity(seed_byte), .rng = {rng_start}};
    buf_init(&p->sent, SIZE_MAX / 2);
    session_config cfg = {
        .role = role,
        .id = p->id,
        .rng = {det_fill, &p->rng},
        .expect_peer = expect,
        .binding = true,
    };
    if (session_new(&p->s, &cfg) != 0)
        abort();
}

static void peer_free(struct peer *p)
{
    session_free(p->s);
    identity_free(p->id);
    buf_free(&p->sent);
}

/* The first error of a session: documented, and the session is dead. */
static int peer_fail(struct peer *p, int r)
{
    static const uint8_t z = 0;
    session_event ev;
    size_t used = 1;

    switch (r) {
    case BANTER_ETOOBIG:
    case BANTER_ETRUNCATED:
    case BANTER_EBADTAG:
    case BANTER_EDH:
    case BANTER_EUNSUPPORTED:
    case BANTER_EIDENTITY:
    case BANTER_EKEYMISMATCH:
    case BANTER_EPROTO:
    case BANTER_ENONCE:
    case BANTER_ENOMEM:
        break;
    default:
        abort();
    }
    if (p->err)
        abort();
    p->err = r;
    if (session_feed(p->s, &z, 1, &used, &ev) != BANTER_ESTATE || used != 0 ||
        session_send(p->s, &z, 1) != BANTER_ESTATE)
        abort();
    return r;
}

/* Send m, and log its plaintext for the receiver to check. */
static void peer_send(struct peer *p, const msg *m)
{
    uint8_t len[2];
    buf pt;

    buf_init(&pt, BANTER_MAX_PLAINTEXT);
    if (msg_encode(m, &pt) != 0 || session_send_msg(p->s, m) != 0)
        abort();
    put_u16be(len, (uint16_t)buf_len(&pt));
    if (buf_append(&p->sent, len, sizeof len) != 0 ||
        buf_append(&p->sent, buf_data(&pt), buf_len(&pt)) != 0)
        abort();
    buf_free(&pt);
}

/* A message from a real sender must be the next one it sent. */
static void check_expected(struct peer *from, const uint8_t *pt, size_t len)
{
    if (!from)
        return;
    const uint8_t *d = buf_data(&from->sent);
    size_t have = buf_len(&from->sent);
    if (have < 2)
        abort();
    size_t n = (size_t)d[0] << 8 | d[1];
    if (n != len || have - 2 < n || memcmp(d + 2, pt, n) != 0)
        abort();
    buf_consume(&from->sent, 2 + n);
}

static void on_established(struct peer *p, noise_role role)
{
    uint8_t h[NOISE_HASHLEN];
    msg m;

    if (p->established || !session_established(p->s) || !session_peer(p->s) ||
        session_binding(p->s, h) != 0)
        abort();
    p->established = true;
    if (role == NOISE_INITIATOR) {
        static const char body[] = "hello from the initiator";
        uint8_t id[MSG_ID_LEN] = {0};
        put_u64be(id, p->next_id++);
        if (msg_chat_init(&m, id, 1700000000000, body, sizeof body - 1, false) != 0)
            abort();
        peer_send(p, &m);
        msg_clear(&m);
        m = (msg){.type = MSG_PING, .u.ping.token = p->next_id++};
        peer_send(p, &m);
    } else {
        m = (msg){.type = MSG_HELLO, .u.hello = {.version = SESSION_VERSION, .nfeatures = 1}};
        memcpy(m.u.hello.name, "responder", sizeof "responder");
        memcpy(m.u.hello.features[0], "chat", sizeof "chat");
        peer_send(p, &m);
    }
}

/* A transport plaintext: decode it, and answer a CHAT or a PING. */
static void on_message(struct peer *p, struct peer *from, const uint8_t *pt, size_t len)
{
    msg m, reply;

    if (!p->established || len == 0 || len > BANTER_MAX_PLAINTEXT)
        abort();
    check_expected(from, pt, len);
    if (msg_decode(&m, pt, len) != 0)
        return;
    if (m.type == MSG_CHAT) {
        reply = (msg){.type = MSG_ACK};
        memcpy(reply.u.ack.id, m.u.chat.id, MSG_ID_LEN);
        peer_send(p, &reply);
    } else if (m.type == MSG_PING) {
        reply = (msg){.type = MSG_PONG, .u.ping.token = m.u.ping.token};
        peer_send(p, &reply);
    }
    msg_clear(&m);
}

/* Feed one chunk to p until it is used up; from is the real sender, or
 * NULL when the bytes come from the fuzzer. 0 or p's first error. */
static int feed_chunk(struct peer *p, struct peer *from, noise_role role, const uint8_t *in,
                      size_t len)
{
    size_t off = 0, events = 0;
    for (;;) {
        session_event ev;
        size_t used = SIZE_MAX;
        int r = session_feed(p->s, in + off, len - off, &used, &ev);
        if (used > len - off)
            abort();
        off += used;
        if (r < 0)
            return peer_fail(p, r);
        if (r == 0) {
            if (off != len)
                abort();
            return 0;
        }
        if (r != 1 || ++events > len + 1)
            abort();
        if (ev.type == SESSION_EV_ESTABLISHED)
            on_established(p, role);
        else if (ev.type == SESSION_EV_MESSAGE)
            on_message(p, from, ev.data, ev.len);
        else
            abort();
    }
}

/* Deliver n bytes to p in chunks. 0 or p's first error. */
static int deliver(struct peer *p, struct peer *from, noise_role role, const uint8_t *in, size_t n,
                   struct chunker *ch)
{
    size_t off = 0;
    do {
        size_t len = chunk_next(ch, n - off);
        int r = feed_chunk(p, from, role, in + off, len);
        if (r)
            return r;
        off += len;
    } while (off < n);
    return 0;
}

/* Drop what p wants to write: in raw mode nobody reads it. */
static void drain(struct peer *p)
{
    size_t n;
    if (session_out(p->s, &n))
        session_out_consume(p->s, n);
    if (session_out(p->s, &n) || n)
        abort();
}

static void run_raw(uint8_t flags, struct chunker *ch, const uint8_t *in, size_t n)
{
    identity *init_id = make_identity(INIT_SEED_BYTE);
    unsigned expect = (flags >> 1) & 3;
    struct peer r;

    peer_init(&r, RESP_SEED_BYTE, RESP_RNG_START, NOISE_RESPONDER,
              expect == EXPECT_RIGHT   ? identity_public(init_id)
              : expect == EXPECT_WRONG ? wrong_key
                                       : NULL);
    size_t off = 0;
    while (off < n && !r.err) {
        size_t len = chunk_next(ch, n - off);
        (void)feed_chunk(&r, NULL, NOISE_RESPONDER, in + off, len);
        drain(&r);
        off += len;
    }
    if (!r.err) {
        int f = session_finish(r.s);
        if (f != 0 && f != BANTER_ETRUNCATED)
            abort();
    }
    if (r.established && expect == EXPECT_WRONG)
        abort();
    peer_free(&r);
    identity_free(init_id);
}

/* Move what `from` has written to `to`, XOR-ing the stream into it. */
static int pump(struct peer *from, struct peer *to, noise_role to_role, struct xor_stream *xs,
                struct chunker *ch, bool *moved)
{
    size_t n;
    const uint8_t *out = session_out(from->s, &n);
    if (!n)
        return 0;
    uint8_t *copy = malloc(n);
    if (!copy)
        abort();
    memcpy(copy, out, n);
    session_out_consume(from->s, n);
    for (size_t i = 0; i < n && xs->left; i++, xs->left--) {
        if (*xs->p)
            xs->flipped = true;
        copy[i] ^= *xs->p++;
    }
    *moved = true;
    int r = deliver(to, from, to_role, copy, n, ch);
    free(copy);
    return r;
}

/* Whatever was flipped: what both sides established on is the truth. */
static void check_outcome(struct peer *ini, struct peer *resp, unsigned expect, bool flipped)
{
    uint8_t hi[NOISE_HASHLEN], hr[NOISE_HASHLEN];

    if (ini->established && expect == EXPECT_WRONG)
        abort();
    if (ini->established && resp->established) {
        if (session_binding(ini->s, hi) != 0 || session_binding(resp->s, hr) != 0 ||
            memcmp(hi, hr, sizeof hi) != 0 ||
            memcmp(session_peer(ini->s), identity_public(resp->id), BCRYPTO_ED_PKLEN) != 0 ||
            memcmp(session_peer(resp->s), identity_public(ini->id), BCRYPTO_ED_PKLEN) != 0)
            abort();
    }
    if (flipped)
        return;
    if (expect == EXPECT_WRONG) {
        if (ini->err != BANTER_EKEYMISMATCH)
            abort();
        return;
    }
    if (ini->err || resp->err || !ini->established || !resp->established || buf_len(&ini->sent) ||
        buf_len(&resp->sent) || session_finish(ini->s) != 0 || session_finish(resp->s) != 0)
        abort();
}

static void run_mitm(uint8_t flags, struct chunker *ch, const uint8_t *in, size_t n)
{
    struct xor_stream xs = {in, n, false};
    unsigned expect = (flags >> 1) & 3;
    struct peer ini, resp;

    peer_init(&resp, RESP_SEED_BYTE, RESP_RNG_START, NOISE_RESPONDER, NULL);
    peer_init(&ini, INIT_SEED_BYTE, INIT_RNG_START, NOISE_INITIATOR,
              expect == EXPECT_RIGHT   ? identity_public(resp.id)
              : expect == EXPECT_WRONG ? wrong_key
                                       : NULL);
    for (int round = 0; round < MITM_ROUNDS; round++) {
        bool moved = false;
        if (pump(&ini, &resp, NOISE_RESPONDER, &xs, ch, &moved) ||
            pump(&resp, &ini, NOISE_INITIATOR, &xs, ch, &moved) || !moved)
            break;
    }
    check_outcome(&ini, &resp, expect, xs.flipped);
    peer_free(&ini);
    peer_free(&resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;

    if (!ready) {
        if (bcrypto_init() != 0)
            abort();
        ready = true;
    }
    if (size < 1)
        return 0;
    uint8_t flags = data[0], pattern = size > 1 ? data[1] : 0;
    struct chunker ch = {pattern, chunk_max[pattern & 7]};
    const uint8_t *in = data + (size > 1 ? 2 : 1);
    size_t n = size - (size > 1 ? 2 : 1);

    if (flags & MODE_MITM)
        run_mitm(flags, &ch, in, n);
    else
        run_raw(flags, &ch, in, n);
    return 0;
}
