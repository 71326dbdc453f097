/* SPDX-License-Identifier: MIT */
/* rdv.c - the node's connection to its rendezvous server (see rdv.h). */
#include "rdv/rdv.h"

#include <arpa/nameser.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <netdb.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "annmsg.h"
#include "failover.h"
#include "icert.h"
#include "rvbatch.h"
#include "net/conn.h"
#include "session.h"
#include "srvrec.h"
#include "utf8.h"

#define BARRIER_BIT   ((uint64_t)1 << 63) /* PING tokens of requests; keepalives have it clear */
#define TICK_S        5
#define RDV_PLAIN_CAP (BANTER_MAX_PLAINTEXT + 1u)

typedef enum req_kind {
    REQ_LOGIN,
    REQ_LOGOUT,
    REQ_PROFILE,
    REQ_SEARCH,
    REQ_CONTACT,
    REQ_STATUS,
    REQ_BTO,
    REQ_PROBE,
} req_kind;

struct rdv_req {
    req_kind kind;
    uint64_t token;
    bool passed; /* its barrier PONG arrived: the server has handled it */
    char user[BANTER_MAX_NAME + 1];
    rdv_done_fn cb; /* NULL once answered by a timeout or cancelled */
    void *ud;
    guint timer;
};

struct rdv {
    GMainContext *ctx;
    const identity *id;
    rdv_config cfg;
    char server[300];
    char server_fp[IDENTITY_FP_LEN + 1];
    rdv_event_fn event;
    void *ud;
    conn *c;
    bool verified, ready, stopping;
    bool peer_hello;        /* the server's HELLO arrived */
    uint64_t hello_token;   /* the PING after our HELLO; 0 once its PONG came */
    uint8_t server_key[32]; /* proven by the current connection, once verified */
    int64_t ready_since, last_ping;
    guint retry, tick;
    failover fo;                              /* which instance next, and when */
    banter_rng rng;                           /* the failover schedule's */
    rdv_target targets[BANTER_MAX_INSTANCES]; /* listed, or the latest SRV answer */
    uint32_t ntargets;
    bool need_lookup;                    /* look the SRV name up before the next dial */
    struct srv_job *job;                 /* the SRV lookup in flight, or NULL */
    bool awaiting_icert;                 /* another key than the pinned one: RV_INSTANCE first */
    char instance[BANTER_MAX_NAME + 1];  /* the current instance's certificate name, or "" */
    bool down_said;                      /* "cannot connect" printed for this outage */
    char warned[IDENTITY_FP_DIGITS + 1]; /* the wrong fingerprint already reported */
    char user[BANTER_MAX_NAME + 1];
    bool admin;
    char error[640];
    char auth_error[BANTER_MAX_ERRCODE + 1];
    int64_t retry_after_ms;
    bool has_cert;
    cert cert;
    GQueue inflight; /* rdv_req, oldest first */
    uint64_t next_token;
    rdv_sink sink; /* what the server sends on its own */
    void *sink_ud;
    bool authed; /* the sink was told the session is authenticated */
    void (*cert_hook)(void *ud);
    void (*ice_hook)(void *ud, const rvmsg *m); /* RV_ICE_* (rdv_set_ice_hook) */
    void *ice_ud;
    void *cert_ud;
    rv_presence my_status; /* as the server last said (RV_P_OFFLINE: not known) */
    char my_text[RV_TEXT_MAX + 1];
    /* The account's devices connected now, as the server last said
     * (RV_STATUS "devices"); own_known false until it says, this session. */
    bool own_known;
    size_t own_n;
    uint8_t own[RV_DEVICES_MAX][RV_KEY_LEN];
    void (*own_hook)(void *ud);
    void *own_ud;
    bool has_policy; /* the organisation's policy, checked (docs/rendezvous.md 11) */
    policy pol;
    void (*policy_hook)(void *ud);
    void *policy_ud;
    void (*org_hook)(void *ud, const uint8_t *pt, size_t len); /* annmsg.h types */
    void *org_ud;
    /* RV_BATCH (docs/rendezvous.md 2.2): the server's HELLO listed
     * "batch" (ours always does). What the node sends in one main loop
     * iteration is collected in ob and goes out as one batch from an idle
     * callback (flush_src); while the messages of a batch from the server
     * are handled (hold), the answers go right after them. */
    bool batch, hold;
    guint flush_src;
    rvbatch ob;
};

static int64_t mono_ms(void) { return g_get_monotonic_time() / 1000; }
static int64_t real_ms(void) { return g_get_real_time() / 1000; }

/* ---- pure helpers ---- */

const char *rdv_errname(rdv_err e)
{
    static const char *names[] = {"OK",      "ENOTCONN",  "ENOTAUTH", "EAUTH",
                                  "ESERVER", "ETIMEDOUT", "EBUSY",    "EINVAL"};
    return (size_t)e < sizeof names / sizeof names[0] ? names[e] : "EINVAL";
}

int rdv_parse_fingerprint(const char *s, char out[static IDENTITY_FP_DIGITS + 1])
{
    size_t o = 0;
    for (; *s; s++) {
        if (*s == ' ' || *s == '-' || *s == '\t' || *s == '\n' || *s == '\r')
            continue;
        if (*s < '0' || *s > '9' || o == IDENTITY_FP_DIGITS)
            return BANTER_EINVAL;
        out[o++] = *s;
    }
    out[o] = '\0';
    return o == IDENTITY_FP_DIGITS ? 0 : BANTER_EINVAL;
}

/* "HOST:PORT" or "[V6]:PORT" (n bytes of s) into t. */
static int parse_target(const char *s, size_t n, rdv_target *t)
{
    char tmp[300], *end;
    if (n == 0 || n >= sizeof tmp)
        return BANTER_EINVAL;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *colon = strrchr(tmp, ':');
    if (!colon || colon == tmp)
        return BANTER_EINVAL;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (errno || *end || !colon[1] || colon[1] == '-' || colon[1] == '+' || p == 0 || p > 65535)
        return BANTER_EINVAL;
    char *h = tmp;
    size_t hl = (size_t)(colon - tmp);
    if (h[0] == '[' && hl > 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    } else if (memchr(h, ':', hl)) {
        return BANTER_EINVAL; /* an IPv6 address needs its brackets */
    }
    if (hl >= sizeof t->host)
        return BANTER_EINVAL;
    memcpy(t->host, h, hl);
    t->host[hl] = '\0';
    t->port = (uint16_t)p;
    return 0;
}

int rdv_parse_service(const char *s, rdv_config *cfg, char *why, size_t cap)
{
    cfg->ntargets = 0;
    cfg->srv[0] = '\0';
    const char *name = strncmp(s, "srv:", 4) == 0 ? s + 4 : s[0] == '_' ? s : NULL;
    if (name) {
        size_t n = strlen(name);
        bool ok = n > 0 && n < sizeof cfg->srv && !strchr(name, ':') && !strchr(name, ',');
        for (size_t i = 0; ok && i < n; i++)
            ok = g_ascii_isalnum(name[i]) || name[i] == '.' || name[i] == '-' || name[i] == '_';
        if (!ok) {
            snprintf(why, cap, "\"%s\" is not a DNS name (e.g. _banter._tcp.example.com)", name);
            return BANTER_EINVAL;
        }
        memcpy(cfg->srv, name, n + 1);
        return 0;
    }
    for (const char *p = s;;) {
        size_t n = strcspn(p, ",");
        if (cfg->ntargets == BANTER_MAX_INSTANCES) {
            snprintf(why, cap, "more than %u instances", BANTER_MAX_INSTANCES);
            return BANTER_EINVAL;
        }
        if (parse_target(p, n, &cfg->targets[cfg->ntargets]) != 0) {
            snprintf(why, cap, "\"%.*s\" is not HOST:PORT (an IPv6 address in brackets)",
                     (int)MIN(n, 300), p);
            return BANTER_EINVAL;
        }
        cfg->ntargets++;
        if (!p[n])
            return 0;
        p += n + 1;
    }
}

