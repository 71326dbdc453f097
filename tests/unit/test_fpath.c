/* SPDX-License-Identifier: MIT */
/*
 * test_fpath.c - file names from a peer: which are accepted and why the rest
 * are refused, opening below a folder without ever following a link, free
 * names ("a (1).txt") and the names of partial files.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fpath.h"
#include "utf8.h"

/* A scratch folder: base (the folder the user chose, open as fd) and, beside
 * it, other (where a link would lead). All removed afterwards. */
struct scratch {
    char root[64];
    char base[96];
    char other[96];
    int fd;
    mode_t umask;
};

static int setup(void **state)
{
    struct scratch *s = calloc(1, sizeof *s);
    assert_non_null(s);
    snprintf(s->root, sizeof s->root, "/tmp/banter-test-fpath-XXXXXX");
    assert_non_null(mkdtemp(s->root));
    snprintf(s->base, sizeof s->base, "%s/base", s->root);
    snprintf(s->other, sizeof s->other, "%s/other", s->root);
    assert_int_equal(mkdir(s->base, 0700), 0);
    assert_int_equal(mkdir(s->other, 0700), 0);
    s->fd = open(s->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(s->fd >= 0);
    s->umask = umask(022);
    *state = s;
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    struct scratch *s = *state;
    umask(s->umask);
    close(s->fd);
    int r = nftw(s->root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    free(s);
    return r;
}

/* Create an empty file (or a folder when the path ends in '/') below base. */
static void touch(const struct scratch *s, const char *rel)
{
    char path[1400];
    size_t len = strlen(rel);
    snprintf(path, sizeof path, "%s/%s", s->base, rel);
    if (rel[len - 1] == '/') {
        assert_int_equal(mkdir(path, 0700), 0);
        return;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    close(fd);
}

static bool exists_in(const char *dir, const char *rel)
{
    char path[1400];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    return lstat(path, &st) == 0;
}

/* A string of n copies of c (n < cap). */
static char *fill(char *out, size_t cap, char c, size_t n)
{
    assert_true(n < cap);
    memset(out, c, n);
    out[n] = '\0';
    return out;
}

/* "a/a/.../a" with depth components. */
static void levels(char *out, size_t cap, int depth)
{
    size_t o = 0;
    for (int i = 0; i < depth; i++) {
        assert_true(o + 3 < cap);
        if (i)
            out[o++] = '/';
        out[o++] = 'a';
    }
    out[o] = '\0';
}

/* ---- fpath_check ---- */

static void test_check_accepts(void **state)
{
    (void)state;
    static const char *ok[] = {
        "a.txt",
        "Photos/2026/a.jpg",
        "Ünïcødé/日本語.txt",
        "my file (copy).txt",
        "a..b",
        ".bashrc",
        "dir/.hidden",
        "...",
        "a b/ c /d ",
        "x.banter-partial.txt",
        "banter-partial",
    };
    char why[256];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        why[0] = 'x';
        if (fpath_check(ok[i], why, sizeof why) != 0)
            fail_msg("refused \"%s\": %s", ok[i], why);
        assert_string_equal(why, "");
    }

    /* The limits themselves are allowed. */
    char path[2048], comp[300];
    assert_int_equal(fpath_check(fill(comp, sizeof comp, 'c', 255), why, sizeof why), 0);
    levels(path, sizeof path, 32);
    assert_int_equal(fpath_check(path, why, sizeof why), 0);
    /* 1024 bytes: 255/255/255/254/1 */
    snprintf(path, sizeof path, "%s/%s/%s/", comp, comp, comp);
    size_t o = strlen(path);
    memset(path + o, 'd', 254);
    memcpy(path + o + 254, "/e", 3);
    assert_int_equal(strlen(path), 1024);
    assert_int_equal(fpath_check(path, why, sizeof why), 0);
    /* why may be left out. */
    assert_int_equal(fpath_check("a", NULL, 0), 0);
}

/* The message is printable UTF-8 with no control character. */
static void assert_printable(const char *why)
{
    assert_true(utf8_valid(why, strlen(why)));
    for (const char *p = why; *p; p++)
        assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
}

static void refused(const char *path, const char *fragment)
{
    char why[512];
    int r = fpath_check(path, why, sizeof why);
    if (r != BANTER_EINVAL)
        fail_msg("accepted \"%s\" (%d)", path, r);
    assert_printable(why);
    assert_true(strncmp(why, "unsafe file name \"", 18) == 0);
    if (!strstr(why, fragment))
        fail_msg("why for \"%s\" is \"%s\", wanted \"%s\" in it", path, why, fragment);
}

static void test_check_refuses(void **state)
{
    (void)state;
    char why[512];
    assert_int_equal(fpath_check("../../etc/passwd", why, sizeof why), BANTER_EINVAL);
    assert_string_equal(why, "unsafe file name \"../../etc/passwd\": \"..\" is not allowed");

    refused("", "empty");
    refused("/etc/passwd", "absolute");
    refused("a/../b", "\"..\" is not allowed");
    refused("..", "\"..\" is not allowed");
    refused(".", "\".\" is not allowed");
    refused("a/./b", "\".\" is not allowed");
    refused("a//b", "empty component");
    refused("a/", "empty component");
    refused("dir/sub/", "empty component");
    refused("a\\b", "component \"a\\\\b\" has a backslash");
    refused("..\\..\\x", "backslash");
    refused("\x01", "component \"\\x01\" has a control character");
    refused("a/b\x1f", "\"b\\x1f\" has a control character");
    refused("del\x7f", "\"del\\x7f\" has a control character");
    refused("line\nbreak", "\"line\\x0abreak\"");
    refused("bad\xff", "not valid UTF-8");
    refused("bad\xff", "\"bad\\xff\"");
    refused("\xc3\x28", "not valid UTF-8");
    refused("\xc0\xaf", "not valid UTF-8");     /* overlong "/" */
    refused("\xed\xa0\x80", "not valid UTF-8"); /* surrogate */
    refused("x.banter-partial", "component \"x.banter-partial\" ends in \".banter-partial\"");
    refused("d/.x.txt.banter-partial", "ends in \".banter-partial\"");
    refused(".banter-partial", "ends in");

    char path[2048], comp[300];
    fill(comp, sizeof comp, 'c', 256);
    refused(comp, "longer than 255 bytes");
    snprintf(path, sizeof path, "ok/%s/ok", comp);
    refused(path, "longer than 255 bytes");
    levels(path, sizeof path, 33);
    refused(path, "deeper than 32 levels");
    /* 1025 bytes of short components. */
    fill(path, sizeof path, 'p', 1025);
    for (size_t i = 100; i < 1025; i += 100)
        path[i] = '/';
    refused(path, "longer than 1024 bytes");
    /* A long name is shown cut, and the message still fits. */
    assert_true(strlen(path) > 1024);
    assert_int_equal(fpath_check(path, why, sizeof why), BANTER_EINVAL);
    assert_non_null(strstr(why, "...\""));

    assert_int_equal(fpath_check(NULL, why, sizeof why), BANTER_EINVAL);
    assert_int_equal(fpath_check("..", NULL, 0), BANTER_EINVAL);
    /* A small buffer gets a cut, terminated, printable message. */
    char small[24];
    assert_int_equal(fpath_check("ééééééééééé/..", small, sizeof small), BANTER_EINVAL);
    assert_true(strlen(small) < sizeof small);
    assert_printable(small);
}

/* ---- fpath_open_beneath ---- */

static void test_open_creates(void **state)
{
    struct scratch *s = *state;
    struct stat st;
    char path[256];

    int fd = fpath_open_beneath(s->fd, "a/b/c.txt", O_WRONLY | O_CREAT | O_EXCL, true);
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(write(fd, "hi", 2), 2);
    assert_int_equal(close(fd), 0);

    snprintf(path, sizeof path, "%s/a/b/c.txt", s->base);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, 2);
    snprintf(path, sizeof path, "%s/a/b", s->base);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0700);

    /* Existing directories are walked into; an existing file opens again. */
    fd = fpath_open_beneath(s->fd, "a/b/d.txt", O_WRONLY | O_CREAT, true);
    assert_true(fd >= 0);
    close(fd);
    fd = fpath_open_beneath(s->fd, "a/b/c.txt", O_RDONLY, false);
    assert_true(fd >= 0);
    char buf[4];
    assert_int_equal(read(fd, buf, sizeof buf), 2);
    assert_memory_equal(buf, "hi", 2);
    close(fd);
    fd = fpath_open_beneath(s->fd, "top.txt", O_WRONLY | O_CREAT, false);
    assert_true(fd >= 0);
    close(fd);
    assert_true(exists_in(s->base, "top.txt"));

    /* Missing things. */
    assert_int_equal(fpath_open_beneath(s->fd, "new/x.txt", O_WRONLY | O_CREAT, false),
                     BANTER_ENOENT);
    assert_false(exists_in(s->base, "new"));
    assert_int_equal(fpath_open_beneath(s->fd, "a/b/none.txt", O_RDONLY, false), BANTER_ENOENT);
    assert_int_equal(fpath_open_beneath(s->fd, "a/none/x.txt", O_RDONLY, true), BANTER_ENOENT);

    /* O_EXCL on a file that is there: EIO with errno EEXIST. */
    errno = 0;
    assert_int_equal(fpath_open_beneath(s->fd, "a/b/c.txt", O_WRONLY | O_CREAT | O_EXCL, false),
                     BANTER_EIO);
    assert_int_equal(errno, EEXIST);
    /* A file where a directory should be. */
    errno = 0;
    assert_int_equal(fpath_open_beneath(s->fd, "top.txt/x", O_WRONLY | O_CREAT, true), BANTER_EIO);
    assert_int_equal(errno, ENOTDIR);
}

