/* SPDX-License-Identifier: MIT */
/* auth.c - device keys, logins, logouts, certificates (see auth.h). */
#include "auth.h"

#include <stdlib.h>
#include <string.h>

#include "announce.h"
#include "contacts.h"
#include "db_admin.h"
#include "icesig.h"
#include "mailbox.h"
#include "online.h"
#include "orgpolicy.h"
#include "orgrevoke.h"
#include "plugins.h"
#include "pwcheck.h"
#include "ratelimit.h"
#include "xinst.h"

/* An RV_LOGIN whose password is being checked. Owned by its conn (freed by
 * the conn's close or by the check's answer). */
struct login {
    conn *c;
    pwcheck_req *req;
    bool known, disabled;
    char user[BANTER_MAX_NAME + 1];
    char addr[CONN_ADDR_MAX];
    char ukey[RL_KEY_MAX]; /* the account's backoff key */
    char akey[RL_KEY_MAX]; /* the source's (an IPv4 address, an IPv6 /64) */
};

static void send_auth_fail(conn *c, const char *code, int64_t retry_after_ms)
{
    rvmsg a = {.type = RV_AUTH};
    snprintf(a.u.auth.error, sizeof a.u.auth.error, "%s", code);
    a.u.auth.retry_after_ms = retry_after_ms;
    conn_send_rv(c, &a);
}

/* The last device of a went away: contacts see it offline. */
static void on_last(account *a, void *ud)
{
    core *k = ud;
    rplugins_account(k->pg, a->name, false);
    contacts_account_gone(k, a);
}

/* c stops being authenticated (logout, disable, close, another login). */
static void leave(conn *c)
{
    if (!c->acct)
        return;
    mailbox_device_down(c);
    xinst_device_down(c);
    contacts_device_down(c);
    (void)online_detach(conn_core(c)->on, c, on_last, conn_core(c));
}

/* A fresh certificate for c's device as its account. */
static void send_cert(conn *c)
{
    rvmsg cm = {.type = RV_CERT};
    int r = cert_issue(&cm.u.cert, conn_core(c)->id, conn_device(c), c->acct->name, core_wall_ms(),
                       AUTH_CERT_TTL_MS);
    if (r == 0) {
        conn_send_rv(c, &cm);
        c->cert_sent = conn_ms(core_now(conn_core(c))) | 1u; /* 0 is never */
    } else {
        core_log(conn_core(c), "cannot issue a certificate for %s: %s", c->acct->name,
                 banter_strerror(r));
    }
}

void auth_tick(core *k, uint64_t now)
{
    const uint64_t renew = (uint64_t)AUTH_CERT_RENEW_MS;
    if (now - k->cert_scan < AUTH_CERT_SCAN_MS)
        return;
    k->cert_scan = now;
    for (conn *c = k->live.head; c; c = c->next)
        if (c->acct && !c->closing && c->cert_sent && conn_age(now, c->cert_sent) >= renew)
            send_cert(c);
}

/* c is now the account u: RV_AUTH ok, a fresh certificate, the contact
 * list, the policy and the revocation list, then the announcements and
 * what waits in its mailbox. */
static void enter(conn *c, const db_user *u)
{
    core *k = conn_core(c);
    bool first;
    leave(c);
    if (online_attach(k->on, c, u->name, &first) != 0) {
        conn_close(c, BANTER_ENOMEM, NULL);
        return;
    }
    c->acct->admin = u->admin;
    c->acct->broadcast = u->broadcast;
    xinst_device_up(c); /* before the presence it may change is announced */
    if (first)
        rplugins_account(k->pg, u->name, true);
    rvmsg a = {.type = RV_AUTH, .u.auth = {.ok = true, .admin = u->admin}};
    snprintf(a.u.auth.user, sizeof a.u.auth.user, "%s", u->name);
    conn_send_rv(c, &a);
    send_cert(c);
    if (c->closing)
        return;
    int r = contacts_device_up(c, first);
    if (r) {
        conn_error(c, banter_errname(r), "the server cannot read the contact list");
        leave(c);
        return;
    }
    contacts_own_status(c, false);
    orgpolicy_device_up(c);
    orgrevoke_device_up(c);
    icesig_device_up(c);
    announce_device_up(c);
    mailbox_device_up(c);
}

