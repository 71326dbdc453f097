/* SPDX-License-Identifier: MIT */
/* test_session.c - two sessions pumped against each other: handshake, messages, tampering,
 * caps, rekeying (checked against a hand-driven peer), and end of stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frame.h"
#include "session.h"

/* One side of a connection and what it has seen. */
struct peer {
    identity *id;
    session *s;
    char log[64]; /* events in order: 'E' established, 'M' message */
    size_t nlog;
    size_t nmsg;
    uint8_t *last; /* copy of the last message's plaintext */
    size_t last_len;
    int err;     /* first error session_feed returned */
    bool tokens; /* every message is a PING carrying next_token */
    uint64_t next_token;
};

static void peer_identity(struct peer *p)
{
    memset(p, 0, sizeof *p);
    assert_int_equal(identity_generate(&p->id, bcrypto_rng_system()), 0);
}

/* (Re)start p's session, forgetting what it saw. */
static void peer_start(struct peer *p, noise_role role, const uint8_t *expect, size_t out_cap)
{
    session_free(p->s);
    free(p->last);
    identity *id = p->id;
    memset(p, 0, sizeof *p);
    p->id = id;
    session_config c = {.role = role,
                        .id = id,
                        .rng = bcrypto_rng_system(),
                        .expect_peer = expect,
                        .out_cap = out_cap,
                        .binding = true};
    assert_int_equal(session_new(&p->s, &c), 0);
    assert_non_null(p->s);
}

static void peer_free(struct peer *p)
{
    session_free(p->s);
    identity_free(p->id);
    free(p->last);
    memset(p, 0, sizeof *p);
}

static void record(struct peer *p, const session_event *ev)
{
    assert_true(p->nlog < sizeof p->log - 1);
    if (ev->type == SESSION_EV_ESTABLISHED) {
        p->log[p->nlog++] = 'E';
        return;
    }
    assert_int_equal(ev->type, SESSION_EV_MESSAGE);
    assert_true(ev->len >= 1);
    if (p->tokens) {
        msg m;
        assert_int_equal(msg_decode(&m, ev->data, ev->len), 0);
        assert_int_equal(m.type, MSG_PING);
        if (m.u.ping.token != p->next_token)
            fail_msg("message %llu arrived as %llu", (unsigned long long)p->next_token,
                     (unsigned long long)m.u.ping.token);
        p->next_token++;
        msg_clear(&m);
    } else {
        p->log[p->nlog++] = 'M';
        free(p->last);
        p->last = malloc(ev->len);
        assert_non_null(p->last);
        memcpy(p->last, ev->data, ev->len);
        p->last_len = ev->len;
    }
    p->nmsg++;
}

/* Feed n bytes to p (from a heap copy of exactly n bytes), draining every
 * event. Returns 0 or the error session_feed gave. */
static int feed_all(struct peer *p, const uint8_t *in, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    if (n)
        memcpy(copy, in, n);
    size_t off = 0;
    int r;
    for (;;) {
        session_event ev;
        size_t used = 99999;
        r = session_feed(p->s, copy + off, n - off, &used, &ev);
        assert_true(used <= n - off);
        off += used;
        if (r < 0) {
            if (!p->err)
                p->err = r;
            break;
        }
        if (r == 0) {
            assert_int_equal(off, n); /* 0: everything was taken */
            break;
        }
        assert_int_equal(r, 1);
        record(p, &ev);
    }
    free(copy);
    return r < 0 ? r : 0;
}

/* Move what from has queued into to, step bytes at a time (0: all at
 * once), and release it from from's queue. */
static int deliver(struct peer *from, struct peer *to, size_t step)
{
    size_t len;
    const uint8_t *out = session_out(from->s, &len);
    int r = 0;
    for (size_t pos = 0; pos < len && r == 0;) {
        size_t n = step && step < len - pos ? step : len - pos;
        r = feed_all(to, out + pos, n);
        pos += n;
    }
    session_out_consume(from->s, len);
    return r;
}

/* Pump both ways until both sides are established or one fails. */
static int handshake(struct peer *i, struct peer *r, size_t step)
{
    for (int round = 0; round < 4; round++) {
        int e = deliver(i, r, step);
        if (e)
            return e;
        e = deliver(r, i, step);
        if (e)
            return e;
        if (session_established(i->s) && session_established(r->s))
            return 0;
    }
    fail_msg("handshake did not finish");
    return 0;
}

/* Two fresh peers, established. */
static void pair(struct peer *i, struct peer *r, size_t out_cap)
{
    peer_identity(i);
    peer_identity(r);
    peer_start(i, NOISE_INITIATOR, NULL, out_cap);
    peer_start(r, NOISE_RESPONDER, NULL, out_cap);
    assert_int_equal(handshake(i, r, 0), 0);
}

static void send_chat(struct peer *p, const char *body, bool broadcast)
{
    static const uint8_t id[MSG_ID_LEN] = {0xaa, 0xbb};
    msg m;
    assert_int_equal(msg_chat_init(&m, id, 1732200000000, body, strlen(body), broadcast), 0);
    assert_int_equal(session_send_msg(p->s, &m), 0);
    msg_clear(&m);
}

/* p's last message is a CHAT with this body. */
static void expect_chat(const struct peer *p, const char *body, bool broadcast)
{
    msg m;
    assert_non_null(p->last);
    assert_int_equal(msg_decode(&m, p->last, p->last_len), 0);
    assert_int_equal(m.type, MSG_CHAT);
    assert_string_equal(m.u.chat.body, body);
    assert_int_equal(m.u.chat.body_len, strlen(body));
    assert_int_equal(m.u.chat.broadcast, broadcast);
    assert_true(m.u.chat.ts_ms == 1732200000000);
    assert_int_equal(m.u.chat.id[0], 0xaa);
    msg_clear(&m);
}

