/* SPDX-License-Identifier: MIT */
/* auth.c - device keys, logins, logouts, certificates (see auth.h). */
#include "auth.h"

#include <stdlib.h>
#include <string.h>

#include "announce.h"
#include "contacts.h"
#include "dbq.h"
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

/* An RV_LOGIN being looked up, checked and stored. While a database job
 * has it (in_db: the account's lookup, the device's binding) the job owns
 * it and holds c; otherwise its conn does (freed by the conn's close or by
 * the check's answer). */
struct login {
    conn_job h; /* while a job of it runs: its c held, its input too */
    pwcheck_req *req;
    bool known, disabled;
    bool in_db;
    bool released;   /* bind_work took a disable's or delete's mark off the key */
    int64_t now_ms;  /* the binding's time */
    db_user u;       /* the account, read by the jobs */
    db_user prev;    /* the account the device was bound to (bind_work; had == 0) */
    int had;         /* db_device_user's answer for the device before the binding */
    uint8_t key[32]; /* the device */
    char hash[BCRYPTO_PWHASH_STRLEN];   /* the account's, or the dummy (wiped) */
    char password[RV_PASSWORD_MAX + 1]; /* until the check is queued (wiped) */
    char errmsg[DBQ_ERRMSG_LEN];
    char user[BANTER_MAX_NAME + 1];
    char addr[CONN_ADDR_MAX];
    char ukey[RL_KEY_MAX]; /* the account's backoff key */
    char akey[RL_KEY_MAX]; /* the source's (an IPv4 address, an IPv6 /64) */
};

static void login_free(login *lg)
{
    if (!lg)
        return;
    bcrypto_wipe(lg->hash, sizeof lg->hash);
    bcrypto_wipe(lg->password, sizeof lg->password);
    free(lg);
}

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
    account *a = c->acct;
    mailbox_device_down(c);
    xinst_device_down(c);
    contacts_device_down(c);
    if (!online_detach(conn_core(c)->on, c, on_last, conn_core(c)))
        contacts_own_status(a->devs.head, true); /* the others: one device fewer */
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
    for (conn *c = k->live.l.head; c; c = c->list.next)
        if (c->acct && !c->closing && c->cert_sent && conn_age(now, c->cert_sent) >= renew)
            send_cert(c);
}

static void entered(conn *c, int r);

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
    c->sess_gen++; /* jobs of an earlier session on c send nothing (mailbox, announce) */
    c->ann_up = false;
    c->acct->admin = u->admin;
    c->acct->broadcast = u->broadcast;
    xinst_device_up(c); /* before the presence it may change is announced */
    if (!k->cl)
        auth_recheck(k, u->name); /* on a cluster: once its row is written */
    if (first)
        rplugins_account(k->pg, u->name, true);
    rvmsg a = {.type = RV_AUTH, .u.auth = {.ok = true, .admin = u->admin}};
    snprintf(a.u.auth.user, sizeof a.u.auth.user, "%s", u->name);
    conn_send_rv(c, &a);
    send_cert(c);
    if (c->closing)
        return;
    contacts_device_up(c, first, entered);
}

/* The first page of c's contact list went out (contacts_device_up's job:
 * c's next messages wait for it), or it could not be read: the rest. */
static void entered(conn *c, int r)
{
    if (r) {
        conn_error(c, banter_errname(r), "the server cannot read the contact list");
        leave(c);
        return;
    }
    contacts_own_status(c, true); /* the others: one device more */
    orgpolicy_device_up(c);
    orgrevoke_device_up(c);
    icesig_device_up(c);
    announce_device_up(c);
    mailbox_device_up(c);
}

/* The device lookup at HELLO. */
struct hello_job {
    conn_job h;
    uint8_t key[32];
    db_user u;
};

static int hello_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct hello_job *j = arg;
    int r = db_device_user(d, j->key, &j->u);
    if (r && r != BANTER_ENOENT)
        snprintf(errmsg, DBQ_ERRMSG_LEN, "%s", db_errmsg(d));
    return r;
}

