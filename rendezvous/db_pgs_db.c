/* SPDX-License-Identifier: MIT */
/*
 * db_pgs_db.c - accounts, devices, profiles, the directory search and
 * broadcast recipients on PostgreSQL: the forms of db.c's functions (see
 * db.h for what each does, db_pgs.h for the conventions).
 */
#include "db_pgs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_impl.h"
#include "dirview.h"

#define USER_COLS                                                                                  \
    "u.name, u.admin, u.disabled, u.created,"                                                      \
    " (SELECT count(*) FROM devices d WHERE d.\"user\" = u.name), u.broadcast, u.pwhash"

int pgs_user_add(db *d, const char *name, const char *pwhash, bool admin, int64_t now_ms)
{
    pgs_args a = {0};
    int64_t n;
    size_t hlen = pwhash ? strnlen(pwhash, BCRYPTO_PWHASH_STRLEN) : 0;
    if (hlen == 0 || hlen == BCRYPTO_PWHASH_STRLEN) {
        db_seterr(d, "bad password hash");
        return BANTER_EINVAL;
    }
    int ret = pgs_arg_name(d, &a, name);
    if (ret)
        return ret;
    pgs_arg_text(&a, pwhash);
    pgs_arg_int(&a, admin ? 1 : 0);
    pgs_arg_int(&a, now_ms);
    ret = pgs_exec_n(d,
                     "INSERT INTO users (name, pwhash, admin, disabled, created, broadcast)"
                     " VALUES ($1, $2, $3, 0, $4, $3) ON CONFLICT (name) DO NOTHING",
                     &a, &n);
    return ret ? ret : n == 1 ? 0 : 1;
}

/* Row i of a USER_COLS result. */
static void read_user(const PGresult *r, int i, db_user *u, char *pwhash)
{
    memset(u, 0, sizeof *u);
    pgs_copy(r, i, 0, u->name, sizeof u->name);
    u->admin = pgs_int(r, i, 1) != 0;
    u->disabled = pgs_int(r, i, 2) != 0;
    u->created_ms = pgs_int(r, i, 3);
    u->devices = pgs_int(r, i, 4);
    u->broadcast = pgs_int(r, i, 5) != 0;
    if (pwhash)
        pgs_copy(r, i, 6, pwhash, BCRYPTO_PWHASH_STRLEN);
}

int pgs_user_get(db *d, const char *name, db_user *out, char *pwhash)
{
    pgs_args a = {0};
    PGresult *r;
    int ret = pgs_arg_name(d, &a, name);
    if (ret == 0)
        ret = pgs_query(d, "SELECT " USER_COLS " FROM users u WHERE u.name = $1", &a, &r);
    if (ret)
        return ret;
    if (PQntuples(r) > 0)
        read_user(r, 0, out, pwhash);
    else
        ret = BANTER_ENOENT;
    PQclear(r);
    return ret;
}

int pgs_user_list(db *d, db_user **out, size_t *n)
{
    PGresult *r;
    *out = NULL;
    *n = 0;
    int ret =
        pgs_query(d, "SELECT " USER_COLS " FROM users u ORDER BY u.name COLLATE \"C\"", NULL, &r);
    if (ret)
        return ret;
    int rows = PQntuples(r);
    db_user *arr = rows ? calloc((size_t)rows, sizeof *arr) : NULL;
    if (rows && !arr) {
        PQclear(r);
        return BANTER_ENOMEM;
    }
    for (int i = 0; i < rows; i++)
        read_user(r, i, &arr[i], NULL);
    PQclear(r);
    *out = arr;
    *n = (size_t)rows;
    return 0;
}

int pgs_user_flag(db *d, const char *name, const char *col, bool on)
{
    pgs_args a = {0};
    int64_t n = 0;
    int ret = pgs_arg_name(d, &a, name);
    if (ret)
        return ret;
    pgs_arg_int(&a, on ? 1 : 0);
    /* One fixed text per column (prepared statements are keyed by text). */
    if (strcmp(col, "disabled") == 0)
        ret = pgs_exec_n(d, "UPDATE users SET disabled = $2 WHERE name = $1 AND disabled <> $2", &a,
                         &n);
    else if (strcmp(col, "broadcast") == 0)
        ret = pgs_exec_n(d, "UPDATE users SET broadcast = $2 WHERE name = $1 AND broadcast <> $2",
                         &a, &n);
    else
        ret = BANTER_EINVAL;
    if (ret || n == 1)
        return ret;
    db_user u;
    ret = pgs_user_get(d, name, &u, NULL);
    return ret ? ret : 1;
}

