/* SPDX-License-Identifier: MIT */
/* store.c - peers, message history and the outbox in one SQLite database. */
#include "core/store.h"

#include "sqlh.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#define BUSY_TIMEOUT_MS 5000
#define ERRMSG_LEN      256

/*
 * The schema, one migration per version: migrations[i] takes the database
 * from user_version i to i + 1. Append to change the schema; never edit an
 * entry that has shipped.
 */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE peers ("
    " key BLOB PRIMARY KEY NOT NULL CHECK (length(key) = 32),"
    " name TEXT NOT NULL,"
    " trust INTEGER NOT NULL CHECK (trust BETWEEN 0 AND 3),"
    " source TEXT NOT NULL,"
    " addresses TEXT NOT NULL,"
    " first_seen INTEGER NOT NULL,"
    " last_seen INTEGER NOT NULL,"
    " replaces BLOB NULL CHECK (replaces IS NULL OR length(replaces) = 32));"
    "CREATE TABLE messages ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id BLOB NOT NULL CHECK (length(id) = 16),"
    " peer BLOB NOT NULL CHECK (length(peer) = 32),"
    " dir INTEGER NOT NULL CHECK (dir IN (0, 1)),"
    " state INTEGER NOT NULL CHECK (state IN (0, 1, 2)),"
    " broadcast INTEGER NOT NULL CHECK (broadcast IN (0, 1)),"
    " ts INTEGER NOT NULL,"
    " stored INTEGER NOT NULL,"
    " body TEXT NOT NULL,"
    " UNIQUE (id, peer, dir));"
    "CREATE INDEX messages_outbox ON messages (peer, dir, state, seq);"
    "CREATE INDEX messages_history ON messages (peer, seq);",
    /* 1 -> 2: file transfers */
    "CREATE TABLE transfers ("
    " id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),"
    " peer BLOB NOT NULL CHECK (length(peer) = 32),"
    " dir INTEGER NOT NULL CHECK (dir IN (0, 1)),"
    " state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 6),"
    " created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL,"
    " done INTEGER NOT NULL,"
    " dest TEXT NOT NULL,"
    " error TEXT NOT NULL,"
    " secret BLOB NOT NULL CHECK (length(secret) = 32));"
    "CREATE TABLE transfer_files ("
    " id BLOB NOT NULL REFERENCES transfers (id) ON DELETE CASCADE,"
    " idx INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " size INTEGER NOT NULL,"
    " hash BLOB NOT NULL CHECK (length(hash) = 32),"
    " local TEXT NOT NULL,"
    " mtime INTEGER NOT NULL,"
    " verified INTEGER NOT NULL CHECK (verified IN (0, 1)),"
    " PRIMARY KEY (id, idx));",
    /* 2 -> 3: messages relayed by the rendezvous server may end "stored on
     * the server" (3) or refused (4, with the server's error code). SQLite
     * cannot widen a CHECK in place: the table is rebuilt. */
    "CREATE TABLE messages_v3 ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id BLOB NOT NULL CHECK (length(id) = 16),"
    " peer BLOB NOT NULL CHECK (length(peer) = 32),"
    " dir INTEGER NOT NULL CHECK (dir IN (0, 1)),"
    " state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 4),"
    " broadcast INTEGER NOT NULL CHECK (broadcast IN (0, 1)),"
    " ts INTEGER NOT NULL,"
    " stored INTEGER NOT NULL,"
    " body TEXT NOT NULL,"
    " error TEXT NOT NULL DEFAULT '',"
    " UNIQUE (id, peer, dir));"
    "INSERT INTO messages_v3 (seq, id, peer, dir, state, broadcast, ts, stored, body)"
    " SELECT seq, id, peer, dir, state, broadcast, ts, stored, body FROM messages;"
    "DROP TABLE messages;"
    "ALTER TABLE messages_v3 RENAME TO messages;"
    "CREATE INDEX messages_outbox ON messages (peer, dir, state, seq);"
    "CREATE INDEX messages_history ON messages (peer, seq);",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

#define PEER_COLS "key, name, trust, source, addresses, first_seen, last_seen, replaces"
#define MSG_COLS  "seq, id, peer, dir, state, broadcast, ts, stored, body, error"

enum stmt_id {
    S_PEER_PUT,
    S_PEER_GET,
    S_PEER_LIST,
    S_PEER_DELETE,
    S_MSG_ADD,
    S_MSG_SET_STATE,
    S_OUTBOX,
    S_HISTORY,
    S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
    [S_PEER_PUT] = "INSERT INTO peers (" PEER_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                   " ON CONFLICT (key) DO UPDATE SET name = excluded.name,"
                   " trust = excluded.trust, source = excluded.source,"
                   " addresses = excluded.addresses, first_seen = excluded.first_seen,"
                   " last_seen = excluded.last_seen, replaces = excluded.replaces",
    [S_PEER_GET] = "SELECT " PEER_COLS " FROM peers WHERE key = ?1",
    [S_PEER_LIST] = "SELECT " PEER_COLS " FROM peers ORDER BY name, key",
    [S_PEER_DELETE] = "DELETE FROM peers WHERE key = ?1",
    [S_MSG_ADD] = "INSERT INTO messages (id, peer, dir, state, broadcast, ts, stored, body)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                  " ON CONFLICT (id, peer, dir) DO NOTHING",
    [S_MSG_SET_STATE] = "UPDATE messages SET state = ?1, error = ?4"
                        " WHERE id = ?2 AND peer = ?3 AND dir = 1",
    [S_OUTBOX] = "SELECT " MSG_COLS " FROM messages WHERE peer = ?1 AND dir = 1 AND state = 0"
                 " ORDER BY seq",
    [S_HISTORY] = "SELECT " MSG_COLS " FROM (SELECT " MSG_COLS " FROM messages WHERE peer = ?1"
                  " ORDER BY seq DESC LIMIT ?2) ORDER BY seq",
};

struct store {
    sqlite3 *db;
    sqlite3_stmt *stmt[S_COUNT];
    char errmsg[ERRMSG_LEN];
};

/* Copy the first `len` bytes of s into dst (size bytes), cut at a UTF-8
 * character boundary if it does not fit, always NUL-terminated. */
static void copy_text(char *dst, size_t size, const char *s, size_t len)
{
    if (len >= size) {
        len = size - 1;
        while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
            len--;
    }
    if (len > 0)
        memcpy(dst, s, len);
    dst[len] = '\0';
}

static void set_errmsg(store *st, const char *text)
{
    copy_text(st->errmsg, ERRMSG_LEN, text, strlen(text));
}

/* Record SQLite's text for rc and return the matching BANTER_E* code. */
static int fail(store *st, int rc) { return sqlh_fail(st->db, rc, st->errmsg, ERRMSG_LEN); }

static int fail_invalid(store *st, const char *why)
{
    set_errmsg(st, why);
    return BANTER_EINVAL;
}

static void stmt_done(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

/* Step a statement that returns no rows, then reset it. 0 or an error. */
static int step_done(store *st, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    int ret = rc == SQLITE_DONE ? 0 : fail(st, rc);
    stmt_done(s);
    return ret;
}

static int exec_sql(store *st, const char *sql)
{
    return sqlh_exec(st->db, sql, st->errmsg, ERRMSG_LEN);
}

/* Connection settings, schema, cached statements. */
static int setup(store *st)
{
    int ret = sqlh_setup(st->db, BUSY_TIMEOUT_MS, st->errmsg, ERRMSG_LEN);
    if (ret != 0)
        return ret;
    ret = sqlh_migrate(st->db, migrations, SCHEMA_VERSION, "banter", st->errmsg, ERRMSG_LEN);
    if (ret != 0)
        return ret;
    for (int i = 0; i < S_COUNT; i++) {
        int rc = sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                    &st->stmt[i], NULL);
        if (rc != SQLITE_OK)
            return fail(st, rc);
    }
    return 0;
}

/* Create a missing database file private to its owner, so that SQLite (which
 * gives the -wal and -shm files the database's mode) never makes it readable
 * by others. Failures are left to sqlite3_open_v2 to report. */
static void create_private(const char *path)
{
    if (path[0] == '\0' || strcmp(path, ":memory:") == 0)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0)
        close(fd);
}

