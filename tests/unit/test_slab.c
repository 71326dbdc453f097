/* SPDX-License-Identifier: MIT */
/* test_slab.c - the slot pool: zeroed, aligned, distinct slots; blocks mapped as needed and given
 * back once empty (one kept); reuse; bad sizes refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "slab.h"

#define SIZE 744u

static void test_sizes(void **state)
{
    (void)state;
    slab *p = (slab *)1;
    assert_int_equal(slab_new(&p, 0), BANTER_EINVAL);
    assert_null(p);
    assert_int_equal(slab_new(&p, SLAB_SLOT_MAX + 1), BANTER_EINVAL);
    assert_int_equal(slab_new(&p, SLAB_SLOT_MAX), 0);
    void *s = slab_get(p);
    assert_non_null(s);
    memset(s, 0xa5, SLAB_SLOT_MAX);
    slab_put(p, s);
    slab_put(p, NULL);
    slab_free(p);
    slab_free(NULL);
}

/* Several blocks' worth: every slot zeroed, aligned, apart from the others;
 * all back: one block left; again: the same count of blocks. */
static void test_many(void **state)
{
    (void)state;
    slab *p;
    enum { N = 1000 };
    uint8_t **s = calloc(N, sizeof *s);
    assert_non_null(s);
    assert_int_equal(slab_new(&p, SIZE - 3), 0);
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < N; i++) {
            s[i] = slab_get(p);
            assert_non_null(s[i]);
            assert_int_equal((uintptr_t)s[i] % 8, 0);
            for (size_t j = 0; j < SIZE; j++)
                assert_int_equal(s[i][j], 0);
            memset(s[i], (int)(i & 0xff), SIZE);
        }
        assert_int_equal(slab_used(p), N);
        size_t per = (SLAB_BLOCK - 64) / SIZE, want = (N + per - 1) / per;
        assert_true(slab_blocks(p) >= want && slab_blocks(p) <= want + 1);
        for (size_t i = 0; i < N; i++) /* nothing overlapped */
            for (size_t j = 0; j < SIZE; j++)
                assert_int_equal(s[i][j], (uint8_t)(i & 0xff));
        for (size_t i = 0; i < N; i += 2) /* every other one back, then the rest */
            slab_put(p, s[i]);
        assert_int_equal(slab_used(p), N / 2);
        for (size_t i = 1; i < N; i += 2)
            slab_put(p, s[i]);
        assert_int_equal(slab_used(p), 0);
        assert_int_equal(slab_blocks(p), 1);
    }
    free(s);
    slab_free(p);
}

/* A slot given back is the next one handed out (no new pages), zeroed. */
static void test_reuse(void **state)
{
    (void)state;
    slab *p;
    assert_int_equal(slab_new(&p, SIZE), 0);
    uint8_t *a = slab_get(p), *b = slab_get(p);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    memset(a, 0xff, SIZE);
    slab_put(p, a);
    uint8_t *c = slab_get(p);
    assert_ptr_equal(c, a);
    for (size_t j = 0; j < SIZE; j++)
        assert_int_equal(c[j], 0);
    assert_int_equal(slab_blocks(p), 1);
    slab_put(p, b);
    slab_put(p, c);
    assert_int_equal(slab_blocks(p), 1); /* the last empty block is kept */
    slab_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