void auth_hello(conn *c)
{
    db_user u;
    int r = db_device_user(conn_core(c)->db, conn_device(c), &u);
    if (r == BANTER_ENOENT)
        return;
    if (r) {
        core_log(conn_core(c), "database: %s", db_errmsg(conn_core(c)->db));
        return;
    }
    if (u.disabled)
        send_auth_fail(c, "EDISABLED", 0);
    else
        enter(c, &u);
}

void auth_conn_gone(conn *c)
{
    if (c->login) {
        /* The check, if running, finishes in the pool and is dropped. */
        pwcheck_cancel(c->login->req);
        free(c->login);
        c->login = NULL;
    }
    leave(c);
}

/* The backoff keys of a login on c: its account, its source. */
static void rl_keys(conn *c, login *lg)
{
    struct sockaddr_storage ss;
    snprintf(lg->ukey, sizeof lg->ukey, "u:%s", lg->user);
    (void)conn_peer(c, &ss);
    rl_addr_key((const struct sockaddr *)&ss, lg->akey);
}

/* Bind the device of c to name; contacts of the accounts whose devices
 * changed hear of it. 0 or BANTER_E*. */
static int bind_device(conn *c, const char *name)
{
    core *k = conn_core(c);
    db_user prev;
    int had = db_device_user(k->db, conn_device(c), &prev);
    int r = db_device_bind(k->db, conn_device(c), name, core_wall_ms());
    if (r)
        return r;
    if (had == 0 && strcmp(prev.name, name) == 0)
        return 0;
    contacts_devices_changed(k, name);
    if (had == 0)
        contacts_devices_changed(k, prev.name);
    return 0;
}

/* The password check of lg is done (on the loop thread, from the pool's
 * after-work callback: the conn is alive, else lg was cancelled). */
static void on_login_checked(void *owner, int result)
{
    login *lg = owner;
    conn *c = lg->c;
    core *k = conn_core(c);
    db_user u;
    c->login = NULL;
    bool ok = result == 0 && lg->known && !lg->disabled;
    int r = ok ? db_user_get(k->db, lg->user, &u, NULL) : 0;
    if (ok && r == 0 && u.disabled) {
        ok = false; /* disabled while the check ran */
        lg->disabled = true;
    }
    if (ok && r == 0)
        r = bind_device(c, lg->user);
    if (ok && r == 0) {
        /* Only the account's failures are forgotten: the source's count
         * every failure from there, whoever it was for (an insider's own
         * logins do not clear the way for guesses at others' passwords). */
        rl_reset(k->rl, lg->ukey);
        core_log(k, "login ok for %s from %s", lg->user, lg->addr);
        enter(c, &u);
    } else if (ok) {
        core_log(k, "login failed for %s from %s: database: %s", lg->user, lg->addr,
                 db_errmsg(k->db));
        conn_error(c, banter_errname(r), "the server cannot store the device");
    } else {
        bool disabled = result == 0 && lg->known;
        rl_fail(k->rl, lg->akey, (int64_t)core_now(k));
        core_log(k, "login failed for %s from %s: %s", lg->user, lg->addr,
                 disabled    ? "account disabled"
                 : lg->known ? "wrong password"
                             : "no such account");
        send_auth_fail(c, disabled ? "EDISABLED" : "EPASSWORD", 0);
    }
    free(lg);
}

/* Look the account up and queue the check (unknown accounts against the
 * dummy hash). NULL, or the ERROR code to answer with. */