#define PG_BIGINT(x) x "::bigint"

int pgs_user_disabled(db *d, const char *name, bool on, int64_t now_ms)
{
    /* The flag and the marks in one statement: both or neither. */
    static const char dis[] = "WITH u AS (UPDATE users SET disabled = 1 WHERE name = $1"
                              " AND disabled <> 1 RETURNING name),"
                              " m AS (" DB_MARK_DEVICES("$", PG_BIGINT) ")"
                                                                        " SELECT count(*) FROM u";
    static const char en[] = "WITH u AS (UPDATE users SET disabled = 0 WHERE name = $1"
                             " AND disabled <> 0 RETURNING name),"
                             " m AS (" DB_UNMARK_DISABLED("$") ")"
                                                               " SELECT count(*) FROM u";
    pgs_args a = {0};
    int64_t n = 0;
    int ret = pgs_arg_name(d, &a, name);
    if (ret)
        return ret;
    if (on) {
        pgs_arg_int(&a, now_ms);
        pgs_arg_text(&a, DB_REVOKED_BY_DISABLE);
    }
    ret = pgs_query_int(d, on ? dis : en, &a, &n);
    if (ret || n == 1)
        return ret;
    db_user u;
    ret = pgs_user_get(d, name, &u, NULL);
    return ret ? ret : 1;
}

/* ---- devices ---- */

int pgs_device_user(db *d, const uint8_t key[static 32], db_user *out)
{
    pgs_args a = {0};
    PGresult *r;
    pgs_arg_blob(&a, key, 32);
    int ret = pgs_query(d,
                        "SELECT " USER_COLS " FROM devices v JOIN users u ON u.name = v.\"user\""
                        " WHERE v.key = $1",
                        &a, &r);
    if (ret)
        return ret;
    if (PQntuples(r) > 0)
        read_user(r, 0, out, NULL);
    else
        ret = BANTER_ENOENT;
    PQclear(r);
    return ret;
}

int pgs_device_bind(db *d, const uint8_t key[static 32], const char *name, int64_t now_ms)
{
    pgs_args a = {0};
    pgs_arg_blob(&a, key, 32);
    int ret = pgs_arg_name(d, &a, name);
    if (ret)
        return ret;
    pgs_arg_int(&a, now_ms);
    return pgs_exec(
        d,
        "INSERT INTO devices (key, \"user\", created, last_seen) VALUES ($1, $2, $3, $3)"
        " ON CONFLICT (key) DO UPDATE SET \"user\" = $2, last_seen = $3,"
        " created = CASE WHEN devices.\"user\" = $2 THEN devices.created ELSE $3 END",
        &a);
}

int pgs_device_unbind(db *d, const uint8_t key[static 32])
{
    pgs_args a = {0};
    int64_t n;
    pgs_arg_blob(&a, key, 32);
    int ret = pgs_exec_n(d, "DELETE FROM devices WHERE key = $1", &a, &n);
    return ret ? ret : n == 1 ? 0 : 1;
}

int pgs_devices_of(db *d, const char *name, uint8_t (*keys)[32], size_t max, size_t *n)
{
    pgs_args a = {0};
    PGresult *r;
    *n = 0;
    int ret = pgs_arg_name(d, &a, name);
    if (ret)
        return ret;
    pgs_arg_int(&a, max > INT32_MAX ? INT32_MAX : (int64_t)max);
    ret = pgs_query(d,
                    "SELECT v.key FROM devices v JOIN users u ON u.name = v.\"user\""
                    " WHERE v.\"user\" = $1 AND u.disabled = 0 ORDER BY v.created, v.key LIMIT $2",
                    &a, &r);
    if (ret)
        return ret;
    for (int i = 0; i < PQntuples(r) && *n < max; i++) {
        size_t len;
        const uint8_t *k = pgs_blob(r, i, 0, &len);
        if (k && len == 32)
            memcpy(keys[(*n)++], k, 32);
    }
    PQclear(r);
    return 0;
}

