/* SPDX-License-Identifier: MIT */
/*
 * orgpolicy.h - the organisation's policy on the running server
 * (docs/rendezvous.md section 11): loaded and signed at start, changed by
 * an admin (acct.c, `policy set`; on a cluster the other instances are
 * told once it is stored, and read it), and sent as RV_POLICY (0x62: the type
 * byte and the signed policy of policy.h) to every authenticated device
 * whose HELLO listed the feature "policy", at login and on every change.
 *
 * The server itself applies one rule: public_fields is the directory's
 * public fields (core.pub, dirview.h), in place of the configuration's
 * directory_public_fields once an admin set a policy.
 */
#ifndef BANTER_RDV_ORGPOLICY_H
#define BANTER_RDV_ORGPOLICY_H

#include "conn.h"
#include "core.h"

#define ORGPOLICY_FEATURE "policy" /* the HELLO feature of a node that takes RV_POLICY */
#define RV_POLICY         0x62

/* Load the stored policy (if any) into k and sign it. 0, or the
 * database's error (logged; the server runs with the configuration's
 * rules then). */
int orgpolicy_load(core *k);
/* Make p (values set, serial and time given here) the policy: signed and
 * applied at once, stored by a database job, then sent to every device
 * that takes it. 0 or BANTER_E* (nothing changed). A failure to store it
 * is logged and the previous policy applies again (unless a later one
 * was set meanwhile). */
BANTER_WUR int orgpolicy_set(core *k, policy *p);
/* On a cluster: another instance stored a policy, or this one joined the
 * service again: read the stored one (a database job) and, when it is
 * newer than the one here (its serial), sign it, apply it and send it to
 * every device that takes it. A failure is logged. */
void orgpolicy_reload(core *k);
/* c just authenticated: send it the policy, if there is one and it
 * takes it. */
void orgpolicy_device_up(conn *c);

#endif
