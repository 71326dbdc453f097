/* SPDX-License-Identifier: MIT */
/* acct.c - the administrative operations, once (see acct.h). */
#include "acct.h"

#include <cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "announce.h"
#include "auth.h"
#include "conn.h"
#include "cluster.h"
#include "contacts.h"
#include "ctl.h"
#include "db_admin.h"
#include "db_announce.h"
#include "db_mail.h"
#include "dbq.h"
#include "dirview.h"
#include "jsonv.h"
#include "online.h"
#include "xlink.h"
#include "orgpolicy.h"
#include "plugins.h"
#include "orgrevoke.h"
#include "xinst.h"

#define DAY_MS 86400000LL

/* What the database half of a split handler hands its live half (see
 * the table of handlers below). */
typedef struct scratch {
    db_user u;            /* user show; user flag: the account after the change */
    bool gone;            /* user flag: the account is no longer there */
    int changed;          /* user flag: 0 changed, 1 already so */
    struct rv_profile p;  /* user show (owned) */
    db_mail_stats ms;     /* status */
    int64_t users, total; /* status; device list */
    int64_t devices;      /* status */
    int64_t cl_instances, cl_accounts, cl_devices; /* status on a cluster */
    db_device *devs;                               /* device list: the page (owned) */
    size_t ndevs;
    db_device found; /* device revoke */
    char user[DB_MAX_USER + 1];
    policy pol; /* policy show without the server */
    bool pol_set;
    announce_out *ann; /* announce: the devices online, then the record (owned) */
    int64_t ann_id, ann_people;
    int64_t here_sessions; /* session list: this instance's */
    size_t here_shown;     /* ... and how many of them this page shows */
    db_online_row *away;   /* session list on a cluster: those at other instances (owned) */
    size_t naway;
    int64_t away_total;
} scratch;

/* What a handler builds: text for people, data for --json, or an error. */
typedef struct out {
    buf text;
    cJSON *data;
    char error[BANTER_MAX_ERRCODE + 1];
    bool failed, nomem;
    scratch s;
} out;

static void scratch_clear(scratch *s)
{
    db_profile_clear(&s->p);
    free(s->devs);
    s->devs = NULL;
    announce_free(s->ann); /* on the loop: finish and acct_submit */
    s->ann = NULL;
    free(s->away);
    s->away = NULL;
}

__attribute__((format(printf, 2, 3))) static void say(out *o, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    if (buf_append(&o->text, line, len) != 0 && buf_len(&o->text) < ADM_MAX_TEXT)
        o->nomem = true; /* past the cap the text is cut; the data stays whole */
}

/* A refusal: code and one sentence (what was said before is dropped). */
__attribute__((format(printf, 3, 4))) static int fail(out *o, const char *code, const char *fmt,
                                                      ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    buf_free(&o->text);
    buf_init(&o->text, ADM_MAX_TEXT);
    say(o, "%s", line);
    snprintf(o->error, sizeof o->error, "%s", code);
    o->failed = true;
    return 0;
}

/* x->d is NULL in a live half (the loop never touches the database). */
static int db_failed(out *o, const acct_ctx *x, int r)
{
    return fail(o, banter_errname(r), "the database failed: %s",
                r == BANTER_EDB && x->d ? db_errmsg(x->d) : banter_strerror(r));
}

static int no_user(out *o, const char *name)
{
    return fail(o, "ENOENT", "no user %s (`user list` shows them)", name);
}

static int need_server(out *o)
{
    return fail(o, "ENOSERVER", "this needs the running server: use banter-admin");
}

/* data's members; a failed add marks nomem. */
static void put_int(out *o, cJSON *obj, const char *key, int64_t v)
{
    if (jsonv_add_int(obj, key, v) != 0)
        o->nomem = true;
}

static void put_str(out *o, cJSON *obj, const char *key, const char *v)
{
    if (!cJSON_AddStringToObject(obj, key, v ? v : ""))
        o->nomem = true;
}

static void put_bool(out *o, cJSON *obj, const char *key, bool v)
{
    if (!cJSON_AddBoolToObject(obj, key, v))
        o->nomem = true;
}

/* A new array member of data (NULL, marked, when out of memory). */
static cJSON *put_array(out *o, const char *key)
{
    cJSON *a = cJSON_AddArrayToObject(o->data, key);
    if (!a)
        o->nomem = true;
    return a;
}

static cJSON *push_object(out *o, cJSON *arr)
{
    cJSON *e = arr ? cJSON_CreateObject() : NULL;
    if (!e || !cJSON_AddItemToArray(arr, e)) {
        cJSON_Delete(e);
        o->nomem = true;
        return NULL;
    }
    return e;
}