/* ---- profiles ---- */

int pgs_profile_set(db *d, const char *name, const struct rv_profile *p, int64_t now_ms)
{
    pgs_args a = {0};
    int ret = pgs_arg_name(d, &a, name);
    if (ret)
        return ret;
    for (int i = 0; i < RV_F_COUNT; i++) {
        if (p->f[i] && strlen(p->f[i]) > rv_field_max((rv_field)i)) {
            db_seterr(d, "profile field too long");
            return BANTER_EINVAL;
        }
        pgs_arg_text(&a, p->f[i]);
    }
    pgs_arg_int(&a, now_ms);
    /* NULL leaves a field as it is; a new row starts with every field "". */
    return pgs_exec(
        d,
        "INSERT INTO profiles (\"user\", display_name, department, title, email, phone, location,"
        " about, updated) VALUES ($1, coalesce($2, ''), coalesce($3, ''), coalesce($4, ''),"
        " coalesce($5, ''), coalesce($6, ''), coalesce($7, ''), coalesce($8, ''), $9)"
        " ON CONFLICT (\"user\") DO UPDATE SET display_name = coalesce($2, profiles.display_name),"
        " department = coalesce($3, profiles.department), title = coalesce($4, profiles.title),"
        " email = coalesce($5, profiles.email), phone = coalesce($6, profiles.phone),"
        " location = coalesce($7, profiles.location), about = coalesce($8, profiles.about),"
        " updated = $9",
        &a);
}

/* Profile columns first..first+6 of row i: what view v sees of them. */
static int read_profile(const PGresult *r, int i, int first, dir_public pub, dir_view v,
                        bool keep_dn, struct rv_profile *p)
{
    struct rv_profile all = {0}; /* borrowed from the result */
    for (int f = 0; f < RV_F_COUNT; f++)
        all.f[f] = (char *)(uintptr_t)pgs_text(r, i, first + f);
    return dir_show(pub, v, &all, keep_dn, p);
}

int pgs_profile_get(db *d, const char *name, struct rv_profile *out)
{
    pgs_args a = {0};
    PGresult *r;
    memset(out, 0, sizeof *out);
    int ret = pgs_arg_name(d, &a, name);
    if (ret == 0)
        ret = pgs_query(d, "SELECT " DB_PROFILE_COLS " FROM profiles p WHERE p.\"user\" = $1", &a,
                        &r);
    if (ret)
        return ret;
    if (PQntuples(r) > 0)
        ret = read_profile(r, 0, 0, DIR_PUBLIC_ALL, DIR_SELF, false, out);
    PQclear(r);
    if (ret)
        db_profile_clear(out);
    return ret;
}

/* ---- the directory (db.c's search in PostgreSQL's dialect) ---- */

/* db.c's search in PostgreSQL's dialect: lower() under the "C" collation
 * changes ASCII letters only, as SQLite's; strpos is instr; names are
 * ordered in byte order, as SQLite's. */
static const db_search_dialect search_pg = {
    .view = DB_SEARCH_VIEW("$1::text"),
    .from_all = DB_SEARCH_FROM_ALL("$1::text", "\"user\""),
    .from_known = DB_SEARCH_FROM_KNOWN("$1::text", "\"user\""),
    .contains = {" AND strpos(lower(coalesce(", ", '') COLLATE \"C\"), lower($",
                 "::text COLLATE \"C\")) > 0"},
    .equals = {" AND lower(coalesce(", ", '') COLLATE \"C\") = lower($", "::text COLLATE \"C\")"},
    .order = " ORDER BY u.name COLLATE \"C\"",
    .param = "$",
};

