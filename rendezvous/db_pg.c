/* SPDX-License-Identifier: MIT */
/* db_pg.c - an asynchronous PostgreSQL connection on libuv, and the schema
 * at start-up (see db_pg.h). */
#include "db_pg.h"

#include "banter_limits.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_ERRLEN 256

/* One queued statement; internal ones (LISTEN) have no owner callback. */
struct pg_query {
    struct pg_query *next;
    char *sql;
    int nparams;
    char **values;
    int *lengths;
    int *formats;
    bool binary;
    bool simple;   /* PQsendQuery: several statements, no parameters */
    bool internal; /* made by this module: dropped on a loss */
    db_pg_done_fn cb;
    void *ud;
    /* A batch (db_pg_batch): its statements (kids, by next), run between
     * BEGIN and COMMIT; phase and the statement in flight; each kid's
     * result kept until the COMMIT; the first failure's text. */
    struct pg_query *kids, *step;
    size_t nkids;
    int phase;
    PGresult *res;
    char *err;
    int prep;       /* its slot in db_pg.prep, or -1 */
    bool preparing; /* its PQsendPrepare is in flight */
};

enum { PH_BEGIN, PH_KIDS, PH_COMMIT, PH_ROLLBACK };

enum pg_state { PG_WAIT, PG_CONNECTING, PG_UP };

struct db_pg {
    uv_loop_t *loop;
    char *conninfo;
    db_pg_cbs cbs;
    void *ud;
    PGconn *conn;
    enum pg_state state;
    unsigned gen; /* bumped at every loss: a callback may have caused one */
    uv_poll_t *poll;
    int poll_fd;
    uv_timer_t *timer;
    struct pg_query *head, *tail, *inflight;
    size_t queued;
    PGresult *res; /* what the query in flight returned so far */
    char channels[BANTER_PG_CHANNELS_MAX][64];
    /* Statements prepared by their text: the first BANTER_PG_PREPARED_MAX
     * texts with parameters get a slot (named bt_sN); ready on this
     * connection (prepared again after a reconnection). */
    struct {
        char *sql;
        bool ready;
    } prep[BANTER_PG_PREPARED_MAX];
    size_t nprep;
    size_t nchannels;
    unsigned retry_ms;
    bool closing;
    int handles; /* libuv handles not closed yet */
};

static void set_msg(char *errmsg, size_t cap, const char *prefix, const char *text)
{
    if (!errmsg || !cap)
        return;
    snprintf(errmsg, cap, "%s%s", prefix, text ? text : "");
    size_t n = strlen(errmsg);
    while (n > 0 && (errmsg[n - 1] == '\n' || errmsg[n - 1] == ' '))
        errmsg[--n] = '\0';
}

/* PostgreSQL's notices (NOTICE: relation exists, skipping) are not ours to
 * print on stderr. */
static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void free_query(struct pg_query *q)
{
    if (!q)
        return;
    while (q->kids) {
        struct pg_query *k = q->kids;
        q->kids = k->next;
        free_query(k);
    }
    PQclear(q->res);
    free(q->err);
    for (int i = 0; q->values && i < q->nparams; i++)
        free(q->values[i]);
    free(q->values);
    free(q->lengths);
    free(q->formats);
    free(q->sql);
    free(q);
}

static void free_all(db_pg *p)
{
    for (size_t i = 0; i < p->nprep; i++)
        free(p->prep[i].sql);
    free(p->conninfo);
    free(p);
}

static void on_closed(uv_handle_t *h)
{
    db_pg *p = h->data;
    free(h);
    if (--p->handles == 0 && p->closing)
        free_all(p);
}

static void close_poll(db_pg *p)
{
    if (!p->poll)
        return;
    uv_close((uv_handle_t *)p->poll, on_closed);
    p->poll = NULL;
}

static void on_poll(uv_poll_t *h, int status, int events);
static void lost(db_pg *p, const char *why);

/* Tell a finished query's owner (a batch: each statement's owner, in
 * order, then the batch's), and free it. */
