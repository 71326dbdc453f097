/* SPDX-License-Identifier: MIT */
/* db_pgmail.c - sealed copies on PostgreSQL, asynchronous (see db_pgmail.h). */
#include "db_pgmail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct call {
    db_pgmail_put_fn put;
    db_pgmail_done_fn done;
    db_mail_fn row;
    void *ud;
};

static struct call *call_new(db_pgmail_put_fn put, db_pgmail_done_fn done, db_mail_fn row, void *ud)
{
    struct call *c = calloc(1, sizeof *c);
    if (c) {
        c->put = put;
        c->done = done;
        c->row = row;
        c->ud = ud;
    }
    return c;
}

/* Queue a statement on p, or add it to batch b when p is NULL. */
static int run_in(db_pg *p, db_pg_batch *b, const char *sql, int n, const char *const *v,
                  const int *len, const int *fmt, bool binary, db_pg_done_fn fn, struct call *c)
{
    if (!c)
        return BANTER_ENOMEM;
    int ret = BANTER_EINVAL;
    if (p)
        ret = db_pg_query(p, sql, n, v, len, fmt, binary, fn, c);
    else if (b)
        ret = db_pg_batch_add(b, sql, n, v, len, fmt, binary, fn, c);
    if (ret)
        free(c);
    return ret;
}

static int run(db_pg *p, const char *sql, int n, const char *const *v, const int *len,
               const int *fmt, bool binary, db_pg_done_fn fn, struct call *c)
{
    return run_in(p, NULL, sql, n, v, len, fmt, binary, fn, c);
}

static void on_put(void *ud, int ret, const PGresult *res, const char *errmsg)
{
    struct call *c = ud;
    int64_t seq = 0;
    if (ret == 0 && PQntuples(res) == 1) {
        if (!PQgetisnull(res, 0, 0)) {
            seq = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
            ret = DB_MAIL_STORED;
        } else {
            bool fits = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
            bool has = strtoll(PQgetvalue(res, 0, 2), NULL, 10) > 0;
            ret = fits || has ? DB_MAIL_DUPLICATE : DB_MAIL_OVER_QUOTA;
        }
    } else if (ret == 0) {
        ret = BANTER_EDB;
        errmsg = "the store returned no row";
    }
    c->put(c->ud, ret, seq, errmsg);
    free(c);
}

static int put(db_pg *p, db_pg_batch *b, const db_sealed *m, int64_t max_count, int64_t max_bytes,
               db_pgmail_put_fn cb, void *ud)
{
    if (!m->to_user || !m->from_user || db_name_problem(m->to_user) ||
        db_name_problem(m->from_user) || m->len == 0 || m->len > INT32_MAX)
        return BANTER_EINVAL;
    char num[6][24];
    snprintf(num[0], sizeof num[0], "%d", m->flags);
    snprintf(num[1], sizeof num[1], "%zu", m->len);
    snprintf(num[2], sizeof num[2], "%lld", (long long)m->created_ms);
    snprintf(num[3], sizeof num[3], "%lld", (long long)m->expires_ms);
    snprintf(num[4], sizeof num[4], "%lld", (long long)max_count);
    snprintf(num[5], sizeof num[5], "%lld", (long long)max_bytes);
    const char *v[12] = {(const char *)m->id,
                         (const char *)m->to_device,
                         m->to_user,
                         m->from_user,
                         (const char *)m->from_device,
                         num[0],
                         num[1],
                         (const char *)m->blob,
                         num[2],
                         num[3],
                         num[4],
                         num[5]};
    const int len[12] = {16, 32, 0, 0, 32, 0, 0, (int)m->len, 0, 0, 0, 0};
    const int fmt[12] = {1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0};
    /* The usage and the duplicate check see the snapshot before the
     * insert: stored (a seq), else a duplicate (already there, or it fit
     * and conflicted with a concurrent insert), else over the quota. */
    return run_in(p, b,
                  "WITH u AS (SELECT coalesce(max(count), 0) AS c, coalesce(max(bytes), 0) AS b"
                  " FROM mailbox WHERE \"user\" = $3),"
                  " ok AS (SELECT (u.c + 1 <= $11::bigint AND u.b + $7::bigint <= $12::bigint)"
                  " AS fits FROM u),"
                  " ins AS (INSERT INTO sealed (id, to_device, to_user, from_user, from_device,"
                  " flags, size, blob, created, expires) SELECT $1, $2, $3, $4, $5, $6::bigint,"
                  " $7::bigint, $8, $9::bigint, $10::bigint FROM ok WHERE ok.fits"
                  " ON CONFLICT (id, to_device, from_device) DO NOTHING RETURNING seq)"
                  " SELECT (SELECT seq FROM ins), (SELECT fits FROM ok),"
                  " (SELECT count(*) FROM sealed WHERE id = $1 AND to_device = $2"
                  " AND from_device = $5)",
                  12, v, len, fmt, false, on_put, call_new(cb, NULL, NULL, ud));
}

int db_pgmail_put(db_pg *p, const db_sealed *m, int64_t max_count, int64_t max_bytes,
                  db_pgmail_put_fn cb, void *ud)
{
    return put(p, NULL, m, max_count, max_bytes, cb, ud);
}

