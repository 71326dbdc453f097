/* SPDX-License-Identifier: MIT */
/*
 * db_announce.h - the database side of announcements and of the
 * revocation list (schema 6 of db.h, same connection and conventions):
 *
 *   announcements(id PK, ts, actor, department, text)
 *   announce_to(ann, key, user, delivered, read; PK (ann, key))
 *
 * An announcement is addressed, when it is made, to every device of every
 * enabled account (of one department, compared case-insensitively, when
 * one is given); each such device has a row, and only those devices may
 * confirm it, once as delivered and once as read. The report counts
 * devices and, for "people", accounts with at least one device that read.
 *
 * Errors as db.h. Statements are prepared per call: these run rarely.
 */
#ifndef BANTER_RDV_DB_ANNOUNCE_H
#define BANTER_RDV_DB_ANNOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "annmsg.h"
#include "db.h"

/* Record an announcement and address it: *id its number, *devices and
 * *people how many it went to (0 devices is not an error). One
 * transaction. */
BANTER_WUR int db_announce_add(db *d, int64_t now_ms, const char *actor, const char *department,
                               const char *text, int64_t *id, int64_t *devices, int64_t *people);

/* Whether the announcement id is addressed to key: 1 yes, 0 no. */
BANTER_WUR int db_announce_addressed(db *d, int64_t id, const uint8_t key[static 32]);
/* The same, and key has not confirmed it as delivered yet. */
BANTER_WUR int db_announce_awaited(db *d, int64_t id, const uint8_t key[static 32]);

/* The announcements addressed to key it has not confirmed, oldest first,
 * at most max, to fn (a non-zero return stops and is returned). */
BANTER_WUR int db_announce_pending(db *d, const uint8_t key[static 32], size_t max,
                                   int (*fn)(void *ud, const ann_msg *m), void *ud);

/* The device key confirms announcement id: delivered (read false) or
 * read (which implies delivered). 0 when recorded, 1 when it had already
 * confirmed that; BANTER_ENOENT when id is not addressed to key (no such
 * announcement, or another device's). */
BANTER_WUR int db_announce_receipt(db *d, int64_t id, const uint8_t key[static 32], bool read,
                                   int64_t now_ms);

typedef struct db_announce_report {
    int64_t id, ts;
    char actor[256];
    char department[ANN_MAX_DEPT + 1];
    char text[ANN_MAX_TEXT + 1];
    int64_t devices, delivered, read; /* devices addressed, confirmed, that showed it */
    int64_t people, people_delivered, people_read; /* accounts: addressed, with a device that ... */
} db_announce_report;

/* The report of announcement id. BANTER_ENOENT when there is none. */
BANTER_WUR int db_announce_report_get(db *d, int64_t id, db_announce_report *out);

/* The database's clock (ms since the epoch) on PostgreSQL, which the
 * instances of a service share: the revocation list's time, so that a
 * node moving between instances never takes a newer list for an older
 * one. BANTER_EUNSUPPORTED on SQLite (one server: its own clock). */
BANTER_WUR int db_shared_clock_ms(db *d, int64_t *now_ms);

/* The device keys revoked at or after since_ms, newest first, at most max,
 * into keys; *n how many. */
BANTER_WUR int db_revoked_since(db *d, int64_t since_ms, uint8_t (*keys)[32], size_t max,
                                size_t *n);

#endif
