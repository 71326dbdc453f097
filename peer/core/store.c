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

#include <sodium.h>
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
    /* 3 -> 4: contacts and devices (docs/architecture.md, "The node's
     * model"). Each LAN peer becomes a device of a contact of its own; a
     * changed key (trust 3) whose replaced key is still here becomes a
     * device of that key's contact; each rendezvous account becomes an
     * organisation contact with its name-derived key as handle. History
     * keeps its rows under the contact; a message from a changed key is
     * flagged. A message whose peer row is gone (a key retired by verify)
     * keeps a contact of its own. The outbox is kept: copies are made when
     * the messages are next sent. */
    "CREATE TABLE contacts ("
    " key BLOB PRIMARY KEY NOT NULL CHECK (length(key) = 32),"
    " kind INTEGER NOT NULL CHECK (kind IN (0, 1)),"
    " account TEXT NULL CHECK ((kind = 1) = (account IS NOT NULL)),"
    " name TEXT NOT NULL,"
    " created INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX contacts_account ON contacts (account) WHERE account IS NOT NULL;"
    "CREATE TABLE devices ("
    " key BLOB PRIMARY KEY NOT NULL CHECK (length(key) = 32),"
    " contact BLOB NOT NULL CHECK (length(contact) = 32),"
    " name TEXT NOT NULL,"
    " trust INTEGER NOT NULL CHECK (trust BETWEEN 1 AND 4),"
    " source TEXT NOT NULL,"
    " addresses TEXT NOT NULL,"
    " first_seen INTEGER NOT NULL,"
    " last_seen INTEGER NOT NULL,"
    " replaces BLOB NULL CHECK (replaces IS NULL OR length(replaces) = 32));"
    "CREATE INDEX devices_contact ON devices (contact);"
    "CREATE TEMP TABLE claim AS SELECT p.key AS key, p.replaces AS owner FROM peers p"
    " JOIN peers o ON o.key = p.replaces AND o.trust <> 3"
    " WHERE p.trust = 3 AND p.source <> 'rendezvous' AND o.source <> 'rendezvous';"
    "INSERT INTO contacts (key, kind, account, name, created)"
    " SELECT key, source = 'rendezvous', CASE WHEN source = 'rendezvous' THEN name END,"
    " name, first_seen FROM peers WHERE key NOT IN (SELECT key FROM claim);"
    "INSERT INTO devices (key, contact, name, trust, source, addresses, first_seen, last_seen,"
    " replaces)"
    " SELECT p.key, COALESCE(c.owner, p.key), p.name, max(p.trust, 1), p.source, p.addresses,"
    " p.first_seen, p.last_seen, CASE WHEN p.trust = 3 THEN p.replaces END"
    " FROM peers p LEFT JOIN claim c ON c.key = p.key WHERE p.source <> 'rendezvous';"
    "INSERT INTO contacts (key, kind, account, name, created)"
    " SELECT DISTINCT m.peer, 0, NULL, 'former key ' || substr(hex(m.peer), 1, 8), min(m.stored)"
    " FROM messages m WHERE m.peer NOT IN (SELECT key FROM peers) GROUP BY m.peer;"
    "CREATE TABLE messages_v4 ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id BLOB NOT NULL CHECK (length(id) = 16),"
    " contact BLOB NOT NULL CHECK (length(contact) = 32),"
    " device BLOB NULL CHECK (device IS NULL OR length(device) = 32),"
    " dir INTEGER NOT NULL CHECK (dir IN (0, 1)),"
    " state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 4),"
    " flags INTEGER NOT NULL DEFAULT 0,"
    " broadcast INTEGER NOT NULL CHECK (broadcast IN (0, 1)),"
    " ts INTEGER NOT NULL,"
    " stored INTEGER NOT NULL,"
    " body TEXT NOT NULL,"
    " error TEXT NOT NULL DEFAULT '');"
    /* The receiver deduplicates by (id, contact, direction, sending device):
     * another device claiming the same contact cannot displace a message. */
    "CREATE UNIQUE INDEX messages_unique ON messages_v4 (id, contact, dir, ifnull(device, x''));"
    "INSERT OR IGNORE INTO messages_v4 (seq, id, contact, device, dir, state, flags, broadcast,"
    " ts, stored, body, error)"
    " SELECT m.seq, m.id, COALESCE(c.owner, m.peer),"
    " CASE WHEN m.dir = 0 AND p.source IS NOT NULL AND p.source <> 'rendezvous' THEN m.peer END,"
    " m.dir, m.state, CASE WHEN m.dir = 0 AND p.trust = 3 THEN 1 ELSE 0 END,"
    " m.broadcast, m.ts, m.stored, m.body, m.error"
    " FROM messages m LEFT JOIN claim c ON c.key = m.peer LEFT JOIN peers p ON p.key = m.peer"
    " ORDER BY m.seq;"
    "DROP TABLE messages;"
    "ALTER TABLE messages_v4 RENAME TO messages;"
    "CREATE INDEX messages_outbox ON messages (dir, state, contact, seq);"
    "CREATE INDEX messages_history ON messages (contact, seq);"
    "CREATE TABLE copies ("
    " seq INTEGER NOT NULL REFERENCES messages (seq) ON DELETE CASCADE,"
    " device BLOB NOT NULL CHECK (length(device) = 32),"
    " state INTEGER NOT NULL CHECK (state IN (0, 1, 3, 4)),"
    " route TEXT NOT NULL DEFAULT '',"
    " error TEXT NOT NULL DEFAULT '',"
    " PRIMARY KEY (seq, device)) WITHOUT ROWID;"
    "DROP TABLE claim;"
    "DROP TABLE peers;",
    /* 4 -> 5: full-text search over history (FTS5 over messages.body, kept
     * in step by triggers; the history already there is indexed now). */
    "CREATE VIRTUAL TABLE messages_fts USING fts5(body, content='messages',"
    " content_rowid='seq', tokenize='unicode61 remove_diacritics 2');"
    "CREATE TRIGGER messages_fts_add AFTER INSERT ON messages BEGIN"
    " INSERT INTO messages_fts (rowid, body) VALUES (new.seq, new.body); END;"
    "CREATE TRIGGER messages_fts_del AFTER DELETE ON messages BEGIN"
    " INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.seq, old.body);"
    " END;"
    "CREATE TRIGGER messages_fts_set AFTER UPDATE OF body ON messages BEGIN"
    " INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.seq, old.body);"
    " INSERT INTO messages_fts (rowid, body) VALUES (new.seq, new.body); END;"
    "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');",
    /* 5 -> 6: copies of sent messages for the account's other devices
     * ("sync" copies) may stay pending after the message is delivered:
     * found by device (store_sync_pending). */
    "CREATE INDEX IF NOT EXISTS copies_pending ON copies (device, seq) WHERE state = 0;",
    /* 6 -> 7: bounded transfers (docs/limits.md). Offers refused for bad
     * names were kept as failed rows with every file: they go (a refused
     * offer is a log line now). Of the incoming offers still waiting, the
     * newest 512 (the default cap) stay; older ones (a flood from before
     * the caps) are declined, so a start does not load them all. Indexes
     * for the live transfers loaded at start and for the paged list. */
    "DELETE FROM transfer_files WHERE id IN"
    " (SELECT id FROM transfers WHERE dir = 1 AND state = 4 AND dest = '');"
    "DELETE FROM transfers WHERE dir = 1 AND state = 4 AND dest = '';"
    "UPDATE transfers SET state = 5, error = 'expired: too many offers waiting'"
    " WHERE dir = 1 AND state = 0 AND id NOT IN (SELECT id FROM transfers"
    " WHERE dir = 1 AND state = 0 ORDER BY created DESC, id DESC LIMIT 512);"
    "CREATE INDEX IF NOT EXISTS transfers_live ON transfers (state) WHERE state IN (0, 1, 2, 4);"
    "CREATE INDEX IF NOT EXISTS transfers_created ON transfers (created, id);",
    /* 7 -> 8: group conversations (docs/protocol.md 12, 13). A group
     * message is a row of messages whose contact is the group's handle
     * (store_group_handle), with the group id, its display position (lc,
     * device, epoch, iteration as one sortable blob) and, outgoing, the
     * sender-key message sent to every member device. The group's state,
     * this device's sending chain, and the chains of the other member
     * devices are kept beside. */
    "ALTER TABLE messages ADD COLUMN grp BLOB NULL CHECK (grp IS NULL OR length(grp) = 16);"
    "ALTER TABLE messages ADD COLUMN gpos BLOB NULL CHECK (gpos IS NULL OR length(gpos) = 48);"
    "ALTER TABLE messages ADD COLUMN sealed BLOB NULL;"
    "CREATE INDEX IF NOT EXISTS messages_group ON messages (grp, gpos) WHERE grp IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS groups ("
    " id BLOB PRIMARY KEY CHECK (length(id) = 16),"
    " state TEXT NOT NULL,"
    " member INTEGER NOT NULL CHECK (member IN (0, 1)),"
    " epoch INTEGER NOT NULL,"
    " chain BLOB NOT NULL,"
    " epoch_started INTEGER NOT NULL,"
    " sent INTEGER NOT NULL DEFAULT 0,"
    " lc INTEGER NOT NULL DEFAULT 0,"
    " read_seq INTEGER NOT NULL DEFAULT 0,"
    " created INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS group_chains ("
    " grp BLOB NOT NULL REFERENCES groups (id) ON DELETE CASCADE,"
    " device BLOB NOT NULL CHECK (length(device) = 32),"
    " epoch INTEGER NOT NULL,"
    " chain BLOB NOT NULL,"
    " PRIMARY KEY (grp, device, epoch)) WITHOUT ROWID;",
    /* 8 -> 9: no change (the number was held for work that needed no
     * schema change in the end; a step is never removed or renumbered). */
    "SELECT 1;",
    /* 9 -> 10: the organisation's announcements (docs/rendezvous.md 13):
     * the server's id, its time, department and text, when this node
     * stored it, when its user was shown it (0: not yet) and whether the
     * server was told (read_told), so a read while offline is told at
     * the next login. */
    "CREATE TABLE IF NOT EXISTS announcements ("
    " id INTEGER PRIMARY KEY,"
    " ts INTEGER NOT NULL,"
    " department TEXT NOT NULL,"
    " text TEXT NOT NULL,"
    " received INTEGER NOT NULL,"
    " read INTEGER NOT NULL DEFAULT 0,"
    " read_told INTEGER NOT NULL DEFAULT 0 CHECK (read_told IN (0, 1)));",
    /* 10 -> 11: a group's state before the applied one (canonical JSON,
     * NULL when not known: a creation, a join, a group saved before this
     * step), so that a concurrent state that wins over the applied one is
     * still taken after a restart (docs/protocol.md 13.4). */
    "ALTER TABLE groups ADD COLUMN base TEXT NULL;",
    /* 11 -> 12: groups the user deleted (store_group_delete): their ids
     * and when, so that late states, keys and messages for one are
     * refused instead of bringing it back; the newest STORE_GROUP_TOMBS_MAX
     * are kept. */
    "CREATE TABLE IF NOT EXISTS group_tombstones ("
    " id BLOB PRIMARY KEY CHECK (length(id) = 16),"
    " deleted INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS group_tombstones_deleted ON group_tombstones (deleted);",
    /* 12 -> 13: the organisation's vouching for a device lapses
     * (docs/protocol.md, "Certificates on the LAN"): until when, in ms
     * since the epoch, a certified device is the organisation's (0 for a
     * device that is not certified). A device certified before this step
     * kept no time: it is vouched for a day from the migration (the life
     * of a certificate, rendezvous/auth.h AUTH_CERT_TTL_MS), not for good. */
    "ALTER TABLE devices ADD COLUMN vouched_until INTEGER NOT NULL DEFAULT 0;"
    "UPDATE devices SET vouched_until = CAST(strftime('%s', 'now') AS INTEGER) * 1000 + 86400000"
    " WHERE trust = 4;",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