int store_open(store **out, const char *path, char *errmsg, size_t errlen)
{
    if (out == NULL)
        return BANTER_EINVAL;
    *out = NULL;
    if (errmsg != NULL && errlen > 0)
        errmsg[0] = '\0';
    if (path == NULL) {
        if (errmsg != NULL && errlen > 0)
            copy_text(errmsg, errlen, "no path", strlen("no path"));
        return BANTER_EINVAL;
    }
    store *st = calloc(1, sizeof *st);
    if (st == NULL)
        return BANTER_ENOMEM;
    create_private(path);
    int rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    int ret;
    if (rc != SQLITE_OK) {
        set_errmsg(st, st->db != NULL ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        ret = rc == SQLITE_NOMEM ? BANTER_ENOMEM : BANTER_EDB;
    } else {
        ret = setup(st);
    }
    if (ret != 0) {
        if (ret != BANTER_ENOSPC && ret != BANTER_ENOMEM)
            ret = BANTER_EDB;
        if (errmsg != NULL && errlen > 0)
            copy_text(errmsg, errlen, st->errmsg, strlen(st->errmsg));
        store_close(st);
        return ret;
    }
    *out = st;
    return 0;
}

void store_close(store *st)
{
    if (st == NULL)
        return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(st->stmt[i]);
    sqlite3_close_v2(st->db);
    free(st);
}

const char *store_errmsg(const store *st)
{
    if (st == NULL)
        return "no store";
    return st->errmsg;
}

int store_set_max_pages(store *st, int64_t pages)
{
    if (st == NULL)
        return BANTER_EINVAL;
    if (pages < 1)
        return fail_invalid(st, "page cap must be at least 1");
    char sql[64];
    int64_t now = 0;
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %" PRId64, pages);
    return sqlh_query_one(st->db, sql, &now, NULL, 0, st->errmsg, ERRMSG_LEN);
}

/* ---- peers ---- */

/* Length of a string held in a fixed-size field, or -1 when it has no
 * terminator inside the field. */
static int field_len(const char *s, size_t size)
{
    size_t n = strnlen(s, size);
    return n < size ? (int)n : -1;
}

static int bind_peer(store *st, sqlite3_stmt *s, const store_peer *p)
{
    int name_len = field_len(p->name, sizeof p->name);
    int source_len = field_len(p->source, sizeof p->source);
    int addr_len = field_len(p->addresses, sizeof p->addresses);
    if (name_len < 0 || source_len < 0 || addr_len < 0)
        return fail_invalid(st, "peer field without terminator");
    if ((int)p->trust < TRUST_NEW || (int)p->trust > TRUST_CHANGED)
        return fail_invalid(st, "bad trust value");
    int rc = sqlite3_bind_blob(s, 1, p->key, STORE_KEYLEN, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 2, p->name, name_len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 3, (int)p->trust);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 4, p->source, source_len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 5, p->addresses, addr_len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 6, p->first_seen_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 7, p->last_seen_ms);
    if (rc == SQLITE_OK)
        rc = p->has_replaces ? sqlite3_bind_blob(s, 8, p->replaces, STORE_KEYLEN, SQLITE_STATIC)
                             : sqlite3_bind_null(s, 8);
    return rc == SQLITE_OK ? 0 : fail(st, rc);
}

