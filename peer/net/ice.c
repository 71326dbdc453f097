/* SPDX-License-Identifier: MIT */
/*
 * ice.c - one libnice agent, one stream, one component (see ice.h).
 */
#include "ice.h"

#include <nice/agent.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define COMPONENT 1

struct ice_agent {
    NiceAgent *agent;
    guint stream;
    ice_callbacks cb;
    void *ud;
    GMainContext *ctx;
    ice_state state;
    bool gathered, remote_set, freed;
    bool starting;         /* inside ice_new: callbacks wait for the loop */
    GSource *gathered_src; /* gathered() deferred out of ice_new */
};

/* libnice gives a relay allocated over UDP the type preference 30 and
 * one over TCP or TLS 20, in the top byte of the priority (RFC 8445
 * 5.1.2.1); nothing else in its API tells them apart. */
static bool relay_over_tcp(const NiceCandidate *c) { return (c->priority >> 24) < 30; }

static void set_state(ice_agent *a, ice_state st)
{
    if (a->state == st)
        return;
    a->state = st;
    if (a->cb.state)
        a->cb.state(a->ud, a, st);
}

static gboolean on_gathered_idle(gpointer ud)
{
    ice_agent *a = ud;
    g_source_unref(a->gathered_src);
    a->gathered_src = NULL;
    if (a->cb.gathered)
        a->cb.gathered(a->ud, a);
    return G_SOURCE_REMOVE;
}

static void on_gathered(NiceAgent *agent, guint stream, gpointer ud)
{
    ice_agent *a = ud;
    (void)agent, (void)stream;
    a->gathered = true;
    if (a->starting) {
        /* Host candidates only: libnice is done inside gather_candidates,
         * before ice_new returned; the owner hears of it from the loop. */
        a->gathered_src = g_idle_source_new();
        g_source_set_callback(a->gathered_src, on_gathered_idle, a, NULL);
        g_source_attach(a->gathered_src, a->ctx);
        return;
    }
    if (a->cb.gathered)
        a->cb.gathered(a->ud, a);
}

static void on_state(NiceAgent *agent, guint stream, guint comp, guint state, gpointer ud)
{
    ice_agent *a = ud;
    (void)agent, (void)stream, (void)comp;
    if (state == NICE_COMPONENT_STATE_CONNECTED || state == NICE_COMPONENT_STATE_READY)
        set_state(a, ICE_CONNECTED);
    else if (state == NICE_COMPONENT_STATE_FAILED)
        set_state(a, ICE_FAILED);
}

static void on_pair(NiceAgent *agent, guint stream, guint comp, NiceCandidate *l, NiceCandidate *r,
                    gpointer ud)
{
    ice_agent *a = ud;
    ice_pair p;
    (void)agent, (void)stream, (void)comp, (void)l, (void)r;
    if (a->cb.pair && ice_get_pair(a, &p) == 0)
        a->cb.pair(a->ud, a, &p);
}

static void on_recv(NiceAgent *agent, guint stream, guint comp, guint len, gchar *buf, gpointer ud)
{
    ice_agent *a = ud;
    (void)agent, (void)stream, (void)comp;
    if (a->cb.datagram)
        a->cb.datagram(a->ud, a, (const uint8_t *)buf, len);
}

static bool numeric(const char *host)
{
    NiceAddress addr;
    return host && nice_address_set_from_string(&addr, host);
}

static int configure(ice_agent *a, const ice_config *cfg)
{
    bool turn = cfg->turn_host != NULL;
    if (turn && (!numeric(cfg->turn_host) || !cfg->turn_port || !cfg->turn_user || !cfg->turn_pass))
        return BANTER_EINVAL;
    if (cfg->stun_host && (!numeric(cfg->stun_host) || !cfg->stun_port))
        return BANTER_EINVAL;
    g_object_set(a->agent, "controlling-mode", cfg->controlling, "upnp", FALSE, "ice-tcp",
                 cfg->ice_tcp, "force-relay", cfg->force_relay, NULL);
    if (cfg->stun_host && !turn)
        g_object_set(a->agent, "stun-server", cfg->stun_host, "stun-server-port",
                     (guint)cfg->stun_port, NULL);
    a->stream = nice_agent_add_stream(a->agent, 1);
    if (a->stream == 0)
        return BANTER_EIO;
    if (turn &&
        (!nice_agent_set_relay_info(a->agent, a->stream, COMPONENT, cfg->turn_host, cfg->turn_port,
                                    cfg->turn_user, cfg->turn_pass, NICE_RELAY_TYPE_TURN_UDP) ||
         (cfg->turn_tcp &&
          !nice_agent_set_relay_info(a->agent, a->stream, COMPONENT, cfg->turn_host, cfg->turn_port,
                                     cfg->turn_user, cfg->turn_pass, NICE_RELAY_TYPE_TURN_TCP))))
        return BANTER_EINVAL;
    return 0;
}

