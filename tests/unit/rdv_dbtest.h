/* SPDX-License-Identifier: MIT */
/*
 * rdv_dbtest.h - the database a unit test of the rendezvous's db modules
 * opens, on either backend (db.h): a SQLite file in a new temporary
 * directory, or, when RDV_TEST_PG holds a PostgreSQL URL (set by
 * tests/integration/test_rendezvous_pg.sh, one fresh database per test
 * program), that database emptied first (schema public dropped and made
 * again: db_open migrates it anew). Include it after cmocka.h.
 *
 *   struct dbt t;
 *   dbt_make(&t, "rdvdb");      // t.path: what to hand db_open
 *   ...
 *   dbt_remove(&t);             // the SQLite files and the directory
 *
 * A test of something only one backend has (a SQLite file's mode, its
 * PRAGMAs) calls dbt_sqlite_only() first: skipped on PostgreSQL.
 */
#ifndef BANTER_TEST_RDV_DBTEST_H
#define BANTER_TEST_RDV_DBTEST_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct dbt {
    char dir[64];
    char path[512];
    bool pg;
};

/* The PostgreSQL URL under test, or NULL for SQLite. */
static inline const char *dbt_pg_url(void)
{
    const char *u = getenv("RDV_TEST_PG");
    return u && *u ? u : NULL;
}

/* Run sql (several statements may be) on the PostgreSQL under test, as
 * another program would. */
static inline void dbt_pg_exec(const char *sql)
{
    PGconn *c = PQconnectdb(dbt_pg_url());
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

static inline void dbt_make(struct dbt *t, const char *tag)
{
    memset(t, 0, sizeof *t);
    snprintf(t->dir, sizeof t->dir, "/tmp/banter-test-%s-XXXXXX", tag);
    assert_non_null(mkdtemp(t->dir));
    const char *url = dbt_pg_url();
    if (url) {
        t->pg = true;
        snprintf(t->path, sizeof t->path, "%s", url);
        dbt_pg_exec("SET client_min_messages = warning;"
                    "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;"
                    "DROP TABLE IF EXISTS banter_schema");
    } else {
        snprintf(t->path, sizeof t->path, "%s/rdv.db", t->dir);
    }
}

static inline void dbt_remove(struct dbt *t)
{
    char p[600];
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; !t->pg && i < sizeof suffix / sizeof suffix[0]; i++) {
        snprintf(p, sizeof p, "%s%s", t->path, suffix[i]);
        unlink(p);
    }
    rmdir(t->dir);
}

/* Skip the calling test on PostgreSQL. */
#define dbt_sqlite_only()                                                                          \
    do {                                                                                           \
        if (dbt_pg_url())                                                                          \
            skip();                                                                                \
    } while (0)

#endif
