/* SPDX-License-Identifier: MIT */
/*
 * test_rdv_contacts.c - the contact relation: the state machine of
 * docs/rendezvous.md 5.1 (request, approve, deny, remove, block, unblock,
 * what each side sees, blocks that stay hidden), its storage (both sides in
 * one transaction, rows gone when nothing is left, the other side's block
 * listed), presence storage, the broadcast right, and search visibility
 * (details to approved contacts and oneself only, a block not visible to
 * the blocked, invisible accounts hidden from others, no condition on a
 * hidden field that tells anything: dirview.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "db_contacts.h"
#include "rdv_dbtest.h"
#include "dirview.h"
#include "rel.h"

#define FAKE_HASH "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo"

struct fixture {
    struct dbt t;
    const char *path;
    db *d;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    dbt_make(&f->t, "rdvc");
    f->path = f->t.path;
    assert_int_equal(db_open(&f->d, f->path, NULL, 0), 0);
    static const char *const names[] = {"ann", "bob", "cat", "dan", "zed"};
    for (int i = 0; i < 5; i++)
        assert_int_equal(db_user_add(f->d, names[i], FAKE_HASH, i == 0, 1), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    db_close(f->d);
    dbt_remove(&f->t);
    free(f);
    return 0;
}

/* What A and B see after ops applied in order (each by "a" or "b"). */
struct step {
    char who;
    rv_op op;
    int ret;
    rv_cstate a_sees, b_sees;
};

static void run_steps(const struct step *st, size_t n)
{
    rel_side a = {REL_NONE, false}, b = {REL_NONE, false};
    for (size_t i = 0; i < n; i++) {
        rel_side oa = a, ob = b;
        int r = st[i].who == 'a' ? rel_apply(st[i].op, &a, &b) : rel_apply(st[i].op, &b, &a);
        assert_int_equal(r, st[i].ret);
        if (r) {
            assert_memory_equal(&a, &oa, sizeof a);
            assert_memory_equal(&b, &ob, sizeof b);
        }
        assert_int_equal(rel_view(a), st[i].a_sees);
        assert_int_equal(rel_view(b), st[i].b_sees);
        /* The relations mirror each other whatever the blocks. */
        assert_int_equal(a.rel, rel_mirror(b.rel));
    }
}

static void test_request_approve_remove(void **state)
{
    (void)state;
    const struct step st[] = {
        {'a', RV_OP_APPROVE, BANTER_ESTATE, RV_CS_NONE, RV_CS_NONE},
        {'a', RV_OP_REQUEST, 0, RV_CS_OUTGOING, RV_CS_INCOMING},
        {'a', RV_OP_REQUEST, 0, RV_CS_OUTGOING, RV_CS_INCOMING},
        {'a', RV_OP_APPROVE, BANTER_ESTATE, RV_CS_OUTGOING, RV_CS_INCOMING},
        {'b', RV_OP_APPROVE, 0, RV_CS_APPROVED, RV_CS_APPROVED},
        {'b', RV_OP_REQUEST, 0, RV_CS_APPROVED, RV_CS_APPROVED},
        {'a', RV_OP_REMOVE, 0, RV_CS_NONE, RV_CS_NONE},
        /* Both ask: the second request approves. */
        {'b', RV_OP_REQUEST, 0, RV_CS_INCOMING, RV_CS_OUTGOING},
        {'a', RV_OP_REQUEST, 0, RV_CS_APPROVED, RV_CS_APPROVED},
        /* Withdrawing a request, denying one. */
        {'b', RV_OP_REMOVE, 0, RV_CS_NONE, RV_CS_NONE},
        {'a', RV_OP_REQUEST, 0, RV_CS_OUTGOING, RV_CS_INCOMING},
        {'a', RV_OP_REMOVE, 0, RV_CS_NONE, RV_CS_NONE},
        {'a', RV_OP_REQUEST, 0, RV_CS_OUTGOING, RV_CS_INCOMING},
        {'b', RV_OP_DENY, 0, RV_CS_NONE, RV_CS_NONE},
        {'b', RV_OP_DENY, BANTER_ESTATE, RV_CS_NONE, RV_CS_NONE},
    };
    run_steps(st, sizeof st / sizeof st[0]);
}

