/* SPDX-License-Identifier: MIT */
/*
 * annmsg.h - organisation announcements and the revocation list between
 * the rendezvous server and a node (docs/rendezvous.md sections 13-14):
 *
 *   RV_ANNOUNCE      (0x63, server -> node, JSON)
 *       {"id": 1.., "ts": ms, "department": "", "text": "..."}
 *   RV_ANNOUNCE_RCPT (0x64, node -> server, JSON)
 *       {"id": 1.., "read": false}      the device has it
 *       {"id": 1.., "read": true}       it was shown to its user
 *   RV_REVOKED       (0x65, server -> node, binary, signed)
 *       01 | server key (32) | issued ms (8, BE) | count (2, BE) |
 *       count device keys (32 each) | signature (64)
 *     The Ed25519 signature by the server key covers "banter-revoked-v1"
 *     || all bytes before it. The list holds the device keys revoked
 *     recently enough that a certificate issued to them may still be
 *     valid (certificates live AUTH_CERT_TTL_MS); a node keeps the newest
 *     list (by issued ms) and trusts no certificate of a key on it.
 *
 * JSON with the strictness of msg.h (jsonv: every member known, none
 * twice, exact integers). Pure functions, no I/O.
 */
#ifndef BANTER_ANNMSG_H
#define BANTER_ANNMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "identity.h"

#define RV_ANNOUNCE      0x63
#define RV_ANNOUNCE_RCPT 0x64
#define RV_REVOKED       0x65

#define ANN_FEATURE      "announce" /* HELLO feature: the node takes RV_ANNOUNCE and RV_REVOKED */
#define ANN_MAX_TEXT     4096u      /* bytes of an announcement's text */
#define ANN_MAX_DEPT     64u        /* bytes of a department */
#define REVLIST_VERSION  1
#define REVLIST_MAX_KEYS 512u /* keys in one list */
#define REVLIST_HEAD     (1 + 32 + 8 + 2)
#define REVLIST_LEN(n)   (REVLIST_HEAD + 32u * (size_t)(n) + 64u)
#define REVLIST_LEN_MAX  REVLIST_LEN(REVLIST_MAX_KEYS)

typedef struct ann_msg {
    int64_t id;                        /* 1..2^53 */
    int64_t ts_ms;                     /* 0..2^53 */
    char department[ANN_MAX_DEPT + 1]; /* "" = everyone */
    char text[ANN_MAX_TEXT + 1];       /* 1..ANN_MAX_TEXT bytes, UTF-8, tabs and newlines allowed */
} ann_msg;

typedef struct ann_rcpt {
    int64_t id;
    bool read;
} ann_rcpt;

/* Whether type is one of this module's. */
bool annmsg_owns(int type);

/* Append type byte + JSON to out. BANTER_ESCHEMA (a field out of its
 * rules), BANTER_ETOOBIG, BANTER_ENOMEM. */
BANTER_WUR int ann_encode(const ann_msg *m, buf *out);
/* Decode a plaintext (type byte first). BANTER_EBADTYPE, BANTER_ETRUNCATED,
 * the jsonv errors, BANTER_ESCHEMA. *m is zeroed on failure. */
BANTER_WUR int ann_decode(ann_msg *m, const uint8_t *pt, size_t len);
BANTER_WUR int ann_rcpt_encode(const ann_rcpt *r, buf *out);
BANTER_WUR int ann_rcpt_decode(ann_rcpt *r, const uint8_t *pt, size_t len);

typedef struct revlist {
    uint8_t server[32];
    int64_t issued_ms;
    size_t n;
    uint8_t keys[REVLIST_MAX_KEYS][32];
    uint8_t sig[64];
} revlist;

/* Sign l (keys and issued_ms set by the caller) with server. BANTER_EINVAL
 * (n over the cap, issued_ms outside 0..2^53). */
BANTER_WUR int revlist_sign(revlist *l, const identity *server);
/* Serialise into out (REVLIST_LEN(l->n) bytes); returns that length. */
size_t revlist_encode(const revlist *l, uint8_t *out, size_t cap);
/* Parse (no type byte) and check the signature against the key inside.
 * BANTER_ETRUNCATED, BANTER_ETRAILING, BANTER_EUNSUPPORTED, BANTER_ESCHEMA,
 * BANTER_EIDENTITY. */
BANTER_WUR int revlist_decode(revlist *l, const uint8_t *in, size_t len);
/* Whether key is on the list. */
bool revlist_has(const revlist *l, const uint8_t key[static 32]);

#endif
