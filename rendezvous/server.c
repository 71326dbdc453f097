/* SPDX-License-Identifier: MIT */
/* server.c - the rendezvous event loop (see server.h). */
#include "server.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <uv.h>

#include "config.h"
#include "msg.h"
#include "pwcheck.h"
#include "ratelimit.h"
#include "rvmsg.h"
#include "session.h"

#define READ_BUF 65536

typedef struct server server;
typedef struct conn conn;
typedef struct login login;

/* Connections in the order they were appended; O(1) removal. */
typedef struct conn_list {
    conn *head, *tail;
    size_t n;
} conn_list;

/*
 * One connection. Kept small: the server is meant to hold tens of
 * thousands. While it is not closing it is on exactly one list: pending
 * (in accept order) until the peer's HELLO, then live (in order of the last
 * byte received).
 */
struct conn {
    uv_tcp_t tcp; /* first: a pointer to the handle is a pointer to the conn */
    server *srv;
    session *s;
    conn *prev, *next;
    char *user;      /* the account, once authenticated (owned), else NULL */
    login *login;    /* the RV_LOGIN whose password is being checked, or NULL */
    uint64_t since;  /* loop ms: the accept (pending), the last byte (live) */
    uint8_t refused; /* messages refused so far */
    bool live;       /* the peer's HELLO arrived: on srv->live, else on srv->pending */
    bool pinged;     /* a keepalive PING went out since the last byte */
    bool writing;    /* a uv_write is in flight */
    bool closing;    /* uv_close was called (or it was never set up): on no list */
    bool admin;      /* with user: the account is an admin */
};
_Static_assert(offsetof(conn, tcp) == 0, "conn starts with its handle");

/* A write in flight: the request and its own copy of the bytes. */
typedef struct wreq {
    uv_write_t req; /* first: freed through the request pointer */
    uint8_t data[];
} wreq;
_Static_assert(offsetof(wreq, req) == 0, "wreq starts with its request");

/* Counters since the last stats line. */
struct stats {
    uint64_t accepted, refused, timeouts, idle, errors;
};

enum { H_LISTENER = 1, H_TICK = 2, H_SIGINT = 4, H_SIGTERM = 8 };

struct server {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_timer_t tick;
    uv_signal_t sigint, sigterm;
    unsigned handles; /* H_* of the handles initialised and not closed */
    server_config cfg;
    conn_list pending, live;
    pwcheck *pw;   /* password checks in the thread pool */
    ratelimit *rl; /* login backoff per account and address */
    struct stats st;
    size_t last_pending, last_live;
    uint64_t last_stats;
    int err; /* why it stopped, 0 for a signal */
    bool stopping;
    char addr[CONFIG_LISTEN_MAX + 8];
    uint8_t rbuf[READ_BUF]; /* every read lands here: callbacks never nest */
};

size_t server_conn_size(void) { return sizeof(conn); }

__attribute__((format(printf, 2, 3))) static void slog(const server *srv, const char *fmt, ...)
{
    va_list ap;
    fputs(SERVER_NAME ": ", srv->cfg.log);
    va_start(ap, fmt);
    vfprintf(srv->cfg.log, fmt, ap);
    va_end(ap);
    fputc('\n', srv->cfg.log);
    fflush(srv->cfg.log);
}

/* ---- lists ---- */

static void list_push(conn_list *l, conn *c)
{
    c->prev = l->tail;
    c->next = NULL;
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
    l->n++;
}

static void list_remove(conn_list *l, conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
    l->n--;
}

/* ---- one connection ---- */

static void auth_drop(conn *c);
static void conn_auth_device(conn *c);

static void on_conn_closed(uv_handle_t *h)
{
    conn *c = (conn *)(void *)h;
    session_free(c->s);
    free(c->user);
    free(c);
}

