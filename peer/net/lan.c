/* SPDX-License-Identifier: MIT */
/* lan.c - connections to other nodes' devices (see lan.h). */
#include "net/lan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "net/tcp.h"
#include "rvmsg.h"
#include "session.h"
#include "tbucket.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define MAX_REFUSED    16
#define PROBE_MS       2000
#define LAN_HIGH_WATER (256u * 1024u) /* the route says "full" above this much queued */
#define SWEEP_MS       30000          /* forget idle devices this often */
#define TICK_MS        1000           /* the tick while a connection has a deadline near */
#define TICK_MAX_MS    30000
#define LAN_TRIM_HELD  4096 /* bytes of buffers worth an early tick to trim */

/* Our renewals go within one certificate fewer than a peer takes. */
_Static_assert(LAN_CERT_BURST >= 2, "certs_out needs a token");

typedef struct ldev { /* a device we know of on the LAN (by its fingerprint digits) */
    char fpd[IDENTITY_FP_DIGITS + 1];
    char name[BANTER_MAX_NAME + 1]; /* as advertised or said */
    uint8_t key[32];
    bool has_key;
    bool advertised; /* on mDNS now */
    char addr[64];
    uint16_t port;
    conn *c;       /* the live connection, after HELLO */
    conn *dialing; /* our connect in progress */
    guint retry;
    unsigned backoff;
    unsigned fails; /* dials in a row to addr:port that ended before the handshake
                       (stops counting at LAN_REFUTE_FAILS) */
    tbucket chats;  /* its rate of CHATs, kept across reconnections */
    tbucket gmsgs;  /* ...of GROUP_MSGs, apart (each costs a signature
                       check, up to 2,000 HMACs and a write) */
    bool held;      /* a connection (maybe closing) points here: see sweep */
    lan *l;
} ldev;

typedef struct lstatic { /* a --peer HOST:PORT */
    char host[256];
    uint16_t port;
    conn *c; /* any connection we dialed to it, live or in progress */
    guint retry;
    unsigned backoff;
    lan *l;
} lstatic;

typedef struct cstate { /* per connection */
    lan *l;
    ldev *dial_for;                    /* we dialed because mDNS advertised this device */
    lstatic *sp;                       /* we dialed this static peer */
    ldev *d;                           /* attached after HELLO */
    char host[64];                     /* the remote address without its port */
    uint16_t port;                     /* dial_for: the port dialed */
    char account[BANTER_MAX_NAME + 1]; /* a valid certificate shown before HELLO */
    int64_t account_expires_ms;        /* ...and when it expires */
    int64_t established_ms, attached_ms, last_ping_ms;
    int64_t peer_ping_ms; /* when the peer's last PING came */
    int refused;
    /* Certificates (docs/limits.md): one before HELLO, then certs_in's
     * (LAN_CERT_BURST, one back every LAN_CERT_EVERY_MS); the last one
     * taken, whose byte-identical repeats are ignored unchecked. We show
     * ours after HELLO within certs_out, one token fewer, so a peer's
     * limit never refuses us; cert_due: a renewal waits for a token. */
    tbucket certs_in, certs_out;
    uint8_t cert_last[1 + CERT_LEN_MAX];
    size_t cert_last_len;
    bool cert_pre, cert_due, cert_said;
    bool hello;
    bool adopted;       /* a path the owner made (lan_adopt): an ICE stream */
    uint8_t expect[32]; /* adopted: the key the peer must prove */
    guint probe;        /* a liveness probe of a connection kept over a newer one */
} cstate;

struct lan {
    GMainContext *ctx;
    evloop *ev; /* watches the sockets, or NULL */
    const identity *id;
    char fpd[IDENTITY_FP_DIGITS + 1];
    char name[BANTER_MAX_NAME + 1];
    char server_fpd[IDENTITY_FP_DIGITS + 1];
    unsigned max_conns, max_per_addr, hello_ms, frame_ms;
    uint32_t chat_rate, chat_burst;
    int64_t next_sweep;
    rlim_t fd_limit, fd_reserve; /* RLIMIT_NOFILE when lan_new ran; what stays free */
    lan_callbacks cb;
    void *ud;
    tcp_listener *listener;
    GHashTable *devs; /* fpd -> ldev */
    GList *conns;     /* every conn alive */
    lstatic statics[LAN_MAX_STATIC];
    size_t nstatic;
    /* Liveness timer (a timerfd on ev), set only while connections exist:
     * every TICK_MS while one is unsettled (handshake, HELLO, a partial
     * frame, buffers to trim), else only when the next keepalive or
     * timeout is due. period is what it is set to (0: stopped). */
    ev_watch *tick;
    unsigned period;
    bool stopping;
};

static int64_t mono_ms(void) { return g_get_monotonic_time() / 1000; }
static int64_t wall_ms(void) { return g_get_real_time() / 1000; }

static void say(lan *l, const char *text)
{
    if (l->cb.log)
        l->cb.log(l->ud, text);
}

static void digits_of(const char *fp, char out[static IDENTITY_FP_DIGITS + 1])
{
    size_t o = 0;
    for (const char *p = fp; *p && o < IDENTITY_FP_DIGITS; p++)
        if (*p >= '0' && *p <= '9')
            out[o++] = *p;
    out[o] = '\0';
}

