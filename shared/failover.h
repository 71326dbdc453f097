/* SPDX-License-Identifier: MIT */
/*
 * failover.h - which rendezvous instance a node dials next, and when
 * (docs/rendezvous.md section 15.3): sans-I/O, the clock and the random
 * source are handed in, so tests replay a schedule exactly.
 *
 * Order: each node shuffles the instances once (its own random ring), so
 * the devices of an instance that dies move to the instances after it in
 * their own rings: spread over the others, not all onto one.
 *
 * Delay ("full jitter"): after k failures in a row (a dial that failed, a
 * connection lost before it was stable) the next dial waits a uniformly
 * random time in [0, min(cap, base * 2^k)] ms. The first dial after start
 * waits nothing; a connection that stayed up for the stable time resets k
 * to 0, so a node whose instance dies after a long life is back within
 * base ms, and thousands of them arrive spread over that window.
 */
#ifndef BANTER_FAILOVER_H
#define BANTER_FAILOVER_H

#include <stdbool.h>
#include <stdint.h>

#include "banter_limits.h"
#include "bcrypto.h"

#define FAILOVER_BASE_MS   1000u
#define FAILOVER_CAP_MS    30000u
#define FAILOVER_STABLE_MS 10000

/* A value type; its fields are private. */
typedef struct failover {
    uint8_t order[BANTER_MAX_INSTANCES]; /* the ring: indexes into the caller's list */
    uint32_t n;                          /* instances in the ring */
    uint32_t pos;                        /* order[pos] is the current one */
    uint32_t fails;                      /* failures in a row */
    uint32_t base_ms, cap_ms;
    int64_t stable_ms;
    int64_t up_since; /* -1: not connected */
} failover;

/* n instances (1..BANTER_MAX_INSTANCES; more are ignored), shuffled with
 * rng (NULL: in the caller's order, e.g. DNS SRV's); the first one to
 * dial is failover_current(). */
void failover_init(failover *f, uint32_t n, uint32_t base_ms, uint32_t cap_ms, int64_t stable_ms,
                   const banter_rng *rng);
/* The index (into the caller's list) of the instance to dial now. */
uint32_t failover_current(const failover *f);
/* The connection to the current instance is up (verified) at now_ms. */
void failover_up(failover *f, int64_t now_ms);
/* The dial failed or the connection ended at now_ms: move to the next
 * instance of the ring and return the delay before dialling it. */
uint32_t failover_next(failover *f, int64_t now_ms, const banter_rng *rng);
/* Failures in a row so far (0 after a stable connection). */
uint32_t failover_fails(const failover *f);
/* Whether the current instance is the ring's first again (every one was
 * tried since): the time to look the service up again. */
bool failover_wrapped(const failover *f);
/* A new list of n instances in the caller's order (a fresh DNS answer),
 * from its first; failures in a row and the connection state are kept. */
void failover_renew(failover *f, uint32_t n);

#endif
