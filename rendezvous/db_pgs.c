/* SPDX-License-Identifier: MIT */
/* db_pgs.c - the synchronous PostgreSQL backend's connection and helpers (see db_pgs.h). */
#include "db_pgs.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_impl.h"

struct pgs {
    /* One call at a time on conn. The contract is one thread at a time
     * (dbq.h); this makes a second thread's call wait rather than break
     * libpq's protocol state. */
    pthread_mutex_t lock;
    PGconn *conn;
    bool txn;      /* db_begin ran, no db_commit/db_rollback yet */
    bool txn_lost; /* the connection was lost inside it */
    int nprep;
    const char *prep[PGS_PREPARED_MAX]; /* texts prepared on conn, named "b<i>" */
};

/* ---- parameters ---- */

static int arg_slot(pgs_args *a)
{
    if (a->n >= PGS_ARGS_MAX) {
        a->bad = true;
        return -1;
    }
    return a->n++;
}

void pgs_arg_text(pgs_args *a, const char *s)
{
    int i = arg_slot(a);
    if (i < 0)
        return;
    a->v[i] = s;
    a->len[i] = 0;
    a->fmt[i] = 0;
}

void pgs_arg_int(pgs_args *a, int64_t v)
{
    int i = arg_slot(a);
    if (i < 0)
        return;
    snprintf(a->num[i], sizeof a->num[i], "%lld", (long long)v);
    a->v[i] = a->num[i];
    a->len[i] = 0;
    a->fmt[i] = 0;
}

void pgs_arg_blob(pgs_args *a, const void *p, size_t len)
{
    int i = arg_slot(a);
    if (i < 0)
        return;
    if (len > INT32_MAX)
        a->bad = true;
    /* libpq wants a non-NULL pointer for an empty binary value. */
    a->v[i] = p ? (const char *)p : "";
    a->len[i] = (int)(len > INT32_MAX ? 0 : len);
    a->fmt[i] = 1;
}

int pgs_arg_name(db *d, pgs_args *a, const char *name)
{
    if (!name || db_name_problem(name)) {
        db_seterr(d, "bad user name");
        return BANTER_EINVAL;
    }
    pgs_arg_text(a, name);
    return 0;
}

/* ---- the connection ---- */

static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

int pgs_open(db *d, const char *url)
{
    struct pgs *p = calloc(1, sizeof *p);
    if (!p) {
        db_seterr(d, "out of memory");
        return BANTER_ENOMEM;
    }
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p);
        db_seterr(d, "cannot make a mutex");
        return BANTER_ENOMEM;
    }
    d->pg = p;
    /* Bounds on a dead server or network, which would otherwise block
     * the database thread for the kernel's TCP timeouts (hours): 10 s to
     * connect, keepalives after 10 s idle, unacknowledged data for 30 s
     * ends the connection (then it is made again at the next call). The
     * URL's own settings win: they come after (expand_dbname). Ignored
     * on a unix socket. */
    static const char *const keys[] = {
        "connect_timeout",  "keepalives",       "keepalives_idle", "keepalives_interval",
        "keepalives_count", "tcp_user_timeout", "dbname",          NULL};
    const char *vals[] = {"10", "1", "10", "5", "3", "30000", url, NULL};
    p->conn = PQconnectdbParams(keys, vals, 1);
    if (!p->conn) {
        db_seterr(d, "out of memory");
        return BANTER_ENOMEM;
    }
    if (PQstatus(p->conn) != CONNECTION_OK) {
        char why[DB_ERRMSG_LEN];
        snprintf(why, sizeof why, "cannot connect to PostgreSQL: %s", PQerrorMessage(p->conn));
        why[strcspn(why, "\n")] = '\0';
        db_seterr(d, why);
        return BANTER_EDB;
    }
    PQsetNoticeProcessor(p->conn, quiet_notice, NULL);
    return 0;
}

void pgs_close(db *d)
{
    struct pgs *p = d->pg;
    if (!p)
        return;
    PQfinish(p->conn);
    pthread_mutex_destroy(&p->lock);
    free(p);
    d->pg = NULL;
}

/* Record PostgreSQL's text (first line) with a prefix. */
static void set_err(db *d, const char *prefix, const char *text)
{
    char why[DB_ERRMSG_LEN];
    snprintf(why, sizeof why, "%s%s", prefix, text && *text ? text : "unknown error");
    why[strcspn(why, "\n")] = '\0';
    db_seterr(d, why);
}

/* The connection usable for the next statement: made again once when it
 * was lost. 0 or BANTER_EDB (recorded). */