#define CONTACT_COLS "key, kind, account, name, created"
#define DEVICE_COLS                                                                                \
    "key, contact, name, trust, source, addresses, first_seen, last_seen, replaces, vouched_until"
#define MSG_COLS                                                                                   \
    "seq, id, contact, device, dir, state, flags, broadcast, ts, stored, body, error, grp, gpos,"  \
    " sealed"
#define GROUP_COLS                                                                                 \
    "id, state, member, epoch, chain, epoch_started, sent, lc, read_seq, created, base"

enum stmt_id {
    S_CONTACT_PUT,
    S_CONTACT_GET,
    S_CONTACT_ACCOUNT,
    S_CONTACT_LIST,
    S_CONTACT_WRITTEN,
    S_DEVICE_PUT,
    S_DEVICE_GET,
    S_DEVICE_LIST,
    S_DEVICE_LIST_ALL,
    S_DEVICE_DELETE,
    S_MSG_ADD,
    S_MSG_SET_STATE,
    S_MSG_FIND_OUT,
    S_MSG_FIND_COPY,
    S_OUTBOX,
    S_OUTBOX_ALL,
    S_SYNC_PENDING,
    S_SYNC_PENDING_ALL,
    S_HISTORY,
    S_HISTORY_BEFORE,
    S_COPY_ADD,
    S_COPY_SET,
    S_COPIES,
    S_SEARCH,
    S_GROUP_PUT,
    S_GROUP_GET,
    S_GROUP_LIST,
    S_GCHAIN_PUT,
    S_GCHAIN_GET,
    S_GCHAIN_DROP,
    S_GCHAIN_NEWEST,
    S_GCHAIN_KEEP,
    S_GROUP_HISTORY,
    S_GROUP_UNREAD,
    S_GTOMB_GET,
    S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
    [S_CONTACT_PUT] = "INSERT INTO contacts (" CONTACT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5)"
                      " ON CONFLICT (key) DO UPDATE SET kind = excluded.kind,"
                      " account = excluded.account, name = excluded.name",
    [S_CONTACT_GET] = "SELECT " CONTACT_COLS " FROM contacts WHERE key = ?1",
    [S_CONTACT_ACCOUNT] = "SELECT " CONTACT_COLS " FROM contacts WHERE account = ?1",
    [S_CONTACT_LIST] = "SELECT " CONTACT_COLS " FROM contacts ORDER BY name, key",
    /* by messages_outbox (dir, state, contact, seq): one probe per state */
    [S_CONTACT_WRITTEN] =
        "SELECT 1 FROM messages WHERE dir = 1 AND state IN (0, 1, 3, 4)"
        " AND contact = ?1 AND broadcast = 0 AND grp IS NULL AND flags & 8 = 0 LIMIT 1",
    [S_DEVICE_PUT] = "INSERT INTO devices (" DEVICE_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                     " ?8, ?9, ?10) ON CONFLICT (key) DO UPDATE SET contact = excluded.contact,"
                     " name = excluded.name, trust = excluded.trust, source = excluded.source,"
                     " addresses = excluded.addresses, first_seen = excluded.first_seen,"
                     " last_seen = excluded.last_seen, replaces = excluded.replaces,"
                     " vouched_until = excluded.vouched_until",
    [S_DEVICE_GET] = "SELECT " DEVICE_COLS " FROM devices WHERE key = ?1",
    [S_DEVICE_LIST] = "SELECT " DEVICE_COLS " FROM devices WHERE contact = ?1"
                      " ORDER BY first_seen, key",
    [S_DEVICE_LIST_ALL] = "SELECT " DEVICE_COLS " FROM devices ORDER BY first_seen, key",
    [S_DEVICE_DELETE] = "DELETE FROM devices WHERE key = ?1",
    [S_MSG_ADD] = "INSERT INTO messages (id, contact, device, dir, state, flags, broadcast, ts,"
                  " stored, body, grp, gpos, sealed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
                  " ?10, ?11, ?12, ?13)"
                  " ON CONFLICT DO NOTHING",
    [S_MSG_SET_STATE] = "UPDATE messages SET state = ?1, error = ?2 WHERE seq = ?3 AND dir = 1",
    [S_MSG_FIND_OUT] = "SELECT " MSG_COLS " FROM messages WHERE id = ?1 AND contact = ?2"
                       " AND dir = 1 AND device IS NULL",
    [S_MSG_FIND_COPY] = "SELECT " MSG_COLS " FROM messages WHERE id = ?1 AND dir = 1"
                        " AND device IS NULL AND seq IN (SELECT seq FROM copies WHERE device = ?2)",
    [S_OUTBOX] = "SELECT " MSG_COLS " FROM messages WHERE dir = 1 AND state = 0 AND contact = ?1"
                 " ORDER BY seq",
    [S_OUTBOX_ALL] = "SELECT " MSG_COLS " FROM messages WHERE dir = 1 AND state = 0 ORDER BY seq",
    [S_SYNC_PENDING] = "SELECT " MSG_COLS " FROM messages WHERE dir = 1 AND state <> 0"
                       " AND contact = ?1 AND device IS NULL AND seq IN (SELECT c.seq FROM copies c"
                       " JOIN devices d ON d.key = c.device WHERE c.state = 0 AND d.contact = ?2)"
                       " ORDER BY seq",
    /* "+dir", "+state": driven by the few pending copies (copies_pending),
     * not by a scan of every outgoing message. */
    [S_SYNC_PENDING_ALL] = "SELECT " MSG_COLS " FROM messages WHERE +dir = 1 AND +state <> 0"
                           " AND device IS NULL AND seq IN (SELECT c.seq FROM copies c"
                           " JOIN devices d ON d.key = c.device WHERE c.state = 0"
                           " AND d.contact = ?2) ORDER BY seq",
    [S_HISTORY] = "SELECT " MSG_COLS " FROM (SELECT " MSG_COLS " FROM messages WHERE contact = ?1"
                  " ORDER BY seq DESC LIMIT ?2) ORDER BY seq",
    [S_HISTORY_BEFORE] = "SELECT " MSG_COLS " FROM (SELECT " MSG_COLS " FROM messages"
                         " WHERE contact = ?1 AND seq < ?3 ORDER BY seq DESC LIMIT ?2)"
                         " ORDER BY seq",
    [S_COPY_ADD] = "INSERT INTO copies (seq, device, state) VALUES (?1, ?2, 0)"
                   " ON CONFLICT (seq, device) DO NOTHING",
    [S_COPY_SET] = "UPDATE copies SET state = ?3, route = ?4, error = ?5"
                   " WHERE seq = ?1 AND device = ?2",
    [S_COPIES] = "SELECT seq, device, state, route, error FROM copies WHERE seq = ?1"
                 " ORDER BY device",
    /* ?1 the FTS5 query, ?2 a contact or NULL, ?3 before (0: none), ?4 limit.
     * Newest first. */
    [S_SEARCH] = "SELECT " MSG_COLS " FROM messages WHERE seq IN (SELECT rowid FROM messages_fts"
                 " WHERE messages_fts MATCH ?1) AND (?2 IS NULL OR contact = ?2)"
                 " AND (?3 = 0 OR seq < ?3) AND flags & 4 = 0 ORDER BY seq DESC LIMIT ?4",
    [S_GROUP_PUT] = "INSERT INTO groups (" GROUP_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
                    " ?9, ?10, ?11) ON CONFLICT (id) DO UPDATE SET state = excluded.state,"
                    " member = excluded.member, epoch = excluded.epoch, chain = excluded.chain,"
                    " epoch_started = excluded.epoch_started, sent = excluded.sent,"
                    " lc = excluded.lc, read_seq = excluded.read_seq, base = excluded.base",
    [S_GROUP_GET] = "SELECT " GROUP_COLS " FROM groups WHERE id = ?1",
    [S_GROUP_LIST] = "SELECT " GROUP_COLS " FROM groups ORDER BY created, id",
    [S_GCHAIN_PUT] = "INSERT INTO group_chains (grp, device, epoch, chain) VALUES (?1, ?2, ?3, ?4)"
                     " ON CONFLICT (grp, device, epoch) DO UPDATE SET chain = excluded.chain",
    [S_GCHAIN_GET] = "SELECT chain FROM group_chains WHERE grp = ?1 AND device = ?2 AND epoch = ?3",
    [S_GCHAIN_DROP] = "DELETE FROM group_chains WHERE grp = ?1 AND device = ?2 AND epoch < ?3",
    [S_GCHAIN_NEWEST] = "SELECT max(epoch) FROM group_chains WHERE grp = ?1 AND device = ?2",
    [S_GCHAIN_KEEP] = "DELETE FROM group_chains WHERE grp = ?1 AND device = ?2 AND epoch NOT IN"
                      " (SELECT epoch FROM group_chains WHERE grp = ?1 AND device = ?2"
                      " ORDER BY epoch DESC LIMIT ?3)",
    /* The last ?2 messages of a group (not its control messages), in the
     * group's order (gpos), optionally before position ?3. */
    [S_GROUP_HISTORY] = "SELECT " MSG_COLS " FROM (SELECT " MSG_COLS " FROM messages"
                        " WHERE grp = ?1 AND flags & 4 = 0 AND (?3 IS NULL OR gpos < ?3)"
                        " ORDER BY gpos DESC LIMIT ?2) ORDER BY gpos",
    [S_GROUP_UNREAD] = "SELECT count(*) FROM messages WHERE grp = ?1 AND dir = 0"
                       " AND flags & 4 = 0 AND seq > ?2",
    [S_GTOMB_GET] = "SELECT deleted FROM group_tombstones WHERE id = ?1",
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