static void fpd_of(const uint8_t key[static 32], char out[static IDENTITY_FP_DIGITS + 1])
{
    char fp[IDENTITY_FP_LEN + 1];
    identity_fingerprint(key, fp);
    digits_of(fp, out);
}

static ldev *dev_by_fpd(lan *l, const char *fpd, bool create)
{
    ldev *d = g_hash_table_lookup(l->devs, fpd);
    if (d || !create)
        return d;
    d = g_new0(ldev, 1);
    d->l = l;
    tbucket_init(&d->chats, l->chat_rate, l->chat_burst, mono_ms());
    tbucket_init(&d->gmsgs, l->chat_rate, l->chat_burst, mono_ms());
    g_strlcpy(d->fpd, fpd, sizeof d->fpd);
    g_hash_table_insert(l->devs, d->fpd, d);
    return d;
}

static ldev *dev_by_key(lan *l, const uint8_t key[static 32], bool create)
{
    char fpd[IDENTITY_FP_DIGITS + 1];
    fpd_of(key, fpd);
    ldev *d = dev_by_fpd(l, fpd, create);
    if (d && !d->has_key) {
        memcpy(d->key, key, 32);
        d->has_key = true;
    }
    return d;
}

static void dev_free(gpointer v)
{
    ldev *d = v;
    if (d->retry)
        g_source_remove(d->retry);
    g_free(d);
}

static unsigned next_backoff(unsigned *b)
{
    *b = *b ? MIN(*b * 2, BACKOFF_MAX_MS) : BACKOFF_MIN_MS;
    return *b;
}

/* ---- connections ---- */

static void on_established(void *ud, conn *c);
static void on_message(void *ud, conn *c, const uint8_t *pt, size_t len);
static void on_drained(void *ud, conn *c);
static void on_closed(void *ud, conn *c, int err);
static void on_partial(void *ud, conn *c);
static const conn_callbacks conn_cbs = {on_established, on_message, on_drained, on_closed,
                                        on_partial};

/* Tick every ms from now (0: stop), unless it already does. A failed
 * timerfd leaves it stopped: tried again at the next change. */
static void tick_every(lan *l, unsigned ms)
{
    if (l->period == ms)
        return;
    l->period = evloop_timer_set(l->tick, ms) == 0 ? ms : 0;
}

/* Something with a deadline near began (a connection, a frame, a frame to
 * trim after): back to the short tick. */
static void tick_soon(lan *l)
{
    if (!l->period || l->period > TICK_MS)
        tick_every(l, TICK_MS);
}

static void host_of(const char *addr, char *out, size_t cap)
{
    g_strlcpy(out, addr, cap);
    char *colon = strrchr(out, ':');
    if (colon)
        *colon = '\0';
}

static conn *track(lan *l, conn *c, ldev *dial_for, lstatic *sp, const char *addr)
{
    /* An idle node with no connection has no timer at all. */
    tick_soon(l);
    cstate *cs = g_new0(cstate, 1);
    cs->l = l;
    tbucket_init_every(&cs->certs_in, LAN_CERT_EVERY_MS, LAN_CERT_BURST, mono_ms());
    tbucket_init_every(&cs->certs_out, LAN_CERT_EVERY_MS, LAN_CERT_BURST - 1, mono_ms());
    cs->dial_for = dial_for;
    cs->sp = sp;
    host_of(addr, cs->host, sizeof cs->host);
    conn_set_data(c, cs);
    l->conns = g_list_prepend(l->conns, c);
    return c;
}

static gboolean retry_dev(gpointer v);
static unsigned to_host(const lan *l, const char *host);

/* Whether d is connected over the LAN itself (TCP): a direct path (ICE)
 * does not stop dialing it, since a LAN connection replaces one. */
static bool on_lan(const ldev *d) { return d->c && strcmp(conn_kind(d->c), "tcp") == 0; }

static void dial_dev(ldev *d)
{
    lan *l = d->l;
    int err;
    if (l->stopping || on_lan(d) || d->dialing || !d->advertised)
        return;
    char host[64];
    host_of(d->addr, host, sizeof host);
    if (g_list_length(l->conns) >= l->max_conns || to_host(l, host) >= l->max_per_addr) {
        /* At the cap (many advertised nodes, or a neighbour advertising
         * made-up ones, many at one address of its own to hold our
         * connections): later, as for a failed dial. */
        if (!d->retry)
            d->retry = g_timeout_add(next_backoff(&d->backoff), retry_dev, d);
        return;
    }
    conn *c = conn_connect(l->ctx, l->ev, l->id, d->addr, d->port, &conn_cbs, l, &err);
    if (c) {
        d->dialing = track(l, c, d, NULL, d->addr);
        ((cstate *)conn_get_data(c))->port = d->port;
    }
}

/* Whether d is still advertised at the address and port cs dialed (it
 * may have moved while the dial was under way). */
static bool dialed_current(const ldev *d, const cstate *cs)
{
    return d->advertised && d->port == cs->port && strcmp(d->addr, cs->host) == 0;
}

/* The record that made us dial cs (its key at cs->host:cs->port) is
 * false: tell the owner (refuted()), who tells mdns. stop (another key
 * answered): no more dials until mDNS reports it again, and then after
 * the back-off. Else (no answer) the dials go on with their back-off, so
 * a colleague cut off for a while is met again when back. */
