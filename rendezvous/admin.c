/* SPDX-License-Identifier: MIT */
/* admin.c - admin requests on the server's connections (see admin.h). */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acct.h"
#include "admmsg.h"
#include "db_admin.h"
#include "online.h"

/* Answer with res (a result the codec refuses is logged and becomes an
 * error result without text). */
static void send_result(conn *c, adm_result *res)
{
    buf b;
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    int r = adm_result_encode(res, &b);
    if (r == BANTER_ETOOBIG) {
        adm_result small = {.id = res->id, .ok = false};
        snprintf(small.error, sizeof small.error, "ETOOBIG");
        char text[] = "the answer is too big for one message";
        small.text = text;
        buf_free(&b);
        buf_init(&b, BANTER_MAX_PLAINTEXT);
        r = adm_result_encode(&small, &b);
    }
    if (r == 0)
        conn_send_pt(c, buf_data(&b), buf_len(&b));
    else
        core_log(conn_core(c), "cannot encode an admin result: %s", banter_strerror(r));
    buf_free(&b);
}

/* A key that may not administer: say why and how to fix it, then close.
 * dev_user: the account the key is bound to as a device, or NULL. */
static void refuse_key(conn *c, const adm_request *rq, const char *fp, const char *dev_user)
{
    char text[512];
    if (c->acct || dev_user)
        snprintf(text, sizeof text,
                 "key %s is a device of %s, not an admin key: use banter-admin with its own key "
                 "(banter-admin keygen)",
                 fp, c->acct ? c->acct->name : dev_user);
    else
        snprintf(text, sizeof text,
                 "key %s is not an admin key: on the server machine run `banter-rendezvous "
                 "admin add \"%s\" --role admin` (or auditor)",
                 fp, fp);
    adm_result res = {.id = rq->id, .ok = false, .text = text};
    snprintf(res.error, sizeof res.error, "EAUTH");
    char addr[CONN_ADDR_MAX];
    conn_addr(c, addr);
    core_log(conn_core(c), "admin request %s refused from %s: %s is not an admin key",
             adm_cmd_get(rq->cmd)->wire, addr, c->acct ? "a device session" : fp);
    send_result(c, &res);
    conn_close(c, 0, "not an admin key");
}

/* A request on its way through the database thread (acct_submit). */
struct adm_wait {
    conn *c; /* held */
    adm_cmd cmd;
    char actor[ACCT_ACTOR_MAX];
};

static void run_done(void *arg, int ret, adm_result *res)
{
    struct adm_wait *w = arg;
    conn *c = w->c;
    /* Closed: the request was done and audited, only the answer is dropped. */
    if (!c->closing && ret) {
        conn_close(c, ret, NULL);
    } else if (!c->closing) {
        core_log(conn_core(c), "admin %s: %s %s", w->actor, adm_cmd_get(w->cmd)->wire,
                 res->ok ? "ok" : res->error);
        send_result(c, res);
    }
    conn_input_resume(c);
    conn_release(c);
    free(w);
}

static void run(conn *c, const adm_request *rq, const char *fp, const char *role)
{
    struct adm_wait *w = calloc(1, sizeof *w);
    if (!w) {
        conn_close(c, BANTER_ENOMEM, NULL);
        return;
    }
    w->c = c;
    w->cmd = rq->cmd;
    snprintf(w->actor, sizeof w->actor, "%s %s", role, fp);
    bool refused = adm_cmd_get(rq->cmd)->change && strcmp(role, DB_ROLE_ADMIN) != 0;
    conn_hold(c);
    int r =
        acct_submit(conn_core(c), w->actor, rq, refused ? "EPERM" : NULL,
                    "an auditor key may only look: this command changes the server", run_done, w);
    if (r == 0) {
        conn_input_hold(c); /* the next requests: once this one is answered */
        return;
    }
    conn_release(c);
    free(w);
    conn_close(c, r, NULL);
}

/* The key's role, looked up by the database thread (and, for a key that
 * is not an admin's, the account it is a device of, for the refusal). */
struct role_job {
    conn_job h;     /* requests are answered in order */
    adm_request rq; /* wiped */
    bool device_session;
    bool dev_bound;
    db_user dev;
    uint8_t key[32];
    char fp[IDENTITY_FP_LEN + 1];
    char fpd[DB_FP_DIGITS + 1];
    char role[16];
};

static int role_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct role_job *j = arg;
    int r = j->device_session ? BANTER_ENOENT : db_admin_role(d, j->fpd, j->role, sizeof j->role);
    if (r == BANTER_ENOENT && !j->device_session)
        j->dev_bound = db_device_user(d, j->key, &j->dev) == 0;
    if (r && r != BANTER_ENOENT)
        snprintf(errmsg, DBQ_ERRMSG_LEN, "%s", db_errmsg(d));
    return r;
}

static void role_after(conn *c, void *arg, int r, const char *errmsg)
{
    struct role_job *j = arg;
    if (r && r != BANTER_ENOENT)
        core_log(conn_core(c), "admin keys: database: %s", errmsg);
    if (c->closing)
        ;
    else if (r == 0 && !c->acct)
        run(c, &j->rq, j->fpd, j->role);
    else if (r == BANTER_ENOENT || c->acct)
        refuse_key(c, &j->rq, j->fp, j->dev_bound ? j->dev.name : NULL);
    else
        conn_error(c, banter_errname(r), "the server cannot read its admin keys");
    adm_request_clear(&j->rq);
    free(j);
}

void admin_message(conn *c, const uint8_t *pt, size_t len)
{
    adm_request rq;
    if (pt[0] != ADM_REQUEST) {
        conn_refuse(c, "EBADTYPE", "a server-to-admin type");
        return;
    }
    int r = adm_request_decode(&rq, pt, len);
    if (r) {
        conn_refuse(c, banter_errname(r), "admin request refused");
        return;
    }
    char fp[IDENTITY_FP_LEN + 1], fpd[DB_FP_DIGITS + 1];
    identity_fingerprint(conn_device(c), fp);
    r = db_fp_digits(fp, fpd);
    struct role_job *j = r == 0 ? conn_job_new(c, sizeof *j) : NULL;
    if (r == 0 && !j) { /* c is closed */
        adm_request_clear(&rq);
        return;
    }
    if (j) {
        j->rq = rq;
        j->device_session = c->acct != NULL;
        memcpy(j->key, conn_device(c), sizeof j->key);
        snprintf(j->fp, sizeof j->fp, "%s", fp);
        snprintf(j->fpd, sizeof j->fpd, "%s", fpd);
        r = conn_job_submit(j, role_work, role_after);
    }
    if (r) {
        if (j)
            adm_request_clear(&j->rq);
        free(j);
        conn_error(c, banter_errname(r), "the server cannot read its admin keys");
    }
    adm_request_clear(&rq);
}
