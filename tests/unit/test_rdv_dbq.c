/* SPDX-License-Identifier: MIT */
/*
 * test_rdv_dbq.c - the database thread (rendezvous/dbq.h) on a real
 * database (SQLite, or PostgreSQL with RDV_TEST_PG: rdv_dbtest.h): work runs on another thread in
 * submission order, each after runs once on the loop thread in the same order with work's return
 * value and message, afters may submit more, dbq_free finishes the jobs
 * still queued and calls their afters, and a submit after dbq_free began
 * is refused.
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
#include <uv.h>

#include "rdv_dbtest.h"

#include "db.h"
#include "dbq.h"

#define FAKE_HASH "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo"
#define NJOBS     200

struct fixture {
    struct dbt t;
    uv_loop_t loop;
    db *d;
    dbq *q;
    uv_thread_t loop_thread;
    /* What the jobs saw, in the order they saw it. */
    int worked[NJOBS * 2];
    size_t nworked;
    int aftered[NJOBS * 2];
    int rets[NJOBS * 2];
    size_t naftered;
    bool work_off_loop;  /* every work ran on another thread */
    bool after_on_loop;  /* every after ran on the loop thread */
    int submit_in_after; /* what dbq_submit said inside an after (free test) */
};

struct job {
    struct fixture *f;
    int i;
    int chain; /* submit one more job from the after, with i + NJOBS */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    dbt_make(&f->t, "dbq");
    char err[256];
    assert_int_equal(db_open(&f->d, f->t.path, err, sizeof err), 0);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->loop_thread = uv_thread_self();
    f->work_off_loop = f->after_on_loop = true;
    f->submit_in_after = 1;
    assert_int_equal(dbq_new(&f->q, &f->loop, f->d), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    dbq_free(f->q);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0); /* the handle's close */
    assert_int_equal(uv_loop_close(&f->loop), 0);
    db_close(f->d);
    dbt_remove(&f->t);
    free(f);
    return 0;
}

/* Add account "uI"; the second time, db_user_add says 1. */
static int work_add(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct job *j = arg;
    struct fixture *f = j->f;
    uv_thread_t self = uv_thread_self();
    if (uv_thread_equal(&self, &f->loop_thread))
        f->work_off_loop = false;
    if (errmsg[0] != '\0')
        f->work_off_loop = false; /* "" on entry */
    f->worked[f->nworked++] = j->i;
    char name[32];
    snprintf(name, sizeof name, "u%d", j->i % NJOBS);
    return db_user_add(d, name, FAKE_HASH, false, 1);
}

static void after_add(void *arg, int ret, const char *errmsg);

static void after_add(void *arg, int ret, const char *errmsg)
{
    struct job *j = arg;
    struct fixture *f = j->f;
    uv_thread_t self = uv_thread_self();
    if (!uv_thread_equal(&self, &f->loop_thread) || !errmsg)
        f->after_on_loop = false;
    f->rets[f->naftered] = ret;
    f->aftered[f->naftered++] = j->i;
    if (j->chain) {
        j->chain = 0;
        j->i += NJOBS;
        int r = dbq_submit(f->q, work_add, after_add, j);
        if (f->submit_in_after == 1 || r != 0)
            f->submit_in_after = r;
        if (r == 0)
            return; /* j goes on */
    }
    free(j);
}

static struct job *job_new(struct fixture *f, int i, int chain)
{
    struct job *j = calloc(1, sizeof *j);
    assert_non_null(j);
    j->f = f;
    j->i = i;
    j->chain = chain;
    return j;
}

/* NJOBS jobs: work in order off the loop, afters in order on it. */
static void test_order(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < NJOBS; i++)
        assert_int_equal(dbq_submit(f->q, work_add, after_add, job_new(f, i, 0)), 0);
    assert_int_equal(dbq_pending(f->q), NJOBS);
    while (f->naftered < NJOBS)
        assert_true(uv_run(&f->loop, UV_RUN_ONCE) >= 0);
    assert_int_equal(dbq_pending(f->q), 0);
    assert_int_equal(f->nworked, NJOBS);
    for (int i = 0; i < NJOBS; i++) {
        assert_int_equal(f->worked[i], i);
        assert_int_equal(f->aftered[i], i);
        assert_int_equal(f->rets[i], 0);
    }
    assert_true(f->work_off_loop);
    assert_true(f->after_on_loop);
    /* The work was done in the database. */
    db_user u;
    assert_int_equal(db_user_get(f->d, "u0", &u, NULL), 0);
    assert_int_equal(db_user_get(f->d, "u199", &u, NULL), 0);
}

