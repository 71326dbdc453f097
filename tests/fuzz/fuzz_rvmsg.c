/* SPDX-License-Identifier: MIT */
/* fuzz_rvmsg.c - the rendezvous codec: decode, and what decodes must
 * encode and decode again to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bcrypto.h"
#include "rvmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    rvmsg m1, m2;
    buf b1, b2;
    if (!ready) {
        if (bcrypto_init() != 0)
            abort();
        ready = 1;
    }
    if (rvmsg_decode(&m1, data, size) != 0)
        return 0;
    buf_init(&b1, BANTER_MAX_PLAINTEXT);
    buf_init(&b2, BANTER_MAX_PLAINTEXT);
    int r = rvmsg_encode(&m1, &b1);
    /* \u escapes in the input may decode to text whose encoding is larger. */
    if (r != 0 && r != BANTER_ETOOBIG)
        abort();
    if (r == 0) {
        if (rvmsg_decode(&m2, buf_data(&b1), buf_len(&b1)) != 0 || m2.type != m1.type)
            abort();
        if (rvmsg_encode(&m2, &b2) != 0 || buf_len(&b2) != buf_len(&b1) ||
            memcmp(buf_data(&b2), buf_data(&b1), buf_len(&b1)) != 0)
            abort();
        rvmsg_clear(&m2);
    }
    buf_free(&b1);
    buf_free(&b2);
    rvmsg_clear(&m1);
    return 0;
}
