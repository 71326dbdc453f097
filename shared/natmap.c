/* SPDX-License-Identifier: MIT */
/* natmap.c - the NAT's mapping behaviour from STUN answers (natmap.h). */
#include "natmap.h"

#include <stdlib.h>
#include <string.h>

#include "netaddr.h"

typedef struct vantage {
    stun_addr to;
    uint8_t txid[STUN_TXID_LEN];
    int64_t start_ms, next_ms; /* first request; the next one due */
    int sent;
    bool done;     /* answered (a mapping or an error) or given up */
    bool answered; /* a mapping came back */
    stun_addr mapped;
    unsigned err_code;
    bool refused; /* ICMP port unreachable */
} vantage;

struct natmap {
    banter_rng rng;
    size_t n;
    vantage v[BANTER_MAX_STUN_DEST];
    bool from_other;
};

static void add_vantage(natmap *m, const stun_addr *to, int64_t now_ms)
{
    vantage *v = &m->v[m->n++];
    memset(v, 0, sizeof *v);
    v->to = *to;
    m->rng.fill(m->rng.ctx, v->txid, sizeof v->txid);
    v->start_ms = v->next_ms = now_ms;
}

static bool usable(const stun_addr *a)
{
    static const uint8_t zero[16];
    return (a->family == 4 || a->family == 6) && a->port &&
           memcmp(a->ip, zero, a->family == 4 ? 4 : 16) != 0;
}

/* Where a server's OTHER-ADDRESS may send us: not this host (loopback),
 * not the link (link-local), not a group (multicast, broadcast). */
static bool other_ok(const stun_addr *a)
{
    return usable(a) && netaddr_classify(a->family == 6, a->ip) == NETADDR_UNICAST;
}

natmap *natmap_new(const stun_addr *dests, size_t n, const banter_rng *rng, int64_t now_ms)
{
    if (!dests || !rng || !rng->fill || n < 1 || n > BANTER_MAX_STUN_DEST)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!usable(&dests[i]) || dests[i].family != dests[0].family)
            return NULL;
    natmap *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->rng = *rng;
    for (size_t i = 0; i < n; i++)
        add_vantage(m, &dests[i], now_ms);
    return m;
}

void natmap_free(natmap *m) { free(m); }

/* Give up the vantage points past their deadline. */
static void expire(natmap *m, int64_t now_ms)
{
    for (size_t i = 0; i < m->n; i++)
        if (!m->v[i].done && now_ms - m->v[i].start_ms >= NATMAP_DEADLINE_MS)
            m->v[i].done = true;
}

bool natmap_poll_send(natmap *m, int64_t now_ms, stun_addr *to, uint8_t out[static STUN_HDR_LEN])
{
    expire(m, now_ms);
    for (size_t i = 0; i < m->n; i++) {
        vantage *v = &m->v[i];
        if (v->done || v->sent >= NATMAP_SENDS || now_ms < v->next_ms)
            continue;
        *to = v->to;
        stun_binding_request(out, v->txid);
        v->next_ms = now_ms + ((int64_t)NATMAP_RTO_MS << v->sent); /* 250, 500, 1000 */
        v->sent++;
        return true;
    }
    return false;
}

int64_t natmap_next_ms(const natmap *m)
{
    int64_t next = -1;
    for (size_t i = 0; i < m->n; i++) {
        const vantage *v = &m->v[i];
        if (v->done)
            continue;
        int64_t t = v->start_ms + NATMAP_DEADLINE_MS;
        if (v->sent < NATMAP_SENDS && v->next_ms < t)
            t = v->next_ms;
        if (next < 0 || t < next)
            next = t;
    }
    return next;
}

int natmap_feed(natmap *m, const stun_addr *from, const uint8_t *msg, size_t len, int64_t now_ms)
{
    expire(m, now_ms);
    for (size_t i = 0; i < m->n; i++) {
        vantage *v = &m->v[i];
        if (v->done || !stun_addr_equal(from, &v->to))
            continue;
        stun_answer a;
        int r = stun_parse_answer(msg, len, v->txid, &a);
        if (r)
            return r;
        v->done = true;
        v->err_code = a.err_code;
        if (!a.error && a.mapped.family == v->to.family)
            v->answered = true, v->mapped = a.mapped;
        /* One server named: its RFC 5780 OTHER-ADDRESS is the second
         * vantage point. RFC 5780 means another address and port; coturn
         * 4.6.1 with two listening addresses names the same address and
         * its alt-listening-port, which tells a port-dependent mapping
         * (a symmetric NAT) apart as well. */
        if (i == 0 && m->n == 1 && a.has_other && other_ok(&a.other) &&
            a.other.family == v->to.family && !stun_addr_equal(&a.other, &v->to)) {
            add_vantage(m, &a.other, now_ms);
            m->from_other = true;
        }
        return 0;
    }
    return BANTER_ENOENT;
}

int natmap_refused(natmap *m, const stun_addr *to)
{
    for (size_t i = 0; i < m->n; i++) {
        vantage *v = &m->v[i];
        if (!v->done && stun_addr_equal(to, &v->to)) {
            v->done = v->refused = true;
            return 0;
        }
    }
    return BANTER_ENOENT;
}

bool natmap_done(const natmap *m, int64_t now_ms)
{
    for (size_t i = 0; i < m->n; i++)
        if (!m->v[i].done && now_ms - m->v[i].start_ms < NATMAP_DEADLINE_MS)
            return false;
    return true;
}

static bool is_local(const stun_addr *a, const stun_addr *locals, size_t nlocals)
{
    for (size_t i = 0; i < nlocals; i++)
        if (stun_addr_same_ip(a, &locals[i]))
            return true;
    return false;
}

void natmap_classify(natmap_report *out, const stun_addr *locals, size_t nlocals)
{
    const stun_addr *first = NULL, *second = NULL;
    for (size_t i = 0; i < out->n && i < BANTER_MAX_STUN_DEST; i++) {
        if (!out->answered[i])
            continue;
        if (!first)
            first = &out->mapped[i];
        else if (!second)
            second = &out->mapped[i];
    }
    if (!first)
        out->verdict = NATMAP_UNREACHABLE;
    else if (is_local(first, locals, nlocals) && (!second || stun_addr_equal(first, second)))
        out->verdict = NATMAP_NO_NAT;
    else if (!second)
        out->verdict = NATMAP_ONE_POINT;
    else
        out->verdict = stun_addr_equal(first, second) ? NATMAP_INDEPENDENT : NATMAP_DEPENDENT;
}

void natmap_result(const natmap *m, const stun_addr *locals, size_t nlocals, natmap_report *out)
{
    memset(out, 0, sizeof *out);
    out->n = m->n;
    out->from_other = m->from_other;
    for (size_t i = 0; i < m->n; i++) {
        out->dest[i] = m->v[i].to;
        out->answered[i] = m->v[i].answered;
        out->mapped[i] = m->v[i].mapped;
        out->err_code[i] = m->v[i].err_code;
        out->refused[i] = m->v[i].refused;
    }
    natmap_classify(out, locals, nlocals);
}