void rdv_format_fingerprint(const char *fpd, char out[static IDENTITY_FP_LEN + 1])
{
    size_t o = 0;
    for (size_t i = 0; i < IDENTITY_FP_DIGITS && fpd[i]; i++) {
        if (i && i % 5 == 0)
            out[o++] = ' ';
        out[o++] = fpd[i];
    }
    out[o] = '\0';
}

/* ---- log and events ---- */

static void say(rdv *r, const char *text)
{
    g_printerr("banter: %s\n", text);
    if (r->event)
        r->event(r->ud, text);
}

/* ---- the certificate ---- */

static int cert_save(const char *path, const cert *c)
{
    uint8_t b[CERT_LEN_MAX];
    char tmp[HOME_PATH_MAX + 8];
    size_t n;
    int r = cert_encode(c, b, sizeof b, &n);
    if (r)
        return r;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return BANTER_EIO;
    bool ok = fchmod(fd, 0600) == 0 && write(fd, b, n) == (ssize_t)n && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return BANTER_EIO;
    }
    return 0;
}

/* A certificate is ours to use when it names this device and a server
 * with the pinned fingerprint (the signature was checked by cert_decode). */
static bool cert_is_ours(const rdv *r, const cert *c)
{
    char fp[IDENTITY_FP_LEN + 1], fpd[IDENTITY_FP_DIGITS + 1];
    identity_fingerprint(c->server, fp);
    return rdv_parse_fingerprint(fp, fpd) == 0 && strcmp(fpd, r->cfg.fpd) == 0 &&
           bcrypto_equal(c->device, identity_public(r->id), 32);
}

static void cert_load(rdv *r)
{
    uint8_t b[CERT_LEN_MAX + 1];
    int fd = open(r->cfg.cert_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno != ENOENT)
            g_printerr("banter: cannot read %s: %s\n", r->cfg.cert_path, g_strerror(errno));
        return;
    }
    ssize_t n = read(fd, b, sizeof b);
    close(fd);
    cert c;
    int e = n < 0 ? BANTER_EIO : n > CERT_LEN_MAX ? BANTER_ETOOBIG : cert_decode(&c, b, (size_t)n);
    if (e) {
        g_printerr("banter: ignoring %s: %s\n", r->cfg.cert_path, banter_strerror(e));
        return;
    }
    if (!cert_is_ours(r, &c)) {
        g_printerr("banter: ignoring %s: it is for another device or another server\n",
                   r->cfg.cert_path);
        return;
    }
    r->cert = c;
    r->has_cert = true;
}

/* ---- the organisation's policy ---- */

/* Signed by a server with the pinned fingerprint (policy_decode checked
 * the signature). */
static bool policy_is_ours(const rdv *r, const policy *p)
{
    char fp[IDENTITY_FP_LEN + 1], fpd[IDENTITY_FP_DIGITS + 1];
    identity_fingerprint(p->server, fp);
    return rdv_parse_fingerprint(fp, fpd) == 0 && strcmp(fpd, r->cfg.fpd) == 0;
}

static int policy_save(const char *path, const policy *p)
{
    uint8_t b[POLICY_LEN];
    char tmp[HOME_PATH_MAX + 8];
    policy_encode(p, b);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return BANTER_EIO;
    bool ok =
        fchmod(fd, 0600) == 0 && write(fd, b, sizeof b) == (ssize_t)sizeof b && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return BANTER_EIO;
    }
    return 0;
}

/* The policy kept from an earlier run, checked again. */
static void policy_load(rdv *r)
{
    uint8_t b[POLICY_LEN + 1];
    if (!r->cfg.policy_path[0])
        return;
    int fd = open(r->cfg.policy_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno != ENOENT)
            g_printerr("banter: cannot read %s: %s\n", r->cfg.policy_path, g_strerror(errno));
        return;
    }
    ssize_t n = read(fd, b, sizeof b);
    close(fd);
    policy p;
    int e = n < 0 ? BANTER_EIO : policy_decode(&p, b, (size_t)n);
    if (e == 0 && !policy_is_ours(r, &p))
        e = BANTER_EKEYMISMATCH;
    if (e) {
        g_printerr("banter: ignoring %s: %s\n", r->cfg.policy_path, banter_strerror(e));
        return;
    }
    r->pol = p;
    r->has_policy = true;
}

/* RV_POLICY: the server's signature, its key the pinned one, newer than
 * the one we have; then kept and applied. */
static void on_policy(rdv *r, const uint8_t *b, size_t len)
{
    policy p;
    int e = policy_decode(&p, b, len);
    if (e == 0)
        e = policy_check(&p, r->server_key);
    if (e) {
        g_printerr("banter: ignoring a policy from the rendezvous server: %s\n",
                   banter_strerror(e));
        return;
    }
    if (r->has_policy && p.serial <= r->pol.serial)
        return; /* the one we have, or an older one replayed */
    r->pol = p;
    r->has_policy = true;
    if (r->cfg.policy_path[0] && policy_save(r->cfg.policy_path, &p) != 0)
        g_printerr("banter: cannot save the policy in %s: %s\n", r->cfg.policy_path,
                   g_strerror(errno));
    if (r->policy_hook)
        r->policy_hook(r->policy_ud);
}

const policy *rdv_policy(const rdv *r) { return r->has_policy ? &r->pol : NULL; }

void rdv_set_policy_hook(rdv *r, void (*fn)(void *ud), void *ud)
{
    r->policy_hook = fn;
    r->policy_ud = ud;
}

static void cert_forget(rdv *r)
{
    if (unlink(r->cfg.cert_path) != 0 && errno != ENOENT)
        g_printerr("banter: cannot remove %s: %s\n", r->cfg.cert_path, g_strerror(errno));
    r->has_cert = false;
    memset(&r->cert, 0, sizeof r->cert);
}

static void on_cert(rdv *r, const cert *c)
{
    char text[512];
    int e = cert_check(c, r->server_key, identity_public(r->id), real_ms());
    if (e == 0 && r->user[0] && strcmp(c->name, r->user) != 0)
        e = BANTER_EKEYMISMATCH;
    if (e) {
        snprintf(text, sizeof text, "ignoring a certificate from the rendezvous server: %s",
                 banter_strerror(e));
        g_printerr("banter: %s\n", text);
        return;
    }
    r->cert = *c;
    r->has_cert = true;
    if (r->cert_hook)
        r->cert_hook(r->cert_ud);
    e = cert_save(r->cfg.cert_path, c);
    if (e)
        g_printerr("banter: cannot save the certificate in %s: %s\n", r->cfg.cert_path,
                   g_strerror(errno));
}

/* ---- requests waiting for the server ---- */

static void req_free(rdv_req *q)
{
    if (q->timer)
        g_source_remove(q->timer);
    bcrypto_wipe(q, sizeof *q);
    g_free(q);
}