static void test_block(void **state)
{
    (void)state;
    const struct step st[] = {
        {'a', RV_OP_REQUEST, 0, RV_CS_OUTGOING, RV_CS_INCOMING},
        {'b', RV_OP_APPROVE, 0, RV_CS_APPROVED, RV_CS_APPROVED},
        /* b blocks a: a's view does not change. */
        {'b', RV_OP_BLOCK, 0, RV_CS_APPROVED, RV_CS_BLOCKED},
        {'b', RV_OP_REQUEST, BANTER_ESTATE, RV_CS_APPROVED, RV_CS_BLOCKED},
        {'b', RV_OP_APPROVE, BANTER_ESTATE, RV_CS_APPROVED, RV_CS_BLOCKED},
        /* a removes, then asks again: a sees a request not yet answered. */
        {'a', RV_OP_REMOVE, 0, RV_CS_NONE, RV_CS_BLOCKED},
        {'a', RV_OP_REQUEST, 0, RV_CS_OUTGOING, RV_CS_BLOCKED},
        /* b unblocks: the request is there. */
        {'b', RV_OP_UNBLOCK, 0, RV_CS_OUTGOING, RV_CS_INCOMING},
        {'b', RV_OP_UNBLOCK, 0, RV_CS_OUTGOING, RV_CS_INCOMING},
        {'b', RV_OP_APPROVE, 0, RV_CS_APPROVED, RV_CS_APPROVED},
        /* A block survives remove; unblocking an approved pair after the
         * other removed it shows none. */
        {'a', RV_OP_BLOCK, 0, RV_CS_BLOCKED, RV_CS_APPROVED},
        {'a', RV_OP_REMOVE, 0, RV_CS_BLOCKED, RV_CS_NONE},
        {'a', RV_OP_UNBLOCK, 0, RV_CS_NONE, RV_CS_NONE},
        /* Both block. */
        {'a', RV_OP_BLOCK, 0, RV_CS_BLOCKED, RV_CS_NONE},
        {'b', RV_OP_BLOCK, 0, RV_CS_BLOCKED, RV_CS_BLOCKED},
        {'a', RV_OP_UNBLOCK, 0, RV_CS_NONE, RV_CS_BLOCKED},
    };
    run_steps(st, sizeof st / sizeof st[0]);
    /* Details only with an approved, unblocked pair. */
    assert_true(rel_details((rel_side){REL_APPROVED, false}, false));
    assert_false(rel_details((rel_side){REL_APPROVED, true}, false));
    assert_false(rel_details((rel_side){REL_APPROVED, false}, true));
    assert_false(rel_details((rel_side){REL_OUTGOING, false}, false));
    assert_int_equal(rel_apply(RV_OP_COUNT, &(rel_side){0, 0}, &(rel_side){0, 0}), BANTER_EINVAL);
}

