/* SPDX-License-Identifier: MIT */
/*
 * icecand.h - validating ICE signaling content from a remote device before
 * it reaches libnice: credentials (ufrag, pwd) and candidate lines.
 *
 * Sans I/O: text in, typed values out. Every length and count is capped
 * (banter_limits.h); a candidate is parsed into fields, checked, and what
 * goes on to libnice is this module's own canonical line (icecand_format),
 * never the peer's bytes. Addresses must be numeric IPv4 or IPv6 (no
 * names: no mDNS ".local" candidates); by policy, loopback, link-local,
 * multicast, broadcast and unspecified addresses are refused unless the
 * caller says the peer shares a LAN with us, so a contact cannot make this
 * node send connectivity checks to its own loopback services or to
 * arbitrary link-local hosts (issue 13, item 8).
 *
 * Accepted candidate grammar (RFC 8445 15.1, RFC 6544 for TCP):
 *   [a=]candidate:FOUNDATION COMPONENT TRANSPORT PRIORITY ADDRESS PORT
 *       typ host|srflx|prflx|relay [raddr ADDRESS rport PORT]
 *       [tcptype active|passive|so] [generation N] [network-id N]
 *       [network-cost N]
 * FOUNDATION: 1..32 ice-chars (ALPHA DIGIT + /); COMPONENT 1..256;
 * TRANSPORT udp or tcp (any case); PRIORITY 1..2^31-1; PORT 1..65535 (a
 * TCP active candidate may give 9 or 0, RFC 6544); tcptype only, and
 * always, with tcp. Tokens are separated by single spaces; nothing else
 * may follow. The related address (raddr/rport) is checked and dropped:
 * connectivity checks never go there.
 */
#ifndef BANTER_ICECAND_H
#define BANTER_ICECAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banter_limits.h"
#include "error.h"

typedef enum icecand_type {
    ICECAND_HOST = 0,
    ICECAND_SRFLX,
    ICECAND_PRFLX,
    ICECAND_RELAY,
} icecand_type;

typedef enum icecand_tcptype {
    ICECAND_TCP_NONE = 0, /* udp */
    ICECAND_TCP_ACTIVE,
    ICECAND_TCP_PASSIVE,
    ICECAND_TCP_SO,
} icecand_tcptype;

typedef struct icecand {
    char foundation[BANTER_ICE_MAX_FOUNDATION + 1];
    uint16_t component;
    bool tcp;
    icecand_tcptype tcptype;
    uint32_t priority;
    bool ipv6;
    uint8_t addr[16]; /* IPv4 in the first 4 bytes */
    uint16_t port;
    icecand_type type;
} icecand;

typedef struct icecand_policy {
    /* The peer shares a LAN with us: loopback, link-local etc. allowed. */
    bool same_lan;
    bool allow_ipv6;
    bool allow_tcp;
} icecand_policy;

/* Why a value was refused, BANTER_E* codes:
 *   BANTER_ETOOLONG  over a length cap
 *   BANTER_EFORMAT   not the grammar above (a bad token, count, charset)
 *   BANTER_EUNSUPPORTED  a transport, family or name the policy refuses
 *   BANTER_EPERM     an address the policy refuses (loopback, ...) */

/* ufrag: 4..256 ice-chars; pwd: 22..256 ice-chars (RFC 8445 5.3). */
BANTER_WUR int icecand_check_ufrag(const char *s, size_t len);
BANTER_WUR int icecand_check_pwd(const char *s, size_t len);

/* Parse and check one candidate line of len bytes (no terminator needed,
 * at most BANTER_ICE_MAX_LINE). 0 with *out filled, or an error above. */
BANTER_WUR int icecand_parse(const char *line, size_t len, const icecand_policy *pol, icecand *out);

/* The canonical line "candidate:F C udp P ADDR PORT typ T [tcptype X]"
 * into buf (NUL-terminated). Its length, or BANTER_ETOOLONG when cap is
 * too small (BANTER_ICE_MAX_LINE + 1 always suffices). */
BANTER_WUR int icecand_format(const icecand *c, char *buf, size_t cap);

/* A remote description: credentials and up to BANTER_ICE_MAX_CANDS
 * candidates. Bad credentials or too many lines refuse it all; each bad
 * candidate is left out and counted in *rejected (its first error in
 * *first_err when not NULL), so one odd line does not lose the others. */
typedef struct icecand_set {
    char ufrag[BANTER_ICE_MAX_UFRAG + 1];
    char pwd[BANTER_ICE_MAX_PWD + 1];
    icecand c[BANTER_ICE_MAX_CANDS];
    size_t n;
} icecand_set;

BANTER_WUR int icecand_parse_set(const char *ufrag, const char *pwd, const char *const *lines,
                                 size_t nlines, const icecand_policy *pol, icecand_set *out,
                                 size_t *rejected, int *first_err);

/* A STUN or TURN server as the rendezvous names it (RFC 7064/7065, numeric
 * hosts only): "stun:HOST:PORT" or "turn:HOST:PORT[?transport=udp|tcp]",
 * HOST an IPv4 address or an IPv6 one in brackets, PORT 1..65535 (no
 * default port: it is always written). */
typedef enum icecand_url_transport {
    ICECAND_URL_ANY = 0, /* no ?transport: TURN over UDP and, where UDP is blocked, TCP */
    ICECAND_URL_UDP,
    ICECAND_URL_TCP,
} icecand_url_transport;

typedef struct icecand_url {
    bool turn;
    char host[46]; /* numeric, without brackets */
    uint16_t port;
    icecand_url_transport transport;
} icecand_url;

/* 0 with *out filled, BANTER_ETOOLONG past 128 bytes, or BANTER_EFORMAT. */
BANTER_WUR int icecand_parse_url(const char *url, icecand_url *out);

#endif
