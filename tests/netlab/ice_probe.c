/* SPDX-License-Identifier: MIT */
/*
 * ice_probe.c - one ICE agent (libnice) for the NAT lab: gathers, swaps its
 * session description with a second probe through files, connects, reports
 * the selected candidate pair and the time it took, and optionally moves
 * bytes over one of the reliable streams that docs/ice.md compares.
 *
 *   ice_probe --role controlling|controlled --local FILE --remote FILE
 *             [--stun IP:PORT] [--turn IP:PORT --turn-user U --turn-pass P]
 *             [--turn-tcp] [--force-relay] [--ice-tcp] [--no-udp]
 *             [--mode connect|reliable|ptcp|sctp|stream] [--bytes N] [--buf BYTES]
 *             [--sctp-cc N] [--timeout S]
 *
 * The session description (libnice's SDP: credentials and candidates) is
 * written to --local (atomically, by rename) once gathering is done; the
 * probe waits for --remote to appear and reads the other's. Lines on
 * stdout, flushed at once:
 *   gathered MS host=N srflx=N relay=N         (after MS ms)
 *   connected MS local TYPE/TRANSPORT ADDR remote TYPE/TRANSPORT ADDR [turn udp|tcp]
 *                                               (MS: from reading the remote
 *                                                description to CONNECTED;
 *                                                turn: how a local relay
 *                                                candidate reaches its server)
 *   pair TYPE/TRANSPORT TYPE/TRANSPORT          (each later change)
 *   transfer bytes N secs S MBps R              (receiver, with --bytes)
 *   failed REASON
 * Exit 0 when connected (and the transfer, if any, finished), 1 on failure
 * or timeout (default 30 s), 2 on bad usage.
 *
 * Streams (--mode, with --bytes N: the controlling probe sends N bytes,
 * the controlled one receives them, prints the rate and answers one byte):
 *   connect   no data: exit once both are done (ICE state READY: the
 *             checks have ended and the pair is final); each writes
 *             --local's name + ".ready" then and waits for --remote's, so
 *             the first does not leave while the other's checks still need
 *             its answers
 *   reliable  libnice's reliable agent (PseudoTCP inside, fixed 60/90 KiB
 *             buffers; plain TCP on an ICE-TCP pair)
 *   ptcp      libnice's public PseudoTcpSocket, rcv-buf/snd-buf = --buf
 *             (default 4 MiB), driven here over a non-reliable agent
 *   sctp      usrsctp over the component's datagrams (AF_CONN, no threads
 *             of its own, timers from this loop), buffers = --buf, path
 *             MTU 1200; --sctp-cc picks usrsctp's congestion control
 *             (0 RFC 4960, 1 HS-TCP, 2 H-TCP, 3 RTCC)
 *   stream    Banter's own: peer/net/icestream (shared/rstream) over the
 *             datagrams of a non-reliable agent, buffers = --buf
 * Not a test by itself: tests/integration/test_netlab.sh and
 * bench/bench_ice.sh run two of them in a topology of nat_lib.sh.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib.h>
#include <nice/agent.h>
#include <nice/pseudotcp.h>
#include <usrsctp.h>

#include "icestream.h"

#define CHUNK        65536u
#define SCTP_PORT    5000
#define SCTP_MTU     1200u
#define DEF_BUF      (4u << 20)
#define POLL_MS      20
#define SCTP_TICK_MS 10

typedef enum mode { M_CONNECT, M_RELIABLE, M_PTCP, M_SCTP, M_STREAM } mode;

typedef struct opts {
    bool controlling, turn_tcp, force_relay, ice_tcp, no_udp;
    const char *local, *remote, *stun, *turn, *turn_user, *turn_pass;
    mode mode;
    guint64 bytes;
    guint buf;
    int sctp_cc;
    guint timeout_s;
} opts;

typedef struct probe {
    opts o;
    GMainLoop *loop;
    NiceAgent *agent;
    guint stream;
    gint64 t_start, t_remote, t_first, t_last;
    bool connected, remote_read, done, writable_wanted, lingering, ready_said;
    int rc;
    guint64 sent, received;
    char *chunk;
    /* ptcp */
    PseudoTcpSocket *ptcp;
    guint ptcp_timer;
    /* stream (peer/net/icestream) */
    icestream *is;
    /* sctp */
    struct socket *sctp;
    bool sctp_up;
    gint64 sctp_tick;
} probe;

