/* SPDX-License-Identifier: MIT */
/*
 * test_rdv_cluster.c - cluster.c, the instance's membership, against a real
 * PostgreSQL: BANTER_TEST_PG is its connection URI (made by
 * tests/integration/test_rendezvous_pg.sh with pg_lib.sh; without it the
 * program exits 77, skipped).
 *
 * Two instances on one loop: both join (and say so); a device online at
 * b gets the event a posts for it, with its account; an event for a device
 * online nowhere goes nowhere; an instance that stops beating is reaped by
 * the other after CLUSTER_DEAD_MS, its devices' accounts reported; one
 * whose row was reaped while it was cut off finds out at its next beat
 * and joins again (registering its devices again); a bad id is refused.
 * What one loop iteration queues (devices online and offline, presence
 * changes) is written as one statement: one NOTIFY names every account
 * changed (several when the names pass NOTIFY's 8,000 bytes), the last
 * change of a device wins, and the receivers read the names told.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <uv.h>

#include "cluster.h"

static const char *url;

static long side_int(const char *sql)
{
    PGconn *c = PQconnectdb(url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    long v =
        st == PGRES_TUPLES_OK && PQntuples(r) == 1 ? strtol(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    PQfinish(c);
    return v;
}

/* What one instance was told. */
struct seen {
    cluster *c;
    const uint8_t *dev; /* registered again on every join, as the server does */
    int joins;
    int events;
    db_cluster_event last;
    uint8_t body[16];
    size_t body_len;
    char last_user[DB_CLUSTER_MAX_USER + 1];
    char reaped[128];
    uint64_t last_read; /* the number of the last presence read answered */
    int bad_reads;      /* answers numbered out of order or never sent */
};

static void on_joined(void *ud)
{
    struct seen *s = ud;
    s->joins++;
    if (s->dev)
        cluster_device(s->c, s->dev, "dora", true);
}

static void on_event(void *ud, const db_cluster_event *ev, const char *user)
{
    struct seen *s = ud;
    s->events++;
    s->last = *ev;
    s->last.body = NULL;
    s->body_len = ev->body_len < sizeof s->body ? ev->body_len : sizeof s->body;
    if (ev->body)
        memcpy(s->body, ev->body, s->body_len);
    else
        s->body_len = 0;
    snprintf(s->last_user, sizeof s->last_user, "%s", user);
}

/* Presence reads of a (cbs.presence): how many, and what bob's said. */
static int pres_reads;
static int64_t bob_online = -1;

static uint8_t bob_dev[32];
static size_t bob_ndev;

static void on_presence(void *ud, const char *user, uint8_t status, const char *text,
                        int64_t online, const uint8_t (*devs)[32], size_t ndev)
{
    struct seen *s = ud;
    (void)status;
    (void)text;
    pres_reads++;
    /* Reads are answered in the order they were sent (cluster.h). */
    uint64_t no = cluster_read_answering(s->c);
    if (no == 0 || no < s->last_read || no > cluster_reads_sent(s->c))
        s->bad_reads++;
    s->last_read = no;
    if (strcmp(user, "bob") == 0) {
        bob_online = online;
        bob_ndev = ndev;
        if (ndev)
            memcpy(bob_dev, devs[0], 32);
    }
}

static void on_reaped(void *ud, const char *const *users, size_t n)
{
    struct seen *s = ud;
    size_t k = strlen(s->reaped);
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(s->reaped + k, sizeof s->reaped - k, "%s ", users[i]);
}

static const cluster_cbs cbs = {
    .joined = on_joined, .event = on_event, .reaped = on_reaped, .presence = on_presence};

static uv_loop_t loop;
static bool timed_out;

static void on_guard(uv_timer_t *t)
{
    (void)t;
    timed_out = true;
}

/* Run the loop until *flag reaches want (or 20 s pass: fail). */
static void run_until(const int *flag, int want)
{
    uv_timer_t guard;
    timed_out = false;
    uv_timer_init(&loop, &guard);
    uv_timer_start(&guard, on_guard, 20000, 0);
    while (*flag < want && !timed_out)
        uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    if (*flag < want)
        fail_msg("timed out waiting (%d of %d)", *flag, want);
}

static void on_elapsed(uv_timer_t *t) { ++*(int *)t->data; }

