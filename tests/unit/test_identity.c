/* SPDX-License-Identifier: MIT */
/* test_identity.c - device identity: key file round trip and refusals, load-or-create, the
 * fingerprint and its prefix matching, and the X25519 form of the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "identity.h"
#include "banter_limits.h"

#define MAGIC "banter-ed25519-seed-v1 "

/* A scratch directory per test, removed with everything in it. */
struct scratch {
    char dir[64];
    char key[128];
};

static int setup(void **state)
{
    struct scratch *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    snprintf(s->dir, sizeof s->dir, "/tmp/banter-test-identity-XXXXXX");
    if (!mkdtemp(s->dir)) {
        free(s);
        return -1;
    }
    snprintf(s->key, sizeof s->key, "%s/identity.key", s->dir);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    struct scratch *s = *state;
    /* Only names the tests create; rmdir fails loudly if one was missed. */
    static const char *names[] = {"identity.key", "identity.key.tmp", "link", "sub", "other.key"};
    char path[192];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", s->dir, names[i]);
        if (unlink(path) != 0)
            rmdir(path);
    }
    int r = rmdir(s->dir);
    free(s);
    return r;
}

static banter_rng rng(void) { return bcrypto_rng_system(); }

/* Write exactly n bytes to path with the given mode. */
static void write_file(const char *path, const void *p, size_t n, mode_t mode)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
}

/* The key file text for a seed of n bytes, as the format says. */
static size_t keyfile_text(char *out, size_t cap, const uint8_t *seed, size_t n)
{
    size_t m = strlen(MAGIC);
    memcpy(out, MAGIC, m);
    sodium_bin2base64(out + m, cap - m - 1, seed, n, sodium_base64_VARIANT_ORIGINAL);
    size_t len = strlen(out);
    out[len++] = '\n';
    out[len] = '\0';
    return len;
}