static void fmt_time(int64_t ms, char *dst, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || !gmtime_r(&t, &tm) || strftime(dst, cap, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
        snprintf(dst, cap, "-");
}

static const char *yn(bool b) { return b ? "yes" : "no"; }

acct_text acct_retired_text(const char *name, int64_t gone_ms)
{
    acct_text t;
    char when[32];
    fmt_time(gone_ms, when, sizeof when);
    snprintf(t.text, sizeof t.text,
             "the name %s belonged to an account deleted %s: colleagues' nodes still know it as "
             "that person (their conversations, groups and gateway settings), which a new account "
             "of that name would take over; choose another name, or give --reuse-name to hand "
             "it over knowingly",
             name, when);
    return t;
}

/* 40 digits as people read them: 8 groups of 5. */
static void fp_group(const char *digits, char dst[static IDENTITY_FP_LEN + 1])
{
    size_t n = 0;
    for (size_t i = 0; digits[i] && n < IDENTITY_FP_LEN; i++) {
        if (i > 0 && i % 5 == 0)
            dst[n++] = ' ';
        dst[n++] = digits[i];
    }
    dst[n] = '\0';
}

/* ---- accounts ---- */

static int user_row(void *ud, out *o, cJSON *arr, const db_user *u)
{
    (void)ud;
    char when[32];
    fmt_time(u->created_ms, when, sizeof when);
    say(o, "%-24s %-5s %-8s %-9s %7lld  %s\n", u->name, yn(u->admin), yn(u->disabled),
        yn(u->broadcast), (long long)u->devices, when);
    cJSON *e = push_object(o, arr);
    if (!e)
        return 0;
    put_str(o, e, "name", u->name);
    put_bool(o, e, "admin", u->admin);
    put_bool(o, e, "disabled", u->disabled);
    put_bool(o, e, "broadcast", u->broadcast);
    put_int(o, e, "devices", u->devices);
    put_int(o, e, "created", u->created_ms);
    return 0;
}

static int h_user_list(const acct_ctx *x, const adm_request *rq, out *o)
{
    db_user *u = NULL;
    size_t n = 0;
    int r = db_user_list(x->d, &u, &n);
    if (r)
        return db_failed(o, x, r);
    size_t from = (size_t)rq->offset, to = from + ACCT_PAGE < n ? from + ACCT_PAGE : n;
    cJSON *arr = put_array(o, "users");
    if (from == 0 && n > 0)
        say(o, "%-24s %-5s %-8s %-9s %7s  %s\n", "NAME", "ADMIN", "DISABLED", "BROADCAST",
            "DEVICES", "CREATED");
    if (n == 0)
        say(o, "no users yet: add one with `user add NAME`\n");
    for (size_t i = from; i < to; i++)
        user_row(NULL, o, arr, &u[i]);
    put_int(o, o->data, "total", (int64_t)n);
    if (to < n)
        put_int(o, o->data, "next", (int64_t)to);
    free(u);
    return 0;
}

static int w_user_show(const acct_ctx *x, const adm_request *rq, out *o)
{
    int r = db_user_get(x->d, rq->name, &o->s.u, NULL);
    if (r == BANTER_ENOENT)
        return no_user(o, rq->name);
    if (r == 0)
        r = db_profile_get(x->d, rq->name, &o->s.p);
    return r ? db_failed(o, x, r) : 0;
}

static int h_user_show(const acct_ctx *x, const adm_request *rq, out *o)
{
    (void)rq;
    const db_user u = o->s.u;
    const struct rv_profile *p = &o->s.p;
    char when[32];
    fmt_time(u.created_ms, when, sizeof when);
    account *a = x->k ? online_find(x->k->on, u.name) : NULL;
    say(o,
        "user       %s\nadmin      %s\ndisabled   %s\nbroadcast  %s\ndevices    %lld\n"
        "created    %s\n",
        u.name, yn(u.admin), yn(u.disabled), yn(u.broadcast), (long long)u.devices, when);
    if (x->k)
        say(o, "online     %u device%s\n", a ? a->ndevs : 0, a && a->ndevs == 1 ? "" : "s");
    put_str(o, o->data, "name", u.name);
    put_bool(o, o->data, "admin", u.admin);
    put_bool(o, o->data, "disabled", u.disabled);
    put_bool(o, o->data, "broadcast", u.broadcast);
    put_int(o, o->data, "devices", u.devices);
    put_int(o, o->data, "created", u.created_ms);
    if (x->k)
        put_int(o, o->data, "online", a ? a->ndevs : 0);
    cJSON *prof = cJSON_AddObjectToObject(o->data, "profile");
    for (int f = 0; f < RV_F_COUNT; f++) {
        if (!p->f[f])
            continue;
        say(o, "%-10s %s\n", rv_field_name((rv_field)f), p->f[f]);
        if (prof)
            put_str(o, prof, rv_field_name((rv_field)f), p->f[f]);
    }
    return 0;
}

/* The Argon2id hash of rq's password into hash. 0, or a refusal. */
static int hash_password(const adm_request *rq, out *o, char hash[static BCRYPTO_PWHASH_STRLEN])
{
    size_t n = strlen(rq->password);
    if (n == 0)
        return fail(o, "EINVAL", "the password is empty; an account needs one");
    int r = bcrypto_pwhash_str(hash, rq->password, n);
    return r ? fail(o, banter_errname(r), "cannot hash the password: %s", banter_strerror(r)) : 0;
}

static int h_user_add(const acct_ctx *x, const adm_request *rq, out *o)
{
    char hash[BCRYPTO_PWHASH_STRLEN];
    const char *why = db_name_problem(rq->name);
    if (why)
        return fail(o, "EINVAL", "bad user name %s: it %s", rq->name, why);
    db_user u;
    int r = db_user_get(x->d, rq->name, &u, NULL);
    if (r == 0)
        return fail(o, "EEXIST", "user %s already exists", rq->name);
    if (r != BANTER_ENOENT)
        return db_failed(o, x, r);
    int64_t gone = 0;
    r = (rq->has & ADM_BIT(ADM_A_REUSE)) && rq->reuse_name ? BANTER_ENOENT
                                                           : db_name_retired(x->d, rq->name, &gone);
    if (r == 0) {
        return fail(o, "ERETIRED", "%s", acct_retired_text(rq->name, gone).text);
    }
    if (r != BANTER_ENOENT)
        return db_failed(o, x, r);
    if (hash_password(rq, o, hash) != 0 || o->failed)
        return 0;
    r = db_user_add(x->d, rq->name, hash, rq->admin, x->now_ms);
    bcrypto_wipe(hash, sizeof hash);
    if (r == 1)
        return fail(o, "EEXIST", "user %s already exists", rq->name);
    if (r)
        return db_failed(o, x, r);
    say(o, "added %s %s\n", rq->admin ? "admin" : "user", rq->name);
    if (rq->reuse_name)
        say(o,
            "(the name of a deleted account, handed over: colleagues' nodes take %s for the "
            "same person as before)\n",
            rq->name);
    put_str(o, o->data, "name", rq->name);
    put_bool(o, o->data, "admin", rq->admin);
    return 0;
}

/* On a cluster: the count said covers this instance's sessions only. */
static void say_elsewhere(const acct_ctx *x, out *o)
{
    if (x->k && x->k->cl)
        say(o, "(sessions on other instances are ended by those instances)\n");
}

/* Live sessions of name see the account's new flags or end (disabled,
 * deleted: o->s.gone), as the database half read it (o->s.u); *ended
 * gets how many ended. */
static void refresh(const acct_ctx *x, const char *name, const out *o, int *ended)
{
    *ended = 0;
    if (!x->k)
        return;
    int r = auth_apply(x->k, name, o->s.gone ? NULL : &o->s.u);
    if (r > 0)
        *ended = r;
}

/* The account as it is after a change, for refresh (database half). */
static int reread(const acct_ctx *x, const char *name, out *o)
{
    int r = db_user_get(x->d, name, &o->s.u, NULL);
    o->s.gone = r == BANTER_ENOENT;
    return r == BANTER_ENOENT ? 0 : r;
}

/* Disable, enable or delete changed the marks of the account's devices
 * on the revocation list (db_admin.h): the list is built again (here and
 * on other instances) and sent when that changed it, so LAN peers stop,
 * or start again, taking their certificates; then, for a disable or
 * enable (name), its contacts get its devices as they are now (none while
 * disabled). The list goes first: a node that gets the devices back takes
 * them only once their keys left its list. */
static void devices_marked(core *k, const char *name)
{
    orgrevoke_reload(k);
    xinst_org_changed(k, XINST_ORG_REVOKED);
    if (name)
        contacts_devices_changed(k, name);
}

static int user_flag_op(const adm_request *rq)
{
    return rq->cmd == ADM_USER_DISABLE  ? 0
           : rq->cmd == ADM_USER_ENABLE ? 1
           : rq->cmd == ADM_USER_GRANT  ? 2
                                        : 3;
}

static int w_user_flag(const acct_ctx *x, const adm_request *rq, out *o)
{
    int op = user_flag_op(rq);
    if (op >= 2 && strcmp(rq->right, "broadcast") != 0)
        return fail(o, "EINVAL", "no right \"%s\": the one right there is so far is broadcast",
                    rq->right);
    int r = op == 0   ? db_user_disable(x->d, rq->name, x->now_ms)
            : op == 1 ? db_user_enable(x->d, rq->name)
                      : db_user_set_broadcast(x->d, rq->name, op == 2);
    if (r == BANTER_ENOENT)
        return no_user(o, rq->name);
    if (r < 0)
        return db_failed(o, x, r);
    o->s.changed = r;
    r = reread(x, rq->name, o);
    return r ? db_failed(o, x, r) : 0;
}

static int h_user_flag(const acct_ctx *x, const adm_request *rq, out *o)
{
    /* What happened, around the account's name: changed, or already so. */
    static const char *const done[][2] = {{"disabled user ", ": it can no longer log in"},
                                          {"enabled user ", ": it can log in again"},
                                          {"user ", " may now send organisation broadcasts"},
                                          {"user ", " may no longer send organisation broadcasts"}};
    static const char *const already[][2] = {{"user ", " was already disabled"},
                                             {"user ", " was not disabled"},
                                             {"user ", " already had the broadcast right"},
                                             {"user ", " did not have the broadcast right"}};
    int op = user_flag_op(rq), r = o->s.changed;
    int ended;
    refresh(x, rq->name, o, &ended);
    if (x->k) /* its devices on other instances read the account again (also when it was so
                 already here: a session there may not know) */
        xinst_admin(x->k, rq->name, NULL, XINST_REFRESH);
    if (x->k && op <= 1)
        devices_marked(x->k, rq->name);
    const char *const *what = r == 0 ? done[op] : already[op];
    say(o, "%s%s%s\n", what[0], rq->name, what[1]);
    if (x->k && op == 0) {
        say(o, "%d live session%s ended\n", ended, ended == 1 ? "" : "s");
        say_elsewhere(x, o);
    }
    put_str(o, o->data, "name", rq->name);
    put_bool(o, o->data, "changed", r == 0);
    if (x->k)
        put_int(o, o->data, "sessions_ended", ended);
    return 0;
}

static int w_user_delete(const acct_ctx *x, const adm_request *rq, out *o)
{
    int r = db_user_delete(x->d, rq->name, x->now_ms);
    if (r == BANTER_ENOENT)
        return no_user(o, rq->name);
    if (r)
        return db_failed(o, x, r);
    r = reread(x, rq->name, o);
    return r ? db_failed(o, x, r) : 0;
}

static int h_user_delete(const acct_ctx *x, const adm_request *rq, out *o)
{
    int ended;
    refresh(x, rq->name, o, &ended);
    if (x->k) { /* its devices on other instances find it gone */
        xinst_admin(x->k, rq->name, NULL, XINST_REFRESH);
        devices_marked(x->k, NULL);
    }
    say(o, "deleted user %s with its devices, profile, contacts and stored messages\n", rq->name);
    if (x->k) {
        say(o, "%d live session%s ended\n", ended, ended == 1 ? "" : "s");
        say_elsewhere(x, o);
    }
    put_str(o, o->data, "name", rq->name);
    put_int(o, o->data, "sessions_ended", ended);
    return 0;
}

static int h_user_passwd(const acct_ctx *x, const adm_request *rq, out *o)
{
    char hash[BCRYPTO_PWHASH_STRLEN];
    db_user u;
    int r = db_user_get(x->d, rq->name, &u, NULL);
    if (r == BANTER_ENOENT)
        return no_user(o, rq->name);
    if (r)
        return db_failed(o, x, r);
    if (hash_password(rq, o, hash) != 0 || o->failed)
        return 0;
    r = db_user_set_password(x->d, rq->name, hash);
    bcrypto_wipe(hash, sizeof hash);
    if (r)
        return r == BANTER_ENOENT ? no_user(o, rq->name) : db_failed(o, x, r);
    say(o,
        "set a new password for %s (its devices stay logged in: `device revoke` or "
        "`session kick` ends them)\n",
        rq->name);
    put_str(o, o->data, "name", rq->name);
    return 0;
}

static int h_user_set(const acct_ctx *x, const adm_request *rq, out *o)
{
    int f = 0;
    while (f < RV_F_COUNT && strcmp(rv_field_name((rv_field)f), rq->field) != 0)
        f++;
    if (f == RV_F_COUNT)
        return fail(o, "EINVAL",
                    "no profile field \"%s\": display_name, department, title, email, phone, "
                    "location, about",
                    rq->field);
    if (strlen(rq->value) > rv_field_max((rv_field)f))
        return fail(o, "ETOOLONG", "the %s is longer than %zu bytes", rq->field,
                    rv_field_max((rv_field)f));
    if (rv_field_check((rv_field)f, rq->value) != 0)
        return fail(o, "EINVAL", "the %s may hold %s", rq->field, rv_field_rule((rv_field)f));
    db_user u;
    int r = db_user_get(x->d, rq->name, &u, NULL);
    if (r == BANTER_ENOENT)
        return no_user(o, rq->name);
    struct rv_profile p = {0};
    p.f[f] = (char *)rq->value;
    if (r == 0)
        r = db_profile_set(x->d, rq->name, &p, x->now_ms);
    if (r)
        return db_failed(o, x, r);
    say(o, "%s of %s set to \"%s\"\n", rq->field, rq->name, rq->value);
    put_str(o, o->data, "name", rq->name);
    put_str(o, o->data, "field", rq->field);
    put_str(o, o->data, "value", rq->value);
    return 0;
}

/* ---- devices and sessions ---- */

struct dev_walk {
    const acct_ctx *x;
    out *o;
    cJSON *arr;
    const char *prefix; /* revoke: the fingerprint typed */
    int matches;
    db_device found;
};

static void device_row(struct dev_walk *w, const db_device *v)
{
    char fp[IDENTITY_FP_LEN + 1], seen[32];
    identity_fingerprint(v->key, fp);
    fmt_time(v->last_seen_ms, seen, sizeof seen);
    account *a = w->x->k ? online_find(w->x->k->on, v->user) : NULL;
    bool on = a && online_device(a, v->key);
    say(w->o, "%-24s %-47s %-6s %s\n", v->user, fp, w->x->k ? yn(on) : "?", seen);
    cJSON *e = push_object(w->o, w->arr);
    if (!e)
        return;
    put_str(w->o, e, "user", v->user);
    put_str(w->o, e, "fingerprint", fp);
    if (jsonv_add_hex(e, "key", v->key, 32) != 0)
        w->o->nomem = true;
    put_int(w->o, e, "created", v->created_ms);
    put_int(w->o, e, "last_seen", v->last_seen_ms);
    if (w->x->k)
        put_bool(w->o, e, "online", on);
}

/* One row of the page into o->s.devs (database half). */
static int device_keep(void *ud, const db_device *v)
{
    out *o = ud;
    if (o->s.ndevs == ACCT_PAGE)
        return 0;
    if (!o->s.devs && !(o->s.devs = calloc(ACCT_PAGE, sizeof *o->s.devs)))
        return BANTER_ENOMEM;
    o->s.devs[o->s.ndevs++] = *v;
    return 0;
}

static int w_device_list(const acct_ctx *x, const adm_request *rq, out *o)
{
    const char *user = (rq->has & ADM_BIT(ADM_A_NAME)) ? rq->name : NULL;
    int r = db_device_each(x->d, user, rq->offset, ACCT_PAGE, &o->s.total, device_keep, o);
    return r ? db_failed(o, x, r) : 0;
}

static int h_device_list(const acct_ctx *x, const adm_request *rq, out *o)
{
    struct dev_walk w = {.x = x, .o = o, .arr = put_array(o, "devices")};
    int64_t total = o->s.total;
    if (rq->offset == 0)
        say(o, "%-24s %-47s %-6s %s\n", "USER", "FINGERPRINT", "ONLINE", "LAST SEEN");
    for (size_t i = 0; i < o->s.ndevs; i++)
        device_row(&w, &o->s.devs[i]);
    put_int(o, o->data, "total", total);
    if (rq->offset + ACCT_PAGE < total)
        put_int(o, o->data, "next", rq->offset + ACCT_PAGE);
    return 0;
}

static int device_match(void *ud, const db_device *v)
{
    struct dev_walk *w = ud;
    char fp[IDENTITY_FP_LEN + 1];
    identity_fingerprint(v->key, fp);
    if (identity_fingerprint_has_prefix(fp, w->prefix)) {
        w->matches++;
        w->found = *v;
    }
    return 0;
}

/* The live connection of a device, or NULL. */
static conn *device_conn(const acct_ctx *x, const char *user, const uint8_t *key)
{
    account *a = x->k ? online_find(x->k->on, user) : NULL;
    return a ? online_device(a, key) : NULL;
}

static int w_device_revoke(const acct_ctx *x, const adm_request *rq, out *o)
{
    struct dev_walk w = {.x = x, .o = o, .prefix = rq->fp};
    int64_t total;
    int r = db_device_each(x->d, NULL, 0, INT64_MAX, &total, device_match, &w);
    /* and the devices of deleted accounts their delete marks still name:
     * no account has them bound, but the key may be on a stolen laptop */
    if (r == 0)
        r = db_device_marked_each(x->d, device_match, &w);
    if (r)
        return db_failed(o, x, r);
    if (w.matches == 0)
        return fail(o, "ENOENT", "no device's fingerprint starts with %s (`device list`)", rq->fp);
    if (w.matches > 1)
        return fail(o, "EAMBIGUOUS", "%d devices' fingerprints start with %s: give more digits",
                    w.matches, rq->fp);
    o->s.found = w.found;
    r = db_device_revoke(x->d, w.found.key, x->actor, x->now_ms, o->s.user);
    if (r < 0)
        return db_failed(o, x, r);
    o->s.gone = r == 1;
    return 0;
}

static int h_device_revoke(const acct_ctx *x, const adm_request *rq, out *o)
{
    (void)rq;
    const char *user = o->s.user;
    bool gone = o->s.gone; /* a deleted account's device: no session, no contacts */
    char fp[IDENTITY_FP_LEN + 1];
    conn *c = gone ? NULL : device_conn(x, o->s.found.user, o->s.found.key);
    identity_fingerprint(o->s.found.key, fp);
    if (c)
        conn_close(c, 0, "device revoked by an admin");
    if (x->k) {
        if (!gone) {
            /* connected to another instance, maybe (its online row follows
             * its latest session): that one ends it */
            xinst_admin(x->k, user, o->s.found.key, XINST_REVOKE);
            contacts_devices_changed(x->k, user);
        }
        orgrevoke_changed(x->k);                    /* LAN peers stop trusting its certificate */
        xinst_org_changed(x->k, XINST_ORG_REVOKED); /* and those of other instances */
    }
    if (gone)
        say(o, "revoked device %s of the deleted account %s: it can no longer log in\n", fp, user);
    else
        say(o, "revoked device %s of %s: it can no longer log in%s\n", fp, user,
            c                  ? "; its session was ended"
            : x->k && x->k->cl ? "; a session on another instance is ended there"
                               : "");
    put_str(o, o->data, "user", user);
    put_str(o, o->data, "fingerprint", fp);
    put_bool(o, o->data, "disconnected", c != NULL);
    put_bool(o, o->data, "account_deleted", gone);
    return 0;
}

struct sess_walk {
    out *o;
    cJSON *arr;
    int64_t n, from;
};

static void session_rows(account *a, void *ud)
{
    struct sess_walk *w = ud;
    for (conn *c = a->devs.head; c; c = c->dev.next) {
        if (w->n++ < w->from || w->n > w->from + ACCT_PAGE)
            continue;
        char fp[IDENTITY_FP_LEN + 1], addr[CONN_ADDR_MAX];
        identity_fingerprint(conn_device(c), fp);
        conn_addr(c, addr);
        say(w->o, "%-24s %-47s %s\n", a->name, fp, addr);
        cJSON *e = push_object(w->o, w->arr);
        if (!e)
            continue;
        put_str(w->o, e, "user", a->name);
        put_str(w->o, e, "fingerprint", fp);
        put_str(w->o, e, "address", addr);
    }
}

/* Sessions: this instance's (loop, before the database half), then, on a
 * cluster, those at the other instances (banter_online), one list paged
 * as a whole. */
static int b_session_list(const acct_ctx *x, const adm_request *rq, out *o)
{
    if (!x->k)
        return need_server(o);
    struct sess_walk w = {.o = o, .arr = put_array(o, "sessions"), .from = rq->offset};
    if (rq->offset == 0)
        say(o, "%-24s %-47s %s\n", "USER", "DEVICE", "ADDRESS");
    online_each(x->k->on, session_rows, &w);
    o->s.here_sessions = w.n;
    o->s.here_shown = (size_t)(w.n > w.from ? MIN(w.n - w.from, ACCT_PAGE) : 0);
    return 0;
}

static int w_session_list(const acct_ctx *x, const adm_request *rq, out *o)
{
    size_t room = ACCT_PAGE - o->s.here_shown;
    if (!x->k->cl)
        return 0;
    o->s.away = calloc(room ? room : 1, sizeof *o->s.away);
    if (!o->s.away) {
        o->nomem = true;
        return 0;
    }
    int64_t from = rq->offset > o->s.here_sessions ? rq->offset - o->s.here_sessions : 0;
    int r = db_online_elsewhere(x->d, cluster_id(x->k->cl), from, room, o->s.away, &o->s.naway,
                                &o->s.away_total);
    return r ? db_failed(o, x, r) : 0;
}

static int h_session_list(const acct_ctx *x, const adm_request *rq, out *o)
{
    (void)x;
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(o->data, "sessions");
    for (size_t i = 0; i < o->s.naway; i++) {
        const db_online_row *v = &o->s.away[i];
        char fp[IDENTITY_FP_LEN + 1], at[64];
        identity_fingerprint(v->key, fp);
        snprintf(at, sizeof at, "instance %s", v->instance);
        say(o, "%-24s %-47s %s\n", v->user, fp, at);
        cJSON *e = arr ? push_object(o, arr) : NULL;
        if (!e)
            continue;
        put_str(o, e, "user", v->user);
        put_str(o, e, "fingerprint", fp);
        put_str(o, e, "instance", v->instance);
        put_int(o, e, "since", v->since_ms);
    }
    int64_t total = o->s.here_sessions + o->s.away_total;
    put_int(o, o->data, "total", total);
    if (rq->offset + ACCT_PAGE < total)
        put_int(o, o->data, "next", rq->offset + ACCT_PAGE);
    return 0;
}

static int h_session_kick(const acct_ctx *x, const adm_request *rq, out *o)
{
    if (!x->k)
        return need_server(o);
    int n = 0;
    account *a;
    while ((a = online_find(x->k->on, rq->name)) != NULL && a->devs.head) {
        conn_close(a->devs.head, 0, "session ended by an admin");
        n++;
    }
    xinst_admin(x->k, rq->name, NULL, XINST_KICK); /* its devices on other instances */
    say(o,
        "ended %d session%s of %s (its devices may log in again: `user disable` or "
        "`device revoke` stops that)\n",
        n, n == 1 ? "" : "s", rq->name);
    say_elsewhere(x, o);
    put_str(o, o->data, "name", rq->name);
    put_int(o, o->data, "sessions_ended", n);
    return 0;
}

/* ---- the server ---- */

static int64_t rss_kib(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = 0;
    fclose(f);
    return (int64_t)rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static void count_devs(account *a, void *ud) { *(int64_t *)ud += a->ndevs; }

static int w_status(const acct_ctx *x, const adm_request *rq, out *o)
{
    (void)rq;
    if (!x->k)
        return need_server(o);
    int r = db_counts(x->d, &o->s.users, &o->s.devices);
    if (r == 0)
        r = db_mail_stats_get(x->d, &o->s.ms);
    if (r == 0 && x->k->cl) /* the tables the instances share */
        r = db_cluster_counts(x->d, &o->s.cl_instances, &o->s.cl_accounts, &o->s.cl_devices);
    return r ? db_failed(o, x, r) : 0;
}

static int h_status(const acct_ctx *x, const adm_request *rq, out *o)
{
    (void)rq;
    core *k = x->k;
    int64_t users = o->s.users, devices = o->s.devices, online_devs = 0;
    const db_mail_stats ms = o->s.ms;
    online_each(k->on, count_devs, &online_devs);
    int64_t up = (x->now_ms - k->started_ms) / 1000, mem = rss_kib();
    say(o,
        "server       %s, protocol %d\nuptime       %lldd %02lld:%02lld:%02lld\n"
        "connections  %zu established, %zu in handshake\naccounts     %lld, %zu online\n"
        "devices      %lld, %lld online\nstored       %lld copies, %lld bytes\n"
        "memory       %lld KiB resident\n",
        SERVER_NAME, SESSION_VERSION, (long long)(up / 86400), (long long)(up / 3600 % 24),
        (long long)(up / 60 % 60), (long long)(up % 60), k->live.n, k->pending.n, (long long)users,
        online_count(k->on), (long long)devices, (long long)online_devs, (long long)ms.copies,
        (long long)ms.bytes, (long long)mem);
    put_str(o, o->data, "server", SERVER_NAME);
    put_int(o, o->data, "protocol", SESSION_VERSION);
    put_int(o, o->data, "uptime_s", up);
    put_int(o, o->data, "connections", (int64_t)k->live.n);
    put_int(o, o->data, "handshakes", (int64_t)k->pending.n);
    put_int(o, o->data, "accounts", users);
    put_int(o, o->data, "accounts_online", (int64_t)online_count(k->on));
    put_int(o, o->data, "devices", devices);
    put_int(o, o->data, "devices_online", online_devs);
    put_int(o, o->data, "stored_copies", ms.copies);
    put_int(o, o->data, "stored_bytes", ms.bytes);
    put_int(o, o->data, "memory_kib", mem);
    if (k->cl) { /* the whole service */
        say(o, "cluster      instance %s of %lld; %lld accounts, %lld devices online on any\n",
            cluster_id(k->cl), (long long)o->s.cl_instances, (long long)o->s.cl_accounts,
            (long long)o->s.cl_devices);
        put_str(o, o->data, "instance", cluster_id(k->cl));
        put_int(o, o->data, "cluster_instances", o->s.cl_instances);
        put_int(o, o->data, "cluster_accounts_online", o->s.cl_accounts);
        put_int(o, o->data, "cluster_devices_online", o->s.cl_devices);
    }
    if (k->xl) { /* links to the other instances (xlink.h) */
        xlink_stats ls;
        xlink_get_stats(k, &ls);
        say(o,
            "links        %llu up; copies %llu forwarded, %llu received, %llu answered; "
            "%llu refused\n",
            (unsigned long long)ls.up, (unsigned long long)ls.forwarded,
            (unsigned long long)ls.received, (unsigned long long)ls.answered,
            (unsigned long long)ls.refused);
        put_int(o, o->data, "links_up", (int64_t)ls.up);
        put_int(o, o->data, "link_forwarded", (int64_t)ls.forwarded);
        put_int(o, o->data, "link_received", (int64_t)ls.received);
        put_int(o, o->data, "link_answered", (int64_t)ls.answered);
        put_int(o, o->data, "links_refused", (int64_t)ls.refused);
    }
    return 0;
}

static int h_config_show(const acct_ctx *x, const adm_request *rq, out *o)
{
    (void)rq;
    if (!x->k)
        return need_server(o);
    char pub[DIR_PUBLIC_TEXT];
    dir_public_format(x->k->pub, pub, sizeof pub);
    const core_limits *l = &x->k->lim;
    say(o,
        "mailbox_ttl_days          %lld\nmailbox_quota_messages    %lld\n"
        "mailbox_quota_bytes       %lld\nmailbox_sender_percent    %lld (%lld copies, %lld "
        "bytes)\ndirectory_public_fields   %s\n"
        "certificate_ttl_days      %lld\n",
        (long long)(l->ttl_ms / DAY_MS), (long long)l->quota_messages, (long long)l->quota_bytes,
        (long long)l->sender_pct, (long long)l->sender_messages, (long long)l->sender_bytes,
        pub[0] ? pub : "(none)", (long long)(AUTH_CERT_TTL_MS / DAY_MS));
    put_int(o, o->data, "mailbox_ttl_ms", l->ttl_ms);
    put_int(o, o->data, "mailbox_quota_messages", l->quota_messages);
    put_int(o, o->data, "mailbox_quota_bytes", l->quota_bytes);
    put_int(o, o->data, "mailbox_sender_percent", l->sender_pct);
    put_int(o, o->data, "mailbox_sender_messages", l->sender_messages);
    put_int(o, o->data, "mailbox_sender_bytes", l->sender_bytes);
    put_str(o, o->data, "directory_public_fields", pub);
    put_int(o, o->data, "certificate_ttl_ms", AUTH_CERT_TTL_MS);
    return 0;
}

/* ---- the offline store ---- */

static int h_mailbox_stats(const acct_ctx *x, const adm_request *rq, out *o)
{
    (void)rq;
    db_mail_stats ms;
    char when[32];
    int r = db_mail_stats_get(x->d, &ms);
    if (r)
        return db_failed(o, x, r);
    fmt_time(ms.oldest_ms, when, sizeof when);
    say(o, "stored copies  %lld\nbytes          %lld\naccounts       %lld\noldest         %s\n",
        (long long)ms.copies, (long long)ms.bytes, (long long)ms.users, when);
    put_int(o, o->data, "copies", ms.copies);
    put_int(o, o->data, "bytes", ms.bytes);
    put_int(o, o->data, "accounts", ms.users);
    put_int(o, o->data, "oldest", ms.oldest_ms);
    return 0;
}

static int h_mailbox_purge(const acct_ctx *x, const adm_request *rq, out *o)
{
    int64_t n;
    int r = db_mail_purge(x->d, x->now_ms - rq->days * DAY_MS, &n);
    if (r)
        return db_failed(o, x, r);
    say(o, "deleted %lld stored cop%s older than %lld day%s\n", (long long)n, n == 1 ? "y" : "ies",
        (long long)rq->days, rq->days == 1 ? "" : "s");
    put_int(o, o->data, "deleted", n);
    return 0;
}

/* ---- audit, backup, admin keys ---- */

static int audit_row(void *ud, const db_audit *a)
{
    out *o = ud;
    char when[32];
    fmt_time(a->ts, when, sizeof when);
    say(o, "%6lld %s %s %s%s%s: %s\n", (long long)a->seq, when, a->actor, a->cmd,
        a->target[0] ? " " : "", a->target, a->result);
    cJSON *e = push_object(o, cJSON_GetObjectItemCaseSensitive(o->data, "entries"));
    if (!e)
        return 0;
    put_int(o, e, "seq", a->seq);
    put_int(o, e, "time", a->ts);
    put_str(o, e, "actor", a->actor);
    put_str(o, e, "cmd", a->cmd);
    put_str(o, e, "target", a->target);
    put_str(o, e, "result", a->result);
    return 0;
}

static int h_audit_tail(const acct_ctx *x, const adm_request *rq, out *o)
{
    int64_t n = (rq->has & ADM_BIT(ADM_A_COUNT)) ? rq->count : ACCT_AUDIT_TAIL;
    put_array(o, "entries");
    int r = db_audit_tail(x->d, n < ACCT_PAGE ? n : ACCT_PAGE, audit_row, o);
    return r ? db_failed(o, x, r) : 0;
}

static int h_audit_verify(const acct_ctx *x, const adm_request *rq, out *o)
{
    (void)rq;
    int64_t n, bad;
    char why[256];
    int r = db_audit_verify(x->d, identity_public(x->id), &n, &bad, why, sizeof why);
    if (r == BANTER_EFORMAT)
        return fail(o, "ETAMPERED", "the audit log was tampered with: %s", why);
    if (r)
        return db_failed(o, x, r);
    say(o, "the audit log is intact: %lld entries, each chained and signed by the server key\n",
        (long long)n);
    put_int(o, o->data, "entries", n);
    put_bool(o, o->data, "intact", true);
    return 0;
}

static int h_backup(const acct_ctx *x, const adm_request *rq, out *o)
{
    char path[1024], why[512];
    int r = db_backup(x->d, rq->file, path, sizeof path, why, sizeof why);
    if (r)
        return fail(o, banter_errname(r), "no backup: %s", why);
    say(o, "backed up the database to %s (on the server)\n", path);
    put_str(o, o->data, "path", path);
    return 0;
}

static int admin_row(void *ud, const db_admin_key *k)
{
    out *o = ud;
    char when[32];
    fmt_time(k->added_ms, when, sizeof when);
    char fp[IDENTITY_FP_LEN + 1];
    fp_group(k->fp, fp);
    say(o, "%-47s  %-7s  %s  %s\n", fp, k->role, when, k->added_by);
    cJSON *e = push_object(o, cJSON_GetObjectItemCaseSensitive(o->data, "admins"));
    if (!e)
        return 0;
    put_str(o, e, "fingerprint", k->fp);
    put_str(o, e, "role", k->role);
    put_int(o, e, "added", k->added_ms);
    put_str(o, e, "added_by", k->added_by);
    return 0;
}

static int h_admin_list(const acct_ctx *x, const adm_request *rq, out *o)
{
    (void)rq;
    put_array(o, "admins");
    say(o, "%-47s  %-7s  %-20s  %s\n", "FINGERPRINT", "ROLE", "ADDED", "BY");
    int r = db_admin_each(x->d, admin_row, o);
    return r ? db_failed(o, x, r) : 0;
}

/* The device bound to the key with fingerprint digits fpd, if any. */
static int fp_device(void *ud, const db_device *v)
{
    struct dev_walk *w = ud;
    char fp[IDENTITY_FP_LEN + 1], d[DB_FP_DIGITS + 1];
    identity_fingerprint(v->key, fp);
    if (db_fp_digits(fp, d) == 0 && strcmp(d, w->prefix) == 0) {
        w->matches++;
        w->found = *v;
    }
    return 0;
}

/* ELAST: fpd is the last key with the role admin; what to do instead. */
static int last_admin(out *o, const char *fpd, const char *instead)
{
    return fail(o, "ELAST", "%s is the last admin key: %s", fpd, instead);
}

static int h_admin_add(const acct_ctx *x, const adm_request *rq, out *o)
{
    char fpd[DB_FP_DIGITS + 1];
    if (db_fp_digits(rq->fp, fpd) != 0)
        return fail(o, "EINVAL", "\"%s\" is not a fingerprint: 40 digits in groups of 5", rq->fp);
    if (strcmp(rq->role, DB_ROLE_ADMIN) != 0 && strcmp(rq->role, DB_ROLE_AUDITOR) != 0)
        return fail(o, "EINVAL", "no role \"%s\": admin or auditor", rq->role);
    struct dev_walk w = {.prefix = fpd};
    int64_t total;
    int r = db_device_each(x->d, NULL, 0, INT64_MAX, &total, fp_device, &w);
    if (r)
        return db_failed(o, x, r);
    if (w.matches)
        return fail(o, "EINVAL",
                    "that key is a device of %s: an admin key must be its own (banter-admin "
                    "keygen makes one)",
                    w.found.user);
    /* Remotely, the last admin key keeps its role; on the server machine
     * it may go (as admin.remove). */
    r = db_admin_add(x->d, fpd, rq->role, x->actor, x->now_ms, x->k != NULL);
    if (r == BANTER_ESTATE)
        return last_admin(o, fpd,
                          "give another key the role admin first, or change it on the "
                          "server machine");
    if (r < 0)
        return db_failed(o, x, r);
    char fp[IDENTITY_FP_LEN + 1];
    fp_group(fpd, fp);
    say(o, "%s key %s as %s\n", r == 0 ? "authorized" : "changed the role of", fp, rq->role);
    put_str(o, o->data, "fingerprint", fpd);
    put_str(o, o->data, "role", rq->role);
    return 0;
}

static int h_admin_remove(const acct_ctx *x, const adm_request *rq, out *o)
{
    char fpd[DB_FP_DIGITS + 1];
    if (db_fp_digits(rq->fp, fpd) != 0)
        return fail(o, "EINVAL", "\"%s\" is not a fingerprint: 40 digits in groups of 5", rq->fp);
    int r = db_admin_remove(x->d, fpd, x->k != NULL);
    if (r == 1)
        return fail(o, "ENOENT", "%s is not an admin key (`admin list`)", fpd);
    if (r == BANTER_ESTATE)
        return last_admin(o, fpd, "add another first, or remove it on the server machine");
    if (r < 0)
        return db_failed(o, x, r);
    char fp[IDENTITY_FP_LEN + 1];
    fp_group(fpd, fp);
    say(o, "removed admin key %s\n", fp);
    put_str(o, o->data, "fingerprint", fpd);
    return 0;
}

static int h_log_level(const acct_ctx *x, const adm_request *rq, out *o)
{
    static const char *const names[] = {[CORE_LOG_INFO] = "info", [CORE_LOG_DEBUG] = "debug"};
    if (!x->k)
        return need_server(o);
    if (rq->has & ADM_BIT(ADM_A_LEVEL)) {
        int l = strcmp(rq->level, "info") == 0    ? CORE_LOG_INFO
                : strcmp(rq->level, "debug") == 0 ? CORE_LOG_DEBUG
                                                  : -1;
        if (l < 0)
            return fail(o, "EINVAL", "no log level \"%s\": info or debug", rq->level);
        x->k->log_level = (uint8_t)l;
        core_log(x->k, "log level %s (set by %s)", names[l], x->actor);
        say(o, "log level is now %s (until the server restarts)\n", names[l]);
    } else {
        say(o, "log level %s\n", names[x->k->log_level]);
    }
    put_str(o, o->data, "level", names[x->k->log_level]);
    return 0;
}

/* ---- the organisation's policy ---- */

static void policy_out(out *o, const policy *p, bool set)
{
    char pub[DIR_PUBLIC_TEXT], when[32];
    dir_public_format(p->public_fields, pub, sizeof pub);
    fmt_time(p->issued_ms, when, sizeof when);
    if (set)
        say(o, "policy %llu, signed %s\n", (unsigned long long)p->serial, when);
    else
        say(o, "no policy set yet: these defaults apply (`policy set` signs one)\n");
    say(o,
        "max_file_mb     %lld%s\nauto_accept     %s\nhistory_days    %u%s\n"
        "lan_discovery   %s\npublic_fields   %s\n",
        (long long)p->max_file_mb, p->max_file_mb ? "" : " (no limit)",
        (p->flags & POLICY_F_AUTO) ? "allowed" : "forbidden", p->history_days,
        p->history_days ? "" : " (kept)", (p->flags & POLICY_F_LAN) ? "allowed" : "forbidden",
        pub[0] ? pub : "(none)");
    put_bool(o, o->data, "set", set);
    put_int(o, o->data, "serial", (int64_t)p->serial);
    put_int(o, o->data, "issued", p->issued_ms);
    put_int(o, o->data, "max_file_mb", p->max_file_mb);
    put_bool(o, o->data, "auto_accept", p->flags & POLICY_F_AUTO);
    put_int(o, o->data, "history_days", p->history_days);
    put_bool(o, o->data, "lan_discovery", p->flags & POLICY_F_LAN);
    put_str(o, o->data, "public_fields", pub);
}

static int w_policy_show(const acct_ctx *x, const adm_request *rq, out *o)
{
    (void)rq;
    if (x->k)
        return 0; /* the running server's policy is in its core */
    int r = db_policy_get(x->d, &o->s.pol);
    if (r && r != BANTER_ENOENT)
        return db_failed(o, x, r);
    o->s.pol_set = r == 0;
    return 0;
}

static int h_policy_show(const acct_ctx *x, const adm_request *rq, out *o)
{
    (void)rq;
    policy p;
    if (x->k) {
        if (x->k->has_policy)
            p = x->k->pol;
        else
            policy_default(&p), p.public_fields = x->k->pub;
        policy_out(o, &p, x->k->has_policy);
        return 0;
    }
    policy_out(o, &o->s.pol, o->s.pol_set);
    return 0;
}

/* "yes"/"no" (and true/false, allowed/forbidden): 1, 0, or -1. */
static int yes_no(const char *v)
{
    if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "allowed"))
        return 1;
    if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "forbidden"))
        return 0;
    return -1;
}

