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

/* A key that may not administer: say why and how to fix it, then close. */
static void refuse_key(conn *c, const adm_request *rq, const char *fp)
{
    char text[512];
    db_user u;
    int r = db_device_user(conn_core(c)->db, conn_device(c), &u);
    if (c->acct || r == 0)
        snprintf(text, sizeof text,
                 "key %s is a device of %s, not an admin key: use banter-admin with its own key "
                 "(banter-admin keygen)",
                 fp, c->acct ? c->acct->name : u.name);
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
    char fp[IDENTITY_FP_LEN + 1], fpd[DB_FP_DIGITS + 1], role[16];
    identity_fingerprint(conn_device(c), fp);
    r = db_fp_digits(fp, fpd);
    if (r == 0 && !c->acct)
        r = db_admin_role(conn_core(c)->db, fpd, role, sizeof role);
    if (r == 0 && !c->acct)
        run(c, &rq, fpd, role);
    else if (r == BANTER_ENOENT || c->acct)
        refuse_key(c, &rq, fp);
    else
        conn_error(c, banter_errname(r), "the server cannot read its admin keys");
    adm_request_clear(&rq);
}
