/* SPDX-License-Identifier: MIT */
/* icelink.c - ICE sessions with contacts' devices, through the rendezvous (see icelink.h). */
#include "net/icelink.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcrypto.h"
#include "icecand.h"
#include "net/ice.h"
#include "net/icestream.h"

typedef enum sstate {
    S_GATHER,      /* gathering: then the offer (offerer) or the answer */
    S_WAIT_ANSWER, /* offerer: the offer went out */
    S_CHECKING,    /* both descriptions known: connectivity checks */
    S_ADOPTED,     /* a connection runs over the stream */
    S_LINGER,      /* its connection let go: the last bytes go out */
} sstate;

typedef struct isess {
    transport t; /* first: the transport head while adopted */
    icelink *il;
    uint8_t dev[32];
    char account[BANTER_MAX_NAME + 1];
    uint8_t session[RV_ICE_SESSION_LEN];
    bool offerer;
    sstate st;
    ice_agent *ice;
    icestream *is;
    icecand_set *remote; /* the answerer's copy of the offer until it gathered */
    guint timer;         /* the connect deadline, then the linger */
    guint ready_src;
    bool want_write, adopted_ok;
    ice_pair pair;
    bool has_pair;
} isess;

typedef struct backoff {
    int64_t next_ms; /* monotonic: no offer before */
    unsigned delay;
} backoff;

struct icelink {
    GMainContext *ctx;
    uint8_t self[32];
    icelink_callbacks cb;
    void *ud;
    struct rv_ice_servers servers;
    char stun_host[46], turn_host[46];
    uint16_t stun_port, turn_port;
    bool turn_udp, turn_tcp;
    GHashTable *sess; /* device key -> isess */
    GHashTable *rest; /* device key -> backoff */
    GList *lingering; /* isess in S_LINGER */
    GList *displaced; /* adopted isess a new offer took the place of in sess (still their conn's) */
    ice_agent *check; /* icelink_check's agent */
    void (*check_line)(void *ud, const char *text);
    void (*check_done)(void *ud, int err);
    void *check_ud;
    guint check_timer;
};

static int64_t mono_ms(void) { return g_get_monotonic_time() / 1000; }

static guint key_hash(gconstpointer k)
{
    guint h;
    memcpy(&h, k, sizeof h);
    return h;
}

static gboolean key_equal(gconstpointer a, gconstpointer b) { return memcmp(a, b, 32) == 0; }