/*
 * Stop all I/O on c; it is freed in its close callback, never here. With
 * bye, an established session first says BYE with that reason, if the
 * socket takes it at once (best effort: the peer notices the close anyway).
 * err (0 or BANTER_E*) only feeds the counters. Safe to call twice.
 */
static void conn_close(conn *c, int err, const char *bye)
{
    if (c->closing)
        return;
    if (bye && session_established(c->s) && !c->writing) {
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
        c->srv->st.errors++;
    auth_drop(c);
    c->closing = true;
    list_remove(c->live ? &c->srv->live : &c->srv->pending, c);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_write(uv_write_t *req, int status);

/*
 * Write what the session queued: directly as far as the socket takes it,
 * the rest from a copy owned by the write request. (libuv needs the bytes
 * until the write completes, and the session's buffer may move when more is
 * queued meanwhile - a PONG, a keepalive - so it never gets a pointer into
 * it.) At most one write is in flight; its callback flushes again.
 */
static void conn_flush(conn *c)
{
    size_t len;
    const uint8_t *p;
    if (c->writing || c->closing || (p = session_out(c->s, &len)) == NULL)
        return;
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)len);
    int r = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (r < 0 && r != UV_EAGAIN) {
        conn_close(c, BANTER_EIO, NULL);
        return;
    }
    if (r > 0)
        session_out_consume(c->s, (size_t)r);
    if ((p = session_out(c->s, &len)) == NULL)
        return;
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
}

/* Runs before the conn's close callback when the conn is closed with a
 * write in flight (status UV_ECANCELED), so c is valid here. */
static void on_write(uv_write_t *req, int status)
{
    conn *c = (conn *)(void *)req->handle;
    free(req);
    c->writing = false;
    if (c->closing)
        return;
    if (status < 0)
        conn_close(c, BANTER_EIO, NULL);
    else
        conn_flush(c);
}

/* Queue m; a peer whose output queue is full is not reading: drop it. */
static void conn_send(conn *c, const msg *m)
{
    int r = session_send_msg(c->s, m);
    if (r)
        conn_close(c, r, NULL);
}

static void conn_refuse(conn *c, int err, const char *why)
{
    msg e = {.type = MSG_ERROR};
    snprintf(e.u.error.code, sizeof e.u.error.code, "%s", banter_errname(err));
    snprintf(e.u.error.message, sizeof e.u.error.message, "%s", why);
    conn_send(c, &e);
    if (!c->closing && ++c->refused > SERVER_MAX_REFUSED)
        conn_close(c, BANTER_EPROTO, "too many refused messages");
}

/* The handshake is done: say HELLO. The peer stays pending until its own
 * HELLO arrives, within the same deadline. */
static void conn_established(conn *c)
{
    msg h = {.type = MSG_HELLO};
    h.u.hello.version = SESSION_VERSION;
    snprintf(h.u.hello.name, sizeof h.u.hello.name, "%s", SERVER_NAME);
    snprintf(h.u.hello.features[0], sizeof h.u.hello.features[0], "%s", SERVER_FEATURE);
    h.u.hello.nfeatures = 1;
    conn_send(c, &h);
}

/* The peer's HELLO: the connection is live (off the pending list and its
 * handshake deadline, under keepalive from now). */
static void conn_hello(conn *c)
{
    server *srv = c->srv;
    list_remove(&srv->pending, c);
    c->live = true;
    c->since = uv_now(&srv->loop);
    list_push(&srv->live, c);
    conn_auth_device(c);
}

/* ---- authentication and the directory (docs/rendezvous.md 3, 4) ---- */

#define CERT_TTL_MS (30LL * 24 * 3600 * 1000)
#define PW_RUNNING  2u  /* Argon2id checks at once, server-wide */
#define PW_WAITING  64u /* checks waiting; more are refused with EBUSY */
#define ADDR_MAX    64

/* An RV_LOGIN whose password is being checked. Owned by its conn (freed by
 * the conn's close or by the check's answer). */
