/* SPDX-License-Identifier: MIT */
/* tbucket.c - a token bucket on a handed-in clock (see tbucket.h). */
#include "tbucket.h"

void tbucket_init(tbucket *b, uint32_t rate, uint32_t burst, int64_t now_ms)
{
    b->rate = rate;
    b->cap = (uint64_t)(burst ? burst : 1u) * 1000u;
    b->milli = b->cap;
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
        b->milli = b->cap - b->milli < add ? b->cap : b->milli + add;
        b->last_ms = now_ms;
    }
    if (b->milli < 1000u)
        return false;
    b->milli -= 1000u;
    return true;
}

bool tbucket_full(const tbucket *b, int64_t now_ms)
{
    if (b->rate == 0 || b->milli >= b->cap)
        return true;
    int64_t gap = now_ms - b->last_ms;
    return gap > 0 && (uint64_t)gap >= (b->cap - b->milli + b->rate - 1) / b->rate;
}
