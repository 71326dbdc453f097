/* SPDX-License-Identifier: MIT */
/*
 * doctorctl.h - the control socket's "doctor" request (docs/control.md,
 * "Doctor"): a list of checks, each {name, status ok|warn|fail|skip, a
 * sentence a user can act on}, about LAN discovery, the rendezvous, NAT
 * and TURN (from natctl's answer), the NAT's mapping behaviour (from
 * STUN answers: net/stunmap.h), whether this node's port is reachable
 * from outside (the rendezvous connects back: RV_PROBE, docs/rendezvous.md
 * 16) and, when one is named, a contact.
 *
 * The functions here are pure (what the node knows in, one check out)
 * and tested alone; control.c gathers the inputs and sends the reply.
 * Each writes its sentence into the check's text buffer.
 */
#ifndef BANTER_PEER_DOCTORCTL_H
#define BANTER_PEER_DOCTORCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/node.h"
#include "natmap.h"
#include "rdv/rdv.h"
#include "ctlmsg.h"

#define DOCTOR_TEXT_CAP   1280
#define DOCTOR_MAX_CHECKS 8

typedef struct doctor_check {
    const char *name;   /* static: "discovery", "rendezvous", "nat", "turn", "mapping",
                           "port", "contact" */
    const char *status; /* static: "ok", "warn", "fail", "skip" */
    char text[DOCTOR_TEXT_CAP];
} doctor_check;

/* LAN discovery as the node runs it, kept by its owner (app.c) and read
 * by doctor_discovery. */
typedef enum doctor_mdns {
    DOCTOR_MDNS_OFF,     /* --no-mdns */
    DOCTOR_MDNS_POLICY,  /* the organisation's policy forbids it */
    DOCTOR_MDNS_WAITING, /* started, avahi-daemon not heard from yet */
    DOCTOR_MDNS_UP,      /* avahi-daemon reachable: publishing and browsing */
    DOCTOR_MDNS_DOWN     /* avahi-daemon not reachable */
} doctor_mdns;

#define DOCTOR_QUIET_MS 10000 /* no mDNS answer this long after start: a warning */

typedef struct doctor_lan {
    doctor_mdns state;
    char why[128];    /* DOCTOR_MDNS_DOWN: what the Avahi client said, or "" */
    unsigned answers; /* colleagues' services resolved since the start */
    int64_t up_ms;    /* when it became DOCTOR_MDNS_UP (milliseconds, monotonic) */
} doctor_lan;

/* lan NULL: not known (no owner told): only the interfaces are checked.
 * ifaces: mdns_ifaces()'s list ("" when none can send multicast); now_ms
 * on up_ms's clock. */
void doctor_discovery(doctor_check *c, const doctor_lan *lan, const char *ifaces, int64_t now_ms);
/* st NULL: no rendezvous configured. */
void doctor_rendezvous(doctor_check *c, const rdv_status *st);
/* From natctl's answer: the NAT check and the TURN check; rep NULL: the
 * check could not run, why (natctl's error message) says why. */
void doctor_nat(doctor_check *nat, doctor_check *turn, const ctl_nat *rep, const char *why);
/* The NAT's mapping behaviour from the STUN check's report r; r NULL: the
 * check did not run, skip says why. */
void doctor_mapping(doctor_check *c, const natmap_report *r, const char *skip);
/* The "port" check: the rendezvous's answer to rdv_port_probe for this node's
 * listening port, or a NULL a when it was not asked (why says why: no
 * rendezvous, not logged in, no port). */
void doctor_port(doctor_check *c, unsigned port, const rdv_answer *a, const char *why);
/* pi NULL: the name was not resolved (why says why). */
void doctor_contact(doctor_check *c, const char *peer, const node_peer_info *pi, const char *why);

#endif
