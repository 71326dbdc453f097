/* SPDX-License-Identifier: MIT */
/*
 * pwcheck.h - password verification (Argon2id, bcrypto_pwhash_verify) in
 * libuv's thread pool, never on the event loop.
 *
 * At most `running` verifications run at once server-wide (each takes about
 * 64 MiB and 0.1 s of a core); further requests wait in a FIFO of at most
 * `waiting`, beyond which pwcheck_submit refuses them. The password is
 * copied into the request and wiped as soon as it has been hashed (or the
 * request is cancelled or dropped).
 *
 * Lifetimes: the owner of a request may go away at any time; it then calls
 * pwcheck_cancel() and its callback is never called. A cancelled request
 * that is already in a worker thread is freed by the pool's after-work
 * callback, which touches nothing of the owner's.
 */
#ifndef BANTER_RDV_PWCHECK_H
#define BANTER_RDV_PWCHECK_H

#include <stddef.h>
#include <uv.h>

#include "error.h"

typedef struct pwcheck pwcheck;
typedef struct pwcheck_req pwcheck_req;

/* Called on the loop thread with 0 (the password matches the hash) or
 * BANTER_EIDENTITY (it does not, or the hash is not a valid one). The
 * request is gone when this runs. */
typedef void (*pwcheck_done_fn)(void *owner, int result);

/* NULL when out of memory. */
pwcheck *pwcheck_new(uv_loop_t *loop, unsigned running, unsigned waiting);
/* Only once no request is running (after uv_run returned). Accepts NULL. */
void pwcheck_free(pwcheck *q);

/*
 * Verify pw (len bytes) against hash (a bcrypto_pwhash_str string) and call
 * fn(owner, result) later. *req (may be NULL) receives the request, for
 * pwcheck_cancel. 0, 1 when the queue is full (nothing queued; fn never
 * called), BANTER_EINVAL (hash or password too long), BANTER_ENOMEM.
 */
BANTER_WUR int pwcheck_submit(pwcheck *q, const char *hash, const char *pw, size_t len,
                              pwcheck_done_fn fn, void *owner, pwcheck_req **req);
/* The owner is gone: fn will not be called. */
void pwcheck_cancel(pwcheck_req *r);

/* Requests running and waiting (for logs and tests). */
unsigned pwcheck_running(const pwcheck *q);
unsigned pwcheck_waiting(const pwcheck *q);

/*
 * A valid Argon2id hash (of a password nobody knows) at the same cost as
 * bcrypto_pwhash_str(): verifying against it takes as long as a real check,
 * so an unknown account answers as slowly as a wrong password.
 */
const char *pwcheck_dummy_hash(void);

#endif
