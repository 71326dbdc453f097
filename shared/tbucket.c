/* SPDX-License-Identifier: MIT */
/* tbucket.c - a token bucket on a handed-in clock (see tbucket.h). */
#include "tbucket.h"

void tbucket_init(tbucket *b, uint32_t rate, uint32_t burst, int64_t now_ms)
{
    b->rate = rate;
    b->cost = 1000u;
    b->cap = (uint64_t)(burst ? burst : 1u) * 1000u;
    b->units = b->cap;
    b->last_ms = now_ms;
}

void tbucket_init_every(tbucket *b, uint32_t every_ms, uint32_t burst, int64_t now_ms)
{
    b->rate = 1u; /* a unit a millisecond, a token every_ms units */
    b->cost = every_ms ? every_ms : 1u;
    b->cap = (uint64_t)(burst ? burst : 1u) * b->cost;
    b->units = b->cap;
    b->last_ms = now_ms;
}

bool tbucket_take(tbucket *b, int64_t now_ms)
{
    if (b->rate == 0)
        return true;
    if (now_ms > b->last_ms) {
        /* rate <= 2^32 and a gap capped at a day: no overflow. */
        int64_t gap = now_ms - b->last_ms;
        if (gap > 86400000)
            gap = 86400000;
        uint64_t add = (uint64_t)gap * b->rate;
        b->units = b->cap - b->units < add ? b->cap : b->units + add;
        b->last_ms = now_ms;
    }
    if (b->units < b->cost)
        return false;
    b->units -= b->cost;
    return true;
}

bool tbucket_full(const tbucket *b, int64_t now_ms)
{
    if (b->rate == 0 || b->units >= b->cap)
        return true;
    int64_t gap = now_ms - b->last_ms;
    return gap > 0 && (uint64_t)gap >= (b->cap - b->units + b->rate - 1) / b->rate;
}