/* Take q out of the queue, answer it (when someone still waits) and free. */
static void finish(rdv *r, rdv_req *q, const rdv_answer *a)
{
    g_queue_remove(&r->inflight, q);
    rdv_done_fn cb = q->cb;
    void *ud = q->ud;
    req_free(q);
    if (cb)
        cb(ud, a);
}

static void fail(rdv *r, rdv_req *q, rdv_err err, const char *why)
{
    rdv_answer a = {.err = err, .why = why};
    finish(r, q, &a);
}

static void fail_all(rdv *r, const char *why)
{
    while (!g_queue_is_empty(&r->inflight))
        fail(r, g_queue_peek_head(&r->inflight), RDV_ENOTCONN, why);
}

static gboolean on_req_timeout(gpointer v)
{
    rdv_req *q = v;
    rdv_done_fn cb = q->cb;
    char why[160];
    q->timer = 0;
    q->cb = NULL; /* the entry stays: a late answer still finds its request */
    snprintf(why, sizeof why, "the rendezvous server did not answer within %d s",
             RDV_REQUEST_MS / 1000);
    rdv_answer a = {.err = RDV_ETIMEDOUT, .why = why};
    if (cb)
        cb(q->ud, &a);
    return G_SOURCE_REMOVE;
}

void rdv_req_cancel(rdv_req *q)
{
    if (!q)
        return;
    q->cb = NULL;
    if (q->timer)
        g_source_remove(q->timer);
    q->timer = 0;
}

/* The oldest request of a kind; with only_unpassed, the oldest of any kind
 * whose barrier PONG has not come yet. NULL when there is none. */
static rdv_req *oldest(rdv *r, req_kind kind, bool only_unpassed)
{
    for (GList *l = r->inflight.head; l; l = l->next) {
        rdv_req *q = l->data;
        if (only_unpassed ? !q->passed : q->kind == kind)
            return q;
    }
    return NULL;
}

/* ---- sending ---- */

/* Send what was collected while handling a batch (wiped afterwards). */
static int flush_held(rdv *r)
{
    size_t len;
    const uint8_t *pt = rvbatch_plaintext(&r->ob, &len);
    int e = 0;
    if (pt) {
        e = r->c ? conn_send_raw(r->c, pt, len) : BANTER_ESTATE;
        bcrypto_wipe((void *)pt, len);
        if (e && e != BANTER_ESTATE)
            conn_close(r->c, e, false, NULL); /* the server does not read: start over */
    }
    rvbatch_reset(&r->ob);
    return e;
}

static gboolean on_flush(gpointer ud)
{
    rdv *r = ud;
    r->flush_src = 0;
    if (!r->hold)
        (void)flush_held(r);
    return G_SOURCE_REMOVE;
}

/* One encoded plaintext: into the batch (sent at the end of this main
 * loop iteration, or after the batch being handled), else at once. */
static int send_pt(rdv *r, const uint8_t *pt, size_t len)
{
    if (!r->c)
        return BANTER_ESTATE;
    if (!r->batch)
        return conn_send_raw(r->c, pt, len);
    if (!r->hold && !r->flush_src)
        r->flush_src = g_idle_add_full(G_PRIORITY_DEFAULT, on_flush, r, NULL);
    int e = rvbatch_add(&r->ob, pt, len);
    if (e == BANTER_ETOOBIG || e == BANTER_EINVAL) {
        /* Full: what waits goes first, then this one starts the next
         * batch (or, too large for one, goes alone). */
        int full = e == BANTER_ETOOBIG;
        e = flush_held(r);
        if (e == 0 && r->c)
            e = full ? rvbatch_add(&r->ob, pt, len) : conn_send_raw(r->c, pt, len);
    }
    return e;
}

static int send_msg(rdv *r, const msg *m)
{
    if (rvbatch_count(&r->ob) > 0)
        (void)flush_held(r); /* in order: what was collected goes first */
    int e = r->c ? conn_send(r->c, m) : BANTER_ESTATE;
    if (e && e != BANTER_ESTATE)
        conn_close(r->c, e, false, NULL); /* the server does not read: start over */
    return e;
}

/* Encode and send; the plaintext (it may hold a password) is wiped. */
static int send_rv(rdv *r, const rvmsg *m)
{
    buf b;
    buf_init(&b, RDV_PLAIN_CAP);
    int e = rvmsg_encode(m, &b);
    if (e == 0)
        e = send_pt(r, buf_data(&b), buf_len(&b));
    if (buf_len(&b))
        bcrypto_wipe((void *)buf_data(&b), buf_len(&b));
    buf_free(&b);
    return e;
}

static bool codec_error(int e)
{
    return e == BANTER_ESCHEMA || e == BANTER_ETOOLONG || e == BANTER_EUTF8 || e == BANTER_EINVAL;
}

static void not_connected(const rdv *r, char *why, size_t cap)
{
    snprintf(why, cap,
             "not connected to the rendezvous server at %s%s%s%s: the node keeps trying "
             "(banter rendezvous shows why)",
             r->server, r->error[0] ? " (" : "", r->error, r->error[0] ? ")" : "");
}

/* Send m followed by its barrier PING and queue the request. */
static rdv_err start(rdv *r, req_kind kind, const rvmsg *m, rdv_done_fn cb, void *ud, rdv_req **out,
                     char *why, size_t cap)
{
    *out = NULL;
    if (!r->ready) {
        not_connected(r, why, cap);
        return RDV_ENOTCONN;
    }
    if (kind != REQ_LOGIN && !r->user[0]) {
        snprintf(why, cap, "not logged in to the rendezvous server: run `banter login USER`");
        return RDV_ENOTAUTH;
    }
    if (g_queue_get_length(&r->inflight) >= RDV_MAX_INFLIGHT) {
        rdv_req *stale = NULL; /* a request nobody waits for any more makes room */
        for (GList *l = r->inflight.head; l && !stale; l = l->next)
            stale = ((rdv_req *)l->data)->cb ? NULL : l->data;
        if (!stale) {
            snprintf(why, cap, "%d requests already wait for the rendezvous server: try again",
                     RDV_MAX_INFLIGHT);
            return RDV_EBUSY;
        }
        fail(r, stale, RDV_ETIMEDOUT, "dropped");
    }
    int e = send_rv(r, m);
    msg ping = {.type = MSG_PING};
    ping.u.ping.token = BARRIER_BIT | ++r->next_token;
    if (e == 0)
        e = send_msg(r, &ping);
    if (e) {
        snprintf(why, cap, "%s: %s",
                 codec_error(e) ? "the request is not valid" : "cannot send to the server",
                 banter_strerror(e));
        return codec_error(e) ? RDV_EINVAL : RDV_ENOTCONN;
    }
    rdv_req *q = g_new0(rdv_req, 1);
    q->kind = kind;
    q->token = ping.u.ping.token;
    q->cb = cb;
    q->ud = ud;
    q->timer = g_timeout_add(RDV_REQUEST_MS, on_req_timeout, q);
    g_queue_push_tail(&r->inflight, q);
    *out = q;
    return RDV_OK;
}

