/* SPDX-License-Identifier: MIT */
/* test: seconds 25 */
/*
 * test_rstream.c - the reliable stream over datagrams, on a simulated path
 * with a fake clock: one-way delay, a bottleneck rate with a drop-tail
 * buffer, seeded random loss, reordering. Every run is exact and
 * repeatable; the rates checked are in simulated time, not the machine's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rstream.h"

#define MAXPKT   2048
#define QCAP     200000
#define SIM_STEP 1000000000LL /* a run ends after this much simulated time */

typedef struct pkt {
    int64_t at;
    int to;
    size_t len;
    uint8_t b[MAXPKT];
} pkt;

typedef struct path {
    int64_t delay;        /* us one way */
    double rate;          /* bytes/s at the bottleneck, 0 = none */
    size_t buffer;        /* bytes queued at the bottleneck */
    double loss;          /* 0..1 each direction */
    int64_t jitter;       /* us, reorders */
    int64_t link_free[2]; /* bottleneck busy until, per direction */
    uint64_t rng;
    pkt *q; /* in flight, unsorted */
    size_t n;
    uint64_t dropped;
} path;

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double unit(uint64_t *s) { return (double)(rnd(s) >> 11) * 0x1.0p-53; }

static void send_pkt(path *p, int64_t now, int to, const uint8_t *b, size_t len)
{
    int64_t start = now, at;
    if (p->loss > 0 && unit(&p->rng) < p->loss) {
        p->dropped++;
        return;
    }
    if (p->rate > 0) {
        if (p->link_free[to] > start)
            start = p->link_free[to];
        if ((double)(start - now) * p->rate / 1e6 > (double)p->buffer) {
            p->dropped++;
            return;
        }
        start += (int64_t)((double)len * 1e6 / p->rate);
        p->link_free[to] = start;
    }
    at = start + p->delay;
    if (p->jitter)
        at += (int64_t)(rnd(&p->rng) % (uint64_t)p->jitter);
    assert_true(p->n < QCAP);
    pkt *k = &p->q[p->n++];
    k->at = at;
    k->to = to;
    k->len = len;
    memcpy(k->b, b, len);
}

typedef struct run {
    rstream *s[2];
    path p;
    int64_t now;
    uint64_t sent, got, total;
    uint64_t rev_sent, rev_total; /* s[1] writes rev_total bytes back, as it can */
    uint8_t pattern_seed;
    bool read_side_reads;
    bool closed;
} run;

static void flush(run *r, int i)
{
    uint8_t buf[MAXPKT];
    size_t n;
    while ((n = rstream_output(r->s[i], r->now, buf, sizeof buf)) > 0)
        send_pkt(&r->p, r->now, 1 - i, buf, n);
}

static void pump_app(run *r)
{
    static uint8_t chunk[65536];
    while (r->sent < r->total) {
        size_t want =
            r->total - r->sent < sizeof chunk ? (size_t)(r->total - r->sent) : sizeof chunk;
        for (size_t k = 0; k < want; k++)
            chunk[k] = (uint8_t)((r->sent + k) * 7 + r->pattern_seed);
        size_t n = rstream_write(r->s[0], chunk, want);
        r->sent += n;
        if (n < want)
            break;
    }
    while (r->rev_sent < r->rev_total) {
        size_t want = r->rev_total - r->rev_sent < sizeof chunk
                          ? (size_t)(r->rev_total - r->rev_sent)
                          : sizeof chunk;
        for (size_t k = 0; k < want; k++)
            chunk[k] = (uint8_t)((r->rev_sent + k) / 4096);
        size_t n = rstream_write(r->s[1], chunk, want);
        r->rev_sent += n;
        if (n < want)
            break;
    }
    if (r->sent == r->total && !r->closed) {
        rstream_close(r->s[0]);
        r->closed = true;
    }
    if (r->read_side_reads) {
        size_t n;
        while ((n = rstream_read(r->s[1], chunk, sizeof chunk)) > 0) {
            for (size_t k = 0; k < n; k++)
                assert_int_equal(chunk[k], (uint8_t)((r->got + k) * 7 + r->pattern_seed));
            r->got += n;
        }
    }
}

static void run_init(run *r, const path *p, uint64_t total, const rstream_config *cfg)
{
    memset(r, 0, sizeof *r);
    r->p = *p;
    r->p.q = malloc(QCAP * sizeof(pkt));
    assert_non_null(r->p.q);
    r->total = total;
    r->read_side_reads = true;
    r->pattern_seed = 3;
    assert_int_equal(rstream_new(&r->s[0], cfg, 0), 0);
    assert_int_equal(rstream_new(&r->s[1], cfg, 0), 0);
}

static void run_free(run *r)
{
    rstream_free(r->s[0]);
    rstream_free(r->s[1]);
    free(r->p.q);
}

