/* SPDX-License-Identifier: MIT */
/*
 * tbucket.h - a token bucket: at most `burst` events at once, refilled at
 * `rate` events per second; pure arithmetic on a clock the caller hands
 * in (milliseconds, monotonic), so it is tested without waiting.
 *
 * A small value type: embed it, tbucket_init it, ask tbucket_take for
 * each event. Tokens are kept in thousandths so that low rates (1/s)
 * refill smoothly and no floating point is needed; a bucket made by
 * tbucket_init_every, for rates below one a second (a few an hour),
 * keeps them in milliseconds of refill instead.
 */
#ifndef BANTER_TBUCKET_H
#define BANTER_TBUCKET_H

#include <stdbool.h>
#include <stdint.h>

typedef struct tbucket {
    uint64_t units;  /* private: tokens x cost */
    uint64_t cap;    /* private: burst x cost */
    uint64_t cost;   /* private: units in a token (1000, or every_ms) */
    uint32_t rate;   /* private: units added a millisecond */
    int64_t last_ms; /* private: when units was last refilled */
} tbucket;

/* A full bucket as of now_ms. rate 0 means unlimited (take always
 * succeeds); burst 0 is taken as 1. */
void tbucket_init(tbucket *b, uint32_t rate, uint32_t burst, int64_t now_ms);
/* A full bucket as of now_ms that gets one token back every every_ms
 * milliseconds (at most burst held). every_ms 0 is taken as 1, burst 0
 * as 1; it is never unlimited. */
void tbucket_init_every(tbucket *b, uint32_t every_ms, uint32_t burst, int64_t now_ms);
/* One event at now_ms: true and one token taken, or false (over the rate;
 * nothing taken). A clock that goes back refills nothing. */
bool tbucket_take(tbucket *b, int64_t now_ms);
/* Whether the bucket would be full at now_ms (nothing taken lately). */
bool tbucket_full(const tbucket *b, int64_t now_ms);

#endif