static void expect_dead(struct peer *p)
{
    uint8_t b[20] = {0, 1, 'x'};
    session_event ev;
    size_t used = 99;
    assert_int_equal(session_feed(p->s, b, sizeof b, &used, &ev), BANTER_ESTATE);
    assert_int_equal(used, 0);
    assert_int_equal(session_feed(p->s, b, 0, &used, &ev), BANTER_ESTATE);
    assert_int_equal(session_send(p->s, b, 3), BANTER_ESTATE);
}

/* ---- handshake and messages ---- */

static void run_conversation(size_t step)
{
    struct peer i, r;
    uint8_t hi[NOISE_HASHLEN], hr[NOISE_HASHLEN];
    size_t len;

    peer_identity(&i);
    peer_identity(&r);
    peer_start(&i, NOISE_INITIATOR, NULL, 0);
    peer_start(&r, NOISE_RESPONDER, NULL, 0);
    /* The initiator speaks first; nothing is known yet. */
    assert_non_null(session_out(i.s, &len));
    assert_int_equal(len, BANTER_FRAME_HDR + 32 + 1); /* e, version byte */
    assert_null(session_out(r.s, &len));
    assert_int_equal(len, 0);
    assert_false(session_established(i.s));
    assert_null(session_peer(i.s));
    assert_int_equal(session_binding(i.s, hi), BANTER_ESTATE);

    /* Message 1, then message 2: the initiator is done and says so. */
    assert_int_equal(deliver(&i, &r, step), 0);
    assert_int_equal(r.nlog, 0);
    session_out(r.s, &len);
    assert_int_equal(len, BANTER_FRAME_HDR + 32 + 48 + SESSION_PROOF_LEN + 16);
    assert_int_equal(deliver(&r, &i, step), 0);
    assert_string_equal(i.log, "E");
    assert_true(session_established(i.s));
    assert_false(session_established(r.s));
    assert_null(session_peer(r.s));
    session_out(i.s, &len);
    assert_int_equal(len, BANTER_FRAME_HDR + 48 + SESSION_PROOF_LEN + 16);

    /* The initiator may talk at once: message 3 and a chat arrive in the
     * same bytes, as two events in order. */
    send_chat(&i, "first!", false);
    assert_int_equal(deliver(&i, &r, step), 0);
    assert_string_equal(r.log, "EM");
    expect_chat(&r, "first!", false);

    assert_memory_equal(session_peer(i.s), identity_public(r.id), BCRYPTO_ED_PKLEN);
    assert_memory_equal(session_peer(r.s), identity_public(i.id), BCRYPTO_ED_PKLEN);
    assert_int_equal(session_binding(i.s, hi), 0);
    assert_int_equal(session_binding(r.s, hr), 0);
    assert_memory_equal(hi, hr, NOISE_HASHLEN);

    /* Both ways, several at once, multibyte text and broadcast. */
    const char *utf = "Gr\xc3\xbc\xc3\x9f"
                      "e \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x8e\x89";
    send_chat(&r, utf, true);
    send_chat(&r, "two", false);
    assert_int_equal(deliver(&r, &i, step), 0);
    assert_string_equal(i.log, "EMM");
    expect_chat(&i, "two", false);
    send_chat(&r, utf, true);
    assert_int_equal(deliver(&r, &i, step), 0);
    expect_chat(&i, utf, true);
    send_chat(&i, utf, false);
    assert_int_equal(deliver(&i, &r, step), 0);
    expect_chat(&r, utf, false);
    assert_string_equal(r.log, "EMM");

    /* The largest plaintext; one byte more is refused. */
    static uint8_t big[BANTER_MAX_PLAINTEXT + 1];
    for (size_t k = 0; k < sizeof big; k++)
        big[k] = (uint8_t)(k * 13);
    assert_int_equal(session_send(i.s, big, BANTER_MAX_PLAINTEXT + 1), BANTER_ETOOBIG);
    assert_int_equal(session_send(i.s, big, 0), BANTER_EINVAL);
    assert_int_equal(session_send(i.s, big, BANTER_MAX_PLAINTEXT), 0);
    session_out(i.s, &len);
    assert_int_equal(len, BANTER_FRAME_HDR + BANTER_NOISE_MAX_MSG);
    assert_int_equal(deliver(&i, &r, step), 0);
    assert_int_equal(r.last_len, BANTER_MAX_PLAINTEXT);
    assert_memory_equal(r.last, big, BANTER_MAX_PLAINTEXT);

    assert_int_equal(i.err, 0);
    assert_int_equal(r.err, 0);
    assert_int_equal(session_finish(i.s), 0);
    assert_int_equal(session_finish(r.s), 0);
    peer_free(&i);
    peer_free(&r);
}

static void test_conversation_whole(void **state)
{
    (void)state;
    run_conversation(0);
}

static void test_conversation_bytewise(void **state)
{
    (void)state;
    run_conversation(1);
}

static void test_conversation_odd_chunks(void **state)
{
    (void)state;
    run_conversation(7);
    run_conversation(1000);
}

static void test_expect_peer(void **state)
{
    (void)state;
    struct peer i, r, other;
    peer_identity(&i);
    peer_identity(&r);
    peer_identity(&other);

    /* The right key: fine, both ways. */
    peer_start(&i, NOISE_INITIATOR, identity_public(r.id), 0);
    peer_start(&r, NOISE_RESPONDER, identity_public(i.id), 0);
    assert_int_equal(handshake(&i, &r, 0), 0);

    /* The initiator expected someone else. */
    peer_start(&i, NOISE_INITIATOR, identity_public(other.id), 0);
    peer_start(&r, NOISE_RESPONDER, NULL, 0);
    assert_int_equal(handshake(&i, &r, 0), BANTER_EKEYMISMATCH);
    assert_int_equal(i.err, BANTER_EKEYMISMATCH);
    assert_false(session_established(i.s));
    assert_null(session_peer(i.s));
    assert_int_equal(i.nlog, 0);
    expect_dead(&i);

    /* The responder expected someone else: it finds out from message 3. */
    peer_start(&i, NOISE_INITIATOR, NULL, 0);
    peer_start(&r, NOISE_RESPONDER, identity_public(other.id), 0);
    assert_int_equal(handshake(&i, &r, 0), BANTER_EKEYMISMATCH);
    assert_int_equal(r.err, BANTER_EKEYMISMATCH);
    assert_false(session_established(r.s));
    assert_int_equal(r.nlog, 0);
    expect_dead(&r);

    peer_free(&i);
    peer_free(&r);
    peer_free(&other);
}

