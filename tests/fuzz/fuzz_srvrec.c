/* SPDX-License-Identifier: MIT */
/* fuzz_srvrec.c - DNS SRV answers from the resolver: parse, then order
 * what parsed (names NUL-terminated and within their bounds). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "srvrec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fill(void *ctx, uint8_t *out, size_t len)
{
    (void)ctx;
    memset(out, 0x5a, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    srvrec out[BANTER_MAX_INSTANCES];
    size_t n;
    banter_rng rng = {fill, NULL};
    if (srvrec_parse(data, size, out, BANTER_MAX_INSTANCES, &n) != 0)
        return 0;
    srvrec_order(out, n, &rng);
    for (size_t i = 0; i < n; i++)
        if (strnlen(out[i].host, sizeof out[i].host) == sizeof out[i].host || !out[i].port)
            abort();
    return 0;
}
