/* SPDX-License-Identifier: MIT */
/* rdvctl.c - the control socket's rendezvous requests (see rdvctl.h). */
#include "ui/rdvctl.h"

#include <stdio.h>
#include <string.h>

#include "jsonv.h"
#include "rdv/roster.h"

#define NOT_CONFIGURED                                                                             \
    "no rendezvous configured: start the node with --rendezvous HOST:PORT --server-key "           \
    "FINGERPRINT"
#define DEFAULT_PER_PAGE 20
#define MAX_PAGE         1000000

typedef enum wait_kind {
    W_LOGIN,
    W_LOGOUT,
    W_PROFILE,
    W_SEARCH,
    W_CONTACT,
    W_STATUS,
    W_BCAST,
} wait_kind;

struct rdvctl_wait {
    rdv_req *q;
    wait_kind kind;
    rdvctl_reply_fn reply;
    void *ud;
    char user[BANTER_MAX_NAME + 1]; /* logout: who was logged in */
    rv_field field;                 /* profile */
    char *value;                    /* profile: owned */
    uint32_t per_page;              /* search */
    rv_op op;                       /* contact */
    rv_presence status;             /* status */
    roster *ro;                     /* org broadcast */
};

bool rdvctl_owns(const char *cmd)
{
    static const char *cmds[] = {"rendezvous", "login",        "logout",   "profile_set",
                                 "search",     "contacts",     "requests", "contact",
                                 "status",     "org_broadcast"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(cmd, cmds[i]) == 0)
            return true;
    return false;
}

static cJSON *error_reply(const char *name, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddFalseToObject(o, "ok");
    cJSON_AddStringToObject(o, "error", name);
    cJSON_AddStringToObject(o, "message", message);
    return o;
}

static cJSON *ok_reply(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddTrueToObject(o, "ok");
    return o;
}

static void add_str_or_null(cJSON *o, const char *key, const char *s)
{
    if (s && *s)
        cJSON_AddStringToObject(o, key, s);
    else
        cJSON_AddNullToObject(o, key);
}

static const char *str_arg(const cJSON *req, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A whole number in [min, max], or def when absent; false when bad. */
static bool int_arg(const cJSON *req, const char *key, double min, double max, double def,
                    double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);
    *out = def;
    if (!v)
        return true;
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int64_t)v->valuedouble ||
        v->valuedouble < min || v->valuedouble > max)
        return false;
    *out = v->valuedouble;
    return true;
}

static cJSON *status_reply(rdv *r)
{
    rdv_status st;
    cJSON *o = ok_reply();
    cJSON_AddBoolToObject(o, "configured", r != NULL);
    if (r)
        rdv_get_status(r, &st);
    else
        memset(&st, 0, sizeof st);
    add_str_or_null(o, "server", st.server);
    add_str_or_null(o, "server_key", st.server_fp);
    cJSON_AddBoolToObject(o, "connected", st.connected);
    cJSON_AddBoolToObject(o, "verified", st.verified);
    add_str_or_null(o, "user", st.user);
    cJSON_AddBoolToObject(o, "admin", st.admin);
    add_str_or_null(o, "error", st.error);
    add_str_or_null(o, "auth_error", st.auth_error);
    if (st.auth_error[0] && st.retry_after_ms > 0)
        cJSON_AddNumberToObject(o, "retry_after_ms", (double)st.retry_after_ms);
    if (st.cert_expires_ms)
        cJSON_AddNumberToObject(o, "cert_expires", (double)st.cert_expires_ms);
    else
        cJSON_AddNullToObject(o, "cert_expires");
    add_str_or_null(o, "status", st.status != RV_P_OFFLINE ? rv_presence_name(st.status) : NULL);
    add_str_or_null(o, "status_text", st.status_text);
    if (st.has_policy) {
        cJSON *p = cJSON_AddObjectToObject(o, "policy");
        if (p) {
            jsonv_add_int(p, "serial", (int64_t)st.pol.serial);
            jsonv_add_int(p, "issued", st.pol.issued_ms);
            jsonv_add_int(p, "max_file_mb", st.pol.max_file_mb);
            cJSON_AddBoolToObject(p, "auto_accept", (st.pol.flags & POLICY_F_AUTO) != 0);
            jsonv_add_int(p, "history_days", st.pol.history_days);
            cJSON_AddBoolToObject(p, "lan_discovery", (st.pol.flags & POLICY_F_LAN) != 0);
        }
    } else {
        cJSON_AddNullToObject(o, "policy");
    }
    return o;
}