static int ready(db *d)
{
    struct pgs *p = d->pg;
    if (p->txn_lost) {
        db_seterr(d, "connection lost: the transaction was rolled back");
        return BANTER_EDB;
    }
    if (PQstatus(p->conn) == CONNECTION_OK)
        return 0;
    PQreset(p->conn);
    p->nprep = 0;
    if (PQstatus(p->conn) != CONNECTION_OK) {
        set_err(d, "connection lost: ", PQerrorMessage(p->conn));
        return BANTER_EDB;
    }
    PQsetNoticeProcessor(p->conn, quiet_notice, NULL);
    return 0;
}

/* r's outcome: 0 for a command or rows, else the mapped error (recorded;
 * a connection lost inside a transaction marks it lost). */
static int check(db *d, const PGresult *r)
{
    struct pgs *p = d->pg;
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return 0;
    if (PQstatus(p->conn) != CONNECTION_OK) {
        set_err(d, "connection lost: ", PQerrorMessage(p->conn));
        if (p->txn)
            p->txn_lost = true;
        return BANTER_EDB;
    }
    if (!r) {
        set_err(d, "", PQerrorMessage(p->conn));
        return BANTER_ENOMEM;
    }
    set_err(d, "", PQresultErrorMessage(r));
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (state && strcmp(state, "53100") == 0) /* disk_full */
        return BANTER_ENOSPC;
    if (state && strcmp(state, "53200") == 0) /* out_of_memory */
        return BANTER_ENOMEM;
    return BANTER_EDB;
}

/* A plain command without parameters (BEGIN, SAVEPOINT ...). */
static int command(db *d, const char *sql)
{
    PGresult *r = PQexec(d->pg->conn, sql);
    int ret = check(d, r);
    PQclear(r);
    return ret;
}

/* The prepared name of sql ("b<i>"), preparing it now when it is new;
 * false when the cache is full (run it unprepared) or preparing failed
 * (*ret says why). */
static bool prepared(db *d, const char *sql, const pgs_args *a, char name[16], int *ret)
{
    struct pgs *p = d->pg;
    *ret = 0;
    for (int i = 0; i < p->nprep; i++) {
        if (p->prep[i] == sql) {
            snprintf(name, 16, "b%d", i);
            return true;
        }
    }
    if (p->nprep == PGS_PREPARED_MAX)
        return false;
    snprintf(name, 16, "b%d", p->nprep);
    PGresult *r = PQprepare(p->conn, name, sql, a ? a->n : 0, NULL);
    *ret = check(d, r);
    PQclear(r);
    if (*ret)
        return false;
    p->prep[p->nprep++] = sql;
    return true;
}

/* One statement, prepared or not. */
static int run(db *d, const char *sql, const pgs_args *a, bool prepare, PGresult **out)
{
    struct pgs *p = d->pg;
    char name[16];
    int ret = 0;
    int n = a ? a->n : 0;
    const char *const *v = a ? a->v : NULL;
    const int *len = a ? a->len : NULL;
    const int *fmt = a ? a->fmt : NULL;
    PGresult *r;
    if (prepare && prepared(d, sql, a, name, &ret))
        r = PQexecPrepared(p->conn, name, n, v, len, fmt, 1);
    else if (ret)
        return ret;
    else
        r = PQexecParams(p->conn, sql, n, NULL, v, len, fmt, 1);
    ret = check(d, r);
    if (ret)
        PQclear(r);
    else
        *out = r;
    return ret;
}

/* Queue the statement in pipeline mode: preparing it first when it is
 * new (*prep then the index it takes; -1 when nothing is prepared). 1 when
 * queued, 0 when libpq refused. */
static int send_stmt(struct pgs *p, const char *sql, const pgs_args *a, bool prepare, int *prep)
{
    char name[16];
    int n = a ? a->n : 0;
    const char *const *v = a ? a->v : NULL;
    const int *len = a ? a->len : NULL;
    const int *fmt = a ? a->fmt : NULL;
    *prep = -1;
    for (int i = 0; prepare && i < p->nprep; i++) {
        if (p->prep[i] == sql) {
            snprintf(name, sizeof name, "b%d", i);
            return PQsendQueryPrepared(p->conn, name, n, v, len, fmt, 1);
        }
    }
    if (prepare && p->nprep < PGS_PREPARED_MAX) {
        *prep = p->nprep;
        snprintf(name, sizeof name, "b%d", p->nprep);
        return PQsendPrepare(p->conn, name, sql, n, NULL) &&
               PQsendQueryPrepared(p->conn, name, n, v, len, fmt, 1);
    }
    return PQsendQueryParams(p->conn, sql, n, NULL, v, len, fmt, 1);
}

