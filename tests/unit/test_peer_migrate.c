/* SPDX-License-Identifier: MIT */
/*
 * test_peer_migrate.c - a node database written by the previous binary
 * (schema 3, tests/data/node-v3/ada/banter.db) migrates to schema 4 (then 5) with
 * nothing lost, checked against the inventory in tests/data/node-v3/README.md:
 * LAN peers are devices of contacts with their trust; carol's changed key is
 * a changed device of carol; the account dave is an organisation contact;
 * dave's LAN node keeps its own contact until it shows its certificate and
 * is then merged in; the outbox, the transfers and every message are there.
 * Each test opens its own copy: the file in tests/data is never touched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/contacts.h"
#include "core/messenger.h"
#include "core/store.h"
#include "core/xfer.h"
#include "identity.h"

#define FIXTURE    TEST_DATA_DIR "/data/node-v3/ada/banter.db"
/* The rendezvous server of the fixture, as the node pins it (40 digits). */
#define SERVER_FPD "8539167957887161591667279313190117043235"

/* Who is who in the README, by fingerprint. */
enum who { BOB, CAROL_OLD, CAROL_NEW, DAVE_LAN, DAVE_ORG, NWHO };
static const char *const who_fp[NWHO] = {
    [BOB] = "59735 54739 95828 27768 61748 59432 40465 25859",
    [CAROL_OLD] = "77592 16617 81798 50194 10886 46599 36009 18434",
    [CAROL_NEW] = "39500 77457 45573 28737 77209 79585 67018 77840",
    [DAVE_LAN] = "35621 02804 10320 73115 29067 93462 88138 72893",
    [DAVE_ORG] = "54599 97636 76918 44014 79563 44864 42363 05266",
};

/* The README's table "Every row", in seq order. */
struct v3row {
    enum who peer;
    store_dir dir;
    store_state state;
    bool broadcast;
    const char *error;
    const char *body;
};
static const struct v3row readme_rows[24] = {
    {BOB, STORE_OUT, STORE_DELIVERED, 0, "", "Hi Bob, are you coming to the 10:00 review?"},
    {BOB, STORE_IN, STORE_RECEIVED, 0, "", "Yes, I'll bring the printouts."},
    {BOB, STORE_OUT, STORE_DELIVERED, 0, "", "Great, room 4.12."},
    {BOB, STORE_IN, STORE_RECEIVED, 0, "", "See you there"},
    {CAROL_OLD, STORE_OUT, STORE_DELIVERED, 0, "", "Carol, could you review my draft today?"},
    {CAROL_OLD, STORE_IN, STORE_RECEIVED, 0, "", "Sure, send it over."},
    {CAROL_OLD, STORE_IN, STORE_RECEIVED, 0, "", "I'll look after lunch."},
    {DAVE_LAN, STORE_OUT, STORE_DELIVERED, 0, "", "Dave, over the LAN: lunch at noon?"},
    {DAVE_LAN, STORE_IN, STORE_RECEIVED, 0, "", "LAN reply: noon is fine."},
    {DAVE_LAN, STORE_IN, STORE_RECEIVED, 0, "", "LAN: I'll book a table."},
    {DAVE_ORG, STORE_OUT, STORE_DELIVERED, 0, "",
     "Dave, through the server: the contract is signed."},
    {DAVE_ORG, STORE_OUT, STORE_DELIVERED, 0, "", "Through the server: copy in the shared folder."},
    {DAVE_ORG, STORE_IN, STORE_RECEIVED, 0, "", "Server reply: thanks, got it."},
    {DAVE_ORG, STORE_IN, STORE_RECEIVED, 0, "", "Server reply: I'll file it."},
    {CAROL_NEW, STORE_IN, STORE_RECEIVED, 0, "", "Hi Ada, new laptop, same Carol."},
    {CAROL_OLD, STORE_OUT, STORE_QUEUED, 0, "", "To your old laptop: the draft is in the share."},
    {DAVE_ORG, STORE_OUT, STORE_SERVER, 0, "", "While you are away: sign page 3 too."},
    {DAVE_ORG, STORE_OUT, STORE_FAILED, 0, "EQUOTA", "And page 4, please."},
    {DAVE_LAN, STORE_OUT, STORE_QUEUED, 0, "", "LAN, while you are away: table for 4."},
    {BOB, STORE_OUT, STORE_QUEUED, 0, "", "Bob, the photos will resume when you are back."},
    {DAVE_ORG, STORE_OUT, STORE_QUEUED, 0, "", "Server down: this waits in my outbox."},
    {BOB, STORE_OUT, STORE_QUEUED, 1, "", "Fire drill at 15:00, everyone out."},
    {DAVE_LAN, STORE_OUT, STORE_QUEUED, 1, "", "Fire drill at 15:00, everyone out."},
    {DAVE_ORG, STORE_OUT, STORE_QUEUED, 1, "", "Fire drill at 15:00, everyone out."},
};
#define NROWS 24

