/* SPDX-License-Identifier: MIT */
/* rdvctl.c - the control socket's rendezvous requests (see rdvctl.h). */
#include "ui/rdvctl.h"

#include <stdio.h>
#include <string.h>

#include "bcrypto.h"
#include "rdv/roster.h"

#define NOT_CONFIGURED                                                                             \
    "no rendezvous configured: start the node with --rendezvous HOST:PORT --server-key "           \
    "FINGERPRINT"

struct rdvctl_wait {
    rdv_req *q;
    ctl_kind kind;
    rdvctl_reply_fn reply;
    void *ud;
    char user[BANTER_MAX_NAME + 1]; /* logout: who was logged in; contact: whom */
    rv_field field;                 /* profile */
    char *value;                    /* profile, status: owned */
    uint32_t per_page;              /* search */
    rv_op op;                       /* contact */
    rv_presence status;             /* status */
    roster *ro;                     /* org broadcast */
};

bool rdvctl_owns(ctl_kind kind)
{
    return kind == CTL_RENDEZVOUS || (ctl_kind_flags(kind) & CTL_F_RDV);
}

/* Append an error reply; a failure to do so is only possible without
 * memory (the texts are ours or the server's, checked UTF-8 by ctlmsg). */
static int error_to(buf *out, const char *name, const char *message, const char *code,
                    int64_t retry_after_ms)
{
    int r = ctlmsg_encode_error(BANTER_EIO, name, message, code, retry_after_ms, out);
    if (r == BANTER_EUTF8) /* a server's sentence that is not UTF-8 */
        r = ctlmsg_encode_error(BANTER_EIO, name, "the server's answer is not UTF-8", NULL, 0, out);
    return r;
}

static int status_to(rdv *r, buf *out)
{
    rdv_status st;
    ctl_reply rp = {.kind = CTL_RENDEZVOUS};
    struct ctl_rdv_status *s = &rp.u.rendezvous;
    if (r)
        rdv_get_status(r, &st);
    else
        memset(&st, 0, sizeof st);
    s->configured = r != NULL;
    s->server = st.server;
    s->server_key = st.server_fp;
    s->instance = st.instance;
    s->connected = st.connected;
    s->verified = st.verified;
    s->user = st.user;
    s->admin = st.admin;
    s->error = st.error;
    s->auth_error = st.auth_error;
    s->retry_after_ms = st.retry_after_ms;
    s->cert_expires = st.cert_expires_ms;
    s->status = st.status;
    s->status_text = st.status_text;
    if (r && st.has_policy) {
        s->has_policy = true;
        s->pol_serial = (int64_t)MIN(st.pol.serial, (uint64_t)BANTER_MAX_INT);
        s->pol_issued = st.pol.issued_ms;
        s->pol_max_file_mb = st.pol.max_file_mb;
        s->pol_auto_accept = (st.pol.flags & POLICY_F_AUTO) != 0;
        s->pol_history_days = st.pol.history_days;
        s->pol_lan_discovery = (st.pol.flags & POLICY_F_LAN) != 0;
    }
    return ctlmsg_encode_reply(&rp, out);
}

/* ---- answers from the server ---- */

static int answer_error(const rdv_answer *a, buf *out)
{
    char text[800];
    const char *why = a->why ? a->why : rdv_errname(a->err);
    bool retry = a->err == RDV_EAUTH && a->retry_after_ms > 0;
    if (retry) {
        snprintf(text, sizeof text, "%s (try again in %lld s)", why,
                 (long long)((a->retry_after_ms + 999) / 1000));
        why = text;
    }
    return error_to(out, rdv_errname(a->err), why, a->code, retry ? a->retry_after_ms : 0);
}

