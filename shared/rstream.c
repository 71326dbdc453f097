/* SPDX-License-Identifier: MIT */
/*
 * rstream.c - a reliable, congestion-controlled byte stream over
 * datagrams (see rstream.h; the wire format is in docs/ice.md).
 */
#include "rstream.h"

#include <stdlib.h>
#include <string.h>

#include "banter_limits.h"
#include "buf.h"

#define VERSION      0x10u
#define VERSION_MASK 0xf0u
#define F_DATA       0x01u
#define F_ACK        0x02u
#define F_FIN        0x04u
#define F_CLOSE      0x08u
#define HDR_LEN      9u                       /* flags, packet number */
#define ACK_LEN      (8u + 4u + 8u + 1u + 4u) /* largest, delay, max, n, first */
#define RANGE_LEN    8u                       /* gap, length */
#define DATA_HDR     10u                      /* offset, length */
#define CLOSE_LEN    2u

#define SLOTS        16384u   /* packets tracked in flight (a power of 2) */
#define SET_CAP      256u     /* ranges in a range set */
#define PN_RANGES    16u      /* ranges in an ACK */
#define ACK_EVERY    4        /* acknowledge every 4th data packet at once */
#define ACK_DELAY    2000     /* us: or this long after the first unacknowledged */
#define MAX_ACK_DLY  5000     /* us: what the sender assumes of the peer */
#define INITIAL_RTT  100000   /* us */
#define INITIAL_CWND 32u      /* packets */
#define MIN_CWND     4u       /* packets */
#define MINRTT_WIN   10000000 /* us */
#define BW_ROUNDS    10
#define PACE_LAG     1000 /* us of pacing credit kept after a late timer */
#define HIGH_GAIN    2.885
#define DEF_BUF      ((size_t)8 << 20)
#define DEF_MTU      1200u
#define DEF_IDLE     15000000

enum { ST_STARTUP, ST_DRAIN, ST_PROBE_BW };
enum { SP_FREE, SP_INFLIGHT, SP_DONE };

static const double cycle_gain[8] = {1.25, 0.75, 1, 1, 1, 1, 1, 1};

typedef struct range {
    uint64_t lo, hi; /* [lo, hi) */
} range;

/* Sorted, disjoint, non-touching ranges, at most SET_CAP of them. */
typedef struct rset {
    range r[SET_CAP];
    size_t n;
} rset;

typedef struct spkt {
    uint64_t pn, off, delivered;
    int64_t sent, delivered_time, first_sent;
    uint32_t len;
    uint8_t state;
    bool fin, app_limited;
} spkt;

struct rstream {
    rstream_config cfg;
    int err;
    uint16_t peer_code, abort_code;
    bool abort_pending;
    int64_t last_recv;
    rstream_stats st;

    /* sending */
    uint8_t *sbuf;
    uint64_t snd_una, snd_nxt, snd_end, peer_max;
    bool closing, fin_sent, fin_acked, rtx_fin;
    rset sacked, rtx;
    spkt *sent;
    uint64_t pn_next, pn_lo, largest_acked;
    bool any_acked;
    size_t inflight;
    int64_t last_sent_eliciting, loss_time;
    int pto_count, probes;

    /* round trip */
    int64_t srtt, rttvar, latest_rtt, min_rtt, min_rtt_stamp;
    bool have_rtt;

    /* congestion control */
    int state, cycle_idx, full_bw_count;
    uint64_t delivered, next_round_delivered, round_count, app_limited_until;
    int64_t delivered_time, first_sent_time, cycle_stamp, next_send;
    double bw_round[BW_ROUNDS], btlbw, full_bw, pacing_gain, cwnd_gain, pacing_rate;
    bool filled_pipe;
    size_t cwnd;

    /* receiving */
    uint8_t *rbuf;
    uint64_t rcv_read, rcv_nxt, fin_off, adv_max, largest_pn;
    bool fin_known, ack_now, have_pn;
    rset rcvd, pns;
    int ack_pending;
    int64_t ack_due, largest_pn_time;
};

/* ---- range sets ---- */

static void rset_del(rset *s, size_t i)
{
    memmove(&s->r[i], &s->r[i + 1], (s->n - i - 1) * sizeof s->r[0]);
    s->n--;
}

/*
 * Add [lo, hi). When the set is full and the range touches none: with
 * force, the nearest range is stretched to cover it (more than was asked
 * for, never less); else false. drop_low: when full, forget the lowest
 * range instead (for packet numbers, where only the newest matter).
 */