/* A bind of s failed with rc: s is reset and the error recorded. */
static int bind_failed(store *st, sqlite3_stmt *s, int rc)
{
    stmt_done(s);
    return fail(st, rc);
}

/* After binding s (rc: SQLITE_OK, or the first bind's error): step it as
 * step_done does, or report the bind's error. */
static int bound_done(store *st, sqlite3_stmt *s, int rc)
{
    return rc == SQLITE_OK ? step_done(st, s) : bind_failed(st, s, rc);
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
    /* The control messages of deleted groups that were still on their
     * way (a leave) and have been settled since go now. Housekeeping: a
     * failure (a full disk) leaves them for the next start. */
    if (exec_sql(st, "DELETE FROM messages WHERE grp IN (SELECT id FROM group_tombstones)"
                     " AND state <> 0") != 0)
        st->errmsg[0] = '\0';
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

/* ---- rows ---- */

/* Length of a string held in a fixed-size field, or -1 when it has no
 * terminator inside the field. */
static int field_len(const char *s, size_t size)
{
    size_t n = strnlen(s, size);
    return n < size ? (int)n : -1;
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

static int bind_key(sqlite3_stmt *s, int col, const uint8_t *key)
{
    return sqlite3_bind_blob(s, col, key, STORE_KEYLEN, SQLITE_STATIC);
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

/* A list of plain rows (nothing owned inside): *out NULL when empty. */
static int collect_list(store *st, sqlite3_stmt *s, size_t elem, row_fn read, void **out, size_t *n)
{
    void *arr = NULL;
    size_t count = 0;
    *out = NULL;
    *n = 0;
    int ret = collect(st, s, elem, read, &arr, &count);
    if (ret != 0 || count == 0) {
        free(arr);
        return ret;
    }
    *out = arr;
    *n = count;
    return 0;
}

/* Step a statement expected to give one row to read: 0, BANTER_ENOENT, or
 * an error; s is reset. */
static int one_row(store *st, sqlite3_stmt *s, row_fn read, void *out)
{
    int rc = sqlite3_step(s);
    int ret = rc == SQLITE_ROW    ? read(st, s, out)
              : rc == SQLITE_DONE ? BANTER_ENOENT
                                  : fail(st, rc);
    stmt_done(s);
    return ret;
}

/* After binding s (rc as bound_done): one_row, or the bind's error. */
static int bound_row(store *st, sqlite3_stmt *s, int rc, row_fn read, void *out)
{
    return rc == SQLITE_OK ? one_row(st, s, read, out) : bind_failed(st, s, rc);
}

/* ---- contacts ---- */

static int read_contact(store *st, sqlite3_stmt *s, void *item)
{
    store_contact *c = item;
    memset(c, 0, sizeof *c);
    int64_t kind = sqlite3_column_int64(s, 1);
    if (column_blob(s, 0, c->key, STORE_KEYLEN) != 0 || kind < CONTACT_LAN || kind > CONTACT_ORG) {
        set_errmsg(st, "malformed row in contacts");
        return BANTER_EDB;
    }
    c->kind = (store_kind)kind;
    column_text(s, 2, c->account, sizeof c->account);
    column_text(s, 3, c->name, sizeof c->name);
    c->created_ms = sqlite3_column_int64(s, 4);
    return 0;
}

int store_contact_put(store *st, const store_contact *c)
{
    if (st == NULL || c == NULL)
        return BANTER_EINVAL;
    int alen = field_len(c->account, sizeof c->account);
    int nlen = field_len(c->name, sizeof c->name);
    if (alen < 0 || nlen < 0 || (c->kind != CONTACT_LAN && c->kind != CONTACT_ORG) ||
        (c->kind == CONTACT_ORG) != (alen > 0))
        return fail_invalid(st, "bad contact");
    sqlite3_stmt *s = st->stmt[S_CONTACT_PUT];
    int rc = bind_key(s, 1, c->key);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 2, (int)c->kind);
    if (rc == SQLITE_OK)
        rc = alen ? sqlite3_bind_text(s, 3, c->account, alen, SQLITE_STATIC)
                  : sqlite3_bind_null(s, 3);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 4, c->name, nlen, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 5, c->created_ms);
    return bound_done(st, s, rc);
}

int store_contact_get(store *st, const uint8_t key[static STORE_KEYLEN], store_contact *out)
{
    if (st == NULL || key == NULL || out == NULL)
        return BANTER_EINVAL;
    sqlite3_stmt *s = st->stmt[S_CONTACT_GET];
    int rc = bind_key(s, 1, key);
    return bound_row(st, s, rc, read_contact, out);
}

static int read_nothing(store *st, sqlite3_stmt *s, void *item)
{
    (void)st;
    (void)s;
    (void)item;
    return 0;
}

int store_contact_written(store *st, const uint8_t key[static STORE_KEYLEN])
{
    if (st == NULL || key == NULL)
        return BANTER_EINVAL;
    sqlite3_stmt *s = st->stmt[S_CONTACT_WRITTEN];
    int rc = bind_key(s, 1, key);
    return bound_row(st, s, rc, read_nothing, NULL);
}

int store_contact_by_account(store *st, const char *account, store_contact *out)
{
    if (st == NULL || account == NULL || out == NULL)
        return BANTER_EINVAL;
    sqlite3_stmt *s = st->stmt[S_CONTACT_ACCOUNT];
    int rc = sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
    return bound_row(st, s, rc, read_contact, out);
}

int store_contact_list(store *st, store_contact **out, size_t *n)
{
    if (st == NULL || out == NULL || n == NULL)
        return BANTER_EINVAL;
    return collect_list(st, st->stmt[S_CONTACT_LIST], sizeof(store_contact), read_contact,
                        (void **)out, n);
}

/* One statement of a merge, with from as ?1 and into as ?2. */
static int merge_step(store *st, const char *sql, const uint8_t *from, const uint8_t *into)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = bind_key(s, 1, from);
    if (rc == SQLITE_OK && strstr(sql, "?2"))
        rc = bind_key(s, 2, into);
    int ret = rc == SQLITE_OK ? step_done(st, s) : fail(st, rc);
    sqlite3_finalize(s);
    return ret;
}