static void refute(lan *l, cstate *cs, bool stop)
{
    ldev *d = cs->dial_for;
    if (stop) {
        d->advertised = false;
        next_backoff(&d->backoff);
        if (d->retry) {
            g_source_remove(d->retry);
            d->retry = 0;
        }
    }
    if (l->cb.refuted)
        l->cb.refuted(l->ud, d->fpd, cs->host, cs->port);
}

static gboolean retry_dev(gpointer v)
{
    ldev *d = v;
    d->retry = 0;
    dial_dev(d);
    return G_SOURCE_REMOVE;
}

static void dial_static(lstatic *sp)
{
    lan *l = sp->l;
    int err;
    if (l->stopping || sp->c)
        return;
    conn *c = conn_connect(l->ctx, l->ev, l->id, sp->host, sp->port, &conn_cbs, l, &err);
    if (c)
        sp->c = track(l, c, NULL, sp, sp->host);
}

static gboolean retry_static(gpointer v)
{
    lstatic *sp = v;
    sp->retry = 0;
    dial_static(sp);
    if (!sp->c) /* could not even start: try again later */
        sp->retry = g_timeout_add(next_backoff(&sp->backoff), retry_static, sp);
    return G_SOURCE_REMOVE;
}

/* Queue a message; a peer whose queue is full is not reading: drop it. */
static void reply(conn *c, const msg *m)
{
    int r = conn_send(c, m);
    if (r && r != BANTER_ESTATE)
        conn_close(c, r, false, NULL);
}

static void refuse(conn *c, cstate *cs, int err, const char *what)
{
    msg e = {.type = MSG_ERROR};
    g_strlcpy(e.u.error.code, banter_errname(err), sizeof e.u.error.code);
    g_strlcpy(e.u.error.message, what, sizeof e.u.error.message);
    reply(c, &e);
    if (++cs->refused > MAX_REFUSED)
        conn_close(c, BANTER_EPROTO, true, "too many refused messages");
}

/* Our certificate, shown before HELLO and again when renewed. */
static void present_cert(lan *l, conn *c)
{
    const cert *ct = l->cb.own_cert ? l->cb.own_cert(l->ud) : NULL;
    if (!ct || ct->expires_ms <= wall_ms())
        return;
    rvmsg m = {.type = RV_CERT};
    m.u.cert = *ct;
    buf b;
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    if (rvmsg_encode(&m, &b) == 0 && conn_send_raw(c, buf_data(&b), buf_len(&b)) != 0)
        say(l, "cannot show the organisation certificate to a peer");
    buf_free(&b);
}

static void on_established(void *ud, conn *c)
{
    lan *l = ud;
    cstate *cs = conn_get_data(c);
    char fpd[IDENTITY_FP_DIGITS + 1];
    fpd_of(conn_peer(c), fpd);
    cs->established_ms = mono_ms();
    if (cs->dial_for && strcmp(cs->dial_for->fpd, fpd) != 0) {
        char text[256];
        snprintf(text, sizeof text,
                 "%s answered with another key than it advertised (fingerprint %.10s...); "
                 "closing, and its record no longer counts",
                 conn_remote(c), cs->dial_for->fpd);
        say(l, text);
        /* A stale record (a key retired, still in Avahi's cache) or a false
         * one: stop dialing it until mDNS announces it again, and then
         * after the back-off unless the address is new. (The device may
         * have moved since: then only the old record is refuted.) */
        if (dialed_current(cs->dial_for, cs))
            refute(l, cs, true);
        else if (l->cb.refuted)
            l->cb.refuted(l->ud, cs->dial_for->fpd, cs->host, cs->port);
        conn_close(c, BANTER_EKEYMISMATCH, true, "unexpected key");
        return;
    }
    if (cs->dial_for) {
        cs->dial_for->fails = 0;
        if (l->cb.confirmed) /* a record refuted while it did not answer is back */
            l->cb.confirmed(l->ud, cs->dial_for->fpd, cs->host, cs->port);
    }
    if (memcmp(conn_peer(c), identity_public(l->id), 32) == 0) {
        conn_close(c, BANTER_EPROTO, true, "connected to self");
        return;
    }
    if (cs->adopted && memcmp(conn_peer(c), cs->expect, 32) != 0) {
        char text[256], want[IDENTITY_FP_LEN + 1];
        identity_fingerprint(cs->expect, want);
        snprintf(text, sizeof text,
                 "a direct path to device %s proved another key (%s); closing it", want, fpd);
        say(l, text);
        conn_close(c, BANTER_EKEYMISMATCH, true, "unexpected key");
        return;
    }
    conn_set_rx_max(c, LAN_PREHELLO_FRAME); /* until its HELLO */
    present_cert(l, c);
    msg h = {.type = MSG_HELLO};
    h.u.hello.version = SESSION_VERSION;
    g_strlcpy(h.u.hello.name, l->name, sizeof h.u.hello.name);
    g_strlcpy(h.u.hello.features[0], "chat", sizeof h.u.hello.features[0]);
    g_strlcpy(h.u.hello.features[1], "broadcast", sizeof h.u.hello.features[1]);
    g_strlcpy(h.u.hello.features[2], "file", sizeof h.u.hello.features[2]);
    h.u.hello.nfeatures = 3;
    if (conn_send(c, &h) != 0)
        conn_close(c, BANTER_EIO, false, NULL);
}

