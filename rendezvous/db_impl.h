/* SPDX-License-Identifier: MIT */
/*
 * db_impl.h - private to the database modules (db.c, db_contacts.c,
 * db_mail.c, db_pgs*.c ...): the connection record, the cached statements
 * and the small helpers they share. Nothing else includes it.
 */
#ifndef BANTER_RDV_DB_IMPL_H
#define BANTER_RDV_DB_IMPL_H

#include <sqlite3.h>

#include "db.h"
#include "db_admin.h"

#define DB_ERRMSG_LEN 256

/* Every cached statement, whichever file uses it. Prepared on first use
 * (db_stmt) and kept until db_close. */
enum db_slot {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_USER_ADD,
    S_USER_GET,
    S_USER_LIST,
    S_USER_FLAG,
    S_DEVICE_USER,
    S_DEVICE_BIND,
    S_DEVICE_UNBIND,
    S_DEVICES_OF,
    S_PROFILE_SET,
    S_PROFILE_GET,
    S_REL_LIST,
    S_REL_GET,
    S_REL_PUT,
    S_REL_DEL,
    S_REL_COUNT,
    S_PRESENCE_GET,
    S_PRESENCE_SET,
    S_MAIL_USAGE,
    S_MAIL_INSERT,
    S_MAIL_DEL_SEQ,
    S_MAIL_DEL_ID,
    S_MAIL_FETCH,
    S_MAIL_EXPIRE,
    S_MAIL_SENDER,
    S_MAIL_FROM_GONE,
    S_MAIL_PURGE_FROM,
    S_RCPT_COUNT,
    S_RCPT_PAGE,
    S_SLOT_COUNT
};

struct pgs; /* db_pgs.c: the PostgreSQL connection */

/* One of sql (SQLite) and pg (PostgreSQL, db_pgs.h) is set: every public
 * db_* function starts with `if (d->pg) return pgs_...`. */
struct db {
    struct pgs *pg;
    sqlite3 *sql;
    sqlite3_stmt *stmt[S_SLOT_COUNT];
    char errmsg[DB_ERRMSG_LEN];
};

/* The schema's migrations, SQLite's and PostgreSQL's forms (arrays of the
 * returned count, static; either pointer may be NULL). */
int db_schema(const char *const **sqlite, const char *const **pg);
/* Record text as the last failure. */
void db_seterr(db *d, const char *text);
/* Record SQLite's text for rc and return the matching BANTER_E* code. */
int db_fail(db *d, int rc);
/* The cached statement for slot, preparing sql on first use. 0, or a
 * BANTER_E* code (recorded). */
BANTER_WUR int db_stmt(db *d, enum db_slot slot, const char *sql, sqlite3_stmt **out);
/* Reset a statement and clear its bindings (after every use). */
void db_done(sqlite3_stmt *s);
/* Bind a user name, after checking it (BANTER_EINVAL for a bad one). */
BANTER_WUR int db_bind_name(db *d, sqlite3_stmt *s, int col, const char *name);
/* Step s (bound) for one row; its first column as an integer into *out.
 * s is reset. No row: BANTER_EDB. */
BANTER_WUR int db_step_int(db *d, sqlite3_stmt *s, int64_t *out);
/* Room for one more element in the growable array *arrp (of *cap
 * elements of size bytes, n used): 0 or BANTER_ENOMEM (unchanged). */
BANTER_WUR int db_grow(void *arrp, size_t *cap, size_t n, size_t size);
/* A text column as a new string ("" for NULL); NULL when out of memory. */
char *db_column_dup(sqlite3_stmt *s, int col);
/* A text column into out (cap bytes, cut if longer). */
void db_column_copy(sqlite3_stmt *s, int col, char *out, size_t cap);

/* ---- announcements (db_announce.c, db_pgs_announce.c): one text for
 * both dialects, P the mark of a numbered parameter ("?" in SQLite, "$"
 * in PostgreSQL); the column user is quoted, as PostgreSQL wants it and
 * SQLite takes it ---- */