static bool rset_add(rset *s, uint64_t lo, uint64_t hi, bool force, bool drop_low)
{
    size_t i = s->n;
    if (lo >= hi)
        return true;
    while (i > 0 && s->r[i - 1].lo > hi)
        i--;
    /* now every range at or after i starts after hi; r[i-1] may touch */
    if (i > 0 && s->r[i - 1].hi >= lo) {
        size_t j = i - 1;
        if (lo < s->r[j].lo)
            s->r[j].lo = lo;
        if (hi > s->r[j].hi)
            s->r[j].hi = hi;
        while (j > 0 && s->r[j - 1].hi >= s->r[j].lo) {
            if (s->r[j].lo < s->r[j - 1].lo)
                s->r[j - 1].lo = s->r[j].lo;
            if (s->r[j].hi > s->r[j - 1].hi)
                s->r[j - 1].hi = s->r[j].hi;
            rset_del(s, j);
            j--;
        }
        if (j + 1 < s->n && s->r[j + 1].lo <= s->r[j].hi) {
            s->r[j].hi = s->r[j + 1].hi > s->r[j].hi ? s->r[j + 1].hi : s->r[j].hi;
            rset_del(s, j + 1);
        }
        return true;
    }
    if (i < s->n && s->r[i].lo <= hi) {
        s->r[i].lo = lo;
        return true;
    }
    if (s->n == SET_CAP) {
        if (drop_low && i > 0) {
            rset_del(s, 0);
            i--;
        } else if (force) {
            if (i > 0)
                s->r[i - 1].hi = hi;
            else
                s->r[0].lo = lo;
            return true;
        } else {
            return false;
        }
    }
    memmove(&s->r[i + 1], &s->r[i], (s->n - i) * sizeof s->r[0]);
    s->r[i] = (range){lo, hi};
    s->n++;
    return true;
}

/* Drop everything below x. */
static void rset_trim(rset *s, uint64_t x)
{
    size_t k = 0;
    while (k < s->n && s->r[k].hi <= x)
        k++;
    if (k) {
        memmove(&s->r[0], &s->r[k], (s->n - k) * sizeof s->r[0]);
        s->n -= k;
    }
    if (s->n && s->r[0].lo < x)
        s->r[0].lo = x;
}

/* If the set's first range starts at or below x, where it ends; else x. */
static uint64_t rset_advance(rset *s, uint64_t x)
{
    while (s->n && s->r[0].lo <= x) {
        if (s->r[0].hi > x)
            x = s->r[0].hi;
        rset_del(s, 0);
    }
    return x;
}

/* ---- life ---- */

int rstream_new(rstream **out, const rstream_config *cfg, int64_t now)
{
    rstream *s;
    *out = NULL;
    if (cfg && ((cfg->mtu && (cfg->mtu < 256 || cfg->mtu > 65507)) ||
                (cfg->rcv_cap && cfg->rcv_cap < RSTREAM_MIN_WINDOW)))
        return BANTER_EINVAL;
    if (!(s = calloc(1, sizeof *s)))
        return BANTER_ENOMEM;
    if (cfg)
        s->cfg = *cfg;
    if (!s->cfg.snd_cap)
        s->cfg.snd_cap = DEF_BUF;
    if (!s->cfg.rcv_cap)
        s->cfg.rcv_cap = DEF_BUF;
    if (!s->cfg.mtu)
        s->cfg.mtu = DEF_MTU;
    if (s->cfg.idle_timeout <= 0)
        s->cfg.idle_timeout = DEF_IDLE;
    s->sbuf = malloc(s->cfg.snd_cap);
    s->rbuf = malloc(s->cfg.rcv_cap);
    s->sent = calloc(SLOTS, sizeof *s->sent);
    if (!s->sbuf || !s->rbuf || !s->sent) {
        rstream_free(s);
        return BANTER_ENOMEM;
    }
    s->last_recv = now;
    s->srtt = INITIAL_RTT;
    s->rttvar = INITIAL_RTT / 2;
    s->min_rtt = INT64_MAX;
    s->cwnd = INITIAL_CWND * s->cfg.mtu;
    s->pacing_gain = s->cwnd_gain = HIGH_GAIN;
    s->pacing_rate = HIGH_GAIN * (double)s->cwnd / (INITIAL_RTT / 1e6);
    s->next_send = now;
    s->delivered_time = s->first_sent_time = now;
    s->peer_max = RSTREAM_MIN_WINDOW; /* until the peer's first ACK says more */
    s->adv_max = s->cfg.rcv_cap;
    *out = s;
    return 0;
}

