/* SPDX-License-Identifier: MIT */
/* gwrate.c - per-person message counts of a gateway, in fixed windows. */
#include "gwrate.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

static bool same_key(const gwrate_slot *s, const char *key)
{
    return strncmp(s->key, key, GWRATE_KEY_MAX - 1) == 0;
}

bool gwrate_take(gwrate *r, const char *key, int64_t now)
{
    if (!key[0])
        return false;
    gwrate_slot *slot = NULL;
    for (size_t i = 0; i < r->nslots; i++) {
        gwrate_slot *s = &r->slots[i];
        if (s->key[0] && same_key(s, key)) {
            slot = s;
            break;
        }
        if (!slot && (!s->key[0] || now - s->start >= r->window_ms))
            slot = s; /* free, or its window is over: ours unless key has one */
    }
    if (!slot)
        return false;
    if (!same_key(slot, key) || now - slot->start >= r->window_ms) {
        snprintf(slot->key, sizeof slot->key, "%s", key);
        slot->start = now;
        slot->count = 0;
    }
    if (slot->count < INT_MAX)
        slot->count++;
    return slot->count <= r->per_window;
}

int gwrate_count(const gwrate *r, const char *key, int64_t now)
{
    for (size_t i = 0; i < r->nslots; i++) {
        const gwrate_slot *s = &r->slots[i];
        if (s->key[0] && same_key(s, key))
            return now - s->start < r->window_ms ? s->count : 0;
    }
    return 0;
}
