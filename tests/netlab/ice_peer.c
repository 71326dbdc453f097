/* SPDX-License-Identifier: MIT */
/*
 * ice_peer.c - the product's path through NAT, end to end, without the
 * node: peer/net/ice (libnice agent) + shared/icecand (the remote side's
 * values checked) + peer/net/icestream (the reliable stream), for
 * test_netlab.sh and bench_ice.sh.
 *
 *   ice_peer --role controlling|controlled --local FILE --remote FILE
 *            [--turn IP:PORT --turn-user U --turn-pass P] [--turn-tcp]
 *            [--stun IP:PORT] [--force-relay] [--same-lan] [--bytes N]
 *            [--buf BYTES] [--timeout S]
 *
 * Signaling through files: once gathered, --local gets "ufrag\npwd\n" and
 * one candidate line each (written by rename); the peer's --remote is read
 * when it appears and goes through icecand_parse_set() (policy: IPv4, UDP,
 * loopback and link-local only with --same-lan) before ice_set_remote().
 * With --bytes N the controlling end sends N bytes of a known pattern, the
 * controlled end checks every byte, prints the rate and answers one byte.
 * Lines on stdout:
 *   gathered MS
 *   remote accepted N rejected N [first error]
 *   connected MS local TYPE/TRANSPORT ADDR remote TYPE/TRANSPORT ADDR [turn udp|tcp]
 *   pair ...                      (a later change of pair)
 *   transfer bytes N secs S MBps R
 *   acknowledged | failed REASON
 * Exit 0 on success, 1 on failure or timeout (default 60 s), 2 on bad usage.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib.h>

#include "ice.h"
#include "icecand.h"
#include "icestream.h"

#define CHUNK   65536u
#define POLL_MS 20

typedef struct peer {
    ice_config cfg;
    const char *local, *remote;
    bool same_lan, done, answered;
    guint64 bytes, sent, received;
    guint buf;
    guint timeout_s;
    int rc;
    GMainLoop *loop;
    ice_agent *ice;
    icestream *is;
    gint64 t_start, t_remote, t_first;
    char *turn_host, *stun_host;
} peer;

static long ms_since(gint64 t) { return (long)((g_get_monotonic_time() - t) / 1000); }

static void finish(peer *p, int rc, const char *why)
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

static gboolean on_linger(gpointer ud)
{
    finish(ud, 0, NULL);
    return G_SOURCE_REMOVE;
}

/* The bytes sent: byte i is pat[i % PAT_PERIOD] (a prime period, so a
 * misplaced chunk does not match), filled and checked by memcpy/memcmp. */
#define PAT_PERIOD 65521u
static uint8_t pat[PAT_PERIOD + CHUNK];

static void pattern_init(void)
{
    uint32_t x = 0x9e3779b9u;
    for (size_t i = 0; i < sizeof pat; i++) {
        if (i < PAT_PERIOD) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            pat[i] = (uint8_t)x;
        } else {
            pat[i] = pat[i - PAT_PERIOD];
        }
    }
}

static const uint8_t *pattern_at(guint64 off) { return pat + off % PAT_PERIOD; }

/* ---- the stream ---- */

static void pump(peer *p)
{
    if (p->cfg.controlling) {
        while (p->sent < p->bytes) {
            size_t want = p->bytes - p->sent < CHUNK ? (size_t)(p->bytes - p->sent) : CHUNK;
            size_t n = icestream_write(p->is, pattern_at(p->sent), want);
            p->sent += n;
            if (n < want)
                break;
        }
    } else if (p->received == p->bytes && !p->answered) {
        if (icestream_write(p->is, (const uint8_t *)"!", 1) == 1) {
            p->answered = true;
            g_timeout_add(1000, on_linger, p);
        }
    }
}

static void on_data(void *ud, icestream *s, const uint8_t *d, size_t len)
{
    peer *p = ud;
    (void)s;
    if (p->cfg.controlling) {
        printf("acknowledged\n");
        finish(p, 0, NULL);
        return;
    }
    if (p->received == 0)
        p->t_first = g_get_monotonic_time();
    for (size_t at = 0; at < len;) {
        size_t n = len - at < CHUNK ? len - at : CHUNK;
        if (p->received + at + n > p->bytes || memcmp(d + at, pattern_at(p->received + at), n)) {
            finish(p, 1, "received bytes differ from those sent");
            return;
        }
        at += n;
    }
    p->received += len;
    if (p->received == p->bytes) {
        double secs = (double)(g_get_monotonic_time() - p->t_first) / 1e6;
        printf("transfer bytes %" G_GUINT64_FORMAT " secs %.3f MBps %.2f\n", p->received, secs,
               secs > 0 ? (double)p->received / secs / 1e6 : 0.0);
        fflush(stdout);
    }
    pump(p);
}

