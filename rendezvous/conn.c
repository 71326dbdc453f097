/* SPDX-License-Identifier: MIT */
/* conn.c - one client connection: queueing, writing, closing (see conn.h). */
#include "conn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "config.h"
#include "contacts.h"
#include "mailbox.h"
#include "online.h"
#include "probe.h"
#include "rvbatch.h"
#include "slab.h"

/* Idle batch builders the core keeps for reuse (one per connection that
 * has output in a loop iteration; more are freed). */
#define CONN_BATCH_POOL 256u

struct conn_batch {
    conn_batch *next; /* on the core's pool */
    rvbatch b;
};

/* A write in flight: the request and its own copy of the bytes. */
typedef struct wreq {
    uv_write_t req; /* first: freed through the request pointer */
    uint8_t data[];
} wreq;
_Static_assert(offsetof(wreq, req) == 0, "wreq starts with its request");

void core_log(const core *k, const char *fmt, ...)
{
    va_list ap;
    fputs(SERVER_NAME ": ", k->log);
    va_start(ap, fmt);
    vfprintf(k->log, fmt, ap);
    va_end(ap);
    fputc('\n', k->log);
    fflush(k->log);
}

void core_debug(const core *k, const char *fmt, ...)
{
    va_list ap;
    if (k->log_level < CORE_LOG_DEBUG)
        return;
    fputs(SERVER_NAME ": debug: ", k->log);
    va_start(ap, fmt);
    vfprintf(k->log, fmt, ap);
    va_end(ap);
    fputc('\n', k->log);
    fflush(k->log);
}

core_limits core_limits_make(int64_t ttl_days, int64_t quota_messages, int64_t quota_mb,
                             int64_t sender_pct)
{
    core_limits l = {.ttl_ms = ttl_days * 24 * 3600 * 1000,
                     .quota_messages = quota_messages,
                     .quota_bytes = quota_mb * 1024 * 1024,
                     .sender_pct = sender_pct};
    l.sender_messages = config_share(l.quota_messages, sender_pct);
    l.sender_bytes = config_share(l.quota_bytes, sender_pct);
    return l;
}

int64_t core_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void conn_list_push(conn_list *l, conn *c)
{
    dlist_push_back(&l->l, c, offsetof(conn, list));
    l->n++;
}

void conn_list_remove(conn_list *l, conn *c)
{
    dlist_remove(&l->l, c, offsetof(conn, list));
    l->n--;
}

/* The dirty list is doubly linked through dirty_next and a back pointer
 * kept in the same place as a pointer to the previous "next" field. */
void conn_mark_dirty(conn *c)
{
    if (c->dirty || c->closing)
        return;
    core *k = conn_core(c);
    c->dirty = true;
    c->dirty_next = k->dirty;
    if (c->dirty_next)
        c->dirty_next->dirty_prevp = &c->dirty_next;
    c->dirty_prevp = &k->dirty;
    k->dirty = c;
}

static void unmark_dirty(conn *c)
{
    if (!c->dirty)
        return;
    *c->dirty_prevp = c->dirty_next;
    if (c->dirty_next)
        c->dirty_next->dirty_prevp = c->dirty_prevp;
    c->dirty_next = NULL;
    c->dirty_prevp = NULL;
    c->dirty = false;
}

/* ---- batching (conn.h) ---- */

static conn_batch *batch_get(core *k)
{
    conn_batch *ob = k->batch_pool;
    if (ob) {
        k->batch_pool = ob->next;
        k->batch_pooled--;
        return ob;
    }
    ob = malloc(sizeof *ob);
    if (ob)
        rvbatch_init(&ob->b);
    return ob;
}

static void batch_put(core *k, conn_batch *ob)
{
    if (!ob)
        return;
    rvbatch_reset(&ob->b);
    if (k->batch_pooled >= CONN_BATCH_POOL) {
        rvbatch_free(&ob->b);
        free(ob);
        return;
    }
    ob->next = k->batch_pool;
    k->batch_pool = ob;
    k->batch_pooled++;
}

