/* SPDX-License-Identifier: MIT */
/*
 * test_peer_xfer_sink.c - the receiving end of file transfers on its own
 * thread: a file written in pieces is hashed as it goes and moved to its
 * name once it matches, or deleted when it does not; a taken name is not
 * replaced; a part resumed after a sealed checkpoint takes the saved hash
 * state and reads nothing; a changed partial file, a changed or forged
 * checkpoint file, a missing partial file and a longer one are each found
 * and end with exactly the right bytes; a failed create is reported; a
 * write that fails half-way (the file size limit) or data that does not
 * continue the file fail the part, cut the file back to what is hashed,
 * and leave checkpoints a resume finishes from;
 * progress is reported on request once what was queued is stored.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bcrypto.h"
#include "core/xfer_sink.h"

#define SIZE  (20u * 1024 * 1024 + 12345) /* three checkpoints and a tail */
#define PIECE 61440u

struct fixture {
    char dir[64];
    int dfd;
    GMainContext *ctx;
    xsink *s;
    uint8_t *data;
    uint8_t hash[BANTER_FILE_HASHLEN];
    /* what the sink said */
    int opened, stored_n, finished, failed;
    uint64_t opened_bytes, stored;
    bool ok;
    char why[512], name[256];
    int err;
};

static void on_ev(void *ud, const xsink_ev *ev)
{
    struct fixture *f = ud;
    assert_ptr_equal(ev->owner, f);
    switch (ev->type) {
    case XSINK_OPENED:
        f->opened++;
        f->opened_bytes = ev->bytes;
        snprintf(f->why, sizeof f->why, "%s", ev->why ? ev->why : "");
        break;
    case XSINK_STORED:
        f->stored_n++;
        assert_true(ev->bytes >= f->stored);
        f->stored = ev->bytes;
        break;
    case XSINK_FINISHED:
        f->finished++;
        f->ok = ev->ok;
        snprintf(f->name, sizeof f->name, "%s", ev->ok ? ev->name : "");
        break;
    case XSINK_FAILED:
        f->failed++;
        f->err = ev->err;
        snprintf(f->why, sizeof f->why, "%s", ev->why);
        break;
    }
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/banter-test-sink-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->dfd = open(f->dir, O_RDONLY | O_DIRECTORY);
    assert_true(f->dfd >= 0);
    f->ctx = g_main_context_new();
    assert_int_equal(xsink_new(&f->s, f->ctx, on_ev, f), 0);
    f->data = malloc(SIZE);
    assert_non_null(f->data);
    for (size_t i = 0; i < SIZE; i++)
        f->data[i] = (uint8_t)(i * 2654435761u >> 13);
    bcrypto_hash h;
    bcrypto_hash_init(&h, sizeof f->hash);
    bcrypto_hash_update(&h, f->data, SIZE);
    bcrypto_hash_final(&h, f->hash, sizeof f->hash);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[160];
    xsink_free(f->s);
    g_main_context_unref(f->ctx);
    close(f->dfd);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f->data);
    free(f);
    return 0;
}

static xpart *open_part(struct fixture *f, const char *local, bool resume)
{
    xpart_params pp = {.dir_fd = f->dfd,
                       .part = "sub/.a.bin.00000000.banter-partial",
                       .state = "sub/.a.bin.00000000.hstate.banter-partial",
                       .legacy = "sub/.a.bin.00000000.banter-partial.sum",
                       .local = local,
                       .size = SIZE,
                       .resume = resume,
                       .owner = f,
                       .idx = 0};
    memcpy(pp.hash, f->hash, sizeof pp.hash);
    memset(pp.key.secret, 7, sizeof pp.key.secret);
    memset(pp.key.id, 9, sizeof pp.key.id);
    f->opened = f->failed = f->finished = 0;
    f->stored = 0;
    f->why[0] = '\0';
    xpart *p = xsink_open(f->s, &pp);
    assert_non_null(p);
    return p;
}

/* Run the main context until cond holds (at most 10 s). */
#define WAIT_FOR(f, cond)                                                                          \
    do {                                                                                           \
        for (int i_ = 0; !(cond) && i_ < 10000; i_++)                                              \
            if (!g_main_context_iteration((f)->ctx, FALSE))                                        \
                g_usleep(1000);                                                                    \
        assert_true(cond);                                                                         \
    } while (0)