static void hello_after(conn *c, void *arg, int r, const char *errmsg)
{
    struct hello_job *j = arg;
    if (!c->closing) {
        if (r && r != BANTER_ENOENT)
            core_log(conn_core(c), "database: %s", errmsg);
        else if (r == 0 && j->u.disabled)
            send_auth_fail(c, "EDISABLED", 0);
        else if (r == 0)
            enter(c, &j->u);
    }
    free(j); /* then the next messages, which see the account */
}

void auth_hello(conn *c)
{
    struct hello_job *j = conn_job_new(c, sizeof *j);
    if (!j)
        return;
    memcpy(j->key, conn_device(c), sizeof j->key);
    int r = conn_job_submit(j, hello_work, hello_after);
    if (r) {
        free(j);
        conn_close(c, r, NULL);
    }
}

void auth_conn_gone(conn *c)
{
    if (c->login && !c->login->in_db) {
        /* The check, if running, finishes in the pool and is dropped. */
        pwcheck_cancel(c->login->req);
        login_free(c->login);
    }
    c->login = NULL; /* one in a job is freed by its after */
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

/* After the password check: the account again (disabled meanwhile?),
 * then the device bound to it, and a mark a disable or a delete of that
 * account left on its key taken off the revocation list (the account is
 * enabled: the device is its own again; a failure leaves the key listed,
 * no worse than its certificate's day). 0, 1 when the account is disabled
 * (nothing bound), or BANTER_E* (BANTER_ENOENT: deleted meanwhile). */
static int bind_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    login *lg = arg;
    int r = db_user_get(d, lg->user, &lg->u, NULL);
    if (r == 0 && lg->u.disabled)
        return 1;
    if (r == 0) {
        lg->had = db_device_user(d, lg->key, &lg->prev);
        r = db_device_bind(d, lg->key, lg->user, lg->now_ms);
        lg->released = r == 0 && db_revoked_release(d, lg->key, lg->user) == 1;
    }
    if (r)
        snprintf(errmsg, DBQ_ERRMSG_LEN, "%s", db_errmsg(d));
    return r;
}

static void bind_after(conn *c, void *arg, int r, const char *errmsg)
{
    login *lg = arg;
    core *k = conn_core(c);
    lg->in_db = false;
    if (c->closing)
        goto out;
    c->login = NULL;
    if (r == 0) {
        /* Contacts of the accounts whose devices changed hear of it. */
        if (lg->had != 0 || strcmp(lg->prev.name, lg->user) != 0) {
            contacts_devices_changed(k, lg->user);
            if (lg->had == 0)
                contacts_devices_changed(k, lg->prev.name);
        }
        /* Only the account's failures are forgotten: the source's count
         * every failure from there, whoever it was for (an insider's own
         * logins do not clear the way for guesses at others' passwords). */
        rl_reset(k->rl, lg->ukey);
        core_log(k, "login ok for %s from %s", lg->user, lg->addr);
        enter(c, &lg->u);
        if (lg->released) { /* LAN peers take its certificate again */
            orgrevoke_reload(k);
            xinst_org_changed(k, XINST_ORG_REVOKED);
        }
    } else if (r == 1) { /* disabled while the check ran */
        rl_fail(k->rl, lg->akey, (int64_t)core_now(k));
        core_log(k, "login failed for %s from %s: account disabled", lg->user, lg->addr);
        send_auth_fail(c, "EDISABLED", 0);
    } else {
        core_log(k, "login failed for %s from %s: database: %s", lg->user, lg->addr, errmsg);
        conn_error(c, banter_errname(r), "the server cannot store the device");
    }
out:
    login_free(lg);
}

/* The password check of lg is done (on the loop thread, from the pool's
 * after-work callback: the conn is alive, else lg was cancelled). */
