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

static const char *or_empty(const char *s) { return s ? s : ""; }

void doctor_nat(doctor_check *nat, doctor_check *turn, const ctl_nat *rep, const char *why)
{
    if (!rep) {
        why = why && why[0] ? why : "the check could not run";
        set(nat, "nat", "skip", why);
        set(turn, "turn", "skip", why);
        return;
    }
    const char *n = or_empty(rep->nat), *t = or_empty(rep->turn), *v = or_empty(rep->verdict);
    nat->name = "nat";
    if (strcmp(n, "none") == 0) {
        nat->status = "ok";
        snprintf(nat->text, sizeof nat->text, "no NAT: a public address (%s)",
                 or_empty(rep->mapped));
    } else if (strcmp(n, "behind") == 0) {
        nat->status = "ok";
        snprintf(nat->text, sizeof nat->text, "behind NAT, seen from outside as %s",
                 or_empty(rep->mapped));
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

/* What the rendezvous found at our port, as a reason after "not reachable". */
static const char *probe_reason(rv_probe_res r)
{
    switch (r) {
    case RV_PR_TIMEOUT:
        return "no answer within 3 s: a firewall or NAT drops it";
    case RV_PR_REFUSED:
        return "refused: a firewall rejects it, or the NAT forwards it nowhere";
    case RV_PR_UNREACHABLE:
        return "the address is unreachable from the rendezvous";
    default:
        return "something else answers there: the NAT or router forwards it to another machine "
               "or program";
    }
}

void doctor_port(doctor_check *c, unsigned port, const rdv_answer *a, const char *why)
{
    c->name = "port";
    if (!a) {
        c->status = "skip";
        snprintf(c->text, sizeof c->text, "%s", why);
    } else if (a->err && a->code && strcmp(a->code, "ERATE") == 0) {
        c->status = "skip";
        snprintf(c->text, sizeof c->text,
                 "the rendezvous tests a port at most once every 10 s: run doctor again shortly");
    } else if (a->err && a->code && strcmp(a->code, "EPERM") == 0) {
        c->status = "skip";
        snprintf(c->text, sizeof c->text,
                 "the rendezvous does not test ports for this node (it sees it at a loopback "
                 "address, or its admin turned the test off)");
    } else if (a->err && a->code && strcmp(a->code, "EBADTYPE") == 0) {
        c->status = "skip";
        snprintf(c->text, sizeof c->text,
                 "the rendezvous is too old to test whether port %u is reachable from outside",
                 port);
    } else if (a->err || !a->probe) {
        c->status = "skip";
        snprintf(c->text, sizeof c->text, "could not ask the rendezvous to test port %u: %s", port,
                 a->why ? a->why : "no answer");
    } else if (a->probe->result == RV_PR_REACHABLE) {
        c->status = "ok";
        snprintf(c->text, sizeof c->text,
                 "your port %u is reachable from outside: the rendezvous connected to %s port %u "
                 "and this node answered",
                 port, a->probe->address[0] ? a->probe->address : "this node's address", port);
    } else if (a->probe->result == RV_PR_ERROR) {
        c->status = "skip";
        snprintf(c->text, sizeof c->text,
                 "the rendezvous could not test your port %u (it is short of resources): try "
                 "again later",
                 port);
    } else {
        c->status = "warn";
        snprintf(c->text, sizeof c->text,
                 "your port %u is not reachable from the rendezvous (%s%s%s): direct connections "
                 "will go through NAT traversal or the relay (to accept them directly, forward "
                 "TCP port %u to this machine and allow it in the firewall)",
                 port, probe_reason(a->probe->result), a->probe->address[0] ? "; tried " : "",
                 a->probe->address, port);
    }
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

/* "A and B" (the vantage points asked), into out. */
static void points(const natmap_report *r, char *out, size_t cap)
{
    char a[STUN_ADDR_STR], b[STUN_ADDR_STR];
    stun_addr_format(&r->dest[0], a);
    if (r->n < 2) {
        snprintf(out, cap, "%s", a);
        return;
    }
    stun_addr_format(&r->dest[1], b);
    snprintf(out, cap, "%s and %s", a, b);
}

static void mapping_unreachable(doctor_check *c, const natmap_report *r, const char *who)
{
    unsigned code = r->err_code[0] ? r->err_code[0] : r->n > 1 ? r->err_code[1] : 0;
    bool all_refused = r->n > 0;
    for (size_t i = 0; i < r->n; i++)
        all_refused = all_refused && r->refused[i];
    c->status = "fail";
    if (all_refused)
        snprintf(c->text, sizeof c->text,
                 "STUN unreachable: nothing listens on %s (ICMP port unreachable): direct "
                 "connections beyond the LAN will fail (is the STUN/TURN server, coturn, "
                 "running? tell the admin)",
                 who);
    else if (code)
        snprintf(c->text, sizeof c->text,
                 "STUN refused: %s answered with error %u and no address: the NAT's behaviour is "
                 "unknown (ask the admin to check the STUN server)",
                 who, code);
    else
        snprintf(c->text, sizeof c->text,
                 "STUN unreachable (UDP blocked?): no answer from %s within %d s: direct "
                 "connections beyond the LAN will fail, and TURN over UDP too (allow outgoing UDP "
                 "to the STUN port, or ask the admin for TURN over TCP)",
                 who, NATMAP_DEADLINE_MS / 1000);
}

void doctor_mapping(doctor_check *c, const natmap_report *r, const char *skip)
{
    c->name = "mapping";
    if (!r) {
        set(c, "mapping", "skip", skip && skip[0] ? skip : "the check could not run");
        return;
    }
    char who[2 * STUN_ADDR_STR + 8], m0[STUN_ADDR_STR], m1[STUN_ADDR_STR];
    points(r, who, sizeof who);
    size_t i0 = r->answered[0] ? 0 : 1, i1 = 1 - i0;
    stun_addr_format(&r->mapped[i0], m0);
    stun_addr_format(&r->mapped[i1], m1);
    switch (r->verdict) {
    case NATMAP_UNREACHABLE:
        mapping_unreachable(c, r, who);
        break;
    case NATMAP_NO_NAT:
        c->status = "ok";
        snprintf(c->text, sizeof c->text,
                 "no NAT: the STUN server sees this host's own address %s: direct connections are "
                 "likely (a firewall may still drop unsolicited packets)",
                 m0);
        break;
    case NATMAP_INDEPENDENT:
        c->status = "ok";
        snprintf(c->text, sizeof c->text,
                 "endpoint-independent mapping (a cone NAT): %s both see this node as %s: direct "
                 "connections are likely",
                 who, m0);
        break;
    case NATMAP_DEPENDENT: {
        char d0[STUN_ADDR_STR], d1[STUN_ADDR_STR];
        stun_addr_format(&r->dest[0], d0);
        stun_addr_format(&r->dest[1], d1);
        c->status = "warn";
        snprintf(c->text, sizeof c->text,
                 "address/port-dependent mapping (a symmetric NAT): %s sees this node as %s, %s "
                 "as %s: direct connections to other NATed colleagues will usually go through "
                 "TURN (slower; ask the network admin for a NAT with endpoint-independent "
                 "mapping, RFC 4787)",
                 d0, m0, d1, m1);
        break;
    }
    case NATMAP_ONE_POINT:
        c->status = r->n < 2 ? "skip" : "warn";
        if (r->n < 2)
            snprintf(c->text, sizeof c->text,
                     "seen from outside as %s by %s, but the mapping behaviour is unknown: the "
                     "rendezvous names one STUN address only and it gives no OTHER-ADDRESS (an "
                     "admin names a second one: stun = stun:HOST:PORT, stun:HOST2:PORT2)",
                     m0, who);
        else
            snprintf(c->text, sizeof c->text,
                     "seen from outside as %s, but only one of %s answered: the mapping "
                     "behaviour is unknown (%s)",
                     m0, who,
                     r->refused[i1] ? "nothing listens on the other: ICMP port unreachable"
                                    : "UDP to the other may be blocked");
        break;
    }
}
