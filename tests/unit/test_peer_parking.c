/* SPDX-License-Identifier: MIT */
/*
 * test_peer_parking.c - the relayed group messages a node keeps while
 * their group's state or sender's key is on its way (peer/rdv/parking.h):
 * one sender cannot take the room of the others (its share, then the
 * total), a message parked twice is kept once, and taking them out is by
 * group (and sender), oldest first, freeing the shares.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rdv/parking.h"

static void id_of(uint8_t id[static PARKING_ID_LEN], unsigned sender, unsigned i)
{
    memset(id, 0, PARKING_ID_LEN);
    id[0] = (uint8_t)sender;
    id[1] = (uint8_t)(i >> 8);
    id[2] = (uint8_t)i;
}

static void dev_of(uint8_t dev[static PARKING_SENDER_LEN], unsigned sender)
{
    memset(dev, 0xd0, PARKING_SENDER_LEN);
    dev[31] = (uint8_t)sender;
}

static void group_of(uint8_t g[static PARKING_GROUP_LEN], unsigned n)
{
    memset(g, 0x60, PARKING_GROUP_LEN);
    g[15] = (uint8_t)n;
}

/* An item: a heap int, so that ASan sees any left behind. */
static int add(parking *p, unsigned sender, unsigned i, unsigned group)
{
    uint8_t id[PARKING_ID_LEN], dev[PARKING_SENDER_LEN], g[PARKING_GROUP_LEN];
    id_of(id, sender, i);
    dev_of(dev, sender);
    group_of(g, group);
    int *item = malloc(sizeof *item);
    assert_non_null(item);
    *item = (int)(sender * 1000 + i);
    int r = parking_add(p, id, dev, g, item);
    if (r != 0)
        free(item); /* still the caller's */
    return r;
}

static size_t count_of(parking *p, unsigned sender)
{
    uint8_t dev[PARKING_SENDER_LEN];
    dev_of(dev, sender);
    return parking_count(p, dev);
}

static size_t take(parking *p, unsigned group, int sender, int *first)
{
    uint8_t g[PARKING_GROUP_LEN], dev[PARKING_SENDER_LEN];
    void **items = NULL;
    group_of(g, group);
    if (sender >= 0)
        dev_of(dev, (unsigned)sender);
    size_t n = parking_take(p, g, sender >= 0 ? dev : NULL, &items);
    if (first)
        *first = n ? *(int *)items[0] : -1;
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
    return n;
}

/* The attack the shares stop: one contact sends a flood of early group
 * messages (say for a group that never comes); another member's early
 * message is still parked. */
static void test_one_sender_cannot_fill_it(void **state)
{
    (void)state;
    parking *p = parking_new(PARKING_MAX, PARKING_PER_SENDER, free);
    for (unsigned i = 0; i < PARKING_MAX; i++) {
        int r = add(p, 1, i, 9);
        assert_int_equal(r, i < PARKING_PER_SENDER ? 0 : BANTER_EAGAIN);
    }
    assert_int_equal(count_of(p, 1), PARKING_PER_SENDER);
    assert_int_equal(parking_count(p, NULL), PARKING_PER_SENDER);
    /* Another sender, another group: parked. */
    assert_int_equal(add(p, 2, 0, 1), 0);
    assert_int_equal(count_of(p, 2), 1);
    /* When its group's state comes, that one is taken out, the flood stays. */
    int first;
    assert_int_equal(take(p, 1, -1, &first), 1);
    assert_int_equal(first, 2000);
    assert_int_equal(count_of(p, 1), PARKING_PER_SENDER);
    assert_int_equal(count_of(p, 2), 0);
    parking_free(p); /* frees the flood (ASan: nothing leaks) */
}