rdv_err rdv_login(rdv *r, const char *user, char *password, rdv_done_fn cb, void *ud, rdv_req **out,
                  char *why, size_t cap)
{
    rvmsg m = {.type = RV_LOGIN};
    size_t pl = strlen(password);
    rdv_err e = RDV_EINVAL;
    *out = NULL;
    if (!cert_name_valid(user))
        snprintf(why, cap, "the user name must be 1 to 64 bytes of a-z, 0-9, '.', '_' and '-'");
    else if (pl == 0 || pl > RV_PASSWORD_MAX)
        snprintf(why, cap, "the password must be 1 to %u bytes", RV_PASSWORD_MAX);
    else
        e = RDV_OK;
    if (e == RDV_OK) {
        memcpy(m.u.login.user, user, strlen(user) + 1);
        memcpy(m.u.login.password, password, pl + 1);
        e = start(r, REQ_LOGIN, &m, cb, ud, out, why, cap);
        if (e == RDV_OK)
            memcpy((*out)->user, user, strlen(user) + 1);
    }
    bcrypto_wipe(password, pl);
    rvmsg_clear(&m);
    return e;
}

rdv_err rdv_logout(rdv *r, rdv_done_fn cb, void *ud, rdv_req **out, char *why, size_t cap)
{
    rvmsg m = {.type = RV_LOGOUT};
    return start(r, REQ_LOGOUT, &m, cb, ud, out, why, cap);
}

rdv_err rdv_profile_set(rdv *r, rv_field f, const char *value, rdv_done_fn cb, void *ud,
                        rdv_req **out, char *why, size_t cap)
{
    rvmsg m = {.type = RV_PROFILE_SET};
    *out = NULL;
    if (rdv_check_value(f, value, why, cap) != 0)
        return RDV_EINVAL;
    m.u.profile.f[f] = (char *)value; /* borrowed: m is not cleared */
    return start(r, REQ_PROFILE, &m, cb, ud, out, why, cap);
}

rdv_err rdv_search(rdv *r, const struct rv_search *q, rdv_done_fn cb, void *ud, rdv_req **out,
                   char *why, size_t cap)
{
    rvmsg m = {.type = RV_SEARCH};
    *out = NULL;
    if (q->n < 1 || q->n > RV_SEARCH_MAX || q->per_page < 1 || q->per_page > RV_PER_PAGE_MAX) {
        snprintf(why, cap, "a search takes 1 to %u criteria and 1 to %u users per page",
                 RV_SEARCH_MAX, RV_PER_PAGE_MAX);
        return RDV_EINVAL;
    }
    m.u.search = *q;
    return start(r, REQ_SEARCH, &m, cb, ud, out, why, cap);
}

rdv_err rdv_contact(rdv *r, rv_op op, const char *user, rdv_done_fn cb, void *ud, rdv_req **out,
                    char *why, size_t cap)
{
    rvmsg m = {.type = RV_CONTACT};
    *out = NULL;
    if (!cert_name_valid(user) || op >= RV_OP_COUNT) {
        snprintf(why, cap, "the user name must be 1 to 64 bytes of a-z, 0-9, '.', '_' and '-'");
        return RDV_EINVAL;
    }
    m.u.contact.op = op;
    memcpy(m.u.contact.user, user, strlen(user) + 1);
    return start(r, REQ_CONTACT, &m, cb, ud, out, why, cap);
}

rdv_err rdv_status_set(rdv *r, rv_presence p, const char *text, rdv_done_fn cb, void *ud,
                       rdv_req **out, char *why, size_t cap)
{
    rvmsg m = {.type = RV_STATUS};
    *out = NULL;
    if (p == RV_P_OFFLINE || p >= RV_P_COUNT || !rv_text_valid(text)) {
        snprintf(why, cap,
                 "the status is online, away, busy or invisible, and its text at most %u bytes "
                 "of UTF-8 on one line",
                 RV_TEXT_MAX);
        return RDV_EINVAL;
    }
    m.u.status.status = p;
    memcpy(m.u.status.text, text, strlen(text) + 1);
    return start(r, REQ_STATUS, &m, cb, ud, out, why, cap);
}

rdv_err rdv_broadcast_to(rdv *r, const char *department, uint32_t page, rdv_done_fn cb, void *ud,
                         rdv_req **out, char *why, size_t cap)
{
    rvmsg m = {.type = RV_BROADCAST_TO};
    *out = NULL;
    if (strlen(department) > 64 || !rv_text_valid(department)) {
        snprintf(why, cap, "a department is at most 64 bytes of UTF-8 on one line");
        return RDV_EINVAL;
    }
    memcpy(m.u.bto.department, department, strlen(department) + 1);
    m.u.bto.page = page;
    return start(r, REQ_BTO, &m, cb, ud, out, why, cap);
}

rdv_err rdv_port_probe(rdv *r, uint16_t port, rdv_done_fn cb, void *ud, rdv_req **out, char *why,
                       size_t cap)
{
    rvmsg m = {.type = RV_PROBE};
    *out = NULL;
    if (!port) {
        snprintf(why, cap, "the port must be 1 to 65535");
        return RDV_EINVAL;
    }
    m.u.probe.port = port;
    return start(r, REQ_PROBE, &m, cb, ud, out, why, cap);
}

int rdv_send(rdv *r, const rvmsg *m)
{
    if (!r->authed)
        return BANTER_ESTATE;
    return send_rv(r, m);
}

bool rdv_writable(const rdv *r)
{
    size_t pending;
    (void)rvbatch_plaintext(&r->ob, &pending);
    return r->authed && conn_queued(r->c) + pending < RDV_SEND_HIGH;
}

const uint8_t *rdv_server_key(const rdv *r) { return r->verified ? r->server_key : NULL; }

void rdv_set_ice_hook(rdv *r, void (*fn)(void *ud, const rvmsg *m), void *ud)
{
    r->ice_hook = fn;
    r->ice_ud = ud;
}

void rdv_set_org_hook(rdv *r, void (*fn)(void *ud, const uint8_t *pt, size_t len), void *ud)
{
    r->org_hook = fn;
    r->org_ud = ud;
}

int rdv_send_raw(rdv *r, const uint8_t *pt, size_t len)
{
    if (!r->authed)
        return BANTER_ESTATE;
    return send_pt(r, pt, len);
}

void rdv_set_own_hook(rdv *r, void (*fn)(void *ud), void *ud)
{
    r->own_hook = fn;
    r->own_ud = ud;
}

int rdv_own_online(const rdv *r, const uint8_t dev[static 32])
{
    if (!r->authed || !r->own_known)
        return -1;
    for (size_t i = 0; i < r->own_n; i++)
        if (memcmp(r->own[i], dev, 32) == 0)
            return 1;
    return 0;
}

void rdv_set_cert_hook(rdv *r, void (*fn)(void *ud), void *ud)
{
    r->cert_hook = fn;
    r->cert_ud = ud;
}

void rdv_set_sink(rdv *r, const rdv_sink *sink, void *ud)
{
    r->sink = *sink;
    r->sink_ud = ud;
}

/* Tell the sink when the session becomes usable for contacts and mail, or
 * stops being so: as soon as the server said which account this device
 * is (RV_AUTH ok), which may come before our HELLO's barrier PONG; the
 * contact list and stored copies follow it at once. */
static void update_authed(rdv *r)
{
    bool now = r->c && r->verified && r->user[0];
    if (now == r->authed)
        return;
    r->my_status = RV_P_OFFLINE;
    r->my_text[0] = '\0';
    r->own_known = false;
    r->own_n = 0;
    r->authed = now;
    if (r->sink.session)
        r->sink.session(r->sink_ud, now ? r->user : NULL);
}

/* ---- what the server sends ---- */

