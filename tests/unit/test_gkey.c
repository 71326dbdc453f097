/* SPDX-License-Identifier: MIT */
/* test_gkey.c - group sender keys: members read, order and replays, a
 * member cannot forge another's message, a new epoch shuts out a removed
 * member, forward secrecy, saved states and malformed ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "gkey.h"

/* A counter rng: the same bytes every run. */
static void fill(void *ctx, uint8_t *out, size_t len)
{
    uint8_t *ctr = ctx;
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(*ctr * 31u + i);
    (*ctr)++;
}

static uint8_t rng_ctr;
static const uint8_t GROUP[GKEY_GROUP_LEN] = {1, 2,  3,  4,  5,  6,  7,  8,
                                              9, 10, 11, 12, 13, 14, 15, 16};
static uint8_t DEV_A[GKEY_DEVICE_LEN], DEV_B[GKEY_DEVICE_LEN];

static gkey_chain *own_chain(const uint8_t *dev, uint32_t epoch)
{
    gkey_chain *c = NULL;
    banter_rng r = {fill, &rng_ctr};
    assert_int_equal(gkey_chain_new(&c, GROUP, dev, epoch, r), 0);
    return c;
}

static gkey_chain *receiver_of(const gkey_chain *own)
{
    uint8_t d[GKEY_DIST_LEN];
    gkey_chain *c = NULL;
    gkey_dist_encode(own, d);
    assert_int_equal(gkey_dist_decode(&c, d, sizeof d), 0);
    assert_false(gkey_chain_is_own(c));
    return c;
}

typedef struct sealed {
    uint8_t b[64 + GKEY_OVERHEAD];
    size_t len;
} sealed;

static sealed seal(gkey_chain *c, const char *text)
{
    sealed s;
    size_t n = strlen(text);
    assert_true(n <= 64);
    assert_int_equal(gkey_seal(c, s.b, (const uint8_t *)text, n), 0);
    s.len = n + GKEY_OVERHEAD;
    return s;
}

static int open_text(gkey_chain *c, const sealed *s, char *out)
{
    size_t n = 0;
    int r = gkey_open(c, (uint8_t *)out, &n, s->b, s->len);
    if (r == 0)
        out[n] = '\0';
    return r;
}

static void test_members_read_in_any_order(void **state)
{
    (void)state;
    gkey_chain *a = own_chain(DEV_A, 1);
    gkey_chain *b1 = receiver_of(a), *b2 = receiver_of(a);
    sealed m0 = seal(a, "zero"), m1 = seal(a, "one"), m2 = seal(a, "two");
    char out[80];
    gkey_header h;
    assert_int_equal(gkey_peek(&h, m2.b, m2.len), 0);
    assert_int_equal(h.iteration, 2);
    assert_int_equal(h.epoch, 1);
    assert_memory_equal(h.device, DEV_A, GKEY_DEVICE_LEN);
    /* In order on one member's device, out of order on another's. */
    assert_int_equal(open_text(b1, &m0, out), 0);
    assert_string_equal(out, "zero");
    assert_int_equal(open_text(b1, &m1, out), 0);
    assert_int_equal(open_text(b1, &m2, out), 0);
    assert_string_equal(out, "two");
    assert_int_equal(open_text(b2, &m2, out), 0);
    assert_int_equal(open_text(b2, &m0, out), 0);
    assert_string_equal(out, "zero");
    assert_int_equal(open_text(b2, &m1, out), 0);
    assert_string_equal(out, "one");
    /* A key is used once: every replay is refused. */
    assert_int_equal(open_text(b1, &m1, out), BANTER_ENOENT);
    assert_int_equal(open_text(b2, &m0, out), BANTER_ENOENT);
    assert_int_equal(open_text(b2, &m2, out), BANTER_ENOENT);
    /* The sender's own chain cannot be used to open (it only seals), and a
     * receiving chain cannot seal. */
    uint8_t buf[GKEY_OVERHEAD + 1];
    assert_int_equal(gkey_seal(b1, buf, (const uint8_t *)"x", 1), BANTER_ESTATE);
    gkey_chain_free(a);
    gkey_chain_free(b1);
    gkey_chain_free(b2);
}