/* Copy a BLOB column of exactly len bytes; -1 when it has another size. */
static int column_blob(sqlite3_stmt *s, int col, uint8_t *dst, size_t len)
{
    const void *b = sqlite3_column_blob(s, col);
    int n = sqlite3_column_bytes(s, col);
    if (b == NULL || n < 0 || (size_t)n != len)
        return -1;
    memcpy(dst, b, len);
    return 0;
}

static void column_text(sqlite3_stmt *s, int col, char *dst, size_t size)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    int n = sqlite3_column_bytes(s, col);
    if (t == NULL || n < 0)
        n = 0;
    copy_text(dst, size, t != NULL ? (const char *)t : "", (size_t)n);
}

static int read_peer(store *st, sqlite3_stmt *s, store_peer *p)
{
    memset(p, 0, sizeof *p);
    int64_t trust = sqlite3_column_int64(s, 2);
    if (column_blob(s, 0, p->key, STORE_KEYLEN) != 0 || trust < TRUST_NEW ||
        trust > TRUST_CHANGED) {
        set_errmsg(st, "malformed row in peers");
        return BANTER_EDB;
    }
    column_text(s, 1, p->name, sizeof p->name);
    p->trust = (store_trust)trust;
    column_text(s, 3, p->source, sizeof p->source);
    column_text(s, 4, p->addresses, sizeof p->addresses);
    p->first_seen_ms = sqlite3_column_int64(s, 5);
    p->last_seen_ms = sqlite3_column_int64(s, 6);
    if (sqlite3_column_type(s, 7) != SQLITE_NULL) {
        if (column_blob(s, 7, p->replaces, STORE_KEYLEN) != 0) {
            set_errmsg(st, "malformed row in peers");
            return BANTER_EDB;
        }
        p->has_replaces = true;
    }
    return 0;
}

