/* SPDX-License-Identifier: MIT */
/*
 * probe.h - the reachability probe (docs/rendezvous.md section 16): a
 * logged-in device asks the server to connect back to one TCP port of its
 * own (RV_PROBE); the server, a second vantage point outside the node's
 * network, tries, and says what it found (RV_PROBE_RESULT). `banter
 * doctor` turns that into "your port N is reachable from outside" or not.
 *
 * The request carries only a port: the address is always the source
 * address of the connection the request came on, so the server cannot be
 * made to connect anywhere else (not a port scanner for strangers).
 *
 * What the server does: a non-blocking TCP connect (libuv) to
 * ADDRESS:PORT with a deadline of PROBE_DEADLINE_MS; once connected, a
 * Noise XX handshake as initiator (shared/session.h, the server key)
 * that must prove the requesting device's own key, so "reachable" means
 * *this node* answered, not another service or another machine behind the
 * same public address. Then BYE and close. Results: reachable, other
 * (connected, but no handshake with this device's key within the
 * deadline), refused (RST / ICMP port unreachable), timeout (no answer:
 * dropped or filtered), unreachable (ICMP host or network unreachable),
 * error (the server could not try).
 *
 * Authorization (probes_admit, pure): an authenticated device only
 * (else ERROR EAUTH); a source address the server may probe
 * (probe_addr_allowed, else ERROR EPERM); one probe per device key per PROBE_INTERVAL_MS,
 * however it reconnects (else ERROR ERATE); at most PROBE_MAX_RUNNING
 * probes at once in the server (else ERROR ERATE). A refused request
 * counts towards the connection's refusals (conn_refuse).
 *
 * Lifetime: a probe belongs to its connection. probe_conn_gone (called
 * from conn_close) cancels it: its result is never sent, its socket and
 * timer are closed, and its memory is freed in their close callbacks
 * (never inside a callback of its own). probes_stop does that for all of
 * them when the server stops; probes_free after the loop ended.
 */
#ifndef BANTER_RDV_PROBE_H
#define BANTER_RDV_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "core.h"
#include "rvmsg.h"

#define PROBE_DEADLINE_MS 3000u  /* connect and handshake, together */
#define PROBE_INTERVAL_MS 10000u /* one probe per device per this */
#define PROBE_MAX_RUNNING 32u    /* probes in flight in the whole server */
#define PROBE_RECENT_CAP  1024u  /* devices remembered for the interval */

typedef struct probes probes;

typedef enum probe_verdict {
    PROBE_GO,       /* allowed; the device's interval starts now */
    PROBE_NOAUTH,   /* not an authenticated device: EAUTH */
    PROBE_TOO_SOON, /* this device probed less than PROBE_INTERVAL_MS ago: ERATE */
    PROBE_TOO_MANY  /* PROBE_MAX_RUNNING in flight, or the table of recent devices full: ERATE */
} probe_verdict;

/* NULL when out of memory. */
probes *probes_new(void);
/* After every probe was closed and the loop ended. Accepts NULL. */
void probes_free(probes *p);

/* Whether a probe from device dev (authed: an authenticated device) may
 * run at now_ms (any monotonic ms clock). PROBE_GO records it (the next
 * one from dev waits PROBE_INTERVAL_MS) and counts it as running until
 * probes_done. Pure (no I/O): unit-tested. */
probe_verdict probes_admit(probes *p, bool authed, const uint8_t dev[static 32], uint64_t now_ms);
/* A probe admitted by probes_admit ended (its socket closed). */
void probes_done(probes *p);
/* Probes in flight (admitted, not yet done). */
size_t probes_running(const probes *p);

/* Whether the server may probe a source address: not loopback (a proxy on
 * the server's own machine would otherwise turn every device's probe
 * into a probe of the server's local services), not unspecified,
 * multicast or broadcast; IPv4-mapped IPv6 addresses as their IPv4
 * address. Others (ERROR EPERM): none is probed. Pure: unit-tested. */
bool probe_addr_allowed(const struct sockaddr *sa);

/* RV_PROBE from c (the dispatcher's hook): refused with ERROR as above,
 * or started; RV_PROBE_RESULT follows within PROBE_DEADLINE_MS plus a
 * loop iteration, unless c closes first. Logged at info level. */
void probe_request(conn *c, const struct rv_probe *q);
/* c is closing: cancel its probe, if any (no result, no use of c after). */
void probe_conn_gone(conn *c);
/* The server stops: cancel every probe (their handles close in the loop). */
void probes_stop(probes *p);

#endif
