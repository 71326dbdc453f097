/* SPDX-License-Identifier: MIT */
/*
 * evloop.h - the node's sockets watched through one epoll descriptor, on
 * the GLib main loop's own thread.
 *
 * Every source in a GMainContext costs on every iteration of its loop,
 * that is on every message the node receives: its descriptor is one more
 * in each poll(), and the context walks it in prepare and check (measured:
 * 0.1-0.15 us each on a 7.5 us round trip; docs/architecture.md
 * "Performance"). An evloop is a single GSource that owns an epoll
 * descriptor: the loop polls that one descriptor and walks that one
 * source, however many sockets are registered with it (the listeners, the
 * LAN connections); its dispatch asks epoll which are ready
 * (epoll_wait with no timeout) and calls their callbacks, there and then,
 * on the loop's thread. A socket that is not ready costs nothing per
 * iteration.
 *
 * That epoll_wait would be one more system call for each message (on a
 * round trip of a few microseconds it costs what it saves), so there are
 * two modes, chosen by the loop itself:
 *
 *  - fast: when the only other descriptor GLib polls is its own wake-up
 *    descriptor (no other library's source with a descriptor on the
 *    context), the evloop puts that one in its epoll set too and becomes
 *    the context's poll function: one epoll_wait with GLib's timeout
 *    replaces poll(), and its events are run by the dispatch that follows
 *    with no further system call. Per message: epoll_wait, the socket's
 *    recv and send; no descriptor is registered per wait, nothing grows
 *    with the number of sockets.
 *  - slow: otherwise (e.g. avahi's D-Bus socket is on the loop). Watches
 *    added with EVLOOP_BUSY (connections: ready on every message) are
 *    then polled by GLib's own poll(), as descriptors of this same source,
 *    EVLOOP_DIRECT of them at most; the other watches (listeners, timers,
 *    busy ones past that) go through epoll, and epoll_wait runs only when
 *    poll() found one of them ready. Per message on a busy watch: poll(),
 *    recv and send.
 *
 * The poll function is checked on every iteration; the mode changes at
 * the end of a dispatch when the descriptors GLib polls changed. Another
 * library's descriptor is never put in the epoll set: it could be closed
 * and its number reused between two iterations unseen. The poll function
 * is installed only on a context whose poll function is GLib's own.
 *
 * Watches are level-triggered: while a descriptor stays ready for what
 * is asked, its callback runs again on the next iteration. A hang-up or
 * an error is reported (EVLOOP_HUP, EVLOOP_ERR) whenever something is
 * asked; a watch asking for nothing (events 0) is taken out of the epoll
 * set, so a hung-up socket that is not being read never spins.
 *
 * Lifetimes: evloop_del may be called from inside any callback, for its
 * own watch or another one: a watch deleted while the loop dispatches is
 * never called again, and its memory is freed only once the dispatch is
 * over, so a batch of ready events never reaches freed memory. The
 * descriptor stays the caller's: delete the watch before closing it. A
 * watch deleted while the events of a fast-mode wait are kept for the
 * dispatch is freed after it too.
 * evloop_free may come before the last evloop_del (the loop's memory lives
 * until then), but no callback runs after it.
 *
 * Without an evloop (ev NULL in evloop_add) a watch is a plain GLib fd
 * source on the given context: the same calls and callbacks, for tests
 * and for code that runs without one.
 *
 * Threads: every call is made from the thread that runs the context.
 */
#ifndef BANTER_PEER_EVLOOP_H
#define BANTER_PEER_EVLOOP_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#define EVLOOP_IN     0x1u  /* readable (or a connection to accept) */
#define EVLOOP_OUT    0x2u  /* writable (or a connect completed) */
#define EVLOOP_HUP    0x4u  /* hung up: reported, never asked for */
#define EVLOOP_ERR    0x8u  /* error pending: reported, never asked for */
#define EVLOOP_BUSY   0x10u /* evloop_add: ready often (a connection), see above */
#define EVLOOP_BATCH  64    /* events taken per dispatch; the rest next iteration */
#define EVLOOP_DIRECT 8     /* busy watches polled by the loop itself, at most */

typedef struct evloop evloop;
typedef struct ev_watch ev_watch;

/* fd is ready: events holds what (EVLOOP_* bits, at least one). It may
 * call evloop_mod and evloop_del on any watch, its own included. */
typedef void (*ev_fn)(void *ud, int fd, uint32_t events);

/* A new epoll descriptor as a source on ctx (NULL: the default context).
 * BANTER_EIO when epoll_create1 fails (errno set). */
BANTER_WUR int evloop_new(evloop **out, GMainContext *ctx);
/* Detach from the loop. Accepts NULL. Watches still registered are not
 * called again; each must still be deleted (its owner's evloop_del). */
void evloop_free(evloop *ev);
/* The context it runs on. */
GMainContext *evloop_context(const evloop *ev);
/* Registered watches (for tests and the docs' counts). */
unsigned evloop_count(const evloop *ev);
/* Whether it is in fast mode now (see above; for tests). */
bool evloop_fast(const evloop *ev);

/* Watch fd for events (EVLOOP_IN | EVLOOP_OUT, or 0 for none yet; with
 * EVLOOP_BUSY, see above) on ev, or with ev NULL by a plain fd source on
 * ctx (NULL: default context). One watch per descriptor and loop. NULL
 * with errno set when epoll refuses the descriptor (EBADF, EEXIST: it has
 * a watch through epoll already, ENOMEM, EPERM for a regular file). */
ev_watch *evloop_add(evloop *ev, GMainContext *ctx, int fd, uint32_t events, ev_fn fn, void *ud);
/* Ask for other events (0: none, out of the epoll set). BANTER_EIO when
 * epoll refuses to add them (ENOMEM, errno set; the watch then asks for
 * nothing). Asking for nothing never fails. */
int evloop_mod(ev_watch *w, uint32_t events);
/* What w asks for now. */
uint32_t evloop_events(const ev_watch *w);
/* Stop watching: fn never runs after this, also when called from inside
 * a callback of the same dispatch. Accepts NULL. */
void evloop_del(ev_watch *w);

/* A timer as a watch of a timerfd of its own (through epoll: it costs the
 * loop nothing between expiries, where a GLib timeout source is walked
 * and reads the clock on every iteration), made stopped. fn runs with
 * EVLOOP_IN on each expiry (expiries missed meanwhile count as one).
 * evloop_del stops it and closes the descriptor. NULL with errno set when
 * no timerfd can be made. */
ev_watch *evloop_timer(evloop *ev, GMainContext *ctx, ev_fn fn, void *ud);
/* Every ms milliseconds from now on (0: stop). BANTER_EIO when the watch
 * cannot be armed (errno set; it is stopped then). */
int evloop_timer_set(ev_watch *w, unsigned ms);

#endif