int store_contact_merge(store *st, const uint8_t from[static STORE_KEYLEN],
                        const uint8_t into[static STORE_KEYLEN])
{
    static const char *const sql[] = {
        "UPDATE devices SET contact = ?2 WHERE contact = ?1",
        /* A message both contacts hold stays as `into` has it. */
        "DELETE FROM messages WHERE contact = ?1 AND EXISTS (SELECT 1 FROM messages o"
        " WHERE o.contact = ?2 AND o.id = messages.id AND o.dir = messages.dir"
        " AND ifnull(o.device, x'') = ifnull(messages.device, x''))",
        "UPDATE messages SET contact = ?2 WHERE contact = ?1",
        "DELETE FROM contacts WHERE key = ?1",
    };
    store_contact c;
    if (st == NULL || from == NULL || into == NULL)
        return BANTER_EINVAL;
    int ret = store_contact_get(st, from, &c);
    if (ret == 0)
        ret = store_contact_get(st, into, &c);
    if (ret != 0)
        return ret;
    ret = exec_sql(st, "BEGIN IMMEDIATE");
    for (size_t i = 0; ret == 0 && i < sizeof sql / sizeof sql[0]; i++)
        ret = merge_step(st, sql[i], from, into);
    if (ret == 0)
        ret = exec_sql(st, "COMMIT");
    if (ret != 0)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return ret;
}

/* ---- devices ---- */

static int read_device(store *st, sqlite3_stmt *s, void *item)
{
    store_device *d = item;
    memset(d, 0, sizeof *d);
    int64_t trust = sqlite3_column_int64(s, 3);
    if (column_blob(s, 0, d->key, STORE_KEYLEN) != 0 ||
        column_blob(s, 1, d->contact, STORE_KEYLEN) != 0 || trust < TRUST_KNOWN ||
        trust > TRUST_CERTIFIED) {
        set_errmsg(st, "malformed row in devices");
        return BANTER_EDB;
    }
    column_text(s, 2, d->name, sizeof d->name);
    d->trust = (store_trust)trust;
    column_text(s, 4, d->source, sizeof d->source);
    column_text(s, 5, d->addresses, sizeof d->addresses);
    d->first_seen_ms = sqlite3_column_int64(s, 6);
    d->last_seen_ms = sqlite3_column_int64(s, 7);
    if (sqlite3_column_type(s, 8) != SQLITE_NULL) {
        if (column_blob(s, 8, d->replaces, STORE_KEYLEN) != 0) {
            set_errmsg(st, "malformed row in devices");
            return BANTER_EDB;
        }
        d->has_replaces = true;
    }
    d->vouched_until_ms = sqlite3_column_int64(s, 9);
    return 0;
}

int store_device_put(store *st, const store_device *d)
{
    if (st == NULL || d == NULL)
        return BANTER_EINVAL;
    int name_len = field_len(d->name, sizeof d->name);
    int source_len = field_len(d->source, sizeof d->source);
    int addr_len = field_len(d->addresses, sizeof d->addresses);
    if (name_len < 0 || source_len < 0 || addr_len < 0)
        return fail_invalid(st, "device field without terminator");
    if ((int)d->trust < TRUST_KNOWN || (int)d->trust > TRUST_CERTIFIED)
        return fail_invalid(st, "bad trust value");
    sqlite3_stmt *s = st->stmt[S_DEVICE_PUT];
    int rc = bind_key(s, 1, d->key);
    if (rc == SQLITE_OK)
        rc = bind_key(s, 2, d->contact);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 3, d->name, name_len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 4, (int)d->trust);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 5, d->source, source_len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 6, d->addresses, addr_len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 7, d->first_seen_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 8, d->last_seen_ms);
    if (rc == SQLITE_OK)
        rc = d->has_replaces ? bind_key(s, 9, d->replaces) : sqlite3_bind_null(s, 9);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 10, d->trust == TRUST_CERTIFIED ? d->vouched_until_ms : 0);
    return bound_done(st, s, rc);
}

int store_device_get(store *st, const uint8_t key[static STORE_KEYLEN], store_device *out)
{
    if (st == NULL || key == NULL || out == NULL)
        return BANTER_EINVAL;
    sqlite3_stmt *s = st->stmt[S_DEVICE_GET];
    int rc = bind_key(s, 1, key);
    return bound_row(st, s, rc, read_device, out);
}

int store_device_list(store *st, const uint8_t *contact, store_device **out, size_t *n)
{
    if (st == NULL || out == NULL || n == NULL)
        return BANTER_EINVAL;
    sqlite3_stmt *s = st->stmt[contact ? S_DEVICE_LIST : S_DEVICE_LIST_ALL];
    if (contact && bind_key(s, 1, contact) != SQLITE_OK)
        return bind_failed(st, s, SQLITE_ERROR);
    return collect_list(st, s, sizeof(store_device), read_device, (void **)out, n);
}

int store_device_delete(store *st, const uint8_t key[static STORE_KEYLEN])
{
    if (st == NULL || key == NULL)
        return BANTER_EINVAL;
    sqlite3_stmt *s = st->stmt[S_DEVICE_DELETE];
    int rc = bind_key(s, 1, key);
    if (rc != SQLITE_OK)
        return bind_failed(st, s, rc);
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
        rc = bind_key(s, 2, m->contact);
    if (rc == SQLITE_OK)
        rc = m->has_device ? bind_key(s, 3, m->device) : sqlite3_bind_null(s, 3);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 4, (int)m->dir);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 5, (int)m->state);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 6, (int64_t)m->flags);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 7, m->broadcast ? 1 : 0);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 8, m->ts_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 9, m->stored_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 10, m->body != NULL ? m->body : "", (int)m->body_len,
                               SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = m->has_group ? sqlite3_bind_blob(s, 11, m->group, STORE_GROUP_IDLEN, SQLITE_STATIC)
                          : sqlite3_bind_null(s, 11);
    if (rc == SQLITE_OK)
        rc = m->has_group ? sqlite3_bind_blob(s, 12, m->gpos, STORE_GPOS_LEN, SQLITE_STATIC)
                          : sqlite3_bind_null(s, 12);
    if (rc == SQLITE_OK)
        rc = m->sealed && m->sealed_len <= BANTER_MAX_PLAINTEXT
                 ? sqlite3_bind_blob(s, 13, m->sealed, (int)m->sealed_len, SQLITE_STATIC)
                 : sqlite3_bind_null(s, 13);
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

int store_msg_set_result(store *st, int64_t seq, store_state state, const char *error)
{
    if (st == NULL || error == NULL)
        return BANTER_EINVAL;
    if (!state_fits(STORE_OUT, state))
        return fail_invalid(st, "an outgoing message is QUEUED, DELIVERED, SERVER or FAILED");
    sqlite3_stmt *s = st->stmt[S_MSG_SET_STATE];
    int rc = sqlite3_bind_int(s, 1, (int)state);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 2, error, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 3, seq);
    if (rc != SQLITE_OK)
        return bind_failed(st, s, rc);
    int ret = step_done(st, s);
    if (ret == 0 && sqlite3_changes(st->db) == 0)
        ret = BANTER_ENOENT;
    return ret;
}

static int read_msg(store *st, sqlite3_stmt *s, void *item)
{
    store_msg *m = item;
    memset(m, 0, sizeof *m);
    int64_t dir = sqlite3_column_int64(s, 4);
    int64_t state = sqlite3_column_int64(s, 5);
    if (column_blob(s, 1, m->id, MSG_ID_LEN) != 0 ||
        column_blob(s, 2, m->contact, STORE_KEYLEN) != 0 || dir < STORE_IN || dir > STORE_OUT ||
        state < STORE_QUEUED || state > STORE_FAILED) {
        set_errmsg(st, "malformed row in messages");
        return BANTER_EDB;
    }
    if (sqlite3_column_type(s, 3) != SQLITE_NULL) {
        if (column_blob(s, 3, m->device, STORE_KEYLEN) != 0) {
            set_errmsg(st, "malformed row in messages");
            return BANTER_EDB;
        }
        m->has_device = true;
    }
    m->seq = sqlite3_column_int64(s, 0);
    m->dir = (store_dir)dir;
    m->state = (store_state)state;
    m->flags = (unsigned)sqlite3_column_int64(s, 6);
    m->broadcast = sqlite3_column_int64(s, 7) != 0;
    m->ts_ms = sqlite3_column_int64(s, 8);
    m->stored_ms = sqlite3_column_int64(s, 9);
    const unsigned char *t = sqlite3_column_text(s, 10);
    int n = sqlite3_column_bytes(s, 10);
    if (t == NULL || n < 0)
        n = 0;
    m->body = malloc((size_t)n + 1);
    if (m->body == NULL)
        return BANTER_ENOMEM;
    if (n > 0)
        memcpy(m->body, t, (size_t)n);
    m->body[n] = '\0';
    m->body_len = (size_t)n;
    column_text(s, 11, m->error, sizeof m->error);
    if (sqlite3_column_type(s, 12) != SQLITE_NULL) {
        if (column_blob(s, 12, m->group, STORE_GROUP_IDLEN) != 0 ||
            column_blob(s, 13, m->gpos, STORE_GPOS_LEN) != 0) {
            store_msg_clear(m);
            set_errmsg(st, "malformed row in messages");
            return BANTER_EDB;
        }
        m->has_group = true;
    }
    const void *b = sqlite3_column_blob(s, 14);
    int bn = sqlite3_column_bytes(s, 14);
    if (b != NULL && bn > 0) {
        m->sealed = malloc((size_t)bn);
        if (m->sealed == NULL) {
            store_msg_clear(m);
            return BANTER_ENOMEM;
        }
        memcpy(m->sealed, b, (size_t)bn);
        m->sealed_len = (size_t)bn;
    }
    return 0;
}