#define PIPE_MAX 4 /* SAVEPOINT, [prepare], the statement, RELEASE */

/* Read the results of nq queued queries and the sync point into res[]
 * (each query's last result; NULL when it gave none). */
static void pipe_read(PGconn *c, int nq, PGresult *res[PIPE_MAX])
{
    int idx = 0, nulls = 0;
    for (;;) {
        PGresult *r = PQgetResult(c);
        if (!r) {
            idx++;
            /* A lost connection only gives NULLs from here. */
            if (++nulls > nq + 1 || PQstatus(c) != CONNECTION_OK)
                return;
            continue;
        }
        nulls = 0;
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            return;
        }
        if (idx < nq) {
            PQclear(res[idx]);
            res[idx] = r;
        } else {
            PQclear(r);
        }
    }
}

/* The first failure among res (a query skipped after it is not one). */
static int pipe_check(db *d, int nq, PGresult *res[PIPE_MAX])
{
    for (int i = 0; i < nq; i++) {
        if (res[i] && PQresultStatus(res[i]) == PGRES_PIPELINE_ABORTED)
            continue;
        int ret = check(d, res[i]);
        if (ret)
            return ret;
    }
    return 0;
}

/* Inside a transaction: the statement under a savepoint, so a failure
 * undoes it only, as on SQLite. SAVEPOINT, the statement and RELEASE go
 * in one pipeline (one round trip); after a failure one more undoes it. */
static int in_savepoint(db *d, const char *sql, const pgs_args *a, bool prepare, PGresult **out)
{
    struct pgs *p = d->pg;
    PGresult *res[PIPE_MAX] = {0};
    int prep = -1, nq = 0;
    bool sent = PQenterPipelineMode(p->conn) &&
                PQsendQueryParams(p->conn, "SAVEPOINT pgs", 0, NULL, NULL, NULL, NULL, 0) &&
                send_stmt(p, sql, a, prepare, &prep) &&
                PQsendQueryParams(p->conn, "RELEASE SAVEPOINT pgs", 0, NULL, NULL, NULL, NULL, 0);
    nq = prep >= 0 ? 4 : 3;
    if (sent)
        sent = PQpipelineSync(p->conn) != 0;
    if (sent)
        pipe_read(p->conn, nq, res);
    (void)PQexitPipelineMode(p->conn);
    int ret = sent ? pipe_check(d, nq, res) : check(d, NULL);
    int at = nq - 2; /* the statement's result */
    if (ret == 0 && prep >= 0)
        p->prep[p->nprep++] = sql;
    if (ret == 0) {
        *out = res[at];
        res[at] = NULL;
    } else if (!p->txn_lost && PQstatus(p->conn) == CONNECTION_OK) {
        char why[DB_ERRMSG_LEN];
        snprintf(why, sizeof why, "%s", d->errmsg);
        if (command(d, "ROLLBACK TO SAVEPOINT pgs; RELEASE SAVEPOINT pgs"))
            p->txn_lost = true; /* cannot happen; if it does, the transaction is unusable */
        db_seterr(d, why);
    }
    for (int i = 0; i < PIPE_MAX; i++)
        PQclear(res[i]);
    return ret;
}

/*
 * Whether the statement just failed because the connection was lost while
 * no transaction was open: then it is run once more on a new connection.
 * A server that restarted since the last statement ends the old session
 * before this one reaches it (the statement never ran); one that died
 * while running it leaves its outcome unknown, and every write of the
 * server is idempotent by its unique keys, so running it again is safe.
 */
static bool lost_alone(const db *d)
{
    const struct pgs *p = d->pg;
    return !p->txn && PQstatus(p->conn) != CONNECTION_OK;
}

/* One statement: alone, or under a savepoint inside a transaction. */
static int query(db *d, const char *sql, const pgs_args *a, bool prepare, PGresult **out)
{
    *out = NULL;
    if (a && a->bad) {
        db_seterr(d, "too many or too long parameters");
        return BANTER_EINVAL;
    }
    pthread_mutex_lock(&d->pg->lock);
    int ret = ready(d);
    if (ret == 0)
        ret = d->pg->txn ? in_savepoint(d, sql, a, prepare, out) : run(d, sql, a, prepare, out);
    if (ret == BANTER_EDB && lost_alone(d)) /* the server restarted since the last statement */
        ret = ready(d) ? BANTER_EDB : run(d, sql, a, prepare, out);
    pthread_mutex_unlock(&d->pg->lock);
    return ret;
}

