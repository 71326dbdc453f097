/* SPDX-License-Identifier: MIT */
/* cluster.c - one instance of several on one PostgreSQL (see cluster.h). */
#include "cluster.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "rvmsg.h"

struct cluster {
    uv_loop_t *loop;
    db_pg *pg;
    uv_timer_t beat;
    cluster_cbs cbs;
    void *ud;
    FILE *log;
    char id[DB_CLUSTER_MAX_ID + 1];
    bool joined;   /* registered on the current connection */
    bool joining;  /* a join is in flight */
    bool beating;  /* a heartbeat is in flight */
    bool taking;   /* a take is in flight */
    bool again;    /* a notification came while taking: take once more */
    bool freed;    /* cluster_free ran: the timer's close callback frees */
    char link[64]; /* the address of this instance's links (xlink.h), or "" */
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

static void on_notify(void *ud, const char *channel, const char *payload)
{
    cluster *c = ud;
    if (strcmp(channel, PRESENCE_CHANNEL) == 0) {
        if (c->cbs.presence && payload[0])
            c->cbs.presence(c->ud, payload);
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
    if (r != 0) {
        snprintf(why, cap, "cannot listen for presence: %s", banter_strerror(r));
        db_pg_free(c->pg);
        free(c);
        return r;
    }
    uv_timer_init(loop, &c->beat);
    c->beat.data = c;
    uv_timer_start(&c->beat, on_beat, CLUSTER_BEAT_MS, CLUSTER_BEAT_MS);
    *out = c;
    return 0;
}

static void on_closed(uv_handle_t *h) { free(h->data); }

void cluster_free(cluster *c)
{
    if (!c)
        return;
    c->freed = true;
    c->log = NULL;
    db_pg_free(c->pg); /* callbacks not run yet run now, with "closed": they only log */
    c->pg = NULL;
    uv_timer_stop(&c->beat);
    uv_close((uv_handle_t *)&c->beat, on_closed);
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

void cluster_device(cluster *c, const uint8_t device[static 32], const char *user, bool on)
{
    int r = db_cluster_online(c->pg, c->id, device, user, on, on_written, c);
    if (r != 0)
        say(c, "cannot record a device %s: %s", on ? "online" : "offline", banter_strerror(r));
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
    cluster_post_body(c, device, kind, row_id, NULL, 0, done, ud);
}

void cluster_post_body(cluster *c, const uint8_t device[static 32], int kind, int64_t row_id,
                       const uint8_t *body, size_t len, cluster_posted_fn done, void *ud)
{
    struct post *p = malloc(sizeof *p);
    int r = p ? 0 : BANTER_ENOMEM;
    if (p) {
        *p = (struct post){c, done, ud};
        r = db_cluster_post_body(c->pg, device, kind, row_id, body, len, on_posted, p);
        if (r != 0)
            free(p);
    }
    if (r != 0) {
        say(c, "cannot post an event: %s", banter_strerror(r));
        if (done)
            done(ud, r, 0);
    }
}

void cluster_post_user(cluster *c, const char *user, int kind, const uint8_t *body, size_t len)
{
    int r = db_cluster_post_user(c->pg, c->id, user, kind, 0, body, len, on_written, c);
    if (r != 0)
        say(c, "cannot post an event: %s", banter_strerror(r));
}

/* ---- presence ---- */

void cluster_presence_changed(cluster *c, const char *user)
{
    const char *v[1] = {user};
    int r = db_pg_query(c->pg, "SELECT pg_notify('" PRESENCE_CHANNEL "', $1)", 1, v, NULL, NULL,
                        false, NULL, NULL);
    if (r != 0)
        say(c, "cannot tell the others of a presence change: %s", banter_strerror(r));
}

struct pres {
    cluster *c;
    cluster_presence_fn fn;
    void *ud;
    bool all;
};

static void on_presence(void *ud, int ret, const PGresult *res, const char *errmsg)
{
    struct pres *p = ud;
    if (ret != 0) {
        if (!p->c->freed)
            say(p->c, "cannot read presence: %s", errmsg);
        p->fn(p->ud, ret, NULL, 0, "", 0);
        free(p);
        return;
    }
    int rows = PQntuples(res);
    for (int i = 0; i < rows; i++) {
        long st = PQgetisnull(res, i, 2) ? RV_P_ONLINE : strtol(PQgetvalue(res, i, 2), NULL, 10);
        if (st < RV_P_ONLINE || st >= RV_P_COUNT)
            st = RV_P_ONLINE;
        p->fn(p->ud, 0, PQgetvalue(res, i, 0), (uint8_t)st,
              PQgetisnull(res, i, 3) ? "" : PQgetvalue(res, i, 3),
              strtoll(PQgetvalue(res, i, 1), NULL, 10));
    }
    if (p->all)
        p->fn(p->ud, 1, NULL, 0, "", 0);
    free(p);
}

static void presence_query(cluster *c, const char *sql, int n, const char *const *v,
                           cluster_presence_fn fn, void *ud, bool all)
{
    struct pres *p = malloc(sizeof *p);
    int r = p ? 0 : BANTER_ENOMEM;
    if (p) {
        *p = (struct pres){c, fn, ud, all};
        r = db_pg_query(c->pg, sql, n, v, NULL, NULL, false, on_presence, p);
        if (r != 0)
            free(p);
    }
    if (r != 0) {
        say(c, "cannot read presence: %s", banter_strerror(r));
        fn(ud, r, NULL, 0, "", 0);
    }
}

void cluster_presence_get(cluster *c, const char *user, cluster_presence_fn fn, void *ud)
{
    const char *v[1] = {user};
    presence_query(c,
                   "SELECT $1::text, (SELECT count(*) FROM banter_online WHERE \"user\" = $1),"
                   " p.status, p.text FROM (SELECT 1) x"
                   " LEFT JOIN presence p ON p.\"user\" = $1",
                   1, v, fn, ud, false);
}

void cluster_presence_all(cluster *c, cluster_presence_fn fn, void *ud)
{
    presence_query(c,
                   "SELECT o.\"user\", o.n, p.status, p.text FROM"
                   " (SELECT \"user\", count(*) AS n FROM banter_online GROUP BY \"user\") o"
                   " LEFT JOIN presence p ON p.\"user\" = o.\"user\"",
                   0, NULL, fn, ud, true);
}

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