void conn_batch_pool_free(core *k)
{
    while (k->batch_pool) {
        conn_batch *ob = k->batch_pool;
        k->batch_pool = ob->next;
        rvbatch_free(&ob->b);
        free(ob);
    }
    k->batch_pooled = 0;
}

/* Encrypt what c's batch holds into the session's output (one transport
 * message) and give the builder back: 0 or session_send's error. */
static int seal_batch(conn *c)
{
    conn_batch *ob = c->ob;
    if (!ob)
        return 0;
    size_t len;
    const uint8_t *pt = rvbatch_plaintext(&ob->b, &len);
    int r = pt ? session_send(c->s, pt, len) : 0;
    c->ob = NULL;
    batch_put(conn_core(c), ob);
    return r;
}

/* Queue one plaintext: encrypted at once, or collected in the batch. */
static int queue_pt(conn *c, const uint8_t *pt, size_t len)
{
    if (!c->batch)
        return session_send(c->s, pt, len);
    if (!c->ob && (c->ob = batch_get(conn_core(c))) == NULL)
        return BANTER_ENOMEM;
    int r = rvbatch_add(&c->ob->b, pt, len);
    if (r == BANTER_ETOOBIG || r == BANTER_EINVAL) {
        /* Full: seal it and start another. Too large for any batch: it
         * goes alone, after what was queued before it. */
        int full = r == BANTER_ETOOBIG;
        r = seal_batch(c);
        if (r == 0)
            r = full ? queue_pt(c, pt, len) : session_send(c->s, pt, len);
    }
    return r;
}

int conn_pool_new(core *k) { return slab_new(&k->conn_pool, sizeof(conn) + session_size()); }

void conn_pool_free(core *k)
{
    if (k->conn_pool && slab_used(k->conn_pool) > 0)
        core_log(k, "bug: %zu connection records still in use at exit", slab_used(k->conn_pool));
    slab_free(k->conn_pool);
    k->conn_pool = NULL;
}

conn *conn_new(core *k)
{
    conn *c = slab_get(k->conn_pool);
    if (c && uv_tcp_init(k->loop, &c->tcp) != 0) {
        slab_put(k->conn_pool, c);
        c = NULL;
    }
    return c;
}

int conn_start_session(conn *c, const session_config *sc)
{
    session *s = (session *)(void *)(c + 1);
    int r = session_init(s, sc);
    if (r == 0)
        c->s = s;
    return r;
}

void conn_free(conn *c)
{
    session_fini(c->s);
    free(c->clist_after);
    free(c->held);
    slab_put(conn_core(c)->conn_pool, c);
}

/* The record goes now, or with the last conn_release of a job. */
static void on_conn_closed(uv_handle_t *h)
{
    conn *c = (conn *)(void *)h;
    c->closed = true;
    if (c->holds == 0)
        conn_free(c);
}

void conn_hold(conn *c)
{
    if (c->holds == UINT16_MAX)
        abort(); /* a leak of holds: a broken invariant */
    c->holds++;
}

void conn_release(conn *c)
{
    if (c->holds == 0)
        abort(); /* released more often than held */
    if (--c->holds == 0 && c->closed)
        conn_free(c);
}

/* A request's job is done: its after, then c's next messages. */
static void job_after(void *arg, int ret, const char *errmsg)
{
    conn_job *h = arg;
    conn *c = h->c;
    h->after(c, arg, ret, errmsg); /* frees the job */
    conn_input_resume(c);
    conn_release(c);
}

void *conn_job_new(conn *c, size_t size)
{
    conn_job *h = size >= sizeof *h ? calloc(1, size) : NULL;
    if (!h) {
        conn_close(c, BANTER_ENOMEM, NULL);
        return NULL;
    }
    h->c = c;
    if (c->acct)
        snprintf(h->user, sizeof h->user, "%s", c->acct->name);
    return h;
}

