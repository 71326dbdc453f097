/* SPDX-License-Identifier: MIT */
/*
 * test_peer_groups.c - group conversations between five devices in one
 * process, on a fake clock: ada (two devices, A and A2, of the account
 * "ada"), bob and dave (accounts), carol (a LAN colleague, named by her
 * key). Each device has its own store, contacts, messenger and groups;
 * one fake route carries every copy into a queue that the test delivers
 * (or holds back), answering each as the receiving node would (ACK, or a
 * refusal). Create, invite, talk (the same order everywhere), remove (the
 * removed member's node stores nothing after, and the ciphertext it could
 * get does not open with any key it holds), leave, rename; the
 * authorization rule of each type; delivery per member; epochs by time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>
#include <sodium.h>

#include "core/contacts.h"
#include "core/groups.h"
#include "core/messenger.h"
#include "core/store.h"
#include "gkey.h"

#define SERVER_FPD "1234567890123456789012345678901234567890"
#define NDEV       5
#define QCAP       512

enum { A, A2, BOB, CAROL, DAVE };
static const char *const accounts[NDEV] = {"ada", "ada", "bob", NULL, "dave"};

struct wire { /* one copy on its way */
    int from, to;
    uint8_t id[MSG_ID_LEN];
    uint8_t *pt;
    size_t len;
};

struct net;

struct dev {
    struct net *net;
    int idx;
    char dir[64];
    store *st;
    contacts *cs;
    messenger *m;
    groups *g;
    uint8_t key[32];
    bool offline;    /* the route does not reach it */
    size_t nmsg;     /* group messages stored (callback) */
    size_t nrefused; /* invitations refused at GROUPS_MAX (callback) */
};

struct net {
    struct dev d[NDEV];
    struct wire q[QCAP];
    size_t nq;
    int64_t wall, mono;
    uint32_t rng;
    node_clock clock;
};

static int64_t f_wall(void *ctx) { return ((struct net *)ctx)->wall; }
static int64_t f_mono(void *ctx) { return ((struct net *)ctx)->mono; }
static void f_fill(void *ctx, uint8_t *out, size_t len)
{
    (void)ctx;
    randombytes_buf(out, len); /* real keys: gkey needs valid signing keys */
}

static int dev_of_key(struct net *n, const uint8_t key[static 32])
{
    for (int i = 0; i < NDEV; i++)
        if (memcmp(n->d[i].key, key, 32) == 0)
            return i;
    return -1;
}

static bool r_reaches(void *ud, const store_contact *c, const store_device *d)
{
    struct dev *me = ud;
    (void)c;
    int to = dev_of_key(me->net, d->key);
    return to >= 0 && !me->net->d[to].offline;
}

static int r_send(void *ud, const store_contact *c, const store_device *d, const store_msg *m)
{
    struct dev *me = ud;
    struct net *n = me->net;
    msg out;
    buf b;
    (void)c;
    assert_true(m->has_group);
    assert_int_equal(messenger_chat_of(m, &out), 0);
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    assert_int_equal(msg_encode(&out, &b), 0);
    msg_clear(&out);
    assert_true(n->nq < QCAP);
    struct wire *w = &n->q[n->nq++];
    w->from = me->idx;
    w->to = dev_of_key(n, d->key);
    memcpy(w->id, m->id, MSG_ID_LEN);
    w->len = buf_len(&b);
    w->pt = malloc(w->len);
    memcpy(w->pt, buf_data(&b), w->len);
    buf_free(&b);
    return 0;
}

static void on_message(void *ud, const store_msg *m)
{
    struct dev *me = ud;
    assert_true(m->has_group);
    me->nmsg++;
}

static void on_refused(void *ud, const uint8_t device[static 32], const gstate *st)
{
    struct dev *me = ud;
    (void)device, (void)st;
    me->nrefused++;
}

/* Deliver what is queued (also what the deliveries queue), except to
 * offline devices, whose copies stay. Returns how many were refused. */
static size_t pump(struct net *n)
{
    size_t refused = 0;
    for (int rounds = 0; rounds < 50; rounds++) {
        size_t k = 0;
        bool any = false;
        struct wire *q = malloc(sizeof n->q);
        size_t nq = n->nq;
        memcpy(q, n->q, sizeof n->q);
        n->nq = 0;
        for (size_t i = 0; i < nq; i++) {
            struct wire *w = &q[i];
            if (n->d[w->to].offline) {
                n->q[n->nq++] = *w; /* held back */
                continue;
            }
            any = true;
            msg m;
            assert_int_equal(msg_decode(&m, w->pt, w->len), 0);
            int r = groups_received(n->d[w->to].g, n->d[w->from].key, &m);
            msg_clear(&m);
            if (r >= 0)
                messenger_settled(n->d[w->from].m, "lan", n->d[w->to].key, w->id, COPY_DELIVERED,
                                  "");
            else if (r == BANTER_EAGAIN) /* not now: pending, sent again after a rest */
                messenger_settled(n->d[w->from].m, "lan", n->d[w->to].key, w->id, COPY_FAILED,
                                  "EAGAIN");
            else if (r == BANTER_EPERM) {
                refused++;
                messenger_settled(n->d[w->from].m, "lan", n->d[w->to].key, w->id, COPY_FAILED,
                                  "EPERM");
            } else
                fail_msg("device %d could not take a copy: %s", w->to, banter_errname(r));
            free(w->pt);
            k++;
        }
        free(q);
        if (!any)
            break;
    }
    return refused;
}

static void make_dev(struct net *n, int i)
{
    struct dev *d = &n->d[i];
    char err[256];
    d->net = n;
    d->idx = i;
    snprintf(d->dir, sizeof d->dir, "/tmp/banter-groups-XXXXXX");
    assert_non_null(mkdtemp(d->dir));
    char path[128];
    snprintf(path, sizeof path, "%s/banter.db", d->dir);
    assert_int_equal(store_open(&d->st, path, err, sizeof err), 0);
    assert_int_equal(contacts_new(&d->cs, d->st, SERVER_FPD, &n->clock), 0);
    banter_rng rng = {f_fill, n};
    messenger_callbacks mc = {NULL, NULL, NULL};
    assert_int_equal(messenger_new(&d->m, d->st, d->cs, &n->clock, rng, &mc, d), 0);
    mr_route r = {"lan", r_reaches, r_send, d};
    assert_int_equal(messenger_add_route(d->m, &r), 0);
    groups_callbacks gc = {on_message, NULL, on_refused};
    assert_int_equal(groups_new(&d->g, d->st, d->cs, d->m, &n->clock, rng, d->key, &gc, d), 0);
}

/* Every device knows every other: accounts through the server, carol as
 * a LAN colleague; ada's devices know each other as the own account's. */
static void introduce(struct net *n)
{
    for (int i = 0; i < NDEV; i++) {
        struct dev *d = &n->d[i];
        if (accounts[i])
            contacts_set_self(d->cs, accounts[i], d->key);
        for (int j = 0; j < NDEV; j++) {
            if (j == i)
                continue;
            contacts_admit_result res;
            if (accounts[j] && accounts[i] && strcmp(accounts[i], accounts[j]) == 0)
                assert_int_equal(contacts_self_devices(d->cs, (const uint8_t(*)[32])n->d[j].key, 1),
                                 0);
            else if (accounts[j] && j != A2)
                assert_int_equal(
                    contacts_org(d->cs, accounts[j], (const uint8_t(*)[32])n->d[j].key, 1, NULL),
                    0);
            else if (!accounts[j])
                assert_int_equal(
                    contacts_admit(d->cs, n->d[j].key, "carol", "lan", "", NULL, 0, &res), 0);
        }
        if (i != A && i != A2) { /* ada's account has two devices */
            uint8_t both[2][32];
            memcpy(both[0], n->d[A].key, 32);
            memcpy(both[1], n->d[A2].key, 32);
            assert_int_equal(contacts_org(d->cs, "ada", (const uint8_t(*)[32])both, 2, NULL), 0);
        }
    }
}