static void test_open_refuses_bad_names(void **state)
{
    struct scratch *s = *state;
    assert_int_equal(fpath_open_beneath(s->fd, "../x", O_WRONLY | O_CREAT, true), BANTER_EINVAL);
    assert_false(exists_in(s->root, "x"));
    assert_int_equal(fpath_open_beneath(s->fd, "a/../../x", O_WRONLY | O_CREAT, true),
                     BANTER_EINVAL);
    assert_int_equal(fpath_open_beneath(s->fd, "/tmp/x", O_WRONLY | O_CREAT, true), BANTER_EINVAL);
    assert_int_equal(fpath_open_beneath(s->fd, "", O_RDONLY, false), BANTER_EINVAL);
    assert_int_equal(fpath_open_beneath(s->fd, NULL, O_RDONLY, false), BANTER_EINVAL);
    assert_int_equal(fpath_open_beneath(s->fd, "d/x.banter-partial", O_WRONLY | O_CREAT, true),
                     BANTER_EINVAL);
    assert_false(exists_in(s->base, "d"));
    /* The temporary name of fpath_partial() is the one exception. */
    char part[FPATH_MAX + 1];
    assert_int_equal(fpath_partial("d/x.txt", part, sizeof part), 0);
    int fd = fpath_open_beneath(s->fd, part, O_WRONLY | O_CREAT | O_EXCL, true);
    assert_true(fd >= 0);
    close(fd);
    assert_true(exists_in(s->base, "d/.x.txt.banter-partial"));
}

