/* SPDX-License-Identifier: MIT */
/*
 * db_pgs_contacts.c - relations and presence on PostgreSQL: the forms of
 * db_contacts.c's functions (see db_contacts.h, db_pgs.h).
 */
#include "db_pgs.h"

#include <stdlib.h>
#include <string.h>

#include "db_impl.h"
#include "db_mail.h"

int pgs_rel_list(db *d, const char *user, db_rel **out, size_t *n)
{
    pgs_args a = {0};
    PGresult *r;
    *out = NULL;
    *n = 0;
    int ret = pgs_arg_name(d, &a, user);
    if (ret == 0)
        ret = pgs_query(d,
                        "SELECT * FROM (SELECT c.peer, c.rel, c.blocked, coalesce(o.blocked, 0)"
                        " FROM contacts c LEFT JOIN contacts o"
                        " ON o.\"user\" = c.peer AND o.peer = c.\"user\" WHERE c.\"user\" = $1"
                        " UNION ALL SELECT o.\"user\", 0, 0, 1 FROM contacts o"
                        " WHERE o.peer = $1 AND o.blocked = 1 AND NOT EXISTS"
                        " (SELECT 1 FROM contacts c WHERE c.\"user\" = $1 AND c.peer = o.\"user\"))"
                        " x (peer, rel, blocked, blocked_me) ORDER BY peer COLLATE \"C\"",
                        &a, &r);
    if (ret)
        return ret;
    int rows = PQntuples(r);
    db_rel *arr = rows ? calloc((size_t)rows, sizeof *arr) : NULL;
    if (rows && !arr) {
        PQclear(r);
        return BANTER_ENOMEM;
    }
    for (int i = 0; i < rows; i++) {
        db_rel *x = &arr[i];
        pgs_copy(r, i, 0, x->peer, sizeof x->peer);
        x->side.rel = (uint8_t)(pgs_int(r, i, 1) & 3);
        x->side.blocked = pgs_int(r, i, 2) != 0;
        x->blocked_me = pgs_int(r, i, 3) != 0;
    }
    PQclear(r);
    *out = arr;
    *n = (size_t)rows;
    return 0;
}

/* One side's row: its values, or none and not blocked. */
static int side_get(db *d, const char *user, const char *peer, rel_side *out)
{
    pgs_args a = {0};
    PGresult *r;
    *out = (rel_side){REL_NONE, false};
    int ret = pgs_arg_name(d, &a, user);
    if (ret == 0)
        ret = pgs_arg_name(d, &a, peer);
    if (ret == 0)
        ret = pgs_query(d, "SELECT rel, blocked FROM contacts WHERE \"user\" = $1 AND peer = $2",
                        &a, &r);
    if (ret)
        return ret;
    if (PQntuples(r) > 0) {
        out->rel = (uint8_t)(pgs_int(r, 0, 0) & 3);
        out->blocked = pgs_int(r, 0, 1) != 0;
    }
    PQclear(r);
    return 0;
}

int pgs_rel_pair(db *d, const char *a, const char *b, rel_side *sa, rel_side *sb)
{
    int ret = side_get(d, a, b, sa);
    return ret ? ret : side_get(d, b, a, sb);
}

static int side_put(db *d, const char *user, const char *peer, rel_side v, int64_t now_ms)
{
    pgs_args a = {0};
    int ret = pgs_arg_name(d, &a, user);
    if (ret == 0)
        ret = pgs_arg_name(d, &a, peer);
    if (ret)
        return ret;
    if (!rel_exists(v))
        return pgs_exec(d, "DELETE FROM contacts WHERE \"user\" = $1 AND peer = $2", &a);
    pgs_arg_int(&a, v.rel);
    pgs_arg_int(&a, v.blocked ? 1 : 0);
    pgs_arg_int(&a, now_ms);
    return pgs_exec(d,
                    "INSERT INTO contacts (\"user\", peer, rel, blocked, updated)"
                    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (\"user\", peer) DO UPDATE"
                    " SET rel = $3, blocked = $4, updated = $5",
                    &a);
}

int pgs_rel_write(db *d, const char *a, const char *b, rel_side sa, rel_side sb, int64_t now_ms)
{
    int ret = pgs_begin(d);
    if (ret == 0)
        ret = db_mail_purge_blocked(d, a, b, sa.blocked, sb.blocked);
    if (ret == 0)
        ret = side_put(d, a, b, sa, now_ms);
    if (ret == 0)
        ret = side_put(d, b, a, sb, now_ms);
    if (ret == 0)
        ret = pgs_commit(d);
    if (ret)
        pgs_rollback(d);
    return ret;
}

int pgs_rel_count(db *d, const char *user, int64_t *n)
{
    pgs_args a = {0};
    *n = 0;
    int ret = pgs_arg_name(d, &a, user);
    return ret ? ret : pgs_query_int(d, "SELECT count(*) FROM contacts WHERE \"user\" = $1", &a, n);
}

int pgs_presence_get(db *d, const char *user, uint8_t *status, char *text)
{
    pgs_args a = {0};
    PGresult *r;
    *status = RV_P_ONLINE;
    text[0] = '\0';
    int ret = pgs_arg_name(d, &a, user);
    if (ret == 0)
        ret = pgs_query(d, "SELECT status, text FROM presence WHERE \"user\" = $1", &a, &r);
    if (ret)
        return ret;
    if (PQntuples(r) > 0) {
        int64_t v = pgs_int(r, 0, 0);
        *status = v >= RV_P_ONLINE && v <= RV_P_INVISIBLE ? (uint8_t)v : RV_P_ONLINE;
        pgs_copy(r, 0, 1, text, RV_TEXT_MAX + 1);
        if (!rv_text_valid(text))
            text[0] = '\0';
    }
    PQclear(r);
    return 0;
}

int pgs_presence_set(db *d, const char *user, uint8_t status, const char *text, int64_t now_ms)
{
    pgs_args a = {0};
    if (status < RV_P_ONLINE || status > RV_P_INVISIBLE || !rv_text_valid(text)) {
        db_seterr(d, "bad presence");
        return BANTER_EINVAL;
    }
    int ret = pgs_arg_name(d, &a, user);
    if (ret)
        return ret;
    pgs_arg_int(&a, status);
    pgs_arg_text(&a, text);
    pgs_arg_int(&a, now_ms);
    return pgs_exec(d,
                    "INSERT INTO presence (\"user\", status, text, updated) VALUES ($1, $2, $3, $4)"
                    " ON CONFLICT (\"user\") DO UPDATE SET status = $2, text = $3, updated = $4",
                    &a);
}
