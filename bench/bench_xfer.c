/* SPDX-License-Identifier: MIT */
/*
 * bench_xfer.c - what the primitives of a file transfer cost on their own,
 * the baseline for the CPU per byte of a Banter transfer
 * (bench/bench_transfer.sh).
 *
 *   bench_xfer FILE DIR
 *
 * Goes through FILE in 61440-byte pieces (a CHUNK's data) and measures, on
 * this thread's CPU clock (user and system time), each primitive alone:
 * ChaCha20-Poly1305 IETF encryption and decryption (libsodium, as the Noise
 * transport uses it), the BLAKE2b-256 file hash, and writing the data to a
 * new file in DIR (the same disk the receiver writes to; deleted after).
 * The file is read 16 pieces (960 KiB) at a time outside the timed parts,
 * and each primitive runs over those pieces while they are in the cache,
 * as they are in a node, which handles each piece as it arrives. Prints:
 *
 *   RESULT xfer_prims bytes=N encrypt_ns=E decrypt_ns=D hash_ns=H write_ns=W
 *
 * in nanoseconds of CPU per byte. With no arguments (as `make bench` runs
 * every bench binary) it prints a note and exits 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PIECE 61440u
#define BLOCK (16u * PIECE) /* read at a time; stays in cache across the primitives */
#define TAG   crypto_aead_chacha20poly1305_IETF_ABYTES

static double cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int read_block(int fd, uint8_t *b, size_t want, off_t off, size_t *got)
{
    *got = 0;
    while (*got < want) {
        ssize_t n = pread(fd, b + *got, want - *got, off + (off_t)*got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        *got += (size_t)n;
    }
    return 0;
}

struct totals {
    double enc, dec, hash, wr;
};

/* One block: each primitive over all its pieces, timed as a whole. */
static int run_block(const uint8_t *pt, uint8_t *ct, uint8_t *out, size_t len, off_t off, int wfd,
                     crypto_generichash_state *h, struct totals *t)
{
    static const uint8_t key[32] = {1};
    uint8_t nonce[12] = {0};
    size_t np = (len + PIECE - 1) / PIECE;
    double t0 = cpu_ns();
    for (size_t i = 0; i < np; i++) {
        size_t n = len - i * PIECE < PIECE ? len - i * PIECE : PIECE;
        memcpy(nonce + 4, &i, sizeof i < 8 ? sizeof i : 8);
        crypto_aead_chacha20poly1305_ietf_encrypt(ct + i * (PIECE + TAG), NULL, pt + i * PIECE, n,
                                                  NULL, 0, NULL, nonce, key);
    }
    double t1 = cpu_ns();
    for (size_t i = 0; i < np; i++) {
        size_t n = len - i * PIECE < PIECE ? len - i * PIECE : PIECE;
        memcpy(nonce + 4, &i, sizeof i < 8 ? sizeof i : 8);
        if (crypto_aead_chacha20poly1305_ietf_decrypt(out + i * PIECE, NULL, NULL,
                                                      ct + i * (PIECE + TAG), n + TAG, NULL, 0,
                                                      nonce, key) != 0)
            return -1;
    }
    double t2 = cpu_ns();
    for (size_t i = 0; i < np; i++) {
        size_t n = len - i * PIECE < PIECE ? len - i * PIECE : PIECE;
        crypto_generichash_update(h, out + i * PIECE, n);
    }
    double t3 = cpu_ns();
    for (size_t i = 0; i < np; i++) {
        size_t n = len - i * PIECE < PIECE ? len - i * PIECE : PIECE;
        if (pwrite(wfd, out + i * PIECE, n, off + (off_t)(i * PIECE)) != (ssize_t)n)
            return -1;
    }
    double t4 = cpu_ns();
    t->enc += t1 - t0;
    t->dec += t2 - t1;
    t->hash += t3 - t2;
    t->wr += t4 - t3;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        printf("bench_xfer: the primitives of a transfer; run by bench/bench_transfer.sh "
               "(bench_xfer FILE DIR)\n");
        return 0;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/.bench_xfer.tmp", argv[2]);
    int rfd = open(argv[1], O_RDONLY | O_CLOEXEC);
    int wfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    uint8_t *pt = malloc(BLOCK), *ct = malloc(BLOCK / PIECE * (PIECE + TAG)), *out = malloc(BLOCK);
    if (sodium_init() < 0 || rfd < 0 || wfd < 0 || !pt || !ct || !out) {
        fprintf(stderr, "bench_xfer: cannot start: %s\n", strerror(errno));
        return 1;
    }
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 32);
    struct totals t = {0};
    uint64_t total = 0;
    for (;;) {
        size_t got;
        if (read_block(rfd, pt, BLOCK, (off_t)total, &got) != 0 ||
            (got && run_block(pt, ct, out, got, (off_t)total, wfd, &h, &t) != 0)) {
            fprintf(stderr, "bench_xfer: %s\n", strerror(errno));
            unlink(tmp);
            return 1;
        }
        total += got;
        if (got < BLOCK)
            break;
    }
    uint8_t digest[32];
    crypto_generichash_final(&h, digest, sizeof digest);
    close(wfd);
    unlink(tmp);
    close(rfd);
    double b = total ? (double)total : 1;
    printf("RESULT xfer_prims bytes=%llu encrypt_ns=%.3f decrypt_ns=%.3f hash_ns=%.3f "
           "write_ns=%.3f\n",
           (unsigned long long)total, t.enc / b, t.dec / b, t.hash / b, t.wr / b);
    free(pt);
    free(ct);
    free(out);
    return 0;
}
