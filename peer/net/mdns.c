/* SPDX-License-Identifier: MIT */
/*
 * mdns.c - LAN discovery on the Avahi client API (D-Bus to avahi-daemon),
 * driven by the node's evloop and GMainContext through net/avahipoll (not
 * avahi-glib: its D-Bus socket would be a foreign descriptor on the loop,
 * which puts the evloop in slow mode).
 *
 * One AvahiClient at a time, made with AVAHI_CLIENT_NO_FAIL so a missing
 * daemon is waited for. When the client fails (the daemon or the bus went
 * away) every peer it had reported is lost(), and a fresh client is made
 * from an idle source: the old one is never freed inside its own callback.
 * When there is no system bus at all avahi_client_new fails even with
 * NO_FAIL; then a timer retries with a capped backoff.
 *
 * Browsing is IPv4 only (AVAHI_PROTO_INET for the browser and for resolved
 * addresses); publishing is on every protocol the daemon runs. A browsed
 * service that was found keeps its resolver until the browser removes it,
 * so a change of its TXT record or address is reported by found() again.
 * services maps "<ifindex>/<service name>" to a svc: the fingerprint that
 * service had, which is what a REMOVE event is turned back into.
 *
 * The table is a neighbour's to fill (a service costs nothing to publish),
 * so it holds out under a hostile LAN (mdns.h, docs/limits.md):
 *  - at most MDNS_MAX_PER_ADDR found services share one address; one
 *    resolved at an address that holds that many is parked: its resolver
 *    is freed and the entry kept without one, so it costs nothing more
 *    until a found one at that address leaves, when the oldest parked
 *    one there is resolved again;
 *  - a found service the LAN proved false (mdns_refute: the node there
 *    answered with another key, or never answered) is refuted: it no
 *    longer counts at its address, so the oldest parked one there is
 *    resolved in its place, and it keeps its resolver, so that a record
 *    that changes is found again; its key is lost() only when it goes
 *    (the caller goes on dialing one that did not answer, with back-off);
 *  - entries that are not found (pending, failed, refused, refuted,
 *    parked) never keep a newcomer out: when the table is full, or the
 *    daemon refuses another resolver (its objects-per-client-max), one of
 *    them is evicted (evict()), the oldest failed or refuted first. Found
 *    entries are never evicted: filling the table with them takes 128
 *    addresses, and the LAN refutes those that do not answer with their
 *    keys;
 *  - Avahi's browser announces a service once (NEW), so one that gets no
 *    entry (every entry found, or no resolver to be had) is not dropped:
 *    it waits, in a FIFO of at most MDNS_MAX_WAITING (iface, protocol,
 *    name, domain: what makes its resolver), as does one evicted while it
 *    was still resolving within MDNS_RESOLVE_TIMEOUT_MS (it had no chance
 *    to answer). The oldest waiting is forgotten when more come (logged
 *    once until the list empties, with the count when it does); a REMOVE
 *    takes one off. Whenever room may have been made (an entry removed,
 *    refuted, failed or parked), an idle source (admit_waiting) gives the
 *    oldest waiting ones entries, evicting as above but never an entry
 *    still resolving within the time-out, so that the next one waiting
 *    does not put out the one admitted just before it.
 *
 * Avahi's client calls are synchronous D-Bus round trips to the local
 * daemon (making the client, a group, a browser or a resolver, and freeing
 * them while connected): they hold the loop for that long. A service that
 * cannot be published is logged with g_warning (instance name and Avahi's
 * error only); the daemon's availability goes to status().
 */
#include "net/mdns.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/address.h>
#include <avahi-common/domain.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>

#include "net/avahipoll.h"
#include "netaddr.h"
#include "utf8.h"

/* Services tracked at once (found, pending, failed, refuted or parked). A
 * new one takes the place of one that is not found (evict()); when all are
 * found it waits (MDNS_MAX_WAITING). */
#define MDNS_MAX_SERVICES       1024u
/* Found services at one address: one host runs one node, a few at most (a
 * shared terminal server). The same figure as the LAN's dials to one
 * address (LAN_DEFAULT_PER_ADDR): more from one address would not all be
 * dialed at once anyway. */
#define MDNS_MAX_PER_ADDR       8u
/* Services announced while there was no room for them (every entry
 * found, or no resolver to be had), remembered oldest first until room is
 * made: Avahi's browser announces a service only once. The oldest is
 * forgotten when more come. */
#define MDNS_MAX_WAITING        MDNS_MAX_SERVICES
/* A service still unresolved after this long counts as failed when one
 * has to be evicted (Avahi's resolver gives up by itself after 5 s). */
#define MDNS_RESOLVE_TIMEOUT_MS 10000
/* Retry delays when the system bus itself is unreachable. */
#define MDNS_RETRY_MIN_MS       500u
#define MDNS_RETRY_MAX_MS       4000u
/* Tries at a new instance name when the daemon reports a local collision. */
#define MDNS_MAX_RENAMES        16
/* The TXT "v" we publish, and the largest one we accept from others. */
#define MDNS_TXT_VERSION        1
#define MDNS_MAX_VERSION        9999

typedef enum avail { AVAIL_UNKNOWN, AVAIL_UP, AVAIL_DOWN } avail;

/* Where a browsed service stands. */
typedef enum svc_state {
    SVC_PENDING, /* resolving: no answer yet */
    SVC_FOUND,   /* reported by found(); fp and addr are set */
    SVC_FAILED,  /* resolution failed, or gave a record that was refused */
    SVC_PARKED,  /* resolved at addr, which held MDNS_MAX_PER_ADDR: no resolver */
    SVC_REFUTED, /* found, then proved false (mdns_refute): rec is what was refuted */
} svc_state;

