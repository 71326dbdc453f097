/* SPDX-License-Identifier: MIT */
/*
 * db_contacts.h - relations and presence in the database (schema 3; the
 * conventions and error codes of db.h).
 *
 *   contacts(user, peer, rel, blocked, updated): user's side of its
 *            relation with peer (rel.h); a row exists while the side
 *            has a relation or a block, and both sides of a pair are
 *            always written together.
 *   presence(user, status, text, updated): the presence the account chose
 *            (RV_P_ONLINE..RV_P_INVISIBLE); none means online, "".
 */
#ifndef BANTER_RDV_DB_CONTACTS_H
#define BANTER_RDV_DB_CONTACTS_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "rel.h"

/* One relation of an account, with the other side's block. */
typedef struct db_rel {
    char peer[DB_MAX_USER + 1];
    rel_side side;   /* the account's side */
    bool blocked_me; /* the peer blocked the account */
} db_rel;

/* Every relation of user ordered by peer name, in a new array (*out,
 * free() it; NULL when none) of *n entries: each account user has a row
 * about, and each that blocked user without one (side none). */
BANTER_WUR int db_rel_list(db *d, const char *user, db_rel **out, size_t *n);

/* Both sides of the pair a, b (a side without a row: none, not blocked). */
BANTER_WUR int db_rel_pair(db *d, const char *a, const char *b, rel_side *sa, rel_side *sb);

/* Store both sides of the pair in one transaction (a side that no longer
 * exists is deleted). A side that is blocked takes back, in the same
 * transaction, what the other account stored for it and was not
 * delivered (db_mail_purge_from, locked first, so that no copy from the
 * blocked account is stored after it commits). BANTER_EDB when an account
 * does not exist. */
BANTER_WUR int db_rel_write(db *d, const char *a, const char *b, rel_side sa, rel_side sb,
                            int64_t now_ms);

/* How many relation rows user has. */
BANTER_WUR int db_rel_count(db *d, const char *user, int64_t *n);

/* The presence user chose (RV_P_ONLINE and "" when never set); text has
 * RV_TEXT_MAX + 1 bytes. */
BANTER_WUR int db_presence_get(db *d, const char *user, uint8_t *status, char *text);
/* Store it. BANTER_EINVAL for a status outside ONLINE..INVISIBLE or a text
 * the codec would refuse. */
BANTER_WUR int db_presence_set(db *d, const char *user, uint8_t status, const char *text,
                               int64_t now_ms);

#endif
