/* SPDX-License-Identifier: MIT */
/*
 * gkey.h - sender keys for group conversations (docs/protocol.md, groups).
 *
 * Each device of each member has, per group and per epoch, a sending chain:
 * a 32-byte chain key ratcheted once per message and an Ed25519 signing key
 * of its own. The device hands the chain's current state (the distribution:
 * chain key, iteration, signing public key; never the signing secret) to
 * every other member device over the pairwise encrypted channels. A group
 * message is then encrypted once for all members:
 *
 *   mk  = HMAC-BLAKE2b(ck_i, 0x01)[0..32]     the key of message i
 *   ck_{i+1} = HMAC-BLAKE2b(ck_i, 0x02)[0..32]  (ck_i is then forgotten)
 *   header = 0x01 || group (16) || sender device (32) || epoch (4, BE)
 *            || iteration i (4, BE)
 *   msg = header || ChaCha20-Poly1305(mk, nonce 0, ad = header, pt)
 *         || Ed25519 signature by the chain's signing key over
 *            "banter-group-v1" || header || ciphertext
 *
 * Properties: only holders of a distribution read; only the sending device
 * signs (a member cannot forge another member's message, which a shared
 * group key would allow); forward secrecy within a chain (a state taken
 * from a device reads nothing sent before it); a new epoch (new chain, new
 * signing key, handed only to current members) shuts out a removed member.
 * Out-of-order messages: a receiver may jump ahead at most GKEY_MAX_SKIP
 * messages and keeps at most GKEY_MAX_KEPT keys of skipped ones; a message
 * key is used once (a replay is refused).
 *
 * Sans-I/O: randomness is handed in; no clock. States are opaque; they are
 * saved and loaded as bytes (for the node's store).
 */
#ifndef BANTER_GKEY_H
#define BANTER_GKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bcrypto.h"
#include "error.h"

#define GKEY_GROUP_LEN  16
#define GKEY_DEVICE_LEN 32
#define GKEY_HDR_LEN    (1 + GKEY_GROUP_LEN + GKEY_DEVICE_LEN + 4 + 4)
#define GKEY_OVERHEAD   (GKEY_HDR_LEN + BCRYPTO_TAGLEN + BCRYPTO_SIGLEN)
/* The distribution: version, group, device, epoch, iteration, chain key,
 * signing public key. */
#define GKEY_DIST_LEN   (1 + GKEY_GROUP_LEN + GKEY_DEVICE_LEN + 4 + 4 + 32 + BCRYPTO_ED_PKLEN)
#define GKEY_MAX_SKIP   2000u
#define GKEY_MAX_KEPT   256u
/* A chain ends before its iteration counter could wrap. */
#define GKEY_MAX_ITER   0xfffffff0u
/* A saved state is at most this long (a receiving chain with every kept
 * key; a sending one is shorter). */
#define GKEY_SAVE_MAX   (2 + GKEY_DIST_LEN + BCRYPTO_ED_SKLEN + 2 + GKEY_MAX_KEPT * 36u)

/* One chain: ours (can seal) or a member device's (can open). */
typedef struct gkey_chain gkey_chain;

/* What a message or a distribution names. */
typedef struct gkey_header {
    uint8_t group[GKEY_GROUP_LEN];
    uint8_t device[GKEY_DEVICE_LEN];
    uint32_t epoch;
    uint32_t iteration;
} gkey_header;

/* A new sending chain for this device in group at epoch, with a fresh
 * chain key and signing key from rng. The caller frees it with
 * gkey_chain_free. BANTER_ENOMEM. */
BANTER_WUR int gkey_chain_new(gkey_chain **out, const uint8_t group[static GKEY_GROUP_LEN],
                              const uint8_t device[static GKEY_DEVICE_LEN], uint32_t epoch,
                              banter_rng rng);

/* Frees c and wipes its keys. NULL is fine. */
void gkey_chain_free(gkey_chain *c);

/* Whether c can seal (it is ours), and what it names. */
bool gkey_chain_is_own(const gkey_chain *c);
gkey_header gkey_chain_header(const gkey_chain *c);

/* The distribution of c's current state, for the other members' devices
 * (sent only over a pairwise encrypted channel: it lets its holder read
 * every later message of this chain). */
void gkey_dist_encode(const gkey_chain *c, uint8_t out[static GKEY_DIST_LEN]);

/* A receiving chain from a distribution. The caller checks that h.device
 * is the device that sent it over the pairwise channel and that it is a
 * member's. BANTER_ETRUNCATED / BANTER_ETRAILING (wrong length),
 * BANTER_EUNSUPPORTED (version), BANTER_EIDENTITY (the signing key is not a
 * valid point), BANTER_ENOMEM. */
BANTER_WUR int gkey_dist_decode(gkey_chain **out, const uint8_t *in, size_t len);

/* Seal len bytes of pt as the chain's next message into out, which must
 * hold len + GKEY_OVERHEAD bytes. BANTER_ESTATE (not our chain),
 * BANTER_ENONCE (the chain is used up: start a new epoch). */
BANTER_WUR int gkey_seal(gkey_chain *c, uint8_t *out, const uint8_t *pt, size_t len);

/* The header of a sealed message, to find its chain. BANTER_ETRUNCATED
 * (shorter than GKEY_OVERHEAD), BANTER_EUNSUPPORTED (version). */
BANTER_WUR int gkey_peek(gkey_header *h, const uint8_t *msg, size_t len);

/* Open a message of chain c into out (len - GKEY_OVERHEAD bytes; *outlen
 * gets it). c moves on only when the message verifies and decrypts.
 * Errors: BANTER_ETRUNCATED, BANTER_EUNSUPPORTED, BANTER_EINVAL (not this
 * chain's group, device or epoch), BANTER_EIDENTITY (bad signature),
 * BANTER_EBADTAG, BANTER_ETOOBIG (more than GKEY_MAX_SKIP ahead),
 * BANTER_ENOENT (an earlier message whose key is gone: a replay or too
 * old). */
BANTER_WUR int gkey_open(gkey_chain *c, uint8_t *out, size_t *outlen, const uint8_t *msg,
                         size_t len);

/* The whole state as bytes (it holds keys: store it as the node stores
 * its own key). out must hold GKEY_SAVE_MAX bytes; returns the length. */
size_t gkey_chain_save(const gkey_chain *c, uint8_t out[static GKEY_SAVE_MAX]);

/* A state from gkey_chain_save. BANTER_EFORMAT (malformed: lengths,
 * counts, order of kept keys, a signing secret that does not match its
 * public key), BANTER_EUNSUPPORTED, BANTER_ENOMEM. */
BANTER_WUR int gkey_chain_load(gkey_chain **out, const uint8_t *in, size_t len);

#endif