ice_agent *ice_new(GMainContext *ctx, const ice_config *cfg, const ice_callbacks *cb, void *ud,
                   int *err)
{
    ice_agent *a = calloc(1, sizeof *a);
    *err = BANTER_ENOMEM;
    if (!a)
        return NULL;
    a->cb = *cb;
    a->ud = ud;
    a->agent =
        nice_agent_new_full(ctx, NICE_COMPATIBILITY_RFC5245, NICE_AGENT_OPTION_REGULAR_NOMINATION);
    if (!a->agent || (*err = configure(a, cfg)) != 0)
        goto fail;
    g_signal_connect(a->agent, "candidate-gathering-done", G_CALLBACK(on_gathered), a);
    g_signal_connect(a->agent, "component-state-changed", G_CALLBACK(on_state), a);
    g_signal_connect(a->agent, "new-selected-pair-full", G_CALLBACK(on_pair), a);
    nice_agent_attach_recv(a->agent, a->stream, COMPONENT, ctx, on_recv, a);
    a->ctx = ctx;
    a->starting = true;
    bool ok = nice_agent_gather_candidates(a->agent, a->stream);
    a->starting = false;
    if (!ok) {
        *err = BANTER_EIO;
        goto fail;
    }
    *err = 0;
    return a;
fail:
    if (a->gathered_src) {
        g_source_destroy(a->gathered_src);
        g_source_unref(a->gathered_src);
    }
    if (a->agent)
        g_object_unref(a->agent);
    free(a);
    return NULL;
}

static void on_closed(GObject *src, GAsyncResult *res, gpointer ud)
{
    (void)res, (void)ud;
    g_object_unref(src);
}

void ice_free(ice_agent *a)
{
    if (!a)
        return;
    /* Nothing reaches a's callbacks from here on; the agent goes when its
     * TURN allocations are released. */
    if (a->gathered_src) {
        g_source_destroy(a->gathered_src);
        g_source_unref(a->gathered_src);
    }
    g_signal_handlers_disconnect_by_data(a->agent, a);
    nice_agent_attach_recv(a->agent, a->stream, COMPONENT, NULL, NULL, NULL);
    nice_agent_close_async(a->agent, on_closed, NULL);
    free(a);
}

int ice_local_credentials(ice_agent *a, char **ufrag, char **pwd)
{
    *ufrag = *pwd = NULL;
    if (!a->gathered)
        return BANTER_ESTATE;
    return nice_agent_get_local_credentials(a->agent, a->stream, ufrag, pwd) ? 0 : BANTER_EIO;
}

char **ice_local_candidates(ice_agent *a)
{
    GSList *cands = nice_agent_get_local_candidates(a->agent, a->stream, COMPONENT), *l;
    GPtrArray *out = g_ptr_array_new();
    for (l = cands; l; l = l->next) {
        gchar *sdp = nice_agent_generate_local_candidate_sdp(a->agent, l->data);
        /* "a=candidate:..." -> "candidate:..." */
        if (sdp && g_str_has_prefix(sdp, "a=")) {
            g_ptr_array_add(out, g_strdup(sdp + 2));
            g_free(sdp);
        } else if (sdp) {
            g_ptr_array_add(out, sdp);
        }
    }
    g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}

int ice_set_remote(ice_agent *a, const icecand_set *remote)
{
    char line[BANTER_ICE_MAX_LINE + 3] = "a=";
    GSList *cands = NULL;
    int added;

    if (a->remote_set)
        return BANTER_ESTATE;
    if (!nice_agent_set_remote_credentials(a->agent, a->stream, remote->ufrag, remote->pwd))
        return BANTER_EIO;
    for (size_t i = 0; i < remote->n; i++) {
        NiceCandidate *c;
        /* libnice reads "a=candidate:...": our canonical line after "a=" */
        if (remote->c[i].component != COMPONENT ||
            icecand_format(&remote->c[i], line + 2, sizeof line - 2) < 0)
            continue;
        c = nice_agent_parse_remote_candidate_sdp(a->agent, a->stream, line);
        if (c)
            cands = g_slist_prepend(cands, c);
    }
    cands = g_slist_reverse(cands);
    added = cands ? nice_agent_set_remote_candidates(a->agent, a->stream, COMPONENT, cands) : 0;
    g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
    a->remote_set = true;
    if (added <= 0)
        return BANTER_EIO;
    if (a->state == ICE_GATHERING)
        set_state(a, ICE_CHECKING);
    return 0;
}

int ice_send(ice_agent *a, const uint8_t *p, size_t len)
{
    if (a->state != ICE_CONNECTED)
        return BANTER_ESTATE;
    return nice_agent_send(a->agent, a->stream, COMPONENT, (guint)len, (const gchar *)p) ==
                   (gint)len
               ? 0
               : BANTER_EIO;
}

ice_state ice_get_state(const ice_agent *a) { return a->state; }

static void fill_side(const NiceCandidate *c, const char **type, bool *tcp, char *addr, size_t cap)
{
    char text[NICE_ADDRESS_STRING_LEN];
    static const char *const types[] = {"host", "srflx", "prflx", "relay"};
    *type = (unsigned)c->type <= NICE_CANDIDATE_TYPE_RELAYED ? types[c->type] : "?";
    *tcp = c->transport != NICE_CANDIDATE_TRANSPORT_UDP;
    nice_address_to_string(&c->addr, text);
    g_snprintf(addr, cap, "%s:%u", text, nice_address_get_port(&c->addr));
}

int ice_get_pair(ice_agent *a, ice_pair *p)
{
    NiceCandidate *l = NULL, *r = NULL;
    if (!nice_agent_get_selected_pair(a->agent, a->stream, COMPONENT, &l, &r) || !l || !r)
        return BANTER_ENOENT;
    memset(p, 0, sizeof *p);
    fill_side(l, &p->local_type, &p->local_tcp, p->local_addr, sizeof p->local_addr);
    fill_side(r, &p->remote_type, &p->remote_tcp, p->remote_addr, sizeof p->remote_addr);
    p->relay_tcp = l->type == NICE_CANDIDATE_TYPE_RELAYED && relay_over_tcp(l);
    return 0;
}
