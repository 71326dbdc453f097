/* SPDX-License-Identifier: MIT */
/* ratelimit.c - login backoff per account and address (see ratelimit.h). */
#include "ratelimit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rl_entry {
    char key[RL_KEY_MAX];
    uint32_t fails;
    int64_t last_ms;
};

struct ratelimit {
    size_t cap, n;
    struct rl_entry e[];
};

ratelimit *rl_new(size_t cap)
{
    if (cap == 0 || cap > SIZE_MAX / sizeof(struct rl_entry) - 1)
        return NULL;
    ratelimit *rl = calloc(1, sizeof *rl + cap * sizeof(struct rl_entry));
    if (rl)
        rl->cap = cap;
    return rl;
}

void rl_free(ratelimit *rl) { free(rl); }

size_t rl_count(const ratelimit *rl) { return rl->n; }

static struct rl_entry *find(const ratelimit *rl, const char *key)
{
    char k[RL_KEY_MAX];
    snprintf(k, sizeof k, "%s", key);
    for (size_t i = 0; i < rl->n; i++)
        if (strcmp(rl->e[i].key, k) == 0)
            return (struct rl_entry *)&rl->e[i];
    return NULL;
}

static int64_t delay_ms(uint32_t fails)
{
    if (fails == 0)
        return 0;
    if (fails > 10) /* 2^9 s is already past the cap */
        return RL_MAX_DELAY_MS;
    int64_t d = (int64_t)1000 << (fails - 1);
    return d < RL_MAX_DELAY_MS ? d : RL_MAX_DELAY_MS;
}

/* Whether e's failures are old enough to be forgotten at now_ms. */
static bool stale(const struct rl_entry *e, int64_t now_ms)
{
    return now_ms - e->last_ms >= RL_FORGET_MS;
}

int64_t rl_check(const ratelimit *rl, const char *key, int64_t now_ms)
{
    const struct rl_entry *e = find(rl, key);
    if (!e || stale(e, now_ms))
        return 0;
    int64_t until = e->last_ms + delay_ms(e->fails);
    return now_ms < until ? until - now_ms : 0;
}

void rl_fail(ratelimit *rl, const char *key, int64_t now_ms)
{
    struct rl_entry *e = find(rl, key);
    if (!e && rl->n < rl->cap) {
        e = &rl->e[rl->n++];
    } else if (!e) {
        e = &rl->e[0]; /* full: reuse the entry failed least recently */
        for (size_t i = 1; i < rl->n; i++)
            if (rl->e[i].last_ms < e->last_ms)
                e = &rl->e[i];
    }
    if (e->fails == 0 || strncmp(e->key, key, sizeof e->key - 1) != 0 || stale(e, now_ms)) {
        snprintf(e->key, sizeof e->key, "%s", key);
        e->fails = 0;
    }
    if (e->fails < UINT32_MAX)
        e->fails++;
    e->last_ms = now_ms;
}

void rl_reset(ratelimit *rl, const char *key)
{
    struct rl_entry *e = find(rl, key);
    if (!e)
        return;
    *e = rl->e[--rl->n];
    memset(&rl->e[rl->n], 0, sizeof rl->e[rl->n]);
}

void rl_addr_key(const struct sockaddr *sa, char out[static RL_KEY_MAX])
{
    char host[INET6_ADDRSTRLEN];
    snprintf(out, RL_KEY_MAX, "a:?");
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        if (inet_ntop(AF_INET, &in->sin_addr, host, sizeof host))
            snprintf(out, RL_KEY_MAX, "a:%s", host);
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        struct in6_addr a = in6->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&a)) {
            if (inet_ntop(AF_INET, &a.s6_addr[12], host, sizeof host))
                snprintf(out, RL_KEY_MAX, "a:%s", host);
            return;
        }
        memset(&a.s6_addr[8], 0, 8); /* the /64 */
        if (inet_ntop(AF_INET6, &a, host, sizeof host))
            snprintf(out, RL_KEY_MAX, "a:%s/64", host);
    }
}