/* ---- tampering ---- */

/* Run the three handshake messages, flipping one bit of the Noise message
 * `which` (1..3; the frame header is left alone). */
static void run_flipped(struct peer *i, struct peer *r, int which, size_t bit)
{
    struct peer *from[3] = {i, r, i}, *to[3] = {r, i, r};
    for (int k = 0; k < 3; k++) {
        size_t len;
        const uint8_t *o = session_out(from[k]->s, &len);
        assert_true(len > BANTER_FRAME_HDR);
        uint8_t *copy = malloc(len);
        assert_non_null(copy);
        memcpy(copy, o, len);
        session_out_consume(from[k]->s, len);
        if (k + 1 == which) {
            assert_true(bit / 8 < len - BANTER_FRAME_HDR);
            copy[BANTER_FRAME_HDR + bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        int e = feed_all(to[k], copy, len);
        free(copy);
        if (e)
            return;
    }
}

static void test_flipped_handshake_bits(void **state)
{
    (void)state;
    struct peer i, r;
    peer_identity(&i);
    peer_identity(&r);
    const size_t body[3] = {32 + 1, 32 + 48 + SESSION_PROOF_LEN + 16, 48 + SESSION_PROOF_LEN + 16};
    size_t trials = 0;

    for (int which = 1; which <= 3; which++) {
        /* Every bit of message 1; in the larger ones one bit of every
         * byte, its position moving along (bit k % 8 of byte k). */
        size_t ntrials = which == 1 ? body[0] * 8 : body[which - 1];
        for (size_t t = 0; t < ntrials; t++) {
            size_t bit = which == 1 ? t : t * 8 + t % 8;
            peer_start(&i, NOISE_INITIATOR, NULL, 0);
            peer_start(&r, NOISE_RESPONDER, NULL, 0);
            run_flipped(&i, &r, which, bit);
            /* Who notices, and how: message 1's version byte is in clear
             * and checked at once; a changed ephemeral key breaks message
             * 2's tag at the initiator; in messages 2 and 3 every byte is
             * authenticated by the reader. */
            struct peer *victim = which == 2 || (which == 1 && bit < 256) ? &i : &r;
            struct peer *bystander = victim == &i ? &r : &i;
            int want = which == 1 && bit >= 256 ? BANTER_EUNSUPPORTED : BANTER_EBADTAG;
            if (victim->err != want)
                fail_msg("message %d bit %zu: got %s", which, bit, banter_errname(victim->err));
            assert_int_equal(bystander->err, 0);
            assert_false(session_established(victim->s));
            assert_null(strchr(victim->log, 'E'));
            expect_dead(victim);
            trials++;
        }
    }
    assert_int_equal(trials, 33 * 8 + 192 + 160);
    peer_free(&i);
    peer_free(&r);
}

static void test_flipped_transport_bits(void **state)
{
    (void)state;
    struct peer i, r;
    pair(&i, &r, 0);
    uint8_t pt[40];
    memset(pt, 'p', sizeof pt);
    /* Each trial needs a fresh pair: the first failure ends a session. */
    const size_t where[] = {0, 1, 20, 39, 40, 55}; /* ciphertext and tag bytes */
    for (size_t k = 0; k < sizeof where / sizeof where[0]; k++) {
        if (k)
            pair(&i, &r, 0);
        assert_int_equal(session_send(i.s, pt, sizeof pt), 0);
        size_t len;
        const uint8_t *o = session_out(i.s, &len);
        assert_int_equal(len, BANTER_FRAME_HDR + sizeof pt + NOISE_TAGLEN);
        uint8_t copy[BANTER_FRAME_HDR + 40 + NOISE_TAGLEN];
        memcpy(copy, o, len);
        session_out_consume(i.s, len);
        copy[BANTER_FRAME_HDR + where[k]] ^= 0x10;
        assert_int_equal(feed_all(&r, copy, len), BANTER_EBADTAG);
        assert_int_equal(r.nmsg, 0);
        expect_dead(&r);
        /* The sender is unaffected. */
        assert_int_equal(session_send(i.s, pt, sizeof pt), 0);
        peer_free(&i);
        peer_free(&r);
    }

    /* A replayed frame and a reordered pair are refused too. */
    pair(&i, &r, 0);
    assert_int_equal(session_send(i.s, pt, 1), 0);
    size_t len;
    uint8_t copy[BANTER_FRAME_HDR + 1 + NOISE_TAGLEN];
    memcpy(copy, session_out(i.s, &len), sizeof copy);
    assert_int_equal(deliver(&i, &r, 0), 0);
    assert_int_equal(r.nmsg, 1);
    assert_int_equal(feed_all(&r, copy, sizeof copy), BANTER_EBADTAG);
    peer_free(&i);
    peer_free(&r);

    pair(&i, &r, 0);
    assert_int_equal(session_send(i.s, pt, 1), 0);
    assert_int_equal(session_send(i.s, pt, 2), 0);
    const uint8_t *o = session_out(i.s, &len);
    uint8_t swapped[2 * BANTER_FRAME_HDR + 3 + 2 * NOISE_TAGLEN];
    size_t first = BANTER_FRAME_HDR + 1 + NOISE_TAGLEN;
    assert_int_equal(len, sizeof swapped);
    memcpy(swapped, o + first, len - first);
    memcpy(swapped + len - first, o, first);
    session_out_consume(i.s, len);
    assert_int_equal(feed_all(&r, swapped, len), BANTER_EBADTAG);
    assert_int_equal(r.nmsg, 0);
    peer_free(&i);
    peer_free(&r);
}

/* xorshift64*, so the garbage is the same on every run. */
static uint64_t rnd(uint64_t *st)
{
    *st ^= *st >> 12;
    *st ^= *st << 25;
    *st ^= *st >> 27;
    return *st * 0x2545f4914f6cdd1dull;
}

static void test_garbage(void **state)
{
    (void)state;
    struct peer i, r;
    peer_identity(&i);
    peer_identity(&r);
    uint64_t st = 0x0123456789abcdefull;
    static uint8_t junk[4096];
    int errors = 0;

    for (int t = 0; t < 300; t++) {
        size_t n = t < 100 ? 1 + rnd(&st) % 40 : 1 + rnd(&st) % sizeof junk;
        for (size_t k = 0; k < n; k++)
            junk[k] = (uint8_t)rnd(&st);
        /* Small headers too, so frames reach the Noise layer. */
        if (t % 3 == 0 && n >= 2) {
            junk[0] = 0;
            junk[1] = (uint8_t)(33 + t % 90);
        }
        struct peer *victim = t % 2 ? &r : &i;
        peer_start(&i, NOISE_INITIATOR, NULL, 0);
        peer_start(&r, NOISE_RESPONDER, NULL, 0);
        int e = feed_all(victim, junk, n);
        assert_false(session_established(victim->s));
        assert_int_equal(victim->nlog, 0);
        if (e) {
            errors++;
            expect_dead(victim);
        } else if (session_finish(victim->s) == 0) {
            /* No error, no frame pending: only a responder can take random
             * bytes for a message 1 (it is not authenticated), and then it
             * answers. */
            size_t ol;
            assert_ptr_equal(victim, &r);
            assert_non_null(session_out(r.s, &ol));
        }
    }
    assert_true(errors > 200);

    /* A well-framed message 3 of random bytes after a real message 1 and 2. */
    peer_start(&i, NOISE_INITIATOR, NULL, 0);
    peer_start(&r, NOISE_RESPONDER, NULL, 0);
    assert_int_equal(deliver(&i, &r, 0), 0);
    size_t len;
    session_out(r.s, &len);
    session_out_consume(r.s, len);
    const size_t m3 = 48 + SESSION_PROOF_LEN + 16;
    assert_int_equal(frame_header(junk, m3), 0);
    for (size_t k = 0; k < m3; k++)
        junk[2 + k] = (uint8_t)rnd(&st);
    assert_int_equal(feed_all(&r, junk, 2 + m3), BANTER_EBADTAG);
    expect_dead(&r);
    peer_free(&i);
    peer_free(&r);
}

static void test_frame_caps(void **state)
{
    (void)state;
    struct peer i, r;
    const uint8_t ffff[2] = {0xff, 0xff};
    const uint8_t over[2] = {0x04, 0x01}; /* 1025 */
    peer_identity(&i);
    peer_identity(&r);

    /* During the handshake frames are capped at BANTER_MAX_HANDSHAKE_MSG. */
    peer_start(&r, NOISE_RESPONDER, NULL, 0);
    assert_int_equal(feed_all(&r, ffff, 2), BANTER_ETOOBIG);
    expect_dead(&r);
    peer_start(&r, NOISE_RESPONDER, NULL, 0);
    assert_int_equal(feed_all(&r, over, 1), 0);
    assert_int_equal(feed_all(&r, over + 1, 1), BANTER_ETOOBIG);
    peer_start(&r, NOISE_RESPONDER, NULL, 0);
    const uint8_t at_cap[2] = {0x04, 0x00}; /* 1024: allowed, waits for it */
    assert_int_equal(feed_all(&r, at_cap, 2), 0);
    assert_int_equal(session_finish(r.s), BANTER_ETRUNCATED);
    peer_start(&i, NOISE_INITIATOR, NULL, 0);
    assert_int_equal(feed_all(&i, ffff, 2), BANTER_ETOOBIG);
    expect_dead(&i);

    /* Once established the cap is a full Noise message. */
    peer_start(&i, NOISE_INITIATOR, NULL, 0);
    peer_start(&r, NOISE_RESPONDER, NULL, 0);
    assert_int_equal(handshake(&i, &r, 0), 0);
    assert_int_equal(feed_all(&r, ffff, 2), 0);
    assert_int_equal(session_finish(r.s), BANTER_ETRUNCATED);

    /* A caller may lower it after the handshake (a node before HELLO). */
    peer_start(&i, NOISE_INITIATOR, NULL, 0);
    peer_start(&r, NOISE_RESPONDER, NULL, 0);
    assert_int_equal(handshake(&i, &r, 0), 0);
    session_set_rx_max(r.s, 4096);
    const uint8_t big[2] = {0x10, 0x01}; /* 4097 */
    assert_int_equal(feed_all(&r, big, 2), BANTER_ETOOBIG);
    expect_dead(&r);
    peer_start(&i, NOISE_INITIATOR, NULL, 0);
    peer_start(&r, NOISE_RESPONDER, NULL, 0);
    assert_int_equal(handshake(&i, &r, 0), 0);
    session_set_rx_max(r.s, 4096);
    session_set_rx_max(r.s, 65535); /* raised again after HELLO */
    assert_int_equal(feed_all(&r, ffff, 2), 0);
    session_trim(r.s); /* a partial frame keeps its header */
    assert_int_equal(session_finish(r.s), BANTER_ETRUNCATED);

    /* Transport frames too short to hold a tag and a type byte. */
    const uint8_t sizes[] = {0, 1, 15, 16};
    for (size_t k = 0; k < sizeof sizes; k++) {
        peer_start(&i, NOISE_INITIATOR, NULL, 0);
        peer_start(&r, NOISE_RESPONDER, NULL, 0);
        assert_int_equal(handshake(&i, &r, 0), 0);
        uint8_t f[2 + 16] = {0, sizes[k]};
        memset(f + 2, 0x42, 16);
        assert_int_equal(feed_all(&r, f, 2u + sizes[k]), BANTER_ETRUNCATED);
        expect_dead(&r);
    }
    /* 17 bytes is long enough to be tried, and fails authentication. */
    peer_start(&i, NOISE_INITIATOR, NULL, 0);
    peer_start(&r, NOISE_RESPONDER, NULL, 0);
    assert_int_equal(handshake(&i, &r, 0), 0);
    uint8_t f17[2 + 17] = {0, 17};
    assert_int_equal(feed_all(&r, f17, sizeof f17), BANTER_EBADTAG);
    peer_free(&i);
    peer_free(&r);
}

/* A hand-made message 1 with the given payload, from a fresh ephemeral key. */
static size_t raw_msg1(const identity *id, const uint8_t *payload, size_t plen, uint8_t *out,
                       noise_hs **keep)
{
    noise_hs *hs = NULL;
    noise_hs_config c = {.protocol_name = SESSION_PROTOCOL,
                         .role = NOISE_INITIATOR,
                         .prologue = (const uint8_t *)SESSION_PROLOGUE,
                         .prologue_len = strlen(SESSION_PROLOGUE),
                         .s = identity_dh_secret(id),
                         .rng = bcrypto_rng_system()};
    size_t n = 0;
    assert_int_equal(noise_hs_new(&hs, &c), 0);
    assert_int_equal(noise_hs_write(hs, payload, plen, out + BANTER_FRAME_HDR, &n), 0);
    assert_int_equal(frame_header(out, n), 0);
    if (keep)
        *keep = hs;
    else
        noise_hs_free(hs);
    return BANTER_FRAME_HDR + n;
}

static void test_version(void **state)
{
    (void)state;
    struct peer r;
    identity *me = NULL;
    uint8_t m1[256];
    peer_identity(&r);
    assert_int_equal(identity_generate(&me, bcrypto_rng_system()), 0);

    const uint8_t v2[] = {2}, v0[] = {0}, v255[] = {255}, two[] = {1, 1};
    struct {
        const uint8_t *p;
        size_t n;
        int want;
    } cases[] = {
        {v2, 1, BANTER_EUNSUPPORTED}, {v0, 1, BANTER_EUNSUPPORTED}, {v255, 1, BANTER_EUNSUPPORTED},
        {two, 2, BANTER_EPROTO},      {NULL, 0, BANTER_EPROTO},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        peer_start(&r, NOISE_RESPONDER, NULL, 0);
        size_t n = raw_msg1(me, cases[k].p, cases[k].n, m1, NULL);
        assert_int_equal(feed_all(&r, m1, n), cases[k].want);
        size_t len;
        assert_null(session_out(r.s, &len)); /* no answer */
        expect_dead(&r);
    }
    /* Version 1 by hand is answered. */
    peer_start(&r, NOISE_RESPONDER, NULL, 0);
    const uint8_t v1[] = {SESSION_VERSION};
    size_t n = raw_msg1(me, v1, 1, m1, NULL);
    assert_int_equal(feed_all(&r, m1, n), 0);
    size_t len;
    assert_non_null(session_out(r.s, &len));
    identity_free(me);
    peer_free(&r);
}

static void test_state_errors(void **state)
{
    (void)state;
    struct peer i, r;
    const uint8_t pt[] = {MSG_PING, 0, 0, 0, 0, 0, 0, 0, 1};
    msg ping = {.type = MSG_PING};
    peer_identity(&i);
    peer_identity(&r);
    peer_start(&i, NOISE_INITIATOR, NULL, 0);
    peer_start(&r, NOISE_RESPONDER, NULL, 0);

    /* Nothing can be sent before the handshake is done... */
    assert_int_equal(session_send(i.s, pt, sizeof pt), BANTER_ESTATE);
    assert_int_equal(session_send(r.s, pt, sizeof pt), BANTER_ESTATE);
    assert_int_equal(session_send_msg(i.s, &ping), BANTER_ESTATE);
    /* ...including halfway through it. */
    assert_int_equal(deliver(&i, &r, 0), 0);
    assert_int_equal(session_send(r.s, pt, sizeof pt), BANTER_ESTATE);
    assert_int_equal(deliver(&r, &i, 0), 0);
    assert_true(session_established(i.s));
    assert_int_equal(session_send(r.s, pt, sizeof pt), BANTER_ESTATE);
    assert_int_equal(deliver(&i, &r, 0), 0);
    assert_int_equal(session_send(r.s, pt, sizeof pt), 0);
    assert_int_equal(session_send_msg(i.s, &ping), 0);
    assert_int_equal(deliver(&r, &i, 0), 0);
    assert_int_equal(deliver(&i, &r, 0), 0);
    assert_memory_equal(i.last, pt, sizeof pt);
    assert_int_equal(r.last_len, 9);

    /* A message 1 sent to an initiator is out of turn. */
    struct peer j;
    peer_identity(&j);
    peer_start(&j, NOISE_INITIATOR, NULL, 0);
    uint8_t m1[64];
    size_t n = raw_msg1(r.id, (const uint8_t[]){1}, 1, m1, NULL);
    assert_true(feed_all(&j, m1, n) < 0);
    expect_dead(&j);

    /* Bad configurations. */
    session *s = (session *)&s;
    assert_int_equal(session_new(&s, NULL), BANTER_EINVAL);
    assert_null(s);
    session_config c = {.role = NOISE_INITIATOR, .id = NULL, .rng = bcrypto_rng_system()};
    s = (session *)&s;
    assert_int_equal(session_new(&s, &c), BANTER_EINVAL);
    assert_null(s);
    c.id = i.id;
    c.rng.fill = NULL;
    assert_int_equal(session_new(&s, &c), BANTER_EINVAL);
    assert_null(s);
    session_free(NULL);

    peer_free(&i);
    peer_free(&r);
    peer_free(&j);
}

/* ---- volume and rekeying ---- */

static void test_many_messages(void **state)
{
    (void)state;
    struct peer i, r;
    pair(&i, &r, 0);
    r.tokens = true;
    i.tokens = true;
    /* Past BANTER_REKEY_INTERVAL, so each direction's cipher is rekeyed. */
    const uint64_t total = BANTER_REKEY_INTERVAL + 4500;
    msg m = {.type = MSG_PING};
    for (uint64_t t = 0; t < total; t++) {
        m.u.ping.token = t;
        assert_int_equal(session_send_msg(i.s, &m), 0);
        if (t % 2000 == 1999 || t + 1 == total)
            assert_int_equal(deliver(&i, &r, 0), 0);
    }
    assert_true(r.next_token == total);
    assert_int_equal(r.nmsg, total);
    /* The other direction still works, and this one keeps working. */
    for (uint64_t t = 0; t < 10; t++) {
        m.u.ping.token = t;
        assert_int_equal(session_send_msg(r.s, &m), 0);
    }
    assert_int_equal(deliver(&r, &i, 0), 0);
    assert_true(i.next_token == 10);
    m.u.ping.token = total;
    assert_int_equal(session_send_msg(i.s, &m), 0);
    assert_int_equal(deliver(&i, &r, 0), 0);
    assert_true(r.next_token == total + 1);
    peer_free(&i);
    peer_free(&r);
}

/* The protocol driven by hand against a session responder: message 1 with
 * the version, message 2's proof checked, message 3 with ours. Leaves the
 * transport ciphers in tx/rx. */
static void manual_initiator(const identity *me, struct peer *r, noise_cipher *tx, noise_cipher *rx)
{
    noise_hs *hs;
    uint8_t out[1024], pl[1024], h[NOISE_HASHLEN];
    uint8_t signed_data[sizeof SESSION_PROOF_CONTEXT - 1 + NOISE_HASHLEN];
    const size_t ctx = sizeof SESSION_PROOF_CONTEXT - 1;
    size_t n, plen, len;

    n = raw_msg1(me, (const uint8_t[]){SESSION_VERSION}, 1, out, &hs);
    assert_int_equal(feed_all(r, out, n), 0);

    const uint8_t *m2 = session_out(r->s, &len);
    assert_true(len > BANTER_FRAME_HDR);
    assert_int_equal((size_t)m2[0] << 8 | m2[1], len - BANTER_FRAME_HDR);
    noise_hs_hash(hs, h);
    assert_int_equal(noise_hs_read(hs, m2 + 2, len - 2, pl, sizeof pl, &plen), 0);
    session_out_consume(r->s, len);
    /* The proof: the responder's Ed25519 key and its signature over the
     * context string and the handshake hash before message 2. */
    assert_int_equal(plen, SESSION_PROOF_LEN);
    assert_memory_equal(pl, identity_public(r->id), BCRYPTO_ED_PKLEN);
    memcpy(signed_data, SESSION_PROOF_CONTEXT, ctx);
    memcpy(signed_data + ctx, h, NOISE_HASHLEN);
    assert_int_equal(bcrypto_verify(pl + BCRYPTO_ED_PKLEN, signed_data, sizeof signed_data, pl), 0);

    uint8_t proof[SESSION_PROOF_LEN];
    noise_hs_hash(hs, h);
    memcpy(signed_data + ctx, h, NOISE_HASHLEN);
    memcpy(proof, identity_public(me), BCRYPTO_ED_PKLEN);
    identity_sign(me, signed_data, sizeof signed_data, proof + BCRYPTO_ED_PKLEN);
    assert_int_equal(noise_hs_write(hs, proof, sizeof proof, out + 2, &n), 0);
    assert_int_equal(frame_header(out, n), 0);
    assert_int_equal(feed_all(r, out, n + 2), 0);
    assert_string_equal(r->log, "E");
    assert_memory_equal(session_peer(r->s), identity_public(me), BCRYPTO_ED_PKLEN);

    assert_int_equal(noise_hs_action(hs), NOISE_SPLIT);
    assert_int_equal(noise_hs_split(hs, tx, rx), 0);
    uint8_t mine[NOISE_HASHLEN], theirs[NOISE_HASHLEN];
    noise_hs_hash(hs, mine);
    assert_int_equal(session_binding(r->s, theirs), 0);
    assert_memory_equal(mine, theirs, NOISE_HASHLEN);
    noise_hs_free(hs);
}

static void test_rekey_schedule(void **state)
{
    (void)state;
    struct peer r;
    identity *me = NULL;
    noise_cipher tx, rx;
    peer_identity(&r);
    peer_start(&r, NOISE_RESPONDER, NULL, 0);
    assert_int_equal(identity_generate(&me, bcrypto_rng_system()), 0);
    manual_initiator(me, &r, &tx, &rx);

    /* Session -> us: message n (from 0) is sent with the key rekeyed
     * n / BANTER_REKEY_INTERVAL times, and only with that key. */
    const uint64_t total = BANTER_REKEY_INTERVAL + 2;
    uint8_t pt[3] = {MSG_PING}, back[3];
    for (uint64_t n = 0; n < total; n++) {
        pt[1] = (uint8_t)n, pt[2] = (uint8_t)(n >> 8);
        assert_int_equal(session_send(r.s, pt, sizeof pt), 0);
        size_t len;
        const uint8_t *f = session_out(r.s, &len);
        assert_int_equal(len, BANTER_FRAME_HDR + sizeof pt + NOISE_TAGLEN);
        if (n > 0 && n % BANTER_REKEY_INTERVAL == 0) {
            noise_cipher stale = rx;
            assert_int_equal(noise_cipher_decrypt(&stale, NULL, 0, f + 2, len - 2, back),
                             BANTER_EBADTAG);
            noise_cipher_rekey(&rx);
        }
        assert_int_equal(noise_cipher_decrypt(&rx, NULL, 0, f + 2, len - 2, back), 0);
        assert_memory_equal(back, pt, sizeof pt);
        session_out_consume(r.s, len);
    }

    /* Us -> session: the session must rekey at the same point to read
     * message BANTER_REKEY_INTERVAL and the ones after it. */
    uint8_t frame[BANTER_FRAME_HDR + 9 + NOISE_TAGLEN];
    r.tokens = true;
    for (uint64_t n = 0; n < total; n++) {
        if (n > 0 && n % BANTER_REKEY_INTERVAL == 0)
            noise_cipher_rekey(&tx);
        uint8_t ping[9] = {MSG_PING};
        put_u64be(ping + 1, n);
        assert_int_equal(noise_cipher_encrypt(&tx, NULL, 0, ping, 9, frame + 2), 0);
        assert_int_equal(frame_header(frame, 9 + NOISE_TAGLEN), 0);
        assert_int_equal(feed_all(&r, frame, sizeof frame), 0);
    }
    assert_true(r.next_token == total);

    noise_cipher_wipe(&tx);
    noise_cipher_wipe(&rx);
    identity_free(me);
    peer_free(&r);
}

/* ---- output queue and end of stream ---- */

static void test_out_cap(void **state)
{
    (void)state;
    struct peer i, r;
    pair(&i, &r, 4096);
    uint8_t pt[100];
    memset(pt, 0, sizeof pt);
    const size_t frame = BANTER_FRAME_HDR + sizeof pt + NOISE_TAGLEN;
    int sent = 0;
    for (;;) {
        pt[0] = MSG_PING, pt[1] = (uint8_t)sent;
        int e = session_send(i.s, pt, sizeof pt);
        if (e) {
            assert_int_equal(e, BANTER_ETOOBIG);
            break;
        }
        sent++;
        assert_true(sent < 100);
    }
    assert_int_equal(sent, 4096 / frame);
    size_t len;
    session_out(i.s, &len);
    assert_int_equal(len, (size_t)sent * frame);
    /* Still full, and still alive: nothing was queued or used up. */
    assert_int_equal(session_send(i.s, pt, sizeof pt), BANTER_ETOOBIG);
    session_out(i.s, &len);
    assert_int_equal(len, (size_t)sent * frame);
    /* A message larger than the whole queue can never go. */
    static uint8_t big[5000];
    big[0] = MSG_PING;
    assert_int_equal(session_send(i.s, big, sizeof big), BANTER_ETOOBIG);

    /* Write out one frame: room for exactly one more. */
    assert_int_equal(feed_all(&r, session_out(i.s, &len), frame), 0);
    session_out_consume(i.s, frame);
    assert_int_equal(r.nmsg, 1);
    pt[1] = (uint8_t)sent;
    assert_int_equal(session_send(i.s, pt, sizeof pt), 0);
    sent++;
    assert_int_equal(session_send(i.s, pt, sizeof pt), BANTER_ETOOBIG);

    /* Write out the rest: all arrive, the refused sends burned no nonce. */
    assert_int_equal(deliver(&i, &r, 0), 0);
    assert_int_equal(r.nmsg, (size_t)sent);
    assert_int_equal(r.last[1], (uint8_t)(sent - 1));
    pt[1] = 0xee;
    assert_int_equal(session_send(i.s, pt, sizeof pt), 0);
    assert_int_equal(deliver(&i, &r, 0), 0);
    assert_int_equal(r.last[1], 0xee);
    assert_int_equal(r.err, 0);
    peer_free(&i);
    peer_free(&r);
}

/* session_send_msg encodes into the output queue itself: a message that
 * does not fit leaves the queue exactly as it was (nothing half-queued,
 * no nonce used), and messages sent after it arrive. */
static void test_send_msg_full(void **state)
{
    (void)state;
    struct peer i, r;
    pair(&i, &r, 1024);
    size_t len, before;
    int sent = 0;
    for (;;) {
        session_out(i.s, &before);
        static const uint8_t id[MSG_ID_LEN] = {0xaa, 0xbb};
        msg m;
        char body[200];
        memset(body, 'a' + sent % 26, sizeof body - 1);
        body[sizeof body - 1] = '\0';
        assert_int_equal(msg_chat_init(&m, id, 1732200000000, body, strlen(body), false), 0);
        int e = session_send_msg(i.s, &m);
        msg_clear(&m);
        session_out(i.s, &len);
        if (e) {
            assert_int_equal(e, BANTER_ETOOBIG);
            assert_int_equal(len, before);
            break;
        }
        sent++;
        assert_true(sent < 10);
    }
    assert_true(sent >= 2);
    assert_int_equal(deliver(&i, &r, 0), 0);
    assert_int_equal(r.nmsg, (size_t)sent);
    send_chat(&i, "after the full queue", false);
    assert_int_equal(deliver(&i, &r, 0), 0);
    expect_chat(&r, "after the full queue", false);
    assert_int_equal(r.err, 0);
    peer_free(&i);
    peer_free(&r);
}

static void test_finish(void **state)
{
    (void)state;
    struct peer i, r;
    peer_identity(&i);
    peer_identity(&r);
    peer_start(&i, NOISE_INITIATOR, NULL, 0);
    peer_start(&r, NOISE_RESPONDER, NULL, 0);
    assert_int_equal(session_finish(i.s), 0);
    assert_int_equal(session_finish(r.s), 0);

    /* Half of message 1. */
    size_t len;
    const uint8_t *o = session_out(i.s, &len);
    assert_int_equal(feed_all(&r, o, len / 2), 0);
    assert_int_equal(session_finish(r.s), BANTER_ETRUNCATED);
    assert_int_equal(feed_all(&r, o + len / 2, len - len / 2), 0);
    assert_int_equal(session_finish(r.s), 0);
    session_out_consume(i.s, len);
    assert_int_equal(handshake(&i, &r, 0), 0);
    assert_int_equal(session_finish(i.s), 0);
    assert_int_equal(session_finish(r.s), 0);

    /* Half a transport frame, then one byte of a header. */
    send_chat(&i, "hello there", false);
    o = session_out(i.s, &len);
    assert_int_equal(feed_all(&r, o, len / 2), 0);
    assert_int_equal(r.nmsg, 0);
    assert_int_equal(session_finish(r.s), BANTER_ETRUNCATED);
    assert_int_equal(feed_all(&r, o + len / 2, len - len / 2), 0);
    assert_int_equal(r.nmsg, 1);
    expect_chat(&r, "hello there", false);
    assert_int_equal(session_finish(r.s), 0);
    session_out_consume(i.s, len);

    send_chat(&i, "again", false);
    o = session_out(i.s, &len);
    assert_int_equal(feed_all(&r, o, 1), 0);
    assert_int_equal(session_finish(r.s), BANTER_ETRUNCATED);
    assert_int_equal(feed_all(&r, o + 1, len - 1), 0);
    assert_int_equal(session_finish(r.s), 0);
    session_out_consume(i.s, len);
    expect_chat(&r, "again", false);
    peer_free(&i);
    peer_free(&r);
}

/* Feed a whole frame to s in two pieces (the second part is gathered in
 * the frame decoder); returns the event's plaintext pointer. */
static const uint8_t *feed_split(session *s, const uint8_t *f, size_t n, size_t *len)
{
    session_event ev;
    size_t used;
    assert_int_equal(session_feed(s, f, n / 2, &used, &ev), 0);
    assert_int_equal(used, n / 2);
    assert_int_equal(session_feed(s, f + n / 2, n - n / 2, &used, &ev), 1);
    assert_int_equal(used, n - n / 2);
    assert_int_equal(ev.type, SESSION_EV_MESSAGE);
    *len = ev.len;
    return ev.data;
}

/* Two fresh peers made as a node makes its sessions (keep_buffers). */
static void pair_keep(struct peer *i, struct peer *r)
{
    peer_identity(i);
    peer_identity(r);
    session_config ci = {
        .role = NOISE_INITIATOR, .id = i->id, .rng = bcrypto_rng_system(), .keep_buffers = true};
    session_config cr = {
        .role = NOISE_RESPONDER, .id = r->id, .rng = bcrypto_rng_system(), .keep_buffers = true};
    assert_int_equal(session_new(&i->s, &ci), 0);
    assert_int_equal(session_new(&r->s, &cr), 0);
    assert_int_equal(handshake(i, r, 0), 0);
}

/* keep_buffers (a node's bulk data): a drained output queue, the last
 * plaintext and the frame decoder keep their memory from one large
 * message to the next; session_trim gives it back, and the session works
 * on. */
static void test_keep_buffers(void **state)
{
    (void)state;
    struct peer i, r;
    pair_keep(&i, &r);

    static uint8_t pt[60000];
    const uint8_t *out0 = NULL, *pt0 = NULL;
    for (int k = 0; k < 4; k++) {
        memset(pt, 'a' + k, sizeof pt);
        assert_int_equal(session_send(i.s, pt, sizeof pt), 0);
        size_t n, len;
        const uint8_t *out = session_out(i.s, &n);
        assert_non_null(out);
        /* feed from a copy: the frame is gathered in the decoder */
        uint8_t *copy = malloc(n);
        assert_non_null(copy);
        memcpy(copy, out, n);
        const uint8_t *got = feed_split(r.s, copy, n, &len);
        assert_int_equal(len, sizeof pt);
        assert_memory_equal(got, pt, sizeof pt);
        free(copy);
        session_out_consume(i.s, n);
        if (k == 0 || k == 2) {
            out0 = out;
            pt0 = got;
        } else {
            assert_ptr_equal(out, out0); /* the same memory: nothing freed in between */
            assert_ptr_equal(got, pt0);
        }
        if (k == 1) { /* quiet now: released, allocated again when next needed */
            session_trim(i.s);
            session_trim(r.s);
            size_t z;
            assert_null(session_out(i.s, &z));
        }
    }
    peer_free(&i);
    peer_free(&r);
}

/* session_take_plaintext: the caller keeps the memory holding a
 * message's plaintext, and the next message is decrypted into the spare
 * it gave. Nothing to take before a message or once the next feed began. */
static void test_take_plaintext(void **state)
{
    (void)state;
    struct peer i, r;
    size_t cap, used;
    session_event ev;
    pair_keep(&i, &r);
    assert_null(session_take_plaintext(r.s, NULL, 0, &cap));
    static uint8_t pt[60000];
    uint8_t *spare = malloc(65536);
    assert_non_null(spare);
    for (int k = 0; k < 2; k++) {
        memset(pt, 'x' + k, sizeof pt);
        assert_int_equal(session_send(i.s, pt, sizeof pt), 0);
        size_t n;
        const uint8_t *out = session_out(i.s, &n);
        assert_int_equal(session_feed(r.s, out, n, &used, &ev), 1);
        assert_int_equal(ev.len, sizeof pt);
        session_out_consume(i.s, n);
        uint8_t *blk = session_take_plaintext(r.s, k == 0 ? spare : NULL, 65536, &cap);
        assert_non_null(blk);
        if (k == 1)
            assert_ptr_equal(blk, spare); /* decrypted into the spare given */
        const uint8_t *d = ev.data;
        assert_true(d >= blk && d + sizeof pt <= blk + cap);
        assert_int_equal(session_feed(r.s, NULL, 0, &used, &ev), 0);
        assert_memory_equal(d, pt, sizeof pt); /* still there, the session let go */
        free(blk);
    }
    assert_null(session_take_plaintext(r.s, NULL, 0, &cap));
    /* the session goes on after taking with no spare */
    send_chat(&i, "after", false);
    assert_int_equal(deliver(&i, &r, 0), 0);
    expect_chat(&r, "after", false);
    peer_free(&i);
    peer_free(&r);
}

int main(void)
{
    if (bcrypto_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conversation_whole),
        cmocka_unit_test(test_conversation_bytewise),
        cmocka_unit_test(test_conversation_odd_chunks),
        cmocka_unit_test(test_expect_peer),
        cmocka_unit_test(test_flipped_handshake_bits),
        cmocka_unit_test(test_flipped_transport_bits),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_frame_caps),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_state_errors),
        cmocka_unit_test(test_send_msg_full),
        cmocka_unit_test(test_many_messages),
        cmocka_unit_test(test_rekey_schedule),
        cmocka_unit_test(test_out_cap),
        cmocka_unit_test(test_finish),
        cmocka_unit_test(test_keep_buffers),
        cmocka_unit_test(test_take_plaintext),
    };
    return cmocka_run_group_tests_name("session", tests, NULL, NULL);
}
