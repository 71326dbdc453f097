/* SPDX-License-Identifier: MIT */
/*
 * test_rdv_pg.c - the PostgreSQL side of the rendezvous database, against
 * a real server: BANTER_TEST_PG is its connection URI (made by
 * tests/integration/test_rendezvous_pg.sh with pg_lib.sh; without it the
 * program exits 77, skipped).
 *
 * The schema: migrating makes the current version once (a second run
 * changes nothing), a newer version is refused, and PostgreSQL's tables
 * have the same columns as SQLite's. The asynchronous connection: queries
 * run in order with text and binary parameters and results, a failed
 * statement is reported and the next one runs, LISTEN/NOTIFY reaches the
 * listener, a connection killed by the server is made again (listening
 * again, queries queued meanwhile run), a server that is not there is
 * retried without losing queued queries, a bad connection string is
 * refused. The sealed copies through db_mail.h on PostgreSQL (db_pgs.h):
 * store, duplicate, quota, fetch, acknowledge, expire, a batch in one
 * transaction, the quota held by two connections filling one mailbox at
 * once, two connections' batches writing to the same accounts in opposite
 * orders (no deadlock: db_mail_lock_order), one sender's share held by
 * two connections at once, a block's purge waiting for a batch holding a
 * copy from the blocked account (purged all the same), and the rate of one
 * connection (printed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <uv.h>

#include "db.h"
#include "db_admin.h"
#include "db_announce.h"
#include "db_cluster.h"
#include "db_contacts.h"
#include "db_impl.h"
#include "db_mail.h"
#include "db_pg.h"

static const char *url;

/* ---- helpers: a blocking side connection, as another program ---- */

static PGconn *side(void)
{
    PGconn *c = PQconnectdb(url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    return c;
}

static void side_exec(const char *sql)
{
    PGconn *c = side();
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

static long side_int(const char *sql)
{
    PGconn *c = side();
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), 1);
    long v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return v;
}

static int migrate(char *why, size_t cap)
{
    const char *const *pg;
    int n = db_schema(NULL, &pg);
    int ret = db_pg_migrate(url, pg, n, "banter-rendezvous", why, cap);
    if (ret)
        printf("# migrate: %s\n", why);
    return ret;
}

/* ---- the schema ---- */

static void test_migrate(void **state)
{
    (void)state;
    char why[256] = "";
    int n = db_schema(NULL, NULL);
    assert_int_equal(migrate(why, sizeof why), 0);
    assert_int_equal(side_int("SELECT version FROM banter_schema"), n);
    /* Again: nothing to do, nothing changes. */
    side_exec("INSERT INTO users (name, pwhash, admin, disabled, created, broadcast)"
              " VALUES ('keep', 'h', 0, 0, 1, 0) ON CONFLICT DO NOTHING");
    assert_int_equal(migrate(why, sizeof why), 0);
    assert_int_equal(side_int("SELECT count(*) FROM users WHERE name = 'keep'"), 1);
    /* A newer schema is refused and left alone. */
    side_exec("UPDATE banter_schema SET version = 99");
    assert_int_equal(migrate(why, sizeof why), BANTER_EDB);
    assert_non_null(strstr(why, "schema version 99 is not supported"));
    assert_int_equal(side_int("SELECT version FROM banter_schema"), 99);
    char sql[64];
    snprintf(sql, sizeof sql, "UPDATE banter_schema SET version = %d", n);
    side_exec(sql);
}

/* db_open with a URL prepares the schema and opens PostgreSQL (db_pgs.h);
 * no SQLite file is made of the URL. A server that is not there is a
 * clear failure. */
static void test_open_url(void **state)
{
    (void)state;
    db *d = NULL;
    char why[256] = "";
    assert_int_equal(db_open(&d, url, why, sizeof why), 0);
    assert_non_null(d);
    assert_true(db_is_pg(d));
    assert_int_equal(side_int("SELECT version FROM banter_schema"), db_schema(NULL, NULL));
    assert_int_equal(access("postgresql:", F_OK), -1);
    db_close(d);
    d = NULL;
    assert_int_not_equal(
        db_open(&d, "postgresql:///banter?host=/nonexistent-banter-test", why, sizeof why), 0);
    assert_null(d);
    assert_true(why[0] != '\0');
}

/* Each SQLite table's columns, "table.column" sorted, into out. */
static void sqlite_columns(char *out, size_t cap)
{
    char dir[] = "/tmp/banter-test-rdvpg-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/rdv.db", dir);
    db *d = NULL;
    assert_int_equal(db_open(&d, path, NULL, 0), 0);
    db_close(d);
    sqlite3 *s = NULL;
    assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(s,
                                        "SELECT m.name || '.' || p.name FROM sqlite_master m,"
                                        " pragma_table_info(m.name) p WHERE m.type = 'table'"
                                        " AND m.name NOT LIKE 'sqlite_%' ORDER BY 1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    size_t n = 0;
    out[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW)
        n += (size_t)snprintf(out + n, cap - n, "%s\n", (const char *)sqlite3_column_text(st, 0));
    assert_true(n < cap);
    sqlite3_finalize(st);
    sqlite3_close(s);
    char p[96];
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
    rmdir(dir);
}