static int read_msgs(store *st, sqlite3_stmt *s, store_msg **out, size_t *n)
{
    void *p = NULL;
    size_t count = 0;
    int ret = collect(st, s, sizeof(store_msg), read_msg, &p, &count);
    store_msg *arr = p;
    if (ret != 0 || count == 0) {
        store_msgs_free(arr, count);
        return ret;
    }
    *out = arr;
    *n = count;
    return 0;
}

/* The message with this id and key (statement which: the contact it was
 * sent to, or the device a copy of it went to). */
static int find_msg(store *st, enum stmt_id which, const uint8_t *id, const uint8_t *key,
                    store_msg *out)
{
    if (st == NULL || id == NULL || key == NULL || out == NULL)
        return BANTER_EINVAL;
    sqlite3_stmt *s = st->stmt[which];
    int rc = sqlite3_bind_blob(s, 1, id, MSG_ID_LEN, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = bind_key(s, 2, key);
    if (rc != SQLITE_OK)
        return bind_failed(st, s, rc);
    int ret = one_row(st, s, read_msg, out);
    if (ret != 0 && ret != BANTER_ENOENT)
        store_msg_clear(out);
    return ret;
}

int store_msg_find_out(store *st, const uint8_t id[static MSG_ID_LEN],
                       const uint8_t contact[static STORE_KEYLEN], store_msg *out)
{
    return find_msg(st, S_MSG_FIND_OUT, id, contact, out);
}

int store_msg_find_copy(store *st, const uint8_t id[static MSG_ID_LEN],
                        const uint8_t device[static STORE_KEYLEN], store_msg *out)
{
    return find_msg(st, S_MSG_FIND_COPY, id, device, out);
}

int store_outbox(store *st, const uint8_t *contact, store_msg **out, size_t *n)
{
    if (st == NULL || out == NULL || n == NULL)
        return BANTER_EINVAL;
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s = st->stmt[contact ? S_OUTBOX : S_OUTBOX_ALL];
    if (contact) {
        int rc = bind_key(s, 1, contact);
        if (rc != SQLITE_OK)
            return bind_failed(st, s, rc);
    }
    return read_msgs(st, s, out, n);
}

int store_sync_pending(store *st, const uint8_t *contact, const uint8_t self[static STORE_KEYLEN],
                       store_msg **out, size_t *n)
{
    if (st == NULL || self == NULL || out == NULL || n == NULL)
        return BANTER_EINVAL;
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s = st->stmt[contact ? S_SYNC_PENDING : S_SYNC_PENDING_ALL];
    int rc = contact ? bind_key(s, 1, contact) : SQLITE_OK;
    if (rc == SQLITE_OK)
        rc = bind_key(s, 2, self);
    if (rc != SQLITE_OK)
        return bind_failed(st, s, rc);
    return read_msgs(st, s, out, n);
}

int store_history_prune(store *st, int64_t before_ms, int64_t *n)
{
    sqlite3_stmt *s = NULL;
    if (st == NULL || n == NULL)
        return BANTER_EINVAL;
    *n = 0;
    int rc = sqlite3_prepare_v2(st->db,
                                "DELETE FROM messages WHERE ts < ?1 AND state <> 0 AND NOT EXISTS"
                                " (SELECT 1 FROM copies c WHERE c.seq = messages.seq AND"
                                " c.state = 0)",
                                -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 1, before_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    int ret = rc == SQLITE_DONE ? 0 : fail(st, rc);
    sqlite3_finalize(s);
    if (ret == 0)
        *n = sqlite3_changes(st->db);
    return ret;
}

int store_history(store *st, const uint8_t contact[static STORE_KEYLEN], int64_t before,
                  size_t limit, store_msg **out, size_t *n)
{
    if (st == NULL || contact == NULL || out == NULL || n == NULL)
        return BANTER_EINVAL;
    *out = NULL;
    *n = 0;
    if (limit == 0)
        return 0;
    sqlite3_stmt *s = st->stmt[before > 0 ? S_HISTORY_BEFORE : S_HISTORY];
    int64_t lim = limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)limit;
    int rc = bind_key(s, 1, contact);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, lim);
    if (rc == SQLITE_OK && before > 0)
        rc = sqlite3_bind_int64(s, 3, before);
    if (rc != SQLITE_OK)
        return bind_failed(st, s, rc);
    return read_msgs(st, s, out, n);
}

/* The FTS5 query for what a person typed: every word a quoted prefix term
 * (so nothing they type is FTS5 syntax), all of them required. */
static int search_query(char *q, size_t cap, const char *text)
{
    size_t n = 0, words = 0;
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (!*p)
            break;
        if (++words > STORE_SEARCH_MAX_WORDS)
            return BANTER_ETOOLONG;
        if (n + 3 >= cap)
            return BANTER_ETOOLONG;
        if (n > 0)
            q[n++] = ' ';
        q[n++] = '"';
        for (; *p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r'; p++) {
            if (n + 4 >= cap)
                return BANTER_ETOOLONG;
            if (*p == '"')
                q[n++] = '"';
            q[n++] = *p;
        }
        q[n++] = '"';
        q[n++] = '*';
    }
    if (words == 0)
        return BANTER_EINVAL;
    q[n] = '\0';
    return 0;
}

int store_search(store *st, const char *text, const uint8_t *contact, int64_t before, size_t limit,
                 store_msg **out, size_t *n)
{
    char q[STORE_SEARCH_MAX * 2 + 4 * STORE_SEARCH_MAX_WORDS + 1];
    if (st == NULL || text == NULL || out == NULL || n == NULL)
        return BANTER_EINVAL;
    *out = NULL;
    *n = 0;
    if (strlen(text) > STORE_SEARCH_MAX)
        return BANTER_ETOOLONG;
    int ret = search_query(q, sizeof q, text);
    if (ret)
        return ret;
    if (limit == 0)
        return 0;
    sqlite3_stmt *s = st->stmt[S_SEARCH];
    int64_t lim = limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)limit;
    int rc = sqlite3_bind_text(s, 1, q, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = contact ? bind_key(s, 2, contact) : sqlite3_bind_null(s, 2);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 3, before > 0 ? before : 0);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 4, lim);
    if (rc != SQLITE_OK)
        return bind_failed(st, s, rc);
    return read_msgs(st, s, out, n);
}

void store_msg_clear(store_msg *m)
{
    if (m == NULL)
        return;
    free(m->body);
    m->body = NULL;
    free(m->sealed);
    m->sealed = NULL;
    m->sealed_len = 0;
}

void store_msgs_free(store_msg *msgs, size_t n)
{
    if (msgs == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        store_msg_clear(&msgs[i]);
    free(msgs);
}

/* ---- copies ---- */

int store_copy_add(store *st, int64_t seq, const uint8_t device[static STORE_KEYLEN])
{
    if (st == NULL || device == NULL)
        return BANTER_EINVAL;
    sqlite3_stmt *s = st->stmt[S_COPY_ADD];
    int rc = sqlite3_bind_int64(s, 1, seq);
    if (rc == SQLITE_OK)
        rc = bind_key(s, 2, device);
    if (rc != SQLITE_OK)
        return bind_failed(st, s, rc);
    int ret = step_done(st, s);
    return ret == 0 && sqlite3_changes(st->db) == 0 ? 1 : ret;
}

int store_copy_set(store *st, int64_t seq, const uint8_t device[static STORE_KEYLEN],
                   store_copy_state state, const char *route, const char *error)
{
    if (st == NULL || device == NULL || route == NULL || error == NULL ||
        (state != COPY_PENDING && state != COPY_DELIVERED && state != COPY_SERVER &&
         state != COPY_FAILED))
        return BANTER_EINVAL;
    sqlite3_stmt *s = st->stmt[S_COPY_SET];
    int rc = sqlite3_bind_int64(s, 1, seq);
    if (rc == SQLITE_OK)
        rc = bind_key(s, 2, device);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 3, (int)state);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 4, route, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 5, error, -1, SQLITE_STATIC);
    if (rc != SQLITE_OK)
        return bind_failed(st, s, rc);
    int ret = step_done(st, s);
    if (ret == 0 && sqlite3_changes(st->db) == 0)
        ret = BANTER_ENOENT;
    return ret;
}

static int read_copy(store *st, sqlite3_stmt *s, void *item)
{
    store_copy *c = item;
    memset(c, 0, sizeof *c);
    c->seq = sqlite3_column_int64(s, 0);
    int64_t state = sqlite3_column_int64(s, 2);
    if (column_blob(s, 1, c->device, STORE_KEYLEN) != 0 || state < COPY_PENDING ||
        state > COPY_FAILED || state == 2) {
        set_errmsg(st, "malformed row in copies");
        return BANTER_EDB;
    }
    c->state = (store_copy_state)state;
    column_text(s, 3, c->route, sizeof c->route);
    column_text(s, 4, c->error, sizeof c->error);
    return 0;
}