/* The oldest login or logout: the requests an RV_AUTH may answer. */
static rdv_req *oldest_auth(rdv *r)
{
    for (GList *l = r->inflight.head; l; l = l->next) {
        rdv_req *q = l->data;
        if (q->kind == REQ_LOGIN || q->kind == REQ_LOGOUT)
            return q;
    }
    return NULL;
}

static void logged_out(rdv *r, rdv_req *q)
{
    say(r, "logged out of the rendezvous server");
    r->user[0] = '\0';
    r->admin = false;
    r->auth_error[0] = '\0';
    r->retry_after_ms = 0;
    cert_forget(r);
    update_authed(r);
    rdv_answer a = {.err = RDV_OK};
    finish(r, q, &a);
}

static const char *auth_text(const char *code)
{
    if (strcmp(code, "EPASSWORD") == 0)
        return "wrong user name or password";
    if (strcmp(code, "EDISABLED") == 0)
        return "the account is disabled";
    if (strcmp(code, "ERATE") == 0)
        return "too many failed logins";
    if (strcmp(code, "EREVOKED") == 0)
        return "an admin revoked this device: it can no longer log in (ask them for a new one: "
               "a new home folder makes a new device key)";
    return "refused";
}

static void on_auth(rdv *r, const struct rv_auth *a)
{
    char text[400];
    /* Before ready, it is the account this device is bound to (said in the
     * "connected" line); after, the answer to the oldest login (unless it
     * names another account: then the server changed this device's) or
     * the confirmation of a logout. */
    rdv_req *q = r->ready ? oldest_auth(r) : NULL;
    if (q && q->kind == REQ_LOGOUT && !a->ok) {
        logged_out(r, q);
        return;
    }
    if (q && (q->kind == REQ_LOGOUT || (a->ok && strcmp(q->user, a->user) != 0)))
        q = NULL;
    if (a->ok) {
        memcpy(r->user, a->user, sizeof r->user);
        r->admin = a->admin;
        r->auth_error[0] = '\0';
        r->retry_after_ms = 0;
        snprintf(text, sizeof text, "logged in to the rendezvous server as %s%s", a->user,
                 a->admin ? " (admin)" : "");
    } else {
        memcpy(r->auth_error, a->error, sizeof r->auth_error);
        r->retry_after_ms = a->retry_after_ms;
        if (!q) { /* the server no longer accepts this device's account */
            r->user[0] = '\0';
            r->admin = false;
        }
        if (q)
            snprintf(text, sizeof text, "the rendezvous server refused the login of %s: %s (%s)",
                     q->user, auth_text(a->error), a->error);
        else
            snprintf(text, sizeof text,
                     "the rendezvous server no longer accepts this device's account: %s (%s)",
                     auth_text(a->error), a->error);
    }
    if (r->ready)
        say(r, text);
    update_authed(r);
    if (!q)
        return;
    rdv_answer ans = {.err = a->ok ? RDV_OK : RDV_EAUTH,
                      .why = text,
                      .code = a->ok ? NULL : a->error,
                      .retry_after_ms = a->retry_after_ms,
                      .auth = a};
    finish(r, q, &ans);
}

static void on_result(rdv *r, const struct rv_search_result *res)
{
    rdv_req *q = oldest(r, REQ_SEARCH, false);
    if (!q) {
        g_printerr("banter: the rendezvous server sent a search result nobody asked for\n");
        return;
    }
    rdv_answer a = {.err = RDV_OK, .result = res};
    finish(r, q, &a);
}

static void on_recipients(rdv *r, const struct rv_recipients *res)
{
    rdv_req *q = oldest(r, REQ_BTO, false);
    if (!q) {
        g_printerr("banter: the rendezvous server sent recipients nobody asked for\n");
        return;
    }
    rdv_answer a = {.err = RDV_OK, .rcpt = res};
    finish(r, q, &a);
}

/* RV_PROBE_RESULT: the answer to the oldest probe (the server answers
 * them in the order they end, but one node has one at a time: 10 s apart). */
static void on_probe(rdv *r, const struct rv_probe *res)
{
    rdv_req *q = oldest(r, REQ_PROBE, false);
    if (!q) {
        g_printerr("banter: the rendezvous server sent a probe result nobody asked for\n");
        return;
    }
    rdv_answer a = {.err = RDV_OK, .probe = res};
    finish(r, q, &a);
}

static void maybe_ready(rdv *r);

static void on_pong(rdv *r, uint64_t token)
{
    if (!(token & BARRIER_BIT))
        return; /* a keepalive */
    if (token == r->hello_token) {
        r->hello_token = 0;
        maybe_ready(r);
        return;
    }
    for (GList *l = r->inflight.head; l; l = l->next) {
        rdv_req *q = l->data;
        if (q->token != token)
            continue;
        q->passed = true;
        if (q->kind == REQ_LOGOUT) {
            logged_out(r, q);
        } else if (q->kind == REQ_PROFILE || q->kind == REQ_CONTACT || q->kind == REQ_STATUS) {
            rdv_answer a = {.err = RDV_OK};
            finish(r, q, &a);
        }
        return;
    }
}

static void on_error(rdv *r, const struct msg_error *e)
{
    char why[600];
    /* Handled in order: the first request whose PONG has not come. A
     * login's answer may come later (its password is hashed off the loop). */
    rdv_req *q = oldest(r, REQ_LOGIN, true);
    if (!q)
        q = oldest(r, REQ_LOGIN, false);
    if (!q && r->sink.error)
        r->sink.error(r->sink_ud, e->code, e->message); /* one of the sink's own messages */
    snprintf(why, sizeof why, "the rendezvous server refused the request: %s%s%s", e->code,
             e->message[0] ? ": " : "", e->message);
    if (!q) {
        g_printerr("banter: %s\n", why);
        return;
    }
    rdv_answer a = {.err = RDV_ESERVER, .why = why, .code = e->code};
    finish(r, q, &a);
}

static void refuse_msg(rdv *r, int err, const char *what)
{
    msg e = {.type = MSG_ERROR};
    g_strlcpy(e.u.error.code, banter_errname(err), sizeof e.u.error.code);
    g_strlcpy(e.u.error.message, what, sizeof e.u.error.message);
    (void)send_msg(r, &e);
}

static void on_rvmsg(rdv *r, const uint8_t *pt, size_t len)
{
    rvmsg m;
    int e = rvmsg_decode(&m, pt, len);
    if (e) {
        g_printerr("banter: refused a message from the rendezvous server: %s\n",
                   banter_strerror(e));
        refuse_msg(r, e, "message refused");
        return;
    }
    switch (m.type) {
    case RV_AUTH:
        on_auth(r, &m.u.auth);
        break;
    case RV_SEARCH_RESULT:
        on_result(r, &m.u.result);
        break;
    case RV_CERT:
        on_cert(r, &m.u.cert);
        break;
    case RV_RECIPIENTS:
        on_recipients(r, &m.u.rcpt);
        break;
    case RV_PROBE_RESULT:
        on_probe(r, &m.u.probe);
        break;
    case RV_CONTACTS:
        if (r->sink.contacts && r->authed)
            r->sink.contacts(r->sink_ud, &m.u.contacts);
        break;
    case RV_PRESENCE:
        if (r->sink.presence && r->authed)
            r->sink.presence(r->sink_ud, &m.u.status);
        break;
    case RV_STATUS: /* the status our account chose (on any of its devices) */
        if (r->authed) {
            r->my_status = m.u.status.status;
            memcpy(r->my_text, m.u.status.text, sizeof r->my_text);
        }
        if (r->authed && m.u.status.has_devices) { /* which of its devices are connected */
            r->own_known = true;
            r->own_n = m.u.status.ndev;
            memcpy(r->own, m.u.status.dev, m.u.status.ndev * RV_KEY_LEN);
            if (r->own_hook)
                r->own_hook(r->own_ud);
        }
        break;
    case RV_STORED:
        if (r->sink.stored && r->authed)
            r->sink.stored(r->sink_ud, &m.u.stored);
        break;
    case RV_SEALED:
        if (r->sink.sealed && r->authed)
            r->sink.sealed(r->sink_ud, &m.u.seal);
        break;
    case RV_ICE_SERVERS:
    case RV_ICE_OFFER:
    case RV_ICE_ANSWER:
    case RV_ICE_END:
        if (r->ice_hook && r->authed)
            r->ice_hook(r->ice_ud, &m);
        break;
    default:
        refuse_msg(r, BANTER_EBADTYPE, "type not accepted from a server");
        break;
    }
    rvmsg_clear(&m);
}

