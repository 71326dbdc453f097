/* SPDX-License-Identifier: MIT */
/*
 * acct.h - every administrative operation, once: accounts, devices,
 * sessions, the offline store, the audit log, backups, admin keys, the
 * server's status and settings. Both ways in go through acct_exec:
 *
 *   - remote: banter-admin's ADM_REQUEST over an encrypted connection
 *     (admin.c checks the key's role first), with the running server's
 *     core, so changes take effect on live sessions at once;
 *   - local: `banter-rendezvous --db PATH user ...|admin ...` on the
 *     server machine (users.c, admins.c), with no core: the same code
 *     changes the database and the CLI then tells a running server over
 *     its control socket (ctl.h) which account changed.
 *
 * A request is a typed adm_request (admmsg.h); the answer is an
 * adm_result: ok or an error code, a text for people and a JSON object
 * for --json. The same words reach the local CLI and banter-admin.
 *
 * Every request that reaches acct_exec is appended to the audit log
 * (db_admin.h) with who asked, what (never a password), when and the
 * result, refusals included (acct_refuse).
 *
 * The running server never waits for its database: remote requests go
 * through acct_submit, which runs a command's database half (and the
 * audit entry) as jobs of the database thread (dbq.h) and its live half
 * (sessions, the online index, the policy) on the loop, in between. The
 * local CLI has no loop: acct_exec runs both halves in a row.
 */
#ifndef BANTER_RDV_ACCT_H
#define BANTER_RDV_ACCT_H

#include <stdint.h>

#include "admmsg.h"
#include "core.h"
#include "db.h"
#include "identity.h"

#define ACCT_PAGE       200 /* rows of a list per answer (the tool pages) */
#define ACCT_AUDIT_TAIL 20  /* entries `audit tail` shows by default */
#define ACCT_ACTOR_MAX  96

typedef struct acct_ctx {
    db *d;
    const identity *id; /* the server key (audit signatures) */
    core *k;            /* the running server, or NULL for a local command */
    const char *actor;  /* who asks: "admin 27015...", "local uid 1000" */
    int64_t now_ms;
} acct_ctx;

/*
 * Run rq and fill res (res->text and res->data are malloc'd: free with
 * adm_result_clear; res->id is rq->id). Commands that need the running
 * server answer ENOSERVER when x->k is NULL. Returns 0 when res was
 * filled (ok or not), BANTER_ENOMEM when it could not be.
 */
BANTER_WUR int acct_exec(const acct_ctx *x, const adm_request *rq, adm_result *res);

/* Why `user add` refuses name, the name of an account deleted at gone_ms,
 * without --reuse-name (the same words for the server and the local
 * command). */
typedef struct acct_text {
    char text[512];
} acct_text;
acct_text acct_retired_text(const char *name, int64_t gone_ms);

/* The answer of acct_submit, on the loop: ret 0 and res (acct_submit's:
 * valid during the call, cleared after it), or ret BANTER_ENOMEM and res
 * NULL. Called exactly once for each accepted submission. */
typedef void (*acct_done_fn)(void *arg, int ret, adm_result *res);

/*
 * acct_exec for the running server k, off the loop (through k->dbq):
 * actor as in acct_ctx (copied), rq copied. With code non-NULL, refuse
 * rq with code and text instead (acct_refuse). 0 (done will run), or
 * BANTER_ENOMEM / BANTER_ESTATE (dbq_submit's) / BANTER_EINVAL (no such
 * command) and done never runs. The caller keeps arg alive until done
 * (a connection: conn_hold) and checks there whether it is still wanted.
 */
BANTER_WUR int acct_submit(core *k, const char *actor, const adm_request *rq, const char *code,
                           const char *text, acct_done_fn done, void *arg);

/* Fill res with a refusal (code, text) and audit it. 0 or BANTER_ENOMEM. */
BANTER_WUR int acct_refuse(const acct_ctx *x, const adm_request *rq, adm_result *res,
                           const char *code, const char *text);

/* What an audit entry says of rq's arguments ("name=ann field=title"),
 * never the password. */
void acct_describe(const adm_request *rq, char *out, size_t cap);

#endif