static void report(struct pg_query *q, int ret, const PGresult *res, const char *msg)
{
    for (struct pg_query *k = q->kids; k; k = k->next)
        if (k->cb)
            k->cb(k->ud, ret, ret ? NULL : k->res, ret ? msg : "");
    if (q->cb)
        q->cb(q->ud, ret, q->kids || ret ? NULL : res, msg);
    free_query(q);
}

/* Watch the connection's socket for events (UV_READABLE, UV_WRITABLE). */
static void watch(db_pg *p, int events)
{
    int fd = PQsocket(p->conn);
    if (fd < 0) {
        lost(p, "no socket");
        return;
    }
    if (p->poll && p->poll_fd != fd)
        close_poll(p);
    if (!p->poll) {
        uv_poll_t *h = calloc(1, sizeof *h);
        if (!h || uv_poll_init(p->loop, h, fd) != 0) {
            free(h);
            lost(p, "cannot watch the socket");
            return;
        }
        h->data = p;
        p->handles++;
        p->poll = h;
        p->poll_fd = fd;
    }
    if (uv_poll_start(p->poll, events, on_poll) != 0)
        lost(p, "cannot watch the socket");
}

static void start_connect(db_pg *p);

static void on_retry(uv_timer_t *t) { start_connect(t->data); }

/* Remove the internal queries from the queue (they are made anew). */
static void drop_internal(db_pg *p)
{
    struct pg_query **pp = &p->head;
    p->tail = NULL;
    while (*pp) {
        struct pg_query *q = *pp;
        if (q->internal) {
            *pp = q->next;
            p->queued--;
            free_query(q);
        } else {
            p->tail = q;
            pp = &q->next;
        }
    }
}

/* The connection failed or broke: fail the query in flight, keep the
 * others, try again later. */
static void lost(db_pg *p, const char *why)
{
    char msg[PG_ERRLEN];
    char reason[PG_ERRLEN];
    set_msg(reason, sizeof reason, "", why);
    set_msg(msg, sizeof msg, "connection lost: ", reason);
    p->gen++;
    close_poll(p);
    PQfinish(p->conn);
    p->conn = NULL;
    PQclear(p->res);
    p->res = NULL;
    p->state = PG_WAIT;
    drop_internal(p);
    struct pg_query *q = p->inflight;
    p->inflight = NULL;
    uv_timer_start(p->timer, on_retry, p->retry_ms, 0);
    p->retry_ms =
        p->retry_ms * 2 > BANTER_PG_RETRY_MAX_MS ? BANTER_PG_RETRY_MAX_MS : p->retry_ms * 2;
    if (q)
        report(q, BANTER_EDB, NULL, msg);
    if (p->cbs.down)
        p->cbs.down(p->ud, reason);
}

static void pump(db_pg *p);

/* The prepared-statement slot of sql (made when there is room), or -1. */
static int prep_slot(db_pg *p, const char *sql)
{
    for (size_t i = 0; i < p->nprep; i++)
        if (strcmp(p->prep[i].sql, sql) == 0)
            return (int)i;
    if (p->nprep >= BANTER_PG_PREPARED_MAX || !(p->prep[p->nprep].sql = strdup(sql)))
        return -1;
    p->prep[p->nprep].ready = false;
    return (int)p->nprep++;
}

/* Hand q's next statement to libpq (a batch: BEGIN, a statement, COMMIT
 * or ROLLBACK by its phase). 1 when sent. */
