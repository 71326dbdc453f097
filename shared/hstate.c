/* SPDX-License-Identifier: MIT */
/* hstate.c - checkpoints of a received file's hash (see hstate.h). */
#include "hstate.h"

#include <string.h>

#include "buf.h"

static const char magic[HSTATE_HDR_LEN] = "banter-hstate-1\n";
static const char mac_ctx[] = "banter-hstate-v1";

#define BODY_LEN (HSTATE_REC_LEN - HSTATE_MACLEN)
#define F_SEALED 1u

_Static_assert(sizeof magic == HSTATE_HDR_LEN, "header length");

void hstate_header(uint8_t out[static HSTATE_HDR_LEN]) { memcpy(out, magic, HSTATE_HDR_LEN); }

int hstate_check_header(const uint8_t *in, size_t len)
{
    if (len < HSTATE_HDR_LEN)
        return BANTER_ETRUNCATED;
    return memcmp(in, magic, HSTATE_HDR_LEN) == 0 ? 0 : BANTER_EUNSUPPORTED;
}

static void put_u32be(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static uint32_t cur_u32be(cur *c)
{
    uint32_t hi = cur_u16be(c);
    return hi << 16 | cur_u16be(c);
}

/* HMAC over context || transfer id || file index || body. */
static void mac(const hstate_key *k, const uint8_t body[static BODY_LEN],
                uint8_t out[static HSTATE_MACLEN])
{
    uint8_t m[sizeof mac_ctx - 1 + 16 + 4 + BODY_LEN], full[BCRYPTO_HASHLEN];
    memcpy(m, mac_ctx, sizeof mac_ctx - 1);
    memcpy(m + sizeof mac_ctx - 1, k->id, 16);
    put_u32be(m + sizeof mac_ctx - 1 + 16, k->file);
    memcpy(m + sizeof mac_ctx - 1 + 20, body, BODY_LEN);
    bcrypto_hmac(full, k->secret, sizeof k->secret, m, sizeof m);
    memcpy(out, full, HSTATE_MACLEN);
}

void hstate_encode(const hstate_rec *r, const hstate_key *k, uint8_t out[static HSTATE_REC_LEN])
{
    uint8_t *p = out;
    put_u64be(p, r->covered);
    put_u32be(p + 8, r->sealed ? F_SEALED : 0);
    put_u64be(p + 12, r->sealed ? r->dev : 0);
    put_u64be(p + 20, r->sealed ? r->ino : 0);
    put_u64be(p + 28, r->sealed ? (uint64_t)r->ctime_s : 0);
    put_u32be(p + 36, r->sealed ? r->ctime_ns : 0);
    memcpy(p + 40, r->digest, BANTER_FILE_HASHLEN);
    memcpy(p + 40 + BANTER_FILE_HASHLEN, r->state, BCRYPTO_HASH_STATE_LEN);
    mac(k, out, out + BODY_LEN);
}

int hstate_decode(hstate_rec *r, const hstate_key *k, const uint8_t *in, size_t len)
{
    uint8_t want[HSTATE_MACLEN];
    int ret = BANTER_ESCHEMA;
    memset(r, 0, sizeof *r);
    if (len != HSTATE_REC_LEN)
        return len < HSTATE_REC_LEN ? BANTER_ETRUNCATED : BANTER_ETRAILING;
    mac(k, in, want);
    if (!bcrypto_equal(want, in + BODY_LEN, HSTATE_MACLEN))
        return BANTER_EBADTAG;
    cur c = cur_make(in, BODY_LEN);
    r->covered = cur_u64be(&c);
    uint32_t flags = cur_u32be(&c);
    r->dev = cur_u64be(&c);
    r->ino = cur_u64be(&c);
    r->ctime_s = (int64_t)cur_u64be(&c);
    r->ctime_ns = cur_u32be(&c);
    const uint8_t *d = cur_bytes(&c, BANTER_FILE_HASHLEN);
    const uint8_t *s = cur_bytes(&c, BCRYPTO_HASH_STATE_LEN);
    if (cur_finish(&c) != 0 || !d || !s)
        goto out;
    if ((flags & ~F_SEALED) != 0 || r->ctime_ns > 999999999u || r->covered > BANTER_MAX_FILE_SIZE)
        goto out;
    r->sealed = (flags & F_SEALED) != 0;
    memcpy(r->digest, d, BANTER_FILE_HASHLEN);
    memcpy(r->state, s, BCRYPTO_HASH_STATE_LEN);
    ret = 0;
out:
    if (ret)
        memset(r, 0, sizeof *r);
    return ret;
}
