/* SPDX-License-Identifier: MIT */
/*
 * test_peer_messenger.c - the one message pipeline on a fake clock and a
 * fake random source, with two fake routes ("lan", then "relay") that
 * record what they were asked to send and can be told not to reach a
 * device, to be full (BANTER_EAGAIN), to refuse, or to lose the device:
 * send and settle, order per device, a full route resuming in order, a
 * route lost mid-message, retry after MESSENGER_RETRY_MS, several devices,
 * the final states, answers to ignore, a restart, receiving, broadcast;
 * copies for the other devices of the node's own account (sent, and taken
 * only from those devices).
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

#include "core/contacts.h"
#include "core/messenger.h"
#include "core/store.h"

#define SERVER_FPD "1234567890123456789012345678901234567890"
#define LOGCAP     64

struct fixture;

struct sent {
    int64_t seq;
    uint8_t id[MSG_ID_LEN];
    uint8_t dev[32];
    char body[64];
    bool broadcast;
    char to[MSG_TO_MAX + 1];
};

/* A fake route. */
struct froute {
    const char *name;
    uint8_t reach[8][32]; /* the devices it reaches now */
    size_t nreach;
    int accept;         /* sends it takes before answering `full` (-1: any number) */
    int full;           /* BANTER_EAGAIN, or another error */
    bool settle_inline; /* answer COPY_FAILED from inside send (a message too big) */
    struct sent log[LOGCAP];
    size_t n;
    size_t refused;
    struct fixture *f;
};

struct settled {
    int64_t seq;
    uint8_t id[MSG_ID_LEN];
    uint8_t contact[32];
    store_state state;
    char error[BANTER_MAX_ERRCODE + 1];
};

struct received {
    int64_t seq;
    uint8_t contact[32];
    store_trust trust;
    unsigned flags;
    char body[64];
};

struct fixture {
    char dir[64];
    char path[128];
    store *st;
    contacts *cs;
    messenger *m;
    int64_t wall, mono;
    uint32_t rng;
    node_clock clock;
    struct froute lan, relay;
    struct settled settled[LOGCAP];
    size_t nsettled;
    char deferred[32];
    size_t ndeferred;
    struct received received[LOGCAP];
    size_t nreceived;
    /* bob: a LAN colleague with one device; dave: an account with two
     * devices; erin: an account with one. */
    uint8_t bob[32], bob_dev[32];
    uint8_t dave[32], dave_dev[2][32];
    uint8_t erin[32], erin_dev[32];
    /* this node's own key, and another device of its account "ada" */
    uint8_t own[32], ada2[32];
};

static int64_t f_wall(void *ctx) { return ((struct fixture *)ctx)->wall; }
static int64_t f_mono(void *ctx) { return ((struct fixture *)ctx)->mono; }

static void f_fill(void *ctx, uint8_t *out, size_t len)
{
    struct fixture *f = ctx;
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(++f->rng * 37);
}

static bool fr_reaches(void *ud, const store_contact *c, const store_device *d)
{
    struct froute *r = ud;
    (void)c;
    for (size_t i = 0; i < r->nreach; i++)
        if (memcmp(r->reach[i], d->key, 32) == 0)
            return true;
    return false;
}

static int fr_send(void *ud, const store_contact *c, const store_device *d, const store_msg *m)
{
    struct froute *r = ud;
    assert_memory_equal(d->contact, c->key, 32);
    assert_int_equal(m->dir, STORE_OUT);
    if (m->to[0]) { /* a copy for another device of our own account */
        assert_string_equal(c->account, "ada");
        assert_memory_not_equal(m->contact, c->key, 32);
    } else {
        assert_memory_equal(m->contact, c->key, 32);
        assert_int_equal(m->state, STORE_QUEUED);
    }
    assert_true(fr_reaches(ud, c, d)); /* asked only when it said it reaches */
    if (r->accept == 0) {
        r->refused++;
        return r->full;
    }
    if (r->accept > 0)
        r->accept--;
    assert_true(r->n < LOGCAP);
    struct sent *s = &r->log[r->n++];
    s->seq = m->seq;
    memcpy(s->id, m->id, MSG_ID_LEN);
    memcpy(s->dev, d->key, 32);
    snprintf(s->body, sizeof s->body, "%s", m->body);
    s->broadcast = m->broadcast;
    snprintf(s->to, sizeof s->to, "%s", m->to);
    msg chat; /* what the route would send */
    assert_int_equal(messenger_chat_of(m, &chat), 0);
    assert_string_equal(chat.u.chat.to, m->to);
    msg_clear(&chat);
    if (r->settle_inline)
        messenger_settled(r->f->m, r->name, d->key, m->id, COPY_FAILED, "ETOOBIG");
    return 0;
}

static void on_received(void *ud, const store_contact *c, const store_device *d, const store_msg *m)
{
    struct fixture *f = ud;
    assert_true(f->nreceived < LOGCAP);
    struct received *r = &f->received[f->nreceived++];
    r->seq = m->seq;
    memcpy(r->contact, c->key, 32);
    assert_memory_equal(m->contact, c->key, 32);
    assert_memory_equal(m->device, d->key, 32);
    r->trust = d->trust;
    r->flags = m->flags;
    snprintf(r->body, sizeof r->body, "%s", m->body);
}

static void on_settled(void *ud, const store_contact *c, const store_msg *m)
{
    struct fixture *f = ud;
    assert_true(f->nsettled < LOGCAP);
    struct settled *s = &f->settled[f->nsettled++];
    s->seq = m->seq;
    memcpy(s->id, m->id, MSG_ID_LEN);
    memcpy(s->contact, c->key, 32);
    assert_memory_equal(m->contact, c->key, 32);
    s->state = m->state;
    snprintf(s->error, sizeof s->error, "%s", m->error);
}

static void on_deferred(void *ud, const store_contact *c, const store_msg *m, const char *error)
{
    struct fixture *f = ud;
    (void)c;
    assert_int_equal(m->state, STORE_QUEUED);
    snprintf(f->deferred, sizeof f->deferred, "%s", error);
    f->ndeferred++;
}

static void fill_key(uint8_t key[32], uint8_t seed)
{
    for (size_t i = 0; i < 32; i++)
        key[i] = (uint8_t)(seed * 11 + i);
}

