/* SPDX-License-Identifier: MIT */
/*
 * rdv.h - the node's one connection to its rendezvous server
 * (docs/rendezvous.md): dial, pin the server's key, say HELLO, keep the
 * connection alive and reconnect with backoff, and carry the account
 * requests (login, logout, profile, search) and the organisation
 * certificate.
 *
 * The server is not a peer: its connection is not in the node's peer
 * table and carries no chat. The server's answers carry no request id, so
 * each request is followed by a PING whose token is the request's own
 * ("barrier"): the server handles a connection's messages in order, so an
 * ERROR that arrives before a request's PONG is that request's, and a
 * request with no answer of its own (logout, profile) is done when its
 * PONG arrives.
 *
 * Every call runs on the node's main loop. A request that was started
 * calls its rdv_done_fn exactly once (an answer, an error, the timeout,
 * the connection lost, or rdv_free), unless rdv_req_cancel() came first.
 */
#ifndef BANTER_PEER_RDV_H
#define BANTER_PEER_RDV_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/home.h"
#include "identity.h"
#include "net/evloop.h"
#include "rdv/fields.h"
#include "policy.h"
#include "rvmsg.h"
#include "bcrypto.h"

#define RDV_REQUEST_MS   15000 /* a request waits this long for its answer */
#define RDV_HANDSHAKE_MS 10000 /* the handshake must finish within this */
#define RDV_KEEPALIVE_MS 25000 /* PING after this much silence (the server's is 30 s) */
#define RDV_TIMEOUT_MS   60000 /* close and reconnect after this much silence */
/* Reconnecting: the instance ring and full-jitter back-off of
 * shared/failover.h (FAILOVER_BASE_MS doubling up to FAILOVER_CAP_MS). */
#define RDV_MAX_INFLIGHT 32             /* requests waiting for the server at once */
#define RDV_SEND_HIGH    (256u * 1024u) /* rdv_writable() is false above this much queued */

typedef struct rdv rdv;
typedef struct rdv_req rdv_req;

/* One instance of the service: a host name or numeric address, a port. */
typedef struct rdv_target {
    char host[256];
    uint16_t port;
} rdv_target;

/*
 * The service (docs/rendezvous.md section 15): the instances listed
 * (targets), or a DNS SRV name (srv, e.g. "_banter._tcp.example.com",
 * resolved off the main loop, again each time the node has tried every
 * instance it had), not both. The node dials one instance at a time and
 * moves to the next on failure (shared/failover.h). Each instance proves
 * the pinned key, or another key with an instance certificate signed by
 * the pinned key (shared/icert.h).
 */
typedef struct rdv_config {
    rdv_target targets[BANTER_MAX_INSTANCES];
    uint32_t ntargets;
    char srv[256];
    banter_rng rng;                   /* the failover schedule's; fill NULL: the system's */
    char fpd[IDENTITY_FP_DIGITS + 1]; /* the pinned server fingerprint, digits only */
    char name[BANTER_MAX_NAME + 1];   /* our HELLO name */
    char cert_path[HOME_PATH_MAX];    /* where the certificate is kept (0600) */
    char policy_path[HOME_PATH_MAX];  /* where the organisation's policy is kept, "" for nowhere */
    evloop *ev;                       /* watches the connection's socket (NULL: an fd source) */
} rdv_config;

/* A sentence for the log and the control socket's listeners (the node
 * prints nothing itself: rdv prints its own lines to stderr). */
typedef void (*rdv_event_fn)(void *ud, const char *text);

typedef enum rdv_err {
    RDV_OK = 0,
    RDV_ENOTCONN,  /* no verified connection to the server now (or it ended) */
    RDV_ENOTAUTH,  /* not logged in */
    RDV_EAUTH,     /* the server refused the login (see the rv_auth) */
    RDV_ESERVER,   /* the server answered ERROR (see code) */
    RDV_ETIMEDOUT, /* no answer within RDV_REQUEST_MS */
    RDV_EBUSY,     /* RDV_MAX_INFLIGHT requests wait already */
    RDV_EINVAL,    /* a bad argument (the codec refused it) */
} rdv_err;

/* Stable names for the control socket: "ENOTCONN", "ENOTAUTH", "EAUTH",
 * "ESERVER", "ETIMEDOUT", "EBUSY", "EINVAL". */
const char *rdv_errname(rdv_err e);