int store_copies(store *st, int64_t seq, store_copy **out, size_t *n)
{
    if (st == NULL || out == NULL || n == NULL)
        return BANTER_EINVAL;
    sqlite3_stmt *s = st->stmt[S_COPIES];
    int rc = sqlite3_bind_int64(s, 1, seq);
    if (rc != SQLITE_OK)
        return bind_failed(st, s, rc);
    return collect_list(st, s, sizeof(store_copy), read_copy, (void **)out, n);
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
    case TRUST_CERTIFIED:
        return "certified";
    case TRUST_LAPSED:
        return "lapsed";
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

int store_xfer_delete(store *st, const uint8_t id[static MSG_ID_LEN])
{
    static const char *const sql[] = {"DELETE FROM transfer_files WHERE id = ?1",
                                      "DELETE FROM transfers WHERE id = ?1"};
    int ret = exec_sql(st, "BEGIN IMMEDIATE");
    if (ret)
        return ret;
    for (size_t i = 0; ret == 0 && i < sizeof sql / sizeof sql[0]; i++) {
        sqlite3_stmt *s = NULL;
        ret = prepare(st, sql[i], &s);
        if (ret == 0) {
            int rc = sqlite3_bind_blob(s, 1, id, MSG_ID_LEN, SQLITE_STATIC);
            ret = rc == SQLITE_OK ? step_done(st, s) : fail(st, rc);
        }
        sqlite3_finalize(s);
    }
    if (ret == 0)
        ret = exec_sql(st, "COMMIT");
    if (ret)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
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

#define XFER_COLS "id, peer, dir, state, created, updated, done, dest, error, secret"

/* The rows of a prepared query on XFER_COLS, with their files; finalizes s. */
static int read_xfers(store *st, sqlite3_stmt *s, store_xfer **out, size_t *n)
{
    size_t cap = 0;
    int ret = 0, rc;
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

int store_xfer_load_all(store *st, store_xfer **out, size_t *n)
{
    sqlite3_stmt *s = NULL;
    *out = NULL;
    *n = 0;
    int ret = prepare(st, "SELECT " XFER_COLS " FROM transfers ORDER BY created DESC", &s);
    return ret ? ret : read_xfers(st, s, out, n);
}

int store_xfer_load_live(store *st, store_xfer **out, size_t *n)
{
    sqlite3_stmt *s = NULL;
    *out = NULL;
    *n = 0;
    int ret = prepare(st,
                      "SELECT " XFER_COLS " FROM transfers WHERE state IN (0, 1, 2, 4)"
                      " ORDER BY created DESC, id DESC",
                      &s);
    return ret ? ret : read_xfers(st, s, out, n);
}

int store_xfer_get(store *st, const uint8_t id[static MSG_ID_LEN], store_xfer *out)
{
    sqlite3_stmt *s = NULL;
    store_xfer *all = NULL;
    size_t n = 0;
    memset(out, 0, sizeof *out);
    int ret = prepare(st, "SELECT " XFER_COLS " FROM transfers WHERE id = ?1", &s);
    if (ret)
        return ret;
    int rc = sqlite3_bind_blob(s, 1, id, MSG_ID_LEN, SQLITE_STATIC);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(s);
        return fail(st, rc);
    }
    ret = read_xfers(st, s, &all, &n);
    if (ret == 0 && n == 0)
        ret = BANTER_ENOENT;
    if (ret == 0) {
        *out = all[0];
        memset(&all[0], 0, sizeof all[0]);
    }
    store_xfers_free(all, n);
    return ret;
}

int store_xfer_resolve(store *st, const uint8_t lo[static MSG_ID_LEN],
                       const uint8_t hi[static MSG_ID_LEN], uint8_t id[static MSG_ID_LEN])
{
    sqlite3_stmt *s = NULL;
    int ret = prepare(st, "SELECT id FROM transfers WHERE id BETWEEN ?1 AND ?2 LIMIT 2", &s);
    if (ret)
        return ret;
    int rc = sqlite3_bind_blob(s, 1, lo, MSG_ID_LEN, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(s, 2, hi, MSG_ID_LEN, SQLITE_STATIC);
    size_t hits = 0;
    if (rc == SQLITE_OK)
        while ((rc = sqlite3_step(s)) == SQLITE_ROW)
            if (hits++ == 0 && column_blob(s, 0, id, MSG_ID_LEN) != 0)
                hits = 2; /* malformed: not one answer */
    if (rc != SQLITE_DONE)
        ret = fail(st, rc);
    sqlite3_finalize(s);
    if (ret)
        return ret;
    return hits == 1 ? 0 : hits ? BANTER_EAMBIGUOUS : BANTER_ENOENT;
}

int store_xfer_page(store *st, const uint8_t *before, size_t limit, store_xfer **out, size_t *n)
{
    sqlite3_stmt *s = NULL;
    *out = NULL;
    *n = 0;
    int ret = prepare(st,
                      "SELECT " XFER_COLS " FROM transfers WHERE ?1 IS NULL"
                      " OR (created, id) < (SELECT created, id FROM transfers WHERE id = ?1)"
                      " ORDER BY created DESC, id DESC LIMIT ?2",
                      &s);
    if (ret)
        return ret;
    int rc = before ? sqlite3_bind_blob(s, 1, before, MSG_ID_LEN, SQLITE_STATIC)
                    : sqlite3_bind_null(s, 1);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, limit > INT32_MAX ? INT32_MAX : (int64_t)limit);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(s);
        return fail(st, rc);
    }
    return read_xfers(st, s, out, n);
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

/* ---- groups ---- */

void store_group_handle(const uint8_t id[static STORE_GROUP_IDLEN],
                        uint8_t out[static STORE_KEYLEN])
{
    static const char label[] = "banter group conversation";
    crypto_generichash(out, STORE_KEYLEN, id, STORE_GROUP_IDLEN, (const unsigned char *)label,
                       sizeof label - 1);
}

void store_gpos_make(uint8_t out[static STORE_GPOS_LEN], uint64_t lc,
                     const uint8_t device[static STORE_KEYLEN], uint32_t epoch, uint32_t iteration)
{
    put_u64be(out, lc);
    memcpy(out + 8, device, STORE_KEYLEN);
    for (int i = 0; i < 4; i++) {
        out[40 + i] = (uint8_t)(epoch >> (24 - 8 * i));
        out[44 + i] = (uint8_t)(iteration >> (24 - 8 * i));
    }
}

static int read_group(store *st, sqlite3_stmt *s, void *item)
{
    store_group *g = item;
    memset(g, 0, sizeof *g);
    const unsigned char *t = sqlite3_column_text(s, 1);
    int n = sqlite3_column_bytes(s, 1);
    const void *c = sqlite3_column_blob(s, 4);
    int cn = sqlite3_column_bytes(s, 4);
    if (column_blob(s, 0, g->id, STORE_GROUP_IDLEN) != 0 || t == NULL || n <= 0 || c == NULL ||
        cn <= 0 || (size_t)cn > STORE_GCHAIN_MAX) {
        set_errmsg(st, "malformed row in groups");
        return BANTER_EDB;
    }
    g->state = malloc((size_t)n + 1);
    if (g->state == NULL)
        return BANTER_ENOMEM;
    memcpy(g->state, t, (size_t)n);
    g->state[n] = '\0';
    g->state_len = (size_t)n;
    g->member = sqlite3_column_int64(s, 2) != 0;
    g->epoch = (uint32_t)sqlite3_column_int64(s, 3);
    memcpy(g->chain, c, (size_t)cn);
    g->chain_len = (size_t)cn;
    g->epoch_started_ms = sqlite3_column_int64(s, 5);
    g->sent = (uint64_t)sqlite3_column_int64(s, 6);
    g->lc = (uint64_t)sqlite3_column_int64(s, 7);
    g->read_seq = sqlite3_column_int64(s, 8);
    g->created_ms = sqlite3_column_int64(s, 9);
    if (sqlite3_column_type(s, 10) != SQLITE_NULL) {
        const unsigned char *b = sqlite3_column_text(s, 10);
        int bn = sqlite3_column_bytes(s, 10);
        if (b == NULL || bn <= 0) {
            set_errmsg(st, "malformed row in groups");
            return BANTER_EDB;
        }
        g->base = malloc((size_t)bn + 1);
        if (g->base == NULL)
            return BANTER_ENOMEM;
        memcpy(g->base, b, (size_t)bn);
        g->base[bn] = '\0';
        g->base_len = (size_t)bn;
    }
    return 0;
}

int store_group_put(store *st, const store_group *g)
{
    if (st == NULL || g == NULL || g->state == NULL || g->chain_len == 0 ||
        g->chain_len > STORE_GCHAIN_MAX || g->state_len > INT32_MAX ||
        (g->base && (g->base_len == 0 || g->base_len > INT32_MAX)))
        return BANTER_EINVAL;
    sqlite3_stmt *s = st->stmt[S_GROUP_PUT];
    int rc = sqlite3_bind_blob(s, 1, g->id, STORE_GROUP_IDLEN, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 2, g->state, (int)g->state_len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 3, g->member ? 1 : 0);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 4, g->epoch);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(s, 5, g->chain, (int)g->chain_len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 6, g->epoch_started_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 7, (int64_t)g->sent);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 8, (int64_t)g->lc);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 9, g->read_seq);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 10, g->created_ms);
    if (rc == SQLITE_OK)
        rc = g->base ? sqlite3_bind_text(s, 11, g->base, (int)g->base_len, SQLITE_STATIC)
                     : sqlite3_bind_null(s, 11);
    return bound_done(st, s, rc);
}

