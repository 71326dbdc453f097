/* SPDX-License-Identifier: MIT */
/*
 * sqlh.h - SQLite helpers shared by the node's store and the rendezvous
 * server's database: result codes to BANTER_E*, one-row PRAGMA queries,
 * the connection settings every Banter database uses (WAL,
 * synchronous=FULL, foreign keys, a busy timeout), and schema migrations
 * numbered by PRAGMA user_version.
 *
 * Every call that can fail copies SQLite's text (or its own) into errmsg
 * (cap bytes, always terminated) and returns a BANTER_E* code: BANTER_ENOSPC
 * (disk full), BANTER_ENOMEM, or BANTER_EDB.
 */
#ifndef BANTER_SQLH_H
#define BANTER_SQLH_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* The BANTER_E* code for a SQLite result code. */
int sqlh_map(sqlite3 *db, int rc);
/* Record sqlite3_errmsg in errmsg and return sqlh_map(rc). */
int sqlh_fail(sqlite3 *db, int rc, char *errmsg, size_t cap);
/* sqlite3_exec with no callback. */
BANTER_WUR int sqlh_exec(sqlite3 *db, const char *sql, char *errmsg, size_t cap);
/* A one-row statement: its first column as an integer in *val and as text
 * in txt (either may be NULL). No row: BANTER_EDB. */
BANTER_WUR int sqlh_query_one(sqlite3 *db, const char *sql, int64_t *val, char *txt, size_t txtlen,
                              char *errmsg, size_t cap);
/* Extended result codes, busy timeout, WAL (or "memory" for :memory:),
 * synchronous=FULL, foreign keys on. */
BANTER_WUR int sqlh_setup(sqlite3 *db, int busy_ms, char *errmsg, size_t cap);
/* Take the schema from its user_version to count in one transaction:
 * migrations[v] goes from version v to v + 1. A newer version than count is
 * refused (who names the program in the message) and nothing changes. */
BANTER_WUR int sqlh_migrate(sqlite3 *db, const char *const *migrations, int count, const char *who,
                            char *errmsg, size_t cap);

#endif