static int send_one(db_pg *p, struct pg_query *q)
{
    if (q->kids) {
        static const char *const fixed[] = {"BEGIN", NULL, "COMMIT", "ROLLBACK"};
        if (q->phase != PH_KIDS)
            return PQsendQuery(p->conn, fixed[q->phase]);
        q = q->step;
    }
    if (q->simple)
        return PQsendQuery(p->conn, q->sql);
    q->prep = prep_slot(p, q->sql);
    if (q->prep < 0)
        return PQsendQueryParams(p->conn, q->sql, q->nparams, NULL, (const char *const *)q->values,
                                 q->lengths, q->formats, q->binary ? 1 : 0);
    char name[16];
    snprintf(name, sizeof name, "bt_s%d", q->prep);
    q->preparing = !p->prep[q->prep].ready;
    if (q->preparing)
        return PQsendPrepare(p->conn, name, q->sql, q->nparams, NULL);
    return PQsendQueryPrepared(p->conn, name, q->nparams, (const char *const *)q->values,
                               q->lengths, q->formats, q->binary ? 1 : 0);
}

/* Send what libpq holds; then wait for the answer (and for more room). */
static void flush(db_pg *p)
{
    int r = PQflush(p->conn);
    if (r < 0)
        lost(p, PQerrorMessage(p->conn));
    else
        watch(p, r == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE);
}

static void on_listened(void *ud, int ret, const PGresult *res, const char *errmsg)
{
    db_pg *p = ud;
    (void)res;
    if (ret == 0 && p->cbs.up)
        p->cbs.up(p->ud);
    else if (ret && p->state == PG_UP)
        lost(p, errmsg); /* cannot listen: start over */
}

/* A new internal query: LISTEN on the channels (or on none), first in line. */
static int queue_listen(db_pg *p, size_t from, bool first, db_pg_done_fn cb)
{
    struct pg_query *q = calloc(1, sizeof *q);
    size_t cap = 16 + (p->nchannels - from) * 80;
    char *sql = malloc(cap);
    if (!q || !sql) {
        free(q);
        free(sql);
        return BANTER_ENOMEM;
    }
    size_t n = (size_t)snprintf(sql, cap, "SELECT 1");
    for (size_t i = from; i < p->nchannels; i++)
        n += (size_t)snprintf(sql + n, cap - n, ";LISTEN %s", p->channels[i]);
    q->sql = sql;
    q->simple = true;
    q->internal = true;
    q->cb = cb;
    q->ud = p;
    if (first) {
        q->next = p->head;
        p->head = q;
        if (!p->tail)
            p->tail = q;
    } else {
        if (p->tail)
            p->tail->next = q;
        else
            p->head = q;
        p->tail = q;
    }
    p->queued++;
    return 0;
}

static void connected(db_pg *p)
{
    if (PQsetnonblocking(p->conn, 1) != 0) {
        lost(p, PQerrorMessage(p->conn));
        return;
    }
    p->state = PG_UP;
    p->retry_ms = BANTER_PG_RETRY_MIN_MS;
    for (size_t i = 0; i < p->nprep; i++)
        p->prep[i].ready = false; /* a new session has none */
    if (queue_listen(p, 0, true, on_listened) != 0) {
        lost(p, "out of memory");
        return;
    }
    watch(p, UV_READABLE);
    pump(p);
}

static void connect_step(db_pg *p)
{
    switch (PQconnectPoll(p->conn)) {
    case PGRES_POLLING_READING:
        watch(p, UV_READABLE);
        break;
    case PGRES_POLLING_WRITING:
        watch(p, UV_WRITABLE);
        break;
    case PGRES_POLLING_OK:
        connected(p);
        break;
    default:
        lost(p, PQerrorMessage(p->conn));
        break;
    }
}

static void start_connect(db_pg *p)
{
    p->conn = PQconnectStart(p->conninfo);
    if (!p->conn) {
        lost(p, "out of memory");
        return;
    }
    if (PQstatus(p->conn) == CONNECTION_BAD) {
        lost(p, PQerrorMessage(p->conn));
        return;
    }
    PQsetNoticeProcessor(p->conn, quiet_notice, NULL);
    p->state = PG_CONNECTING;
    watch(p, UV_WRITABLE);
}

/* A batch's statement is done (ok, its result r, taken when kept; msg):
 * send the next one and return true, or false when the batch is over
 * (after its COMMIT, its ROLLBACK, or a failed BEGIN or COMMIT). */