/* One browsed service instance. fp is "" until it was found (and kept
 * while refuted: the key is lost() when the last found or refuted
 * service with it goes); rec: the
 * record reported by found(), or refuted; refused: a
 * record of it was refused for its address (logged once). Every state but
 * SVC_PARKED holds a resolver (a failed one keeps it, so records that turn
 * up later are still found, until the entry is evicted). iface, proto,
 * name and domain make a new resolver for a parked entry. since: when it
 * entered its state (g_get_monotonic_time), for eviction order. */
typedef struct svc {
    mdns *m;
    AvahiServiceResolver *resolver;
    AvahiIfIndex iface;
    AvahiProtocol proto;
    char *name, *domain;
    gint64 since;
    svc_state state;
    char fp[IDENTITY_FP_DIGITS + 1];
    char addr[64];
    mdns_peer rec;
    bool refused;
} svc;

/* A service announced when there was no room for it: what makes its
 * entry (and resolver) once there is. key is its "<ifindex>/<name>". */
typedef struct waiter {
    char *key, *name, *domain;
    AvahiIfIndex iface;
    AvahiProtocol proto;
} waiter;

struct mdns {
    GMainContext *ctx;
    avahipoll *poll;
    AvahiClient *client;
    AvahiEntryGroup *group;
    AvahiServiceBrowser *browser;
    GHashTable *services;     /* char * key -> svc * */
    GQueue waiting;           /* waiter *, oldest first, at most MDNS_MAX_WAITING */
    GHashTable *waiters;      /* waiter's key (not owned) -> its GList link in waiting */
    GSource *admit_src;       /* pending admission of waiting services, or NULL */
    unsigned waiting_dropped; /* forgotten since the waiting list was last empty */
    GSource *connect_src;     /* pending (re)connect, or NULL */
    guint backoff_ms;
    avail state;
    char svc_name[AVAHI_LABEL_MAX]; /* current instance name */
    unsigned renames;               /* collisions so far */
    char name[BANTER_MAX_NAME + 1];
    char fp[IDENTITY_FP_DIGITS + 1];
    uint16_t port;
    mdns_callbacks cb;
    void *ud;
};

static void schedule_connect(mdns *m, guint delay_ms);
static void schedule_admit(mdns *m);

/* ---- small helpers ---- */

/* Largest length <= max that does not split a UTF-8 sequence of s. */
static size_t utf8_clamp(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    while (max > 0 && ((unsigned char)s[max] & 0xC0u) == 0x80u)
        max--;
    return max;
}

static bool all_digits(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return len > 0;
}

/* Report a change of availability; repeats of the same state are dropped. */
static void set_avail(mdns *m, avail a, const char *why)
{
    if (m->state == a)
        return;
    m->state = a;
    if (m->cb.status)
        m->cb.status(m->ud, a == AVAIL_UP, why);
}

/* A found service that still carries fingerprint fp, or NULL. */
static const svc *fp_holder(mdns *m, const char *fp)
{
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, m->services);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const svc *s = v;
        if (s->state == SVC_FOUND && strcmp(s->fp, fp) == 0)
            return s;
    }
    return NULL;
}

/* Whether a found or refuted service still carries fingerprint fp: the
 * caller knows the key until the last of them goes (lost()). */
static bool fp_listed(mdns *m, const char *fp)
{
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, m->services);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const svc *s = v;
        if ((s->state == SVC_FOUND || s->state == SVC_REFUTED) && strcmp(s->fp, fp) == 0)
            return true;
    }
    return false;
}

static void svc_free(gpointer p)
{
    svc *s = p;
    if (s->resolver)
        avahi_service_resolver_free(s->resolver);
    g_free(s->name);
    g_free(s->domain);
    g_free(s);
}

static void waiter_free(waiter *w)
{
    g_free(w->key);
    g_free(w->name);
    g_free(w->domain);
    g_free(w);
}

/* Take w (the oldest, or the one at link) off the waiting list and free it. */
static void waiter_drop(mdns *m, GList *link)
{
    waiter *w = link->data;
    g_hash_table_remove(m->waiters, w->key);
    g_queue_delete_link(&m->waiting, link);
    waiter_free(w);
}

/* Forget every waiting service (the browser that announced them is gone;
 * a new one announces again what is still there). No callback. */
static void waiting_clear(mdns *m)
{
    while (m->waiting.head)
        waiter_drop(m, m->waiting.head);
    m->waiting_dropped = 0;
}

/* The waiting list became empty: say how many it lost on the way, if any. */
static void waiting_emptied(mdns *m)
{
    char text[160];

    if (m->waiting.length > 0 || m->waiting_dropped == 0)
        return;
    snprintf(text, sizeof text,
             "LAN discovery: no service waits for room any more; %u announced while the "
             "table was full were forgotten, the oldest first",
             m->waiting_dropped);
    m->waiting_dropped = 0;
    if (m->cb.log)
        m->cb.log(m->ud, text);
}

/* Remember a service announced when there was no room for it (key is
 * taken), at the end of the waiting list. When the list is full its oldest
 * is forgotten, the first time since the list was empty with a log(). */