static void write_range(xpart *p, const struct fixture *f, uint64_t from, uint64_t to)
{
    for (uint64_t o = from; o < to; o += PIECE)
        xsink_write(p, o, f->data + o, to - o < PIECE ? (size_t)(to - o) : PIECE);
}

static void path_of(const struct fixture *f, const char *rel, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", f->dir, rel);
}

static void check_final(const struct fixture *f, const char *rel)
{
    char path[256];
    struct stat st;
    path_of(f, rel, path, sizeof path);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, SIZE);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    uint8_t *b = malloc(SIZE);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, SIZE, fp), SIZE);
    fclose(fp);
    assert_memory_equal(b, f->data, SIZE);
    free(b);
    path_of(f, "sub/.a.bin.00000000.banter-partial", path, sizeof path);
    assert_int_not_equal(access(path, F_OK), 0);
    path_of(f, "sub/.a.bin.00000000.hstate.banter-partial", path, sizeof path);
    assert_int_not_equal(access(path, F_OK), 0);
}

/* Receive [0, upto), seal, let go: what a node does when it stops. Waits
 * for the sealed checkpoint (one every 8 MiB before it). */
static void receive_part_way(struct fixture *f, uint64_t upto)
{
    char path[256];
    struct stat st;
    xpart *p = open_part(f, "sub/a.bin", false);
    write_range(p, f, 0, upto);
    xsink_checkpoint(p);
    xsink_release(p);
    WAIT_FOR(f, f->stored == upto);
    assert_int_equal(f->opened, 1);
    assert_int_equal(f->opened_bytes, 0);
    uint64_t n = upto / XSINK_CHECKPOINT + (upto % XSINK_CHECKPOINT ? 1 : 0);
    off_t want = (off_t)(HSTATE_HDR_LEN + n * HSTATE_REC_LEN);
    path_of(f, "sub/.a.bin.00000000.hstate.banter-partial", path, sizeof path);
    for (int i = 0; i < 5000 && (stat(path, &st) != 0 || st.st_size < want); i++)
        g_usleep(1000);
    assert_int_equal(st.st_size, want);
}

/* Resume, expecting `from` bytes kept, then the rest: done and identical. */
static void resume_to_end(struct fixture *f, uint64_t from, const char *why)
{
    xpart *p = open_part(f, "sub/a.bin", true);
    WAIT_FOR(f, f->opened || f->failed);
    assert_int_equal(f->failed, 0);
    assert_int_equal(f->opened_bytes, from);
    if (!strstr(f->why, why))
        fail_msg("opened with \"%s\", expected \"%s\"", f->why, why);
    write_range(p, f, from, SIZE);
    xsink_finish(p);
    xsink_release(p);
    WAIT_FOR(f, f->finished);
    assert_true(f->ok);
    assert_string_equal(f->name, "sub/a.bin");
    check_final(f, "sub/a.bin");
}

/* The data handed over in blocks (xsink_block, xsink_write_block: how a
 * receiver passes what it decrypted without a copy), each piece at an
 * offset inside its block; blocks of other sizes too (from malloc): the
 * file is the same. */
static void test_blocks(void **state)
{
    struct fixture *f = *state;
    xpart *p = open_part(f, "sub/a.bin", false);
    size_t k = 0;
    for (uint64_t o = 0; o < SIZE; o += PIECE, k++) {
        size_t n = SIZE - o < PIECE ? (size_t)(SIZE - o) : PIECE;
        size_t at = 25, cap = k % 3 == 2 ? n + at : XSINK_BLOCK;
        uint8_t *b = k % 3 == 2 ? malloc(cap) : xsink_block(f->s);
        assert_non_null(b);
        memcpy(b + at, f->data + o, n);
        xsink_write_block(p, o, b, cap, b + at, n);
    }
    xsink_finish(p);
    xsink_release(p);
    WAIT_FOR(f, f->finished);
    assert_true(f->ok);
    check_final(f, "sub/a.bin");
    free(xsink_block(f->s)); /* one the caller did not use */
}

