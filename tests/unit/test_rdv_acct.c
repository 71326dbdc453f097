/* SPDX-License-Identifier: MIT */
/*
 * test_rdv_acct.c - admin commands of the running server through the
 * database thread (acct_submit, rendezvous/acct.h) on a real SQLite
 * database: the answers come on the loop thread in the order the requests
 * were submitted, the live halves see the core (online counts, sessions),
 * every request and refusal is in the audit log in that order, the loop
 * goes on while the database thread is busy (announce too: no command
 * makes the loop wait for the database), and nothing is taken once
 * the database thread stops. On PostgreSQL too when RDV_TEST_PG holds a
 * URL (tests/integration/test_rendezvous_pg.sh): rdv_dbtest.h.
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

#include "acct.h"
#include "db_admin.h"
#include "dbq.h"
#include "online.h"
#include "orgrevoke.h"

#define MAXREQ 16

struct answer {
    uint32_t id;
    bool ok;
    char error[BANTER_MAX_ERRCODE + 1];
    char text[1024];
    char data[1024];
    bool on_loop;
};

struct fixture {
    struct dbt t;
    uv_loop_t loop;
    uv_thread_t loop_thread;
    db *d;
    identity *id;
    core k;
    struct answer ans[MAXREQ];
    size_t nans;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    uint8_t seed[32] = {7};
    assert_non_null(f);
    dbt_make(&f->t, "acct");
    assert_int_equal(db_open(&f->d, f->t.path, NULL, 0), 0);
    assert_int_equal(identity_from_seed(&f->id, seed), 0);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->loop_thread = uv_thread_self();
    f->k.loop = &f->loop;
    f->loop.data = &f->k;
    f->k.db = f->d;
    f->k.id = f->id;
    f->k.log = stderr;
    f->k.started_ms = core_wall_ms();
    f->k.pub = 1u;
    assert_non_null(f->k.on = online_new());
    assert_int_equal(dbq_new(&f->k.dbq, &f->loop, f->d), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    dbq_free(f->k.dbq);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    orgrevoke_free(&f->k); /* a disable's or a delete's list */
    online_free(f->k.on);
    db_close(f->d);
    identity_free(f->id);
    dbt_remove(&f->t);
    free(f);
    return 0;
}

static void done(void *arg, int ret, adm_result *res)
{
    struct fixture *f = arg;
    assert_int_equal(ret, 0);
    assert_true(f->nans < MAXREQ);
    struct answer *a = &f->ans[f->nans++];
    a->id = res->id;
    a->ok = res->ok;
    a->on_loop = uv_thread_equal(&f->loop_thread, &(uv_thread_t){uv_thread_self()}) != 0;
    snprintf(a->error, sizeof a->error, "%s", res->error);
    snprintf(a->text, sizeof a->text, "%s", res->text ? res->text : "");
    snprintf(a->data, sizeof a->data, "%s", res->data ? res->data : "");
}

static void run_until(struct fixture *f, size_t n)
{
    while (f->nans < n)
        (void)uv_run(&f->loop, UV_RUN_ONCE);
}

static adm_request req(uint32_t id, adm_cmd cmd, const char *name)
{
    adm_request rq = {.id = id, .cmd = cmd};
    if (name) {
        rq.has |= ADM_BIT(ADM_A_NAME);
        snprintf(rq.name, sizeof rq.name, "%s", name);
    }
    return rq;
}

static int audit_row(void *ud, const db_audit *a)
{
    char *out = ud;
    size_t n = strlen(out);
    snprintf(out + n, 2048 - n, "%s %s|", a->cmd, a->result);
    return 0;
}

static void test_order_and_audit(void **state)
{
    struct fixture *f = *state;
    adm_request rq[10];
    rq[0] = req(1, ADM_USER_ADD, "ann");
    rq[0].has |= ADM_BIT(ADM_A_PASSWORD);
    snprintf(rq[0].password, sizeof rq[0].password, "a long secret");
    rq[1] = rq[0];
    rq[1].id = 2;
    snprintf(rq[1].name, sizeof rq[1].name, "bob");
    rq[2] = req(3, ADM_USER_SHOW, "ann");
    rq[3] = req(4, ADM_USER_DISABLE, "bob");
    rq[4] = req(5, ADM_USER_LIST, NULL);
    rq[5] = req(6, ADM_STATUS, NULL);
    rq[6] = req(7, ADM_USER_DELETE, "bob");
    rq[7] = req(8, ADM_SESSION_LIST, NULL);
    rq[8] = req(9, ADM_USER_SHOW, "bob");
    rq[9] = req(10, ADM_USER_ENABLE, "ann"); /* refused below */
    for (int i = 0; i < 10; i++)
        assert_int_equal(acct_submit(&f->k, "admin 12345", &rq[i], i == 9 ? "EPERM" : NULL,
                                     "an auditor key may only look", done, f),
                         0);
    run_until(f, 10);
    for (uint32_t i = 0; i < 10; i++) {
        assert_int_equal(f->ans[i].id, i + 1); /* in the order they were asked */
        assert_true(f->ans[i].on_loop);
    }
    assert_true(f->ans[0].ok);
    assert_non_null(strstr(f->ans[1].text, "added user bob"));
    /* The live half saw the core: the online line of a running server. */
    assert_true(f->ans[2].ok);
    assert_non_null(strstr(f->ans[2].text, "user       ann\n"));
    assert_non_null(strstr(f->ans[2].text, "online     0 devices\n"));
    assert_non_null(strstr(f->ans[3].text, "disabled user bob"));
    assert_non_null(strstr(f->ans[3].text, "0 live sessions ended"));
    assert_non_null(strstr(f->ans[4].data, "\"total\":2"));
    assert_true(f->ans[5].ok);
    assert_non_null(strstr(f->ans[5].text, "accounts     2, 0 online"));
    assert_true(f->ans[6].ok);
    assert_non_null(strstr(f->ans[7].data, "\"total\":0"));
    assert_false(f->ans[8].ok); /* deleted by the request before it */
    assert_string_equal(f->ans[8].error, "ENOENT");
    assert_false(f->ans[9].ok);
    assert_string_equal(f->ans[9].error, "EPERM");
    assert_string_equal(f->ans[9].text, "an auditor key may only look");
    /* The audit log, in the order asked: every request, the refusal too. */
    dbq_free(f->k.dbq);
    f->k.dbq = NULL;
    char *log = calloc(1, 2048);
    assert_non_null(log);
    assert_int_equal(db_audit_tail(f->d, 10, audit_row, log), 0);
    assert_string_equal(log, "user.add ok|user.add ok|user.show ok|user.disable ok|user.list ok|"
                             "status ok|user.delete ok|session.list ok|"
                             "user.show ENOENT: no user bob (`user list` shows them)|"
                             "user.enable EPERM: an auditor key may only look|");
    free(log);
    /* Stopped: nothing is taken, done never runs. */
    adm_request st = req(11, ADM_STATUS, NULL);
    assert_int_equal(acct_submit(&f->k, "admin 12345", &st, NULL, NULL, done, f), BANTER_ESTATE);
    assert_int_equal(f->nans, 10);
}

