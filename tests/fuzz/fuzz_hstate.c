/* SPDX-License-Identifier: MIT */
/*
 * fuzz_hstate.c - libFuzzer target for the hash checkpoint file of a
 * partial file (shared/hstate.h), which anyone who can write the download
 * folder can change.
 *
 * The input is read as a checkpoint file: the header is checked and every
 * whole record decoded under a fixed key. A record that decodes must encode
 * back to the same bytes (one encoding per record). Then the input's first
 * bytes are taken as the fields of a record, which must survive an encode
 * and decode unchanged, and must be refused under another key.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static hstate_key fixed_key(uint32_t file)
{
    hstate_key k = {.file = file};
    memset(k.secret, 0x5a, sizeof k.secret);
    memset(k.id, 0xc3, sizeof k.id);
    return k;
}

static void as_file(const uint8_t *data, size_t size)
{
    hstate_key k = fixed_key(0);
    uint8_t again[HSTATE_REC_LEN];
    hstate_rec r;
    if (hstate_check_header(data, size) != 0)
        return;
    for (size_t off = HSTATE_HDR_LEN; off < size; off += HSTATE_REC_LEN) {
        size_t n = size - off < HSTATE_REC_LEN ? size - off : HSTATE_REC_LEN;
        if (hstate_decode(&r, &k, data + off, n) != 0)
            continue;
        hstate_encode(&r, &k, again);
        if (memcmp(again, data + off, HSTATE_REC_LEN) != 0)
            abort();
    }
}

static void as_fields(const uint8_t *data, size_t size)
{
    hstate_rec in, out;
    uint8_t b[HSTATE_REC_LEN];
    memset(&in, 0, sizeof in);
    if (size < 41)
        return;
    memcpy(&in.covered, data, 8);
    in.covered &= (1ull << 53) - 1;
    in.sealed = data[8] & 1;
    memcpy(&in.dev, data + 9, 8);
    memcpy(&in.ino, data + 17, 8);
    memcpy(&in.ctime_s, data + 25, 8);
    memcpy(&in.ctime_ns, data + 33, 4);
    in.ctime_ns %= 1000000000u;
    for (size_t i = 0; i < sizeof in.state; i++)
        in.state[i] = data[(41 + i) % size];
    memcpy(in.digest, in.state, sizeof in.digest);
    if (!in.sealed)
        in.dev = in.ino = 0, in.ctime_s = 0, in.ctime_ns = 0;
    hstate_key k = fixed_key(data[37]);
    hstate_encode(&in, &k, b);
    if (hstate_decode(&out, &k, b, sizeof b) != 0 || memcmp(&in, &out, sizeof in) != 0)
        abort();
    k.file ^= 1;
    if (hstate_decode(&out, &k, b, sizeof b) != BANTER_EBADTAG)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    as_file(data, size);
    as_fields(data, size);
    return 0;
}