static int answer_ok(const rdvctl_wait *w, const rdv_answer *a, buf *out)
{
    ctl_reply rp = {.kind = w->kind};
    switch (w->kind) {
    case CTL_LOGIN:
        rp.u.login.user = a->auth ? a->auth->user : "";
        rp.u.login.admin = a->auth && a->auth->admin;
        break;
    case CTL_LOGOUT:
        rp.u.logout.user = w->user;
        break;
    case CTL_PROFILE_SET:
        rp.u.profile.field = w->field;
        rp.u.profile.value = w->value;
        break;
    case CTL_CONTACT:
        rp.u.contact.op = w->op;
        rp.u.contact.user = w->user;
        break;
    case CTL_STATUS:
        rp.u.status.status = w->status;
        rp.u.status.text = w->value;
        break;
    default: { /* CTL_SEARCH */
        const struct rv_search_result *res = a->result;
        rp.u.search.total = res ? (int64_t)MIN(res->total, (uint64_t)BANTER_MAX_INT) : 0;
        rp.u.search.page = res ? res->page : 0;
        rp.u.search.per_page = w->per_page;
        rp.u.search.n = res ? res->n : 0;
        rp.u.search.users = res ? res->users : NULL;
        break;
    }
    }
    int r = ctlmsg_encode_reply(&rp, out);
    if (r == BANTER_EUTF8 || r == BANTER_ESCHEMA)
        r = error_to(out, "ESERVER", "the server's answer cannot be shown (not UTF-8)", NULL, 0);
    return r;
}

static void wait_free(rdvctl_wait *w)
{
    g_free(w->value);
    g_free(w);
}

/* Hand the reply in b to the client, then free w. */
static void finish(rdvctl_wait *w, int r, buf *b)
{
    rdvctl_reply_fn reply = w->reply;
    void *rud = w->ud;
    wait_free(w);
    if (r) { /* no memory for the reply: say that much */
        static const char oom[] =
            "{\"ok\":false,\"error\":\"ENOMEM\",\"message\":\"out of memory\"}";
        reply(rud, oom, sizeof oom - 1);
    } else {
        reply(rud, (const char *)buf_data(b), buf_len(b));
    }
    buf_free(b);
}

static void on_done(void *ud, const rdv_answer *a)
{
    rdvctl_wait *w = ud;
    buf b;
    buf_init(&b, BANTER_MAX_JSON * 4);
    int r = a->err ? answer_error(a, &b) : answer_ok(w, a, &b);
    finish(w, r, &b);
}

void rdvctl_cancel(rdvctl_wait *w)
{
    if (!w)
        return;
    if (w->kind == CTL_ORG_BROADCAST)
        roster_bcast_forget(w->ro, w);
    else
        rdv_req_cancel(w->q);
    wait_free(w);
}

/* ---- requests ---- */

/* After an rdv call: pending, or the error appended to out. */
static int started(rdv_err e, rdvctl_wait *w, const char *why, buf *out, rdvctl_wait **pending)
{
    if (e == RDV_OK) {
        *pending = w;
        return 0;
    }
    wait_free(w);
    return error_to(out, rdv_errname(e), why, NULL, 0);
}

static int contacts_to(roster *ro, bool requests, buf *out)
{
    roster_contact *all = NULL;
    size_t n = roster_list(ro, &all);
    ctl_contact *cs = n ? g_new0(ctl_contact, n) : NULL;
    ctl_reply rp = {.kind = requests ? CTL_REQUESTS : CTL_CONTACTS};
    for (size_t i = 0; i < n; i++) {
        cs[i].user = all[i].name;
        cs[i].state = all[i].state;
        cs[i].status = all[i].status;
        cs[i].text = all[i].text;
        cs[i].devices = (int64_t)all[i].ndev;
        cs[i].profile = all[i].profile;
    }
    rp.u.contacts.logged_in = roster_online(ro);
    rp.u.contacts.n = n;
    rp.u.contacts.contacts = cs;
    int r = ctlmsg_encode_reply(&rp, out);
    g_free(cs);
    g_free(all);
    return r;
}

static void on_bcast(void *ud, const roster_bcast_result *res)
{
    rdvctl_wait *w = ud;
    buf b;
    int r;
    buf_init(&b, BANTER_MAX_JSON);
    if (res->err) {
        r = ctlmsg_encode_error(res->err, NULL, res->why ? res->why : NULL, NULL, 0, &b);
    } else {
        ctl_reply rp = {.kind = CTL_ORG_BROADCAST};
        rp.u.org_broadcast.users = (int64_t)res->users;
        rp.u.org_broadcast.delivered = (int64_t)res->delivered;
        rp.u.org_broadcast.stored = (int64_t)res->stored;
        rp.u.org_broadcast.refused = (int64_t)res->refused;
        r = ctlmsg_encode_reply(&rp, &b);
    }
    finish(w, r, &b);
}