typedef struct rdv_answer {
    rdv_err err;
    const char *why;                       /* a sentence when err */
    const char *code;                      /* RDV_ESERVER, RDV_EAUTH: the server's code */
    int64_t retry_after_ms;                /* RDV_EAUTH: 0 or how long to wait */
    const struct rv_auth *auth;            /* login, when answered */
    const struct rv_search_result *result; /* search, when answered */
    const struct rv_recipients *rcpt;      /* broadcast_to, when answered */
    const struct rv_probe *probe;          /* probe, when answered (RV_PROBE_RESULT) */
} rdv_answer;

/* The answer is only valid during the call. */
typedef void (*rdv_done_fn)(void *ud, const rdv_answer *a);

typedef struct rdv_status {
    char server[300];                   /* "host:port" of the instance dialled now */
    char instance[BANTER_MAX_NAME + 1]; /* its certificate's name, "" without one */
    char server_fp[IDENTITY_FP_LEN + 1];
    bool connected;                 /* a verified session that exchanged HELLO: requests go out */
    bool verified;                  /* the current connection proved the pinned key */
    char user[BANTER_MAX_NAME + 1]; /* "" when not logged in */
    bool admin;
    char error[640];                         /* "" or the latest problem, a sentence */
    char auth_error[BANTER_MAX_ERRCODE + 1]; /* "" or the server's refusal code */
    int64_t retry_after_ms;
    int64_t cert_expires_ms; /* 0: no certificate */
    rv_presence status;      /* the account's chosen status; RV_P_OFFLINE: not known */
    char status_text[RV_TEXT_MAX + 1];
    bool has_policy; /* the organisation's policy (pol) is known */
    policy pol;
} rdv_status;

/* Set up (no I/O yet; rdv_start dials). Loads the certificate from
 * cfg->cert_path when one is there for this device and this server.
 * BANTER_ENOMEM. */
BANTER_WUR int rdv_new(rdv **out, GMainContext *ctx, const identity *id, const rdv_config *cfg,
                       rdv_event_fn event, void *ud);
void rdv_start(rdv *r);
/* Answer every waiting request (RDV_ENOTCONN, "the node is stopping"),
 * say BYE, and free. Accepts NULL. */
void rdv_free(rdv *r);

void rdv_get_status(const rdv *r, rdv_status *st);
/* The certificate when there is one (NULL otherwise); borrowed. */
const cert *rdv_cert(const rdv *r);

/* Requests. Each returns RDV_OK with *out set (the callback will run), or
 * an error (the callback never runs); why (cap bytes) then says it for
 * people. rdv_login wipes password in every case. */
rdv_err rdv_login(rdv *r, const char *user, char *password, rdv_done_fn cb, void *ud, rdv_req **out,
                  char *why, size_t cap);
rdv_err rdv_logout(rdv *r, rdv_done_fn cb, void *ud, rdv_req **out, char *why, size_t cap);
rdv_err rdv_profile_set(rdv *r, rv_field f, const char *value, rdv_done_fn cb, void *ud,
                        rdv_req **out, char *why, size_t cap);
rdv_err rdv_search(rdv *r, const struct rv_search *q, rdv_done_fn cb, void *ud, rdv_req **out,
                   char *why, size_t cap);
rdv_err rdv_contact(rdv *r, rv_op op, const char *user, rdv_done_fn cb, void *ud, rdv_req **out,
                    char *why, size_t cap);
/* p is not RV_P_OFFLINE; text may be "". */
rdv_err rdv_status_set(rdv *r, rv_presence p, const char *text, rdv_done_fn cb, void *ud,
                       rdv_req **out, char *why, size_t cap);
/* One page of the recipients of an organisation broadcast (department ""
 * for everyone); answered with a->rcpt. */
rdv_err rdv_broadcast_to(rdv *r, const char *department, uint32_t page, rdv_done_fn cb, void *ud,
                         rdv_req **out, char *why, size_t cap);
/* Ask the server to connect back to TCP port on this node's address as
 * the server sees it (docs/rendezvous.md 16); answered with a->probe
 * within about 3 s, or RDV_ESERVER with code EAUTH or ERATE (one probe
 * per device per 10 s). RDV_EINVAL for port 0. */
rdv_err rdv_port_probe(rdv *r, uint16_t port, rdv_done_fn cb, void *ud, rdv_req **out, char *why,
                       size_t cap);

/*
 * What the server sends on its own goes to one sink (the roster). session
 * is called with the account name when the connection is ready and
 * logged in, and with NULL when that ends (connection lost, logged out,
 * refused). The other callbacks only run between the two; their
 * arguments are valid during the call. error is an ERROR that answers no
 * request (it concerns a message sent with rdv_send). writable: the
 * connection's queue drained below RDV_SEND_HIGH.
 */