static int setup(void **state)
{
    struct net *n = calloc(1, sizeof *n);
    n->wall = 1795000000000;
    n->mono = 1000;
    n->clock = (node_clock){f_wall, f_mono, n};
    for (int i = 0; i < NDEV; i++) {
        randombytes_buf(n->d[i].key, 32);
        make_dev(n, i);
    }
    introduce(n);
    *state = n;
    return 0;
}

static int teardown(void **state)
{
    struct net *n = *state;
    for (size_t i = 0; i < n->nq; i++)
        free(n->q[i].pt);
    for (int i = 0; i < NDEV; i++) {
        struct dev *d = &n->d[i];
        groups_free(d->g);
        messenger_free(d->m);
        contacts_free(d->cs);
        store_close(d->st);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", d->dir);
        assert_int_equal(system(cmd), 0);
    }
    free(n);
    return 0;
}

static char carol_id[GSTATE_MEMBER_MAX + 1];

/* ada creates "launch" with bob, carol and dave; everyone joins. */
static void create_group(struct net *n, uint8_t gid[static 16])
{
    char why[128] = "";
    sodium_bin2hex(carol_id, sizeof carol_id, n->d[CAROL].key, 32);
    const char *members[] = {"@bob", carol_id, "@dave"};
    assert_int_equal(groups_create(n->d[A].g, "launch", members, 3, gid, why, sizeof why), 0);
    assert_int_equal(pump(n), 0);
    for (int i = 0; i < NDEV; i++) {
        groups_info info;
        assert_int_equal(groups_get(n->d[i].g, gid, &info), 0);
        assert_true(info.member);
        assert_int_equal(info.st.n, 4);
        assert_string_equal(info.st.name, "launch");
        assert_int_equal(info.admin, i == A || i == A2);
    }
}

static void say(struct net *n, int i, const uint8_t gid[static 16], const char *text)
{
    uint8_t id[MSG_ID_LEN];
    assert_int_equal(groups_send(n->d[i].g, gid, text, strlen(text), id), 0);
}

/* The bodies of a device's group history, joined with '|'. */
static void history(struct net *n, int i, const uint8_t gid[static 16], char *out, size_t cap)
{
    store_msg *h = NULL;
    size_t k = 0;
    out[0] = '\0';
    assert_int_equal(store_group_history(n->d[i].st, gid, NULL, 100, &h, &k), 0);
    for (size_t j = 0; j < k; j++) {
        if (j)
            g_strlcat(out, "|", cap);
        g_strlcat(out, h[j].body, cap);
    }
    store_msgs_free(h, k);
}

static void test_talk_same_order(void **state)
{
    struct net *n = *state;
    uint8_t gid[16];
    char first[512], other[512];
    create_group(n, gid);
    /* Messages sent at once from several places, delivered in batches. */
    say(n, BOB, gid, "bob one");
    say(n, CAROL, gid, "carol one");
    say(n, A, gid, "ada one");
    assert_int_equal(pump(n), 0);
    say(n, DAVE, gid, "dave answers");
    say(n, A2, gid, "ada from her laptop");
    say(n, BOB, gid, "bob two");
    assert_int_equal(pump(n), 0);
    history(n, A, gid, first, sizeof first);
    for (int i = 1; i < NDEV; i++) {
        history(n, i, gid, other, sizeof other);
        assert_string_equal(first, other);
    }
    /* Causal: what was sent after seeing a message sorts after it. */
    assert_true(strstr(first, "bob one") < strstr(first, "dave answers"));
    assert_true(strstr(first, "ada one") < strstr(first, "bob two"));
    assert_int_equal(n->d[BOB].nmsg, 4); /* six, two of them his own */
    /* Search finds group messages. */
    store_msg *hits = NULL;
    size_t k = 0;
    assert_int_equal(store_search(n->d[CAROL].st, "answers", NULL, 0, 10, &hits, &k), 0);
    assert_int_equal(k, 1);
    assert_true(hits[0].has_group);
    assert_memory_equal(hits[0].group, gid, 16);
    store_msgs_free(hits, k);
    /* ada's own message on her other device reads as sent (out). */
    store_msg *h = NULL;
    assert_int_equal(store_group_history(n->d[A2].st, gid, NULL, 100, &h, &k), 0);
    for (size_t j = 0; j < k; j++)
        if (strcmp(h[j].body, "ada one") == 0)
            assert_int_equal(h[j].dir, STORE_OUT);
    store_msgs_free(h, k);
}

/* Deliver the first queued copy from device `from` to device `to` of
 * type t alone, as the LAN would; its result. */
static int deliver_one(struct net *n, int from, int to, msg_type t)
{
    for (size_t i = 0; i < n->nq; i++) {
        struct wire w = n->q[i];
        msg m;
        if (w.from != from || w.to != to)
            continue;
        assert_int_equal(msg_decode(&m, w.pt, w.len), 0);
        if (m.type != t) {
            msg_clear(&m);
            continue;
        }
        memmove(&n->q[i], &n->q[i + 1], (n->nq - i - 1) * sizeof n->q[0]);
        n->nq--;
        int r = groups_received(n->d[to].g, n->d[from].key, &m);
        msg_clear(&m);
        messenger_settled(n->d[from].m, "lan", n->d[to].key, w.id,
                          r >= 0 ? COPY_DELIVERED : COPY_FAILED, r >= 0 ? "" : banter_errname(r));
        free(w.pt);
        return r;
    }
    fail_msg("no copy of type %d from %d to %d is queued", (int)t, from, to);
    return BANTER_EINVAL;
}

/* A member hands out its key as soon as it has the group's state, often
 * over a faster path than the creator's state takes to another member:
 * that member answers "not now" (EAGAIN), keeps nothing, and takes the
 * key when it comes again after a short rest, once the state is there. A
 * refusal for good here lost the key, and every message of that member,
 * until its next epoch. */
static void test_key_before_state(void **state)
{
    struct net *n = *state;
    uint8_t gid[16];
    char why[128] = "", h[512];
    sodium_bin2hex(carol_id, sizeof carol_id, n->d[CAROL].key, 32);
    const char *members[] = {"@bob", carol_id, "@dave"};
    assert_int_equal(groups_create(n->d[A].g, "launch", members, 3, gid, why, sizeof why), 0);
    assert_int_equal(deliver_one(n, A, CAROL, MSG_GROUP_STATE), 0);             /* carol joins... */
    assert_int_equal(deliver_one(n, CAROL, BOB, MSG_GROUP_KEY), BANTER_EAGAIN); /* ...too soon */
    groups_info info;
    assert_int_equal(groups_get(n->d[BOB].g, gid, &info), BANTER_ENOENT); /* nothing kept */
    assert_int_equal(pump(n), 0); /* the rest, ada's state to bob too */
    say(n, CAROL, gid, "carol first");
    assert_int_equal(pump(n), 0);
    n->mono += MESSENGER_AGAIN_DEFER_MS + MESSENGER_RETRY_MS;
    for (int i = 0; i < NDEV; i++)
        messenger_tick(n->d[i].m);
    assert_int_equal(pump(n), 0);
    history(n, BOB, gid, h, sizeof h);
    assert_string_equal(h, "carol first");
    history(n, DAVE, gid, h, sizeof h);
    assert_string_equal(h, "carol first");
}