/* A certificate: 0 with the account it names when it is for this
 * connection's key, signed by the server we pin, valid now, and the key
 * is not on the organisation's revocation list; 1 when it is not ours to
 * take but no fault of the peer's (no server pinned: a node without a
 * rendezvous cannot check it; another organisation's; the key revoked;
 * expired or not valid yet, as clocks differ); a negative BANTER_E* when
 * it is bad (does not decode, its signature does not verify, or it is
 * for another key). Only what gets past the first two checks costs a
 * signature check. */
static int check_cert(lan *l, conn *c, const uint8_t *pt, size_t len, char *account, size_t cap,
                      int64_t *expires_ms)
{
    rvmsg m;
    char fpd[IDENTITY_FP_DIGITS + 1];
    if (!l->server_fpd[0] || (l->cb.revoked && l->cb.revoked(l->ud, conn_peer(c))))
        return 1;
    int r = rvmsg_decode(&m, pt, len);
    if (r)
        return r;
    fpd_of(m.u.cert.server, fpd);
    if (strcmp(fpd, l->server_fpd) != 0) {
        r = 1;
    } else {
        r = cert_check(&m.u.cert, m.u.cert.server, conn_peer(c), wall_ms());
        if (r == BANTER_ETIMEDOUT)
            r = 1;
        else if (r == 0) {
            g_strlcpy(account, m.u.cert.name, cap);
            *expires_ms = m.u.cert.expires_ms;
        }
    }
    rvmsg_clear(&m);
    return r;
}

/* RV_CERT from the peer: limited, checked, and handed on (cert()) after
 * HELLO. A repeat of the last one taken costs a comparison; one over the
 * limit (logged once per connection) and a bad one are refused messages,
 * the first unchecked. */
static void on_cert(lan *l, conn *c, cstate *cs, const uint8_t *pt, size_t len)
{
    char account[BANTER_MAX_NAME + 1];
    int64_t expires_ms = 0;
    if (len == cs->cert_last_len && memcmp(pt, cs->cert_last, len) == 0)
        return;
    bool allowed = cs->hello ? tbucket_take(&cs->certs_in, mono_ms()) : !cs->cert_pre;
    cs->cert_pre = true;
    if (!allowed) {
        if (!cs->cert_said) {
            char text[256];
            snprintf(text, sizeof text,
                     "%s shows more organisation certificates than allowed; refusing them "
                     "unchecked",
                     conn_remote(c));
            say(l, text);
            cs->cert_said = true;
        }
        refuse(c, cs, BANTER_ERATE, "too many certificates on this connection");
        return;
    }
    int r = check_cert(l, c, pt, len, account, sizeof account, &expires_ms);
    if (r < 0) {
        refuse(c, cs, r, "certificate refused");
        return;
    }
    if (r > 0)
        return;
    if (len <= sizeof cs->cert_last) { /* always: it decoded */
        memcpy(cs->cert_last, pt, len);
        cs->cert_last_len = len;
    }
    if (!cs->hello) {
        g_strlcpy(cs->account, account, sizeof cs->account);
        cs->account_expires_ms = expires_ms;
        return;
    }
    if (cs->d && cs->d->c == c && l->cb.cert)
        l->cb.cert(l->ud, cs->d->key, cs->d->name, account, expires_ms);
}

static gboolean on_probe(gpointer v)
{
    conn *c = v;
    cstate *cs = conn_get_data(c);
    cs->probe = 0;
    if (mono_ms() - conn_last_rx(c) >= PROBE_MS)
        conn_close(c, BANTER_ETIMEDOUT, false, NULL);
    return G_SOURCE_REMOVE;
}

/* Of two connections with the same device, whether `old` stays (rule in
 * lan.h). Both ends see the same keys and who dialed each. */
static bool old_wins(lan *l, conn *old, conn *neu)
{
    const uint8_t *me = identity_public(l->id), *peer = conn_peer(neu);
    bool old_tcp = strcmp(conn_kind(old), "tcp") == 0, new_tcp = strcmp(conn_kind(neu), "tcp") == 0;
    if (old_tcp != new_tcp)
        return old_tcp; /* a LAN path is kept over a direct one (ICE) */
    const uint8_t *dold = conn_is_initiator(old) ? me : peer;
    const uint8_t *dnew = conn_is_initiator(neu) ? me : peer;
    if (dold == dnew)
        return false; /* one side dialed both: the last one */
    cstate *os = conn_get_data(old);
    if (mono_ms() - os->established_ms > LAN_FRESH_MS)
        return false; /* a restarted peer: the old one is likely half-open */
    return memcmp(dold, dnew, 32) < 0;
}