static long ms_since(gint64 t) { return (long)((g_get_monotonic_time() - t) / 1000); }

static void finish(probe *p, int rc, const char *why)
{
    if (p->done)
        return;
    p->done = true;
    p->rc = rc;
    if (why)
        printf("failed %s\n", why);
    fflush(stdout);
    g_main_loop_quit(p->loop);
}

/* ---- the session description through files ---- */

static bool write_file(const char *path, const char *text)
{
    char *tmp = g_strdup_printf("%s.tmp", path);
    bool ok = g_file_set_contents(tmp, text, -1, NULL) && rename(tmp, path) == 0;
    g_free(tmp);
    return ok;
}

static void on_gathered(NiceAgent *agent, guint stream, gpointer ud)
{
    probe *p = ud;
    GSList *cands = nice_agent_get_local_candidates(agent, stream, 1), *l;
    int n[4] = {0};
    for (l = cands; l; l = l->next) {
        const NiceCandidate *c = l->data;
        if (c->type <= NICE_CANDIDATE_TYPE_RELAYED)
            n[c->type]++;
    }
    g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
    printf("gathered %ld host=%d srflx=%d prflx=%d relay=%d\n", ms_since(p->t_start),
           n[NICE_CANDIDATE_TYPE_HOST], n[NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE],
           n[NICE_CANDIDATE_TYPE_PEER_REFLEXIVE], n[NICE_CANDIDATE_TYPE_RELAYED]);
    fflush(stdout);
    gchar *sdp = nice_agent_generate_local_sdp(agent);
    if (!sdp || !write_file(p->o.local, sdp))
        finish(p, 1, "cannot write the local description");
    g_free(sdp);
}

static gboolean poll_remote(gpointer ud)
{
    probe *p = ud;
    gchar *sdp = NULL;
    if (p->done)
        return G_SOURCE_REMOVE;
    if (!g_file_get_contents(p->o.remote, &sdp, NULL, NULL))
        return G_SOURCE_CONTINUE;
    p->t_remote = g_get_monotonic_time();
    p->remote_read = true;
    if (nice_agent_parse_remote_sdp(p->agent, sdp) < 1)
        finish(p, 1, "remote description refused");
    g_free(sdp);
    return G_SOURCE_REMOVE;
}

/* ---- the selected pair ---- */

static void print_cand(const char *label, const NiceCandidate *c)
{
    char addr[NICE_ADDRESS_STRING_LEN];
    nice_address_to_string(&c->addr, addr);
    printf(" %s %s/%s %s:%u", label, nice_candidate_type_to_string(c->type),
           nice_candidate_transport_to_string(c->transport), addr, nice_address_get_port(&c->addr));
}

/* How a local relay candidate reaches its TURN server. libnice gives a
 * relay allocated over UDP the type preference 30 and one over TCP (or
 * TLS) 20, in the top byte of the priority (RFC 8445 5.1.2.1); nothing
 * else in its API tells them apart. */
static bool relay_over_tcp(const NiceCandidate *c) { return (c->priority >> 24) < 30; }

static void report_pair(probe *p, const char *what)
{
    NiceCandidate *l = NULL, *r = NULL;
    if (!nice_agent_get_selected_pair(p->agent, p->stream, 1, &l, &r))
        return;
    if (strcmp(what, "connected") == 0)
        printf("connected %ld", p->remote_read ? ms_since(p->t_remote) : -1L);
    else
        printf("pair");
    print_cand("local", l);
    print_cand("remote", r);
    if (l->type == NICE_CANDIDATE_TYPE_RELAYED)
        printf(" turn %s", relay_over_tcp(l) ? "tcp" : "udp");
    printf("\n");
    fflush(stdout);
}

/* ---- data, common ---- */

static gboolean on_linger(gpointer ud)
{
    finish(ud, 0, NULL);
    return G_SOURCE_REMOVE;
}

/* Exit 0 in a second: what was queued (the last checks, the answer) goes
 * out first. */
static void linger(probe *p)
{
    if (!p->lingering)
        g_timeout_add(1000, on_linger, p);
    p->lingering = true;
}

