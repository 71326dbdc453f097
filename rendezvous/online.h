/* SPDX-License-Identifier: MIT */
/*
 * online.h - the accounts that have at least one authenticated connection,
 * in memory: name -> account -> its connected devices. Pushes (presence,
 * contact changes) and routing to a device look here, never at the disk.
 *
 * An account record exists exactly while one of its devices is connected
 * and authenticated: online_attach makes it for the first device,
 * online_detach frees it after the last one left (the caller sees that
 * coming: online_detach returns true just before it frees the record, and
 * the record is still valid during the call to its `last` hook, if any).
 *
 * Hash table with separate chaining, doubled when it gets full; user names
 * are chosen by admins, not by the network, so a plain FNV-1a hash does.
 */
#ifndef BANTER_RDV_ONLINE_H
#define BANTER_RDV_ONLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "rvmsg.h"

/* One relation of an online account as its contact cache holds it
 * (contacts.c keeps it in step with the database). */
typedef struct crel {
    char *peer;      /* the other account's name (owned) */
    uint8_t rel;     /* REL_* of rel.h: the pair's relation seen from this side */
    bool blocked;    /* this account blocked the peer */
    bool blocked_me; /* the peer blocked this account */
} crel;

struct account {
    account *hnext;           /* hash chain */
    hlist devs;               /* connected authenticated devices (through conn.dev) */
    crel *rel;                /* relations sorted by peer name (contacts.c); owned */
    char *text;               /* the status text chosen, NULL for "" (owned) */
    uint8_t (*elsewhere)[32]; /* on a cluster: its devices online on other instances, as
                                 last read (contacts_own_read; owned), nelsewhere of them */
    uint64_t status_read;     /* on a cluster: presence reads numbered up to this may
                                 predate the status held here (cluster.h) */
    uint32_t ndevs;
    uint32_t nrel, caprel;
    uint32_t nelsewhere;
    uint8_t status; /* rv_presence chosen (RV_P_ONLINE ... RV_P_INVISIBLE) */
    uint8_t shown;  /* the presence contacts were last told (RV_P_*) */
    bool admin;
    bool broadcast; /* may send organisation broadcasts */
    bool loaded;    /* status and relations were read from the database */
    char name[];
};

/* NULL when out of memory. */
online *online_new(void);
/* Only when no account is left (every connection was closed). Accepts NULL. */
void online_free(online *on);

/* The account named name, or NULL when none of its devices is connected. */
account *online_find(const online *on, const char *name);

/* Authenticated c as name: adds it to the account's devices, making the
 * account record on its first device (*first is then true). BANTER_ENOMEM
 * (nothing changed). c must not be attached yet. */
BANTER_WUR int online_attach(online *on, conn *c, const char *name, bool *first);

/* c leaves its account (no-op when not attached). Returns true when it was
 * the last device: the record is then freed after `last` (may be NULL) was
 * called with it. */
bool online_detach(online *on, conn *c, void (*last)(account *a, void *ud), void *ud);

/* Accounts connected (for the stats line). */
size_t online_count(const online *on);

/* Calls fn for every account (fn must not attach or detach). */
void online_each(const online *on, void (*fn)(account *a, void *ud), void *ud);

/* The connected device c of a whose key is key, or NULL. */
conn *online_device(const account *a, const uint8_t key[static 32]);

#endif