static bool batch_next(db_pg *p, struct pg_query *q, bool ok, PGresult *r, const char *msg)
{
    if (PQstatus(p->conn) == CONNECTION_BAD)
        return false;
    switch (q->phase) {
    case PH_BEGIN:
        if (!ok)
            return false;
        PQclear(r);
        q->phase = PH_KIDS;
        q->step = q->kids;
        break;
    case PH_KIDS:
        if (ok) {
            q->step->res = r; /* kept until the COMMIT */
            q->step = q->step->next;
            if (!q->step)
                q->phase = PH_COMMIT;
        } else {
            q->err = strdup(msg);
            q->phase = PH_ROLLBACK;
            PQclear(r);
        }
        break;
    default:
        return false;
    }
    p->inflight = q;
    if (!send_one(p, q)) {
        lost(p, PQerrorMessage(p->conn));
        return true;
    }
    flush(p);
    return true;
}

/* The query in flight has all its results: report them, go on. */
static void finish(db_pg *p)
{
    struct pg_query *q = p->inflight;
    PGresult *r = p->res;
    char msg[PG_ERRLEN];
    p->inflight = NULL;
    p->res = NULL;
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
    if (!ok && PQstatus(p->conn) == CONNECTION_BAD)
        set_msg(msg, sizeof msg, "connection lost: ", PQerrorMessage(p->conn));
    else if (!ok)
        set_msg(msg, sizeof msg, "", r ? PQresultErrorMessage(r) : "no result");
    else
        msg[0] = '\0';
    struct pg_query *cur = !q->kids ? q : q->phase == PH_KIDS ? q->step : NULL;
    if (cur && cur->preparing) {
        cur->preparing = false;
        if (ok) { /* prepared: now run it */
            p->prep[cur->prep].ready = true;
            PQclear(r);
            p->inflight = q;
            if (!send_one(p, q))
                lost(p, PQerrorMessage(p->conn));
            else
                flush(p);
            return;
        }
    }
    if (q->kids && batch_next(p, q, ok, r, msg))
        return; /* the batch's next statement is in flight */
    unsigned gen = p->gen;
    if (q->kids && q->phase == PH_ROLLBACK)
        report(q, BANTER_EDB, NULL, q->err ? q->err : "rolled back");
    else
        report(q, ok ? 0 : BANTER_EDB, ok ? r : NULL, msg);
    PQclear(r);
    if (gen == p->gen && p->state == PG_UP)
        pump(p);
}

static void deliver_notifies(db_pg *p)
{
    unsigned gen = p->gen;
    PGnotify *n;
    while (gen == p->gen && p->conn && (n = PQnotifies(p->conn)) != NULL) {
        if (p->cbs.notify)
            p->cbs.notify(p->ud, n->relname, n->extra ? n->extra : "");
        PQfreemem(n);
    }
}

static void read_input(db_pg *p)
{
    unsigned gen = p->gen;
    if (!PQconsumeInput(p->conn)) {
        lost(p, PQerrorMessage(p->conn));
        return;
    }
    deliver_notifies(p);
    while (gen == p->gen && p->inflight && !PQisBusy(p->conn)) {
        PGresult *r = PQgetResult(p->conn);
        if (!r) {
            finish(p);
            continue;
        }
        ExecStatusType prev = p->res ? PQresultStatus(p->res) : PGRES_COMMAND_OK;
        if (prev == PGRES_COMMAND_OK || prev == PGRES_TUPLES_OK || prev == PGRES_EMPTY_QUERY) {
            PQclear(p->res);
            p->res = r; /* the last result, or the first error */
        } else {
            PQclear(r);
        }
    }
    if (gen == p->gen && p->conn && PQstatus(p->conn) == CONNECTION_BAD)
        lost(p, PQerrorMessage(p->conn));
    else if (gen == p->gen)
        deliver_notifies(p);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    db_pg *p = h->data;
    if (p->closing || h != p->poll)
        return;
    if (status < 0) {
        lost(p, uv_strerror(status));
        return;
    }
    if (p->state == PG_CONNECTING) {
        connect_step(p);
        return;
    }
    unsigned gen = p->gen;
    if (events & UV_WRITABLE)
        flush(p);
    if (gen == p->gen && (events & UV_READABLE))
        read_input(p);
}