/* Run the loop for ms. */
static void run_for(uint64_t ms)
{
    int done = 0;
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = &done;
    uv_timer_start(&t, on_elapsed, ms, 0);
    run_until(&done, 1);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
}

static int rows_online;
static int *posted_count;

static void on_posted(void *ud, int ret, int64_t n)
{
    assert_int_equal(ret, 0);
    *(int64_t *)ud = n;
    ++*posted_count;
}

/* The notifications on bt_presence that listener got within ms: their
 * count, and the first one's payload in first. */
static int notified(PGconn *listener, uint64_t ms, char *first, size_t cap)
{
    int n = 0;
    for (uint64_t t = 0; t < ms; t += 50) {
        run_for(50);
        assert_int_equal(PQconsumeInput(listener), 1);
        for (PGnotify *e; (e = PQnotifies(listener)) != NULL; PQfreemem(e))
            if (n++ == 0)
                snprintf(first, cap, "%s", e->extra);
    }
    return n;
}

/* One iteration's devices and presence changes at b: one statement, one
 * NOTIFY; many names: several NOTIFYs under 8,000 bytes, all read. */
static void test_batch(struct seen *sb)
{
    cluster *b = sb->c;
    static const uint8_t d2[32] = {0xb0, 0xb0}, d3[32] = {0xe3};
    char first[256] = "";
    PGconn *l = PQconnectdb(url);
    assert_int_equal(PQstatus(l), CONNECTION_OK);
    PQclear(PQexec(l, "CREATE TABLE IF NOT EXISTS presence (\"user\" TEXT PRIMARY KEY,"
                      " status INTEGER, text TEXT)"));
    PQclear(PQexec(l, "LISTEN bt_presence"));
    pres_reads = 0;
    cluster_device(b, d2, "bob", true);
    cluster_device(b, d3, "eve", true);
    cluster_device(b, d3, "eve", false); /* the last change wins */
    cluster_presence_changed(b, "bob");
    cluster_presence_changed(b, "ann");
    cluster_presence_changed(b, "bob");
    assert_int_equal(notified(l, 1000, first, sizeof first), 1);
    assert_string_equal(first, "ann\nbob");
    assert_int_equal(side_int("SELECT count(*) FROM banter_online WHERE \"user\" = 'bob'"), 1);
    assert_int_equal(side_int("SELECT count(*) FROM banter_online WHERE \"user\" = 'eve'"), 0);
    assert_int_equal(pres_reads, 4); /* a and b each read ann and bob */
    assert_int_equal(bob_online, 1);
    assert_int_equal(bob_ndev, 1); /* which device: the one online */
    assert_memory_equal(bob_dev, d2, 32);
    cluster_device(b, d2, "bob", false);
    run_for(300);
    assert_int_equal(side_int("SELECT count(*) FROM banter_online WHERE \"user\" = 'bob'"), 0);

    /* 400 names of 60 bytes: 24,400 bytes of names, four notifications */
    pres_reads = 0;
    for (int i = 0; i < 400; i++) {
        char name[80];
        snprintf(name, sizeof name, "%03d%057d", i, 0);
        cluster_presence_changed(b, name);
    }
    assert_int_equal(notified(l, 1500, first, sizeof first), 4);
    assert_int_equal(pres_reads, 800);
    PQfinish(l);
    /* Each read numbered, answered in order; no number outside a read. */
    assert_int_equal(sb->bad_reads, 0);
    assert_true(sb->last_read > 0);
    assert_true(sb->last_read <= cluster_reads_sent(b));
    assert_int_equal(cluster_read_answering(b), 0);
}

/* Run until the device's online row names instance id. */
static void until_online_at(const char *id)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM banter_online WHERE instance = '%s' AND \"user\" = 'dora'", id);
    for (int i = 0; i < 200 && (rows_online = (int)side_int(sql)) != 1; i++)
        run_for(50);
    assert_int_equal(rows_online, 1);
}

