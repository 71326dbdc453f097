/* SPDX-License-Identifier: MIT */
/*
 * orgrevoke.h - the revocation list on the running server
 * (docs/rendezvous.md section 14): the device keys an admin revoked within
 * the lifetime of a certificate (AUTH_CERT_TTL_MS: any certificate they
 * were issued before may still be valid), newest first, at most
 * REVLIST_MAX_KEYS, signed by the server key (annmsg.h). Built at start,
 * again on every `device revoke`, and every ORGREVOKE_REFRESH_MS (keys age
 * out: sent again only when that changed it); sent as RV_REVOKED (0x65) to every authenticated
 * device whose HELLO listed "announce", at login and whenever it changes.
 */
#ifndef BANTER_RDV_ORGREVOKE_H
#define BANTER_RDV_ORGREVOKE_H

#include "conn.h"
#include "core.h"

#define ORGREVOKE_REFRESH_MS (3600LL * 1000)

/* Build and sign the list (k->rev). 0, or BANTER_ENOMEM / the database's
 * error (logged; the old list, if any, stays). */
int orgrevoke_load(core *k);
/* A device was revoked: build the list again and send it to every device
 * that takes it. */
void orgrevoke_changed(core *k);
/* On a cluster: another instance revoked a device, or this one joined the
 * service again (a change may have been missed): build the list again and
 * send it to every device that takes it when its keys changed. */
void orgrevoke_reload(core *k);
/* c just authenticated: send it the list. */
void orgrevoke_device_up(conn *c);
/* The timer: rebuild when the list is older than ORGREVOKE_REFRESH_MS
 * (and send it when a key left it). */
void orgrevoke_tick(core *k);
/* Free k->rev. */
void orgrevoke_free(core *k);

#endif