/* A number 0..max from v: 0 or -1. */
static int number(const char *v, int64_t max, int64_t *n)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < 0 || x > max)
        return -1;
    *n = x;
    return 0;
}

/* Apply field = value to p; 0, or a refusal in o. */
static int policy_edit(policy *p, const adm_request *rq, out *o)
{
    int64_t n;
    int b;
    const char *v = rq->value;
    if (!strcmp(rq->field, "max_file_mb") && number(v, POLICY_MAX_MB, &n) == 0) {
        p->max_file_mb = n;
    } else if (!strcmp(rq->field, "history_days") && number(v, POLICY_MAX_DAYS, &n) == 0) {
        p->history_days = (uint32_t)n;
    } else if (!strcmp(rq->field, "auto_accept") && (b = yes_no(v)) >= 0) {
        p->flags = (uint8_t)(b ? p->flags | POLICY_F_AUTO : p->flags & ~POLICY_F_AUTO);
    } else if (!strcmp(rq->field, "lan_discovery") && (b = yes_no(v)) >= 0) {
        p->flags = (uint8_t)(b ? p->flags | POLICY_F_LAN : p->flags & ~POLICY_F_LAN);
    } else if (!strcmp(rq->field, "public_fields")) {
        dir_public pub;
        const char *bad = NULL;
        if (dir_public_parse(v, &pub, &bad) != 0)
            return fail(o, "EINVAL",
                        "no profile field \"%s\" (display_name, department, title, "
                        "email, phone, location, about)",
                        bad ? bad : v);
        p->public_fields = pub;
    } else {
        return fail(o, "EINVAL",
                    "\"%s = %s\" is not a policy rule: max_file_mb N (0: no limit), "
                    "history_days N (0: keep), auto_accept yes|no, lan_discovery yes|no, "
                    "public_fields LIST",
                    rq->field, v);
    }
    return 0;
}

