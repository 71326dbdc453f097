/* SPDX-License-Identifier: MIT */
/* db_pgs_admin.c - the PostgreSQL forms of db_admin.h (see db_pgs.h). */
#include "db_pgs.h"

#include <string.h>

#include "db_impl.h"

/* The rows of the audit log read at a time by pgs_audit_each. */
#define AUDIT_PAGE 1000

/* A bytea cell of exactly len bytes into out: false when it is NULL or
 * another length. */
static bool blob_copy(const PGresult *r, int row, int col, uint8_t *out, size_t len)
{
    size_t n;
    const uint8_t *b = pgs_blob(r, row, col, &n);
    if (!b || n != len)
        return false;
    memcpy(out, b, len);
    return true;
}

/* SQLite's negative LIMIT is no limit: NULL here. */
static void arg_limit(pgs_args *a, int64_t limit)
{
    if (limit < 0)
        pgs_arg_text(a, NULL);
    else
        pgs_arg_int(a, limit);
}

/* ---- admin keys ---- */

int pgs_admin_role(db *d, const char *fp, char *role, size_t cap)
{
    static const char sql[] = "SELECT role FROM admin_keys WHERE fp = $1";
    pgs_args a = {0};
    PGresult *r = NULL;
    pgs_arg_text(&a, fp);
    int ret = pgs_query(d, sql, &a, &r);
    if (ret == 0 && PQntuples(r) != 1)
        ret = BANTER_ENOENT;
    if (ret == 0)
        pgs_copy(r, 0, 0, role, cap);
    PQclear(r);
    return ret;
}

/*
 * The keys with the role "admin", locked in the order of fp, and how many
 * of them are not $1: a statement that takes the admin role from $1 (a
 * removal, a change to auditor) goes on only when that count is 1 or
 * more. Under READ COMMITTED a count alone would not do: two instances
 * taking the role from two keys at once would each count the other. With
 * the rows locked first (in one order, so two such statements never
 * deadlock), the second waits for the first, then locks only the keys
 * that still have the role, and counts those.
 */
#define LOCKED_ADMINS                                                                              \
    "WITH others AS MATERIALIZED (SELECT count(*) FILTER (WHERE fp <> $1) AS n FROM"               \
    " (SELECT fp FROM admin_keys WHERE role = 'admin' ORDER BY fp FOR UPDATE) l) "

int pgs_admin_add(db *d, const char *fp, const char *role, const char *by, int64_t now_ms,
                  bool keep_admin)
{
    /* xmax is 0 in a row this statement inserted, not in one it updated */
    static const char sql[] =
        "INSERT INTO admin_keys (fp, role, added, added_by) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (fp) DO UPDATE SET role = EXCLUDED.role RETURNING (xmax = 0)";
    /* The same, with the row made from others: its count is taken (and
     * the keys locked) before the row of $1 is. */
    static const char keep[] =
        LOCKED_ADMINS "INSERT INTO admin_keys (fp, role, added, added_by)"
                      " SELECT $1, $2, $3::bigint, $4 FROM others"
                      " ON CONFLICT (fp) DO UPDATE SET role = EXCLUDED.role"
                      " WHERE admin_keys.role <> 'admin' OR (SELECT n FROM others) >= 1"
                      " RETURNING (xmax = 0)";
    pgs_args a = {0};
    PGresult *r = NULL;
    pgs_arg_text(&a, fp);
    pgs_arg_text(&a, role);
    pgs_arg_int(&a, now_ms);
    pgs_arg_text(&a, by);
    bool guard = keep_admin && strcmp(role, DB_ROLE_ADMIN) != 0;
    int ret = pgs_query(d, guard ? keep : sql, &a, &r);
    if (ret == 0 && PQntuples(r) != 1) {
        db_seterr(d, "the last key with the role admin");
        ret = BANTER_ESTATE;
    }
    if (ret == 0)
        ret = pgs_int(r, 0, 0) ? 0 : 1;
    PQclear(r);
    return ret;
}

int pgs_admin_remove(db *d, const char *fp, bool keep_admin)
{
    static const char sql[] = "DELETE FROM admin_keys WHERE fp = $1";
    static const char keep[] =
        LOCKED_ADMINS "DELETE FROM admin_keys WHERE fp = $1"
                      " AND (role <> 'admin' OR (SELECT n FROM others) >= 1)";
    pgs_args a = {0};
    int64_t n = 0;
    char role[16];
    pgs_arg_text(&a, fp);
    int ret = pgs_exec_n(d, keep_admin ? keep : sql, &a, &n);
    if (ret || n == 1)
        return ret;
    /* Nothing deleted: not there, or the last admin kept. */
    ret = pgs_admin_role(d, fp, role, sizeof role);
    if (ret == 0) {
        db_seterr(d, "the last key with the role admin");
        return BANTER_ESTATE;
    }
    return ret == BANTER_ENOENT ? 1 : ret;
}

