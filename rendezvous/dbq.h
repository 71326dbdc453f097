/* SPDX-License-Identifier: MIT */
/*
 * dbq.h - the server's database work off the event loop.
 *
 * One database thread owns the server's db handle (db.h: SQLite or
 * PostgreSQL, both synchronous) once dbq_new has returned: from then on
 * the loop thread never calls a db_* function itself. It hands the
 * database thread jobs instead, which run one at a time in the order they
 * were submitted; each job's after-callback runs on the loop thread, in
 * the same order, woken by a uv_async handle.
 *
 * A job has two halves:
 *   work(d, arg)   on the database thread: may call db_* functions with d
 *                  and read or write what arg owns, nothing else (never
 *                  the core, a connection, the online index, the log:
 *                  those belong to the loop). Its return value (0, a
 *                  documented positive value or a BANTER_E* code) is
 *                  handed to after; errmsg (DBQ_ERRMSG_LEN bytes, "" on
 *                  entry) may receive db_errmsg(d) for the log.
 *   after(arg, ret, errmsg)
 *                  on the loop thread, exactly once per submitted job:
 *                  replies, state changes, logging, and freeing arg.
 * Ordering: jobs run, and afters are called, in submission order, so two
 * requests of one connection are answered in the order they came.
 *
 * Lifetimes: arg belongs to the caller; dbq never looks inside it. An
 * owner that may go away while its job is queued (a connection) must keep
 * itself alive until after runs (conn_hold / conn_release in conn.h) and
 * check whether it is still wanted there (c->closing). Work always runs
 * once submitted, even when its owner is gone: a write a client asked
 * for is done (and idempotent by its unique keys), only the answer is
 * dropped.
 *
 * dbq_free: stops taking jobs, lets the database thread finish every job
 * already queued, joins it, runs the afters still due (on the caller's
 * thread, the loop thread) and closes the async handle (the memory is
 * freed in its close callback: run the loop once more). Call it before
 * freeing what the afters use; never from inside an after.
 */
#ifndef BANTER_RDV_DBQ_H
#define BANTER_RDV_DBQ_H

#include <stddef.h>
#include <uv.h>

#include "db.h"
#include "error.h"

#define DBQ_ERRMSG_LEN 256

typedef struct dbq dbq;

typedef int (*dbq_work_fn)(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN]);
typedef void (*dbq_after_fn)(void *arg, int ret, const char *errmsg);

/* The queue and its database thread, which takes d over (d stays the
 * caller's to db_close after dbq_free). 0, BANTER_ENOMEM, or BANTER_EIO
 * when the thread or the async handle cannot be made. */
BANTER_WUR int dbq_new(dbq **out, uv_loop_t *loop, db *d);

/* Queue a job. 0, or BANTER_ENOMEM (nothing queued; after never runs),
 * BANTER_ESTATE after dbq_free began. */
BANTER_WUR int dbq_submit(dbq *q, dbq_work_fn work, dbq_after_fn after, void *arg);

/* Jobs submitted whose after has not run yet (for logs, status and
 * backpressure: a caller may refuse new work past a cap). */
size_t dbq_pending(const dbq *q);

/* See above. Accepts NULL. */
void dbq_free(dbq *q);

#endif
