/* SPDX-License-Identifier: MIT */
/* fuzz_xlmsg.c - a link message between instances (xlmsg.h), alone or in
 * an RV_BATCH: what decodes encodes back to the same bytes; a certificate
 * goes through the peer check (which must not accept one not signed by
 * the organisation key given). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rvbatch.h"
#include "xlmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const uint8_t *p, size_t n)
{
    static uint8_t out[BANTER_MAX_PLAINTEXT];
    static const uint8_t org[32] = {1}, key[32] = {2};
    char name[BANTER_MAX_NAME + 1];
    xlmsg m;
    size_t len;
    if (xlmsg_decode(&m, p, n) != 0)
        return;
    if (xlmsg_encode(&m, out, sizeof out, &len) != 0 || len != n || memcmp(out, p, n) != 0)
        abort();
    if (m.type == XL_CERT &&
        xlmsg_peer_check(m.u.cert.cert, m.u.cert.len, org, key, 1000, name) == 0)
        abort(); /* org {1} is no valid key: nothing can be signed by it */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n, ml;
    const uint8_t *m;
    if (size > BANTER_MAX_PLAINTEXT)
        return 0;
    if (size > 0 && data[0] == RV_BATCH) {
        if (rvbatch_check(data, size, &n) != 0)
            return 0;
        rvbatch_iter it = rvbatch_iter_make(data, size);
        while (rvbatch_next(&it, &m, &ml))
            one(m, ml);
        return 0;
    }
    one(data, size);
    return 0;
}