static void got_data(probe *p, size_t n)
{
    if (n == 0)
        return;
    if (p->o.controlling) { /* the receiver's answer */
        printf("acknowledged\n");
        finish(p, 0, NULL);
        return;
    }
    if (p->received == 0)
        p->t_first = g_get_monotonic_time();
    p->received += n;
    if (p->received >= p->o.bytes && p->t_last == 0) {
        p->t_last = g_get_monotonic_time();
        double secs = (double)(p->t_last - p->t_first) / 1e6;
        printf("transfer bytes %" G_GUINT64_FORMAT " secs %.3f MBps %.2f\n", p->received, secs,
               secs > 0 ? (double)p->received / secs / 1e6 : 0.0);
        fflush(stdout);
    }
}

/* How much the sender may still send in one go. */
static size_t to_send(const probe *p)
{
    guint64 left = p->o.bytes - p->sent;
    return left < CHUNK ? (size_t)left : CHUNK;
}

/* ---- reliable agent ---- */

static void reliable_pump(probe *p)
{
    if (p->o.controlling) {
        while (p->sent < p->o.bytes) {
            gint n = nice_agent_send(p->agent, p->stream, 1, (guint)to_send(p), p->chunk);
            if (n <= 0)
                return; /* wait for reliable-transport-writable */
            p->sent += (guint64)n;
        }
    } else if (p->t_last && !p->writable_wanted) {
        if (nice_agent_send(p->agent, p->stream, 1, 1, "!") == 1) {
            p->writable_wanted = true; /* answered */
            linger(p);
        }
    }
}

static void on_reliable_writable(NiceAgent *agent, guint stream, guint comp, gpointer ud)
{
    (void)agent, (void)stream, (void)comp;
    reliable_pump(ud);
}

/* ---- PseudoTcpSocket over a non-reliable agent ---- */

static void ptcp_clock(probe *p);

static void ptcp_pump(probe *p)
{
    if (p->o.controlling) {
        while (p->sent < p->o.bytes) {
            gint n = pseudo_tcp_socket_send(p->ptcp, p->chunk, (guint32)to_send(p));
            if (n <= 0)
                break;
            p->sent += (guint64)n;
        }
    } else if (p->t_last && !p->writable_wanted) {
        if (pseudo_tcp_socket_send(p->ptcp, "!", 1) == 1) {
            p->writable_wanted = true;
            linger(p);
        }
    }
}

static void ptcp_opened(PseudoTcpSocket *s, gpointer ud)
{
    (void)s;
    ptcp_pump(ud);
}

static void ptcp_readable(PseudoTcpSocket *s, gpointer ud)
{
    probe *p = ud;
    gint n;
    while ((n = pseudo_tcp_socket_recv(s, p->chunk, CHUNK)) > 0)
        got_data(p, (size_t)n);
    ptcp_pump(p);
}

static void ptcp_writable(PseudoTcpSocket *s, gpointer ud)
{
    (void)s;
    ptcp_pump(ud);
}

static void ptcp_closed(PseudoTcpSocket *s, guint32 err, gpointer ud)
{
    (void)s;
    if (err)
        finish(ud, 1, "pseudotcp closed with an error");
}

static PseudoTcpWriteResult ptcp_write(PseudoTcpSocket *s, const gchar *buf, guint32 len,
                                       gpointer ud)
{
    probe *p = ud;
    (void)s;
    return nice_agent_send(p->agent, p->stream, 1, len, buf) == (gint)len ? WR_SUCCESS : WR_FAIL;
}

static gboolean ptcp_tick(gpointer ud)
{
    probe *p = ud;
    p->ptcp_timer = 0;
    pseudo_tcp_socket_notify_clock(p->ptcp);
    ptcp_clock(p);
    return G_SOURCE_REMOVE;
}

static void ptcp_clock(probe *p)
{
    guint64 next;
    if (p->ptcp_timer)
        g_source_remove(p->ptcp_timer);
    p->ptcp_timer = 0;
    if (!pseudo_tcp_socket_get_next_clock(p->ptcp, &next))
        return;
    guint64 now = (guint64)(g_get_monotonic_time() / 1000);
    p->ptcp_timer = g_timeout_add(next > now ? (guint)(next - now) : 0, ptcp_tick, p);
}

