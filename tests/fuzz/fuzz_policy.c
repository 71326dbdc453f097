/* SPDX-License-Identifier: MIT */
/* fuzz_policy.c - the signed policy: decode, and what decodes encodes to
 * the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bcrypto.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    policy p;
    uint8_t out[POLICY_LEN];
    if (!ready) {
        if (bcrypto_init() != 0)
            abort();
        ready = 1;
    }
    if (policy_decode(&p, data, size) != 0)
        return 0;
    policy_encode(&p, out);
    if (size != POLICY_LEN || memcmp(out, data, size) != 0)
        abort();
    return 0;
}