int store_group_get(store *st, const uint8_t id[static STORE_GROUP_IDLEN], store_group *out)
{
    if (st == NULL || id == NULL || out == NULL)
        return BANTER_EINVAL;
    sqlite3_stmt *s = st->stmt[S_GROUP_GET];
    int rc = sqlite3_bind_blob(s, 1, id, STORE_GROUP_IDLEN, SQLITE_STATIC);
    if (rc != SQLITE_OK)
        return bind_failed(st, s, rc);
    int ret = one_row(st, s, read_group, out);
    if (ret != 0 && ret != BANTER_ENOENT)
        store_group_clear(out);
    return ret;
}

int store_group_list(store *st, store_group **out, size_t *n)
{
    if (st == NULL || out == NULL || n == NULL)
        return BANTER_EINVAL;
    void *p = NULL;
    size_t count = 0;
    *out = NULL;
    *n = 0;
    int ret = collect(st, st->stmt[S_GROUP_LIST], sizeof(store_group), read_group, &p, &count);
    if (ret != 0 || count == 0) {
        store_groups_free(p, count);
        return ret;
    }
    *out = p;
    *n = count;
    return 0;
}

int store_group_count(store *st, int64_t *n)
{
    if (st == NULL || n == NULL)
        return BANTER_EINVAL;
    return sqlh_query_one(st->db, "SELECT count(*) FROM groups", n, NULL, 0, st->errmsg,
                          ERRMSG_LEN);
}

#define STR_(x) #x
#define STR(x)  STR_(x)

/* One statement of store_group_delete, with ?1 the group and ?2 now; the
 * rows it changed added to *changed. */
static int delete_step(store *st, const char *sql, const uint8_t id[static STORE_GROUP_IDLEN],
                       int64_t now_ms, int64_t *changed)
{
    sqlite3_stmt *s = NULL;
    int ret = prepare(st, sql, &s);
    if (ret == 0) {
        int np = sqlite3_bind_parameter_count(s);
        int rc =
            np >= 1 ? sqlite3_bind_blob(s, 1, id, STORE_GROUP_IDLEN, SQLITE_STATIC) : SQLITE_OK;
        if (rc == SQLITE_OK && np >= 2)
            rc = sqlite3_bind_int64(s, 2, now_ms);
        ret = rc == SQLITE_OK ? step_done(st, s) : fail(st, rc);
        if (ret == 0)
            *changed += sqlite3_changes64(st->db);
    }
    sqlite3_finalize(s);
    return ret;
}

/* The seqs in keep into temp.group_keep (emptied first). */
static int fill_keep(store *st, const int64_t *keep, size_t nkeep)
{
    sqlite3_stmt *s = NULL;
    int ret = exec_sql(st, "CREATE TEMP TABLE IF NOT EXISTS group_keep (seq INTEGER PRIMARY KEY);"
                           "DELETE FROM temp.group_keep");
    if (ret == 0 && nkeep)
        ret = prepare(st, "INSERT OR IGNORE INTO temp.group_keep (seq) VALUES (?1)", &s);
    for (size_t i = 0; ret == 0 && i < nkeep; i++) {
        int rc = sqlite3_bind_int64(s, 1, keep[i]);
        ret = rc == SQLITE_OK ? step_done(st, s) : fail(st, rc);
    }
    sqlite3_finalize(s);
    return ret;
}

int store_group_delete(store *st, const uint8_t id[static STORE_GROUP_IDLEN], const int64_t *keep,
                       size_t nkeep, int64_t now_ms, int64_t *messages)
{
    /* Chains are overwritten before their rows go, and secure_delete
     * zeroes what the deletes free (history, FTS index pages), so that
     * nothing of the group is left in the file's free pages. */
    static const char *const sql[] = {
        "UPDATE group_chains SET chain = zeroblob(length(chain)) WHERE grp = ?1",
        "DELETE FROM group_chains WHERE grp = ?1",
        "UPDATE groups SET chain = zeroblob(length(chain)), state = '{}', base = NULL"
        " WHERE id = ?1",
        "DELETE FROM groups WHERE id = ?1",
        "UPDATE messages SET sealed = NULL WHERE grp = ?1 AND sealed IS NOT NULL"
        " AND seq NOT IN (SELECT seq FROM temp.group_keep)",
        "DELETE FROM copies WHERE seq IN (SELECT seq FROM messages WHERE grp = ?1"
        " AND seq NOT IN (SELECT seq FROM temp.group_keep))",
        "DELETE FROM messages WHERE grp = ?1 AND seq NOT IN (SELECT seq FROM temp.group_keep)",
        /* What the FTS index still holds of the deleted bodies goes with a
         * merge of its segments. */
        "INSERT INTO messages_fts (messages_fts) VALUES ('optimize')",
        "INSERT INTO group_tombstones (id, deleted) VALUES (?1, ?2)"
        " ON CONFLICT (id) DO UPDATE SET deleted = excluded.deleted",
        "DELETE FROM group_tombstones WHERE id NOT IN (SELECT id FROM group_tombstones"
        " ORDER BY deleted DESC, id LIMIT " STR(STORE_GROUP_TOMBS_MAX) ")",
        /* Settled control messages of groups deleted before. */
        "DELETE FROM messages WHERE grp IN (SELECT id FROM group_tombstones) AND state <> 0"
        " AND seq NOT IN (SELECT seq FROM temp.group_keep)",
    };
    enum { MESSAGES_STEP = 6 }; /* the statement whose changes are the messages */
    int64_t gone = 0;
    if (st == NULL || id == NULL || (nkeep && keep == NULL))
        return BANTER_EINVAL;
    store_group g;
    int ret = store_group_get(st, id, &g);
    if (ret != 0)
        return ret;
    store_group_clear(&g);
    ret = exec_sql(st, "PRAGMA secure_delete = ON");
    if (ret == 0)
        ret = exec_sql(st, "BEGIN IMMEDIATE");
    if (ret != 0)
        goto out;
    ret = fill_keep(st, keep, nkeep);
    for (size_t i = 0; ret == 0 && i < sizeof sql / sizeof sql[0]; i++) {
        int64_t changed = 0;
        ret = delete_step(st, sql[i], id, now_ms, &changed);
        if (i == MESSAGES_STEP)
            gone = changed;
    }
    if (ret == 0)
        ret = exec_sql(st, "COMMIT");
    if (ret != 0)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    else if (messages)
        *messages = gone;
out:
    sqlite3_exec(st->db, "PRAGMA secure_delete = OFF", NULL, NULL, NULL);
    /* The WAL still holds the pages as they were: written back and cut. */
    if (ret == 0)
        sqlite3_exec(st->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    return ret;
}

int store_group_deleted(store *st, const uint8_t id[static STORE_GROUP_IDLEN])
{
    if (st == NULL || id == NULL)
        return BANTER_EINVAL;
    sqlite3_stmt *s = st->stmt[S_GTOMB_GET];
    int rc = sqlite3_bind_blob(s, 1, id, STORE_GROUP_IDLEN, SQLITE_STATIC);
    if (rc != SQLITE_OK)
        return bind_failed(st, s, rc);
    rc = sqlite3_step(s);
    int ret = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? BANTER_ENOENT : fail(st, rc);
    stmt_done(s);
    return ret;
}

int store_group_tombstones(store *st, int64_t *n)
{
    if (st == NULL || n == NULL)
        return BANTER_EINVAL;
    return sqlh_query_one(st->db, "SELECT count(*) FROM group_tombstones", n, NULL, 0, st->errmsg,
                          ERRMSG_LEN);
}

void store_group_clear(store_group *g)
{
    if (g == NULL)
        return;
    free(g->state);
    g->state = NULL;
    free(g->base);
    g->base = NULL;
    g->base_len = 0;
    sodium_memzero(g->chain, sizeof g->chain);
}

void store_groups_free(store_group *gs, size_t n)
{
    if (gs == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        store_group_clear(&gs[i]);
    free(gs);
}

int store_gchain_put(store *st, const uint8_t group[static STORE_GROUP_IDLEN],
                     const uint8_t device[static STORE_KEYLEN], uint32_t epoch,
                     const uint8_t *chain, size_t len)
{
    if (st == NULL || chain == NULL || len == 0 || len > STORE_GCHAIN_MAX)
        return BANTER_EINVAL;
    sqlite3_stmt *s = st->stmt[S_GCHAIN_PUT];
    int rc = sqlite3_bind_blob(s, 1, group, STORE_GROUP_IDLEN, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = bind_key(s, 2, device);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 3, epoch);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(s, 4, chain, (int)len, SQLITE_STATIC);
    return bound_done(st, s, rc);
}

int store_gchain_get(store *st, const uint8_t group[static STORE_GROUP_IDLEN],
                     const uint8_t device[static STORE_KEYLEN], uint32_t epoch,
                     uint8_t out[static STORE_GCHAIN_MAX], size_t *len)
{
    if (st == NULL || out == NULL || len == NULL)
        return BANTER_EINVAL;
    sqlite3_stmt *s = st->stmt[S_GCHAIN_GET];
    int rc = sqlite3_bind_blob(s, 1, group, STORE_GROUP_IDLEN, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = bind_key(s, 2, device);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 3, epoch);
    if (rc != SQLITE_OK)
        return bind_failed(st, s, rc);
    int ret = BANTER_ENOENT;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const void *b = sqlite3_column_blob(s, 0);
        int n = sqlite3_column_bytes(s, 0);
        ret = b == NULL || n <= 0 || (size_t)n > STORE_GCHAIN_MAX ? BANTER_EDB : 0;
        if (ret == 0) {
            memcpy(out, b, (size_t)n);
            *len = (size_t)n;
        }
    } else if (rc != SQLITE_DONE) {
        ret = fail(st, rc);
    }
    stmt_done(s);
    return ret;
}

int store_gchain_drop_before(store *st, const uint8_t group[static STORE_GROUP_IDLEN],
                             const uint8_t device[static STORE_KEYLEN], uint32_t epoch)
{
    if (st == NULL)
        return BANTER_EINVAL;
    sqlite3_stmt *s = st->stmt[S_GCHAIN_DROP];
    int rc = sqlite3_bind_blob(s, 1, group, STORE_GROUP_IDLEN, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = bind_key(s, 2, device);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 3, epoch);
    return bound_done(st, s, rc);
}

int store_gchain_newest(store *st, const uint8_t group[static STORE_GROUP_IDLEN],
                        const uint8_t device[static STORE_KEYLEN], uint32_t *epoch)
{
    if (st == NULL || epoch == NULL)
        return BANTER_EINVAL;
    sqlite3_stmt *s = st->stmt[S_GCHAIN_NEWEST];
    int rc = sqlite3_bind_blob(s, 1, group, STORE_GROUP_IDLEN, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = bind_key(s, 2, device);
    if (rc != SQLITE_OK)
        return bind_failed(st, s, rc);
    int ret = BANTER_ENOENT;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
        int64_t e = sqlite3_column_int64(s, 0);
        ret = e < 0 || e > UINT32_MAX ? BANTER_EDB : 0;
        if (ret == 0)
            *epoch = (uint32_t)e;
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        ret = fail(st, rc);
    }
    stmt_done(s);
    return ret;
}

int store_gchain_keep(store *st, const uint8_t group[static STORE_GROUP_IDLEN],
                      const uint8_t device[static STORE_KEYLEN], size_t keep)
{
    if (st == NULL || keep == 0 || keep > INT32_MAX)
        return BANTER_EINVAL;
    sqlite3_stmt *s = st->stmt[S_GCHAIN_KEEP];
    int rc = sqlite3_bind_blob(s, 1, group, STORE_GROUP_IDLEN, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = bind_key(s, 2, device);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 3, (int64_t)keep);
    return bound_done(st, s, rc);
}

int store_group_history(store *st, const uint8_t group[static STORE_GROUP_IDLEN],
                        const uint8_t *before, size_t limit, store_msg **out, size_t *n)
{
    if (st == NULL || out == NULL || n == NULL)
        return BANTER_EINVAL;
    *out = NULL;
    *n = 0;
    if (limit == 0)
        return 0;
    sqlite3_stmt *s = st->stmt[S_GROUP_HISTORY];
    int64_t lim = limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)limit;
    int rc = sqlite3_bind_blob(s, 1, group, STORE_GROUP_IDLEN, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, lim);
    if (rc == SQLITE_OK)
        rc = before ? sqlite3_bind_blob(s, 3, before, STORE_GPOS_LEN, SQLITE_STATIC)
                    : sqlite3_bind_null(s, 3);
    if (rc != SQLITE_OK)
        return bind_failed(st, s, rc);
    return read_msgs(st, s, out, n);
}