/* Advance until the receiver read everything and saw EOF and the sender
 * saw it all acknowledged, or until `until`. Returns the simulated time. */
static int64_t run_until_done(run *r, int64_t until)
{
    while (r->now < until) {
        pump_app(r);
        flush(r, 0);
        flush(r, 1);
        if (r->got == r->total && rstream_eof(r->s[1]) && rstream_done(r->s[0]) &&
            r->rev_sent == r->rev_total && rstream_unacked(r->s[1]) == 0)
            return r->now;
        if (rstream_error(r->s[0]) || rstream_error(r->s[1]))
            return -1;
        int64_t next = until;
        for (int i = 0; i < 2; i++) {
            int64_t t = rstream_next_timer(r->s[i]);
            if (t < next)
                next = t;
        }
        for (size_t k = 0; k < r->p.n; k++)
            if (r->p.q[k].at < next)
                next = r->p.q[k].at;
        if (next > r->now)
            r->now = next;
        for (size_t k = 0; k < r->p.n;) {
            if (r->p.q[k].at <= r->now) {
                pkt *d = &r->p.q[k];
                assert_int_equal(rstream_input(r->s[d->to], r->now, d->b, d->len), 0);
                r->p.q[k] = r->p.q[--r->p.n];
            } else {
                k++;
            }
        }
    }
    return r->now;
}

static double mbps(const run *r, int64_t t) { return (double)r->total / ((double)t / 1e6) / 1e6; }

static void transfer(const path *p, uint64_t bytes, double min_mbps, const char *name)
{
    run r;
    rstream_stats st;
    run_init(&r, p, bytes, NULL);
    int64_t t = run_until_done(&r, 600 * SIM_STEP / 1000);
    rstream_get_stats(r.s[0], &st);
    printf("  %-34s %8.2f MB/s (simulated), lost %llu pkts, rtt %lld us, btlbw %.1f MB/s\n", name,
           t > 0 ? mbps(&r, t) : 0.0, (unsigned long long)st.lost_pkts, (long long)st.min_rtt,
           st.btlbw / 1e6);
    assert_true(t > 0);
    assert_int_equal(r.got, bytes);
    assert_true(mbps(&r, t) >= min_mbps);
    run_free(&r);
}

static void test_lossless_fast(void **state)
{
    (void)state;
    path p = {.delay = 100, .rate = 500e6, .buffer = 1 << 20, .rng = 1};
    transfer(&p, 20000000, 200, "no delay, 500 MB/s link");
}

static void test_wan_50ms(void **state)
{
    (void)state;
    path p = {.delay = 25000, .rate = 100e6, .buffer = 4 << 20, .rng = 2};
    transfer(&p, 60000000, 25, "50 ms RTT, 100 MB/s link");
}

static void test_wan_50ms_loss(void **state)
{
    (void)state;
    path p = {.delay = 25000, .rate = 100e6, .buffer = 4 << 20, .loss = 0.01, .rng = 3};
    transfer(&p, 40000000, 10, "50 ms RTT, 1 % loss");
}

static void test_heavy_loss_and_reorder(void **state)
{
    (void)state;
    path p = {
        .delay = 10000, .rate = 20e6, .buffer = 256 << 10, .loss = 0.1, .jitter = 3000, .rng = 4};
    transfer(&p, 10000000, 0.5, "20 ms RTT, 10 % loss, reordering");
}

static void test_dialup(void **state)
{
    (void)state;
    /* 56 kbit/s, 300 ms RTT, a modem's small buffer: delivered, no timeout. */
    path p = {.delay = 150000, .rate = 7000, .buffer = 8 << 10, .rng = 5};
    transfer(&p, 200000, 0.004, "56 kbit/s, 300 ms RTT");
}

static void test_flow_control(void **state)
{
    (void)state;
    rstream_config cfg = {.snd_cap = 1 << 20, .rcv_cap = 256 << 10};
    path p = {.delay = 1000, .rate = 100e6, .buffer = 1 << 20, .rng = 6};
    run r;
    run_init(&r, &p, 4 << 20, &cfg);
    r.read_side_reads = false;
    assert_int_equal(run_until_done(&r, 500000), 500000);
    /* The receiver holds at most its buffer; the sender waits. */
    assert_int_equal(rstream_readable(r.s[1]), 256 << 10);
    assert_true(r.sent <= (1u << 20) + (256u << 10));
    r.read_side_reads = true;
    assert_true(run_until_done(&r, 60 * SIM_STEP) > 0);
    assert_int_equal(r.got, 4 << 20);
    run_free(&r);
}