/* Send the next query when none is in flight. */
static void pump(db_pg *p)
{
    while (p->state == PG_UP && !p->inflight && p->head) {
        struct pg_query *q = p->head;
        p->head = q->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        q->next = NULL;
        if (q->kids) {
            q->phase = PH_BEGIN;
            q->step = NULL;
        }
        int sent = send_one(p, q);
        if (sent) {
            p->inflight = q;
            flush(p);
            return;
        }
        if (PQstatus(p->conn) == CONNECTION_BAD) {
            q->next = p->head; /* never sent: first again after the loss */
            p->head = q;
            if (!p->tail)
                p->tail = q;
            p->queued++;
            lost(p, PQerrorMessage(p->conn));
            return;
        }
        char msg[PG_ERRLEN];
        set_msg(msg, sizeof msg, "", PQerrorMessage(p->conn));
        unsigned gen = p->gen;
        report(q, BANTER_EDB, NULL, msg);
        if (gen != p->gen)
            return;
    }
}

int db_pg_new(db_pg **out, uv_loop_t *loop, const char *conninfo, const db_pg_cbs *cbs, void *ud,
              char *errmsg, size_t cap)
{
    *out = NULL;
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    if (!opts) {
        set_msg(errmsg, cap, "bad PostgreSQL connection string: ", perr ? perr : "out of memory");
        int ret = perr ? BANTER_EINVAL : BANTER_ENOMEM;
        PQfreemem(perr);
        return ret;
    }
    PQconninfoFree(opts);
    db_pg *p = calloc(1, sizeof *p);
    uv_timer_t *t = calloc(1, sizeof *t);
    char *ci = strdup(conninfo);
    if (!p || !t || !ci) {
        free(p);
        free(t);
        free(ci);
        set_msg(errmsg, cap, "", "out of memory");
        return BANTER_ENOMEM;
    }
    p->loop = loop;
    p->conninfo = ci;
    if (cbs)
        p->cbs = *cbs;
    p->ud = ud;
    p->retry_ms = BANTER_PG_RETRY_MIN_MS;
    uv_timer_init(loop, t);
    t->data = p;
    p->timer = t;
    p->handles = 1;
    start_connect(p);
    *out = p;
    return 0;
}

void db_pg_free(db_pg *p)
{
    if (!p)
        return;
    p->closing = true;
    struct pg_query *q = p->inflight;
    p->inflight = NULL;
    if (q) {
        q->next = p->head;
        p->head = q;
    }
    while (p->head) {
        q = p->head;
        p->head = q->next;
        report(q, BANTER_EDB, NULL, "closed");
    }
    PQclear(p->res);
    close_poll(p);
    PQfinish(p->conn);
    uv_timer_stop(p->timer);
    uv_close((uv_handle_t *)p->timer, on_closed);
}

bool db_pg_is_up(const db_pg *p) { return p && p->state == PG_UP; }