void rstream_free(rstream *s)
{
    if (!s)
        return;
    free(s->sbuf);
    free(s->rbuf);
    free(s->sent);
    free(s);
}

/* ---- the application's side ---- */

size_t rstream_rate(const rstream *s)
{
    return s->btlbw > 0 ? (size_t)s->btlbw : RSTREAM_FIRST_RATE;
}

/* New bytes (written, never sent) a writer may keep queued: what the
 * pacing could send in RSTREAM_AHEAD_US at the bandwidth estimate (times
 * the startup gain until the pipe is full, so the estimate can grow;
 * RSTREAM_FIRST_RATE before there is one), at least one datagram. */
static size_t ahead_cap(const rstream *s)
{
    double gain = s->filled_pipe ? s->pacing_gain : HIGH_GAIN;
    if (gain < 1.25)
        gain = 1.25;
    double a = gain * (s->btlbw > 0 ? s->btlbw : (double)RSTREAM_FIRST_RATE) *
               (double)RSTREAM_AHEAD_US / 1e6;
    double least = (double)s->cfg.mtu;
    if (!(a > least))
        a = least;
    return a < (double)s->cfg.snd_cap ? (size_t)a : s->cfg.snd_cap;
}

size_t rstream_writable(const rstream *s)
{
    if (s->err || s->closing)
        return 0;
    size_t room = s->cfg.snd_cap - (size_t)(s->snd_end - s->snd_una);
    size_t unsent = (size_t)(s->snd_end - s->snd_nxt), ahead = ahead_cap(s);
    size_t more = unsent < ahead ? ahead - unsent : 0;
    return room < more ? room : more;
}

size_t rstream_unacked(const rstream *s) { return (size_t)(s->snd_end - s->snd_una); }

/* Copy n bytes between a linear buffer and a ring at stream offset off. */
static void ring_copy(uint8_t *ring, size_t cap, uint64_t off, uint8_t *lin, size_t n, bool in)
{
    size_t at = (size_t)(off % cap), first = cap - at < n ? cap - at : n;
    if (in) {
        memcpy(ring + at, lin, first);
        memcpy(ring, lin + first, n - first);
    } else {
        memcpy(lin, ring + at, first);
        memcpy(lin + first, ring, n - first);
    }
}

size_t rstream_write(rstream *s, const uint8_t *p, size_t len)
{
    size_t n = rstream_writable(s);
    if (len < n)
        n = len;
    if (n == 0)
        return 0;
    ring_copy(s->sbuf, s->cfg.snd_cap, s->snd_end, (uint8_t *)(uintptr_t)p, n, true);
    s->snd_end += n;
    return n;
}

void rstream_close(rstream *s) { s->closing = true; }

void rstream_abort(rstream *s, uint16_t code)
{
    if (s->err)
        return;
    s->err = BANTER_ESTATE;
    s->abort_pending = true;
    s->abort_code = code;
}

size_t rstream_readable(const rstream *s) { return (size_t)(s->rcv_nxt - s->rcv_read); }

size_t rstream_read(rstream *s, uint8_t *p, size_t cap)
{
    size_t n = rstream_readable(s);
    if (cap < n)
        n = cap;
    if (n == 0)
        return 0;
    ring_copy(s->rbuf, s->cfg.rcv_cap, s->rcv_read, p, n, false);
    s->rcv_read += n;
    /* Tell the sender when a quarter of the window opened. */
    if (s->rcv_read + s->cfg.rcv_cap - s->adv_max >= s->cfg.rcv_cap / 4)
        s->ack_now = true;
    return n;
}

bool rstream_eof(const rstream *s) { return s->fin_known && s->rcv_read == s->fin_off; }

bool rstream_done(const rstream *s)
{
    return s->snd_una == s->snd_end && (!s->closing || s->fin_acked);
}

int rstream_error(const rstream *s) { return s->err; }

uint16_t rstream_peer_code(const rstream *s) { return s->peer_code; }

void rstream_get_stats(const rstream *s, rstream_stats *st)
{
    *st = s->st;
    st->srtt = s->srtt;
    st->min_rtt = s->min_rtt == INT64_MAX ? 0 : s->min_rtt;
    st->btlbw = s->btlbw;
    st->pacing_rate = s->pacing_rate;
    st->cwnd = s->cwnd;
    st->inflight = s->inflight;
    st->state = s->state;
    st->delivered = s->delivered;
}

/* ---- congestion control ---- */

static double bdp(const rstream *s)
{
    if (s->btlbw <= 0 || s->min_rtt == INT64_MAX)
        return (double)(INITIAL_CWND * s->cfg.mtu);
    return s->btlbw * (double)s->min_rtt / 1e6;
}

