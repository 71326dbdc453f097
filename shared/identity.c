/* SPDX-License-Identifier: MIT */
/* identity.c - device key pair, its key file and its fingerprint. */
#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banter_limits.h"

#define KEYFILE_MAGIC "banter-ed25519-seed-v1 "
#define FP_CONTEXT    "banter-fingerprint-v1"

struct identity {
    uint8_t seed[BCRYPTO_ED_SEEDLEN];
    uint8_t pk[BCRYPTO_ED_PKLEN];
    uint8_t sk[BCRYPTO_ED_SKLEN];
    uint8_t x_sk[BCRYPTO_DHLEN];
    uint8_t x_pk[BCRYPTO_DHLEN];
};

int identity_from_seed(identity **out, const uint8_t seed[static BCRYPTO_ED_SEEDLEN])
{
    identity *id = calloc(1, sizeof *id);
    *out = NULL;
    if (!id)
        return BANTER_ENOMEM;
    memcpy(id->seed, seed, BCRYPTO_ED_SEEDLEN);
    bcrypto_sign_seed_keypair(id->pk, id->sk, id->seed);
    bcrypto_ed_to_x_secret(id->x_sk, id->sk);
    bcrypto_dh_public(id->x_pk, id->x_sk);
    *out = id;
    return 0;
}

int identity_generate(identity **out, banter_rng rng)
{
    uint8_t seed[BCRYPTO_ED_SEEDLEN];
    rng.fill(rng.ctx, seed, sizeof seed);
    int r = identity_from_seed(out, seed);
    bcrypto_wipe(seed, sizeof seed);
    return r;
}

void identity_free(identity *id)
{
    if (!id)
        return;
    bcrypto_wipe(id, sizeof *id);
    free(id);
}

const uint8_t *identity_public(const identity *id) { return id->pk; }
const uint8_t *identity_dh_secret(const identity *id) { return id->x_sk; }
const uint8_t *identity_dh_public(const identity *id) { return id->x_pk; }

void identity_sign(const identity *id, const uint8_t *msg, size_t len,
                   uint8_t sig[static BCRYPTO_SIGLEN])
{
    bcrypto_sign(sig, msg, len, id->sk);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int identity_save(const identity *id, const char *path)
{
    char text[BANTER_MAX_KEYFILE];
    char tmp[4096];
    size_t mlen = strlen(KEYFILE_MAGIC);
    int fd = -1, ret = BANTER_EIO, saved;

    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return BANTER_EIO;
    }
    memcpy(text, KEYFILE_MAGIC, mlen);
    sodium_bin2base64(text + mlen, sizeof text - mlen - 1, id->seed, sizeof id->seed,
                      sodium_base64_VARIANT_ORIGINAL);
    size_t len = strlen(text);
    text[len++] = '\n';

    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        goto out;
    if (fchmod(fd, 0600) != 0 || write_all(fd, text, len) != 0 || fsync(fd) != 0)
        goto out;
    if (close(fd) != 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto out;
    ret = 0;
out:
    saved = errno;
    if (fd >= 0)
        close(fd);
    if (ret)
        unlink(tmp);
    bcrypto_wipe(text, sizeof text);
    errno = saved;
    return ret;
}

int identity_load(identity **out, const char *path)
{
    char text[BANTER_MAX_KEYFILE + 1];
    uint8_t seed[BCRYPTO_ED_SEEDLEN];
    struct stat st;
    size_t mlen = strlen(KEYFILE_MAGIC), seedlen, n = 0;
    const char *end;
    int ret = BANTER_EIO, saved;

    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return BANTER_EIO;
    if (fstat(fd, &st) != 0)
        goto out;
    if (!S_ISREG(st.st_mode)) {
        ret = BANTER_EFORMAT;
        goto out;
    }
    if ((st.st_mode & 077) != 0 || st.st_uid != geteuid()) {
        ret = BANTER_EPERM;
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, text + n, sizeof text - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            goto out;
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == sizeof text - 1) {
            ret = BANTER_EFORMAT;
            goto out;
        }
    }
    text[n] = '\0';
    ret = BANTER_EFORMAT;
    if (n < mlen + 1 || memcmp(text, KEYFILE_MAGIC, mlen) != 0 || text[n - 1] != '\n')
        goto out;
    if (sodium_base642bin(seed, sizeof seed, text + mlen, n - 1 - mlen, NULL, &seedlen, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        seedlen != sizeof seed || end != text + n - 1)
        goto out;
    ret = identity_from_seed(out, seed);
out:
    saved = errno;
    close(fd);
    bcrypto_wipe(text, sizeof text);
    bcrypto_wipe(seed, sizeof seed);
    errno = saved;
    return ret;
}

int identity_load_or_create(identity **out, const char *path, banter_rng rng, bool *created)
{
    *created = false;
    int r = identity_load(out, path);
    if (r != BANTER_EIO || errno != ENOENT)
        return r;
    r = identity_generate(out, rng);
    if (r)
        return r;
    r = identity_save(*out, path);
    if (r) {
        identity_free(*out);
        *out = NULL;
        return r;
    }
    *created = true;
    return 0;
}

void identity_fingerprint(const uint8_t pk[static BCRYPTO_ED_PKLEN],
                          char out[static IDENTITY_FP_LEN + 1])
{
    uint8_t h[BCRYPTO_HASHLEN];
    size_t o = 0;

    bcrypto_hash2(h, (const uint8_t *)FP_CONTEXT, strlen(FP_CONTEXT), pk, BCRYPTO_ED_PKLEN);
    for (int g = 0; g < IDENTITY_FP_GROUPS; g++) {
        /* Five bytes big-endian, reduced to five digits. */
        uint64_t v = 0;
        for (int i = 0; i < 5; i++)
            v = v << 8 | h[g * 5 + i];
        v %= 100000;
        if (g)
            out[o++] = ' ';
        for (int i = 4; i >= 0; i--) {
            out[o + (size_t)i] = (char)('0' + v % 10);
            v /= 10;
        }
        o += 5;
    }
    out[o] = '\0';
}

bool identity_fingerprint_has_prefix(const char *fp, const char *query)
{
    size_t matched = 0;
    for (const char *q = query; *q; q++) {
        if (*q == ' ' || *q == '-')
            continue;
        if (*q < '0' || *q > '9')
            return false;
        while (*fp == ' ')
            fp++;
        if (*fp != *q)
            return false;
        fp++;
        matched++;
    }
    return matched > 0;
}