int store_peer_put(store *st, const store_peer *p)
{
    if (st == NULL || p == NULL)
        return BANTER_EINVAL;
    sqlite3_stmt *s = st->stmt[S_PEER_PUT];
    int ret = bind_peer(st, s, p);
    if (ret != 0) {
        stmt_done(s);
        return ret;
    }
    return step_done(st, s);
}

int store_peer_get(store *st, const uint8_t key[static STORE_KEYLEN], store_peer *out)
{
    if (st == NULL || key == NULL || out == NULL)
        return BANTER_EINVAL;
    sqlite3_stmt *s = st->stmt[S_PEER_GET];
    int rc = sqlite3_bind_blob(s, 1, key, STORE_KEYLEN, SQLITE_STATIC);
    int ret;
    if (rc != SQLITE_OK) {
        ret = fail(st, rc);
    } else {
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            ret = read_peer(st, s, out);
        else if (rc == SQLITE_DONE)
            ret = BANTER_ENOENT;
        else
            ret = fail(st, rc);
    }
    stmt_done(s);
    return ret;
}

/* Make room for one more element in *arr (capacity *cap, *n used). */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap == 0 ? 16 : *cap * 2;
    if (ncap < *cap || ncap > SIZE_MAX / elem)
        return BANTER_ENOMEM;
    void *p = realloc(*arr, ncap * elem);
    if (p == NULL)
        return BANTER_ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

/* Step s to the end, reading each row into a new element (elem bytes,
 * zeroed) of *arr; s is reset. On error *arr holds the *count rows read
 * (and a partly read one is cleared by read): the caller frees it. */
typedef int (*row_fn)(store *st, sqlite3_stmt *s, void *item);
static int collect(store *st, sqlite3_stmt *s, size_t elem, row_fn read, void **arr, size_t *count)
{
    size_t cap = 0;
    int ret = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ret = grow(arr, &cap, *count, elem);
        if (ret != 0)
            break;
        ret = read(st, s, (char *)*arr + *count * elem);
        if (ret != 0)
            break;
        (*count)++;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = fail(st, rc);
    stmt_done(s);
    return ret;
}

static int read_peer_row(store *st, sqlite3_stmt *s, void *item) { return read_peer(st, s, item); }

int store_peer_list(store *st, store_peer **out, size_t *n)
{
    if (st == NULL || out == NULL || n == NULL)
        return BANTER_EINVAL;
    *out = NULL;
    *n = 0;
    void *arr = NULL;
    size_t count = 0;
    int ret = collect(st, st->stmt[S_PEER_LIST], sizeof(store_peer), read_peer_row, &arr, &count);
    if (ret != 0 || count == 0) {
        free(arr);
        return ret;
    }
    *out = arr;
    *n = count;
    return 0;
}

