/* SPDX-License-Identifier: MIT */
/* fuzz_icert.c - the instance certificate: decode, and what decodes
 * encodes to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bcrypto.h"
#include "icert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    icert c;
    uint8_t out[ICERT_LEN_MAX];
    size_t n;
    if (!ready) {
        if (bcrypto_init() != 0)
            abort();
        ready = 1;
    }
    if (icert_decode(&c, data, size) != 0)
        return 0;
    if (icert_encode(&c, out, sizeof out, &n) != 0 || n != size || memcmp(out, data, size) != 0)
        abort();
    return 0;
}