struct login {
    conn *c;
    pwcheck_req *req;
    bool known, disabled, admin;
    char user[BANTER_MAX_NAME + 1];
    char addr[ADDR_MAX];
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The peer's address without the port ("?" when unknown). */
static void conn_addr(conn *c, char out[static ADDR_MAX])
{
    struct sockaddr_storage ss;
    int len = (int)sizeof ss;
    snprintf(out, ADDR_MAX, "?");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET6)
        (void)uv_ip6_name((const struct sockaddr_in6 *)(const void *)&ss, out, ADDR_MAX);
    else
        (void)uv_ip4_name((const struct sockaddr_in *)(const void *)&ss, out, ADDR_MAX);
}

static void conn_error(conn *c, const char *code, const char *why)
{
    msg e = {.type = MSG_ERROR};
    snprintf(e.u.error.code, sizeof e.u.error.code, "%s", code);
    snprintf(e.u.error.message, sizeof e.u.error.message, "%s", why);
    conn_send(c, &e);
}

/* Queue an rvmsg; one the codec refuses (a bug, or a stored value it does
 * not accept) is reported to the peer as an ERROR instead. */
static void conn_send_rv(conn *c, const rvmsg *m)
{
    buf b;
    buf_init(&b, SERVER_OUT_CAP);
    int r = rvmsg_encode(m, &b);
    if (r) {
        slog(c->srv, "cannot encode message type %02x: %s", (unsigned)m->type, banter_strerror(r));
        conn_error(c, banter_errname(r), "the server cannot encode its answer");
    } else if ((r = session_send(c->s, buf_data(&b), buf_len(&b))) != 0) {
        conn_close(c, r, NULL);
    }
    buf_free(&b);
}

static void send_auth_fail(conn *c, const char *code, int64_t retry_after_ms)
{
    rvmsg a = {.type = RV_AUTH};
    snprintf(a.u.auth.error, sizeof a.u.auth.error, "%s", code);
    a.u.auth.retry_after_ms = retry_after_ms;
    conn_send_rv(c, &a);
}

/* c is now the account name: RV_AUTH ok, then a fresh certificate. */
static void conn_authenticated(conn *c, const char *name, bool admin)
{
    rvmsg a = {.type = RV_AUTH, .u.auth = {.ok = true, .admin = admin}};
    char *dup = strdup(name);
    if (!dup) {
        conn_close(c, BANTER_ENOMEM, NULL);
        return;
    }
    free(c->user);
    c->user = dup;
    c->admin = admin;
    snprintf(a.u.auth.user, sizeof a.u.auth.user, "%s", name);
    conn_send_rv(c, &a);
    rvmsg cm = {.type = RV_CERT};
    int r =
        cert_issue(&cm.u.cert, c->srv->cfg.id, session_peer(c->s), name, wall_ms(), CERT_TTL_MS);
    if (r == 0)
        conn_send_rv(c, &cm);
    else
        slog(c->srv, "cannot issue a certificate for %s: %s", name, banter_strerror(r));
}

/* After HELLO: a device bound to an enabled account is logged in by its
 * key; one bound to a disabled account is told so; others hear nothing. */
static void conn_auth_device(conn *c)
{
    db_user u;
    int r = db_device_user(c->srv->cfg.db, session_peer(c->s), &u);
    if (r == BANTER_ENOENT)
        return;
    if (r) {
        slog(c->srv, "database: %s", db_errmsg(c->srv->cfg.db));
        return;
    }
    if (u.disabled)
        send_auth_fail(c, "EDISABLED", 0);
    else
        conn_authenticated(c, u.name, u.admin);
}

/* The conn is closing: forget its login (the check, if running, finishes
 * in the pool and is dropped). */
static void auth_drop(conn *c)
{
    if (!c->login)
        return;
    pwcheck_cancel(c->login->req);
    free(c->login);
    c->login = NULL;
}

