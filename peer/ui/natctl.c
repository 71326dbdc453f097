/* SPDX-License-Identifier: MIT */
/* natctl.c - `nat_check`: what path this node can offer (see natctl.h). */
#include "ui/natctl.h"

#include <arpa/inet.h>
#include <glib.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "icecand.h"

struct natctl_wait {
    natctl_reply_fn reply; /* NULL once cancelled: the check's end frees it */
    void *ud;
    GPtrArray *lines;
    char servers[1024];
    int64_t cred_expires_ms;
};

static const char *type_name(icecand_type t)
{
    static const char *const names[] = {"host", "srflx", "prflx", "relay"};
    return (unsigned)t < 4 ? names[t] : "?";
}

typedef struct tally {
    int host, srflx, relay_udp, relay_tcp;
    bool mapped_is_host;
    char mapped[64];
    char hosts[8][46];
    int nhosts;
} tally;

static void count(tally *t, const icecand *c, const char *addr, natctl_report *out)
{
    /* libnice's type preference of a relay reached over TCP or TLS is 20,
     * over UDP 30 (docs/ice.md, pitfall 4). */
    bool relay_tcp = c->type == ICECAND_RELAY && (c->priority >> 24) < 30;
    size_t i = out->summary.ncands++;
    ctl_nat_cand *o = &out->cands[i];
    g_strlcpy(out->addrs[i], addr, sizeof out->addrs[i]);
    o->type = type_name(c->type);
    o->transport = c->tcp ? "tcp" : "udp";
    o->address = out->addrs[i];
    o->port = c->port;
    o->turn = c->type == ICECAND_RELAY ? (relay_tcp ? "tcp" : "udp") : NULL;
    if (c->type == ICECAND_HOST) {
        t->host++;
        if (t->nhosts < 8)
            g_strlcpy(t->hosts[t->nhosts++], addr, sizeof t->hosts[0]);
    } else if (c->type == ICECAND_SRFLX) {
        t->srflx++;
        if (!t->mapped[0])
            g_strlcpy(t->mapped, addr, sizeof t->mapped);
    } else if (c->type == ICECAND_RELAY) {
        if (relay_tcp)
            t->relay_tcp++;
        else
            t->relay_udp++;
    }
}

static const char *verdict(const tally *t, bool turn_named, int gather_err, const char **nat)
{
    *nat = !t->mapped[0] ? "unknown" : t->mapped_is_host ? "none" : "behind";
    if (!t->host)
        return "no usable network interface was found: no direct connection is possible";
    if (turn_named && t->relay_udp)
        return t->mapped_is_host
                   ? "a public address, and TURN works: contacts can reach this node directly, "
                     "and through the relay when their own network needs it"
                   : "behind NAT, and TURN works over UDP: contacts behind a friendly NAT connect "
                     "directly, any other through the relay";
    if (turn_named && t->relay_tcp)
        return "UDP to the TURN server is blocked here (a firewall); TURN over TCP works, so "
               "contacts are reached through the relay only (slower); ask the network admin to "
               "allow UDP to the TURN server";
    if (turn_named)
        return gather_err ? "the TURN server did not answer in time: check that it runs and is "
                            "reachable; until then only contacts on this LAN or the server's "
                            "relay (text only) reach this node"
                          : "the TURN server did not give a relay (unreachable, or it refused the "
                            "credentials: check its static-auth-secret against the rendezvous's "
                            "turn_secret); text still goes through the server's relay";
    if (t->srflx)
        return t->mapped_is_host ? "a public address (no NAT): contacts can connect directly"
                                 : "behind NAT, and no TURN server is configured: contacts behind "
                                   "a symmetric NAT cannot connect directly";
    return "the STUN server did not answer: only LAN connections and the server's relay work";
}

static const char *turn_word(const tally *t, bool turn_named)
{
    if (!turn_named)
        return "none";
    if (t->relay_udp)
        return "udp";
    return t->relay_tcp ? "tcp" : "failed";
}