static void cc_set_rates(rstream *s, size_t acked)
{
    double target = s->cwnd_gain * bdp(s) + 3.0 * (double)s->cfg.mtu;
    double rate = s->pacing_gain * s->btlbw;

    if (s->btlbw > 0 && (s->filled_pipe || rate > s->pacing_rate))
        s->pacing_rate = rate;
    if (s->filled_pipe)
        s->cwnd = s->cwnd + acked < target ? s->cwnd + acked : (size_t)target;
    else if (s->cwnd < target || s->btlbw <= 0)
        s->cwnd += acked;
    /* Startup, with estimates (a stream that was idle or app-limited
     * until now): the window is not kept past twice the estimated
     * bandwidth-delay product, or a slow path (dial-up) gets tens of KiB
     * it cannot buffer at once; each round's bandwidth sample raises it
     * (about doubling per round trip while the bandwidth grows). */
    double cap = 2.0 * bdp(s) + 3.0 * (double)s->cfg.mtu;
    if (!s->filled_pipe && s->btlbw > 0 && s->min_rtt != INT64_MAX && (double)s->cwnd > cap)
        s->cwnd = (size_t)cap;
    if (s->cwnd < MIN_CWND * s->cfg.mtu)
        s->cwnd = MIN_CWND * s->cfg.mtu;
}

/* The state machine, run once per acknowledgement. */
static void cc_state(rstream *s, int64_t now, bool round_start)
{
    if (s->state == ST_STARTUP && round_start) {
        if (s->btlbw >= s->full_bw * 1.25) {
            s->full_bw = s->btlbw;
            s->full_bw_count = 0;
        } else if (++s->full_bw_count >= 3) {
            s->filled_pipe = true;
            s->state = ST_DRAIN;
            s->pacing_gain = 1.0 / HIGH_GAIN;
        }
    }
    if (s->state == ST_DRAIN && (double)s->inflight <= bdp(s)) {
        s->state = ST_PROBE_BW;
        s->cwnd_gain = 2.0;
        s->cycle_idx = 2;
        s->cycle_stamp = now;
        s->pacing_gain = cycle_gain[s->cycle_idx];
    }
    if (s->state == ST_PROBE_BW && s->min_rtt != INT64_MAX && now - s->cycle_stamp > s->min_rtt) {
        s->cycle_idx = (s->cycle_idx + 1) % 8;
        s->cycle_stamp = now;
        s->pacing_gain = cycle_gain[s->cycle_idx];
    }
}

/* A delivery rate sample from the newest packet this ACK acknowledged. */
static void cc_on_ack(rstream *s, int64_t now, const spkt *p, size_t acked)
{
    bool round_start = false;
    int64_t send_elapsed = p->sent - p->first_sent;
    int64_t ack_elapsed = s->delivered_time - p->delivered_time;
    int64_t interval = send_elapsed > ack_elapsed ? send_elapsed : ack_elapsed;
    int64_t rtt = now - p->sent;

    if (rtt > 0 && (rtt < s->min_rtt || now - s->min_rtt_stamp > MINRTT_WIN)) {
        s->min_rtt = rtt;
        s->min_rtt_stamp = now;
    }
    if (s->app_limited_until && s->delivered > s->app_limited_until)
        s->app_limited_until = 0;
    if (p->delivered >= s->next_round_delivered) {
        s->next_round_delivered = s->delivered;
        s->round_count++;
        s->bw_round[s->round_count % BW_ROUNDS] = 0;
        round_start = true;
    }
    if (interval > 0) {
        double rate = (double)(s->delivered - p->delivered) * 1e6 / (double)interval;
        double *slot = &s->bw_round[s->round_count % BW_ROUNDS];
        if ((!p->app_limited || rate >= s->btlbw) && rate > *slot)
            *slot = rate;
        s->btlbw = 0;
        for (int i = 0; i < BW_ROUNDS; i++)
            if (s->bw_round[i] > s->btlbw)
                s->btlbw = s->bw_round[i];
    }
    cc_state(s, now, round_start);
    cc_set_rates(s, acked);
}

/* ---- loss and acknowledgement of what was sent ---- */

static spkt *slot(const rstream *s, uint64_t pn) { return &s->sent[pn & (SLOTS - 1)]; }

/* The packet pn when it is in flight, else NULL (an acknowledgement-only
 * packet has no slot: its slot may hold another packet). */
