/* SPDX-License-Identifier: MIT */
/*
 * slab.h - a pool of equal slots carved from 64 KiB blocks of pages, for
 * records a server keeps by the hundred thousand (the rendezvous server's
 * connection records, docs/cluster.md "Capacity").
 *
 * Why not malloc: a slot costs exactly its size (malloc adds an 8-byte
 * header and rounds up to 16: a 744-byte record takes 752), and the slots
 * sit together in their own pages, not between the short-lived
 * allocations made while each record was set up (handshakes, database
 * jobs), which otherwise leave holes that malloc cannot give back. A block
 * is mapped when the pool needs one and unmapped once none of its slots is
 * in use (one empty block is kept for the next slot), so the memory
 * follows the number of slots in use; a block is touched only as far as
 * its slots have been handed out.
 *
 * Slots are aligned to 8 bytes (enough for records without long double or
 * vector members) and zeroed when handed out. Single threaded: the caller
 * serialises. Under AddressSanitizer a slot not in use is poisoned: a use
 * after slab_put is reported like one after free.
 */
#ifndef BANTER_SLAB_H
#define BANTER_SLAB_H

#include <stddef.h>

#include "error.h"

#define SLAB_BLOCK    (64u * 1024u) /* bytes mapped at a time, aligned to their size */
#define SLAB_SLOT_MAX (8u * 1024u)  /* the largest slot (at least 7 per block) */

typedef struct slab slab;

/* A pool of slots of slot_size bytes (rounded up to 8; 1 to SLAB_SLOT_MAX):
 * 0, or BANTER_EINVAL (size) or BANTER_ENOMEM; *out is NULL on failure. */
int slab_new(slab **out, size_t slot_size);
/* Unmap every block. Slots still in use are gone with them: put them back
 * first (a leak checker does not see slots, so count with slab_used).
 * NULL is a no-op. */
void slab_free(slab *p);

/* A zeroed slot, or NULL when no block can be mapped. */
void *slab_get(slab *p);
/* Give slot back (from slab_get of this pool; NULL is a no-op). */
void slab_put(slab *p, void *slot);

/* Slots in use; blocks mapped. */
size_t slab_used(const slab *p);
size_t slab_blocks(const slab *p);

#endif