static void new_messenger(struct fixture *f)
{
    banter_rng rng = {f_fill, f};
    messenger_callbacks cb = {on_received, on_settled, on_deferred};
    assert_int_equal(messenger_new(&f->m, f->st, f->cs, &f->clock, rng, &cb, f), 0);
    mr_route lan = {"lan", fr_reaches, fr_send, &f->lan};
    mr_route relay = {"relay", fr_reaches, fr_send, &f->relay};
    assert_int_equal(messenger_add_route(f->m, &lan), 0);
    assert_int_equal(messenger_add_route(f->m, &relay), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/banter-messenger-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/banter.db", f->dir);
    char err[256];
    assert_int_equal(store_open(&f->st, f->path, err, sizeof err), 0);
    f->wall = 1700000000000;
    f->mono = 5000;
    f->clock = (node_clock){f_wall, f_mono, f};
    assert_int_equal(contacts_new(&f->cs, f->st, SERVER_FPD, &f->clock), 0);
    f->lan = (struct froute){.name = "lan", .accept = -1, .full = BANTER_EAGAIN, .f = f};
    f->relay = (struct froute){.name = "relay", .accept = -1, .full = BANTER_EAGAIN, .f = f};

    contacts_admit_result r;
    fill_key(f->bob_dev, 1);
    assert_int_equal(contacts_admit(f->cs, f->bob_dev, "bob", "lan", "", NULL, 0, &r), 0);
    memcpy(f->bob, r.contact.key, 32);
    fill_key(f->dave_dev[0], 20);
    fill_key(f->dave_dev[1], 21);
    store_contact c;
    assert_int_equal(contacts_org(f->cs, "dave", (const uint8_t(*)[32])f->dave_dev, 2, &c), 0);
    memcpy(f->dave, c.key, 32);
    fill_key(f->erin_dev, 30);
    assert_int_equal(contacts_org(f->cs, "erin", (const uint8_t(*)[32]) & f->erin_dev, 1, &c), 0);
    memcpy(f->erin, c.key, 32);
    new_messenger(f);
    *state = f;
    return 0;
}

/* This node is ada; the server lists her devices: this one and ada2. */
static store_contact become_ada(struct fixture *f)
{
    store_contact self;
    uint8_t list[2][32];
    fill_key(f->own, 40);
    fill_key(f->ada2, 41);
    memcpy(list[0], f->own, 32);
    memcpy(list[1], f->ada2, 32);
    contacts_set_self(f->cs, "ada", f->own);
    assert_int_equal(contacts_self_devices(f->cs, (const uint8_t(*)[32])list, 2), 0);
    assert_int_equal(contacts_self(f->cs, &self), 0);
    return self;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    messenger_free(f->m);
    contacts_free(f->cs);
    store_close(f->st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void reach(struct froute *r, const uint8_t dev[32])
{
    assert_true(r->nreach < 8);
    memcpy(r->reach[r->nreach++], dev, 32);
}

/* The route no longer reaches dev (it does not tell the messenger). */
static void unreach(struct froute *r, const uint8_t dev[32])
{
    for (size_t i = 0; i < r->nreach; i++)
        if (memcmp(r->reach[i], dev, 32) == 0) {
            memmove(r->reach[i], r->reach[i + 1], (r->nreach - i - 1) * 32);
            r->nreach--;
            return;
        }
}

static void send_ok(struct fixture *f, const uint8_t contact[32], const char *text,
                    uint8_t id[MSG_ID_LEN])
{
    f->wall += 10;
    assert_int_equal(messenger_send(f->m, contact, text, strlen(text), id), 0);
}

/* The outgoing message id to contact, as stored. */
static store_msg stored(struct fixture *f, const uint8_t id[MSG_ID_LEN], const uint8_t contact[32])
{
    store_msg m;
    assert_int_equal(store_msg_find_out(f->st, id, contact, &m), 0);
    store_msg_clear(&m);
    return m;
}

/* The copy of message seq for dev. */
static store_copy copy_of(struct fixture *f, int64_t seq, const uint8_t dev[32])
{
    store_copy *all = NULL, out;
    size_t n = 0;
    bool found = false;
    assert_int_equal(store_copies(f->st, seq, &all, &n), 0);
    for (size_t i = 0; i < n; i++)
        if (memcmp(all[i].device, dev, 32) == 0) {
            out = all[i];
            found = true;
        }
    free(all);
    assert_true(found);
    return out;
}

static size_t ncopies(struct fixture *f, int64_t seq)
{
    store_copy *all = NULL;
    size_t n = 0;
    assert_int_equal(store_copies(f->st, seq, &all, &n), 0);
    free(all);
    return n;
}

static size_t outbox_len(struct fixture *f, const uint8_t *contact)
{
    store_msg *ob = NULL;
    size_t n = 0;
    assert_int_equal(store_outbox(f->st, contact, &ob, &n), 0);
    store_msgs_free(ob, n);
    return n;
}

/* ---- sending ---- */

static void test_send_delivered(void **state)
{
    struct fixture *f = *state;
    reach(&f->lan, f->bob_dev);
    uint8_t id[MSG_ID_LEN], id2[MSG_ID_LEN];
    send_ok(f, f->bob, "hello bob", id);
    /* Handed to the LAN route, once, as stored. */
    assert_int_equal(f->lan.n, 1);
    assert_int_equal(f->relay.n, 0);
    assert_memory_equal(f->lan.log[0].id, id, MSG_ID_LEN);
    assert_memory_equal(f->lan.log[0].dev, f->bob_dev, 32);
    assert_string_equal(f->lan.log[0].body, "hello bob");
    assert_false(f->lan.log[0].broadcast);
    store_msg m = stored(f, id, f->bob);
    assert_int_equal(m.state, STORE_QUEUED);
    assert_int_equal(m.ts_ms, f->wall);
    assert_int_equal(m.stored_ms, f->wall);
    assert_int_equal(f->lan.log[0].seq, m.seq);
    store_copy c = copy_of(f, m.seq, f->bob_dev);
    assert_int_equal(c.state, COPY_PENDING);
    assert_int_equal(messenger_inflight(f->m), 1);
    assert_int_equal(f->nsettled, 0);

    /* Acknowledged: delivered, by the LAN. */
    messenger_settled(f->m, "lan", f->bob_dev, id, COPY_DELIVERED, "");
    assert_int_equal(f->nsettled, 1);
    assert_memory_equal(f->settled[0].id, id, MSG_ID_LEN);
    assert_memory_equal(f->settled[0].contact, f->bob, 32);
    assert_int_equal(f->settled[0].state, STORE_DELIVERED);
    assert_int_equal(f->settled[0].seq, m.seq);
    assert_string_equal(f->settled[0].error, "");
    assert_int_equal(stored(f, id, f->bob).state, STORE_DELIVERED);
    c = copy_of(f, m.seq, f->bob_dev);
    assert_int_equal(c.state, COPY_DELIVERED);
    assert_string_equal(c.route, "lan");
    assert_int_equal(messenger_inflight(f->m), 0);
    assert_int_equal(outbox_len(f, NULL), 0);
    assert_false(messenger_tick(f->m));

    /* Each message has its own id, from the random source. */
    send_ok(f, f->bob, "again", id2);
    assert_memory_not_equal(id, id2, MSG_ID_LEN);
    assert_int_equal(f->lan.n, 2);
}

static void test_send_refused(void **state)
{
    struct fixture *f = *state;
    reach(&f->lan, f->bob_dev);
    uint8_t id[MSG_ID_LEN], nobody[32];
    assert_int_equal(messenger_send(f->m, f->bob, "", 0, id), BANTER_EINVAL);
    assert_int_equal(messenger_send(f->m, f->bob, "a\0b", 3, id), BANTER_EINVAL);
    assert_int_equal(messenger_send(f->m, f->bob, "bad \xff", 5, id), BANTER_EUTF8);
    char *big = malloc(BANTER_MAX_BODY + 2);
    assert_non_null(big);
    memset(big, 'a', BANTER_MAX_BODY + 1);
    big[BANTER_MAX_BODY + 1] = '\0';
    assert_int_equal(messenger_send(f->m, f->bob, big, BANTER_MAX_BODY + 1, id), BANTER_ETOOLONG);
    /* The longest text is fine. */
    assert_int_equal(messenger_send(f->m, f->bob, big, BANTER_MAX_BODY, id), 0);
    free(big);
    fill_key(nobody, 99);
    assert_int_equal(messenger_send(f->m, nobody, "hi", 2, id), BANTER_ENOENT);
    /* A contact with a changed key: refused, nothing stored. */
    contacts_admit_result r;
    uint8_t nk[32];
    fill_key(nk, 2);
    assert_int_equal(contacts_admit(f->cs, nk, "BOB", "lan", "", NULL, 0, &r), 0);
    assert_int_equal(r.what, ADMIT_CHANGED);
    assert_int_equal(messenger_send(f->m, f->bob, "hi", 2, id), BANTER_EKEYMISMATCH);
    assert_int_equal(outbox_len(f, NULL), 1);
    assert_int_equal(f->lan.n, 1);
}

/* No route reaches the device: the message waits, and goes when one does. */
static void test_wait_for_route(void **state)
{
    struct fixture *f = *state;
    uint8_t id[MSG_ID_LEN];
    send_ok(f, f->bob, "later", id);
    assert_int_equal(f->lan.n + f->relay.n, 0);
    assert_int_equal(messenger_inflight(f->m), 0);
    assert_int_equal(outbox_len(f, f->bob), 1);
    /* A kick while nothing reaches it changes nothing. */
    messenger_kick(f->m, NULL);
    assert_int_equal(f->lan.n, 0);
    reach(&f->lan, f->bob_dev);
    messenger_kick(f->m, f->bob);
    assert_int_equal(f->lan.n, 1);
    assert_memory_equal(f->lan.log[0].id, id, MSG_ID_LEN);
    /* Kicked again while in flight: not sent twice. */
    messenger_kick(f->m, f->bob);
    messenger_kick(f->m, NULL);
    assert_int_equal(f->lan.n, 1);
}

/* Order is kept per device, queued or in flight. */
static void test_order_per_device(void **state)
{
    struct fixture *f = *state;
    uint8_t id[6][MSG_ID_LEN];
    char text[6][16];
    for (int i = 0; i < 3; i++) {
        snprintf(text[i], sizeof text[i], "m%d", i);
        send_ok(f, f->bob, text[i], id[i]);
    }
    reach(&f->lan, f->bob_dev);
    messenger_kick(f->m, NULL);
    for (int i = 3; i < 6; i++) {
        snprintf(text[i], sizeof text[i], "m%d", i);
        send_ok(f, f->bob, text[i], id[i]);
    }
    assert_int_equal(f->lan.n, 6);
    for (size_t i = 0; i < 6; i++) {
        assert_memory_equal(f->lan.log[i].id, id[i], MSG_ID_LEN);
        assert_string_equal(f->lan.log[i].body, text[i]);
        if (i > 0)
            assert_true(f->lan.log[i].seq > f->lan.log[i - 1].seq);
    }
    assert_int_equal(messenger_inflight(f->m), 6);
    /* Answers in any order settle each once. */
    for (int i = 5; i >= 0; i--)
        messenger_settled(f->m, "lan", f->bob_dev, id[i], COPY_DELIVERED, "");
    assert_int_equal(f->nsettled, 6);
    assert_memory_equal(f->settled[0].id, id[5], MSG_ID_LEN);
    assert_int_equal(outbox_len(f, NULL), 0);
}

/* A full route (BANTER_EAGAIN) stops there, and a kick resumes in order:
 * nothing skipped, nothing sent twice. */
static void test_full_route_resumes_in_order(void **state)
{
    struct fixture *f = *state;
    uint8_t id[6][MSG_ID_LEN];
    for (int i = 0; i < 5; i++) {
        char t[16];
        snprintf(t, sizeof t, "m%d", i);
        send_ok(f, f->bob, t, id[i]);
    }
    reach(&f->lan, f->bob_dev);
    f->lan.accept = 2;
    messenger_kick(f->m, NULL);
    assert_int_equal(f->lan.n, 2);
    assert_int_equal(f->lan.refused, 1); /* stopped at the first refusal */
    assert_memory_equal(f->lan.log[0].id, id[0], MSG_ID_LEN);
    assert_memory_equal(f->lan.log[1].id, id[1], MSG_ID_LEN);
    assert_int_equal(messenger_inflight(f->m), 2);
    /* Not over another route meanwhile: the relay does not reach bob, and
     * a new message waits its turn. */
    send_ok(f, f->bob, "m5", id[5]);
    assert_int_equal(f->lan.n, 2);
    assert_int_equal(f->relay.n, 0);
    /* Room again. */
    f->lan.accept = -1;
    messenger_kick(f->m, f->bob);
    assert_int_equal(f->lan.n, 6);
    for (size_t i = 0; i < 6; i++)
        assert_memory_equal(f->lan.log[i].id, id[i], MSG_ID_LEN);
    assert_int_equal(messenger_inflight(f->m), 6);
}

/* Another error: this route cannot carry it now. It stays pending and is
 * sent on a later kick. */
static void test_route_refuses(void **state)
{
    struct fixture *f = *state;
    reach(&f->lan, f->bob_dev);
    f->lan.accept = 0;
    f->lan.full = BANTER_ESTATE;
    uint8_t id[MSG_ID_LEN];
    send_ok(f, f->bob, "not now", id);
    assert_int_equal(f->lan.refused, 1);
    assert_int_equal(f->lan.n, 0);
    assert_int_equal(messenger_inflight(f->m), 0);
    store_msg m = stored(f, id, f->bob);
    assert_int_equal(copy_of(f, m.seq, f->bob_dev).state, COPY_PENDING);
    f->lan.accept = -1;
    messenger_kick(f->m, f->bob);
    assert_int_equal(f->lan.n, 1);
}

/* The route is lost mid-message: the copy is sent again over the other
 * route that reaches the device, in order, and the copy records the route
 * that delivered it. A late answer from the lost route changes nothing. */
static void test_route_lost_falls_back(void **state)
{
    struct fixture *f = *state;
    reach(&f->lan, f->erin_dev);
    reach(&f->relay, f->erin_dev);
    uint8_t a[MSG_ID_LEN], b[MSG_ID_LEN];
    send_ok(f, f->erin, "first", a);
    send_ok(f, f->erin, "second", b);
    assert_int_equal(f->lan.n, 2); /* the LAN first */
    assert_int_equal(f->relay.n, 0);

    unreach(&f->lan, f->erin_dev);
    messenger_route_lost(f->m, "lan", f->erin_dev);
    assert_int_equal(f->relay.n, 2);
    assert_memory_equal(f->relay.log[0].id, a, MSG_ID_LEN);
    assert_memory_equal(f->relay.log[1].id, b, MSG_ID_LEN);
    assert_int_equal(messenger_inflight(f->m), 2);
    assert_int_equal(f->nsettled, 0);

    messenger_settled(f->m, "relay", f->erin_dev, a, COPY_DELIVERED, "");
    assert_int_equal(f->nsettled, 1);
    assert_int_equal(f->settled[0].state, STORE_DELIVERED);
    store_msg ma = stored(f, a, f->erin);
    store_copy c = copy_of(f, ma.seq, f->erin_dev);
    assert_int_equal(c.state, COPY_DELIVERED);
    assert_string_equal(c.route, "relay");
    /* The lost route's answer for a, late: ignored. */
    messenger_settled(f->m, "lan", f->erin_dev, a, COPY_DELIVERED, "");
    assert_int_equal(f->nsettled, 1);
    assert_string_equal(copy_of(f, ma.seq, f->erin_dev).route, "relay");
    /* For b the LAN's late answer comes first: the device has it. It
     * counts once; the relay's answer after it is ignored. */
    messenger_settled(f->m, "lan", f->erin_dev, b, COPY_DELIVERED, "");
    assert_int_equal(f->nsettled, 2);
    store_msg mb = stored(f, b, f->erin);
    assert_string_equal(copy_of(f, mb.seq, f->erin_dev).route, "lan");
    messenger_settled(f->m, "relay", f->erin_dev, b, COPY_SERVER, "");
    assert_int_equal(f->nsettled, 2);
    assert_int_equal(stored(f, b, f->erin).state, STORE_DELIVERED);
    assert_int_equal(messenger_inflight(f->m), 0);
    /* Nothing more was sent. */
    assert_int_equal(f->lan.n + f->relay.n, 4);
}

/* Lost with no other route: it waits, and goes again when one is back. */
static void test_route_lost_waits(void **state)
{
    struct fixture *f = *state;
    reach(&f->lan, f->bob_dev);
    uint8_t id[MSG_ID_LEN];
    send_ok(f, f->bob, "over the LAN", id);
    unreach(&f->lan, f->bob_dev);
    messenger_route_lost(f->m, "lan", f->bob_dev);
    assert_int_equal(messenger_inflight(f->m), 0);
    assert_int_equal(f->lan.n, 1);
    /* Another route's loss, or another device's, changes nothing. */
    messenger_route_lost(f->m, "relay", f->bob_dev);
    messenger_route_lost(f->m, "lan", f->erin_dev);
    reach(&f->lan, f->bob_dev);
    messenger_kick(f->m, f->bob);
    assert_int_equal(f->lan.n, 2);
    assert_memory_equal(f->lan.log[1].id, id, MSG_ID_LEN);
    messenger_settled(f->m, "lan", f->bob_dev, id, COPY_DELIVERED, "");
    assert_int_equal(f->nsettled, 1);
    /* A route lost with nothing in flight. */
    messenger_route_lost(f->m, "lan", f->bob_dev);
    assert_int_equal(f->lan.n, 2);
}

/* Unanswered for MESSENGER_RETRY_MS on the (fake) monotonic clock: sent
 * again, not before. */
/* "Not now" (a full mailbox): the copy stays pending, the relay rests for
 * that device, the LAN may carry it meanwhile, and the relay tries again
 * once rested. Nothing is failed. */
static void test_not_now(void **state)
{
    struct fixture *f = *state;
    reach(&f->relay, f->erin_dev);
    uint8_t id[MSG_ID_LEN];
    send_ok(f, f->erin, "mailbox full", id);
    assert_int_equal(f->relay.n, 1);
    messenger_settled(f->m, "relay", f->erin_dev, id, COPY_FAILED, "EQUOTA");
    assert_int_equal(f->nsettled, 0);
    store_msg m = stored(f, id, f->erin);
    assert_int_equal(m.state, STORE_QUEUED);
    assert_int_equal(copy_of(f, m.seq, f->erin_dev).state, COPY_PENDING);
    assert_int_equal(f->relay.n, 1);   /* not sent straight back into the refusal */
    assert_true(messenger_tick(f->m)); /* the rest is pending work: the timer runs */
    f->mono += MESSENGER_DEFER_MS;
    assert_true(messenger_tick(f->m)); /* rested: tried again, in flight */
    assert_int_equal(f->relay.n, 2);
    messenger_settled(f->m, "relay", f->erin_dev, id, COPY_SERVER, "");
    assert_int_equal(f->nsettled, 1);
    assert_int_equal(f->settled[0].state, STORE_SERVER);
    assert_false(messenger_tick(f->m));
}

/* ERATE over the LAN (the device's node takes no more for now): pending,
 * said once (deferred), and the LAN tries again after only
 * MESSENGER_RATE_DEFER_MS. */
static void test_rate_refused(void **state)
{
    struct fixture *f = *state;
    reach(&f->lan, f->bob_dev);
    uint8_t id[MSG_ID_LEN];
    send_ok(f, f->bob, "one too many", id);
    assert_int_equal(f->lan.n, 1);
    /* Another device naming bob's message in an ERROR changes nothing. */
    messenger_settled(f->m, "lan", f->erin_dev, id, COPY_FAILED, "EPERM");
    messenger_settled(f->m, "lan", f->erin_dev, id, COPY_FAILED, "ERATE");
    assert_int_equal(f->nsettled, 0);
    assert_int_equal(f->ndeferred, 0);
    messenger_settled(f->m, "lan", f->bob_dev, id, COPY_FAILED, "ERATE");
    assert_int_equal(f->nsettled, 0);
    assert_int_equal(f->ndeferred, 1);
    /* A second refusal while the route rests is not announced again. */
    messenger_settled(f->m, "lan", f->bob_dev, id, COPY_FAILED, "ERATE");
    assert_int_equal(f->ndeferred, 1);
    assert_string_equal(f->deferred, "ERATE");
    store_msg m = stored(f, id, f->bob);
    assert_int_equal(m.state, STORE_QUEUED);
    assert_int_equal(copy_of(f, m.seq, f->bob_dev).state, COPY_PENDING);
    f->mono += MESSENGER_RATE_DEFER_MS - 1;
    assert_true(messenger_tick(f->m));
    assert_int_equal(f->lan.n, 1);
    f->mono += 1;
    assert_true(messenger_tick(f->m));
    assert_int_equal(f->lan.n, 2);
    messenger_settled(f->m, "lan", f->bob_dev, id, COPY_DELIVERED, "");
    assert_int_equal(f->nsettled, 1);
    assert_int_equal(f->settled[0].state, STORE_DELIVERED);
}

static void test_retry(void **state)
{
    struct fixture *f = *state;
    reach(&f->lan, f->bob_dev);
    uint8_t id[MSG_ID_LEN];
    send_ok(f, f->bob, "anyone there?", id);
    assert_int_equal(f->lan.n, 1);
    f->mono += MESSENGER_RETRY_MS - 1;
    f->wall += MESSENGER_RETRY_MS * 10; /* the wall clock does not count */
    assert_true(messenger_tick(f->m));
    assert_int_equal(f->lan.n, 1);
    f->mono += 1;
    assert_true(messenger_tick(f->m)); /* sent again: in flight again */
    assert_int_equal(f->lan.n, 2);
    assert_memory_equal(f->lan.log[1].id, id, MSG_ID_LEN);
    assert_int_equal(messenger_inflight(f->m), 1);
    /* Again only after another full period. */
    f->mono += MESSENGER_RETRY_MS / 2;
    assert_true(messenger_tick(f->m));
    assert_int_equal(f->lan.n, 2);
    /* The device is gone meanwhile: the retry finds no route, it waits. */
    unreach(&f->lan, f->bob_dev);
    f->mono += MESSENGER_RETRY_MS;
    assert_false(messenger_tick(f->m));
    assert_int_equal(f->lan.n, 2);
    assert_int_equal(messenger_inflight(f->m), 0);
    /* Its answer (to either send) still settles it, once. */
    messenger_settled(f->m, "lan", f->bob_dev, id, COPY_DELIVERED, "");
    messenger_settled(f->m, "lan", f->bob_dev, id, COPY_DELIVERED, "");
    assert_int_equal(f->nsettled, 1);
    assert_false(messenger_tick(f->m));
}

/* Two devices: the message is final only when both copies are. */
static void test_two_devices(void **state)
{
    struct fixture *f = *state;
    reach(&f->relay, f->dave_dev[0]);
    reach(&f->relay, f->dave_dev[1]);
    uint8_t id[MSG_ID_LEN];
    send_ok(f, f->dave, "to both", id);
    assert_int_equal(f->relay.n, 2);
    store_msg m = stored(f, id, f->dave);
    assert_int_equal(ncopies(f, m.seq), 2);
    messenger_settled(f->m, "relay", f->dave_dev[0], id, COPY_DELIVERED, "");
    assert_int_equal(f->nsettled, 0);
    assert_int_equal(stored(f, id, f->dave).state, STORE_QUEUED);
    assert_int_equal(outbox_len(f, f->dave), 1);
    messenger_settled(f->m, "relay", f->dave_dev[1], id, COPY_DELIVERED, "");
    assert_int_equal(f->nsettled, 1);
    assert_int_equal(f->settled[0].state, STORE_DELIVERED);

    /* One device over the LAN, the other through the relay. */
    reach(&f->lan, f->dave_dev[1]);
    send_ok(f, f->dave, "mixed", id);
    assert_int_equal(f->relay.n, 3);
    assert_int_equal(f->lan.n, 1);
    assert_memory_equal(f->relay.log[2].dev, f->dave_dev[0], 32);
    assert_memory_equal(f->lan.log[0].dev, f->dave_dev[1], 32);
    messenger_settled(f->m, "lan", f->dave_dev[1], id, COPY_DELIVERED, "");
    messenger_settled(f->m, "relay", f->dave_dev[0], id, COPY_SERVER, "");
    assert_int_equal(f->nsettled, 2);
    m = stored(f, id, f->dave);
    assert_string_equal(copy_of(f, m.seq, f->dave_dev[0]).route, "relay");
    assert_string_equal(copy_of(f, m.seq, f->dave_dev[1]).route, "lan");
    /* The server holds one copy: "stored". */
    assert_int_equal(f->settled[1].state, STORE_SERVER);
}

/* The final state: SERVER when the relay stored it, FAILED (with the
 * error) when every copy failed, DELIVERED when one failed and another
 * got there. */
static void test_final_states(void **state)
{
    struct fixture *f = *state;
    reach(&f->relay, f->erin_dev);
    reach(&f->relay, f->dave_dev[0]);
    reach(&f->relay, f->dave_dev[1]);
    uint8_t s[MSG_ID_LEN], x[MSG_ID_LEN], y[MSG_ID_LEN];
    send_ok(f, f->erin, "stored for erin", s);
    messenger_settled(f->m, "relay", f->erin_dev, s, COPY_SERVER, "");
    assert_int_equal(f->nsettled, 1);
    assert_int_equal(f->settled[0].state, STORE_SERVER);
    assert_int_equal(stored(f, s, f->erin).state, STORE_SERVER);

    send_ok(f, f->dave, "refused twice", x);
    messenger_settled(f->m, "relay", f->dave_dev[0], x, COPY_FAILED, "ENOTCONTACT");
    assert_int_equal(f->nsettled, 1);
    messenger_settled(f->m, "relay", f->dave_dev[1], x, COPY_FAILED, "ENOTCONTACT");
    assert_int_equal(f->nsettled, 2);
    assert_int_equal(f->settled[1].state, STORE_FAILED);
    assert_string_equal(f->settled[1].error, "ENOTCONTACT");
    store_msg m = stored(f, x, f->dave);
    assert_int_equal(m.state, STORE_FAILED);
    assert_string_equal(m.error, "ENOTCONTACT");
    assert_string_equal(copy_of(f, m.seq, f->dave_dev[0]).error, "ENOTCONTACT");

    send_ok(f, f->dave, "one of two", y);
    messenger_settled(f->m, "relay", f->dave_dev[0], y, COPY_FAILED, "ENOENT");
    messenger_settled(f->m, "relay", f->dave_dev[1], y, COPY_DELIVERED, "");
    assert_int_equal(f->nsettled, 3);
    assert_int_equal(f->settled[2].state, STORE_DELIVERED);
    assert_string_equal(f->settled[2].error, "");
    /* A failed message is not sent again. */
    messenger_kick(f->m, NULL);
    f->mono += 2 * MESSENGER_RETRY_MS;
    assert_false(messenger_tick(f->m));
    assert_int_equal(f->relay.n, 5);
    assert_int_equal(outbox_len(f, NULL), 0);
}

/* A duplicate answer, or an answer for nothing in flight, is ignored. */
static void test_ignored_answers(void **state)
{
    struct fixture *f = *state;
    reach(&f->lan, f->bob_dev);
    uint8_t id[MSG_ID_LEN], unknown[MSG_ID_LEN], nobody[32];
    send_ok(f, f->bob, "once", id);
    memset(unknown, 0x77, sizeof unknown);
    fill_key(nobody, 99);
    messenger_settled(f->m, "lan", f->bob_dev, unknown, COPY_DELIVERED, "");
    messenger_settled(f->m, "lan", nobody, id, COPY_DELIVERED, "");
    /* dave's device has no copy of a message to bob. */
    messenger_settled(f->m, "relay", f->dave_dev[0], id, COPY_DELIVERED, "");
    assert_int_equal(f->nsettled, 0);
    assert_int_equal(messenger_inflight(f->m), 1);
    messenger_settled(f->m, "lan", f->bob_dev, id, COPY_DELIVERED, "");
    messenger_settled(f->m, "lan", f->bob_dev, id, COPY_DELIVERED, "");
    messenger_settled(f->m, "lan", f->bob_dev, id, COPY_FAILED, "EPROTO");
    messenger_settled(f->m, "relay", f->bob_dev, id, COPY_SERVER, "");
    assert_int_equal(f->nsettled, 1);
    store_msg m = stored(f, id, f->bob);
    assert_int_equal(m.state, STORE_DELIVERED);
    store_copy c = copy_of(f, m.seq, f->bob_dev);
    assert_int_equal(c.state, COPY_DELIVERED);
    assert_string_equal(c.route, "lan");
    /* An incoming message's id is no outgoing one. */
    struct msg_chat chat = {.ts_ms = 1, .body = "hi", .body_len = 2};
    memset(chat.id, 0x55, sizeof chat.id);
    assert_int_equal(messenger_received(f->m, f->bob_dev, &chat), 0);
    messenger_settled(f->m, "lan", f->bob_dev, chat.id, COPY_DELIVERED, "");
    assert_int_equal(f->nsettled, 1);
}

/* A route that answers from inside send (the relay refusing a message too
 * big to seal) settles the copy once and leaves nothing in flight. */
static void test_settled_inside_send(void **state)
{
    struct fixture *f = *state;
    reach(&f->relay, f->erin_dev);
    f->relay.settle_inline = true;
    uint8_t id[MSG_ID_LEN];
    send_ok(f, f->erin, "too big to seal", id);
    assert_int_equal(f->relay.n, 1);
    assert_int_equal(f->nsettled, 1);
    assert_int_equal(f->settled[0].state, STORE_FAILED);
    assert_string_equal(f->settled[0].error, "ETOOBIG");
    assert_int_equal(messenger_inflight(f->m), 0);
    assert_false(messenger_tick(f->m));
    f->mono += 2 * MESSENGER_RETRY_MS;
    assert_false(messenger_tick(f->m));
    assert_int_equal(f->relay.n, 1);
}

/* A restart: free the messenger with messages in flight and queued, make a
 * new one on the same store: they are sent again, in order, and each
 * settles once; what was settled before is not sent again. */
static void test_restart(void **state)
{
    struct fixture *f = *state;
    reach(&f->lan, f->bob_dev);
    uint8_t done[MSG_ID_LEN], a[MSG_ID_LEN], b[MSG_ID_LEN], c[MSG_ID_LEN];
    send_ok(f, f->bob, "settled before", done);
    messenger_settled(f->m, "lan", f->bob_dev, done, COPY_DELIVERED, "");
    send_ok(f, f->bob, "in flight", a);
    send_ok(f, f->bob, "in flight too", b);
    unreach(&f->lan, f->bob_dev);
    send_ok(f, f->bob, "queued", c);
    assert_int_equal(f->lan.n, 3);
    assert_int_equal(f->nsettled, 1);

    messenger_free(f->m);
    f->m = NULL;
    f->lan.n = 0;
    new_messenger(f);
    assert_int_equal(messenger_inflight(f->m), 0);
    assert_int_equal(outbox_len(f, f->bob), 3);
    reach(&f->lan, f->bob_dev);
    messenger_kick(f->m, NULL);
    assert_int_equal(f->lan.n, 3);
    assert_memory_equal(f->lan.log[0].id, a, MSG_ID_LEN);
    assert_memory_equal(f->lan.log[1].id, b, MSG_ID_LEN);
    assert_memory_equal(f->lan.log[2].id, c, MSG_ID_LEN);
    /* Two answers for a (to the send before the restart and after). */
    messenger_settled(f->m, "lan", f->bob_dev, a, COPY_DELIVERED, "");
    messenger_settled(f->m, "lan", f->bob_dev, a, COPY_DELIVERED, "");
    messenger_settled(f->m, "lan", f->bob_dev, b, COPY_DELIVERED, "");
    messenger_settled(f->m, "lan", f->bob_dev, c, COPY_DELIVERED, "");
    assert_int_equal(f->nsettled, 4);
    assert_memory_equal(f->settled[1].id, a, MSG_ID_LEN);
    assert_memory_equal(f->settled[2].id, b, MSG_ID_LEN);
    assert_memory_equal(f->settled[3].id, c, MSG_ID_LEN);
    assert_int_equal(outbox_len(f, NULL), 0);
    messenger_kick(f->m, NULL);
    assert_int_equal(f->lan.n, 3);
    messenger_free(NULL);
}

/* An answer to a copy sent before a restart, arriving after it and before
 * the copy was sent again, settles it. */
static void test_restart_late_answer(void **state)
{
    struct fixture *f = *state;
    reach(&f->relay, f->erin_dev);
    uint8_t id[MSG_ID_LEN];
    send_ok(f, f->erin, "stored while we restarted", id);
    messenger_free(f->m);
    f->m = NULL;
    new_messenger(f);
    messenger_settled(f->m, "relay", f->erin_dev, id, COPY_SERVER, "");
    assert_int_equal(f->nsettled, 1);
    assert_int_equal(f->settled[0].state, STORE_SERVER);
    messenger_kick(f->m, NULL);
    assert_int_equal(f->relay.n, 1);
}

/* A device the contact gets while a message is queued gets a copy; a
 * device in TRUST_CHANGED never does. */
static void test_new_device_gets_copy(void **state)
{
    struct fixture *f = *state;
    reach(&f->relay, f->erin_dev);
    uint8_t id[MSG_ID_LEN];
    send_ok(f, f->erin, "to every device of erin", id);
    assert_int_equal(f->relay.n, 1);
    /* The server lists a second device for erin. */
    uint8_t devs[2][32];
    memcpy(devs[0], f->erin_dev, 32);
    fill_key(devs[1], 31);
    assert_int_equal(contacts_org(f->cs, "erin", (const uint8_t(*)[32])devs, 2, NULL), 0);
    reach(&f->relay, devs[1]);
    messenger_kick(f->m, f->erin);
    assert_int_equal(f->relay.n, 2);
    assert_memory_equal(f->relay.log[1].dev, devs[1], 32);
    messenger_settled(f->m, "relay", f->erin_dev, id, COPY_DELIVERED, "");
    assert_int_equal(f->nsettled, 0);
    messenger_settled(f->m, "relay", devs[1], id, COPY_DELIVERED, "");
    assert_int_equal(f->nsettled, 1);

    /* bob has a queued message when a new key claims him. */
    uint8_t b[MSG_ID_LEN], nk[32];
    send_ok(f, f->bob, "queued for bob", b);
    fill_key(nk, 2);
    contacts_admit_result r;
    assert_int_equal(contacts_admit(f->cs, nk, "bob", "lan", "", NULL, 0, &r), 0);
    assert_int_equal(r.what, ADMIT_CHANGED);
    reach(&f->lan, nk);
    reach(&f->lan, f->bob_dev);
    messenger_kick(f->m, NULL);
    assert_int_equal(f->lan.n, 1);
    assert_memory_equal(f->lan.log[0].dev, f->bob_dev, 32);
    store_msg m = stored(f, b, f->bob);
    assert_int_equal(ncopies(f, m.seq), 1);
    messenger_settled(f->m, "lan", nk, b, COPY_DELIVERED, ""); /* no copy: ignored */
    assert_int_equal(f->nsettled, 1);
    messenger_settled(f->m, "lan", f->bob_dev, b, COPY_DELIVERED, "");
    assert_int_equal(f->nsettled, 2);
}

/* A route that kicks the messenger from inside send (its buffer drained at
 * once) does not send anything twice or out of order. */
static struct fixture *kicker;
static int kick_send(void *ud, const store_contact *c, const store_device *d, const store_msg *m)
{
    int r = fr_send(ud, c, d, m);
    messenger_kick(kicker->m, NULL);
    return r;
}

static void test_kick_inside_send(void **state)
{
    struct fixture *f = *state;
    kicker = f;
    messenger_free(f->m);
    banter_rng rng = {f_fill, f};
    messenger_callbacks cb = {on_received, on_settled, on_deferred};
    assert_int_equal(messenger_new(&f->m, f->st, f->cs, &f->clock, rng, &cb, f), 0);
    mr_route lan = {"lan", fr_reaches, kick_send, &f->lan};
    assert_int_equal(messenger_add_route(f->m, &lan), 0);
    uint8_t id[3][MSG_ID_LEN];
    for (int i = 0; i < 3; i++)
        send_ok(f, f->bob, "queued", id[i]);
    reach(&f->lan, f->bob_dev);
    messenger_kick(f->m, NULL);
    assert_int_equal(f->lan.n, 3);
    for (size_t i = 0; i < 3; i++)
        assert_memory_equal(f->lan.log[i].id, id[i], MSG_ID_LEN);
    /* More routes than there is room for. */
    for (int i = 1; i < MESSENGER_MAX_ROUTES; i++)
        assert_int_equal(messenger_add_route(f->m, &lan), 0);
    assert_int_equal(messenger_add_route(f->m, &lan), BANTER_ENOMEM);
}

/* ---- receiving ---- */

static struct msg_chat chat_of(uint8_t idbyte, const char *body)
{
    struct msg_chat c = {.ts_ms = 1700000000123, .body = (char *)(uintptr_t)body};
    memset(c.id, idbyte, sizeof c.id);
    c.body_len = strlen(body);
    return c;
}

static size_t history_len(struct fixture *f, const uint8_t contact[32])
{
    store_msg *h = NULL;
    size_t n = 0;
    assert_int_equal(store_history(f->st, contact, 0, 100, &h, &n), 0);
    store_msgs_free(h, n);
    return n;
}

static void test_receive(void **state)
{
    struct fixture *f = *state;
    struct msg_chat c = chat_of(1, "hello ada");
    assert_int_equal(messenger_received(f->m, f->bob_dev, &c), 0);
    assert_int_equal(f->nreceived, 1);
    assert_memory_equal(f->received[0].contact, f->bob, 32);
    assert_string_equal(f->received[0].body, "hello ada");
    assert_int_equal(f->received[0].flags, 0);
    assert_int_equal(f->received[0].trust, TRUST_KNOWN);
    store_msg *h = NULL;
    size_t n = 0;
    assert_int_equal(store_history(f->st, f->bob, 0, 10, &h, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(h[0].seq, f->received[0].seq);
    assert_int_equal(h[0].dir, STORE_IN);
    assert_int_equal(h[0].state, STORE_RECEIVED);
    assert_true(h[0].has_device);
    assert_memory_equal(h[0].device, f->bob_dev, 32);
    assert_int_equal(h[0].ts_ms, c.ts_ms);
    assert_int_equal(h[0].stored_ms, f->wall);
    store_msgs_free(h, n);
    /* The same again (a resend, over another route): acknowledged, not
     * stored or shown twice. */
    assert_int_equal(messenger_received(f->m, f->bob_dev, &c), 0);
    assert_int_equal(f->nreceived, 1);
    assert_int_equal(history_len(f, f->bob), 1);

    /* A broadcast flag is kept. */
    struct msg_chat bc = chat_of(2, "everyone");
    bc.broadcast = true;
    assert_int_equal(messenger_received(f->m, f->bob_dev, &bc), 0);
    assert_int_equal(store_history(f->st, f->bob, 0, 10, &h, &n), 0);
    assert_true(h[1].broadcast);
    store_msgs_free(h, n);

    /* The same id from each of two devices of dave: two rows. */
    struct msg_chat d = chat_of(3, "from dave");
    assert_int_equal(messenger_received(f->m, f->dave_dev[0], &d), 0);
    assert_int_equal(messenger_received(f->m, f->dave_dev[1], &d), 0);
    assert_int_equal(messenger_received(f->m, f->dave_dev[1], &d), 0);
    assert_int_equal(f->nreceived, 4);
    assert_int_equal(history_len(f, f->dave), 2);
    assert_int_equal(f->received[2].trust, TRUST_CERTIFIED);

    /* An unknown device: refused, nothing stored. */
    uint8_t nobody[32];
    fill_key(nobody, 99);
    struct msg_chat x = chat_of(4, "who am I");
    assert_int_equal(messenger_received(f->m, nobody, &x), BANTER_EPERM);
    assert_int_equal(f->nreceived, 4);
}

/* A copy the server relayed as from a deleted account, or from a device
 * no longer bound to it (RV_SEAL_SENDER_GONE: the roster takes it with
 * messenger_received_unvouched instead of vouching for the device with
 * contacts_org first, which made the old device TRUST_CERTIFIED for the
 * name's next holder): the text is kept in the account's conversation,
 * flagged unverified; an unknown device stays unknown, a certified one
 * gets no more vouching; a "to" copy is refused. */
static void test_receive_unvouched(void **state)
{
    struct fixture *f = *state;
    uint8_t old[32];
    fill_key(old, 77);
    store_device d;
    store_contact cat;
    struct msg_chat c = chat_of(1, "from the old cat");
    assert_int_equal(messenger_received_unvouched(f->m, "cat", old, &c), 0);
    assert_int_equal(f->nreceived, 1);
    assert_int_equal(f->received[0].flags, STORE_MSG_UNTRUSTED);
    assert_int_equal(store_device_get(f->st, old, &d), BANTER_ENOENT);
    assert_int_equal(store_contact_by_account(f->st, "cat", &cat), 0);
    assert_memory_equal(f->received[0].contact, cat.key, 32);
    store_msg *h = NULL;
    size_t n = 0;
    assert_int_equal(store_history(f->st, cat.key, 0, 10, &h, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(h[0].flags, STORE_MSG_UNTRUSTED);
    assert_memory_equal(h[0].device, old, 32);
    assert_string_equal(h[0].body, "from the old cat");
    store_msgs_free(h, n);
    /* Twice: one message. */
    assert_int_equal(messenger_received_unvouched(f->m, "cat", old, &c), 0);
    assert_int_equal(history_len(f, cat.key), 1);

    /* dave's certified device, an hour later: flagged, no day more. */
    store_device before, after;
    assert_int_equal(store_device_get(f->st, f->dave_dev[0], &before), 0);
    assert_int_equal(before.trust, TRUST_CERTIFIED);
    f->wall += 3600000;
    struct msg_chat c2 = chat_of(2, "dave, gone");
    assert_int_equal(messenger_received_unvouched(f->m, "dave", f->dave_dev[0], &c2), 0);
    assert_int_equal(f->received[f->nreceived - 1].flags, STORE_MSG_UNTRUSTED);
    assert_int_equal(store_device_get(f->st, f->dave_dev[0], &after), 0);
    assert_int_equal(after.trust, TRUST_CERTIFIED);
    assert_int_equal(after.vouched_until_ms, before.vouched_until_ms);

    /* A copy of this account's own ("to"): refused. */
    struct msg_chat t = chat_of(3, "synced?");
    snprintf(t.to, sizeof t.to, "@dave");
    assert_int_equal(messenger_received_unvouched(f->m, "cat", old, &t), BANTER_EPERM);
}

/* What a device in TRUST_CHANGED sends is stored under the contact it
 * claimed, flagged, and said to come from a changed key. */
static void test_receive_from_changed_key(void **state)
{
    struct fixture *f = *state;
    uint8_t nk[32];
    fill_key(nk, 2);
    contacts_admit_result r;
    assert_int_equal(contacts_admit(f->cs, nk, "Bob", "lan", "", NULL, 0, &r), 0);
    assert_int_equal(r.what, ADMIT_CHANGED);
    struct msg_chat c = chat_of(1, "it's me, new laptop");
    assert_int_equal(messenger_received(f->m, nk, &c), 0);
    assert_int_equal(f->nreceived, 1);
    assert_memory_equal(f->received[0].contact, f->bob, 32);
    assert_int_equal(f->received[0].trust, TRUST_CHANGED);
    assert_int_equal(f->received[0].flags, STORE_MSG_UNTRUSTED);
    /* The same id from the real bob is another message, not flagged. */
    assert_int_equal(messenger_received(f->m, f->bob_dev, &c), 0);
    store_msg *h = NULL;
    size_t n = 0;
    assert_int_equal(store_history(f->st, f->bob, 0, 10, &h, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(h[0].flags, STORE_MSG_UNTRUSTED);
    assert_memory_equal(h[0].device, nk, 32);
    assert_int_equal(h[1].flags, 0);
    assert_memory_equal(h[1].device, f->bob_dev, 32);
    store_msgs_free(h, n);
    /* Once verified, what it sends is bob's word. */
    char note[128];
    assert_int_equal(contacts_verify(f->cs, f->bob, NULL, note, sizeof note), 0);
    struct msg_chat c2 = chat_of(2, "verified now");
    assert_int_equal(messenger_received(f->m, nk, &c2), 0);
    assert_int_equal(f->received[2].flags, 0);
}

/* A message that cannot be stored (disk full) is not acknowledged. */
static void test_receive_disk_full(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(store_set_max_pages(f->st, 1), 0);
    static char body[BANTER_MAX_BODY + 1];
    memset(body, 'q', BANTER_MAX_BODY);
    struct msg_chat c = chat_of(1, body);
    int r = 0;
    for (uint8_t i = 1; i < 50 && r == 0; i++) {
        memset(c.id, i, sizeof c.id);
        r = messenger_received(f->m, f->bob_dev, &c);
    }
    assert_int_equal(r, BANTER_ENOSPC);
    size_t shown = f->nreceived;
    assert_int_equal(history_len(f, f->bob), shown);
    /* Room again: the sender's resend is stored. */
    assert_int_equal(store_set_max_pages(f->st, 1000000), 0);
    assert_int_equal(messenger_received(f->m, f->bob_dev, &c), 0);
    assert_int_equal(f->nreceived, shown + 1);
}

/* ---- broadcast ---- */

static bool only_lan(void *ud, const store_contact *c)
{
    (void)ud;
    return c->kind == CONTACT_LAN;
}

static void test_broadcast(void **state)
{
    struct fixture *f = *state;
    /* carol: a LAN colleague whose key changed. */
    uint8_t carol_dev[32], carol_nk[32];
    fill_key(carol_dev, 5);
    fill_key(carol_nk, 6);
    contacts_admit_result carol, r;
    assert_int_equal(contacts_admit(f->cs, carol_dev, "carol", "lan", "", NULL, 0, &carol), 0);
    assert_int_equal(contacts_admit(f->cs, carol_nk, "Carol", "lan", "", NULL, 0, &r), 0);
    assert_int_equal(r.what, ADMIT_CHANGED);
    reach(&f->lan, f->bob_dev);
    reach(&f->lan, carol_dev);
    reach(&f->lan, carol_nk);
    reach(&f->relay, f->dave_dev[0]);
    reach(&f->relay, f->dave_dev[1]);
    reach(&f->relay, f->erin_dev);

    uint8_t id[MSG_ID_LEN];
    size_t count = 0;
    const char *text = "Fire drill at 15:00";
    assert_int_equal(messenger_broadcast(f->m, text, strlen(text), NULL, NULL, id, &count), 0);
    assert_int_equal(count, 3); /* bob, dave, erin; not carol */
    store_msg m;
    assert_int_equal(store_msg_find_out(f->st, id, carol.contact.key, &m), BANTER_ENOENT);
    const uint8_t *to[] = {f->bob, f->dave, f->erin};
    for (size_t i = 0; i < 3; i++) {
        m = stored(f, id, to[i]);
        assert_true(m.broadcast);
        assert_int_equal(m.state, STORE_QUEUED);
    }
    /* One copy per device, with the one id. */
    assert_int_equal(f->lan.n, 1);
    assert_memory_equal(f->lan.log[0].dev, f->bob_dev, 32);
    assert_true(f->lan.log[0].broadcast);
    assert_int_equal(f->relay.n, 3);
    for (size_t i = 0; i < f->relay.n; i++) {
        assert_memory_equal(f->relay.log[i].id, id, MSG_ID_LEN);
        assert_true(f->relay.log[i].broadcast);
        assert_string_equal(f->relay.log[i].body, text);
    }
    /* Each recipient's row settles on its own. */
    messenger_settled(f->m, "lan", f->bob_dev, id, COPY_DELIVERED, "");
    messenger_settled(f->m, "relay", f->erin_dev, id, COPY_SERVER, "");
    assert_int_equal(f->nsettled, 2);
    assert_int_equal(stored(f, id, f->bob).state, STORE_DELIVERED);
    assert_int_equal(stored(f, id, f->erin).state, STORE_SERVER);
    assert_int_equal(stored(f, id, f->dave).state, STORE_QUEUED);

    /* A filter; bad text. */
    uint8_t id2[MSG_ID_LEN];
    assert_int_equal(messenger_broadcast(f->m, "LAN only", 8, only_lan, NULL, id2, &count), 0);
    assert_int_equal(count, 1);
    assert_memory_not_equal(id, id2, MSG_ID_LEN);
    assert_int_equal(messenger_broadcast(f->m, "bad\xff", 4, NULL, NULL, id2, &count),
                     BANTER_EUTF8);
    assert_int_equal(count, 0);
    assert_int_equal(messenger_broadcast(f->m, "", 0, NULL, NULL, id2, &count), BANTER_EINVAL);
}

/* ---- the other devices of the node's own account ---- */

static void hex_of(const uint8_t k[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", k[i]);
}

static size_t sync_pending(struct fixture *f, const store_contact *self)
{
    store_msg *p = NULL;
    size_t n = 0;
    assert_int_equal(store_sync_pending(f->st, NULL, self->key, &p, &n), 0);
    store_msgs_free(p, n);
    return n;
}

static void test_sync_copies(void **state)
{
    struct fixture *f = *state;
    store_contact self = become_ada(f);
    uint8_t id[MSG_ID_LEN], id2[MSG_ID_LEN], bid[MSG_ID_LEN];
    char bobhex[65];
    hex_of(f->bob_dev, bobhex);
    reach(&f->lan, f->bob_dev);
    reach(&f->relay, f->ada2);
    /* To bob (LAN): bob's copy, and one for ada2 naming bob's device. */
    send_ok(f, f->bob, "hi bob", id);
    assert_int_equal(f->lan.n, 1);
    assert_string_equal(f->lan.log[0].to, "");
    assert_int_equal(f->relay.n, 1);
    assert_memory_equal(f->relay.log[0].dev, f->ada2, 32);
    assert_memory_equal(f->relay.log[0].id, id, MSG_ID_LEN);
    assert_string_equal(f->relay.log[0].to, bobhex);
    assert_string_equal(f->relay.log[0].body, "hi bob");
    /* Bob has it: delivered, whatever ada2's copy does. */
    messenger_settled(f->m, "lan", f->bob_dev, id, COPY_DELIVERED, "");
    assert_int_equal(f->nsettled, 1);
    assert_int_equal(f->settled[0].state, STORE_DELIVERED);
    assert_int_equal(sync_pending(f, &self), 1);
    /* ada2's copy answered: no second outcome, nothing waits. */
    messenger_settled(f->m, "relay", f->ada2, id, COPY_SERVER, "");
    assert_int_equal(f->nsettled, 1);
    assert_int_equal(stored(f, id, f->bob).state, STORE_DELIVERED);
    assert_int_equal(copy_of(f, stored(f, id, f->bob).seq, f->ada2).state, COPY_SERVER);
    assert_int_equal(sync_pending(f, &self), 0);
    assert_int_equal(messenger_inflight(f->m), 0);

    /* To dave, an account: "@dave"; ada2 out of reach at first. */
    unreach(&f->relay, f->ada2);
    reach(&f->relay, f->dave_dev[0]);
    reach(&f->relay, f->dave_dev[1]);
    send_ok(f, f->dave, "hi dave", id2);
    assert_int_equal(f->relay.n, 3);
    messenger_settled(f->m, "relay", f->dave_dev[0], id2, COPY_DELIVERED, "");
    messenger_settled(f->m, "relay", f->dave_dev[1], id2, COPY_DELIVERED, "");
    assert_int_equal(f->nsettled, 2);
    assert_int_equal(f->settled[1].state, STORE_DELIVERED);
    /* ada2 comes back: its copy of the delivered message goes then, also
     * after a restart. */
    messenger_free(f->m);
    new_messenger(f);
    reach(&f->relay, f->ada2);
    messenger_kick(f->m, self.key);
    assert_int_equal(f->relay.n, 4);
    assert_memory_equal(f->relay.log[3].dev, f->ada2, 32);
    assert_memory_equal(f->relay.log[3].id, id2, MSG_ID_LEN);
    assert_string_equal(f->relay.log[3].to, "@dave");
    messenger_settled(f->m, "relay", f->ada2, id2, COPY_DELIVERED, "");
    assert_int_equal(f->nsettled, 2);
    assert_int_equal(sync_pending(f, &self), 0);

    /* A broadcast is not copied; the self contact is no conversation. */
    size_t count = 0;
    assert_int_equal(messenger_broadcast(f->m, "all", 3, NULL, NULL, bid, &count), 0);
    assert_int_equal(count, 3); /* bob, dave, erin: not ada */
    for (size_t i = 4; i < f->relay.n; i++)
        assert_memory_not_equal(f->relay.log[i].dev, f->ada2, 32);
    assert_int_equal(messenger_send(f->m, self.key, "me", 2, bid), BANTER_EPERM);
    /* A device the server no longer lists gets nothing more. */
    assert_int_equal(contacts_self_devices(f->cs, (const uint8_t(*)[32])f->own, 1), 0);
    size_t before = f->relay.n;
    send_ok(f, f->dave, "after", id);
    for (size_t i = before; i < f->relay.n; i++)
        assert_memory_not_equal(f->relay.log[i].dev, f->ada2, 32);
}

/* The server stops listing a device of an account (logged out): it is
 * forgotten, and a message that waited only for it is final. */
static void test_device_gone(void **state)
{
    struct fixture *f = *state;
    uint8_t id[MSG_ID_LEN];
    bool removed = false;
    store_contact c;
    reach(&f->relay, f->dave_dev[0]);
    send_ok(f, f->dave, "to both", id);
    messenger_settled(f->m, "relay", f->dave_dev[0], id, COPY_DELIVERED, "");
    assert_int_equal(f->nsettled, 0); /* dave_dev[1] never reached */
    assert_int_equal(
        contacts_org_devices(f->cs, "dave", (const uint8_t(*)[32])f->dave_dev, 1, &c, &removed), 0);
    assert_true(removed);
    assert_int_equal(store_device_get(f->st, f->dave_dev[1], &(store_device){0}), BANTER_ENOENT);
    messenger_devices_changed(f->m, f->dave);
    assert_int_equal(f->nsettled, 1);
    assert_int_equal(f->settled[0].state, STORE_DELIVERED);
    assert_int_equal(outbox_len(f, NULL), 0);
    /* The same list again removes nothing. */
    assert_int_equal(
        contacts_org_devices(f->cs, "dave", (const uint8_t(*)[32])f->dave_dev, 1, &c, &removed), 0);
    assert_false(removed);
}

static void test_sync_received(void **state)
{
    struct fixture *f = *state;
    become_ada(f);
    /* ada2 sent "hi dave" to dave: here it is an outgoing message. */
    struct msg_chat c = chat_of(7, "hi dave");
    snprintf(c.to, sizeof c.to, "@dave");
    assert_int_equal(messenger_received(f->m, f->ada2, &c), 0);
    assert_int_equal(f->nreceived, 1);
    assert_memory_equal(f->received[0].contact, f->dave, 32);
    assert_int_equal(f->received[0].flags, STORE_MSG_SYNCED);
    /* Over the other route too: kept once. */
    assert_int_equal(messenger_received(f->m, f->ada2, &c), 0);
    assert_int_equal(f->nreceived, 1);
    store_msg *h = NULL;
    size_t n = 0;
    assert_int_equal(store_history(f->st, f->dave, 0, 10, &h, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(h[0].dir, STORE_OUT);
    assert_int_equal(h[0].state, STORE_DELIVERED);
    assert_true(h[0].has_device);
    assert_memory_equal(h[0].device, f->ada2, 32);
    assert_memory_equal(h[0].id, c.id, MSG_ID_LEN);
    assert_int_equal(h[0].ts_ms, c.ts_ms);
    store_msgs_free(h, n);
    assert_int_equal(outbox_len(f, NULL), 0); /* never sent again from here */
    /* To bob, named by his device. */
    struct msg_chat b = chat_of(8, "hi bob");
    hex_of(f->bob_dev, b.to);
    assert_int_equal(messenger_received(f->m, f->ada2, &b), 0);
    assert_int_equal(history_len(f, f->bob), 1);
    /* A LAN contact this node never met: taken (acknowledged), not kept. */
    struct msg_chat u = chat_of(9, "hi stranger");
    memset(u.to, 'e', 64);
    assert_int_equal(messenger_received(f->m, f->ada2, &u), 0);
    assert_int_equal(f->nreceived, 2);

    /* Refused: a "to" copy from anyone but ada's own devices (a contact,
     * an account, a LAN colleague), one naming ada herself, a broadcast
     * with "to", and a plain CHAT from an own device. Nothing is stored. */
    struct msg_chat forged = chat_of(10, "I said this, says eve");
    snprintf(forged.to, sizeof forged.to, "@dave");
    assert_int_equal(messenger_received(f->m, f->dave_dev[0], &forged), BANTER_EPERM);
    assert_int_equal(messenger_received(f->m, f->erin_dev, &forged), BANTER_EPERM);
    hex_of(f->dave_dev[0], forged.to);
    assert_int_equal(messenger_received(f->m, f->bob_dev, &forged), BANTER_EPERM);
    snprintf(forged.to, sizeof forged.to, "@ada");
    assert_int_equal(messenger_received(f->m, f->ada2, &forged), BANTER_EPERM);
    snprintf(forged.to, sizeof forged.to, "@dave");
    forged.broadcast = true;
    assert_int_equal(messenger_received(f->m, f->ada2, &forged), BANTER_EPERM);
    struct msg_chat plain = chat_of(11, "no conversation");
    assert_int_equal(messenger_received(f->m, f->ada2, &plain), BANTER_EPERM);
    assert_int_equal(f->nreceived, 2);
    assert_int_equal(history_len(f, f->dave), 1);
    assert_int_equal(history_len(f, f->erin), 0);
    assert_int_equal(history_len(f, f->bob), 1);
}

/* A device of an account the organisation no longer vouches for (a day
 * since the server last listed it, no certificate): a message to the
 * account gets no copy for it, what it sends is flagged as not the
 * account's word, and as a device of the node's own account it sends no
 * copies. Listed again, it is the account's again. */
static void test_lapsed_device(void **state)
{
    struct fixture *f = *state;
    become_ada(f);
    f->wall += CONTACTS_VOUCH_MS + 3600 * 1000;
    /* The server lists dave's first device again, not the second. */
    assert_int_equal(contacts_org(f->cs, "dave", (const uint8_t(*)[32])f->dave_dev, 1, NULL), 0);
    reach(&f->relay, f->dave_dev[0]);
    reach(&f->relay, f->dave_dev[1]);
    uint8_t id[MSG_ID_LEN];
    send_ok(f, f->dave, "to dave", id);
    assert_int_equal(f->relay.n, 1);
    assert_memory_equal(f->relay.log[0].dev, f->dave_dev[0], 32);
    store_msg m = stored(f, id, f->dave);
    assert_int_equal(ncopies(f, m.seq), 1);
    messenger_settled(f->m, "relay", f->dave_dev[0], id, COPY_DELIVERED, "");
    assert_int_equal(f->nsettled, 1);
    assert_int_equal(f->settled[0].state, STORE_DELIVERED);
    /* What each sends: the lapsed one is flagged. */
    struct msg_chat c = chat_of(1, "still dave?");
    assert_int_equal(messenger_received(f->m, f->dave_dev[1], &c), 0);
    assert_int_equal(messenger_received(f->m, f->dave_dev[0], &c), 0);
    assert_int_equal(f->nreceived, 2);
    assert_memory_equal(f->received[0].contact, f->dave, 32);
    assert_int_equal(f->received[0].flags, STORE_MSG_UNTRUSTED);
    assert_int_equal(f->received[1].flags, 0);
    /* ada2, not listed for a day, writes no copies for ada. */
    struct msg_chat s2 = chat_of(2, "from my other laptop");
    snprintf(s2.to, sizeof s2.to, "@dave");
    assert_int_equal(messenger_received(f->m, f->ada2, &s2), BANTER_EPERM);
    assert_int_equal(f->nreceived, 2);
    /* Listed again: dave's second device gets the next message. */
    assert_int_equal(contacts_org(f->cs, "dave", (const uint8_t(*)[32])f->dave_dev, 2, NULL), 0);
    send_ok(f, f->dave, "to both", id);
    assert_int_equal(f->relay.n, 3);
    struct msg_chat again = chat_of(3, "dave again");
    assert_int_equal(messenger_received(f->m, f->dave_dev[1], &again), 0);
    assert_int_equal(f->received[2].flags, 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_sync_copies),
        T(test_sync_received),
        T(test_device_gone),
        T(test_send_delivered),
        T(test_send_refused),
        T(test_wait_for_route),
        T(test_order_per_device),
        T(test_full_route_resumes_in_order),
        T(test_route_refuses),
        T(test_route_lost_falls_back),
        T(test_route_lost_waits),
        T(test_retry),
        T(test_not_now),
        T(test_rate_refused),
        T(test_two_devices),
        T(test_final_states),
        T(test_ignored_answers),
        T(test_settled_inside_send),
        T(test_restart),
        T(test_restart_late_answer),
        T(test_new_device_gets_copy),
        T(test_kick_inside_send),
        T(test_receive),
        T(test_receive_from_changed_key),
        T(test_receive_unvouched),
        T(test_lapsed_device),
        T(test_receive_disk_full),
        T(test_broadcast),
    };
#undef T
    return cmocka_run_group_tests_name("peer_messenger", tests, NULL, NULL);
}