static void wait_add(mdns *m, char *key, AvahiIfIndex iface, AvahiProtocol proto, const char *name,
                     const char *domain)
{
    waiter *w;

    if (g_hash_table_contains(m->waiters, key)) {
        g_free(key);
        return;
    }
    if (m->waiting.length >= MDNS_MAX_WAITING) {
        waiter_drop(m, m->waiting.head);
        if (m->waiting_dropped++ == 0 && m->cb.log) {
            char text[200];
            snprintf(text, sizeof text,
                     "LAN discovery: more than %u services announced wait for room in a table "
                     "full of found ones; the oldest waiting are forgotten (a flood?)",
                     MDNS_MAX_WAITING);
            m->cb.log(m->ud, text);
        }
    }
    w = g_new0(waiter, 1);
    w->key = key;
    w->name = g_strdup(name);
    w->domain = g_strdup(domain);
    w->iface = iface;
    w->proto = proto;
    g_queue_push_tail(&m->waiting, w);
    g_hash_table_insert(m->waiters, w->key, m->waiting.tail);
}

static void set_state(svc *s, svc_state st)
{
    s->state = st;
    s->since = g_get_monotonic_time();
}

/* Found services at addr, other than self. */
static unsigned found_at(mdns *m, const char *addr, const svc *self)
{
    GHashTableIter it;
    gpointer v;
    unsigned n = 0;
    g_hash_table_iter_init(&it, m->services);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const svc *o = v;
        if (o != self && o->state == SVC_FOUND && strcmp(o->addr, addr) == 0)
            n++;
    }
    return n;
}

/* How readily an entry gives way to a new one (lower first), or -1 when
 * it never does (found), would free nothing that is needed (a parked
 * entry holds no resolver) or, when patient, is still resolving within
 * MDNS_RESOLVE_TIMEOUT_MS (admitted from the waiting list moments ago,
 * perhaps: the next waiting one must not put it out before it answers). */
static int evict_rank(const svc *s, gint64 now, bool need_resolver, bool patient)
{
    switch (s->state) {
    case SVC_FAILED:
    case SVC_REFUTED:
        return 0;
    case SVC_PENDING:
        if (now - s->since >= (gint64)MDNS_RESOLVE_TIMEOUT_MS * 1000)
            return 1;
        return patient ? -1 : 3;
    case SVC_PARKED:
        return need_resolver ? -1 : 2;
    case SVC_FOUND:
        break;
    }
    return -1;
}

/* Make room for a new service by forgetting one that was not found: the
 * oldest failed or refuted one, else the oldest unresolved past MDNS_RESOLVE_TIMEOUT_MS,
 * else the oldest parked one (unless need_resolver: room for a resolver
 * is wanted, and a parked entry holds none), else (unless patient) the
 * oldest unresolved, which had no time to answer and so waits for room
 * again (wait_add). A refuted one's key is lost() when no other service
 * carries it. False when no entry qualifies (every one was found). */
static bool evict(mdns *m, bool need_resolver, bool patient)
{
    GHashTableIter it;
    gpointer k, v;
    gpointer victim = NULL;
    int best = -1;
    gint64 oldest = 0, now = g_get_monotonic_time();
    char fp[IDENTITY_FP_DIGITS + 1] = "";

    g_hash_table_iter_init(&it, m->services);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const svc *s = v;
        int r = evict_rank(s, now, need_resolver, patient);
        if (r < 0 || (best >= 0 && (r > best || (r == best && s->since >= oldest))))
            continue;
        best = r;
        oldest = s->since;
        victim = k;
    }
    if (!victim)
        return false;
    v = g_hash_table_lookup(m->services, victim);
    if (((svc *)v)->state == SVC_REFUTED)
        memcpy(fp, ((svc *)v)->fp, sizeof fp);
    if (best == 3) { /* still resolving, within the time-out */
        const svc *s = v;
        wait_add(m, g_strdup(victim), s->iface, s->proto, s->name, s->domain);
    }
    g_hash_table_remove(m->services, victim); /* frees its resolver */
    if (fp[0] && !fp_listed(m, fp) && m->cb.lost)
        m->cb.lost(m->ud, fp);
    return true;
}

/* A resolver for s, whose key is already in the table or about to be.
 * When the daemon has no room for another one (objects-per-client-max),
 * an entry that holds one and was not found is evicted (evict(), patient
 * or not), and once more tried. */
static AvahiServiceResolver *new_resolver(mdns *m, svc *s, bool patient);

/* A found service at addr went away or moved: resolve the oldest service
 * parked there again, which may now be found in its place. */
static void unpark(mdns *m, const char *addr)
{
    GHashTableIter it;
    gpointer v;
    svc *best = NULL;

    if (!addr[0] || found_at(m, addr, NULL) >= MDNS_MAX_PER_ADDR)
        return;
    g_hash_table_iter_init(&it, m->services);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        svc *s = v;
        if (s->state == SVC_PARKED && strcmp(s->addr, addr) == 0 &&
            (!best || s->since < best->since))
            best = s;
    }
    if (!best)
        return;
    best->resolver = new_resolver(m, best, false);
    if (best->resolver) /* else it stays parked until another one leaves */
        set_state(best, SVC_PENDING);
}

/* Forget every service, telling lost() once per fingerprint. Used when the
 * client goes away: without a browser nothing would ever remove them. */
static void drop_all_services(mdns *m)
{
    GHashTable *fps = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GHashTableIter it;
    gpointer v;

    g_hash_table_iter_init(&it, m->services);
    while (g_hash_table_iter_next(&it, NULL, &v))
        if (((svc *)v)->state == SVC_FOUND || ((svc *)v)->state == SVC_REFUTED)
            g_hash_table_add(fps, g_strdup(((svc *)v)->fp));
    g_hash_table_remove_all(m->services);
    waiting_clear(m);

    g_hash_table_iter_init(&it, fps);
    while (g_hash_table_iter_next(&it, &v, NULL))
        if (m->cb.lost)
            m->cb.lost(m->ud, v);
    g_hash_table_destroy(fps);
}