static spkt *live(const rstream *s, uint64_t pn)
{
    spkt *p = slot(s, pn);
    return p->state == SP_INFLIGHT && p->pn == pn ? p : NULL;
}

static void pn_lo_advance(rstream *s)
{
    while (s->pn_lo < s->pn_next && !live(s, s->pn_lo))
        s->pn_lo++;
}

static void on_lost(rstream *s, spkt *p)
{
    p->state = SP_DONE;
    s->inflight -= p->len;
    s->st.lost_pkts++;
    if (p->len)
        (void)rset_add(&s->rtx, p->off, p->off + p->len, true, false);
    if (p->fin)
        s->rtx_fin = true;
}

static void detect_lost(rstream *s, int64_t now)
{
    int64_t rtt = s->srtt > s->latest_rtt ? s->srtt : s->latest_rtt;
    int64_t delay = rtt * 9 / 8 > 1000 ? rtt * 9 / 8 : 1000;

    s->loss_time = 0;
    if (!s->any_acked)
        return;
    for (uint64_t pn = s->pn_lo; pn < s->largest_acked; pn++) {
        spkt *p = live(s, pn);
        if (!p)
            continue;
        if (s->largest_acked - pn >= 3 || now - p->sent >= delay) {
            on_lost(s, p);
        } else {
            s->loss_time = p->sent + delay;
            break;
        }
    }
    pn_lo_advance(s);
}

static void update_rtt(rstream *s, int64_t rtt, int64_t ack_delay)
{
    if (rtt <= 0)
        return;
    s->latest_rtt = rtt;
    if (s->min_rtt != INT64_MAX && rtt - ack_delay >= s->min_rtt)
        rtt -= ack_delay;
    if (!s->have_rtt) {
        s->srtt = rtt;
        s->rttvar = rtt / 2;
        s->have_rtt = true;
        return;
    }
    int64_t d = s->srtt > rtt ? s->srtt - rtt : rtt - s->srtt;
    s->rttvar = (3 * s->rttvar + d) / 4;
    s->srtt = (7 * s->srtt + rtt) / 8;
}

/* One packet newly acknowledged. */
static void acked_one(rstream *s, int64_t now, spkt *p)
{
    p->state = SP_DONE;
    s->inflight -= p->len;
    s->delivered += p->len;
    s->delivered_time = now;
    if (p->len)
        (void)rset_add(&s->sacked, p->off, p->off + p->len, false, false);
    if (p->fin)
        s->fin_acked = true;
}

/* ---- reading a datagram ---- */

static uint32_t cur_u32(cur *c) { return (uint32_t)cur_u16be(c) << 16 | cur_u16be(c); }

static void put_u32(uint8_t *p, uint32_t v)
{
    put_u16be(p, (uint16_t)(v >> 16));
    put_u16be(p + 2, (uint16_t)v);
}

typedef struct ack_in {
    uint64_t largest, max_data;
    uint32_t delay;
    uint8_t n;
    range r[PN_RANGES]; /* [lo, hi), highest first */
} ack_in;

static int parse_ack(cur *c, ack_in *a)
{
    uint64_t lo;
    a->largest = cur_u64be(c);
    a->delay = cur_u32(c);
    a->max_data = cur_u64be(c);
    a->n = cur_u8(c);
    uint32_t first = cur_u32(c);
    if (c->err || a->n == 0 || a->n > PN_RANGES || first > a->largest || a->largest == UINT64_MAX)
        return BANTER_EPROTO;
    lo = a->largest - first;
    a->r[0] = (range){lo, a->largest + 1};
    for (uint8_t i = 1; i < a->n; i++) {
        uint64_t gap = cur_u32(c), len = cur_u32(c);
        if (c->err || lo < gap + len + 2)
            return BANTER_EPROTO;
        uint64_t hi = lo - gap - 1; /* exclusive: gap+1 numbers missing */
        lo = hi - len - 1;
        a->r[i] = (range){lo, hi};
    }
    return 0;
}

/*
 * Packets an ACK newly acknowledges. Below the largest acknowledged so far
 * only the last two can still be in flight (older ones were declared lost
 * by the packet threshold), so each ACK costs what it acknowledges, not
 * what is in flight.
 */