static void test_tampering_and_forgery(void **state)
{
    (void)state;
    gkey_chain *a = own_chain(DEV_A, 1);
    gkey_chain *b = receiver_of(a);
    sealed m = seal(a, "pay 10 to bob");
    char out[80];
    for (size_t i = 0; i < m.len; i += 7) {
        sealed t = m;
        t.b[i] ^= 0x40;
        int r = open_text(b, &t, out);
        assert_true(r == BANTER_EIDENTITY || r == BANTER_EINVAL || r == BANTER_EUNSUPPORTED);
    }
    /* A member holds the chain key, so can make the message key, but not
     * the sender's signature: a forged message "from a" is refused. */
    gkey_chain *mallory_view = receiver_of(a);
    uint8_t mk_forged[GKEY_SAVE_MAX];
    size_t n = gkey_chain_save(mallory_view, mk_forged);
    assert_true(n > 0);
    gkey_chain *forger = own_chain(DEV_B, 1); /* a signing key of mallory's */
    sealed f = seal(forger, "pay 1000 to mallory");
    /* Re-address mallory's message to a's chain: device in the header. */
    memcpy(f.b + 1 + GKEY_GROUP_LEN, DEV_A, GKEY_DEVICE_LEN);
    assert_int_equal(open_text(b, &f, out), BANTER_EIDENTITY);
    /* The genuine message still opens: failures changed nothing. */
    assert_int_equal(open_text(b, &m, out), 0);
    assert_string_equal(out, "pay 10 to bob");
    /* Truncated input. */
    size_t on = 0;
    assert_int_equal(gkey_open(b, (uint8_t *)out, &on, m.b, GKEY_OVERHEAD - 1), BANTER_ETRUNCATED);
    gkey_chain_free(a);
    gkey_chain_free(b);
    gkey_chain_free(mallory_view);
    gkey_chain_free(forger);
}

static void test_skip_limits(void **state)
{
    (void)state;
    gkey_chain *a = own_chain(DEV_A, 1);
    gkey_chain *b = receiver_of(a), *c = receiver_of(a);
    sealed first = seal(a, "first");
    sealed last = first;
    for (unsigned i = 1; i <= GKEY_MAX_SKIP + 1; i++)
        last = seal(a, "later");
    char out[80];
    /* More than GKEY_MAX_SKIP ahead: refused, and the chain did not move. */
    assert_int_equal(open_text(b, &last, out), BANTER_ETOOBIG);
    assert_int_equal(open_text(b, &first, out), 0);
    assert_string_equal(out, "first");
    /* c jumps 300 ahead: only the newest GKEY_MAX_KEPT skipped keys stay. */
    gkey_chain *a2 = own_chain(DEV_A, 2);
    gkey_chain *c2 = receiver_of(a2);
    sealed all[301];
    for (unsigned i = 0; i < 301; i++)
        all[i] = seal(a2, "m");
    assert_int_equal(open_text(c2, &all[300], out), 0);
    assert_int_equal(open_text(c2, &all[0], out), BANTER_ENOENT);
    assert_int_equal(open_text(c2, &all[300 - GKEY_MAX_KEPT - 1], out), BANTER_ENOENT);
    assert_int_equal(open_text(c2, &all[300 - GKEY_MAX_KEPT], out), 0);
    assert_int_equal(open_text(c2, &all[299], out), 0);
    gkey_chain_free(a);
    gkey_chain_free(b);
    gkey_chain_free(c);
    gkey_chain_free(a2);
    gkey_chain_free(c2);
}

static void test_epochs_and_forward_secrecy(void **state)
{
    (void)state;
    gkey_chain *a1 = own_chain(DEV_A, 1);
    gkey_chain *removed = receiver_of(a1), *stays = receiver_of(a1);
    sealed old = seal(a1, "before");
    char out[80];
    assert_int_equal(open_text(removed, &old, out), 0);
    /* A member leaves: a new epoch, handed only to those who stay. */
    gkey_chain *a2 = own_chain(DEV_A, 2);
    gkey_chain *stays2 = receiver_of(a2);
    sealed fresh = seal(a2, "after");
    assert_int_equal(open_text(removed, &fresh, out), BANTER_EINVAL);
    assert_int_equal(open_text(stays, &fresh, out), BANTER_EINVAL);
    assert_int_equal(open_text(stays2, &fresh, out), 0);
    assert_string_equal(out, "after");
    /* Even relabelled as epoch 1 the old chain cannot read it. */
    sealed relabel = fresh;
    relabel.b[1 + GKEY_GROUP_LEN + GKEY_DEVICE_LEN + 3] = 1;
    assert_int_equal(open_text(removed, &relabel, out), BANTER_EIDENTITY);
    /* Forward secrecy: a distribution taken after message 0 reads nothing
     * before it. */
    gkey_chain *late = receiver_of(a1);
    sealed next = seal(a1, "next");
    assert_int_equal(open_text(late, &old, out), BANTER_ENOENT);
    assert_int_equal(open_text(late, &next, out), 0);
    gkey_chain_free(a1);
    gkey_chain_free(a2);
    gkey_chain_free(removed);
    gkey_chain_free(stays);
    gkey_chain_free(stays2);
    gkey_chain_free(late);
}