static void test_open_refuses_dir_link(void **state)
{
    struct scratch *s = *state;
    char path[256];

    /* base/link -> other */
    snprintf(path, sizeof path, "%s/link", s->base);
    assert_int_equal(symlink(s->other, path), 0);
    assert_int_equal(fpath_open_beneath(s->fd, "link/x.txt", O_WRONLY | O_CREAT, true),
                     BANTER_EPERM);
    assert_int_equal(fpath_open_beneath(s->fd, "link/sub/x.txt", O_WRONLY | O_CREAT, true),
                     BANTER_EPERM);
    assert_int_equal(fpath_open_beneath(s->fd, "link/x.txt", O_RDONLY, false), BANTER_EPERM);
    assert_false(exists_in(s->other, "x.txt"));
    assert_false(exists_in(s->other, "sub"));

    /* Deeper: base/a/b/up -> other (a relative link this time). */
    touch(s, "a/");
    touch(s, "a/b/");
    snprintf(path, sizeof path, "%s/a/b/up", s->base);
    assert_int_equal(symlink("../../../other", path), 0);
    assert_int_equal(fpath_open_beneath(s->fd, "a/b/up/y/z.txt", O_WRONLY | O_CREAT, true),
                     BANTER_EPERM);
    assert_false(exists_in(s->other, "y"));
    /* A link to the folder itself is refused too. */
    snprintf(path, sizeof path, "%s/self", s->base);
    assert_int_equal(symlink(".", path), 0);
    assert_int_equal(fpath_open_beneath(s->fd, "self/x", O_WRONLY | O_CREAT, true), BANTER_EPERM);
    assert_false(exists_in(s->base, "x"));

    /* Still nothing at all in other. */
    assert_int_equal(rmdir(s->other), 0);
    assert_int_equal(mkdir(s->other, 0700), 0);
}