static int h_policy_set(const acct_ctx *x, const adm_request *rq, out *o)
{
    policy p;
    if (!x->k)
        return need_server(o);
    if (x->k->has_policy)
        p = x->k->pol;
    else
        policy_default(&p), p.public_fields = x->k->pub;
    if (policy_edit(&p, rq, o) != 0 || o->failed)
        return 0;
    int r = orgpolicy_set(x->k, &p);
    if (r)
        return db_failed(o, x, r);
    policy_out(o, &p, true);
    return 0;
}

/* ---- plug-ins: the server's own control (plugins.h), remotely ---- */

/* One plug-in of rplugins_ctl's list, for people. */
static void plugin_say(out *o, const cJSON *p)
{
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "name"));
    const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "state"));
    const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "path"));
    const char *err = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "last_error"));
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(p, "pid");
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(p, "restarts");
    char extra[64] = "";
    int n = 0;
    if (cJSON_IsNumber(pid) && pid->valuedouble > 0)
        n = snprintf(extra, sizeof extra, " pid %.0f", pid->valuedouble);
    if (cJSON_IsNumber(rs) && rs->valuedouble > 0 && n >= 0 && (size_t)n < sizeof extra)
        snprintf(extra + n, sizeof extra - (size_t)n, " restarts %.0f", rs->valuedouble);
    say(o, "%-16s %-9s%s\n    %s\n", name ? name : "?", state ? state : "?", extra,
        path ? path : "");
    if (err && err[0])
        say(o, "    last error: %s\n", err);
}

