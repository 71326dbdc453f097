/* SPDX-License-Identifier: MIT */
/* cluster.c - one instance of several on one PostgreSQL (see cluster.h). */
#include "cluster.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "rvmsg.h"

/* At most this many devices, or names, in one statement: the rest waits
 * for the next (a join registers every device held again at once). */
#define FLUSH_MAX  4096
/* NOTIFY's payload is below 8,000 bytes: names are split into several. */
#define NOTIFY_MAX 7900

/* A device that came online or went offline here, not written yet. */
struct devch {
    uint8_t dev[32];
    uint32_t seq; /* its place in the queue: the last change of a device wins */
    bool on;
    char user[DB_CLUSTER_MAX_USER + 1]; /* on: its account */
};

/* Account names, each ending with '\0', in one buffer. */
struct names {
    char *buf;
    size_t len, cap, n;
};

struct cluster {
    uv_loop_t *loop;
    db_pg *pg;
    uv_timer_t beat;
    cluster_cbs cbs;
    void *ud;
    FILE *log;
    char id[DB_CLUSTER_MAX_ID + 1];
    bool joined;         /* registered on the current connection */
    bool joining;        /* a join is in flight */
    bool beating;        /* a heartbeat is in flight */
    bool taking;         /* a take is in flight */
    bool again;          /* a notification came while taking: take once more */
    bool freed;          /* cluster_free ran: the timer's close callback frees */
    char link[64];       /* the address of this instance's links (xlink.h), or "" */
    uv_check_t check;    /* end of a loop iteration: write and read what it queued */
    bool checking;       /* check is started */
    bool flushing;       /* a write of queued changes is in flight */
    bool reading;        /* a read of queued presence is in flight */
    uint64_t nreads;     /* presence reads sent (numbered from 1, in order) */
    uint64_t named_no;   /* the number of the read of queued presence in flight */
    uint64_t answering;  /* the read whose answer is being delivered, or 0 */
    int handles;         /* handles not closed yet (cluster_free) */
    struct devch *dq;    /* devices online / offline, in order */
    size_t ndq, capdq;   /* (dq freed when empty) */
    struct names told;   /* accounts whose presence changed here: NOTIFY */
    struct names toread; /* accounts another instance (or this) named */
    struct names ups;    /* accounts whose devices the write in flight puts online */
};

static void say(const cluster *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const cluster *c, const char *fmt, ...)
{
    if (!c->log)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(c->log, "banter-rendezvous: cluster %s: ", c->id);
    vfprintf(c->log, fmt, ap);
    fputc('\n', c->log);
    va_end(ap);
    fflush(c->log);
}

static void take(cluster *c);

static void on_taken(void *ud, int ret, const db_cluster_event *ev, size_t n, const char *errmsg)
{
    cluster *c = ud;
    c->taking = false;
    if (ret != 0) {
        say(c, "cannot take events: %s", errmsg);
        return; /* the next notification or join takes them */
    }
    for (size_t i = 0; i < n; i++)
        if (c->cbs.event)
            c->cbs.event(c->ud, &ev[i], ev[i].user);
    if (n == DB_CLUSTER_TAKE_MAX || c->again)
        take(c);
}

static void take(cluster *c)
{
    if (!c->joined)
        return;
    if (c->taking) {
        c->again = true;
        return;
    }
    c->again = false;
    int r = db_cluster_take(c->pg, c->id, on_taken, c);
    if (r != 0)
        say(c, "cannot take events: %s", banter_strerror(r));
    else
        c->taking = true;
}

static void publish_link(cluster *c)
{
    if (!c->link[0])
        return;
    const char *v[2] = {c->id, c->link};
    int r = db_pg_query(c->pg, "UPDATE banter_instances SET link = $2 WHERE id = $1", 2, v, NULL,
                        NULL, false, NULL, NULL);
    if (r != 0)
        say(c, "cannot publish the link address: %s", banter_strerror(r));
}

