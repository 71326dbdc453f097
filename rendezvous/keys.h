/* SPDX-License-Identifier: MIT */
/*
 * keys.h - the server's long-term identity: one Ed25519 key pair (see
 * shared/identity.h) kept in a key file beside the database ("<db>.key",
 * mode 0600, owned by the user the server runs as).
 *
 * Nodes pin the server by its fingerprint (--server-key), so this key is
 * the server's identity for as long as the organisation uses it: losing it
 * means every node has to be told a new fingerprint.
 */
#ifndef BANTER_RDV_KEYS_H
#define BANTER_RDV_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "identity.h"

/* Load the key at path, or create it when there is none (*created then
 * true). On failure, a negative BANTER_E* code and why (cap bytes) holds a
 * sentence naming the file, the cause and the fix, e.g. for a key file
 * others can read: "the server key x.key can be read by others (mode
 * 0644): make it private with chmod 600 x.key". */
BANTER_WUR int keys_load(identity **out, const char *path, bool *created, char *why, size_t cap);

#endif