static int on_ack(rstream *s, int64_t now, const ack_in *a)
{
    spkt *newest = NULL;
    size_t acked = 0;
    uint64_t floor = s->pn_lo;

    if (a->largest >= s->pn_next)
        return BANTER_EPROTO; /* acknowledges what was never sent */
    if (a->max_data > s->peer_max)
        s->peer_max = a->max_data;
    if (s->any_acked && s->largest_acked >= 2 && s->largest_acked - 2 > floor)
        floor = s->largest_acked - 2;
    for (uint8_t i = 0; i < a->n; i++) {
        uint64_t lo = a->r[i].lo < floor ? floor : a->r[i].lo;
        for (uint64_t pn = lo; pn < a->r[i].hi; pn++) {
            spkt *p = live(s, pn);
            if (!p)
                continue;
            acked += p->len;
            acked_one(s, now, p);
            if (!newest || p->pn > newest->pn)
                newest = p;
        }
    }
    if (!newest)
        return 0;
    if (!s->any_acked || a->largest > s->largest_acked) {
        s->largest_acked = a->largest;
        s->any_acked = true;
        if (newest->pn == a->largest)
            update_rtt(s, now - newest->sent, a->delay);
    }
    s->snd_una = rset_advance(&s->sacked, s->snd_una);
    rset_trim(&s->rtx, s->snd_una);
    s->pto_count = 0;
    cc_on_ack(s, now, newest, acked);
    detect_lost(s, now);
    return 0;
}

/* Returns false when the data cannot be kept now (then the packet is not
 * acknowledged, and the peer sends it again). */
static int on_data(rstream *s, uint64_t off, const uint8_t *d, size_t len, bool fin, bool *keep)
{
    uint64_t end = off + len;
    *keep = true;
    if (end < off || (s->fin_known && end > s->fin_off) ||
        (fin && s->fin_known && end != s->fin_off) || (fin && end < s->rcv_nxt) ||
        end > s->rcv_read + s->cfg.rcv_cap)
        return BANTER_EPROTO;
    if (fin) {
        if (s->rcvd.n && s->rcvd.r[s->rcvd.n - 1].hi > end)
            return BANTER_EPROTO;
        s->fin_known = true;
        s->fin_off = end;
    }
    if (end <= s->rcv_nxt)
        return 0; /* a copy of what we have */
    if (off < s->rcv_nxt) {
        d += s->rcv_nxt - off;
        off = s->rcv_nxt;
    }
    if (!rset_add(&s->rcvd, off, end, false, false)) {
        *keep = false;
        return 0;
    }
    ring_copy(s->rbuf, s->cfg.rcv_cap, off, (uint8_t *)(uintptr_t)d, (size_t)(end - off), true);
    s->rcv_nxt = rset_advance(&s->rcvd, s->rcv_nxt);
    return 0;
}

static void note_pn(rstream *s, int64_t now, uint64_t pn, bool eliciting)
{
    bool in_order = !s->have_pn || pn == s->largest_pn + 1;
    (void)rset_add(&s->pns, pn, pn + 1, false, true);
    if (!s->have_pn || pn > s->largest_pn) {
        s->largest_pn = pn;
        s->largest_pn_time = now;
        s->have_pn = true;
    }
    if (!eliciting)
        return;
    if (s->ack_pending++ == 0)
        s->ack_due = now + ACK_DELAY;
    if (!in_order || s->ack_pending >= ACK_EVERY)
        s->ack_now = true; /* a gap or a copy: at once, the sender is waiting */
}

int rstream_input(rstream *s, int64_t now, const uint8_t *p, size_t len)
{
    cur c = cur_make(p, len);
    uint8_t flags = cur_u8(&c);
    uint64_t pn = cur_u64be(&c), off = 0;
    const uint8_t *data = NULL;
    size_t dlen = 0;
    bool keep = true;
    ack_in a = {0};
    int ret;

    if (c.err)
        return c.err;
    if ((flags & VERSION_MASK) != VERSION)
        return BANTER_EUNSUPPORTED;
    if (s->err)
        return 0;
    if (flags & F_CLOSE) {
        uint16_t code = cur_u16be(&c);
        if ((ret = cur_finish(&c)) != 0)
            return ret;
        s->err = BANTER_EIO;
        s->peer_code = code;
        return 0;
    }
    if ((flags & F_ACK) && (ret = parse_ack(&c, &a)) != 0)
        return ret;
    if (flags & F_DATA) {
        off = cur_u64be(&c);
        dlen = cur_u16be(&c);
        data = cur_bytes(&c, dlen);
    } else if (flags & F_FIN) {
        return BANTER_EPROTO;
    }
    if ((ret = cur_finish(&c)) != 0)
        return ret;
    s->last_recv = now;
    s->st.recv_pkts++;
    if ((flags & F_ACK) && (ret = on_ack(s, now, &a)) != 0)
        goto fatal;
    if ((flags & F_DATA) && (ret = on_data(s, off, data, dlen, flags & F_FIN, &keep)) != 0)
        goto fatal;
    if (keep)
        note_pn(s, now, pn, flags & F_DATA);
    return 0;
fatal:
    s->err = ret;
    return 0;
}

