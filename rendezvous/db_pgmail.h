/* SPDX-License-Identifier: MIT */
/*
 * db_pgmail.h - the sealed copies (db_mail.h) on PostgreSQL, asynchronous:
 * the hot path of storing, fetching and acknowledging copies, each call
 * one statement on a db_pg connection, so its callback reporting success
 * means committed ("stored" may be said then). Same tables, same results
 * and the same rules as db_mail.h; not used by the server yet
 * (docs/rendezvous.md 8.1).
 *
 * The quota is checked in the statement that inserts, against the
 * mailbox row as the statement sees it: two instances storing for one
 * account at the same instant may each pass it, so a mailbox can end a
 * few copies over its quota (never unbounded: each store checks).
 */
#ifndef BANTER_RDV_DB_PGMAIL_H
#define BANTER_RDV_DB_PGMAIL_H

#include "db_mail.h"
#include "db_pg.h"

/* ret is DB_MAIL_STORED (seq the new row's), DB_MAIL_DUPLICATE,
 * DB_MAIL_OVER_QUOTA, or BANTER_EDB (errmsg says why). */
typedef void (*db_pgmail_put_fn)(void *ud, int ret, int64_t seq, const char *errmsg);
/* ret 0 or BANTER_EDB; n as the call says. */
typedef void (*db_pgmail_done_fn)(void *ud, int ret, int64_t n, const char *errmsg);

/* Store m (copied before the call returns) as db_mail_put does.
 * BANTER_EINVAL for a bad copy, or as db_pg_query; then cb never runs. */
BANTER_WUR int db_pgmail_put(db_pg *p, const db_sealed *m, int64_t max_count, int64_t max_bytes,
                             db_pgmail_put_fn cb, void *ud);

/* Delete one copy by seq, or by id, device and sending device (an
 * acknowledgement); n is 1 when a copy was deleted, else 0. */
BANTER_WUR int db_pgmail_del_seq(db_pg *p, int64_t seq, db_pgmail_done_fn cb, void *ud);
BANTER_WUR int db_pgmail_del_id(db_pg *p, const uint8_t id[static 16],
                                const uint8_t device[static 32],
                                const uint8_t from_device[static 32], db_pgmail_done_fn cb,
                                void *ud);

/* The same store and acknowledgement as a statement of batch b (db_pg.h):
 * a loop iteration's copies and acknowledgements committed together, the
 * callbacks after the COMMIT. The quota sees the batch's earlier copies. */
BANTER_WUR int db_pgmail_batch_put(db_pg_batch *b, const db_sealed *m, int64_t max_count,
                                   int64_t max_bytes, db_pgmail_put_fn cb, void *ud);
BANTER_WUR int db_pgmail_batch_del_id(db_pg_batch *b, const uint8_t id[static 16],
                                      const uint8_t device[static 32],
                                      const uint8_t from_device[static 32], db_pgmail_done_fn cb,
                                      void *ud);

/* fn with each copy for device with a seq above after that has not
 * expired at now_ms, oldest first, at most max (each valid during its
 * call), then cb with n = how many. */
BANTER_WUR int db_pgmail_fetch(db_pg *p, const uint8_t device[static 32], int64_t after,
                               int64_t now_ms, size_t max, db_mail_fn fn, db_pgmail_done_fn cb,
                               void *ud);

/* Delete at most max copies expired at now_ms; n is how many. */
BANTER_WUR int db_pgmail_expire(db_pg *p, int64_t now_ms, int64_t max, db_pgmail_done_fn cb,
                                void *ud);

#endif