static void test_two_instances(void **state)
{
    (void)state;
    char why[256];
    static const uint8_t dev[32] = {0xd1, 0xd1, 0xd1};
    static const uint8_t nowhere[32] = {0x07};
    struct seen a = {0}, b = {.dev = dev};
    cluster *bad;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(cluster_new(&bad, &loop, url, "No-Caps", &cbs, &a, NULL, why, sizeof why),
                     BANTER_EINVAL);
    assert_non_null(strstr(why, "not an instance id"));

    assert_int_equal(cluster_new(&a.c, &loop, url, "inst_a", &cbs, &a, stderr, why, sizeof why), 0);
    assert_int_equal(cluster_new(&b.c, &loop, url, "inst_b", &cbs, &b, stderr, why, sizeof why), 0);
    assert_string_equal(cluster_id(b.c), "inst_b");
    run_until(&a.joins, 1);
    run_until(&b.joins, 1);
    assert_true(cluster_joined(a.c));
    until_online_at("inst_b");
    test_batch(&b);
    assert_int_equal(a.bad_reads, 0);

    /* a posts for the device b holds: b takes it, with the account. */
    int posted = 0;
    int64_t held[2] = {-1, -1};
    cluster_post(a.c, nowhere, DBC_SEALED, 1, on_posted, &held[0]); /* online nowhere */
    cluster_post(a.c, dev, DBC_SEALED, 4242, on_posted, &held[1]);
    posted_count = &posted;
    run_until(&posted, 2);
    assert_int_equal(held[0], 0);
    assert_int_equal(held[1], 1);
    run_until(&b.events, 1);
    assert_int_equal(b.last.kind, DBC_SEALED);
    assert_int_equal(b.last.row_id, 4242);
    assert_memory_equal(b.last.device, dev, 32);
    assert_string_equal(b.last_user, "dora");
    assert_int_equal(b.body_len, 0);
    cluster_post(b.c, dev, DBC_ACK, 7, NULL, NULL); /* to itself */
    run_until(&b.events, 2);
    assert_int_equal(b.last.kind, DBC_ACK);
    static const uint8_t body[5] = {0x31, 0, 0xff, 'x', 0};
    cluster_post_body(a.c, dev, NULL, DBC_ICE, 0, body, sizeof body, NULL, NULL);
    run_until(&b.events, 3);
    assert_int_equal(b.last.kind, DBC_ICE);
    assert_int_equal(b.body_len, sizeof body);
    assert_memory_equal(b.body, body, sizeof body);
    /* with an account named: only while the device is online as it (a
     * device key alone may be any account's) */
    cluster_post_body(a.c, dev, "eve", DBC_ICE, 0, body, sizeof body, on_posted, &held[0]);
    cluster_post_body(a.c, dev, "dora", DBC_ICE, 0, body, 2, on_posted, &held[1]);
    run_until(&posted, 4);
    assert_int_equal(held[0], 0);
    assert_int_equal(held[1], 1);
    run_until(&b.events, 4);
    assert_int_equal(b.body_len, 2);
    assert_int_equal(a.events, 0);
    assert_int_equal(side_int("SELECT count(*) FROM banter_events"), 0);

    /* b was reaped while it was cut off (its row and its devices' rows
     * gone, as another instance's heartbeat does): its next beat finds
     * out, it joins again and registers its device again. */
    assert_int_equal(side_int("DELETE FROM banter_instances WHERE id = 'inst_b'"), -1);
    assert_int_equal(side_int("SELECT count(*) FROM banter_online"), 0);
    run_until(&b.joins, 2);
    until_online_at("inst_b");

    /* b stops (a crash, as far as the database knows): a reaps it after
     * CLUSTER_DEAD_MS, and reports the account it held. */
    a.reaped[0] = '\0';
    cluster_free(b.c);
    run_for(CLUSTER_DEAD_MS + 2 * CLUSTER_BEAT_MS);
    assert_string_equal(a.reaped, "dora ");
    assert_int_equal(side_int("SELECT count(*) FROM banter_online"), 0);
    assert_int_equal(side_int("SELECT count(*) FROM banter_instances WHERE id = 'inst_b'"), 0);
    assert_int_equal(a.joins, 1);

    cluster_free(a.c);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    (void)side_int("DELETE FROM banter_instances");
}

int main(void)
{
    url = getenv("BANTER_TEST_PG");
    if (!url || !*url) {
        printf("test_rdv_cluster: BANTER_TEST_PG is not set (tests/integration/"
               "test_rendezvous_pg.sh runs this against a throwaway PostgreSQL): skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_instances),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