/* PostgreSQL-only tables (banter_schema, the cluster's) are left out. */
static void test_same_columns(void **state)
{
    (void)state;
    static char lite[8192], pg[8192];
    char why[256] = "";
    assert_int_equal(migrate(why, sizeof why), 0);
    sqlite_columns(lite, sizeof lite);
    PGconn *c = side();
    PGresult *r =
        PQexec(c, "SELECT table_name || '.' || column_name FROM information_schema.columns"
                  " WHERE table_schema = current_schema()"
                  " AND table_name NOT LIKE 'banter\\_%'"
                  " ORDER BY (table_name || '.' || column_name) COLLATE \"C\"");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    size_t n = 0;
    pg[0] = '\0';
    for (int i = 0; i < PQntuples(r); i++)
        n += (size_t)snprintf(pg + n, sizeof pg - n, "%s\n", PQgetvalue(r, i, 0));
    PQclear(r);
    PQfinish(c);
    assert_string_equal(pg, lite);
}

/* ---- the asynchronous connection ---- */

struct ev {
    uv_loop_t loop;
    uv_timer_t guard;
    db_pg *p;
    int ups, downs, notes;
    char note[64];
    int done; /* callbacks run */
    int order[8];
    int rets[8];
    char text[8][64];
    char bin[8][16];
    int pid;
};

static void on_up(void *ud) { ((struct ev *)ud)->ups++; }
static void on_down(void *ud, const char *why)
{
    (void)why;
    ((struct ev *)ud)->downs++;
}
static void on_note(void *ud, const char *channel, const char *payload)
{
    struct ev *e = ud;
    e->notes++;
    snprintf(e->note, sizeof e->note, "%s:%s", channel, payload);
}

static const db_pg_cbs cbs = {on_up, on_down, on_note};

/* Which query a callback is for: its index in ev, through a small record. */
struct tag {
    struct ev *e;
    int i;
};

static void on_done(void *ud, int ret, const PGresult *res, const char *errmsg)
{
    struct tag *t = ud;
    struct ev *e = t->e;
    assert_non_null(errmsg);
    e->order[e->done++] = t->i;
    e->rets[t->i] = ret;
    if (ret == 0 && PQntuples(res) == 1 && PQnfields(res) >= 1) {
        if (PQfformat(res, 0) == 1) {
            size_t len = (size_t)PQgetlength(res, 0, 0);
            assert_true(len <= sizeof e->bin[0]);
            memcpy(e->bin[t->i], PQgetvalue(res, 0, 0), len);
        } else {
            snprintf(e->text[t->i], sizeof e->text[0], "%s", PQgetvalue(res, 0, 0));
        }
    } else if (ret) {
        snprintf(e->text[t->i], sizeof e->text[0], "%s", errmsg);
    }
}

static void on_guard(uv_timer_t *t)
{
    (void)t;
    fail_msg("the loop ran 20 s without what the test waits for");
}

/* Run the loop until *flag reaches want (the guard fails after 20 s). */
static void run_until(struct ev *e, const int *flag, int want)
{
    uv_timer_start(&e->guard, on_guard, 20000, 0);
    while (*flag < want)
        uv_run(&e->loop, UV_RUN_ONCE);
    uv_timer_stop(&e->guard);
}

static void ev_open(struct ev *e, const char *conninfo)
{
    memset(e, 0, sizeof *e);
    assert_int_equal(uv_loop_init(&e->loop), 0);
    uv_timer_init(&e->loop, &e->guard);
    char why[256];
    assert_int_equal(db_pg_new(&e->p, &e->loop, conninfo, &cbs, e, why, sizeof why), 0);
}

static void ev_close(struct ev *e)
{
    db_pg_free(e->p);
    uv_close((uv_handle_t *)&e->guard, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
}

static void test_queries(void **state)
{
    (void)state;
    char why[256];
    assert_int_equal(migrate(why, sizeof why), 0);
    side_exec("CREATE TABLE IF NOT EXISTS t_async (k BYTEA PRIMARY KEY, v TEXT)");
    side_exec("DELETE FROM t_async");
    static struct ev e;
    ev_open(&e, url);
    struct tag t[4] = {{&e, 0}, {&e, 1}, {&e, 2}, {&e, 3}};
    const uint8_t key[4] = {0, 1, 0xfe, 0xff}; /* a NUL inside: binary */
    const char *vals[2] = {(const char *)key, "first"};
    const int lens[2] = {4, 0};
    const int fmts[2] = {1, 0};
    /* Queued before the connection is up: they wait for it. */
    assert_int_equal(db_pg_query(e.p, "INSERT INTO t_async (k, v) VALUES ($1, $2)", 2, vals, lens,
                                 fmts, false, on_done, &t[0]),
                     0);
    assert_int_equal(db_pg_query(e.p, "INSERT INTO t_async (k, v) VALUES ($1, $2)", 2, vals, lens,
                                 fmts, false, on_done, &t[1]),
                     0);
    assert_int_equal(db_pg_query(e.p, "SELECT v FROM t_async WHERE k = $1", 1, vals, lens, fmts,
                                 false, on_done, &t[2]),
                     0);
    assert_int_equal(
        db_pg_query(e.p, "SELECT k FROM t_async", 0, NULL, NULL, NULL, true, on_done, &t[3]), 0);
    run_until(&e, &e.done, 4);
    assert_int_equal(e.ups, 1);
    for (int i = 0; i < 4; i++)
        assert_int_equal(e.order[i], i);
    assert_int_equal(e.rets[0], 0);
    assert_int_equal(e.rets[1], BANTER_EDB); /* the key exists: refused, and the next one runs */
    assert_non_null(strstr(e.text[1], "duplicate key"));
    assert_int_equal(e.rets[2], 0);
    assert_string_equal(e.text[2], "first");
    assert_int_equal(e.rets[3], 0);
    assert_memory_equal(e.bin[3], key, 4);
    ev_close(&e);
    side_exec("DROP TABLE t_async");
}

static void on_pid(void *ud, int ret, const PGresult *res, const char *errmsg)
{
    struct ev *e = ud;
    (void)errmsg;
    assert_int_equal(ret, 0);
    e->pid = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
    e->done++;
}

static void test_notify_and_reconnect(void **state)
{
    (void)state;
    static struct ev e;
    ev_open(&e, url);
    assert_int_equal(db_pg_listen(e.p, "bt_inst_1"), 0);
    assert_int_equal(db_pg_listen(e.p, "Bad-Name"), BANTER_EINVAL);
    run_until(&e, &e.ups, 1);
    side_exec("NOTIFY bt_inst_1, '42'");
    run_until(&e, &e.notes, 1);
    assert_string_equal(e.note, "bt_inst_1:42");

    /* The server ends the session: the connection is made again and
     * listens again; a query queued meanwhile runs once it is back. */
    assert_int_equal(
        db_pg_query(e.p, "SELECT pg_backend_pid()", 0, NULL, NULL, NULL, false, on_pid, &e), 0);
    run_until(&e, &e.done, 1);
    char sql[80];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)", e.pid);
    side_exec(sql);
    run_until(&e, &e.downs, 1);
    assert_false(db_pg_is_up(e.p));
    int old = e.pid;
    assert_int_equal(
        db_pg_query(e.p, "SELECT pg_backend_pid()", 0, NULL, NULL, NULL, false, on_pid, &e), 0);
    run_until(&e, &e.done, 2);
    assert_int_equal(e.ups, 2);
    assert_int_not_equal(e.pid, old);
    side_exec("NOTIFY bt_inst_1, 'again'");
    run_until(&e, &e.notes, 2);
    assert_string_equal(e.note, "bt_inst_1:again");
    ev_close(&e);
}

