/* SPDX-License-Identifier: MIT */
/*
 * plugmsg.h - the codec between the node (or server) and a plug-in host
 * process (banter-plugin-host), over a Unix socket pair (docs/plugins.md,
 * "The host protocol").
 *
 * A frame is a 4-byte big-endian length n (1..PLUG_MAX_FRAME) and n bytes:
 * a type byte and the type's fields in order. Integers are big-endian;
 * a string is a 2-byte length and that many bytes of UTF-8 with no NUL
 * and no control character other than tab and newline, each under a cap
 * of its own (PLUG_MAX_*). A frame must be used up exactly. Types 0x01..
 * 0x3f go from the host to the node, 0x40..0x7f from the node to the host;
 * a decoder is told which side it is and refuses the other side's types,
 * so a plug-in cannot forge what only the node may say.
 *
 * What the host sends is as untrusted as a peer's bytes: the node closes
 * the socket (and kills the host) on any decode error. Pure code: no I/O.
 */
#ifndef BANTER_PLUGMSG_H
#define BANTER_PLUGMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banter_limits.h"
#include "buf.h"
#include "error.h"

#define PLUG_HDR         4u
#define PLUG_MAX_FRAME   (BANTER_MAX_BODY + 1024u) /* a SEND or EVENT with a whole message */
#define PLUG_MAX_NAME    64u                       /* a plug-in's name and version */
#define PLUG_MAX_LINE    1024u /* a log line, a description, a reason, a config value */
#define PLUG_MAX_CONTACT 128u  /* a contact as `banter send` takes it */
#define PLUG_MAX_ID      32u   /* a message id in hex */
/* (a contact handle "#" + 64 hex digits fits PLUG_MAX_CONTACT) */
#define PLUG_MAX_KEY     64u /* a configuration key (after "plugin.NAME.") */
#define PLUG_MAX_CONF    64u /* configuration pairs in one CONFIG */
#define PLUG_MAX_LEVEL   3u  /* BANTER_LOG_DEBUG */
#define PLUG_MAX_KIND    7u  /* BANTER_EV_STORED */

typedef enum plug_type {
    /* host -> node */
    PLUG_HELLO = 0x01,     /* major, minor, name, version, text (description) */
    PLUG_LOG = 0x02,       /* level, text */
    PLUG_SEND = 0x03,      /* num (request), contact, text */
    PLUG_SUBSCRIBE = 0x04, /* mask (the union of the plug-in's subscriptions, bits 0..7) */
    PLUG_PONG = 0x05,      /* num (the PING's) */
    PLUG_STOP = 0x06,      /* text: the plug-in asked to stop */
    PLUG_FAIL = 0x07,      /* text: the host could not load or start the plug-in */
    /* node -> host */
    PLUG_CONFIG = 0x41, /* nconf pairs: the plug-in's keys and values */
    PLUG_EVENT = 0x42,  /* kind, contact ("#" and its key in hex), name (its label), text, id */
    PLUG_SEND_RESULT = 0x43, /* num (request), status, text */
    PLUG_PING = 0x44,        /* num: answer with PONG */
    PLUG_QUIT = 0x45,        /* stop cleanly (fini, exit 0) */
} plug_type;

typedef enum plug_side {
    PLUG_FROM_HOST, /* the node decodes what a host sends */
    PLUG_FROM_NODE, /* the host decodes what the node sends */
} plug_side;

/* One message. Strings are NUL-terminated; after plugmsg_decode they live
 * in memory the message owns (plugmsg_clear frees it); for plugmsg_encode
 * they are the caller's (NULL is written as ""). */
typedef struct plugmsg {
    plug_type type;
    uint16_t major, minor; /* HELLO */
    uint8_t level;         /* LOG: 0..PLUG_MAX_LEVEL */
    uint8_t kind;          /* EVENT: 0..PLUG_MAX_KIND */
    uint32_t mask;         /* SUBSCRIBE */
    uint64_t num;          /* SEND, SEND_RESULT: the request; PING, PONG: a sequence */
    uint16_t status;       /* SEND_RESULT: 0, or a negated BANTER_E* code */
    const char *name, *version, *contact, *text, *id;
    size_t nconf;
    const char *key[PLUG_MAX_CONF], *value[PLUG_MAX_CONF];
    char *mem; /* private: what decode allocated */
} plugmsg;

/* From the front of n buffered bytes: 0 with *len = 0 when the frame's
 * header or body is not all there yet, 0 with *len = the whole frame's
 * length (header included) when it is, BANTER_ETOOBIG when the length is
 * 0 or over PLUG_MAX_FRAME (the stream is broken: close it). */
BANTER_WUR int plugmsg_frame(const uint8_t *p, size_t n, size_t *len);

/* Decode one frame's body (the bytes after the length) sent by the other
 * side. On success the caller calls plugmsg_clear. Errors: BANTER_EBADTYPE
 * (unknown, or the wrong side's type), BANTER_ETRUNCATED,
 * BANTER_ETRAILING, BANTER_ETOOLONG (a string over its cap),
 * BANTER_EUTF8 (bad UTF-8, a NUL or control byte), BANTER_EINVAL (a
 * number out of range, an empty name or key, a repeated key),
 * BANTER_ENOMEM. On failure m needs no clear. */
BANTER_WUR int plugmsg_decode(plugmsg *m, const uint8_t *p, size_t n, plug_side from);

/* Append m as one whole frame (header included). What decode would refuse
 * is refused with its code and nothing is appended; BANTER_ETOOBIG past
 * out's cap. */
BANTER_WUR int plugmsg_encode(const plugmsg *m, buf *out);

/* Free what decode allocated. Accepts a zeroed message. */
void plugmsg_clear(plugmsg *m);

#endif
