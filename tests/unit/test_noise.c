/* SPDX-License-Identifier: MIT */
/*
 * test_noise.c - the Noise engine against every published test vector of
 * 25519_ChaChaPoly_BLAKE2b, plus the state machine's refusals and Rekey.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <cmocka.h>
#include <sodium.h>

#include "noise.h"

#define VECTORS TEST_DATA_DIR "/noise-vectors-25519-chachapoly-blake2b.json"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* Decode the hex string item[key] into a fresh buffer; NULL when absent. */
static uint8_t *hexfield(const cJSON *item, const char *key, size_t *len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, key);
    *len = 0;
    if (!cJSON_IsString(v))
        return NULL;
    size_t hl = strlen(v->valuestring);
    uint8_t *out = malloc(hl / 2 + 1);
    assert_non_null(out);
    assert_int_equal(sodium_hex2bin(out, hl / 2 + 1, v->valuestring, hl, NULL, len, NULL), 0);
    return out;
}

static bool one_way(const char *name)
{
    /* "Noise_X..." with a single-letter base pattern: N, K, X. */
    const char *p = name + strlen("Noise_");
    return p[1] == '_' || (p[1] >= 'a' && p[1] <= 'z');
}

struct side {
    noise_hs *hs;
    noise_cipher send, recv;
};

