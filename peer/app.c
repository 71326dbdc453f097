/* SPDX-License-Identifier: MIT */
/* app.c - builds and wires the node's parts, runs the loop (see app.h). */
#include "app.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/node.h"
#include "core/store.h"
#include "net/lan.h"
#include "net/mdns.h"
#include "net/evloop.h"
#include "ui/doctorctl.h"
#include "plugin/plugins.h"
#include "rdv/direct.h"
#include "rdv/orgnote.h"
#include "rdv/rdv.h"
#include "rdv/roster.h"
#include "ui/control.h"
#include "ui/web.h"

typedef struct app {
    app_config cfg;
    GMainContext *ctx;
    GMainLoop *loop;
    identity *id;
    char fp[IDENTITY_FP_LEN + 1];
    char server_fpd[IDENTITY_FP_DIGITS + 1];
    store *st;
    config conf;
    node *n;
    lan *lan;
    mdns *md;
    rdv *rdv;
    roster *ro;
    direct *dir; /* direct connections (ICE) to organisation contacts */
    orgnote *on; /* announcements and the revocation list from the server */
    control *ctl;
    web *web;
    evloop *ev; /* the listeners' and LAN connections' sockets: one source on the loop */
    plugins *plugins;
    bool mdns_down_said;
    doctor_lan lanst; /* LAN discovery's state, for `banter doctor` */
    bool mdns_wanted; /* mDNS was asked for (no --no-mdns) and the LAN is up */
    bool created;     /* the identity was made at this start */
} app;

static void say(app *a, node_ev_type type, const char *text)
{
    g_printerr("banter: %s\n", text);
    node_event ev = {.type = type, .text = text};
    node_emit(a->n, &ev);
}

/* ---- the LAN ---- */

static int lan_hello(void *ud, const uint8_t key[static 32], const char *name, const char *source,
                     const char *addr, const char *account, int64_t expires_ms)
{
    app *a = ud;
    return node_device_hello(a->n, key, name, source, addr, account, expires_ms);
}

static void lan_cert(void *ud, const uint8_t key[static 32], const char *name, const char *account,
                     int64_t expires_ms)
{
    app *a = ud;
    node_device_cert(a->n, key, name, account, expires_ms);
}

static void lan_up(void *ud, const uint8_t key[static 32], const char *addr)
{
    app *a = ud;
    node_device_up(a->n, key, addr);
}

static void lan_down(void *ud, const uint8_t key[static 32])
{
    app *a = ud;
    node_device_down(a->n, key);
}

/* The id a group message is acknowledged by. */
static const uint8_t *group_msg_id(const msg *m)
{
    return m->type == MSG_GROUP_STATE ? m->u.gstate.id
           : m->type == MSG_GROUP_KEY ? m->u.gkey.id
                                      : m->u.gmsg.id;
}

/* A group message over the LAN: taken (ACK), refused for good (ERROR
 * EPERM or ELIMIT naming it: the sender's copy fails), or not now (ERROR
 * EAGAIN, ERATE and the like naming it: the sender's copy stays pending
 * and is sent again after a short rest). */
static void lan_group(app *a, conn *c, const uint8_t key[static 32], const msg *m)
{
    int r = node_group_received(a->n, key, m);
    msg out = {.type = MSG_ACK};
    if (r < 0) {
        out.type = MSG_ERROR;
        out.u.error.has_id = true;
        memcpy(out.u.error.id, group_msg_id(m), MSG_ID_LEN);
        g_strlcpy(out.u.error.code, banter_errname(r), sizeof out.u.error.code);
        g_strlcpy(out.u.error.message,
                  r == BANTER_EPERM    ? "refused: the sender has no right to this group message"
                  : r == BANTER_ELIMIT ? "refused: the receiver is in too many groups"
                  : r == BANTER_ERATE  ? "too many new groups from this device: send it again later"
                                       : "receiver could not take the group message now",
                  sizeof out.u.error.message);
        if (r == BANTER_EPERM)
            g_printerr("banter: refused a %s from a device with no right to it, or for a group "
                       "deleted here\n",
                       msg_type_name(m->type));
    } else {
        memcpy(out.u.ack.id, group_msg_id(m), MSG_ID_LEN);
    }
    if (r >= 0)
        roster_group_taken(a->ro, key, m); /* relayed ones that waited for it */
    if (conn_send(c, &out) != 0)
        conn_close(c, BANTER_EIO, false, NULL);
}