static void on_login_checked(void *owner, int result)
{
    login *lg = owner;
    conn *c = lg->h.c;
    core *k = conn_core(c);
    lg->req = NULL;
    bool ok = result == 0 && lg->known && !lg->disabled;
    if (ok) {
        lg->now_ms = core_wall_ms();
        lg->in_db = true;
        int r = conn_job_submit(lg, bind_work, bind_after);
        if (r == 0)
            return; /* the next messages: once it is answered */
        lg->in_db = false;
        c->login = NULL;
        core_log(k, "login failed for %s from %s: %s", lg->user, lg->addr, banter_strerror(r));
        conn_error(c, banter_errname(r), "the server cannot store the device");
    } else {
        c->login = NULL;
        bool disabled = result == 0 && lg->known;
        rl_fail(k->rl, lg->akey, (int64_t)core_now(k));
        core_log(k, "login failed for %s from %s: %s", lg->user, lg->addr,
                 disabled    ? "account disabled"
                 : lg->known ? "wrong password"
                             : "no such account");
        send_auth_fail(c, disabled ? "EDISABLED" : "EPASSWORD", 0);
    }
    login_free(lg);
}

/* RV_LOGIN's lookup: whether an admin revoked the device (2), then the
 * account and its hash (ENOENT: the dummy hash instead). */
static int lookup_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    login *lg = arg;
    if (db_device_revoked(d, lg->key) == 1)
        return 2;
    int r = db_user_get(d, lg->user, &lg->u, lg->hash);
    if (r == 0) {
        lg->known = true;
        lg->disabled = lg->u.disabled;
    } else if (r == BANTER_ENOENT) {
        snprintf(lg->hash, sizeof lg->hash, "%s", pwcheck_dummy_hash());
        r = 0;
    } else {
        snprintf(errmsg, DBQ_ERRMSG_LEN, "%s", db_errmsg(d));
    }
    return r;
}

/* Queue the password check (unknown accounts against the dummy hash).
 * NULL, or the ERROR code to answer with. */
static const char *check_submit(core *k, login *lg)
{
    int r = pwcheck_submit(k->pw, lg->hash, lg->password, strlen(lg->password), on_login_checked,
                           lg, &lg->req);
    bcrypto_wipe(lg->hash, sizeof lg->hash);
    bcrypto_wipe(lg->password, sizeof lg->password);
    if (r == 1)
        core_log(k, "login refused for %s from %s: %u logins waiting", lg->user, lg->addr,
                 pwcheck_waiting(k->pw));
    return r == 1 ? "EBUSY" : r ? banter_errname(r) : NULL;
}

/*
 * The lookup is done: refused at once for a revoked device (EREVOKED) or
 * while the account or the source (an IPv4 address, an IPv6 /64) is
 * backing off (ERATE); otherwise the password is checked in the pool. The
 * attempt counts as a failure of the account from the moment it is
 * queued (so parallel guesses for one account wait their turn), of the
 * source when it failed; a success forgets the account's failures only.
 */
static void lookup_after(conn *c, void *arg, int r, const char *errmsg)
{
    login *lg = arg;
    core *k = conn_core(c);
    lg->in_db = false;
    if (c->closing)
        goto out;
    c->login = NULL;
    int64_t now = (int64_t)core_now(k);
    int64_t wait = rl_check(k->rl, lg->ukey, now), wa = rl_check(k->rl, lg->akey, now);
    const char *err = NULL;
    if (wa > wait)
        wait = wa;
    if (r == 2) {
        core_log(k, "login refused for %s: the device was revoked by an admin", lg->user);
        send_auth_fail(c, "EREVOKED", 0);
    } else if (wait > 0) {
        core_log(k, "login failed for %s from %s: too many failures, retry in %lld ms", lg->user,
                 lg->addr, (long long)wait);
        send_auth_fail(c, "ERATE", wait);
    } else if (r) {
        core_log(k, "login failed for %s from %s: database: %s", lg->user, lg->addr, errmsg);
        conn_error(c, banter_errname(r), "the server cannot check the login");
    } else if ((err = check_submit(k, lg)) != NULL) {
        conn_error(c, err,
                   strcmp(err, "EBUSY") == 0 ? "too many logins waiting: try again"
                                             : "the server cannot check the login");
    } else {
        rl_fail(k->rl, lg->ukey, now);
        c->login = lg; /* the conn's now (a close frees it) */
        lg = NULL;
    }
out:
    login_free(lg);
}

