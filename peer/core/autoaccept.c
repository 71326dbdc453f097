/* SPDX-License-Identifier: MIT */
/* autoaccept.c - how much the node accepts by itself (see autoaccept.h). */
#include "core/autoaccept.h"

#include <stdbool.h>
#include <stdlib.h>

#define HOUR_MS 3600000
#define HOURS   24

struct autoaccept {
    int64_t hour[HOURS];   /* which hour (now_ms / HOUR_MS) each bucket holds */
    uint64_t bytes[HOURS]; /* accepted in it (saturating) */
    bool used[HOURS];
};

autoaccept *autoaccept_new(void) { return calloc(1, sizeof(autoaccept)); }

void autoaccept_free(autoaccept *a) { free(a); }

static uint64_t add_sat(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

static int64_t hour_of(int64_t now_ms)
{
    return now_ms >= 0 ? now_ms / HOUR_MS : -1 - (-(now_ms + 1) / HOUR_MS);
}

static size_t slot_of(int64_t hour) { return (size_t)(((hour % HOURS) + HOURS) % HOURS); }

uint64_t autoaccept_used(const autoaccept *a, int64_t now_ms)
{
    int64_t h = hour_of(now_ms);
    uint64_t sum = 0;
    for (size_t i = 0; i < HOURS; i++)
        /* the last 24 hours, this one included; a bucket "from the
         * future" (a clock that went back) still counts: never less */
        if (a->used[i] && a->hour[i] > h - HOURS)
            sum = add_sat(sum, a->bytes[i]);
    return sum;
}

aa_verdict autoaccept_check(const autoaccept *a, const aa_limits *l, uint64_t size, uint64_t room,
                            int64_t now_ms)
{
    if (l->max_file && size > l->max_file)
        return AA_TOO_BIG;
    if (l->per_day && add_sat(autoaccept_used(a, now_ms), size) > l->per_day)
        return AA_OVER_DAY;
    if (size > room || room - size < l->keep_free)
        return AA_NO_ROOM;
    return AA_YES;
}

void autoaccept_took(autoaccept *a, uint64_t size, int64_t now_ms)
{
    int64_t h = hour_of(now_ms);
    size_t i = slot_of(h);
    if (!a->used[i] || a->hour[i] != h) {
        a->used[i] = true;
        a->hour[i] = h;
        a->bytes[i] = 0;
    }
    a->bytes[i] = add_sat(a->bytes[i], size);
}

const char *autoaccept_why(aa_verdict v)
{
    switch (v) {
    case AA_YES:
        return "";
    case AA_TOO_BIG:
        return "it is over auto_accept_max_mb";
    case AA_OVER_DAY:
        return "the files accepted without asking in the last 24 hours would pass "
               "auto_accept_day_mb";
    case AA_NO_ROOM:
        return "the disk would keep less free space than auto_accept_keep_free_mb";
    }
    return "";
}