/* ---- answers from the server ---- */

static cJSON *user_json(const struct rv_user *u)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "user", u->name);
    for (int f = 0; f < RV_F_COUNT; f++)
        if (u->p.f[f])
            cJSON_AddStringToObject(o, rv_field_name((rv_field)f), u->p.f[f]);
    return o;
}

static cJSON *answer_error(const rdv_answer *a)
{
    char text[800];
    const char *why = a->why ? a->why : rdv_errname(a->err);
    if (a->err == RDV_EAUTH && a->retry_after_ms > 0) {
        snprintf(text, sizeof text, "%s (try again in %lld s)", why,
                 (long long)((a->retry_after_ms + 999) / 1000));
        why = text;
    }
    cJSON *o = error_reply(rdv_errname(a->err), why);
    if (a->code)
        cJSON_AddStringToObject(o, "code", a->code);
    if (a->err == RDV_EAUTH && a->retry_after_ms > 0)
        cJSON_AddNumberToObject(o, "retry_after_ms", (double)a->retry_after_ms);
    return o;
}

static cJSON *answer_ok(const rdvctl_wait *w, const rdv_answer *a)
{
    cJSON *o = ok_reply();
    switch (w->kind) {
    case W_LOGIN:
        cJSON_AddStringToObject(o, "user", a->auth ? a->auth->user : "");
        cJSON_AddBoolToObject(o, "admin", a->auth && a->auth->admin);
        break;
    case W_LOGOUT:
        cJSON_AddStringToObject(o, "user", w->user);
        break;
    case W_PROFILE:
        cJSON_AddStringToObject(o, "field", rv_field_name(w->field));
        cJSON_AddStringToObject(o, "value", w->value ? w->value : "");
        break;
    case W_CONTACT:
        cJSON_AddStringToObject(o, "op", rv_op_name(w->op));
        cJSON_AddStringToObject(o, "user", w->user);
        break;
    case W_STATUS:
        cJSON_AddStringToObject(o, "status", rv_presence_name(w->status));
        cJSON_AddStringToObject(o, "text", w->value ? w->value : "");
        break;
    case W_BCAST:
        break;
    case W_SEARCH: {
        const struct rv_search_result *res = a->result;
        cJSON_AddNumberToObject(o, "total", res ? (double)res->total : 0);
        cJSON_AddNumberToObject(o, "page", res ? res->page : 0);
        cJSON_AddNumberToObject(o, "per_page", w->per_page);
        cJSON *users = cJSON_AddArrayToObject(o, "users");
        for (size_t i = 0; res && i < res->n; i++)
            cJSON_AddItemToArray(users, user_json(&res->users[i]));
        break;
    }
    }
    return o;
}

static void wait_free(rdvctl_wait *w)
{
    g_free(w->value);
    g_free(w);
}

static void on_done(void *ud, const rdv_answer *a)
{
    rdvctl_wait *w = ud;
    cJSON *o = a->err ? answer_error(a) : answer_ok(w, a);
    rdvctl_reply_fn reply = w->reply;
    void *rud = w->ud;
    wait_free(w);
    reply(rud, o);
}

void rdvctl_cancel(rdvctl_wait *w)
{
    if (!w)
        return;
    if (w->kind == W_BCAST)
        roster_bcast_forget(w->ro, w);
    else
        rdv_req_cancel(w->q);
    wait_free(w);
}

/* ---- requests ---- */

static rdvctl_wait *wait_new(wait_kind kind, rdvctl_reply_fn reply, void *ud)
{
    rdvctl_wait *w = g_new0(rdvctl_wait, 1);
    w->kind = kind;
    w->reply = reply;
    w->ud = ud;
    return w;
}

/* After an rdv call: NULL (the answer comes later) or the error reply. */
static cJSON *started(rdv_err e, rdvctl_wait *w, const char *why, rdvctl_wait **pending)
{
    if (e == RDV_OK) {
        *pending = w;
        return NULL;
    }
    wait_free(w);
    return error_reply(rdv_errname(e), why);
}

static cJSON *do_login(rdv *r, cJSON *req, rdvctl_wait *w, rdvctl_wait **pending)
{
    char why[600];
    const char *user = str_arg(req, "user");
    cJSON *pw = cJSON_GetObjectItemCaseSensitive(req, "password");
    if (!user || !cJSON_IsString(pw) || !pw->valuestring) {
        wait_free(w);
        return error_reply("EINVAL", "login needs \"user\" and \"password\" (strings)");
    }
    /* rdv_login wipes the password in place, whatever happens. */
    rdv_err e = rdv_login(r, user, pw->valuestring, on_done, w, &w->q, why, sizeof why);
    return started(e, w, why, pending);
}