static void run_vector(const cJSON *v, int *count)
{
    const char *name = cJSON_GetObjectItemCaseSensitive(v, "protocol_name")->valuestring;
    size_t l_ipro, l_rpro, l_is, l_ie, l_irs, l_rs, l_re, l_rrs, l_h;
    uint8_t *ipro = hexfield(v, "init_prologue", &l_ipro);
    uint8_t *rpro = hexfield(v, "resp_prologue", &l_rpro);
    uint8_t *is = hexfield(v, "init_static", &l_is);
    uint8_t *ie = hexfield(v, "init_ephemeral", &l_ie);
    uint8_t *irs = hexfield(v, "init_remote_static", &l_irs);
    uint8_t *rs = hexfield(v, "resp_static", &l_rs);
    uint8_t *re = hexfield(v, "resp_ephemeral", &l_re);
    uint8_t *rrs = hexfield(v, "resp_remote_static", &l_rrs);
    uint8_t *hh = hexfield(v, "handshake_hash", &l_h);
    uint8_t ipsk[NOISE_MAX_PSKS][NOISE_PSKLEN], rpsk[NOISE_MAX_PSKS][NOISE_PSKLEN];
    size_t nipsk = 0, nrpsk = 0;
    const cJSON *p;

    cJSON_ArrayForEach (p, cJSON_GetObjectItemCaseSensitive(v, "init_psks")) {
        size_t n;
        assert_int_equal(sodium_hex2bin(ipsk[nipsk++], NOISE_PSKLEN, p->valuestring,
                                        strlen(p->valuestring), NULL, &n, NULL),
                         0);
    }
    cJSON_ArrayForEach (p, cJSON_GetObjectItemCaseSensitive(v, "resp_psks")) {
        size_t n;
        assert_int_equal(sodium_hex2bin(rpsk[nrpsk++], NOISE_PSKLEN, p->valuestring,
                                        strlen(p->valuestring), NULL, &n, NULL),
                         0);
    }

    struct side ini = {0}, res = {0};
    noise_hs_config ci = {.protocol_name = name,
                          .role = NOISE_INITIATOR,
                          .prologue = ipro,
                          .prologue_len = l_ipro,
                          .s = is,
                          .e = ie,
                          .rs = irs,
                          .psks = (const uint8_t(*)[NOISE_PSKLEN])ipsk,
                          .npsks = nipsk};
    noise_hs_config cr = {.protocol_name = name,
                          .role = NOISE_RESPONDER,
                          .prologue = rpro,
                          .prologue_len = l_rpro,
                          .s = rs,
                          .e = re,
                          .rs = rrs,
                          .psks = (const uint8_t(*)[NOISE_PSKLEN])rpsk,
                          .npsks = nrpsk};
    print_message("%s\n", name);
    assert_int_equal(noise_hs_new(&ini.hs, &ci), 0);
    assert_int_equal(noise_hs_new(&res.hs, &cr), 0);

    bool ow = one_way(name);
    int i = 0;
    const cJSON *m;
    cJSON_ArrayForEach (m, cJSON_GetObjectItemCaseSensitive(v, "messages")) {
        size_t lp, lc;
        uint8_t *payload = hexfield(m, "payload", &lp);
        uint8_t *ct = hexfield(m, "ciphertext", &lc);
        uint8_t out[NOISE_MAX_MSG], back[NOISE_MAX_MSG];
        size_t olen = 0, blen = 0;
        struct side *snd = (ow || i % 2 == 0) ? &ini : &res;
        struct side *rcv = snd == &ini ? &res : &ini;

        if (noise_hs_action(snd->hs) == NOISE_WRITE) {
            assert_int_equal(noise_hs_action(rcv->hs), NOISE_READ);
            assert_int_equal(noise_hs_write_size(snd->hs, lp), lc);
            assert_int_equal(noise_hs_write(snd->hs, payload, lp, out, &olen), 0);
            assert_int_equal(olen, lc);
            assert_memory_equal(out, ct, lc);
            assert_int_equal(noise_hs_read(rcv->hs, out, olen, back, sizeof back, &blen), 0);
            assert_int_equal(blen, lp);
            if (lp)
                assert_memory_equal(back, payload, lp);
            if (noise_hs_action(ini.hs) == NOISE_SPLIT) {
                assert_int_equal(noise_hs_action(res.hs), NOISE_SPLIT);
                assert_int_equal(noise_hs_split(ini.hs, &ini.send, &ini.recv), 0);
                assert_int_equal(noise_hs_split(res.hs, &res.send, &res.recv), 0);
                uint8_t h1[NOISE_HASHLEN], h2[NOISE_HASHLEN];
                noise_hs_hash(ini.hs, h1);
                noise_hs_hash(res.hs, h2);
                assert_int_equal(l_h, NOISE_HASHLEN);
                assert_memory_equal(h1, hh, NOISE_HASHLEN);
                assert_memory_equal(h2, hh, NOISE_HASHLEN);
            }
        } else {
            assert_int_equal(noise_hs_action(snd->hs), NOISE_SPLIT);
            assert_int_equal(noise_cipher_encrypt(&snd->send, NULL, 0, payload, lp, out), 0);
            assert_int_equal(lp + NOISE_TAGLEN, lc);
            assert_memory_equal(out, ct, lc);
            assert_int_equal(noise_cipher_decrypt(&rcv->recv, NULL, 0, out, lc, back), 0);
            if (lp)
                assert_memory_equal(back, payload, lp);
        }
        free(payload);
        free(ct);
        i++;
    }
    assert_true(i > 0);
    assert_int_equal(noise_hs_action(ini.hs), NOISE_SPLIT);
    noise_hs_free(ini.hs);
    noise_hs_free(res.hs);
    free(ipro), free(rpro), free(is), free(ie), free(irs), free(rs), free(re), free(rrs), free(hh);
    (*count)++;
}

static void test_vectors(void **state)
{
    (void)state;
    char *text = slurp(VECTORS);
    cJSON *doc = cJSON_Parse(text);
    assert_non_null(doc);
    int count = 0;
    const cJSON *v;
    cJSON_ArrayForEach (v, cJSON_GetObjectItemCaseSensitive(doc, "vectors"))
        run_vector(v, &count);
    /* The file holds 59 vectors for this suite; every one must have run. */
    assert_int_equal(count, 59);
    cJSON_Delete(doc);
    free(text);
}

static void sys_fill(void *ctx, uint8_t *out, size_t len)
{
    (void)ctx;
    randombytes_buf(out, len);
}