/* A schema-3 messages row as the old binary wrote it. */
struct raw {
    int64_t seq;
    uint8_t id[MSG_ID_LEN];
    uint8_t peer[32];
    int dir, state, broadcast;
    int64_t ts, stored;
    char body[128];
    char error[16];
};

/* A schema-3 transfers row, with its files' rows flattened to text. */
struct raw_xfer {
    uint8_t id[MSG_ID_LEN];
    uint8_t peer[32];
    int dir, state;
    int64_t created, updated, done;
    char dest[64], error[16];
    uint8_t secret[32];
    char files[512];
};

struct fixture {
    char dir[64];
    char path[128];
    struct raw rows[NROWS];
    size_t nrows;
    struct raw_xfer xfers[4];
    size_t nxfers;
    size_t nfiles;
    store *st;
    uint8_t key[NWHO][32]; /* device keys; DAVE_ORG: the contact's handle */
};

static void copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    assert_true(in >= 0);
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(out >= 0);
    char chunk[8192];
    ssize_t n;
    while ((n = read(in, chunk, sizeof chunk)) > 0)
        assert_int_equal(write(out, chunk, (size_t)n), n);
    assert_int_equal(n, 0);
    close(in);
    assert_int_equal(close(out), 0);
}

static void text_col(sqlite3_stmt *s, int col, char *dst, size_t cap)
{
    const char *t = (const char *)sqlite3_column_text(s, col);
    snprintf(dst, cap, "%s", t ? t : "");
}

static void blob_col(sqlite3_stmt *s, int col, uint8_t *dst, size_t len)
{
    assert_int_equal(sqlite3_column_bytes(s, col), (int)len);
    memcpy(dst, sqlite3_column_blob(s, col), len);
}

/* What the old binary wrote, read before the store touches the copy. */
static void read_v3(struct fixture *f)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 3);
    sqlite3_finalize(s);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT seq, id, peer, dir, state, broadcast, ts, stored,"
                                        " body, error FROM messages ORDER BY seq",
                                        -1, &s, NULL),
                     SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW) {
        assert_true(f->nrows < NROWS);
        struct raw *r = &f->rows[f->nrows++];
        r->seq = sqlite3_column_int64(s, 0);
        blob_col(s, 1, r->id, MSG_ID_LEN);
        blob_col(s, 2, r->peer, 32);
        r->dir = sqlite3_column_int(s, 3);
        r->state = sqlite3_column_int(s, 4);
        r->broadcast = sqlite3_column_int(s, 5);
        r->ts = sqlite3_column_int64(s, 6);
        r->stored = sqlite3_column_int64(s, 7);
        text_col(s, 8, r->body, sizeof r->body);
        text_col(s, 9, r->error, sizeof r->error);
    }
    sqlite3_finalize(s);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT id, peer, dir, state, created, updated, done,"
                                        " dest, error, secret FROM transfers ORDER BY created DESC",
                                        -1, &s, NULL),
                     SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW) {
        assert_true(f->nxfers < 4);
        struct raw_xfer *x = &f->xfers[f->nxfers++];
        blob_col(s, 0, x->id, MSG_ID_LEN);
        blob_col(s, 1, x->peer, 32);
        x->dir = sqlite3_column_int(s, 2);
        x->state = sqlite3_column_int(s, 3);
        x->created = sqlite3_column_int64(s, 4);
        x->updated = sqlite3_column_int64(s, 5);
        x->done = sqlite3_column_int64(s, 6);
        text_col(s, 7, x->dest, sizeof x->dest);
        text_col(s, 8, x->error, sizeof x->error);
        blob_col(s, 9, x->secret, 32);
        sqlite3_stmt *fs = NULL;
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "SELECT idx || '|' || name || '|' || size || '|' ||"
                                            " hex(hash) || '|' || local || '|' || mtime || '|' ||"
                                            " verified FROM transfer_files WHERE id = ?1"
                                            " ORDER BY idx",
                                            -1, &fs, NULL),
                         SQLITE_OK);
        sqlite3_bind_blob(fs, 1, x->id, MSG_ID_LEN, SQLITE_STATIC);
        size_t o = 0;
        while (sqlite3_step(fs) == SQLITE_ROW) {
            o += (size_t)snprintf(x->files + o, sizeof x->files - o, "%s\n",
                                  (const char *)sqlite3_column_text(fs, 0));
            assert_true(o < sizeof x->files);
            f->nfiles++;
        }
        sqlite3_finalize(fs);
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    assert_int_equal(f->nrows, NROWS);
    assert_int_equal(f->nxfers, 4);
    assert_int_equal(f->nfiles, 5);
}