/* Delivery per member: dave offline, then back. */
static void test_delivery(void **state)
{
    struct net *n = *state;
    uint8_t gid[16], id[MSG_ID_LEN];
    create_group(n, gid);
    n->d[DAVE].offline = true;
    assert_int_equal(groups_send(n->d[A].g, gid, "hello all", 9, id), 0);
    assert_int_equal(pump(n), 0);
    groups_member_delivery *dl = NULL;
    size_t k = 0, ok = 0;
    assert_int_equal(groups_delivery(n->d[A].g, gid, id, &dl, &k), 0);
    assert_int_equal(k, 3); /* bob, carol, dave: not ada herself */
    for (size_t i = 0; i < k; i++)
        ok += dl[i].delivered;
    assert_int_equal(ok, 2);
    free(dl);
    n->d[DAVE].offline = false;
    messenger_kick(n->d[A].m, NULL);
    pump(n);
    assert_int_equal(groups_delivery(n->d[A].g, gid, id, &dl, &k), 0);
    ok = 0;
    for (size_t i = 0; i < k; i++)
        ok += dl[i].delivered;
    assert_int_equal(ok, 3);
    free(dl);
    char h[256];
    history(n, DAVE, gid, h, sizeof h);
    assert_string_equal(h, "hello all");
}

/* The sealed GROUP_MSG of the last copy queued from device from. */
static struct wire *last_gmsg(struct net *n, int from)
{
    for (size_t i = n->nq; i-- > 0;)
        if (n->q[i].from == from && n->q[i].pt[0] == MSG_GROUP_MSG)
            return &n->q[i];
    return NULL;
}

/* A removed member's node stores nothing sent after, and what it could
 * get does not open with any key it holds. */
static void test_removed_cannot_read(void **state)
{
    struct net *n = *state;
    uint8_t gid[16];
    char why[128] = "", h[512];
    create_group(n, gid);
    say(n, BOB, gid, "before");
    assert_int_equal(pump(n), 0);
    /* bob is no admin: he may not remove anyone. */
    assert_int_equal(groups_remove(n->d[BOB].g, gid, "@dave", why, sizeof why), BANTER_EPERM);
    assert_int_equal(groups_remove(n->d[A].g, gid, "@dave", why, sizeof why), 0);
    assert_int_equal(pump(n), 0);
    groups_info info;
    assert_int_equal(groups_get(n->d[DAVE].g, gid, &info), 0);
    assert_false(info.member);
    assert_int_equal(info.st.n, 3);
    assert_int_equal(groups_get(n->d[BOB].g, gid, &info), 0);
    assert_int_equal(info.st.n, 3);
    assert_int_equal(info.epoch, 2); /* bob started a new epoch */
    /* dave can send nothing more. */
    uint8_t id[MSG_ID_LEN];
    assert_int_equal(groups_send(n->d[DAVE].g, gid, "x", 1, id), BANTER_ESTATE);

    say(n, BOB, gid, "after the removal");
    struct wire *w = last_gmsg(n, BOB);
    assert_non_null(w);
    assert_true(w->to != DAVE); /* no copy for dave at all */
    msg m;
    assert_int_equal(msg_decode(&m, w->pt, w->len), 0);
    /* Handed to dave's node anyway (as a malicious server could): refused,
     * and none of the chains dave's store holds for bob opens it. */
    assert_int_equal(groups_received(n->d[DAVE].g, n->d[BOB].key, &m), BANTER_EPERM);
    gkey_header hd;
    assert_int_equal(gkey_peek(&hd, m.u.gmsg.sealed, m.u.gmsg.len), 0);
    assert_int_equal(hd.epoch, 2);
    uint8_t *saved = malloc(STORE_GCHAIN_MAX), *pt = malloc(m.u.gmsg.len);
    size_t len = 0, ptlen = 0;
    assert_int_equal(store_gchain_get(n->d[DAVE].st, gid, n->d[BOB].key, 2, saved, &len),
                     BANTER_ENOENT);
    assert_int_equal(store_gchain_get(n->d[DAVE].st, gid, n->d[BOB].key, 1, saved, &len), 0);
    gkey_chain *c = NULL;
    assert_int_equal(gkey_chain_load(&c, saved, len), 0);
    assert_int_not_equal(gkey_open(c, pt, &ptlen, m.u.gmsg.sealed, m.u.gmsg.len), 0);
    /* Even relabelled as the old epoch, the old chain does not open it. */
    m.u.gmsg.sealed[1 + 16 + 32 + 3] = 1;
    assert_int_not_equal(gkey_open(c, pt, &ptlen, m.u.gmsg.sealed, m.u.gmsg.len), 0);
    gkey_chain_free(c);
    free(saved);
    free(pt);
    msg_clear(&m);
    assert_int_equal(pump(n), 0);
    history(n, DAVE, gid, h, sizeof h);
    assert_string_equal(h, "before");
    history(n, CAROL, gid, h, sizeof h);
    assert_string_equal(h, "before|after the removal");
    /* Invited again: dave reads what is said from then on. */
    const char *again[] = {"@dave"};
    assert_int_equal(groups_invite(n->d[A].g, gid, again, 1, why, sizeof why), 0);
    assert_int_equal(pump(n), 0);
    assert_int_equal(groups_get(n->d[DAVE].g, gid, &info), 0);
    assert_true(info.member);
    assert_int_equal(info.st.n, 4);
    say(n, BOB, gid, "welcome back");
    assert_int_equal(pump(n), 0);
    say(n, DAVE, gid, "thanks"); /* after he read it: sorts after it */
    assert_int_equal(pump(n), 0);
    history(n, DAVE, gid, h, sizeof h);
    assert_string_equal(h, "before|welcome back|thanks");
    history(n, CAROL, gid, h, sizeof h);
    assert_string_equal(h, "before|after the removal|welcome back|thanks");
}

/* Each type's rule: a sender without the right is refused. */
static void test_refusals(void **state)
{
    struct net *n = *state;
    uint8_t gid[16], stranger[32];
    char why[128] = "";
    randombytes_buf(stranger, sizeof stranger);
    sodium_bin2hex(carol_id, sizeof carol_id, n->d[CAROL].key, 32);
    /* A group of ada and bob only. */
    const char *members[] = {"@bob"};
    assert_int_equal(groups_create(n->d[A].g, "pair", members, 1, gid, why, sizeof why), 0);
    assert_int_equal(pump(n), 0);

    /* A stranger's GROUP_STATE (a device no one knows), and carol's state
     * claiming to be by ada: refused. */
    groups_info info;
    assert_int_equal(groups_get(n->d[A].g, gid, &info), 0);
    gstate st = info.st;
    st.v++;
    snprintf(st.name, sizeof st.name, "%s", "hijacked");
    msg m;
    uint8_t id[MSG_ID_LEN] = {1};
    assert_int_equal(msg_gstate_init(&m, id, &st), 0);
    assert_int_equal(groups_received(n->d[BOB].g, stranger, &m), BANTER_EPERM);
    assert_int_equal(groups_received(n->d[BOB].g, n->d[CAROL].key, &m), BANTER_EPERM);
    /* An invitation to carol by bob, who is no admin of it. */
    snprintf(m.u.gstate.st->by, sizeof m.u.gstate.st->by, "%s", "@bob");
    assert_int_equal(groups_received(n->d[BOB].g, n->d[BOB].key, &m), BANTER_EPERM);
    msg_clear(&m);
    assert_int_equal(groups_get(n->d[BOB].g, gid, &info), 0);
    assert_string_equal(info.st.name, "pair");

    /* A non-member's GROUP_MSG: carol seals with a chain of her own. */
    gkey_chain *c = NULL;
    banter_rng rng = {f_fill, n};
    assert_int_equal(gkey_chain_new(&c, gid, n->d[CAROL].key, 1, rng), 0);
    uint8_t sealed[64 + GKEY_OVERHEAD];
    assert_int_equal(gkey_seal(c, sealed, (const uint8_t *)"hello there", 11), 0);
    assert_int_equal(msg_gmsg_init(&m, id, sealed, 11 + GKEY_OVERHEAD), 0);
    assert_int_equal(groups_received(n->d[BOB].g, n->d[CAROL].key, &m), BANTER_EPERM);
    /* ... nor as relayed by a member. */
    assert_int_equal(groups_received(n->d[BOB].g, n->d[A].key, &m), BANTER_EPERM);
    msg_clear(&m);
    /* A non-member's GROUP_KEY (its own chain), and a member's naming
     * another device. */
    m = (msg){.type = MSG_GROUP_KEY};
    gkey_dist_encode(c, m.u.gkey.dist);
    assert_int_equal(groups_received(n->d[BOB].g, n->d[CAROL].key, &m), BANTER_EPERM);
    assert_int_equal(groups_received(n->d[BOB].g, n->d[A].key, &m), BANTER_EPERM);
    gkey_chain_free(c);
    /* GROUP_TEXT alone. */
    assert_int_equal(msg_gtext_init(&m, id, 1, 1, "hi", 2), 0);
    assert_int_equal(groups_received(n->d[BOB].g, n->d[A].key, &m), BANTER_EPERM);
    msg_clear(&m);
    /* Nothing of it was stored. */
    char h[64];
    history(n, BOB, gid, h, sizeof h);
    assert_string_equal(h, "");
}

