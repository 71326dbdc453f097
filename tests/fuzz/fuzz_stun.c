/* SPDX-License-Identifier: MIT */
/* fuzz_stun.c - a datagram as the answer to a Binding request (stun.h),
 * then fed to a mapping check (natmap.h) from its first vantage point. The
 * first 12 bytes of every seed are a Binding answer's transaction id, so
 * the corpus reaches the attribute parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "natmap.h"
#include "stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t seed_id[STUN_TXID_LEN] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                               0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

static void fill(void *ctx, uint8_t *out, size_t len)
{
    (void)ctx;
    memcpy(out, seed_id, len < sizeof seed_id ? len : sizeof seed_id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    stun_answer a;
    if (stun_parse_answer(data, size, seed_id, &a) == 0) {
        char s[STUN_ADDR_STR];
        if (!a.error && !a.has_mapped)
            abort();
        if (a.has_mapped)
            stun_addr_format(&a.mapped, s);
        if (a.has_other)
            stun_addr_format(&a.other, s);
        if (a.err_code && (a.err_code < 300 || a.err_code > 699))
            abort();
    }
    banter_rng rng = {fill, NULL};
    stun_addr srv = {.family = 4, .ip = {198, 18, 0, 2}, .port = 3478}, to;
    uint8_t req[STUN_HDR_LEN];
    natmap *m = natmap_new(&srv, 1, &rng, 0);
    if (!m)
        return 0;
    while (natmap_poll_send(m, 0, &to, req))
        ;
    (void)natmap_feed(m, &srv, data, size, 1);
    while (natmap_poll_send(m, 1, &to, req))
        ;
    natmap_report r;
    natmap_result(m, &srv, 1, &r);
    if (r.n < 1 || r.n > BANTER_MAX_STUN_DEST)
        abort();
    natmap_free(m);
    return 0;
}