static void rl_keys(const char *user, const char *addr, char uk[static RL_KEY_MAX],
                    char ak[static RL_KEY_MAX])
{
    snprintf(uk, RL_KEY_MAX, "u:%s", user);
    snprintf(ak, RL_KEY_MAX, "a:%s", addr);
}

/* The password check of lg is done (on the loop thread, from the pool's
 * after-work callback: the conn is alive, else lg was cancelled). */
static void on_login_checked(void *owner, int result)
{
    login *lg = owner;
    conn *c = lg->c;
    server *srv = c->srv;
    char uk[RL_KEY_MAX], ak[RL_KEY_MAX];
    c->login = NULL;
    rl_keys(lg->user, lg->addr, uk, ak);
    bool ok = result == 0 && lg->known && !lg->disabled;
    int r = ok ? db_device_bind(srv->cfg.db, session_peer(c->s), lg->user, wall_ms()) : 0;
    if (ok && r == 0) {
        rl_reset(srv->rl, uk);
        rl_reset(srv->rl, ak);
        slog(srv, "login ok for %s from %s", lg->user, lg->addr);
        conn_authenticated(c, lg->user, lg->admin);
    } else if (ok) {
        slog(srv, "login failed for %s from %s: database: %s", lg->user, lg->addr,
             db_errmsg(srv->cfg.db));
        conn_error(c, banter_errname(r), "the server cannot store the device");
    } else {
        bool disabled = result == 0 && lg->known;
        rl_fail(srv->rl, ak, (int64_t)uv_now(&srv->loop));
        slog(srv, "login failed for %s from %s: %s", lg->user, lg->addr,
             disabled    ? "account disabled"
             : lg->known ? "wrong password"
                         : "no such account");
        send_auth_fail(c, disabled ? "EDISABLED" : "EPASSWORD", 0);
    }
    free(lg);
    conn_flush(c);
}

/* Look the account up and queue the check (unknown accounts against the
 * dummy hash). 0, or the ERROR code to answer with. */
static const char *login_submit(conn *c, login *lg, const struct rv_login *l)
{
    server *srv = c->srv;
    char hash[BCRYPTO_PWHASH_STRLEN];
    db_user u;
    int r = db_user_get(srv->cfg.db, lg->user, &u, hash);
    if (r == 0) {
        lg->known = true;
        lg->disabled = u.disabled;
        lg->admin = u.admin;
    } else if (r == BANTER_ENOENT) {
        snprintf(hash, sizeof hash, "%s", pwcheck_dummy_hash());
    } else {
        slog(srv, "login failed for %s from %s: database: %s", lg->user, lg->addr,
             db_errmsg(srv->cfg.db));
        return banter_errname(r);
    }
    r = pwcheck_submit(srv->pw, hash, l->password, strlen(l->password), on_login_checked, lg,
                       &lg->req);
    if (r == 1)
        slog(srv, "login refused for %s from %s: %u logins waiting", lg->user, lg->addr,
             pwcheck_waiting(srv->pw));
    return r == 1 ? "EBUSY" : r ? banter_errname(r) : NULL;
}

/*
 * RV_LOGIN: refused at once while the account or the address is backing
 * off (ERATE); otherwise the password is checked in the pool. The attempt
 * counts as a failure of the account from the moment it is queued (so
 * parallel guesses for one account wait their turn), of the address when it
 * failed; a success forgets both.
 */