static void test_leave_rename_epochs(void **state)
{
    struct net *n = *state;
    uint8_t gid[16], id[MSG_ID_LEN];
    char why[128] = "", h[256];
    create_group(n, gid);
    /* Two admins at once: one version wins on every device. */
    assert_int_equal(groups_rename(n->d[A].g, gid, "one", why, sizeof why), 0);
    assert_int_equal(groups_rename(n->d[A2].g, gid, "two", why, sizeof why), 0);
    assert_int_equal(pump(n), 0);
    groups_info first;
    assert_int_equal(groups_get(n->d[A].g, gid, &first), 0);
    for (int i = 0; i < NDEV; i++) {
        groups_info other;
        assert_int_equal(groups_get(n->d[i].g, gid, &other), 0);
        assert_string_equal(other.st.name, first.st.name);
        assert_int_equal(other.st.v, 2);
    }
    assert_int_equal(groups_rename(n->d[CAROL].g, gid, "x", why, sizeof why), BANTER_EPERM);
    assert_int_equal(groups_rename(n->d[A2].g, gid, "launch 2", why, sizeof why), 0);
    assert_int_equal(pump(n), 0);
    assert_int_equal(groups_leave(n->d[CAROL].g, gid, why, sizeof why), 0);
    assert_int_equal(pump(n), 0);
    groups_info info;
    for (int i = 0; i < NDEV; i++) {
        assert_int_equal(groups_get(n->d[i].g, gid, &info), 0);
        assert_string_equal(info.st.name, "launch 2");
        assert_int_equal(info.st.n, 3);
        assert_int_equal(info.member, i != CAROL);
    }
    assert_int_equal(groups_get(n->d[BOB].g, gid, &info), 0);
    assert_int_equal(info.epoch, 2);
    /* Eight days later a send starts a new epoch first. */
    n->wall += 8LL * 24 * 3600 * 1000;
    introduce(n); /* the server listed the accounts' devices meanwhile (each login) */
    assert_int_equal(groups_send(n->d[BOB].g, gid, "a week on", 9, id), 0);
    assert_int_equal(groups_get(n->d[BOB].g, gid, &info), 0);
    assert_int_equal(info.epoch, 3);
    assert_int_equal(pump(n), 0);
    history(n, DAVE, gid, h, sizeof h);
    assert_string_equal(h, "a week on");
    history(n, CAROL, gid, h, sizeof h);
    assert_string_equal(h, "");
    /* Found by name. */
    uint8_t found[16];
    assert_int_equal(groups_find(n->d[DAVE].g, "LAUNCH 2", found), 0);
    assert_memory_equal(found, gid, 16);
    int64_t unread = 0;
    assert_int_equal(groups_get(n->d[DAVE].g, gid, &info), 0);
    assert_int_equal(info.unread, 1);
    assert_int_equal(groups_mark_read(n->d[DAVE].g, gid), 0);
    assert_int_equal(groups_get(n->d[DAVE].g, gid, &info), 0);
    assert_int_equal(info.unread, 0);
    (void)unread;
}

/* A restart (a new groups object over the same store) keeps the state and
 * the chains: talk goes on. A member's device whose key changed gets no
 * copy and what it sends is refused, as in one-to-one chats. */
static void test_restart_and_changed_key(void **state)
{
    struct net *n = *state;
    uint8_t gid[16];
    char h[256];
    create_group(n, gid);
    say(n, BOB, gid, "one");
    assert_int_equal(pump(n), 0);
    groups_free(n->d[BOB].g);
    banter_rng rng = {f_fill, n};
    groups_callbacks gc = {on_message, NULL, on_refused};
    assert_int_equal(groups_new(&n->d[BOB].g, n->d[BOB].st, n->d[BOB].cs, n->d[BOB].m, &n->clock,
                                rng, n->d[BOB].key, &gc, &n->d[BOB]),
                     0);
    say(n, BOB, gid, "two, after a restart");
    assert_int_equal(pump(n), 0);
    say(n, A, gid, "three");
    assert_int_equal(pump(n), 0);
    history(n, BOB, gid, h, sizeof h);
    assert_string_equal(h, "one|two, after a restart|three");
    history(n, CAROL, gid, h, sizeof h);
    assert_string_equal(h, "one|two, after a restart|three");

    /* At ada's desk, carol's device is now "changed" (a new key claimed
     * her name): nothing goes to it, and what it sends is refused. */
    store_device d;
    assert_int_equal(store_device_get(n->d[A].st, n->d[CAROL].key, &d), 0);
    d.trust = TRUST_CHANGED;
    assert_int_equal(store_device_put(n->d[A].st, &d), 0);
    say(n, A, gid, "four");
    for (size_t i = 0; i < n->nq; i++)
        assert_false(n->q[i].from == A && n->q[i].to == CAROL);
    say(n, CAROL, gid, "five");
    assert_true(pump(n) >= 1); /* ada's node refused carol's copy */
    history(n, A, gid, h, sizeof h);
    assert_string_equal(h, "one|two, after a restart|three|four");
    /* carol never saw "four": her "five" is concurrent with it (the
     * same lc), so the two sort by device key, the same on every device. */
    history(n, BOB, gid, h, sizeof h);
    assert_true(strcmp(h, "one|two, after a restart|three|four|five") == 0 ||
                strcmp(h, "one|two, after a restart|three|five|four") == 0);
    char other[256];
    history(n, A2, gid, other, sizeof other);
    assert_string_equal(h, other);
}

/* A GROUP_MSG from device i to device to whose GROUP_TEXT carries clock
 * lc, sealed with i's own chain (which moves on, as a send would); the
 * receiver's result. */
static int send_lc(struct net *n, int i, int to, const uint8_t gid[static 16], uint64_t lc,
                   const char *text)
{
    store_group sg;
    gkey_chain *c = NULL;
    msg t, m;
    buf pt;
    uint8_t id[MSG_ID_LEN];
    randombytes_buf(id, sizeof id);
    assert_int_equal(store_group_get(n->d[i].st, gid, &sg), 0);
    assert_int_equal(gkey_chain_load(&c, sg.chain, sg.chain_len), 0);
    assert_int_equal(msg_gtext_init(&t, id, n->wall, (int64_t)lc, text, strlen(text)), 0);
    buf_init(&pt, BANTER_MAX_PLAINTEXT);
    assert_int_equal(msg_encode(&t, &pt), 0);
    msg_clear(&t);
    size_t slen = buf_len(&pt) + GKEY_OVERHEAD;
    uint8_t *sealed = malloc(slen);
    assert_int_equal(gkey_seal(c, sealed, buf_data(&pt), buf_len(&pt)), 0);
    buf_free(&pt);
    sg.chain_len = gkey_chain_save(c, sg.chain);
    gkey_chain_free(c);
    assert_int_equal(store_group_put(n->d[i].st, &sg), 0);
    store_group_clear(&sg);
    assert_int_equal(msg_gmsg_init(&m, id, sealed, slen), 0);
    free(sealed);
    int r = groups_received(n->d[to].g, n->d[i].key, &m);
    msg_clear(&m);
    return r;
}