static void test_total_cap(void **state)
{
    (void)state;
    parking *p = parking_new(PARKING_MAX, PARKING_PER_SENDER, free);
    unsigned senders = PARKING_MAX / PARKING_PER_SENDER;
    for (unsigned s = 1; s <= senders; s++)
        for (unsigned i = 0; i < PARKING_PER_SENDER; i++)
            assert_int_equal(add(p, s, i, s), 0);
    assert_int_equal(parking_count(p, NULL), PARKING_MAX);
    assert_int_equal(add(p, senders + 1, 0, 1), BANTER_EAGAIN);
    assert_int_equal(count_of(p, senders + 1), 0);
    /* Room again once some are taken out. */
    assert_int_equal(take(p, 3, -1, NULL), PARKING_PER_SENDER);
    assert_int_equal(add(p, senders + 1, 0, 1), 0);
    parking_free(p);
}

static void test_parked_once(void **state)
{
    (void)state;
    parking *p = parking_new(4, 4, free);
    assert_int_equal(add(p, 1, 7, 1), 0);
    assert_int_equal(add(p, 1, 7, 1), 1); /* the server sent it again */
    assert_int_equal(parking_count(p, NULL), 1);
    assert_int_equal(count_of(p, 1), 1);
    parking_free(p);
}

/* A member who learnt a group message's id (the same for every member)
 * sends its own message with that id first: the genuine one still parks
 * beside it, and each is taken out with its own sender. */
static void test_same_id_other_sender(void **state)
{
    (void)state;
    parking *p = parking_new(PARKING_MAX, PARKING_PER_SENDER, free);
    uint8_t id[PARKING_ID_LEN], d1[PARKING_SENDER_LEN], d2[PARKING_SENDER_LEN],
        g[PARKING_GROUP_LEN];
    id_of(id, 9, 9);
    dev_of(d1, 1);
    dev_of(d2, 2);
    group_of(g, 3);
    int *a = malloc(sizeof *a), *b = malloc(sizeof *b), *c = malloc(sizeof *c);
    assert_true(a && b && c);
    *a = 1;
    *b = 2;
    *c = 3;
    assert_int_equal(parking_add(p, id, d2, g, b), 0); /* the decoy, first */
    assert_int_equal(parking_add(p, id, d1, g, a), 0); /* the genuine one */
    assert_int_equal(parking_add(p, id, d1, g, c), 1); /* sent again */
    free(c);
    assert_int_equal(parking_count(p, NULL), 2);
    int first;
    assert_int_equal(take(p, 3, 1, &first), 1);
    assert_int_equal(first, 1);
    assert_int_equal(take(p, 3, 2, &first), 1);
    assert_int_equal(first, 2);
    parking_free(p);
}

/* Taken out by group, and for a key by its sender, oldest first; the
 * others stay, and the shares are given back. */
static void test_take_by_group_and_sender(void **state)
{
    (void)state;
    parking *p = parking_new(PARKING_MAX, 3, free);
    assert_int_equal(add(p, 1, 0, 5), 0);
    assert_int_equal(add(p, 2, 0, 5), 0);
    assert_int_equal(add(p, 1, 1, 5), 0);
    assert_int_equal(add(p, 1, 2, 6), 0);
    assert_int_equal(add(p, 1, 3, 6), BANTER_EAGAIN); /* its share: 3 */
    int first;
    assert_int_equal(take(p, 7, -1, &first), 0); /* nothing of group 7 */
    assert_int_equal(first, -1);
    assert_int_equal(take(p, 5, 1, &first), 2); /* sender 1's key for group 5 */
    assert_int_equal(first, 1000);
    assert_int_equal(count_of(p, 1), 1);
    assert_int_equal(count_of(p, 2), 1);
    assert_int_equal(add(p, 1, 3, 6), 0);        /* its share has room again */
    assert_int_equal(add(p, 1, 0, 5), 0);        /* and a taken id parks again */
    assert_int_equal(take(p, 5, -1, &first), 2); /* group 5's state */
    assert_int_equal(first, 2000);
    assert_int_equal(take(p, 6, -1, NULL), 2);
    assert_int_equal(parking_count(p, NULL), 0);
    assert_int_equal(count_of(p, 1), 0);
    parking_free(p);
    parking_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_sender_cannot_fill_it),
        cmocka_unit_test(test_total_cap),
        cmocka_unit_test(test_parked_once),
        cmocka_unit_test(test_same_id_other_sender),
        cmocka_unit_test(test_take_by_group_and_sender),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