/* The key whose fingerprint is fp, among devices and contact handles. */
static bool key_by_fp(store *st, const char *fp, uint8_t out[32])
{
    char got[IDENTITY_FP_LEN + 1];
    bool found = false;
    store_device *devs = NULL;
    store_contact *cs = NULL;
    size_t n = 0;
    assert_int_equal(store_device_list(st, NULL, &devs, &n), 0);
    for (size_t i = 0; i < n; i++) {
        identity_fingerprint(devs[i].key, got);
        if (strcmp(got, fp) == 0) {
            memcpy(out, devs[i].key, 32);
            found = true;
        }
    }
    free(devs);
    assert_int_equal(store_contact_list(st, &cs, &n), 0);
    for (size_t i = 0; i < n && !found; i++) {
        identity_fingerprint(cs[i].key, got);
        if (strcmp(got, fp) == 0) {
            memcpy(out, cs[i].key, 32);
            found = true;
        }
    }
    free(cs);
    return found;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/banter-migrate-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/banter.db", f->dir);
    copy_file(FIXTURE, f->path);
    read_v3(f);
    char err[256];
    int r = store_open(&f->st, f->path, err, sizeof err);
    if (r != 0)
        print_error("store_open: %s\n", err);
    assert_int_equal(r, 0);
    for (int w = 0; w < NWHO; w++)
        assert_true(key_by_fp(f->st, who_fp[w], f->key[w]));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* The contact a README row belongs to after the migration. */
static const uint8_t *contact_of(const struct fixture *f, enum who w)
{
    return f->key[w == CAROL_NEW ? CAROL_OLD : w];
}

/* ---- a fake clock and random source for the engines ---- */

static int64_t fake_wall(void *ctx)
{
    (void)ctx;
    return 1800000000000;
}
static int64_t fake_mono(void *ctx) { return *(int64_t *)ctx; }

static int64_t mono_now = 1000;
static const node_clock fake_clock = {fake_wall, fake_mono, &mono_now};

static void fake_fill(void *ctx, uint8_t *out, size_t len)
{
    uint32_t *n = ctx;
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(++*n);
}

static contacts *contacts_on(store *st)
{
    contacts *cs = NULL;
    assert_int_equal(contacts_new(&cs, st, SERVER_FPD, &fake_clock), 0);
    return cs;
}

/* ---- the tests ---- */

static void test_schema(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT (SELECT user_version FROM pragma_user_version),"
                                        " (SELECT count(*) FROM sqlite_master WHERE name IN"
                                        " ('peers', 'claim', 'messages_v4')),"
                                        " (SELECT count(*) FROM contacts),"
                                        " (SELECT count(*) FROM devices),"
                                        " (SELECT count(*) FROM messages),"
                                        " (SELECT count(*) FROM copies),"
                                        " (SELECT count(*) FROM transfers),"
                                        " (SELECT count(*) FROM transfer_files)",
                                        -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 13);
    assert_int_equal(sqlite3_column_int(s, 1), 0); /* nothing of the migration left */
    assert_int_equal(sqlite3_column_int(s, 2), 4); /* bob, carol, dave (LAN), @dave */
    assert_int_equal(sqlite3_column_int(s, 3), 4); /* bob, carol twice, dave's node */
    assert_int_equal(sqlite3_column_int(s, 4), NROWS);
    assert_int_equal(sqlite3_column_int(s, 5), 0); /* copies are made when next sent */
    assert_int_equal(sqlite3_column_int(s, 6), 4);
    assert_int_equal(sqlite3_column_int(s, 7), 5);
    sqlite3_finalize(s);
    sqlite3_close(db);
    /* Reopening a migrated file changes nothing. */
    store_close(f->st);
    char err[256];
    assert_int_equal(store_open(&f->st, f->path, err, sizeof err), 0);
    store_contact *cs = NULL;
    size_t n = 0;
    assert_int_equal(store_contact_list(f->st, &cs, &n), 0);
    assert_int_equal(n, 4);
    free(cs);
    /* The history written by the old binary is searchable (schema 5). */
    store_msg *hits = NULL;
    assert_int_equal(store_search(f->st, "send it over", NULL, 0, 10, &hits, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(hits[0].body, "Sure, send it over.");
    store_msgs_free(hits, n);
}

/* Every LAN peer is a device of a contact, with its trust. */
static void test_lan_peers(void **state)
{
    struct fixture *f = *state;
    const struct {
        enum who w;
        const char *name;
        store_trust trust;
        const char *addr;
    } want[] = {
        {BOB, "bob", TRUST_VERIFIED, "198.18.0.3:35808"},
        {CAROL_OLD, "carol", TRUST_KNOWN, "198.18.0.4:58224"},
        {DAVE_LAN, "dave", TRUST_KNOWN, "198.18.0.5:57484"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        store_device d;
        store_contact c;
        assert_int_equal(store_device_get(f->st, f->key[want[i].w], &d), 0);
        assert_int_equal(d.trust, want[i].trust);
        assert_string_equal(d.name, want[i].name);
        assert_string_equal(d.source, "lan");
        assert_string_equal(d.addresses, want[i].addr);
        assert_false(d.has_replaces);
        assert_true(d.first_seen_ms > 0 && d.last_seen_ms >= d.first_seen_ms);
        /* Its own contact, named by the first key, with the name as label. */
        assert_memory_equal(d.contact, d.key, 32);
        assert_int_equal(store_contact_get(f->st, d.contact, &c), 0);
        assert_int_equal(c.kind, CONTACT_LAN);
        assert_string_equal(c.account, "");
        assert_string_equal(c.name, want[i].name);
        assert_int_equal(c.created_ms, d.first_seen_ms);
    }
}

/* carol's new key claims her contact: a changed device, and what it sent is
 * flagged; nothing is sent to carol until someone verifies. */
static void test_carol_changed(void **state)
{
    struct fixture *f = *state;
    store_device d, *devs = NULL;
    size_t n = 0;
    assert_int_equal(store_device_get(f->st, f->key[CAROL_NEW], &d), 0);
    assert_int_equal(d.trust, TRUST_CHANGED);
    assert_memory_equal(d.contact, f->key[CAROL_OLD], 32);
    assert_true(d.has_replaces);
    assert_memory_equal(d.replaces, f->key[CAROL_OLD], 32);
    assert_string_equal(d.addresses, "198.18.0.4:58230");
    /* No contact of its own. */
    store_contact c;
    assert_int_equal(store_contact_get(f->st, f->key[CAROL_NEW], &c), BANTER_ENOENT);
    assert_int_equal(store_device_list(f->st, f->key[CAROL_OLD], &devs, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(devs[0].key, f->key[CAROL_OLD], 32);
    assert_memory_equal(devs[1].key, f->key[CAROL_NEW], 32);
    free(devs);

    store_msg *h = NULL;
    assert_int_equal(store_history(f->st, f->key[CAROL_OLD], 0, 100, &h, &n), 0);
    assert_int_equal(n, 5);
    size_t flagged = 0;
    for (size_t i = 0; i < n; i++) {
        if (h[i].dir == STORE_OUT) {
            assert_false(h[i].has_device);
            assert_int_equal(h[i].flags, 0);
            continue;
        }
        assert_true(h[i].has_device);
        bool from_new = memcmp(h[i].device, f->key[CAROL_NEW], 32) == 0;
        if (from_new) {
            assert_string_equal(h[i].body, "Hi Ada, new laptop, same Carol.");
            assert_int_equal(h[i].flags, STORE_MSG_UNTRUSTED);
            flagged++;
        } else {
            assert_memory_equal(h[i].device, f->key[CAROL_OLD], 32);
            assert_int_equal(h[i].flags, 0);
        }
    }
    assert_int_equal(flagged, 1);
    store_msgs_free(h, n);

    contacts *cs = contacts_on(f->st);
    assert_int_equal(contacts_may_send(cs, f->key[CAROL_OLD]), BANTER_EKEYMISMATCH);
    assert_int_equal(contacts_may_send(cs, f->key[BOB]), 0);
    contacts_free(cs);
}

/* The account dave is an organisation contact with its relayed history;
 * dave's LAN node is still a LAN contact of its own, with its history. */
static void test_dave(void **state)
{
    struct fixture *f = *state;
    store_contact org, lan;
    assert_int_equal(store_contact_by_account(f->st, "dave", &org), 0);
    assert_memory_equal(org.key, f->key[DAVE_ORG], 32);
    assert_int_equal(org.kind, CONTACT_ORG);
    assert_string_equal(org.account, "dave");
    assert_string_equal(org.name, "dave");
    /* Its handle is the one today's code derives for the account. */
    uint8_t derived[32];
    contacts_account_key(SERVER_FPD, "dave", derived);
    assert_memory_equal(org.key, derived, 32);
    /* The account's name-derived key is no device: the server lists them. */
    store_device d;
    assert_int_equal(store_device_get(f->st, f->key[DAVE_ORG], &d), BANTER_ENOENT);
    store_device *devs = NULL;
    size_t n = 9;
    assert_int_equal(store_device_list(f->st, org.key, &devs, &n), 0);
    assert_int_equal(n, 0);

    assert_int_equal(store_contact_get(f->st, f->key[DAVE_LAN], &lan), 0);
    assert_int_equal(lan.kind, CONTACT_LAN);
    assert_string_equal(lan.name, "dave");

    store_msg *h = NULL;
    assert_int_equal(store_history(f->st, org.key, 0, 100, &h, &n), 0);
    assert_int_equal(n, 8);
    for (size_t i = 0; i < n; i++) {
        assert_false(h[i].has_device); /* relayed: no LAN device sent them */
        assert_int_equal(h[i].flags, 0);
    }
    store_msgs_free(h, n);
    assert_int_equal(store_history(f->st, lan.key, 0, 100, &h, &n), 0);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++)
        if (h[i].dir == STORE_IN)
            assert_memory_equal(h[i].device, f->key[DAVE_LAN], 32);
    store_msgs_free(h, n);

    /* "dave" names two contacts now: refused with both listed; @dave is
     * the account. */
    contacts *cs = contacts_on(f->st);
    uint8_t key[32];
    bool has_dev = true;
    char why[512];
    assert_int_equal(contacts_resolve(cs, "dave", key, NULL, &has_dev, why, sizeof why),
                     BANTER_EAMBIGUOUS);
    assert_non_null(strstr(why, "@dave"));
    assert_non_null(strstr(why, "35621"));
    assert_int_equal(contacts_resolve(cs, "@dave", key, NULL, &has_dev, why, sizeof why), 0);
    assert_memory_equal(key, org.key, 32);
    contacts_free(cs);
}

/* Every message is there, with its seq, id, times, body, state, error and
 * broadcast flag as the old binary wrote them, under the right contact, and
 * per contact the README's counts. */
static void test_nothing_lost(void **state)
{
    struct fixture *f = *state;
    size_t total = 0;
    for (int w = 0; w < NWHO; w++) {
        if (w == CAROL_NEW)
            continue;
        store_msg *h = NULL;
        size_t n = 0;
        assert_int_equal(store_history(f->st, f->key[w], 0, 1000, &h, &n), 0);
        size_t want_n = 0;
        for (size_t i = 0; i < NROWS; i++)
            want_n += contact_of(f, readme_rows[i].peer) == f->key[w];
        assert_int_equal(n, want_n);
        total += n;
        for (size_t i = 0; i < n; i++) {
            /* seq is kept: it indexes both tables (README seq = 1..24). */
            assert_true(h[i].seq >= 1 && h[i].seq <= NROWS);
            const struct raw *r = &f->rows[h[i].seq - 1];
            const struct v3row *want = &readme_rows[h[i].seq - 1];
            assert_int_equal(r->seq, h[i].seq);
            assert_memory_equal(h[i].id, r->id, MSG_ID_LEN);
            assert_int_equal(h[i].dir, r->dir);
            assert_int_equal(h[i].state, r->state);
            assert_int_equal(h[i].broadcast, r->broadcast);
            assert_int_equal(h[i].ts_ms, r->ts);
            assert_int_equal(h[i].stored_ms, r->stored);
            assert_string_equal(h[i].body, r->body);
            assert_string_equal(h[i].error, r->error);
            /* and the README says the same */
            assert_memory_equal(h[i].contact, contact_of(f, want->peer), 32);
            assert_int_equal(h[i].dir, want->dir);
            assert_int_equal(h[i].state, want->state);
            assert_int_equal(h[i].broadcast, want->broadcast);
            assert_string_equal(h[i].body, want->body);
            assert_string_equal(h[i].error, want->error);
            bool lan_in = want->dir == STORE_IN && want->peer != DAVE_ORG;
            assert_int_equal(h[i].has_device, lan_in);
            if (lan_in)
                assert_memory_equal(h[i].device, f->key[want->peer], 32);
            assert_memory_equal(r->peer, f->key[want->peer], 32);
        }
        store_msgs_free(h, n);
    }
    assert_int_equal(total, NROWS);
    /* The README's counts per contact: bob 2+2+1+1, carol 2+1+1 from her
     * first key and 1 from the new one, dave's node 2+1+1+1, the account
     * dave 2+2+1+1+1+1. */
    const struct {
        enum who w;
        size_t in, out, queued;
    } per[] = {{BOB, 2, 4, 2}, {CAROL_OLD, 3, 2, 1}, {DAVE_LAN, 2, 3, 2}, {DAVE_ORG, 2, 6, 2}};
    for (size_t i = 0; i < sizeof per / sizeof per[0]; i++) {
        store_msg *h = NULL;
        size_t n = 0, in = 0, out = 0, queued = 0;
        assert_int_equal(store_history(f->st, f->key[per[i].w], 0, 1000, &h, &n), 0);
        for (size_t k = 0; k < n; k++) {
            in += h[k].dir == STORE_IN;
            out += h[k].dir == STORE_OUT;
            queued += h[k].state == STORE_QUEUED;
        }
        store_msgs_free(h, n);
        assert_int_equal(in, per[i].in);
        assert_int_equal(out, per[i].out);
        assert_int_equal(queued, per[i].queued);
    }
}

/* The outbox: the 7 queued rows, in order, under the right contacts; the
 * broadcast is one id with a row per recipient. */
static void test_outbox(void **state)
{
    struct fixture *f = *state;
    static const struct {
        int64_t seq;
        enum who w;
    } want[] = {{16, CAROL_OLD}, {19, DAVE_LAN}, {20, BOB},     {21, DAVE_ORG},
                {22, BOB},       {23, DAVE_LAN}, {24, DAVE_ORG}};
    store_msg *ob = NULL;
    size_t n = 0;
    assert_int_equal(store_outbox(f->st, NULL, &ob, &n), 0);
    assert_int_equal(n, 7);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ob[i].seq, want[i].seq);
        assert_memory_equal(ob[i].contact, f->key[want[i].w], 32);
        assert_int_equal(ob[i].state, STORE_QUEUED);
        assert_string_equal(ob[i].body, readme_rows[want[i].seq - 1].body);
        assert_int_equal(ob[i].broadcast, want[i].seq >= 22);
        if (ob[i].broadcast)
            assert_memory_equal(ob[i].id, ob[4].id, MSG_ID_LEN);
    }
    store_msgs_free(ob, n);
    const struct {
        enum who w;
        size_t n;
    } per[] = {{BOB, 2}, {CAROL_OLD, 1}, {DAVE_LAN, 2}, {DAVE_ORG, 2}};
    for (size_t i = 0; i < sizeof per / sizeof per[0]; i++) {
        assert_int_equal(store_outbox(f->st, f->key[per[i].w], &ob, &n), 0);
        assert_int_equal(n, per[i].n);
        store_msgs_free(ob, n);
    }
    /* Each broadcast row is found as the outgoing message to its contact. */
    uint8_t id[MSG_ID_LEN];
    memcpy(id, f->rows[21].id, MSG_ID_LEN);
    const enum who bc[] = {BOB, DAVE_LAN, DAVE_ORG};
    for (size_t i = 0; i < 3; i++) {
        store_msg m;
        assert_int_equal(store_msg_find_out(f->st, id, f->key[bc[i]], &m), 0);
        assert_int_equal(m.seq, 22 + (int64_t)i);
        store_msg_clear(&m);
    }
}

/* The transfers are as they were, field for field. */
static void test_transfers(void **state)
{
    struct fixture *f = *state;
    store_xfer *all = NULL;
    size_t n = 0;
    assert_int_equal(store_xfer_load_all(f->st, &all, &n), 0);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) {
        const struct raw_xfer *x = &f->xfers[i];
        assert_memory_equal(all[i].id, x->id, MSG_ID_LEN);
        assert_memory_equal(all[i].peer, x->peer, 32);
        assert_int_equal(all[i].dir, x->dir);
        assert_int_equal(all[i].state, x->state);
        assert_int_equal(all[i].created_ms, x->created);
        assert_int_equal(all[i].updated_ms, x->updated);
        assert_int_equal((int64_t)all[i].done, x->done);
        assert_string_equal(all[i].dest, x->dest);
        assert_string_equal(all[i].error, x->error);
        assert_memory_equal(all[i].secret, x->secret, 32);
        char files[512];
        size_t o = 0;
        for (size_t k = 0; k < all[i].nfiles; k++) {
            const store_xfile *xf = &all[i].files[k];
            char hex[2 * BANTER_FILE_HASHLEN + 1];
            for (size_t b = 0; b < BANTER_FILE_HASHLEN; b++)
                snprintf(hex + 2 * b, 3, "%02X", xf->hash[b]);
            o += (size_t)snprintf(files + o, sizeof files - o, "%zu|%s|%llu|%s|%s|%lld|%d\n", k,
                                  xf->name, (unsigned long long)xf->size, hex, xf->local,
                                  (long long)xf->mtime_ns, xf->verified ? 1 : 0);
        }
        files[o] = '\0';
        assert_string_equal(files, x->files);
    }
    /* The README's interrupted transfer, to bob, by its values. */
    const store_xfer *p = &all[0];
    assert_int_equal(p->id[0], 0x1c);
    assert_int_equal(p->state, XFER_PAUSED);
    assert_true(p->done == 1290240);
    assert_int_equal(p->nfiles, 1);
    assert_true(p->files[0].size == 6291456);
    assert_string_equal(p->files[0].name, "site-photos.bin");
    assert_memory_equal(p->peer, f->key[BOB], 32);
    store_xfers_free(all, n);
}

/* dave's node shows its certificate for the account dave (contacts_admit):
 * its LAN contact is merged into the organisation contact, nothing lost,
 * the broadcast both held kept once. */
static void check_dave_merged(struct fixture *f, const store_contact *org)
{
    store_contact c;
    assert_memory_equal(org->key, f->key[DAVE_ORG], 32);
    assert_int_equal(store_contact_get(f->st, f->key[DAVE_LAN], &c), BANTER_ENOENT);
    store_device d;
    assert_int_equal(store_device_get(f->st, f->key[DAVE_LAN], &d), 0);
    assert_memory_equal(d.contact, org->key, 32);
    assert_int_equal(d.trust, TRUST_CERTIFIED);

    store_msg *h = NULL;
    size_t n = 0;
    assert_int_equal(store_history(f->st, org->key, 0, 100, &h, &n), 0);
    assert_int_equal(n, 12); /* 8 + 5, the fire drill once */
    /* Every body of both, once each; in the order they were stored. */
    for (size_t i = 0; i < NROWS; i++) {
        const struct v3row *r = &readme_rows[i];
        if (r->peer != DAVE_LAN && r->peer != DAVE_ORG)
            continue;
        size_t seen = 0;
        for (size_t k = 0; k < n; k++)
            seen += strcmp(h[k].body, r->body) == 0;
        assert_int_equal(seen, 1);
    }
    size_t queued = 0;
    for (size_t k = 0; k < n; k++) {
        assert_memory_equal(h[k].contact, org->key, 32);
        if (k > 0)
            assert_true(h[k].seq > h[k - 1].seq);
        queued += h[k].state == STORE_QUEUED;
        if (h[k].broadcast) /* kept as the organisation contact had it */
            assert_int_equal(h[k].seq, 24);
    }
    assert_int_equal(queued, 3); /* 19, 21 and the fire drill */
    store_msgs_free(h, n);
    /* Nothing else moved: 24 rows less the duplicate. */
    size_t total = 0;
    const enum who others[] = {BOB, CAROL_OLD};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(store_history(f->st, f->key[others[i]], 0, 100, &h, &n), 0);
        total += n;
        store_msgs_free(h, n);
    }
    assert_int_equal(total + 12, NROWS - 1);
    store_xfer *all = NULL;
    assert_int_equal(store_xfer_load_all(f->st, &all, &n), 0);
    assert_int_equal(n, 4);
    store_xfers_free(all, n);
}

