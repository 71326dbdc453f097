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

static cJSON *error_reply(const char *name, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddFalseToObject(o, "ok");
    cJSON_AddStringToObject(o, "error", name);
    cJSON_AddStringToObject(o, "message", message);
    return o;
}

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

static void count(tally *t, const icecand *c, const char *addr, cJSON *a)
{
    /* libnice's type preference of a relay reached over TCP or TLS is 20,
     * over UDP 30 (docs/ice.md, pitfall 4). */
    bool relay_tcp = c->type == ICECAND_RELAY && (c->priority >> 24) < 30;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type_name(c->type));
    cJSON_AddStringToObject(o, "transport", c->tcp ? "tcp" : "udp");
    cJSON_AddStringToObject(o, "address", addr);
    cJSON_AddNumberToObject(o, "port", c->port);
    if (c->type == ICECAND_RELAY)
        cJSON_AddStringToObject(o, "turn", relay_tcp ? "tcp" : "udp");
    cJSON_AddItemToArray(a, o);
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

cJSON *natctl_summary(const char *servers, int64_t cred_expires_ms, const char *const *lines,
                      size_t n, int gather_err)
{
    static const icecand_policy any = {.same_lan = true, .allow_ipv6 = true, .allow_tcp = true};
    tally t = {0};
    const char *nat;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddTrueToObject(o, "ok");
    cJSON_AddStringToObject(o, "servers", servers);
    cJSON_AddNumberToObject(o, "credentials_expire_ms", (double)cred_expires_ms);
    cJSON *a = cJSON_AddArrayToObject(o, "candidates");
    for (size_t i = 0; i < n; i++) {
        icecand c;
        char addr[64];
        if (icecand_parse(lines[i], strlen(lines[i]), &any, &c) != 0 ||
            !inet_ntop(c.ipv6 ? AF_INET6 : AF_INET, c.addr, addr, sizeof addr))
            continue;
        count(&t, &c, addr, a);
    }
    for (int i = 0; i < t.nhosts; i++)
        t.mapped_is_host |= strcmp(t.hosts[i], t.mapped) == 0;
    bool turn_named = strstr(servers, "turn:") != NULL;
    const char *v = verdict(&t, turn_named, gather_err, &nat);
    cJSON_AddNumberToObject(o, "host", t.host);
    cJSON_AddNumberToObject(o, "srflx", t.srflx);
    cJSON_AddNumberToObject(o, "relay_udp", t.relay_udp);
    cJSON_AddNumberToObject(o, "relay_tcp", t.relay_tcp);
    cJSON_AddStringToObject(o, "nat", nat);
    if (t.mapped[0])
        cJSON_AddStringToObject(o, "mapped", t.mapped);
    cJSON_AddStringToObject(o, "turn", turn_word(&t, turn_named));
    cJSON_AddStringToObject(o, "verdict", v);
    return o;
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
        cJSON *o = natctl_summary(w->servers, w->cred_expires_ms,
                                  (const char *const *)w->lines->pdata, w->lines->len, err);
        w->reply(w->ud, o);
    }
    wait_free(w);
}

cJSON *natctl_request(direct *d, natctl_reply_fn reply, void *ud, natctl_wait **pending)
{
    *pending = NULL;
    if (!d)
        return error_reply("ENOTCONN", "no rendezvous configured: the STUN and TURN servers come "
                                       "from it (start the node with --rendezvous)");
    natctl_wait *w = g_new0(natctl_wait, 1);
    w->reply = reply;
    w->ud = ud;
    w->lines = g_ptr_array_new_with_free_func(g_free);
    direct_servers(d, w->servers, sizeof w->servers, &w->cred_expires_ms);
    int r = direct_check(d, on_line, on_done, w);
    if (r) {
        wait_free(w);
        return r == BANTER_ENOENT
                   ? error_reply("ENOENT", "the rendezvous has named no STUN or TURN server (log "
                                           "in first; an admin sets stun and turn in its "
                                           "configuration)")
               : r == BANTER_ESTATE ? error_reply("EBUSY", "a check runs already: try again")
                                    : error_reply(banter_errname(r), banter_strerror(r));
    }
    *pending = w;
    return NULL;
}

void natctl_cancel(natctl_wait *w)
{
    if (w)
        w->reply = NULL; /* freed when the gathering ends */
}