typedef struct rdv_sink {
    void (*session)(void *ud, const char *user);
    void (*contacts)(void *ud, const struct rv_contacts *c);
    void (*presence)(void *ud, const struct rv_status *p);
    void (*stored)(void *ud, const struct rv_stored *s);
    void (*sealed)(void *ud, const struct rv_seal *s);
    void (*error)(void *ud, const char *code, const char *text);
    void (*writable)(void *ud);
} rdv_sink;

void rdv_set_sink(rdv *r, const rdv_sink *sink, void *ud);
/* fn(ud, m) runs for every RV_ICE_SERVERS, RV_ICE_OFFER, RV_ICE_ANSWER
 * and RV_ICE_END while logged in (m is valid during the call). */
void rdv_set_ice_hook(rdv *r, void (*fn)(void *ud, const rvmsg *m), void *ud);
/* Whether the server lists dev among this account's devices connected
 * now (RV_STATUS "devices", docs/rendezvous.md 5.3): 1 listed, 0 not,
 * -1 not known (not logged in, or a server that does not say). */
int rdv_own_online(const rdv *r, const uint8_t dev[static 32]);
/* fn(ud) runs whenever the server said which of the account's devices
 * are connected (rdv_own_online changed, or was said again). */
void rdv_set_own_hook(rdv *r, void (*fn)(void *ud), void *ud);
/* fn(ud) runs whenever a new certificate was accepted (rdv_cert). */
void rdv_set_cert_hook(rdv *r, void (*fn)(void *ud), void *ud);

/* The organisation's policy (docs/rendezvous.md section 11): RV_POLICY,
 * type 0x62, sent by servers to nodes whose HELLO lists "policy" (ours
 * does). One is taken when the pinned server signed it and its serial is
 * higher than the one kept; it is kept in cfg->policy_path and loaded
 * (checked again) at start, so it holds while the server is away. */
#define RDV_POLICY_TYPE 0x62
/* The policy, NULL when none is known; borrowed. */
const policy *rdv_policy(const rdv *r);
/* fn(ud) runs whenever a newer policy was taken. */
void rdv_set_policy_hook(rdv *r, void (*fn)(void *ud), void *ud);
/* fn(ud, pt, len) runs for every RV_ANNOUNCE and RV_REVOKED (annmsg.h;
 * pt is the plaintext, type byte first, valid during the call). Set it
 * before rdv_start: HELLO then lists the feature "announce". */
void rdv_set_org_hook(rdv *r, void (*fn)(void *ud, const uint8_t *pt, size_t len), void *ud);
/* Send a plaintext of another codec (RV_ANNOUNCE_RCPT). As rdv_send. */
BANTER_WUR int rdv_send_raw(rdv *r, const uint8_t *pt, size_t len);
/* Send a message that has no answer of its own (RV_SEAL, RV_DELIVERED).
 * BANTER_ESTATE when not connected and logged in; codec errors; a full
 * queue closes the connection (see rdv_writable). */
BANTER_WUR int rdv_send(rdv *r, const rvmsg *m);
/* Whether rdv_send may be called without growing the queue past its mark. */
bool rdv_writable(const rdv *r);
/* The key the current connection proved (NULL before). */
const uint8_t *rdv_server_key(const rdv *r);

/* The caller no longer wants the answer: its callback will not run. The
 * request itself stays with the server. */
void rdv_req_cancel(rdv_req *q);

/* ---- pure helpers (unit-tested) ---- */

/* The service as typed: "HOST:PORT[,HOST:PORT...]" (IPv6 in brackets), or
 * "srv:NAME" / "_SERVICE._tcp.DOMAIN" for a DNS SRV name, into cfg's
 * targets or srv. BANTER_EINVAL with why (cap bytes) naming the bad part. */
BANTER_WUR int rdv_parse_service(const char *s, rdv_config *cfg, char *why, size_t cap);
/* A fingerprint as typed (digits, with any spaces or dashes, surrounding
 * white space ignored) to its 40 digits. BANTER_EINVAL otherwise. */
BANTER_WUR int rdv_parse_fingerprint(const char *s, char out[static IDENTITY_FP_DIGITS + 1]);
/* 40 digits to "12345 67890 ..." */
void rdv_format_fingerprint(const char *fpd, char out[static IDENTITY_FP_LEN + 1]);
/* Search criteria and profile values as typed: rdv/fields.h. */

#endif