static void on_hello(lan *l, conn *c, cstate *cs, const struct msg_hello *h)
{
    if (cs->hello) {
        refuse(c, cs, BANTER_EPROTO, "HELLO was already said on this connection");
        return;
    }
    cs->hello = true;
    const uint8_t *key = conn_peer(c);
    const char *source = cs->sp ? "static" : cs->adopted ? "rendezvous" : "lan";
    int r = l->cb.hello(l->ud, key, h->name, source, conn_remote(c),
                        cs->account[0] ? cs->account : NULL,
                        cs->account[0] ? cs->account_expires_ms : 0);
    if (r) {
        conn_close(c, r, true, r == BANTER_EDB ? "storage error" : "refused");
        return;
    }
    conn_set_rx_max(c, BANTER_NOISE_MAX_MSG);
    ldev *d = dev_by_key(l, key, true);
    bool kind_changed = false;
    g_strlcpy(d->name, h->name, sizeof d->name);
    if (d->c && conn_is_open(d->c)) {
        if (old_wins(l, d->c, c)) {
            cstate *os = conn_get_data(d->c);
            conn_close(c, 0, true, "duplicate connection");
            /* Keep the old one only if it is alive: probe it. */
            if (!os->probe && mono_ms() - conn_last_rx(d->c) > PROBE_MS / 2) {
                msg ping = {.type = MSG_PING};
                ping.u.ping.token = (uint64_t)mono_ms();
                reply(d->c, &ping);
                os->probe = g_timeout_add(PROBE_MS, on_probe, d->c);
            }
            return;
        }
        conn *old = d->c;
        d->c = NULL;
        kind_changed = strcmp(conn_kind(old), conn_kind(c)) != 0;
        conn_close(old, 0, true, "duplicate connection");
    }
    bool was_up = d->c != NULL;
    cs->d = d;
    cs->attached_ms = mono_ms();
    d->c = c;
    /* Another kind of path (a LAN one over ICE): the device goes down and
     * up, so what was in flight on the old route goes again, over the new
     * connection (attached already). */
    if (kind_changed && l->cb.down)
        l->cb.down(l->ud, key);
    d->backoff = 0;
    if (cs->sp)
        cs->sp->backoff = 0;
    if (!was_up && l->cb.up)
        l->cb.up(l->ud, key, conn_remote(c));
}

/* Whether a CHAT or GROUP_MSG from device d is within its rate (a bucket
 * for each); if not, ERROR ERATE naming it is sent (docs/limits.md) and
 * false returned. */
static bool within_rate(conn *c, ldev *d, const msg *m)
{
    bool chat = m->type == MSG_CHAT;
    if (tbucket_take(chat ? &d->chats : &d->gmsgs, mono_ms()))
        return true;
    msg e = {.type = MSG_ERROR};
    g_strlcpy(e.u.error.code, "ERATE", sizeof e.u.error.code);
    g_strlcpy(e.u.error.message, "too many messages: send it again later",
              sizeof e.u.error.message);
    e.u.error.has_id = true;
    memcpy(e.u.error.id, chat ? m->u.chat.id : m->u.gmsg.id, MSG_ID_LEN);
    reply(c, &e);
    return false;
}

static void on_partial(void *ud, conn *c)
{
    (void)c;
    tick_soon(ud);
}

static void on_message(void *ud, conn *c, const uint8_t *pt, size_t len)
{
    lan *l = ud;
    cstate *cs = conn_get_data(c);
    msg m;
    /* Large buffers (a file's frames) are trimmed a quiet second after the
     * last frame; a few hundred bytes (chat, keepalive) wait for the next
     * tick rather than wake the node for it. */
    if (conn_held(c) > LAN_TRIM_HELD)
        tick_soon(l);
    if (len && pt[0] == RV_CERT) {
        on_cert(l, c, cs, pt, len);
        return;
    }
    int r = msg_decode(&m, pt, len);
    if (r) {
        refuse(c, cs, r, "message refused");
        return;
    }
    bool attached = cs->d && cs->d->c == c;
    if (!cs->hello && m.type != MSG_HELLO && m.type != MSG_PING && m.type != MSG_PONG &&
        m.type != MSG_BYE) {
        refuse(c, cs, BANTER_EPROTO, "HELLO must come first");
        msg_clear(&m);
        return;
    }
    switch (m.type) {
    case MSG_HELLO:
        on_hello(l, c, cs, &m.u.hello);
        break;
    case MSG_BYE:
        conn_close(c, 0, false, NULL);
        break;
    case MSG_PING: /* the PONG is the PING with its type changed: no copy of a msg */
        cs->peer_ping_ms = mono_ms();
        m.type = MSG_PONG;
        reply(c, &m);
        break;
    case MSG_PONG:
        break;
    case MSG_CHAT:
    case MSG_GROUP_MSG:
        if (attached && !within_rate(c, cs->d, &m))
            break;
        /* fall through */
    case MSG_ACK:
    case MSG_ERROR:
    case MSG_GROUP_STATE:
    case MSG_GROUP_KEY:
    case MSG_FILE_OFFER:
    case MSG_FILE_ACCEPT:
    case MSG_FILE_DECLINE:
    case MSG_FILE_CANCEL:
    case MSG_FILE_RESULT:
    case MSG_CHUNK:
    case MSG_FILE_MARK:
    case MSG_FILE_STORED:
        if (attached)
            l->cb.message(l->ud, c, cs->d->key, &m);
        else if (m.type != MSG_ERROR) /* a connection that lost to a duplicate */
            refuse(c, cs, BANTER_ESTATE, "this connection is closing");
        break;
    default:
        refuse(c, cs, BANTER_EBADTYPE, "type not supported");
        break;
    }
    msg_clear(&m);
}

static void on_drained(void *ud, conn *c)
{
    lan *l = ud;
    cstate *cs = conn_get_data(c);
    if (cs->d && cs->d->c == c && l->cb.drained)
        l->cb.drained(l->ud, cs->d->key);
}

