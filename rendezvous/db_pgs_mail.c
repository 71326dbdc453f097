/* SPDX-License-Identifier: MIT */
/*
 * db_pgs_mail.c - stored sealed copies on PostgreSQL: the forms of
 * db_mail.c's functions (see db_mail.h, db_pgs.h).
 */
#include "db_pgs.h"

#include <string.h>

#include "db_impl.h"

int pgs_mail_usage(db *d, const char *user, int64_t *count, int64_t *bytes)
{
    pgs_args a = {0};
    PGresult *r;
    *count = *bytes = 0;
    int ret = pgs_arg_name(d, &a, user);
    if (ret == 0)
        ret = pgs_query(d, "SELECT count, bytes FROM mailbox WHERE \"user\" = $1", &a, &r);
    if (ret)
        return ret;
    if (PQntuples(r) > 0) {
        *count = pgs_int(r, 0, 0);
        *bytes = pgs_int(r, 0, 1);
    }
    PQclear(r);
    return 0;
}

int pgs_mail_put(db *d, const db_sealed *m, int64_t max_count, int64_t max_bytes)
{
    pgs_args a = {0};
    PGresult *r;
    if (!m->to_user || !m->from_user || db_name_problem(m->to_user) ||
        db_name_problem(m->from_user) || m->len == 0 || m->len > INT32_MAX) {
        db_seterr(d, "bad sealed copy");
        return BANTER_EINVAL;
    }
    pgs_arg_blob(&a, m->id, 16);
    pgs_arg_blob(&a, m->to_device, 32);
    pgs_arg_text(&a, m->to_user);
    pgs_arg_text(&a, m->from_user);
    pgs_arg_blob(&a, m->from_device, 32);
    pgs_arg_int(&a, m->flags);
    pgs_arg_int(&a, (int64_t)m->len);
    pgs_arg_blob(&a, m->blob, m->len);
    pgs_arg_int(&a, m->created_ms);
    pgs_arg_int(&a, m->expires_ms);
    pgs_arg_int(&a, max_count);
    pgs_arg_int(&a, max_bytes);
    /* One statement. The account's usage row is locked first (FOR UPDATE
     * waits for another transaction holding it, then reads the row as it
     * committed it; an account without one yet gets it, an upsert that
     * also waits), so concurrent batches on several instances take turns
     * per account and none passes the quota on a count read before
     * another's commit; the lock is held to the end of the batch, as the
     * trigger's update of that row already was. The usage includes this
     * transaction's earlier copies. Stored (a seq), else a duplicate
     * (already there, or it fit and conflicted), else over the quota:
     * db_mail.c's order of checks. */
    int ret = pgs_query(
        d,
        "WITH cur AS (SELECT count, bytes FROM mailbox WHERE \"user\" = $3::text FOR UPDATE),"
        " new AS (INSERT INTO mailbox (\"user\", count, bytes) SELECT $3::text, 0, 0"
        " WHERE NOT EXISTS (SELECT 1 FROM cur)"
        " ON CONFLICT (\"user\") DO UPDATE SET count = mailbox.count RETURNING count, bytes),"
        " u AS (SELECT count AS c, bytes AS b FROM cur UNION ALL SELECT count, bytes FROM new),"
        " ok AS (SELECT (u.c + 1 <= $11::bigint AND u.b + $7::bigint <= $12::bigint) AS fits"
        " FROM u),"
        " ins AS (INSERT INTO sealed (id, to_device, to_user, from_user, from_device, flags,"
        " size, blob, created, expires) SELECT $1::bytea, $2::bytea, $3::text, $4::text,"
        " $5::bytea, $6::bigint, $7::bigint, $8::bytea, $9::bigint, $10::bigint FROM ok"
        " WHERE ok.fits ON CONFLICT (id, to_device, from_device) DO NOTHING RETURNING seq)"
        " SELECT (SELECT seq FROM ins), (SELECT fits FROM ok),"
        " (SELECT count(*) FROM sealed WHERE id = $1::bytea AND to_device = $2::bytea"
        " AND from_device = $5::bytea)",
        &a, &r);
    if (ret)
        return ret;
    if (PQntuples(r) != 1) {
        db_seterr(d, "the store returned no row");
        ret = BANTER_EDB;
    } else if (!PQgetisnull(r, 0, 0)) {
        ret = DB_MAIL_STORED;
    } else {
        bool fits = pgs_int(r, 0, 1) != 0;
        bool has = pgs_int(r, 0, 2) > 0;
        ret = has || fits ? DB_MAIL_DUPLICATE : DB_MAIL_OVER_QUOTA;
    }
    PQclear(r);
    return ret;
}