static void test_no_server(void **state)
{
    (void)state;
    static struct ev e;
    /* A socket directory where no server listens: retried, queries kept. */
    ev_open(&e, "postgresql:///banter?host=/nonexistent-banter-test&connect_timeout=2");
    struct tag t = {&e, 0};
    assert_int_equal(db_pg_query(e.p, "SELECT 1", 0, NULL, NULL, NULL, false, on_done, &t), 0);
    run_until(&e, &e.downs, 3);
    assert_int_equal(e.done, 0);
    assert_int_equal(e.ups, 0);
    ev_close(&e); /* the queued query's callback runs: closed */
    assert_int_equal(e.done, 1);
    assert_int_equal(e.rets[0], BANTER_EDB);
    assert_string_equal(e.text[0], "closed");

    db_pg *p = NULL;
    uv_loop_t loop;
    char why[256] = "";
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(db_pg_new(&p, &loop, "host='unterminated", &cbs, NULL, why, sizeof why),
                     BANTER_EINVAL);
    assert_null(p);
    assert_non_null(strstr(why, "bad PostgreSQL connection string"));
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_true(db_pg_is_url("postgresql://x@/db"));
    assert_true(db_pg_is_url("postgres://x@/db"));
    assert_false(db_pg_is_url("rdv.db"));
}

/* ---- several instances ---- */

struct inst {
    struct ev *e;
    int done;
    int ret;
    int64_t n;
    char users[128];
    db_cluster_event ev[4];
    size_t nev;
};

static void on_cl(void *ud, int ret, int64_t n, const char *errmsg)
{
    struct inst *in = ud;
    if (ret)
        printf("# cluster: %s\n", errmsg);
    in->ret = ret;
    in->n = n;
    in->done++;
}

static void on_users(void *ud, const char *const *users, size_t n)
{
    struct inst *in = ud;
    size_t k = 0;
    in->users[0] = '\0';
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(in->users + k, sizeof in->users - k, "%s ", users[i]);
}

static void on_taken(void *ud, int ret, const db_cluster_event *ev, size_t n, const char *errmsg)
{
    struct inst *in = ud;
    (void)errmsg;
    in->ret = ret;
    in->nev = n;
    assert_true(n <= 4);
    if (n)
        memcpy(in->ev, ev, n * sizeof *ev);
    in->done++;
}

/* One call on instance in, run to its end; its ret. */
#define CL(in, call)                                                                               \
    do {                                                                                           \
        int want_ = (in)->done + 1;                                                                \
        assert_int_equal((call), 0);                                                               \
        run_until((in)->e, &(in)->done, want_);                                                    \
    } while (0)

/* Instances a and b on one PostgreSQL: a device online at b gets what a
 * posts for it (b is woken by its channel and takes the event), a device
 * online nowhere gets nothing posted, going offline only counts where the
 * device is, and when b stops beating a reaps it: b's devices are offline
 * (their accounts reported), and b learns it was reaped. */