int pgs_admin_count(db *d, int64_t *n)
{
    static const char sql[] = "SELECT count(*) FROM admin_keys WHERE role = 'admin'";
    return pgs_query_int(d, sql, NULL, n);
}

int pgs_admin_each(db *d, int (*fn)(void *ud, const db_admin_key *k), void *ud)
{
    static const char sql[] =
        "SELECT fp, role, added, added_by FROM admin_keys ORDER BY fp COLLATE \"C\"";
    PGresult *r = NULL;
    int ret = pgs_query(d, sql, NULL, &r);
    for (int i = 0; ret == 0 && i < PQntuples(r); i++) {
        db_admin_key k;
        pgs_copy(r, i, 0, k.fp, sizeof k.fp);
        pgs_copy(r, i, 1, k.role, sizeof k.role);
        k.added_ms = pgs_int(r, i, 2);
        pgs_copy(r, i, 3, k.added_by, sizeof k.added_by);
        ret = fn(ud, &k);
    }
    PQclear(r);
    return ret;
}

/* ---- the audit log ---- */

int pgs_audit_last(db *d, int64_t *seq, uint8_t hash[static 32])
{
    static const char sql[] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1";
    PGresult *r = NULL;
    *seq = 0;
    memset(hash, 0, 32);
    int ret = pgs_query(d, sql, NULL, &r);
    if (ret == 0 && PQntuples(r) == 1 && blob_copy(r, 0, 1, hash, 32))
        *seq = pgs_int(r, 0, 0);
    PQclear(r);
    return ret;
}

int pgs_audit_insert(db *d, const db_audit *e, const uint8_t hash[static 32],
                     const uint8_t sig[static 64])
{
    /* Another instance that appended the same seq first wins; the caller
     * reads the last entry again. */
    static const char sql[] = "INSERT INTO audit (seq, ts, actor, cmd, target, result, hash, sig)"
                              " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                              " ON CONFLICT (seq) DO NOTHING";
    pgs_args a = {0};
    int64_t n = 0;
    pgs_arg_int(&a, e->seq);
    pgs_arg_int(&a, e->ts);
    pgs_arg_text(&a, e->actor);
    pgs_arg_text(&a, e->cmd);
    pgs_arg_text(&a, e->target);
    pgs_arg_text(&a, e->result);
    pgs_arg_blob(&a, hash, 32);
    pgs_arg_blob(&a, sig, 64);
    int ret = pgs_exec_n(d, sql, &a, &n);
    return ret ? ret : n == 1 ? 0 : 1;
}

static void read_audit(const PGresult *r, int i, db_audit *e)
{
    e->seq = pgs_int(r, i, 0);
    e->ts = pgs_int(r, i, 1);
    pgs_copy(r, i, 2, e->actor, sizeof e->actor);
    pgs_copy(r, i, 3, e->cmd, sizeof e->cmd);
    pgs_copy(r, i, 4, e->target, sizeof e->target);
    pgs_copy(r, i, 5, e->result, sizeof e->result);
}

int pgs_audit_tail(db *d, int64_t n, int (*fn)(void *ud, const db_audit *a), void *ud)
{
    static const char sql[] = "SELECT * FROM (SELECT seq, ts, actor, cmd, target, result FROM audit"
                              " ORDER BY seq DESC LIMIT $1::bigint) t ORDER BY seq";
    pgs_args a = {0};
    PGresult *r = NULL;
    arg_limit(&a, n);
    int ret = pgs_query(d, sql, &a, &r);
    for (int i = 0; ret == 0 && i < PQntuples(r); i++) {
        db_audit e;
        read_audit(r, i, &e);
        ret = fn(ud, &e);
    }
    PQclear(r);
    return ret;
}