int conn_job_submit(void *job, dbq_work_fn work, conn_after_fn after)
{
    conn_job *h = job;
    h->after = after;
    int r = core_job(conn_core(h->c), work, job_after, job);
    if (r == 0) {
        conn_hold(h->c);
        conn_input_hold(h->c);
    }
    return r;
}

void conn_close(conn *c, int err, const char *bye)
{
    if (c->closing)
        return;
    if (bye && session_established(c->s) && !c->writing && seal_batch(c) == 0) {
        msg m = {.type = MSG_BYE};
        snprintf(m.u.bye.reason, sizeof m.u.bye.reason, "%s", bye);
        size_t len;
        const uint8_t *p;
        if (session_send_msg(c->s, &m) == 0 && (p = session_out(c->s, &len)) != NULL) {
            uv_buf_t b = uv_buf_init((char *)p, (unsigned)len);
            (void)uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        }
    }
    if (err)
        conn_core(c)->errors++;
    if (conn_core(c)->log_level >= CORE_LOG_DEBUG) {
        char addr[CONN_ADDR_MAX];
        conn_addr(c, addr);
        core_debug(conn_core(c), "connection from %s closed: %s", addr,
                   err   ? banter_errname(err)
                   : bye ? bye
                         : "ok");
    }
    unmark_dirty(c);
    batch_put(conn_core(c), c->ob); /* what was not sealed is dropped with the connection */
    c->ob = NULL;
    c->closing = true; /* before the modules let go: nothing more is queued */
    auth_conn_gone(c);
    probe_conn_gone(c);
    conn_list_remove(c->live ? &conn_core(c)->live : &conn_core(c)->pending, c);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

size_t conn_queued(const conn *c)
{
    size_t len, pending = 0;
    (void)session_out(c->s, &len);
    if (c->ob)
        (void)rvbatch_plaintext(&c->ob->b, &pending);
    return len + pending + c->wbytes;
}

static void on_write(uv_write_t *req, int status);

/* Stop reading from a peer whose output piles up; read again once it
 * drained. */
static void backpressure(conn *c)
{
    size_t q = conn_queued(c);
    if (!c->paused && q >= CONN_OUT_HIGH) {
        if (uv_read_stop((uv_stream_t *)&c->tcp) == 0)
            c->paused = true;
    } else if (c->paused && q < CONN_OUT_LOW) {
        c->paused = false;
        if (c->input_holds == 0 && uv_is_active((uv_handle_t *)&c->tcp) == 0 &&
            uv_read_start((uv_stream_t *)&c->tcp, conn_on_alloc, conn_on_read) != 0)
            conn_close(c, BANTER_EIO, NULL);
    }
}

/*
 * Write what the session queued: directly as far as the socket takes it,
 * the rest from a copy owned by the write request. (libuv needs the bytes
 * until the write completes, and the session's buffer may move when more is
 * queued meanwhile, so it never gets a pointer into it.) At most one write
 * is in flight; its callback flushes again.
 */
static void conn_flush(conn *c)
{
    size_t len;
    const uint8_t *p;
    if (c->writing || c->closing)
        return; /* a batch grows on until the write completes */
    int r = seal_batch(c);
    if (r) {
        conn_close(c, r, NULL);
        return;
    }
    if ((p = session_out(c->s, &len)) == NULL)
        return;
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)len);
    r = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (r < 0 && r != UV_EAGAIN) {
        conn_close(c, BANTER_EIO, NULL);
        return;
    }
    if (r > 0)
        session_out_consume(c->s, (size_t)r);
    if ((p = session_out(c->s, &len)) == NULL) {
        session_trim(c->s); /* an idle connection keeps no buffer */
        return;
    }
    wreq *w = malloc(sizeof *w + len);
    if (!w) {
        conn_close(c, BANTER_ENOMEM, NULL);
        return;
    }
    memcpy(w->data, p, len);
    session_out_consume(c->s, len);
    b = uv_buf_init((char *)w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
        free(w);
        conn_close(c, BANTER_EIO, NULL);
        return;
    }
    c->writing = true;
    c->wbytes = (uint32_t)len;
    backpressure(c);
}

