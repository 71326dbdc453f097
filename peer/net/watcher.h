/* SPDX-License-Identifier: MIT */
/*
 * watcher.h - descriptors that are seldom ready (listening sockets),
 * watched by a thread of their own instead of by the node's loop.
 *
 * Every source in a GMainContext costs on every iteration of its loop,
 * that is on every message the node receives: its descriptor is one more
 * in each poll(), and the context walks it in prepare and check
 * (measured: 0.1-0.15 us each on a 7.5 us round trip; docs/architecture.md
 * "Performance"). A listening socket is ready a few times a day. A watcher
 * polls such descriptors on its own thread and, when one is readable,
 * runs its callback on the owner's context (never on the thread), through
 * a one-shot source that exists only until it ran: the owner's loop
 * carries nothing for them in between.
 *
 * A watch is level-triggered and re-armed after its callback: while the
 * descriptor stays readable, the callback runs again (one thread hop per
 * round), so a callback that takes only part of what is waiting (a burst
 * of accepts) is called again for the rest.
 *
 * Threads: every call is made from the thread that runs the owner's
 * context. The descriptor stays the caller's; it must stay open until
 * watch_free.
 */
#ifndef BANTER_PEER_WATCHER_H
#define BANTER_PEER_WATCHER_H

#include <glib.h>
#include <stdbool.h>

#include "error.h"

typedef struct watcher watcher;
typedef struct watch watch;

/* The descriptor is readable (or in error: the callee finds out when it
 * reads). Runs on the owner's context. It may call watch_arm and
 * watch_free on its own watch. */
typedef void (*watch_fn)(void *ud);

/* Start the thread; callbacks run on ctx (NULL: the default context).
 * BANTER_ENOMEM when no thread can be made. */
BANTER_WUR int watcher_new(watcher **out, GMainContext *ctx);
/* Stop and join the thread. Accepts NULL. Every watch must be freed
 * first. */
void watcher_free(watcher *w);

/* Watch fd for reading, armed. With w NULL, fd is watched by ctx's own
 * loop (a plain fd source): the same calls, the same callbacks, for
 * callers and tests without a watcher. Never NULL. */
watch *watch_new(watcher *w, GMainContext *ctx, int fd, watch_fn fn, void *ud);
/* Stop (false) or resume (true) calling back. A callback already on its
 * way when the watch is disarmed does not run. */
void watch_arm(watch *wt, bool on);
/* Accepts NULL; the callback never runs after it, also from inside it. */
void watch_free(watch *wt);

#endif