/* A member cannot stop everyone else's sending by pushing the group's
 * Lamport clock to the end of its range: a message claiming a clock far
 * ahead is stored where it claims, but moves this device's clock by
 * GROUPS_LC_STEP_MAX at most, and a clock already at the end (a store from
 * before the rule) stops there instead of refusing every send. */
static void test_clock_far_ahead(void **state)
{
    struct net *n = *state;
    uint8_t gid[16], id[MSG_ID_LEN];
    char h[256];
    store_group sg;
    create_group(n, gid);
    say(n, A, gid, "one");
    assert_int_equal(pump(n), 0);
    assert_int_equal(send_lc(n, BOB, A, gid, (uint64_t)BANTER_MAX_INT, "the end"), 0);
    assert_int_equal(store_group_get(n->d[A].st, gid, &sg), 0);
    assert_int_equal(sg.lc, 1 + GROUPS_LC_STEP_MAX);
    store_group_clear(&sg);
    assert_int_equal(groups_send(n->d[A].g, gid, "still here", 10, id), 0);
    assert_int_equal(send_lc(n, BOB, A, gid, 5, "an old clock"), 0);
    assert_int_equal(store_group_get(n->d[A].st, gid, &sg), 0);
    assert_int_equal(sg.lc, 2 + GROUPS_LC_STEP_MAX);
    /* A clock at the end of its range (an old store): sending goes on. */
    sg.lc = GROUPS_LC_MAX;
    assert_int_equal(store_group_put(n->d[A].st, &sg), 0);
    store_group_clear(&sg);
    assert_int_equal(groups_send(n->d[A].g, gid, "at the end", 10, id), 0);
    assert_int_equal(groups_send(n->d[A].g, gid, "and after", 9, id), 0);
    assert_int_equal(send_lc(n, BOB, A, gid, (uint64_t)BANTER_MAX_INT, "the end again"), 0);
    assert_int_equal(store_group_get(n->d[A].st, gid, &sg), 0);
    assert_int_equal(sg.lc, GROUPS_LC_MAX);
    store_group_clear(&sg);
    assert_int_equal(pump(n), 0);
    history(n, A, gid, h, sizeof h);
    /* Past "still here", bob's and ada's clocks tie at the end (sorted by
     * device key). */
    assert_int_equal(strncmp(h, "one|an old clock|still here|", 28), 0);
    assert_true(strstr(h, "at the end") < strstr(h, "and after"));
    assert_non_null(strstr(h, "|the end|") ? strstr(h, "|the end|") : strstr(h, "|the end"));
    history(n, CAROL, gid, h, sizeof h);
    assert_string_equal(h, "one|still here|at the end|and after");
}

/* A GROUP_KEY from device i to device to, of a fresh chain of i at
 * epoch; the receiver's result. */
static int send_epoch(struct net *n, int i, int to, const uint8_t gid[static 16], uint32_t epoch)
{
    gkey_chain *c = NULL;
    banter_rng rng = {f_fill, n};
    msg m = {.type = MSG_GROUP_KEY};
    assert_int_equal(gkey_chain_new(&c, gid, n->d[i].key, epoch, rng), 0);
    gkey_dist_encode(c, m.u.gkey.dist);
    gkey_chain_free(c);
    randombytes_buf(m.u.gkey.id, MSG_ID_LEN);
    return groups_received(n->d[to].g, n->d[i].key, &m);
}

/* How many of the epochs from..to of device i's chains device at holds. */
static size_t chains_held(struct net *n, int at, int i, const uint8_t gid[static 16], uint32_t from,
                          uint32_t to)
{
    uint8_t *saved = malloc(STORE_GCHAIN_MAX);
    size_t len = 0, k = 0;
    for (uint32_t e = from;; e++) {
        k += store_gchain_get(n->d[at].st, gid, n->d[i].key, e, saved, &len) == 0;
        if (e == to)
            break;
    }
    free(saved);
    return k;
}

/* A member cannot fill another's disk with distributions: epochs only go
 * up (one at or below the newest held is refused), and at most
 * GROUPS_CHAINS_PER_DEVICE chains of a device are kept. */
static void test_falling_epochs(void **state)
{
    struct net *n = *state;
    uint8_t gid[16];
    char h[256];
    create_group(n, gid);
    assert_int_equal(chains_held(n, A, BOB, gid, 1, 1), 1);
    assert_int_equal(send_epoch(n, BOB, A, gid, UINT32_MAX), 0);
    for (uint32_t e = UINT32_MAX - 1; e > UINT32_MAX - 64; e--)
        assert_int_equal(send_epoch(n, BOB, A, gid, e), BANTER_EPERM);
    assert_int_equal(chains_held(n, A, BOB, gid, UINT32_MAX - 64, UINT32_MAX), 1);
    assert_int_equal(chains_held(n, A, BOB, gid, 1, 1), 1); /* the one before */
    /* Rising epochs keep two. */
    for (uint32_t e = 2; e < 10; e++)
        assert_int_equal(send_epoch(n, CAROL, A, gid, e), 0);
    assert_int_equal(chains_held(n, A, CAROL, gid, 1, 9), GROUPS_CHAINS_PER_DEVICE);
    assert_int_equal(chains_held(n, A, CAROL, gid, 8, 9), 2);
    /* An epoch held already is a duplicate: taken, nothing replaced. */
    assert_int_equal(send_epoch(n, CAROL, A, gid, 9), 0);
    /* Talk goes on with the real chains of the others. */
    say(n, DAVE, gid, "still talking");
    assert_int_equal(pump(n), 0);
    history(n, A, gid, h, sizeof h);
    assert_string_equal(h, "still talking");
}

/* Device from sends st to device to; the receiver's result. */
static int send_state_as(struct net *n, int from, int to, const gstate *st)
{
    msg m;
    uint8_t id[MSG_ID_LEN];
    randombytes_buf(id, sizeof id);
    assert_int_equal(msg_gstate_init(&m, id, st), 0);
    int r = groups_received(n->d[to].g, n->d[from].key, &m);
    msg_clear(&m);
    return r;
}

/* A node that knows a group (also after being removed from it) is taken
 * back only by a successor of the state it last knew: made by an admin of
 * that state, at most GSTATE_MAX_JUMP versions on. A member's copy of the
 * group with itself as admin, or a state far ahead, is refused. */
static void test_forged_reinvite(void **state)
{
    struct net *n = *state;
    uint8_t gid[16];
    char why[128] = "";
    groups_info info;
    create_group(n, gid);
    assert_int_equal(groups_remove(n->d[A].g, gid, "@dave", why, sizeof why), 0);
    assert_int_equal(pump(n), 0);
    assert_int_equal(groups_get(n->d[DAVE].g, gid, &info), 0);
    assert_false(info.member);
    gstate last = info.st;
    /* bob, no admin, makes up the next version: himself an admin, dave
     * back in. */
    gstate fake = last;
    fake.v++;
    snprintf(fake.by, sizeof fake.by, "@bob");
    for (size_t i = 0; i < fake.n; i++)
        fake.m[i].admin = strcmp(fake.m[i].id, "@bob") == 0 || strcmp(fake.m[i].id, "@ada") == 0;
    snprintf(fake.m[fake.n].id, sizeof fake.m[0].id, "@dave");
    fake.m[fake.n++].admin = false;
    assert_int_equal(send_state_as(n, BOB, DAVE, &fake), BANTER_EPERM);
    /* ... or a group of his own under its id, with another creator. */
    gstate own = fake;
    snprintf(own.creator, sizeof own.creator, "@bob");
    own.n = 0;
    snprintf(own.m[own.n].id, sizeof own.m[0].id, "@bob");
    own.m[own.n++].admin = true;
    snprintf(own.m[own.n].id, sizeof own.m[0].id, "@dave");
    own.m[own.n++].admin = false;
    assert_int_equal(send_state_as(n, BOB, DAVE, &own), BANTER_EPERM);
    /* An admin's invitation far ahead: refused too. */
    gstate far = last;
    far.v += GSTATE_MAX_JUMP + 1;
    snprintf(far.m[far.n].id, sizeof far.m[0].id, "@dave");
    far.m[far.n++].admin = false;
    assert_int_equal(send_state_as(n, A, DAVE, &far), BANTER_EPERM);
    assert_int_equal(groups_get(n->d[DAVE].g, gid, &info), 0);
    assert_false(info.member);
    assert_int_equal(info.st.v, last.v);
    /* A member is not moved far ahead either. */
    far.v = last.v + GSTATE_MAX_JUMP + 1;
    assert_int_equal(send_state_as(n, A, BOB, &far), BANTER_EPERM);
    /* ada's real invitation takes dave back. */
    const char *again[] = {"@dave"};
    assert_int_equal(groups_invite(n->d[A].g, gid, again, 1, why, sizeof why), 0);
    assert_int_equal(pump(n), 0);
    assert_int_equal(groups_get(n->d[DAVE].g, gid, &info), 0);
    assert_true(info.member);
    assert_int_equal(info.st.v, last.v + 1);
    assert_string_equal(info.st.by, "@ada");
}

