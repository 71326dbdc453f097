/* SPDX-License-Identifier: MIT */
/*
 * acceptor.h - the accept loop of the node's local interfaces (the control
 * socket, the web page): accept4 on a listening socket the caller made,
 * never spinning when accept fails.
 *
 * When accept fails for lack of descriptors (EMFILE, ENFILE) or memory
 * (ENOBUFS, ENOMEM), the listening socket stays readable: watching it
 * would spin. The acceptor stops watching, says so once (stderr), and
 * tries again after a back-off (ACCEPTOR_BACKOFF0 ms doubling up to
 * ACCEPTOR_BACKOFF1 ms); it says so again once it accepts.
 *
 * With a reserve (acceptor_new's reserve true) it also holds one spare
 * descriptor (/dev/null): when accept fails with EMFILE it gives the spare
 * up, accepts that one connection and hands it over, and takes a new spare
 * as soon as a descriptor is free again. That is how the owner's
 * `banter peers` is still answered while the node is out of descriptors.
 */
#ifndef BANTER_PEER_ACCEPTOR_H
#define BANTER_PEER_ACCEPTOR_H

#include <glib.h>
#include <stdbool.h>

#include "net/evloop.h"

#define ACCEPTOR_BACKOFF0 50   /* ms */
#define ACCEPTOR_BACKOFF1 1000 /* ms */
#define ACCEPTOR_BURST    16   /* connections accepted per wakeup */

typedef struct acceptor acceptor;

/* A new connection (non-blocking, close-on-exec): the callee's. It may
 * call acceptor_pause but not acceptor_free. */
typedef void (*acceptor_fn)(void *ud, int fd);

/* Watch lfd (listening, non-blocking; stays the caller's): with ev,
 * through its epoll descriptor (net/evloop.h: the loop then polls and
 * walks nothing more for it), else by an fd source on ctx; fn and the
 * back-off run on the loop either way. what names it in the log ("the
 * control socket"). Never NULL. */
acceptor *acceptor_new(GMainContext *ctx, evloop *ev, int lfd, const char *what, bool reserve,
                       acceptor_fn fn, void *ud);
/* Stop (or resume) accepting: connections wait in the listen backlog. */
void acceptor_pause(acceptor *a, bool paused);
/* Accepts NULL. The listening socket is not closed. */
void acceptor_free(acceptor *a);

#endif