static void test_storage(void **state)
{
    struct fixture *f = *state;
    rel_side a, b;
    db_rel *rows = NULL;
    size_t n = 0;
    int64_t count;

    assert_int_equal(db_rel_pair(f->d, "ann", "bob", &a, &b), 0);
    assert_false(rel_exists(a) || rel_exists(b));
    assert_int_equal(rel_apply(RV_OP_REQUEST, &a, &b), 0);
    assert_int_equal(db_rel_write(f->d, "ann", "bob", a, b, 10), 0);
    rel_side a2, b2;
    assert_int_equal(db_rel_pair(f->d, "ann", "bob", &a2, &b2), 0);
    assert_memory_equal(&a, &a2, sizeof a);
    assert_memory_equal(&b, &b2, sizeof b);
    /* cat blocks ann without any relation: ann's list shows it. */
    assert_int_equal(db_rel_write(f->d, "cat", "ann", (rel_side){REL_NONE, true},
                                  (rel_side){REL_NONE, false}, 11),
                     0);
    /* ann approves dan's request, then dan blocks ann. */
    assert_int_equal(db_rel_write(f->d, "ann", "dan", (rel_side){REL_APPROVED, false},
                                  (rel_side){REL_APPROVED, true}, 12),
                     0);
    assert_int_equal(db_rel_list(f->d, "ann", &rows, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(rows[0].peer, "bob");
    assert_int_equal(rows[0].side.rel, REL_OUTGOING);
    assert_false(rows[0].blocked_me);
    assert_string_equal(rows[1].peer, "cat");
    assert_false(rel_exists(rows[1].side));
    assert_true(rows[1].blocked_me);
    assert_string_equal(rows[2].peer, "dan");
    assert_int_equal(rows[2].side.rel, REL_APPROVED);
    assert_true(rows[2].blocked_me);
    free(rows);
    assert_int_equal(db_rel_count(f->d, "ann", &count), 0);
    assert_int_equal(count, 2);
    assert_int_equal(db_rel_count(f->d, "cat", &count), 0);
    assert_int_equal(count, 1);

    /* Back to nothing: the rows go. */
    assert_int_equal(
        db_rel_write(f->d, "ann", "bob", (rel_side){0, false}, (rel_side){0, false}, 13), 0);
    assert_int_equal(db_rel_count(f->d, "bob", &count), 0);
    assert_int_equal(count, 0);
    assert_int_equal(db_rel_list(f->d, "bob", &rows, &n), 0);
    assert_null(rows);
    assert_int_equal(n, 0);
    /* An account that does not exist: nothing is written. */
    assert_int_equal(db_rel_write(f->d, "ann", "nobody", (rel_side){REL_OUTGOING, false},
                                  (rel_side){REL_INCOMING, false}, 14),
                     BANTER_EDB);
    assert_int_equal(db_rel_count(f->d, "ann", &count), 0);
    assert_int_equal(count, 1);
    assert_int_equal(db_rel_write(f->d, "ann", "ann", (rel_side){REL_OUTGOING, false},
                                  (rel_side){REL_INCOMING, false}, 14),
                     BANTER_EDB);
    assert_int_equal(db_rel_pair(f->d, "Ann", "bob", &a, &b), BANTER_EINVAL);
}

static void test_presence_and_rights(void **state)
{
    struct fixture *f = *state;
    uint8_t st;
    char text[RV_TEXT_MAX + 1];
    db_user u;
    assert_int_equal(db_presence_get(f->d, "bob", &st, text), 0);
    assert_int_equal(st, RV_P_ONLINE);
    assert_string_equal(text, "");
    assert_int_equal(db_presence_set(f->d, "bob", RV_P_AWAY, "at lunch", 5), 0);
    assert_int_equal(db_presence_get(f->d, "bob", &st, text), 0);
    assert_int_equal(st, RV_P_AWAY);
    assert_string_equal(text, "at lunch");
    assert_int_equal(db_presence_set(f->d, "bob", RV_P_OFFLINE, "", 5), BANTER_EINVAL);
    assert_int_equal(db_presence_set(f->d, "bob", RV_P_BUSY, "bad\x01", 5), BANTER_EINVAL);
    assert_int_equal(db_presence_set(f->d, "nobody", RV_P_BUSY, "", 5), BANTER_EDB);

    /* Admins have the broadcast right until it is revoked. */
    assert_int_equal(db_user_get(f->d, "ann", &u, NULL), 0);
    assert_true(u.admin && u.broadcast);
    assert_int_equal(db_user_get(f->d, "bob", &u, NULL), 0);
    assert_false(u.broadcast);
    assert_int_equal(db_user_set_broadcast(f->d, "bob", true), 0);
    assert_int_equal(db_user_set_broadcast(f->d, "bob", true), 1);
    assert_int_equal(db_user_set_broadcast(f->d, "ann", false), 0);
    assert_int_equal(db_user_get(f->d, "ann", &u, NULL), 0);
    assert_false(u.broadcast);
    assert_int_equal(db_user_set_broadcast(f->d, "nobody", true), BANTER_ENOENT);
    assert_int_equal(db_user_disable(f->d, "bob", 1), 0);
    assert_int_equal(db_user_enable(f->d, "bob"), 0);
    assert_int_equal(db_user_enable(f->d, "bob"), 1);
}

/* Search one account by name as searcher: found? with which fields? */
static int find(db *d, const char *searcher, const char *name, struct rv_profile *out)
{
    rvmsg m = {.type = RV_SEARCH_RESULT};
    struct rv_search q = {.n = 1, .per_page = 10};
    q.c[0] = (struct rv_criterion){.field = RV_F_COUNT};
    snprintf(q.c[0].value, sizeof q.c[0].value, "%s", name);
    assert_int_equal(db_search(d, searcher, &q, DIR_PUBLIC_DEFAULT, &m.u.result), 0);
    int found = (int)m.u.result.n;
    memset(out, 0, sizeof *out);
    for (int i = 0; found && i < RV_F_COUNT; i++)
        out->f[i] = m.u.result.users[0].p.f[i] ? strdup(m.u.result.users[0].p.f[i]) : NULL;
    rvmsg_clear(&m);
    return found;
}

static void test_search_visibility(void **state)
{
    struct fixture *f = *state;
    struct rv_profile p = {0}, got;
    p.f[RV_F_DISPLAY_NAME] = "Bob B";
    p.f[RV_F_DEPARTMENT] = "Ops";
    assert_int_equal(db_profile_set(f->d, "bob", &p, 1), 0);
    assert_int_equal(db_rel_write(f->d, "ann", "bob", (rel_side){REL_APPROVED, false},
                                  (rel_side){REL_APPROVED, false}, 2),
                     0);
    assert_int_equal(find(f->d, "cat", "bob", &got), 1);
    assert_string_equal(got.f[RV_F_DISPLAY_NAME], "Bob B");
    assert_null(got.f[RV_F_DEPARTMENT]);
    db_profile_clear(&got);
    assert_int_equal(find(f->d, "ann", "bob", &got), 1);
    assert_string_equal(got.f[RV_F_DEPARTMENT], "Ops");
    assert_null(got.f[RV_F_TITLE]); /* not set */
    db_profile_clear(&got);
    assert_int_equal(find(f->d, "bob", "bob", &got), 1);
    assert_string_equal(got.f[RV_F_DEPARTMENT], "Ops");
    db_profile_clear(&got);
    /* bob blocks ann: ann cannot tell (still found, with the details);
     * bob, who blocks, sees the display name only. */
    assert_int_equal(db_rel_write(f->d, "ann", "bob", (rel_side){REL_APPROVED, false},
                                  (rel_side){REL_APPROVED, true}, 3),
                     0);
    assert_int_equal(find(f->d, "ann", "bob", &got), 1);
    assert_string_equal(got.f[RV_F_DEPARTMENT], "Ops");
    db_profile_clear(&got);
    assert_int_equal(db_profile_set(f->d, "ann", &p, 3), 0);
    assert_int_equal(find(f->d, "bob", "ann", &got), 1);
    assert_null(got.f[RV_F_DEPARTMENT]);
    db_profile_clear(&got);
    /* Invisible: found by itself and approved contacts only. */
    assert_int_equal(db_presence_set(f->d, "bob", RV_P_INVISIBLE, "", 4), 0);
    assert_int_equal(find(f->d, "cat", "bob", &got), 0);
    assert_int_equal(find(f->d, "ann", "bob", &got), 1);
    db_profile_clear(&got);
    assert_int_equal(find(f->d, "bob", "bob", &got), 1);
    db_profile_clear(&got);
}

/* The encoded RV_SEARCH_RESULT a search of up to two criteria gets:
 * field f (eq or contains) value, and, when extra, user~"b"; the page
 * given. out is reset first. */
static void search_wire(db *d, const char *searcher, rv_field f, bool contains, const char *value,
                        bool extra, uint32_t page, uint32_t per_page, dir_public pub, buf *out)
{
    rvmsg m = {.type = RV_SEARCH_RESULT};
    struct rv_search q = {.n = extra ? 2 : 1, .page = page, .per_page = per_page};
    q.c[0] = (struct rv_criterion){.field = f, .contains = contains};
    snprintf(q.c[0].value, sizeof q.c[0].value, "%s", value);
    q.c[1] = (struct rv_criterion){.field = RV_F_COUNT, .contains = true};
    snprintf(q.c[1].value, sizeof q.c[1].value, "b");
    buf_consume(out, buf_len(out));
    assert_int_equal(db_search(d, searcher, &q, pub, &m.u.result), 0);
    assert_int_equal(rvmsg_encode(&m, out), 0);
    rvmsg_clear(&m);
}

/* How many a search finds (its total). */
static uint64_t search_total(db *d, const char *searcher, rv_field f, bool contains,
                             const char *value, dir_public pub)
{
    rvmsg m = {.type = RV_SEARCH_RESULT};
    struct rv_search q = {.n = 1, .per_page = 10};
    q.c[0] = (struct rv_criterion){.field = f, .contains = contains};
    snprintf(q.c[0].value, sizeof q.c[0].value, "%s", value);
    assert_int_equal(db_search(d, searcher, &q, pub, &m.u.result), 0);
    uint64_t total = m.u.result.total;
    rvmsg_clear(&m);
    return total;
}

/*
 * The directory is not an oracle (docs/rendezvous.md 4): for every field
 * a stranger does not see, its search with the value and with another
 * value get byte-identical answers (results, total, pages), also when the
 * searcher is an approved contact it blocked, or one that blocked it; its
 * own search and an approved contact's still match; a public field
 * matches for everyone. The fields a result carries follow the same view
 * (SQL and dir_view_of agree for every relation).
 */
static void test_search_oracle(void **state)
{
    struct fixture *f = *state;
    static const char *const val[RV_F_COUNT] = {"Bob Builder",      "Finance", "Treasurer",
                                                "bob@corp.example", "5550142", "Room 4.12",
                                                "likes sailing"};
    static const char *const sub[RV_F_COUNT] = {"build", "fin", "treas", "corp.ex",
                                                "014",   "4.1", "sail"};
    struct rv_profile p = {0};
    for (int i = 0; i < RV_F_COUNT; i++)
        p.f[i] = (char *)val[i];
    assert_int_equal(db_profile_set(f->d, "bob", &p, 1), 0);
    /* ann: approved contact; dan: approved, but dan blocked bob; zed:
     * approved, bob blocked zed; cat: a stranger bob blocked. */
    rel_side ap = {REL_APPROVED, false}, apb = {REL_APPROVED, true}, none = {REL_NONE, false};
    assert_int_equal(db_rel_write(f->d, "ann", "bob", ap, ap, 2), 0);
    assert_int_equal(db_rel_write(f->d, "dan", "bob", apb, ap, 2), 0);
    assert_int_equal(db_rel_write(f->d, "zed", "bob", ap, apb, 2), 0);
    assert_int_equal(db_rel_write(f->d, "cat", "bob", none, (rel_side){REL_NONE, true}, 2), 0);
    buf a, b;
    buf_init(&a, BANTER_MAX_PLAINTEXT);
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    static const char *const outsiders[] = {"cat", "dan"};
    for (int i = RV_F_DEPARTMENT; i < RV_F_COUNT; i++) {
        for (size_t o = 0; o < 2; o++) {
            const char *who = outsiders[o];
            for (int extra = 0; extra < 2; extra++) {
                for (uint32_t page = 0; page < 2; page++) {
                    search_wire(f->d, who, (rv_field)i, false, val[i], extra, page, 1,
                                DIR_PUBLIC_DEFAULT, &a);
                    search_wire(f->d, who, (rv_field)i, false, "no such value", extra, page, 1,
                                DIR_PUBLIC_DEFAULT, &b);
                    assert_int_equal(buf_len(&a), buf_len(&b));
                    assert_memory_equal(buf_data(&a), buf_data(&b), buf_len(&a));
                    search_wire(f->d, who, (rv_field)i, true, sub[i], extra, page, 1,
                                DIR_PUBLIC_DEFAULT, &a);
                    search_wire(f->d, who, (rv_field)i, true, "zzz", extra, page, 1,
                                DIR_PUBLIC_DEFAULT, &b);
                    assert_int_equal(buf_len(&a), buf_len(&b));
                    assert_memory_equal(buf_data(&a), buf_data(&b), buf_len(&a));
                }
            }
        }
        assert_int_equal(search_total(f->d, "ann", (rv_field)i, false, val[i], DIR_PUBLIC_DEFAULT),
                         1);
        assert_int_equal(search_total(f->d, "zed", (rv_field)i, true, sub[i], DIR_PUBLIC_DEFAULT),
                         1);
        assert_int_equal(search_total(f->d, "bob", (rv_field)i, true, sub[i], DIR_PUBLIC_DEFAULT),
                         1);
        assert_int_equal(search_total(f->d, "ann", (rv_field)i, false, "nope", DIR_PUBLIC_DEFAULT),
                         0);
        /* Made public: found by everyone. */
        dir_public pub = DIR_PUBLIC_DEFAULT | (1u << i);
        assert_int_equal(search_total(f->d, "cat", (rv_field)i, false, val[i], pub), 1);
        assert_int_equal(search_total(f->d, "dan", (rv_field)i, true, sub[i], pub), 1);
    }
    assert_int_equal(
        search_total(f->d, "cat", RV_F_DISPLAY_NAME, true, "builder", DIR_PUBLIC_DEFAULT), 1);
    assert_int_equal(search_total(f->d, "cat", RV_F_DISPLAY_NAME, true, "builder", 0), 0);
    /* Invisible: still found by a contact, also by a hidden field; by a
     * stranger not even by a public one. */
    assert_int_equal(db_presence_set(f->d, "bob", RV_P_INVISIBLE, "", 4), 0);
    assert_int_equal(
        search_total(f->d, "ann", RV_F_PHONE, false, val[RV_F_PHONE], DIR_PUBLIC_DEFAULT), 1);
    assert_int_equal(
        search_total(f->d, "cat", RV_F_DISPLAY_NAME, true, "builder", DIR_PUBLIC_DEFAULT), 0);
    assert_int_equal(db_presence_set(f->d, "bob", RV_P_ONLINE, "", 5), 0);
    /* What each searcher's result carries is its view, as dir_view_of has it. */
    static const char *const all[] = {"ann", "bob", "cat", "dan", "zed"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        rel_side mine, theirs;
        struct rv_profile got;
        assert_int_equal(db_rel_pair(f->d, all[i], "bob", &mine, &theirs), 0);
        dir_view v = dir_view_of(strcmp(all[i], "bob") == 0, mine);
        assert_int_equal(find(f->d, all[i], "bob", &got), 1);
        for (int k = 0; k < RV_F_COUNT; k++)
            assert_int_equal(got.f[k] != NULL, dir_sees(DIR_PUBLIC_DEFAULT, v, (rv_field)k));
        db_profile_clear(&got);
    }
    buf_free(&a);
    buf_free(&b);
}

/* dirview: the rule, the settings' list. */
static void test_dirview(void **state)
{
    (void)state;
    dir_public pub = 0;
    const char *bad = NULL;
    char text[DIR_PUBLIC_TEXT];
    assert_int_equal(dir_view_of(true, (rel_side){REL_NONE, true}), DIR_SELF);
    assert_int_equal(dir_view_of(false, (rel_side){REL_APPROVED, false}), DIR_CONTACT);
    assert_int_equal(dir_view_of(false, (rel_side){REL_APPROVED, true}), DIR_STRANGER);
    assert_int_equal(dir_view_of(false, (rel_side){REL_INCOMING, false}), DIR_STRANGER);
    assert_int_equal(dir_view_of(false, (rel_side){REL_OUTGOING, false}), DIR_STRANGER);
    assert_true(dir_sees(DIR_PUBLIC_DEFAULT, DIR_STRANGER, RV_F_DISPLAY_NAME));
    assert_true(dir_sees(0, DIR_STRANGER, RV_F_COUNT)); /* the account name */
    assert_false(dir_sees(DIR_PUBLIC_DEFAULT, DIR_STRANGER, RV_F_PHONE));
    assert_true(dir_sees(0, DIR_CONTACT, RV_F_PHONE));
    assert_int_equal(dir_public_parse(" department , title,location ", &pub, &bad), 0);
    assert_int_equal(pub, (1u << RV_F_DEPARTMENT) | (1u << RV_F_TITLE) | (1u << RV_F_LOCATION));
    dir_public_format(pub, text, sizeof text);
    assert_string_equal(text, "department,title,location");
    assert_int_equal(dir_public_parse("", &pub, &bad), 0);
    assert_int_equal(pub, 0);
    assert_int_equal(dir_public_parse("  ", &pub, &bad), 0);
    assert_int_equal(pub, 0);
    assert_int_equal(dir_public_parse("title,user", &pub, &bad), BANTER_EINVAL);
    assert_string_equal(bad, "user");
    assert_int_equal(dir_public_parse("title,,email", &pub, &bad), BANTER_EINVAL);
    assert_int_equal(dir_public_parse("title,", &pub, &bad), BANTER_EINVAL);
    assert_int_equal(dir_public_parse("phone;email", &pub, &bad), BANTER_EINVAL);
    /* dir_show: the fields seen that are set; the display name kept when asked. */
    struct rv_profile all = {0}, out;
    all.f[RV_F_PHONE] = "1";
    all.f[RV_F_TITLE] = "";
    assert_int_equal(dir_show(DIR_PUBLIC_DEFAULT, DIR_STRANGER, &all, true, &out), 0);
    assert_string_equal(out.f[RV_F_DISPLAY_NAME], "");
    assert_null(out.f[RV_F_PHONE]);
    db_profile_clear(&out);
    assert_int_equal(dir_show(DIR_PUBLIC_DEFAULT, DIR_CONTACT, &all, false, &out), 0);
    assert_null(out.f[RV_F_DISPLAY_NAME]);
    assert_null(out.f[RV_F_TITLE]);
    assert_string_equal(out.f[RV_F_PHONE], "1");
    db_profile_clear(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_approve_remove),
        cmocka_unit_test(test_block),
        cmocka_unit_test_setup_teardown(test_storage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_presence_and_rights, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_visibility, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_oracle, setup, teardown),
        cmocka_unit_test(test_dirview),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