static void lan_message(void *ud, conn *c, const uint8_t key[static 32], const msg *m)
{
    app *a = ud;
    messenger *mr = node_messenger(a->n);
    switch (m->type) {
    case MSG_CHAT: {
        int r = messenger_received(mr, key, &m->u.chat);
        msg out = {.type = MSG_ACK};
        if (r < 0) { /* not stored, so not acknowledged: the sender keeps it */
            out.type = MSG_ERROR;
            out.u.error.has_id = true;
            memcpy(out.u.error.id, m->u.chat.id, MSG_ID_LEN);
            g_strlcpy(out.u.error.code, banter_errname(r), sizeof out.u.error.code);
            g_strlcpy(out.u.error.message, "receiver could not store the message",
                      sizeof out.u.error.message);
            g_printerr("banter: cannot store a message: %s\n", banter_strerror(r));
        } else {
            memcpy(out.u.ack.id, m->u.chat.id, MSG_ID_LEN);
        }
        if (conn_send(c, &out) != 0)
            conn_close(c, BANTER_EIO, false, NULL);
        break;
    }
    case MSG_GROUP_STATE:
    case MSG_GROUP_KEY:
    case MSG_GROUP_MSG:
        lan_group(a, c, key, m);
        break;
    case MSG_ACK: /* the route is the connection's kind: "lan" (TCP) or "ice" */
        messenger_settled(mr, strcmp(conn_kind(c), "ice") == 0 ? "ice" : "lan", key, m->u.ack.id,
                          COPY_DELIVERED, "");
        break;
    case MSG_ERROR:
        g_printerr("banter: a peer refused a message: %s %s\n", m->u.error.code,
                   m->u.error.message);
        /* A refusal that names our CHAT or group message settles its copy:
         * "not now" codes (ERATE, ENOSPC, EAGAIN...) leave it pending, the
         * messenger says so. */
        if (m->u.error.has_id)
            messenger_settled(mr, strcmp(conn_kind(c), "ice") == 0 ? "ice" : "lan", key,
                              m->u.error.id, COPY_FAILED, m->u.error.code);
        break;
    default: /* file transfer messages */
        xfer_on_message(node_xfer(a->n), c, key, m);
        break;
    }
}

static void lan_drained(void *ud, const uint8_t key[static 32])
{
    app *a = ud;
    node_device_drained(a->n, key);
}

static void lan_log(void *ud, const char *text)
{
    (void)ud;
    g_printerr("banter: %s\n", text);
}

static const cert *lan_own_cert(void *ud)
{
    app *a = ud;
    return a->rdv ? rdv_cert(a->rdv) : NULL;
}

static bool is_revoked(void *ud, const uint8_t key[static 32])
{
    app *a = ud;
    return orgnote_revoked(a->on, key);
}

static conn *link_conn(void *ud, const uint8_t device[static 32])
{
    app *a = ud;
    return a->lan ? lan_conn(a->lan, device) : NULL;
}

/* How a connected device is reached: "lan" with its address, or the
 * direct path ("direct", "relay") of an ICE connection. */
static bool link_path(void *ud, const uint8_t device[static 32], char *route, size_t rcap,
                      char *text, size_t tcap)
{
    app *a = ud;
    conn *c = a->lan ? lan_conn(a->lan, device) : NULL;
    if (!c)
        return false;
    if (strcmp(conn_kind(c), "ice") == 0)
        return direct_path(a->dir, device, route, rcap, text, tcap);
    g_strlcpy(route, "lan", rcap);
    g_strlcpy(text, conn_remote(c), tcap);
    return true;
}

