/* SPDX-License-Identifier: MIT */
/*
 * mdns_probe.c - drives peer/mdns.c for the integration tests.
 *
 *   mdns_probe NAME PORT SECONDS [REFUTE]
 *
 * Publishes NAME on PORT under a fresh random identity and prints one line
 * per event on stdout, flushed at once:
 *   found <fp> <name> <addr>:<port>
 *   lost <fp>
 *   status up|down <why>
 *   log <text>            (a record refused: its address is no colleague's)
 * (<fp> is the 40 digits of the TXT record). stderr gets "self <fp>" at
 * the start and each event again with the milliseconds since start. With
 * REFUTE (prefixes, separated by commas), SIGUSR1 makes it refute
 * (mdns_refute) every record it has found whose name starts with one of
 * them, as a node does when the LAN proves them false, and print
 * "refuted <n>" after the callbacks that caused. Exits
 * 0 after SECONDS, or at SIGTERM/SIGINT, after mdns_free (which withdraws
 * the service, so colleagues see a goodbye). Exit 2 on bad usage, 1 when
 * mdns_new fails.
 *
 *   mdns_probe --flood N PREFIX PORT SECONDS [HOST [ADDR [PER]]]
 *
 * A hostile neighbour: publishes N _banter._tcp services "PREFIX-<i>"
 * (i from 0), each with a TXT record a node takes (v=1, a random fp,
 * name=PREFIX-<i>), on PORT at this host's own name, or at HOST (a name
 * with no address record makes services that never resolve). With ADDR
 * (IPv4), HOST's address record says ADDR, someone else's address (no
 * reverse record, which that host owns). With PER, the services are spread
 * PER to a host: HOST is a prefix, the services of host j (from 0) are at
 * "HOST<j>.local", whose address record says ADDR + j (so N / PER hosts
 * of made-up addresses, as many colleagues would be). Entry groups
 * are filled up to the daemon's entries-per-entry-group-max. Prints
 * "published N in G groups" once all are committed, then "established N"
 * once the daemon has announced them all (a failure or collision on
 * stderr); ends like the probe above, withdrawing them all. SIGUSR1
 * gives every service a new random fp (its TXT record updated in place,
 * the services staying) and prints "updated N".
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib-unix.h>
#include <glib.h>

#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/address.h>
#include <avahi-common/error.h>

#include "identity.h"
#include "net/avahipoll.h"
#include "net/mdns.h"

typedef struct probe {
    GMainLoop *loop;
    gint64 start_us;
    mdns *m;
    GHashTable *found; /* name -> mdns_peer *: the last found() per name */
    char **refute;     /* REFUTE's prefixes, or NULL */
} probe;

static long elapsed_ms(const probe *p)
{
    return (long)((g_get_monotonic_time() - p->start_us) / 1000);
}