/* ---- TXT parsing (untrusted bytes from the LAN) ---- */

/* The value of the TXT item whose key is key (compared without case, as
 * RFC 6763 says): 1 with *val and *len set, 0 when there is none, -1 when
 * the key is there twice or has no "=" (Avahi's lists are not reliably in
 * wire order, so "the first one wins" cannot be honoured: refuse both). */
static int txt_value(AvahiStringList *txt, const char *key, const char **val, size_t *len)
{
    size_t klen = strlen(key);
    int found = 0;

    for (AvahiStringList *l = txt; l; l = avahi_string_list_get_next(l)) {
        const char *t = (const char *)avahi_string_list_get_text(l);
        size_t n = avahi_string_list_get_size(l);
        const char *eq = memchr(t, '=', n);
        size_t kl = eq ? (size_t)(eq - t) : n;
        if (kl != klen || g_ascii_strncasecmp(t, key, klen) != 0)
            continue;
        if (found || !eq)
            return -1;
        found = 1;
        *val = eq + 1;
        *len = n - kl - 1;
    }
    return found;
}

/* Fill p's fingerprint, version and name from a TXT record. False when fp
 * is not 40 digits, v is not a number in 1..MDNS_MAX_VERSION, name is not
 * UTF-8, or one of the three keys is there twice. A missing name is empty; a long one is cut to
 * BANTER_MAX_NAME bytes on a character boundary; ASCII control bytes become '?'. */
static bool parse_txt(AvahiStringList *txt, mdns_peer *p)
{
    const char *v;
    size_t len;
    int found;

    if (txt_value(txt, "fp", &v, &len) != 1 || len != IDENTITY_FP_DIGITS || !all_digits(v, len))
        return false;
    memcpy(p->fingerprint, v, len);
    p->fingerprint[len] = '\0';

    if (txt_value(txt, "v", &v, &len) != 1 || len > 4 || !all_digits(v, len))
        return false;
    p->version = 0;
    for (size_t i = 0; i < len; i++)
        p->version = p->version * 10 + (v[i] - '0');
    if (p->version < 1 || p->version > MDNS_MAX_VERSION)
        return false;

    p->name[0] = '\0';
    found = txt_value(txt, "name", &v, &len);
    if (found <= 0)
        return found == 0; /* no name is shown as empty */
    len = utf8_clamp(v, len, BANTER_MAX_NAME);
    if (memchr(v, '\0', len) || !utf8_valid(v, len))
        return false;
    memcpy(p->name, v, len);
    p->name[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)p->name[i] < 0x20u || p->name[i] == 0x7f)
            p->name[i] = '?';
    return true;
}

/* ---- browsing ---- */

/* Whether a resolved address may be a colleague's (see mdns.h); when it
 * may not, the service's first such record is logged. */
static bool address_ok(svc *s, const AvahiAddress *a, const mdns_peer *p)
{
    uint8_t ip[16] = {0};
    bool v6 = a->proto == AVAHI_PROTO_INET6;
    if (v6)
        memcpy(ip, a->data.ipv6.address, 16);
    else
        memcpy(ip, &a->data.ipv4.address, 4); /* network order: the bytes as written */
    netaddr_kind k = netaddr_classify(v6, ip);
    if (k == NETADDR_UNICAST || (k == NETADDR_LINK_LOCAL && !v6))
        return true;
    if (!s->refused && s->m->cb.log) {
        char text[256];
        snprintf(text, sizeof text,
                 "LAN discovery: not dialing \"%s\" (fingerprint %.10s...) at %s:%u: the address "
                 "is %s, no colleague's",
                 p->name, p->fingerprint, p->address, (unsigned)p->port, netaddr_kind_name(k));
        s->m->cb.log(s->m->ud, text);
    }
    s->refused = true;
    return false;
}

/* A resolution of a pending entry that gives nothing to report. */
static void resolve_failed(svc *s)
{
    if (s->state == SVC_PENDING) {
        set_state(s, SVC_FAILED);
        schedule_admit(s->m); /* it gives way to one waiting now */
    }
}

/* s, found before at another address or with another key, is no longer
 * that: lost() for its old key when no other service carries it, and
 * (unless keep_addr: it is found there again) its old address has room for
 * a parked one. s->fp and s->addr are cleared;
 * the caller sets its state after. It stays SVC_FOUND meanwhile, so the
 * eviction a new resolver may cause in unpark() cannot take s, whose
 * callback is running. */
static void svc_unfound(svc *s, bool keep_addr)
{
    mdns *m = s->m;
    char old_fp[IDENTITY_FP_DIGITS + 1], old_addr[sizeof s->addr];

    memcpy(old_fp, s->fp, sizeof old_fp);
    memcpy(old_addr, s->addr, sizeof old_addr);
    s->fp[0] = '\0';
    s->addr[0] = '\0';
    if (old_fp[0] && !fp_listed(m, old_fp) && m->cb.lost)
        m->cb.lost(m->ud, old_fp);
    if (!keep_addr)
        unpark(m, old_addr);
}

