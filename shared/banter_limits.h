/* SPDX-License-Identifier: MIT */
/*
 * banter_limits.h - every cap on a length that comes from outside, in one place.
 *
 * Wire sizes follow the Noise specification; the rest are Banter's own
 * choices and are documented in docs/protocol.md. A value read from the
 * network, a file or the control socket is checked against one of these
 * before it is used to size anything.
 */
#ifndef BANTER_BANTER_LIMITS_H
#define BANTER_BANTER_LIMITS_H

/* Noise: a message (handshake or transport) is at most 65535 bytes. */
#define BANTER_NOISE_MAX_MSG     65535u
#define BANTER_NOISE_TAGLEN      16u
/* Largest plaintext one transport message can carry. */
#define BANTER_MAX_PLAINTEXT     (BANTER_NOISE_MAX_MSG - BANTER_NOISE_TAGLEN)
/* Stream framing: 2-byte big-endian length before each Noise message. */
#define BANTER_FRAME_HDR         2u
/* Handshake messages are small; a responder refuses larger ones. */
#define BANTER_MAX_HANDSHAKE_MSG 1024u
/* Largest JSON body of one control or chat message (type byte excluded). */
#define BANTER_MAX_JSON          (BANTER_MAX_PLAINTEXT - 1u)
/* Nesting depth accepted in a JSON message. */
#define BANTER_MAX_JSON_DEPTH    8

/* The largest magnitude of any integer field, in JSON or binary: 2^53, the
 * largest integer a double (and so JavaScript, the web page) holds exactly
 * along with all below it. Each field documents its own range within it;
 * anything outside is refused, never rounded. */
#define BANTER_MAX_INT 9007199254740992ll

/* Message fields (bytes of UTF-8, terminator excluded). */
#define BANTER_MAX_NAME     64u
#define BANTER_MAX_BODY     32768u
#define BANTER_MAX_REASON   256u
#define BANTER_MAX_ERRCODE  32u
#define BANTER_MAX_FEATURES 16u
#define BANTER_MAX_FEATURE  32u

/* RV_BATCH (shared/rvbatch.h): messages in one batch. Its size is bounded
 * by BANTER_MAX_PLAINTEXT like any transport message. */
#define BANTER_MAX_BATCH 64u

/* File transfer: files per offer, bytes of a relative path, largest size
 * (BANTER_MAX_INT). */
#define BANTER_MAX_FILES     256u
#define BANTER_MAX_PATH      1024u
#define BANTER_MAX_FILE_SIZE ((unsigned long long)BANTER_MAX_INT)
#define BANTER_FILE_HASHLEN  32u

/* Bulk data: one file chunk frame carries at most this much payload. */
#define BANTER_CHUNK_HDR 25u /* type + 16-byte transfer id + 8-byte offset */
#define BANTER_MAX_CHUNK (BANTER_MAX_PLAINTEXT - BANTER_CHUNK_HDR)

/* The node's control socket (docs/control.md): one request, and the caps
 * of its arguments (shared/ctlmsg.h). */
#define BANTER_CTL_MAX_LINE     65536u /* bytes of a request line or WebSocket frame */
#define BANTER_CTL_MAX_PEER     128u   /* a "peer": name, "@account" or fingerprint prefix */
#define BANTER_CTL_MAX_PATHS    256u   /* paths of one send_file */
#define BANTER_CTL_MAX_ABS_PATH 4095u  /* bytes of an absolute path ("under 4096") */
#define BANTER_CTL_MAX_WAIT_MS  600000 /* send's "wait" */
#define BANTER_CTL_MAX_HISTORY  100000 /* history's "limit" */
#define BANTER_CTL_MAX_READ_KEY 80u    /* a read mark's key (settings) */
#define BANTER_CTL_MAX_READ_SET 32u    /* read marks in one settings_set */

/* Identity key file: its whole text is far smaller than this. */
#define BANTER_MAX_KEYFILE 512u

/* ICE signaling from a remote device (shared/icecand): credentials (RFC
 * 8445 5.3: ufrag 4..256, pwd 22..256 ice-chars), candidates per
 * description, bytes of one candidate line, of a foundation. */
#define BANTER_ICE_MIN_UFRAG      4u
#define BANTER_ICE_MAX_UFRAG      256u
#define BANTER_ICE_MIN_PWD        22u
#define BANTER_ICE_MAX_PWD        256u
#define BANTER_ICE_MAX_CANDS      32u
#define BANTER_ICE_MAX_LINE       256u
#define BANTER_ICE_MAX_FOUNDATION 32u

/* The rendezvous's PostgreSQL connection (rendezvous/db_pg.h): queries
 * waiting their turn, parameters of one query, channels it listens to,
 * statements in one batch (one transaction), statement texts prepared,
 * reconnection back-off (first delay, cap) in milliseconds. */
#define BANTER_PG_QUEUE_MAX    65536u
#define BANTER_PG_PARAMS_MAX   32u
#define BANTER_PG_CHANNELS_MAX 8u
#define BANTER_PG_BATCH_MAX    4096u
#define BANTER_PG_PREPARED_MAX 64u
#define BANTER_PG_RETRY_MIN_MS 50u
#define BANTER_PG_RETRY_MAX_MS 5000u

/* A node's rendezvous service (shared/failover.h, shared/srvrec.h): the
 * instances it knows (listed or from DNS SRV), and the bytes of a DNS
 * answer it reads. */
#define BANTER_MAX_INSTANCES  16u
#define BANTER_MAX_DNS_ANSWER 4096u

/* Rekey each direction's cipher after this many messages. */
#define BANTER_REKEY_INTERVAL 65536u

/* The SMS gateway's HTTP with Kannel (shared/smshttp.h): one request from
 * smsbox (line and headers), a phone number, the text of one SMS as the
 * gateway relays it (a few concatenated parts), the get-url's shared key. */
#define BANTER_SMS_MAX_REQUEST 8192u
#define BANTER_SMS_MAX_NUMBER  21u
#define BANTER_SMS_MAX_TEXT    1600u
#define BANTER_SMS_MAX_KEY     64u

/* STUN (shared/stun.h): the largest Binding answer read (RFC 5389 asks
 * for answers that fit 576-byte paths; coturn's are under 200 bytes), and
 * the STUN servers one mapping check asks (shared/natmap.h). */
#define BANTER_MAX_STUN_MSG  1280u
#define BANTER_MAX_STUN_DEST 2u

#endif