int pgs_audit_each(db *d, pgs_audit_fn fn, void *ud)
{
    static const char sql[] = "SELECT seq, ts, actor, cmd, target, result, hash, sig FROM audit"
                              " WHERE seq > $1 ORDER BY seq LIMIT $2";
    int64_t after = INT64_MIN;
    int ret = 0;
    for (bool more = true; ret == 0 && more;) {
        pgs_args a = {0};
        PGresult *r = NULL;
        pgs_arg_int(&a, after);
        pgs_arg_int(&a, AUDIT_PAGE);
        ret = pgs_query(d, sql, &a, &r);
        int rows = ret == 0 ? PQntuples(r) : 0;
        more = rows == AUDIT_PAGE;
        for (int i = 0; ret == 0 && i < rows; i++) {
            db_audit e;
            uint8_t hash[32] = {0}, sig[64] = {0};
            read_audit(r, i, &e);
            bool ok = blob_copy(r, i, 6, hash, 32) && blob_copy(r, i, 7, sig, 64);
            ret = fn(ud, &e, hash, sig, ok);
            after = e.seq;
        }
        PQclear(r);
    }
    return ret;
}

/* ---- devices ---- */

/* $1: a user name, or NULL for every account. */
#define USER_OR_ALL " ($1::text IS NULL OR \"user\" = $1)"

static int count_devices(db *d, const char *user, int64_t *total)
{
    static const char sql[] = "SELECT count(*) FROM devices WHERE" USER_OR_ALL;
    pgs_args a = {0};
    pgs_arg_text(&a, user);
    return pgs_query_int(d, sql, &a, total);
}

int pgs_device_each(db *d, const char *user, int64_t offset, int64_t limit, int64_t *total,
                    int (*fn)(void *ud, const db_device *v), void *ud)
{
    static const char sql[] = "SELECT key, \"user\", created, last_seen FROM devices"
                              " WHERE" USER_OR_ALL " ORDER BY \"user\" COLLATE \"C\", created, key"
                              " LIMIT $2::bigint OFFSET $3";
    pgs_args a = {0};
    PGresult *r = NULL;
    int ret = count_devices(d, user, total);
    if (ret)
        return ret;
    pgs_arg_text(&a, user);
    arg_limit(&a, limit);
    pgs_arg_int(&a, offset < 0 ? 0 : offset); /* SQLite: a negative OFFSET is none */
    ret = pgs_query(d, sql, &a, &r);
    for (int i = 0; ret == 0 && i < PQntuples(r); i++) {
        db_device v;
        if (!blob_copy(r, i, 0, v.key, 32))
            continue;
        pgs_copy(r, i, 1, v.user, sizeof v.user);
        v.created_ms = pgs_int(r, i, 2);
        v.last_seen_ms = pgs_int(r, i, 3);
        ret = fn(ud, &v);
    }
    PQclear(r);
    return ret;
}

int pgs_device_revoke(db *d, const uint8_t key[static 32], const char *by, int64_t now_ms,
                      char out[static DB_MAX_USER + 1])
{
    /* Unbound and recorded in one statement: both or neither. */
    static const char sql[] = "WITH v AS (DELETE FROM devices WHERE key = $1 RETURNING \"user\")"
                              " INSERT INTO revoked (key, \"user\", revoked, revoked_by)"
                              " SELECT $1, v.\"user\", $2::bigint, $3::text FROM v"
                              " ON CONFLICT (key) DO UPDATE SET \"user\" = EXCLUDED.\"user\","
                              " revoked = EXCLUDED.revoked, revoked_by = EXCLUDED.revoked_by"
                              " RETURNING \"user\"";
    pgs_args a = {0};
    PGresult *r = NULL;
    pgs_arg_blob(&a, key, 32);
    pgs_arg_int(&a, now_ms);
    pgs_arg_text(&a, by);
    int ret = pgs_query(d, sql, &a, &r);
    if (ret == 0 && PQntuples(r) == 1) {
        pgs_copy(r, 0, 0, out, DB_MAX_USER + 1);
        PQclear(r);
        return 0;
    }
    PQclear(r);
    r = NULL;
    if (ret)
        return ret;
    /* No account has it bound: a mark of a deleted account's, maybe. */
    ret = pgs_query(d, DB_REVOKE_MARKED("$"), &a, &r);
    if (ret == 0 && PQntuples(r) != 1)
        ret = BANTER_ENOENT;
    if (ret == 0) {
        pgs_copy(r, 0, 0, out, DB_MAX_USER + 1);
        ret = 1;
    }
    PQclear(r);
    return ret;
}

