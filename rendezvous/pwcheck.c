/* SPDX-License-Identifier: MIT */
/* pwcheck.c - Argon2id checks in the libuv thread pool (see pwcheck.h). */
#include "pwcheck.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bcrypto.h"
#include "rvmsg.h"

struct pwcheck_req {
    uv_work_t work; /* work.data is the queue */
    pwcheck_req *next;
    pwcheck_done_fn fn; /* NULL once cancelled */
    void *owner;
    bool started; /* handed to the thread pool */
    int result;
    size_t len;
    char hash[BCRYPTO_PWHASH_STRLEN];
    char pw[RV_PASSWORD_MAX + 1];
};

struct pwcheck {
    uv_loop_t *loop;
    unsigned max_running, max_waiting;
    unsigned running, waiting;
    pwcheck_req *head, *tail; /* waiting, oldest first */
};

const char *pwcheck_dummy_hash(void)
{
    return "$argon2id$v=19$m=65536,t=2,p=1$Njkn4vIpLQHZ1mBe3uVr6Q$"
           "ICriJrk41f2iN59Tch7iUxhAZ0nIDV6gqAk/pr4wbZM";
}

pwcheck *pwcheck_new(uv_loop_t *loop, unsigned running, unsigned waiting)
{
    pwcheck *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->loop = loop;
    q->max_running = running ? running : 1;
    q->max_waiting = waiting;
    return q;
}

void pwcheck_free(pwcheck *q)
{
    if (!q)
        return;
    while (q->head) {
        pwcheck_req *r = q->head;
        q->head = r->next;
        bcrypto_wipe(r, sizeof *r);
        free(r);
    }
    free(q);
}

unsigned pwcheck_running(const pwcheck *q) { return q->running; }
unsigned pwcheck_waiting(const pwcheck *q) { return q->waiting; }

static void req_free(pwcheck_req *r)
{
    bcrypto_wipe(r, sizeof *r);
    free(r);
}

/* In a worker thread: the hash, then the password is wiped at once. */
static void on_work(uv_work_t *w)
{
    pwcheck_req *r = (pwcheck_req *)(void *)w;
    r->result = bcrypto_pwhash_verify(r->hash, r->pw, r->len) == 0 ? 0 : BANTER_EIDENTITY;
    bcrypto_wipe(r->pw, sizeof r->pw);
}

static void on_after_work(uv_work_t *w, int status);

/* Start waiting requests while there is room. (uv_queue_work fails only
 * for a NULL work callback: a bug.) */
static void pump(pwcheck *q)
{
    while (q->head && q->running < q->max_running) {
        pwcheck_req *r = q->head;
        q->head = r->next;
        if (!q->head)
            q->tail = NULL;
        q->waiting--;
        r->next = NULL;
        r->started = true;
        q->running++;
        if (uv_queue_work(q->loop, &r->work, on_work, on_after_work) != 0)
            abort();
    }
}

/* On the loop thread. The request is freed before the owner hears of it,
 * so the owner's callback may submit again or cancel nothing. */
static void on_after_work(uv_work_t *w, int status)
{
    pwcheck_req *r = (pwcheck_req *)(void *)w;
    pwcheck *q = r->work.data;
    pwcheck_done_fn fn = r->fn;
    void *owner = r->owner;
    int result = status == 0 ? r->result : BANTER_EIDENTITY;
    q->running--;
    req_free(r);
    if (fn)
        fn(owner, result);
    pump(q);
}

int pwcheck_submit(pwcheck *q, const char *hash, const char *pw, size_t len, pwcheck_done_fn fn,
                   void *owner, pwcheck_req **req)
{
    if (req)
        *req = NULL;
    if (q->waiting >= q->max_waiting)
        return 1;
    if (strlen(hash) >= BCRYPTO_PWHASH_STRLEN || len > RV_PASSWORD_MAX)
        return BANTER_EINVAL;
    pwcheck_req *r = calloc(1, sizeof *r);
    if (!r)
        return BANTER_ENOMEM;
    r->work.data = q;
    r->fn = fn;
    r->owner = owner;
    r->len = len;
    memcpy(r->hash, hash, strlen(hash) + 1);
    memcpy(r->pw, pw, len);
    if (q->tail)
        q->tail->next = r;
    else
        q->head = r;
    q->tail = r;
    q->waiting++;
    if (req)
        *req = r;
    pump(q);
    return 0;
}

void pwcheck_cancel(pwcheck_req *r)
{
    if (!r)
        return;
    r->fn = NULL;
    r->owner = NULL;
    if (r->started)
        return; /* on_after_work frees it */
    pwcheck *q = r->work.data;
    pwcheck_req **pp = &q->head, *prev = NULL;
    while (*pp && *pp != r) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = r->next;
        if (q->tail == r)
            q->tail = prev;
        q->waiting--;
    }
    req_free(r);
}