static void on_writable(void *ud, icestream *s)
{
    (void)s;
    pump(ud);
}

static void on_closed(void *ud, icestream *s, int err)
{
    (void)s;
    if (err)
        finish(ud, 1, "stream died");
}

static void send_dgram(void *ud, const uint8_t *d, size_t len) { ice_send(ud, d, len); }

/* ---- ICE ---- */

static void on_gathered(void *ud, ice_agent *a)
{
    peer *p = ud;
    char *ufrag, *pwd, **cands = ice_local_candidates(a), *tmp;
    GString *text = g_string_new(NULL);
    bool ok;

    printf("gathered %ld\n", ms_since(p->t_start));
    fflush(stdout);
    if (ice_local_credentials(a, &ufrag, &pwd) != 0) {
        finish(p, 1, "no local credentials");
        goto out;
    }
    g_string_append_printf(text, "%s\n%s\n", ufrag, pwd);
    for (char **c = cands; c && *c; c++)
        g_string_append_printf(text, "%s\n", *c);
    tmp = g_strdup_printf("%s.tmp", p->local);
    ok = g_file_set_contents(tmp, text->str, -1, NULL) && rename(tmp, p->local) == 0;
    g_free(tmp);
    if (!ok)
        finish(p, 1, "cannot write the local description");
    g_free(ufrag);
    g_free(pwd);
out:
    g_strfreev(cands);
    g_string_free(text, TRUE);
}

static void print_pair(const char *what, long ms, const ice_pair *pr)
{
    if (ms >= 0)
        printf("%s %ld", what, ms);
    else
        printf("%s", what);
    printf(" local %s/%s %s remote %s/%s %s", pr->local_type, pr->local_tcp ? "tcp" : "udp",
           pr->local_addr, pr->remote_type, pr->remote_tcp ? "tcp" : "udp", pr->remote_addr);
    if (strcmp(pr->local_type, "relay") == 0)
        printf(" turn %s", pr->relay_tcp ? "tcp" : "udp");
    printf("\n");
    fflush(stdout);
}

static void on_state(void *ud, ice_agent *a, ice_state st)
{
    peer *p = ud;
    static const icestream_callbacks cb = {on_data, on_writable, on_closed};
    ice_pair pr;
    int err;

    if (st == ICE_FAILED) {
        finish(p, 1, "ICE failed");
        return;
    }
    if (st != ICE_CONNECTED || p->is)
        return;
    if (ice_get_pair(a, &pr) == 0)
        print_pair("connected", ms_since(p->t_remote), &pr);
    rstream_config rc = {.snd_cap = p->buf, .rcv_cap = p->buf};
    p->is = icestream_new(NULL, &rc, send_dgram, a, &cb, p, &err);
    if (!p->is) {
        finish(p, 1, "icestream_new");
        return;
    }
    if (p->bytes == 0)
        g_timeout_add(1000, on_linger, p);
    else
        pump(p);
}

static void on_pair(void *ud, ice_agent *a, const ice_pair *pr)
{
    peer *p = ud;
    (void)a;
    if (p->is)
        print_pair("pair", -1, pr);
}

static void on_datagram(void *ud, ice_agent *a, const uint8_t *d, size_t len)
{
    peer *p = ud;
    (void)a;
    if (p->is)
        icestream_input(p->is, d, len);
}

static gboolean poll_remote(gpointer ud)
{
    peer *p = ud;
    icecand_policy pol = {.same_lan = p->same_lan, .allow_tcp = p->cfg.ice_tcp};
    static icecand_set set;
    gchar *text = NULL, **lines;
    size_t n, rejected;
    int first, ret;

    if (p->done)
        return G_SOURCE_REMOVE;
    if (!g_file_get_contents(p->remote, &text, NULL, NULL))
        return G_SOURCE_CONTINUE;
    p->t_remote = g_get_monotonic_time();
    lines = g_strsplit(text, "\n", -1);
    n = g_strv_length(lines);
    while (n > 0 && lines[n - 1][0] == '\0')
        n--;
    ret = n < 2 ? BANTER_EFORMAT
                : icecand_parse_set(lines[0], lines[1], (const char *const *)lines + 2, n - 2, &pol,
                                    &set, &rejected, &first);
    if (ret != 0) {
        printf("remote refused %s\n", banter_errname(ret));
        finish(p, 1, "remote description refused");
    } else {
        printf("remote accepted %zu rejected %zu%s%s\n", set.n, rejected, first ? " " : "",
               first ? banter_errname(first) : "");
        fflush(stdout);
        if (ice_set_remote(p->ice, &set) != 0)
            finish(p, 1, "no usable remote candidate");
    }
    g_strfreev(lines);
    g_free(text);
    return G_SOURCE_REMOVE;
}

