/* SPDX-License-Identifier: MIT */
/* db_pgs_announce.c - the PostgreSQL forms of db_announce.h (see db_pgs.h). */
#include "db_pgs.h"

#include <string.h>

#include "db_impl.h"

/* SQLite's lower() folds ASCII only; so does this, whatever the database's
 * locale, so that both backends address the same devices. */
#define ASCII_LOWER(x)                                                                             \
    "translate(" x ", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
#define DEPT_MATCH ASCII_LOWER("coalesce(p.department, '')") " = " ASCII_LOWER("$3")

/* A size_t count as a LIMIT. */
static int64_t limit_of(size_t max) { return max > (size_t)INT64_MAX ? INT64_MAX : (int64_t)max; }

int pgs_announce_add(db *d, int64_t now_ms, const char *actor, const char *department,
                     const char *text, int64_t *id, int64_t *devices, int64_t *people)
{
    /* One statement: atomic on its own, inside a transaction or not. The
     * devices it goes to: enabled accounts, of department when one is
     * given (DB_ANN_TO_WHOM, as in db_announce.c). */
    static const char sql[] =
        "WITH a AS (INSERT INTO announcements (ts, actor, department, text)"
        "  VALUES ($1, $2, $3, $4) RETURNING id),"
        " t AS (INSERT INTO announce_to (ann, key, \"user\")"
        "  SELECT (SELECT id FROM a), v.key, v.\"user\"" DB_ANN_TO_WHOM(
            "$3",
            DEPT_MATCH) "  RETURNING \"user\")"
                        " SELECT (SELECT id FROM a), count(*), count(DISTINCT \"user\") FROM t";
    pgs_args a = {0};
    PGresult *r = NULL;
    pgs_arg_int(&a, now_ms);
    pgs_arg_text(&a, actor);
    pgs_arg_text(&a, department);
    pgs_arg_text(&a, text);
    int ret = pgs_query(d, sql, &a, &r);
    if (ret == 0) {
        *id = pgs_int(r, 0, 0);
        *devices = pgs_int(r, 0, 1);
        *people = pgs_int(r, 0, 2);
    }
    PQclear(r);
    return ret;
}

int pgs_announce_addressed(db *d, int64_t id, const uint8_t key[static 32], bool awaited)
{
    const char *sql = awaited ? DB_ANN_AWAITED("$") : DB_ANN_ADDRESSED("$");
    pgs_args a = {0};
    int64_t n = 0;
    pgs_arg_int(&a, id);
    pgs_arg_blob(&a, key, 32);
    int ret = pgs_query_int(d, sql, &a, &n);
    return ret ? ret : n > 0 ? 1 : 0;
}

int pgs_announce_pending(db *d, const uint8_t key[static 32], size_t max,
                         int (*fn)(void *ud, const ann_msg *m), void *ud)
{
    static const char sql[] = DB_ANN_PENDING("$");
    pgs_args a = {0};
    PGresult *r = NULL;
    pgs_arg_blob(&a, key, 32);
    pgs_arg_int(&a, limit_of(max));
    int ret = pgs_query(d, sql, &a, &r);
    for (int i = 0; ret == 0 && i < PQntuples(r); i++) {
        ann_msg m;
        memset(&m, 0, sizeof m);
        m.id = pgs_int(r, i, 0);
        m.ts_ms = pgs_int(r, i, 1);
        pgs_copy(r, i, 2, m.department, sizeof m.department);
        pgs_copy(r, i, 3, m.text, sizeof m.text);
        ret = fn(ud, &m);
    }
    PQclear(r);
    return ret;
}

int pgs_announce_receipt(db *d, int64_t id, const uint8_t key[static 32], bool read, int64_t now_ms)
{
    static const char sql_delivered[] = DB_ANN_DELIVERED("$"), sql_read[] = DB_ANN_READ("$");
    int known = pgs_announce_addressed(d, id, key, false);
    if (known < 0)
        return known;
    if (known == 0)
        return BANTER_ENOENT;
    pgs_args a = {0};
    int64_t n = 0;
    pgs_arg_int(&a, id);
    pgs_arg_blob(&a, key, 32);
    pgs_arg_int(&a, now_ms);
    int ret = pgs_exec_n(d, read ? sql_read : sql_delivered, &a, &n);
    return ret ? ret : n == 0 ? 1 : 0;
}

int pgs_announce_report_get(db *d, int64_t id, db_announce_report *out)
{
    static const char sql[] =
        "SELECT a.id, a.ts, a.actor, a.department, a.text,"
        " count(t.key), count(t.delivered), count(t.read), count(DISTINCT t.\"user\"),"
        " count(DISTINCT t.\"user\") FILTER (WHERE t.delivered IS NOT NULL),"
        " count(DISTINCT t.\"user\") FILTER (WHERE t.read IS NOT NULL)"
        " FROM announcements a LEFT JOIN announce_to t ON t.ann = a.id"
        " WHERE a.id = $1 GROUP BY a.id";
    pgs_args a = {0};
    PGresult *r = NULL;
    memset(out, 0, sizeof *out);
    pgs_arg_int(&a, id);
    int ret = pgs_query(d, sql, &a, &r);
    if (ret == 0 && PQntuples(r) != 1)
        ret = BANTER_ENOENT;
    if (ret == 0) {
        out->id = pgs_int(r, 0, 0);
        out->ts = pgs_int(r, 0, 1);
        pgs_copy(r, 0, 2, out->actor, sizeof out->actor);
        pgs_copy(r, 0, 3, out->department, sizeof out->department);
        pgs_copy(r, 0, 4, out->text, sizeof out->text);
        out->devices = pgs_int(r, 0, 5);
        out->delivered = pgs_int(r, 0, 6);
        out->read = pgs_int(r, 0, 7);
        out->people = pgs_int(r, 0, 8);
        out->people_delivered = pgs_int(r, 0, 9);
        out->people_read = pgs_int(r, 0, 10);
    }
    PQclear(r);
    return ret;
}

int pgs_revoked_since(db *d, int64_t since_ms, uint8_t (*keys)[32], size_t max, size_t *n)
{
    static const char sql[] = DB_REVOKED_SINCE("$");
    pgs_args a = {0};
    PGresult *r = NULL;
    *n = 0;
    pgs_arg_int(&a, since_ms);
    pgs_arg_int(&a, limit_of(max));
    int ret = pgs_query(d, sql, &a, &r);
    for (int i = 0; ret == 0 && i < PQntuples(r) && *n < max; i++) {
        size_t len;
        const uint8_t *k = pgs_blob(r, i, 0, &len);
        if (k && len == 32)
            memcpy(keys[(*n)++], k, 32);
    }
    PQclear(r);
    return ret;
}

int pgs_shared_clock_ms(db *d, int64_t *now_ms)
{
    return pgs_query_int(d, "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint", NULL,
                         now_ms);
}