static void conn_login(conn *c, const struct rv_login *l)
{
    server *srv = c->srv;
    char uk[RL_KEY_MAX], ak[RL_KEY_MAX];
    if (c->login) {
        conn_error(c, "EBUSY", "a login is already being checked on this connection");
        return;
    }
    login *lg = calloc(1, sizeof *lg);
    if (!lg) {
        conn_close(c, BANTER_ENOMEM, NULL);
        return;
    }
    snprintf(lg->user, sizeof lg->user, "%s", l->user);
    conn_addr(c, lg->addr);
    rl_keys(lg->user, lg->addr, uk, ak);
    int64_t now = (int64_t)uv_now(&srv->loop);
    int64_t wait = rl_check(srv->rl, uk, now), wa = rl_check(srv->rl, ak, now);
    const char *err = NULL;
    if (wa > wait)
        wait = wa;
    if (wait > 0) {
        slog(srv, "login failed for %s from %s: too many failures, retry in %lld ms", lg->user,
             lg->addr, (long long)wait);
        send_auth_fail(c, "ERATE", wait);
    } else if ((err = login_submit(c, lg, l)) != NULL) {
        conn_error(c, err,
                   strcmp(err, "EBUSY") == 0 ? "too many logins waiting: try again"
                                             : "the server cannot check the login");
    } else {
        rl_fail(srv->rl, uk, now);
        lg->c = c;
        c->login = lg;
        return;
    }
    free(lg);
}

static void conn_logout(conn *c)
{
    if (c->user) {
        int r = db_device_unbind(c->srv->cfg.db, session_peer(c->s));
        if (r < 0)
            slog(c->srv, "database: %s", db_errmsg(c->srv->cfg.db));
        free(c->user);
        c->user = NULL;
        c->admin = false;
    }
    send_auth_fail(c, "ELOGGEDOUT", 0);
}

static void conn_profile_set(conn *c, const struct rv_profile *p)
{
    int r = db_profile_set(c->srv->cfg.db, c->user, p, wall_ms());
    if (r == BANTER_EINVAL)
        conn_error(c, "ETOOLONG", "a profile field is too long");
    else if (r)
        conn_error(c, banter_errname(r), "the server cannot store the profile");
}

static void conn_search(conn *c, const struct rv_search *q)
{
    rvmsg res = {.type = RV_SEARCH_RESULT};
    int r = db_search(c->srv->cfg.db, q, &res.u.result);
    if (r) {
        if (r != BANTER_EINVAL)
            slog(c->srv, "search: database: %s", db_errmsg(c->srv->cfg.db));
        conn_error(c, banter_errname(r), "the search failed");
    } else {
        conn_send_rv(c, &res);
    }
    rvmsg_clear(&res);
}

/* One rendezvous message (the type byte is the codec's) from a live peer. */
static void conn_rv_message(conn *c, const uint8_t *pt, size_t len)
{
    rvmsg m;
    int r = rvmsg_decode(&m, pt, len);
    if (r) {
        conn_refuse(c, r, "message refused");
        return;
    }
    bool needs_auth = m.type == RV_PROFILE_SET || m.type == RV_SEARCH;
    if (needs_auth && !c->user) {
        conn_error(c, "EAUTH", "log in first");
        if (!c->closing && ++c->refused > SERVER_MAX_REFUSED)
            conn_close(c, BANTER_EPROTO, "too many refused messages");
    } else if (m.type == RV_LOGIN) {
        conn_login(c, &m.u.login);
    } else if (m.type == RV_LOGOUT) {
        conn_logout(c);
    } else if (m.type == RV_PROFILE_SET) {
        conn_profile_set(c, &m.u.profile);
    } else if (m.type == RV_SEARCH) {
        conn_search(c, &m.u.search);
    } else {
        conn_refuse(c, BANTER_EBADTYPE, "a server-to-node type");
    }
    rvmsg_clear(&m); /* wipes the password of an RV_LOGIN */
}

