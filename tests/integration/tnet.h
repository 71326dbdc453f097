/* SPDX-License-Identifier: MIT */
/*
 * tnet.h - the client side the test tools share (evil_peer, peer_probe,
 * peer_swarm, rdv_probe): clocks, dialing, and a session over a blocking
 * socket pumped until the next event or a deadline. Errors are returned
 * with their cause; each tool prints them its own way (their outputs are
 * read by the tests).
 */
#ifndef BANTER_TESTS_TNET_H
#define BANTER_TESTS_TNET_H

#include <stddef.h>
#include <stdint.h>

#include "session.h"

#define TNET_READ_CHUNK 65536

/* Milliseconds: monotonic (deadlines), wall clock (message times). */
int64_t tnet_mono_ms(void);
int64_t tnet_wall_ms(void);

/* A TCP connection to host:port (port numeric), bound first to source
 * (a numeric address) unless it is NULL, with TCP_NODELAY. The socket, or
 * -1 with the cause on stderr as "who: ...". */
int tnet_dial(const char *who, const char *host, const char *port, const char *source);

/* Send all of p. 0, or -1 with errno (0 when the socket took nothing). */
int tnet_write_all(int fd, const void *p, size_t len);

/* Send everything session s has queued. 0, or -1 as tnet_write_all. */
int tnet_flush(int fd, session *s);

/* What arrived and is not fed to the session yet. Zeroed to start. */
typedef struct tnet_in {
    size_t off, len;
    uint8_t buf[TNET_READ_CHUNK];
} tnet_in;

/* Why tnet_next ended a connection: op is "session" (err a BANTER_E*
 * code), "send", "poll" or "recv" (err an errno value; 0 for "recv": the
 * other end closed it). */
typedef struct tnet_why {
    const char *op;
    int err;
} tnet_why;

/*
 * Feed the session what arrived (reading more as needed) and send what it
 * queues, until its next event. 1 with *ev (valid until the next call),
 * 0 when deadline (tnet_mono_ms) passed first, -1 when the connection
 * ended or broke (*why says how).
 */
int tnet_next(int fd, session *s, tnet_in *in, session_event *ev, int64_t deadline, tnet_why *why);

/* why as text ("connection closed", "session: ...", "poll: ..."). */
const char *tnet_strwhy(const tnet_why *why, char *out, size_t cap);

#endif