static void on_resolve(AvahiServiceResolver *r, AvahiIfIndex iface, AvahiProtocol proto,
                       AvahiResolverEvent ev, const char *name, const char *type,
                       const char *domain, const char *host, const AvahiAddress *a, uint16_t port,
                       AvahiStringList *txt, AvahiLookupResultFlags flags, void *ud)
{
    svc *s = ud;
    mdns *m = s->m;
    mdns_peer p;
    (void)r, (void)iface, (void)proto, (void)name, (void)type, (void)domain, (void)host;
    (void)flags;

    /* A failure (timeout) keeps the resolver: it reports FOUND if the
     * records turn up later, and the browser's REMOVE (or, for one never
     * found, an eviction) frees it. */
    if (ev != AVAHI_RESOLVER_FOUND || !a || port == 0) {
        resolve_failed(s);
        return;
    }
    memset(&p, 0, sizeof p);
    if (!parse_txt(txt, &p) || strcmp(p.fingerprint, m->fp) == 0) {
        resolve_failed(s);
        return;
    }
    avahi_address_snprint(p.address, sizeof p.address, a);
    p.port = port;
    if (!address_ok(s, a, &p)) {
        resolve_failed(s);
        return;
    }
    if (s->state == SVC_REFUTED) {
        /* The record the LAN proved false, again: nothing new. Another
         * key, address or port: a new claim, tried like a new service. */
        char old[IDENTITY_FP_DIGITS + 1];
        if (strcmp(s->rec.fingerprint, p.fingerprint) == 0 &&
            strcmp(s->rec.address, p.address) == 0 && s->rec.port == p.port)
            return;
        memcpy(old, s->fp, sizeof old);
        s->fp[0] = '\0';
        s->addr[0] = '\0';
        set_state(s, SVC_PENDING);
        if (!fp_listed(m, old) && m->cb.lost)
            m->cb.lost(m->ud, old);
    }

    if (found_at(m, p.address, s) >= MDNS_MAX_PER_ADDR) {
        /* Park it: no resolver (freed here, inside its own callback, as
         * Avahi allows), nothing reported, until room is made at p.address. */
        if (s->state == SVC_FOUND)
            svc_unfound(s, false);
        avahi_service_resolver_free(s->resolver);
        s->resolver = NULL;
        memcpy(s->addr, p.address, sizeof s->addr);
        set_state(s, SVC_PARKED);
        schedule_admit(m); /* a resolver freed */
        return;
    }
    if (s->state == SVC_FOUND &&
        (strcmp(s->fp, p.fingerprint) != 0 || strcmp(s->addr, p.address) != 0))
        /* The same instance name now carries another key or address. */
        svc_unfound(s, strcmp(s->addr, p.address) == 0);
    memcpy(s->fp, p.fingerprint, sizeof s->fp);
    memcpy(s->addr, p.address, sizeof s->addr);
    s->rec = p;
    if (s->state != SVC_FOUND)
        set_state(s, SVC_FOUND);
    if (m->cb.found)
        m->cb.found(m->ud, &p);
}

static AvahiServiceResolver *new_resolver(mdns *m, svc *s, bool patient)
{
    AvahiServiceResolver *r;

    for (int tries = 0; tries < 2; tries++) {
        r = avahi_service_resolver_new(m->client, s->iface, s->proto, s->name, MDNS_SERVICE_TYPE,
                                       s->domain, AVAHI_PROTO_INET, 0, on_resolve, s);
        if (r || avahi_client_errno(m->client) != AVAHI_ERR_TOO_MANY_OBJECTS ||
            !evict(m, true, patient))
            return r;
    }
    return NULL;
}

/* What became of a service given an entry (service_add). */
typedef enum add_result {
    ADD_DONE,    /* listed, resolving */
    ADD_NO_ROOM, /* every entry found, or no resolver to be had: wait */
    ADD_FAILED,  /* the daemon refused its resolver for another reason */
} add_result;

/* An entry with a resolver for the service key (not taken), which is not
 * listed; room is made by evict() as needed (patient: see evict_rank). */
static add_result service_add(mdns *m, const char *key, AvahiIfIndex iface, AvahiProtocol proto,
                              const char *name, const char *domain, bool patient)
{
    svc *s;

    if (g_hash_table_size(m->services) >= MDNS_MAX_SERVICES && !evict(m, false, patient))
        return ADD_NO_ROOM;
    s = g_new0(svc, 1);
    s->m = m;
    s->iface = iface;
    s->proto = proto;
    s->name = g_strdup(name);
    s->domain = g_strdup(domain);
    set_state(s, SVC_PENDING);
    s->resolver = new_resolver(m, s, patient);
    if (!s->resolver) {
        svc_free(s);
        return avahi_client_errno(m->client) == AVAHI_ERR_TOO_MANY_OBJECTS ? ADD_NO_ROOM
                                                                           : ADD_FAILED;
    }
    g_hash_table_insert(m->services, g_strdup(key), s);
    return ADD_DONE;
}

/* Give waiting services entries, oldest first, while there is room. */
static void admit_waiting(mdns *m)
{
    while (m->waiting.head && m->client) {
        waiter *w = m->waiting.head->data;
        /* Patient: one admitted just before is not put out for this one. */
        if (service_add(m, w->key, w->iface, w->proto, w->name, w->domain, true) == ADD_NO_ROOM)
            return; /* schedule_admit() again when an entry leaves or stops counting */
        /* Listed, or refused for good (a later NEW for it tries again). */
        waiter_drop(m, m->waiting.head);
    }
    waiting_emptied(m);
}

static gboolean on_admit_src(gpointer ud)
{
    mdns *m = ud;
    g_source_unref(m->admit_src);
    m->admit_src = NULL;
    admit_waiting(m);
    return G_SOURCE_REMOVE;
}