/* ---- writing a datagram ---- */

static size_t put_ack(rstream *s, int64_t now, uint8_t *o)
{
    const rset *ps = &s->pns;
    size_t i = ps->n - 1, n = ps->n < PN_RANGES ? ps->n : PN_RANGES, at = ACK_LEN;
    uint64_t delay = (uint64_t)(now - s->largest_pn_time);
    uint64_t lo = ps->r[i].lo;

    put_u64be(o, ps->r[i].hi - 1);
    put_u32(o + 8, delay > UINT32_MAX ? UINT32_MAX : (uint32_t)delay);
    s->adv_max = s->rcv_read + s->cfg.rcv_cap;
    put_u64be(o + 12, s->adv_max);
    o[20] = (uint8_t)n;
    put_u32(o + 21,
            (uint32_t)(ps->r[i].hi - 1 - lo > UINT32_MAX ? UINT32_MAX : ps->r[i].hi - 1 - lo));
    for (size_t k = 1; k < n; k++) {
        const range *r = &ps->r[i - k];
        uint64_t gap = lo - r->hi - 1, len = r->hi - r->lo - 1;
        if (gap > UINT32_MAX || len > UINT32_MAX) {
            o[20] = (uint8_t)k;
            break;
        }
        put_u32(o + at, (uint32_t)gap);
        put_u32(o + at + 4, (uint32_t)len);
        at += RANGE_LEN;
        lo = r->lo;
    }
    s->ack_pending = 0;
    s->ack_now = false;
    return at;
}

/* What to send next: a retransmission or new data, with the FIN flag when
 * it reaches the end. false when nothing may be sent. */
static bool pick_data(rstream *s, size_t room, uint64_t *off, size_t *len, bool *fin, bool *rtx)
{
    while (s->rtx.n) {
        range r = s->rtx.r[0];
        uint64_t lo = r.lo < s->snd_una ? s->snd_una : r.lo, hi = r.hi;
        for (size_t k = 0; k < s->sacked.n; k++) {
            const range *a = &s->sacked.r[k];
            if (a->lo <= lo && a->hi > lo)
                lo = a->hi;
            else if (a->lo > lo && a->lo < hi)
                hi = a->lo;
        }
        if (lo >= r.hi) {
            rset_del(&s->rtx, 0);
            continue;
        }
        if (hi > lo + room)
            hi = lo + room;
        *off = lo;
        *len = (size_t)(hi - lo);
        *fin = s->closing && hi == s->snd_end;
        if (*fin)
            s->rtx_fin = false;
        *rtx = true;
        rset_trim(&s->rtx, hi);
        if (s->rtx.n && s->rtx.r[0].lo < hi)
            s->rtx.r[0].lo = hi;
        return true;
    }
    uint64_t lim = s->snd_end < s->peer_max ? s->snd_end : s->peer_max;
    *rtx = false;
    *off = s->snd_nxt;
    *len = lim > s->snd_nxt ? (size_t)(lim - s->snd_nxt) : 0;
    if (*len > room)
        *len = room;
    *fin = s->closing && s->snd_nxt + *len == s->snd_end && (!s->fin_sent || s->rtx_fin);
    if (*fin && s->fin_sent) { /* the FIN alone again */
        *off = s->snd_end;
        *len = 0;
        s->rtx_fin = false;
    }
    return *len > 0 || *fin;
}

/* Something to send: a retransmission, new data the peer has room for, or
 * the FIN. */
static bool has_data(const rstream *s)
{
    return s->rtx.n || (s->snd_nxt < s->snd_end && s->snd_nxt < s->peer_max) ||
           (s->closing && (!s->fin_sent || s->rtx_fin));
}

static bool may_send_data(const rstream *s, int64_t now)
{
    if (!has_data(s) || slot(s, s->pn_next)->state == SP_INFLIGHT)
        return false; /* (or 16384 packets in flight) */
    if (s->probes > 0)
        return true;
    return s->inflight + s->cfg.mtu <= s->cwnd && now >= s->next_send;
}

static int64_t pto_deadline(const rstream *s)
{
    int64_t var = 4 * s->rttvar > 1000 ? 4 * s->rttvar : 1000;
    int64_t pto = (s->srtt + var + MAX_ACK_DLY) << (s->pto_count < 10 ? s->pto_count : 10);
    return s->last_sent_eliciting + pto;
}