/* ---- the connection ---- */

static void on_established(void *ud, conn *c);
static void on_message(void *ud, conn *c, const uint8_t *pt, size_t len);
static void on_closed(void *ud, conn *c, int err);

static void on_drained(void *ud, conn *c)
{
    rdv *r = ud;
    (void)c;
    if (r->sink.writable && r->authed)
        r->sink.writable(r->sink_ud);
}

static const conn_callbacks conn_cbs = {on_established, on_message, on_drained, on_closed, NULL};

static gboolean on_tick(gpointer v)
{
    rdv *r = v;
    int64_t t = mono_ms();
    if (!r->c) {
        r->tick = 0;
        return G_SOURCE_REMOVE;
    }
    if (!conn_is_open(r->c))
        return G_SOURCE_CONTINUE;
    if (!conn_established(r->c)) {
        if (t - conn_created(r->c) > RDV_HANDSHAKE_MS)
            conn_close(r->c, BANTER_ETIMEDOUT, false, NULL);
    } else if (t - conn_last_rx(r->c) > RDV_TIMEOUT_MS) {
        conn_close(r->c, BANTER_ETIMEDOUT, false, NULL);
    } else if (t - conn_last_rx(r->c) >= RDV_KEEPALIVE_MS && t - r->last_ping >= RDV_KEEPALIVE_MS) {
        msg ping = {.type = MSG_PING};
        ping.u.ping.token = (uint64_t)t & ~BARRIER_BIT;
        r->last_ping = t;
        (void)send_msg(r, &ping);
    }
    if (t - conn_last_rx(r->c) >= TICK_S * 1000)
        conn_trim(r->c); /* quiet: the session's buffers go (net/conn.h) */
    return G_SOURCE_CONTINUE;
}

static gboolean on_retry(gpointer v);

/* The next instance of the ring after the delay failover gives (a dial
 * failed, a connection ended or was refused). */
static void schedule_retry(rdv *r)
{
    if (r->stopping || r->retry)
        return;
    uint32_t delay = failover_next(&r->fo, mono_ms(), &r->rng);
    if (r->cfg.srv[0] && failover_wrapped(&r->fo))
        r->need_lookup = true;
    r->retry = g_timeout_add_full(G_PRIORITY_DEFAULT, delay, on_retry, r, NULL);
}

static void set_server_name(rdv *r, const rdv_target *t)
{
    if (strchr(t->host, ':')) /* an IPv6 address */
        snprintf(r->server, sizeof r->server, "[%s]:%u", t->host, t->port);
    else
        snprintf(r->server, sizeof r->server, "%s:%u", t->host, t->port);
}

/* ---- the service's DNS SRV name, looked up in a worker thread ---- */

/* Shared by the loop and the worker: the worker reads name only; the
 * loop clears r when the rdv is freed first. */
typedef struct srv_job {
    rdv *r;
    char name[256];
} srv_job;

typedef struct srv_answer {
    size_t n;
    srvrec t[BANTER_MAX_INSTANCES];
} srv_answer;

static void srv_lookup_thread(GTask *task, gpointer src, gpointer data, GCancellable *cancel)
{
    srv_job *j = data;
    struct __res_state st;
    uint8_t ans[BANTER_MAX_DNS_ANSWER];
    (void)src;
    (void)cancel;
    memset(&st, 0, sizeof st);
    if (res_ninit(&st) != 0) {
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_FAILED, "no resolver configuration");
        return;
    }
    int n = res_nquery(&st, j->name, ns_c_in, ns_t_srv, ans, (int)sizeof ans);
    res_nclose(&st);
    if (n < 0) {
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", hstrerror(h_errno));
        return;
    }
    srv_answer *a = g_new0(srv_answer, 1);
    int e = srvrec_parse(ans, (size_t)MIN(n, (int)sizeof ans), a->t, BANTER_MAX_INSTANCES, &a->n);
    if (e) {
        g_free(a);
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_FAILED, "%s",
                                e == BANTER_ENOENT ? "no SRV record with a target"
                                                   : "the DNS answer does not parse");
        return;
    }
    g_task_return_pointer(task, a, g_free);
}

static void dial(rdv *r);

static void on_srv_answer(GObject *src, GAsyncResult *res, gpointer ud)
{
    (void)src;
    (void)ud;
    GTask *task = G_TASK(res);
    srv_job *j = g_task_get_task_data(task);
    rdv *r = j->r;
    GError *err = NULL;
    srv_answer *a = g_task_propagate_pointer(task, &err);
    if (!r) { /* the rdv was freed meanwhile */
        g_clear_error(&err);
        g_free(a);
        return;
    }
    r->job = NULL;
    if (!a) {
        snprintf(r->error, sizeof r->error,
                 "cannot look up the rendezvous service %s (DNS SRV): %s", r->cfg.srv,
                 err ? err->message : "no answer");
        g_clear_error(&err);
        if (!r->down_said) {
            say(r, r->error);
            r->down_said = true;
        }
        schedule_retry(r);
        r->need_lookup = true;
        return;
    }
    srvrec_order(a->t, a->n, &r->rng);
    for (size_t i = 0; i < a->n; i++) {
        g_strlcpy(r->targets[i].host, a->t[i].host, sizeof r->targets[i].host);
        r->targets[i].port = a->t[i].port;
    }
    r->ntargets = (uint32_t)a->n;
    failover_renew(&r->fo, r->ntargets);
    r->need_lookup = false;
    g_free(a);
    dial(r);
}

static void srv_lookup(rdv *r)
{
    if (r->job)
        return;
    srv_job *j = g_new0(srv_job, 1);
    j->r = r;
    g_strlcpy(j->name, r->cfg.srv, sizeof j->name);
    g_main_context_push_thread_default(r->ctx);
    GTask *task = g_task_new(NULL, NULL, on_srv_answer, NULL);
    g_main_context_pop_thread_default(r->ctx);
    g_task_set_task_data(task, j, g_free);
    r->job = j;
    g_task_run_in_thread(task, srv_lookup_thread);
    g_object_unref(task);
}

static const char *reason(int err)
{
    switch (err) {
    case 0:
        return "the server closed the connection";
    case BANTER_EINVAL:
        return "unknown host";
    case BANTER_EIO:
        return "connection refused or network unreachable";
    case BANTER_ETIMEDOUT:
        return "no answer in time";
    default:
        return banter_strerror(err);
    }
}