int store_peer_delete(store *st, const uint8_t key[static STORE_KEYLEN])
{
    if (st == NULL || key == NULL)
        return BANTER_EINVAL;
    sqlite3_stmt *s = st->stmt[S_PEER_DELETE];
    int rc = sqlite3_bind_blob(s, 1, key, STORE_KEYLEN, SQLITE_STATIC);
    if (rc != SQLITE_OK) {
        stmt_done(s);
        return fail(st, rc);
    }
    int ret = step_done(st, s);
    if (ret == 0 && sqlite3_changes(st->db) == 0)
        ret = BANTER_ENOENT;
    return ret;
}

/* ---- messages ---- */

static bool state_fits(store_dir dir, store_state state)
{
    if (dir == STORE_IN)
        return state == STORE_RECEIVED;
    if (dir == STORE_OUT)
        return state == STORE_QUEUED || state == STORE_DELIVERED || state == STORE_SERVER ||
               state == STORE_FAILED;
    return false;
}

static int bind_msg(store *st, sqlite3_stmt *s, const store_msg *m)
{
    if (!state_fits(m->dir, m->state))
        return fail_invalid(st, "message state does not fit its direction");
    if (m->body == NULL && m->body_len > 0)
        return fail_invalid(st, "message body is NULL");
    /* SQLite's own cap on a value, at most INT_MAX: the length fits an int. */
    if (m->body_len > (size_t)sqlite3_limit(st->db, SQLITE_LIMIT_LENGTH, -1))
        return fail_invalid(st, "message body too long");
    int rc = sqlite3_bind_blob(s, 1, m->id, MSG_ID_LEN, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(s, 2, m->peer, STORE_KEYLEN, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 3, (int)m->dir);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 4, (int)m->state);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 5, m->broadcast ? 1 : 0);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 6, m->ts_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 7, m->stored_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 8, m->body != NULL ? m->body : "", (int)m->body_len,
                               SQLITE_STATIC);
    return rc == SQLITE_OK ? 0 : fail(st, rc);
}

int store_msg_add(store *st, const store_msg *m, int64_t *seq)
{
    if (st == NULL || m == NULL)
        return BANTER_EINVAL;
    sqlite3_stmt *s = st->stmt[S_MSG_ADD];
    int ret = bind_msg(st, s, m);
    if (ret != 0) {
        stmt_done(s);
        return ret;
    }
    ret = step_done(st, s);
    if (ret != 0)
        return ret;
    if (sqlite3_changes(st->db) == 0)
        return 1;
    if (seq != NULL)
        *seq = sqlite3_last_insert_rowid(st->db);
    return 0;
}

int store_msg_set_state(store *st, const uint8_t id[static MSG_ID_LEN],
                        const uint8_t peer[static STORE_KEYLEN], store_state state)
{
    return store_msg_set_result(st, id, peer, state, "");
}

