/* SPDX-License-Identifier: MIT */
/* test_gstate.c - group membership: the canonical wire form, refused forms,
 * who may change what, and devices that see changes in different orders
 * ending with the same state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gstate.h"

#define LAN_KEY "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void set_member(gstate *st, size_t i, const char *id, bool admin)
{
    snprintf(st->m[i].id, sizeof st->m[i].id, "%s", id);
    st->m[i].admin = admin;
}

/* "@ada" creates "launch" with @bob and a LAN colleague. */
static gstate created(void)
{
    gstate st;
    memset(&st, 0, sizeof st);
    memset(st.group, 0x42, sizeof st.group);
    st.v = 1;
    snprintf(st.name, sizeof st.name, "launch");
    snprintf(st.creator, sizeof st.creator, "@ada");
    snprintf(st.by, sizeof st.by, "@ada");
    set_member(&st, 0, LAN_KEY, false);
    set_member(&st, 1, "@ada", true);
    set_member(&st, 2, "@bob", false);
    st.n = 3;
    return st;
}

static gstate next_of(const gstate *prev, const char *by)
{
    gstate st = *prev;
    st.v++;
    snprintf(st.by, sizeof st.by, "%s", by);
    return st;
}

static void remove_member(gstate *st, const char *id)
{
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->m[i].id, id) == 0) {
            memmove(&st->m[i], &st->m[i + 1], (st->n - i - 1) * sizeof st->m[0]);
            st->n--;
            return;
        }
    fail();
}

static void test_round_trip(void **state)
{
    (void)state;
    gstate st = created(), back;
    buf b, b2;
    buf_init(&b, 65536);
    buf_init(&b2, 65536);
    assert_int_equal(gstate_encode(&st, &b), 0);
    assert_int_equal(gstate_decode(&back, (const char *)buf_data(&b), buf_len(&b)), 0);
    assert_int_equal(back.n, 3);
    assert_true(gstate_find(&back, "@ada")->admin);
    assert_false(gstate_find(&back, "@bob")->admin);
    assert_non_null(gstate_find(&back, LAN_KEY));
    assert_int_equal(gstate_encode(&back, &b2), 0);
    assert_int_equal(buf_len(&b), buf_len(&b2));
    assert_memory_equal(buf_data(&b), buf_data(&b2), buf_len(&b));
    buf_free(&b);
    buf_free(&b2);
}

static int decode_str(const char *json)
{
    gstate st;
    return gstate_decode(&st, json, strlen(json));
}

#define HEAD "{\"group\":\"42424242424242424242424242424242\",\"v\":1,\"name\":\"g\","

static void test_refused_forms(void **state)
{
    (void)state;
    assert_int_equal(decode_str(HEAD "\"creator\":\"@ada\",\"by\":\"@ada\","
                                     "\"members\":[{\"id\":\"@ada\",\"admin\":true}]}"),
                     0);
    /* Members out of order, twice, malformed, or with admin false. */
    assert_int_not_equal(decode_str(HEAD "\"creator\":\"@ada\",\"by\":\"@ada\",\"members\":["
                                         "{\"id\":\"@bob\"},{\"id\":\"@ada\",\"admin\":true}]}"),
                         0);
    assert_int_not_equal(decode_str(HEAD "\"creator\":\"@ada\",\"by\":\"@ada\",\"members\":["
                                         "{\"id\":\"@ada\",\"admin\":true},{\"id\":\"@ada\"}]}"),
                         0);
    assert_int_not_equal(decode_str(HEAD "\"creator\":\"@ada\",\"by\":\"@ada\",\"members\":["
                                         "{\"id\":\"@ada\",\"admin\":true},{\"id\":\"bob\"}]}"),
                         0);
    assert_int_not_equal(decode_str(HEAD "\"creator\":\"@ada\",\"by\":\"@ada\",\"members\":["
                                         "{\"id\":\"@ada\",\"admin\":true},"
                                         "{\"id\":\"@bob\",\"admin\":false}]}"),
                         0);
    /* No admin; the creator a plain member; no members; v 0; unknown field. */
    assert_int_not_equal(decode_str(HEAD "\"creator\":\"@ada\",\"by\":\"@ada\","
                                         "\"members\":[{\"id\":\"@bob\"}]}"),
                         0);
    assert_int_not_equal(decode_str(HEAD "\"creator\":\"@ada\",\"by\":\"@ada\",\"members\":["
                                         "{\"id\":\"@ada\"},{\"id\":\"@bob\",\"admin\":true}]}"),
                         0);
    assert_int_not_equal(decode_str(HEAD "\"creator\":\"@ada\",\"by\":\"@ada\",\"members\":[]}"),
                         0);
    assert_int_not_equal(decode_str("{\"group\":\"42424242424242424242424242424242\",\"v\":0,"
                                    "\"name\":\"g\",\"creator\":\"@ada\",\"by\":\"@ada\","
                                    "\"members\":[{\"id\":\"@ada\",\"admin\":true}]}"),
                         0);
    assert_int_not_equal(decode_str(HEAD "\"creator\":\"@ada\",\"by\":\"@ada\",\"x\":1,"
                                         "\"members\":[{\"id\":\"@ada\",\"admin\":true}]}"),
                         0);
    /* A LAN member id is 64 lowercase hex digits. */
    assert_true(gstate_member_valid(LAN_KEY));
    assert_false(
        gstate_member_valid("0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"));
    assert_false(gstate_member_valid("0123"));
    assert_false(gstate_member_valid("@"));
}