static void test_save_load(void **state)
{
    (void)state;
    gkey_chain *a = own_chain(DEV_A, 7);
    gkey_chain *b = receiver_of(a);
    sealed m[4];
    for (int i = 0; i < 4; i++)
        m[i] = seal(a, "saved");
    char out[80];
    assert_int_equal(open_text(b, &m[3], out), 0); /* 0..2 kept */
    uint8_t *buf = malloc(GKEY_SAVE_MAX);
    assert_non_null(buf);
    size_t n = gkey_chain_save(b, buf);
    gkey_chain *b2 = NULL;
    assert_int_equal(gkey_chain_load(&b2, buf, n), 0);
    assert_int_equal(open_text(b2, &m[1], out), 0);
    assert_int_equal(open_text(b2, &m[3], out), BANTER_ENOENT);
    /* Own chain: it seals on from where it was, readable by b. */
    n = gkey_chain_save(a, buf);
    gkey_chain *a2 = NULL;
    assert_int_equal(gkey_chain_load(&a2, buf, n), 0);
    assert_true(gkey_chain_is_own(a2));
    sealed m4 = seal(a2, "after load");
    assert_int_equal(open_text(b, &m4, out), 0);
    assert_string_equal(out, "after load");
    /* Malformed states. */
    gkey_chain *x = NULL;
    for (size_t cut = 0; cut < n; cut += 5)
        assert_int_not_equal(gkey_chain_load(&x, buf, cut), 0);
    uint8_t *bad = malloc(GKEY_SAVE_MAX);
    assert_non_null(bad);
    memcpy(bad, buf, n);
    bad[2 + GKEY_DIST_LEN + 1] ^= 1; /* the signing secret's seed */
    assert_int_equal(gkey_chain_load(&x, bad, n), BANTER_EFORMAT);
    memcpy(bad, buf, n);
    bad[1] = 9;
    assert_int_equal(gkey_chain_load(&x, bad, n), BANTER_EUNSUPPORTED);
    /* Kept keys out of order, or at/after the next iteration. */
    size_t rn = gkey_chain_save(b, buf); /* b: next 5, kept 0,1,2 */
    memcpy(bad, buf, rn);
    size_t k0 = 2 + GKEY_DIST_LEN + 1 + 2;
    bad[k0 + 3] = 2; /* first kept says 2, then 1 */
    assert_int_equal(gkey_chain_load(&x, bad, rn), BANTER_EFORMAT);
    memcpy(bad, buf, rn);
    bad[k0 + 36 * 2 + 3] = 9;
    assert_int_equal(gkey_chain_load(&x, bad, rn), BANTER_EFORMAT);
    memcpy(bad, buf, rn);
    bad[k0 - 1] = 4; /* count says 4, 3 follow */
    assert_int_equal(gkey_chain_load(&x, bad, rn), BANTER_EFORMAT);
    assert_null(x);
    free(bad);
    free(buf);
    gkey_chain_free(a);
    gkey_chain_free(a2);
    gkey_chain_free(b);
    gkey_chain_free(b2);
}

static void test_distribution_checked(void **state)
{
    (void)state;
    gkey_chain *a = own_chain(DEV_A, 1);
    uint8_t d[GKEY_DIST_LEN + 1];
    gkey_chain *c = NULL;
    gkey_dist_encode(a, d);
    assert_int_equal(gkey_dist_decode(&c, d, GKEY_DIST_LEN - 1), BANTER_ETRUNCATED);
    assert_int_equal(gkey_dist_decode(&c, d, GKEY_DIST_LEN + 1), BANTER_ETRAILING);
    d[0] = 2;
    assert_int_equal(gkey_dist_decode(&c, d, GKEY_DIST_LEN), BANTER_EUNSUPPORTED);
    d[0] = 1;
    /* A signing key that is not a point on the curve. */
    memset(d + GKEY_HDR_LEN + 32, 0xff, BCRYPTO_ED_PKLEN);
    assert_int_equal(gkey_dist_decode(&c, d, GKEY_DIST_LEN), BANTER_EIDENTITY);
    assert_null(c);
    gkey_chain_free(a);
}

int main(void)
{
    if (bcrypto_init() != 0)
        return 1;
    memset(DEV_A, 0xaa, sizeof DEV_A);
    memset(DEV_B, 0xbb, sizeof DEV_B);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members_read_in_any_order),
        cmocka_unit_test(test_tampering_and_forgery),
        cmocka_unit_test(test_skip_limits),
        cmocka_unit_test(test_epochs_and_forward_secrecy),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_distribution_checked),
    };
    return cmocka_run_group_tests_name("gkey", tests, NULL, NULL);
}
