/* SPDX-License-Identifier: MIT */
/* fuzz_admmsg.c - the admin protocol's codec: decode requests and results,
 * and what decodes must encode and decode again to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admmsg.h"
#include "bcrypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const buf *a, const buf *b)
{
    if (buf_len(a) != buf_len(b) || memcmp(buf_data(a), buf_data(b), buf_len(a)) != 0)
        abort();
}

static void request(const uint8_t *data, size_t size)
{
    adm_request r1, r2;
    buf b1, b2;
    if (adm_request_decode(&r1, data, size) != 0)
        return;
    buf_init(&b1, BANTER_MAX_PLAINTEXT);
    buf_init(&b2, BANTER_MAX_PLAINTEXT);
    int r = adm_request_encode(&r1, &b1);
    /* \u escapes in the input may decode to text whose encoding is larger. */
    if (r != 0 && r != BANTER_ETOOBIG)
        abort();
    if (r == 0) {
        if (adm_request_decode(&r2, buf_data(&b1), buf_len(&b1)) != 0 || r2.cmd != r1.cmd ||
            r2.has != r1.has || adm_request_encode(&r2, &b2) != 0)
            abort();
        same(&b1, &b2);
        adm_request_clear(&r2);
    }
    buf_free(&b1);
    buf_free(&b2);
    adm_request_clear(&r1);
}

static void result(const uint8_t *data, size_t size)
{
    adm_result r1, r2;
    buf b1, b2;
    if (adm_result_decode(&r1, data, size) != 0)
        return;
    buf_init(&b1, BANTER_MAX_PLAINTEXT);
    buf_init(&b2, BANTER_MAX_PLAINTEXT);
    int r = adm_result_encode(&r1, &b1);
    if (r != 0 && r != BANTER_ETOOBIG)
        abort();
    if (r == 0) {
        if (adm_result_decode(&r2, buf_data(&b1), buf_len(&b1)) != 0 || r2.ok != r1.ok ||
            adm_result_encode(&r2, &b2) != 0)
            abort();
        same(&b1, &b2);
        adm_result_clear(&r2);
    }
    buf_free(&b1);
    buf_free(&b2);
    adm_result_clear(&r1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (bcrypto_init() != 0)
            abort();
        ready = 1;
    }
    request(data, size);
    result(data, size);
    return 0;
}