static int do_org_broadcast(roster *ro, const ctl_request *q, rdvctl_wait *w, buf *out,
                            rdvctl_wait **pending)
{
    char why[600];
    const struct ctl_org_broadcast *b = &q->u.org_broadcast;
    w->ro = ro;
    int r = roster_org_broadcast(ro, b->department, b->text.s, b->text.len, on_bcast, w, why,
                                 sizeof why);
    if (r) {
        wait_free(w);
        return error_to(out, banter_errname(r), why, NULL, 0);
    }
    *pending = w;
    return 0;
}

static int do_search(rdv *r, const ctl_request *q, rdvctl_wait *w, buf *out, rdvctl_wait **pending)
{
    char why[600];
    struct rv_search s = {0};
    s.n = q->u.search.n;
    memcpy(s.c, q->u.search.c, sizeof s.c);
    s.page = (uint32_t)q->u.search.page;
    s.per_page = w->per_page = (uint32_t)q->u.search.per_page;
    return started(rdv_search(r, &s, on_done, w, &w->q, why, sizeof why), w, why, out, pending);
}

static int serve(rdv *r, roster *ro, ctl_request *q, rdvctl_wait *w, buf *out,
                 rdvctl_wait **pending)
{
    char why[600];
    rdv_err e;
    switch (q->kind) {
    case CTL_LOGIN: /* rdv_login wipes the password in place, whatever happens. */
        e = rdv_login(r, q->u.login.user, q->u.login.password, on_done, w, &w->q, why, sizeof why);
        break;
    case CTL_LOGOUT: {
        rdv_status st;
        rdv_get_status(r, &st);
        memcpy(w->user, st.user, sizeof w->user);
        e = rdv_logout(r, on_done, w, &w->q, why, sizeof why);
        break;
    }
    case CTL_PROFILE_SET:
        w->field = q->u.profile.field;
        w->value = g_strdup(q->u.profile.value.s ? q->u.profile.value.s : "");
        e = rdv_profile_set(r, w->field, w->value, on_done, w, &w->q, why, sizeof why);
        break;
    case CTL_CONTACT:
        w->op = q->u.contact.op;
        g_strlcpy(w->user, q->u.contact.user, sizeof w->user);
        e = rdv_contact(r, w->op, w->user, on_done, w, &w->q, why, sizeof why);
        break;
    case CTL_STATUS:
        w->status = q->u.status.status;
        w->value = g_strdup(q->u.status.text);
        e = rdv_status_set(r, w->status, w->value, on_done, w, &w->q, why, sizeof why);
        break;
    case CTL_ORG_BROADCAST:
        return do_org_broadcast(ro, q, w, out, pending);
    default: /* CTL_SEARCH */
        return do_search(r, q, w, out, pending);
    }
    return started(e, w, why, out, pending);
}

int rdvctl_request(rdv *r, roster *ro, ctl_request *q, buf *out, rdvctl_reply_fn reply, void *ud,
                   rdvctl_wait **pending)
{
    int ret;
    *pending = NULL;
    if (q->kind == CTL_RENDEZVOUS) {
        ret = status_to(r, out);
    } else if (!r) {
        ret = error_to(out, "ENOTCONF", NOT_CONFIGURED, NULL, 0);
    } else if (q->kind == CTL_CONTACTS || q->kind == CTL_REQUESTS) {
        ret = contacts_to(ro, q->kind == CTL_REQUESTS, out);
    } else {
        rdvctl_wait *w = g_new0(rdvctl_wait, 1);
        w->kind = q->kind;
        w->reply = reply;
        w->ud = ud;
        ret = serve(r, ro, q, w, out, pending);
    }
    if (q->kind == CTL_LOGIN) /* whatever happened */
        bcrypto_wipe(q->u.login.password, sizeof q->u.login.password);
    return ret;
}