static void test_rights(void **state)
{
    (void)state;
    gstate c = created();
    char why[80];
    assert_int_equal(gstate_check(NULL, &c, why, sizeof why), 0);
    gstate forged = c;
    snprintf(forged.by, sizeof forged.by, "@bob");
    assert_int_equal(gstate_check(NULL, &forged, why, sizeof why), BANTER_EPERM);

    /* An admin invites and renames; a member may not. */
    gstate inv = next_of(&c, "@ada");
    set_member(&inv, 3, "@dan", false);
    inv.n = 4;
    assert_int_equal(gstate_check(&c, &inv, why, sizeof why), 0);
    gstate bad = next_of(&c, "@bob");
    set_member(&bad, 3, "@dan", false);
    bad.n = 4;
    assert_int_equal(gstate_check(&c, &bad, why, sizeof why), BANTER_EPERM);
    bad = next_of(&c, "@bob");
    snprintf(bad.name, sizeof bad.name, "mine now");
    assert_int_equal(gstate_check(&c, &bad, why, sizeof why), BANTER_EPERM);
    /* A member makes itself admin: refused. */
    bad = next_of(&c, "@bob");
    bad.m[2].admin = true;
    assert_int_equal(gstate_check(&c, &bad, why, sizeof why), BANTER_EPERM);
    /* A member leaves; leaving and removing someone else at once is not
     * leaving. */
    gstate leave = next_of(&c, "@bob");
    remove_member(&leave, "@bob");
    assert_int_equal(gstate_check(&c, &leave, why, sizeof why), 0);
    bad = next_of(&c, "@bob");
    remove_member(&bad, "@bob");
    remove_member(&bad, LAN_KEY);
    assert_int_equal(gstate_check(&c, &bad, why, sizeof why), BANTER_EPERM);
    /* A stranger, a skipped version, another group. */
    bad = next_of(&c, "@eve");
    remove_member(&bad, "@bob");
    assert_int_equal(gstate_check(&c, &bad, why, sizeof why), BANTER_EPERM);
    bad = next_of(&c, "@ada");
    bad.v++;
    assert_int_equal(gstate_check(&c, &bad, why, sizeof why), BANTER_ESTATE);
    bad = next_of(&c, "@ada");
    bad.group[0] ^= 1;
    assert_int_equal(gstate_check(&c, &bad, why, sizeof why), BANTER_ESTATE);
    /* Another admin cannot remove the creator; the creator can leave once
     * someone else is an admin. */
    gstate promo = next_of(&c, "@ada");
    promo.m[2].admin = true; /* @bob */
    assert_int_equal(gstate_check(&c, &promo, why, sizeof why), 0);
    bad = next_of(&promo, "@bob");
    remove_member(&bad, "@ada");
    assert_int_equal(gstate_check(&promo, &bad, why, sizeof why), BANTER_EPERM);
    bad = next_of(&promo, "@bob");
    bad.m[1].admin = false; /* the creator unmade */
    assert_int_not_equal(gstate_check(&promo, &bad, why, sizeof why), 0);
    gstate creator_leaves = next_of(&promo, "@ada");
    remove_member(&creator_leaves, "@ada");
    assert_int_equal(gstate_check(&promo, &creator_leaves, why, sizeof why), 0);
    /* The last admin cannot leave a group without one. */
    bad = next_of(&c, "@ada");
    remove_member(&bad, "@ada");
    assert_int_not_equal(gstate_check(&c, &bad, why, sizeof why), 0);
}