int pgs_device_marked_each(db *d, int (*fn)(void *ud, const db_device *v), void *ud)
{
    pgs_args a = {0};
    PGresult *r = NULL;
    int ret = pgs_query(d, DB_MARKED_UNBOUND, &a, &r);
    for (int i = 0; ret == 0 && i < PQntuples(r); i++) {
        db_device v = {.last_seen_ms = 0};
        if (!blob_copy(r, i, 0, v.key, 32))
            continue;
        pgs_copy(r, i, 1, v.user, sizeof v.user);
        v.created_ms = pgs_int(r, i, 2);
        ret = fn(ud, &v);
    }
    PQclear(r);
    return ret;
}

int pgs_device_revoked(db *d, const uint8_t key[static 32])
{
    pgs_args a = {0};
    int64_t n = 0;
    pgs_arg_blob(&a, key, 32);
    int ret = pgs_query_int(d, DB_KEY_REVOKED("$"), &a, &n);
    return ret ? ret : n > 0 ? 1 : 0;
}

int pgs_revoked_release(db *d, const uint8_t key[static 32], const char *name)
{
    pgs_args a = {0};
    int64_t n = 0;
    pgs_arg_blob(&a, key, 32);
    pgs_arg_text(&a, name);
    int ret = pgs_exec_n(d, DB_UNMARK_KEY("$"), &a, &n);
    return ret ? ret : n > 0 ? 1 : 0;
}

/* ---- accounts ---- */

#define PG_BIGINT(x) x "::bigint"

int pgs_user_delete(db *d, const char *name, int64_t now_ms)
{
    /* The devices marked, the copies it stored for others no longer its
     * share, and the account deleted in one statement (all read the rows
     * as they were before it). */
    static const char sql[] = "WITH m AS (" DB_MARK_DEVICES(
        "$", PG_BIGINT) "),"
                        " g AS (" DB_SENDER_GONE(
                            "$") "),"
                                 " s AS (" DB_SENDER_SHARE_GONE(
                                     "$") "),"
                                          " u AS (DELETE FROM users WHERE name = $1 RETURNING name)"
                                          " SELECT count(*) FROM u";
    pgs_args a = {0};
    int64_t n = 0;
    int ret = pgs_arg_name(d, &a, name);
    if (ret)
        return ret;
    pgs_arg_int(&a, now_ms);
    pgs_arg_text(&a, DB_REVOKED_BY_DELETE);
    ret = pgs_query_int(d, sql, &a, &n);
    return ret ? ret : n >= 1 ? 0 : BANTER_ENOENT;
}

int pgs_name_retired(db *d, const char *name, int64_t *deleted_ms)
{
    pgs_args a = {0};
    PGresult *r = NULL;
    pgs_arg_text(&a, name);
    int ret = pgs_query(d, "SELECT deleted FROM retired_names WHERE name = $1", &a, &r);
    if (ret == 0 && PQntuples(r) > 0)
        *deleted_ms = pgs_int(r, 0, 0);
    else if (ret == 0)
        ret = BANTER_ENOENT;
    PQclear(r);
    return ret;
}

int pgs_user_set_password(db *d, const char *name, const char *pwhash)
{
    static const char sql[] = "UPDATE users SET pwhash = $2 WHERE name = $1";
    pgs_args a = {0};
    int64_t n = 0;
    int ret = pgs_arg_name(d, &a, name);
    pgs_arg_text(&a, pwhash);
    if (ret == 0)
        ret = pgs_exec_n(d, sql, &a, &n);
    return ret ? ret : n >= 1 ? 0 : BANTER_ENOENT;
}

int pgs_counts(db *d, int64_t *users, int64_t *devices)
{
    static const char sql[] = "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM devices)";
    PGresult *r = NULL;
    int ret = pgs_query(d, sql, NULL, &r);
    if (ret == 0) {
        *users = pgs_int(r, 0, 0);
        *devices = pgs_int(r, 0, 1);
    }
    PQclear(r);
    return ret;
}

int pgs_online_elsewhere(db *d, const char *instance, int64_t offset, size_t limit,
                         db_online_row *rows, size_t *n, int64_t *total)
{
    static const char count[] = "SELECT count(*) FROM banter_online WHERE instance <> $1";
    static const char page[] =
        "SELECT \"user\", device, instance, since FROM banter_online WHERE instance <> $1"
        " ORDER BY instance, \"user\", device OFFSET $2 LIMIT $3";
    pgs_args a = {0};
    PGresult *r = NULL;
    pgs_arg_text(&a, instance);
    int ret = pgs_query_int(d, count, &a, total);
    if (ret)
        return ret;
    pgs_arg_int(&a, offset);
    pgs_arg_int(&a, (int64_t)limit);
    ret = pgs_query(d, page, &a, &r);
    for (int i = 0; ret == 0 && i < PQntuples(r) && *n < limit; i++) {
        size_t len = 0;
        const uint8_t *key = pgs_blob(r, i, 1, &len);
        if (!key || len != 32)
            continue;
        db_online_row *o = &rows[(*n)++];
        memcpy(o->key, key, 32);
        pgs_copy(r, i, 0, o->user, sizeof o->user);
        pgs_copy(r, i, 2, o->instance, sizeof o->instance);
        o->since_ms = pgs_int(r, i, 3);
    }
    PQclear(r);
    return ret;
}