int db_pgmail_batch_put(db_pg_batch *b, const db_sealed *m, int64_t max_count, int64_t max_bytes,
                        db_pgmail_put_fn cb, void *ud)
{
    return put(NULL, b, m, max_count, max_bytes, cb, ud);
}

static void on_count(void *ud, int ret, const PGresult *res, const char *errmsg)
{
    struct call *c = ud;
    int64_t n = ret == 0 ? strtoll(PQcmdTuples((PGresult *)res), NULL, 10) : 0;
    c->done(c->ud, ret, n, errmsg);
    free(c);
}

int db_pgmail_del_seq(db_pg *p, int64_t seq, db_pgmail_done_fn cb, void *ud)
{
    char s[24];
    snprintf(s, sizeof s, "%lld", (long long)seq);
    const char *v[1] = {s};
    return run(p, "DELETE FROM sealed WHERE seq = $1::bigint", 1, v, NULL, NULL, false, on_count,
               call_new(NULL, cb, NULL, ud));
}

static int del_id(db_pg *p, db_pg_batch *b, const uint8_t id[static 16],
                  const uint8_t device[static 32], const uint8_t from_device[static 32],
                  db_pgmail_done_fn cb, void *ud)
{
    const char *v[3] = {(const char *)id, (const char *)device, (const char *)from_device};
    const int len[3] = {16, 32, 32};
    const int fmt[3] = {1, 1, 1};
    return run_in(p, b, "DELETE FROM sealed WHERE id = $1 AND to_device = $2 AND from_device = $3",
                  3, v, len, fmt, false, on_count, call_new(NULL, cb, NULL, ud));
}

int db_pgmail_del_id(db_pg *p, const uint8_t id[static 16], const uint8_t device[static 32],
                     const uint8_t from_device[static 32], db_pgmail_done_fn cb, void *ud)
{
    return del_id(p, NULL, id, device, from_device, cb, ud);
}

int db_pgmail_batch_del_id(db_pg_batch *b, const uint8_t id[static 16],
                           const uint8_t device[static 32], const uint8_t from_device[static 32],
                           db_pgmail_done_fn cb, void *ud)
{
    return del_id(NULL, b, id, device, from_device, cb, ud);
}

/* A binary BIGINT column (network order). */
static int64_t be64(const PGresult *res, int row, int col)
{
    const unsigned char *b = (const unsigned char *)PQgetvalue(res, row, col);
    uint64_t v = 0;
    if (PQgetlength(res, row, col) != 8)
        return 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return (int64_t)v;
}

static void on_fetch(void *ud, int ret, const PGresult *res, const char *errmsg)
{
    struct call *c = ud;
    int64_t n = 0;
    for (int i = 0; ret == 0 && i < PQntuples(res); i++) {
        db_sealed m;
        memset(&m, 0, sizeof m);
        if (PQgetlength(res, i, 1) != 16 || PQgetlength(res, i, 2) != 32 ||
            PQgetlength(res, i, 6) <= 0)
            continue; /* the table's CHECKs make this impossible */
        m.seq = be64(res, i, 0);
        memcpy(m.id, PQgetvalue(res, i, 1), 16);
        memcpy(m.from_device, PQgetvalue(res, i, 2), 32);
        m.from_user = PQgetvalue(res, i, 3);
        m.to_user = PQgetvalue(res, i, 4);
        m.flags = (uint8_t)be64(res, i, 5);
        m.blob = (const uint8_t *)PQgetvalue(res, i, 6);
        m.len = (size_t)PQgetlength(res, i, 6);
        m.created_ms = be64(res, i, 7);
        m.expires_ms = be64(res, i, 8);
        c->row(c->ud, &m);
        n++;
    }
    c->done(c->ud, ret, n, errmsg);
    free(c);
}

int db_pgmail_fetch(db_pg *p, const uint8_t device[static 32], int64_t after, int64_t now_ms,
                    size_t max, db_mail_fn fn, db_pgmail_done_fn cb, void *ud)
{
    char num[3][24];
    snprintf(num[0], sizeof num[0], "%lld", (long long)after);
    snprintf(num[1], sizeof num[1], "%lld", (long long)now_ms);
    snprintf(num[2], sizeof num[2], "%zu", max);
    const char *v[4] = {(const char *)device, num[0], num[1], num[2]};
    const int len[4] = {32, 0, 0, 0};
    const int fmt[4] = {1, 0, 0, 0};
    return run(p,
               "SELECT seq, id, from_device, from_user, to_user, flags, blob, created, expires"
               " FROM sealed WHERE to_device = $1 AND seq > $2::bigint AND expires > $3::bigint"
               " ORDER BY seq LIMIT $4::bigint",
               4, v, len, fmt, true, on_fetch, call_new(NULL, cb, fn, ud));
}

int db_pgmail_expire(db_pg *p, int64_t now_ms, int64_t max, db_pgmail_done_fn cb, void *ud)
{
    char num[2][24];
    snprintf(num[0], sizeof num[0], "%lld", (long long)now_ms);
    snprintf(num[1], sizeof num[1], "%lld", (long long)max);
    const char *v[2] = {num[0], num[1]};
    return run(p,
               "DELETE FROM sealed WHERE seq IN (SELECT seq FROM sealed WHERE expires <= $1::bigint"
               " ORDER BY expires LIMIT $2::bigint)",
               2, v, NULL, NULL, false, on_count, call_new(NULL, cb, NULL, ud));
}
