/* SPDX-License-Identifier: MIT */
/* failover.c - the node's instance ring and back-off (see failover.h). */
#include "failover.h"

#include <string.h>

/* A uniform value in [0, bound] (bound < 2^32; the bias of 64-bit modulo
 * is below 2^-32). */
static uint32_t uniform(const banter_rng *rng, uint32_t bound)
{
    uint8_t b[8];
    uint64_t v = 0;
    rng->fill(rng->ctx, b, sizeof b);
    for (size_t i = 0; i < sizeof b; i++)
        v = v << 8 | b[i];
    return (uint32_t)(v % ((uint64_t)bound + 1u));
}

void failover_init(failover *f, uint32_t n, uint32_t base_ms, uint32_t cap_ms, int64_t stable_ms,
                   const banter_rng *rng)
{
    memset(f, 0, sizeof *f);
    if (n > BANTER_MAX_INSTANCES)
        n = BANTER_MAX_INSTANCES;
    if (n == 0)
        n = 1;
    f->n = n;
    for (uint32_t i = 0; i < n; i++)
        f->order[i] = (uint8_t)i;
    for (uint32_t i = n - 1; rng && i > 0; i--) { /* Fisher-Yates */
        uint32_t j = uniform(rng, i);
        uint8_t t = f->order[i];
        f->order[i] = f->order[j];
        f->order[j] = t;
    }
    f->base_ms = base_ms;
    f->cap_ms = cap_ms < base_ms ? base_ms : cap_ms;
    f->stable_ms = stable_ms;
    f->up_since = -1;
}

uint32_t failover_current(const failover *f) { return f->order[f->pos]; }

void failover_up(failover *f, int64_t now_ms) { f->up_since = now_ms; }

uint32_t failover_fails(const failover *f) { return f->fails; }

bool failover_wrapped(const failover *f) { return f->pos == 0; }

void failover_renew(failover *f, uint32_t n)
{
    if (n > BANTER_MAX_INSTANCES)
        n = BANTER_MAX_INSTANCES;
    f->n = n ? n : 1;
    for (uint32_t i = 0; i < f->n; i++)
        f->order[i] = (uint8_t)i;
    f->pos = 0;
}

uint32_t failover_next(failover *f, int64_t now_ms, const banter_rng *rng)
{
    if (f->up_since >= 0 && now_ms - f->up_since >= f->stable_ms)
        f->fails = 0;
    f->up_since = -1;
    f->pos = (f->pos + 1) % f->n;
    uint64_t ceil = f->base_ms;
    for (uint32_t i = 0; i < f->fails && ceil < f->cap_ms; i++)
        ceil *= 2;
    if (ceil > f->cap_ms)
        ceil = f->cap_ms;
    if (f->fails < UINT32_MAX)
        f->fails++;
    return uniform(rng, (uint32_t)ceil);
}