static cJSON *do_profile(rdv *r, const cJSON *req, rdvctl_wait *w, rdvctl_wait **pending)
{
    char why[600];
    const char *field = str_arg(req, "field"), *value = str_arg(req, "value");
    if (!field || !value || rv_field_parse(field, &w->field) != 0 || w->field == RV_F_COUNT) {
        wait_free(w);
        return error_reply("EINVAL", "profile_set needs \"field\" (display_name, department, "
                                     "title, email, phone, location or about) and \"value\"");
    }
    w->value = g_strdup(value);
    rdv_err e = rdv_profile_set(r, w->field, value, on_done, w, &w->q, why, sizeof why);
    return started(e, w, why, pending);
}

static cJSON *do_search(rdv *r, const cJSON *req, rdvctl_wait *w, rdvctl_wait **pending)
{
    char why[600];
    struct rv_search q = {0};
    double page = 0, per_page = DEFAULT_PER_PAGE;
    const cJSON *crit = cJSON_GetObjectItemCaseSensitive(req, "criteria"), *it;
    int k = cJSON_IsArray(crit) ? cJSON_GetArraySize(crit) : 0;
    cJSON *bad = NULL;
    if (k < 1 || k > (int)RV_SEARCH_MAX)
        bad = error_reply("EINVAL", "\"criteria\" must be an array of 1 to 8 strings, each "
                                    "FIELD=VALUE (exact) or FIELD~SUBSTRING (contains)");
    else if (!int_arg(req, "page", 0, MAX_PAGE, 0, &page) ||
             !int_arg(req, "per_page", 1, RV_PER_PAGE_MAX, DEFAULT_PER_PAGE, &per_page))
        bad = error_reply("EINVAL", "\"page\" must be 0 to 1000000 and \"per_page\" 1 to 100");
    for (it = bad ? NULL : crit->child; it && !bad; it = it->next)
        if (!cJSON_IsString(it) ||
            rdv_parse_criterion(it->valuestring, &q.c[q.n++], why, sizeof why) != 0)
            bad = error_reply("EINVAL", cJSON_IsString(it) ? why : "each criterion is a string");
    if (bad) {
        wait_free(w);
        return bad;
    }
    q.page = (uint32_t)page;
    q.per_page = w->per_page = (uint32_t)per_page;
    rdv_err e = rdv_search(r, &q, on_done, w, &w->q, why, sizeof why);
    return started(e, w, why, pending);
}

/* ---- contacts ---- */

void rdvctl_contact_fields(cJSON *o, const roster_contact *c)
{
    cJSON_AddStringToObject(o, "state", rv_cstate_name(c->state));
    cJSON_AddStringToObject(o, "status", rv_presence_name(c->status));
    cJSON_AddStringToObject(o, "text", c->text);
    cJSON_AddNumberToObject(o, "devices", (double)c->ndev);
    for (int f = 0; f < RV_F_COUNT; f++)
        if (c->profile && c->profile->f[f])
            cJSON_AddStringToObject(o, rv_field_name((rv_field)f), c->profile->f[f]);
}

static cJSON *contacts_reply(roster *ro, bool requests)
{
    roster_contact *all = NULL;
    size_t n = roster_list(ro, &all);
    cJSON *o = ok_reply();
    cJSON_AddBoolToObject(o, "logged_in", roster_online(ro));
    cJSON *a = cJSON_AddArrayToObject(o, requests ? "incoming" : "contacts");
    cJSON *out = requests ? cJSON_AddArrayToObject(o, "outgoing") : NULL;
    for (size_t i = 0; i < n; i++) {
        cJSON *dst = a;
        if (requests && all[i].state != RV_CS_INCOMING)
            dst = all[i].state == RV_CS_OUTGOING ? out : NULL;
        if (!dst)
            continue;
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "user", all[i].name);
        rdvctl_contact_fields(c, &all[i]);
        cJSON_AddItemToArray(dst, c);
    }
    g_free(all);
    return o;
}

static cJSON *do_contact(rdv *r, const cJSON *req, rdvctl_wait *w, rdvctl_wait **pending)
{
    char why[600];
    const char *op = str_arg(req, "op"), *user = str_arg(req, "user");
    if (!op || !user || rv_op_parse(op, &w->op) != 0) {
        wait_free(w);
        return error_reply("EINVAL", "contact needs \"op\" (request, approve, deny, remove, "
                                     "block or unblock) and \"user\"");
    }
    g_strlcpy(w->user, user, sizeof w->user);
    rdv_err e = rdv_contact(r, w->op, user, on_done, w, &w->q, why, sizeof why);
    return started(e, w, why, pending);
}

