/* SPDX-License-Identifier: MIT */
/*
 * avahipoll.h - Avahi's poll API (AvahiPoll) on the node's evloop, in place
 * of avahi-glib's.
 *
 * avahi-glib puts the client's D-Bus socket on the GLib loop as a source of
 * its own. A descriptor another library owns can be closed and its number
 * reused between two iterations unseen, so net/evloop never puts one in
 * its epoll set, and with one on the loop it runs in slow mode: every
 * message on a LAN connection then costs a poll() of several descriptors
 * and a walk of several sources (net/evloop.h). Here each AvahiWatch is an
 * evloop watch of a duplicate of the descriptor Avahi gives (so the number
 * in the epoll set is ours and lives exactly as long as the watch), and
 * each AvahiTimeout a GLib timeout source, which adds no descriptor: a
 * node with mDNS keeps the evloop in fast mode.
 *
 * Avahi may free a watch or a timeout from inside its own callback; both
 * allow it (evloop_del, and a timeout drops its source before its callback
 * runs). Free the AvahiClient before the avahipoll. Threads: the loop's.
 */
#ifndef BANTER_PEER_AVAHIPOLL_H
#define BANTER_PEER_AVAHIPOLL_H

#include <avahi-common/watch.h>
#include <glib.h>

#include "error.h"
#include "net/evloop.h"

typedef struct avahipoll avahipoll;

/* Watches on ev (NULL: plain fd sources on ctx, see evloop_add), timeouts
 * on ctx (NULL: the default context). BANTER_ENOMEM. */
BANTER_WUR int avahipoll_new(avahipoll **out, evloop *ev, GMainContext *ctx);
/* Accepts NULL. Every watch and timeout must have been freed (by freeing
 * the client that made them). */
void avahipoll_free(avahipoll *p);
/* The API to hand to avahi_client_new; valid until avahipoll_free. */
const AvahiPoll *avahipoll_api(const avahipoll *p);

#endif
