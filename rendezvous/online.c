/* SPDX-License-Identifier: MIT */
/* online.c - connected accounts and their devices (see online.h). */
#include "online.h"

#include <stdlib.h>
#include <string.h>

#define ONLINE_MIN_BUCKETS 64u

struct online {
    account **b; /* buckets */
    size_t nb;   /* a power of two */
    size_t n;    /* accounts */
};

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return h;
}

online *online_new(void)
{
    online *on = calloc(1, sizeof *on);
    if (!on)
        return NULL;
    on->b = calloc(ONLINE_MIN_BUCKETS, sizeof *on->b);
    if (!on->b) {
        free(on);
        return NULL;
    }
    on->nb = ONLINE_MIN_BUCKETS;
    return on;
}

static void account_free(account *a)
{
    for (uint32_t i = 0; i < a->nrel; i++)
        free(a->rel[i].peer);
    free(a->rel);
    free(a->text);
    free(a->elsewhere);
    free(a);
}

void online_free(online *on)
{
    if (!on)
        return;
    for (size_t i = 0; i < on->nb; i++) {
        while (on->b[i]) {
            account *a = on->b[i];
            on->b[i] = a->hnext;
            account_free(a);
        }
    }
    free(on->b);
    free(on);
}

account *online_find(const online *on, const char *name)
{
    for (account *a = on->b[hash_name(name) & (on->nb - 1)]; a; a = a->hnext)
        if (strcmp(a->name, name) == 0)
            return a;
    return NULL;
}

/* Twice the buckets; on failure the table stays as it is (only slower). */
static void grow(online *on)
{
    size_t nb = on->nb * 2;
    account **b = calloc(nb, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < on->nb; i++) {
        while (on->b[i]) {
            account *a = on->b[i];
            on->b[i] = a->hnext;
            size_t j = hash_name(a->name) & (nb - 1);
            a->hnext = b[j];
            b[j] = a;
        }
    }
    free(on->b);
    on->b = b;
    on->nb = nb;
}

int online_attach(online *on, conn *c, const char *name, bool *first)
{
    account *a = online_find(on, name);
    *first = a == NULL;
    if (!a) {
        size_t len = strlen(name);
        a = calloc(1, sizeof *a + len + 1);
        if (!a)
            return BANTER_ENOMEM;
        memcpy(a->name, name, len + 1);
        /* Up to two accounts a bucket on average: 4 to 8 bytes of table
         * per account online, not 8 to 16 (docs/cluster.md, "Capacity"),
         * and the chains stay short. */
        if (on->n >= 2 * on->nb)
            grow(on);
        size_t j = hash_name(name) & (on->nb - 1);
        a->hnext = on->b[j];
        on->b[j] = a;
        on->n++;
    }
    c->acct = a;
    hlist_push(&a->devs, c, offsetof(conn, dev));
    a->ndevs++;
    return 0;
}

bool online_detach(online *on, conn *c, void (*last)(account *a, void *ud), void *ud)
{
    account *a = c->acct;
    if (!a)
        return false;
    hlist_remove(&a->devs, c, offsetof(conn, dev));
    c->acct = NULL;
    if (--a->ndevs > 0)
        return false;
    if (last)
        last(a, ud);
    account **pp = &on->b[hash_name(a->name) & (on->nb - 1)];
    while (*pp != a)
        pp = &(*pp)->hnext;
    *pp = a->hnext;
    on->n--;
    account_free(a);
    return true;
}

size_t online_count(const online *on) { return on->n; }

void online_each(const online *on, void (*fn)(account *a, void *ud), void *ud)
{
    for (size_t i = 0; i < on->nb; i++)
        for (account *a = on->b[i], *next; a; a = next) {
            next = a->hnext;
            fn(a, ud);
        }
}

conn *online_device(const account *a, const uint8_t key[static 32])
{
    for (conn *c = a->devs.head; c; c = c->dev.next) {
        const uint8_t *k = conn_device(c);
        if (k && memcmp(k, key, 32) == 0)
            return c;
    }
    return NULL;
}
