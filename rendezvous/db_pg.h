/* SPDX-License-Identifier: MIT */
/*
 * db_pg.h - the PostgreSQL side of the database (db = postgresql://...):
 * the schema brought up to date at start-up, and one asynchronous libpq
 * connection driven by the libuv loop, the building block every
 * PostgreSQL query of the server goes through.
 *
 * The loop never waits for the database: the connection is non-blocking
 * (PQconnectStart/PQconnectPoll, PQsendQueryParams, PQflush,
 * PQconsumeInput, PQisBusy, PQgetResult, PQnotifies) and a uv_poll on
 * PQsocket() says when to go on. Queries run one after another, in the
 * order they were queued. Each query is ONE statement run by PostgreSQL
 * in its own transaction (no BEGIN is ever open across queries), so its
 * callback reporting success means it was committed: "stored" may be said
 * then and only then. A write that needs several statements is one
 * statement with data-modifying CTEs, or a server-side function, or a
 * batch (below). The first BANTER_PG_PREPARED_MAX distinct statement
 * texts with parameters are prepared on the connection the first time
 * they run (PQsendPrepare, then PQsendQueryPrepared; again after a
 * reconnection), so the server plans them once: queries are fixed texts
 * with parameters, never values pasted in.
 *
 * When the connection is lost (the server restarted, a network failure):
 * the query in flight fails with BANTER_EDB and an errmsg that starts
 * "connection lost" (its outcome is unknown: the caller retries what is
 * idempotent, as every write of the server is by its unique keys), the
 * down callback runs, and the connection is made again after 50 ms,
 * doubling up to 5 s. Queries waiting their turn stay queued and run
 * once it is back; LISTEN channels are subscribed again before them, then
 * the up callback runs (the caller re-reads what it may have missed:
 * notifications sent while it was away are not replayed).
 */
#ifndef BANTER_RDV_DB_PG_H
#define BANTER_RDV_DB_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "error.h"

typedef struct db_pg db_pg;

/* What a connection tells its owner. Any may be NULL. */
typedef struct db_pg_cbs {
    /* Connected (at first or again), channels listened to. */
    void (*up)(void *ud);
    /* The connection failed or was lost; why is libpq's text. Reconnecting. */
    void (*down)(void *ud, const char *why);
    /* A NOTIFY on a channel this connection listens to. */
    void (*notify)(void *ud, const char *channel, const char *payload);
} db_pg_cbs;

/*
 * A query's outcome, run exactly once (db_pg_free runs those not done). ret is 0 with res (the
 * statement's result, valid during the call only: PGRES_COMMAND_OK or PGRES_TUPLES_OK), or
 * BANTER_EDB with res NULL and errmsg (never NULL) saying why: PostgreSQL's message (a constraint
 * failed, a syntax error), or "connection lost: ...".
 */
typedef void (*db_pg_done_fn)(void *ud, int ret, const PGresult *res, const char *errmsg);

/*
 * A connection to conninfo (a libpq URI or key=value string), started at
 * once on loop; callbacks with ud. 0, BANTER_ENOMEM, or BANTER_EINVAL when
 * libpq cannot parse conninfo (errmsg, cap bytes, says why). A server that
 * is down is not an error: it is tried again as after a loss.
 */
BANTER_WUR int db_pg_new(db_pg **out, uv_loop_t *loop, const char *conninfo, const db_pg_cbs *cbs,
                         void *ud, char *errmsg, size_t cap);

/*
 * Stop at once: the connection is closed, the callback of every query not
 * done yet runs now with BANTER_EDB and errmsg "closed" (the query in
 * flight may have been committed; the callbacks must not use p), and the
 * memory is freed once libuv closed the handles (run the loop). Accepts
 * NULL. Never call it from one of this connection's own callbacks.
 */
void db_pg_free(db_pg *p);

/* Whether the connection is up now. */
bool db_pg_is_up(const db_pg *p);

/*
 * Queue one statement with nparams parameters ($1..$n; values[i] NULL is
 * SQL NULL; lengths[i] and formats[i], 1 for binary, matter for binary
 * values only; lengths and formats may be NULL for all-text parameters),
 * copied before the call returns. Results come in binary when
 * binary_results, else in text. 0, or BANTER_EAGAIN when
 * BANTER_PG_QUEUE_MAX queries wait already, BANTER_ETOOBIG for more than
 * BANTER_PG_PARAMS_MAX parameters, BANTER_ENOMEM: then cb never runs.
 */
BANTER_WUR int db_pg_query(db_pg *p, const char *sql, int nparams, const char *const *values,
                           const int *lengths, const int *formats, bool binary_results,
                           db_pg_done_fn cb, void *ud);

/*
 * A batch: statements run in one transaction (BEGIN, each in order,
 * COMMIT) and committed together, one fsync for all: what a loop
 * iteration's writes use. Each statement's callback runs after the COMMIT
 * (ret 0 and its result) or, when any failed or the COMMIT did, with
 * BANTER_EDB and the first failure's text (nothing of the batch was
 * committed, except that a connection lost during the COMMIT leaves its
 * outcome unknown, as for a single query); then the batch's own callback
 * (res NULL). Other queries wait while a batch runs.
 *
 * db_pg_batch_new: NULL when out of memory. db_pg_batch_add: as
 * db_pg_query (copies made now; BANTER_ETOOBIG past BANTER_PG_BATCH_MAX
 * statements). db_pg_batch_run queues b and takes it (do not free it): 0,
 * or BANTER_EINVAL for an empty batch, BANTER_EAGAIN when the queue is
 * full: then b is still the caller's and no callback runs.
 * db_pg_batch_free: a batch not run (accepts NULL).
 */
typedef struct db_pg_batch db_pg_batch;
db_pg_batch *db_pg_batch_new(void);
BANTER_WUR int db_pg_batch_add(db_pg_batch *b, const char *sql, int nparams,
                               const char *const *values, const int *lengths, const int *formats,
                               bool binary_results, db_pg_done_fn cb, void *ud);
BANTER_WUR int db_pg_batch_run(db_pg *p, db_pg_batch *b, db_pg_done_fn cb, void *ud);
void db_pg_batch_free(db_pg_batch *b);

/*
 * LISTEN on channel (an SQL identifier of at most 63 bytes of a-z, 0-9
 * and '_'), now and after every reconnection; a channel listened to
 * already is not added again. 0, BANTER_EINVAL for a bad
 * name, BANTER_ETOOBIG past BANTER_PG_CHANNELS_MAX channels, BANTER_ENOMEM.
 */
BANTER_WUR int db_pg_listen(db_pg *p, const char *channel);

/*
 * Bring the schema at conninfo up to date, blocking (at start-up, before
 * the loop serves anyone): migrations[v] takes it from version v to v + 1
 * (each may hold several statements). The version is kept in the table
 * banter_schema; one transaction under an advisory lock, so instances
 * started at once migrate once. A newer version than count is refused
 * (who names the program). 0 or BANTER_EDB with errmsg.
 */
BANTER_WUR int db_pg_migrate(const char *conninfo, const char *const *migrations, int count,
                             const char *who, char *errmsg, size_t cap);

/* Run sql (several statements may be) in one transaction under the same
 * lock as db_pg_migrate, blocking (start-up). 0 or BANTER_EDB with errmsg. */
BANTER_WUR int db_pg_exec_locked(const char *conninfo, const char *sql, char *errmsg, size_t cap);

/* Whether path names a PostgreSQL database (postgresql:// or postgres://)
 * rather than a SQLite file. */
bool db_pg_is_url(const char *path);

#endif
