/* SPDX-License-Identifier: MIT */
/* db.c - the database: schema, accounts, devices, profiles, search (see db.h). */
#include "db_impl.h"

#include "db_pg.h"
#include "db_pgs.h"
#include "dirview.h"
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
/* SQLite's page cache per database connection: 512 KiB, not SQLite's
 * default 2,000 KiB. The server's hot pages (the indexes a login walks, the
 * mailbox's tail) fit in far less, the rest comes from the kernel's page
 * cache, and the default's 2 MiB were 95 bytes of every connection held at
 * 16,667 per instance (docs/cluster.md, "Capacity"). */
#define CACHE_PRAGMA    "PRAGMA cache_size = -512"

/*
 * The schema, one migration per version: migrations[i] takes the database
 * from user_version i to i + 1. Append to change the schema; never edit an
 * entry that has shipped.
 */
static const char *const migrations[] = {
    /* 0 -> 1: accounts and their devices */
    "CREATE TABLE users ("
    " name TEXT PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 64),"
    " pwhash TEXT NOT NULL,"
    " admin INTEGER NOT NULL CHECK (admin IN (0, 1)),"
    " disabled INTEGER NOT NULL CHECK (disabled IN (0, 1)),"
    " created INTEGER NOT NULL);"
    "CREATE TABLE devices ("
    " key BLOB PRIMARY KEY NOT NULL CHECK (length(key) = 32),"
    " user TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,"
    " created INTEGER NOT NULL,"
    " last_seen INTEGER NOT NULL);"
    "CREATE INDEX devices_user ON devices (user);",
    /* 1 -> 2: the directory. visibility: 0 = found by searches; other
     * values are kept for invisibility (not used yet). */
    "CREATE TABLE profiles ("
    " user TEXT PRIMARY KEY NOT NULL REFERENCES users (name) ON DELETE CASCADE,"
    " display_name TEXT NOT NULL DEFAULT '',"
    " department TEXT NOT NULL DEFAULT '',"
    " title TEXT NOT NULL DEFAULT '',"
    " email TEXT NOT NULL DEFAULT '',"
    " phone TEXT NOT NULL DEFAULT '',"
    " location TEXT NOT NULL DEFAULT '',"
    " about TEXT NOT NULL DEFAULT '',"
    " visibility INTEGER NOT NULL DEFAULT 0,"
    " updated INTEGER NOT NULL);",
    /* 2 -> 3: the broadcast right (admins have it until revoked); the
     * relations (one row per account and other account it has a relation
     * with: its side's relation, rel.h, and whether it blocked the other);
     * the presence each account chose; the sealed copies waiting for a
     * device, with the mailbox usage per recipient account kept by
     * triggers (the quota check reads one row). */
    "ALTER TABLE users ADD COLUMN broadcast INTEGER NOT NULL DEFAULT 0"
    " CHECK (broadcast IN (0, 1));"
    "UPDATE users SET broadcast = admin;"
    "CREATE TABLE contacts ("
    " user TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,"
    " peer TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,"
    " rel INTEGER NOT NULL CHECK (rel BETWEEN 0 AND 3),"
    " blocked INTEGER NOT NULL CHECK (blocked IN (0, 1)),"
    " updated INTEGER NOT NULL,"
    " PRIMARY KEY (user, peer),"
    " CHECK (user <> peer)) WITHOUT ROWID;"
    "CREATE INDEX contacts_peer ON contacts (peer);"
    "CREATE TABLE presence ("
    " user TEXT PRIMARY KEY NOT NULL REFERENCES users (name) ON DELETE CASCADE,"
    " status INTEGER NOT NULL CHECK (status BETWEEN 1 AND 4),"
    " text TEXT NOT NULL DEFAULT '',"
    " updated INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE sealed ("
    " seq INTEGER PRIMARY KEY,"
    " id BLOB NOT NULL CHECK (length(id) = 16),"
    " to_device BLOB NOT NULL CHECK (length(to_device) = 32),"
    " to_user TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,"
    " from_user TEXT NOT NULL,"
    " from_device BLOB NOT NULL CHECK (length(from_device) = 32),"
    " flags INTEGER NOT NULL,"
    " size INTEGER NOT NULL,"
    " blob BLOB NOT NULL,"
    " created INTEGER NOT NULL,"
    " expires INTEGER NOT NULL,"
    " UNIQUE (id, to_device));"
    "CREATE INDEX sealed_device ON sealed (to_device, seq);"
    "CREATE INDEX sealed_user ON sealed (to_user);"
    "CREATE INDEX sealed_expires ON sealed (expires);"
    "CREATE TABLE mailbox ("
    " user TEXT PRIMARY KEY NOT NULL REFERENCES users (name) ON DELETE CASCADE,"
    " count INTEGER NOT NULL,"
    " bytes INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TRIGGER sealed_added AFTER INSERT ON sealed BEGIN"
    " INSERT OR IGNORE INTO mailbox (user, count, bytes) VALUES (new.to_user, 0, 0);"
    " UPDATE mailbox SET count = count + 1, bytes = bytes + new.size WHERE user = new.to_user;"
    " END;"
    "CREATE TRIGGER sealed_deleted AFTER DELETE ON sealed BEGIN"
    " UPDATE mailbox SET count = count - 1, bytes = bytes - old.size WHERE user = old.to_user;"
    " END;",
    /* 3 -> 4: a stored copy is keyed by its id, its device AND the device
     * that sent it, so another sender's copy with the same id (a known
     * broadcast id, say) no longer displaces the genuine one: both are
     * kept and delivered. SQLite cannot change a UNIQUE constraint: the
     * table is made anew and every row copied (seq kept, so the order of
     * delivery too; the mailbox counts stay right: no trigger fires on
     * the copy nor on the DROP). */
    "CREATE TABLE sealed_v4 ("
    " seq INTEGER PRIMARY KEY,"
    " id BLOB NOT NULL CHECK (length(id) = 16),"
    " to_device BLOB NOT NULL CHECK (length(to_device) = 32),"
    " to_user TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,"
    " from_user TEXT NOT NULL,"
    " from_device BLOB NOT NULL CHECK (length(from_device) = 32),"
    " flags INTEGER NOT NULL,"
    " size INTEGER NOT NULL,"
    " blob BLOB NOT NULL,"
    " created INTEGER NOT NULL,"
    " expires INTEGER NOT NULL,"
    " UNIQUE (id, to_device, from_device));"
    "INSERT INTO sealed_v4 (seq, id, to_device, to_user, from_user, from_device, flags, size,"
    " blob, created, expires) SELECT seq, id, to_device, to_user, from_user, from_device, flags,"
    " size, blob, created, expires FROM sealed ORDER BY seq;"
    "DROP TABLE sealed;"
    "ALTER TABLE sealed_v4 RENAME TO sealed;"
    "CREATE INDEX sealed_device ON sealed (to_device, seq);"
    "CREATE INDEX sealed_user ON sealed (to_user);"
    "CREATE INDEX sealed_expires ON sealed (expires);"
    "CREATE TRIGGER sealed_added AFTER INSERT ON sealed BEGIN"
    " INSERT OR IGNORE INTO mailbox (user, count, bytes) VALUES (new.to_user, 0, 0);"
    " UPDATE mailbox SET count = count + 1, bytes = bytes + new.size WHERE user = new.to_user;"
    " END;"
    "CREATE TRIGGER sealed_deleted AFTER DELETE ON sealed BEGIN"
    " UPDATE mailbox SET count = count - 1, bytes = bytes - old.size WHERE user = old.to_user;"
    " END;",
    /* 4 -> 5: remote administration (db_admin.h): the admin keys by
     * fingerprint with their role, the append-only audit log (each entry
     * chained to the previous one's hash and signed by the server key),
     * the device keys an admin revoked (refused at login), and the
     * organisation's policy (policy.h; one row once an admin set one). */
    "CREATE TABLE IF NOT EXISTS admin_keys ("
    " fp TEXT PRIMARY KEY NOT NULL CHECK (length(fp) = 40),"
    " role TEXT NOT NULL CHECK (role IN ('admin', 'auditor')),"
    " added INTEGER NOT NULL,"
    " added_by TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS audit ("
    " seq INTEGER PRIMARY KEY,"
    " ts INTEGER NOT NULL,"
    " actor TEXT NOT NULL,"
    " cmd TEXT NOT NULL,"
    " target TEXT NOT NULL,"
    " result TEXT NOT NULL,"
    " hash BLOB NOT NULL CHECK (length(hash) = 32),"
    " sig BLOB NOT NULL CHECK (length(sig) = 64));"
    "CREATE TABLE IF NOT EXISTS revoked ("
    " key BLOB PRIMARY KEY NOT NULL CHECK (length(key) = 32),"
    " user TEXT NOT NULL,"
    " revoked INTEGER NOT NULL,"
    " revoked_by TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS policy ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " serial INTEGER NOT NULL,"
    " issued INTEGER NOT NULL,"
    " max_file_mb INTEGER NOT NULL,"
    " history_days INTEGER NOT NULL,"
    " flags INTEGER NOT NULL,"
    " public_fields INTEGER NOT NULL);",
    /* 5 -> 6: announcements (db_announce.h): each one an admin made, and
     * one row per device it was addressed to, with when that device
     * confirmed it (delivered) and when it was shown to its user (read). */
    "CREATE TABLE IF NOT EXISTS announcements ("
    " id INTEGER PRIMARY KEY,"
    " ts INTEGER NOT NULL,"
    " actor TEXT NOT NULL,"
    " department TEXT NOT NULL,"
    " text TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS announce_to ("
    " ann INTEGER NOT NULL REFERENCES announcements (id) ON DELETE CASCADE,"
    " key BLOB NOT NULL CHECK (length(key) = 32),"
    " user TEXT NOT NULL,"
    " delivered INTEGER,"
    " read INTEGER,"
    " PRIMARY KEY (ann, key)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS announce_to_key ON announce_to (key, delivered);",
    /* 6 -> 7: what each sending account's copies hold of each recipient
     * account's mailbox (db_mail.h), for the sender's share of the quota:
     * counted from the copies stored now, then kept by the triggers (a
     * row while there is a copy). */
    "CREATE TABLE IF NOT EXISTS mailbox_from ("
    " user TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,"
    " sender TEXT NOT NULL,"
    " count INTEGER NOT NULL,"
    " bytes INTEGER NOT NULL,"
    " PRIMARY KEY (user, sender)) WITHOUT ROWID;"
    "DELETE FROM mailbox_from;"
    "INSERT INTO mailbox_from (user, sender, count, bytes)"
    " SELECT to_user, from_user, count(*), sum(size) FROM sealed GROUP BY to_user, from_user;"
    "DROP TRIGGER sealed_added;"
    "DROP TRIGGER sealed_deleted;"
    "CREATE TRIGGER sealed_added AFTER INSERT ON sealed BEGIN"
    " INSERT OR IGNORE INTO mailbox (user, count, bytes) VALUES (new.to_user, 0, 0);"
    " UPDATE mailbox SET count = count + 1, bytes = bytes + new.size WHERE user = new.to_user;"
    " INSERT OR IGNORE INTO mailbox_from (user, sender, count, bytes)"
    " VALUES (new.to_user, new.from_user, 0, 0);"
    " UPDATE mailbox_from SET count = count + 1, bytes = bytes + new.size"
    " WHERE user = new.to_user AND sender = new.from_user;"
    " END;"
    "CREATE TRIGGER sealed_deleted AFTER DELETE ON sealed BEGIN"
    " UPDATE mailbox SET count = count - 1, bytes = bytes - old.size WHERE user = old.to_user;"
    " DELETE FROM mailbox_from WHERE user = old.to_user AND sender = old.from_user"
    " AND count <= 1;"
    " UPDATE mailbox_from SET count = count - 1, bytes = bytes - old.size"
    " WHERE user = old.to_user AND sender = old.from_user;"
    " END;",
    /* 7 -> 8: the names of deleted accounts (db_name_retired): colleagues'
     * nodes keep knowing a name as the person who had it, so `user add`
     * takes one only when told to (--reuse-name). Kept by triggers on
     * users, whatever deletes or adds the row. */
    "CREATE TABLE IF NOT EXISTS retired_names ("
    " name TEXT PRIMARY KEY,"
    " deleted INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TRIGGER IF NOT EXISTS users_retired AFTER DELETE ON users BEGIN"
    " INSERT OR REPLACE INTO retired_names (name, deleted)"
    " VALUES (old.name, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));"
    " END;"
    "CREATE TRIGGER IF NOT EXISTS users_reused AFTER INSERT ON users BEGIN"
    " DELETE FROM retired_names WHERE name = new.name;"
    " END;",
    /* 8 -> 9: the copies a deleted account stored (from_gone = 1, set by
     * db_user_delete) count in their recipient's mailbox and are delivered
     * as from that name, but no longer against the share of the sender of
     * that name: an account that gets the name (--reuse-name) starts with
     * none. Here: a copy made before the account of its sender's name was
     * (or with no such account) is an earlier holder's; the shares are
     * counted again from the others. */
    "ALTER TABLE sealed ADD COLUMN from_gone INTEGER NOT NULL DEFAULT 0;"
    "UPDATE sealed SET from_gone = 1 WHERE NOT EXISTS (SELECT 1 FROM users u"
    " WHERE u.name = sealed.from_user AND u.created <= sealed.created);"
    "DELETE FROM mailbox_from;"
    "INSERT INTO mailbox_from (user, sender, count, bytes)"
    " SELECT to_user, from_user, count(*), sum(size) FROM sealed WHERE from_gone = 0"
    " GROUP BY to_user, from_user;"
    "DROP TRIGGER sealed_deleted;"
    "CREATE TRIGGER sealed_deleted AFTER DELETE ON sealed BEGIN"
    " UPDATE mailbox SET count = count - 1, bytes = bytes - old.size WHERE user = old.to_user;"
    " DELETE FROM mailbox_from WHERE old.from_gone = 0 AND user = old.to_user"
    " AND sender = old.from_user AND count <= 1;"
    " UPDATE mailbox_from SET count = count - 1, bytes = bytes - old.size"
    " WHERE old.from_gone = 0 AND user = old.to_user AND sender = old.from_user;"
    " END;",
    /* 9 -> 10: from_gone is decided at the insert too (db_mail_put_q): a
     * copy accepted before its sender was deleted but stored after (a
     * routed or forwarded copy reaches the store later) is an earlier
     * holder's, and the insert's trigger leaves such a copy out of every
     * share. The copies stored so between 9 and now are marked as 9 did,
     * and the shares counted again. */
    "UPDATE sealed SET from_gone = 1 WHERE from_gone = 0 AND NOT EXISTS (SELECT 1 FROM users u"
    " WHERE u.name = sealed.from_user AND u.created <= sealed.created);"
    "DELETE FROM mailbox_from;"
    "INSERT INTO mailbox_from (user, sender, count, bytes)"
    " SELECT to_user, from_user, count(*), sum(size) FROM sealed WHERE from_gone = 0"
    " GROUP BY to_user, from_user;"
    "DROP TRIGGER sealed_added;"
    "CREATE TRIGGER sealed_added AFTER INSERT ON sealed BEGIN"
    " INSERT OR IGNORE INTO mailbox (user, count, bytes) VALUES (new.to_user, 0, 0);"
    " UPDATE mailbox SET count = count + 1, bytes = bytes + new.size WHERE user = new.to_user;"
    " INSERT OR IGNORE INTO mailbox_from (user, sender, count, bytes)"
    " SELECT new.to_user, new.from_user, 0, 0 WHERE new.from_gone = 0;"
    " UPDATE mailbox_from SET count = count + 1, bytes = bytes + new.size"
    " WHERE new.from_gone = 0 AND user = new.to_user AND sender = new.from_user;"
    " END;",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/*
 * The same schema in PostgreSQL's dialect (db = postgresql://...):
 * pg_migrations[i] is migrations[i] for PostgreSQL, and must leave the
 * same tables, columns, keys and unique constraints (test_rdv_pg compares
 * the two). Append to both arrays together: the build fails when their
 * lengths differ. The dialect, entry by entry: BLOB is BYTEA and length()
 * of one octet_length(); 64-bit integers are BIGINT (SQLite's INTEGER is
 * 64-bit, PostgreSQL's 32); the column "user" is quoted (a reserved word
 * there); an INTEGER PRIMARY KEY that numbers rows is GENERATED BY DEFAULT
 * AS IDENTITY; no WITHOUT ROWID; a trigger is a PL/pgSQL function and a
 * FOR EACH ROW trigger calling it; INSERT OR IGNORE is ON CONFLICT DO
 * NOTHING; constraints that later change are named. docs/rendezvous.md
 * has the rules for writing the next pair.
 */
static const char *const pg_migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE users ("
    " name TEXT PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 64),"
    " pwhash TEXT NOT NULL,"
    " admin INTEGER NOT NULL CHECK (admin IN (0, 1)),"
    " disabled INTEGER NOT NULL CHECK (disabled IN (0, 1)),"
    " created BIGINT NOT NULL);"
    "CREATE TABLE devices ("
    " key BYTEA PRIMARY KEY NOT NULL CHECK (octet_length(key) = 32),"
    " \"user\" TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,"
    " created BIGINT NOT NULL,"
    " last_seen BIGINT NOT NULL);"
    "CREATE INDEX devices_user ON devices (\"user\");",
    /* 1 -> 2 */
    "CREATE TABLE profiles ("
    " \"user\" TEXT PRIMARY KEY NOT NULL REFERENCES users (name) ON DELETE CASCADE,"
    " display_name TEXT NOT NULL DEFAULT '',"
    " department TEXT NOT NULL DEFAULT '',"
    " title TEXT NOT NULL DEFAULT '',"
    " email TEXT NOT NULL DEFAULT '',"
    " phone TEXT NOT NULL DEFAULT '',"
    " location TEXT NOT NULL DEFAULT '',"
    " about TEXT NOT NULL DEFAULT '',"
    " visibility INTEGER NOT NULL DEFAULT 0,"
    " updated BIGINT NOT NULL);",
    /* 2 -> 3 */
    "ALTER TABLE users ADD COLUMN broadcast INTEGER NOT NULL DEFAULT 0"
    " CHECK (broadcast IN (0, 1));"
    "UPDATE users SET broadcast = admin;"
    "CREATE TABLE contacts ("
    " \"user\" TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,"
    " peer TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,"
    " rel INTEGER NOT NULL CHECK (rel BETWEEN 0 AND 3),"
    " blocked INTEGER NOT NULL CHECK (blocked IN (0, 1)),"
    " updated BIGINT NOT NULL,"
    " PRIMARY KEY (\"user\", peer),"
    " CHECK (\"user\" <> peer));"
    "CREATE INDEX contacts_peer ON contacts (peer);"
    "CREATE TABLE presence ("
    " \"user\" TEXT PRIMARY KEY NOT NULL REFERENCES users (name) ON DELETE CASCADE,"
    " status INTEGER NOT NULL CHECK (status BETWEEN 1 AND 4),"
    " text TEXT NOT NULL DEFAULT '',"
    " updated BIGINT NOT NULL);"
    "CREATE TABLE sealed ("
    " seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    " id BYTEA NOT NULL CHECK (octet_length(id) = 16),"
    " to_device BYTEA NOT NULL CHECK (octet_length(to_device) = 32),"
    " to_user TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,"
    " from_user TEXT NOT NULL,"
    " from_device BYTEA NOT NULL CHECK (octet_length(from_device) = 32),"
    " flags BIGINT NOT NULL,"
    " size BIGINT NOT NULL,"
    " blob BYTEA NOT NULL,"
    " created BIGINT NOT NULL,"
    " expires BIGINT NOT NULL,"
    " CONSTRAINT sealed_once UNIQUE (id, to_device));"
    "CREATE INDEX sealed_device ON sealed (to_device, seq);"
    "CREATE INDEX sealed_user ON sealed (to_user);"
    "CREATE INDEX sealed_expires ON sealed (expires);"
    "CREATE TABLE mailbox ("
    " \"user\" TEXT PRIMARY KEY NOT NULL REFERENCES users (name) ON DELETE CASCADE,"
    " count BIGINT NOT NULL,"
    " bytes BIGINT NOT NULL);"
    "CREATE FUNCTION sealed_added() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " INSERT INTO mailbox (\"user\", count, bytes) VALUES (NEW.to_user, 1, NEW.size)"
    " ON CONFLICT (\"user\") DO UPDATE SET count = mailbox.count + 1,"
    " bytes = mailbox.bytes + NEW.size;"
    " RETURN NULL; END $$;"
    "CREATE TRIGGER sealed_added AFTER INSERT ON sealed"
    " FOR EACH ROW EXECUTE FUNCTION sealed_added();"
    "CREATE FUNCTION sealed_deleted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " UPDATE mailbox SET count = count - 1, bytes = bytes - OLD.size WHERE \"user\" = OLD.to_user;"
    " RETURN NULL; END $$;"
    "CREATE TRIGGER sealed_deleted AFTER DELETE ON sealed"
    " FOR EACH ROW EXECUTE FUNCTION sealed_deleted();",
    /* 3 -> 4: PostgreSQL changes the constraint in place. */
    "ALTER TABLE sealed DROP CONSTRAINT sealed_once;"
    "ALTER TABLE sealed ADD CONSTRAINT sealed_once UNIQUE (id, to_device, from_device);",
    /* 4 -> 5 */
    "CREATE TABLE IF NOT EXISTS admin_keys ("
    " fp TEXT PRIMARY KEY NOT NULL CHECK (length(fp) = 40),"
    " role TEXT NOT NULL CHECK (role IN ('admin', 'auditor')),"
    " added BIGINT NOT NULL,"
    " added_by TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS audit ("
    " seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    " ts BIGINT NOT NULL,"
    " actor TEXT NOT NULL,"
    " cmd TEXT NOT NULL,"
    " target TEXT NOT NULL,"
    " result TEXT NOT NULL,"
    " hash BYTEA NOT NULL CHECK (octet_length(hash) = 32),"
    " sig BYTEA NOT NULL CHECK (octet_length(sig) = 64));"
    "CREATE TABLE IF NOT EXISTS revoked ("
    " key BYTEA PRIMARY KEY NOT NULL CHECK (octet_length(key) = 32),"
    " \"user\" TEXT NOT NULL,"
    " revoked BIGINT NOT NULL,"
    " revoked_by TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS policy ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " serial BIGINT NOT NULL,"
    " issued BIGINT NOT NULL,"
    " max_file_mb BIGINT NOT NULL,"
    " history_days BIGINT NOT NULL,"
    " flags BIGINT NOT NULL,"
    " public_fields BIGINT NOT NULL);",
    /* 5 -> 6 */
    "CREATE TABLE IF NOT EXISTS announcements ("
    " id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    " ts BIGINT NOT NULL,"
    " actor TEXT NOT NULL,"
    " department TEXT NOT NULL,"
    " text TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS announce_to ("
    " ann BIGINT NOT NULL REFERENCES announcements (id) ON DELETE CASCADE,"
    " key BYTEA NOT NULL CHECK (octet_length(key) = 32),"
    " \"user\" TEXT NOT NULL,"
    " delivered BIGINT,"
    " read BIGINT,"
    " PRIMARY KEY (ann, key));"
    "CREATE INDEX IF NOT EXISTS announce_to_key ON announce_to (key, delivered);",
    /* 6 -> 7: the triggers keep mailbox_from too, the usage row first
     * (the order every writer takes the two in); sealed_put is
     * db_mail_put_q (db_pgs_mail.c): each of its statements reads what
     * was committed when it started, so those after the usage row's lock
     * see what the previous holder wrote. */
    "CREATE TABLE IF NOT EXISTS mailbox_from ("
    " \"user\" TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,"
    " sender TEXT NOT NULL,"
    " count BIGINT NOT NULL,"
    " bytes BIGINT NOT NULL,"
    " PRIMARY KEY (\"user\", sender));"
    "LOCK TABLE mailbox IN EXCLUSIVE MODE;"
    "DELETE FROM mailbox_from;"
    "INSERT INTO mailbox_from (\"user\", sender, count, bytes)"
    " SELECT to_user, from_user, count(*), sum(size) FROM sealed GROUP BY to_user, from_user;"
    "CREATE OR REPLACE FUNCTION sealed_added() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " UPDATE mailbox SET count = count + 1, bytes = bytes + NEW.size"
    " WHERE \"user\" = NEW.to_user;"
    " IF NOT FOUND THEN"
    " INSERT INTO mailbox (\"user\", count, bytes) VALUES (NEW.to_user, 1, NEW.size)"
    " ON CONFLICT (\"user\") DO UPDATE SET count = mailbox.count + 1,"
    " bytes = mailbox.bytes + NEW.size;"
    " END IF;"
    " UPDATE mailbox_from SET count = count + 1, bytes = bytes + NEW.size"
    " WHERE \"user\" = NEW.to_user AND sender = NEW.from_user;"
    " IF NOT FOUND THEN"
    " INSERT INTO mailbox_from (\"user\", sender, count, bytes)"
    " VALUES (NEW.to_user, NEW.from_user, 1, NEW.size)"
    " ON CONFLICT (\"user\", sender) DO UPDATE SET count = mailbox_from.count + 1,"
    " bytes = mailbox_from.bytes + NEW.size;"
    " END IF;"
    " RETURN NULL; END $$;"
    "CREATE OR REPLACE FUNCTION sealed_deleted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " UPDATE mailbox SET count = count - 1, bytes = bytes - OLD.size WHERE \"user\" = OLD.to_user;"
    " DELETE FROM mailbox_from WHERE \"user\" = OLD.to_user AND sender = OLD.from_user"
    " AND count <= 1;"
    " IF NOT FOUND THEN"
    " UPDATE mailbox_from SET count = count - 1, bytes = bytes - OLD.size"
    " WHERE \"user\" = OLD.to_user AND sender = OLD.from_user;"
    " END IF;"
    " RETURN NULL; END $$;"
    "CREATE OR REPLACE FUNCTION sealed_put(p_id BYTEA, p_dev BYTEA, p_to TEXT, p_from TEXT,"
    " p_fdev BYTEA, p_flags BIGINT, p_size BIGINT, p_blob BYTEA, p_created BIGINT,"
    " p_expires BIGINT, max_count BIGINT, max_bytes BIGINT, share_count BIGINT,"
    " share_bytes BIGINT) RETURNS INTEGER LANGUAGE plpgsql AS $$"
    " DECLARE c BIGINT; b BIGINT; sc BIGINT; sb BIGINT; blk BOOLEAN; res INTEGER := 0; n BIGINT;"
    " self BOOLEAN := p_to = p_from;"
    " BEGIN"
    " SELECT count, bytes INTO c, b FROM mailbox WHERE \"user\" = p_to FOR UPDATE;"
    " IF NOT FOUND THEN"
    " INSERT INTO mailbox (\"user\", count, bytes) VALUES (p_to, 0, 0)"
    " ON CONFLICT (\"user\") DO UPDATE SET count = mailbox.count RETURNING count, bytes INTO c, b;"
    " END IF;"
    " IF NOT self THEN"
    " SELECT EXISTS (SELECT 1 FROM contacts WHERE \"user\" = p_to AND peer = p_from"
    " AND blocked = 1), f.count, f.bytes INTO blk, sc, sb"
    " FROM (SELECT 1) AS one LEFT JOIN mailbox_from f ON f.\"user\" = p_to AND f.sender = p_from;"
    " IF blk THEN RETURN 4; END IF;"
    " END IF;"
    " IF c + 1 > max_count OR b + p_size > max_bytes THEN res := 2;"
    " ELSIF NOT self AND (coalesce(sc, 0) + 1 > share_count"
    " OR coalesce(sb, 0) + p_size > share_bytes) THEN res := 3;"
    " END IF;"
    " IF res = 0 THEN"
    " INSERT INTO sealed (id, to_device, to_user, from_user, from_device, flags, size, blob,"
    " created, expires) VALUES (p_id, p_dev, p_to, p_from, p_fdev, p_flags, p_size, p_blob,"
    " p_created, p_expires) ON CONFLICT (id, to_device, from_device) DO NOTHING;"
    " GET DIAGNOSTICS n = ROW_COUNT;"
    " RETURN CASE WHEN n = 1 THEN 0 ELSE 1 END;"
    " END IF;"
    " IF EXISTS (SELECT 1 FROM sealed WHERE id = p_id AND to_device = p_dev"
    " AND from_device = p_fdev) THEN RETURN 1; END IF;"
    " RETURN res; END $$;",
    /* 7 -> 8: as SQLite's, the time from the database's clock. */
    "CREATE TABLE IF NOT EXISTS retired_names ("
    " name TEXT PRIMARY KEY,"
    " deleted BIGINT NOT NULL);"
    "CREATE OR REPLACE FUNCTION users_retired() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " INSERT INTO retired_names (name, deleted)"
    " VALUES (OLD.name, (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT)"
    " ON CONFLICT (name) DO UPDATE SET deleted = EXCLUDED.deleted;"
    " RETURN NULL; END $$;"
    "CREATE OR REPLACE FUNCTION users_reused() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " DELETE FROM retired_names WHERE name = NEW.name;"
    " RETURN NULL; END $$;"
    "DROP TRIGGER IF EXISTS users_retired ON users;"
    "DROP TRIGGER IF EXISTS users_reused ON users;"
    "CREATE TRIGGER users_retired AFTER DELETE ON users"
    " FOR EACH ROW EXECUTE FUNCTION users_retired();"
    "CREATE TRIGGER users_reused AFTER INSERT ON users"
    " FOR EACH ROW EXECUTE FUNCTION users_reused();",
    /* 8 -> 9: as SQLite's; the usage first, as in 6 -> 7 (the order every
     * writer takes the two in), so instances storing meanwhile wait. */
    "LOCK TABLE mailbox IN EXCLUSIVE MODE;"
    "ALTER TABLE sealed ADD COLUMN from_gone INTEGER NOT NULL DEFAULT 0;"
    "UPDATE sealed SET from_gone = 1 WHERE NOT EXISTS (SELECT 1 FROM users u"
    " WHERE u.name = sealed.from_user AND u.created <= sealed.created);"
    "DELETE FROM mailbox_from;"
    "INSERT INTO mailbox_from (\"user\", sender, count, bytes)"
    " SELECT to_user, from_user, count(*), sum(size) FROM sealed WHERE from_gone = 0"
    " GROUP BY to_user, from_user;"
    "CREATE OR REPLACE FUNCTION sealed_deleted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " UPDATE mailbox SET count = count - 1, bytes = bytes - OLD.size WHERE \"user\" = OLD.to_user;"
    " IF OLD.from_gone = 0 THEN"
    " DELETE FROM mailbox_from WHERE \"user\" = OLD.to_user AND sender = OLD.from_user"
    " AND count <= 1;"
    " IF NOT FOUND THEN"
    " UPDATE mailbox_from SET count = count - 1, bytes = bytes - OLD.size"
    " WHERE \"user\" = OLD.to_user AND sender = OLD.from_user;"
    " END IF;"
    " END IF;"
    " RETURN NULL; END $$;",
    /* 9 -> 10: as SQLite's; sealed_put decides from_gone and checks no
     * share (and no block: it is the name's holder's now) for such a copy;
     * the usage first, as in 8 -> 9. */
    "LOCK TABLE mailbox IN EXCLUSIVE MODE;"
    "UPDATE sealed SET from_gone = 1 WHERE from_gone = 0 AND NOT EXISTS (SELECT 1 FROM users u"
    " WHERE u.name = sealed.from_user AND u.created <= sealed.created);"
    "DELETE FROM mailbox_from;"
    "INSERT INTO mailbox_from (\"user\", sender, count, bytes)"
    " SELECT to_user, from_user, count(*), sum(size) FROM sealed WHERE from_gone = 0"
    " GROUP BY to_user, from_user;"
    "CREATE OR REPLACE FUNCTION sealed_added() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " UPDATE mailbox SET count = count + 1, bytes = bytes + NEW.size"
    " WHERE \"user\" = NEW.to_user;"
    " IF NOT FOUND THEN"
    " INSERT INTO mailbox (\"user\", count, bytes) VALUES (NEW.to_user, 1, NEW.size)"
    " ON CONFLICT (\"user\") DO UPDATE SET count = mailbox.count + 1,"
    " bytes = mailbox.bytes + NEW.size;"
    " END IF;"
    " IF NEW.from_gone = 0 THEN"
    " UPDATE mailbox_from SET count = count + 1, bytes = bytes + NEW.size"
    " WHERE \"user\" = NEW.to_user AND sender = NEW.from_user;"
    " IF NOT FOUND THEN"
    " INSERT INTO mailbox_from (\"user\", sender, count, bytes)"
    " VALUES (NEW.to_user, NEW.from_user, 1, NEW.size)"
    " ON CONFLICT (\"user\", sender) DO UPDATE SET count = mailbox_from.count + 1,"
    " bytes = mailbox_from.bytes + NEW.size;"
    " END IF;"
    " END IF;"
    " RETURN NULL; END $$;"
    "CREATE OR REPLACE FUNCTION sealed_put(p_id BYTEA, p_dev BYTEA, p_to TEXT, p_from TEXT,"
    " p_fdev BYTEA, p_flags BIGINT, p_size BIGINT, p_blob BYTEA, p_created BIGINT,"
    " p_expires BIGINT, max_count BIGINT, max_bytes BIGINT, share_count BIGINT,"
    " share_bytes BIGINT) RETURNS INTEGER LANGUAGE plpgsql AS $$"
    " DECLARE c BIGINT; b BIGINT; sc BIGINT; sb BIGINT; blk BOOLEAN; res INTEGER := 0; n BIGINT;"
    " self BOOLEAN := p_to = p_from; gone BOOLEAN;"
    " BEGIN"
    " SELECT count, bytes INTO c, b FROM mailbox WHERE \"user\" = p_to FOR UPDATE;"
    " IF NOT FOUND THEN"
    " INSERT INTO mailbox (\"user\", count, bytes) VALUES (p_to, 0, 0)"
    " ON CONFLICT (\"user\") DO UPDATE SET count = mailbox.count RETURNING count, bytes INTO c, b;"
    " END IF;"
    " gone := NOT EXISTS (SELECT 1 FROM users u WHERE u.name = p_from AND u.created <= p_created);"
    " IF NOT self AND NOT gone THEN"
    " SELECT EXISTS (SELECT 1 FROM contacts WHERE \"user\" = p_to AND peer = p_from"
    " AND blocked = 1), f.count, f.bytes INTO blk, sc, sb"
    " FROM (SELECT 1) AS one LEFT JOIN mailbox_from f ON f.\"user\" = p_to AND f.sender = p_from;"
    " IF blk THEN RETURN 4; END IF;"
    " END IF;"
    " IF c + 1 > max_count OR b + p_size > max_bytes THEN res := 2;"
    " ELSIF NOT self AND NOT gone AND (coalesce(sc, 0) + 1 > share_count"
    " OR coalesce(sb, 0) + p_size > share_bytes) THEN res := 3;"
    " END IF;"
    " IF res = 0 THEN"
    " INSERT INTO sealed (id, to_device, to_user, from_user, from_device, flags, size, blob,"
    " created, expires, from_gone) VALUES (p_id, p_dev, p_to, p_from, p_fdev, p_flags, p_size,"
    " p_blob, p_created, p_expires, CASE WHEN gone THEN 1 ELSE 0 END)"
    " ON CONFLICT (id, to_device, from_device) DO NOTHING;"
    " GET DIAGNOSTICS n = ROW_COUNT;"
    " RETURN CASE WHEN n = 1 THEN 0 ELSE 1 END;"
    " END IF;"
    " IF EXISTS (SELECT 1 FROM sealed WHERE id = p_id AND to_device = p_dev"
    " AND from_device = p_fdev) THEN RETURN 1; END IF;"
    " RETURN res; END $$;",
};
_Static_assert(sizeof pg_migrations / sizeof pg_migrations[0] == SCHEMA_VERSION,
               "every migration has a PostgreSQL form: append to pg_migrations too");

int db_schema(const char *const **sqlite, const char *const **pg)
{
    if (sqlite)
        *sqlite = migrations;
    if (pg)
        *pg = pg_migrations;
    return SCHEMA_VERSION;
}

#define USER_COLS                                                                                  \
    "u.name, u.admin, u.disabled, u.created,"                                                      \
    " (SELECT count(*) FROM devices d WHERE d.user = u.name), u.broadcast, u.pwhash"

void db_seterr(db *d, const char *text) { snprintf(d->errmsg, sizeof d->errmsg, "%s", text); }

int db_fail(db *d, int rc) { return sqlh_fail(d->sql, rc, d->errmsg, sizeof d->errmsg); }

int db_stmt(db *d, enum db_slot slot, const char *sql, sqlite3_stmt **out)
{
    if (!d->stmt[slot]) {
        int rc =
            sqlite3_prepare_v3(d->sql, sql, -1, SQLITE_PREPARE_PERSISTENT, &d->stmt[slot], NULL);
        if (rc != SQLITE_OK) {
            d->stmt[slot] = NULL;
            *out = NULL;
            return db_fail(d, rc);
        }
    }
    *out = d->stmt[slot];
    return 0;
}

void db_done(sqlite3_stmt *s)
{
    if (!s)
        return;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

char *db_column_dup(sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    return strdup(t ? (const char *)t : "");
}

int db_step_int(db *d, sqlite3_stmt *s, int64_t *out)
{
    int rc = sqlite3_step(s);
    int ret = rc == SQLITE_ROW ? 0 : db_fail(d, rc == SQLITE_DONE ? SQLITE_ERROR : rc);
    if (ret == 0)
        *out = sqlite3_column_int64(s, 0);
    db_done(s);
    return ret;
}

int db_grow(void *arrp, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *a = ncap < SIZE_MAX / size ? realloc(*(void **)arrp, ncap * size) : NULL;
    if (!a)
        return BANTER_ENOMEM;
    *(void **)arrp = a;
    *cap = ncap;
    return 0;
}

void db_column_copy(sqlite3_stmt *s, int col, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

/* Connection settings, schema. Statements are prepared when first used. */
static int setup(db *d)
{
    int ret = sqlh_setup(d->sql, BUSY_TIMEOUT_MS, d->errmsg, sizeof d->errmsg);
    if (ret)
        return ret;
    ret = sqlh_exec(d->sql, CACHE_PRAGMA, d->errmsg, sizeof d->errmsg);
    if (ret)
        return ret;
    return sqlh_migrate(d->sql, migrations, SCHEMA_VERSION, "banter-rendezvous", d->errmsg,
                        sizeof d->errmsg);
}

/* Run a one-statement command (a cached BEGIN, COMMIT, ROLLBACK). */
static int run(db *d, enum db_slot slot, const char *sql)
{
    sqlite3_stmt *s;
    int ret = db_stmt(d, slot, sql, &s);
    if (ret)
        return ret;
    int rc = sqlite3_step(s);
    ret = rc == SQLITE_DONE ? 0 : db_fail(d, rc);
    db_done(s);
    return ret;
}

int db_begin(db *d)
{
    if (d->pg)
        return pgs_begin(d);
    return run(d, S_BEGIN, "BEGIN IMMEDIATE");
}

int db_commit(db *d)
{
    if (d->pg)
        return pgs_commit(d);
    return run(d, S_COMMIT, "COMMIT");
}

void db_rollback(db *d)
{
    if (d->pg)
        pgs_rollback(d);
    else if (!sqlite3_get_autocommit(d->sql))
        (void)run(d, S_ROLLBACK, "ROLLBACK");
}

int db_sp_begin(db *d, db_sp *sp, const char *name)
{
    char sql[64];
    sp->name = name;
    sp->outer = sqlite3_get_autocommit(d->sql) != 0;
    snprintf(sql, sizeof sql, "SAVEPOINT %s", name);
    return sqlh_exec(d->sql, sql, d->errmsg, sizeof d->errmsg);
}

int db_sp_end(db *d, const db_sp *sp, int ret)
{
    char sql[96];
    if (ret == 0) {
        snprintf(sql, sizeof sql, "RELEASE %s", sp->name);
        ret = sqlh_exec(d->sql, sql, d->errmsg, sizeof d->errmsg);
        if (ret == 0)
            return 0;
    }
    if (sp->outer) {
        if (!sqlite3_get_autocommit(d->sql))
            (void)sqlite3_exec(d->sql, "ROLLBACK", NULL, NULL, NULL);
    } else {
        snprintf(sql, sizeof sql, "ROLLBACK TO %s; RELEASE %s", sp->name, sp->name);
        (void)sqlite3_exec(d->sql, sql, NULL, NULL, NULL);
    }
    return ret;
}

/* db = postgresql://...: the schema brought up to date, then the
 * synchronous connection (db_pgs.h). */
static int open_pg(db *d, const char *url)
{
    char why[DB_ERRMSG_LEN] = "";
    int ret =
        db_pg_migrate(url, pg_migrations, SCHEMA_VERSION, "banter-rendezvous", why, sizeof why);
    if (ret) {
        db_seterr(d, why);
        return ret;
    }
    return pgs_open(d, url);
}

int db_open(db **out, const char *path, char *errmsg, size_t errlen)
{
    *out = NULL;
    if (errmsg && errlen)
        errmsg[0] = '\0';
    db *d = calloc(1, sizeof *d);
    if (!d)
        return BANTER_ENOMEM;
    if (db_pg_is_url(path)) {
        int ret = open_pg(d, path);
        if (ret) {
            if (errmsg && errlen)
                snprintf(errmsg, errlen, "%s", d->errmsg);
            db_close(d);
            return ret;
        }
        *out = d;
        return 0;
    }
    /* Create a missing file private to its owner: SQLite gives the -wal and
     * -shm files the database's mode. Other failures are left to SQLite. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0)
        close(fd);
    int ret;
    int rc = sqlite3_open_v2(path, &d->sql, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        db_seterr(d, d->sql ? sqlite3_errmsg(d->sql) : sqlite3_errstr(rc));
        ret = rc == SQLITE_NOMEM ? BANTER_ENOMEM : BANTER_EDB;
    } else {
        ret = setup(d);
    }
    if (ret) {
        if (errmsg && errlen)
            snprintf(errmsg, errlen, "%s", d->errmsg);
        db_close(d);
        return ret;
    }
    *out = d;
    return 0;
}

void db_close(db *d)
{
    if (!d)
        return;
    pgs_close(d);
    for (int i = 0; i < S_SLOT_COUNT; i++)
        sqlite3_finalize(d->stmt[i]);
    sqlite3_close_v2(d->sql);
    free(d);
}

bool db_is_pg(const db *d) { return d && d->pg; }

const char *db_errmsg(const db *d) { return d ? d->errmsg : "no database"; }

const char *db_name_problem(const char *name)
{
    size_t n = strnlen(name, DB_MAX_USER + 1);
    if (n == 0)
        return "is empty";
    if (n > DB_MAX_USER)
        return "is longer than 64 bytes";
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z')
            return "has capital letters: user names are lowercase";
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return "may only contain a-z, 0-9, '.', '_' and '-'";
    }
    if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
        return "must start with a letter or a digit";
    return NULL;
}

int db_bind_name(db *d, sqlite3_stmt *s, int col, const char *name)
{
    if (!name || db_name_problem(name)) {
        db_seterr(d, "bad user name");
        return BANTER_EINVAL;
    }
    int rc = sqlite3_bind_text(s, col, name, -1, SQLITE_STATIC);
    return rc == SQLITE_OK ? 0 : db_fail(d, rc);
}

int db_user_add(db *d, const char *name, const char *pwhash, bool admin, int64_t now_ms)
{
    if (d->pg)
        return pgs_user_add(d, name, pwhash, admin, now_ms);
    sqlite3_stmt *s;
    size_t hlen = pwhash ? strnlen(pwhash, BCRYPTO_PWHASH_STRLEN) : 0;
    if (hlen == 0 || hlen == BCRYPTO_PWHASH_STRLEN) {
        db_seterr(d, "bad password hash");
        return BANTER_EINVAL;
    }
    int ret = db_stmt(d, S_USER_ADD,
                      "INSERT INTO users (name, pwhash, admin, disabled, created, broadcast)"
                      " VALUES (?1, ?2, ?3, 0, ?4, ?3) ON CONFLICT (name) DO NOTHING",
                      &s);
    if (ret == 0)
        ret = db_bind_name(d, s, 1, name);
    if (ret == 0) {
        int rc = sqlite3_bind_text(s, 2, pwhash, (int)hlen, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(s, 3, admin ? 1 : 0);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 4, now_ms);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
            ret = sqlite3_changes(d->sql) == 1 ? 0 : 1;
        else
            ret = db_fail(d, rc);
    }
    db_done(s);
    return ret;
}

/* The current row of a USER_COLS statement. */
static void read_user(sqlite3_stmt *s, db_user *u, char *pwhash)
{
    memset(u, 0, sizeof *u);
    db_column_copy(s, 0, u->name, sizeof u->name);
    u->admin = sqlite3_column_int(s, 1) != 0;
    u->disabled = sqlite3_column_int(s, 2) != 0;
    u->created_ms = sqlite3_column_int64(s, 3);
    u->devices = sqlite3_column_int64(s, 4);
    u->broadcast = sqlite3_column_int(s, 5) != 0;
    if (pwhash)
        db_column_copy(s, 6, pwhash, BCRYPTO_PWHASH_STRLEN);
}

int db_user_get(db *d, const char *name, db_user *out, char *pwhash)
{
    if (d->pg)
        return pgs_user_get(d, name, out, pwhash);
    sqlite3_stmt *s;
    int ret = db_stmt(d, S_USER_GET, "SELECT " USER_COLS " FROM users u WHERE u.name = ?1", &s);
    if (ret == 0)
        ret = db_bind_name(d, s, 1, name);
    if (ret == 0) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            read_user(s, out, pwhash);
        else
            ret = rc == SQLITE_DONE ? BANTER_ENOENT : db_fail(d, rc);
    }
    db_done(s);
    return ret;
}

int db_user_list(db *d, db_user **out, size_t *n)
{
    if (d->pg)
        return pgs_user_list(d, out, n);
    sqlite3_stmt *s;
    db_user *arr = NULL;
    size_t count = 0, cap = 0;
    int rc = SQLITE_DONE;

    *out = NULL;
    *n = 0;
    int ret = db_stmt(d, S_USER_LIST, "SELECT " USER_COLS " FROM users u ORDER BY u.name", &s);
    while (ret == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if ((ret = db_grow(&arr, &cap, count, sizeof *arr)) != 0)
            break;
        read_user(s, &arr[count++], NULL);
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_fail(d, rc);
    db_done(s);
    if (ret) {
        free(arr);
        return ret;
    }
    *out = arr;
    *n = count;
    return 0;
}

/* Set one flag column of an account: 0 when it changed, 1 when it already
 * had that value, BANTER_ENOENT. Only these constant names become SQL. */
static int user_flag(db *d, const char *name, const char *col, bool on)
{
    if (d->pg)
        return pgs_user_flag(d, name, col, on);
    char sql[128];
    sqlite3_stmt *s = NULL;
    snprintf(sql, sizeof sql, "UPDATE users SET %s = ?2 WHERE name = ?1 AND %s <> ?2", col, col);
    if (!name || db_name_problem(name)) {
        db_seterr(d, "bad user name");
        return BANTER_EINVAL;
    }
    int ret, rc = sqlite3_prepare_v2(d->sql, sql, -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 2, on ? 1 : 0);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    ret = rc == SQLITE_DONE ? 0 : db_fail(d, rc);
    sqlite3_finalize(s);
    if (ret || sqlite3_changes(d->sql) == 1)
        return ret;
    db_user u;
    ret = db_user_get(d, name, &u, NULL);
    return ret ? ret : 1;
}

#define SQLITE_INT(x) x

/* Run sql on account name (?1), with now_ms (?2) and text (?3) when not
 * NULL. 0 or the failure. */
static int account_exec(db *d, const char *sql, const char *name, int64_t now_ms, const char *text)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(d->sql, sql, -1, &s, NULL);
    int ret = rc == SQLITE_OK ? db_bind_name(d, s, 1, name) : db_fail(d, rc);
    if (ret == 0 && text) {
        rc = sqlite3_bind_int64(s, 2, now_ms);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(s, 3, text, -1, SQLITE_STATIC);
        ret = rc == SQLITE_OK ? 0 : db_fail(d, rc);
    }
    if (ret == 0) {
        rc = sqlite3_step(s);
        ret = rc == SQLITE_DONE ? 0 : db_fail(d, rc);
    }
    sqlite3_finalize(s);
    return ret;
}

int db_mark_devices(db *d, const char *name, const char *by, int64_t now_ms)
{
    return account_exec(d, DB_MARK_DEVICES("?", SQLITE_INT), name, now_ms, by);
}

/* The flag disabled set to on, then the account's disable marks set (on)
 * or taken off, in one savepoint: as user_flag. */
static int set_disabled(db *d, const char *name, bool on, int64_t now_ms)
{
    db_sp sp;
    int ret = db_sp_begin(d, &sp, "disabled");
    if (ret)
        return ret;
    int r = user_flag(d, name, "disabled", on);
    ret = r == 0 || r == 1 ? 0 : r;
    if (ret == 0)
        ret = on ? db_mark_devices(d, name, DB_REVOKED_BY_DISABLE, now_ms)
                 : account_exec(d, DB_UNMARK_DISABLED("?"), name, 0, NULL);
    ret = db_sp_end(d, &sp, ret);
    return ret ? ret : r;
}

int db_user_disable(db *d, const char *name, int64_t now_ms)
{
    if (d->pg)
        return pgs_user_disabled(d, name, true, now_ms);
    return set_disabled(d, name, true, now_ms);
}

int db_user_enable(db *d, const char *name)
{
    if (d->pg)
        return pgs_user_disabled(d, name, false, 0);
    return set_disabled(d, name, false, 0);
}

int db_user_set_broadcast(db *d, const char *name, bool on)
{
    return user_flag(d, name, "broadcast", on);
}

/* ---- devices ---- */

int db_device_user(db *d, const uint8_t key[static 32], db_user *out)
{
    if (d->pg)
        return pgs_device_user(d, key, out);
    sqlite3_stmt *s;
    int ret = db_stmt(d, S_DEVICE_USER,
                      "SELECT " USER_COLS " FROM devices v JOIN users u ON u.name = v.user"
                      " WHERE v.key = ?1",
                      &s);
    if (ret)
        return ret;
    int rc = sqlite3_bind_blob(s, 1, key, 32, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        read_user(s, out, NULL);
    else
        ret = rc == SQLITE_DONE ? BANTER_ENOENT : db_fail(d, rc);
    db_done(s);
    return ret;
}

int db_device_bind(db *d, const uint8_t key[static 32], const char *name, int64_t now_ms)
{
    if (d->pg)
        return pgs_device_bind(d, key, name, now_ms);
    sqlite3_stmt *s;
    int ret = db_stmt(d, S_DEVICE_BIND,
                      "INSERT INTO devices (key, user, created, last_seen) VALUES (?1, ?2, ?3, ?3)"
                      " ON CONFLICT (key) DO UPDATE SET user = ?2, last_seen = ?3,"
                      " created = CASE WHEN user = ?2 THEN created ELSE ?3 END",
                      &s);
    if (ret == 0)
        ret = db_bind_name(d, s, 2, name);
    if (ret == 0) {
        int rc = sqlite3_bind_blob(s, 1, key, 32, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 3, now_ms);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(s);
        ret = rc == SQLITE_DONE ? 0 : db_fail(d, rc);
    }
    db_done(s);
    return ret;
}

int db_device_unbind(db *d, const uint8_t key[static 32])
{
    if (d->pg)
        return pgs_device_unbind(d, key);
    sqlite3_stmt *s;
    int ret = db_stmt(d, S_DEVICE_UNBIND, "DELETE FROM devices WHERE key = ?1", &s);
    if (ret)
        return ret;
    int rc = sqlite3_bind_blob(s, 1, key, 32, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    ret = rc == SQLITE_DONE ? (sqlite3_changes(d->sql) == 1 ? 0 : 1) : db_fail(d, rc);
    db_done(s);
    return ret;
}

int db_devices_of(db *d, const char *name, uint8_t (*keys)[32], size_t max, size_t *n)
{
    if (d->pg)
        return pgs_devices_of(d, name, keys, max, n);
    sqlite3_stmt *s;
    int rc = SQLITE_DONE;
    *n = 0;
    int ret = db_stmt(d, S_DEVICES_OF,
                      "SELECT v.key FROM devices v JOIN users u ON u.name = v.user"
                      " WHERE v.user = ?1 AND u.disabled = 0 ORDER BY v.created, v.key",
                      &s);
    if (ret == 0)
        ret = db_bind_name(d, s, 1, name);
    while (ret == 0 && *n < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(s, 0) == 32)
            memcpy(keys[(*n)++], sqlite3_column_blob(s, 0), 32);
    }
    if (ret == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
        ret = db_fail(d, rc);
    db_done(s);
    return ret;
}

/* ---- the directory ---- */

/* Column names, indexed by rv_field; RV_F_COUNT is the account name. Only
 * these constants ever become part of SQL text; values are bound. Both
 * dialects' searches (db_search_text). */
static const char *const field_col[RV_F_COUNT + 1] = {
    [RV_F_DISPLAY_NAME] = "p.display_name",
    [RV_F_DEPARTMENT] = "p.department",
    [RV_F_TITLE] = "p.title",
    [RV_F_EMAIL] = "p.email",
    [RV_F_PHONE] = "p.phone",
    [RV_F_LOCATION] = "p.location",
    [RV_F_ABOUT] = "p.about",
    [RV_F_COUNT] = "u.name",
};

int db_profile_set(db *d, const char *name, const struct rv_profile *p, int64_t now_ms)
{
    if (d->pg)
        return pgs_profile_set(d, name, p, now_ms);
    sqlite3_stmt *s;
    /* NULL leaves a field as it is; a new row starts with every field "". */
    int ret = db_stmt(
        d, S_PROFILE_SET,
        "INSERT INTO profiles (user, display_name, department, title, email, phone, location,"
        " about, updated) VALUES (?1, coalesce(?2, ''), coalesce(?3, ''), coalesce(?4, ''),"
        " coalesce(?5, ''), coalesce(?6, ''), coalesce(?7, ''), coalesce(?8, ''), ?9)"
        " ON CONFLICT (user) DO UPDATE SET display_name = coalesce(?2, display_name),"
        " department = coalesce(?3, department), title = coalesce(?4, title),"
        " email = coalesce(?5, email), phone = coalesce(?6, phone),"
        " location = coalesce(?7, location), about = coalesce(?8, about), updated = ?9",
        &s);
    if (ret == 0)
        ret = db_bind_name(d, s, 1, name);
    int rc = SQLITE_OK;
    for (int i = 0; ret == 0 && rc == SQLITE_OK && i < RV_F_COUNT; i++) {
        if (p->f[i] && strlen(p->f[i]) > rv_field_max((rv_field)i)) {
            db_seterr(d, "profile field too long");
            ret = BANTER_EINVAL;
        } else if (p->f[i]) {
            rc = sqlite3_bind_text(s, 2 + i, p->f[i], -1, SQLITE_STATIC);
        }
    }
    if (ret == 0) {
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 2 + RV_F_COUNT, now_ms);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(s);
        ret = rc == SQLITE_DONE ? 0 : db_fail(d, rc);
    }
    db_done(s);
    return ret;
}

void db_profile_clear(struct rv_profile *p)
{
    for (int i = 0; i < RV_F_COUNT; i++) {
        free(p->f[i]);
        p->f[i] = NULL;
    }
}

/* Profile columns first..first+6 of the current row into p: what view v
 * sees of them (dir_show). */
static int read_profile(sqlite3_stmt *s, int first, dir_public pub, dir_view v, bool keep_dn,
                        struct rv_profile *p)
{
    struct rv_profile all = {0}; /* borrowed from the row */
    for (int i = 0; i < RV_F_COUNT; i++)
        all.f[i] = (char *)(uintptr_t)sqlite3_column_text(s, first + i);
    return dir_show(pub, v, &all, keep_dn, p);
}

int db_profile_get(db *d, const char *name, struct rv_profile *out)
{
    if (d->pg)
        return pgs_profile_get(d, name, out);
    sqlite3_stmt *s;
    memset(out, 0, sizeof *out);
    int ret = db_stmt(d, S_PROFILE_GET,
                      "SELECT " DB_PROFILE_COLS " FROM profiles p WHERE p.user = ?1", &s);
    if (ret == 0)
        ret = db_bind_name(d, s, 1, name);
    if (ret == 0) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            ret = read_profile(s, 0, DIR_PUBLIC_ALL, DIR_SELF, false, out);
        else if (rc != SQLITE_DONE)
            ret = db_fail(d, rc);
    }
    db_done(s);
    if (ret)
        db_profile_clear(out);
    return ret;
}

_Static_assert(DIR_STRANGER == 0 && DIR_CONTACT == 1 && DIR_SELF == 2, "DB_SEARCH_VIEW's numbers");

size_t db_search_text(const db_search_dialect *dl, const struct rv_search *q, uint32_t pub,
                      bool count, char *sql, size_t cap)
{
    bool known = false;
    for (size_t i = 0; i < q->n; i++)
        known |= dir_min_view(pub, q->c[i].field) > DIR_STRANGER;
    int n = count ? snprintf(sql, cap, "SELECT count(*)%s", known ? dl->from_known : dl->from_all)
                  : snprintf(sql, cap, "SELECT u.name, %s, " DB_PROFILE_COLS "%s", dl->view,
                             known ? dl->from_known : dl->from_all);
    size_t o = n < 0 ? cap : (size_t)n;
    for (size_t i = 0; i < q->n && o < cap; i++) {
        rv_field f = q->c[i].field <= RV_F_COUNT ? q->c[i].field : RV_F_COUNT;
        dir_view min = dir_min_view(pub, f);
        if (min > DIR_STRANGER)
            o += (size_t)snprintf(sql + o, cap - o, " AND %s >= %d", dl->view, (int)min);
        const db_search_test *t = q->c[i].contains ? &dl->contains : &dl->equals;
        if (o < cap)
            o += (size_t)snprintf(sql + o, cap - o, "%s%s%s%zu%s", t->pre, field_col[f], t->mid,
                                  i + 2, t->post);
    }
    if (!count && o < cap)
        o += (size_t)snprintf(sql + o, cap - o, "%s LIMIT %s%zu OFFSET %s%zu", dl->order, dl->param,
                              q->n + 2, dl->param, q->n + 3);
    return o;
}

/* SQLite's: lower() changes ASCII letters only. */
static const db_search_dialect search_sqlite = {
    .view = DB_SEARCH_VIEW("?1"),
    .from_all = DB_SEARCH_FROM_ALL("?1", "user"),
    .from_known = DB_SEARCH_FROM_KNOWN("?1", "user"),
    .contains = {" AND instr(lower(coalesce(", ", '')), lower(?", ")) > 0"},
    .equals = {" AND lower(coalesce(", ", '')) = lower(?", ")"},
    .order = " ORDER BY u.name",
    .param = "?",
};

/* Prepare one search statement (the count or the page) and bind the values. */
static int search_prepare(db *d, const char *searcher, const struct rv_search *q, dir_public pub,
                          bool count, sqlite3_stmt **out)
{
    char sql[DB_SEARCH_SQL_MAX];
    if (db_search_text(&search_sqlite, q, pub, count, sql, sizeof sql) >= sizeof sql)
        return BANTER_EINVAL;
    int rc = sqlite3_prepare_v2(d->sql, sql, -1, out, NULL);
    if (rc != SQLITE_OK)
        return db_fail(d, rc);
    int ret = db_bind_name(d, *out, 1, searcher);
    for (size_t i = 0; ret == 0 && rc == SQLITE_OK && i < q->n; i++)
        rc = sqlite3_bind_text(*out, (int)i + 2, q->c[i].value, -1, SQLITE_STATIC);
    if (ret == 0 && rc == SQLITE_OK && !count)
        rc = sqlite3_bind_int64(*out, (int)q->n + 2, q->per_page);
    if (ret == 0 && rc == SQLITE_OK && !count)
        rc = sqlite3_bind_int64(*out, (int)q->n + 3, (int64_t)q->page * q->per_page);
    return ret ? ret : rc == SQLITE_OK ? 0 : db_fail(d, rc);
}

/* The rows of a page statement into res->users (per_page at most), each
 * as its view (column 1) sees it. */
static int search_rows(db *d, sqlite3_stmt *s, uint32_t per_page, dir_public pub,
                       struct rv_search_result *res)
{
    int rc = SQLITE_DONE;
    res->users = calloc(per_page, sizeof *res->users);
    if (!res->users)
        return BANTER_ENOMEM;
    while (res->n < per_page && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct rv_user *u = &res->users[res->n++];
        db_column_copy(s, 0, u->name, sizeof u->name);
        int v = sqlite3_column_int(s, 1);
        int r = read_profile(s, 2, pub,
                             v == DIR_SELF      ? DIR_SELF
                             : v == DIR_CONTACT ? DIR_CONTACT
                                                : DIR_STRANGER,
                             true, &u->p);
        if (r)
            return r;
    }
    return res->n == per_page || rc == SQLITE_DONE ? 0 : db_fail(d, rc);
}

int db_search(db *d, const char *searcher, const struct rv_search *q, uint32_t pub,
              struct rv_search_result *res)
{
    if (d->pg)
        return pgs_search(d, searcher, q, pub, res);
    sqlite3_stmt *s = NULL;
    memset(res, 0, sizeof *res);
    res->page = q->page;
    if (q->n < 1 || q->n > RV_SEARCH_MAX || q->per_page < 1 || q->per_page > RV_PER_PAGE_MAX)
        return BANTER_EINVAL;
    int64_t total = 0;
    int ret = search_prepare(d, searcher, q, pub, true, &s);
    if (ret == 0)
        ret = db_step_int(d, s, &total);
    res->total = (uint64_t)total;
    sqlite3_finalize(s);
    s = NULL;
    if (ret == 0)
        ret = search_prepare(d, searcher, q, pub, false, &s);
    if (ret == 0)
        ret = search_rows(d, s, q->per_page, pub, res);
    sqlite3_finalize(s);
    return ret;
}

/* ---- broadcast recipients ---- */

#define RCPT_FROM                                                                                  \
    " FROM users u LEFT JOIN profiles p ON p.user = u.name"                                        \
    " WHERE u.disabled = 0 AND u.name <> ?1"                                                       \
    " AND EXISTS (SELECT 1 FROM devices v WHERE v.user = u.name)"                                  \
    " AND (?2 = '' OR lower(coalesce(p.department, '')) = lower(?2))"

/* Bind sender and department to a recipients statement. */
static int rcpt_bind(db *d, sqlite3_stmt *s, const char *sender, const char *department)
{
    int ret = db_bind_name(d, s, 1, sender);
    if (ret)
        return ret;
    int rc = sqlite3_bind_text(s, 2, department, -1, SQLITE_STATIC);
    return rc == SQLITE_OK ? 0 : db_fail(d, rc);
}

static int rcpt_total(db *d, const char *sender, const char *department, uint64_t *total)
{
    sqlite3_stmt *s;
    int64_t n = 0;
    int ret = db_stmt(d, S_RCPT_COUNT, "SELECT count(*)" RCPT_FROM, &s);
    if (ret == 0)
        ret = rcpt_bind(d, s, sender, department);
    if (ret == 0)
        ret = db_step_int(d, s, &n);
    db_done(s);
    *total = (uint64_t)n;
    return ret;
}

int db_recipients(db *d, const char *sender, const char *department, uint32_t page,
                  struct rv_recipients *out)
{
    if (d->pg)
        return pgs_recipients(d, sender, department, page, out);
    sqlite3_stmt *s;
    int rc = SQLITE_DONE;
    memset(out, 0, sizeof *out);
    out->page = page;
    int ret = rcpt_total(d, sender, department, &out->total);
    if (ret)
        return ret;
    out->users = calloc(RV_RCPT_PER_PAGE, sizeof *out->users);
    if (!out->users)
        return BANTER_ENOMEM;
    ret = db_stmt(d, S_RCPT_PAGE, "SELECT u.name" RCPT_FROM " ORDER BY u.name LIMIT ?3 OFFSET ?4",
                  &s);
    if (ret == 0)
        ret = rcpt_bind(d, s, sender, department);
    if (ret == 0 &&
        ((rc = sqlite3_bind_int(s, 3, (int)RV_RCPT_PER_PAGE)) != SQLITE_OK ||
         (rc = sqlite3_bind_int64(s, 4, (int64_t)page * RV_RCPT_PER_PAGE)) != SQLITE_OK))
        ret = db_fail(d, rc);
    while (ret == 0 && out->n < RV_RCPT_PER_PAGE && (rc = sqlite3_step(s)) == SQLITE_ROW)
        db_column_copy(s, 0, out->users[out->n++].name, sizeof out->users[0].name);
    if (ret == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
        ret = db_fail(d, rc);
    db_done(s);
    /* The devices, once the page statement is no longer running. */
    for (size_t i = 0; ret == 0 && i < out->n; i++)
        ret = db_devices_of(d, out->users[i].name, out->users[i].dev, RV_DEVICES_MAX,
                            &out->users[i].ndev);
    return ret;
}