static void test_whole_file(void **state)
{
    struct fixture *f = *state;
    xpart *p = open_part(f, "sub/a.bin", false);
    write_range(p, f, 0, SIZE);
    xsink_finish(p);
    xsink_release(p);
    WAIT_FOR(f, f->finished);
    assert_true(f->ok);
    assert_int_equal(f->stored, SIZE);
    assert_true(f->stored_n >= 1);
    assert_string_equal(f->name, "sub/a.bin");
    check_final(f, "sub/a.bin");

    /* The same again: the name is taken, so the next free one. */
    f->stored = 0;
    p = open_part(f, "sub/a.bin", false);
    write_range(p, f, 0, SIZE);
    xsink_finish(p);
    xsink_release(p);
    WAIT_FOR(f, f->finished);
    assert_true(f->ok);
    assert_string_equal(f->name, "sub/a (1).bin");
    check_final(f, "sub/a (1).bin");
}

/* Progress comes every MiB; xsink_notify asks for it now, once what
 * was queued before is stored (how a receiver answers FILE_MARK). */
static void test_notify(void **state)
{
    struct fixture *f = *state;
    xpart *p = open_part(f, "sub/a.bin", false);
    write_range(p, f, 0, 3 * PIECE); /* under a MiB */
    xsink_notify(p);
    WAIT_FOR(f, f->stored == 3 * PIECE);
    write_range(p, f, 3 * PIECE, 3 * PIECE + 100);
    xsink_notify(p);
    WAIT_FOR(f, f->stored == 3 * PIECE + 100);
    xsink_discard(p);
    xsink_release(p);
}

static void test_mismatch(void **state)
{
    struct fixture *f = *state;
    char path[256];
    xpart *p = open_part(f, "sub/a.bin", false);
    f->data[SIZE / 2] ^= 1;
    write_range(p, f, 0, SIZE);
    f->data[SIZE / 2] ^= 1;
    xsink_finish(p);
    xsink_release(p);
    WAIT_FOR(f, f->finished);
    assert_false(f->ok);
    path_of(f, "sub/a.bin", path, sizeof path);
    assert_int_not_equal(access(path, F_OK), 0); /* never gets its name */
    path_of(f, "sub/.a.bin.00000000.banter-partial", path, sizeof path);
    assert_int_not_equal(access(path, F_OK), 0); /* nor stays as a partial */
}

static void test_resume_saved_state(void **state)
{
    struct fixture *f = *state;
    char path[256];
    uint64_t upto = 100 * PIECE + 7; /* not on a checkpoint */
    receive_part_way(f, upto);
    /* An older version's sidecar goes. */
    path_of(f, "sub/.a.bin.00000000.banter-partial.sum", path, sizeof path);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    resume_to_end(f, upto, "resumed at 6144007 bytes with the saved hash state");
    assert_int_not_equal(access(path, F_OK), 0);
}

static void test_resume_changed_partial(void **state)
{
    struct fixture *f = *state;
    char path[256];
    uint64_t upto = 18u * 1024 * 1024 + 5; /* checkpoints at 8 and 16 MiB */
    receive_part_way(f, upto);
    path_of(f, "sub/.a.bin.00000000.banter-partial", path, sizeof path);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    uint8_t x = (uint8_t)~f->data[12u << 20];
    assert_int_equal(pwrite(fd, &x, 1, 12u << 20), 1); /* same size */
    close(fd);
    resume_to_end(f, 8u << 20, "changed after 8388608 bytes");
}

static void test_resume_changed_checkpoints(void **state)
{
    struct fixture *f = *state;
    char path[256];
    uint64_t upto = 17u * 1024 * 1024 + 3;
    receive_part_way(f, upto);
    /* Forge the sealed record: one byte of its hash state. Its MAC fails, the
     * file is read again and checked against the authentic ones. */
    path_of(f, "sub/.a.bin.00000000.hstate.banter-partial", path, sizeof path);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    off_t last = HSTATE_HDR_LEN + 2 * HSTATE_REC_LEN; /* after 8 and 16 MiB */
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, last + 100), 1);
    b ^= 0x80;
    assert_int_equal(pwrite(fd, &b, 1, last + 100), 1);
    close(fd);
    resume_to_end(f, upto, "re-read 17825795 bytes of the partial file (2 checkpoints)");
}