static void test_save_load_roundtrip(void **state)
{
    struct scratch *s = *state;
    identity *a = NULL, *b = NULL;
    struct stat st;

    assert_int_equal(identity_generate(&a, rng()), 0);
    assert_non_null(a);
    assert_int_equal(identity_save(a, s->key), 0);
    assert_int_equal(stat(s->key, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    /* No temporary file left behind. */
    char tmp[192];
    snprintf(tmp, sizeof tmp, "%s.tmp", s->key);
    assert_int_equal(access(tmp, F_OK), -1);

    assert_int_equal(identity_load(&b, s->key), 0);
    assert_non_null(b);
    assert_memory_equal(identity_public(a), identity_public(b), BCRYPTO_ED_PKLEN);
    assert_memory_equal(identity_dh_public(a), identity_dh_public(b), BCRYPTO_DHLEN);
    assert_memory_equal(identity_dh_secret(a), identity_dh_secret(b), BCRYPTO_DHLEN);
    identity_free(b);

    /* Saving over an existing, too-open file replaces it with a 0600 one. */
    identity *c = NULL;
    assert_int_equal(identity_generate(&c, rng()), 0);
    assert_int_equal(chmod(s->key, 0644), 0);
    assert_int_equal(identity_save(c, s->key), 0);
    assert_int_equal(stat(s->key, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(identity_load(&b, s->key), 0);
    assert_memory_equal(identity_public(c), identity_public(b), BCRYPTO_ED_PKLEN);
    assert_memory_not_equal(identity_public(a), identity_public(b), BCRYPTO_ED_PKLEN);
    identity_free(a);
    identity_free(b);
    identity_free(c);
    identity_free(NULL);
}

static void test_file_format(void **state)
{
    /* A file written by hand in the documented format loads as the key of
     * that seed, and the saved file is byte for byte that format. */
    struct scratch *s = *state;
    uint8_t seed[BCRYPTO_ED_SEEDLEN];
    char text[256];
    for (size_t i = 0; i < sizeof seed; i++)
        seed[i] = (uint8_t)(i * 3 + 1);
    size_t n = keyfile_text(text, sizeof text, seed, sizeof seed);
    write_file(s->key, text, n, 0600);

    identity *a = NULL, *b = NULL;
    assert_int_equal(identity_load(&a, s->key), 0);
    assert_int_equal(identity_from_seed(&b, seed), 0);
    assert_memory_equal(identity_public(a), identity_public(b), BCRYPTO_ED_PKLEN);
    /* And the public key is libsodium's Ed25519 key of that seed. */
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_seed_keypair(pk, sk, seed);
    assert_memory_equal(identity_public(a), pk, sizeof pk);

    assert_int_equal(identity_save(b, s->key), 0);
    char back[256];
    FILE *f = fopen(s->key, "rb");
    assert_non_null(f);
    size_t got = fread(back, 1, sizeof back, f);
    fclose(f);
    assert_int_equal(got, n);
    assert_memory_equal(back, text, n);
    identity_free(a);
    identity_free(b);
}

static void test_permissions(void **state)
{
    struct scratch *s = *state;
    identity *a = NULL, *b = NULL;
    assert_int_equal(identity_generate(&a, rng()), 0);
    assert_int_equal(identity_save(a, s->key), 0);

    static const mode_t refused[] = {0644, 0640, 0604, 0660, 0602, 0620, 0610, 0601, 0666};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        assert_int_equal(chmod(s->key, refused[i]), 0);
        b = (identity *)&b; /* must be reset to NULL */
        assert_int_equal(identity_load(&b, s->key), BANTER_EPERM);
        assert_null(b);
    }
    /* Owner-only modes are fine. */
    static const mode_t fine[] = {0400, 0600, 0700};
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
        assert_int_equal(chmod(s->key, fine[i]), 0);
        assert_int_equal(identity_load(&b, s->key), 0);
        assert_memory_equal(identity_public(a), identity_public(b), BCRYPTO_ED_PKLEN);
        identity_free(b);
    }
    identity_free(a);
}

static void test_missing_and_not_files(void **state)
{
    struct scratch *s = *state;
    identity *b = (identity *)&b;
    char path[192];

    errno = 0;
    assert_int_equal(identity_load(&b, s->key), BANTER_EIO);
    assert_int_equal(errno, ENOENT);
    assert_null(b);

    /* A directory is not a key file. */
    snprintf(path, sizeof path, "%s/sub", s->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(identity_load(&b, path), BANTER_EFORMAT);
    assert_null(b);

    /* A symbolic link is not followed, even to a good key file. */
    identity *a = NULL;
    assert_int_equal(identity_generate(&a, rng()), 0);
    assert_int_equal(identity_save(a, s->key), 0);
    snprintf(path, sizeof path, "%s/link", s->dir);
    assert_int_equal(symlink(s->key, path), 0);
    errno = 0;
    assert_int_equal(identity_load(&b, path), BANTER_EIO);
    assert_int_equal(errno, ELOOP);
    assert_null(b);
    identity_free(a);

    /* Saving into a directory that does not exist fails with errno. */
    snprintf(path, sizeof path, "%s/none/identity.key", s->dir);
    errno = 0;
    assert_int_equal(identity_generate(&a, rng()), 0);
    assert_int_equal(identity_save(a, path), BANTER_EIO);
    assert_int_equal(errno, ENOENT);
    identity_free(a);
}

static void test_corrupt_content(void **state)
{
    struct scratch *s = *state;
    uint8_t seed[64];
    char text[256];
    identity *b;
    randombytes_buf(seed, sizeof seed);

    /* The good file first, so each case below differs from it in one way. */
    size_t n = keyfile_text(text, sizeof text, seed, BCRYPTO_ED_SEEDLEN);
    write_file(s->key, text, n, 0600);
    assert_int_equal(identity_load(&b, s->key), 0);
    identity_free(b);

    struct {
        const char *what;
        char text[256];
        size_t len;
    } bad[16];
    size_t nbad = 0;
#define BAD(desc)                                                                                  \
    do {                                                                                           \
        bad[nbad].what = desc;                                                                     \
        bad[nbad].len = strlen(bad[nbad].text);                                                    \
        nbad++;                                                                                    \
    } while (0)

    memcpy(bad[nbad].text, text, n + 1);
    memcpy(bad[nbad].text, "banter-ed25519-seed-v2", 22);
    BAD("wrong magic");
    memcpy(bad[nbad].text, text, n + 1);
    bad[nbad].text[0] = 'B';
    BAD("magic case");
    snprintf(bad[nbad].text, sizeof bad[nbad].text, "%s", text + strlen(MAGIC));
    BAD("no magic");
    memcpy(bad[nbad].text, text, n + 1);
    bad[nbad].text[strlen(MAGIC) + 3] = '!';
    BAD("bad base64 character");
    memcpy(bad[nbad].text, text, n + 1);
    bad[nbad].text[n - 2] = '\n'; /* drop the '=' padding */
    bad[nbad].text[n - 1] = '\0';
    BAD("missing padding");
    memcpy(bad[nbad].text, text, n + 1);
    bad[nbad].text[n - 1] = '\0';
    BAD("missing newline");
    memcpy(bad[nbad].text, text, n + 1);
    memcpy(bad[nbad].text + n, "\n", 2);
    BAD("extra newline");
    memcpy(bad[nbad].text, text, n + 1);
    memcpy(bad[nbad].text + n - 1, " \n", 3);
    BAD("trailing space");
    memcpy(bad[nbad].text, text, n + 1);
    bad[nbad].text[n - 1] = '\r';
    BAD("CR instead of LF");
    keyfile_text(bad[nbad].text, sizeof bad[nbad].text, seed, BCRYPTO_ED_SEEDLEN - 1);
    BAD("31-byte seed");
    keyfile_text(bad[nbad].text, sizeof bad[nbad].text, seed, BCRYPTO_ED_SEEDLEN + 1);
    BAD("33-byte seed");
    keyfile_text(bad[nbad].text, sizeof bad[nbad].text, seed, 64);
    BAD("64-byte seed");
    keyfile_text(bad[nbad].text, sizeof bad[nbad].text, seed, 0);
    BAD("empty seed");
    snprintf(bad[nbad].text, sizeof bad[nbad].text, "%s", MAGIC);
    BAD("magic only");
    bad[nbad].text[0] = '\0';
    BAD("empty file");
#undef BAD

    for (size_t i = 0; i < nbad; i++) {
        write_file(s->key, bad[i].text, bad[i].len, 0600);
        b = (identity *)&b;
        int r = identity_load(&b, s->key);
        if (r != BANTER_EFORMAT)
            fail_msg("%s: got %s", bad[i].what, banter_errname(r));
        assert_null(b);
    }

    /* A valid key followed by enough padding to reach the size limit, or
     * far past it. */
    size_t sizes[] = {BANTER_MAX_KEYFILE, BANTER_MAX_KEYFILE + 1, 100000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *huge = malloc(sizes[i]);
        assert_non_null(huge);
        memset(huge, '\n', sizes[i]);
        memcpy(huge, text, n);
        write_file(s->key, huge, sizes[i], 0600);
        free(huge);
        assert_int_equal(identity_load(&b, s->key), BANTER_EFORMAT);
    }
}

static void test_load_or_create(void **state)
{
    struct scratch *s = *state;
    identity *a = NULL, *b = NULL;
    bool created = false;
    struct stat st;

    assert_int_equal(identity_load_or_create(&a, s->key, rng(), &created), 0);
    assert_true(created);
    assert_non_null(a);
    assert_int_equal(stat(s->key, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    assert_int_equal(identity_load_or_create(&b, s->key, rng(), &created), 0);
    assert_false(created);
    assert_memory_equal(identity_public(a), identity_public(b), BCRYPTO_ED_PKLEN);
    identity_free(b);
    identity_free(a);

    /* A file that exists but is refused is never replaced. */
    assert_int_equal(chmod(s->key, 0644), 0);
    created = true;
    assert_int_equal(identity_load_or_create(&b, s->key, rng(), &created), BANTER_EPERM);
    assert_false(created);
    assert_null(b);
    write_file(s->key, "garbage\n", 8, 0600);
    assert_int_equal(identity_load_or_create(&b, s->key, rng(), &created), BANTER_EFORMAT);
    assert_false(created);
    assert_null(b);
    char back[16] = {0};
    FILE *f = fopen(s->key, "rb");
    assert_non_null(f);
    assert_int_equal(fread(back, 1, sizeof back - 1, f), 8);
    fclose(f);
    assert_string_equal(back, "garbage\n");

    /* Creating where the file cannot be written reports it. */
    char path[192];
    snprintf(path, sizeof path, "%s/none/identity.key", s->dir);
    b = (identity *)&b;
    assert_int_equal(identity_load_or_create(&b, path, rng(), &created), BANTER_EIO);
    assert_false(created);
    assert_null(b);
}

/* The fingerprint recomputed from its definition: BLAKE2b-512 of the
 * context string and the key; eight groups of five bytes, big-endian,
 * modulo 100000, as five digits. */
static void reference_fingerprint(const uint8_t pk[32], char out[IDENTITY_FP_LEN + 1])
{
    const char *ctx = "banter-fingerprint-v1";
    uint8_t in[64], h[64];
    size_t cl = strlen(ctx);
    memcpy(in, ctx, cl);
    memcpy(in + cl, pk, 32);
    crypto_generichash(h, sizeof h, in, cl + 32, NULL, 0);
    char *o = out;
    for (int g = 0; g < 8; g++) {
        uint64_t v = 0;
        for (int i = 0; i < 5; i++)
            v = v << 8 | h[g * 5 + i];
        o += snprintf(o, 7, g ? " %05u" : "%05u", (unsigned)(v % 100000));
    }
}

/* docs/protocol.md, section 2.2: the worked example. */
static void test_protocol_example(void **state)
{
    (void)state;
    static const uint8_t ed[32] = {0x03, 0xa1, 0x07, 0xbf, 0xf3, 0xce, 0x10, 0xbe, 0x1d, 0x70, 0xdd,
                                   0x18, 0xe7, 0x4b, 0xc0, 0x99, 0x67, 0xe4, 0xd6, 0x30, 0x9b, 0xa5,
                                   0x0d, 0x5f, 0x1d, 0xdc, 0x86, 0x64, 0x12, 0x55, 0x31, 0xb8};
    static const uint8_t x[32] = {0x47, 0x01, 0xd0, 0x84, 0x88, 0x45, 0x1f, 0x54, 0x5a, 0x40, 0x9f,
                                  0xb5, 0x8a, 0xe3, 0xe5, 0x85, 0x81, 0xca, 0x40, 0xac, 0x3f, 0x7f,
                                  0x11, 0x46, 0x98, 0xcd, 0x71, 0xde, 0xac, 0x73, 0xca, 0x01};
    uint8_t seed[BCRYPTO_ED_SEEDLEN];
    for (size_t i = 0; i < sizeof seed; i++)
        seed[i] = (uint8_t)i;
    identity *a = NULL;
    char fp[IDENTITY_FP_LEN + 1];
    assert_int_equal(identity_from_seed(&a, seed), 0);
    assert_memory_equal(identity_public(a), ed, sizeof ed);
    assert_memory_equal(identity_dh_public(a), x, sizeof x);
    identity_fingerprint(identity_public(a), fp);
    assert_string_equal(fp, "07251 62508 23159 42536 74156 24822 86418 51830");
    identity_free(a);
}

static void test_fingerprint(void **state)
{
    (void)state;
    uint8_t seed[BCRYPTO_ED_SEEDLEN] = {0};
    identity *a = NULL, *b = NULL;
    char fa[IDENTITY_FP_LEN + 1], fa2[IDENTITY_FP_LEN + 1], fb[IDENTITY_FP_LEN + 1];
    char ref[IDENTITY_FP_LEN + 1];

    assert_int_equal(IDENTITY_FP_LEN, 47);
    assert_int_equal(identity_from_seed(&a, seed), 0);
    memset(fa, 'x', sizeof fa);
    identity_fingerprint(identity_public(a), fa);
    assert_int_equal(strlen(fa), 47);
    for (size_t i = 0; i < 47; i++) {
        if (i % 6 == 5)
            assert_int_equal(fa[i], ' ');
        else
            assert_true(fa[i] >= '0' && fa[i] <= '9');
    }
    reference_fingerprint(identity_public(a), ref);
    assert_string_equal(fa, ref);

    /* Deterministic: the same seed always gives the same digits. */
    identity_free(a);
    assert_int_equal(identity_from_seed(&a, seed), 0);
    identity_fingerprint(identity_public(a), fa2);
    assert_string_equal(fa, fa2);

    /* Different keys, different fingerprints (one bit of seed apart, and
     * random ones). */
    seed[31] ^= 1;
    assert_int_equal(identity_from_seed(&b, seed), 0);
    identity_fingerprint(identity_public(b), fb);
    assert_string_not_equal(fa, fb);
    identity_free(b);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(identity_generate(&b, rng()), 0);
        identity_fingerprint(identity_public(b), fb);
        assert_string_not_equal(fa, fb);
        reference_fingerprint(identity_public(b), ref);
        assert_string_equal(fb, ref);
        identity_free(b);
    }
    identity_free(a);
}

static void test_fingerprint_prefix(void **state)
{
    (void)state;
    const char *fp = "01234 56789 13579 24680 11111 22222 33333 44444";
    assert_true(identity_fingerprint_has_prefix(fp, "0"));
    assert_true(identity_fingerprint_has_prefix(fp, "01234"));
    assert_true(identity_fingerprint_has_prefix(fp, "01234 5"));
    assert_true(identity_fingerprint_has_prefix(fp, "012345"));
    assert_true(identity_fingerprint_has_prefix(fp, "01234-56789"));
    assert_true(identity_fingerprint_has_prefix(fp, "01234-56789-135"));
    assert_true(identity_fingerprint_has_prefix(fp, "  0123 4--5 6 "));
    assert_true(identity_fingerprint_has_prefix(fp, fp));
    assert_true(identity_fingerprint_has_prefix(fp, "0123456789135792468011111222223333344444"));
    assert_true(
        identity_fingerprint_has_prefix(fp, "01234-56789-13579-24680-11111-22222-33333-44444"));

    /* Nothing typed matches nothing. */
    assert_false(identity_fingerprint_has_prefix(fp, ""));
    assert_false(identity_fingerprint_has_prefix(fp, " "));
    assert_false(identity_fingerprint_has_prefix(fp, "- -"));
    /* Non-digits. */
    assert_false(identity_fingerprint_has_prefix(fp, "0123a"));
    assert_false(identity_fingerprint_has_prefix(fp, "01234_5"));
    assert_false(identity_fingerprint_has_prefix(fp, "01234.56789"));
    assert_false(identity_fingerprint_has_prefix(fp, "\xd9\xa0")); /* Arabic-Indic zero */
    /* Not a prefix: a wrong digit anywhere, or more digits than there are. */
    assert_false(identity_fingerprint_has_prefix(fp, "1"));
    assert_false(identity_fingerprint_has_prefix(fp, "01235"));
    assert_false(identity_fingerprint_has_prefix(fp, "01234 56788"));
    assert_false(identity_fingerprint_has_prefix(fp, "1234"));
    assert_false(identity_fingerprint_has_prefix(fp, "56789"));
    assert_false(identity_fingerprint_has_prefix(fp, "01234567891357924680111112222233333444440"));
    assert_false(identity_fingerprint_has_prefix(fp, "44444"));

    /* And against real fingerprints. */
    identity *a = NULL;
    char f[IDENTITY_FP_LEN + 1], q[IDENTITY_FP_LEN + 1];
    assert_int_equal(identity_generate(&a, rng()), 0);
    identity_fingerprint(identity_public(a), f);
    for (size_t k = 1; k <= IDENTITY_FP_LEN; k++) {
        memcpy(q, f, k);
        q[k] = '\0';
        assert_true(identity_fingerprint_has_prefix(f, q));
    }
    q[0] = f[0] == '9' ? '0' : (char)(f[0] + 1);
    q[1] = '\0';
    assert_false(identity_fingerprint_has_prefix(f, q));
    identity_free(a);
}

static void test_dh_keys(void **state)
{
    (void)state;
    for (int i = 0; i < 20; i++) {
        identity *a = NULL;
        assert_int_equal(identity_generate(&a, rng()), 0);
        uint8_t pub[BCRYPTO_DHLEN], x[crypto_scalarmult_BYTES];
        bcrypto_dh_public(pub, identity_dh_secret(a));
        assert_memory_equal(pub, identity_dh_public(a), BCRYPTO_DHLEN);
        /* The same key libsodium derives from the Ed25519 public key. */
        assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(x, identity_public(a)), 0);
        assert_memory_equal(x, identity_dh_public(a), BCRYPTO_DHLEN);
        assert_int_equal(bcrypto_ed_to_x_public(pub, identity_public(a)), 0);
        assert_memory_equal(pub, identity_dh_public(a), BCRYPTO_DHLEN);

        /* Its signatures verify under its public key, and only for the
         * message signed. */
        uint8_t sig[BCRYPTO_SIGLEN];
        identity_sign(a, (const uint8_t *)"hello", 5, sig);
        assert_int_equal(bcrypto_verify(sig, (const uint8_t *)"hello", 5, identity_public(a)), 0);
        assert_int_equal(bcrypto_verify(sig, (const uint8_t *)"hellp", 5, identity_public(a)),
                         BANTER_EIDENTITY);
        identity_free(a);
    }
}

int main(void)
{
    if (bcrypto_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_save_load_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_and_not_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_or_create, setup, teardown),
        cmocka_unit_test(test_protocol_example),
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_fingerprint_prefix),
        cmocka_unit_test(test_dh_keys),
    };
    return cmocka_run_group_tests_name("identity", tests, NULL, NULL);
}