static cJSON *do_status(rdv *r, const cJSON *req, rdvctl_wait *w, rdvctl_wait **pending)
{
    char why[600];
    const char *st = str_arg(req, "status"), *text = str_arg(req, "text");
    if (!st || rv_presence_parse(st, &w->status) != 0 || w->status == RV_P_OFFLINE) {
        wait_free(w);
        return error_reply("EINVAL",
                           "status needs \"status\": online, away, busy or invisible (and an "
                           "optional \"text\")");
    }
    w->value = g_strdup(text ? text : "");
    rdv_err e = rdv_status_set(r, w->status, w->value, on_done, w, &w->q, why, sizeof why);
    return started(e, w, why, pending);
}

static void on_bcast(void *ud, const roster_bcast_result *res)
{
    rdvctl_wait *w = ud;
    cJSON *o;
    if (res->err) {
        o = error_reply(banter_errname(res->err), res->why ? res->why : banter_strerror(res->err));
    } else {
        o = ok_reply();
        cJSON_AddNumberToObject(o, "users", (double)res->users);
        cJSON_AddNumberToObject(o, "delivered", (double)res->delivered);
        cJSON_AddNumberToObject(o, "stored", (double)res->stored);
        cJSON_AddNumberToObject(o, "refused", (double)res->refused);
    }
    rdvctl_reply_fn reply = w->reply;
    void *rud = w->ud;
    wait_free(w);
    reply(rud, o);
}

static cJSON *do_org_broadcast(roster *ro, const cJSON *req, rdvctl_wait *w, rdvctl_wait **pending)
{
    char why[600];
    const char *text = str_arg(req, "text"), *dep = str_arg(req, "department");
    if (!text || !*text) {
        wait_free(w);
        return error_reply("EINVAL", "org_broadcast needs \"text\" (and an optional "
                                     "\"department\")");
    }
    w->ro = ro;
    int r =
        roster_org_broadcast(ro, dep ? dep : "", text, strlen(text), on_bcast, w, why, sizeof why);
    if (r) {
        wait_free(w);
        return error_reply(banter_errname(r), why);
    }
    *pending = w;
    return NULL;
}

cJSON *rdvctl_request(rdv *r, roster *ro, const char *cmd, cJSON *req, rdvctl_reply_fn reply,
                      void *ud, rdvctl_wait **pending)
{
    char why[600];
    *pending = NULL;
    cJSON *pw = cJSON_GetObjectItemCaseSensitive(req, "password");
    cJSON *out = NULL;
    if (strcmp(cmd, "rendezvous") == 0) {
        out = status_reply(r);
    } else if (!r) {
        out = error_reply("ENOTCONF", NOT_CONFIGURED);
    } else if (strcmp(cmd, "login") == 0) {
        out = do_login(r, req, wait_new(W_LOGIN, reply, ud), pending);
    } else if (strcmp(cmd, "logout") == 0) {
        rdv_status st;
        rdvctl_wait *w = wait_new(W_LOGOUT, reply, ud);
        rdv_get_status(r, &st);
        memcpy(w->user, st.user, sizeof w->user);
        out = started(rdv_logout(r, on_done, w, &w->q, why, sizeof why), w, why, pending);
    } else if (strcmp(cmd, "profile_set") == 0) {
        out = do_profile(r, req, wait_new(W_PROFILE, reply, ud), pending);
    } else if (strcmp(cmd, "contacts") == 0 || strcmp(cmd, "requests") == 0) {
        out = contacts_reply(ro, cmd[0] == 'r');
    } else if (strcmp(cmd, "contact") == 0) {
        out = do_contact(r, req, wait_new(W_CONTACT, reply, ud), pending);
    } else if (strcmp(cmd, "status") == 0) {
        out = do_status(r, req, wait_new(W_STATUS, reply, ud), pending);
    } else if (strcmp(cmd, "org_broadcast") == 0) {
        out = do_org_broadcast(ro, req, wait_new(W_BCAST, reply, ud), pending);
    } else {
        out = do_search(r, req, wait_new(W_SEARCH, reply, ud), pending);
    }
    if (cJSON_IsString(pw) && pw->valuestring) /* whatever the command was */
        bcrypto_wipe(pw->valuestring, strlen(pw->valuestring));
    return out;
}