int store_msg_set_result(store *st, const uint8_t id[static MSG_ID_LEN],
                         const uint8_t peer[static STORE_KEYLEN], store_state state,
                         const char *error)
{
    if (st == NULL || id == NULL || peer == NULL || error == NULL)
        return BANTER_EINVAL;
    if (!state_fits(STORE_OUT, state))
        return fail_invalid(st, "an outgoing message is QUEUED, DELIVERED, SERVER or FAILED");
    sqlite3_stmt *s = st->stmt[S_MSG_SET_STATE];
    int rc = sqlite3_bind_int(s, 1, (int)state);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 4, error, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(s, 2, id, MSG_ID_LEN, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(s, 3, peer, STORE_KEYLEN, SQLITE_STATIC);
    if (rc != SQLITE_OK) {
        stmt_done(s);
        return fail(st, rc);
    }
    int ret = step_done(st, s);
    if (ret == 0 && sqlite3_changes(st->db) == 0)
        ret = BANTER_ENOENT;
    return ret;
}

static int read_msg(store *st, sqlite3_stmt *s, store_msg *m)
{
    memset(m, 0, sizeof *m);
    int64_t dir = sqlite3_column_int64(s, 3);
    int64_t state = sqlite3_column_int64(s, 4);
    if (column_blob(s, 1, m->id, MSG_ID_LEN) != 0 ||
        column_blob(s, 2, m->peer, STORE_KEYLEN) != 0 || dir < STORE_IN || dir > STORE_OUT ||
        state < STORE_QUEUED || state > STORE_FAILED) {
        set_errmsg(st, "malformed row in messages");
        return BANTER_EDB;
    }
    m->seq = sqlite3_column_int64(s, 0);
    m->dir = (store_dir)dir;
    m->state = (store_state)state;
    m->broadcast = sqlite3_column_int64(s, 5) != 0;
    m->ts_ms = sqlite3_column_int64(s, 6);
    m->stored_ms = sqlite3_column_int64(s, 7);
    const unsigned char *t = sqlite3_column_text(s, 8);
    int n = sqlite3_column_bytes(s, 8);
    if (t == NULL || n < 0)
        n = 0;
    m->body = malloc((size_t)n + 1);
    if (m->body == NULL)
        return BANTER_ENOMEM;
    if (n > 0)
        memcpy(m->body, t, (size_t)n);
    m->body[n] = '\0';
    m->body_len = (size_t)n;
    const unsigned char *e = sqlite3_column_text(s, 9);
    if (e)
        snprintf(m->error, sizeof m->error, "%s", (const char *)e);
    return 0;
}

/* Step s to the end, collecting rows into a new array; s is reset. */
static int read_msg_row(store *st, sqlite3_stmt *s, void *item) { return read_msg(st, s, item); }

static int read_msgs(store *st, sqlite3_stmt *s, store_msg **out, size_t *n)
{
    void *p = NULL;
    size_t count = 0;
    int ret = collect(st, s, sizeof(store_msg), read_msg_row, &p, &count);
    store_msg *arr = p;
    if (ret != 0 || count == 0) {
        store_msgs_free(arr, count);
        return ret;
    }
    *out = arr;
    *n = count;
    return 0;
}

int store_outbox(store *st, const uint8_t peer[static STORE_KEYLEN], store_msg **out, size_t *n)
{
    if (st == NULL || peer == NULL || out == NULL || n == NULL)
        return BANTER_EINVAL;
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s = st->stmt[S_OUTBOX];
    int rc = sqlite3_bind_blob(s, 1, peer, STORE_KEYLEN, SQLITE_STATIC);
    if (rc != SQLITE_OK) {
        stmt_done(s);
        return fail(st, rc);
    }
    return read_msgs(st, s, out, n);
}

int store_history(store *st, const uint8_t peer[static STORE_KEYLEN], size_t limit, store_msg **out,
                  size_t *n)
{
    if (st == NULL || peer == NULL || out == NULL || n == NULL)
        return BANTER_EINVAL;
    *out = NULL;
    *n = 0;
    if (limit == 0)
        return 0;
    sqlite3_stmt *s = st->stmt[S_HISTORY];
    int64_t lim = limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)limit;
    int rc = sqlite3_bind_blob(s, 1, peer, STORE_KEYLEN, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, lim);
    if (rc != SQLITE_OK) {
        stmt_done(s);
        return fail(st, rc);
    }
    return read_msgs(st, s, out, n);
}