static void on_joined(void *ud, int ret, int64_t n, const char *errmsg)
{
    (void)n;
    cluster *c = ud;
    c->joining = false;
    if (ret != 0) {
        say(c, "cannot join: %s", errmsg);
        return; /* the next heartbeat tries again */
    }
    c->joined = true;
    say(c, "joined the service");
    publish_link(c);
    if (c->cbs.joined)
        c->cbs.joined(c->ud);
    take(c);
}

static void join(cluster *c)
{
    if (c->joining)
        return;
    int r = db_cluster_join(c->pg, c->id, on_joined, c);
    if (r != 0)
        say(c, "cannot join: %s", banter_strerror(r));
    else
        c->joining = true;
}

static void on_reaped_users(void *ud, const char *const *users, size_t n)
{
    cluster *c = ud;
    if (c->cbs.reaped)
        c->cbs.reaped(c->ud, users, n);
}

static void on_beat_done(void *ud, int ret, int64_t n, const char *errmsg)
{
    cluster *c = ud;
    c->beating = false;
    if (ret != 0) {
        say(c, "heartbeat failed: %s", errmsg);
        return;
    }
    if (n < 0) {
        say(c, "this instance was declared dead by another (silent over %d ms): joining again",
            CLUSTER_DEAD_MS);
        c->joined = false;
        join(c);
    } else if (n > 0) {
        say(c, "reaped %lld silent instance%s", (long long)n, n == 1 ? "" : "s");
    }
}

static void on_beat(uv_timer_t *t)
{
    cluster *c = t->data;
    if (!db_pg_is_up(c->pg))
        return;
    if (!c->joined) {
        join(c);
        return;
    }
    if (c->beating)
        return;
    int r = db_cluster_heartbeat(c->pg, c->id, CLUSTER_DEAD_MS, on_reaped_users, on_beat_done, c);
    if (r != 0)
        say(c, "heartbeat failed: %s", banter_strerror(r));
    else
        c->beating = true;
}

static void on_up(void *ud)
{
    cluster *c = ud;
    c->joined = false;
    join(c);
}

static void on_down(void *ud, const char *why)
{
    cluster *c = ud;
    c->joined = false;
    say(c, "database connection lost (%s): connecting again", why);
}

#define PRESENCE_CHANNEL "bt_presence"

static int names_add(struct names *l, const char *name, size_t len);
static void schedule(cluster *c);

/* Organisation-wide changes (cluster_org_changed): "WHAT INSTANCE". */
#define ORG_CHANNEL "bt_org"

static void on_notify(void *ud, const char *channel, const char *payload)
{
    cluster *c = ud;
    if (strcmp(channel, ORG_CHANNEL) == 0) {
        size_t len = strcspn(payload, " ");
        char what[CLUSTER_ORG_MAX + 1];
        if (len == 0 || len > CLUSTER_ORG_MAX || payload[len] != ' ' ||
            strcmp(payload + len + 1, c->id) == 0 || !c->cbs.org)
            return; /* malformed, or this instance's own (applied already) */
        memcpy(what, payload, len);
        what[len] = '\0';
        c->cbs.org(c->ud, what);
        return;
    }
    if (strcmp(channel, PRESENCE_CHANNEL) == 0) {
        /* names separated by '\n' (one name from an older instance) */
        while (*payload) {
            size_t len = strcspn(payload, "\n");
            if (len && len <= DB_CLUSTER_MAX_USER && c->cbs.presence &&
                names_add(&c->toread, payload, len) != 0)
                say(c, "cannot queue a presence read: out of memory");
            payload += len;
            if (*payload)
                payload++;
        }
        schedule(c);
        return;
    }
    take(c); /* the payload is the event's seq: the table is read in order anyway */
}