/* Room may have been made (an entry left, was refuted or freed its
 * resolver): admit waiting services from the loop, outside the callback
 * or call that made it. */
static void schedule_admit(mdns *m)
{
    if (m->admit_src || !m->waiting.head)
        return;
    m->admit_src = g_idle_source_new();
    g_source_set_callback(m->admit_src, on_admit_src, m, NULL);
    g_source_attach(m->admit_src, m->ctx);
}

static void service_new(mdns *m, AvahiIfIndex iface, AvahiProtocol proto, const char *name,
                        const char *domain)
{
    char *key = g_strdup_printf("%d/%s", (int)iface, name);

    if (g_hash_table_contains(m->services, key) || g_hash_table_contains(m->waiters, key)) {
        g_free(key);
        return;
    }
    /* Not patient: a flood of services that never resolve must not keep
     * a colleague announced after it waiting (a colleague's resolves in
     * moments); the one it puts out waits for room in its turn. */
    if (service_add(m, key, iface, proto, name, domain, false) == ADD_NO_ROOM) {
        wait_add(m, key, iface, proto, name, domain);
        schedule_admit(m); /* a try now and then, whatever made room */
        return;
    }
    g_free(key);
}

static void service_remove(mdns *m, AvahiIfIndex iface, const char *name)
{
    char *key = g_strdup_printf("%d/%s", (int)iface, name);
    svc *s = g_hash_table_lookup(m->services, key);
    char fp[IDENTITY_FP_DIGITS + 1], addr[sizeof s->addr];
    bool found, carried;
    gpointer link;

    if ((link = g_hash_table_lookup(m->waiters, key)) != NULL) {
        waiter_drop(m, link);
        waiting_emptied(m);
    } else if (s) {
        found = s->state == SVC_FOUND;
        carried = found || s->state == SVC_REFUTED;
        memcpy(fp, s->fp, sizeof fp);
        memcpy(addr, s->addr, sizeof addr);
        g_hash_table_remove(m->services, key); /* frees the resolver */
        if (carried && !fp_listed(m, fp) && m->cb.lost)
            m->cb.lost(m->ud, fp);
        if (found)
            unpark(m, addr);
        schedule_admit(m);
    }
    g_free(key);
}

static void on_browse(AvahiServiceBrowser *b, AvahiIfIndex iface, AvahiProtocol proto,
                      AvahiBrowserEvent ev, const char *name, const char *type, const char *domain,
                      AvahiLookupResultFlags flags, void *ud)
{
    mdns *m = ud;
    (void)b, (void)type;

    switch (ev) {
    case AVAHI_BROWSER_NEW:
        /* Our own entry group's service; other processes with our key are
         * caught by the fingerprint check after resolving. */
        if (!(flags & AVAHI_LOOKUP_RESULT_OUR_OWN))
            service_new(m, iface, proto, name, domain);
        break;
    case AVAHI_BROWSER_REMOVE:
        service_remove(m, iface, name);
        break;
    case AVAHI_BROWSER_FAILURE:
        /* The daemon gave up on this browser: start over with a new
         * client, outside this callback. */
        drop_all_services(m);
        schedule_connect(m, MDNS_RETRY_MIN_MS);
        break;
    case AVAHI_BROWSER_CACHE_EXHAUSTED:
    case AVAHI_BROWSER_ALL_FOR_NOW:
        break;
    }
}

/* ---- publishing ---- */

/* "<name> [12345]", or "<name> [12345] #n" after n-1 collisions, in at
 * most 63 bytes. The display name gives way, whole characters at a time,
 * so the fingerprint prefix always survives (avahi_alternative_service_name
 * would cut it off a long name instead). */
static void make_service_name(mdns *m)
{
    char suffix[32];
    size_t cut;

    if (m->renames == 0)
        snprintf(suffix, sizeof suffix, " [%.5s]", m->fp);
    else
        snprintf(suffix, sizeof suffix, " [%.5s] #%u", m->fp, m->renames + 1);
    cut = utf8_clamp(m->name, strlen(m->name), sizeof m->svc_name - 1 - strlen(suffix));
    snprintf(m->svc_name, sizeof m->svc_name, "%.*s%s", (int)cut, m->name, suffix);
}

static void rename_service(mdns *m)
{
    m->renames++;
    make_service_name(m);
}

/* Add our service to the (empty) entry group and commit it. 0 or the
 * negative Avahi error. */
static int publish(mdns *m)
{
    char txt_v[8], txt_fp[4 + IDENTITY_FP_DIGITS], txt_name[6 + BANTER_MAX_NAME];
    int ret = AVAHI_ERR_COLLISION;

    snprintf(txt_v, sizeof txt_v, "v=%d", MDNS_TXT_VERSION);
    snprintf(txt_fp, sizeof txt_fp, "fp=%s", m->fp);
    snprintf(txt_name, sizeof txt_name, "name=%s", m->name);

    for (int i = 0; i < MDNS_MAX_RENAMES && ret == AVAHI_ERR_COLLISION; i++) {
        ret = avahi_entry_group_add_service(m->group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0,
                                            m->svc_name, MDNS_SERVICE_TYPE, NULL, NULL, m->port,
                                            txt_v, txt_fp, txt_name, NULL);
        if (ret == AVAHI_ERR_COLLISION) /* another local service has the name */
            rename_service(m);
    }
    if (ret < 0)
        return ret;
    return avahi_entry_group_commit(m->group);
}