static void link_advertised(
    void *ud, void (*fn)(void *ud2, const char *fpd, const char *name, const char *addr), void *ud2)
{
    app *a = ud;
    if (a->lan)
        lan_each_advertised(a->lan, fn, ud2);
}

/* ---- mDNS ---- */

static void on_found(void *ud, const mdns_peer *mp)
{
    app *a = ud;
    a->lanst.answers++;
    lan_found(a->lan, mp->fingerprint, mp->name, mp->address, mp->port);
}

static void on_mdns_log(void *ud, const char *text)
{
    (void)ud;
    g_printerr("banter: %s\n", text);
}

static void on_lost(void *ud, const char *fpd)
{
    app *a = ud;
    lan_lost(a->lan, fpd);
}

/* The LAN proved an mDNS record false: it stops counting in mdns. */
static void lan_refuted(void *ud, const char *fpd, const char *addr, uint16_t port)
{
    app *a = ud;
    mdns_refute(a->md, fpd, addr, port);
}

/* A dial proved an mDNS record true: a refuted one counts again. */
static void lan_confirmed(void *ud, const char *fpd, const char *addr, uint16_t port)
{
    app *a = ud;
    mdns_confirm(a->md, fpd, addr, port);
}

static void on_mdns_status(void *ud, bool up, const char *why)
{
    app *a = ud;
    char text[256];
    if (up && a->lanst.state != DOCTOR_MDNS_UP)
        a->lanst.up_ms = g_get_monotonic_time() / 1000;
    a->lanst.state = up ? DOCTOR_MDNS_UP : DOCTOR_MDNS_DOWN;
    snprintf(a->lanst.why, sizeof a->lanst.why, "%s", !up && why ? why : "");
    if (!up && a->mdns_down_said)
        return;
    a->mdns_down_said = !up;
    if (!up) {
        snprintf(text, sizeof text,
                 "LAN discovery is unavailable (%s); static peers still work, and the node "
                 "registers again when avahi-daemon returns",
                 why ? why : "avahi-daemon not reachable");
    } else {
        /* Say what was found: avahi-daemon running is not enough. */
        char ifs[160];
        if (mdns_ifaces(ifs, sizeof ifs) == 0)
            snprintf(text, sizeof text,
                     "LAN discovery cannot reach anyone: avahi-daemon runs, but no network "
                     "interface here is up with multicast and an IPv4 address (connect to a "
                     "network, or turn multicast on: ip link set DEV multicast on); static "
                     "peers and the rendezvous still work");
        else
            snprintf(text, sizeof text, "LAN discovery is running (avahi-daemon) on %s", ifs);
    }
    say(a, NODE_EV_DISCOVERY, text);
}

/* ---- the rendezvous ---- */

static void on_rdv_event(void *ud, const char *text)
{
    app *a = ud;
    node_event ev = {.type = NODE_EV_RENDEZVOUS, .text = text};
    node_emit(a->n, &ev);
}

/* A new certificate: show it to every LAN device already connected. */
static void on_new_cert(void *ud)
{
    app *a = ud;
    const cert *c = rdv_cert(a->rdv);
    if (c) /* the account whose other devices get copies of what we send */
        node_set_account(a->n, c->name);
    if (a->lan)
        lan_present_cert(a->lan);
}

/* Whether the organisation's policy (if any) allows LAN discovery. */
static bool lan_allowed(const app *a)
{
    const policy *p = a->rdv ? rdv_policy(a->rdv) : NULL;
    return !p || (p->flags & POLICY_F_LAN);
}

static int start_mdns(app *a)
{
    mdns_callbacks mc = {on_found, on_lost, on_mdns_status, on_mdns_log};
    a->lanst.state = DOCTOR_MDNS_WAITING;
    int r = mdns_new(&a->md, a->ctx, a->ev, a->cfg.name, a->fp, lan_port(a->lan), &mc, a);
    if (r)
        g_printerr("banter: LAN discovery failed to start: %s\n", banter_strerror(r));
    return r;
}