/* One transport plaintext from an established peer. */
static void conn_message(conn *c, const uint8_t *pt, size_t len)
{
    msg m;
    if (len > 0 && rvmsg_owns(pt[0])) {
        if (c->live)
            conn_rv_message(c, pt, len);
        else
            conn_refuse(c, BANTER_EPROTO, "HELLO must come first");
        return;
    }
    int r = msg_decode(&m, pt, len);
    if (r) {
        conn_refuse(c, r,
                    r == BANTER_EBADTYPE ? "type not supported by the rendezvous server"
                                         : "message refused");
        return;
    }
    if (!c->live && m.type != MSG_HELLO && m.type != MSG_BYE) {
        conn_refuse(c, BANTER_EPROTO, "HELLO must come first");
        msg_clear(&m);
        return;
    }
    switch (m.type) {
    case MSG_HELLO:
        if (c->live)
            conn_refuse(c, BANTER_EPROTO, "HELLO was already received");
        else
            conn_hello(c);
        break;
    case MSG_PING: {
        msg pong = {.type = MSG_PONG, .u.ping.token = m.u.ping.token};
        conn_send(c, &pong);
        break;
    }
    case MSG_PONG:  /* the answer to a keepalive: the byte count did it */
    case MSG_ERROR: /* the peer refused something of ours: nothing to undo */
        break;
    case MSG_BYE:
        conn_close(c, 0, NULL);
        break;
    default:
        conn_refuse(c, BANTER_EBADTYPE, "type not supported by the rendezvous server");
        break;
    }
    msg_clear(&m);
}

/* A byte arrived on a live connection: it moves to the end of the live
 * list (the list stays sorted by the last byte received). */
