/* SPDX-License-Identifier: MIT */
/*
 * fuzz_gkey.c - libFuzzer target for the group sender keys (shared/gkey.h):
 * what a group member's device sends (distributions, group messages) and
 * what the node keeps on disk (saved chain states).
 *
 * The first byte picks the reading of the rest:
 *   0  a saved state: if it loads, saving it gives the same bytes back;
 *   1  a distribution: if it decodes, encoding gives the same bytes back;
 *   2  a group message, opened by a fixed member chain, whose state must
 *      stay usable (a genuine next message still opens after any refusal).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fill(void *ctx, uint8_t *out, size_t len)
{
    (void)ctx;
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(i * 13u + 7u);
}

static void as_state(const uint8_t *d, size_t n)
{
    gkey_chain *c = NULL;
    if (gkey_chain_load(&c, d, n) != 0)
        return;
    uint8_t *again = malloc(GKEY_SAVE_MAX);
    if (!again)
        abort();
    size_t m = gkey_chain_save(c, again);
    if (m != n || memcmp(again, d, n) != 0)
        abort();
    free(again);
    gkey_chain_free(c);
}

static void as_dist(const uint8_t *d, size_t n)
{
    gkey_chain *c = NULL;
    uint8_t again[GKEY_DIST_LEN];
    if (gkey_dist_decode(&c, d, n) != 0)
        return;
    gkey_dist_encode(c, again);
    if (n != GKEY_DIST_LEN || memcmp(again, d, n) != 0)
        abort();
    gkey_chain_free(c);
}

static void as_message(const uint8_t *d, size_t n)
{
    static const uint8_t group[GKEY_GROUP_LEN] = {7};
    static const uint8_t dev[GKEY_DEVICE_LEN] = {9};
    gkey_chain *own = NULL, *member = NULL;
    banter_rng r = {fill, NULL};
    uint8_t dist[GKEY_DIST_LEN];
    if (bcrypto_init() != 0 || gkey_chain_new(&own, group, dev, 1, r) != 0)
        abort();
    gkey_dist_encode(own, dist);
    if (gkey_dist_decode(&member, dist, sizeof dist) != 0)
        abort();
    uint8_t *out = malloc(n + 1);
    size_t outlen = 0;
    if (!out)
        abort();
    int first = gkey_open(member, out, &outlen, d, n);
    uint8_t msg[GKEY_OVERHEAD + 2], pt[2];
    if (gkey_seal(own, msg, (const uint8_t *)"ok", 2) != 0)
        abort();
    /* The input may be the fixed chain's genuine first message (then that
     * key is used up); otherwise the first message must still open. */
    gkey_header h;
    bool used = first == 0 && gkey_peek(&h, d, n) == 0 && h.iteration == 0;
    int rc = gkey_open(member, pt, &outlen, msg, sizeof msg);
    if ((rc != 0) != used)
        abort();
    free(out);
    gkey_chain_free(own);
    gkey_chain_free(member);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        as_state(data + 1, size - 1);
        break;
    case 1:
        as_dist(data + 1, size - 1);
        break;
    default:
        as_message(data + 1, size - 1);
        break;
    }
    return 0;
}