/* The devices an announcement goes to: enabled accounts, of the
 * department parameter DEPT when it is not "" (MATCH compares it, as
 * SQLite's lower(): ASCII letters only). */
#define DB_ANN_TO_WHOM(DEPT, MATCH)                                                                \
    " FROM devices v JOIN users u ON u.name = v.\"user\""                                          \
    " LEFT JOIN profiles p ON p.\"user\" = u.name"                                                 \
    " WHERE u.disabled = 0 AND (" DEPT " = '' OR " MATCH ")"
/* Whether announcement P1 went to the device P2: a count. */
#define DB_ANN_ADDRESSED(P) "SELECT count(*) FROM announce_to WHERE ann = " P "1 AND key = " P "2"
/* ... and has not confirmed it yet. */
#define DB_ANN_AWAITED(P)                                                                          \
    "SELECT count(*) FROM announce_to WHERE ann = " P "1 AND key = " P "2 AND delivered IS NULL"
/* The announcements device P1 has not confirmed, oldest first, P2 at most. */
#define DB_ANN_PENDING(P)                                                                          \
    "SELECT a.id, a.ts, a.department, a.text"                                                      \
    " FROM announce_to t JOIN announcements a ON a.id = t.ann"                                     \
    " WHERE t.key = " P "1 AND t.delivered IS NULL ORDER BY a.id LIMIT " P "2"
/* A receipt of announcement P1 from device P2 at P3: delivered is set
 * once; read once (and delivered with it, if unset). */
#define DB_ANN_DELIVERED(P)                                                                        \
    "UPDATE announce_to SET delivered = " P "3"                                                    \
    " WHERE ann = " P "1 AND key = " P "2 AND delivered IS NULL"
#define DB_ANN_READ(P)                                                                             \
    "UPDATE announce_to SET read = " P "3, delivered = coalesce(delivered, " P "3)"                \
    " WHERE ann = " P "1 AND key = " P "2 AND read IS NULL"
/* revoked_by of the rows `user disable` and `user delete` put in the
 * revoked table (db_admin.h), as an SQL list. */
#define DB_REVOKED_MARKS "('" DB_REVOKED_BY_DISABLE "', '" DB_REVOKED_BY_DELETE "')"
/* The devices of account P1 on the revocation list at P2 with revoked_by
 * P3 (one of the marks): a key an admin revoked on its own keeps its row,
 * and so does a mark of another account's (a deleted account's device
 * that logged in to this one stays listed as that account's, whatever
 * this account's disable and enable do); a mark an earlier disable or
 * delete of this account left is renewed. C casts a parameter to an
 * integer (PostgreSQL reads untyped ones as text). */
#define DB_MARK_DEVICES(P, C)                                                                      \
    "INSERT INTO revoked (key, \"user\", revoked, revoked_by)"                                     \
    " SELECT key, \"user\", " C(                                                                   \
        P "2") ", " P "3 FROM devices WHERE \"user\" = " P "1"                                     \
               " ON CONFLICT (key) DO UPDATE SET \"user\" = excluded.\"user\", revoked = "         \
               "excluded.revoked,"                                                                 \
               " revoked_by = excluded.revoked_by WHERE revoked.revoked_by IN " DB_REVOKED_MARKS   \
               " AND revoked.\"user\" = excluded.\"user\""
/* The marks `user disable` left on account P1's devices, taken off. */
#define DB_UNMARK_DISABLED(P)                                                                      \
    "DELETE FROM revoked WHERE \"user\" = " P "1 AND revoked_by = '" DB_REVOKED_BY_DISABLE "'"
/* A mark on key P1 of account P2, taken off as the key logs in to it. */
#define DB_UNMARK_KEY(P)                                                                           \
    "DELETE FROM revoked WHERE key = " P "1 AND \"user\" = " P                                     \
    "2 AND revoked_by IN " DB_REVOKED_MARKS