static void on_group(AvahiEntryGroup *g, AvahiEntryGroupState state, void *ud)
{
    mdns *m = ud;
    int ret;

    m->group = g;
    switch (state) {
    case AVAHI_ENTRY_GROUP_COLLISION:
        /* Someone on the LAN has our instance name: pick "name #2"... */
        rename_service(m);
        avahi_entry_group_reset(g);
        if ((ret = publish(m)) < 0)
            g_warning("mdns: cannot publish %s: %s", m->svc_name, avahi_strerror(ret));
        break;
    case AVAHI_ENTRY_GROUP_FAILURE:
        g_warning("mdns: publishing %s failed: %s", m->svc_name,
                  avahi_strerror(avahi_client_errno(avahi_entry_group_get_client(g))));
        break;
    case AVAHI_ENTRY_GROUP_UNCOMMITED:
    case AVAHI_ENTRY_GROUP_REGISTERING:
    case AVAHI_ENTRY_GROUP_ESTABLISHED:
        break;
    }
}

/* ---- the client ---- */

/* The daemon runs: browse (once per client) and publish (when the group
 * is empty: first time, or after a host name change reset it). */
static void client_running(mdns *m, AvahiClient *c)
{
    int ret;

    set_avail(m, AVAIL_UP, "avahi-daemon is running");
    m->backoff_ms = 0;
    if (!m->browser) {
        m->browser = avahi_service_browser_new(c, AVAHI_IF_UNSPEC, AVAHI_PROTO_INET,
                                               MDNS_SERVICE_TYPE, NULL, 0, on_browse, m);
        if (!m->browser)
            g_warning("mdns: cannot browse: %s", avahi_strerror(avahi_client_errno(c)));
    }
    if (!m->group && !(m->group = avahi_entry_group_new(c, on_group, m))) {
        g_warning("mdns: cannot publish: %s", avahi_strerror(avahi_client_errno(c)));
        return;
    }
    if (avahi_entry_group_is_empty(m->group) && (ret = publish(m)) < 0)
        g_warning("mdns: cannot publish %s: %s", m->svc_name, avahi_strerror(ret));
}

static void on_client(AvahiClient *c, AvahiClientState state, void *ud)
{
    mdns *m = ud;
    char why[128];
    int err;

    /* Runs inside avahi_client_new too, before it returns c. */
    m->client = c;
    switch (state) {
    case AVAHI_CLIENT_S_RUNNING:
        client_running(m, c);
        break;
    case AVAHI_CLIENT_S_COLLISION:
    case AVAHI_CLIENT_S_REGISTERING:
        /* The daemon is renaming its host: withdraw, publish again when
         * it runs. */
        if (m->group)
            avahi_entry_group_reset(m->group);
        break;
    case AVAHI_CLIENT_CONNECTING:
        set_avail(m, AVAIL_DOWN, "avahi-daemon is not running; waiting for it");
        break;
    case AVAHI_CLIENT_FAILURE:
        err = avahi_client_errno(c);
        snprintf(why, sizeof why, "avahi-daemon went away: %s", avahi_strerror(err));
        set_avail(m, AVAIL_DOWN, why);
        drop_all_services(m);
        /* A daemon restart shows as DISCONNECTED: reconnect at once (the
         * new client waits for the daemon). Anything else: back off. */
        schedule_connect(m, err == AVAHI_ERR_DISCONNECTED ? 0 : MDNS_RETRY_MIN_MS);
        break;
    }
}

/* Free the client with everything it owns. With a live connection the
 * entry group is freed first, so the daemon withdraws our service (goodbye
 * packets) at once. avahi_client_free then closes the connection before it
 * frees the browser and resolvers, sparing a round trip each. */
static void client_free(mdns *m)
{
    GHashTableIter it;
    gpointer v;

    if (m->group)
        avahi_entry_group_free(m->group);
    m->group = NULL;
    g_hash_table_iter_init(&it, m->services);
    while (g_hash_table_iter_next(&it, NULL, &v))
        ((svc *)v)->resolver = NULL; /* freed with the client */
    g_hash_table_remove_all(m->services);
    waiting_clear(m);
    m->browser = NULL;
    if (m->client)
        avahi_client_free(m->client);
    m->client = NULL;
}

static void client_connect(mdns *m)
{
    char why[128];
    int err = 0;
    AvahiClient *c;

    client_free(m);
    c = avahi_client_new(avahipoll_api(m->poll), AVAHI_CLIENT_NO_FAIL, on_client, m, &err);
    if (c) {
        m->client = c;
        return;
    }
    /* No system bus (NO_FAIL only waits for the daemon, not for D-Bus). */
    snprintf(why, sizeof why, "cannot reach avahi-daemon: %s", avahi_strerror(err));
    set_avail(m, AVAIL_DOWN, why);
    m->backoff_ms = m->backoff_ms ? MIN(m->backoff_ms * 2, MDNS_RETRY_MAX_MS) : MDNS_RETRY_MIN_MS;
    schedule_connect(m, m->backoff_ms);
}

static gboolean on_connect_src(gpointer ud)
{
    mdns *m = ud;
    g_source_unref(m->connect_src);
    m->connect_src = NULL;
    client_connect(m);
    return G_SOURCE_REMOVE;
}

/* (Re)make the client after delay_ms on the loop; an earlier pending
 * request is replaced. */
static void schedule_connect(mdns *m, guint delay_ms)
{
    if (m->connect_src) {
        g_source_destroy(m->connect_src);
        g_source_unref(m->connect_src);
    }
    m->connect_src = delay_ms ? g_timeout_source_new(delay_ms) : g_idle_source_new();
    g_source_set_callback(m->connect_src, on_connect_src, m, NULL);
    g_source_attach(m->connect_src, m->ctx);
}

