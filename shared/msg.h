/* SPDX-License-Identifier: MIT */
/*
 * msg.h - the codec for the plaintext of Banter transport messages.
 *
 * A plaintext is one type byte and a body. Types 0x01-0x3f carry a JSON
 * object checked against a strict schema (required fields, types, maximum
 * lengths, UTF-8); types 0x40-0x7f carry binary bodies (keepalives, file
 * data: never base64). The schemas are in docs/protocol.md. JSON stays
 * inside this module: callers see typed structs.
 */
#ifndef BANTER_MSG_H
#define BANTER_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "banter_limits.h"

struct gstate; /* shared/gstate.h */

#define MSG_ID_LEN           16
#define MSG_JSON_FIRST       0x01
#define MSG_JSON_LAST        0x3f
#define MSG_BIN_FIRST        0x40
#define MSG_BIN_LAST         0x7f
/* CHAT "to": "@" and an account name (1..64 of [a-z0-9._-]), or a device
 * key in 64 lowercase hex digits (docs/protocol.md, CHAT). */
#define MSG_TO_MAX           65
/* GROUP_MSG "g": a sender-key message (shared/gkey.h) of at most this
 * many bytes, so that its base64 fits a JSON body. */
#define MSG_GROUP_SEALED_MAX ((BANTER_MAX_JSON - 64u) / 4u * 3u)
/* A sender-key distribution (shared/gkey.h GKEY_DIST_LEN). */
#define MSG_GROUP_DIST_LEN   121u

typedef enum msg_type {
    MSG_HELLO = 0x01,        /* JSON: first message each side sends */
    MSG_CHAT = 0x02,         /* JSON: a chat or broadcast message */
    MSG_ACK = 0x03,          /* JSON: receipt of a chat message */
    MSG_BYE = 0x04,          /* JSON: orderly close */
    MSG_FILE_OFFER = 0x10,   /* JSON: files offered (names, sizes, hashes) */
    MSG_FILE_ACCEPT = 0x11,  /* JSON: accepted; send from this offset */
    MSG_FILE_DECLINE = 0x12, /* JSON: the receiver said no */
    MSG_FILE_CANCEL = 0x13,  /* JSON: either side stops the transfer */
    MSG_FILE_RESULT = 0x14,  /* JSON: one file verified (or not) */
    MSG_GROUP_STATE = 0x18,  /* JSON: a group's whole state (shared/gstate.h) */
    MSG_GROUP_KEY = 0x19,    /* JSON: a sender-key distribution, pairwise only */
    MSG_GROUP_MSG = 0x1a,    /* JSON: a group message sealed with a sender key */
    MSG_GROUP_TEXT = 0x1b,   /* JSON: the plaintext inside a GROUP_MSG, never alone */
    MSG_ERROR = 0x3f,        /* JSON: the peer refused something */
    MSG_PING = 0x40,         /* binary: keepalive, 8-byte token */
    MSG_PONG = 0x41,         /* binary: answer, the same token */
    MSG_CHUNK = 0x42,        /* binary: file data */
    MSG_FILE_MARK = 0x50,    /* binary: sender asks to hear when data is stored */
    MSG_FILE_STORED = 0x51,  /* binary: receiver has stored the data before offset */
} msg_type;

/* The types a file transfer owns (peer/core/xfer.h): a node hands these to
 * its transfer engine. */
static inline bool msg_is_file(msg_type t)
{
    return (t >= MSG_FILE_OFFER && t <= MSG_FILE_RESULT) || t == MSG_CHUNK || t == MSG_FILE_MARK ||
           t == MSG_FILE_STORED;
}

struct msg_hello {
    uint32_t version;
    char name[BANTER_MAX_NAME + 1];
    size_t nfeatures;
    char features[BANTER_MAX_FEATURES][BANTER_MAX_FEATURE + 1];
};

struct msg_chat {
    uint8_t id[MSG_ID_LEN];
    int64_t ts_ms; /* sender's clock, milliseconds since the epoch */
    char *body;    /* NUL-terminated UTF-8; owned by the msg */
    size_t body_len;
    bool broadcast;
    /* A copy of a message the sender sent from another device of its own
     * account ("" when not): the conversation it belongs to. */
    char to[MSG_TO_MAX + 1];
};

