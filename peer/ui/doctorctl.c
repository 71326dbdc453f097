/* SPDX-License-Identifier: MIT */
/* doctorctl.c - the "doctor" request's checks (doctorctl.h). */
#include "ui/doctorctl.h"

#include <stdio.h>
#include <string.h>

static void set(doctor_check *c, const char *name, const char *status, const char *text)
{
    c->name = name;
    c->status = status;
    snprintf(c->text, sizeof c->text, "%s", text);
}

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

void doctor_discovery(doctor_check *c, const doctor_lan *lan, const char *ifaces, int64_t now_ms)
{
    c->name = "discovery";
    if (lan && lan->state == DOCTOR_MDNS_OFF) {
        set(c, "discovery", "skip",
            "LAN discovery is off (--no-mdns): only static peers and the rendezvous are used");
    } else if (lan && lan->state == DOCTOR_MDNS_POLICY) {
        set(c, "discovery", "skip", "LAN discovery is off: the organisation's policy forbids it");
    } else if (lan && lan->state == DOCTOR_MDNS_DOWN) {
        c->status = "fail";
        snprintf(c->text, sizeof c->text,
                 "avahi-daemon is not reachable%s%s%s: colleagues on the LAN cannot be found "
                 "(start it: systemctl start avahi-daemon)",
                 lan->why[0] ? " (" : "", lan->why, lan->why[0] ? ")" : "");
    } else if (!ifaces[0]) {
        set(c, "discovery", "fail",
            "no network interface is up with multicast and an IPv4 address: colleagues on the "
            "LAN cannot be found (connect to a network, or turn multicast on: ip link set DEV "
            "multicast on)");
    } else if (lan && lan->state == DOCTOR_MDNS_WAITING) {
        c->status = "warn";
        snprintf(c->text, sizeof c->text,
                 "waiting for avahi-daemon to answer (multicast-capable interfaces: %s)", ifaces);
    } else if (lan && !lan->answers && now_ms - lan->up_ms >= DOCTOR_QUIET_MS) {
        c->status = "warn";
        snprintf(c->text, sizeof c->text,
                 "no mDNS answers seen on %s: multicast may be blocked (or no colleague runs "
                 "Banter on this LAN)",
                 ifaces);
    } else {
        c->status = "ok";
        snprintf(c->text, sizeof c->text, "LAN discovery runs on %s; %u mDNS answer%s seen", ifaces,
                 lan ? lan->answers : 0, lan && lan->answers == 1 ? "" : "s");
    }
}

void doctor_rendezvous(doctor_check *c, const rdv_status *st)
{
    c->name = "rendezvous";
    if (!st) {
        set(c, "rendezvous", "skip",
            "no rendezvous configured: only LAN colleagues are reached (start the node with "
            "--rendezvous to reach contacts elsewhere)");
    } else if (!st->connected) {
        c->status = "fail";
        snprintf(c->text, sizeof c->text, "not connected to the rendezvous %s: %s", st->server,
                 st->error[0] ? st->error : "it does not answer (is it running and reachable?)");
    } else if (!st->user[0]) {
        c->status = "warn";
        snprintf(c->text, sizeof c->text, "connected to %s but not logged in%s%s%s", st->server,
                 st->auth_error[0] ? " (the server refused: " : ": run `banter login`",
                 st->auth_error, st->auth_error[0] ? ")" : "");
    } else {
        c->status = "ok";
        snprintf(c->text, sizeof c->text, "connected to %s and logged in as %s", st->server,
                 st->user);
    }
}

void doctor_nat(doctor_check *nat, doctor_check *turn, const cJSON *answer)
{
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(answer, "ok"))) {
        const char *why = jstr(answer, "message");
        set(nat, "nat", "skip", why[0] ? why : "the check could not run");
        set(turn, "turn", "skip", why[0] ? why : "the check could not run");
        return;
    }
    const char *n = jstr(answer, "nat"), *t = jstr(answer, "turn"), *v = jstr(answer, "verdict");
    nat->name = "nat";
    if (strcmp(n, "none") == 0) {
        nat->status = "ok";
        snprintf(nat->text, sizeof nat->text, "no NAT: a public address (%s)",
                 jstr(answer, "mapped"));
    } else if (strcmp(n, "behind") == 0) {
        nat->status = "ok";
        snprintf(nat->text, sizeof nat->text, "behind NAT, seen from outside as %s",
                 jstr(answer, "mapped"));
    } else {
        set(nat, "nat", "warn",
            "the STUN server did not answer: the NAT is unknown and direct connections beyond "
            "the LAN may fail (check that UDP to the STUN server is allowed)");
    }
    turn->name = "turn";
    turn->status = strcmp(t, "udp") == 0    ? "ok"
                   : strcmp(t, "tcp") == 0  ? "warn"
                   : strcmp(t, "none") == 0 ? "skip"
                                            : "fail";
    snprintf(turn->text, sizeof turn->text, "%s", v);
}

void doctor_contact(doctor_check *c, const char *peer, const node_peer_info *pi, const char *why)
{
    c->name = "contact";
    if (!pi) {
        c->status = "fail";
        snprintf(c->text, sizeof c->text, "%s", why);
        return;
    }
    const char *name = pi->contact.name[0] ? pi->contact.name : peer;
    if (pi->state[0] && strcmp(pi->state, "approved") != 0) {
        c->status = "fail";
        snprintf(c->text, sizeof c->text,
                 "%s is not an approved contact (%s): messages are refused until both accept", name,
                 pi->state);
    } else if (!pi->online) {
        c->status = "warn";
        bool org = pi->contact.account[0] != '\0';
        snprintf(c->text, sizeof c->text,
                 "%s is offline%s: messages are queued and delivered when it comes back", name,
                 org ? " (no device logged in to the rendezvous)" : "");
    } else {
        const node_device_info *d = pi->ndev ? &pi->devs[0] : NULL;
        c->status = "ok";
        snprintf(c->text, sizeof c->text, "%s is online, reached by %s%s%s", name,
                 d && d->route[0] ? d->route : "an unknown route", d && d->path[0] ? ": " : "",
                 d ? d->path : "");
    }
}