/* RV_LOGIN: the lookup in a job, then lookup_after. */
void auth_login(conn *c, const struct rv_login *l)
{
    core *k = conn_core(c);
    if (c->login) {
        conn_error(c, "EBUSY", "a login is already being checked on this connection");
        return;
    }
    login *lg = conn_job_new(c, sizeof *lg);
    if (!lg)
        return;
    snprintf(lg->user, sizeof lg->user, "%s", l->user);
    snprintf(lg->password, sizeof lg->password, "%s", l->password);
    memcpy(lg->key, conn_device(c), sizeof lg->key);
    conn_addr(c, lg->addr);
    rl_keys(c, lg);
    lg->in_db = true;
    int r = conn_job_submit(lg, lookup_work, lookup_after);
    if (r) {
        core_log(k, "login failed for %s from %s: %s", lg->user, lg->addr, banter_strerror(r));
        conn_error(c, banter_errname(r), "the server cannot check the login");
        login_free(lg);
        return;
    }
    c->login = lg; /* in_db: a second RV_LOGIN meanwhile is EBUSY */
}

/* RV_LOGOUT's unbinding. */
struct logout_job {
    conn_job h; /* h.user: the account logged out of */
    uint8_t key[32];
};

static int logout_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct logout_job *j = arg;
    int r = db_device_unbind(d, j->key);
    if (r < 0)
        snprintf(errmsg, DBQ_ERRMSG_LEN, "%s", db_errmsg(d));
    return r;
}

static void logout_after(conn *c, void *arg, int r, const char *errmsg)
{
    struct logout_job *j = arg;
    core *k = conn_core(c);
    if (r < 0)
        core_log(k, "database: %s", errmsg);
    else
        contacts_devices_changed(k, j->h.user); /* also when the peer is gone */
    if (!c->closing)
        send_auth_fail(c, "ELOGGEDOUT", 0);
    free(j);
}

/* The answer comes once the device is unbound, so that the peer's next
 * connection does not find it bound still. */
void auth_logout(conn *c)
{
    if (!c->acct) {
        send_auth_fail(c, "ELOGGEDOUT", 0);
        return;
    }
    struct logout_job *j = conn_job_new(c, sizeof *j);
    if (!j)
        return;
    memcpy(j->key, conn_device(c), sizeof j->key);
    leave(c);
    int r = conn_job_submit(j, logout_work, logout_after);
    if (r) {
        free(j);
        conn_close(c, r, NULL);
    }
}

/* auth_refresh's job: the account read again. */
struct refresh_job {
    core *k;
    db_user u;
    char name[BANTER_MAX_NAME + 1];
};

int auth_read(db *d, const char *name, db_user *u, char errmsg[static DBQ_ERRMSG_LEN])
{
    int r = db_user_get(d, name, u, NULL);
    if (r && r != BANTER_ENOENT)
        snprintf(errmsg, DBQ_ERRMSG_LEN, "%s", db_errmsg(d));
    return r;
}

static int refresh_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct refresh_job *j = arg;
    return auth_read(d, j->name, &j->u, errmsg);
}

static void refresh_after(void *arg, int r, const char *errmsg)
{
    struct refresh_job *j = arg;
    if (r && r != BANTER_ENOENT)
        core_log(j->k, "cannot read the account %s again: database: %s", j->name, errmsg);
    else
        (void)auth_apply(j->k, j->name, r == 0 ? &j->u : NULL);
    free(j);
}