int cluster_new(cluster **out, uv_loop_t *loop, const char *conninfo, const char *id,
                const cluster_cbs *cbs, void *ud, FILE *log, char *why, size_t cap)
{
    *out = NULL;
    if (!db_cluster_id_ok(id)) {
        snprintf(why, cap, "\"%s\" is not an instance id (1 to %d of a-z, 0-9 and '_')", id,
                 DB_CLUSTER_MAX_ID);
        return BANTER_EINVAL;
    }
    int r = db_cluster_setup(conninfo, why, cap);
    if (r != 0)
        return r;
    cluster *c = calloc(1, sizeof *c);
    if (!c)
        return BANTER_ENOMEM;
    c->loop = loop;
    c->cbs = *cbs;
    c->ud = ud;
    c->log = log;
    snprintf(c->id, sizeof c->id, "%s", id);
    const db_pg_cbs pcbs = {.up = on_up, .down = on_down, .notify = on_notify};
    r = db_pg_new(&c->pg, loop, conninfo, &pcbs, c, why, cap);
    if (r != 0) {
        free(c);
        return r;
    }
    r = db_pg_listen(c->pg, PRESENCE_CHANNEL);
    if (r == 0)
        r = db_pg_listen(c->pg, ORG_CHANNEL);
    if (r != 0) {
        snprintf(why, cap, "cannot listen for presence: %s", banter_strerror(r));
        db_pg_free(c->pg);
        free(c);
        return r;
    }
    uv_timer_init(loop, &c->beat);
    c->beat.data = c;
    uv_timer_start(&c->beat, on_beat, CLUSTER_BEAT_MS, CLUSTER_BEAT_MS);
    uv_check_init(loop, &c->check);
    c->check.data = c;
    c->handles = 2;
    *out = c;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    cluster *c = h->data;
    if (--c->handles > 0)
        return;
    free(c->dq);
    free(c->told.buf);
    free(c->toread.buf);
    free(c->ups.buf);
    free(c);
}

void cluster_free(cluster *c)
{
    if (!c)
        return;
    c->freed = true;
    c->log = NULL;
    db_pg_free(c->pg); /* callbacks not run yet run now, with "closed": they only log */
    c->pg = NULL;
    uv_timer_stop(&c->beat);
    uv_check_stop(&c->check);
    uv_close((uv_handle_t *)&c->beat, on_closed);
    uv_close((uv_handle_t *)&c->check, on_closed);
}

const char *cluster_id(const cluster *c) { return c->id; }

bool cluster_joined(const cluster *c) { return c->joined; }

static void on_written(void *ud, int ret, int64_t n, const char *errmsg)
{
    (void)n;
    cluster *c = ud;
    if (ret != 0 && !c->freed)
        say(c, "cannot write to the cluster tables: %s", errmsg);
}

struct post {
    cluster *c;
    cluster_posted_fn done;
    void *ud;
};

static void on_posted(void *ud, int ret, int64_t n, const char *errmsg)
{
    struct post *p = ud;
    if (ret != 0 && !p->c->freed)
        say(p->c, "cannot post an event: %s", errmsg);
    if (p->done)
        p->done(p->ud, ret, n);
    free(p);
}

void cluster_post(cluster *c, const uint8_t device[static 32], int kind, int64_t row_id,
                  cluster_posted_fn done, void *ud)
{
    cluster_post_body(c, device, NULL, kind, row_id, NULL, 0, done, ud);
}

void cluster_post_body(cluster *c, const uint8_t device[static 32], const char *user, int kind,
                       int64_t row_id, const uint8_t *body, size_t len, cluster_posted_fn done,
                       void *ud)
{
    struct post *p = malloc(sizeof *p);
    int r = p ? 0 : BANTER_ENOMEM;
    if (p) {
        *p = (struct post){c, done, ud};
        r = db_cluster_post_body(c->pg, device, user, kind, row_id, body, len, on_posted, p);
        if (r != 0)
            free(p);
    }
    if (r != 0) {
        say(c, "cannot post an event: %s", banter_strerror(r));
        if (done)
            done(ud, r, 0);
    }
}

void cluster_post_user(cluster *c, const char *user, bool per_account, int kind,
                       const uint8_t *body, size_t len)
{
    int r =
        db_cluster_post_user(c->pg, c->id, user, per_account, kind, 0, body, len, on_written, c);
    if (r != 0)
        say(c, "cannot post an event: %s", banter_strerror(r));
}

/* ---- the queue: what a loop iteration changed, written as one statement ---- */