int pgs_mail_del_seq(db *d, int64_t seq)
{
    pgs_args a = {0};
    pgs_arg_int(&a, seq);
    return pgs_exec(d, "DELETE FROM sealed WHERE seq = $1", &a);
}

int pgs_mail_del_id(db *d, const uint8_t id[static 16], const uint8_t device[static 32],
                    const uint8_t from_device[static 32])
{
    pgs_args a = {0};
    pgs_arg_blob(&a, id, 16);
    pgs_arg_blob(&a, device, 32);
    pgs_arg_blob(&a, from_device, 32);
    return pgs_exec(d, "DELETE FROM sealed WHERE id = $1 AND to_device = $2 AND from_device = $3",
                    &a);
}

/* Row i of the fetch into m (pointers into the result). */
static bool read_sealed(const PGresult *r, int i, db_sealed *m)
{
    size_t idlen, fromlen;
    memset(m, 0, sizeof *m);
    m->seq = pgs_int(r, i, 0);
    const uint8_t *id = pgs_blob(r, i, 1, &idlen);
    const uint8_t *from = pgs_blob(r, i, 2, &fromlen);
    if (!id || idlen != 16 || !from || fromlen != 32)
        return false;
    memcpy(m->id, id, 16);
    memcpy(m->from_device, from, 32);
    m->from_user = pgs_text(r, i, 3);
    m->to_user = pgs_text(r, i, 4);
    m->flags = (uint8_t)pgs_int(r, i, 5);
    m->blob = pgs_blob(r, i, 6, &m->len);
    m->created_ms = pgs_int(r, i, 7);
    m->expires_ms = pgs_int(r, i, 8);
    return m->blob && m->len > 0;
}

int pgs_mail_fetch(db *d, const uint8_t device[static 32], int64_t after, int64_t now_ms,
                   size_t max, db_mail_fn fn, void *ud)
{
    pgs_args a = {0};
    PGresult *r;
    pgs_arg_blob(&a, device, 32);
    pgs_arg_int(&a, after);
    pgs_arg_int(&a, now_ms);
    pgs_arg_int(&a, max > INT32_MAX ? INT32_MAX : (int64_t)max);
    int ret = pgs_query(d,
                        "SELECT seq, id, from_device, from_user, to_user, flags, blob, created,"
                        " expires FROM sealed WHERE to_device = $1 AND seq > $2 AND expires > $3"
                        " AND to_user = (SELECT \"user\" FROM devices WHERE key = $1)"
                        " ORDER BY seq LIMIT $4",
                        &a, &r);
    if (ret)
        return ret;
    int n = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        db_sealed m;
        if (read_sealed(r, i, &m)) {
            fn(ud, &m);
            n++;
        }
    }
    PQclear(r);
    return n;
}

int pgs_mail_expire(db *d, int64_t now_ms, int64_t max, int64_t *n)
{
    pgs_args a = {0};
    pgs_arg_int(&a, now_ms);
    pgs_arg_int(&a, max);
    return pgs_exec_n(d,
                      "DELETE FROM sealed WHERE seq IN"
                      " (SELECT seq FROM sealed WHERE expires <= $1 ORDER BY expires LIMIT $2)",
                      &a, n);
}
