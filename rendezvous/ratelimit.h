/* SPDX-License-Identifier: MIT */
/*
 * ratelimit.h - backoff after failed logins, per key (the server uses one
 * key per account, "u:NAME", and one per source, rl_addr_key: an IPv4
 * address or an IPv6 /64).
 *
 * After f failures of a key, the next attempt is refused until 2^(f-1) s
 * after the last failure, at most RL_MAX_DELAY_MS. The caller decides what
 * forgets a key (rl_reset): the server forgets an account's failures when
 * it logs in, never an address's, whose failures count whoever they were
 * for. A key that did not fail for RL_FORGET_MS starts again from no
 * failures. The table holds at most the cap given to rl_new; when it is
 * full the entry failed least recently is dropped (an attacker who fills
 * it only makes other keys forget their counts, never grows the server).
 * Lookups scan the table: a few microseconds at 4096 entries, per login
 * attempt. Pure: the caller gives the time (any monotonic ms clock).
 */
#ifndef BANTER_RDV_RATELIMIT_H
#define BANTER_RDV_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "error.h"

#define RL_KEY_MAX      80u /* bytes of a key, terminator included; longer keys are cut */
#define RL_MAX_DELAY_MS 300000
#define RL_FORGET_MS    3600000 /* a key without a failure for an hour starts again */
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

/* The key of a source address: "a:" and the IPv4 address ("a:192.0.2.7",
 * an IPv4-mapped IPv6 address too), or the IPv6 /64 it is in
 * ("a:2001:db8:1:2::/64": one subscriber usually has a whole /64, so every
 * address of it counts as one). "a:?" for another family or NULL. */
void rl_addr_key(const struct sockaddr *sa, char out[static RL_KEY_MAX]);

#endif