/* A state ahead of the versions before it is held in memory at most, so
 * it is not acknowledged ("not now"): the sender sends it again, and it is
 * taken once the versions before it are there. */
static void test_state_ahead_not_acked(void **state)
{
    struct net *n = *state;
    uint8_t gid[16];
    char why[128] = "";
    groups_info info, bob;
    create_group(n, gid);
    n->d[BOB].offline = true;
    assert_int_equal(groups_rename(n->d[A].g, gid, "one", why, sizeof why), 0);
    assert_int_equal(groups_rename(n->d[A].g, gid, "two", why, sizeof why), 0);
    assert_int_equal(groups_get(n->d[A].g, gid, &info), 0);
    assert_int_equal(info.st.v, 3);
    assert_int_equal(send_state_as(n, A, BOB, &info.st), BANTER_EAGAIN);
    assert_int_equal(send_state_as(n, A, BOB, &info.st), BANTER_EAGAIN); /* still waiting */
    assert_int_equal(groups_get(n->d[BOB].g, gid, &bob), 0);
    assert_int_equal(bob.st.v, 1);
    n->d[BOB].offline = false;
    messenger_kick(n->d[A].m, NULL);
    assert_int_equal(pump(n), 0);
    assert_int_equal(groups_get(n->d[BOB].g, gid, &bob), 0);
    assert_int_equal(bob.st.v, 3);
    assert_string_equal(bob.st.name, "two");
    assert_int_equal(send_state_as(n, A, BOB, &info.st), 0); /* old now: taken */
}

static void restart(struct net *n, int i)
{
    banter_rng rng = {f_fill, n};
    groups_callbacks gc = {on_message, NULL, on_refused};
    groups_free(n->d[i].g);
    assert_int_equal(groups_new(&n->d[i].g, n->d[i].st, n->d[i].cs, n->d[i].m, &n->clock, rng,
                                n->d[i].key, &gc, &n->d[i]),
                     0);
}

static int invite_new(struct net *n, int from, int to, const char *by, const char *me,
                      uint8_t gid[static 16]);

/* dave's node uses GROUPS_VIEWS_MAX other groups (invited by ada, and
 * sending in each), so the views it held in memory are dropped. */
static void crowd_views(struct net *n, int i)
{
    uint8_t gid[16], id[MSG_ID_LEN];
    for (unsigned k = 0; k < GROUPS_VIEWS_MAX; k++) {
        if (k % GROUPS_INVITE_BURST == 0)
            n->mono += GROUPS_INVITE_BURST * GROUPS_INVITE_EVERY_MS;
        assert_int_equal(invite_new(n, A, DAVE, "@ada", "@dave", gid), 0);
        assert_int_equal(groups_send(n->d[DAVE].g, gid, "hi", 2, id), 0);
    }
    (void)i;
}

/* Two admins change the group at once: every device ends with the same
 * winner, also one that applied the loser and then restarted (forget:
 * restart) or dropped its view of the group (forget: crowd_views): the
 * state before the applied one is kept in the store. Before, a restarted
 * device rebuilt its view without the version before, ignored the
 * winner, and kept the loser for good: the membership diverged. */
static void concurrent_after(struct net *n, void (*forget)(struct net *n, int i))
{
    uint8_t gid[16];
    char why[128] = "";
    groups_info info;
    create_group(n, gid);
    assert_int_equal(groups_set_admin(n->d[A].g, gid, "@bob", true, why, sizeof why), 0);
    assert_int_equal(pump(n), 0);
    assert_int_equal(groups_get(n->d[DAVE].g, gid, &info), 0);
    gstate *base = malloc(sizeof *base), *sa = malloc(sizeof *sa), *sb = malloc(sizeof *sb);
    *base = info.st;
    /* At version 3, ada and bob each rename it. */
    *sa = *base;
    sa->v++;
    snprintf(sa->by, sizeof sa->by, "@ada");
    snprintf(sa->name, sizeof sa->name, "ada's name");
    *sb = *base;
    sb->v++;
    snprintf(sb->by, sizeof sb->by, "@bob");
    snprintf(sb->name, sizeof sb->name, "bob's name");
    bool a_wins = gstate_conflict(base, sa, sb) > 0;
    const gstate *win = a_wins ? sa : sb, *lose = a_wins ? sb : sa;
    int win_dev = a_wins ? A : BOB, lose_dev = a_wins ? BOB : A;
    /* dave applies the loser, forgets its view, then gets the winner. */
    assert_int_equal(send_state_as(n, lose_dev, DAVE, lose), 0);
    assert_int_equal(groups_get(n->d[DAVE].g, gid, &info), 0);
    assert_string_equal(info.st.name, lose->name);
    forget(n, DAVE);
    assert_int_equal(send_state_as(n, win_dev, DAVE, win), 0);
    assert_int_equal(groups_get(n->d[DAVE].g, gid, &info), 0);
    assert_string_equal(info.st.name, win->name);
    assert_string_equal(info.st.by, win->by);
    /* The loser again changes nothing, and neither does another restart. */
    assert_int_equal(send_state_as(n, lose_dev, DAVE, lose), 0);
    restart(n, DAVE);
    assert_int_equal(send_state_as(n, lose_dev, DAVE, lose), 0);
    assert_int_equal(groups_get(n->d[DAVE].g, gid, &info), 0);
    assert_string_equal(info.st.name, win->name);
    free(base);
    free(sa);
    free(sb);
}

static void test_concurrent_after_restart(void **state) { concurrent_after(*state, restart); }

/* At most GROUPS_VIEWS_MAX views are kept in memory: a group whose view
 * was dropped is read again from its row, the version before included. */
static void test_concurrent_after_views_dropped(void **state)
{
    concurrent_after(*state, crowd_views);
}

/* A message that cannot be stored (the disk full: a page cap) is not
 * lost: the chain stays where it was, so the copy sent again opens and is
 * stored. Before, the chain was saved past the message first, and the
 * copy sent again was taken as a replay and never stored. */