static void test_views_agree(void **state)
{
    (void)state;
    gstate c = created();
    gstate promo = next_of(&c, "@ada");
    promo.m[2].admin = true; /* v2: @bob is an admin */
    /* v3 twice, at once: ada invites dan, bob renames. */
    gstate a3 = next_of(&promo, "@ada");
    set_member(&a3, 3, "@dan", false);
    a3.n = 4;
    gstate b3 = next_of(&promo, "@bob");
    snprintf(b3.name, sizeof b3.name, "launch v2");
    gstate *view1 = NULL, *view2 = NULL;
    gview *g1 = calloc(1, sizeof *g1), *g2 = calloc(1, sizeof *g2);
    assert_non_null(g1);
    assert_non_null(g2);
    gview_result res;
    assert_int_equal(gview_init(g1, &c, NULL, 0), 0);
    assert_int_equal(gview_init(g2, &c, NULL, 0), 0);
    /* Device 1: v2, a3, b3. Device 2: b3 (waits), a3 (waits), then v2. */
    assert_int_equal(gview_receive(g1, &promo, &res, NULL, 0), 0);
    assert_int_equal(res, GVIEW_APPLIED);
    assert_int_equal(gview_receive(g1, &a3, &res, NULL, 0), 0);
    assert_int_equal(res, GVIEW_APPLIED);
    assert_int_equal(gview_receive(g1, &b3, &res, NULL, 0), 0);
    assert_int_equal(gview_receive(g2, &b3, &res, NULL, 0), 0);
    assert_int_equal(res, GVIEW_PENDING);
    assert_int_equal(gview_receive(g2, &a3, &res, NULL, 0), 0);
    assert_int_equal(res, GVIEW_PENDING);
    assert_int_equal(gview_receive(g2, &promo, &res, NULL, 0), 0);
    assert_int_equal(res, GVIEW_APPLIED);
    /* A late arrival of the loser changes nothing anywhere. */
    bool a_wins = gstate_conflict(&promo, &a3, &b3) > 0;
    assert_true((gstate_conflict(&promo, &b3, &a3) < 0) == a_wins);
    assert_int_equal(gview_receive(g1, a_wins ? &b3 : &a3, &res, NULL, 0), 0);
    assert_int_equal(gview_receive(g2, a_wins ? &b3 : &a3, &res, NULL, 0), 0);
    view1 = &g1->cur;
    view2 = &g2->cur;
    assert_int_equal(view1->v, 3);
    assert_int_equal(gstate_order(view1, view2), 0);
    assert_int_equal(gstate_order(view1, a_wins ? &a3 : &b3), 0);
    /* A refused change leaves the view as it was. */
    gstate bad = next_of(&g1->cur, "@eve");
    gstate before = g1->cur;
    assert_int_equal(gview_receive(g1, &bad, &res, NULL, 0), BANTER_EPERM);
    assert_int_equal(gstate_order(&before, &g1->cur), 0);
    free(g1);
    free(g2);
}

