/* SPDX-License-Identifier: MIT */
/* ratelimit.c - login backoff per account and address (see ratelimit.h). */
#include "ratelimit.h"

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

int64_t rl_check(const ratelimit *rl, const char *key, int64_t now_ms)
{
    const struct rl_entry *e = find(rl, key);
    if (!e)
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
    if (e->fails == 0 || strncmp(e->key, key, sizeof e->key - 1) != 0) {
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
