/* SPDX-License-Identifier: MIT */
/* fuzz_annmsg.c - announcements, their receipts and the revocation list:
 * decode, and what decodes encodes to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "annmsg.h"
#include "bcrypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    static ann_msg m;
    static revlist l;
    static uint8_t out[REVLIST_LEN_MAX];
    ann_rcpt r;
    buf b;
    if (!ready) {
        if (bcrypto_init() != 0)
            abort();
        ready = 1;
    }
    if (size < 1)
        return 0;
    buf_init(&b, 65536);
    if (data[0] == RV_ANNOUNCE && ann_decode(&m, data, size) == 0 && ann_encode(&m, &b) != 0)
        abort();
    if (data[0] == RV_ANNOUNCE_RCPT && ann_rcpt_decode(&r, data, size) == 0 &&
        ann_rcpt_encode(&r, &b) != 0)
        abort();
    if (data[0] == RV_REVOKED && revlist_decode(&l, data + 1, size - 1) == 0 &&
        (revlist_encode(&l, out, sizeof out) != size - 1 || memcmp(out, data + 1, size - 1) != 0))
        abort();
    buf_free(&b);
    return 0;
}