void store_msgs_free(store_msg *msgs, size_t n)
{
    if (msgs == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(msgs[i].body);
    free(msgs);
}

const char *store_trust_name(store_trust t)
{
    switch (t) {
    case TRUST_NEW:
        return "new";
    case TRUST_KNOWN:
        return "known";
    case TRUST_VERIFIED:
        return "verified";
    case TRUST_CHANGED:
        return "changed";
    }
    return "unknown";
}

/* ---- file transfers ---- */

static int prepare(store *st, const char *sql, sqlite3_stmt **s)
{
    int rc = sqlite3_prepare_v2(st->db, sql, -1, s, NULL);
    return rc == SQLITE_OK ? 0 : fail(st, rc);
}

static int bind_text(sqlite3_stmt *s, int col, const char *t)
{
    t = t ? t : "";
    size_t n = strlen(t);
    if (n > INT32_MAX)
        return SQLITE_TOOBIG;
    return sqlite3_bind_text(s, col, t, (int)n, SQLITE_STATIC);
}

static int bind_xfer(sqlite3_stmt *s, const store_xfer *x)
{
    int rc = sqlite3_bind_blob(s, 1, x->id, MSG_ID_LEN, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(s, 2, x->peer, STORE_KEYLEN, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 3, x->dir);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 4, x->state);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 5, x->created_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 6, x->updated_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 7, (int64_t)x->done);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 8, x->dest);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 9, x->error);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(s, 10, x->secret, 32, SQLITE_STATIC);
    return rc;
}

static int put_files(store *st, const store_xfer *x)
{
    sqlite3_stmt *s = NULL;
    int ret = prepare(st,
                      "INSERT OR REPLACE INTO transfer_files (id, idx, name, size, hash, local,"
                      " mtime, verified) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                      &s);
    for (size_t i = 0; ret == 0 && i < x->nfiles; i++) {
        const store_xfile *f = &x->files[i];
        int rc = sqlite3_bind_blob(s, 1, x->id, MSG_ID_LEN, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 2, (int64_t)i);
        if (rc == SQLITE_OK)
            rc = bind_text(s, 3, f->name);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 4, (int64_t)f->size);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_blob(s, 5, f->hash, BANTER_FILE_HASHLEN, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = bind_text(s, 6, f->local);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 7, f->mtime_ns);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(s, 8, f->verified);
        ret = rc == SQLITE_OK ? step_done(st, s) : fail(st, rc);
    }
    sqlite3_finalize(s);
    return ret;
}

