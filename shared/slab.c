/* SPDX-License-Identifier: MIT */
/* slab.c - equal slots carved from 64 KiB blocks of pages (slab.h). */
#include "slab.h"

#include <sanitizer/asan_interface.h> /* no-op macros without AddressSanitizer */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "dlist.h"
#include "error.h"

#define SLOT_ALIGN 8u

/* A block's header, at its start; its slots follow. */
typedef struct block block;
struct block {
    dlist_link link; /* on p->avail or p->full */
    uint8_t *free;   /* slots given back: a list through their first bytes */
    uint32_t used;   /* slots in use */
    uint32_t fresh;  /* slots from this index on were never handed out */
};
#define HDR ((sizeof(block) + SLOT_ALIGN - 1) & ~(size_t)(SLOT_ALIGN - 1))

struct slab {
    hlist avail; /* blocks with a slot to give */
    hlist full;  /* blocks without */
    size_t size, per_block, used, blocks;
};

static void push(hlist *l, block *b) { hlist_push(l, b, offsetof(block, link)); }

static void unlink_block(hlist *l, block *b) { hlist_remove(l, b, offsetof(block, link)); }

/* SLAB_BLOCK bytes aligned to SLAB_BLOCK (a slot finds its block by
 * masking its address): twice that mapped, the rest unmapped. Zeroed. */
static block *map_block(void)
{
    size_t len = 2u * SLAB_BLOCK;
    uint8_t *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    uintptr_t a = ((uintptr_t)m + SLAB_BLOCK - 1) & ~(uintptr_t)(SLAB_BLOCK - 1);
    size_t head = (size_t)(a - (uintptr_t)m), tail = len - head - SLAB_BLOCK;
    if (head)
        (void)munmap(m, head);
    if (tail)
        (void)munmap(m + head + SLAB_BLOCK, tail);
    block *b = (block *)(void *)(m + head);
    ASAN_POISON_MEMORY_REGION(m + head + HDR, SLAB_BLOCK - HDR);
    return b;
}

static void unmap_block(block *b)
{
    ASAN_UNPOISON_MEMORY_REGION(b, SLAB_BLOCK); /* the next mapping there starts clean */
    (void)munmap(b, SLAB_BLOCK);
}

int slab_new(slab **out, size_t slot_size)
{
    *out = NULL;
    if (slot_size == 0 || slot_size > SLAB_SLOT_MAX)
        return BANTER_EINVAL;
    slab *p = calloc(1, sizeof *p);
    if (!p)
        return BANTER_ENOMEM;
    p->size = (slot_size + SLOT_ALIGN - 1) & ~(size_t)(SLOT_ALIGN - 1);
    p->per_block = (SLAB_BLOCK - HDR) / p->size;
    *out = p;
    return 0;
}

void slab_free(slab *p)
{
    if (!p)
        return;
    block *lists[2] = {p->avail.head, p->full.head};
    for (int i = 0; i < 2; i++) {
        while (lists[i]) {
            block *b = lists[i];
            lists[i] = b->link.next;
            unmap_block(b);
        }
    }
    free(p);
}

void *slab_get(slab *p)
{
    block *b = p->avail.head;
    if (!b) {
        if ((b = map_block()) == NULL)
            return NULL;
        push(&p->avail, b);
        p->blocks++;
    }
    uint8_t *s;
    if (b->free) {
        s = b->free;
        ASAN_UNPOISON_MEMORY_REGION(s, p->size);
        memcpy(&b->free, s, sizeof b->free);
    } else {
        s = (uint8_t *)b + HDR + (size_t)b->fresh * p->size;
        b->fresh++;
        ASAN_UNPOISON_MEMORY_REGION(s, p->size);
    }
    b->used++;
    p->used++;
    if (b->used == p->per_block) {
        unlink_block(&p->avail, b);
        push(&p->full, b);
    }
    memset(s, 0, p->size);
    return s;
}

void slab_put(slab *p, void *slot)
{
    if (!slot)
        return;
    uint8_t *s = slot;
    block *b = (block *)(uintptr_t)((uintptr_t)s & ~(uintptr_t)(SLAB_BLOCK - 1));
    size_t at = (size_t)(s - (uint8_t *)b);
    if (at < HDR || (at - HDR) % p->size != 0 || b->used == 0)
        abort(); /* not a slot of this pool, or given back twice: a bug */
    if (b->used == p->per_block) {
        unlink_block(&p->full, b);
        push(&p->avail, b);
    }
    memcpy(s, &b->free, sizeof b->free);
    b->free = s;
    ASAN_POISON_MEMORY_REGION(s, p->size);
    b->used--;
    p->used--;
    if (b->used == 0 && (p->avail.head != b || b->link.next)) {
        /* Empty, and another block has room: give its pages back. */
        unlink_block(&p->avail, b);
        unmap_block(b);
        p->blocks--;
    }
}

size_t slab_used(const slab *p) { return p->used; }

size_t slab_blocks(const slab *p) { return p->blocks; }