static void cannot_connect(rdv *r, int err)
{
    snprintf(r->error, sizeof r->error, "cannot connect to the rendezvous server at %s: %s",
             r->server, reason(err));
    if (!r->down_said) {
        char text[700];
        snprintf(text, sizeof text, "%s; trying %s every %u s at most", r->error,
                 r->ntargets > 1 || r->cfg.srv[0] ? "the other instances and it" : "again",
                 FAILOVER_CAP_MS / 1000);
        say(r, text);
        r->down_said = true;
    }
}

static void dial(rdv *r)
{
    int err;
    if (r->stopping || r->c || r->job)
        return;
    if (r->need_lookup || !r->ntargets) {
        srv_lookup(r);
        return;
    }
    const rdv_target *t = &r->targets[failover_current(&r->fo) % r->ntargets];
    set_server_name(r, t);
    r->instance[0] = '\0';
    r->awaiting_icert = false;
    r->c = conn_connect(r->ctx, r->cfg.ev, r->id, t->host, t->port, &conn_cbs, r, &err);
    if (!r->c) {
        cannot_connect(r, err);
        schedule_retry(r);
        return;
    }
    r->last_ping = 0;
    if (!r->tick)
        r->tick = g_timeout_add_seconds(TICK_S, on_tick, r);
}

static gboolean on_retry(gpointer v)
{
    rdv *r = v;
    r->retry = 0;
    dial(r);
    return G_SOURCE_REMOVE;
}

/* The server proved another key than the pinned one. Nothing more is sent
 * to it; the loud message is printed once per wrong key. */
static void refuse_server(rdv *r, conn *c, const char *fp, const char *fpd, const char *why)
{
    snprintf(r->error, sizeof r->error,
             "the server at %s has fingerprint %s, not the pinned %s%s%.150s: refusing it",
             r->server, fp, r->server_fp, why ? ", and " : "", why ? why : "");
    if (strcmp(r->warned, fpd) != 0) {
        char text[800];
        snprintf(text, sizeof text,
                 "WARNING: %s (if the server's key really changed, ask its admin for "
                 "`banter-rendezvous fingerprint` and restart the node with that --server-key)",
                 r->error);
        say(r, text);
        memcpy(r->warned, fpd, sizeof r->warned);
    }
    conn_close(c, BANTER_EKEYMISMATCH, false, NULL);
}

/* The server proved the pinned key (org is the peer's), or another key
 * with an instance certificate from the pinned key (org is the signer):
 * say HELLO. */
static void begin_session(rdv *r, const uint8_t org[static 32])
{
    r->verified = true;
    memcpy(r->server_key, org, 32);
    failover_up(&r->fo, mono_ms());
    /* A new session: the server tells again which account this device is
     * bound to (RV_AUTH while handling our HELLO), or nothing. */
    r->user[0] = '\0';
    r->admin = false;
    r->auth_error[0] = '\0';
    r->retry_after_ms = 0;
    msg h = {.type = MSG_HELLO};
    h.u.hello.version = SESSION_VERSION;
    g_strlcpy(h.u.hello.name, r->cfg.name, sizeof h.u.hello.name);
    g_strlcpy(h.u.hello.features[0], "chat", sizeof h.u.hello.features[0]);
    g_strlcpy(h.u.hello.features[1], "broadcast", sizeof h.u.hello.features[1]);
    g_strlcpy(h.u.hello.features[2], "file", sizeof h.u.hello.features[2]);
    g_strlcpy(h.u.hello.features[3], "policy", sizeof h.u.hello.features[3]);
    g_strlcpy(h.u.hello.features[4], RVBATCH_FEATURE, sizeof h.u.hello.features[4]);
    h.u.hello.nfeatures = 5;
    if (r->org_hook) { /* announcements and the revocation list (orgnote.h) */
        g_strlcpy(h.u.hello.features[5], ANN_FEATURE, sizeof h.u.hello.features[5]);
        h.u.hello.nfeatures = 6;
    }
    /* The PONG to this PING means the server has handled our HELLO: any
     * RV_AUTH before it describes the device, not a login. */
    msg ping = {.type = MSG_PING};
    ping.u.ping.token = r->hello_token = BARRIER_BIT | ++r->next_token;
    if (send_msg(r, &h) == 0)
        (void)send_msg(r, &ping);
}

static void on_established(void *ud, conn *c)
{
    rdv *r = ud;
    char fp[IDENTITY_FP_LEN + 1], fpd[IDENTITY_FP_DIGITS + 1];
    identity_fingerprint(conn_peer(c), fp);
    if (rdv_parse_fingerprint(fp, fpd) == 0 && strcmp(fpd, r->cfg.fpd) == 0) {
        begin_session(r, conn_peer(c));
        return;
    }
    /* Another key: one instance of the service, if the first thing it
     * says is a certificate for that key from the pinned one. */
    r->awaiting_icert = true;
}

/* Why an instance certificate (RV_INSTANCE's payload) does not make the
 * peer's key one of the pinned service's, or NULL when it does (*ic set). */
static const char *instance_refusal(const rdv *r, conn *c, const uint8_t *pt, size_t len, icert *ic,
                                    char *out, size_t cap)
{
    char fp[IDENTITY_FP_LEN + 1], fpd[IDENTITY_FP_DIGITS + 1];
    if (len == 0 || pt[0] != ICERT_TYPE)
        return ""; /* no certificate: the plain impostor's refusal */
    int e = icert_decode(ic, pt + 1, len - 1);
    if (e) {
        snprintf(out, cap, "its instance certificate is not valid (%s)", banter_strerror(e));
        return out;
    }
    identity_fingerprint(ic->org, fp);
    if (rdv_parse_fingerprint(fp, fpd) != 0 || strcmp(fpd, r->cfg.fpd) != 0) {
        snprintf(out, cap, "its instance certificate is signed by %s, not by the pinned key", fp);
        return out;
    }
    e = icert_check(ic, ic->org, conn_peer(c), real_ms());
    if (e == BANTER_EKEYMISMATCH)
        return "its instance certificate is for another key";
    if (e)
        return "its instance certificate has expired or is not valid yet (check the clocks)";
    return NULL;
}

static void on_instance(rdv *r, conn *c, const uint8_t *pt, size_t len)
{
    char fp[IDENTITY_FP_LEN + 1], fpd[IDENTITY_FP_DIGITS + 1], reason[160], text[600];
    icert ic;
    r->awaiting_icert = false;
    const char *why = instance_refusal(r, c, pt, len, &ic, reason, sizeof reason);
    if (why) {
        identity_fingerprint(conn_peer(c), fp);
        if (rdv_parse_fingerprint(fp, fpd) != 0)
            fpd[0] = '\0';
        refuse_server(r, c, fp, fpd, why[0] ? why : NULL);
        return;
    }
    g_strlcpy(r->instance, ic.name, sizeof r->instance);
    snprintf(text, sizeof text, "the rendezvous server at %s is instance %s of the pinned service",
             r->server, ic.name);
    say(r, text);
    begin_session(r, ic.org);
}

/* Requests go out once both HELLOs are done (the server's arrived, ours
 * was handled). */