/* A job that holds the database thread until the test lets it go. */
static int hold_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    (void)d, (void)errmsg;
    uv_sem_wait(arg);
    return 0;
}

static void hold_after(void *arg, int ret, const char *errmsg)
{
    (void)arg, (void)ret, (void)errmsg;
}

static void test_loop_goes_on(void **state)
{
    struct fixture *f = *state;
    uv_sem_t sem;
    assert_int_equal(uv_sem_init(&sem, 0), 0);
    assert_int_equal(dbq_submit(f->k.dbq, hold_work, hold_after, &sem), 0);
    adm_request rq = req(1, ADM_USER_LIST, NULL);
    assert_int_equal(acct_submit(&f->k, "admin 12345", &rq, NULL, NULL, done, f), 0);
    /* The database thread is busy: the request waits, the loop does not. */
    for (int i = 0; i < 5; i++)
        (void)uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(f->nans, 0);
    assert_int_equal(dbq_pending(f->k.dbq), 2);
    uv_sem_post(&sem);
    run_until(f, 1);
    assert_true(f->ans[0].ok);
    assert_non_null(strstr(f->ans[0].text, "no users yet"));
    uv_sem_destroy(&sem);
}

/* A job that holds the database thread until the test opens the gate,
 * or GATE_MS went by (then something waited for it: the test fails). */
#define GATE_MS 10000

struct gate {
    uv_mutex_t mu;
    uv_cond_t cv;
    bool open, timed_out;
};

static int gate_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct gate *g = arg;
    (void)d, (void)errmsg;
    uv_mutex_lock(&g->mu);
    while (!g->open && !g->timed_out)
        g->timed_out = uv_cond_timedwait(&g->cv, &g->mu, GATE_MS * 1000000ull) == UV_ETIMEDOUT;
    uv_mutex_unlock(&g->mu);
    return 0;
}

static void on_tick(uv_timer_t *t) { *(int *)t->data += 1; }

/* announce: its database half is a job like every other; the loop does
 * not wait for it (it used to, on a condition variable). */
static void test_announce_loop_goes_on(void **state)
{
    struct fixture *f = *state;
    struct gate g = {0};
    assert_int_equal(uv_mutex_init(&g.mu), 0);
    assert_int_equal(uv_cond_init(&g.cv), 0);
    assert_int_equal(dbq_submit(f->k.dbq, gate_work, hold_after, &g), 0);
    adm_request rq = req(1, ADM_ANNOUNCE, NULL);
    rq.has |= ADM_BIT(ADM_A_TEXT);
    snprintf(rq.text, sizeof rq.text, "the canteen is closed on Friday");
    assert_int_equal(acct_submit(&f->k, "admin 12345", &rq, NULL, NULL, done, f), 0);
    /* Taken while the database thread is held: the loop goes on (its
     * timer fires), the answer waits for the job. */
    uv_timer_t t;
    int ticks = 0;
    assert_int_equal(uv_timer_init(&f->loop, &t), 0);
    t.data = &ticks;
    assert_int_equal(uv_timer_start(&t, on_tick, 0, 0), 0);
    for (int i = 0; i < 5; i++)
        (void)uv_run(&f->loop, UV_RUN_NOWAIT);
    uv_close((uv_handle_t *)&t, NULL);
    assert_int_equal(ticks, 1);
    assert_int_equal(f->nans, 0);
    uv_mutex_lock(&g.mu);
    bool waited = g.timed_out;
    g.open = true;
    uv_cond_signal(&g.cv);
    uv_mutex_unlock(&g.mu);
    assert_false(waited);
    run_until(f, 1);
    assert_true(f->ans[0].ok);
    assert_true(f->ans[0].on_loop);
    assert_non_null(strstr(f->ans[0].text, "announcement 1 to 0 devices of 0 people: 0 online"));
    assert_non_null(strstr(f->ans[0].data, "\"sent_now\":0"));
    dbq_free(f->k.dbq);
    f->k.dbq = NULL;
    char *log = calloc(1, 2048);
    assert_non_null(log);
    assert_int_equal(db_audit_tail(f->d, 10, audit_row, log), 0);
    assert_string_equal(log, "announce ok|");
    free(log);
    uv_cond_destroy(&g.cv);
    uv_mutex_destroy(&g.mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order_and_audit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loop_goes_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_announce_loop_goes_on, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
