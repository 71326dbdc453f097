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

int pgs_mail_put(db *d, const db_sealed *m, const db_mail_quota *q)
{
    pgs_args a = {0};
    PGresult *r;
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
    pgs_arg_int(&a, q->count);
    pgs_arg_int(&a, q->bytes);
    pgs_arg_int(&a, q->sender_count);
    pgs_arg_int(&a, q->sender_bytes);
    /* sealed_put (schema 7, db.c) locks the recipient's usage row first
     * (an account without one gets it, an insert that waits for another
     * transaction making it), so concurrent batches on several instances
     * take turns per account; the lock is held to the end of the batch.
     * Its later statements each read what was committed before they
     * started (PL/pgSQL in READ COMMITTED), so after the lock: the block,
     * the sender's usage and the whole usage as the previous holder left
     * them, and none passes the quota or the share on a count read before
     * another's commit. It returns a DB_MAIL_* code in db_mail.c's order
     * of checks. */
    int ret = pgs_query(d,
                        "SELECT sealed_put($1::bytea, $2::bytea, $3::text, $4::text, $5::bytea,"
                        " $6::bigint, $7::bigint, $8::bytea, $9::bigint, $10::bigint, $11::bigint,"
                        " $12::bigint, $13::bigint, $14::bigint)",
                        &a, &r);
    if (ret)
        return ret;
    if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
        db_seterr(d, "the store returned no row");
        ret = BANTER_EDB;
    } else {
        int64_t v = pgs_int(r, 0, 0);
        if (v < DB_MAIL_STORED || v > DB_MAIL_BLOCKED) {
            db_seterr(d, "the store returned an unknown result");
            ret = BANTER_EDB;
        } else {
            ret = (int)v;
        }
    }
    PQclear(r);
    return ret;
}

int pgs_mail_purge_from(db *d, const char *user, const char *sender, int64_t *n)
{
    pgs_args a = {0};
    pgs_arg_text(&a, user);
    /* The usage row's lock first (as a put takes it): a put for user
     * waiting on it sees the block once this transaction commits; one
     * that held it committed, and the delete below (a new statement) sees
     * its copies. */
    int ret = pgs_exec(d,
                       "INSERT INTO mailbox (\"user\", count, bytes) VALUES ($1, 0, 0)"
                       " ON CONFLICT (\"user\") DO UPDATE SET count = mailbox.count",
                       &a);
    if (ret)
        return ret;
    pgs_arg_text(&a, sender);
    return pgs_exec_n(
        d, "DELETE FROM sealed WHERE to_user = $1 AND from_user = $2 AND from_gone = 0", &a, n);
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
    int ret = pgs_query(
        d,
        "SELECT seq, id, from_device, from_user, to_user, " DB_FETCH_FLAGS(
            "\"user\"") ", blob, created,"
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