static void conn_touch(conn *c)
{
    server *srv = c->srv;
    c->since = uv_now(&srv->loop);
    c->pinged = false;
    if (srv->live.tail != c) {
        list_remove(&srv->live, c);
        list_push(&srv->live, c);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    conn *c = (conn *)(void *)h;
    (void)suggested;
    *b = uv_buf_init((char *)c->srv->rbuf, sizeof c->srv->rbuf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    conn *c = (conn *)(void *)st;
    if (c->closing || nread == 0)
        return;
    if (nread < 0) {
        conn_close(c, nread == UV_EOF ? session_finish(c->s) : BANTER_EIO, NULL);
        return;
    }
    if (c->live)
        conn_touch(c);
    const uint8_t *in = (const uint8_t *)b->base;
    size_t left = (size_t)nread;
    while (!c->closing) {
        size_t used;
        session_event ev;
        int r = session_feed(c->s, in, left, &used, &ev);
        in += used;
        left -= used;
        if (r < 0) {
            conn_close(c, r, NULL);
            return;
        }
        if (r == 0)
            break;
        if (ev.type == SESSION_EV_ESTABLISHED)
            conn_established(c);
        else
            conn_message(c, ev.data, ev.len);
    }
    conn_flush(c);
}

/* ---- the server ---- */

static void server_stop(server *srv, int err);

static void on_connection(uv_stream_t *l, int status)
{
    server *srv = l->data;
    if (status < 0) {
        slog(srv, "accept failed: %s", uv_strerror(status));
        return;
    }
    conn *c = calloc(1, sizeof *c);
    if (!c || uv_tcp_init(&srv->loop, &c->tcp) != 0) {
        free(c);
        slog(srv, "out of memory: cannot accept connections");
        server_stop(srv, BANTER_ENOMEM);
        return;
    }
    c->srv = srv;
    c->closing = true; /* on no list until it is set up */
    session_config sc = {
        .role = NOISE_RESPONDER, .id = srv->cfg.id, .rng = srv->cfg.rng, .out_cap = SERVER_OUT_CAP};
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }
    if (srv->stopping || srv->pending.n >= SERVER_MAX_PENDING || session_new(&c->s, &sc) != 0) {
        srv->st.refused++;
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }
    c->closing = false;
    c->since = uv_now(&srv->loop);
    list_push(&srv->pending, c);
    srv->st.accepted++;
    (void)uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        conn_close(c, BANTER_EIO, NULL);
}

/* The counters, when anything changed since the last line (or always). */
static void log_stats(server *srv, uint64_t now, bool always)
{
    static const struct stats zero;
    srv->last_stats = now;
    if (!always && memcmp(&srv->st, &zero, sizeof zero) == 0 &&
        srv->pending.n == srv->last_pending && srv->live.n == srv->last_live)
        return;
    slog(srv,
         "connections: %zu established, %zu in handshake or before HELLO; since the last count: "
         "%" PRIu64 " accepted, %" PRIu64 " refused (too many handshakes), %" PRIu64
         " handshake timeouts, %" PRIu64 " idle, %" PRIu64 " closed on errors",
         srv->live.n, srv->pending.n, srv->st.accepted, srv->st.refused, srv->st.timeouts,
         srv->st.idle, srv->st.errors);
    srv->st = zero;
    srv->last_pending = srv->pending.n;
    srv->last_live = srv->live.n;
}

/* Deadlines: handshakes too slow, keepalive PINGs, idle connections. Both
 * lists are sorted by `since`, so the scans stop at the first conn not due. */
static void on_tick(uv_timer_t *t)
{
    server *srv = t->data;
    uint64_t now = uv_now(&srv->loop);
    while (srv->pending.head && now - srv->pending.head->since >= SERVER_HANDSHAKE_MS) {
        srv->st.timeouts++;
        conn_close(srv->pending.head, 0, NULL);
    }
    for (conn *c = srv->live.head, *next; c && now - c->since >= SERVER_PING_MS; c = next) {
        next = c->next;
        if (now - c->since >= SERVER_IDLE_MS) {
            srv->st.idle++;
            conn_close(c, 0, "idle");
        } else if (!c->pinged) {
            msg ping = {.type = MSG_PING};
            srv->cfg.rng.fill(srv->cfg.rng.ctx, (uint8_t *)&ping.u.ping.token,
                              sizeof ping.u.ping.token);
            c->pinged = true;
            conn_send(c, &ping);
            conn_flush(c);
        }
    }
    if (now - srv->last_stats >= SERVER_STATS_MS)
        log_stats(srv, now, false);
}

/* Close the server's own handles (they live in srv, freed after the loop
 * ends) and every connection. */
static void server_stop(server *srv, int err)
{
    if (srv->stopping)
        return;
    srv->stopping = true;
    srv->err = err;
    if (srv->handles & H_LISTENER)
        uv_close((uv_handle_t *)&srv->listener, NULL);
    if (srv->handles & H_TICK)
        uv_close((uv_handle_t *)&srv->tick, NULL);
    if (srv->handles & H_SIGINT)
        uv_close((uv_handle_t *)&srv->sigint, NULL);
    if (srv->handles & H_SIGTERM)
        uv_close((uv_handle_t *)&srv->sigterm, NULL);
    srv->handles = 0;
    while (srv->pending.head)
        conn_close(srv->pending.head, 0, NULL);
    while (srv->live.head)
        conn_close(srv->live.head, 0, "server shutting down");
}

static void on_signal(uv_signal_t *h, int signum)
{
    server *srv = h->data;
    log_stats(srv, uv_now(&srv->loop), true);
    slog(srv, "%s: stopping; closing %zu connections", signum == SIGINT ? "SIGINT" : "SIGTERM",
         srv->pending.n + srv->live.n);
    server_stop(srv, 0);
}

/* "198.18.0.1:7071" or "[::1]:7071": where the listener is bound. */
static void format_bound(server *srv)
{
    struct sockaddr_storage ss;
    int len = (int)sizeof ss;
    char host[64] = "?";
    unsigned port = 0;
    if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)&ss;
            (void)uv_ip6_name(a, host, sizeof host);
            port = ntohs(a->sin6_port);
            snprintf(srv->addr, sizeof srv->addr, "[%s]:%u", host, port);
            return;
        }
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)&ss;
        (void)uv_ip4_name(a, host, sizeof host);
        port = ntohs(a->sin_port);
    }
    snprintf(srv->addr, sizeof srv->addr, "%s:%u", host, port);
}

/* Initialise the handles, bind and listen. On failure the handles that
 * were initialised are closed (uv_run then finishes closing them). */