/* A new statement with copies of its parameters, or NULL (*ret says why). */
static struct pg_query *query_new(const char *sql, int nparams, const char *const *values,
                                  const int *lengths, const int *formats, bool binary_results,
                                  db_pg_done_fn cb, void *ud, int *ret)
{
    *ret = BANTER_ETOOBIG;
    if (nparams < 0 || (unsigned)nparams > BANTER_PG_PARAMS_MAX)
        return NULL;
    *ret = BANTER_ENOMEM;
    struct pg_query *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->nparams = nparams;
    q->sql = strdup(sql);
    q->binary = binary_results;
    q->cb = cb;
    q->ud = ud;
    bool ok = q->sql != NULL;
    if (ok && nparams > 0) {
        size_t n = (size_t)nparams;
        q->values = calloc(n, sizeof *q->values);
        q->lengths = calloc(n, sizeof *q->lengths);
        q->formats = calloc(n, sizeof *q->formats);
        ok = q->values && q->lengths && q->formats;
        for (size_t i = 0; ok && i < n; i++) {
            if (!values[i])
                continue;
            bool bin = formats && formats[i] == 1;
            size_t len = bin ? (size_t)(lengths ? lengths[i] : 0) : strlen(values[i]);
            q->values[i] = malloc(len + 1);
            ok = q->values[i] != NULL;
            if (ok) {
                memcpy(q->values[i], values[i], len);
                q->values[i][len] = '\0';
                q->lengths[i] = (int)len;
                q->formats[i] = bin ? 1 : 0;
            }
        }
    }
    if (!ok) {
        free_query(q);
        return NULL;
    }
    *ret = 0;
    return q;
}

static void enqueue(db_pg *p, struct pg_query *q)
{
    if (p->tail)
        p->tail->next = q;
    else
        p->head = q;
    p->tail = q;
    p->queued++;
    pump(p);
}

int db_pg_query(db_pg *p, const char *sql, int nparams, const char *const *values,
                const int *lengths, const int *formats, bool binary_results, db_pg_done_fn cb,
                void *ud)
{
    int ret;
    if (p->queued >= BANTER_PG_QUEUE_MAX)
        return BANTER_EAGAIN;
    struct pg_query *q =
        query_new(sql, nparams, values, lengths, formats, binary_results, cb, ud, &ret);
    if (!q)
        return ret;
    enqueue(p, q);
    return 0;
}

struct db_pg_batch {
    struct pg_query *q; /* the batch entry; its kids in order */
    struct pg_query *last;
};

db_pg_batch *db_pg_batch_new(void)
{
    db_pg_batch *b = calloc(1, sizeof *b);
    if (b && !(b->q = calloc(1, sizeof *b->q))) {
        free(b);
        b = NULL;
    }
    return b;
}

void db_pg_batch_free(db_pg_batch *b)
{
    if (!b)
        return;
    free_query(b->q);
    free(b);
}

int db_pg_batch_add(db_pg_batch *b, const char *sql, int nparams, const char *const *values,
                    const int *lengths, const int *formats, bool binary_results, db_pg_done_fn cb,
                    void *ud)
{
    int ret;
    if (b->q->nkids >= BANTER_PG_BATCH_MAX)
        return BANTER_ETOOBIG;
    struct pg_query *k =
        query_new(sql, nparams, values, lengths, formats, binary_results, cb, ud, &ret);
    if (!k)
        return ret;
    if (b->last)
        b->last->next = k;
    else
        b->q->kids = k;
    b->last = k;
    b->q->nkids++;
    return 0;
}

int db_pg_batch_run(db_pg *p, db_pg_batch *b, db_pg_done_fn cb, void *ud)
{
    if (!b->q->kids)
        return BANTER_EINVAL;
    if (p->queued >= BANTER_PG_QUEUE_MAX)
        return BANTER_EAGAIN;
    struct pg_query *q = b->q;
    q->cb = cb;
    q->ud = ud;
    free(b);
    enqueue(p, q);
    return 0;
}