static void test_resume_longer_or_missing(void **state)
{
    struct fixture *f = *state;
    char path[256];
    uint64_t upto = 9u * 1024 * 1024;
    receive_part_way(f, upto);
    /* More bytes than any checkpoint vouches for (written after the seal, as
     * after a crash): read again, all kept. */
    path_of(f, "sub/.a.bin.00000000.banter-partial", path, sizeof path);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, f->data + upto, 1000, (off_t)upto), 1000);
    close(fd);
    resume_to_end(f, upto + 1000, "re-read 9438184 bytes");

    /* No partial file at all: started empty. */
    path_of(f, "sub/a.bin", path, sizeof path);
    assert_int_equal(unlink(path), 0);
    path_of(f, "sub/.a.bin.00000000.banter-partial", path, sizeof path);
    receive_part_way(f, upto);
    assert_int_equal(unlink(path), 0);
    resume_to_end(f, 0, "");
}

static void test_write_fails(void **state)
{
    struct fixture *f = *state;
    char path[256];
    /* The folder below becomes a file's name: the partial cannot be made. */
    path_of(f, "sub", path, sizeof path);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    xpart *p = open_part(f, "sub/a.bin", false);
    write_range(p, f, 0, 3 * PIECE);
    xsink_finish(p);
    xsink_release(p);
    WAIT_FOR(f, f->failed);
    assert_int_equal(f->finished, 0); /* nothing after the failure */
    assert_non_null(strstr(f->why, "sub/a.bin"));
}

/* Open a resumed part, take what it kept, send the rest: done, identical. */
static void resume_rest(struct fixture *f)
{
    xpart *p = open_part(f, "sub/a.bin", true);
    WAIT_FOR(f, f->opened || f->failed);
    assert_int_equal(f->failed, 0);
    write_range(p, f, f->opened_bytes, SIZE);
    xsink_finish(p);
    xsink_release(p);
    WAIT_FOR(f, f->finished);
    assert_true(f->ok);
    check_final(f, "sub/a.bin");
}

/* The size of the partial file once the sink let it go. */
static off_t partial_size(const struct fixture *f)
{
    char path[256];
    struct stat st;
    path_of(f, "sub/.a.bin.00000000.banter-partial", path, sizeof path);
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static void test_write_fails_midway(void **state)
{
    struct fixture *f = *state;
    struct rlimit old, lim;
    /* The disk is full after 9 MiB and a bit: the write of the piece
     * across it fails (EFBIG) among many queued at once. */
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 9u * 1024 * 1024 + 1000;
    void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    xpart *p = open_part(f, "sub/a.bin", false);
    write_range(p, f, 0, SIZE);
    xsink_finish(p);
    xsink_release(p);
    for (int i = 0; i < 10000 && !f->failed; i++)
        if (!g_main_context_iteration(f->ctx, FALSE))
            g_usleep(1000);
    /* the limit back before any check can end the test */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, was);
    assert_true(f->failed);
    /* The file was cut back before the failure was told; the last progress
     * report, which comes with the release, says the same size. */
    WAIT_FOR(f, partial_size(f) == (off_t)f->stored);
    assert_int_equal(f->finished, 0);
    assert_int_equal(f->err, BANTER_EIO);
    assert_non_null(strstr(f->why, "cannot write sub/a.bin"));
    assert_true(f->stored <= lim.rlim_cur && f->stored % PIECE == 0);
    assert_int_equal(partial_size(f), (off_t)f->stored); /* cut back to what is hashed */
    resume_rest(f); /* the checkpoints are true: the rest completes it */
}

static void test_misplaced_data(void **state)
{
    struct fixture *f = *state;
    xpart *p = open_part(f, "sub/a.bin", false);
    write_range(p, f, 0, 10 * PIECE);
    write_range(p, f, 11 * PIECE, 20 * PIECE); /* a gap: a caller's bug */
    xsink_finish(p);
    xsink_release(p);
    WAIT_FOR(f, f->failed);
    WAIT_FOR(f, f->stored == 10 * PIECE); /* the release's progress report */
    assert_int_equal(f->finished, 0);
    assert_non_null(strstr(f->why, "cannot place data in sub/a.bin"));
    assert_int_equal(f->stored, 10 * PIECE);
    assert_int_equal(partial_size(f), (off_t)(10 * PIECE)); /* nothing after the gap */
    resume_rest(f);
}

int main(void)
{
    if (bcrypto_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_whole_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_saved_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_changed_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_changed_checkpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_longer_or_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_fails_midway, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misplaced_data, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
