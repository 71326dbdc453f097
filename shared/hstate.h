/* SPDX-License-Identifier: MIT */
/*
 * hstate.h - checkpoints of a received file's hash, kept beside its partial
 * file (docs/protocol.md section 7.2), so a transfer resumed after a restart
 * goes on hashing where it stopped instead of reading the file again.
 *
 * A checkpoint file is a HSTATE_HDR_LEN-byte header followed by
 * HSTATE_REC_LEN-byte records, appended as the file grows. Each record says
 * how many bytes of the file it covers, the BLAKE2b-256 digest of those
 * bytes, the hash state to go on from, and, when it is *sealed*, which
 * file it describes (device, inode, change time) after that file was synced
 * and before anything wrote to it again. A record is authenticated with
 * HMAC-BLAKE2b under the transfer's secret, bound to the transfer id and the
 * file's index, so a record cannot be forged, moved to another file or
 * replayed into another transfer by someone who can write the folder but
 * not the node's home.
 *
 * Pure code: the caller reads and writes the bytes.
 */
#ifndef BANTER_HSTATE_H
#define BANTER_HSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banter_limits.h"
#include "bcrypto.h"
#include "error.h"

#define HSTATE_HDR_LEN 16
#define HSTATE_MACLEN  32
#define HSTATE_REC_LEN                                                                             \
    (8 + 4 + 8 + 8 + 8 + 4 + BANTER_FILE_HASHLEN + BCRYPTO_HASH_STATE_LEN + HSTATE_MACLEN)

typedef struct hstate_rec {
    uint64_t covered;  /* bytes of the file hashed, from its start */
    bool sealed;       /* the partial file was synced at `covered` bytes and is... */
    uint64_t dev, ino; /* ...this file, */
    int64_t ctime_s;   /* ...last changed at this time (st_ctim) */
    uint32_t ctime_ns; /* 0..999999999 */
    uint8_t digest[BANTER_FILE_HASHLEN];   /* BLAKE2b-256 of the covered bytes */
    uint8_t state[BCRYPTO_HASH_STATE_LEN]; /* bcrypto_hash_export() after them */
} hstate_rec;

/* What a record is bound to. */
typedef struct hstate_key {
    uint8_t secret[32]; /* the transfer's secret (never leaves the node's home) */
    uint8_t id[16];     /* the transfer id */
    uint32_t file;      /* the file's index in the offer */
} hstate_key;

/* The header every checkpoint file starts with. */
void hstate_header(uint8_t out[static HSTATE_HDR_LEN]);
/* 0 when in starts with the header; BANTER_ETRUNCATED (shorter),
 * BANTER_EUNSUPPORTED (another format or version). */
BANTER_WUR int hstate_check_header(const uint8_t *in, size_t len);

/* Encode r, authenticated under k. */
void hstate_encode(const hstate_rec *r, const hstate_key *k, uint8_t out[static HSTATE_REC_LEN]);
/* Decode exactly one record (len must be HSTATE_REC_LEN): 0, or
 * BANTER_ETRUNCATED / BANTER_ETRAILING (wrong length), BANTER_EBADTAG (not
 * authentic under k), BANTER_ESCHEMA (unknown flags, ctime_ns out of range,
 * covered over 2^53). r is zeroed on failure. */
BANTER_WUR int hstate_decode(hstate_rec *r, const hstate_key *k, const uint8_t *in, size_t len);

#endif