static int server_start(server *srv, const struct sockaddr_storage *ss)
{
    int r = uv_signal_init(&srv->loop, &srv->sigint);
    if (r == 0) {
        srv->handles |= H_SIGINT;
        r = uv_signal_init(&srv->loop, &srv->sigterm);
    }
    if (r == 0) {
        srv->handles |= H_SIGTERM;
        r = uv_timer_init(&srv->loop, &srv->tick);
    }
    if (r == 0) {
        srv->handles |= H_TICK;
        r = uv_tcp_init(&srv->loop, &srv->listener);
    }
    if (r == 0) {
        srv->handles |= H_LISTENER;
        srv->listener.data = srv->tick.data = srv->sigint.data = srv->sigterm.data = srv;
        r = uv_tcp_bind(&srv->listener, (const struct sockaddr *)ss, 0);
    }
    if (r == 0)
        r = uv_listen((uv_stream_t *)&srv->listener, SERVER_BACKLOG, on_connection);
    if (r == 0)
        r = uv_signal_start(&srv->sigint, on_signal, SIGINT);
    if (r == 0)
        r = uv_signal_start(&srv->sigterm, on_signal, SIGTERM);
    if (r == 0)
        r = uv_timer_start(&srv->tick, on_tick, SERVER_TICK_MS, SERVER_TICK_MS);
    if (r) {
        slog(srv, "cannot listen on %s: %s", srv->cfg.listen, uv_strerror(r));
        server_stop(srv, BANTER_EIO);
        return BANTER_EIO;
    }
    format_bound(srv);
    return 0;
}

/* As many connections as the hard limit on open files allows. */
static void raise_nofile(const server *srv)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    slog(srv, "open file limit %llu: at most about that many connections",
         (unsigned long long)rl.rlim_cur);
}

/* After the loop was closed. */
static void server_free(server *srv)
{
    pwcheck_free(srv->pw);
    rl_free(srv->rl);
    free(srv);
}

int server_run(const server_config *cfg)
{
    struct sockaddr_storage ss;
    char fp[IDENTITY_FP_LEN + 1];
    server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return BANTER_ENOMEM;
    srv->cfg = *cfg;
    if (config_parse_listen(cfg->listen, &ss) != 0) {
        slog(srv, "cannot listen on \"%s\": not ADDR:PORT", cfg->listen);
        free(srv);
        return BANTER_EINVAL;
    }
    int r = uv_loop_init(&srv->loop);
    if (r) {
        slog(srv, "cannot start the event loop: %s", uv_strerror(r));
        free(srv);
        return BANTER_EIO;
    }
    srv->pw = pwcheck_new(&srv->loop, PW_RUNNING, PW_WAITING);
    srv->rl = rl_new(RL_DEFAULT_CAP);
    if (!srv->pw || !srv->rl) {
        slog(srv, "out of memory");
        (void)uv_loop_close(&srv->loop);
        server_free(srv);
        return BANTER_ENOMEM;
    }
    /* A peer that vanishes must not kill the server through a write. */
    struct sigaction sa = {.sa_handler = SIG_IGN};
    sigaction(SIGPIPE, &sa, NULL);
    raise_nofile(srv);
    int ret = server_start(srv, &ss);
    if (ret == 0) {
        identity_fingerprint(identity_public(cfg->id), fp);
        slog(srv, "listening on %s, fingerprint %s", srv->addr, fp);
        srv->last_stats = uv_now(&srv->loop);
    }
    uv_run(&srv->loop, UV_RUN_DEFAULT);
    if (ret == 0)
        ret = srv->err;
    if (uv_loop_close(&srv->loop) != 0) {
        /* A handle left open is a bug; leaking beats freeing it in use. */
        slog(srv, "bug: handles still open at exit");
        return ret ? ret : BANTER_ESTATE;
    }
    if (ret == 0)
        slog(srv, "stopped");
    server_free(srv);
    return ret;
}