/* Runs before the conn's close callback when the conn is closed with a
 * write in flight (status UV_ECANCELED), so c is valid here. */
static void on_write(uv_write_t *req, int status)
{
    conn *c = (conn *)(void *)req->handle;
    free(req);
    c->writing = false;
    c->wbytes = 0;
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c, BANTER_EIO, NULL);
        return;
    }
    conn_flush(c);
    if (c->closing)
        return;
    backpressure(c);
    if (!conn_busy(c)) {
        /* Room again: what was held back may go on. */
        contacts_continue(c);
        mailbox_wake(c);
    }
}

void conn_flush_dirty(core *k)
{
    while (k->dirty) {
        conn *c = k->dirty;
        unmark_dirty(c);
        conn_flush(c);
    }
}

void conn_send_pt(conn *c, const uint8_t *pt, size_t len)
{
    if (c->closing)
        return;
    int r = queue_pt(c, pt, len);
    if (r) {
        /* BANTER_ETOOBIG here is the output cap: the peer does not read. */
        conn_close(c, r, NULL);
        return;
    }
    conn_mark_dirty(c);
}

void conn_send(conn *c, const msg *m)
{
    if (c->closing)
        return;
    int r;
    if (c->batch) {
        buf b;
        buf_init(&b, BANTER_MAX_PLAINTEXT);
        r = msg_encode(m, &b);
        if (r == 0)
            r = queue_pt(c, buf_data(&b), buf_len(&b));
        buf_free(&b);
    } else {
        r = session_send_msg(c->s, m);
    }
    if (r) {
        conn_close(c, r, NULL);
        return;
    }
    conn_mark_dirty(c);
}

void conn_error(conn *c, const char *code, const char *why)
{
    msg e = {.type = MSG_ERROR};
    snprintf(e.u.error.code, sizeof e.u.error.code, "%s", code);
    snprintf(e.u.error.message, sizeof e.u.error.message, "%s", why);
    conn_send(c, &e);
}

void conn_refuse(conn *c, const char *code, const char *why)
{
    conn_error(c, code, why);
    if (!c->closing && ++c->refused > CONN_MAX_REFUSED)
        conn_close(c, BANTER_EPROTO, "too many refused messages");
}

void conn_send_rv(conn *c, const rvmsg *m)
{
    if (c->closing)
        return;
    buf b;
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    int r = rvmsg_encode(m, &b);
    if (r) {
        core_log(conn_core(c), "cannot encode message type %02x: %s", (unsigned)m->type,
                 banter_strerror(r));
        conn_error(c, banter_errname(r), "the server cannot encode its answer");
    } else {
        conn_send_pt(c, buf_data(&b), buf_len(&b));
    }
    buf_free(&b);
}

int conn_peer(conn *c, struct sockaddr_storage *out)
{
    int len = (int)sizeof *out;
    memset(out, 0, sizeof *out);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)out, &len) != 0) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    return 0;
}

void conn_addr(conn *c, char out[static CONN_ADDR_MAX])
{
    struct sockaddr_storage ss;
    snprintf(out, CONN_ADDR_MAX, "?");
    if (conn_peer(c, &ss) != 0)
        return;
    if (ss.ss_family == AF_INET6)
        (void)uv_ip6_name((const struct sockaddr_in6 *)(const void *)&ss, out, CONN_ADDR_MAX);
    else
        (void)uv_ip4_name((const struct sockaddr_in *)(const void *)&ss, out, CONN_ADDR_MAX);
}