static void say(icelink *il, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(icelink *il, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (il->cb.log)
        il->cb.log(il->ud, text);
}

static void short_fp(const uint8_t key[static 32], char out[static 12])
{
    char fp[IDENTITY_FP_LEN + 1];
    identity_fingerprint(key, fp);
    g_strlcpy(out, fp, 12); /* the first two groups */
}

/* ---- session lifetime ---- */

static void sess_destroy(isess *s)
{
    if (s->timer)
        g_source_remove(s->timer);
    if (s->ready_src)
        g_source_remove(s->ready_src);
    icestream_free(s->is);
    ice_free(s->ice);
    g_free(s->remote);
    bcrypto_wipe(s, sizeof *s);
    g_free(s);
}

static void rest(icelink *il, const uint8_t dev[static 32], bool reset)
{
    backoff *b = g_hash_table_lookup(il->rest, dev);
    if (!b) {
        b = g_new0(backoff, 1);
        g_hash_table_insert(il->rest, g_memdup2(dev, 32), b);
    }
    if (reset)
        b->delay = 0;
    b->delay = b->delay ? MIN(b->delay * 2, ICELINK_BACKOFF_MAX_MS) : ICELINK_BACKOFF_MIN_MS;
    b->next_ms = mono_ms() + b->delay;
}

static void send_end(isess *s, const char *error)
{
    rvmsg m = {.type = RV_ICE_END};
    g_strlcpy(m.u.ice.user, s->account, sizeof m.u.ice.user);
    memcpy(m.u.ice.device, s->dev, 32);
    memcpy(m.u.ice.session, s->session, RV_ICE_SESSION_LEN);
    g_strlcpy(m.u.ice.error, error ? error : "", sizeof m.u.ice.error);
    (void)s->il->cb.signal(s->il->ud, &m);
}

/* A session that never got adopted ends: out of the table, freed, the
 * device rests. end: the RV_ICE_END error to send the peer, or NULL for
 * none. Safe inside ice and icestream callbacks (they free late). */
static void sess_fail(isess *s, const char *end, const char *why)
{
    icelink *il = s->il;
    char fp[12];
    short_fp(s->dev, fp);
    if (why)
        say(il, "no direct path to %s's device %s: %s", s->account, fp, why);
    if (end)
        send_end(s, end);
    rest(il, s->dev, false);
    g_hash_table_steal(il->sess, s->dev);
    sess_destroy(s);
    if (il->cb.again)
        il->cb.again(il->ud);
}

/* ---- the transport ("ice") ---- */

static void t_destroy_later(isess *s);

static ssize_t t_write(transport *t, const uint8_t *p, size_t len)
{
    isess *s = (isess *)(void *)t;
    return (ssize_t)icestream_write(s->is, p, len);
}

static void t_want_write(transport *t, bool on) { ((isess *)(void *)t)->want_write = on; }

static void t_pause(transport *t, bool paused)
{
    icestream_pause(((isess *)(void *)t)->is, paused);
}

static const char *t_remote(const transport *t)
{
    const isess *s = (const isess *)(const void *)t;
    return s->has_pair ? s->pair.remote_addr : "ice";
}

/* The connection lets go: the stream ends (FIN) and lingers. */
static void t_free(transport *t)
{
    isess *s = (isess *)(void *)t;
    icelink *il = s->il;
    memset(&s->t.cb, 0, sizeof s->t.cb);
    if (s->ready_src) {
        g_source_remove(s->ready_src);
        s->ready_src = 0;
    }
    if (g_hash_table_lookup(il->sess, s->dev) == s)
        g_hash_table_steal(il->sess, s->dev);
    il->displaced = g_list_remove(il->displaced, s);
    rest(il, s->dev, true);
    s->st = S_LINGER;
    il->lingering = g_list_prepend(il->lingering, s);
    icestream_close(s->is);
    t_destroy_later(s);
    if (il->cb.again)
        il->cb.again(il->ud);
}

static size_t t_rate(const transport *t)
{
    const isess *s = (const isess *)(const void *)t;
    return s->is ? icestream_rate(s->is) : 0;
}

static const transport_ops ice_ops = {"ice",    t_write, t_want_write, t_pause,
                                      t_remote, t_free,  t_rate};

static gboolean on_ready_idle(gpointer v)
{
    isess *s = v;
    s->ready_src = 0;
    if (s->t.cb.ready)
        s->t.cb.ready(s->t.ud);
    return G_SOURCE_REMOVE;
}

/* conn_transport_fn: the stream becomes the connection's transport. */
static transport *make_transport(void *arg, const transport_callbacks *cb, void *ud, int *err)
{
    isess *s = arg;
    s->t.ops = &ice_ops;
    s->t.cb = *cb;
    s->t.ud = ud;
    s->adopted_ok = true;
    s->ready_src = g_idle_add(on_ready_idle, s);
    *err = 0;
    return &s->t;
}

static gboolean on_linger_done(gpointer v)
{
    isess *s = v;
    s->timer = 0;
    s->il->lingering = g_list_remove(s->il->lingering, s);
    sess_destroy(s);
    return G_SOURCE_REMOVE;
}

static void t_destroy_later(isess *s)
{
    if (s->timer)
        g_source_remove(s->timer);
    s->timer = g_timeout_add(ICELINK_LINGER_MS, on_linger_done, s);
}

/* ---- the stream's callbacks ---- */

static void is_data(void *ud, icestream *is, const uint8_t *p, size_t len)
{
    isess *s = ud;
    (void)is;
    if (s->st == S_ADOPTED && s->t.cb.data)
        s->t.cb.data(s->t.ud, p, len);
}

static void is_writable(void *ud, icestream *is)
{
    isess *s = ud;
    (void)is;
    if (s->st == S_ADOPTED && s->want_write && s->t.cb.writable) {
        s->want_write = false;
        s->t.cb.writable(s->t.ud);
    }
}

static void is_closed(void *ud, icestream *is, int err)
{
    isess *s = ud;
    (void)is;
    if (s->st == S_LINGER) { /* both ends closed: nothing more to send */
        if (s->timer)
            g_source_remove(s->timer);
        s->timer = g_timeout_add(0, on_linger_done, s);
        return;
    }
    if (s->st == S_ADOPTED && s->t.cb.closed) {
        transport_callbacks cb = s->t.cb;
        char fp[12];
        short_fp(s->dev, fp);
        if (err)
            say(s->il, "the stream to %s's device %s ended: %s", s->account, fp,
                banter_strerror(err));
        memset(&s->t.cb, 0, sizeof s->t.cb); /* closed() once */
        cb.closed(s->t.ud, err);
    }
}

static void send_dgram(void *ud, const uint8_t *p, size_t len)
{
    isess *s = ud;
    (void)ice_send(s->ice, p, len);
}

/* ---- the agent's callbacks ---- */

static void describe(const ice_pair *p, char *route, size_t rcap, char *text, size_t tcap)
{
    bool relay = strcmp(p->local_type, "relay") == 0 || strcmp(p->remote_type, "relay") == 0;
    g_strlcpy(route, relay ? "relay" : "direct", rcap);
    if (strcmp(p->local_type, "relay") == 0)
        g_snprintf(text, tcap, "TURN %s %s -> %s %s", p->relay_tcp ? "tcp" : "udp", p->local_addr,
                   p->remote_type, p->remote_addr);
    else
        g_snprintf(text, tcap, "%s %s -> %s %s", p->local_type, p->local_addr, p->remote_type,
                   p->remote_addr);
}

static void connected(isess *s)
{
    icelink *il = s->il;
    static const icestream_callbacks icb = {is_data, is_writable, is_closed};
    char fp[12], route[8], text[200];
    int err;
    s->has_pair = ice_get_pair(s->ice, &s->pair) == 0;
    s->is = icestream_new(il->ctx, NULL, send_dgram, s, &icb, s, &err);
    if (!s->is) {
        sess_fail(s, "ENOMEM", "out of memory");
        return;
    }
    if (s->timer) {
        g_source_remove(s->timer);
        s->timer = 0;
    }
    s->st = S_ADOPTED;
    short_fp(s->dev, fp);
    if (s->has_pair) {
        describe(&s->pair, route, sizeof route, text, sizeof text);
        say(il, "%s path to %s's device %s: %s", route, s->account, fp, text);
    }
    err = il->cb.adopt(il->ud, s->dev, make_transport, s, s->offerer,
                       s->has_pair ? s->pair.remote_addr : "ice");
    if (err && !s->adopted_ok) {
        s->st = S_CHECKING; /* as before adoption: dropped as such */
        sess_fail(s, "EBUSY", banter_strerror(err));
    }
}

static void on_state(void *ud, ice_agent *a, ice_state st)
{
    isess *s = ud;
    (void)a;
    if (st == ICE_CONNECTED && s->st == S_CHECKING) {
        connected(s);
    } else if (st == ICE_FAILED && s->st != S_ADOPTED && s->st != S_LINGER) {
        sess_fail(s, "EFAILED", "the connectivity checks failed");
    } else if (st == ICE_FAILED && s->st == S_ADOPTED && s->t.cb.closed) {
        transport_callbacks cb = s->t.cb;
        char fp[12];
        short_fp(s->dev, fp);
        say(s->il, "ICE lost the path to %s's device %s (its checks failed)", s->account, fp);
        memset(&s->t.cb, 0, sizeof s->t.cb);
        cb.closed(s->t.ud, BANTER_ETIMEDOUT);
    }
}

static void on_pair(void *ud, ice_agent *a, const ice_pair *p)
{
    isess *s = ud;
    (void)a;
    s->pair = *p;
    s->has_pair = true;
}

static void on_datagram(void *ud, ice_agent *a, const uint8_t *p, size_t len)
{
    isess *s = ud;
    (void)a;
    if (s->is)
        icestream_input(s->is, p, len);
}

/* Our description into m (OFFER or ANSWER). */
static int describe_local(isess *s, rvmsg *m, char (*lines)[BANTER_ICE_MAX_LINE + 1])
{
    char *ufrag = NULL, *pwd = NULL, **cands = NULL;
    int r = ice_local_credentials(s->ice, &ufrag, &pwd);
    if (r == 0) {
        g_strlcpy(m->u.ice.ufrag, ufrag, sizeof m->u.ice.ufrag);
        g_strlcpy(m->u.ice.pwd, pwd, sizeof m->u.ice.pwd);
        cands = ice_local_candidates(s->ice);
        for (char **c = cands; c && *c && m->u.ice.ncand < BANTER_ICE_MAX_CANDS; c++)
            if (strlen(*c) <= BANTER_ICE_MAX_LINE)
                g_strlcpy(lines[m->u.ice.ncand++], *c, BANTER_ICE_MAX_LINE + 1);
        m->u.ice.cand = lines;
    }
    g_free(ufrag);
    g_free(pwd);
    g_strfreev(cands);
    return r;
}

static gboolean on_deadline(gpointer v);

static gboolean on_no_answer(gpointer v)
{
    isess *s = v;
    s->timer = 0;
    sess_fail(s, "ETIMEDOUT", "no answer to the offer in time");
    return G_SOURCE_REMOVE;
}

static void on_gathered(void *ud, ice_agent *a)
{
    isess *s = ud;
    icelink *il = s->il;
    rvmsg m = {.type = s->offerer ? RV_ICE_OFFER : RV_ICE_ANSWER};
    char(*lines)[BANTER_ICE_MAX_LINE + 1] = g_malloc0(BANTER_ICE_MAX_CANDS * sizeof *lines);
    (void)a;
    g_strlcpy(m.u.ice.user, s->account, sizeof m.u.ice.user);
    memcpy(m.u.ice.device, s->dev, 32);
    memcpy(m.u.ice.session, s->session, RV_ICE_SESSION_LEN);
    int r = describe_local(s, &m, lines);
    if (r == 0)
        r = il->cb.signal(il->ud, &m);
    bcrypto_wipe(&m, sizeof m);
    g_free(lines);
    if (r) {
        sess_fail(s, NULL, "the rendezvous could not carry the description");
        return;
    }
    if (s->offerer) {
        /* An answer comes within the peer's gathering (2 s at most, TURN
         * over TCP): none in ICELINK_ANSWER_MS means the offer was lost
         * (the server forwarded it to a connection of that device that
         * is dead and not yet noticed); offer again soon, not after the
         * whole ICELINK_CONNECT_MS. */
        s->st = S_WAIT_ANSWER;
        if (s->timer)
            g_source_remove(s->timer);
        s->timer = g_timeout_add(ICELINK_ANSWER_MS, on_no_answer, s);
        return;
    }
    s->st = S_CHECKING;
    r = ice_set_remote(s->ice, s->remote);
    g_free(s->remote);
    s->remote = NULL;
    if (r)
        sess_fail(s, "EFAILED", "no usable candidate in the offer");
}

static gboolean on_deadline(gpointer v)
{
    isess *s = v;
    s->timer = 0;
    sess_fail(s, "ETIMEDOUT", "not connected in time");
    return G_SOURCE_REMOVE;
}

/* ---- sessions ---- */

static isess *sess_new(icelink *il, const char *account, const uint8_t dev[static 32],
                       const uint8_t *session, bool offerer)
{
    static const ice_callbacks cb = {on_gathered, on_state, on_pair, on_datagram};
    isess *s = g_new0(isess, 1);
    int err;
    s->il = il;
    memcpy(s->dev, dev, 32);
    g_strlcpy(s->account, account, sizeof s->account);
    s->offerer = offerer;
    if (session)
        memcpy(s->session, session, RV_ICE_SESSION_LEN);
    else
        bcrypto_rng_system().fill(NULL, s->session, RV_ICE_SESSION_LEN);
    ice_config cfg = {.controlling = offerer,
                      .stun_host = il->stun_host[0] ? il->stun_host : NULL,
                      .stun_port = il->stun_port,
                      .turn_host = il->turn_host[0] ? il->turn_host : NULL,
                      .turn_port = il->turn_port,
                      .turn_user = il->servers.username,
                      .turn_pass = il->servers.password,
                      .turn_tcp = il->turn_tcp};
    if (!il->turn_udp && il->turn_tcp && cfg.turn_host) {
        /* A TURN server over TCP only: ice.h allocates over UDP always, so
         * give it as TCP's (its UDP allocation just fails). */
        cfg.turn_tcp = true;
    }
    s->ice = ice_new(il->ctx, &cfg, &cb, s, &err);
    if (!s->ice) {
        say(il, "cannot start ICE: %s", banter_strerror(err));
        g_free(s);
        return NULL;
    }
    s->timer = g_timeout_add(ICELINK_CONNECT_MS, on_deadline, s);
    g_hash_table_insert(il->sess, s->dev, s);
    return s;
}

void icelink_want(icelink *il, const char *account, const uint8_t dev[static 32])
{
    if (memcmp(il->self, dev, 32) >= 0 || g_hash_table_contains(il->sess, dev) ||
        g_hash_table_size(il->sess) >= ICELINK_MAX)
        return;
    backoff *b = g_hash_table_lookup(il->rest, dev);
    if (b && mono_ms() < b->next_ms)
        return;
    (void)sess_new(il, account, dev, NULL, true);
}

/* Sessions (in the table, and displaced ones still carrying a
 * connection) with the devices of account. */
static size_t sessions_of(icelink *il, const char *account)
{
    size_t n = 0;
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, il->sess);
    while (g_hash_table_iter_next(&it, NULL, &v))
        n += strcmp(((isess *)v)->account, account) == 0;
    for (GList *l = il->displaced; l; l = l->next)
        n += strcmp(((isess *)l->data)->account, account) == 0;
    return n;
}