/* The view after c, then the states in order (each taken). */
static void view_after(gview *g, const gstate *c, const gstate *const *sts, size_t n)
{
    gview_result res;
    assert_int_equal(gview_init(g, c, NULL, 0), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(gview_receive(g, sts[i], &res, NULL, 0), 0);
}

/* An admin removed or demoted at version v cannot take the group back
 * with a state of its own at v, however it rolls its content: the state
 * that removes or demotes it wins on every device, whatever arrived
 * first. */
static void test_removed_admin_loses(void **state)
{
    (void)state;
    gstate c = created();
    gstate promo = next_of(&c, "@ada"); /* v2: @bob and @dan admins */
    promo.m[2].admin = true;
    set_member(&promo, 3, "@dan", true);
    promo.n = 4;
    gstate out = next_of(&promo, "@dan"); /* v3: dan removes bob */
    remove_member(&out, "@bob");
    gstate demoted = next_of(&promo, "@dan"); /* or demotes him */
    demoted.m[2].admin = false;
    gview *g = calloc(1, sizeof *g);
    assert_non_null(g);
    for (int k = 0; k < 64; k++) {
        /* bob's own v3, re-rolled: a rename, or inviting someone. */
        gstate x = next_of(&promo, "@bob");
        snprintf(x.name, sizeof x.name, "bob's now %d", k);
        if (k % 2) {
            set_member(&x, 4, "@eve", true);
            x.n = 5;
        }
        for (int d = 0; d < 2; d++) {
            const gstate *win = d ? &demoted : &out;
            assert_true(gstate_conflict(&promo, win, &x) > 0);
            assert_true(gstate_conflict(&promo, &x, win) < 0);
            /* In the last, x waits for v2 (dan's state would not: dan
             * is not a member yet, so his device sends it again later). */
            const gstate *orders[3][3] = {
                {&promo, win, &x},
                {&promo, &x, win},
                {&x, &promo, win},
            };
            for (int o = 0; o < 3; o++) {
                view_after(g, &c, orders[o], 3);
                assert_int_equal(g->cur.v, 3);
                assert_int_equal(gstate_order(&g->cur, win), 0);
            }
        }
    }
    /* Two admins removing each other at once: one wins, the same
     * everywhere, whatever their states hold. */
    gstate x = next_of(&promo, "@bob");
    x.m[3].admin = false; /* bob demotes dan */
    const gstate *o1[3] = {&promo, &out, &x}, *o2[3] = {&promo, &x, &out};
    gstate first;
    view_after(g, &c, o1, 3);
    first = g->cur;
    view_after(g, &c, o2, 3);
    assert_int_equal(gstate_order(&first, &g->cur), 0);
    free(g);
}

/* Only a member's states wait for the versions before them, and one not
 * kept says so (GVIEW_DEFERRED: not to be acknowledged): a stranger's far
 * states do not crowd out the real ones, and no state is dropped as if it
 * had been taken. */
static void test_pending_bounded(void **state)
{
    (void)state;
    gstate c = created();
    gstate v2 = next_of(&c, "@ada");
    snprintf(v2.name, sizeof v2.name, "two");
    gstate v3 = next_of(&v2, "@ada");
    snprintf(v3.name, sizeof v3.name, "three");
    gview *g = calloc(1, sizeof *g);
    gview_result res;
    assert_non_null(g);
    assert_int_equal(gview_init(g, &c, NULL, 0), 0);
    /* @eve is no member: her states ahead are not kept. */
    for (int k = 0; k < 2 * GSTATE_MAX_PENDING; k++) {
        gstate e = v3;
        e.v += (uint64_t)k;
        snprintf(e.by, sizeof e.by, "@eve");
        snprintf(e.name, sizeof e.name, "eve %d", k);
        assert_int_equal(gview_receive(g, &e, &res, NULL, 0), 0);
        assert_int_equal(res, GVIEW_DEFERRED);
    }
    assert_int_equal(g->npending, 0);
    assert_int_equal(gview_receive(g, &v3, &res, NULL, 0), 0);
    assert_int_equal(res, GVIEW_PENDING);
    /* A member's fill the room; one farther than all is not kept, and
     * says so. */
    for (int k = 1; k < GSTATE_MAX_PENDING; k++) {
        gstate b = v3;
        b.v += (uint64_t)k;
        snprintf(b.by, sizeof b.by, "@bob");
        assert_int_equal(gview_receive(g, &b, &res, NULL, 0), 0);
        assert_int_equal(res, GVIEW_PENDING);
    }
    gstate farther = v3;
    farther.v += GSTATE_MAX_PENDING;
    assert_int_equal(gview_receive(g, &farther, &res, NULL, 0), 0);
    assert_int_equal(res, GVIEW_DEFERRED);
    /* v2 arrives: v3 follows; bob's (no admin changes) are dropped. */
    assert_int_equal(gview_receive(g, &v2, &res, NULL, 0), 0);
    assert_int_equal(res, GVIEW_APPLIED);
    assert_int_equal(g->cur.v, 3);
    assert_string_equal(g->cur.name, "three");
    free(g);
}

static void test_message_order(void **state)
{
    (void)state;
    /* Three devices; each device's own messages keep their order, and
     * every device sorts the same set the same way whatever it received
     * first. */
    gstate_pos p[6];
    memset(p, 0, sizeof p);
    const uint64_t lc[6] = {1, 2, 2, 3, 3, 4};
    const uint8_t dev[6] = {0xa, 0xa, 0xb, 0xb, 0xc, 0xa};
    const uint32_t it[6] = {0, 1, 0, 1, 0, 2};
    for (int i = 0; i < 6; i++) {
        p[i].lc = lc[i];
        memset(p[i].device, dev[i], 32);
        p[i].iteration = it[i];
    }
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) {
            int c = gstate_pos_cmp(&p[i], &p[j]);
            assert_true(i < j ? c < 0 : i > j ? c > 0 : c == 0);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),      cmocka_unit_test(test_refused_forms),
        cmocka_unit_test(test_rights),          cmocka_unit_test(test_views_agree),
        cmocka_unit_test(test_message_order),   cmocka_unit_test(test_removed_admin_loses),
        cmocka_unit_test(test_pending_bounded),
    };
    return cmocka_run_group_tests_name("gstate", tests, NULL, NULL);
}