int store_group_unread(store *st, const uint8_t group[static STORE_GROUP_IDLEN], int64_t after_seq,
                       int64_t *count)
{
    if (st == NULL || count == NULL)
        return BANTER_EINVAL;
    sqlite3_stmt *s = st->stmt[S_GROUP_UNREAD];
    int rc = sqlite3_bind_blob(s, 1, group, STORE_GROUP_IDLEN, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, after_seq);
    if (rc != SQLITE_OK)
        return bind_failed(st, s, rc);
    rc = sqlite3_step(s);
    int ret = rc == SQLITE_ROW ? 0 : fail(st, rc);
    if (ret == 0)
        *count = sqlite3_column_int64(s, 0);
    stmt_done(s);
    return ret;
}

/* ---- announcements ---- */

int store_ann_add(store *st, const store_ann *a)
{
    sqlite3_stmt *s = NULL;
    int ret = prepare(st,
                      "INSERT INTO announcements (id, ts, department, text, received)"
                      " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO NOTHING",
                      &s);
    if (ret)
        return ret;
    int rc = sqlite3_bind_int64(s, 1, a->id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, a->ts_ms);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 3, a->department);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 4, a->text);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 5, a->received_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    ret = rc == SQLITE_DONE ? (sqlite3_changes(st->db) ? 0 : 1) : fail(st, rc);
    sqlite3_finalize(s);
    return ret;
}

int store_ann_list(store *st, bool unread_only, size_t max, store_ann **out, size_t *n)
{
    sqlite3_stmt *s = NULL;
    *out = NULL;
    *n = 0;
    int ret = prepare(st,
                      "SELECT id, ts, department, text, received, read, read_told FROM"
                      " (SELECT * FROM announcements WHERE ?1 = 0 OR read = 0"
                      " ORDER BY id DESC LIMIT ?2) ORDER BY id",
                      &s);
    if (ret)
        return ret;
    store_ann *v = max ? calloc(max, sizeof *v) : NULL;
    int rc = v || !max ? sqlite3_bind_int(s, 1, unread_only) : SQLITE_NOMEM;
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, (int64_t)max);
    while (rc == SQLITE_OK && *n < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        store_ann *a = &v[(*n)++];
        a->id = sqlite3_column_int64(s, 0);
        a->ts_ms = sqlite3_column_int64(s, 1);
        copy_text(a->department, sizeof a->department, (const char *)sqlite3_column_text(s, 2),
                  (size_t)sqlite3_column_bytes(s, 2));
        copy_text(a->text, sizeof a->text, (const char *)sqlite3_column_text(s, 3),
                  (size_t)sqlite3_column_bytes(s, 3));
        a->received_ms = sqlite3_column_int64(s, 4);
        a->read_ms = sqlite3_column_int64(s, 5);
        a->read_told = sqlite3_column_int(s, 6) != 0;
        rc = SQLITE_OK;
    }
    ret = rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : fail(st, rc);
    sqlite3_finalize(s);
    if (ret) {
        free(v);
        *n = 0;
        return ret;
    }
    *out = v;
    return 0;
}

int store_ann_read(store *st, int64_t id, int64_t now_ms)
{
    sqlite3_stmt *s = NULL;
    int ret = prepare(st, "UPDATE announcements SET read = ?2 WHERE id = ?1 AND read = 0", &s);
    if (ret)
        return ret;
    int rc = sqlite3_bind_int64(s, 1, id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, now_ms > 0 ? now_ms : 1);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    ret = rc == SQLITE_DONE ? 0 : fail(st, rc);
    sqlite3_finalize(s);
    if (ret || sqlite3_changes(st->db))
        return ret;
    /* nothing changed: read before, or no such announcement */
    ret = prepare(st, "SELECT 1 FROM announcements WHERE id = ?1", &s);
    if (ret)
        return ret;
    rc = sqlite3_bind_int64(s, 1, id);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    ret = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? BANTER_ENOENT : fail(st, rc);
    sqlite3_finalize(s);
    return ret;
}

int store_ann_untold(store *st, int64_t *ids, size_t max, size_t *n)
{
    sqlite3_stmt *s = NULL;
    *n = 0;
    int ret = prepare(st,
                      "SELECT id FROM announcements WHERE read <> 0 AND read_told = 0"
                      " ORDER BY id LIMIT ?1",
                      &s);
    if (ret)
        return ret;
    int rc = sqlite3_bind_int64(s, 1, (int64_t)max);
    while (rc == SQLITE_OK && *n < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        ids[(*n)++] = sqlite3_column_int64(s, 0);
        rc = SQLITE_OK;
    }
    ret = rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : fail(st, rc);
    sqlite3_finalize(s);
    return ret;
}

int store_ann_told(store *st, int64_t id)
{
    sqlite3_stmt *s = NULL;
    int ret = prepare(st, "UPDATE announcements SET read_told = 1 WHERE id = ?1", &s);
    if (ret)
        return ret;
    int rc = sqlite3_bind_int64(s, 1, id);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    ret = rc == SQLITE_DONE ? 0 : fail(st, rc);
    sqlite3_finalize(s);
    return ret;
}