void natctl_summary(natctl_report *out, const char *servers, int64_t cred_expires_ms,
                    const char *const *lines, size_t n, int gather_err)
{
    static const icecand_policy any = {.same_lan = true, .allow_ipv6 = true, .allow_tcp = true};
    tally t = {0};
    const char *nat;
    memset(out, 0, sizeof *out);
    g_strlcpy(out->servers, servers, sizeof out->servers);
    out->summary.servers = out->servers;
    out->summary.credentials_expire_ms = cred_expires_ms > 0 ? cred_expires_ms : 0;
    out->summary.cands = out->cands;
    for (size_t i = 0; i < n && out->summary.ncands < BANTER_ICE_MAX_CANDS; i++) {
        icecand c;
        char addr[64];
        if (icecand_parse(lines[i], strlen(lines[i]), &any, &c) != 0 ||
            !inet_ntop(c.ipv6 ? AF_INET6 : AF_INET, c.addr, addr, sizeof addr))
            continue;
        count(&t, &c, addr, out);
    }
    for (int i = 0; i < t.nhosts; i++)
        t.mapped_is_host |= strcmp(t.hosts[i], t.mapped) == 0;
    bool turn_named = strstr(servers, "turn:") != NULL;
    out->summary.verdict = verdict(&t, turn_named, gather_err, &nat);
    out->summary.host = t.host;
    out->summary.srflx = t.srflx;
    out->summary.relay_udp = t.relay_udp;
    out->summary.relay_tcp = t.relay_tcp;
    out->summary.nat = nat;
    g_strlcpy(out->mapped, t.mapped, sizeof out->mapped);
    out->summary.mapped = out->mapped;
    out->summary.turn = turn_word(&t, turn_named);
}

static void wait_free(natctl_wait *w)
{
    g_ptr_array_free(w->lines, TRUE);
    g_free(w);
}

static void on_line(void *ud, const char *text)
{
    natctl_wait *w = ud;
    if (w->lines->len < BANTER_ICE_MAX_CANDS)
        g_ptr_array_add(w->lines, g_strdup(text));
}

static void on_done(void *ud, int err)
{
    natctl_wait *w = ud;
    if (w->reply) {
        natctl_report *rep = g_new(natctl_report, 1);
        natctl_summary(rep, w->servers, w->cred_expires_ms, (const char *const *)w->lines->pdata,
                       w->lines->len, err);
        w->reply(w->ud, rep);
        g_free(rep);
    }
    wait_free(w);
}

int natctl_request(direct *d, natctl_reply_fn reply, void *ud, natctl_wait **pending,
                   natctl_error *err)
{
    *pending = NULL;
    if (!d) {
        *err = (natctl_error){"ENOTCONN", "no rendezvous configured: the STUN and TURN servers "
                                          "come from it (start the node with --rendezvous)"};
        return BANTER_ESTATE;
    }
    natctl_wait *w = g_new0(natctl_wait, 1);
    w->reply = reply;
    w->ud = ud;
    w->lines = g_ptr_array_new_with_free_func(g_free);
    direct_servers(d, w->servers, sizeof w->servers, &w->cred_expires_ms);
    int r = direct_check(d, on_line, on_done, w);
    if (r) {
        wait_free(w);
        *err = r == BANTER_ENOENT
                   ? (natctl_error){"ENOENT", "the rendezvous has named no STUN or TURN server "
                                              "(log in first; an admin sets stun and turn in its "
                                              "configuration)"}
               : r == BANTER_ESTATE ? (natctl_error){"EBUSY", "a check runs already: try again"}
                                    : (natctl_error){banter_errname(r), banter_strerror(r)};
        return r;
    }
    *pending = w;
    return 0;
}

void natctl_cancel(natctl_wait *w)
{
    if (w)
        w->reply = NULL; /* freed when the gathering ends */
}