struct msg_ack {
    uint8_t id[MSG_ID_LEN];
};

struct msg_bye {
    char reason[BANTER_MAX_REASON + 1];
};

struct msg_error {
    char code[BANTER_MAX_ERRCODE + 1];
    char message[BANTER_MAX_REASON + 1];
    bool has_id;            /* the refusal names the message it refuses */
    uint8_t id[MSG_ID_LEN]; /* a CHAT's id (or an offer's), when has_id */
};

struct msg_file {
    char *name; /* relative path, UTF-8; owned by the msg */
    uint64_t size;
    uint8_t hash[BANTER_FILE_HASHLEN]; /* BLAKE2b-256 of the content */
};

struct msg_offer {
    uint8_t id[MSG_ID_LEN]; /* the transfer id */
    int64_t ts_ms;
    size_t nfiles;          /* 1..BANTER_MAX_FILES */
    struct msg_file *files; /* owned by the msg */
};

struct msg_accept {
    uint8_t id[MSG_ID_LEN];
    uint64_t offset; /* bytes of the concatenated files already verified */
    uint64_t window; /* 0: absent; else the receiver answers FILE_MARK (1..2^53) */
};

struct msg_file_end { /* DECLINE and CANCEL */
    uint8_t id[MSG_ID_LEN];
    char reason[BANTER_MAX_REASON + 1];
};

struct msg_result {
    uint8_t id[MSG_ID_LEN];
    uint32_t file; /* index in the offer */
    bool ok;
    char error[BANTER_MAX_REASON + 1];
};

/* GROUP_STATE: a message id (for ACK) and the state, decoded and checked
 * alone (gstate_decode). */
struct msg_gstate {
    uint8_t id[MSG_ID_LEN];
    struct gstate *st; /* owned by the msg */
};

/* GROUP_KEY: a message id (for ACK) and a distribution, exactly
 * MSG_GROUP_DIST_LEN bytes (its fields are checked by gkey_dist_decode). */
struct msg_gkey {
    uint8_t id[MSG_ID_LEN];
    uint8_t dist[MSG_GROUP_DIST_LEN];
};

/* GROUP_MSG: the message id (for ACK; it must equal the id inside) and
 * the sealed message. */
struct msg_gmsg {
    uint8_t id[MSG_ID_LEN];
    uint8_t *sealed; /* owned by the msg */
    size_t len;      /* 1..MSG_GROUP_SEALED_MAX */
};

/* GROUP_TEXT: what a group message says. */
struct msg_gtext {
    uint8_t id[MSG_ID_LEN];
    int64_t ts_ms;
    int64_t lc; /* the Lamport clock, 0..2^53 */
    char *body; /* NUL-terminated UTF-8; owned by the msg */
    size_t body_len;
};

struct msg_ping {
    uint64_t token;
};

struct msg_mark { /* FILE_MARK and FILE_STORED */
    uint8_t id[MSG_ID_LEN];
    uint64_t offset; /* 0..2^53, in bytes of the files concatenated */
};

struct msg_chunk {
    uint8_t transfer[MSG_ID_LEN];
    uint64_t offset;
    const uint8_t *data; /* borrowed from the decoded plaintext */
    size_t len;
};

typedef struct msg {
    msg_type type;
    union {
        struct msg_hello hello;
        struct msg_chat chat;
        struct msg_ack ack;
        struct msg_bye bye;
        struct msg_error error;
        struct msg_offer offer;
        struct msg_accept accept;
        struct msg_file_end end; /* FILE_DECLINE and FILE_CANCEL */
        struct msg_result result;
        struct msg_ping ping; /* PING and PONG */
        struct msg_chunk chunk;
        struct msg_mark mark; /* FILE_MARK and FILE_STORED */
        struct msg_gstate gstate;
        struct msg_gkey gkey;
        struct msg_gmsg gmsg;
        struct msg_gtext gtext;
    } u;
} msg;

