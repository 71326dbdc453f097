/* SPDX-License-Identifier: MIT */
/*
 * xlmsg.h - the messages of a link between two rendezvous instances of
 * one service (docs/rendezvous.md section 8.3, "Instance links"). A link
 * is a session (session.h) between the two instance keys; each plaintext
 * is one of these, or an RV_BATCH (rvbatch.h) of them:
 *   XL_CERT 01 | certificate     the sender's instance certificate
 *                                (icert.h), empty when the key it proved is
 *                                the organisation key itself; first message
 *                                each way, and only then
 *   XL_DEV  02 | op (1) | key (32) * n   devices connected to the sender
 *                                (op 1) or no longer (op 2), 1..XL_DEV_MAX
 *   XL_FWD  03 | tag (8) | id (16) | flags (1) | created_ms (8) |
 *           to_len (1) | to_user | to_device (32) | from_len (1) |
 *           from_user | from_device (32) | sealed (1..)
 *                                a sealed copy for a device the receiver
 *                                holds; names 1..64 bytes; the RV_SEALED it
 *                                makes must fit one transport message
 *   XL_ANS  04 | tag (8) | fate (1) | err_len (1) | error
 *                                what became of the XL_FWD with that tag:
 *                                fate as rv_fate (0 stored, 1 delivered,
 *                                2 refused); error 1..32 bytes of A-Z0-9
 *                                exactly when refused
 * Integers are big-endian; created_ms is in 0..2^53. Every decoder uses the
 * bytes up exactly. Pure code, no I/O: the caller gives the time.
 */
#ifndef BANTER_XLMSG_H
#define BANTER_XLMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banter_limits.h"
#include "error.h"

enum { XL_CERT = 0x01, XL_DEV = 0x02, XL_FWD = 0x03, XL_ANS = 0x04 };
enum { XL_DEV_UP = 1, XL_DEV_DOWN = 2 };

#define XL_KEY_LEN      32u
#define XL_ID_LEN       16u
#define XL_DEV_MAX      2000u /* keys in one XL_DEV */
#define XL_ERR_MAX      32u
#define XL_FATE_MAX     2u /* RV_STORED_REFUSED */
/* XL_FWD without names and sealed bytes. */
#define XL_FWD_FIXED    (1u + 8u + XL_ID_LEN + 1u + 8u + 1u + XL_KEY_LEN + 1u + XL_KEY_LEN)
/* The RV_SEALED a copy becomes without the sender's name and the sealed
 * bytes (rvmsg.h): type, id, flags, created_ms, from_len, from_device. */
#define XL_SEALED_FIXED (1u + XL_ID_LEN + 1u + 8u + 1u + XL_KEY_LEN)

/* The largest transport frame a side takes before it accepted the peer's
 * certificate: XL_CERT with the largest certificate (icert.h) and the
 * AEAD tag. XL_CERT goes alone in its transport message. */
#define XL_PRE_RX_MAX (1u + (1u + 32u + 32u + 8u + 8u + 1u + BANTER_MAX_NAME + 64u) + 16u)

typedef struct xl_fwd {
    uint64_t tag; /* the sender's, echoed in XL_ANS */
    uint8_t id[XL_ID_LEN];
    uint8_t flags;
    int64_t created_ms;
    char to_user[BANTER_MAX_NAME + 1];
    uint8_t to_device[XL_KEY_LEN];
    char from_user[BANTER_MAX_NAME + 1];
    uint8_t from_device[XL_KEY_LEN];
    const uint8_t *sealed; /* borrowed: into the decoded bytes, or the encoder's input */
    size_t sealed_len;
} xl_fwd;

typedef struct xl_ans {
    uint64_t tag;
    uint8_t fate;               /* rv_fate */
    char error[XL_ERR_MAX + 1]; /* "" unless refused */
} xl_ans;

typedef struct xlmsg {
    uint8_t type;
    union {
        struct {
            const uint8_t *cert; /* borrowed; NULL when len is 0 */
            size_t len;
        } cert;
        struct {
            uint8_t op;
            size_t n;
            const uint8_t *keys; /* borrowed: n keys of 32 bytes */
        } dev;
        xl_fwd fwd;
        xl_ans ans;
    } u;
} xlmsg;

/* Decode one link message (not an RV_BATCH). 0, or BANTER_EBADTYPE (an
 * unknown type), BANTER_ETRUNCATED, BANTER_ETRAILING, BANTER_ESCHEMA (a
 * value out of its range: op, n, a name, created_ms, fate, the error), or
 * BANTER_ETOOBIG (the RV_SEALED would not fit one transport message).
 * Pointers in m point into in. */
BANTER_WUR int xlmsg_decode(xlmsg *m, const uint8_t *in, size_t len);

/* Encode m into out (cap bytes); *len gets the size. The same checks as
 * the decoder (BANTER_ESCHEMA, BANTER_ETOOBIG for a copy too large for a
 * link), and BANTER_ETOOBIG when cap is short. */
BANTER_WUR int xlmsg_encode(const xlmsg *m, uint8_t *out, size_t cap, size_t *len);

/*
 * The peer of a link proved key (the handshake) and sent cert (its
 * XL_CERT's bytes): is it an instance of the organisation org at now_ms?
 * 0 with the instance's name in name (the certificate's, or "main" for the
 * organisation key itself with an empty certificate); BANTER_EIDENTITY
 * (no certificate from a key that is not the organisation's, or a
 * malformed or badly signed one), BANTER_EKEYMISMATCH (another
 * organisation, or a certificate for another key), BANTER_ETIMEDOUT
 * (expired, not yet valid).
 */
BANTER_WUR int xlmsg_peer_check(const uint8_t *cert, size_t len, const uint8_t org[static 32],
                                const uint8_t key[static 32], int64_t now_ms,
                                char name[static BANTER_MAX_NAME + 1]);

#endif