int store_xfer_put(store *st, const store_xfer *x)
{
    sqlite3_stmt *s = NULL;
    int ret = exec_sql(st, "BEGIN IMMEDIATE");
    if (ret)
        return ret;
    ret = prepare(st,
                  "INSERT OR REPLACE INTO transfers (id, peer, dir, state, created, updated, done,"
                  " dest, error, secret) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                  &s);
    if (ret == 0) {
        int rc = bind_xfer(s, x);
        ret = rc == SQLITE_OK ? step_done(st, s) : fail(st, rc);
    }
    sqlite3_finalize(s);
    if (ret == 0)
        ret = put_files(st, x);
    if (ret == 0)
        ret = exec_sql(st, "COMMIT");
    if (ret)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return ret;
}

int store_xfer_save(store *st, const store_xfer *x)
{
    sqlite3_stmt *s = NULL;
    int ret = prepare(st,
                      "UPDATE transfers SET peer = ?2, dir = ?3, state = ?4, created = ?5,"
                      " updated = ?6, done = ?7, dest = ?8, error = ?9, secret = ?10 WHERE id = ?1",
                      &s);
    if (ret == 0) {
        int rc = bind_xfer(s, x);
        ret = rc == SQLITE_OK ? step_done(st, s) : fail(st, rc);
        if (ret == 0 && sqlite3_changes(st->db) == 0)
            ret = BANTER_ENOENT;
    }
    sqlite3_finalize(s);
    return ret;
}

int store_xfile_save(store *st, const uint8_t id[static MSG_ID_LEN], size_t idx,
                     const store_xfile *f)
{
    sqlite3_stmt *s = NULL;
    int ret = prepare(st,
                      "UPDATE transfer_files SET local = ?3, verified = ?4"
                      " WHERE id = ?1 AND idx = ?2",
                      &s);
    if (ret == 0) {
        int rc = sqlite3_bind_blob(s, 1, id, MSG_ID_LEN, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 2, (int64_t)idx);
        if (rc == SQLITE_OK)
            rc = bind_text(s, 3, f->local);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(s, 4, f->verified);
        ret = rc == SQLITE_OK ? step_done(st, s) : fail(st, rc);
    }
    sqlite3_finalize(s);
    return ret;
}

static char *column_dup(sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    int n = sqlite3_column_bytes(s, col);
    char *d = malloc(n > 0 ? (size_t)n + 1 : 1);
    if (!d)
        return NULL;
    if (t && n > 0)
        memcpy(d, t, (size_t)n);
    d[n > 0 ? n : 0] = '\0';
    return d;
}

static int load_files(store *st, store_xfer *x)
{
    sqlite3_stmt *s = NULL;
    size_t cap = 0;
    int ret = prepare(st,
                      "SELECT name, size, hash, local, mtime, verified FROM transfer_files"
                      " WHERE id = ?1 ORDER BY idx",
                      &s);
    if (ret)
        return ret;
    int rc = sqlite3_bind_blob(s, 1, x->id, MSG_ID_LEN, SQLITE_STATIC);
    while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        ret = grow((void **)&x->files, &cap, x->nfiles, sizeof *x->files);
        if (ret)
            break;
        store_xfile *f = &x->files[x->nfiles++];
        memset(f, 0, sizeof *f);
        f->name = column_dup(s, 0);
        f->local = column_dup(s, 3);
        f->size = (uint64_t)sqlite3_column_int64(s, 1);
        f->mtime_ns = sqlite3_column_int64(s, 4);
        f->verified = sqlite3_column_int(s, 5) != 0;
        if (!f->name || !f->local) {
            ret = BANTER_ENOMEM;
            break;
        }
        if (column_blob(s, 2, f->hash, BANTER_FILE_HASHLEN) != 0) {
            set_errmsg(st, "malformed row in transfer_files");
            ret = BANTER_EDB;
            break;
        }
        rc = SQLITE_OK;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = fail(st, rc);
    sqlite3_finalize(s);
    return ret;
}

static int read_xfer(store *st, sqlite3_stmt *s, store_xfer *x)
{
    memset(x, 0, sizeof *x);
    if (column_blob(s, 0, x->id, MSG_ID_LEN) != 0 || column_blob(s, 1, x->peer, 32) != 0 ||
        column_blob(s, 9, x->secret, 32) != 0) {
        set_errmsg(st, "malformed row in transfers");
        return BANTER_EDB;
    }
    x->dir = sqlite3_column_int(s, 2);
    x->state = sqlite3_column_int(s, 3);
    x->created_ms = sqlite3_column_int64(s, 4);
    x->updated_ms = sqlite3_column_int64(s, 5);
    x->done = (uint64_t)sqlite3_column_int64(s, 6);
    x->dest = column_dup(s, 7);
    x->error = column_dup(s, 8);
    if (!x->dest || !x->error)
        return BANTER_ENOMEM;
    return load_files(st, x);
}

int store_xfer_load_all(store *st, store_xfer **out, size_t *n)
{
    sqlite3_stmt *s = NULL;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    int ret = prepare(st,
                      "SELECT id, peer, dir, state, created, updated, done, dest, error, secret"
                      " FROM transfers ORDER BY created DESC",
                      &s);
    if (ret)
        return ret;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ret = grow((void **)out, &cap, *n, sizeof **out);
        if (ret)
            break;
        ret = read_xfer(st, s, &(*out)[*n]);
        (*n)++;
        if (ret)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = fail(st, rc);
    sqlite3_finalize(s);
    if (ret) {
        store_xfers_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return ret;
}

void store_xfer_clear(store_xfer *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->nfiles; i++) {
        free(x->files[i].name);
        free(x->files[i].local);
    }
    free(x->files);
    free(x->dest);
    free(x->error);
    memset(x, 0, sizeof *x);
}

void store_xfers_free(store_xfer *xs, size_t n)
{
    for (size_t i = 0; xs && i < n; i++)
        store_xfer_clear(&xs[i]);
    free(xs);
}
