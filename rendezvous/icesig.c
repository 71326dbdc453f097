/* SPDX-License-Identifier: MIT */
/* icesig.c - STUN/TURN servers, TURN credentials and ICE signaling (see icesig.h). */
#include "icesig.h"

#include <nettle/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcrypto.h"
#include "buf.h"
#include "cert.h"
#include "cluster.h"
#include "contacts.h"
#include "online.h"
#include "xinst.h"

int icesig_credentials(const char *secret, const char *acct, int64_t expires_s,
                       char user[static RV_ICE_CRED_MAX + 1], char pass[static RV_ICE_CRED_MAX + 1])
{
    struct hmac_sha1_ctx h;
    uint8_t mac[SHA1_DIGEST_SIZE];
    size_t klen = strlen(secret);
    if (!klen || !cert_name_valid(acct) || expires_s < 0)
        return BANTER_EINVAL;
    int n = snprintf(user, RV_ICE_CRED_MAX + 1, "%lld:%s", (long long)expires_s, acct);
    if (n < 0 || n > (int)RV_ICE_CRED_MAX)
        return BANTER_ETOOLONG;
    hmac_sha1_set_key(&h, klen, (const uint8_t *)secret);
    hmac_sha1_update(&h, (size_t)n, (const uint8_t *)user);
    hmac_sha1_digest(&h, sizeof mac, mac);
    int r = bcrypto_base64(pass, RV_ICE_CRED_MAX + 1, mac, sizeof mac);
    bcrypto_wipe(&h, sizeof h);
    bcrypto_wipe(mac, sizeof mac);
    return r < 0 ? r : 0;
}

static void send_servers(conn *c)
{
    const struct icesig_config *ic = conn_core(c)->ice;
    rvmsg m = {.type = RV_ICE_SERVERS};
    if (ic)
        m.u.ice_servers = ic->servers;
    if (ic && ic->servers.nturn) {
        int64_t now = core_wall_ms();
        int64_t exp_s = (now + ic->ttl_ms) / 1000;
        int r = icesig_credentials(ic->secret, c->acct->name, exp_s, m.u.ice_servers.username,
                                   m.u.ice_servers.password);
        if (r) {
            core_log(conn_core(c), "cannot make TURN credentials for %s: %s", c->acct->name,
                     banter_strerror(r));
            m.u.ice_servers.nturn = 0;
        }
        m.u.ice_servers.expires_ms = exp_s * 1000;
    }
    c->ice_sent = conn_ms(core_now(conn_core(c))) | 1u; /* 0 is never */
    conn_send_rv(c, &m);
    rvmsg_clear(&m); /* wipes the password */
}

void icesig_device_up(conn *c)
{
    if (c->acct && !c->closing)
        send_servers(c);
}

void icesig_tick(core *k, uint64_t now)
{
    const struct icesig_config *ic = k->ice;
    if (!ic || !ic->servers.nturn || now - k->ice_scan < ICESIG_SCAN_MS)
        return;
    k->ice_scan = now;
    uint64_t due = (uint64_t)ic->ttl_ms * 5 / 6;
    for (conn *c = k->live.l.head; c; c = c->list.next)
        if (c->acct && !c->closing && c->ice_sent && conn_age(now, c->ice_sent) >= due)
            send_servers(c);
}

/* RV_ICE_END from the server to c about the session of m. */
static void end_to(conn *c, const rvmsg *m, const char *error)
{
    rvmsg e = {.type = RV_ICE_END};
    memcpy(e.u.ice.user, m->u.ice.user, sizeof e.u.ice.user);
    memcpy(e.u.ice.device, m->u.ice.device, RV_KEY_LEN);
    memcpy(e.u.ice.session, m->u.ice.session, RV_ICE_SESSION_LEN);
    snprintf(e.u.ice.error, sizeof e.u.ice.error, "%s", error);
    conn_send_rv(c, &e);
}

/* Whether c may send one more signaling message now (the window). */
static bool within_rate(conn *c)
{
    uint64_t now = core_now(conn_core(c));
    if (conn_age(now, c->ice_window) >= ICESIG_WINDOW_MS) {
        c->ice_window = conn_ms(now);
        c->ice_count = 0;
    }
    if (c->ice_count < UINT16_MAX) /* a flood never wraps it back to 0 */
        c->ice_count++;
    return c->ice_count <= ICESIG_BURST;
}