/* Deleting and looking below the folder: a link in a middle folder is
 * never followed (unlinkat and stat on the whole path would: the file
 * beyond it would go, or be taken for the one received); a link as the
 * last component is removed itself, or seen as a link. */
static void test_unlink_stat_beneath(void **state)
{
    struct scratch *s = *state;
    char path[256];
    struct stat st;

    /* base/Photos -> other, and other/.a.txt.banter-partial: the partial
     * file's name below a folder a local attacker swapped for a link. */
    snprintf(path, sizeof path, "%s/Photos", s->base);
    assert_int_equal(symlink(s->other, path), 0);
    snprintf(path, sizeof path, "%s/.a.txt.banter-partial", s->other);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(fpath_unlink_beneath(s->fd, "Photos/.a.txt.banter-partial"), BANTER_EPERM);
    assert_true(exists_in(s->other, ".a.txt.banter-partial"));
    assert_int_equal(fpath_stat_beneath(s->fd, "Photos/.a.txt.banter-partial", &st), BANTER_EPERM);

    /* Real folders: the file itself, then a link as the last component
     * (seen as a link; unlinked, its target stays). */
    touch(s, "a/");
    touch(s, "a/b.txt");
    assert_int_equal(fpath_stat_beneath(s->fd, "a/b.txt", &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(fpath_unlink_beneath(s->fd, "a/b.txt"), 0);
    assert_false(exists_in(s->base, "a/b.txt"));
    assert_int_equal(fpath_unlink_beneath(s->fd, "a/b.txt"), BANTER_ENOENT);
    assert_int_equal(fpath_stat_beneath(s->fd, "a/b.txt", &st), BANTER_ENOENT);
    assert_int_equal(fpath_stat_beneath(s->fd, "nowhere/b.txt", &st), BANTER_ENOENT);
    char target[256];
    snprintf(path, sizeof path, "%s/a/.c.banter-partial", s->base);
    snprintf(target, sizeof target, "%s/.a.txt.banter-partial", s->other);
    assert_int_equal(symlink(target, path), 0);
    assert_int_equal(fpath_stat_beneath(s->fd, "a/.c.banter-partial", &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(fpath_unlink_beneath(s->fd, "a/.c.banter-partial"), 0);
    assert_false(exists_in(s->base, "a/.c.banter-partial"));
    assert_true(exists_in(s->other, ".a.txt.banter-partial"));

    /* Names fpath_check refuses are refused. */
    assert_int_equal(fpath_unlink_beneath(s->fd, "../other/.a.txt.banter-partial"), BANTER_EINVAL);
    assert_int_equal(fpath_stat_beneath(s->fd, "/etc/passwd", &st), BANTER_EINVAL);
    assert_true(exists_in(s->other, ".a.txt.banter-partial"));
}

static void test_open_refuses_file_link(void **state)
{
    struct scratch *s = *state;
    char path[256], target[256];

    /* A dangling link: the file it names must not be created. */
    snprintf(target, sizeof target, "%s/made.txt", s->other);
    snprintf(path, sizeof path, "%s/f.txt", s->base);
    assert_int_equal(symlink(target, path), 0);
    assert_int_equal(fpath_open_beneath(s->fd, "f.txt", O_WRONLY | O_CREAT, true), BANTER_EPERM);
    assert_int_equal(fpath_open_beneath(s->fd, "f.txt", O_WRONLY | O_CREAT | O_EXCL, true),
                     BANTER_EPERM);
    assert_int_equal(fpath_open_beneath(s->fd, "f.txt", O_RDONLY, false), BANTER_EPERM);
    assert_false(exists_in(s->other, "made.txt"));

    /* A link to an existing file: it is neither truncated nor written. */
    snprintf(target, sizeof target, "%s/secret.txt", s->other);
    FILE *f = fopen(target, "w");
    assert_non_null(f);
    fputs("secret", f);
    fclose(f);
    touch(s, "d/");
    snprintf(path, sizeof path, "%s/d/g.txt", s->base);
    assert_int_equal(symlink(target, path), 0);
    assert_int_equal(fpath_open_beneath(s->fd, "d/g.txt", O_WRONLY | O_CREAT | O_TRUNC, true),
                     BANTER_EPERM);
    struct stat st;
    assert_int_equal(stat(target, &st), 0);
    assert_int_equal(st.st_size, 6);

    /* A link to a directory, opened as one. */
    snprintf(path, sizeof path, "%s/dl", s->base);
    assert_int_equal(symlink(s->other, path), 0);
    assert_int_equal(fpath_open_beneath(s->fd, "dl", O_RDONLY | O_DIRECTORY, false), BANTER_EPERM);
}

/* ---- fpath_unique ---- */

static void unique_is(const struct scratch *s, const char *path, bool first, const char *want)
{
    char out[FPATH_MAX + 1];
    int r = fpath_unique(s->fd, path, first, out, sizeof out);
    if (r != 0)
        fail_msg("fpath_unique(\"%s\") = %d", path, r);
    assert_string_equal(out, want);
}

static void test_unique_last(void **state)
{
    struct scratch *s = *state;
    unique_is(s, "a.txt", false, "a.txt");
    touch(s, "a.txt");
    unique_is(s, "a.txt", false, "a (1).txt");
    touch(s, "a (1).txt");
    unique_is(s, "a.txt", false, "a (2).txt");

    /* The extension is after the last dot; a leading dot is not one. */
    touch(s, "a.tar.gz");
    unique_is(s, "a.tar.gz", false, "a.tar (1).gz");
    touch(s, ".bashrc");
    unique_is(s, ".bashrc", false, ".bashrc (1)");
    touch(s, "noext");
    unique_is(s, "noext", false, "noext (1)");
    touch(s, "..hidden");
    unique_is(s, "..hidden", false, ". (1).hidden");

    /* Nested: a missing directory makes the name free; only the last
     * component is numbered. */
    unique_is(s, "sub.d/a.txt", false, "sub.d/a.txt");
    touch(s, "sub.d/");
    touch(s, "sub.d/a.txt");
    unique_is(s, "sub.d/a.txt", false, "sub.d/a (1).txt");
    unique_is(s, "sub.d/b", false, "sub.d/b");

    /* A link, even dangling, takes its name; one on the way is refused. */
    char path[256];
    snprintf(path, sizeof path, "%s/l.txt", s->base);
    assert_int_equal(symlink("nowhere", path), 0);
    unique_is(s, "l.txt", false, "l (1).txt");
    snprintf(path, sizeof path, "%s/ld", s->base);
    assert_int_equal(symlink(s->other, path), 0);
    char out[FPATH_MAX + 1];
    assert_int_equal(fpath_unique(s->fd, "ld/x.txt", false, out, sizeof out), BANTER_EPERM);
}

static void test_unique_first(void **state)
{
    struct scratch *s = *state;
    unique_is(s, "Photos/x.jpg", true, "Photos/x.jpg");
    touch(s, "Photos/");
    unique_is(s, "Photos/x.jpg", true, "Photos (1)/x.jpg");
    /* Only the first component counts: Photos/x.jpg need not exist. */
    touch(s, "Photos (1)/");
    unique_is(s, "Photos/2026/x.jpg", true, "Photos (2)/2026/x.jpg");
    /* The extension is the first component's, not the file's. */
    touch(s, "my.album/");
    unique_is(s, "my.album/x.jpg", true, "my (1).album/x.jpg");
    /* A single component is the first one too. */
    touch(s, "solo.txt");
    unique_is(s, "solo.txt", true, "solo (1).txt");
    /* Numbering only the last component would keep Photos. */
    unique_is(s, "Photos/x.jpg", false, "Photos/x.jpg");
}

static void test_unique_errors(void **state)
{
    struct scratch *s = *state;
    char out[FPATH_MAX + 1], name[300];

    assert_int_equal(fpath_unique(s->fd, "../a", false, out, sizeof out), BANTER_EINVAL);
    assert_int_equal(fpath_unique(s->fd, "x.banter-partial", false, out, sizeof out),
                     BANTER_EINVAL);
    /* out too small for the answer. */
    assert_int_equal(fpath_unique(s->fd, "abc.txt", false, out, 7), BANTER_ETOOLONG);
    assert_int_equal(fpath_unique(s->fd, "abc.txt", false, out, 8), 0);
    touch(s, "abc.txt");
    assert_int_equal(fpath_unique(s->fd, "abc.txt", false, out, 8), BANTER_ETOOLONG);
    /* A numbered name over 255 bytes. */
    fill(name, sizeof name, 'n', 252);
    touch(s, name);
    assert_int_equal(fpath_unique(s->fd, name, false, out, sizeof out), BANTER_ETOOLONG);
    fill(name, sizeof name, 'm', 251);
    touch(s, name);
    assert_int_equal(fpath_unique(s->fd, name, false, out, sizeof out), 0);
    assert_int_equal(strlen(out), 255);
}

static void test_unique_exhausted(void **state)
{
    struct scratch *s = *state;
    char name[32], out[64];
    touch(s, "z");
    for (unsigned n = 1; n <= 9999; n++) {
        snprintf(name, sizeof name, "z (%u)", n);
        touch(s, name);
    }
    errno = 0;
    assert_int_equal(fpath_unique(s->fd, "z", false, out, sizeof out), BANTER_EIO);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(unlinkat(s->fd, "z (9999)", 0), 0);
    assert_int_equal(fpath_unique(s->fd, "z", false, out, sizeof out), 0);
    assert_string_equal(out, "z (9999)");
}

/* ---- fpath_partial ---- */

static void test_partial(void **state)
{
    (void)state;
    char out[FPATH_MAX + 1], name[300], why[256];

    assert_int_equal(fpath_partial("a/b/c.txt", out, sizeof out), 0);
    assert_string_equal(out, "a/b/.c.txt.banter-partial");
    assert_int_equal(fpath_partial("c.txt", out, sizeof out), 0);
    assert_string_equal(out, ".c.txt.banter-partial");
    assert_int_equal(fpath_partial(".bashrc", out, sizeof out), 0);
    assert_string_equal(out, "..bashrc.banter-partial");
    /* Never a name a peer could send. */
    assert_int_equal(fpath_check(out, why, sizeof why), BANTER_EINVAL);

    /* Exactly the room needed, then one byte less. */
    assert_int_equal(fpath_partial("a/b/c.txt", out, 26), 0);
    assert_int_equal(fpath_partial("a/b/c.txt", out, 25), BANTER_ETOOLONG);
    /* The partial name has to fit in 255 bytes: names up to 239 bytes. */
    fill(name, sizeof name, 'p', 239);
    assert_int_equal(fpath_partial(name, out, sizeof out), 0);
    assert_int_equal(strlen(out), 255);
    fill(name, sizeof name, 'p', 240);
    assert_int_equal(fpath_partial(name, out, sizeof out), BANTER_ETOOLONG);
    assert_int_equal(fpath_partial("dir/", out, sizeof out), BANTER_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_accepts),
        cmocka_unit_test(test_check_refuses),
        cmocka_unit_test_setup_teardown(test_open_creates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_refuses_bad_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_refuses_dir_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_refuses_file_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unlink_stat_beneath, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unique_last, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unique_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unique_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unique_exhausted, setup, teardown),
        cmocka_unit_test(test_partial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