static void maybe_ready(rdv *r)
{
    char text[600];
    if (r->ready || !r->peer_hello || r->hello_token)
        return;
    r->ready = true;
    r->ready_since = mono_ms();
    r->error[0] = '\0';
    r->warned[0] = '\0';
    r->down_said = false;
    if (r->user[0])
        snprintf(text, sizeof text, "connected to the rendezvous server at %s as %s%s", r->server,
                 r->user, r->admin ? " (admin)" : "");
    else if (r->auth_error[0])
        snprintf(text, sizeof text,
                 "connected to the rendezvous server at %s; it refused this device's account: %s",
                 r->server, r->auth_error);
    else
        snprintf(text, sizeof text, "connected to the rendezvous server at %s (not logged in)",
                 r->server);
    say(r, text);
    update_authed(r);
}

/* An RV_BATCH from the server: checked whole, then each message as if it
 * came alone; our answers to them go out together. A malformed one, or
 * one we could not have been sent, ends the connection. */
static void on_batch(rdv *r, conn *c, const uint8_t *pt, size_t len)
{
    size_t n, ml;
    const uint8_t *m;
    if (!r->peer_hello || !r->batch || rvbatch_check(pt, len, &n) != 0) {
        conn_close(c, BANTER_EPROTO, true, "malformed batch");
        return;
    }
    bool hold = r->hold;
    r->hold = true;
    rvbatch_iter it = rvbatch_iter_make(pt, len);
    while (r->c == c && conn_is_open(c) && rvbatch_next(&it, &m, &ml))
        on_message(r, c, m, ml);
    r->hold = hold;
    if (!hold)
        (void)flush_held(r);
}

static void on_message(void *ud, conn *c, const uint8_t *pt, size_t len)
{
    rdv *r = ud;
    msg m;
    if (!r->verified) {
        if (r->awaiting_icert && c == r->c)
            on_instance(r, c, pt, len);
        return; /* a refused server is closed before it can speak */
    }
    if (len && pt[0] == RV_BATCH) {
        on_batch(r, c, pt, len);
        return;
    }
    if (len && rvmsg_owns(pt[0])) {
        on_rvmsg(r, pt, len);
        return;
    }
    if (len && pt[0] == RDV_POLICY_TYPE) {
        on_policy(r, pt + 1, len - 1);
        return;
    }
    if (len && annmsg_owns(pt[0]) && r->org_hook) {
        r->org_hook(r->org_ud, pt, len);
        return;
    }
    int e = msg_decode(&m, pt, len);
    if (e) {
        refuse_msg(r, e, "message refused");
        return;
    }
    switch (m.type) {
    case MSG_HELLO:
        r->peer_hello = true;
        for (size_t i = 0; i < m.u.hello.nfeatures; i++)
            r->batch |= strcmp(m.u.hello.features[i], RVBATCH_FEATURE) == 0;
        maybe_ready(r);
        break;
    case MSG_PING: {
        msg pong = {.type = MSG_PONG};
        pong.u.ping.token = m.u.ping.token;
        (void)send_msg(r, &pong);
        break;
    }
    case MSG_PONG:
        on_pong(r, m.u.ping.token);
        break;
    case MSG_ERROR:
        on_error(r, &m.u.error);
        break;
    case MSG_BYE:
        conn_close(c, 0, false, NULL);
        break;
    default: /* chat and files are for peers, not the server */
        refuse_msg(r, BANTER_EBADTYPE, "type not accepted from a server");
        break;
    }
    msg_clear(&m);
}

static void on_closed(void *ud, conn *c, int err)
{
    rdv *r = ud;
    bool was_ready = r->ready;
    (void)c;
    r->c = NULL;
    r->ready = r->verified = r->peer_hello = r->batch = r->hold = false;
    rvbatch_reset(&r->ob);
    r->hello_token = 0;
    update_authed(r);
    if (r->tick)
        g_source_remove(r->tick);
    r->tick = 0;
    fail_all(r, r->stopping ? "the node is stopping"
                            : "the connection to the rendezvous server ended before it answered");
    if (r->stopping)
        return;
    if (was_ready) {
        char text[700];
        snprintf(r->error, sizeof r->error,
                 "lost the connection to the rendezvous server at %s: %s", r->server,
                 err ? banter_strerror(err) : "closed by the server");
        snprintf(text, sizeof text, "%s; reconnecting", r->error);
        say(r, text);
    } else if (err != BANTER_EKEYMISMATCH) {
        cannot_connect(r, err);
    }
    schedule_retry(r);
}

/* ---- lifecycle and status ---- */

int rdv_new(rdv **out, GMainContext *ctx, const identity *id, const rdv_config *cfg,
            rdv_event_fn event, void *ud)
{
    rdv *r = g_new0(rdv, 1);
    r->ctx = ctx;
    r->id = id;
    r->cfg = *cfg;
    r->event = event;
    r->ud = ud;
    g_queue_init(&r->inflight);
    r->rng = cfg->rng.fill ? cfg->rng : bcrypto_rng_system();
    r->ntargets = MIN(cfg->ntargets, BANTER_MAX_INSTANCES);
    memcpy(r->targets, cfg->targets, sizeof r->targets);
    /* Listed: each node its own random ring. SRV: the answer's order. */
    failover_init(&r->fo, r->ntargets, FAILOVER_BASE_MS, FAILOVER_CAP_MS, FAILOVER_STABLE_MS,
                  cfg->srv[0] ? NULL : &r->rng);
    r->need_lookup = cfg->srv[0] != '\0';
    if (r->ntargets)
        set_server_name(r, &r->targets[failover_current(&r->fo)]);
    else
        snprintf(r->server, sizeof r->server, "%s", cfg->srv);
    rvbatch_init(&r->ob);
    rdv_format_fingerprint(cfg->fpd, r->server_fp);
    cert_load(r);
    policy_load(r);
    *out = r;
    return 0;
}

void rdv_start(rdv *r) { dial(r); }

void rdv_free(rdv *r)
{
    if (!r)
        return;
    r->stopping = true;
    if (r->job) /* its answer finds no rdv and is dropped */
        r->job->r = NULL;
    if (r->retry)
        g_source_remove(r->retry);
    r->retry = 0;
    r->hold = false;
    if (r->c)
        (void)flush_held(r); /* what this iteration queued goes before the BYE */
    if (r->c)
        conn_close(r->c, 0, true, "node stopping");
    /* Let the conn's closed callback run: it answers what still waits. */
    while (r->c && g_main_context_iteration(r->ctx, FALSE))
        ;
    fail_all(r, "the node is stopping");
    if (r->tick)
        g_source_remove(r->tick);
    if (r->flush_src)
        g_source_remove(r->flush_src);
    rvbatch_free(&r->ob);
    bcrypto_wipe(r, sizeof *r);
    g_free(r);
}

void rdv_get_status(const rdv *r, rdv_status *st)
{
    memset(st, 0, sizeof *st);
    memcpy(st->server, r->server, sizeof st->server);
    memcpy(st->instance, r->instance, sizeof st->instance);
    memcpy(st->server_fp, r->server_fp, sizeof st->server_fp);
    st->connected = r->ready;
    st->verified = r->verified;
    memcpy(st->user, r->user, sizeof st->user);
    st->admin = r->admin;
    memcpy(st->error, r->error, sizeof st->error);
    memcpy(st->auth_error, r->auth_error, sizeof st->auth_error);
    st->retry_after_ms = r->retry_after_ms;
    st->cert_expires_ms = r->has_cert ? r->cert.expires_ms : 0;
    st->status = r->my_status;
    memcpy(st->status_text, r->my_text, sizeof st->status_text);
    st->has_policy = r->has_policy;
    if (r->has_policy)
        st->pol = r->pol;
}

const cert *rdv_cert(const rdv *r) { return r->has_cert ? &r->cert : NULL; }