/* A message to a device on another instance, in flight: who to tell
 * EOFFLINE when no instance holds the device. The sender's connection is
 * held (conn_hold), its input too, so that the answer keeps its place
 * before the answers to what it sends next (a PING's PONG). */
struct remote_ice {
    conn *c;
    rvmsg end; /* the RV_ICE_END to send back (user, device, session) */
    char from_user[BANTER_MAX_NAME + 1];
};

static void on_remote_posted(void *ud, int ret, int64_t n)
{
    struct remote_ice *x = ud;
    conn *c = x->c;
    if (!(ret == 0 && n > 0) && !c->closing && c->acct && strcmp(c->acct->name, x->from_user) == 0)
        end_to(c, &x->end, "EOFFLINE");
    free(x);
    conn_input_resume(c);
    conn_release(c);
}

/* On a cluster, the target device may be connected to another instance:
 * f (the message as forwarded) travels in an event to it (xinst.c sends
 * it on). false when there is no cluster or no memory. */
static bool relay_remote(conn *c, const rvmsg *m, const rvmsg *f)
{
    core *k = conn_core(c);
    if (!k->cl || !xinst_online_anywhere(k, m->u.ice.user))
        return false; /* online nowhere: EOFFLINE at once, as on one server */
    struct remote_ice *x = calloc(1, sizeof *x);
    if (!x)
        return false;
    buf b;
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    if (rvmsg_encode(f, &b) != 0) {
        buf_free(&b);
        free(x);
        return false;
    }
    x->c = c;
    memcpy(x->end.u.ice.user, m->u.ice.user, sizeof x->end.u.ice.user);
    memcpy(x->end.u.ice.device, m->u.ice.device, RV_KEY_LEN);
    memcpy(x->end.u.ice.session, m->u.ice.session, RV_ICE_SESSION_LEN);
    snprintf(x->from_user, sizeof x->from_user, "%s", c->acct->name);
    conn_hold(c);
    conn_input_hold(c);
    /* to that device only while it is online as the account named: the
     * key alone may be any account's */
    cluster_post_body(k->cl, m->u.ice.device, m->u.ice.user, DBC_ICE, 0, buf_data(&b), buf_len(&b),
                      on_remote_posted, x);
    buf_free(&b);
    return true;
}

void icesig_relay(conn *c, const rvmsg *m)
{
    if (!within_rate(c)) {
        conn_refuse(c, "ERATE", "too many ICE signaling messages; wait");
        return;
    }
    /* The relation first: a stranger learns nothing about the target. */
    int may = contacts_may_seal(c->acct, m->u.ice.user, false);
    if (may == CONTACTS_SEAL_NOTCONTACT) {
        end_to(c, m, "ENOTCONTACT");
        return;
    }
    account *ra = may == CONTACTS_SEAL_OK ? online_find(conn_core(c)->on, m->u.ice.user) : NULL;
    conn *d = ra ? online_device(ra, m->u.ice.device) : NULL;
    if (!d && may == CONTACTS_SEAL_OK && memcmp(m->u.ice.device, conn_device(c), RV_KEY_LEN)) {
        rvmsg f = *m;
        snprintf(f.u.ice.user, sizeof f.u.ice.user, "%s", c->acct->name);
        memcpy(f.u.ice.device, conn_device(c), RV_KEY_LEN);
        bool sent = relay_remote(c, m, &f);
        bcrypto_wipe(&f, sizeof f);
        if (sent)
            return;
    }
    if (!d || d == c || d->closing) {
        end_to(c, m, "EOFFLINE");
        return;
    }
    if (conn_busy(d)) {
        end_to(c, m, "EBUSY");
        return;
    }
    rvmsg f = *m; /* cand stays the sender's decoded lines */
    snprintf(f.u.ice.user, sizeof f.u.ice.user, "%s", c->acct->name);
    memcpy(f.u.ice.device, conn_device(c), RV_KEY_LEN);
    conn_send_rv(d, &f);
    bcrypto_wipe(&f, sizeof f);
}