static void on_offer(icelink *il, const struct rv_ice *o)
{
    icecand_policy pol = {.allow_ipv6 = true};
    size_t rejected = 0;
    int first = 0;
    char fp[12];
    short_fp(o->device, fp);
    if (!il->cb.allowed(il->ud, o->user, o->device)) {
        say(il,
            "an ICE offer from %s's device %s, which is not a trusted device of an approved "
            "contact: refused",
            o->user, fp);
        return;
    }
    isess *old = g_hash_table_lookup(il->sess, o->device);
    if (old && old->st == S_ADOPTED)
        old = NULL; /* the peer lost it: a new path replaces it once connected */
    /* An offer soon after the last attempt with that device failed (or
     * after one replaced a session still checking): refused as the
     * offerer's own back-off would not send it (half of it is allowed
     * for the two ends' clocks), so a contact cannot make this node start
     * agents and TURN allocations over and over. */
    backoff *b = g_hash_table_lookup(il->rest, o->device);
    bool early = b && mono_ms() < b->next_ms - (int64_t)(b->delay / 2);
    if (early || (old ? 0u : 1u) + g_hash_table_size(il->sess) > ICELINK_MAX ||
        (!old && sessions_of(il, o->user) >= ICELINK_PER_ACCOUNT)) {
        if (early)
            say(il, "an ICE offer from %s's device %s too soon after the last one: refused",
                o->user, fp);
        isess tmp = {.il = il};
        memcpy(tmp.dev, o->device, 32);
        g_strlcpy(tmp.account, o->user, sizeof tmp.account);
        memcpy(tmp.session, o->session, RV_ICE_SESSION_LEN);
        send_end(&tmp, "EBUSY");
        return;
    }
    icecand_set *set = g_new0(icecand_set, 1);
    const char *lines[BANTER_ICE_MAX_CANDS];
    for (size_t i = 0; i < o->ncand; i++)
        lines[i] = o->cand[i];
    int r = icecand_parse_set(o->ufrag, o->pwd, lines, o->ncand, &pol, set, &rejected, &first);
    if (r || set->n == 0) {
        say(il, "an ICE offer from %s's device %s had no usable candidate (%s)", o->user, fp,
            banter_errname(r ? r : first));
        g_free(set);
        return;
    }
    if (old) {
        g_hash_table_steal(il->sess, old->dev);
        sess_destroy(old);
        rest(il, o->device, false); /* a second replacement waits */
    } else if ((old = g_hash_table_lookup(il->sess, o->device)) != NULL) {
        g_hash_table_steal(il->sess, o->device); /* the adopted one stays with its conn, */
        il->displaced = g_list_prepend(il->displaced, old); /* and under icelink_recheck */
    }
    isess *s = sess_new(il, o->user, o->device, o->session, false);
    if (s)
        s->remote = set;
    else
        g_free(set);
}