/*
 * Decode one plaintext into m. Errors, each distinct:
 *   BANTER_ETRUNCATED  empty input, or a binary body shorter than its fields
 *   BANTER_EBADTYPE    type byte unknown
 *   BANTER_ETOOBIG     JSON body over BANTER_MAX_JSON
 *   BANTER_EUTF8       body (or a string in it) is not valid UTF-8
 *   BANTER_EJSON       not well-formed JSON, nested too deep, or \u0000
 *   BANTER_ESCHEMA     not an object, a required field missing, a wrong type,
 *                      a bad value or a duplicate key
 *   BANTER_ETOOLONG    a string longer than its maximum
 *   BANTER_ETRAILING   a binary body longer than its fields
 *   BANTER_ENOMEM
 * On success the caller calls msg_clear(m). On failure m needs no clearing
 * (it is zeroed). A CHUNK's data points into pt. On success a binary type
 * (PING, PONG, CHUNK, FILE_MARK, FILE_STORED) sets m->type and its own
 * member of m->u, and leaves the rest of m->u as it was (a JSON type
 * zeroes all of m first).
 */
BANTER_WUR int msg_decode(msg *m, const uint8_t *pt, size_t len);

/* Append the encoding of m to out. The same schema is enforced, so nothing
 * is sent that a peer would refuse: BANTER_ESCHEMA, BANTER_ETOOLONG,
 * BANTER_EUTF8, BANTER_EBADTYPE, BANTER_ETOOBIG (out's cap), BANTER_ENOMEM. */
BANTER_WUR int msg_encode(const msg *m, buf *out);

/* Free what a decoded msg owns; m is zeroed (for a binary type: its type
 * and its own member, all that msg_decode wrote). Accepts a zeroed msg. */
void msg_clear(msg *m);

/* A CHAT with a copy of body (len bytes), no "to" (set u.chat.to after, a
 * value msg_chat_to_valid accepts). BANTER_ENOMEM, BANTER_ETOOLONG. */
BANTER_WUR int msg_chat_init(msg *m, const uint8_t id[static MSG_ID_LEN], int64_t ts_ms,
                             const char *body, size_t len, bool broadcast);
/* Whether s is a CHAT "to" value: "@ACCOUNT" or 64 lowercase hex digits. */
bool msg_chat_to_valid(const char *s);

/* A GROUP_STATE with a copy of st. BANTER_ENOMEM. */
BANTER_WUR int msg_gstate_init(msg *m, const uint8_t id[static MSG_ID_LEN],
                               const struct gstate *st);
/* A GROUP_MSG with a copy of len bytes of sealed. BANTER_ENOMEM,
 * BANTER_ETOOBIG (over MSG_GROUP_SEALED_MAX), BANTER_EINVAL (empty). */
BANTER_WUR int msg_gmsg_init(msg *m, const uint8_t id[static MSG_ID_LEN], const uint8_t *sealed,
                             size_t len);
/* A GROUP_TEXT with a copy of body. BANTER_ENOMEM, BANTER_ETOOLONG. */
BANTER_WUR int msg_gtext_init(msg *m, const uint8_t id[static MSG_ID_LEN], int64_t ts_ms,
                              int64_t lc, const char *body, size_t len);

/* A FILE_OFFER with room for n files (names NULL, to be set with
 * msg_offer_set_name). BANTER_ENOMEM, BANTER_EINVAL (n out of range). */
BANTER_WUR int msg_offer_init(msg *m, const uint8_t id[static MSG_ID_LEN], int64_t ts_ms, size_t n);
/* Copy name into file i of an offer. BANTER_ENOMEM, BANTER_ETOOLONG. */
BANTER_WUR int msg_offer_set_name(msg *m, size_t i, const char *name);

/* Lowercase hex of a message id, and back (exactly 32 lowercase digits). */
void msg_id_to_hex(const uint8_t id[static MSG_ID_LEN], char out[static 2 * MSG_ID_LEN + 1]);
BANTER_WUR int msg_id_from_hex(uint8_t id[static MSG_ID_LEN], const char *hex);

const char *msg_type_name(int type);

#endif