static void test_dave_admitted_with_certificate(void **state)
{
    struct fixture *f = *state;
    contacts *cs = contacts_on(f->st);
    contacts_admit_result res;
    assert_int_equal(
        contacts_admit(cs, f->key[DAVE_LAN], "dave", "lan", "198.18.0.5:40000", "dave", 0, &res),
        0);
    assert_int_equal(res.what, ADMIT_JOINED);
    assert_int_equal(res.contact.kind, CONTACT_ORG);
    assert_memory_equal(res.dev.key, f->key[DAVE_LAN], 32);
    check_dave_merged(f, &res.contact);
    /* "dave" is one contact again. */
    uint8_t key[32];
    bool has_dev;
    char why[512];
    assert_int_equal(contacts_resolve(cs, "dave", key, NULL, &has_dev, why, sizeof why), 0);
    assert_memory_equal(key, f->key[DAVE_ORG], 32);
    /* Seen again: nothing changes. */
    assert_int_equal(
        contacts_admit(cs, f->key[DAVE_LAN], "dave", "lan", "198.18.0.5:40000", "dave", 0, &res),
        0);
    assert_int_equal(res.what, ADMIT_SAME);
    check_dave_merged(f, &res.contact);
    contacts_free(cs);
}

static void test_dave_listed_by_server(void **state)
{
    struct fixture *f = *state;
    contacts *cs = contacts_on(f->st);
    store_contact org;
    const uint8_t(*devs)[32] = (const uint8_t(*)[32])f->key[DAVE_LAN];
    assert_int_equal(contacts_org(cs, "dave", devs, 1, &org), 0);
    check_dave_merged(f, &org);
    contacts_free(cs);
}