static void on_closed(void *ud, conn *c, int err)
{
    lan *l = ud;
    cstate *cs = conn_get_data(c);
    l->conns = g_list_remove(l->conns, c);
    if (!l->conns)
        tick_every(l, 0);
    if (cs->probe)
        g_source_remove(cs->probe);
    if (cs->dial_for && cs->dial_for->dialing == c)
        cs->dial_for->dialing = NULL;
    /* A dial that never got through its handshake (refused, no answer,
     * cut): the LAN_REFUTE_FAILS-th in a row to the address mDNS gives
     * refutes that record (once: the count stops there). */
    if (!l->stopping && cs->dial_for && !cs->established_ms && dialed_current(cs->dial_for, cs) &&
        cs->dial_for->fails < LAN_REFUTE_FAILS && ++cs->dial_for->fails == LAN_REFUTE_FAILS) {
        char text[256];
        snprintf(text, sizeof text,
                 "%s:%u did not answer %u dials in a row; its mDNS record (fingerprint "
                 "%.10s...) no longer counts",
                 cs->host, (unsigned)cs->port, LAN_REFUTE_FAILS, cs->dial_for->fpd);
        say(l, text);
        refute(l, cs, false);
    }
    ldev *d = cs->d ? cs->d : cs->dial_for;
    if (cs->d && cs->d->c == c) {
        if (err && cs->adopted && !l->stopping) {
            char text[256];
            snprintf(text, sizeof text, "the direct path to %s (%s) ended: %s", cs->d->name,
                     conn_remote(c), banter_strerror(err));
            say(l, text);
        }
        cs->d->c = NULL;
        if (l->cb.down && !l->stopping)
            l->cb.down(l->ud, cs->d->key);
    }
    if (!l->stopping && d && !on_lan(d) && !d->dialing && d->advertised && !d->retry)
        d->retry = g_timeout_add(next_backoff(&d->backoff), retry_dev, d);
    if (cs->sp && cs->sp->c == c) {
        cs->sp->c = NULL;
        if (!l->stopping && !cs->sp->retry)
            cs->sp->retry = g_timeout_add(next_backoff(&cs->sp->backoff), retry_static, cs->sp);
    }
    g_free(cs);
}

/* ---- listening ---- */

static unsigned from_host(const lan *l, const char *host)
{
    unsigned k = 0;
    for (const GList *i = l->conns; i; i = i->next) {
        const cstate *cs = conn_get_data(i->data);
        k += cs && !cs->dial_for && !cs->sp && !cs->adopted && strcmp(cs->host, host) == 0;
    }
    return k;
}

/* Our dials to mDNS devices at host, connected or not: as many as
 * max_per_addr at once, so that one neighbour announcing many devices at
 * its own address cannot hold every connection slot with our dials. */
static unsigned to_host(const lan *l, const char *host)
{
    unsigned k = 0;
    for (const GList *i = l->conns; i; i = i->next) {
        const cstate *cs = conn_get_data(i->data);
        k += cs && cs->dial_for && strcmp(cs->host, host) == 0;
    }
    return k;
}

static void on_accept(void *ud, int fd, const char *addr)
{
    lan *l = ud;
    char host[64];
    host_of(addr, host, sizeof host);
    /* Descriptors are handed out lowest first: this one's number says how
     * many are in use. */
    if (l->stopping || (rlim_t)fd + l->fd_reserve >= l->fd_limit ||
        g_list_length(l->conns) >= l->max_conns || from_host(l, host) >= l->max_per_addr) {
        close(fd); /* over a limit: refused at once, nothing allocated */
        return;
    }
    int err;
    conn *c = conn_accept(l->ctx, l->ev, l->id, fd, &conn_cbs, l, &err);
    if (c)
        track(l, c, NULL, NULL, addr);
}

static void on_listen_log(void *ud, const char *text) { say(ud, text); }

/* ---- liveness ---- */

/* Forget devices with nothing going on whose buckets are full again: a
 * stream of made-up keys leaves nothing behind. */
static void sweep(lan *l, int64_t t)
{
    GHashTableIter it;
    gpointer v;
    /* Connections still listed (open, or closed with on_closed to come)
     * may point at a device: those stay. */
    g_hash_table_iter_init(&it, l->devs);
    while (g_hash_table_iter_next(&it, NULL, &v))
        ((ldev *)v)->held = false;
    for (GList *i = l->conns; i; i = i->next) {
        const cstate *cs = conn_get_data(i->data);
        if (cs && cs->d)
            cs->d->held = true;
        if (cs && cs->dial_for)
            cs->dial_for->held = true;
    }
    g_hash_table_iter_init(&it, l->devs);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        ldev *d = v;
        if (!d->held && !d->advertised && !d->c && !d->dialing && !d->retry &&
            tbucket_full(&d->chats, t) && tbucket_full(&d->gmsgs, t))
            g_hash_table_iter_remove(&it);
    }
}

/* The tick for one connection at t: conn_close'd when past a deadline, a
 * PING when quiet. Returns when it needs the next tick: t + TICK_MS while
 * unsettled, else its next keepalive or timeout. */
