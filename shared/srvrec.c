/* SPDX-License-Identifier: MIT */
/* srvrec.c - DNS SRV answers (see srvrec.h). */
#include "srvrec.h"

#include <arpa/nameser.h>
#include <resolv.h>
#include <string.h>

int srvrec_parse(const uint8_t *ans, size_t len, srvrec *out, size_t cap, size_t *n)
{
    ns_msg h;
    *n = 0;
    if (len > BANTER_MAX_DNS_ANSWER)
        return BANTER_ETOOBIG;
    if (ns_initparse(ans, (int)len, &h) != 0)
        return BANTER_EFORMAT;
    int count = ns_msg_count(h, ns_s_an);
    for (int i = 0; i < count && *n < cap; i++) {
        ns_rr rr;
        if (ns_parserr(&h, ns_s_an, i, &rr) != 0)
            return BANTER_EFORMAT;
        if (ns_rr_type(rr) != ns_t_srv || ns_rr_class(rr) != ns_c_in)
            continue;
        const uint8_t *d = ns_rr_rdata(rr);
        if (ns_rr_rdlen(rr) < 7)
            return BANTER_EFORMAT;
        srvrec *s = &out[*n];
        s->priority = (uint16_t)ns_get16(d);
        s->weight = (uint16_t)ns_get16(d + 2);
        s->port = (uint16_t)ns_get16(d + 4);
        int l = ns_name_uncompress(ns_msg_base(h), ns_msg_end(h), d + 6, s->host, sizeof s->host);
        if (l < 0 || l > (int)ns_rr_rdlen(rr) - 6)
            return BANTER_EFORMAT;
        size_t hl = strlen(s->host);
        if (hl && s->host[hl - 1] == '.')
            s->host[--hl] = '\0';
        if (hl == 0 || s->port == 0)
            continue; /* "." : not offered there */
        (*n)++;
    }
    return *n ? 0 : BANTER_ENOENT;
}

static uint32_t draw(const banter_rng *rng, uint32_t bound)
{
    uint8_t b[8];
    uint64_t v = 0;
    rng->fill(rng->ctx, b, sizeof b);
    for (size_t i = 0; i < sizeof b; i++)
        v = v << 8 | b[i];
    return (uint32_t)(v % ((uint64_t)bound + 1u));
}

void srvrec_order(srvrec *t, size_t n, const banter_rng *rng)
{
    /* By priority (insertion sort: n is small and it keeps the order). */
    for (size_t i = 1; i < n; i++) {
        srvrec x = t[i];
        size_t j = i;
        for (; j > 0 && t[j - 1].priority > x.priority; j--)
            t[j] = t[j - 1];
        t[j] = x;
    }
    /* Within each priority, RFC 2782's weighted selection: draw a number
     * in [0, sum of weights], take the first whose running sum reaches it. */
    for (size_t s = 0; s < n;) {
        size_t e = s;
        while (e < n && t[e].priority == t[s].priority)
            e++;
        for (size_t i = s; i < e; i++) {
            uint32_t sum = 0;
            for (size_t j = i; j < e; j++)
                sum += t[j].weight;
            uint32_t pick = draw(rng, sum), run = 0;
            size_t k = i;
            for (size_t j = i; j < e; j++) {
                run += t[j].weight;
                if (run >= pick) {
                    k = j;
                    break;
                }
            }
            srvrec x = t[k];
            memmove(&t[i + 1], &t[i], (k - i) * sizeof *t);
            t[i] = x;
        }
        s = e;
    }
}
