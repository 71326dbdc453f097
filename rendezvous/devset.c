/* SPDX-License-Identifier: MIT */
/* devset.c - device keys with stamps (see devset.h). */
#include "devset.h"

#include <stdlib.h>
#include <string.h>

struct devset {
    uint8_t (*k)[32];
    uint64_t *stamp;
    uint8_t *used;
    size_t cap, n, max; /* cap: a power of two, or 0 */
};

devset *devset_new(size_t max)
{
    devset *s = calloc(1, sizeof *s);
    if (s)
        s->max = max;
    return s;
}

static void release(devset *s)
{
    free(s->k);
    free(s->stamp);
    free(s->used);
    s->k = NULL;
    s->stamp = NULL;
    s->used = NULL;
    s->cap = s->n = 0;
}

void devset_free(devset *s)
{
    if (!s)
        return;
    release(s);
    free(s);
}

static size_t home(const devset *s, const uint8_t *key)
{
    uint64_t h;
    memcpy(&h, key, sizeof h);
    return (size_t)h & (s->cap - 1);
}

static size_t find(const devset *s, const uint8_t *key, bool *found)
{
    size_t i = home(s, key);
    while (s->used[i] && memcmp(s->k[i], key, 32) != 0)
        i = (i + 1) & (s->cap - 1);
    *found = s->used[i] != 0;
    return i;
}

static void put(devset *s, const uint8_t *key, uint64_t stamp)
{
    bool f;
    size_t i = find(s, key, &f);
    if (!f) {
        memcpy(s->k[i], key, 32);
        s->used[i] = 1;
        s->n++;
    }
    s->stamp[i] = stamp;
}

static int grow(devset *s)
{
    devset n = {.cap = s->cap ? s->cap * 2 : 64, .max = s->max};
    n.k = malloc(n.cap * sizeof *n.k);
    n.stamp = malloc(n.cap * sizeof *n.stamp);
    n.used = calloc(n.cap, 1);
    if (!n.k || !n.stamp || !n.used) {
        release(&n);
        return BANTER_ENOMEM;
    }
    for (size_t i = 0; i < s->cap; i++)
        if (s->used[i])
            put(&n, s->k[i], s->stamp[i]);
    release(s);
    *s = n;
    return 0;
}

int devset_add(devset *s, const uint8_t key[static 32], uint64_t stamp)
{
    bool f = false;
    if (s->cap)
        (void)find(s, key, &f);
    if (!f && s->n >= s->max)
        return BANTER_ETOOBIG;
    if (!f && (s->n + 1) * 4 > s->cap * 3) {
        int r = grow(s);
        if (r)
            return r;
    }
    put(s, key, stamp);
    return 0;
}

void devset_del(devset *s, const uint8_t key[static 32])
{
    bool f = false;
    if (!s->cap)
        return;
    size_t i = find(s, key, &f), j = i;
    if (!f)
        return;
    s->used[i] = 0;
    s->n--;
    for (;;) { /* move back what probed past the hole */
        j = (j + 1) & (s->cap - 1);
        if (!s->used[j])
            return;
        size_t h = home(s, s->k[j]);
        bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
        if (stays)
            continue;
        memcpy(s->k[i], s->k[j], 32);
        s->stamp[i] = s->stamp[j];
        s->used[i] = 1;
        s->used[j] = 0;
        i = j;
    }
}

bool devset_get(const devset *s, const uint8_t key[static 32], uint64_t *stamp)
{
    bool f = false;
    if (!s->cap)
        return false;
    size_t i = find(s, key, &f);
    if (f && stamp)
        *stamp = s->stamp[i];
    return f;
}

size_t devset_count(const devset *s) { return s->n; }