static void run_timers(rstream *s, int64_t now)
{
    if (s->inflight > 0 && now - s->last_recv > s->cfg.idle_timeout) {
        s->err = BANTER_ETIMEDOUT;
        return;
    }
    if (s->loss_time && now >= s->loss_time)
        detect_lost(s, now);
    if (s->inflight > 0 && now >= pto_deadline(s)) {
        /* Nothing heard: send the oldest again, whatever the window. */
        spkt *p = live(s, s->pn_lo);
        if (p)
            on_lost(s, p);
        pn_lo_advance(s);
        s->pto_count++;
        s->probes = 1;
    }
}

static size_t put_data(rstream *s, int64_t now, uint8_t *out, size_t at, uint8_t *flags)
{
    uint64_t off;
    size_t len;
    bool fin, rtx;
    if (!pick_data(s, s->cfg.mtu - at - DATA_HDR, &off, &len, &fin, &rtx))
        return at;
    *flags |= F_DATA | (fin ? F_FIN : 0);
    put_u64be(out + at, off);
    put_u16be(out + at + 8, (uint16_t)len);
    ring_copy(s->sbuf, s->cfg.snd_cap, off, out + at + DATA_HDR, len, false);
    if (rtx)
        s->st.retrans_bytes += len;
    else
        s->snd_nxt += len;
    if (fin)
        s->fin_sent = true;
    if (s->inflight == 0)
        s->first_sent_time = s->delivered_time = now;
    *slot(s, s->pn_next) = (spkt){.pn = s->pn_next,
                                  .off = off,
                                  .len = (uint32_t)len,
                                  .state = SP_INFLIGHT,
                                  .fin = fin,
                                  .sent = now,
                                  .delivered = s->delivered,
                                  .delivered_time = s->delivered_time,
                                  .first_sent = s->first_sent_time,
                                  .app_limited = s->app_limited_until != 0};
    s->first_sent_time = now;
    s->inflight += len;
    s->last_sent_eliciting = now;
    if (s->probes > 0)
        s->probes--;
    double gap = (double)(len + at + DATA_HDR) * 1e6 / s->pacing_rate;
    if (s->next_send < now - PACE_LAG)
        s->next_send = now - PACE_LAG;
    s->next_send += (int64_t)gap;
    return at + DATA_HDR + len;
}

size_t rstream_output(rstream *s, int64_t now, uint8_t *out, size_t cap)
{
    uint8_t flags = VERSION;
    size_t at = HDR_LEN;
    bool data;

    if (cap < s->cfg.mtu)
        return 0;
    if (s->abort_pending) {
        s->abort_pending = false;
        out[0] = VERSION | F_CLOSE;
        put_u64be(out + 1, s->pn_next++);
        put_u16be(out + HDR_LEN, s->abort_code);
        return HDR_LEN + CLOSE_LEN;
    }
    if (s->err)
        return 0;
    run_timers(s, now);
    if (s->err)
        return 0;
    data = may_send_data(s, now);
    if (s->pns.n &&
        (s->ack_now || (s->ack_pending && now >= s->ack_due) || (data && s->ack_pending))) {
        flags |= F_ACK;
        at = HDR_LEN + put_ack(s, now, out + HDR_LEN);
    }
    if (data)
        at = put_data(s, now, out, at, &flags);
    else if (s->inflight + s->cfg.mtu <= s->cwnd && s->snd_nxt == s->snd_end && !s->rtx.n)
        s->app_limited_until = s->delivered + s->inflight > 0 ? s->delivered + s->inflight : 1;
    if (!(flags & (F_ACK | F_DATA)))
        return 0;
    out[0] = flags;
    put_u64be(out + 1, s->pn_next);
    s->pn_next++;
    s->st.sent_pkts++;
    return at;
}

int64_t rstream_next_timer(const rstream *s)
{
    int64_t t = INT64_MAX;
    if (s->abort_pending || (!s->err && s->ack_now))
        return 0;
    if (s->err)
        return INT64_MAX;
    if (s->ack_pending && s->ack_due < t)
        t = s->ack_due;
    if (s->loss_time && s->loss_time < t)
        t = s->loss_time;
    if (s->inflight > 0) {
        int64_t pto = pto_deadline(s), idle = s->last_recv + s->cfg.idle_timeout + 1;
        t = pto < t ? pto : t;
        t = idle < t ? idle : t;
    }
    if (has_data(s) && (s->probes > 0 || s->inflight + s->cfg.mtu <= s->cwnd) && s->next_send < t)
        t = s->next_send;
    return t;
}