/* Whether key P1 was revoked by an admin on its own (a mark is not). */
#define DB_KEY_REVOKED(P)                                                                          \
    "SELECT count(*) FROM revoked WHERE key = " P "1 AND revoked_by NOT IN " DB_REVOKED_MARKS
/* The keys a mark still names that no account has bound (a deleted
 * account's devices), by key: key, the account the mark names, its time. */
#define DB_MARKED_UNBOUND                                                                          \
    "SELECT key, \"user\", revoked FROM revoked WHERE revoked_by IN " DB_REVOKED_MARKS             \
    " AND NOT EXISTS (SELECT 1 FROM devices v WHERE v.key = revoked.key) ORDER BY key"
/* Key P1, unbound and named by a mark, revoked by an admin (P3) at P2:
 * the account the mark named, or no row. */
#define DB_REVOKE_MARKED(P)                                                                        \
    "UPDATE revoked SET revoked = " P "2, revoked_by = " P "3 WHERE key = " P "1"                  \
    " AND revoked_by IN " DB_REVOKED_MARKS                                                         \
    " AND NOT EXISTS (SELECT 1 FROM devices v WHERE v.key = revoked.key) RETURNING \"user\""
/* The copies account P1 stored for others, as it is deleted: still
 * delivered as from its name, no longer its sender share (schema 9); and
 * that share's rows. */
#define DB_SENDER_GONE(P)                                                                          \
    "UPDATE sealed SET from_gone = 1 WHERE from_user = " P "1 AND from_gone = 0"
#define DB_SENDER_SHARE_GONE(P) "DELETE FROM mailbox_from WHERE sender = " P "1"
/* A fetched copy's flags (U: the quoted column name "user"): its own, and
 * DB_MAIL_SENDER_GONE when its sender was deleted (from_gone) or its
 * sending device is not bound to the sender's account now (schema 10). */
#define DB_FETCH_FLAGS(U)                                                                          \
    "flags | CASE WHEN from_gone <> 0 OR NOT EXISTS (SELECT 1 FROM devices v"                      \
    " WHERE v.key = sealed.from_device AND v." U " = sealed.from_user) THEN 2 ELSE 0 END"
/* Whether a copy from account P1 made at P2 is of an earlier holder of
 * the name (no account of that name made at or before it): from_gone at
 * its insert (schema 10). */
#define DB_FROM_GONE(P)                                                                            \
    "NOT EXISTS (SELECT 1 FROM users u WHERE u.name = " P "1 AND u.created <= " P "2)"
/* DB_MARK_DEVICES on SQLite (db.c), in the caller's transaction: 0 or
 * the failure. */
BANTER_WUR int db_mark_devices(db *d, const char *name, const char *by, int64_t now_ms);
/* The keys revoked since P1, newest first (those of one moment, as a
 * disable marks every device of an account, by key: the same order at
 * every rebuild and instance), P2 at most. */
#define DB_REVOKED_SINCE(P)                                                                        \
    "SELECT key FROM revoked WHERE revoked >= " P "1 ORDER BY revoked DESC, key LIMIT " P "2"

/* ---- the directory search, one text for both dialects (db.c) ---- */

/* A profile's columns as a read or a search returns them (profiles p). */
#define DB_PROFILE_COLS                                                                            \
    "coalesce(p.display_name, ''), coalesce(p.department, ''), coalesce(p.title, ''),"             \
    " coalesce(p.email, ''), coalesce(p.phone, ''), coalesce(p.location, ''),"                     \
    " coalesce(p.about, '')"

/* What differs between the dialects' search statements: P1 is the
 * searcher's parameter (SQLite "?1", PostgreSQL "$1::text"), U the column
 * user (a reserved word in PostgreSQL: "\"user\""). Accounts that are
 * enabled and not invisible (status 4), unless the searcher is one or an
 * approved contact of theirs. */
