/* SPDX-License-Identifier: MIT */
/*
 * test_dlist.c - the intrusive list: order after pushes at both ends,
 * removal at the head, the tail, the middle and of the last element, an
 * element on two lists at once, links cleared on removal, and the
 * head-only hlist.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dlist.h"

typedef struct item {
    int v;
    dlist_link a; /* on list A */
    dlist_link b; /* on list B */
} item;

#define A offsetof(item, a)
#define B offsetof(item, b)

/* The values along l by link a, forwards, then checked backwards. */
static void expect_a(const dlist *l, const int *want, size_t n)
{
    size_t i = 0;
    for (item *it = l->head; it; it = it->a.next, i++) {
        assert_true(i < n);
        assert_int_equal(it->v, want[i]);
    }
    assert_int_equal(i, n);
    for (item *it = l->tail; it; it = it->a.prev) {
        assert_true(i > 0);
        assert_int_equal(it->v, want[--i]);
    }
    assert_int_equal(i, 0);
    assert_int_equal(dlist_empty(l), n == 0);
}

static void test_order_and_remove(void **state)
{
    (void)state;
    item x[5];
    dlist l = {0};
    for (int i = 0; i < 5; i++)
        x[i] = (item){.v = i};
    expect_a(&l, NULL, 0);
    dlist_push_back(&l, &x[1], A);
    dlist_push_back(&l, &x[2], A);
    dlist_push_front(&l, &x[0], A);
    dlist_push_back(&l, &x[3], A);
    dlist_push_back(&l, &x[4], A);
    expect_a(&l, (const int[]){0, 1, 2, 3, 4}, 5);
    dlist_remove(&l, &x[2], A); /* middle */
    assert_null(x[2].a.prev);
    assert_null(x[2].a.next);
    expect_a(&l, (const int[]){0, 1, 3, 4}, 4);
    dlist_remove(&l, &x[0], A); /* head */
    expect_a(&l, (const int[]){1, 3, 4}, 3);
    dlist_remove(&l, &x[4], A); /* tail */
    expect_a(&l, (const int[]){1, 3}, 2);
    dlist_remove(&l, &x[1], A);
    dlist_remove(&l, &x[3], A); /* the last one */
    expect_a(&l, NULL, 0);
    assert_null(l.tail);
    /* Back on after removal; a front push on an empty list sets the tail. */
    dlist_push_front(&l, &x[2], A);
    assert_ptr_equal(l.tail, &x[2]);
    dlist_push_front(&l, &x[1], A);
    expect_a(&l, (const int[]){1, 2}, 2);
}

static void test_two_lists(void **state)
{
    (void)state;
    item x[3];
    dlist la = {0}, lb = {0};
    for (int i = 0; i < 3; i++) {
        x[i] = (item){.v = i};
        dlist_push_back(&la, &x[i], A);
        dlist_push_front(&lb, &x[i], B); /* the other order */
    }
    dlist_remove(&lb, &x[1], B);
    expect_a(&la, (const int[]){0, 1, 2}, 3); /* A untouched */
    assert_ptr_equal(lb.head, &x[2]);
    assert_ptr_equal(x[2].b.next, &x[0]);
    assert_ptr_equal(x[0].b.prev, &x[2]);
    assert_ptr_equal(lb.tail, &x[0]);
    dlist_remove(&la, &x[0], A);
    assert_ptr_equal(lb.tail, &x[0]); /* B untouched */
    expect_a(&la, (const int[]){1, 2}, 2);
}

static void test_hlist(void **state)
{
    (void)state;
    item x[4];
    hlist h = {0};
    for (int i = 0; i < 4; i++) {
        x[i] = (item){.v = i};
        hlist_push(&h, &x[i], A);
    }
    dlist as = {h.head, &x[0]}; /* the same links read as a dlist */
    expect_a(&as, (const int[]){3, 2, 1, 0}, 4);
    hlist_remove(&h, &x[3], A); /* head */
    hlist_remove(&h, &x[0], A); /* last */
    hlist_remove(&h, &x[2], A); /* middle of what was left */
    assert_ptr_equal(h.head, &x[1]);
    assert_null(x[1].a.prev);
    assert_null(x[1].a.next);
    assert_null(x[2].a.next);
    hlist_remove(&h, &x[1], A);
    assert_null(h.head);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_remove),
        cmocka_unit_test(test_two_lists),
        cmocka_unit_test(test_hlist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