/* Run one search statement (the count or the page). */
static int search_run(db *d, const char *searcher, const struct rv_search *q, dir_public pub,
                      bool count, PGresult **out)
{
    char sql[DB_SEARCH_SQL_MAX];
    pgs_args a = {0};
    *out = NULL;
    if (db_search_text(&search_pg, q, pub, count, sql, sizeof sql) >= sizeof sql)
        return BANTER_EINVAL;
    int ret = pgs_arg_name(d, &a, searcher);
    if (ret)
        return ret;
    for (size_t i = 0; i < q->n; i++)
        pgs_arg_text(&a, q->c[i].value);
    if (!count) {
        pgs_arg_int(&a, q->per_page);
        pgs_arg_int(&a, (int64_t)q->page * q->per_page);
    }
    return pgs_query_once(d, sql, &a, out);
}

int pgs_search(db *d, const char *searcher, const struct rv_search *q, uint32_t pub,
               struct rv_search_result *res)
{
    PGresult *r;
    memset(res, 0, sizeof *res);
    res->page = q->page;
    if (q->n < 1 || q->n > RV_SEARCH_MAX || q->per_page < 1 || q->per_page > RV_PER_PAGE_MAX)
        return BANTER_EINVAL;
    int ret = search_run(d, searcher, q, pub, true, &r);
    if (ret)
        return ret;
    res->total = PQntuples(r) > 0 ? (uint64_t)pgs_int(r, 0, 0) : 0;
    PQclear(r);
    ret = search_run(d, searcher, q, pub, false, &r);
    if (ret)
        return ret;
    res->users = calloc(q->per_page, sizeof *res->users);
    if (!res->users)
        ret = BANTER_ENOMEM;
    for (int i = 0; ret == 0 && i < PQntuples(r) && res->n < q->per_page; i++) {
        struct rv_user *u = &res->users[res->n++];
        pgs_copy(r, i, 0, u->name, sizeof u->name);
        int64_t v = pgs_int(r, i, 1);
        ret = read_profile(r, i, 2, pub,
                           v == DIR_SELF      ? DIR_SELF
                           : v == DIR_CONTACT ? DIR_CONTACT
                                              : DIR_STRANGER,
                           true, &u->p);
    }
    PQclear(r);
    return ret;
}

/* ---- broadcast recipients ---- */

#define RCPT_FROM                                                                                  \
    " FROM users u LEFT JOIN profiles p ON p.\"user\" = u.name"                                    \
    " WHERE u.disabled = 0 AND u.name <> $1"                                                       \
    " AND EXISTS (SELECT 1 FROM devices v WHERE v.\"user\" = u.name)"                              \
    " AND ($2::text = '' OR lower(coalesce(p.department, '') COLLATE \"C\")"                       \
    " = lower($2::text COLLATE \"C\"))"

int pgs_recipients(db *d, const char *sender, const char *department, uint32_t page,
                   struct rv_recipients *out)
{
    pgs_args a = {0};
    PGresult *r;
    int64_t total = 0;
    memset(out, 0, sizeof *out);
    out->page = page;
    int ret = pgs_arg_name(d, &a, sender);
    if (ret)
        return ret;
    pgs_arg_text(&a, department);
    ret = pgs_query_int(d, "SELECT count(*)" RCPT_FROM, &a, &total);
    out->total = (uint64_t)total;
    if (ret)
        return ret;
    out->users = calloc(RV_RCPT_PER_PAGE, sizeof *out->users);
    if (!out->users)
        return BANTER_ENOMEM;
    pgs_arg_int(&a, RV_RCPT_PER_PAGE);
    pgs_arg_int(&a, (int64_t)page * RV_RCPT_PER_PAGE);
    ret = pgs_query(
        d, "SELECT u.name" RCPT_FROM " ORDER BY u.name COLLATE \"C\" LIMIT $3 OFFSET $4", &a, &r);
    if (ret)
        return ret;
    for (int i = 0; i < PQntuples(r) && out->n < RV_RCPT_PER_PAGE; i++)
        pgs_copy(r, i, 0, out->users[out->n++].name, sizeof out->users[0].name);
    PQclear(r);
    for (size_t i = 0; ret == 0 && i < out->n; i++)
        ret = pgs_devices_of(d, out->users[i].name, out->users[i].dev, RV_DEVICES_MAX,
                             &out->users[i].ndev);
    return ret;
}
