/* SPDX-License-Identifier: MIT */
/*
 * test_selfexe.c - finding a program beside the running executable: this
 * test binary's own folder, a file there that is or is not executable,
 * names that are refused and a path that does not fit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "selfexe.h"

/* The running executable and its folder, as the kernel resolves them. */
static void self_path(char *exe, size_t cap, char *dir, size_t dcap)
{
    ssize_t n = readlink("/proc/self/exe", exe, cap - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    snprintf(dir, dcap, "%s", exe);
    *strrchr(dir, '/') = '\0';
}

static void test_finds_itself(void **state)
{
    (void)state;
    char exe[PATH_MAX], dir[PATH_MAX], out[PATH_MAX];
    self_path(exe, sizeof exe, dir, sizeof dir);
    const char *base = strrchr(exe, '/') + 1;
    assert_int_equal(selfexe_sibling(base, out, sizeof out), 0);
    assert_string_equal(out, exe);
}

static void test_executable_only(void **state)
{
    (void)state;
    char exe[PATH_MAX], dir[PATH_MAX], file[PATH_MAX + 64], out[PATH_MAX];
    self_path(exe, sizeof exe, dir, sizeof dir);
    char name[64];
    snprintf(name, sizeof name, ".selfexe-test-%ld", (long)getpid());
    snprintf(file, sizeof file, "%s/%s", dir, name);
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(selfexe_sibling(name, out, sizeof out), BANTER_ENOENT);
    assert_string_equal(out, "");
    assert_int_equal(chmod(file, 0700), 0);
    assert_int_equal(selfexe_sibling(name, out, sizeof out), 0);
    assert_string_equal(out, file);
    unlink(file);
    assert_int_equal(selfexe_sibling(name, out, sizeof out), BANTER_ENOENT);
    /* a folder of that name is not a program, though it can be "executed" */
    assert_int_equal(mkdir(file, 0700), 0);
    assert_int_equal(selfexe_sibling(name, out, sizeof out), BANTER_ENOENT);
    rmdir(file);
    assert_int_equal(selfexe_sibling("no-such-banter-program", out, sizeof out), BANTER_ENOENT);
}

static void test_refused(void **state)
{
    (void)state;
    char exe[PATH_MAX], dir[PATH_MAX], out[PATH_MAX];
    self_path(exe, sizeof exe, dir, sizeof dir);
    const char *base = strrchr(exe, '/') + 1;
    assert_int_equal(selfexe_sibling("", out, sizeof out), BANTER_EINVAL);
    assert_int_equal(selfexe_sibling("../bin/sh", out, sizeof out), BANTER_EINVAL);
    assert_int_equal(selfexe_sibling("/bin/sh", out, sizeof out), BANTER_EINVAL);
    assert_int_equal(selfexe_sibling(NULL, out, sizeof out), BANTER_EINVAL);
    /* exactly the length of the path fits; one byte less does not */
    size_t need = strlen(exe) + 1;
    assert_int_equal(selfexe_sibling(base, out, need), 0);
    assert_int_equal(selfexe_sibling(base, out, need - 1), BANTER_ETOOLONG);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finds_itself),
        cmocka_unit_test(test_executable_only),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