static void ptcp_start(probe *p)
{
    PseudoTcpCallbacks cb = {p, ptcp_opened, ptcp_readable, ptcp_writable, ptcp_closed, ptcp_write};
    p->ptcp = pseudo_tcp_socket_new(1, &cb);
    g_object_set(p->ptcp, "rcv-buf", p->o.buf, "snd-buf", p->o.buf, "no-delay", TRUE, NULL);
    pseudo_tcp_socket_notify_mtu(p->ptcp, SCTP_MTU);
    if (p->o.controlling)
        pseudo_tcp_socket_connect(p->ptcp);
    ptcp_clock(p);
}

/* ---- usrsctp over the component's datagrams ---- */

static int sctp_out(void *addr, void *buf, size_t len, uint8_t tos, uint8_t df)
{
    probe *p = addr;
    (void)tos, (void)df;
    if (p->agent && p->connected)
        nice_agent_send(p->agent, p->stream, 1, (guint)len, buf);
    return 0;
}

static void sctp_pump(probe *p)
{
    char info[256];
    socklen_t infolen;
    unsigned int infotype;
    int flags;
    ssize_t n;
    for (;;) {
        infolen = sizeof info;
        flags = 0;
        n = usrsctp_recvv(p->sctp, p->chunk, CHUNK, NULL, NULL, info, &infolen, &infotype, &flags);
        if (n <= 0)
            break;
        if (!(flags & MSG_NOTIFICATION))
            got_data(p, (size_t)n);
    }
    if (p->o.controlling) {
        while (p->sent < p->o.bytes) {
            n = usrsctp_sendv(p->sctp, p->chunk, to_send(p), NULL, 0, NULL, 0, SCTP_SENDV_NOINFO,
                              0);
            if (n <= 0)
                break;
            p->sent += (guint64)n;
        }
    } else if (p->t_last && !p->writable_wanted) {
        if (usrsctp_sendv(p->sctp, "!", 1, NULL, 0, NULL, 0, SCTP_SENDV_NOINFO, 0) == 1) {
            p->writable_wanted = true;
            linger(p);
        }
    }
}

static void sctp_upcall(struct socket *s, void *ud, int flags)
{
    (void)s, (void)flags;
    sctp_pump(ud);
}