static void on_answer(icelink *il, const struct rv_ice *o)
{
    icecand_policy pol = {.allow_ipv6 = true};
    icecand_set set;
    size_t rejected = 0;
    int first = 0;
    isess *s = g_hash_table_lookup(il->sess, o->device);
    if (!s || !s->offerer || s->st != S_WAIT_ANSWER ||
        memcmp(s->session, o->session, RV_ICE_SESSION_LEN) != 0 || strcmp(s->account, o->user))
        return; /* not ours (late, or forged): ignored */
    const char *lines[BANTER_ICE_MAX_CANDS];
    for (size_t i = 0; i < o->ncand; i++)
        lines[i] = o->cand[i];
    int r = icecand_parse_set(o->ufrag, o->pwd, lines, o->ncand, &pol, &set, &rejected, &first);
    s->st = S_CHECKING;
    if (s->timer)
        g_source_remove(s->timer);
    s->timer = g_timeout_add(ICELINK_CONNECT_MS, on_deadline, s);
    if (r == 0)
        r = ice_set_remote(s->ice, &set);
    if (r)
        sess_fail(s, "EFAILED", "no usable candidate in the answer");
}

static void on_end(icelink *il, const struct rv_ice *o)
{
    isess *s = g_hash_table_lookup(il->sess, o->device);
    if (!s || s->st == S_ADOPTED || memcmp(s->session, o->session, RV_ICE_SESSION_LEN) != 0)
        return;
    char why[64];
    g_snprintf(why, sizeof why, "ended: %s", o->error[0] ? o->error : "by the peer");
    /* EOFFLINE and ENOTCONTACT are normal (a device not connected now):
     * only the rest is worth a line. */
    bool quiet = strcmp(o->error, "EOFFLINE") == 0 || strcmp(o->error, "ENOTCONTACT") == 0;
    sess_fail(s, NULL, quiet ? NULL : why);
}