static void test_cluster(void **state)
{
    (void)state;
    char why[256];
    assert_int_equal(db_cluster_setup(url, why, sizeof why), 0);
    assert_int_equal(db_cluster_setup(url, why, sizeof why), 0); /* idempotent */
    static struct ev ea, eb;
    ev_open(&ea, url);
    ev_open(&eb, url);
    struct inst a = {.e = &ea}, b = {.e = &eb};
    assert_int_equal(db_cluster_join(ea.p, "Bad!", on_cl, &a), BANTER_EINVAL);
    CL(&a, db_cluster_join(ea.p, "a", on_cl, &a));
    assert_int_equal(a.ret, 0);
    CL(&b, db_cluster_join(eb.p, "b", on_cl, &b));
    assert_int_equal(b.ret, 0);

    uint8_t dev[32], other[32];
    memset(dev, 0xd1, sizeof dev);
    memset(other, 0x07, sizeof other);
    CL(&b, db_cluster_online(eb.p, "b", dev, "dora", true, on_cl, &b));
    assert_int_equal(b.n, 1);

    CL(&a, db_cluster_post(ea.p, dev, DBC_SEALED, 4242, on_cl, &a));
    assert_int_equal(a.ret, 0);
    assert_int_equal(a.n, 1);
    run_until(&eb, &eb.notes, 1);
    assert_non_null(strstr(eb.note, "bt_inst_b:"));
    CL(&b, db_cluster_take(eb.p, "b", on_taken, &b));
    assert_int_equal(b.nev, 1);
    assert_int_equal(b.ev[0].kind, DBC_SEALED);
    assert_int_equal(b.ev[0].row_id, 4242);
    assert_memory_equal(b.ev[0].device, dev, 32);
    CL(&b, db_cluster_take(eb.p, "b", on_taken, &b)); /* taken once */
    assert_int_equal(b.nev, 0);

    CL(&a, db_cluster_post(ea.p, other, DBC_PRESENCE, 0, on_cl, &a));
    assert_int_equal(a.n, 0); /* online nowhere */
    CL(&a, db_cluster_online(ea.p, "a", dev, "dora", false, on_cl, &a));
    assert_int_equal(a.n, 0); /* held by b, not a */

    /* b stops beating: a reaps it after the delay. */
    CL(&a, db_cluster_heartbeat(ea.p, "a", 60000, on_users, on_cl, &a));
    assert_int_equal(a.n, 0);
    side_exec("UPDATE banter_instances SET heartbeat = heartbeat - 120000 WHERE id = 'b'");
    CL(&a, db_cluster_heartbeat(ea.p, "a", 60000, on_users, on_cl, &a));
    assert_int_equal(a.ret, 0);
    assert_int_equal(a.n, 1);
    assert_string_equal(a.users, "dora ");
    assert_int_equal(side_int("SELECT count(*) FROM banter_online"), 0);
    CL(&b, db_cluster_heartbeat(eb.p, "b", 60000, NULL, on_cl, &b));
    assert_int_equal(b.n, -1); /* reaped: join again */
    CL(&b, db_cluster_join(eb.p, "b", on_cl, &b));
    CL(&b, db_cluster_heartbeat(eb.p, "b", 60000, NULL, on_cl, &b));
    assert_int_equal(b.n, 0);
    ev_close(&ea);
    ev_close(&eb);
    side_exec("DELETE FROM banter_instances");
}

/* ---- sealed copies, through db_mail.h on PostgreSQL (db_pgs.h) ---- */

struct mail {
    int rows;
    int64_t seqs[4];
    char blobs[4][16];
};

static void on_row(void *ud, const db_sealed *s)
{
    struct mail *m = ud;
    assert_true(m->rows < 4);
    assert_string_equal(s->to_user, "mia");
    assert_string_equal(s->from_user, "sam");
    assert_int_equal(s->flags, 3);
    m->seqs[m->rows] = s->seq;
    snprintf(m->blobs[m->rows], sizeof m->blobs[0], "%.*s", (int)s->len, (const char *)s->blob);
    m->rows++;
}

static db_sealed copy(uint8_t idbyte, const char *text, int64_t expires)
{
    static uint8_t to[32], from[32];
    memset(to, 0x11, sizeof to);
    memset(from, 0x22, sizeof from);
    db_sealed s;
    memset(&s, 0, sizeof s);
    memset(s.id, idbyte, sizeof s.id);
    memcpy(s.to_device, to, 32);
    memcpy(s.from_device, from, 32);
    s.to_user = "mia";
    s.from_user = "sam";
    s.flags = 3;
    s.blob = (const uint8_t *)text;
    s.len = strlen(text);
    s.created_ms = 1;
    s.expires_ms = expires;
    return s;
}

static db *mail_open(void)
{
    db *d = NULL;
    char why[256] = "";
    if (db_open(&d, url, why, sizeof why) != 0)
        fail_msg("db_open: %s", why);
    side_exec("DELETE FROM sealed");
    side_exec("INSERT INTO users (name, pwhash, admin, disabled, created, broadcast) VALUES"
              " ('mia', 'h', 0, 0, 1, 0), ('sam', 'h', 0, 0, 1, 0) ON CONFLICT DO NOTHING");
    /* The device copy() sends to is mia's (copies are fetched for the
     * account a device is bound to now). */
    uint8_t to[32];
    memset(to, 0x11, sizeof to);
    if (db_device_bind(d, to, "mia", 1) != 0)
        fail_msg("db_device_bind: %s", db_errmsg(d));
    return d;
}

/* Instances share the policy: it is stored only over a lower serial (an
 * instance that had not taken another's is refused, BANTER_ESTATE); the
 * revocation list's clock is the database's. */
static void test_policy_serial(void **state)
{
    (void)state;
    db *d = mail_open();
    policy p, q;
    side_exec("DELETE FROM policy");
    policy_default(&p);
    p.serial = 5;
    p.issued_ms = 1000;
    p.max_file_mb = 10;
    assert_int_equal(db_policy_put(d, &p), 0);
    p.max_file_mb = 20; /* the same serial again: another instance's */
    assert_int_equal(db_policy_put(d, &p), BANTER_ESTATE);
    p.serial = 4;
    assert_int_equal(db_policy_put(d, &p), BANTER_ESTATE);
    assert_int_equal(db_policy_get(d, &q), 0);
    assert_true(q.serial == 5 && q.max_file_mb == 10);
    p.serial = 6;
    assert_int_equal(db_policy_put(d, &p), 0);
    assert_int_equal(db_policy_get(d, &q), 0);
    assert_true(q.serial == 6 && q.max_file_mb == 20);
    int64_t t = 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t here = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    assert_int_equal(db_shared_clock_ms(d, &t), 0);
    assert_true(t > here - 60000 && t < here + 60000); /* the same machine's server */
    db_close(d);
}

