/* SPDX-License-Identifier: MIT */
/* clock.c - the system's clocks for the node's engines (see clock.h). */
#include "core/clock.h"

#include <glib.h>

static int64_t wall(void *ctx)
{
    (void)ctx;
    return g_get_real_time() / 1000;
}

static int64_t mono(void *ctx)
{
    (void)ctx;
    return g_get_monotonic_time() / 1000;
}

node_clock clock_system(void) { return (node_clock){wall, mono, NULL}; }
