/* SPDX-License-Identifier: MIT */
/*
 * buf.h - a growable byte buffer with a hard cap, and a bounds-checked
 * read cursor.
 *
 * buf: bytes are appended at the end and consumed from the front. The cap is
 * given at init and never exceeded; memory is allocated lazily and can be
 * released when the buffer drains, so an idle connection costs nothing.
 * The struct may be embedded; its fields are private.
 *
 * cur: reads fixed-size fields from untrusted bytes. Every read checks the
 * remaining length; the first failure latches, and cur_finish() tells whether
 * the input was consumed exactly with no error.
 */
#ifndef BANTER_BUF_H
#define BANTER_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* 32-bit offsets keep the struct at 24 bytes (a server holds three per
 * connection); caps are far below 4 GiB, and buf_init clamps. */
typedef struct buf {
    uint8_t *mem;   /* private */
    uint32_t off;   /* private: first unread byte */
    uint32_t len;   /* private: one past the last byte */
    uint32_t alloc; /* private */
    uint32_t cap;   /* private */
} buf;

/* Start empty with a cap on the number of unread bytes; allocates nothing. */
void buf_init(buf *b, size_t cap);

/* Release the memory; the buffer is empty and usable again afterwards. */
void buf_free(buf *b);

/* Unread bytes. */
static inline const uint8_t *buf_data(const buf *b) { return b->mem ? b->mem + b->off : NULL; }
static inline size_t buf_len(const buf *b) { return b->len - b->off; }
/* Bytes allocated, read or not. */
static inline size_t buf_held(const buf *b) { return b->mem ? b->alloc : 0; }

/* Append n bytes. BANTER_ETOOBIG past the cap, BANTER_ENOMEM; on failure the
 * buffer is unchanged. */
BANTER_WUR int buf_append(buf *b, const void *p, size_t n);

/* Make room for n more bytes and return where to write them in *out; the
 * bytes count only after buf_commit(b, n). Same errors as buf_append. */
BANTER_WUR int buf_reserve(buf *b, size_t n, uint8_t **out);
void buf_commit(buf *b, size_t n);

/* Keep only the first n unread bytes (n <= buf_len): undo appends. */
void buf_truncate(buf *b, size_t n);

/* Drop n bytes from the front (n <= buf_len). When the buffer drains, large
 * allocations are released. */
void buf_consume(buf *b, size_t n);
/* The same, but a drained buffer keeps its allocation: for a buffer that
 * is filled and drained at a high rate (a session carrying bulk data),
 * where freeing and allocating it again per message costs page faults.
 * buf_free releases it. */
void buf_consume_keep(buf *b, size_t n);

/* Take the buffer's memory, unread bytes and all (they stay where they
 * are; the caller owns it now and frees it with free()), and go on empty
 * with mem: alloc bytes from malloc, or NULL. *old_alloc receives the
 * size of what is returned (0 with NULL). */
uint8_t *buf_swap(buf *b, uint8_t *mem, size_t alloc, size_t *old_alloc);

typedef struct cur {
    const uint8_t *p; /* private */
    size_t left;      /* private */
    int err;          /* private: first error, latched */
} cur;

static inline cur cur_make(const uint8_t *p, size_t n) { return (cur){p, n, 0}; }

/* Each getter returns the value (0 / NULL on error) and latches
 * BANTER_ETRUNCATED when fewer bytes remain than asked for. */
uint8_t cur_u8(cur *c);
uint16_t cur_u16be(cur *c);
uint64_t cur_u64be(cur *c);
const uint8_t *cur_bytes(cur *c, size_t n);
/* All remaining bytes; *n receives their count. */
const uint8_t *cur_rest(cur *c, size_t *n);
static inline size_t cur_left(const cur *c) { return c->left; }

/* 0 when every byte was read without error, the latched error, or
 * BANTER_ETRAILING when bytes are left over. */
BANTER_WUR int cur_finish(const cur *c);

/* Big-endian stores, for encoders. */
static inline void put_u16be(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
void put_u64be(uint8_t *p, uint64_t v);

#endif