static void make_xx(noise_hs **i, noise_hs **r, uint8_t si[32], uint8_t sr[32])
{
    randombytes_buf(si, 32);
    randombytes_buf(sr, 32);
    banter_rng rng = {sys_fill, NULL};
    noise_hs_config ci = {.protocol_name = "Noise_XX_25519_ChaChaPoly_BLAKE2b",
                          .role = NOISE_INITIATOR,
                          .s = si,
                          .rng = rng};
    noise_hs_config cr = ci;
    cr.role = NOISE_RESPONDER;
    cr.s = sr;
    assert_int_equal(noise_hs_new(i, &ci), 0);
    assert_int_equal(noise_hs_new(r, &cr), 0);
}

static void test_xx_random_and_rekey(void **state)
{
    (void)state;
    noise_hs *i, *r;
    uint8_t si[32], sr[32], msg[256], pl[256];
    size_t n, pn;
    make_xx(&i, &r, si, sr);
    while (noise_hs_action(i) != NOISE_SPLIT) {
        noise_hs *w = noise_hs_action(i) == NOISE_WRITE ? i : r;
        noise_hs *d = w == i ? r : i;
        assert_int_equal(noise_hs_write(w, (const uint8_t *)"hi", 2, msg, &n), 0);
        assert_int_equal(noise_hs_read(d, msg, n, pl, sizeof pl, &pn), 0);
        assert_int_equal(pn, 2);
    }
    /* Each side learned the other's static key. */
    uint8_t pub[32];
    bcrypto_dh_public(pub, sr);
    assert_memory_equal(noise_hs_remote_static(i), pub, 32);
    bcrypto_dh_public(pub, si);
    assert_memory_equal(noise_hs_remote_static(r), pub, 32);

    noise_cipher is, ir, rs, rr;
    assert_int_equal(noise_hs_split(i, &is, &ir), 0);
    assert_int_equal(noise_hs_split(r, &rs, &rr), 0);
    assert_int_equal(noise_hs_split(i, &is, &ir), BANTER_ESTATE);

    uint8_t ct[64], pt[64];
    noise_cipher_rekey(&is);
    assert_int_equal(noise_cipher_encrypt(&is, NULL, 0, (const uint8_t *)"x", 1, ct), 0);
    /* Receiver that did not rekey cannot read it; after rekey it can. */
    noise_cipher stale = rr;
    assert_int_equal(noise_cipher_decrypt(&stale, NULL, 0, ct, 17, pt), BANTER_EBADTAG);
    noise_cipher_rekey(&rr);
    assert_int_equal(noise_cipher_decrypt(&rr, NULL, 0, ct, 17, pt), 0);
    assert_int_equal(pt[0], 'x');
    /* A tag failure leaves the nonce where it was. */
    assert_int_equal(stale.n, 0);
    noise_hs_free(i);
    noise_hs_free(r);
}

static void test_tampered_handshake_fails(void **state)
{
    (void)state;
    noise_hs *i, *r;
    uint8_t si[32], sr[32], msg[256], pl[256];
    size_t n, pn;
    make_xx(&i, &r, si, sr);
    assert_int_equal(noise_hs_write(i, NULL, 0, msg, &n), 0);
    assert_int_equal(noise_hs_read(r, msg, n, pl, sizeof pl, &pn), 0);
    assert_int_equal(noise_hs_write(r, NULL, 0, msg, &n), 0);
    msg[40] ^= 1;
    assert_int_equal(noise_hs_read(i, msg, n, pl, sizeof pl, &pn), BANTER_EBADTAG);
    assert_int_equal(noise_hs_action(i), NOISE_FAILED);
    assert_int_equal(noise_hs_write(i, NULL, 0, msg, &n), BANTER_ESTATE);
    noise_hs_free(i);
    noise_hs_free(r);
}

static void test_truncated_and_wrong_turn(void **state)
{
    (void)state;
    noise_hs *i, *r;
    uint8_t si[32], sr[32], msg[256], pl[256];
    size_t n, pn;
    make_xx(&i, &r, si, sr);
    assert_int_equal(noise_hs_read(i, msg, 32, pl, sizeof pl, &pn), BANTER_ESTATE);
    assert_int_equal(noise_hs_write(r, NULL, 0, msg, &n), BANTER_ESTATE);
    assert_int_equal(noise_hs_read(r, msg, 31, pl, sizeof pl, &pn), BANTER_ETRUNCATED);
    assert_int_equal(noise_hs_action(r), NOISE_FAILED);
    noise_hs_free(i);
    noise_hs_free(r);
}