/* ---- public ---- */

/* Digits of the 47-character fingerprint into out; false unless there are
 * exactly 40 digits and nothing but spaces besides. */
static bool fp_digits(const char *fp, char out[static IDENTITY_FP_DIGITS + 1])
{
    size_t n = 0;
    for (; *fp; fp++) {
        if (*fp == ' ')
            continue;
        if (*fp < '0' || *fp > '9' || n == IDENTITY_FP_DIGITS)
            return false;
        out[n++] = *fp;
    }
    out[n] = '\0';
    return n == IDENTITY_FP_DIGITS;
}

int mdns_new(mdns **out, GMainContext *ctx, evloop *ev, const char *name, const char *fingerprint,
             uint16_t port, const mdns_callbacks *cb, void *ud)
{
    mdns *m;
    size_t nlen;

    if (!out || !name || !fingerprint || !cb || port == 0)
        return BANTER_EINVAL;
    *out = NULL;
    nlen = strlen(name);
    if (nlen == 0 || nlen > BANTER_MAX_NAME || !utf8_valid(name, nlen))
        return BANTER_EINVAL;
    if (!(m = calloc(1, sizeof *m)))
        return BANTER_ENOMEM;
    if (!fp_digits(fingerprint, m->fp)) {
        free(m);
        return BANTER_EINVAL;
    }
    memcpy(m->name, name, nlen + 1);
    m->port = port;
    m->cb = *cb;
    m->ud = ud;
    m->state = AVAIL_UNKNOWN;
    m->ctx = g_main_context_ref(ctx ? ctx : g_main_context_default());
    m->services = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, svc_free);
    m->waiters = g_hash_table_new(g_str_hash, g_str_equal);
    g_queue_init(&m->waiting);
    if (avahipoll_new(&m->poll, ev, m->ctx) != 0) {
        mdns_free(m);
        return BANTER_ENOMEM;
    }
    make_service_name(m);

    /* Connect from the loop, so no callback runs before this returns. */
    schedule_connect(m, 0);
    *out = m;
    return 0;
}

void mdns_free(mdns *m)
{
    if (!m)
        return;
    if (m->connect_src) {
        g_source_destroy(m->connect_src);
        g_source_unref(m->connect_src);
    }
    if (m->admit_src) {
        g_source_destroy(m->admit_src);
        g_source_unref(m->admit_src);
    }
    if (m->services) {
        client_free(m);
        g_hash_table_destroy(m->services);
    }
    if (m->waiters)
        g_hash_table_destroy(m->waiters);
    avahipoll_free(m->poll); /* after the client, whose watches it held */
    if (m->ctx)
        g_main_context_unref(m->ctx);
    free(m);
}

void mdns_refute(mdns *m, const char *fpd, const char *addr, uint16_t port)
{
    GHashTableIter it;
    gpointer v;
    unsigned n = 0;
    const svc *other;
    char fp[IDENTITY_FP_DIGITS + 1], at[sizeof other->addr];

    if (!m || !fpd || !addr)
        return;
    /* Copies: the callbacks below may change what the caller's point to. */
    g_strlcpy(fp, fpd, sizeof fp);
    g_strlcpy(at, addr, sizeof at);
    fpd = fp;
    addr = at;
    g_hash_table_iter_init(&it, m->services);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        svc *s = v;
        if (s->state == SVC_FOUND && s->rec.port == port && strcmp(s->fp, fpd) == 0 &&
            strcmp(s->addr, addr) == 0) {
            set_state(s, SVC_REFUTED);
            n++;
        }
    }
    if (n == 0)
        return;
    /* Another record of that key still found (another address or
     * port): the caller may dial that one. */
    if ((other = fp_holder(m, fpd)) != NULL && m->cb.found) {
        mdns_peer p = other->rec;
        m->cb.found(m->ud, &p);
    }
    /* Each refuted one made room at addr for one parked there, and may
     * give way to one waiting. */
    for (unsigned i = 0; i < n; i++)
        unpark(m, addr);
    schedule_admit(m);
}

void mdns_confirm(mdns *m, const char *fpd, const char *addr, uint16_t port)
{
    GHashTableIter it;
    gpointer v;
    if (!m || !fpd || !addr)
        return;
    g_hash_table_iter_init(&it, m->services);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        svc *s = v;
        if (s->state == SVC_REFUTED && s->rec.port == port && strcmp(s->fp, fpd) == 0 &&
            strcmp(s->addr, addr) == 0 && found_at(m, addr, s) < MDNS_MAX_PER_ADDR)
            set_state(s, SVC_FOUND);
    }
}

size_t mdns_ifaces(char *out, size_t cap)
{
    struct ifaddrs *all = NULL;
    size_t n = 0, o = 0;
    if (cap)
        out[0] = '\0';
    if (getifaddrs(&all) != 0)
        return 0;
    for (const struct ifaddrs *i = all; i; i = i->ifa_next) {
        unsigned f = i->ifa_flags;
        char addr[INET_ADDRSTRLEN];
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(f & IFF_UP) ||
            (f & IFF_LOOPBACK) || !(f & IFF_MULTICAST) ||
            !inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr,
                       addr, sizeof addr))
            continue;
        n++;
        int w = snprintf(out + o, cap - o, "%s%s %s", o ? ", " : "", i->ifa_name, addr);
        if (w > 0 && (size_t)w < cap - o)
            o += (size_t)w;
        else if (o < cap)
            out[o] = '\0';
    }
    freeifaddrs(all);
    return n;
}