void icelink_signal(icelink *il, const rvmsg *m)
{
    if (m->type == RV_ICE_OFFER)
        on_offer(il, &m->u.ice);
    else if (m->type == RV_ICE_ANSWER)
        on_answer(il, &m->u.ice);
    else if (m->type == RV_ICE_END)
        on_end(il, &m->u.ice);
}

void icelink_reset(icelink *il)
{
    GHashTableIter it;
    gpointer v;
    GPtrArray *gone = g_ptr_array_new();
    g_hash_table_iter_init(&it, il->sess);
    while (g_hash_table_iter_next(&it, NULL, &v))
        if (((isess *)v)->st != S_ADOPTED)
            g_ptr_array_add(gone, v);
    for (guint i = 0; i < gone->len; i++) {
        isess *s = g_ptr_array_index(gone, i);
        g_hash_table_steal(il->sess, s->dev);
        sess_destroy(s);
    }
    g_ptr_array_free(gone, TRUE);
}

void icelink_recheck(icelink *il)
{
    GHashTableIter it;
    gpointer v;
    GPtrArray *gone = g_ptr_array_new();
    g_hash_table_iter_init(&it, il->sess);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        isess *s = v;
        if (!il->cb.allowed(il->ud, s->account, s->dev))
            g_ptr_array_add(gone, s);
    }
    for (GList *l = il->displaced; l; l = l->next) {
        isess *s = l->data;
        if (!il->cb.allowed(il->ud, s->account, s->dev))
            g_ptr_array_add(gone, s);
    }
    for (guint i = 0; i < gone->len; i++) {
        isess *s = g_ptr_array_index(gone, i);
        char fp[12];
        short_fp(s->dev, fp);
        if (s->st != S_ADOPTED) {
            sess_fail(s, "EPERM", NULL);
            continue;
        }
        say(il, "the direct path to %s's device %s ends: no longer an approved contact", s->account,
            fp);
        if (s->t.cb.closed) {
            transport_callbacks cb = s->t.cb;
            memset(&s->t.cb, 0, sizeof s->t.cb);
            cb.closed(s->t.ud, BANTER_EPERM); /* its conn frees the transport */
        }
    }
    g_ptr_array_free(gone, TRUE);
}

