/* SPDX-License-Identifier: MIT */
/*
 * fuzz_plugmsg.c - libFuzzer target for the plug-in host protocol
 * (shared/plugmsg.h): what a plug-in host sends the node is as untrusted as
 * a peer's bytes.
 *
 * The first byte picks the side decoding; the rest is a stream of frames,
 * cut by plugmsg_frame and decoded until the first error. A message that
 * decodes must encode back to the very same frame (one encoding each).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    plug_side side = data[0] & 1 ? PLUG_FROM_NODE : PLUG_FROM_HOST;
    data++;
    size--;
    while (size > 0) {
        size_t len = 0;
        if (plugmsg_frame(data, size, &len) != 0 || len == 0)
            return 0;
        plugmsg m;
        if (plugmsg_decode(&m, data + PLUG_HDR, len - PLUG_HDR, side) != 0)
            return 0;
        buf b;
        buf_init(&b, PLUG_MAX_FRAME + PLUG_HDR);
        if (plugmsg_encode(&m, &b) != 0 || buf_len(&b) != len ||
            memcmp(buf_data(&b), data, len) != 0)
            abort();
        buf_free(&b);
        plugmsg_clear(&m);
        data += len;
        size -= len;
    }
    return 0;
}