static gboolean sctp_tick(gpointer ud)
{
    probe *p = ud;
    gint64 now = g_get_monotonic_time();
    usrsctp_handle_timers((uint32_t)((now - p->sctp_tick) / 1000));
    p->sctp_tick = now;
    sctp_pump(p);
    return p->done ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

static void sctp_start(probe *p)
{
    struct sockaddr_conn sc = {
        .sconn_family = AF_CONN, .sconn_port = htons(SCTP_PORT), .sconn_addr = p};
    struct sctp_paddrparams pp = {.spp_flags = SPP_PMTUD_DISABLE, .spp_pathmtu = SCTP_MTU};
    int one = 1, size = (int)p->o.buf;

    usrsctp_init_nothreads(0, sctp_out, NULL);
    usrsctp_enable_crc32c_offload(); /* UDP's checksum covers the datagram */
    usrsctp_sysctl_set_sctp_ecn_enable(0);
    usrsctp_sysctl_set_sctp_default_cc_module((uint32_t)p->o.sctp_cc);
    usrsctp_register_address(p);
    p->sctp = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
    if (!p->sctp) {
        finish(p, 1, "usrsctp_socket");
        return;
    }
    usrsctp_set_non_blocking(p->sctp, 1);
    usrsctp_setsockopt(p->sctp, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    usrsctp_setsockopt(p->sctp, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    usrsctp_setsockopt(p->sctp, IPPROTO_SCTP, SCTP_NODELAY, &one, sizeof one);
    memcpy(&pp.spp_address, &sc, sizeof sc);
    usrsctp_set_upcall(p->sctp, sctp_upcall, p);
    if (usrsctp_bind(p->sctp, (struct sockaddr *)&sc, sizeof sc) != 0) {
        finish(p, 1, "usrsctp_bind");
        return;
    }
    /* Both ends connect: SCTP's simultaneous open, as WebRTC does. */
    if (usrsctp_connect(p->sctp, (struct sockaddr *)&sc, sizeof sc) != 0 && errno != EINPROGRESS) {
        finish(p, 1, "usrsctp_connect");
        return;
    }
    usrsctp_setsockopt(p->sctp, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &pp, sizeof pp);
    p->sctp_tick = g_get_monotonic_time();
    g_timeout_add(SCTP_TICK_MS, sctp_tick, p);
    p->sctp_up = true;
}

/* ---- Banter's stream: peer/net/icestream over the agent's datagrams ---- */

static void is_send(void *ud, const uint8_t *buf, size_t len)
{
    probe *p = ud;
    nice_agent_send(p->agent, p->stream, 1, (guint)len, (const gchar *)buf);
}

static void is_pump(probe *p)
{
    if (p->o.controlling) {
        while (p->sent < p->o.bytes) {
            size_t n = icestream_write(p->is, (const uint8_t *)p->chunk, to_send(p));
            if (n == 0)
                break;
            p->sent += n;
        }
    } else if (p->t_last && !p->writable_wanted) {
        if (icestream_write(p->is, (const uint8_t *)"!", 1) == 1) {
            p->writable_wanted = true;
            linger(p);
        }
    }
}

static void is_data(void *ud, icestream *s, const uint8_t *buf, size_t len)
{
    (void)s, (void)buf;
    got_data(ud, len);
    is_pump(ud);
}

static void is_writable(void *ud, icestream *s)
{
    (void)s;
    is_pump(ud);
}

static void is_closed(void *ud, icestream *s, int err)
{
    (void)s;
    if (err)
        finish(ud, 1, "stream died");
}

static void stream_start(probe *p)
{
    static const icestream_callbacks cb = {is_data, is_writable, is_closed};
    rstream_config cfg = {.snd_cap = p->o.buf, .rcv_cap = p->o.buf};
    int err;
    p->is = icestream_new(NULL, &cfg, is_send, p, &cb, p, &err);
    if (!p->is) {
        finish(p, 1, "icestream_new");
        return;
    }
    is_pump(p);
}

/* ---- agent events ---- */

static void on_recv(NiceAgent *agent, guint stream, guint comp, guint len, gchar *buf, gpointer ud)
{
    probe *p = ud;
    (void)agent, (void)stream, (void)comp;
    switch (p->o.mode) {
    case M_RELIABLE:
        got_data(p, len);
        reliable_pump(p);
        break;
    case M_PTCP:
        if (p->ptcp) {
            pseudo_tcp_socket_notify_packet(p->ptcp, buf, len);
            ptcp_clock(p);
        }
        break;
    case M_SCTP:
        if (p->sctp_up)
            usrsctp_conninput(p, buf, len, 0);
        break;
    case M_STREAM:
        if (p->is)
            icestream_input(p->is, (const uint8_t *)buf, len);
        break;
    case M_CONNECT:
        break;
    }
}

/* Connect mode: the other side's marker is there, so both are done. */
static gboolean poll_peer_ready(gpointer ud)
{
    probe *p = ud;
    char *marker = g_strdup_printf("%s.ready", p->o.remote);
    bool there = access(marker, F_OK) == 0;
    g_free(marker);
    if (p->done)
        return G_SOURCE_REMOVE;
    if (!there)
        return G_SOURCE_CONTINUE;
    finish(p, 0, NULL);
    return G_SOURCE_REMOVE;
}

static void start_data(probe *p)
{
    if (p->o.mode == M_CONNECT || p->o.bytes == 0)
        return; /* connect: on READY (on_state) */
    if (p->o.mode == M_RELIABLE)
        reliable_pump(p);
    else if (p->o.mode == M_PTCP)
        ptcp_start(p);
    else if (p->o.mode == M_STREAM)
        stream_start(p);
    else
        sctp_start(p);
}

/* Connect mode: this side is done; the other's marker ends it. */
static void ready_marker(probe *p)
{
    char *marker = g_strdup_printf("%s.ready", p->o.local);
    if (!write_file(marker, "ready\n"))
        finish(p, 1, "cannot write the ready marker");
    g_free(marker);
    g_timeout_add(POLL_MS, poll_peer_ready, p);
}

static void on_state(NiceAgent *agent, guint stream, guint comp, guint state, gpointer ud)
{
    probe *p = ud;
    (void)agent, (void)stream, (void)comp;
    if ((state == NICE_COMPONENT_STATE_CONNECTED || state == NICE_COMPONENT_STATE_READY) &&
        !p->connected) {
        p->connected = true;
        report_pair(p, "connected");
        start_data(p);
    }
    if (state == NICE_COMPONENT_STATE_READY && p->o.mode == M_CONNECT && !p->ready_said) {
        p->ready_said = true;
        ready_marker(p);
    } else if (state == NICE_COMPONENT_STATE_FAILED) {
        finish(p, 1, "ICE failed");
    }
}

static void on_pair(NiceAgent *agent, guint stream, guint comp, NiceCandidate *l, NiceCandidate *r,
                    gpointer ud)
{
    probe *p = ud;
    (void)agent, (void)stream, (void)comp, (void)l, (void)r;
    if (p->connected)
        report_pair(p, "pair");
}

static void on_closed(GObject *src, GAsyncResult *res, gpointer ud)
{
    (void)src, (void)res;
    g_main_loop_quit(((probe *)ud)->loop);
}

static gboolean on_timeout(gpointer ud)
{
    finish(ud, 1, "timeout");
    return G_SOURCE_REMOVE;
}

static gboolean on_signal(gpointer ud)
{
    finish(ud, 1, "signal");
    return G_SOURCE_REMOVE;
}

/* ---- set-up ---- */

static bool split_hostport(const char *s, char **host, guint *port)
{
    const char *colon = strrchr(s, ':');
    char *end;
    if (!colon)
        return false;
    unsigned long v = strtoul(colon + 1, &end, 10);
    if (*end || v == 0 || v > 65535)
        return false;
    *host = g_strndup(s, (gsize)(colon - s));
    *port = (guint)v;
    return true;
}

static bool setup_agent(probe *p)
{
    const opts *o = &p->o;
    NiceAgentOption flags = o->mode == M_RELIABLE ? NICE_AGENT_OPTION_RELIABLE : 0;
    char *host = NULL;
    guint port;

    p->agent = nice_agent_new_full(NULL, NICE_COMPATIBILITY_RFC5245, flags);
    g_object_set(p->agent, "controlling-mode", o->controlling, "upnp", FALSE, "ice-tcp", o->ice_tcp,
                 "ice-udp", !o->no_udp, "force-relay", o->force_relay, NULL);
    if (o->stun) {
        if (!split_hostport(o->stun, &host, &port))
            return false;
        g_object_set(p->agent, "stun-server", host, "stun-server-port", port, NULL);
        g_free(host);
    }
    p->stream = nice_agent_add_stream(p->agent, 1);
    if (p->stream == 0)
        return false;
    if (o->turn) {
        if (!split_hostport(o->turn, &host, &port) || !o->turn_user || !o->turn_pass)
            return false;
        nice_agent_set_relay_info(p->agent, p->stream, 1, host, port, o->turn_user, o->turn_pass,
                                  NICE_RELAY_TYPE_TURN_UDP);
        if (o->turn_tcp)
            nice_agent_set_relay_info(p->agent, p->stream, 1, host, port, o->turn_user,
                                      o->turn_pass, NICE_RELAY_TYPE_TURN_TCP);
        g_free(host);
    }
    g_signal_connect(p->agent, "candidate-gathering-done", G_CALLBACK(on_gathered), p);
    g_signal_connect(p->agent, "component-state-changed", G_CALLBACK(on_state), p);
    g_signal_connect(p->agent, "new-selected-pair-full", G_CALLBACK(on_pair), p);
    g_signal_connect(p->agent, "reliable-transport-writable", G_CALLBACK(on_reliable_writable), p);
    nice_agent_attach_recv(p->agent, p->stream, 1, NULL, on_recv, p);
    return nice_agent_gather_candidates(p->agent, p->stream);
}

static bool parse_u64(const char *s, guint64 max, guint64 *out)
{
    char *end;
    errno = 0;
    *out = g_ascii_strtoull(s, &end, 10);
    return errno == 0 && end != s && *end == '\0' && *out <= max && s[0] != '-';
}

static int usage(void)
{
    fprintf(stderr, "usage: ice_probe --role controlling|controlled --local FILE --remote FILE\n"
                    "  [--stun IP:PORT] [--turn IP:PORT --turn-user U --turn-pass P]\n"
                    "  [--turn-tcp] [--force-relay] [--ice-tcp] [--no-udp]\n"
                    "  [--mode connect|reliable|ptcp|sctp|stream] [--bytes N] [--buf BYTES]\n"
                    "  [--sctp-cc N] [--timeout S]\n");
    return 2;
}

static bool parse_args(int argc, char **argv, opts *o)
{
    guint64 v;
    *o = (opts){.buf = DEF_BUF, .timeout_s = 30};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        if (strcmp(a, "--turn-tcp") == 0)
            o->turn_tcp = true, takes = false;
        else if (strcmp(a, "--force-relay") == 0)
            o->force_relay = true, takes = false;
        else if (strcmp(a, "--ice-tcp") == 0)
            o->ice_tcp = true, takes = false;
        else if (strcmp(a, "--no-udp") == 0)
            o->no_udp = true, takes = false;
        else if (!val)
            return false;
        else if (strcmp(a, "--role") == 0 &&
                 (strcmp(val, "controlling") == 0 || strcmp(val, "controlled") == 0))
            o->controlling = strcmp(val, "controlling") == 0;
        else if (strcmp(a, "--local") == 0)
            o->local = val;
        else if (strcmp(a, "--remote") == 0)
            o->remote = val;
        else if (strcmp(a, "--stun") == 0)
            o->stun = val;
        else if (strcmp(a, "--turn") == 0)
            o->turn = val;
        else if (strcmp(a, "--turn-user") == 0)
            o->turn_user = val;
        else if (strcmp(a, "--turn-pass") == 0)
            o->turn_pass = val;
        else if (strcmp(a, "--mode") == 0) {
            static const char *const names[] = {"connect", "reliable", "ptcp", "sctp", "stream"};
            size_t k = 0;
            while (k < 5 && strcmp(val, names[k]) != 0)
                k++;
            if (k == 5)
                return false;
            o->mode = (mode)k;
        } else if (strcmp(a, "--bytes") == 0 && parse_u64(val, G_MAXUINT64, &v))
            o->bytes = v;
        else if (strcmp(a, "--buf") == 0 && parse_u64(val, 1u << 30, &v) && v >= 4096)
            o->buf = (guint)v;
        else if (strcmp(a, "--sctp-cc") == 0 && parse_u64(val, 3, &v))
            o->sctp_cc = (int)v;
        else if (strcmp(a, "--timeout") == 0 && parse_u64(val, 86400, &v) && v > 0)
            o->timeout_s = (guint)v;
        else
            return false;
        if (takes)
            i++;
    }
    return o->local && o->remote;
}

int main(int argc, char **argv)
{
    probe p = {0};
    if (!parse_args(argc, argv, &p.o))
        return usage();
    p.rc = 1;
    p.t_start = g_get_monotonic_time();
    p.loop = g_main_loop_new(NULL, FALSE);
    p.chunk = g_malloc0(CHUNK);
    unlink(p.o.local);
    char *marker = g_strdup_printf("%s.ready", p.o.local);
    unlink(marker);
    g_free(marker);
    if (!setup_agent(&p)) {
        fprintf(stderr, "ice_probe: bad STUN/TURN settings or no stream\n");
        return 2;
    }
    g_timeout_add(POLL_MS, poll_remote, &p);
    g_timeout_add_seconds(p.o.timeout_s, on_timeout, &p);
    g_unix_signal_add(SIGTERM, on_signal, &p);
    g_unix_signal_add(SIGINT, on_signal, &p);
    g_main_loop_run(p.loop);
    if (p.sctp)
        usrsctp_close(p.sctp);
    icestream_free(p.is);
    if (p.ptcp)
        g_object_unref(p.ptcp);
    /* Release the TURN allocations (refreshes with lifetime 0) first. */
    nice_agent_close_async(p.agent, on_closed, &p);
    g_main_loop_run(p.loop);
    g_object_unref(p.agent);
    g_main_loop_unref(p.loop);
    g_free(p.chunk);
    return p.rc;
}