static void test_oversized_payload(void **state)
{
    (void)state;
    noise_hs *i, *r;
    uint8_t si[32], sr[32];
    static uint8_t big[NOISE_MAX_MSG + 64], out[NOISE_MAX_MSG + 64];
    size_t n;
    make_xx(&i, &r, si, sr);
    /* 32 bytes of e plus the payload must fit in 65535. */
    assert_int_equal(noise_hs_write(i, big, NOISE_MAX_MSG - 31, out, &n), BANTER_ETOOBIG);
    assert_int_equal(noise_hs_action(i), NOISE_WRITE); /* unchanged */
    assert_int_equal(noise_hs_write(i, big, NOISE_MAX_MSG - 32, out, &n), 0);
    assert_int_equal(n, NOISE_MAX_MSG);
    noise_hs_free(i);
    noise_hs_free(r);
}

static void test_bad_config(void **state)
{
    (void)state;
    noise_hs *hs;
    uint8_t k[32] = {1};
    banter_rng rng = {sys_fill, NULL};
    const char *bad[] = {"Noise_XX_448_ChaChaPoly_BLAKE2b",
                         "Noise_ZZ_25519_ChaChaPoly_BLAKE2b",
                         "Noise_XXfallback_25519_ChaChaPoly_BLAKE2b",
                         "Noise_XXpsk9_25519_ChaChaPoly_BLAKE2b",
                         "Noise_XX_25519_AESGCM_SHA256",
                         "",
                         "Noise__25519_ChaChaPoly_BLAKE2b"};
    for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
        noise_hs_config c = {.protocol_name = bad[j], .s = k, .rng = rng};
        assert_int_equal(noise_hs_new(&hs, &c), BANTER_EUNSUPPORTED);
        assert_null(hs);
    }
    /* XX needs a static key; IK's initiator needs the responder's. */
    noise_hs_config c = {.protocol_name = "Noise_XX_25519_ChaChaPoly_BLAKE2b", .rng = rng};
    assert_int_equal(noise_hs_new(&hs, &c), BANTER_EINVAL);
    c.protocol_name = "Noise_IK_25519_ChaChaPoly_BLAKE2b";
    c.s = k;
    assert_int_equal(noise_hs_new(&hs, &c), BANTER_EINVAL);
    /* A psk pattern without the psk. */
    c.protocol_name = "Noise_NNpsk0_25519_ChaChaPoly_BLAKE2b";
    assert_int_equal(noise_hs_new(&hs, &c), BANTER_EINVAL);
    /* No randomness and no fixed ephemeral. */
    c.protocol_name = "Noise_NN_25519_ChaChaPoly_BLAKE2b";
    c.rng.fill = NULL;
    assert_int_equal(noise_hs_new(&hs, &c), BANTER_EINVAL);
}

static void test_low_order_key_refused(void **state)
{
    (void)state;
    noise_hs *i, *r;
    uint8_t si[32], sr[32], msg[256], pl[256];
    size_t n, pn;
    make_xx(&i, &r, si, sr);
    assert_int_equal(noise_hs_write(i, NULL, 0, msg, &n), 0);
    memset(msg, 0, 32); /* the identity point: ee gives an all-zero secret */
    assert_int_equal(noise_hs_read(r, msg, n, pl, sizeof pl, &pn), 0);
    assert_int_equal(noise_hs_write(r, NULL, 0, msg, &n), BANTER_EDH);
    assert_int_equal(noise_hs_action(r), NOISE_FAILED);
    noise_hs_free(i);
    noise_hs_free(r);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_xx_random_and_rekey),
        cmocka_unit_test(test_tampered_handshake_fails),
        cmocka_unit_test(test_truncated_and_wrong_turn),
        cmocka_unit_test(test_oversized_payload),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_low_order_key_refused),
    };
    return cmocka_run_group_tests_name("noise", tests, NULL, NULL);
}
