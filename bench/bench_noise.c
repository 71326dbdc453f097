/* SPDX-License-Identifier: MIT */
/*
 * bench_noise.c - Noise transport speed against libsodium's own
 * ChaCha20-Poly1305 (IETF), measured in the same run on one core.
 *
 * Each round times the baseline and then Banter for the same number of
 * 65519-byte messages (the largest plaintext a 65535-byte Noise message
 * carries); rounds alternate so both see the same machine state, and the
 * best round of each counts. Reported: the baseline rates, the rate of
 * noise_cipher encrypt+decrypt, the rate of whole sessions (framing, rekey
 * schedule, output queue) and their ratios to the baseline (target >= 0.9).
 * The sessions are made as the node makes its own (keep_buffers: a drained
 * buffer keeps its memory); the server's setting (a drained buffer is
 * freed, for many idle connections) is shown beside them.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "banter_limits.h"
#include "noise.h"
#include "session.h"

#define MSG_LEN   BANTER_MAX_PLAINTEXT
#define ROUNDS    7
#define PER_ROUND 4000 /* messages: ~260 MB each way per round */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t pt[MSG_LEN], ct[MSG_LEN + 16], back[MSG_LEN];
static uint8_t key[32];

static double sodium_encrypt_only(void)
{
    uint8_t nonce[12] = {0};
    double t = now();
    for (int i = 0; i < PER_ROUND; i++) {
        nonce[4] = (uint8_t)i;
        crypto_aead_chacha20poly1305_ietf_encrypt(ct, NULL, pt, MSG_LEN, NULL, 0, NULL, nonce, key);
    }
    return now() - t;
}

static double sodium_roundtrip(void)
{
    uint8_t nonce[12] = {0};
    unsigned long long n;
    double t = now();
    for (int i = 0; i < PER_ROUND; i++) {
        nonce[4] = (uint8_t)i;
        crypto_aead_chacha20poly1305_ietf_encrypt(ct, NULL, pt, MSG_LEN, NULL, 0, NULL, nonce, key);
        if (crypto_aead_chacha20poly1305_ietf_decrypt(back, &n, NULL, ct, MSG_LEN + 16, NULL, 0,
                                                      nonce, key) != 0)
            abort();
    }
    return now() - t;
}

static double noise_roundtrip(void)
{
    noise_cipher tx, rx;
    noise_cipher_init(&tx, key);
    noise_cipher_init(&rx, key);
    double t = now();
    for (int i = 0; i < PER_ROUND; i++) {
        if (noise_cipher_encrypt(&tx, NULL, 0, pt, MSG_LEN, ct) != 0 ||
            noise_cipher_decrypt(&rx, NULL, 0, ct, MSG_LEN + 16, back) != 0)
            abort();
    }
    return now() - t;
}

struct pair {
    identity *ia, *ib;
    session *a, *b;
};

static void pump(session *from, session *to, int *events)
{
    size_t len, used;
    const uint8_t *p;
    session_event ev;
    while ((p = session_out(from, &len)) != NULL) {
        size_t off = 0;
        while (off < len) {
            int r = session_feed(to, p + off, len - off, &used, &ev);
            if (r < 0)
                abort();
            off += used;
            if (r == 1)
                (*events)++;
        }
        /* Drain what the decoder still holds. */
        while (session_feed(to, NULL, 0, &used, &ev) == 1)
            (*events)++;
        session_out_consume(from, len);
    }
}

static void pair_open(struct pair *p, bool keep)
{
    banter_rng rng = bcrypto_rng_system();
    int ev = 0;
    if (identity_generate(&p->ia, rng) || identity_generate(&p->ib, rng))
        abort();
    session_config ca = {.role = NOISE_INITIATOR, .id = p->ia, .rng = rng, .keep_buffers = keep};
    session_config cb = {.role = NOISE_RESPONDER, .id = p->ib, .rng = rng, .keep_buffers = keep};
    if (session_new(&p->a, &ca) || session_new(&p->b, &cb))
        abort();
    for (int i = 0; i < 3; i++) {
        pump(p->a, p->b, &ev);
        pump(p->b, p->a, &ev);
    }
    if (!session_established(p->a) || !session_established(p->b))
        abort();
}