static void test_msg_not_stored_opens_again(void **state)
{
    struct net *n = *state;
    uint8_t gid[16];
    char *big = malloc(BANTER_MAX_BODY + 1), *h = malloc(2 * BANTER_MAX_BODY);
    create_group(n, gid);
    say(n, BOB, gid, "one");
    assert_int_equal(pump(n), 0);
    memset(big, 'x', BANTER_MAX_BODY);
    big[BANTER_MAX_BODY] = '\0';
    say(n, BOB, gid, big);
    struct wire *w = NULL;
    for (size_t i = 0; i < n->nq; i++)
        if (n->q[i].from == BOB && n->q[i].to == DAVE && n->q[i].pt[0] == MSG_GROUP_MSG)
            w = &n->q[i];
    assert_non_null(w);
    msg m;
    assert_int_equal(msg_decode(&m, w->pt, w->len), 0);
    /* dave's database may not grow: the message does not fit. */
    assert_int_equal(store_set_max_pages(n->d[DAVE].st, 1), 0);
    int r = groups_received(n->d[DAVE].g, n->d[BOB].key, &m);
    assert_true(r < 0 && r != BANTER_EPERM && r != BANTER_EAGAIN);
    history(n, DAVE, gid, h, 2 * BANTER_MAX_BODY);
    assert_string_equal(h, "one");
    /* Room again: the same copy, sent again, is stored. */
    assert_int_equal(store_set_max_pages(n->d[DAVE].st, 1 << 30), 0);
    assert_int_equal(groups_received(n->d[DAVE].g, n->d[BOB].key, &m), 0);
    msg_clear(&m);
    history(n, DAVE, gid, h, 2 * BANTER_MAX_BODY);
    assert_int_equal(strncmp(h, "one|xxx", 7), 0);
    assert_int_equal(strlen(h), 4 + BANTER_MAX_BODY);
    assert_int_equal(n->d[DAVE].nmsg, 2);
    /* The chain moved on: the next message opens too. */
    assert_int_equal(pump(n), 0);
    say(n, BOB, gid, "three");
    assert_int_equal(pump(n), 0);
    history(n, DAVE, gid, h, 2 * BANTER_MAX_BODY);
    assert_int_equal(strlen(h), 4 + BANTER_MAX_BODY + 6);
    free(big);
    free(h);
}

/* Device from (member id by, an admin) invites device to (member id me)
 * into a new group of the two; the receiver's result, and the group's id
 * in gid. */
static int invite_new(struct net *n, int from, int to, const char *by, const char *me,
                      uint8_t gid[static 16])
{
    gstate *st = calloc(1, sizeof *st);
    randombytes_buf(st->group, 16);
    memcpy(gid, st->group, 16);
    st->v = 1;
    snprintf(st->name, sizeof st->name, "offer %u", (unsigned)randombytes_random());
    snprintf(st->creator, sizeof st->creator, "%s", by);
    snprintf(st->by, sizeof st->by, "%s", by);
    bool first = strcmp(by, me) < 0;
    snprintf(st->m[0].id, sizeof st->m[0].id, "%s", first ? by : me);
    snprintf(st->m[1].id, sizeof st->m[1].id, "%s", first ? me : by);
    st->m[first ? 0 : 1].admin = true;
    st->n = 2;
    int r = send_state_as(n, from, to, st);
    free(st);
    return r;
}

/* Invitations cost the invited node a row and a view each: one device
 * invites it into at most GROUPS_INVITE_BURST new groups at once (then
 * one every GROUPS_INVITE_EVERY_MS), the rest are "not now" (ERATE) and
 * leave nothing; other devices still invite; and past GROUPS_MAX groups
 * every invitation is refused (ELIMIT), nothing stored. Before, every
 * invitation of a trusted device was taken: 10,000 of them held about
 * 880 MB of views. */
static void test_invitation_flood(void **state)
{
    struct net *n = *state;
    uint8_t gid[16];
    int64_t count = 0;
    size_t taken = 0, rate = 0;
    store_group sg;
    sodium_bin2hex(carol_id, sizeof carol_id, n->d[CAROL].key, 32);
    for (int i = 0; i < 100; i++) {
        int r = invite_new(n, A, BOB, "@ada", "@bob", gid);
        if (r == 0)
            taken++;
        else {
            assert_int_equal(r, BANTER_ERATE);
            assert_int_equal(store_group_get(n->d[BOB].st, gid, &sg), BANTER_ENOENT);
            rate++;
        }
    }
    assert_int_equal(taken, GROUPS_INVITE_BURST);
    assert_int_equal(rate, 100 - GROUPS_INVITE_BURST);
    assert_int_equal(store_group_count(n->d[BOB].st, &count), 0);
    assert_int_equal(count, GROUPS_INVITE_BURST);
    /* carol's device has its own budget. */
    assert_int_equal(invite_new(n, CAROL, BOB, carol_id, "@bob", gid), 0);
    groups_info info;
    assert_int_equal(groups_get(n->d[BOB].g, gid, &info), 0);
    assert_true(info.member);
    /* ada's earns one more every GROUPS_INVITE_EVERY_MS. */
    n->mono += GROUPS_INVITE_EVERY_MS;
    assert_int_equal(invite_new(n, A, BOB, "@ada", "@bob", gid), 0);
    assert_int_equal(invite_new(n, A, BOB, "@ada", "@bob", gid), BANTER_ERATE);
    assert_int_equal(store_group_count(n->d[BOB].st, &count), 0);
    assert_int_equal(count, GROUPS_INVITE_BURST + 2);
    /* Up to GROUPS_MAX (rows written directly: what they hold is not
     * read here), then any invitation is refused for good. */
    memset(&sg, 0, sizeof sg);
    sg.state = (char *)"{}";
    sg.state_len = 2;
    sg.chain_len = 1;
    for (int64_t i = count; i < GROUPS_MAX; i++) {
        randombytes_buf(sg.id, sizeof sg.id);
        assert_int_equal(store_group_put(n->d[BOB].st, &sg), 0);
    }
    n->mono += 3600 * 1000; /* every bucket full again */
    assert_int_equal(invite_new(n, DAVE, BOB, "@dave", "@bob", gid), BANTER_ELIMIT);
    assert_int_equal(invite_new(n, A, BOB, "@ada", "@bob", gid), BANTER_ELIMIT);
    assert_int_equal(store_group_get(n->d[BOB].st, gid, &sg), BANTER_ENOENT);
    assert_int_equal(store_group_count(n->d[BOB].st, &count), 0);
    assert_int_equal(count, GROUPS_MAX);
}

/* How many rows of messages device i holds for group gid (any kind). */
static int64_t group_rows(struct net *n, int i, const uint8_t gid[static 16])
{
    store_msg *h = NULL;
    size_t k = 0;
    uint8_t handle[32];
    store_group_handle(gid, handle);
    assert_int_equal(store_history(n->d[i].st, handle, 0, 1000, &h, &k), 0);
    store_msgs_free(h, k);
    return (int64_t)k;
}

/* `group delete`: after leaving, only this node's copy goes (state,
 * chains, history, search); while a member, a leave goes first and the
 * others take it (a new epoch); alone in a group, nobody is told. What
 * comes later for a deleted group from a former co-member (a message, a
 * distribution, a new state re-adding this node, even by an admin) is
 * refused EPERM and brings nothing back; an invitation to a new group
 * is taken as any. Before, a state re-adding this node to a group it had
 * no row of was taken as an invitation. */