int pgs_query(db *d, const char *sql, const pgs_args *a, PGresult **out)
{
    return query(d, sql, a, true, out);
}

int pgs_query_once(db *d, const char *sql, const pgs_args *a, PGresult **out)
{
    return query(d, sql, a, false, out);
}

int pgs_exec(db *d, const char *sql, const pgs_args *a)
{
    PGresult *r;
    int ret = pgs_query(d, sql, a, &r);
    PQclear(r);
    return ret;
}

int pgs_exec_n(db *d, const char *sql, const pgs_args *a, int64_t *n)
{
    PGresult *r;
    *n = 0;
    int ret = pgs_query(d, sql, a, &r);
    if (ret == 0)
        *n = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return ret;
}

int pgs_query_int(db *d, const char *sql, const pgs_args *a, int64_t *v)
{
    PGresult *r;
    int ret = pgs_query(d, sql, a, &r);
    if (ret == 0 && PQntuples(r) < 1) {
        db_seterr(d, "the query returned no row");
        ret = BANTER_EDB;
    }
    if (ret == 0)
        *v = pgs_int(r, 0, 0);
    PQclear(r);
    return ret;
}

/* ---- result cells ---- */

int64_t pgs_int(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    const unsigned char *b = (const unsigned char *)PQgetvalue(r, row, col);
    int len = PQgetlength(r, row, col);
    if (len != 1 && len != 2 && len != 4 && len != 8)
        return 0;
    uint64_t v = 0;
    for (int i = 0; i < len; i++)
        v = v << 8 | b[i];
    /* Sign-extend the narrower widths. */
    if (len < 8 && len > 1 && (b[0] & 0x80))
        v |= ~(uint64_t)0 << (8 * len);
    return (int64_t)v;
}

const char *pgs_text(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
}

void pgs_copy(const PGresult *r, int row, int col, char *out, size_t cap)
{
    snprintf(out, cap, "%s", pgs_text(r, row, col));
}

char *pgs_dup(const PGresult *r, int row, int col) { return strdup(pgs_text(r, row, col)); }

const uint8_t *pgs_blob(const PGresult *r, int row, int col, size_t *len)
{
    *len = 0;
    if (PQgetisnull(r, row, col))
        return NULL;
    *len = (size_t)PQgetlength(r, row, col);
    return (const uint8_t *)PQgetvalue(r, row, col);
}

/* ---- transactions ---- */

static int begin_locked(db *d)
{
    struct pgs *p = d->pg;
    if (p->txn) {
        db_seterr(d, "cannot start a transaction within a transaction");
        return BANTER_EDB;
    }
    int ret = ready(d);
    if (ret == 0)
        ret = command(d, "BEGIN");
    if (ret == BANTER_EDB && lost_alone(d)) /* nothing was started: start again */
        ret = ready(d) ? BANTER_EDB : command(d, "BEGIN");
    if (ret == 0)
        p->txn = true;
    return ret;
}

static int commit_locked(db *d)
{
    struct pgs *p = d->pg;
    if (!p->txn) {
        db_seterr(d, "cannot commit - no transaction is active");
        return BANTER_EDB;
    }
    int ret = ready(d);
    if (ret)
        return ret; /* still open (lost): db_rollback clears it */
    PGresult *r = PQexec(p->conn, "COMMIT");
    ret = check(d, r);
    /* An aborted transaction "commits" as ROLLBACK without an error. */
    if (ret == 0 && strcmp(PQcmdStatus(r), "COMMIT") != 0) {
        db_seterr(d, "the transaction was rolled back");
        ret = BANTER_EDB;
    }
    PQclear(r);
    if (!p->txn_lost)
        p->txn = false;
    return ret;
}

static void rollback_locked(db *d)
{
    struct pgs *p = d->pg;
    if (!p->txn)
        return;
    if (!p->txn_lost && PQstatus(p->conn) == CONNECTION_OK)
        (void)command(d, "ROLLBACK");
    p->txn = false;
    p->txn_lost = false;
}

int pgs_begin(db *d)
{
    pthread_mutex_lock(&d->pg->lock);
    int ret = begin_locked(d);
    pthread_mutex_unlock(&d->pg->lock);
    return ret;
}

int pgs_commit(db *d)
{
    pthread_mutex_lock(&d->pg->lock);
    int ret = commit_locked(d);
    pthread_mutex_unlock(&d->pg->lock);
    return ret;
}

void pgs_rollback(db *d)
{
    pthread_mutex_lock(&d->pg->lock);
    rollback_locked(d);
    pthread_mutex_unlock(&d->pg->lock);
}