/* plugin list|enable|disable|restart: rplugins_ctl's answer as data
 * {"plugins":[...]} and text. A change lasts until the server restarts
 * (the --config file is the lasting choice). */
static int h_plugin(const acct_ctx *x, const adm_request *rq, out *o)
{
    static const char *const verbs[ADM_CMD_COUNT] = {
        [ADM_PLUGIN_LIST] = "list",
        [ADM_PLUGIN_ENABLE] = "enable",
        [ADM_PLUGIN_DISABLE] = "disable",
        [ADM_PLUGIN_RESTART] = "restart",
    };
    static const char *const done[ADM_CMD_COUNT] = {
        [ADM_PLUGIN_ENABLE] = "enabled",
        [ADM_PLUGIN_DISABLE] = "disabled",
        [ADM_PLUGIN_RESTART] = "restarted",
    };
    if (!x->k)
        return need_server(o);
    char line[32 + ADM_MAX_WORD];
    snprintf(line, sizeof line, "plugins %s%s%s", verbs[rq->cmd],
             rq->has & ADM_BIT(ADM_A_NAME) ? " " : "",
             rq->has & ADM_BIT(ADM_A_NAME) ? rq->name : "");
    char *ans = malloc(CTL_ANSWER_MAX);
    if (!ans) {
        o->nomem = true;
        return 0;
    }
    rplugins_ctl(x->k->pg, line, ans, CTL_ANSWER_MAX);
    ans[strcspn(ans, "\n")] = '\0';
    cJSON *list = strncmp(ans, "ok ", 3) == 0 ? cJSON_Parse(ans + 3) : NULL;
    if (strncmp(ans, "error ", 6) == 0)
        fail(o, strstr(ans, "no plug-in of that name") ? "ENOENT" : "EINVAL", "%s%s%s", ans + 6,
             strstr(ans, "no plug-in") ? ": " : "", strstr(ans, "no plug-in") ? rq->name : "");
    else if (!cJSON_IsArray(list))
        o->nomem = true;
    free(ans);
    if (o->failed || !list) {
        cJSON_Delete(list);
        return 0;
    }
    if (done[rq->cmd])
        say(o,
            "%s plug-in %s (until the server restarts: the --config file is the lasting "
            "choice)\n",
            done[rq->cmd], rq->name);
    else if (cJSON_GetArraySize(list) == 0)
        say(o, "no plug-ins (plugin.NAME.path = /path/to/NAME.so in the server's --config "
               "file)\n");
    const cJSON *p;
    cJSON_ArrayForEach (p, list) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "name"));
        if (!done[rq->cmd] || (name && strcmp(name, rq->name) == 0))
            plugin_say(o, p);
    }
    if (!cJSON_AddItemToObject(o->data, "plugins", list)) {
        cJSON_Delete(list);
        o->nomem = true;
    }
    return 0;
}