bool icelink_path(icelink *il, const uint8_t dev[static 32], char *route, size_t rcap, char *text,
                  size_t tcap)
{
    isess *s = g_hash_table_lookup(il->sess, dev);
    if (!s || s->st != S_ADOPTED)
        return false;
    if (s->has_pair)
        describe(&s->pair, route, rcap, text, tcap);
    else
        g_strlcpy(route, "direct", rcap), g_strlcpy(text, "", tcap);
    return true;
}

/* ---- servers ---- */

void icelink_set_servers(icelink *il, const struct rv_ice_servers *srv)
{
    icecand_url u;
    il->servers = *srv;
    il->stun_host[0] = il->turn_host[0] = '\0';
    il->turn_udp = il->turn_tcp = false;
    for (size_t i = 0; i < srv->nstun && !il->stun_host[0]; i++) {
        if (icecand_parse_url(srv->stun[i], &u) != 0)
            continue;
        g_strlcpy(il->stun_host, u.host, sizeof il->stun_host);
        il->stun_port = u.port;
    }
    /* The first TURN server (over UDP and TCP unless its URL says one). */
    for (size_t i = 0; i < srv->nturn; i++) {
        if (icecand_parse_url(srv->turn[i], &u) != 0)
            continue;
        if (il->turn_host[0] && (strcmp(u.host, il->turn_host) != 0 || u.port != il->turn_port))
            continue;
        g_strlcpy(il->turn_host, u.host, sizeof il->turn_host);
        il->turn_port = u.port;
        il->turn_udp |= u.transport != ICECAND_URL_TCP;
        il->turn_tcp |= u.transport != ICECAND_URL_UDP;
    }
}

