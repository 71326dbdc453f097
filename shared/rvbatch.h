/* SPDX-License-Identifier: MIT */
/*
 * rvbatch.h - several transport plaintexts sealed as one transport message
 * between a node and its rendezvous server (docs/rendezvous.md section
 * 2.2): one AEAD operation instead of one per message.
 *
 *   RV_BATCH (0x35, either direction, binary)
 *       35 | ( length (2, BE) | plaintext (length bytes) ) * count
 *     1 <= count <= BANTER_MAX_BATCH; each plaintext is 1.. bytes (type
 *     byte first) and is not itself an RV_BATCH; the bytes are used up
 *     exactly; the whole is at most BANTER_MAX_PLAINTEXT like any
 *     transport message.
 *
 * Only on a connection where both HELLOs listed RVBATCH_FEATURE. The
 * receiver checks the whole batch first (rvbatch_check) and handles its
 * messages in order exactly as if each had come alone; a malformed batch
 * ends the connection.
 *
 * Building: rvbatch_add appends; rvbatch_plaintext gives what to send: the
 * RV_BATCH, or the lone message itself when it holds one (a batch of one
 * is never sent). Pure code, no I/O.
 */
#ifndef BANTER_RVBATCH_H
#define BANTER_RVBATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banter_limits.h"
#include "buf.h"
#include "error.h"

#define RV_BATCH         0x35
#define RVBATCH_FEATURE  "batch"
#define RVBATCH_ITEM_HDR 2u
/* The largest message a batch can carry (type byte and one item header
 * taken from the transport plaintext); a larger one goes alone. */
#define RVBATCH_MAX_ITEM (BANTER_MAX_PLAINTEXT - 1u - RVBATCH_ITEM_HDR)

typedef struct rvbatch {
    buf b;      /* private: the RV_BATCH being built (type byte first) */
    uint32_t n; /* private: messages in it */
} rvbatch;

/* Start empty; allocates nothing. */
void rvbatch_init(rvbatch *bt);
/* Release the memory; the batch is empty and usable again. */
void rvbatch_free(rvbatch *bt);
/* Empty it (memory kept while small, as buf_consume does). */
void rvbatch_reset(rvbatch *bt);

/* Messages in it. */
static inline size_t rvbatch_count(const rvbatch *bt) { return bt->n; }

/*
 * Append one plaintext (type byte first). BANTER_EINVAL: empty, an
 * RV_BATCH, or longer than RVBATCH_MAX_ITEM (send it alone);
 * BANTER_ETOOBIG: it does not fit now (count or size: send what the batch
 * holds, reset, add again); BANTER_ENOMEM. On failure the batch is
 * unchanged.
 */
BANTER_WUR int rvbatch_add(rvbatch *bt, const uint8_t *pt, size_t len);

/* What to send: the RV_BATCH, or its only message alone; NULL (*len 0)
 * when empty. Valid until the batch changes. */
const uint8_t *rvbatch_plaintext(const rvbatch *bt, size_t *len);

/*
 * Check a received RV_BATCH (type byte included) against every rule
 * above: 0 with *count set, or BANTER_EPROTO (not an RV_BATCH, no
 * message, too many, an empty or nested message) or BANTER_ETRUNCATED (an
 * item runs past the end).
 */
BANTER_WUR int rvbatch_check(const uint8_t *pt, size_t len, size_t *count);

/* Walks a batch that passed rvbatch_check. */
typedef struct rvbatch_iter {
    const uint8_t *p; /* private */
    size_t left;      /* private */
} rvbatch_iter;

static inline rvbatch_iter rvbatch_iter_make(const uint8_t *pt, size_t len)
{
    return (rvbatch_iter){pt + 1, len - 1};
}
/* The next message: true with *pt, *len set (pointing into the batch), or
 * false at the end. */
bool rvbatch_next(rvbatch_iter *it, const uint8_t **pt, size_t *len);

#endif