/* ---- announcements (announce.h) ---- */

/* Before: the devices online that take announcements (announce.h). */
static int b_announce(const acct_ctx *x, const adm_request *rq, out *o)
{
    if (!x->k)
        return need_server(o);
    const char *dept = rq->has & ADM_BIT(ADM_A_DEPARTMENT) ? rq->department : "";
    int r = announce_start(x->k, dept, rq->text, x->now_ms, &o->s.ann);
    return r ? db_failed(o, x, r) : 0;
}

static int w_announce(const acct_ctx *x, const adm_request *rq, out *o)
{
    (void)rq;
    int r =
        announce_record(x->d, o->s.ann, x->actor, &o->s.ann_id, &o->s.devices, &o->s.ann_people);
    return r ? db_failed(o, x, r) : 0;
}

static int h_announce(const acct_ctx *x, const adm_request *rq, out *o)
{
    const char *dept = rq->has & ADM_BIT(ADM_A_DEPARTMENT) ? rq->department : "";
    int64_t id = o->s.ann_id, devices = o->s.devices, people = o->s.ann_people;
    int64_t sent = announce_send(o->s.ann);
    xinst_announced(x->k, id); /* the devices online at other instances get it from those */
    core_log(x->k, "announcement %lld by %s to %lld devices of %lld accounts%s%s", (long long)id,
             x->actor, (long long)devices, (long long)people, dept[0] ? " in " : "", dept);
    say(o,
        "announcement %lld to %lld devices of %lld people%s%s: %lld online have it now, the "
        "others get it at their next login (`announce report %lld`)\n",
        (long long)id, (long long)devices, (long long)people, dept[0] ? " in " : "", dept,
        (long long)sent, (long long)id);
    if (x->k->cl)
        say(o, "(counted on this instance: the devices online at others get it from those now)\n");
    put_int(o, o->data, "id", id);
    put_int(o, o->data, "devices", devices);
    put_int(o, o->data, "people", people);
    put_int(o, o->data, "sent_now", sent);
    put_str(o, o->data, "department", dept);
    return 0;
}