#define DB_SEARCH_JOINS(P1, U)                                                                     \
    " LEFT JOIN profiles p ON p." U " = u.name"                                                    \
    " LEFT JOIN presence s ON s." U " = u.name"                                                    \
    " LEFT JOIN contacts c ON c." U " = " P1 " AND c.peer = u.name"                                \
    " WHERE u.disabled = 0"                                                                        \
    " AND (coalesce(s.status, 1) <> 4 OR u.name = " P1 " OR coalesce(c.rel, 0) = 3)"
/* Every account, or, when a criterion is on a field only the account
 * itself and its contacts see, only those that can match it: the searcher
 * and its approved contacts it has not blocked (found through the
 * contacts key: such a search reads at most 1001 accounts, not all). */
#define DB_SEARCH_FROM_ALL(P1, U) " FROM users u" DB_SEARCH_JOINS(P1, U)
#define DB_SEARCH_FROM_KNOWN(P1, U)                                                                \
    " FROM (SELECT " P1 " AS name UNION ALL SELECT k.peer FROM contacts k"                         \
    " WHERE k." U " = " P1 " AND k.rel = 3 AND k.blocked = 0) m"                                   \
    " JOIN users u ON u.name = m.name" DB_SEARCH_JOINS(P1, U)
/* dir_view_of (dirview.h) in SQL: the searcher itself, an approved
 * contact the searcher has not blocked (c is the searcher's side; that
 * the other blocked the searcher changes nothing: a block is never
 * visible, docs/rendezvous.md 5.1), or a stranger. */
#define DB_SEARCH_VIEW(P1)                                                                         \
    "(CASE WHEN u.name = " P1 " THEN 2"                                                            \
    " WHEN coalesce(c.rel, 0) = 3 AND coalesce(c.blocked, 0) = 0 THEN 1 ELSE 0 END)"
#define DB_SEARCH_SQL_MAX 4096

/* A dialect's search: the texts above for it; a criterion's tests, each
 * pre <column> mid <parameter number> post; the page's order (names in
 * byte order) and the mark of a numbered parameter ("?" or "$"). */
typedef struct db_search_test {
    const char *pre, *mid, *post;
} db_search_test;
typedef struct db_search_dialect {
    const char *view, *from_all, *from_known;
    db_search_test contains, equals;
    const char *order, *param;
} db_search_dialect;

/*
 * The text of one search statement (count: the number of matches; else
 * the page: u.name, the view, DB_PROFILE_COLS) into sql (cap bytes), from
 * constant fragments only: each criterion adds " AND <column> <test>"
 * with its value as parameter 2..n+1, preceded, for a field that is not
 * public, by " AND <view> >= <the lowest view that sees it>": a condition
 * on a field the searcher does not see matches nothing, whatever the
 * value (dirview.h). The page's limit and offset are parameters n+2 and
 * n+3. Returns the length; cap or more when it does not fit.
 */
size_t db_search_text(const db_search_dialect *dl, const struct rv_search *q, uint32_t pub,
                      bool count, char *sql, size_t cap);

/*
 * A savepoint on SQLite, inside a transaction or beginning one (then its
 * RELEASE commits). db_sp_begin: 0 or the error (nothing open). db_sp_end
 * with ret, the steps' result: 0 releases, else undoes the savepoint's
 * steps; a RELEASE that fails (a commit that could not write, the disk
 * full) undoes them too, and a transaction the savepoint began is rolled
 * back, so that nothing is left open on the connection. Returns ret, or
 * the RELEASE's error.
 */
typedef struct db_sp {
    const char *name; /* a constant identifier */
    bool outer;       /* it began the transaction */
} db_sp;
BANTER_WUR int db_sp_begin(db *d, db_sp *sp, const char *name);
BANTER_WUR int db_sp_end(db *d, const db_sp *sp, int ret);

#endif
