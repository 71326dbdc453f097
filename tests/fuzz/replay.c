/* SPDX-License-Identifier: MIT */
/*
 * replay.c - runs a libFuzzer target without libFuzzer, for `make test`.
 *
 * Linked with one tests/fuzz/fuzz_<name>.c as build/asan/tests/replay_fuzz_<name>
 * (gcc, ASan+UBSan). It runs LLVMFuzzerTestOneInput over every file of the
 * target's seed corpus, then over a few hundred inputs made from a fixed
 * seed (random bytes, and corpus files with a few bytes changed), so the
 * run means something even with a small corpus. A failure is an abort or a
 * sanitizer report, which ends the process non-zero.
 *
 * The target is the program's name without "replay_". Its corpus is
 * tests/fuzz/corpus/<target>/ under $BANTER_SRC when set, else three levels
 * above the program (build/asan/tests/), else under the current directory.
 * Files or directories given as arguments are replayed instead, with no
 * generated inputs: `replay_fuzz_msg crash-1234` reproduces a crash.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PREFIX           "replay_"
#define CORPUS_SUBDIR    "tests/fuzz/corpus"
#define PATH_CAP         4096
#define REPLAY_MAX_INPUT (1u << 20)
#define GENERATED        300
#define RANDOM_MAX_LEN   600
#define SEED             0x62616e746572ull /* "banter" */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional: a target may define it; then it runs once before any input. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

struct input {
    uint8_t *data;
    size_t len;
};

struct corpus {
    struct input *in;
    size_t n, alloc;
};

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

static void die(const char *what, const char *path)
{
    fprintf(stderr, "replay: %s: %s: %s\n", what, path, strerror(errno));
    exit(2);
}

/* Run one input from an exactly sized heap copy, so ASan sees overreads. */
static void run_one(const uint8_t *data, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        die("out of memory", "input");
    if (len)
        memcpy(copy, data, len);
    LLVMFuzzerTestOneInput(copy, len);
    free(copy);
}

static void corpus_add(struct corpus *c, uint8_t *data, size_t len)
{
    if (c->n == c->alloc) {
        size_t want = c->alloc ? 2 * c->alloc : 16;
        struct input *in = realloc(c->in, want * sizeof *in);
        if (!in)
            die("out of memory", "corpus");
        c->in = in;
        c->alloc = want;
    }
    c->in[c->n++] = (struct input){data, len};
}

static void corpus_free(struct corpus *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->in[i].data);
    free(c->in);
}

static void read_input(struct corpus *c, const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0)
        die("cannot read", path);
    if (st.st_size < 0 || (uint64_t)st.st_size > REPLAY_MAX_INPUT) {
        errno = EFBIG;
        die("input too large", path);
    }
    size_t len = (size_t)st.st_size;
    uint8_t *data = malloc(len ? len : 1);
    if (!data)
        die("out of memory", path);
    if (fread(data, 1, len, f) != len)
        die("short read", path);
    fclose(f);
    corpus_add(c, data, len);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every regular file of dir, in name order; 0, or -1 when dir is not a
 * directory. */
static int read_dir(struct corpus *c, const char *dir)
{
    DIR *d = opendir(dir);
    char **names = NULL, path[PATH_CAP];
    size_t n = 0, alloc = 0;
    const struct dirent *e;

    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == alloc) {
            alloc = alloc ? 2 * alloc : 32;
            names = realloc(names, alloc * sizeof *names);
            if (!names)
                die("out of memory", dir);
        }
        if (!(names[n++] = strdup(e->d_name)))
            die("out of memory", dir);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path)
            die("path too long", names[i]);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            read_input(c, path);
        free(names[i]);
    }
    free(names);
    return 0;
}

/* The target's name: the program's base name without "replay_". */
static const char *target_name(const char *argv0)
{
    const char *base = strrchr(argv0, '/');
    base = base ? base + 1 : argv0;
    return strncmp(base, PREFIX, sizeof PREFIX - 1) == 0 ? base + sizeof PREFIX - 1 : base;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Where the corpus is: see the comment at the top. */
static void corpus_dir(const char *argv0, const char *name, char out[static PATH_CAP])
{
    const char *src = getenv("BANTER_SRC");
    char *exe = realpath(argv0, NULL);
    int n;

    if (src && *src) {
        n = snprintf(out, PATH_CAP, "%s/%s/%s", src, CORPUS_SUBDIR, name);
    } else {
        char *slash = exe ? strrchr(exe, '/') : NULL;
        if (slash)
            *slash = '\0';
        n = snprintf(out, PATH_CAP, "%s/../../../%s/%s", exe ? exe : ".", CORPUS_SUBDIR, name);
        if (n >= 0 && n < PATH_CAP && !is_dir(out))
            n = snprintf(out, PATH_CAP, "%s/%s", CORPUS_SUBDIR, name);
    }
    free(exe);
    if (n < 0 || n >= PATH_CAP)
        die("path too long", name);
}

/* Random bytes, or a corpus file with a few bytes changed and maybe cut or
 * extended. */
static void run_generated(const struct corpus *c, uint64_t *s)
{
    uint8_t buf[RANDOM_MAX_LEN + 64];
    size_t len;

    if (c->n == 0 || rng_next(s) % 3 == 0) {
        len = (size_t)(rng_next(s) % (RANDOM_MAX_LEN + 1));
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rng_next(s);
    } else {
        const struct input *in = &c->in[rng_next(s) % c->n];
        len = in->len < RANDOM_MAX_LEN ? in->len : RANDOM_MAX_LEN;
        if (len)
            memcpy(buf, in->data, len);
        if (rng_next(s) % 4 == 0) { /* cut, or add random bytes */
            size_t to = (size_t)(rng_next(s) % (len + 64));
            for (size_t i = len; i < to; i++)
                buf[i] = (uint8_t)rng_next(s);
            len = to;
        }
        for (uint64_t k = 1 + rng_next(s) % 4; k > 0 && len > 0; k--)
            buf[rng_next(s) % len] ^= (uint8_t)(1 + rng_next(s) % 255);
    }
    run_one(buf, len);
}

int main(int argc, char **argv)
{
    const char *name = target_name(argv[0]);
    struct corpus c = {0};
    char dir[PATH_CAP];
    size_t runs = 0;

    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            if (read_dir(&c, argv[i]) != 0)
                read_input(&c, argv[i]);
    } else {
        corpus_dir(argv[0], name, dir);
        if (read_dir(&c, dir) != 0)
            die("no corpus directory (set BANTER_SRC to the source tree)", dir);
    }
    for (size_t i = 0; i < c.n; i++, runs++)
        run_one(c.in[i].data, c.in[i].len);
    if (argc == 1) {
        uint64_t s = SEED;
        for (int i = 0; i < GENERATED; i++, runs++)
            run_generated(&c, &s);
    }
    corpus_free(&c);
    printf("replay %s: %zu inputs ok\n", name, runs);
    return 0;
}
