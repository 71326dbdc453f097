/* SPDX-License-Identifier: MIT */
/*
 * ctl.h - the server's local control socket: how `banter-rendezvous user
 * disable|enable|grant|revoke` tells a running server that an account
 * changed, so a disabled account's sessions end at once.
 *
 * The socket is config_base() with CTL_SUFFIX ("rendezvous.db.sock"),
 * a Unix stream socket created 0600 by the server at start and removed
 * when it stops. Only the server's own user and root may talk to it
 * (checked with SO_PEERCRED as well). A client sends one line
 *
 *   refresh NAME\n
 *
 * and gets one line back, then the server closes: "ok N\n" (N sessions of
 * NAME ended) or "error TEXT\n". Also "plugins [list | enable|disable|
 * restart NAME]\n", answered "ok JSON\n" or "error TEXT\n" (plugins.h). The line carries no
 * authority of its own: the server only reads the account NAME from the database again (the
 * database is the truth), so the worst a message can do is make it look.
 * At most CTL_CLIENTS talk at once; one silent for CTL_TIMEOUT_MS is
 * closed.
 *
 * At start a socket file that answers means another server uses this
 * database: the server refuses to start. One that does not answer is left
 * over from a server that was killed and is replaced.
 */
#ifndef BANTER_RDV_CTL_H
#define BANTER_RDV_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"

#define CTL_SUFFIX     ".sock"
#define CTL_CLIENTS    8
#define CTL_TIMEOUT_MS 5000u
#define CTL_LINE_MAX   128
#define CTL_ANSWER_MAX (64 * 1024) /* the longest answer line ("plugins") */

typedef struct ctl ctl;

/*
 * Listen on path (on k's loop). 0; BANTER_ETOOLONG (the path does not fit
 * a Unix socket address: why says so, and the server runs without it);
 * BANTER_EIO (another server answers there, or the socket cannot be made;
 * why says which).
 */
BANTER_WUR int ctl_open(ctl **out, core *k, const char *path, char *why, size_t cap);
/* Close the socket and its clients and remove the file (their handles
 * close with the loop; free with ctl_free after it ended). */
void ctl_close(ctl *c);
/* Accepts NULL. */
void ctl_free(ctl *c);
/* Close clients silent since before now - CTL_TIMEOUT_MS. */
void ctl_tick(ctl *c, uint64_t now);

/* The client side: send line (no newline; under CTL_LINE_MAX bytes) to the
 * server of base and read its answer line into ans (acap bytes).
 * BANTER_ENOENT (no server runs there), BANTER_ETOOLONG, BANTER_EIO,
 * BANTER_ETIMEDOUT, with why. */
BANTER_WUR int ctl_ask(const char *base, const char *line, char *ans, size_t acap, char *why,
                       size_t cap);

/*
 * The client side: ask the server whose local files are at base (config_base) to read name
 * again. 0 with *sessions set; BANTER_ENOENT when no server is running on
 * that database (nothing to tell); BANTER_ETOOLONG (path too long);
 * BANTER_EIO or BANTER_ETIMEDOUT with why.
 */
BANTER_WUR int ctl_notify(const char *base, const char *name, int *sessions, char *why, size_t cap);

#endif