static int h_announce_report(const acct_ctx *x, const adm_request *rq, out *o)
{
    db_announce_report *a = malloc(sizeof *a);
    char when[32];
    if (!a) {
        o->nomem = true;
        return 0;
    }
    int r = db_announce_report_get(x->d, rq->ann, a);
    if (r == BANTER_ENOENT) {
        free(a);
        return fail(o, "ENOENT", "no announcement %lld", (long long)rq->ann);
    }
    if (r) {
        free(a);
        return db_failed(o, x, r);
    }
    fmt_time(a->ts, when, sizeof when);
    say(o, "announcement %lld, %s by %s%s%s\n", (long long)a->id, when, a->actor,
        a->department[0] ? ", to " : "", a->department);
    say(o, "  addressed to %lld devices of %lld people\n", (long long)a->devices,
        (long long)a->people);
    say(o, "  received by %lld devices (%lld people)\n", (long long)a->delivered,
        (long long)a->people_delivered);
    say(o, "  read by %lld people (on %lld devices)\n", (long long)a->people_read,
        (long long)a->read);
    put_int(o, o->data, "id", a->id);
    put_int(o, o->data, "time", a->ts);
    put_str(o, o->data, "by", a->actor);
    put_str(o, o->data, "department", a->department);
    put_str(o, o->data, "text", a->text);
    put_int(o, o->data, "devices", a->devices);
    put_int(o, o->data, "delivered", a->delivered);
    put_int(o, o->data, "read_devices", a->read);
    put_int(o, o->data, "people", a->people);
    put_int(o, o->data, "people_delivered", a->people_delivered);
    put_int(o, o->data, "people_read", a->people_read);
    free(a);
    return 0;
}

typedef int (*handler)(const acct_ctx *x, const adm_request *rq, out *o);

/*
 * Each command in two halves, either of which may be missing:
 *   work  the database half: db_* calls with x->d and writes to o (and
 *         o->s for live); it only tests whether x->k is set, never
 *         touches the core. On the database thread (dbq.h) when the
 *         server runs.
 *   live  the loop half: the running server's state (sessions, the
 *         online index, the policy...), o->s from work, no x->d. Skipped
 *         when work refused. Alone, it runs when the request is taken
 *         (acct_submit: before the jobs queued earlier are done); after
 *         a work, once the work is done.
 *   before  a loop half that runs when the request is taken, before the
 *         database half (announce: the devices online, announce.h); a
 *         refusal there skips the other two.
 * A local command (x->k NULL) runs them in a row on the caller's thread.
 * policy set is a live half alone: orgpolicy_set queues its own database
 * job (orgpolicy.c). No command makes the loop wait for the database.
 */
static const struct {
    handler work, live, before;
} handlers[ADM_CMD_COUNT] = {
    [ADM_STATUS] = {w_status, h_status},
    [ADM_USER_LIST] = {h_user_list, NULL},
    [ADM_USER_SHOW] = {w_user_show, h_user_show},
    [ADM_USER_ADD] = {h_user_add, NULL},
    [ADM_USER_DISABLE] = {w_user_flag, h_user_flag},
    [ADM_USER_ENABLE] = {w_user_flag, h_user_flag},
    [ADM_USER_DELETE] = {w_user_delete, h_user_delete},
    [ADM_USER_PASSWD] = {h_user_passwd, NULL},
    [ADM_USER_SET] = {h_user_set, NULL},
    [ADM_USER_GRANT] = {w_user_flag, h_user_flag},
    [ADM_USER_REVOKE] = {w_user_flag, h_user_flag},
    [ADM_DEVICE_LIST] = {w_device_list, h_device_list},
    [ADM_DEVICE_REVOKE] = {w_device_revoke, h_device_revoke},
    [ADM_SESSION_LIST] = {w_session_list, h_session_list, b_session_list},
    [ADM_SESSION_KICK] = {NULL, h_session_kick},
    [ADM_MAILBOX_STATS] = {h_mailbox_stats, NULL},
    [ADM_MAILBOX_PURGE] = {h_mailbox_purge, NULL},
    [ADM_AUDIT_TAIL] = {h_audit_tail, NULL},
    [ADM_AUDIT_VERIFY] = {h_audit_verify, NULL},
    [ADM_BACKUP] = {h_backup, NULL},
    [ADM_CONFIG_SHOW] = {NULL, h_config_show},
    [ADM_LOG_LEVEL] = {NULL, h_log_level},
    [ADM_ADMIN_LIST] = {h_admin_list, NULL},
    [ADM_ADMIN_ADD] = {h_admin_add, NULL},
    [ADM_ADMIN_REMOVE] = {h_admin_remove, NULL},
    [ADM_POLICY_SHOW] = {w_policy_show, h_policy_show},
    [ADM_POLICY_SET] = {NULL, h_policy_set},
    [ADM_PLUGIN_LIST] = {NULL, h_plugin},
    [ADM_PLUGIN_ENABLE] = {NULL, h_plugin},
    [ADM_PLUGIN_DISABLE] = {NULL, h_plugin},
    [ADM_PLUGIN_RESTART] = {NULL, h_plugin},
    [ADM_ANNOUNCE] = {w_announce, h_announce, b_announce},
    [ADM_ANNOUNCE_REPORT] = {h_announce_report, NULL},
};

static bool audit_first(const adm_request *rq)
{
    return adm_cmd_get(rq->cmd)->change && !handlers[rq->cmd].work && handlers[rq->cmd].live;
}

/* ---- the entry points ---- */

void acct_describe(const adm_request *rq, char *dst, size_t cap)
{
    size_t n = 0;
    dst[0] = '\0';
    for (int a = 0; a < ADM_A_COUNT_OF && n < cap; a++) {
        if (!(rq->has & ADM_BIT(a)) || a == ADM_A_PASSWORD)
            continue;
        char v[ADM_MAX_VALUE + 3];
        size_t tcap;
        adm_request *r = (adm_request *)rq; /* the slots' view; nothing is written */
        const char *t = adm_request_text(r, (adm_arg)a, &tcap);
        const int64_t *num = adm_request_int(r, (adm_arg)a);
        if (a == ADM_A_TEXT) /* what was announced is in announcements, not the log */
            snprintf(v, sizeof v, "(%zu bytes)", strlen(rq->text));
        else if (t)
            snprintf(v, sizeof v, a == ADM_A_VALUE || a == ADM_A_DEPARTMENT ? "\"%s\"" : "%s", t);
        else if (num)
            snprintf(v, sizeof v, "%lld", (long long)*num);
        else /* ADM_A_ADMIN, ADM_A_REUSE */
            snprintf(v, sizeof v, "%s", *adm_request_bool(r, (adm_arg)a) ? "yes" : "no");
        int w = snprintf(dst + n, cap - n, "%s%s=%s", n ? " " : "", adm_arg_key((adm_arg)a), v);
        n += w > 0 ? (size_t)w : 0;
    }
    if (n >= cap && cap > 0)
        dst[cap - 1] = '\0';
}

/* What an audit entry of rq says: its arguments and how it went (ok: the
 * result when o has not failed). */
static void audit_texts(const adm_request *rq, const out *o, const char *ok,
                        char target[static DB_AUDIT_TEXT], char result[static DB_AUDIT_TEXT])
{
    acct_describe(rq, target, DB_AUDIT_TEXT);
    if (o->failed)
        snprintf(result, DB_AUDIT_TEXT, "%s: %.*s", o->error, (int)buf_len(&o->text),
                 (const char *)buf_data(&o->text));
    else
        snprintf(result, DB_AUDIT_TEXT, "%s", ok);
    size_t rl = strlen(result);
    if (rl > 0 && result[rl - 1] == '\n')
        result[rl - 1] = '\0';
}

/* Whether rq changes only the running server (no database half: session
 * kick, log level, policy set, plug-in control). Such a command is
 * recorded first, as "accepted", and runs only once its entry is
 * written; a failure after that gets an entry of its own. */
static bool audit_first(const adm_request *rq);

/* Append rq and its result to the audit log (a failure is told: the
 * action happened, its record did not; errmsg gets why, for the log; a
 * command recorded first is refused instead, with EAUDIT, and does
 * nothing). Database half. */