static int64_t tick_conn(lan *l, conn *c, int64_t t)
{
    cstate *cs = conn_get_data(c);
    int64_t partial = conn_partial_since(c);
    if (!conn_established(c)) {
        if (t - conn_created(c) > LAN_HANDSHAKE_MS)
            conn_close(c, BANTER_ETIMEDOUT, false, NULL);
        return t + TICK_MS;
    }
    if (!cs->hello && t - cs->established_ms > l->hello_ms) {
        conn_close(c, BANTER_ETIMEDOUT, true, "no HELLO");
        return t + TICK_MS;
    }
    int64_t rx = conn_last_rx(c);
    if ((partial && t - partial > l->frame_ms) || t - rx > LAN_TIMEOUT_MS) {
        conn_close(c, BANTER_ETIMEDOUT, false, NULL);
        return t + TICK_MS;
    }
    /* A renewed certificate that waited for certs_out: ticks come at
     * least every TICK_MAX_MS, so it goes at most that long after its
     * token is back. */
    if (cs->cert_due && cs->d && cs->d->c == c && tbucket_take(&cs->certs_out, t)) {
        cs->cert_due = false;
        present_cert(l, c);
    }
    bool quiet = !partial && t - rx >= LAN_TRIM_MS;
    if (quiet)
        conn_trim(c);
    /* Ping only a quiet connection, once a keepalive period: its PONG
     * (or the peer's own ping) keeps both sides' timers fresh. The side
     * that sent the later PING pings after 4.5 s of quiet, the other after
     * 5.5 s: it hears a PING every 4.5 s and stays silent, so one PING and
     * one PONG go each period instead of two pairs crossing (two sides
     * that ping at once both wait 5.5 s next time; the first goes on). */
    int64_t quiet_ms =
        cs->last_ping_ms > cs->peer_ping_ms ? LAN_KEEPALIVE_MS - 500 : LAN_KEEPALIVE_MS + 500;
    if (t - rx >= quiet_ms && t - cs->last_ping_ms >= LAN_KEEPALIVE_MS - 500) {
        cs->last_ping_ms = t;
        msg ping = {.type = MSG_PING};
        ping.u.ping.token = (uint64_t)t;
        reply(c, &ping);
    }
    if (!quiet || !cs->hello)
        return t + TICK_MS;
    int64_t ping_due = MAX(rx + quiet_ms, cs->last_ping_ms + LAN_KEEPALIVE_MS - 500);
    return MIN(ping_due, rx + LAN_TIMEOUT_MS + 1);
}

static void on_tick(void *v, int fd, uint32_t events)
{
    lan *l = v;
    int64_t t = mono_ms();
    (void)fd;
    (void)events;
    if (t >= l->next_sweep) {
        sweep(l, t);
        l->next_sweep = t + SWEEP_MS;
    }
    int64_t next = t + TICK_MAX_MS;
    GList *copy = g_list_copy(l->conns);
    for (GList *i = copy; i; i = i->next)
        if (conn_is_open(i->data))
            next = MIN(next, tick_conn(l, i->data, t));
    g_list_free(copy);
    /* A deadline is seen at most TICK_MS late, as with a steady tick. (A
     * sweep is due only while the timer runs anyway: not a reason to wake.) */
    tick_every(l, l->conns ? (unsigned)CLAMP(next - t, TICK_MS, TICK_MAX_MS) : 0);
}

/* ---- discovery ---- */

void lan_found(lan *l, const char *fpd, const char *name, const char *addr, uint16_t port)
{
    if (strcmp(fpd, l->fpd) == 0)
        return;
    ldev *d = dev_by_fpd(l, fpd, true);
    bool moved = strcmp(d->addr, addr) != 0 || d->port != port;
    d->advertised = true;
    if (!d->name[0])
        g_strlcpy(d->name, name, sizeof d->name);
    if (!moved) {
        /* The same address again (its TXT record changed, another
         * interface, a goodbye and a new announcement): the back-off
         * goes on, whoever can make mDNS say it. Found again after it was
         * refuted for not answering: one more failed dial refutes it. */
        if (d->fails >= LAN_REFUTE_FAILS)
            d->fails = LAN_REFUTE_FAILS - 1;
        if (!on_lan(d) && !d->dialing && !d->retry) {
            if (d->backoff)
                d->retry = g_timeout_add(next_backoff(&d->backoff), retry_dev, d);
            else
                dial_dev(d);
        }
        return;
    }
    g_strlcpy(d->addr, addr, sizeof d->addr);
    d->port = port;
    d->backoff = 0; /* a new address: dialed at once */
    d->fails = 0;
    if (d->retry) {
        g_source_remove(d->retry);
        d->retry = 0;
    }
    dial_dev(d);
}

void lan_lost(lan *l, const char *fpd)
{
    ldev *d = dev_by_fpd(l, fpd, false);
    if (!d)
        return;
    d->advertised = false;
    if (d->retry) {
        g_source_remove(d->retry);
        d->retry = 0;
    }
}

void lan_each_advertised(lan *l,
                         void (*fn)(void *ud, const char *fpd, const char *name, const char *addr),
                         void *ud)
{
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, l->devs);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        ldev *d = v;
        char addr[80];
        if (!d->advertised || d->c)
            continue;
        snprintf(addr, sizeof addr, "%s:%u", d->addr, d->port);
        fn(ud, d->fpd, d->name, addr);
    }
}

void lan_present_cert(lan *l)
{
    int64_t t = mono_ms();
    for (GList *i = l->conns; i; i = i->next) {
        cstate *cs = conn_get_data(i->data);
        if (!cs || !cs->d || cs->d->c != i->data || !conn_established(i->data))
            continue;
        /* Within what the peer takes (certs_out): else on a later tick. */
        if (tbucket_take(&cs->certs_out, t)) {
            cs->cert_due = false;
            present_cert(l, i->data);
        } else {
            cs->cert_due = true;
        }
    }
}

/* ---- the route ---- */