/* ---- the check (banter nat-check) ---- */

static void check_finish(icelink *il, int err)
{
    if (il->check_timer)
        g_source_remove(il->check_timer);
    il->check_timer = 0;
    ice_free(il->check);
    il->check = NULL;
    if (il->check_done)
        il->check_done(il->check_ud, err);
}

static void check_gathered(void *ud, ice_agent *a)
{
    icelink *il = ud;
    char **cands = ice_local_candidates(a);
    for (char **c = cands; c && *c; c++)
        il->check_line(il->check_ud, *c);
    g_strfreev(cands);
    check_finish(il, 0);
}

static gboolean check_timeout(gpointer v)
{
    icelink *il = v;
    il->check_timer = 0;
    check_finish(il, BANTER_ETIMEDOUT);
    return G_SOURCE_REMOVE;
}

int icelink_check(icelink *il, void (*line)(void *ud, const char *text),
                  void (*done)(void *ud, int err), void *ud)
{
    static const ice_callbacks cb = {check_gathered, NULL, NULL, NULL};
    int err;
    if (il->check)
        return BANTER_ESTATE;
    ice_config cfg = {.stun_host = il->stun_host[0] ? il->stun_host : NULL,
                      .stun_port = il->stun_port,
                      .turn_host = il->turn_host[0] ? il->turn_host : NULL,
                      .turn_port = il->turn_port,
                      .turn_user = il->servers.username,
                      .turn_pass = il->servers.password,
                      .turn_tcp = il->turn_tcp};
    il->check_line = line;
    il->check_done = done;
    il->check_ud = ud;
    il->check = ice_new(il->ctx, &cfg, &cb, il, &err);
    if (!il->check)
        return err;
    il->check_timer = g_timeout_add(10000, check_timeout, il);
    return 0;
}

/* ---- lifecycle ---- */

icelink *icelink_new(GMainContext *ctx, const uint8_t self[static 32], const icelink_callbacks *cb,
                     void *ud)
{
    icelink *il = g_new0(icelink, 1);
    il->ctx = ctx;
    memcpy(il->self, self, 32);
    il->cb = *cb;
    il->ud = ud;
    il->sess = g_hash_table_new(key_hash, key_equal);
    il->rest = g_hash_table_new_full(key_hash, key_equal, g_free, g_free);
    return il;
}

void icelink_free(icelink *il)
{
    if (!il)
        return;
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, il->sess);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        isess *s = v;
        if (s->st == S_ADOPTED && s->adopted_ok)
            continue; /* its connection still holds it (lan_free first) */
        sess_destroy(s);
    }
    g_hash_table_destroy(il->sess);
    g_list_free(il->displaced); /* their connections hold them (lan_free first) */
    g_list_free_full(il->lingering, (GDestroyNotify)sess_destroy);
    g_hash_table_destroy(il->rest);
    if (il->check)
        check_finish(il, BANTER_ESTATE); /* its owner hears of the end */
    bcrypto_wipe(&il->servers, sizeof il->servers);
    g_free(il);
}
