/* SPDX-License-Identifier: MIT */
/*
 * mdns_probe.c - drives peer/mdns.c for the integration tests.
 *
 *   mdns_probe NAME PORT SECONDS
 *
 * Publishes NAME on PORT under a fresh random identity and prints one line
 * per event on stdout, flushed at once:
 *   found <fp> <name> <addr>:<port>
 *   lost <fp>
 *   status up|down <why>
 *   log <text>            (a record refused: its address is no colleague's)
 * (<fp> is the 40 digits of the TXT record). stderr gets "self <fp>" at
 * the start and each event again with the milliseconds since start. Exits
 * 0 after SECONDS, or at SIGTERM/SIGINT, after mdns_free (which withdraws
 * the service, so colleagues see a goodbye). Exit 2 on bad usage, 1 when
 * mdns_new fails.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib-unix.h>
#include <glib.h>

#include "identity.h"
#include "net/mdns.h"

typedef struct probe {
    GMainLoop *loop;
    gint64 start_us;
} probe;

static long elapsed_ms(const probe *p)
{
    return (long)((g_get_monotonic_time() - p->start_us) / 1000);
}

static void on_found(void *ud, const mdns_peer *peer)
{
    printf("found %s %s %s:%u\n", peer->fingerprint, peer->name, peer->address,
           (unsigned)peer->port);
    fprintf(stderr, "+%ld ms found %s %s %s:%u v=%d\n", elapsed_ms(ud), peer->fingerprint,
            peer->name, peer->address, (unsigned)peer->port, peer->version);
}

static void on_lost(void *ud, const char *fp)
{
    printf("lost %s\n", fp);
    fprintf(stderr, "+%ld ms lost %s\n", elapsed_ms(ud), fp);
}

static void on_status(void *ud, bool up, const char *why)
{
    printf("status %s %s\n", up ? "up" : "down", why);
    fprintf(stderr, "+%ld ms status %s %s\n", elapsed_ms(ud), up ? "up" : "down", why);
}

static void on_log(void *ud, const char *text)
{
    printf("log %s\n", text);
    fprintf(stderr, "+%ld ms log %s\n", elapsed_ms(ud), text);
}

static gboolean on_quit(gpointer ud)
{
    g_main_loop_quit(((probe *)ud)->loop);
    return G_SOURCE_REMOVE;
}

static bool parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    *out = strtoul(s, &end, 10);
    return errno == 0 && end != s && *end == '\0' && *out <= max && s[0] != '-';
}

int main(int argc, char **argv)
{
    const mdns_callbacks cb = {on_found, on_lost, on_status, on_log};
    char fp[IDENTITY_FP_LEN + 1];
    unsigned long port, seconds;
    identity *id = NULL;
    mdns *m = NULL;
    probe p;
    int ret;

    if (argc != 4 || !parse_ulong(argv[2], 65535, &port) || port == 0 ||
        !parse_ulong(argv[3], 86400, &seconds)) {
        fprintf(stderr, "usage: mdns_probe NAME PORT SECONDS\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (bcrypto_init() != 0 || identity_generate(&id, bcrypto_rng_system()) != 0) {
        fprintf(stderr, "mdns_probe: cannot make an identity\n");
        return 1;
    }
    identity_fingerprint(identity_public(id), fp);
    identity_free(id);

    p.loop = g_main_loop_new(NULL, FALSE);
    p.start_us = g_get_monotonic_time();
    ret = mdns_new(&m, NULL, NULL, argv[1], fp, (uint16_t)port, &cb, &p);
    if (ret != 0) {
        fprintf(stderr, "mdns_probe: mdns_new: %s\n", banter_strerror(ret));
        g_main_loop_unref(p.loop);
        return 1;
    }
    {
        char digits[IDENTITY_FP_DIGITS + 1];
        size_t n = 0;
        for (const char *c = fp; *c; c++)
            if (*c != ' ')
                digits[n++] = *c;
        digits[n] = '\0';
        fprintf(stderr, "self %s\n", digits);
    }
    g_timeout_add((guint)(seconds * 1000u), on_quit, &p);
    g_unix_signal_add(SIGTERM, on_quit, &p);
    g_unix_signal_add(SIGINT, on_quit, &p);
    g_main_loop_run(p.loop);

    mdns_free(m);
    g_main_loop_unref(p.loop);
    return 0;
}