static void pair_close(struct pair *p)
{
    session_free(p->a);
    session_free(p->b);
    identity_free(p->ia);
    identity_free(p->ib);
}

static double session_roundtrip(struct pair *p)
{
    int events = 0;
    double t = now();
    for (int i = 0; i < PER_ROUND; i++) {
        if (session_send(p->a, pt, MSG_LEN) != 0)
            abort();
        pump(p->a, p->b, &events);
    }
    double dt = now() - t;
    if (events != PER_ROUND)
        abort();
    return dt;
}

static double best(const double *v)
{
    double b = v[0];
    for (int i = 1; i < ROUNDS; i++)
        b = v[i] < b ? v[i] : b;
    return b;
}

/* Two threads encrypting at once against one alone: how far crypto scales
 * across this machine's cores (shared cores or SMT siblings scale less). */
static void *enc_thread(void *arg)
{
    double *out = arg;
    uint8_t *in = malloc(MSG_LEN), *o = malloc(MSG_LEN + 16), nonce[12] = {0};
    if (!in || !o)
        abort();
    memcpy(in, pt, MSG_LEN);
    double t = now();
    for (int i = 0; i < PER_ROUND; i++) {
        nonce[4] = (uint8_t)i;
        crypto_aead_chacha20poly1305_ietf_encrypt(o, NULL, in, MSG_LEN, NULL, 0, NULL, nonce, key);
    }
    *out = now() - t;
    free(in);
    free(o);
    return NULL;
}

static int parallel(void)
{
    double one, two[2];
    enc_thread(&one);
    pthread_t t;
    if (pthread_create(&t, NULL, enc_thread, &two[0]) != 0)
        return 1;
    enc_thread(&two[1]);
    pthread_join(t, NULL);
    double mb = (double)PER_ROUND * MSG_LEN / 1e6;
    double r1 = mb / one, r2 = mb / two[0] + mb / two[1];
    printf("bench_noise --parallel: one thread %.1f MB/s, two threads %.1f MB/s, scaling %.2f\n",
           r1, r2, r2 / r1);
    return 0;
}

int main(int argc, char **argv)
{
    double enc[ROUNDS], base[ROUNDS], noise[ROUNDS], sess[ROUNDS], sfree[ROUNDS];
    struct pair p, pf;

    if (bcrypto_init() != 0)
        return 1;
    randombytes_buf(pt, sizeof pt);
    randombytes_buf(key, sizeof key);
    if (argc > 1 && strcmp(argv[1], "--parallel") == 0)
        return parallel();
    pair_open(&p, true);
    pair_open(&pf, false);
    for (int r = 0; r < ROUNDS; r++) {
        enc[r] = sodium_encrypt_only();
        base[r] = sodium_roundtrip();
        noise[r] = noise_roundtrip();
        sess[r] = session_roundtrip(&p);
        sfree[r] = session_roundtrip(&pf);
    }
    pair_close(&p);
    pair_close(&pf);

    double mb = (double)PER_ROUND * MSG_LEN / 1e6;
    double r_enc = mb / best(enc), r_base = mb / best(base);
    double r_noise = mb / best(noise), r_sess = mb / best(sess), r_free = mb / best(sfree);
    printf("bench_noise: %u-byte messages, %d per round, best of %d rounds, one core\n",
           (unsigned)MSG_LEN, PER_ROUND, ROUNDS);
    printf("  libsodium ChaCha20-Poly1305 IETF encrypt only    %8.1f MB/s\n", r_enc);
    printf("  libsodium ChaCha20-Poly1305 IETF encrypt+decrypt %8.1f MB/s  (baseline)\n", r_base);
    printf("  Noise CipherState encrypt+decrypt                %8.1f MB/s  ratio %.3f\n", r_noise,
           r_noise / r_base);
    printf("  Banter session send+receive (framed)             %8.1f MB/s  ratio %.3f\n", r_sess,
           r_sess / r_base);
    printf("  the same, server setting (drained: freed)        %8.1f MB/s  ratio %.3f\n", r_free,
           r_free / r_base);
    printf("  target: ratio >= 0.9 -> %s\n",
           r_noise / r_base >= 0.9 && r_sess / r_base >= 0.9 ? "met" : "NOT met");
    return 0;
}