void auth_refresh(core *k, const char *name)
{
    if (!online_find(k->on, name))
        return;
    struct refresh_job *j = calloc(1, sizeof *j);
    int r = j ? 0 : BANTER_ENOMEM;
    if (j) {
        j->k = k;
        snprintf(j->name, sizeof j->name, "%s", name);
        r = core_job(k, refresh_work, refresh_after, j);
    }
    if (r) {
        core_log(k, "cannot read the account %s again: %s", name, banter_strerror(r));
        free(j);
    }
}

/* auth_recheck's job: the account and its devices connected here. */
struct recheck_job {
    core *k;
    db_user u;
    char name[BANTER_MAX_NAME + 1];
    size_t n;
    uint8_t (*key)[32];
    bool *revoked;
};

static int recheck_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct recheck_job *j = arg;
    int r = auth_read(d, j->name, &j->u, errmsg);
    if (r)
        return r;
    for (size_t i = 0; i < j->n; i++)
        j->revoked[i] = db_device_revoked(d, j->key[i]) == 1;
    return 0;
}

/* The first connection of name's here that is device key, or NULL. */
static conn *session_of(core *k, const char *name, const uint8_t key[static 32])
{
    account *a = online_find(k->on, name);
    for (conn *c = a ? a->devs.head : NULL; c; c = c->dev.next)
        if (!c->closing && memcmp(conn_device(c), key, 32) == 0)
            return c;
    return NULL;
}

static void recheck_after(void *arg, int r, const char *errmsg)
{
    struct recheck_job *j = arg;
    core *k = j->k;
    if (r && r != BANTER_ENOENT) {
        core_log(k, "cannot read the account %s again: database: %s", j->name, errmsg);
    } else if (auth_apply(k, j->name, r == 0 ? &j->u : NULL) == 0) {
        for (size_t i = 0; i < j->n; i++) {
            conn *c;
            if (!j->revoked[i] || !(c = session_of(k, j->name, j->key[i])))
                continue;
            core_log(k, "a device of %s revoked while it logged in: disconnected", j->name);
            do
                conn_close(c, 0, "device revoked by an admin");
            while ((c = session_of(k, j->name, j->key[i])) != NULL);
        }
    }
    free(j->key);
    free(j->revoked);
    free(j);
}

void auth_recheck(core *k, const char *name)
{
    account *a = online_find(k->on, name);
    if (!a)
        return;
    struct recheck_job *j = calloc(1, sizeof *j);
    size_t n = 0;
    for (conn *c = a->devs.head; c; c = c->dev.next)
        n++;
    if (j) {
        j->key = malloc((n ? n : 1) * sizeof *j->key);
        j->revoked = calloc(n ? n : 1, sizeof *j->revoked);
    }
    int r = j && j->key && j->revoked ? 0 : BANTER_ENOMEM;
    if (r == 0) {
        j->k = k;
        snprintf(j->name, sizeof j->name, "%s", name);
        for (conn *c = a->devs.head; c; c = c->dev.next)
            memcpy(j->key[j->n++], conn_device(c), 32);
        r = core_job(k, recheck_work, recheck_after, j);
    }
    if (r) {
        core_log(k, "cannot read the account %s again: %s", name, banter_strerror(r));
        if (j) {
            free(j->key);
            free(j->revoked);
        }
        free(j);
    }
}

int auth_apply(core *k, const char *name, const db_user *u)
{
    account *a = online_find(k->on, name);
    if (!a)
        return 0;
    if (u && !u->disabled) {
        a->admin = u->admin;
        a->broadcast = u->broadcast;
        return 0;
    }
    int n = 0;
    while ((a = online_find(k->on, name)) != NULL) {
        conn *c = a->devs.head;
        leave(c);
        send_auth_fail(c, "EDISABLED", 0);
        n++;
    }
    core_log(k, "account %s disabled: %d session%s ended", name, n, n == 1 ? "" : "s");
    return n;
}