int pgs_cluster_counts(db *d, int64_t *instances, int64_t *accounts, int64_t *devices)
{
    static const char sql[] = "SELECT (SELECT count(*) FROM banter_instances),"
                              " count(DISTINCT \"user\"), count(*) FROM banter_online";
    PGresult *r = NULL;
    int ret = pgs_query(d, sql, NULL, &r);
    if (ret == 0) {
        *instances = pgs_int(r, 0, 0);
        *accounts = pgs_int(r, 0, 1);
        *devices = pgs_int(r, 0, 2);
    }
    PQclear(r);
    return ret;
}

/* ---- the offline store ---- */

int pgs_mail_stats_get(db *d, db_mail_stats *out)
{
    static const char sql[] = "SELECT count(*), coalesce(sum(size), 0)::bigint,"
                              " count(DISTINCT to_user), coalesce(min(created), 0) FROM sealed";
    PGresult *r = NULL;
    memset(out, 0, sizeof *out);
    int ret = pgs_query(d, sql, NULL, &r);
    if (ret == 0) {
        out->copies = pgs_int(r, 0, 0);
        out->bytes = pgs_int(r, 0, 1);
        out->users = pgs_int(r, 0, 2);
        out->oldest_ms = pgs_int(r, 0, 3);
    }
    PQclear(r);
    return ret;
}

int pgs_mail_purge(db *d, int64_t before_ms, int64_t *n)
{
    static const char sql[] = "DELETE FROM sealed WHERE created < $1";
    pgs_args a = {0};
    pgs_arg_int(&a, before_ms);
    return pgs_exec_n(d, sql, &a, n);
}

/* ---- the organisation's policy ---- */

int pgs_policy_get(db *d, policy *out)
{
    static const char sql[] = "SELECT serial, issued, max_file_mb, history_days, flags,"
                              " public_fields FROM policy WHERE id = 1";
    PGresult *r = NULL;
    policy_default(out);
    int ret = pgs_query(d, sql, NULL, &r);
    if (ret == 0 && PQntuples(r) != 1)
        ret = BANTER_ENOENT;
    if (ret == 0) {
        out->serial = (uint64_t)pgs_int(r, 0, 0);
        out->issued_ms = pgs_int(r, 0, 1);
        out->max_file_mb = pgs_int(r, 0, 2);
        out->history_days = (uint32_t)pgs_int(r, 0, 3);
        out->flags = (uint8_t)pgs_int(r, 0, 4);
        out->public_fields = (uint32_t)pgs_int(r, 0, 5);
    }
    PQclear(r);
    return ret;
}

int pgs_policy_put(db *d, const policy *p)
{
    static const char sql[] =
        "INSERT INTO policy (id, serial, issued, max_file_mb, history_days, flags, public_fields)"
        " VALUES (1, $1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE"
        " SET serial = EXCLUDED.serial, issued = EXCLUDED.issued,"
        " max_file_mb = EXCLUDED.max_file_mb, history_days = EXCLUDED.history_days,"
        " flags = EXCLUDED.flags, public_fields = EXCLUDED.public_fields"
        " WHERE policy.serial < EXCLUDED.serial"; /* instances: never back to an older one */
    pgs_args a = {0};
    int64_t n = 0;
    pgs_arg_int(&a, (int64_t)p->serial);
    pgs_arg_int(&a, p->issued_ms);
    pgs_arg_int(&a, p->max_file_mb);
    pgs_arg_int(&a, p->history_days);
    pgs_arg_int(&a, p->flags);
    pgs_arg_int(&a, p->public_fields);
    int ret = pgs_exec_n(d, sql, &a, &n);
    if (ret == 0 && n == 0) {
        db_seterr(d, "a policy of that serial or a later one is stored (set on another instance)");
        ret = BANTER_ESTATE;
    }
    return ret;
}
