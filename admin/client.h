/* SPDX-License-Identifier: MIT */
/*
 * client.h - a blocking client of the rendezvous server for short-lived
 * tools (banter-admin): connect, Noise XX as the initiator with the
 * tool's own key, check the server's key against the pinned fingerprint
 * (as nodes do), HELLO both ways, then request/answer round trips of the
 * admin protocol (admmsg.h). Keepalive PINGs from the server are
 * answered while waiting; anything else the server sends is skipped.
 *
 * Every call waits at most the configured timeout for the server; on any
 * failure the connection is dead and why holds a sentence for people.
 */
#ifndef BANTER_ADMIN_CLIENT_H
#define BANTER_ADMIN_CLIENT_H

#include <stddef.h>

#include "admmsg.h"
#include "identity.h"

typedef struct aclient aclient;

typedef struct aclient_config {
    const char *host, *port;
    const identity *id; /* borrowed: the admin key */
    const char *pin;    /* the server's fingerprint (40 digits), NULL: not checked */
    int timeout_ms;
} aclient_config;

/*
 * Connect and complete the handshake and HELLOs. 0 with *out; else
 * BANTER_EIO (cannot resolve or connect), BANTER_ETIMEDOUT,
 * BANTER_EKEYMISMATCH (the server's key is not the pinned one: nothing
 * was sent after the handshake), or the session's error; why says which.
 */
BANTER_WUR int aclient_open(aclient **out, const aclient_config *cfg, char *why, size_t cap);

/*
 * Send rq and wait for its ADM_RESULT (res: free with adm_result_clear).
 * 0; BANTER_EPROTO when the server refused the message with ERROR or
 * ended the connection (why has its words); BANTER_ETIMEDOUT; others.
 */
BANTER_WUR int aclient_request(aclient *c, const adm_request *rq, adm_result *res, char *why,
                               size_t cap);

/* The 40 digits of a fingerprint as typed (groups, spaces, dashes) into
 * out: 0, or BANTER_EINVAL. */
BANTER_WUR int aclient_fp_digits(const char *typed, char out[static IDENTITY_FP_DIGITS + 1]);

/* Say BYE (best effort), close, free. Accepts NULL. */
void aclient_free(aclient *c);

#endif