conn *lan_conn(lan *l, const uint8_t key[static 32])
{
    ldev *d = dev_by_key(l, key, false);
    return d && d->c && conn_established(d->c) ? d->c : NULL;
}

unsigned lan_count(const lan *l) { return g_list_length(l->conns); }

static bool route_reaches(void *ud, const store_contact *c, const store_device *d)
{
    (void)c;
    conn *cn = lan_conn(ud, d->key);
    return cn && strcmp(conn_kind(cn), "tcp") == 0;
}

static bool ice_reaches(void *ud, const store_contact *c, const store_device *d)
{
    (void)c;
    conn *cn = lan_conn(ud, d->key);
    return cn && strcmp(conn_kind(cn), "ice") == 0;
}

static int route_send(void *ud, const store_contact *c, const store_device *d, const store_msg *m)
{
    (void)c;
    conn *cn = lan_conn(ud, d->key);
    if (!cn)
        return BANTER_ESTATE;
    if (conn_queued(cn) > LAN_HIGH_WATER)
        return BANTER_EAGAIN;
    msg out;
    int r = messenger_chat_of(m, &out);
    if (r)
        return r;
    r = conn_send(cn, &out);
    msg_clear(&out);
    return r == BANTER_ETOOBIG ? BANTER_EAGAIN : r;
}

mr_route lan_route(lan *l) { return (mr_route){"lan", route_reaches, route_send, l}; }
mr_route lan_ice_route(lan *l) { return (mr_route){"ice", ice_reaches, route_send, l}; }

int lan_adopt(lan *l, conn_transport_fn make, void *arg, bool initiator,
              const uint8_t expect[static 32], const char *addr)
{
    int err = BANTER_ESTATE;
    if (l->stopping || g_list_length(l->conns) >= l->max_conns)
        return BANTER_EAGAIN;
    conn *c = conn_over(l->ctx, l->id, initiator, make, arg, &conn_cbs, l, &err);
    if (!c)
        return err;
    track(l, c, NULL, NULL, addr);
    cstate *cs = conn_get_data(c);
    cs->adopted = true;
    memcpy(cs->expect, expect, 32);
    return 0;
}

/* ---- lifecycle ---- */

int lan_add_static(lan *l, const char *host, uint16_t port)
{
    if (l->nstatic == LAN_MAX_STATIC || !host[0] || strlen(host) >= sizeof l->statics[0].host ||
        port == 0)
        return BANTER_EINVAL;
    lstatic *sp = &l->statics[l->nstatic++];
    g_strlcpy(sp->host, host, sizeof sp->host);
    sp->port = port;
    sp->l = l;
    dial_static(sp);
    if (!sp->c)
        sp->retry = g_timeout_add(next_backoff(&sp->backoff), retry_static, sp);
    return 0;
}

int lan_new(lan **out, GMainContext *ctx, const identity *id, const lan_config *cfg,
            const lan_callbacks *cb, void *ud)
{
    lan *l = g_new0(lan, 1);
    l->ctx = ctx;
    l->ev = cfg->ev;
    l->id = id;
    l->cb = *cb;
    l->ud = ud;
    char fp[IDENTITY_FP_LEN + 1];
    identity_fingerprint(identity_public(id), fp);
    digits_of(fp, l->fpd);
    g_strlcpy(l->name, cfg->name, sizeof l->name);
    g_strlcpy(l->server_fpd, cfg->server_fpd ? cfg->server_fpd : "", sizeof l->server_fpd);
    l->max_conns = cfg->max_conns ? cfg->max_conns : LAN_DEFAULT_MAX_CONN;
    l->max_per_addr = cfg->max_per_addr ? cfg->max_per_addr : LAN_DEFAULT_PER_ADDR;
    struct rlimit rl;
    l->fd_limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
    l->fd_reserve = MIN((rlim_t)LAN_FD_RESERVE, l->fd_limit / 4);
    l->hello_ms = cfg->hello_ms ? cfg->hello_ms : LAN_HELLO_MS;
    l->frame_ms = cfg->frame_ms ? cfg->frame_ms : LAN_FRAME_MS;
    l->chat_rate = cfg->chat_rate;
    l->chat_burst = cfg->chat_burst;
    l->devs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, dev_free);
    int r = tcp_listen(&l->listener, ctx, cfg->ev, cfg->port, on_accept, on_listen_log, l);
    if (r == 0 && !(l->tick = evloop_timer(cfg->ev, ctx, on_tick, l))) {
        tcp_listener_free(l->listener);
        r = BANTER_EIO;
    }
    if (r) {
        g_hash_table_destroy(l->devs);
        g_free(l);
        *out = NULL;
        return r;
    }
    *out = l;
    return 0;
}

uint16_t lan_port(const lan *l) { return tcp_listener_port(l->listener); }

void lan_free(lan *l)
{
    if (!l)
        return;
    l->stopping = true;
    for (size_t i = 0; i < l->nstatic; i++)
        if (l->statics[i].retry)
            g_source_remove(l->statics[i].retry);
    tcp_listener_free(l->listener);
    GList *copy = g_list_copy(l->conns);
    for (GList *i = copy; i; i = i->next)
        conn_close(i->data, 0, true, "node stopping");
    g_list_free(copy);
    /* Let the idle callbacks of the closed conns run. */
    while (l->conns && g_main_context_iteration(l->ctx, FALSE))
        ;
    evloop_del(l->tick);
    g_hash_table_destroy(l->devs);
    g_free(l);
}