static const char *login_submit(conn *c, login *lg, const struct rv_login *l)
{
    core *k = conn_core(c);
    char hash[BCRYPTO_PWHASH_STRLEN];
    db_user u;
    int r = db_user_get(k->db, lg->user, &u, hash);
    if (r == 0) {
        lg->known = true;
        lg->disabled = u.disabled;
    } else if (r == BANTER_ENOENT) {
        snprintf(hash, sizeof hash, "%s", pwcheck_dummy_hash());
    } else {
        core_log(k, "login failed for %s from %s: database: %s", lg->user, lg->addr,
                 db_errmsg(k->db));
        return banter_errname(r);
    }
    r = pwcheck_submit(k->pw, hash, l->password, strlen(l->password), on_login_checked, lg,
                       &lg->req);
    bcrypto_wipe(hash, sizeof hash);
    if (r == 1)
        core_log(k, "login refused for %s from %s: %u logins waiting", lg->user, lg->addr,
                 pwcheck_waiting(k->pw));
    return r == 1 ? "EBUSY" : r ? banter_errname(r) : NULL;
}

/*
 * RV_LOGIN: refused at once while the account or the source (an IPv4
 * address, an IPv6 /64) is backing off (ERATE); otherwise the password is
 * checked in the pool. The attempt counts as a failure of the account from
 * the moment it is queued (so parallel guesses for one account wait their
 * turn), of the source when it failed; a success forgets the account's
 * failures only.
 */
void auth_login(conn *c, const struct rv_login *l)
{
    core *k = conn_core(c);
    if (c->login) {
        conn_error(c, "EBUSY", "a login is already being checked on this connection");
        return;
    }
    if (db_device_revoked(k->db, conn_device(c)) == 1) {
        core_log(k, "login refused for %s: the device was revoked by an admin", l->user);
        send_auth_fail(c, "EREVOKED", 0);
        return;
    }
    login *lg = calloc(1, sizeof *lg);
    if (!lg) {
        conn_close(c, BANTER_ENOMEM, NULL);
        return;
    }
    snprintf(lg->user, sizeof lg->user, "%s", l->user);
    conn_addr(c, lg->addr);
    rl_keys(c, lg);
    int64_t now = (int64_t)core_now(k);
    int64_t wait = rl_check(k->rl, lg->ukey, now), wa = rl_check(k->rl, lg->akey, now);
    const char *err = NULL;
    if (wa > wait)
        wait = wa;
    if (wait > 0) {
        core_log(k, "login failed for %s from %s: too many failures, retry in %lld ms", lg->user,
                 lg->addr, (long long)wait);
        send_auth_fail(c, "ERATE", wait);
    } else if ((err = login_submit(c, lg, l)) != NULL) {
        conn_error(c, err,
                   strcmp(err, "EBUSY") == 0 ? "too many logins waiting: try again"
                                             : "the server cannot check the login");
    } else {
        rl_fail(k->rl, lg->ukey, now);
        lg->c = c;
        c->login = lg;
        return;
    }
    free(lg);
}

void auth_logout(conn *c)
{
    core *k = conn_core(c);
    if (c->acct) {
        char name[BANTER_MAX_NAME + 1];
        snprintf(name, sizeof name, "%s", c->acct->name);
        leave(c);
        int r = db_device_unbind(k->db, conn_device(c));
        if (r < 0)
            core_log(k, "database: %s", db_errmsg(k->db));
        else
            contacts_devices_changed(k, name);
    }
    send_auth_fail(c, "ELOGGEDOUT", 0);
}

int auth_refresh(core *k, const char *name)
{
    account *a = online_find(k->on, name);
    if (!a)
        return 0;
    db_user u;
    int r = db_user_get(k->db, name, &u, NULL);
    if (r && r != BANTER_ENOENT)
        return r;
    if (r == 0 && !u.disabled) {
        a->admin = u.admin;
        a->broadcast = u.broadcast;
        return 0;
    }
    int n = 0;
    while ((a = online_find(k->on, name)) != NULL) {
        conn *c = a->devs;
        leave(c);
        send_auth_fail(c, "EDISABLED", 0);
        n++;
    }
    core_log(k, "account %s disabled: %d session%s ended", name, n, n == 1 ? "" : "s");
    return n;
}