/* ---- set-up ---- */

static bool hostport(const char *s, char **host, uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    char *end;
    if (!colon)
        return false;
    unsigned long v = strtoul(colon + 1, &end, 10);
    if (*end || v == 0 || v > 65535)
        return false;
    *host = g_strndup(s, (gsize)(colon - s));
    *port = (uint16_t)v;
    return true;
}

static bool parse_args(int argc, char **argv, peer *p)
{
    p->buf = 16u << 20;
    p->timeout_s = 60;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        guint64 n;
        if (strcmp(a, "--turn-tcp") == 0) {
            p->cfg.turn_tcp = true;
            continue;
        } else if (strcmp(a, "--force-relay") == 0) {
            p->cfg.force_relay = true;
            continue;
        } else if (strcmp(a, "--same-lan") == 0) {
            p->same_lan = true;
            continue;
        }
        if (!v)
            return false;
        i++;
        if (strcmp(a, "--role") == 0)
            p->cfg.controlling = strcmp(v, "controlling") == 0;
        else if (strcmp(a, "--local") == 0)
            p->local = v;
        else if (strcmp(a, "--remote") == 0)
            p->remote = v;
        else if (strcmp(a, "--turn") == 0 && hostport(v, &p->turn_host, &p->cfg.turn_port))
            p->cfg.turn_host = p->turn_host;
        else if (strcmp(a, "--stun") == 0 && hostport(v, &p->stun_host, &p->cfg.stun_port))
            p->cfg.stun_host = p->stun_host;
        else if (strcmp(a, "--turn-user") == 0)
            p->cfg.turn_user = v;
        else if (strcmp(a, "--turn-pass") == 0)
            p->cfg.turn_pass = v;
        else if (strcmp(a, "--bytes") == 0 &&
                 g_ascii_string_to_unsigned(v, 10, 0, G_MAXUINT64, &n, NULL))
            p->bytes = n;
        else if (strcmp(a, "--buf") == 0 &&
                 g_ascii_string_to_unsigned(v, 10, RSTREAM_MIN_WINDOW, 1u << 30, &n, NULL))
            p->buf = (guint)n;
        else if (strcmp(a, "--timeout") == 0 &&
                 g_ascii_string_to_unsigned(v, 10, 1, 86400, &n, NULL))
            p->timeout_s = (guint)n;
        else
            return false;
    }
    return p->local && p->remote;
}

static gboolean on_timeout(gpointer ud)
{
    finish(ud, 1, "timeout");
    return G_SOURCE_REMOVE;
}

static gboolean on_quit(gpointer loop)
{
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

static gboolean on_signal(gpointer ud)
{
    finish(ud, 1, "signal");
    return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
    static const ice_callbacks cb = {on_gathered, on_state, on_pair, on_datagram};
    peer p = {0};
    int err;

    if (!parse_args(argc, argv, &p)) {
        fprintf(stderr, "usage: ice_peer --role controlling|controlled --local FILE --remote "
                        "FILE [--turn IP:PORT --turn-user U --turn-pass P] [--turn-tcp]\n"
                        "  [--stun IP:PORT] [--force-relay] [--same-lan] [--bytes N] "
                        "[--buf BYTES] [--timeout S]\n");
        return 2;
    }
    p.rc = 1;
    p.t_start = g_get_monotonic_time();
    p.loop = g_main_loop_new(NULL, FALSE);
    pattern_init();
    unlink(p.local);
    p.ice = ice_new(NULL, &p.cfg, &cb, &p, &err);
    if (!p.ice) {
        fprintf(stderr, "ice_peer: ice_new: %s\n", banter_strerror(err));
        return 2;
    }
    g_timeout_add(POLL_MS, poll_remote, &p);
    g_timeout_add_seconds(p.timeout_s, on_timeout, &p);
    g_unix_signal_add(SIGTERM, on_signal, &p);
    g_unix_signal_add(SIGINT, on_signal, &p);
    g_main_loop_run(p.loop);
    icestream_free(p.is);
    ice_free(p.ice);
    /* let the agent release its TURN allocations */
    g_timeout_add(300, on_quit, p.loop);
    g_main_loop_run(p.loop);
    g_main_loop_unref(p.loop);
    g_free(p.turn_host);
    g_free(p.stun_host);
    return p.rc;
}