static void audit(const acct_ctx *x, const adm_request *rq, out *o, char *errmsg, size_t cap)
{
    char target[DB_AUDIT_TEXT], result[DB_AUDIT_TEXT];
    bool first = audit_first(rq) && !o->failed;
    audit_texts(rq, o, first ? "accepted" : "ok", target, result);
    int r = db_audit_append(x->d, x->id, x->now_ms, x->actor, adm_cmd_get(rq->cmd)->wire, target,
                            result, NULL);
    if (r == 0)
        return;
    snprintf(errmsg, cap, "%s", r == BANTER_EDB ? db_errmsg(x->d) : banter_strerror(r));
    if (first)
        (void)fail(o, "EAUDIT", "nothing was done: the audit log cannot record it (%s)", errmsg);
    else
        say(o, "warning: the audit log could not record this: %s\n", errmsg);
}

/* Move o into res. */
static int finish(const adm_request *rq, out *o, adm_result *res)
{
    memset(res, 0, sizeof *res);
    res->id = rq->id;
    res->ok = !o->failed;
    snprintf(res->error, sizeof res->error, "%s", o->failed ? o->error : "");
    int ret = 0;
    if (buf_len(&o->text) > 0) {
        res->text = malloc(buf_len(&o->text) + 1);
        if (res->text) {
            memcpy(res->text, buf_data(&o->text), buf_len(&o->text));
            res->text[buf_len(&o->text)] = '\0';
        } else {
            ret = BANTER_ENOMEM;
        }
    }
    if (!o->failed && o->data) {
        res->data = cJSON_PrintUnformatted(o->data);
        ret = res->data ? ret : BANTER_ENOMEM;
    }
    buf_free(&o->text);
    cJSON_Delete(o->data);
    o->data = NULL;
    scratch_clear(&o->s);
    if (ret)
        adm_result_clear(res);
    return ret;
}

/* An out to fill: 0, or BANTER_ENOMEM. */
static int out_init(out *o, bool data)
{
    memset(o, 0, sizeof *o);
    buf_init(&o->text, ADM_MAX_TEXT);
    o->data = data ? cJSON_CreateObject() : NULL;
    return data && !o->data ? BANTER_ENOMEM : 0;
}

static void nomem_check(out *o)
{
    if (o->nomem && !o->failed)
        (void)fail(o, "ENOMEM", "out of memory");
}

/*
 * A request in three steps, one job of the database thread in the middle,
 * so that every request is answered, and audited, in the order it came:
 *   first  (loop) the before half, or else the live half of a command
 *          that has no database half;
 *   db     (database thread) the database half, then the audit entry,
 *          which says how the command went (a live half after it only
 *          formats what the database half found, or runs out of memory);
 *   last   (loop) the live half of a command split in two.
 * A refusal (o->failed on entry) runs neither half and is audited.
 */
static void step_first(const acct_ctx *x, const adm_request *rq, out *o)
{
    if (!o->failed && handlers[rq->cmd].before)
        (void)handlers[rq->cmd].before(x, rq, o);
    else if (!o->failed && !handlers[rq->cmd].work && handlers[rq->cmd].live && !audit_first(rq))
        (void)handlers[rq->cmd].live(x, rq, o);
}

static void step_db(const acct_ctx *x, const adm_request *rq, out *o, char *errmsg, size_t cap)
{
    if (!o->failed && handlers[rq->cmd].work)
        (void)handlers[rq->cmd].work(x, rq, o);
    nomem_check(o);
    audit(x, rq, o, errmsg, cap);
}

/* true when a command recorded first failed in its live half: its
 * failure is to be recorded too. */
static bool step_last(const acct_ctx *x, const adm_request *rq, out *o)
{
    bool first = audit_first(rq) && !o->failed;
    if (!o->failed && handlers[rq->cmd].live && (handlers[rq->cmd].work || first))
        (void)handlers[rq->cmd].live(x, rq, o);
    nomem_check(o);
    return first && o->failed;
}

/* Record the failure of a command recorded first (its "accepted" entry
 * is in the log); when the server runs, through the database thread. */
struct followup {
    core *k;
    const identity *id;
    int64_t now_ms;
    const char *wire;
    char actor[ACCT_ACTOR_MAX];
    char target[DB_AUDIT_TEXT], result[DB_AUDIT_TEXT];
};

static int followup_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct followup *f = arg;
    int r = db_audit_append(d, f->id, f->now_ms, f->actor, f->wire, f->target, f->result, NULL);
    if (r)
        snprintf(errmsg, DBQ_ERRMSG_LEN, "%s", r == BANTER_EDB ? db_errmsg(d) : banter_strerror(r));
    return r;
}

static void followup_after(void *arg, int ret, const char *errmsg)
{
    struct followup *f = arg;
    if (ret)
        core_log(f->k, "cannot append to the audit log: %s", errmsg);
    free(f);
}

static void audit_failure(const acct_ctx *x, const adm_request *rq, const out *o)
{
    struct followup *f = calloc(1, sizeof *f);
    if (!f) {
        if (x->k)
            core_log(x->k, "cannot append to the audit log: out of memory");
        return;
    }
    f->k = x->k;
    f->id = x->id;
    f->now_ms = x->now_ms;
    f->wire = adm_cmd_get(rq->cmd)->wire;
    snprintf(f->actor, sizeof f->actor, "%s", x->actor);
    audit_texts(rq, o, "ok", f->target, f->result);
    char why[DBQ_ERRMSG_LEN] = "";
    int r = x->d   ? followup_work(x->d, f, why)
            : x->k ? core_job(x->k, followup_work, followup_after, f)
                   : BANTER_ESTATE;
    if (r == 0 && !x->d)
        return; /* the job frees f */
    if (r && x->k)
        core_log(x->k, "cannot append to the audit log: %s", why[0] ? why : banter_strerror(r));
    free(f);
}

int acct_exec(const acct_ctx *x, const adm_request *rq, adm_result *res)
{
    out o;
    char why[DBQ_ERRMSG_LEN] = "";
    if ((unsigned)rq->cmd >= ADM_CMD_COUNT)
        return BANTER_ENOMEM;
    if (out_init(&o, true) != 0) {
        buf_free(&o.text);
        return BANTER_ENOMEM;
    }
    acct_ctx live = *x;
    live.d = NULL; /* the live halves as on the server: no database */
    step_first(&live, rq, &o);
    step_db(x, rq, &o, why, sizeof why);
    if (why[0] && x->k)
        core_log(x->k, "cannot append to the audit log: %s", why);
    if (step_last(&live, rq, &o))
        audit_failure(x, rq, &o);
    return finish(rq, &o, res);
}

int acct_refuse(const acct_ctx *x, const adm_request *rq, adm_result *res, const char *code,
                const char *text)
{
    out o;
    char why[DBQ_ERRMSG_LEN] = "";
    (void)out_init(&o, false);
    (void)fail(&o, code, "%s", text);
    audit(x, rq, &o, why, sizeof why);
    if (why[0] && x->k)
        core_log(x->k, "cannot append to the audit log: %s", why);
    return finish(rq, &o, res);
}

/* ---- through the database thread ---- */

/* One request on its way: one job (see the steps above). */
typedef struct ajob {
    acct_ctx x;
    adm_request rq;
    out o;
    char actor[ACCT_ACTOR_MAX];
    acct_done_fn done;
    void *arg;
} ajob;

static int job_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    ajob *j = arg;
    acct_ctx x = j->x;
    x.d = d;
    step_db(&x, &j->rq, &j->o, errmsg, DBQ_ERRMSG_LEN);
    return 0;
}

static void job_after(void *arg, int ret, const char *errmsg)
{
    ajob *j = arg;
    adm_result res;
    (void)ret;
    if (errmsg[0])
        core_log(j->x.k, "cannot append to the audit log: %s", errmsg);
    if (step_last(&j->x, &j->rq, &j->o))
        audit_failure(&j->x, &j->rq, &j->o);
    int r = finish(&j->rq, &j->o, &res);
    j->done(j->arg, r, r ? NULL : &res);
    if (r == 0)
        adm_result_clear(&res);
    adm_request_clear(&j->rq);
    free(j);
}

int acct_submit(core *k, const char *actor, const adm_request *rq, const char *code,
                const char *text, acct_done_fn done, void *arg)
{
    if ((unsigned)rq->cmd >= ADM_CMD_COUNT)
        return BANTER_EINVAL;
    if (!k->dbq)
        return BANTER_ESTATE; /* stopping: before a live half changes anything */
    ajob *j = calloc(1, sizeof *j);
    if (!j)
        return BANTER_ENOMEM;
    int r = out_init(&j->o, !code);
    if (r == 0) {
        j->rq = *rq;
        snprintf(j->actor, sizeof j->actor, "%s", actor);
        j->x = (acct_ctx){.id = k->id, .k = k, .actor = j->actor, .now_ms = core_wall_ms()};
        j->done = done;
        j->arg = arg;
        if (code)
            (void)fail(&j->o, code, "%s", text);
        step_first(&j->x, &j->rq, &j->o);
        r = core_job(k, job_work, job_after, j);
    }
    if (r) {
        buf_free(&j->o.text);
        cJSON_Delete(j->o.data);
        scratch_clear(&j->o.s);
        adm_request_clear(&j->rq);
        free(j);
    }
    return r;
}