/* An after submits the next job; the second add of each name says 1. */
static void test_after_submits(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 10; i++)
        assert_int_equal(dbq_submit(f->q, work_add, after_add, job_new(f, i, 1)), 0);
    while (f->naftered < 20)
        assert_true(uv_run(&f->loop, UV_RUN_ONCE) >= 0);
    assert_int_equal(f->submit_in_after, 0);
    assert_int_equal(dbq_pending(f->q), 0);
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(f->aftered[i], (int)i);
        assert_int_equal(f->rets[i], 0);
    }
    /* The chained ones ran after every first one, in their order. */
    for (size_t i = 10; i < 20; i++) {
        assert_int_equal(f->aftered[i], (int)(i - 10) + NJOBS);
        assert_int_equal(f->rets[i], 1);
    }
}

struct get_job {
    int ret;
    char msg[DBQ_ERRMSG_LEN];
    bool done;
};

static int work_get_missing(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    (void)arg;
    db_user u;
    int r = db_user_get(d, "nobody", &u, NULL);
    snprintf(errmsg, DBQ_ERRMSG_LEN, "lookup: %s", r == BANTER_ENOENT ? "none" : "?");
    return r;
}

static void after_get(void *arg, int ret, const char *errmsg)
{
    struct get_job *g = arg;
    g->ret = ret;
    snprintf(g->msg, sizeof g->msg, "%s", errmsg);
    g->done = true;
}

/* A failure's code and message reach the after. */
static void test_error_reaches_after(void **state)
{
    struct fixture *f = *state;
    struct get_job g = {0};
    assert_int_equal(dbq_submit(f->q, work_get_missing, after_get, &g), 0);
    while (!g.done)
        assert_true(uv_run(&f->loop, UV_RUN_ONCE) >= 0);
    assert_int_equal(g.ret, BANTER_ENOENT);
    assert_string_equal(g.msg, "lookup: none");
}

/* A transaction in one job: rolled back, nothing stays. */
static int work_rollback(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    (void)arg;
    (void)errmsg;
    int r = db_begin(d);
    if (r == 0)
        r = db_user_add(d, "inside", FAKE_HASH, false, 1);
    db_rollback(d);
    return r;
}

static void test_transaction_in_job(void **state)
{
    struct fixture *f = *state;
    struct get_job g = {0};
    assert_int_equal(dbq_submit(f->q, work_rollback, after_get, &g), 0);
    while (!g.done)
        assert_true(uv_run(&f->loop, UV_RUN_ONCE) >= 0);
    assert_int_equal(g.ret, 0);
    db_user u;
    assert_int_equal(db_user_get(f->d, "inside", &u, NULL), BANTER_ENOENT);
}

/* dbq_free with jobs queued: every work runs, every after is called
 * before it returns (in order); a submit from an after, or after it, is
 * refused; the handle is freed in the next loop run (teardown). */
static void test_free_with_jobs_queued(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < NJOBS; i++)
        assert_int_equal(dbq_submit(f->q, work_add, after_add, job_new(f, i, i == 5)), 0);
    dbq_free(f->q);
    assert_int_equal(f->naftered, NJOBS);
    assert_int_equal(f->nworked, NJOBS);
    for (int i = 0; i < NJOBS; i++)
        assert_int_equal(f->aftered[i], i);
    assert_int_equal(f->submit_in_after, BANTER_ESTATE);
    assert_true(f->after_on_loop);
    assert_int_equal(dbq_pending(f->q), 0);
    struct get_job g = {0};
    assert_int_equal(dbq_submit(f->q, work_get_missing, after_get, &g), BANTER_ESTATE);
    dbq_free(f->q); /* twice is harmless until the loop runs */
    assert_false(g.done);
    db_user u;
    assert_int_equal(db_user_get(f->d, "u199", &u, NULL), 0);
}

/* Free with nothing submitted, and free of NULL. */
static void test_free_idle(void **state)
{
    struct fixture *f = *state;
    dbq_free(NULL);
    assert_int_equal(dbq_pending(f->q), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_after_submits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_reaches_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transaction_in_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_with_jobs_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_idle, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