static int names_add(struct names *l, const char *name, size_t len)
{
    if (l->len + len + 1 > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        while (cap < l->len + len + 1)
            cap *= 2;
        char *b = realloc(l->buf, cap);
        if (!b)
            return BANTER_ENOMEM;
        l->buf = b;
        l->cap = cap;
    }
    memcpy(l->buf + l->len, name, len);
    l->buf[l->len + len] = '\0';
    l->len += len + 1;
    l->n++;
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first (at most FLUSH_MAX) names of l, sorted, each once, into v (n
 * returned). */
static size_t names_take(const struct names *l, const char **v)
{
    size_t n = 0, off = 0;
    while (n < l->n && n < FLUSH_MAX) {
        v[n++] = l->buf + off;
        off += strlen(l->buf + off) + 1;
    }
    if (n)
        qsort(v, n, sizeof *v, cmp_name);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || strcmp(v[u - 1], v[i]) != 0)
            v[u++] = v[i];
    return u;
}

/* Remove the first k names from l; the buffer goes when empty (a burst's
 * queue is not kept). */
static void names_drop(struct names *l, size_t k)
{
    size_t used = 0;
    for (size_t i = 0; i < k; i++)
        used += strlen(l->buf + used) + 1;
    l->n -= k;
    l->len -= used;
    if (l->len)
        memmove(l->buf, l->buf + used, l->len);
    if (l->n == 0) {
        free(l->buf);
        *l = (struct names){0};
    }
}

static size_t names_count(const struct names *l) { return l->n < FLUSH_MAX ? l->n : FLUSH_MAX; }

/* Append s as a quoted element of a PostgreSQL array literal. */
static void lit_add(char **p, const char *s, size_t len)
{
    *(*p)++ = '"';
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\')
            *(*p)++ = '\\';
        *(*p)++ = s[i];
    }
    *(*p)++ = '"';
    *(*p)++ = ',';
}

/* A text[] literal of the payloads: names joined by '\n', each payload
 * under NOTIFY_MAX bytes. NULL when out of memory. */
static char *notify_literal(const char *const *v, size_t n)
{
    size_t cap = 3;
    for (size_t i = 0; i < n; i++)
        cap += 2 * strlen(v[i]) + 4;
    char *out = malloc(cap), *p = out;
    if (!out)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < n;) {
        char *start = p;
        *p++ = '"';
        size_t plen = 0;
        for (; i < n && plen + strlen(v[i]) + 1 < NOTIFY_MAX; i++) {
            if (plen)
                *p++ = '\n';
            for (const char *s = v[i]; *s; s++) {
                if (*s == '"' || *s == '\\')
                    *p++ = '\\';
                *p++ = *s;
            }
            plen += strlen(v[i]) + 1;
        }
        if (plen == 0) { /* a name alone over the limit: cannot be (DB_CLUSTER_MAX_USER) */
            p = start;
            i++;
            continue;
        }
        *p++ = '"';
        *p++ = ',';
    }
    if (p[-1] == ',')
        p--;
    *p++ = '}';
    *p = '\0';
    return out;
}