/* Stored, a duplicate, over the quota (also when it would be a
 * duplicate: a duplicate), fetched in order after a seq, acknowledged by
 * id and by seq, expired; the mailbox counts kept by the triggers. */
static void test_mail(void **state)
{
    (void)state;
    db *d = mail_open();
    struct mail m = {0};
    db_sealed a = copy(0xa1, "alpha", 1000000), b = copy(0xb2, "bravo", 1000000),
              c = copy(0xc3, "charlie", 1000000);
    assert_int_equal(db_mail_put(d, &a, 2, 1000), DB_MAIL_STORED);
    assert_int_equal(db_mail_put(d, &a, 2, 1000), DB_MAIL_DUPLICATE);
    assert_int_equal(db_mail_put(d, &b, 2, 1000), DB_MAIL_STORED);
    assert_int_equal(db_mail_put(d, &c, 2, 1000), DB_MAIL_OVER_QUOTA);
    assert_int_equal(db_mail_put(d, &a, 2, 1000), DB_MAIL_DUPLICATE);
    assert_int_equal(db_mail_put(d, &c, 10, 11), DB_MAIL_OVER_QUOTA); /* 5 + 5 + 7 bytes > 11 */
    assert_int_equal(side_int("SELECT count FROM mailbox WHERE \"user\" = 'mia'"), 2);
    assert_int_equal(side_int("SELECT bytes FROM mailbox WHERE \"user\" = 'mia'"), 10);
    db_sealed bad = a;
    bad.to_user = "Mia";
    assert_int_equal(db_mail_put(d, &bad, 2, 1000), BANTER_EINVAL);

    assert_int_equal(db_mail_fetch(d, a.to_device, 0, 500, 10, on_row, &m), 2);
    int64_t seq_a = m.seqs[0], seq_b = m.seqs[1];
    assert_true(seq_a > 0 && seq_b > seq_a);
    assert_string_equal(m.blobs[0], "alpha");
    assert_string_equal(m.blobs[1], "bravo");
    m.rows = 0;
    assert_int_equal(db_mail_fetch(d, a.to_device, seq_a, 500, 10, on_row, &m), 1);
    assert_int_equal(m.seqs[0], seq_b);
    m.rows = 0;
    /* expired ones are not sent */
    assert_int_equal(db_mail_fetch(d, a.to_device, 0, 2000000, 10, on_row, &m), 0);

    assert_int_equal(db_mail_del_id(d, a.id, a.to_device, a.from_device), 0);
    assert_int_equal(side_int("SELECT count(*) FROM sealed"), 1);
    assert_int_equal(db_mail_del_seq(d, seq_b), 0);
    assert_int_equal(db_mail_del_seq(d, seq_b), 0); /* nothing to delete: not an error */
    assert_int_equal(side_int("SELECT count FROM mailbox WHERE \"user\" = 'mia'"), 0);

    db_sealed x = copy(0xd4, "delta", 100);
    int64_t n = 0;
    assert_int_equal(db_mail_put(d, &x, 2, 1000), DB_MAIL_STORED);
    assert_int_equal(db_mail_expire(d, 200, 10, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(side_int("SELECT count(*) FROM sealed"), 0);
    db_close(d);
}

/* A batch (db_begin ... db_commit): the quota sees the batch's earlier
 * copies, nothing is visible to others before the commit; an
 * acknowledgement and a copy for an account that does not exist (the
 * foreign key refuses it) rolled back by the caller leave nothing. */
static void test_mail_batch(void **state)
{
    (void)state;
    db *d = mail_open();
    db_sealed a = copy(0xa1, "alpha", 1000000), b = copy(0xb2, "bravo", 1000000),
              c = copy(0xc3, "charlie", 1000000);
    assert_int_equal(db_begin(d), 0);
    assert_int_equal(db_mail_put(d, &a, 2, 1000), DB_MAIL_STORED);
    assert_int_equal(db_mail_put(d, &a, 2, 1000), DB_MAIL_DUPLICATE);
    assert_int_equal(db_mail_put(d, &b, 2, 1000), DB_MAIL_STORED);
    assert_int_equal(db_mail_put(d, &c, 2, 1000), DB_MAIL_OVER_QUOTA);
    assert_int_equal(side_int("SELECT count(*) FROM sealed"), 0);
    assert_int_equal(db_commit(d), 0);
    assert_int_equal(side_int("SELECT count(*) FROM sealed"), 2);

    db_sealed ghost = copy(0xd4, "delta", 1000000);
    ghost.to_user = "ghost";
    assert_int_equal(db_begin(d), 0);
    assert_int_equal(db_mail_del_id(d, a.id, a.to_device, a.from_device), 0);
    assert_int_equal(db_mail_put(d, &ghost, 10, 1000), BANTER_EDB);
    assert_non_null(strstr(db_errmsg(d), "foreign key"));
    db_rollback(d);
    assert_int_equal(side_int("SELECT count(*) FROM sealed"), 2); /* a is still there */
    side_exec("DELETE FROM sealed");
    db_close(d);
}

/* A batch on another connection (another instance), in a thread: it
 * waits for the row lock while the first batch is open. */
struct racer {
    db *d;
    const char *user;
    int n, quota;
    int begin, stored, over, other, commit;
};

static void race_batch(void *arg)
{
    struct racer *r = arg;
    r->begin = db_begin(r->d);
    for (int i = 0; i < r->n; i++) {
        db_sealed s = copy((uint8_t)(0x80 + i), "from the other instance", 1000000);
        s.to_user = r->user;
        int ret = db_mail_put(r->d, &s, r->quota, 1 << 20);
        r->stored += ret == DB_MAIL_STORED;
        r->over += ret == DB_MAIL_OVER_QUOTA;
        r->other += ret != DB_MAIL_STORED && ret != DB_MAIL_OVER_QUOTA;
    }
    r->commit = db_commit(r->d);
}

/* Two connections fill user's mailbox (quota copies) at once: d1's batch
 * stores exactly the quota and stays open until d2's batch of three
 * waits on a lock (seen in pg_stat_activity), then commits; d2 stores
 * none. Before the usage row was locked, d2's first copy was checked
 * against the count before d1's commit and stored past the quota. */
static void race(db *d1, db *d2, const char *user, int quota)
{
    assert_int_equal(db_begin(d1), 0);
    for (int i = 0; i < quota; i++) {
        db_sealed s = copy((uint8_t)(0x40 + i), "from this instance", 1000000);
        s.to_user = user;
        assert_int_equal(db_mail_put(d1, &s, quota, 1 << 20), DB_MAIL_STORED);
    }
    struct racer r = {.d = d2, .user = user, .n = 3, .quota = quota};
    uv_thread_t t;
    assert_int_equal(uv_thread_create(&t, race_batch, &r), 0);
    int waited = 0;
    while (side_int("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'") == 0 &&
           waited++ < 1000)
        usleep(10000);
    assert_int_equal(db_commit(d1), 0);
    assert_int_equal(uv_thread_join(&t), 0);
    assert_true(waited <= 1000); /* the other batch did wait */
    assert_int_equal(r.begin, 0);
    assert_int_equal(r.commit, 0);
    assert_int_equal(r.other, 0);
    assert_int_equal(r.stored, 0);
    assert_int_equal(r.over, 3);
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM sealed WHERE to_user = '%s'", user);
    assert_int_equal(side_int(sql), quota);
    snprintf(sql, sizeof sql, "SELECT count FROM mailbox WHERE \"user\" = '%s'", user);
    assert_int_equal(side_int(sql), quota);
    side_exec("DELETE FROM sealed"); /* the next race's copies have the same ids and devices */
}

/* The quota holds across instances: an account with a usage row, and one
 * without one yet (both batches would make it). */
static void test_mail_quota_race(void **state)
{
    (void)state;
    db *d1 = mail_open(), *d2 = NULL;
    char why[256] = "";
    if (db_open(&d2, url, why, sizeof why) != 0)
        fail_msg("db_open: %s", why);
    side_exec("INSERT INTO users (name, pwhash, admin, disabled, created, broadcast) VALUES"
              " ('ned', 'h', 0, 0, 1, 0) ON CONFLICT DO NOTHING");
    side_exec("DELETE FROM mailbox WHERE \"user\" IN ('mia', 'ned')");
    db_sealed s = copy(0x01, "makes mia's usage row", 1000000);
    assert_int_equal(db_mail_put(d1, &s, 10, 1 << 20), DB_MAIL_STORED);
    side_exec("DELETE FROM sealed");
    assert_int_equal(side_int("SELECT count FROM mailbox WHERE \"user\" = 'mia'"), 0);
    race(d1, d2, "mia", 5);
    assert_int_equal(side_int("SELECT count(*) FROM mailbox WHERE \"user\" = 'ned'"), 0);
    race(d1, d2, "ned", 1);
    db_close(d2);
    db_close(d1);
}

/* The other connection's batch for the share race: n copies from sam
 * (over its share once the first batch commits), then one from ned (still
 * stored). */
struct share_racer {
    db *d;
    int n;
    db_mail_quota q;
    int begin, over, other, ned, commit;
};

static void share_batch(void *arg)
{
    struct share_racer *r = arg;
    r->begin = db_begin(r->d);
    for (int i = 0; i < r->n; i++) {
        db_sealed s = copy((uint8_t)(0x80 + i), "sam again", 1000000);
        int ret = db_mail_put_q(r->d, &s, &r->q);
        r->over += ret == DB_MAIL_OVER_SHARE;
        r->other += ret != DB_MAIL_OVER_SHARE;
    }
    db_sealed n = copy(0x90, "from ned", 1000000);
    n.from_user = "ned";
    r->ned = db_mail_put_q(r->d, &n, &r->q);
    r->commit = db_commit(r->d);
}

/* Wait until a session waits on a lock (pg_stat_activity): true, or false
 * after 10 s. */
static bool lock_waited(void)
{
    int waited = 0;
    while (side_int("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'") == 0 &&
           waited++ < 1000)
        usleep(10000);
    return waited <= 1000;
}

/* One sender's share across instances: d1's open batch holds sam's whole
 * share of mia's mailbox (2), d2's batch waits for it, then finds sam
 * over its share for all three (none read before d1's commit) while ned
 * still stores. */
static void test_mail_share_race(void **state)
{
    (void)state;
    db *d1 = mail_open(), *d2 = NULL;
    char why[256] = "";
    if (db_open(&d2, url, why, sizeof why) != 0)
        fail_msg("db_open: %s", why);
    side_exec("INSERT INTO users (name, pwhash, admin, disabled, created, broadcast) VALUES"
              " ('ned', 'h', 0, 0, 1, 0) ON CONFLICT DO NOTHING");
    db_mail_quota q = {100, 1 << 20, 2, 1 << 20};
    assert_int_equal(db_begin(d1), 0);
    for (int i = 0; i < 2; i++) {
        db_sealed s = copy((uint8_t)(0x40 + i), "sam", 1000000);
        assert_int_equal(db_mail_put_q(d1, &s, &q), DB_MAIL_STORED);
    }
    struct share_racer r = {.d = d2, .n = 3, .q = q};
    uv_thread_t t;
    assert_int_equal(uv_thread_create(&t, share_batch, &r), 0);
    bool waited = lock_waited();
    assert_int_equal(db_commit(d1), 0);
    assert_int_equal(uv_thread_join(&t), 0);
    assert_true(waited);
    assert_int_equal(r.begin, 0);
    assert_int_equal(r.commit, 0);
    assert_int_equal(r.other, 0);
    assert_int_equal(r.over, 3);
    assert_int_equal(r.ned, DB_MAIL_STORED);
    assert_int_equal(side_int("SELECT count(*) FROM sealed WHERE from_user = 'sam'"), 2);
    assert_int_equal(side_int("SELECT count FROM mailbox_from WHERE sender = 'sam'"), 2);
    assert_int_equal(side_int("SELECT count FROM mailbox WHERE \"user\" = 'mia'"), 3);
    side_exec("DELETE FROM sealed");
    assert_int_equal(side_int("SELECT count(*) FROM mailbox_from"), 0);
    db_close(d2);
    db_close(d1);
}

struct block_racer {
    db *d;
    int ret;
};

static void block_write(void *arg)
{
    struct block_racer *r = arg;
    r->ret = db_rel_write(r->d, "mia", "sam", (rel_side){REL_APPROVED, true},
                          (rel_side){REL_APPROVED, false}, 2);
}

/* mia blocks sam on one instance while the other's batch holds a copy
 * from sam for her, not committed yet: the block waits for it, then takes
 * it back; after, sam's copies are not stored (DB_MAIL_BLOCKED), on
 * either connection. */
static void test_mail_block_race(void **state)
{
    (void)state;
    db *d1 = mail_open(), *d2 = NULL;
    char why[256] = "";
    if (db_open(&d2, url, why, sizeof why) != 0)
        fail_msg("db_open: %s", why);
    side_exec("DELETE FROM contacts");
    db_mail_quota q = {100, 1 << 20, 10, 1 << 20};
    assert_int_equal(db_begin(d1), 0);
    db_sealed s = copy(0x41, "sam, before the block", 1000000);
    assert_int_equal(db_mail_put_q(d1, &s, &q), DB_MAIL_STORED);
    struct block_racer r = {.d = d2, .ret = -1};
    uv_thread_t t;
    assert_int_equal(uv_thread_create(&t, block_write, &r), 0);
    bool waited = lock_waited();
    assert_int_equal(db_commit(d1), 0);
    assert_int_equal(uv_thread_join(&t), 0);
    assert_true(waited);
    assert_int_equal(r.ret, 0);
    assert_int_equal(side_int("SELECT count(*) FROM sealed"), 0);
    assert_int_equal(side_int("SELECT count FROM mailbox WHERE \"user\" = 'mia'"), 0);
    db_sealed later = copy(0x42, "sam, after", 1000000);
    assert_int_equal(db_mail_put_q(d1, &later, &q), DB_MAIL_BLOCKED);
    assert_int_equal(db_mail_put_q(d2, &later, &q), DB_MAIL_BLOCKED);
    assert_int_equal(side_int("SELECT count(*) FROM sealed"), 0);
    side_exec("DELETE FROM contacts");
    db_close(d2);
    db_close(d1);
}

/* One write of a batch as the mailbox's commit makes them (mailbox.c
 * commit_work): a copy put for user, or user's stored copy idbyte
 * deleted (its trigger counts user's usage row down). */
struct wr {
    bool del;
    const char *user;
    uint8_t idbyte;
};

static int wr_run(db *d, const struct wr *w)
{
    db_sealed s = copy(w->idbyte, "a copy", 1000000);
    s.to_user = w->user;
    if (w->del)
        return db_mail_del_id(d, s.id, s.to_device, s.from_device);
    return db_mail_put(d, &s, 100, 1 << 20);
}

/* A batch's writes in the order the commit takes them. */
static void wr_order(const struct wr *w, size_t n, struct wr *out)
{
    db_mail_lock l[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++)
        l[i] = (db_mail_lock){.user = w[i].user, .pos = i};
    db_mail_lock_order(l, n);
    for (size_t i = 0; i < n; i++)
        out[i] = w[l[i].pos];
}

struct lock_racer {
    db *d;
    struct wr w[2];
    int begin, ret[2], commit;
};

static void lock_race_batch(void *arg)
{
    struct lock_racer *r = arg;
    r->begin = db_begin(r->d);
    for (size_t i = 0; i < 2; i++)
        r->ret[i] = wr_run(r->d, &r->w[i]);
    r->commit = db_commit(r->d);
}

/* Two instances commit batches that write to the same two accounts in
 * opposite orders: d1 stores a copy for mia and deletes one of ned's, d2
 * stores one for ned and deletes one of mia's (each write locks its
 * account's usage row to the commit). d1 takes its first lock, d2's whole
 * batch runs until it waits (pg_stat_activity), then d1 goes on. In
 * db_mail_lock_order both take mia's row first: d2 waits holding nothing
 * and both commit. In the order given, d2 held ned's row and waited for
 * mia's while d1 waited for ned's: PostgreSQL aborted one (deadlock
 * detected), and that batch's senders got an error. The order itself:
 * by account, one account's writes as given. */
static void test_mail_lock_order(void **state)
{
    (void)state;
    struct wr one[] = {{false, "mia", 1},
                       {true, "ned", 2},
                       {false, "mia", 3},
                       {false, "amy", 4},
                       {true, "mia", 5}},
              got[5];
    wr_order(one, 5, got);
    static const uint8_t want[] = {4, 1, 3, 5, 2};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(got[i].idbyte, want[i]);

    db *d1 = mail_open(), *d2 = NULL;
    char why[256] = "";
    if (db_open(&d2, url, why, sizeof why) != 0)
        fail_msg("db_open: %s", why);
    side_exec("INSERT INTO users (name, pwhash, admin, disabled, created, broadcast) VALUES"
              " ('ned', 'h', 0, 0, 1, 0) ON CONFLICT DO NOTHING");
    /* The copies the batches delete: usage rows for both accounts. */
    const struct wr old[] = {{false, "mia", 0x61}, {false, "ned", 0x62}};
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(wr_run(d1, &old[i]), DB_MAIL_STORED);
    const struct wr b1[] = {{false, "mia", 0x71}, {true, "ned", 0x62}};
    const struct wr b2[] = {{false, "ned", 0x72}, {true, "mia", 0x61}};
    struct wr w1[2];
    struct lock_racer r = {.d = d2};
    wr_order(b1, 2, w1);
    wr_order(b2, 2, r.w);
    assert_int_equal(db_begin(d1), 0);
    assert_int_equal(wr_run(d1, &w1[0]), 0);
    uv_thread_t t;
    assert_int_equal(uv_thread_create(&t, lock_race_batch, &r), 0);
    int waited = 0;
    while (side_int("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'") == 0 &&
           waited++ < 1000)
        usleep(10000);
    int ret = wr_run(d1, &w1[1]);
    int commit = db_commit(d1);
    if (ret || commit)
        db_rollback(d1);
    assert_int_equal(uv_thread_join(&t), 0);
    assert_true(waited <= 1000); /* d2 did wait for d1 */
    if (ret || commit || r.begin || r.ret[0] || r.ret[1] || r.commit)
        fail_msg("a batch failed: d1 %d %d (%s), d2 %d %d %d %d (%s)", ret, commit, db_errmsg(d1),
                 r.begin, r.ret[0], r.ret[1], r.commit, db_errmsg(d2));
    assert_int_equal(side_int("SELECT count(*) FROM sealed"), 2); /* 0x71 and 0x72 */
    assert_int_equal(side_int("SELECT count FROM mailbox WHERE \"user\" = 'mia'"), 1);
    assert_int_equal(side_int("SELECT count FROM mailbox WHERE \"user\" = 'ned'"), 1);
    side_exec("DELETE FROM sealed");
    db_close(d2);
    db_close(d1);
}

/* Not a test of speed (nothing is asserted): how many copies a second one
 * connection stores, each its own commit, then 100 to a commit (a batch);
 * printed for docs/rendezvous.md 8.1. */
static void test_mail_rate(void **state)
{
    (void)state;
    enum { N = 400, PER = 100 };
    db *d = mail_open();
    uint64_t t0 = uv_hrtime();
    for (int i = 0; i < N; i++) {
        db_sealed s = copy(0, "a sealed copy of some forty bytes or so..", 1000000);
        memcpy(s.id, &i, sizeof i);
        assert_int_equal(db_mail_put(d, &s, 1 << 20, 1 << 30), DB_MAIL_STORED);
    }
    uint64_t ns1 = uv_hrtime() - t0;
    t0 = uv_hrtime();
    for (int i = N; i < 11 * N; i += PER) {
        assert_int_equal(db_begin(d), 0);
        for (int j = i; j < i + PER; j++) {
            db_sealed s = copy(0, "a sealed copy of some forty bytes or so..", 1000000);
            memcpy(s.id, &j, sizeof j);
            assert_int_equal(db_mail_put(d, &s, 1 << 20, 1 << 30), DB_MAIL_STORED);
        }
        assert_int_equal(db_commit(d), 0);
    }
    uint64_t ns2 = uv_hrtime() - t0;
    printf("# PostgreSQL, db_mail_put on one connection: %d copies one commit each in %.0f ms"
           " (%.0f/s); %d in batches of %d in %.0f ms (%.0f/s)\n",
           N, (double)ns1 / 1e6, N / ((double)ns1 / 1e9), 10 * N, PER, (double)ns2 / 1e6,
           10 * N / ((double)ns2 / 1e9));
    assert_int_equal(side_int("SELECT count(*) FROM sealed"), 11 * N);
    side_exec("DELETE FROM sealed");
    db_close(d);
}

int main(void)
{
    url = getenv("BANTER_TEST_PG");
    if (!url || !*url) {
        printf("test_rdv_pg: BANTER_TEST_PG is not set (tests/integration/test_rendezvous_pg.sh"
               " runs this against a throwaway PostgreSQL): skipped\n");
        return 77;
    }
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate),
        cmocka_unit_test(test_same_columns),
        cmocka_unit_test(test_open_url),
        cmocka_unit_test(test_queries),
        cmocka_unit_test(test_notify_and_reconnect),
        cmocka_unit_test(test_no_server),
        cmocka_unit_test(test_cluster),
        cmocka_unit_test(test_policy_serial),
        cmocka_unit_test(test_mail),
        cmocka_unit_test(test_mail_batch),
        cmocka_unit_test(test_mail_quota_race),
        cmocka_unit_test(test_mail_share_race),
        cmocka_unit_test(test_mail_block_race),
        cmocka_unit_test(test_mail_lock_order),
        cmocka_unit_test(test_mail_rate),
    };
    /* clang-format on */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
