/* SPDX-License-Identifier: MIT */
/*
 * session.h - one Banter connection, sans I/O: framing, the Noise XX
 * handshake with identity proofs, and the transport phase with rekeying.
 *
 * The caller moves bytes: what arrives goes to session_feed(); what
 * session_out() shows must be written to the peer, then released with
 * session_out_consume(). The protocol (prologue, handshake payloads,
 * framing, rekey schedule) is specified in docs/protocol.md.
 *
 * Any error returned by session_feed() or session_send() ends the session:
 * the caller closes the connection; later calls return BANTER_ESTATE.
 */
#ifndef BANTER_SESSION_H
#define BANTER_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bcrypto.h"
#include "error.h"
#include "identity.h"
#include "msg.h"
#include "noise.h"

#define SESSION_PROTOCOL        "Noise_XX_25519_ChaChaPoly_BLAKE2b"
#define SESSION_PROLOGUE        "Banter/1 Noise_XX_25519_ChaChaPoly_BLAKE2b"
#define SESSION_VERSION         1
/* Context string the handshake identity signature covers, before h. */
#define SESSION_PROOF_CONTEXT   "banter-identity-v1"
#define SESSION_PROOF_LEN       (BCRYPTO_ED_PKLEN + BCRYPTO_SIGLEN)
/* Default cap on bytes queued for the peer and not yet written. */
#define SESSION_DEFAULT_OUT_CAP (1u << 20)

typedef struct session session;

typedef enum session_ev_type {
    SESSION_EV_ESTABLISHED = 1, /* handshake done; session_peer() is valid */
    SESSION_EV_MESSAGE,         /* a transport plaintext: type byte + body */
} session_ev_type;

typedef struct session_event {
    session_ev_type type;
    const uint8_t *data; /* MESSAGE: plaintext, valid until the next feed */
    size_t len;
} session_event;

typedef struct session_config {
    noise_role role;
    const identity *id;         /* borrowed; must outlive the session */
    banter_rng rng;             /* ephemeral keys */
    const uint8_t *expect_peer; /* Ed25519 key the peer must have, or NULL */
    size_t out_cap;             /* 0: SESSION_DEFAULT_OUT_CAP */
    bool binding;               /* keep the final handshake hash (session_binding) */
    /* A session that carries bulk data (a node's, file transfers): its
     * buffers keep their memory when they drain, so a stream of large
     * messages allocates nothing per message (freeing a 64 KiB buffer
     * after each frame and allocating it again costs page faults).
     * session_trim releases them; the owner calls it when the session
     * goes quiet. Off (a server's many idle sessions): a drained buffer
     * over 4 KiB is freed at once. */
    bool keep_buffers;
} session_config;

/* Create a session. An initiator's first handshake message is queued at
 * once (see session_out). BANTER_EINVAL, BANTER_ENOMEM. */
BANTER_WUR int session_new(session **out, const session_config *cfg);
/* Wipes keys. Accepts NULL. */
void session_free(session *s);

/*
 * The same in memory the caller owns, for a server that keeps the session
 * inside its own record (one allocation, no malloc header: rendezvous/
 * conn.c): session_size() bytes, zeroed, aligned to 8. session_init fills
 * them as session_new would (on failure they are left as session_fini
 * leaves them); session_fini wipes the keys and frees the buffers, not the
 * memory. Never mix with session_new/session_free on one session.
 */
size_t session_size(void);
BANTER_WUR int session_init(session *s, const session_config *cfg);
void session_fini(session *s);

/*
 * Feed received bytes. Returns 1 with *ev filled when an event is ready,
 * 0 when all of in was consumed with no event, or a negative error:
 * BANTER_ETOOBIG (frame length over the phase's cap), BANTER_ETRUNCATED
 * (frame too short for its content), BANTER_EBADTAG, BANTER_EDH,
 * BANTER_EUNSUPPORTED (peer's protocol version), BANTER_EIDENTITY (bad
 * identity proof), BANTER_EKEYMISMATCH (not the expected peer),
 * BANTER_EPROTO, BANTER_ENONCE, BANTER_ENOMEM, BANTER_ESTATE (dead session).
 * *used is how much of in was consumed; call again with the rest (also with
 * len 0 after an event, to drain what is buffered).
 */
BANTER_WUR int session_feed(session *s, const uint8_t *in, size_t len, size_t *used,
                            session_event *ev);

/* The stream ended: 0 when it ended between frames, else BANTER_ETRUNCATED. */
BANTER_WUR int session_finish(const session *s);

/* Encrypt and queue one plaintext (type byte + body, 1..65519 bytes).
 * BANTER_ESTATE before the handshake is done or after an error,
 * BANTER_ETOOBIG (too long, or the output queue is full: write out first),
 * BANTER_ENONCE, BANTER_ENOMEM, BANTER_EINVAL (empty). */
BANTER_WUR int session_send(session *s, const uint8_t *pt, size_t len);
/* Encode m with msg_encode and send it. */
BANTER_WUR int session_send_msg(session *s, const msg *m);

/* Bytes waiting to be written to the peer (NULL, 0 when none). */
const uint8_t *session_out(const session *s, size_t *len);
void session_out_consume(session *s, size_t n);

/* After a MESSAGE event, before the next session_feed: the memory that
 * holds the event's data, for the caller to keep (the data stays where it
 * is; free() it, or hand it on), and *cap its size; the session goes on
 * with spare (spare_len bytes from malloc, or NULL) for the plaintexts
 * that follow. So a receiver that passes a large plaintext to another
 * thread (a file's data) need not copy it. NULL when no plaintext is held;
 * spare is then not taken. */
uint8_t *session_take_plaintext(session *s, uint8_t *spare, size_t spare_len, size_t *cap);

/* Release what the session's buffers hold allocated but unused: the
 * output queue when it is empty, and the last received plaintext (the
 * data of the last event, which the caller must no longer use), and the
 * frame decoder's buffer between frames. For a
 * server holding many mostly idle sessions, and for a session made with
 * keep_buffers once it goes quiet: an idle session is then its struct
 * alone; the buffers are allocated again when next needed. */
void session_trim(session *s);

/* Bytes the session's buffers hold allocated (what session_trim may
 * release, and what it keeps: a queue not yet sent, a partial frame). */
size_t session_held(const session *s);

/* After the handshake: the largest transport frame accepted from now on
 * (from the next frame header; 17..65535, larger is taken as 65535). A
 * caller that expects only small messages for a while (before a
 * greeting) keeps what a stranger can make it buffer small. */
void session_set_rx_max(session *s, size_t max);

bool session_established(const session *s);
/* The peer's Ed25519 key once established, else NULL. */
const uint8_t *session_peer(const session *s);
/* The final handshake hash (channel binding) once established, on a
 * session made with cfg->binding (64 bytes more, allocated at the end of
 * the handshake): 0, or BANTER_ESTATE (not established, or not kept). */
BANTER_WUR int session_binding(const session *s, uint8_t h[static NOISE_HASHLEN]);

#endif
