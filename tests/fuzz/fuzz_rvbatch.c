/* SPDX-License-Identifier: MIT */
/* fuzz_rvbatch.c - RV_BATCH: what the check accepts walks to exactly its
 * count of non-empty, non-nested messages that use the bytes up, and
 * rebuilding the batch from them gives the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rvbatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n, len, ml, seen = 0;
    const uint8_t *m, *p;
    if (size > BANTER_MAX_PLAINTEXT || rvbatch_check(data, size, &n) != 0)
        return 0;
    rvbatch bt;
    rvbatch_init(&bt);
    rvbatch_iter it = rvbatch_iter_make(data, size);
    while (rvbatch_next(&it, &m, &ml)) {
        if (ml == 0 || m[0] == RV_BATCH || rvbatch_add(&bt, m, ml) != 0)
            abort();
        seen++;
    }
    if (seen != n)
        abort();
    p = rvbatch_plaintext(&bt, &len);
    if (n > 1 && (len != size || memcmp(p, data, size) != 0))
        abort();
    if (n == 1 && (len != size - 3 || memcmp(p, data + 3, len) != 0))
        abort();
    rvbatch_free(&bt);
    return 0;
}
