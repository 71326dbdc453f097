/* SPDX-License-Identifier: MIT */
/*
 * dbq.c - the database thread (see dbq.h).
 *
 * Two FIFO lists of jobs under one mutex: todo (submitted, work not run
 * yet) and done (work run, after not called yet). The database thread
 * takes jobs from the head of todo one at a time, runs their work outside
 * the lock and appends them to done, then wakes the loop with uv_async_send;
 * the async callback takes the whole done list and calls the afters in
 * order. One thread and two FIFOs keep work and afters in submission order.
 *
 * Threads: everything in a job is written by the thread that runs its
 * half; the mutex hands the job over in both directions. `pending` and
 * `closed` are touched by the loop thread only, `stop` under the mutex.
 */
#include "dbq.h"

#include <stdbool.h>
#include <stdlib.h>

typedef struct dbq_job dbq_job;
struct dbq_job {
    dbq_job *next;
    dbq_work_fn work;
    dbq_after_fn after;
    void *arg;
    int ret;
    char errmsg[DBQ_ERRMSG_LEN];
};

/* A FIFO of jobs. */
typedef struct jobq {
    dbq_job *head, **tail;
} jobq;

struct dbq {
    uv_async_t async; /* first: a pointer to the handle is a pointer to the queue */
    db *d;
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t cv; /* todo got a job, or stop was set */
    jobq todo, done;
    bool stop;      /* under mu: the thread ends once todo is empty */
    bool closed;    /* loop thread: dbq_free began, submit refused */
    size_t pending; /* loop thread: submitted, after not run yet */
};

static void jobq_init(jobq *l)
{
    l->head = NULL;
    l->tail = &l->head;
}

static void jobq_push(jobq *l, dbq_job *j)
{
    j->next = NULL;
    *l->tail = j;
    l->tail = &j->next;
}

/* The whole list, leaving it empty. */
static dbq_job *jobq_take(jobq *l)
{
    dbq_job *h = l->head;
    jobq_init(l);
    return h;
}

static void db_thread(void *arg)
{
    dbq *q = arg;
    uv_mutex_lock(&q->mu);
    for (;;) {
        while (!q->todo.head && !q->stop)
            uv_cond_wait(&q->cv, &q->mu);
        dbq_job *j = q->todo.head;
        if (!j)
            break; /* stop, and nothing left to do */
        q->todo.head = j->next;
        if (!q->todo.head)
            q->todo.tail = &q->todo.head;
        uv_mutex_unlock(&q->mu);
        j->ret = j->work(q->d, j->arg, j->errmsg);
        uv_mutex_lock(&q->mu);
        jobq_push(&q->done, j);
        /* Under the lock: dbq_free closes the handle only after the join. */
        (void)uv_async_send(&q->async);
    }
    uv_mutex_unlock(&q->mu);
}

/* Call the afters of a list of done jobs, in order, and free them. */
static void run_afters(dbq *q, dbq_job *j)
{
    while (j) {
        dbq_job *next = j->next;
        q->pending--;
        j->after(j->arg, j->ret, j->errmsg);
        free(j);
        j = next;
    }
}

static void on_async(uv_async_t *h)
{
    dbq *q = (dbq *)h;
    uv_mutex_lock(&q->mu);
    dbq_job *j = jobq_take(&q->done);
    uv_mutex_unlock(&q->mu);
    run_afters(q, j);
}

/* Let the thread finish what todo holds, and join it. */
static void stop_thread(dbq *q)
{
    uv_mutex_lock(&q->mu);
    q->stop = true;
    uv_cond_signal(&q->cv);
    uv_mutex_unlock(&q->mu);
    (void)uv_thread_join(&q->thread);
}

static void on_closed(uv_handle_t *h) { free((dbq *)h); }

int dbq_new(dbq **out, uv_loop_t *loop, db *d)
{
    *out = NULL;
    dbq *q = calloc(1, sizeof *q);
    if (!q)
        return BANTER_ENOMEM;
    q->d = d;
    jobq_init(&q->todo);
    jobq_init(&q->done);
    if (uv_mutex_init(&q->mu) != 0) {
        free(q);
        return BANTER_EIO;
    }
    if (uv_cond_init(&q->cv) != 0) {
        uv_mutex_destroy(&q->mu);
        free(q);
        return BANTER_EIO;
    }
    if (uv_thread_create(&q->thread, db_thread, q) != 0) {
        uv_cond_destroy(&q->cv);
        uv_mutex_destroy(&q->mu);
        free(q);
        return BANTER_EIO;
    }
    /* The handle last, so that no failure leaves one to close: the thread
     * only sends on it once it ran a job, and none was submitted yet. */
    if (uv_async_init(loop, &q->async, on_async) != 0) {
        stop_thread(q);
        uv_cond_destroy(&q->cv);
        uv_mutex_destroy(&q->mu);
        free(q);
        return BANTER_EIO;
    }
    *out = q;
    return 0;
}

int dbq_submit(dbq *q, dbq_work_fn work, dbq_after_fn after, void *arg)
{
    if (q->closed)
        return BANTER_ESTATE;
    dbq_job *j = malloc(sizeof *j);
    if (!j)
        return BANTER_ENOMEM;
    *j = (dbq_job){.work = work, .after = after, .arg = arg};
    q->pending++;
    uv_mutex_lock(&q->mu);
    jobq_push(&q->todo, j);
    uv_cond_signal(&q->cv);
    uv_mutex_unlock(&q->mu);
    return 0;
}

size_t dbq_pending(const dbq *q) { return q->pending; }

void dbq_free(dbq *q)
{
    if (!q || q->closed)
        return;
    q->closed = true;
    stop_thread(q);
    /* Every job's work ran; nothing else touches the lists now. */
    run_afters(q, jobq_take(&q->done));
    uv_cond_destroy(&q->cv);
    uv_mutex_destroy(&q->mu);
    uv_close((uv_handle_t *)&q->async, on_closed);
}
