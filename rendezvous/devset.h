/* SPDX-License-Identifier: MIT */
/*
 * devset.h - the device keys another instance said it holds (XL_DEV on a
 * link, xlink.h), each with the stamp of its latest "up", so that when two
 * links list one device (it moved, and the instance it left has not said
 * so yet) the route is the one that listed it last. At most max keys: a
 * peer cannot make this instance hold more (devset_add refuses).
 *
 * Open addressing with linear probing, deletion by backward shift (no
 * tombstones); device keys are random, so their first bytes are the hash.
 * Pure code, no I/O.
 */
#ifndef BANTER_RDV_DEVSET_H
#define BANTER_RDV_DEVSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct devset devset;

/* An empty set of at most max keys, or NULL (no memory). */
devset *devset_new(size_t max);
void devset_free(devset *s);

/* key is held, its stamp now stamp (a key already there takes the new
 * one). 0, or BANTER_ETOOBIG (max keys already, key not among them),
 * BANTER_ENOMEM; on failure the set is unchanged. */
BANTER_WUR int devset_add(devset *s, const uint8_t key[static 32], uint64_t stamp);
/* key is no longer held (nothing when it was not). */
void devset_del(devset *s, const uint8_t key[static 32]);
/* Whether key is held; its stamp in *stamp (may be NULL). */
bool devset_get(const devset *s, const uint8_t key[static 32], uint64_t *stamp);
size_t devset_count(const devset *s);

#endif
