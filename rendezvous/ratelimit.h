/* SPDX-License-Identifier: MIT */
/*
 * ratelimit.h - backoff after failed logins, per key (the server uses one
 * key per account, "u:NAME", and one per source address, "a:ADDR").
 *
 * After f consecutive failures of a key, the next attempt is refused until
 * 2^(f-1) s after the last failure, at most RL_MAX_DELAY_MS. A success
 * forgets the key. The table holds at most the cap given to rl_new; when it
 * is full the entry failed least recently is dropped (an attacker who
 * fills it only makes other keys forget their counts, never grows the
 * server). Lookups scan the table: a few microseconds at 4096 entries, per
 * login attempt. Pure: the caller gives the time (any monotonic ms clock).
 */
#ifndef BANTER_RDV_RATELIMIT_H
#define BANTER_RDV_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define RL_KEY_MAX      80u /* bytes of a key, terminator included; longer keys are cut */
#define RL_MAX_DELAY_MS 300000
#define RL_DEFAULT_CAP  4096u

typedef struct ratelimit ratelimit;

/* NULL when out of memory. */
ratelimit *rl_new(size_t cap);
/* Accepts NULL. */
void rl_free(ratelimit *rl);
/* 0 when an attempt for key is allowed at now_ms, else how many ms to wait. */
int64_t rl_check(const ratelimit *rl, const char *key, int64_t now_ms);
/* One more consecutive failure of key at now_ms. */
void rl_fail(ratelimit *rl, const char *key, int64_t now_ms);
/* A success: key's failures are forgotten. */
void rl_reset(ratelimit *rl, const char *key);
/* Keys held (for tests). */
size_t rl_count(const ratelimit *rl);

#endif