static void test_delete(void **state)
{
    struct net *n = *state;
    uint8_t gid[16], id[MSG_ID_LEN], other[16];
    char why[128] = "", h[512];
    groups_info info;
    groups_deleted d;
    store_msg *hits = NULL;
    size_t k = 0;
    int64_t count = 0;
    create_group(n, gid);
    say(n, BOB, gid, "quokka plans");
    say(n, DAVE, gid, "from dave");
    assert_int_equal(pump(n), 0);
    assert_int_equal(store_search(n->d[DAVE].st, "quokka", NULL, 0, 10, &hits, &k), 0);
    assert_int_equal(k, 1);
    store_msgs_free(hits, k);

    /* dave left already: delete takes only his node's copy. */
    assert_int_equal(groups_leave(n->d[DAVE].g, gid, why, sizeof why), 0);
    assert_int_equal(pump(n), 0);
    assert_int_equal(groups_delete(n->d[DAVE].g, gid, &d, why, sizeof why), 0);
    assert_false(d.left);
    assert_string_equal(d.name, "launch");
    assert_true(d.messages >= 2);
    assert_int_equal(n->nq, 0); /* nothing sent */
    assert_int_equal(groups_get(n->d[DAVE].g, gid, &info), BANTER_ENOENT);
    assert_int_equal(store_search(n->d[DAVE].st, "quokka", NULL, 0, 10, &hits, &k), 0);
    assert_int_equal(k, 0);
    store_msgs_free(hits, k);
    assert_int_equal(group_rows(n, DAVE, gid), 0);
    uint32_t newest = 0;
    assert_int_equal(store_gchain_newest(n->d[DAVE].st, gid, n->d[BOB].key, &newest),
                     BANTER_ENOENT);
    assert_int_equal(store_group_count(n->d[DAVE].st, &count), 0);
    assert_int_equal(count, 0);
    assert_int_equal(groups_delete(n->d[DAVE].g, gid, &d, why, sizeof why), BANTER_ENOENT);
    assert_int_equal(groups_find(n->d[DAVE].g, "launch", other), BANTER_ENOENT);
    char hex[33];
    sodium_bin2hex(hex, sizeof hex, gid, 16);
    assert_int_equal(groups_find(n->d[DAVE].g, hex, other), BANTER_ENOENT); /* by its id too */

    /* bob, a member, deletes: what ada sends while he cannot be reached
     * waits for him, and his leave waits while the others cannot be
     * reached (kept through the delete, sent after it). */
    n->d[BOB].offline = true;
    say(n, A, gid, "while bob is away");
    assert_int_equal(pump(n), 0);
    n->d[BOB].offline = false;
    n->d[A].offline = n->d[A2].offline = n->d[CAROL].offline = true;
    assert_int_equal(groups_delete(n->d[BOB].g, gid, &d, why, sizeof why), 0);
    assert_true(d.left);
    assert_int_equal(n->nq, 0); /* the leave waits */
    assert_int_equal(groups_get(n->d[BOB].g, gid, &info), BANTER_ENOENT);
    history(n, BOB, gid, h, sizeof h);
    assert_string_equal(h, "");
    assert_int_equal(store_group_count(n->d[BOB].st, &count), 0);
    assert_int_equal(count, 0);
    n->d[A].offline = n->d[A2].offline = n->d[CAROL].offline = false;
    messenger_kick(n->d[A].m, NULL);
    messenger_kick(n->d[BOB].m, NULL);
    /* Late traffic for the group reaches bob: refused, the leave reaches
     * everyone. */
    size_t refused = pump(n);
    assert_true(refused >= 1); /* ada's message */
    assert_int_equal(groups_get(n->d[BOB].g, gid, &info), BANTER_ENOENT);
    history(n, BOB, gid, h, sizeof h);
    assert_string_equal(h, "");
    for (int i = 0; i < NDEV; i++) {
        if (i == BOB || i == DAVE)
            continue;
        assert_int_equal(groups_get(n->d[i].g, gid, &info), 0);
        assert_int_equal(info.st.n, 2); /* @ada and carol: bob's leave arrived */
        assert_null(gstate_find(&info.st, "@bob"));
    }
    assert_int_equal(groups_get(n->d[A].g, gid, &info), 0);
    assert_true(info.epoch >= 3); /* dave's leave, then bob's: new epochs */
    /* A former co-member's messages, states and keys: refused. ada (an
     * admin) re-adds @bob to the same group: not an invitation now. */
    const char *again[] = {"@bob"};
    assert_int_equal(groups_invite(n->d[A].g, gid, again, 1, why, sizeof why), 0);
    messenger_kick(n->d[A].m, NULL);
    assert_true(pump(n) >= 1);
    assert_int_equal(groups_get(n->d[BOB].g, gid, &info), BANTER_ENOENT);
    say(n, CAROL, gid, "bob, are you there?");
    assert_true(pump(n) >= 1);
    assert_int_equal(groups_get(n->d[BOB].g, gid, &info), BANTER_ENOENT);
    history(n, BOB, gid, h, sizeof h);
    assert_string_equal(h, "");
    assert_int_equal(store_group_count(n->d[BOB].st, &count), 0);
    assert_int_equal(count, 0);
    /* An invitation to a new group is taken. */
    assert_int_equal(invite_new(n, A, BOB, "@ada", "@bob", other), 0);
    assert_int_equal(groups_get(n->d[BOB].g, other, &info), 0);
    assert_true(info.member);

    /* The creator, the last admin, deletes too: refused until another
     * member is an admin (a group keeps one), nothing deleted; then carol
     * sees ada leave, and ada's laptop is no longer a member (the leave
     * is the account's). */
    assert_int_equal(groups_delete(n->d[A].g, gid, &d, why, sizeof why), BANTER_EPERM);
    assert_non_null(strstr(why, "last admin"));
    assert_int_equal(groups_get(n->d[A].g, gid, &info), 0);
    assert_true(info.member);
    assert_int_equal(groups_set_admin(n->d[A].g, gid, carol_id, true, why, sizeof why), 0);
    pump(n);
    assert_int_equal(groups_delete(n->d[A].g, gid, &d, why, sizeof why), 0);
    assert_true(d.left);
    pump(n);
    assert_int_equal(groups_get(n->d[CAROL].g, gid, &info), 0);
    assert_null(gstate_find(&info.st, "@ada"));
    assert_int_equal(groups_get(n->d[A2].g, gid, &info), 0);
    assert_false(info.member);

    /* Alone in a group: deleted with nothing to tell. */
    assert_int_equal(groups_create(n->d[CAROL].g, "solo", NULL, 0, other, why, sizeof why), 0);
    assert_int_equal(groups_delete(n->d[CAROL].g, other, &d, why, sizeof why), 0);
    assert_false(d.left);
    assert_int_equal(groups_send(n->d[CAROL].g, other, "x", 1, id), BANTER_ENOENT);
}

/* At GROUPS_MAX an invitation is refused (ELIMIT) and the user told (the
 * refused callback, groups_refusals); deleting one group makes room for
 * the next invitation. Before, groups left years ago held their slots
 * for good and nothing told the user. */
static void test_delete_frees_slot(void **state)
{
    struct net *n = *state;
    uint8_t gid[16], old[16];
    char why[128] = "";
    store_group sg;
    groups_deleted d;
    int64_t count = 0, refused = 0, last = 0;
    create_group(n, old);
    assert_int_equal(groups_leave(n->d[BOB].g, old, why, sizeof why), 0);
    assert_int_equal(pump(n), 0);
    assert_int_equal(store_group_count(n->d[BOB].st, &count), 0);
    memset(&sg, 0, sizeof sg);
    sg.state = (char *)"{}";
    sg.state_len = 2;
    sg.chain_len = 1;
    for (int64_t i = count; i < GROUPS_MAX; i++) {
        randombytes_buf(sg.id, sizeof sg.id);
        assert_int_equal(store_group_put(n->d[BOB].st, &sg), 0);
    }
    groups_refusals(n->d[BOB].g, &refused, &last);
    assert_int_equal(refused, 0);
    assert_int_equal(invite_new(n, A, BOB, "@ada", "@bob", gid), BANTER_ELIMIT);
    assert_int_equal(n->d[BOB].nrefused, 1);
    groups_refusals(n->d[BOB].g, &refused, &last);
    assert_int_equal(refused, 1);
    assert_int_equal(last, n->wall);
    /* The group bob left long ago still counts, until he deletes it. */
    assert_int_equal(groups_delete(n->d[BOB].g, old, &d, why, sizeof why), 0);
    assert_false(d.left);
    assert_int_equal(invite_new(n, A, BOB, "@ada", "@bob", gid), 0);
    assert_int_equal(n->d[BOB].nrefused, 1);
    assert_int_equal(store_group_count(n->d[BOB].st, &count), 0);
    assert_int_equal(count, GROUPS_MAX);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_talk_same_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_before_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_cannot_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leave_rename_epochs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_and_changed_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_far_ahead, setup, teardown),
        cmocka_unit_test_setup_teardown(test_falling_epochs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_reinvite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_ahead_not_acked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invitation_flood, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_after_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_after_views_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_msg_not_stored_opens_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_frees_slot, setup, teardown),
    };
    return cmocka_run_group_tests_name("peer_groups", tests, NULL, NULL);
}