/* The organisation's policy the rendezvous client took (or kept from an
 * earlier run): the core enforces its file and history rules; LAN
 * discovery stops when it is forbidden (and starts when allowed again). */
static void on_new_policy(void *ud)
{
    app *a = ud;
    const policy *p = rdv_policy(a->rdv);
    if (!p)
        return;
    node_set_policy(a->n, (uint64_t)p->max_file_mb * 1024 * 1024, (p->flags & POLICY_F_AUTO) != 0,
                    p->history_days);
    if (a->mdns_wanted && a->md && !lan_allowed(a)) {
        mdns_free(a->md);
        a->md = NULL;
        a->lanst.state = DOCTOR_MDNS_POLICY;
        g_printerr("banter: LAN discovery stopped: the organisation's policy forbids it\n");
    } else if (a->mdns_wanted && !a->md && lan_allowed(a) && start_mdns(a) == 0) {
        g_printerr("banter: LAN discovery started: the organisation's policy allows it\n");
    }
}

static int parse_hostport(const char *s, char *host, size_t cap, uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    char *end;
    if (!colon || colon == s || (size_t)(colon - s) >= cap)
        return BANTER_EINVAL;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (errno || *end || p == 0 || p > 65535)
        return BANTER_EINVAL;
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (h[0] == '[' && hl > 2 && h[hl - 1] == ']') { /* [v6]:port */
        h++;
        hl -= 2;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (uint16_t)p;
    return 0;
}

/* --rendezvous HOST:PORT --server-key FINGERPRINT: 1 with the cause printed
 * when they do not parse. */
static int parse_rendezvous(app *a, rdv_config *rc)
{
    const app_config *cfg = &a->cfg;
    char why[400];
    memset(rc, 0, sizeof *rc);
    if (rdv_parse_service(cfg->rendezvous, rc, why, sizeof why) != 0) {
        g_printerr("banter: --rendezvous %s: %s; expected HOST:PORT[,HOST:PORT...] or a DNS "
                   "SRV name such as _banter._tcp.example.com\n",
                   cfg->rendezvous, why);
        return 1;
    }
    if (rdv_parse_fingerprint(cfg->server_key, rc->fpd) != 0) {
        g_printerr("banter: --server-key %s: expected the 40 digits printed by "
                   "`banter-rendezvous fingerprint`\n",
                   cfg->server_key);
        return 1;
    }
    g_strlcpy(rc->name, cfg->name, sizeof rc->name);
    if (snprintf(rc->cert_path, sizeof rc->cert_path, "%s/cert.bin", cfg->home.dir) >=
            (int)sizeof rc->cert_path ||
        snprintf(rc->policy_path, sizeof rc->policy_path, "%s/policy.bin", cfg->home.dir) >=
            (int)sizeof rc->policy_path) {
        g_printerr("banter: the home folder's path is too long\n");
        return 1;
    }
    g_strlcpy(a->server_fpd, rc->fpd, sizeof a->server_fpd);
    return 0;
}

/* A newer revocation list (or the one kept, at start): every device on it
 * stops being the organisation's now, and the connection of one that was
 * until now is closed (it may come back as the LAN device it now is; one
 * revoked earlier, met again as that, keeps its connection). */
static void on_revoked(void *ud, const revlist *l)
{
    app *a = ud;
    for (size_t i = 0; i < l->n; i++) {
        if (!node_device_revoked(a->n, l->keys[i]))
            continue;
        conn *c = a->lan ? lan_conn(a->lan, l->keys[i]) : NULL;
        if (c)
            conn_close(c, 0, true, "revoked by the organisation");
    }
}

static int on_announce(void *ud, const ann_msg *m)
{
    app *a = ud;
    return node_announcement(a->n, m);
}

static void on_org_login(void *ud)
{
    app *a = ud;
    node_announcements_retell(a->n);
}

/* The node showed an announcement: tell the server (0 when sent). */
static int tell_read(void *ud, int64_t id)
{
    app *a = ud;
    return a->on ? orgnote_receipt(a->on, id, true) : BANTER_ESTATE;
}

static int start_rendezvous(app *a, rdv_config *rc)
{
    rc->ev = a->ev;
    if (rdv_new(&a->rdv, a->ctx, a->id, rc, on_rdv_event, a) != 0 ||
        roster_new(&a->ro, a->n, a->rdv, a->id, rc->fpd) != 0) {
        g_printerr("banter: cannot set up the rendezvous connection\n");
        return 1;
    }
    orgnote_callbacks oc = {on_revoked, on_announce, on_org_login};
    char path[HOME_PATH_MAX];
    if (snprintf(path, sizeof path, "%s/revoked.bin", a->cfg.home.dir) >= (int)sizeof path ||
        !(a->on = orgnote_new(a->rdv, path, rc->fpd, &oc, a))) {
        g_printerr("banter: cannot set up the revocation list\n");
        return 1;
    }
    node_set_revoked(a->n, is_revoked, a);
    node_set_ann_teller(a->n, tell_read, a);
    orgnote_start(a->on);
    rdv_set_cert_hook(a->rdv, on_new_cert, a);
    if (rdv_cert(a->rdv)) /* saved: the account is known before the server answers */
        node_set_account(a->n, rdv_cert(a->rdv)->name);
    rdv_set_policy_hook(a->rdv, on_new_policy, a);
    on_new_policy(a); /* the one kept from an earlier run, if any */
    a->dir = direct_new(a->ctx, a->n, a->rdv, a->lan, a->id, rc->fpd);
    direct_set_ice(a->dir, a->conf.ice);
    mr_route relay = roster_route(a->ro);
    return messenger_add_route(node_messenger(a->n), &relay) ? 1 : 0;
}

/* ---- start and stop ---- */

static int open_base(app *a)
{
    const app_config *cfg = &a->cfg;
    char why[512];
    if (home_create(&cfg->home) != 0) {
        g_printerr("banter: cannot create %s: %s\n", cfg->home.dir, g_strerror(errno));
        return 1;
    }
    int r = identity_load_or_create(&a->id, cfg->home.key, bcrypto_rng_system(), &a->created);
    if (r) {
        g_printerr("banter: cannot use the identity in %s: %s%s\n", cfg->home.key,
                   banter_strerror(r),
                   r == BANTER_EPERM ? " (run: chmod 600 on it)"
                   : r == BANTER_EIO ? ""
                                     : " (move it away to create a new identity)");
        return 1;
    }
    identity_fingerprint(identity_public(a->id), a->fp);
    r = store_open(&a->st, cfg->home.db, why, sizeof why);
    if (r) {
        g_printerr("banter: cannot open the database %s: %s\n", cfg->home.db, why);
        return 1;
    }
    char conf_path[HOME_PATH_MAX + 16];
    snprintf(conf_path, sizeof conf_path, "%s/banter.conf", cfg->home.dir);
    if (config_load(&a->conf, conf_path, why, sizeof why) != 0) {
        g_printerr("banter: %s\n", why);
        return 1;
    }
    return 0;
}

static int app_start(app *a)
{
    const app_config *cfg = &a->cfg;
    char why[512];
    rdv_config rc;
    a->ctx = g_main_context_default();
    a->loop = g_main_loop_new(a->ctx, FALSE);
    if (open_base(a) != 0 || (cfg->rendezvous[0] && parse_rendezvous(a, &rc) != 0))
        return 1;
    node_init ni = {.ctx = a->ctx,
                    .id = a->id,
                    .st = a->st,
                    .conf = &a->conf,
                    .name = cfg->name,
                    .server_fpd = a->server_fpd,
                    .clock = clock_system(),
                    .rng = bcrypto_rng_system()};
    if (node_new(&a->n, &ni, why, sizeof why) != 0) {
        g_printerr("banter: %s\n", why);
        return 1;
    }
    /* The listeners (LAN, control socket, web port) and the LAN
     * connections are watched through one epoll descriptor: the loop polls
     * and walks one source for all of them, and accepts and reads still
     * run on this thread (docs/architecture.md, "Performance"). */
    if (evloop_new(&a->ev, a->ctx) != 0) {
        g_printerr("banter: cannot make an epoll descriptor: %s\n", g_strerror(errno));
        return 1;
    }
    if (control_new(&a->ctl, a->n, a->ctx, a->ev, cfg->home.sock, why, sizeof why) != 0) {
        g_printerr("banter: %s\n", why);
        return 1;
    }
    web_start(&a->web, a->ctl, a->ctx, a->ev, cfg->home.dir,
              cfg->web_port >= 0 ? (uint16_t)cfg->web_port : a->conf.web_port);
    /* The LAN route first: a direct connection is preferred to the relay. */
    const config *cf = &a->conf;
    lan_config lc = {.port = cfg->port,
                     .server_fpd = a->server_fpd,
                     .max_conns = cf->peer_max_conns,
                     .max_per_addr = cf->peer_max_per_addr,
                     .hello_ms = cf->peer_hello_timeout_s * 1000u,
                     .frame_ms = cf->peer_frame_timeout_s * 1000u,
                     .chat_rate = cf->chat_rate,
                     .chat_burst = cf->chat_burst,
                     .ev = a->ev};
    g_strlcpy(lc.name, cfg->name, sizeof lc.name);
    lan_callbacks lcb = {lan_hello,   lan_cert,    lan_up,       lan_down,
                         lan_message, lan_drained, lan_log,      lan_own_cert,
                         is_revoked,  lan_refuted, lan_confirmed};
    if (lan_new(&a->lan, a->ctx, a->id, &lc, &lcb, a) != 0) {
        g_printerr("banter: cannot listen on TCP port %u: %s (choose another with --port)\n",
                   cfg->port, g_strerror(errno));
        return 1;
    }
    node_set_port(a->n, lan_port(a->lan));
    node_link link = {
        .conn_for = link_conn, .each_advertised = link_advertised, .path_for = link_path, .ud = a};
    node_set_link(a->n, &link);
    /* Routes in order: the LAN, a direct path (ICE), the server's relay. */
    mr_route lr = lan_route(a->lan), ir = lan_ice_route(a->lan);
    if (messenger_add_route(node_messenger(a->n), &lr) != 0 ||
        messenger_add_route(node_messenger(a->n), &ir) != 0)
        return 1;
    if (cfg->rendezvous[0] && start_rendezvous(a, &rc) != 0)
        return 1;
    control_set_rendezvous(a->ctl, a->rdv, a->ro);
    control_set_direct(a->ctl, a->dir);
    for (size_t i = 0; i < cfg->nstatic; i++) {
        char host[256];
        uint16_t port;
        if (parse_hostport(cfg->static_peers[i], host, sizeof host, &port) != 0 ||
            lan_add_static(a->lan, host, port) != 0) {
            g_printerr("banter: --peer %s: expected HOST:PORT\n", cfg->static_peers[i]);
            return 1;
        }
    }
    a->mdns_wanted = cfg->mdns;
    a->lanst.state = !cfg->mdns ? DOCTOR_MDNS_OFF : DOCTOR_MDNS_POLICY;
    control_set_lan_state(a->ctl, &a->lanst);
    if (cfg->mdns && !lan_allowed(a))
        g_printerr("banter: LAN discovery is off: the organisation's policy forbids it\n");
    else if (cfg->mdns && start_mdns(a) != 0)
        return 1;
    char conf_path[HOME_PATH_MAX + 16];
    snprintf(conf_path, sizeof conf_path, "%s/banter.conf", cfg->home.dir);
    if (plugins_new(&a->plugins, a->n, a->ctx, cfg->home.dir, conf_path, why, sizeof why) != 0) {
        g_printerr("banter: %s\n", why);
        return 1;
    }
    control_set_plugins(a->ctl, a->plugins);
    plugins_start(a->plugins);
    printf("banter: node \"%s\" %s listening on port %u%s\n", cfg->name, a->fp, lan_port(a->lan),
           a->created ? " (new identity)" : "");
    fflush(stdout);
    return 0;
}

static void app_stop(app *a)
{
    if (a->ctl)
        control_set_plugins(a->ctl, NULL);
    plugins_free(a->plugins); /* QUIT to each host: they say nothing more */
    a->plugins = NULL;
    mdns_free(a->md); /* goodbye packets first: colleagues drop us at once */
    a->md = NULL;
    direct_detach(a->dir); /* no more signaling: the rendezvous goes next */
    roster_free(a->ro);    /* what is in flight stays queued in the store */
    a->ro = NULL;
    orgnote_free(a->on);
    a->on = NULL;
    rdv_free(a->rdv); /* answers its waiting control requests */
    a->rdv = NULL;
    if (a->ctl)
        control_set_rendezvous(a->ctl, NULL, NULL);
    lan_free(a->lan); /* BYE to every device */
    a->lan = NULL;
    direct_free(a->dir); /* after the connections let go of their paths */
    a->dir = NULL;
    if (a->ctl)
        control_set_direct(a->ctl, NULL);
    web_free(a->web); /* its clients first: then control is alone */
    a->web = NULL;
    control_free(a->ctl);
    a->ctl = NULL;
    evloop_free(a->ev); /* after every socket it watched */
    a->ev = NULL;
    node_free(a->n);
    a->n = NULL;
    store_close(a->st);
    identity_free(a->id);
    if (a->loop)
        g_main_loop_unref(a->loop);
}

/*
 * SIGINT and SIGTERM: blocked in every thread of the node (the mask is set
 * before any thread is made, and threads inherit it) and taken by one
 * thread of their own in sigwait(), which quits the loop. The loop itself
 * then carries no signal source: GLib's unix signal sources have prepare
 * and check functions that run, with a context unlock and lock each, on
 * every iteration of the loop, that is on every message (measured: 0.1 us
 * of a 7.5 us round trip, docs/architecture.md "Performance"). Children
 * (plug-in hosts) get an empty mask back before exec (plugins.c).
 */
typedef struct sigwaiter {
    pthread_t thread;
    sigset_t set;
    GMainLoop *loop;
} sigwaiter;

static void *sigwait_main(void *v)
{
    sigwaiter *w = v;
    int sig = 0;
    /* Any of the set: a person's ^C or TERM, or app_run's own wake-up. */
    while (sigwait(&w->set, &sig) != 0)
        ;
    g_main_loop_quit(w->loop);
    return NULL;
}

/* Block SIGINT and SIGTERM in this thread, and so in every thread made
 * after it. 0, or -1 (errno). */
static int block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    int r = pthread_sigmask(SIG_BLOCK, set, NULL);
    if (r)
        errno = r;
    return r ? -1 : 0;
}

int app_run(const app_config *cfg)
{
    app *a = g_new0(app, 1);
    sigwaiter sw = {0};
    a->cfg = *cfg;
    if (block_signals(&sw.set) != 0) {
        g_printerr("banter: cannot block SIGINT and SIGTERM: %s\n", g_strerror(errno));
        g_free(a);
        return 1;
    }
    int rc = app_start(a);
    if (rc == 0) {
        sw.loop = a->loop;
        int r = pthread_create(&sw.thread, NULL, sigwait_main, &sw);
        if (r) {
            g_printerr("banter: cannot start the signal thread: %s\n", g_strerror(r));
            rc = 1;
        }
    }
    if (rc == 0) {
        if (a->rdv)
            rdv_start(a->rdv);
        g_main_loop_run(a->loop);
        /* The loop may have quit for another reason: wake the thread (a
         * signal sent to a thread that already left is discarded). */
        pthread_kill(sw.thread, SIGTERM);
        pthread_join(sw.thread, NULL);
        printf("banter: node stopping\n");
        fflush(stdout);
    }
    app_stop(a);
    g_free(a);
    return rc;
}