int db_pg_listen(db_pg *p, const char *channel)
{
    size_t n = strnlen(channel, 64);
    if (n == 0 || n > 63 || (channel[0] >= '0' && channel[0] <= '9'))
        return BANTER_EINVAL;
    for (size_t i = 0; i < n; i++) {
        char c = channel[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return BANTER_EINVAL;
    }
    for (size_t i = 0; i < p->nchannels; i++)
        if (strcmp(p->channels[i], channel) == 0)
            return 0;
    if (p->nchannels >= BANTER_PG_CHANNELS_MAX)
        return BANTER_ETOOBIG;
    memcpy(p->channels[p->nchannels], channel, n + 1);
    p->nchannels++;
    if (p->state != PG_UP)
        return 0; /* listened to when connected */
    int ret = queue_listen(p, p->nchannels - 1, false, NULL);
    if (ret) {
        p->nchannels--;
        return ret;
    }
    pump(p);
    return 0;
}

bool db_pg_is_url(const char *path)
{
    return path &&
           (strncmp(path, "postgresql://", 13) == 0 || strncmp(path, "postgres://", 11) == 0);
}

/* ---- the schema, at start-up (blocking) ---- */

static int exec(PGconn *c, const char *sql, int64_t *val, const char *what, char *errmsg,
                size_t cap)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int ret = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char text[PG_ERRLEN];
        set_msg(text, sizeof text, "", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
        if (errmsg && cap)
            snprintf(errmsg, cap, "%s: %s", what, text);
        ret = BANTER_EDB;
    } else if (val) {
        if (st == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
            *val = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        else
            ret = BANTER_EDB;
        if (ret)
            set_msg(errmsg, cap, what, ": no row");
    }
    PQclear(r);
    return ret;
}

/* Connect (blocking), BEGIN and take the schema lock (its key is
 * "banter" in ASCII, 0x62616e746572): instances started at once wait for
 * each other. NULL with errmsg on failure. */
static PGconn *connect_locked(const char *conninfo, char *errmsg, size_t cap)
{
    PGconn *c = PQconnectdb(conninfo);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        set_msg(errmsg, cap,
                "cannot connect to PostgreSQL: ", c ? PQerrorMessage(c) : "out of memory");
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    int ret = exec(c, "BEGIN", NULL, "begin", errmsg, cap);
    if (ret == 0)
        ret = exec(c, "SELECT pg_advisory_xact_lock(108170604471666)", NULL, "lock", errmsg, cap);
    if (ret) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

int db_pg_exec_locked(const char *conninfo, const char *sql, char *errmsg, size_t cap)
{
    PGconn *c = connect_locked(conninfo, errmsg, cap);
    if (!c)
        return BANTER_EDB;
    int ret = exec(c, sql, NULL, "setup", errmsg, cap);
    if (ret == 0)
        ret = exec(c, "COMMIT", NULL, "commit", errmsg, cap);
    PQfinish(c); /* without COMMIT: rolled back */
    return ret;
}

int db_pg_migrate(const char *conninfo, const char *const *migrations, int count, const char *who,
                  char *errmsg, size_t cap)
{
    int64_t version = 0;
    PGconn *c = connect_locked(conninfo, errmsg, cap);
    if (!c)
        return BANTER_EDB;
    int ret = exec(c,
                   "CREATE TABLE IF NOT EXISTS banter_schema ("
                   " id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);"
                   "INSERT INTO banter_schema (id, version) VALUES (1, 0)"
                   " ON CONFLICT (id) DO NOTHING",
                   NULL, "schema version table", errmsg, cap);
    if (ret == 0)
        ret = exec(c, "SELECT version FROM banter_schema WHERE id = 1", &version, "schema version",
                   errmsg, cap);
    if (ret == 0 && (version < 0 || version > count)) {
        if (errmsg && cap)
            snprintf(errmsg, cap,
                     "database schema version %" PRId64
                     " is not supported (this program knows up to %d): a newer %s made it",
                     version, count, who);
        ret = BANTER_EDB;
    }
    for (int64_t v = version; ret == 0 && v < count; v++) {
        char what[48];
        snprintf(what, sizeof what, "migration %" PRId64 " -> %" PRId64, v, v + 1);
        ret = exec(c, migrations[v], NULL, what, errmsg, cap);
    }
    if (ret == 0 && version < count) {
        char sql[80];
        snprintf(sql, sizeof sql, "UPDATE banter_schema SET version = %d WHERE id = 1", count);
        ret = exec(c, sql, NULL, "schema version", errmsg, cap);
    }
    if (ret == 0)
        ret = exec(c, "COMMIT", NULL, "commit", errmsg, cap);
    PQfinish(c); /* without COMMIT: rolled back */
    return ret;
}