static int cmp_devch(const void *a, const void *b)
{
    const struct devch *x = a, *y = b;
    int d = memcmp(x->dev, y->dev, 32);
    if (d)
        return d;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void names_clear(struct names *l)
{
    free(l->buf);
    *l = (struct names){0};
}

/* The accounts whose devices the committed write put online, to
 * cbs.recorded (each once). */
static void tell_recorded(cluster *c)
{
    while (c->ups.n && c->cbs.recorded) {
        size_t n = names_count(&c->ups);
        const char **v = malloc(n * sizeof *v);
        if (!v) {
            say(c, "cannot check the accounts just online again: out of memory");
            break;
        }
        size_t u = names_take(&c->ups, v);
        c->cbs.recorded(c->ud, v, u);
        free(v);
        names_drop(&c->ups, n);
    }
    names_clear(&c->ups);
}

static void on_flushed(void *ud, int ret, const PGresult *res, const char *errmsg)
{
    (void)res;
    cluster *c = ud;
    c->flushing = false;
    if (c->freed) {
        names_clear(&c->ups);
        return;
    }
    if (ret != 0) {
        say(c, "cannot write to the cluster tables: %s", errmsg);
        names_clear(&c->ups);
    } else {
        tell_recorded(c);
    }
    schedule(c); /* what came meanwhile */
}

/* The devices of the first k queued changes (sorted, the last change of
 * each kept) as two key strings (offline, online) and a text[] of the
 * online devices' accounts. */
struct flushbuf {
    uint8_t *down, *up;
    size_t ndown, nup;
    char *users, *notify;
};

static int flush_build(cluster *c, size_t k, struct flushbuf *f)
{
    struct devch *q = c->dq;
    if (k)
        qsort(q, k, sizeof *q, cmp_devch);
    size_t ucap = 3;
    for (size_t i = 0; i < k; i++)
        ucap += 2 * strlen(q[i].user) + 3;
    f->down = malloc(32 * k + 1);
    f->up = malloc(32 * k + 1);
    f->users = malloc(ucap);
    if (!f->down || !f->up || !f->users)
        return BANTER_ENOMEM;
    char *u = f->users;
    *u++ = '{';
    for (size_t i = 0; i < k; i++) {
        if (i + 1 < k && memcmp(q[i].dev, q[i + 1].dev, 32) == 0)
            continue; /* a later change of the same device */
        if (q[i].on) {
            memcpy(f->up + 32 * f->nup++, q[i].dev, 32);
            lit_add(&u, q[i].user, strlen(q[i].user));
            if (names_add(&c->ups, q[i].user, strlen(q[i].user)) != 0)
                return BANTER_ENOMEM;
        } else {
            memcpy(f->down + 32 * f->ndown++, q[i].dev, 32);
        }
    }
    if (u[-1] == ',')
        u--;
    *u++ = '}';
    *u = '\0';
    return 0;
}

/* Write the queued changes: devices online and offline and the presence
 * notifications, one statement (one commit: the notifications reach the
 * others with the rows they announce). */
static void flush(cluster *c)
{
    size_t k = c->ndq < FLUSH_MAX ? c->ndq : FLUSH_MAX;
    size_t nt = names_count(&c->told);
    if (c->flushing || c->freed || (k == 0 && nt == 0))
        return;
    struct flushbuf f = {0};
    const char **v = malloc((nt ? nt : 1) * sizeof *v);
    int r = v ? flush_build(c, k, &f) : BANTER_ENOMEM;
    if (r == 0) {
        size_t u = names_take(&c->told, v);
        f.notify = notify_literal(v, u);
        r = f.notify ? 0 : BANTER_ENOMEM;
    }
    if (r == 0) {
        const char *val[5] = {c->id, (const char *)f.down, (const char *)f.up, f.users, f.notify};
        const int len[5] = {0, (int)(32 * f.ndown), (int)(32 * f.nup), 0, 0};
        const int fmt[5] = {0, 1, 1, 0, 0};
        r = db_pg_query(c->pg,
                        "WITH gone AS (DELETE FROM banter_online WHERE instance = $1 AND device IN"
                        " (SELECT substr($2::bytea, i * 32 + 1, 32)"
                        " FROM generate_series(0, length($2::bytea) / 32 - 1) i)),"
                        " came AS (INSERT INTO banter_online (device, instance, \"user\", since)"
                        " SELECT substr($3::bytea, (u.i - 1)::int * 32 + 1, 32), $1, u.name,"
                        " (extract(epoch FROM clock_timestamp()) * 1000)::bigint"
                        " FROM unnest($4::text[]) WITH ORDINALITY u(name, i)"
                        " ON CONFLICT (device) DO UPDATE SET instance = EXCLUDED.instance,"
                        " \"user\" = EXCLUDED.\"user\", since = EXCLUDED.since)"
                        " SELECT count(pg_notify('" PRESENCE_CHANNEL
                        "', x)) FROM unnest($5::text[]) x",
                        5, val, len, fmt, false, on_flushed, c);
    }
    /* Written or not, the queue moves on: a device not written is written
     * again at the next join, a presence not told is read whole then. */
    if (r != 0) {
        say(c, "cannot write to the cluster tables: %s", banter_strerror(r));
        names_clear(&c->ups);
    } else {
        c->flushing = true;
    }
    c->ndq -= k;
    if (c->ndq)
        memmove(c->dq, c->dq + k, c->ndq * sizeof *c->dq);
    else {
        free(c->dq);
        c->dq = NULL;
        c->capdq = 0;
    }
    if (nt)
        names_drop(&c->told, nt);
    free(f.down);
    free(f.up);
    free(f.users);
    free(f.notify);
    free(v);
}

/* Column col of row: the device keys in hex, concatenated (NULL: none),
 * into devs; how many (at most CLUSTER_PRESENCE_DEVS; a bad one ends it). */
static size_t devs_of(const PGresult *res, int row, int col,
                      uint8_t devs[static CLUSTER_PRESENCE_DEVS][32])
{
    if (PQgetisnull(res, row, col))
        return 0;
    const char *hex = PQgetvalue(res, row, col);
    size_t len = strlen(hex), n = 0;
    for (size_t at = 0; at + 64 <= len && n < CLUSTER_PRESENCE_DEVS; at += 64) {
        size_t got = 0;
        if (sodium_hex2bin(devs[n], 32, hex + at, 64, NULL, &got, NULL) != 0 || got != 32)
            break;
        n++;
    }
    return n;
}

/* What the presence reads say of an account's devices online: how many
 * (n) and which (devs: their keys in hex, concatenated, by key; an account
 * has at most 16), in one pass over its rows. */
#define DEVS_OF(user)                                                                              \
    " LEFT JOIN LATERAL (SELECT count(*) AS n, string_agg(encode(device, 'hex'), ''"               \
    " ORDER BY device) AS devs FROM banter_online WHERE \"user\" = " user ") o ON true"

static void on_batch_read(void *ud, int ret, const PGresult *res, const char *errmsg)
{
    cluster *c = ud;
    c->reading = false;
    if (ret != 0) {
        if (!c->freed)
            say(c, "cannot read presence: %s", errmsg);
        schedule(c);
        return;
    }
    int rows = PQntuples(res);
    c->answering = c->named_no;
    for (int i = 0; i < rows && !c->freed; i++) {
        long st = PQgetisnull(res, i, 2) ? RV_P_ONLINE : strtol(PQgetvalue(res, i, 2), NULL, 10);
        if (st < RV_P_ONLINE || st >= RV_P_COUNT)
            st = RV_P_ONLINE;
        uint8_t devs[CLUSTER_PRESENCE_DEVS][32];
        size_t nd = devs_of(res, i, 4, devs);
        c->cbs.presence(c->ud, PQgetvalue(res, i, 0), (uint8_t)st,
                        PQgetisnull(res, i, 3) ? "" : PQgetvalue(res, i, 3),
                        strtoll(PQgetvalue(res, i, 1), NULL, 10), (const uint8_t(*)[32])devs, nd);
    }
    c->answering = 0;
    schedule(c);
}

/* Read the presence of the accounts named (queued by on_notify): one
 * query for the lot. */
static void read_named(cluster *c)
{
    size_t n = names_count(&c->toread);
    if (c->reading || c->freed || n == 0 || !c->cbs.presence)
        return;
    const char **v = malloc(n * sizeof *v);
    char *lit = NULL;
    int r = BANTER_ENOMEM;
    if (v) {
        size_t u = names_take(&c->toread, v), cap = 3;
        for (size_t i = 0; i < u; i++)
            cap += 2 * strlen(v[i]) + 3;
        lit = malloc(cap);
        if (lit) {
            char *p = lit;
            *p++ = '{';
            for (size_t i = 0; i < u; i++)
                lit_add(&p, v[i], strlen(v[i]));
            if (p[-1] == ',')
                p--;
            *p++ = '}';
            *p = '\0';
            const char *val[1] = {lit};
            r = db_pg_query(c->pg,
                            "SELECT u.name, o.n, p.status, p.text, o.devs"
                            " FROM unnest($1::text[]) u(name)" DEVS_OF(
                                "u.name") " LEFT JOIN presence p ON p.\"user\" = u.name",
                            1, val, NULL, NULL, false, on_batch_read, c);
        }
    }
    if (r != 0) {
        say(c, "cannot read presence: %s", banter_strerror(r));
    } else {
        c->reading = true;
        c->named_no = ++c->nreads;
    }
    names_drop(&c->toread, n);
    free(lit);
    free(v);
}

static void on_check(uv_check_t *h)
{
    cluster *c = h->data;
    uv_check_stop(h);
    c->checking = false;
    flush(c);
    read_named(c);
}

/* Write and read what is queued at the end of this loop iteration (or,
 * while a write or read is in flight, when it has finished). */
static void schedule(cluster *c)
{
    if (c->checking || c->freed)
        return;
    bool write = !c->flushing && (c->ndq || c->told.n);
    bool read = !c->reading && c->toread.n;
    if (!write && !read)
        return;
    uv_check_start(&c->check, on_check);
    c->checking = true;
}

void cluster_device(cluster *c, const uint8_t device[static 32], const char *user, bool on)
{
    if (on && (!user || !*user || strlen(user) > DB_CLUSTER_MAX_USER)) {
        say(c, "cannot record a device online: %s", banter_strerror(BANTER_EINVAL));
        return;
    }
    if (c->ndq == c->capdq) {
        size_t cap = c->capdq ? c->capdq * 2 : 64;
        struct devch *q = realloc(c->dq, cap * sizeof *q);
        if (!q) {
            say(c, "cannot record a device %s: %s", on ? "online" : "offline",
                banter_strerror(BANTER_ENOMEM));
            return;
        }
        c->dq = q;
        c->capdq = cap;
    }
    struct devch *d = &c->dq[c->ndq];
    memcpy(d->dev, device, 32);
    d->seq = (uint32_t)c->ndq++;
    d->on = on;
    snprintf(d->user, sizeof d->user, "%s", on ? user : "");
    schedule(c);
}

/* ---- presence ---- */

void cluster_presence_changed(cluster *c, const char *user)
{
    size_t len = strlen(user);
    if (len == 0 || len > DB_CLUSTER_MAX_USER)
        return;
    if (names_add(&c->told, user, len) != 0)
        say(c, "cannot tell the others of a presence change: out of memory");
    schedule(c);
}

struct pres {
    cluster *c;
    cluster_presence_fn fn;
    void *ud;
    uint64_t no; /* the read's number */
    bool all;
};

static void on_presence(void *ud, int ret, const PGresult *res, const char *errmsg)
{
    struct pres *p = ud;
    if (ret != 0) {
        if (!p->c->freed)
            say(p->c, "cannot read presence: %s", errmsg);
        p->fn(p->ud, ret, NULL, 0, "", 0, NULL, 0);
        free(p);
        return;
    }
    int rows = PQntuples(res);
    p->c->answering = p->no;
    for (int i = 0; i < rows; i++) {
        long st = PQgetisnull(res, i, 2) ? RV_P_ONLINE : strtol(PQgetvalue(res, i, 2), NULL, 10);
        if (st < RV_P_ONLINE || st >= RV_P_COUNT)
            st = RV_P_ONLINE;
        uint8_t devs[CLUSTER_PRESENCE_DEVS][32];
        size_t nd = devs_of(res, i, 4, devs);
        p->fn(p->ud, 0, PQgetvalue(res, i, 0), (uint8_t)st,
              PQgetisnull(res, i, 3) ? "" : PQgetvalue(res, i, 3),
              strtoll(PQgetvalue(res, i, 1), NULL, 10), (const uint8_t(*)[32])devs, nd);
    }
    if (p->all)
        p->fn(p->ud, 1, NULL, 0, "", 0, NULL, 0);
    p->c->answering = 0;
    free(p);
}

static void presence_query(cluster *c, const char *sql, int n, const char *const *v,
                           cluster_presence_fn fn, void *ud, bool all)
{
    struct pres *p = malloc(sizeof *p);
    int r = p ? 0 : BANTER_ENOMEM;
    if (p) {
        *p = (struct pres){c, fn, ud, c->nreads + 1, all};
        r = db_pg_query(c->pg, sql, n, v, NULL, NULL, false, on_presence, p);
        if (r != 0)
            free(p);
        else
            c->nreads++;
    }
    if (r != 0) {
        say(c, "cannot read presence: %s", banter_strerror(r));
        fn(ud, r, NULL, 0, "", 0, NULL, 0);
    }
}

void cluster_presence_all(cluster *c, cluster_presence_fn fn, void *ud)
{
    presence_query(c,
                   "SELECT o.\"user\", o.n, p.status, p.text, o.devs FROM"
                   " (SELECT \"user\", count(*) AS n,"
                   " string_agg(encode(device, 'hex'), '' ORDER BY device) AS devs"
                   " FROM banter_online GROUP BY \"user\") o"
                   " LEFT JOIN presence p ON p.\"user\" = o.\"user\"",
                   0, NULL, fn, ud, true);
}

static void on_org_told(void *ud, int ret, const PGresult *res, const char *errmsg)
{
    (void)res;
    cluster *c = ud;
    if (ret != 0 && !c->freed)
        say(c, "cannot tell the other instances of a change: %s", errmsg);
}

void cluster_org_changed(cluster *c, const char *what)
{
    char payload[CLUSTER_ORG_MAX + 2 + DB_CLUSTER_MAX_ID];
    size_t len = strlen(what);
    if (len == 0 || len > CLUSTER_ORG_MAX || strchr(what, ' '))
        return;
    snprintf(payload, sizeof payload, "%s %s", what, c->id);
    const char *v[1] = {payload};
    int r = db_pg_query(c->pg, "SELECT pg_notify('" ORG_CHANNEL "', $1)", 1, v, NULL, NULL, false,
                        on_org_told, c);
    if (r != 0)
        say(c, "cannot tell the other instances of a change: %s", banter_strerror(r));
}

void cluster_presence_reread(cluster *c, const char *user)
{
    size_t len = strlen(user);
    if (len == 0 || len > DB_CLUSTER_MAX_USER || !c->cbs.presence)
        return;
    if (names_add(&c->toread, user, len) != 0)
        say(c, "cannot queue a presence read: out of memory");
    schedule(c);
}

uint64_t cluster_reads_sent(const cluster *c) { return c->nreads; }

uint64_t cluster_read_answering(const cluster *c) { return c->answering; }

/* ---- links (xlink.h) ---- */

void cluster_set_link(cluster *c, const char *addr)
{
    snprintf(c->link, sizeof c->link, "%s", addr);
    if (c->joined)
        publish_link(c);
}

struct links {
    cluster *c;
    cluster_link_fn fn;
    void *ud;
};

static void on_links(void *ud, int ret, const PGresult *res, const char *errmsg)
{
    struct links *q = ud;
    if (ret != 0) {
        if (!q->c->freed)
            say(q->c, "cannot read the instances' link addresses: %s", errmsg);
        q->fn(q->ud, ret, NULL, NULL);
        free(q);
        return;
    }
    int rows = PQntuples(res);
    for (int i = 0; i < rows; i++)
        q->fn(q->ud, 0, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
    q->fn(q->ud, 1, NULL, NULL);
    free(q);
}

void cluster_links(cluster *c, cluster_link_fn fn, void *ud)
{
    struct links *q = malloc(sizeof *q);
    const char *v[1] = {c->id};
    int r = q ? 0 : BANTER_ENOMEM;
    if (q) {
        *q = (struct links){c, fn, ud};
        r = db_pg_query(c->pg,
                        "SELECT id, link FROM banter_instances WHERE link IS NOT NULL AND id <> $1",
                        1, v, NULL, NULL, false, on_links, q);
        if (r != 0)
            free(q);
    }
    if (r != 0)
        fn(ud, r, NULL, NULL);
}
