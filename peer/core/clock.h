/* SPDX-License-Identifier: MIT */
/*
 * clock.h - time handed to the node's engines (contacts, messenger), so
 * that tests run them on a fake clock. The composition root gives the
 * system's (clock_system); a test gives its own.
 */
#ifndef BANTER_PEER_CLOCK_H
#define BANTER_PEER_CLOCK_H

#include <stdint.h>

typedef struct node_clock {
    int64_t (*wall_ms)(void *ctx); /* milliseconds since the epoch */
    int64_t (*mono_ms)(void *ctx); /* monotonic milliseconds */
    void *ctx;
} node_clock;

static inline int64_t clock_wall(const node_clock *c) { return c->wall_ms(c->ctx); }
static inline int64_t clock_mono(const node_clock *c) { return c->mono_ms(c->ctx); }

/* The system's clocks (GLib's real and monotonic time). */
node_clock clock_system(void);

#endif