static void test_both_directions(void **state)
{
    (void)state;
    path p = {.delay = 5000, .rate = 50e6, .buffer = 1 << 20, .loss = 0.005, .rng = 7};
    run r;
    uint8_t buf[4096];
    uint64_t back = 0;
    run_init(&r, &p, 5000000, NULL);
    /* s[1] answers (50 blocks of 4096 bytes k, written as it can take
     * them): what it writes arrives at s[0] intact. */
    r.rev_total = 50 * sizeof buf;
    assert_true(run_until_done(&r, 60 * SIM_STEP) > 0);
    while (rstream_readable(r.s[0]) || back < 50 * sizeof buf) {
        size_t n = rstream_read(r.s[0], buf, sizeof buf);
        if (n == 0)
            break;
        for (size_t k = 0; k < n; k++)
            assert_int_equal(buf[k], (uint8_t)((back + k) / 4096));
        back += n;
    }
    assert_int_equal(back, 50 * 4096);
    run_free(&r);
}

static void test_peer_silent(void **state)
{
    (void)state;
    rstream *s;
    uint8_t buf[2048];
    int64_t now = 0;
    rstream_config cfg = {.idle_timeout = 2000000};
    assert_int_equal(rstream_new(&s, &cfg, 0), 0);
    assert_int_equal(rstream_write(s, (const uint8_t *)"hello", 5), 5);
    for (int i = 0; i < 1000; i++) {
        while (rstream_output(s, now, buf, sizeof buf) > 0) {
        }
        if (rstream_error(s))
            break;
        int64_t t = rstream_next_timer(s);
        assert_true(t != INT64_MAX);
        now = t > now ? t : now + 1;
    }
    assert_int_equal(rstream_error(s), BANTER_ETIMEDOUT);
    assert_true(now >= 2000000 && now < 2500000);
    rstream_free(s);
}

static void test_bad_input(void **state)
{
    (void)state;
    rstream *s;
    uint8_t ack[64] = {0x12, 0, 0, 0, 0, 0, 0, 0, 1, /* pn 1, ACK */
                       0,    0, 0, 0, 0, 0, 0, 9};   /* largest 9: never sent */
    uint8_t fin_no_data[9] = {0x14};
    uint8_t v2[9] = {0x21};
    uint8_t data_short[] = {0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 'a'};
    assert_int_equal(rstream_new(&s, NULL, 0), 0);
    assert_int_equal(rstream_input(s, 0, (const uint8_t *)"", 0), BANTER_ETRUNCATED);
    assert_int_equal(rstream_input(s, 0, v2, sizeof v2), BANTER_EUNSUPPORTED);
    assert_int_equal(rstream_input(s, 0, fin_no_data, sizeof fin_no_data), BANTER_EPROTO);
    assert_int_equal(rstream_input(s, 0, data_short, sizeof data_short), BANTER_ETRUNCATED);
    assert_int_equal(rstream_error(s), 0); /* malformed datagrams are only ignored */
    /* An ACK with zero ranges is malformed; one for a packet never sent
     * kills the stream. */
    ack[29] = 0;
    assert_int_equal(rstream_input(s, 0, ack, 9 + 25), BANTER_EPROTO);
    ack[29] = 1;
    assert_int_equal(rstream_input(s, 0, ack, 9 + 25), 0);
    assert_int_equal(rstream_error(s), BANTER_EPROTO);
    rstream_free(s);
}

static void test_data_past_window(void **state)
{
    (void)state;
    rstream *s;
    rstream_config cfg = {.rcv_cap = RSTREAM_MIN_WINDOW};
    /* offset 65536, 4 bytes: past what the receiver advertised */
    uint8_t d[9 + 10 + 4] = {0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4};
    assert_int_equal(rstream_new(&s, &cfg, 0), 0);
    assert_int_equal(rstream_input(s, 0, d, sizeof d), 0);
    assert_int_equal(rstream_error(s), BANTER_EPROTO);
    rstream_free(s);
}

static void test_abort(void **state)
{
    (void)state;
    path p = {.delay = 1000, .rng = 8};
    run r;
    uint8_t buf[2048];
    size_t n;
    run_init(&r, &p, 1000, NULL);
    rstream_abort(r.s[0], 7);
    assert_int_equal(rstream_error(r.s[0]), BANTER_ESTATE);
    n = rstream_output(r.s[0], 0, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(rstream_input(r.s[1], 10, buf, n), 0);
    assert_int_equal(rstream_error(r.s[1]), BANTER_EIO);
    assert_int_equal(rstream_peer_code(r.s[1]), 7);
    assert_int_equal(rstream_write(r.s[1], buf, 10), 0);
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lossless_fast),   cmocka_unit_test(test_wan_50ms),
        cmocka_unit_test(test_wan_50ms_loss),   cmocka_unit_test(test_heavy_loss_and_reorder),
        cmocka_unit_test(test_dialup),          cmocka_unit_test(test_flow_control),
        cmocka_unit_test(test_both_directions), cmocka_unit_test(test_peer_silent),
        cmocka_unit_test(test_bad_input),       cmocka_unit_test(test_data_past_window),
        cmocka_unit_test(test_abort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