/* ---- the outbox is sent once ---- */

struct sent {
    int64_t seq;
    uint8_t device[32];
};
struct lanroute {
    struct sent sent[32];
    size_t n;
    size_t settled;
};

static bool lr_reaches(void *ud, const store_contact *c, const store_device *d)
{
    (void)ud;
    (void)c;
    (void)d;
    return true;
}

static int lr_send(void *ud, const store_contact *c, const store_device *d, const store_msg *m)
{
    struct lanroute *r = ud;
    (void)c;
    assert_true(r->n < 32);
    r->sent[r->n].seq = m->seq;
    memcpy(r->sent[r->n].device, d->key, 32);
    r->n++;
    return 0;
}

static void on_settled(void *ud, const store_contact *c, const store_msg *m)
{
    struct lanroute *r = ud;
    (void)c;
    assert_int_equal(m->state, STORE_DELIVERED);
    r->settled++;
}

/* After the migration, dave shows his certificate, everyone comes back:
 * each queued message goes once to each trusted device, the fire drill
 * once to dave's node although two contacts held it, nothing to carol's
 * changed key; the stored and failed ones are not sent again. */
static void test_outbox_sent_once(void **state)
{
    struct fixture *f = *state;
    contacts *cs = contacts_on(f->st);
    contacts_admit_result res;
    assert_int_equal(contacts_admit(cs, f->key[DAVE_LAN], "dave", "lan", "", "dave", 0, &res), 0);
    struct lanroute lr = {.n = 0};
    uint32_t rng_state = 0;
    banter_rng rng = {fake_fill, &rng_state};
    messenger_callbacks cb = {NULL, on_settled, NULL};
    messenger *m = NULL;
    assert_int_equal(messenger_new(&m, f->st, cs, &fake_clock, rng, &cb, &lr), 0);
    mr_route route = {"lan", lr_reaches, lr_send, &lr};
    assert_int_equal(messenger_add_route(m, &route), 0);
    messenger_kick(m, NULL);

    static const struct {
        int64_t seq;
        enum who dev;
    } want[] = {{16, CAROL_OLD}, {19, DAVE_LAN}, {21, DAVE_LAN},
                {24, DAVE_LAN},  {20, BOB},      {22, BOB}};
    assert_int_equal(lr.n, 6);
    for (size_t i = 0; i < 6; i++) {
        size_t seen = 0;
        for (size_t k = 0; k < lr.n; k++)
            seen += lr.sent[k].seq == want[i].seq &&
                    memcmp(lr.sent[k].device, f->key[want[i].dev], 32) == 0;
        assert_int_equal(seen, 1);
    }
    /* In order per device. */
    for (size_t k = 1; k < lr.n; k++)
        for (size_t j = 0; j < k; j++)
            if (memcmp(lr.sent[j].device, lr.sent[k].device, 32) == 0)
                assert_true(lr.sent[j].seq < lr.sent[k].seq);
    /* A kick sends nothing more while they are in flight. */
    messenger_kick(m, NULL);
    assert_int_equal(lr.n, 6);
    /* Acknowledged: each message settles once, the outbox is empty. */
    for (size_t k = 0; k < 6; k++)
        messenger_settled(m, "lan", lr.sent[k].device, f->rows[lr.sent[k].seq - 1].id,
                          COPY_DELIVERED, "");
    assert_int_equal(lr.settled, 6);
    store_msg *ob = NULL;
    size_t n = 9;
    assert_int_equal(store_outbox(f->st, NULL, &ob, &n), 0);
    assert_int_equal(n, 0);
    messenger_kick(m, NULL);
    assert_int_equal(lr.n, 6);
    messenger_free(m);
    contacts_free(cs);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_schema),
        T(test_lan_peers),
        T(test_carol_changed),
        T(test_dave),
        T(test_nothing_lost),
        T(test_outbox),
        T(test_transfers),
        T(test_dave_admitted_with_certificate),
        T(test_dave_listed_by_server),
        T(test_outbox_sent_once),
    };
#undef T
    return cmocka_run_group_tests_name("peer_migrate", tests, NULL, NULL);
}