static void on_found(void *ud, const mdns_peer *peer)
{
    probe *pr = ud;
    g_hash_table_insert(pr->found, g_strdup(peer->name), g_memdup2(peer, sizeof *peer));
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

static bool refutable(const probe *p, const char *name)
{
    for (char **r = p->refute; r && *r; r++)
        if (**r && g_str_has_prefix(name, *r))
            return true;
    return false;
}

/* SIGUSR1: refute the found records REFUTE names. The table changes
 * under the callbacks mdns_refute runs: work from a copy. */
static gboolean on_refute(gpointer ud)
{
    probe *p = ud;
    GPtrArray *hit = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter it;
    gpointer k, v;

    g_hash_table_iter_init(&it, p->found);
    while (g_hash_table_iter_next(&it, &k, &v))
        if (refutable(p, k)) {
            g_ptr_array_add(hit, v);
            g_hash_table_iter_steal(&it);
            g_free(k);
        }
    for (guint i = 0; i < hit->len; i++) {
        const mdns_peer *peer = g_ptr_array_index(hit, i);
        mdns_refute(p->m, peer->fingerprint, peer->address, peer->port);
    }
    printf("refuted %u\n", hit->len);
    fprintf(stderr, "+%ld ms refuted %u\n", elapsed_ms(p), hit->len);
    g_ptr_array_free(hit, TRUE);
    return G_SOURCE_CONTINUE;
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

/* ---- --flood ---- */

typedef struct flood {
    GMainLoop *loop;
    AvahiClient *client;
    GPtrArray *groups; /* AvahiEntryGroup * */
    GPtrArray *of;     /* the group of service i (not owned) */
    unsigned long n, established, per;
    const char *prefix, *host, *addr;
    uint16_t port;
    bool published;
    int ret;
} flood;

static void on_flood_group(AvahiEntryGroup *g, AvahiEntryGroupState st, void *ud)
{
    flood *f = ud;
    (void)g;
    if (st == AVAHI_ENTRY_GROUP_ESTABLISHED && ++f->established == f->groups->len)
        printf("established %lu\n", f->n);
    else if (st == AVAHI_ENTRY_GROUP_COLLISION || st == AVAHI_ENTRY_GROUP_FAILURE)
        fprintf(stderr, "mdns_probe: a group %s\n",
                st == AVAHI_ENTRY_GROUP_COLLISION ? "collided" : "failed");
}

static AvahiEntryGroup *flood_group(flood *f)
{
    AvahiEntryGroup *g = avahi_entry_group_new(f->client, on_flood_group, f);
    if (g)
        g_ptr_array_add(f->groups, g);
    return g;
}

/* "fp=" and 40 random digits, in out. */
static void random_fp(char out[static 4 + IDENTITY_FP_DIGITS])
{
    memcpy(out, "fp=", 3);
    for (size_t d = 0; d < IDENTITY_FP_DIGITS; d++)
        out[3 + d] = (char)('0' + g_random_int_range(0, 10));
    out[3 + IDENTITY_FP_DIGITS] = '\0';
}

/* The name and address record of host j (per != 0) in g, added to g.
 * 0 or the Avahi error (AVAHI_ERR_TOO_MANY_ENTRIES: g is full). */
static int flood_host(flood *f, AvahiEntryGroup *g, unsigned long j, char *host, size_t cap)
{
    AvahiAddress a;

    if (!avahi_address_parse(f->addr, AVAHI_PROTO_INET, &a))
        return AVAHI_ERR_INVALID_ADDRESS;
    if (f->per) {
        /* ADDR + j, the address in network order. */
        uint32_t h = g_ntohl(a.data.ipv4.address) + (uint32_t)j;
        a.data.ipv4.address = g_htonl(h);
        snprintf(host, cap, "%s%lu.local", f->host, j);
    } else {
        snprintf(host, cap, "%s", f->host);
    }
    return avahi_entry_group_add_address(g, AVAHI_IF_UNSPEC, AVAHI_PROTO_INET,
                                         AVAHI_PUBLISH_NO_REVERSE, host, &a);
}

/* Publish every service, a group after another; 0 or the Avahi error. */
static int flood_publish(flood *f)
{
    AvahiEntryGroup *g = flood_group(f);
    unsigned long i = 0;
    char host[128];
    bool host_done = false;

    if (f->host)
        snprintf(host, sizeof host, "%s", f->host);
    while (g && i < f->n) {
        char name[64], fp[4 + IDENTITY_FP_DIGITS], txt_name[72];
        int r;
        if (f->addr && !host_done) {
            /* The host of service i, before its first service. */
            r = flood_host(f, g, f->per ? i / f->per : 0, host, sizeof host);
            if (r == AVAHI_ERR_TOO_MANY_ENTRIES && !avahi_entry_group_is_empty(g)) {
                if ((r = avahi_entry_group_commit(g)) < 0)
                    return r;
                g = flood_group(f);
                continue;
            }
            if (r < 0)
                return r;
            host_done = true;
        }
        snprintf(name, sizeof name, "%s-%04lu", f->prefix, i);
        snprintf(txt_name, sizeof txt_name, "name=%s", name);
        random_fp(fp);
        r = avahi_entry_group_add_service(g, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0, name,
                                          MDNS_SERVICE_TYPE, NULL, f->host ? host : NULL, f->port,
                                          "v=1", fp, txt_name, NULL);
        if (r == AVAHI_ERR_TOO_MANY_ENTRIES && !avahi_entry_group_is_empty(g)) {
            if ((r = avahi_entry_group_commit(g)) < 0)
                return r;
            g = flood_group(f);
            continue;
        }
        if (r < 0)
            return r;
        g_ptr_array_add(f->of, g);
        i++;
        if (f->per && i % f->per == 0)
            host_done = false; /* the next service is on the next host */
    }
    if (!g)
        return avahi_client_errno(f->client);
    return avahi_entry_group_commit(g);
}

static void on_flood_client(AvahiClient *c, AvahiClientState st, void *ud)
{
    flood *f = ud;
    int r;

    f->client = c;
    if (st == AVAHI_CLIENT_S_RUNNING && !f->published) {
        f->published = true;
        if ((r = flood_publish(f)) < 0) {
            fprintf(stderr, "mdns_probe: cannot publish: %s\n", avahi_strerror(r));
            f->ret = 1;
            g_main_loop_quit(f->loop);
            return;
        }
        printf("published %lu in %u groups\n", f->n, f->groups->len);
    } else if (st == AVAHI_CLIENT_FAILURE) {
        fprintf(stderr, "mdns_probe: avahi-daemon went away\n");
        f->ret = 1;
        g_main_loop_quit(f->loop);
    }
}

/* SIGUSR1: a new key in every service's TXT record. */
static gboolean on_flood_update(gpointer ud)
{
    flood *f = ud;
    unsigned long n = 0;

    for (guint i = 0; i < f->of->len; i++) {
        char name[64], fp[4 + IDENTITY_FP_DIGITS], txt_name[72];
        snprintf(name, sizeof name, "%s-%04u", f->prefix, i);
        snprintf(txt_name, sizeof txt_name, "name=%s", name);
        random_fp(fp);
        if (avahi_entry_group_update_service_txt(g_ptr_array_index(f->of, i), AVAHI_IF_UNSPEC,
                                                 AVAHI_PROTO_UNSPEC, 0, name, MDNS_SERVICE_TYPE,
                                                 NULL, "v=1", fp, txt_name, NULL) == 0)
            n++;
    }
    printf("updated %lu\n", n);
    return G_SOURCE_CONTINUE;
}

static gboolean on_flood_quit(gpointer ud)
{
    g_main_loop_quit(((flood *)ud)->loop);
    return G_SOURCE_REMOVE;
}

static int flood_main(int argc, char **argv)
{
    unsigned long port, seconds;
    avahipoll *poll = NULL;
    AvahiClient *c;
    flood f = {0};
    int err = 0;

    if (argc < 6 || argc > 9 || !parse_ulong(argv[2], 100000, &f.n) || f.n == 0 ||
        strlen(argv[3]) > 40 || !parse_ulong(argv[4], 65535, &port) || port == 0 ||
        !parse_ulong(argv[5], 86400, &seconds) || (argc >= 7 && strlen(argv[6]) > 60) ||
        (argc == 9 && (!parse_ulong(argv[8], 100000, &f.per) || f.per == 0))) {
        fprintf(stderr, "usage: mdns_probe --flood N PREFIX PORT SECONDS [HOST [ADDR [PER]]]\n");
        return 2;
    }
    f.prefix = argv[3];
    f.port = (uint16_t)port;
    f.host = argc >= 7 ? argv[6] : NULL;
    f.addr = argc >= 8 ? argv[7] : NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    f.loop = g_main_loop_new(NULL, FALSE);
    f.groups = g_ptr_array_new();
    f.of = g_ptr_array_new();
    if (avahipoll_new(&poll, NULL, NULL) != 0) {
        fprintf(stderr, "mdns_probe: out of memory\n");
        return 1;
    }
    c = avahi_client_new(avahipoll_api(poll), 0, on_flood_client, &f, &err);
    if (!c) {
        fprintf(stderr, "mdns_probe: cannot reach avahi-daemon: %s\n", avahi_strerror(err));
        f.ret = 1;
    } else {
        g_timeout_add((guint)(seconds * 1000u), on_flood_quit, &f);
        g_unix_signal_add(SIGTERM, on_flood_quit, &f);
        g_unix_signal_add(SIGINT, on_flood_quit, &f);
        g_unix_signal_add(SIGUSR1, on_flood_update, &f);
        g_main_loop_run(f.loop);
        avahi_client_free(c); /* with its groups: the services are withdrawn */
    }
    avahipoll_free(poll);
    g_ptr_array_free(f.groups, TRUE);
    g_ptr_array_free(f.of, TRUE);
    g_main_loop_unref(f.loop);
    return f.ret;
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

    if (argc > 1 && strcmp(argv[1], "--flood") == 0)
        return flood_main(argc, argv);
    if ((argc != 4 && argc != 5) || !parse_ulong(argv[2], 65535, &port) || port == 0 ||
        !parse_ulong(argv[3], 86400, &seconds)) {
        fprintf(stderr, "usage: mdns_probe NAME PORT SECONDS [REFUTE]\n");
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
    p.found = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    p.refute = argc == 5 ? g_strsplit(argv[4], ",", -1) : NULL;
    ret = mdns_new(&m, NULL, NULL, argv[1], fp, (uint16_t)port, &cb, &p);
    if (ret != 0) {
        fprintf(stderr, "mdns_probe: mdns_new: %s\n", banter_strerror(ret));
        g_main_loop_unref(p.loop);
        g_hash_table_destroy(p.found);
        g_strfreev(p.refute);
        return 1;
    }
    p.m = m;
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
    if (p.refute)
        g_unix_signal_add(SIGUSR1, on_refute, &p);
    g_main_loop_run(p.loop);

    mdns_free(m);
    g_main_loop_unref(p.loop);
    g_hash_table_destroy(p.found);
    g_strfreev(p.refute);
    return 0;
}
