/* SPDX-License-Identifier: MIT */
/*
 * test_peer_orgnote.c - the node's side of the organisation's revocation
 * list (peer/rdv/orgnote.h, docs/rendezvous.md 14), fed real signed
 * RV_REVOKED messages as the rendezvous connection hands them over:
 * only a list the pinned organisation key signed is taken. A list a
 * hostile server signed with its own key (or one claiming the
 * organisation's key with another's signature) changes nothing: no device
 * is demoted (the callback does not run, the key is not revoked), nothing
 * is kept on disk, a list taken before is not replaced, and such a list
 * found in the node's home at start is ignored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "annmsg.h"
#include "bcrypto.h"
#include "identity.h"
#include "rdv/orgnote.h"
#include "rdv/rdv.h"
#include "rvmsg.h"

typedef struct fix {
    identity *org, *evil;
    char fpd[IDENTITY_FP_DIGITS + 1]; /* the pinned organisation key's digits */
    char *dir;
    char path[HOME_PATH_MAX];
    int revoked_calls, logins;
    uint8_t dev[32]; /* a device of the organisation (trusted) */
    uint8_t gone[32];
} fix;

static void on_revoked(void *ud, const revlist *l)
{
    (void)l;
    ((fix *)ud)->revoked_calls++;
}

static int on_announce(void *ud, const ann_msg *m)
{
    (void)ud;
    (void)m;
    return 0;
}

static void on_login(void *ud) { ((fix *)ud)->logins++; }

static const orgnote_callbacks CB = {on_revoked, on_announce, on_login};

static identity *ident(uint8_t seed_byte)
{
    uint8_t seed[BCRYPTO_ED_SEEDLEN];
    identity *id = NULL;
    memset(seed, seed_byte, sizeof seed);
    assert_int_equal(identity_from_seed(&id, seed), 0);
    return id;
}

static int setup(void **state)
{
    fix *f = g_new0(fix, 1);
    char fp[IDENTITY_FP_LEN + 1];
    f->org = ident(0x11);
    f->evil = ident(0x66);
    identity_fingerprint(identity_public(f->org), fp);
    assert_int_equal(rdv_parse_fingerprint(fp, f->fpd), 0);
    f->dir = g_dir_make_tmp("test-orgnote-XXXXXX", NULL);
    assert_non_null(f->dir);
    snprintf(f->path, sizeof f->path, "%s/revoked.bin", f->dir);
    memset(f->dev, 0xde, 32);
    memset(f->gone, 0x90, 32);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fix *f = *state;
    g_unlink(f->path);
    g_rmdir(f->dir);
    g_free(f->dir);
    identity_free(f->org);
    identity_free(f->evil);
    g_free(f);
    return 0;
}

/* RV_REVOKED (type byte first) listing key (NULL: none), issued at ms,
 * signed by signer; *len its length. The caller g_frees it. */
static uint8_t *list_msg(const identity *signer, const uint8_t *key, int64_t ms, size_t *len)
{
    revlist *l = g_new0(revlist, 1);
    l->issued_ms = ms;
    if (key) {
        memcpy(l->keys[0], key, 32);
        l->n = 1;
    }
    assert_int_equal(revlist_sign(l, signer), 0);
    uint8_t *pt = g_malloc(1 + REVLIST_LEN_MAX);
    pt[0] = RV_REVOKED;
    *len = 1 + revlist_encode(l, pt + 1, REVLIST_LEN_MAX);
    g_free(l);
    return pt;
}

static void feed(orgnote *o, const identity *server, const uint8_t *pt, size_t len)
{
    orgnote_feed(o, identity_public(server), pt, len);
}

/* Nothing changed: no callback, the device not revoked, nothing kept. */
static void assert_untouched(fix *f, orgnote *o)
{
    assert_int_equal(f->revoked_calls, 0);
    assert_int_equal(f->logins, 0);
    assert_false(orgnote_revoked(o, f->dev));
    assert_false(g_file_test(f->path, G_FILE_TEST_EXISTS));
}

static void test_list_of_another_key_refused(void **state)
{
    fix *f = *state;
    size_t len;
    orgnote *o = orgnote_new(NULL, f->path, f->fpd, &CB, f);
    assert_non_null(o);
    /* The server proved the organisation key (pinned), but the list is
     * signed by another key, which it names as its own: refused. */
    uint8_t *pt = list_msg(f->evil, f->dev, 2000, &len);
    feed(o, f->org, pt, len);
    assert_untouched(f, o);
    /* A server that proved that other key (pinning bypassed): still not
     * the pinned key's list. */
    feed(o, f->evil, pt, len);
    assert_untouched(f, o);
    orgnote_feed(o, NULL, pt, len); /* no server key at all */
    assert_untouched(f, o);
    /* The organisation key named in it, another key's signature. */
    memcpy(pt + 2, identity_public(f->org), 32); /* version (1), then the key */
    feed(o, f->org, pt, len);
    assert_untouched(f, o);
    g_free(pt);
    orgnote_free(o);
}

static void test_org_list_kept_against_a_foreign_one(void **state)
{
    fix *f = *state;
    size_t len;
    orgnote *o = orgnote_new(NULL, f->path, f->fpd, &CB, f);
    /* The organisation's own list is taken (the check can pass). */
    uint8_t *pt = list_msg(f->org, f->gone, 1000, &len);
    feed(o, f->org, pt, len);
    g_free(pt);
    assert_int_equal(f->revoked_calls, 1);
    assert_int_equal(f->logins, 1);
    assert_true(orgnote_revoked(o, f->gone));
    assert_true(g_file_test(f->path, G_FILE_TEST_EXISTS));
    /* A newer foreign list, empty (to bring the revoked device back) or
     * naming a trusted one: refused, the organisation's list stays. */
    pt = list_msg(f->evil, NULL, 5000, &len);
    feed(o, f->org, pt, len);
    g_free(pt);
    pt = list_msg(f->evil, f->dev, 6000, &len);
    feed(o, f->org, pt, len);
    g_free(pt);
    assert_int_equal(f->revoked_calls, 1);
    assert_true(orgnote_revoked(o, f->gone));
    assert_false(orgnote_revoked(o, f->dev));
    orgnote_free(o);
    /* What was kept is the organisation's: loaded again at start. */
    f->revoked_calls = 0;
    o = orgnote_new(NULL, f->path, f->fpd, &CB, f);
    orgnote_start(o);
    assert_int_equal(f->revoked_calls, 1);
    assert_true(orgnote_revoked(o, f->gone));
    assert_false(orgnote_revoked(o, f->dev));
    orgnote_free(o);
}

/* A foreign list put in the node's home (by whoever could write there)
 * is ignored at start. */
static void test_foreign_file_ignored(void **state)
{
    fix *f = *state;
    size_t len;
    uint8_t *pt = list_msg(f->evil, f->dev, 3000, &len);
    assert_true(g_file_set_contents(f->path, (const char *)pt + 1, (gssize)len - 1, NULL));
    g_free(pt);
    orgnote *o = orgnote_new(NULL, f->path, f->fpd, &CB, f);
    orgnote_start(o);
    assert_int_equal(f->revoked_calls, 0);
    assert_false(orgnote_revoked(o, f->dev));
    orgnote_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_list_of_another_key_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_org_list_kept_against_a_foreign_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_file_ignored, setup, teardown),
    };
    return cmocka_run_group_tests_name("peer_orgnote", tests, NULL, NULL);
}
