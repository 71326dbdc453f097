/* SPDX-License-Identifier: MIT */
/*
 * tbucket.h - a token bucket: at most `burst` events at once, refilled at
 * `rate` events per second; pure arithmetic on a clock the caller hands
 * in (milliseconds, monotonic), so it is tested without waiting.
 *
 * A small value type: embed it, tbucket_init it, ask tbucket_take for
 * each event. Tokens are kept in thousandths so that low rates (1/s)
 * refill smoothly and no floating point is needed.
 */
#ifndef BANTER_TBUCKET_H
#define BANTER_TBUCKET_H

#include <stdbool.h>
#include <stdint.h>

typedef struct tbucket {
    uint64_t milli;  /* private: tokens x 1000 */
    uint64_t cap;    /* private: burst x 1000 */
    uint32_t rate;   /* private: tokens per second */
    int64_t last_ms; /* private: when milli was last refilled */
} tbucket;

/* A full bucket as of now_ms. rate 0 means unlimited (take always
 * succeeds); burst 0 is taken as 1. */
void tbucket_init(tbucket *b, uint32_t rate, uint32_t burst, int64_t now_ms);
/* One event at now_ms: true and one token taken, or false (over the rate;
 * nothing taken). A clock that goes back refills nothing. */
bool tbucket_take(tbucket *b, int64_t now_ms);
/* Whether the bucket would be full at now_ms (nothing taken lately). */
bool tbucket_full(const tbucket *b, int64_t now_ms);

#endif
