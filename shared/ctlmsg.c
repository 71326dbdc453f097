/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* memmem */
/* ctlmsg.c - the control protocol's requests, replies and events (see ctlmsg.h). */
#include "ctlmsg.h"

#include <cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcrypto.h"
#include "cert.h"
#include "jsonv.h"
#include "links.h"
#include "utf8.h"

/* ---- the request table: the one place a request is described ---- */

typedef enum ftype {
    FT_PEER,     /* char[]: a peer (name, @account, fingerprint prefix) */
    FT_TEXT,     /* ctl_text: message text, min..max bytes of UTF-8 */
    FT_INT,      /* int64_t in min..max; def when absent */
    FT_BOOL,     /* bool; false when absent */
    FT_PATHS,    /* struct ctl_send_file: min..max absolute paths */
    FT_PATH,     /* ctl_text: an absolute path of min..max bytes */
    FT_XID,      /* char[]: min..max hex digits */
    FT_ACCOUNT,  /* char[]: an account name */
    FT_PASSWORD, /* char[]: min..max bytes; never quoted */
    FT_PFIELD,   /* rv_field: a profile field */
    FT_PVALUE,   /* ctl_text: min..max bytes of UTF-8 (the field's own rules: check_profile) */
    FT_CRITERIA, /* struct ctl_search: min..max criteria */
    FT_OP,       /* rv_op */
    FT_PRESENCE, /* rv_presence, not offline */
    FT_LINE,     /* char[]: min..max bytes of UTF-8 without control characters */
    FT_SETTINGS, /* struct ctl_settings_set */
    FT_MEMBERS,  /* struct ctl_group: min..max strings, each 1..BANTER_CTL_MAX_PEER plain */
} ftype;

struct fspec {
    const char *name;
    ftype type;
    bool required;
    int64_t min, max, def;
    size_t off, size; /* the member of ctl_request it fills, and its size */
    const char *what; /* FT_INT: the unit, for people */
};

#define AT(m) offsetof(ctl_request, m), sizeof(((ctl_request *)0)->m)
#define PEER(m)                                                                                    \
    {                                                                                              \
        "peer", FT_PEER, true, 1, BANTER_CTL_MAX_PEER, 0, AT(m), NULL                              \
    }
#define MSGTEXT(m)                                                                                 \
    {                                                                                              \
        "text", FT_TEXT, true, 1, BANTER_MAX_BODY, 0, AT(m), NULL                                  \
    }
#define XID(m)                                                                                     \
    {                                                                                              \
        "id", FT_XID, true, 1, 2 * CTL_ID_LEN, 0, AT(m), NULL                                      \
    }

static const struct fspec f_send[] = {
    PEER(u.send.peer),
    MSGTEXT(u.send.text),
    {"wait", FT_INT, false, 0, BANTER_CTL_MAX_WAIT_MS, 0, AT(u.send.wait_ms), "milliseconds"},
    {"wait_offline", FT_BOOL, false, 0, 0, 0, AT(u.send.wait_offline), NULL},
};
static const struct fspec f_broadcast[] = {MSGTEXT(u.broadcast.text)};
static const struct fspec f_history[] = {
    PEER(u.history.peer),
    {"limit", FT_INT, false, 1, BANTER_CTL_MAX_HISTORY, 50, AT(u.history.limit), "messages"},
    {"before", FT_INT, false, 0, JSONV_INT_MAX, 0, AT(u.history.before), "a seq; 0: the newest"},
};
static const struct fspec f_verify[] = {PEER(u.verify.peer)};
static const struct fspec f_doctor[] = {
    {"peer", FT_PEER, false, 1, BANTER_CTL_MAX_PEER, 0, AT(u.doctor.peer), NULL},
};
static const struct fspec f_send_file[] = {
    PEER(u.send_file.peer),
    {"paths", FT_PATHS, true, 1, BANTER_CTL_MAX_PATHS, 0, AT(u.send_file), NULL},
    {"follow", FT_BOOL, false, 0, 0, 0, AT(u.send_file.follow), NULL},
};
static const struct fspec f_accept[] = {
    XID(u.xfer.id),
    {"to", FT_PATH, false, 1, BANTER_CTL_MAX_ABS_PATH, 0, AT(u.xfer.to), NULL},
};
static const struct fspec f_xfer[] = {XID(u.xfer.id)};
static const struct fspec f_transfers[] = {
    {"limit", FT_INT, false, 1, 1000, 50, AT(u.transfers.limit), "transfers"},
    {"before", FT_XID, false, 2 * CTL_ID_LEN, 2 * CTL_ID_LEN, 0, AT(u.transfers.before), NULL},
};
static const struct fspec f_settings[] = {
    {"settings", FT_SETTINGS, true, 0, 0, 0, AT(u.settings), NULL},
};
static const struct fspec f_login[] = {
    {"user", FT_ACCOUNT, true, 1, BANTER_MAX_NAME, 0, AT(u.login.user), NULL},
    {"password", FT_PASSWORD, true, 1, RV_PASSWORD_MAX, 0, AT(u.login.password), NULL},
};
static const struct fspec f_profile[] = {
    {"field", FT_PFIELD, true, 0, 0, 0, AT(u.profile.field), NULL},
    {"value", FT_PVALUE, true, 0, RV_VALUE_MAX, 0, AT(u.profile.value), NULL},
};
static const struct fspec f_search[] = {
    {"criteria", FT_CRITERIA, true, 1, RV_SEARCH_MAX, 0, AT(u.search), NULL},
    {"page", FT_INT, false, 0, RV_PAGE_MAX, 0, AT(u.search.page), "from 0"},
    {"per_page", FT_INT, false, 1, RV_PER_PAGE_MAX, 20, AT(u.search.per_page), "users"},
};
static const struct fspec f_contact[] = {
    {"op", FT_OP, true, 0, 0, 0, AT(u.contact.op), NULL},
    {"user", FT_ACCOUNT, true, 1, BANTER_MAX_NAME, 0, AT(u.contact.user), NULL},
};
static const struct fspec f_status[] = {
    {"status", FT_PRESENCE, true, 0, 0, 0, AT(u.status.status), NULL},
    {"text", FT_LINE, false, 0, RV_TEXT_MAX, 0, AT(u.status.text), NULL},
};
static const struct fspec f_org_broadcast[] = {
    MSGTEXT(u.org_broadcast.text),
    {"department", FT_LINE, false, 0, 64, 0, AT(u.org_broadcast.department), NULL},
};

static const struct fspec f_plugins[] = {
    {"action", FT_LINE, false, 0, 7, 0, AT(u.plugins.action), NULL},
    {"name", FT_LINE, false, 0, CTL_PLUGIN_NAME_MAX, 0, AT(u.plugins.name), NULL},
};
#define GROUP(m)                                                                                   \
    {                                                                                              \
        "group", FT_LINE, true, 1, BANTER_CTL_MAX_PEER, 0, AT(m), NULL                             \
    }
#define GNAME(m)                                                                                   \
    {                                                                                              \
        "name", FT_LINE, true, 1, BANTER_MAX_NAME, 0, AT(m), NULL                                  \
    }
#define GMEMBER(m)                                                                                 \
    {                                                                                              \
        "member", FT_PEER, true, 1, BANTER_CTL_MAX_PEER, 0, AT(m), NULL                            \
    }
static const struct fspec f_group[] = {GROUP(u.group.group)};
static const struct fspec f_group_create[] = {
    GNAME(u.group.name),
    {"members", FT_MEMBERS, false, 0, CTL_MAX_GROUP_MEMBERS, 0, AT(u.group), NULL},
};
static const struct fspec f_group_invite[] = {
    GROUP(u.group.group),
    {"members", FT_MEMBERS, true, 1, CTL_MAX_GROUP_MEMBERS, 0, AT(u.group), NULL},
};
static const struct fspec f_group_member[] = {GROUP(u.group.group), GMEMBER(u.group.member)};
static const struct fspec f_group_rename[] = {GROUP(u.group.group), GNAME(u.group.name)};
static const struct fspec f_group_admin[] = {
    GROUP(u.group.group),
    GMEMBER(u.group.member),
    {"admin", FT_BOOL, true, 0, 0, 0, AT(u.group.admin), NULL},
};
static const struct fspec f_group_send[] = {GROUP(u.group.group), MSGTEXT(u.group.text)};
static const struct fspec f_group_history[] = {
    GROUP(u.group.group),
    {"limit", FT_INT, false, 1, CTL_MAX_GROUP_PAGE, 50, AT(u.group.limit), "messages"},
};
static const struct fspec f_find[] = {
    {"text", FT_LINE, true, 1, CTL_MAX_FIND, 0, AT(u.find.text), NULL},
    {"limit", FT_INT, false, 1, CTL_MAX_GROUP_PAGE, 20, AT(u.find.limit), "messages"},
    {"before", FT_INT, false, 0, JSONV_INT_MAX, 0, AT(u.find.before), "a seq; 0: the newest"},
};

static const struct fspec f_announcements[] = {
    {"limit", FT_INT, false, 1, CTL_MAX_ANNOUNCEMENTS, 50, AT(u.ann.limit), "announcements"},
    {"unread", FT_BOOL, false, 0, 0, 0, AT(u.ann.unread), NULL},
};
static const struct fspec f_announcement_read[] = {
    {"id", FT_INT, true, 1, JSONV_INT_MAX, 0, AT(u.ann.id), "an announcement's id"},
};

static int check_profile(ctl_request *q, char *why, size_t cap);
static int check_plugins(ctl_request *q, char *why, size_t cap);

#define IDLE    CTL_F_IDLE
#define WAITS   CTL_F_WAITS
#define RDV     CTL_F_RDV
#define SECRET  CTL_F_SECRET
#define ARGS(a) a, sizeof a / sizeof a[0]
#define NO_ARGS NULL, 0

/* Every request. CTL_F_IDLE on all: today a client has at most one
 * request in flight, whatever it is (docs/control.md). */
static const struct kspec {
    const char *name;
    unsigned flags;
    const struct fspec *f;
    size_t nf;
    int (*check)(ctl_request *q, char *why, size_t cap); /* rules across arguments */
} kinds[CTL_KIND_COUNT] = {
    [CTL_ID] = {"id", IDLE, NO_ARGS, NULL},
    [CTL_PEERS] = {"peers", IDLE, NO_ARGS, NULL},
    [CTL_SEND] = {"send", IDLE | WAITS, ARGS(f_send), NULL},
    [CTL_BROADCAST] = {"broadcast", IDLE, ARGS(f_broadcast), NULL},
    [CTL_HISTORY] = {"history", IDLE, ARGS(f_history), NULL},
    [CTL_VERIFY] = {"verify", IDLE, ARGS(f_verify), NULL},
    [CTL_LISTEN] = {"listen", IDLE, NO_ARGS, NULL},
    [CTL_SEND_FILE] = {"send_file", IDLE | WAITS, ARGS(f_send_file), NULL},
    [CTL_TRANSFERS] = {"transfers", IDLE, ARGS(f_transfers), NULL},
    [CTL_ACCEPT] = {"accept", IDLE, ARGS(f_accept), NULL},
    [CTL_DECLINE] = {"decline", IDLE, ARGS(f_xfer), NULL},
    [CTL_CANCEL] = {"cancel", IDLE, ARGS(f_xfer), NULL},
    [CTL_SETTINGS_GET] = {"settings_get", IDLE, NO_ARGS, NULL},
    [CTL_SETTINGS_SET] = {"settings_set", IDLE, ARGS(f_settings), NULL},
    [CTL_WEB] = {"web", IDLE, NO_ARGS, NULL},
    [CTL_RENDEZVOUS] = {"rendezvous", IDLE, NO_ARGS, NULL},
    [CTL_LOGIN] = {"login", IDLE | WAITS | RDV | SECRET, ARGS(f_login), NULL},
    [CTL_LOGOUT] = {"logout", IDLE | WAITS | RDV, NO_ARGS, NULL},
    [CTL_PROFILE_SET] = {"profile_set", IDLE | WAITS | RDV, ARGS(f_profile), check_profile},
    [CTL_SEARCH] = {"search", IDLE | WAITS | RDV, ARGS(f_search), NULL},
    [CTL_CONTACTS] = {"contacts", IDLE | RDV, NO_ARGS, NULL},
    [CTL_REQUESTS] = {"requests", IDLE | RDV, NO_ARGS, NULL},
    [CTL_CONTACT] = {"contact", IDLE | WAITS | RDV, ARGS(f_contact), NULL},
    [CTL_STATUS] = {"status", IDLE | WAITS | RDV, ARGS(f_status), NULL},
    [CTL_ORG_BROADCAST] = {"org_broadcast", IDLE | WAITS | RDV, ARGS(f_org_broadcast), NULL},
    [CTL_PLUGINS] = {"plugins", IDLE, ARGS(f_plugins), check_plugins},
    [CTL_GROUPS] = {"groups", IDLE, NO_ARGS, NULL},
    [CTL_GROUP_CREATE] = {"group_create", IDLE, ARGS(f_group_create), NULL},
    [CTL_GROUP_INVITE] = {"group_invite", IDLE, ARGS(f_group_invite), NULL},
    [CTL_GROUP_REMOVE] = {"group_remove", IDLE, ARGS(f_group_member), NULL},
    [CTL_GROUP_LEAVE] = {"group_leave", IDLE, ARGS(f_group), NULL},
    [CTL_GROUP_RENAME] = {"group_rename", IDLE, ARGS(f_group_rename), NULL},
    [CTL_GROUP_ADMIN] = {"group_admin", IDLE, ARGS(f_group_admin), NULL},
    [CTL_GROUP_MEMBERS] = {"group_members", IDLE, ARGS(f_group), NULL},
    [CTL_GROUP_SEND] = {"group_send", IDLE, ARGS(f_group_send), NULL},
    [CTL_GROUP_HISTORY] = {"group_history", IDLE, ARGS(f_group_history), NULL},
    [CTL_GROUP_READ] = {"group_read", IDLE, ARGS(f_group), NULL},
    [CTL_GROUP_DELETE] = {"group_delete", IDLE, ARGS(f_group), NULL},
    [CTL_FIND] = {"find", IDLE, ARGS(f_find), NULL},
    [CTL_NAT_CHECK] = {"nat_check", IDLE | WAITS, NO_ARGS, NULL},
    [CTL_ANNOUNCEMENTS] = {"announcements", IDLE, ARGS(f_announcements), NULL},
    [CTL_ANNOUNCEMENT_READ] = {"announcement_read", IDLE, ARGS(f_announcement_read), NULL},
    [CTL_DOCTOR] = {"doctor", IDLE | WAITS, ARGS(f_doctor), NULL},
};

const char *ctl_kind_name(ctl_kind k) { return (unsigned)k < CTL_KIND_COUNT ? kinds[k].name : "?"; }

unsigned ctl_kind_flags(ctl_kind k) { return (unsigned)k < CTL_KIND_COUNT ? kinds[k].flags : 0; }

int ctl_kind_parse(const char *name, ctl_kind *out)
{
    for (int k = 0; k < CTL_KIND_COUNT; k++) {
        if (strcmp(kinds[k].name, name) == 0) {
            *out = (ctl_kind)k;
            return 0;
        }
    }
    return BANTER_EBADTYPE;
}

static const char *const theme_names[CTL_THEME_COUNT] = {"system", "light", "dark"};

/* ---- decoding ---- */

__attribute__((format(printf, 4, 5))) static int fail(int code, char *why, size_t cap,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (cap)
        vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return code;
}

/* A value for an error message: quoted when a string, else what it is. */
static void describe(const cJSON *v, char out[static UTF8_QUOTE_CAP])
{
    if (cJSON_IsString(v))
        utf8_quote(out, v->valuestring, strlen(v->valuestring));
    else if (cJSON_IsRaw(v)) /* a number's text: digits, sign, '.', 'e' only */
        snprintf(out, UTF8_QUOTE_CAP, "%.80s", v->valuestring);
    else
        snprintf(out, UTF8_QUOTE_CAP, "%s",
                 cJSON_IsTrue(v)    ? "true"
                 : cJSON_IsFalse(v) ? "false"
                 : cJSON_IsNull(v)  ? "null"
                 : cJSON_IsArray(v) ? "an array"
                                    : "an object");
}

static void *field_at(ctl_request *q, const struct fspec *f) { return (char *)q + f->off; }

/* A string into a char array: min..max bytes (and below the array's size)
 * of UTF-8, without control characters when plain. */
static int get_chars(const struct fspec *f, const cJSON *v, char *dst, bool plain)
{
    if (!cJSON_IsString(v))
        return BANTER_EINVAL;
    size_t n = strlen(v->valuestring);
    if (n < (size_t)f->min || n > (size_t)f->max || n >= f->size ||
        !utf8_valid(v->valuestring, n) || (plain && !jsonv_plain(v->valuestring)))
        return BANTER_EINVAL;
    memcpy(dst, v->valuestring, n + 1);
    return 0;
}

/* A string into an owned ctl_text of min..max bytes of UTF-8. */
static int get_text(const cJSON *v, size_t min, size_t max, int too_long, ctl_text *t)
{
    if (!cJSON_IsString(v))
        return BANTER_EINVAL;
    size_t n = strlen(v->valuestring);
    if (n > max)
        return too_long;
    if (n < min || !utf8_valid(v->valuestring, n))
        return n < min ? BANTER_EINVAL : BANTER_EUTF8;
    t->s = malloc(n + 1);
    if (!t->s)
        return BANTER_ENOMEM;
    memcpy(t->s, v->valuestring, n + 1);
    t->len = n;
    return 0;
}

static bool is_xdigit(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int get_members(const struct fspec *f, const cJSON *v, struct ctl_group *g)
{
    const cJSON *it;
    int k = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
    if (k < f->min || k > f->max)
        return BANTER_EINVAL;
    cJSON_ArrayForEach (it, v) {
        size_t n = cJSON_IsString(it) ? strlen(it->valuestring) : 0;
        if (n == 0 || n > BANTER_CTL_MAX_PEER || !utf8_valid(it->valuestring, n) ||
            !jsonv_plain(it->valuestring))
            return BANTER_EINVAL;
        memcpy(g->members[g->nmembers++], it->valuestring, n + 1);
    }
    return 0;
}

static int get_paths(const struct fspec *f, const cJSON *v, struct ctl_send_file *sf)
{
    const cJSON *it;
    int k = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
    if (k < f->min || k > f->max)
        return BANTER_EINVAL;
    sf->paths = calloc((size_t)k, sizeof *sf->paths);
    if (!sf->paths)
        return BANTER_ENOMEM;
    cJSON_ArrayForEach (it, v) {
        ctl_text *t = &sf->paths[sf->npaths];
        int r = get_text(it, 1, BANTER_CTL_MAX_ABS_PATH, BANTER_EINVAL, t);
        if (r)
            return r;
        sf->npaths++;
        if (t->s[0] != '/')
            return BANTER_EINVAL;
    }
    return 0;
}

/* "FIELD=VALUE" (exact) or "FIELD~VALUE" (contains), as banter search
 * takes them; why quotes the criterion. */
static int parse_criterion(const char *s, struct rv_criterion *c, char *why, size_t cap)
{
    char q[UTF8_QUOTE_CAP], field[32];
    const char *op = strpbrk(s, "=~");
    utf8_quote(q, s, strlen(s));
    if (!op)
        return fail(BANTER_EINVAL, why, cap,
                    "%s: expected FIELD=VALUE (exact) or FIELD~SUBSTRING (contains)", q);
    size_t fl = (size_t)(op - s), vl = strlen(op + 1);
    if (fl < sizeof field) {
        memcpy(field, s, fl);
        field[fl] = '\0';
    }
    if (fl >= sizeof field || rv_field_parse(field, &c->field) != 0)
        return fail(BANTER_EINVAL, why, cap,
                    "%s: unknown field (fields: user, display_name, department, title, email, "
                    "phone, location, about)",
                    q);
    if (vl == 0 || vl >= sizeof c->value || !utf8_valid(op + 1, vl) || !jsonv_plain(op + 1))
        return fail(BANTER_EINVAL, why, cap,
                    "%s: the value must be 1 to %zu bytes of UTF-8 without control characters", q,
                    sizeof c->value - 1);
    c->contains = *op == '~';
    memcpy(c->value, op + 1, vl + 1);
    return 0;
}

static int get_criteria(const struct fspec *f, const cJSON *v, struct ctl_search *s, char *why,
                        size_t cap)
{
    const cJSON *it;
    int k = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
    if (k < f->min || k > f->max)
        return BANTER_EINVAL;
    cJSON_ArrayForEach (it, v) {
        if (!cJSON_IsString(it))
            return BANTER_EINVAL;
        int r = parse_criterion(it->valuestring, &s->c[s->n], why, cap);
        if (r)
            return r;
        s->n++;
    }
    return 0;
}

/* One name of names[0..count) (a string), its index in *out. */
static int get_name_of(const cJSON *v, const char *const *names, int count, int *out)
{
    if (!cJSON_IsString(v))
        return BANTER_EINVAL;
    for (int i = 0; i < count; i++) {
        if (strcmp(names[i], v->valuestring) == 0) {
            *out = i;
            return 0;
        }
    }
    return BANTER_EINVAL;
}

static bool read_key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > BANTER_CTL_MAX_READ_KEY)
        return false;
    for (const char *p = k; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            return false;
    return true;
}

static int get_read(const cJSON *v, struct ctl_settings_set *s, char *why, size_t cap)
{
    const cJSON *m;
    if (!cJSON_IsObject(v))
        return fail(BANTER_EINVAL, why, cap,
                    "\"read\" must be an object of conversation: milliseconds");
    if (jsonv_members(v) != 0)
        return fail(BANTER_EINVAL, why, cap, "\"read\": at most %u marks at once, each key once",
                    BANTER_CTL_MAX_READ_SET);
    cJSON_ArrayForEach (m, v) {
        struct ctl_read_mark *rm = &s->read[s->nread];
        if (!read_key_ok(m->string) ||
            (!cJSON_IsNull(m) && jsonv_int_value(m, 0, JSONV_INT_MAX, &rm->ts) != 0))
            return fail(BANTER_EINVAL, why, cap,
                        "\"read\": each key must be 1..80 printable ASCII bytes and each "
                        "value milliseconds since the epoch (0 to 2^53) or null");
        memcpy(rm->key, m->string, strlen(m->string) + 1);
        rm->remove = cJSON_IsNull(m);
        s->nread++;
    }
    return 0;
}

/* One key of "settings"; why names what is wrong. */
static int get_setting(const cJSON *m, struct ctl_settings_set *s, char *why, size_t cap)
{
    const char *k = m->string;
    int i = 0;
    if (strcmp(k, "theme") == 0) {
        s->has |= CTL_SET_THEME;
        if (get_name_of(m, theme_names, CTL_THEME_COUNT, &i) == 0) {
            s->theme = (ctl_theme)i;
            return 0;
        }
        return fail(BANTER_EINVAL, why, cap, "\"theme\" must be \"system\", \"light\" or \"dark\"");
    }
    if (strcmp(k, "font_size") == 0) {
        s->has |= CTL_SET_FONT_SIZE;
        if (jsonv_int_value(m, CTL_FONT_MIN, CTL_FONT_MAX, &s->font_size) == 0)
            return 0;
        return fail(BANTER_EINVAL, why, cap, "\"font_size\" must be a whole number from %d to %d",
                    CTL_FONT_MIN, CTL_FONT_MAX);
    }
    if (strcmp(k, "sound") == 0 || strcmp(k, "notify") == 0) {
        s->has |= k[0] == 's' ? CTL_SET_SOUND : CTL_SET_NOTIFY;
        *(k[0] == 's' ? &s->sound : &s->notify) = cJSON_IsTrue(m);
        return cJSON_IsBool(m) ? 0
                               : fail(BANTER_EINVAL, why, cap, "\"%s\" must be true or false", k);
    }
    if (strcmp(k, "read") == 0) {
        s->has |= CTL_SET_READ;
        return get_read(m, s, why, cap);
    }
    char q[UTF8_QUOTE_CAP];
    utf8_quote(q, k, strlen(k));
    return fail(BANTER_EINVAL, why, cap,
                "unknown setting %s (theme, font_size, sound, notify, read)", q);
}

static int get_settings(const cJSON *v, struct ctl_settings_set *s, char *why, size_t cap)
{
    const cJSON *m;
    if (!cJSON_IsObject(v) || jsonv_members(v) != 0)
        return fail(BANTER_EINVAL, why, cap, "\"settings\" must be an object, each key once");
    cJSON_ArrayForEach (m, v) {
        int r = get_setting(m, s, why, cap);
        if (r)
            return r;
    }
    return 0;
}

/* Decode one present member; a failure may leave why empty (then the
 * caller says what the argument must be). */
static int get_field(const struct fspec *f, const cJSON *v, ctl_request *q, char *why, size_t cap)
{
    void *dst = field_at(q, f);
    int r;
    switch (f->type) {
    case FT_PEER:
    case FT_LINE:
        return get_chars(f, v, dst, true);
    case FT_TEXT:
        return get_text(v, (size_t)f->min, (size_t)f->max, BANTER_ETOOLONG, dst);
    case FT_INT:
        return jsonv_int_value(v, f->min, f->max, dst) ? BANTER_EINVAL : 0;
    case FT_BOOL:
        *(bool *)dst = cJSON_IsTrue(v);
        return cJSON_IsBool(v) ? 0 : BANTER_EINVAL;
    case FT_PATHS:
        return get_paths(f, v, dst);
    case FT_PATH:
        r = get_text(v, (size_t)f->min, (size_t)f->max, BANTER_EINVAL, dst);
        return r ? r : ((ctl_text *)dst)->s[0] == '/' ? 0 : BANTER_EINVAL;
    case FT_XID:
        r = get_chars(f, v, dst, true);
        for (const char *p = dst; !r && *p; p++)
            r = is_xdigit(*p) ? 0 : BANTER_EINVAL;
        return r;
    case FT_ACCOUNT:
        r = get_chars(f, v, dst, true);
        return r ? r : cert_name_valid(dst) ? 0 : BANTER_EINVAL;
    case FT_PASSWORD:
        return get_chars(f, v, dst, false);
    case FT_PFIELD:
        r = cJSON_IsString(v) ? rv_field_parse(v->valuestring, dst) : BANTER_EINVAL;
        return r || *(rv_field *)dst == RV_F_COUNT ? BANTER_EINVAL : 0;
    case FT_PVALUE:
        return get_text(v, (size_t)f->min, (size_t)f->max, BANTER_EINVAL, dst);
    case FT_CRITERIA:
        return get_criteria(f, v, dst, why, cap);
    case FT_OP:
        r = cJSON_IsString(v) ? rv_op_parse(v->valuestring, dst) : BANTER_EINVAL;
        return r ? BANTER_EINVAL : 0;
    case FT_PRESENCE:
        r = cJSON_IsString(v) ? rv_presence_parse(v->valuestring, dst) : BANTER_EINVAL;
        return r || *(rv_presence *)dst == RV_P_OFFLINE ? BANTER_EINVAL : 0;
    case FT_MEMBERS:
        return get_members(f, v, dst);
    default: /* FT_SETTINGS */
        return get_settings(v, dst, why, cap);
    }
}

/* What an argument must be, for people. */
static void rule(const struct fspec *f, char *out, size_t cap)
{
    static const char *const fixed[] = {
        [FT_PEER] = "a name, @account or a fingerprint prefix (1 to 128 bytes of text on one "
                    "line)",
        [FT_BOOL] = "true or false",
        [FT_PATHS] = "an array of 1 to 256 absolute paths (strings starting with /, under 4096 "
                     "bytes)",
        [FT_PATH] = "an absolute path (a string starting with /, under 4096 bytes)",
        [FT_XID] = "a transfer id or a unique prefix of one (1 to 32 hex digits)",
        [FT_ACCOUNT] = "an account name: 1 to 64 bytes of a-z, 0-9, '.', '_' and '-'",
        [FT_PASSWORD] = "a string of 1 to 1024 bytes",
        [FT_PFIELD] = "display_name, department, title, email, phone, location or about",
        [FT_PVALUE] = "a string of UTF-8 text (at most 512 bytes)",
        [FT_CRITERIA] = "an array of 1 to 8 strings, each FIELD=VALUE (exact) or FIELD~SUBSTRING "
                        "(contains)",
        [FT_OP] = "request, approve, deny, remove, block or unblock",
        [FT_PRESENCE] = "online, away, busy or invisible",
        [FT_SETTINGS] = "an object",
        [FT_MEMBERS] = "an array of at most 32 names, @accounts or keys (each 1 to 128 bytes of "
                       "text on one line)",
    };
    if (f->type == FT_INT)
        snprintf(out, cap, "a whole number from %lld to %lld (%s)", (long long)f->min,
                 (long long)f->max, f->what);
    else if (f->type == FT_TEXT)
        snprintf(out, cap, "a string of %lld to %lld bytes of UTF-8", (long long)f->min,
                 (long long)f->max);
    else if (f->type == FT_LINE)
        snprintf(out, cap, "at most %lld bytes of UTF-8 text on one line", (long long)f->max);
    else
        snprintf(out, cap, "%s", fixed[f->type]);
}

static int explain(int r, const struct ctl_request *q, const struct fspec *f, const cJSON *v,
                   char *why, size_t cap)
{
    char must[200], val[UTF8_QUOTE_CAP];
    if (r == BANTER_ENOMEM || (cap && why[0]))
        return r;
    rule(f, must, sizeof must);
    if (!v)
        return fail(r, why, cap, "%s needs \"%s\": %s", kinds[q->kind].name, f->name, must);
    if (f->type == FT_TEXT && r == BANTER_ETOOLONG)
        return fail(r, why, cap, "\"%s\" is too long (at most %lld bytes)", f->name,
                    (long long)f->max);
    if (f->type == FT_TEXT && cJSON_IsString(v) && !v->valuestring[0])
        return fail(r, why, cap, "\"%s\" is empty", f->name);
    /* Never quoted: a secret, a long text, or a list whose items are wrong. */
    if (f->type == FT_PASSWORD || f->type == FT_TEXT ||
        (cJSON_IsArray(v) && (f->type == FT_PATHS || f->type == FT_CRITERIA)))
        return fail(r, why, cap, "\"%s\" must be %s", f->name, must);
    describe(v, val);
    return fail(r, why, cap, "\"%s\" must be %s, not %s", f->name, must, val);
}

static int get_args(const cJSON *o, ctl_request *q, char *why, size_t cap)
{
    const struct kspec *k = &kinds[q->kind];
    for (size_t i = 0; i < k->nf; i++) {
        const struct fspec *f = &k->f[i];
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, f->name);
        int r = 0;
        if (cap)
            why[0] = '\0';
        if (f->type == FT_INT)
            *(int64_t *)field_at(q, f) = f->def;
        if (v)
            r = get_field(f, v, q, why, cap);
        else if (f->required)
            r = BANTER_EINVAL;
        if (r)
            return explain(r, q, f, v, why, cap);
    }
    return k->check ? k->check(q, why, cap) : 0;
}

/* The value's rules depend on the field: its length, and plain text
 * except for "about". */
/* plugins: "list" (or absent), or "enable"/"disable"/"restart" with a "name". */
static int check_plugins(ctl_request *q, char *why, size_t cap)
{
    const struct ctl_plugins_req *p = &q->u.plugins;
    if (!p->action[0] || strcmp(p->action, "list") == 0)
        return 0;
    if (strcmp(p->action, "enable") != 0 && strcmp(p->action, "disable") != 0 &&
        strcmp(p->action, "restart") != 0)
        return fail(BANTER_EINVAL, why, cap,
                    "\"action\" must be \"list\", \"enable\", \"disable\" or \"restart\"");
    if (!p->name[0])
        return fail(BANTER_EINVAL, why, cap, "%s needs \"name\": a plug-in's name", p->action);
    return 0;
}

static int check_profile(ctl_request *q, char *why, size_t cap)
{
    const struct ctl_profile_set *p = &q->u.profile;
    size_t max = rv_field_max(p->field);
    if (p->value.len <= max && rv_field_check(p->field, p->value.s ? p->value.s : "") == 0)
        return 0;
    return fail(BANTER_EINVAL, why, cap,
                "%s must be at most %zu bytes of UTF-8 without control characters%s",
                rv_field_name(p->field), max,
                p->field == RV_F_ABOUT ? " but newlines and tabs" : "");
}

static int get_cmd(const cJSON *o, ctl_request *q, char *why, size_t cap)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "cmd");
    char name[UTF8_QUOTE_CAP];
    if (!cJSON_IsString(c))
        return fail(BANTER_ESCHEMA, why, cap,
                    c ? "\"cmd\" must be a string" : "request has no \"cmd\"");
    if (ctl_kind_parse(c->valuestring, &q->kind) == 0)
        return 0;
    utf8_quote(name, c->valuestring, strlen(c->valuestring));
    return fail(BANTER_EBADTYPE, why, cap, "unknown command %s", name);
}

int ctlmsg_decode(ctl_request *q, const char *text, size_t len, char *why, size_t cap)
{
    cJSON *o = NULL;
    memset(q, 0, sizeof *q);
    if (cap)
        why[0] = '\0';
    int r = jsonv_parse_max(text, len, BANTER_CTL_MAX_LINE, &o);
    if (r == BANTER_ETOOBIG)
        return fail(r, why, cap, "request longer than %u bytes", BANTER_CTL_MAX_LINE);
    if (r == BANTER_EUTF8)
        return fail(r, why, cap, "request is not valid UTF-8");
    if (r == BANTER_ENOMEM)
        return fail(r, why, cap, "out of memory");
    if (r)
        return fail(BANTER_EJSON, why, cap,
                    "request is not a JSON object (one object per line, each member once, at "
                    "most %d members, nested at most %d levels)",
                    JSONV_MAX_MEMBERS, BANTER_MAX_JSON_DEPTH);
    r = get_cmd(o, q, why, cap);
    if (!r)
        r = get_args(o, q, why, cap);
    jsonv_delete_wiped(o); /* it may hold a password */
    if (r)
        ctl_request_clear(q);
    return r;
}

int ctlmsg_decode_ack(const char *text, size_t len, int64_t *n)
{
    cJSON *o = NULL;
    if (!memmem(text, len, "\"ack\"", 5)) /* most frames: requests, not parsed twice */
        return BANTER_EBADTYPE;
    int r = jsonv_parse_max(text, len, BANTER_CTL_MAX_LINE, &o);
    if (r == 0 &&
        (cJSON_GetObjectItemCaseSensitive(o, "cmd") || !cJSON_GetObjectItemCaseSensitive(o, "ack")))
        r = BANTER_EBADTYPE;
    if (r == 0)
        r = jsonv_int(o, "ack", 0, JSONV_INT_MAX, n);
    jsonv_delete_wiped(o); /* a request may hold a password */
    return r;
}

static void text_free(ctl_text *t)
{
    if (t->s) {
        bcrypto_wipe(t->s, t->len);
        free(t->s);
    }
}

void ctl_request_clear(ctl_request *q)
{
    if ((unsigned)q->kind < CTL_KIND_COUNT) {
        const struct kspec *k = &kinds[q->kind];
        for (size_t i = 0; i < k->nf; i++) {
            const struct fspec *f = &k->f[i];
            void *dst = field_at(q, f);
            if (f->type == FT_TEXT || f->type == FT_PATH || f->type == FT_PVALUE)
                text_free(dst);
            if (f->type == FT_PATHS) {
                struct ctl_send_file *sf = dst;
                for (size_t p = 0; sf->paths && p < sf->npaths; p++)
                    text_free(&sf->paths[p]);
                free(sf->paths);
            }
        }
    }
    bcrypto_wipe(q, sizeof *q);
}

/* ---- encoding requests ---- */

/* A char array member: NULL when it is not terminated within its size. */
static const char *chars_at(const ctl_request *q, const struct fspec *f)
{
    const char *s = (const char *)q + f->off;
    return memchr(s, '\0', f->size) ? s : NULL;
}

static int put_string(cJSON *o, const char *key, const char *s)
{
    if (!s)
        return BANTER_EINVAL;
    return cJSON_AddStringToObject(o, key, s) ? 0 : BANTER_ENOMEM;
}

/* A ctl_text: its length must be its string's (no NUL inside). */
static int put_text(cJSON *o, const char *key, const ctl_text *t, bool required)
{
    if (!t->s)
        return required ? BANTER_EINVAL : 0;
    return strlen(t->s) == t->len ? put_string(o, key, t->s) : BANTER_EINVAL;
}

static int put_settings(cJSON *o, const struct ctl_settings_set *s)
{
    cJSON *v = cJSON_AddObjectToObject(o, "settings");
    int r = v ? 0 : BANTER_ENOMEM;
    if (!r && (s->has & CTL_SET_THEME))
        r = put_string(v, "theme",
                       (unsigned)s->theme < CTL_THEME_COUNT ? theme_names[s->theme] : "?");
    if (!r && (s->has & CTL_SET_FONT_SIZE))
        r = jsonv_add_int(v, "font_size", s->font_size);
    if (!r && (s->has & CTL_SET_SOUND) && !cJSON_AddBoolToObject(v, "sound", s->sound))
        r = BANTER_ENOMEM;
    if (!r && (s->has & CTL_SET_NOTIFY) && !cJSON_AddBoolToObject(v, "notify", s->notify))
        r = BANTER_ENOMEM;
    if (r || !(s->has & CTL_SET_READ))
        return r;
    if (s->nread > BANTER_CTL_MAX_READ_SET)
        return BANTER_EINVAL;
    cJSON *rd = cJSON_AddObjectToObject(v, "read");
    if (!rd)
        return BANTER_ENOMEM;
    for (size_t i = 0; !r && i < s->nread; i++) {
        const struct ctl_read_mark *m = &s->read[i];
        if (!memchr(m->key, '\0', sizeof m->key))
            return BANTER_EINVAL;
        if (m->remove)
            r = cJSON_AddNullToObject(rd, m->key) ? 0 : BANTER_ENOMEM;
        else
            r = jsonv_add_int(rd, m->key, m->ts);
    }
    return r;
}

static int put_criteria(cJSON *o, const struct ctl_search *s)
{
    cJSON *a = cJSON_AddArrayToObject(o, "criteria");
    if (!a)
        return BANTER_ENOMEM;
    for (size_t i = 0; i < s->n && i < RV_SEARCH_MAX; i++) {
        const struct rv_criterion *c = &s->c[i];
        char text[32 + 1 + sizeof c->value];
        if (!memchr(c->value, '\0', sizeof c->value))
            return BANTER_EINVAL;
        snprintf(text, sizeof text, "%s%c%s", rv_field_name(c->field), c->contains ? '~' : '=',
                 c->value);
        cJSON *it = cJSON_CreateString(text);
        if (!it || !cJSON_AddItemToArray(a, it)) {
            cJSON_Delete(it);
            return BANTER_ENOMEM;
        }
    }
    return s->n > RV_SEARCH_MAX ? BANTER_EINVAL : 0;
}

static int put_paths(cJSON *o, const struct ctl_send_file *sf)
{
    cJSON *a = cJSON_AddArrayToObject(o, "paths");
    if (!a || (sf->npaths && !sf->paths))
        return a ? BANTER_EINVAL : BANTER_ENOMEM;
    for (size_t i = 0; i < sf->npaths && i <= BANTER_CTL_MAX_PATHS; i++) {
        const ctl_text *t = &sf->paths[i];
        if (!t->s || strlen(t->s) != t->len)
            return BANTER_EINVAL;
        cJSON *it = cJSON_CreateString(t->s);
        if (!it || !cJSON_AddItemToArray(a, it)) {
            cJSON_Delete(it);
            return BANTER_ENOMEM;
        }
    }
    return 0;
}

static int put_members(cJSON *o, const struct ctl_group *g, bool required)
{
    if (g->nmembers > CTL_MAX_GROUP_MEMBERS)
        return BANTER_EINVAL;
    if (g->nmembers == 0 && !required)
        return 0;
    cJSON *a = cJSON_AddArrayToObject(o, "members");
    if (!a)
        return BANTER_ENOMEM;
    for (size_t i = 0; i < g->nmembers; i++) {
        if (!memchr(g->members[i], '\0', sizeof g->members[i]))
            return BANTER_EINVAL;
        cJSON *it = cJSON_CreateString(g->members[i]);
        if (!it || !cJSON_AddItemToArray(a, it)) {
            cJSON_Delete(it);
            return BANTER_ENOMEM;
        }
    }
    return 0;
}

static int put_field(cJSON *o, const ctl_request *q, const struct fspec *f)
{
    const void *src = (const char *)q + f->off;
    int64_t v;
    switch (f->type) {
    case FT_PEER:
    case FT_XID:
    case FT_ACCOUNT:
    case FT_PASSWORD:
    case FT_LINE:
        if (!f->required && chars_at(q, f) && !chars_at(q, f)[0])
            return 0; /* "": the default */
        return put_string(o, f->name, chars_at(q, f));
    case FT_TEXT:
    case FT_PATH:
    case FT_PVALUE:
        return put_text(o, f->name, src, f->required);
    case FT_INT:
        memcpy(&v, src, sizeof v);
        return v == f->def && !f->required ? 0 : jsonv_add_int(o, f->name, v);
    case FT_BOOL: /* false is the default, unless it must be given */
        if (f->required)
            return cJSON_AddBoolToObject(o, f->name, *(const bool *)src) ? 0 : BANTER_ENOMEM;
        return !*(const bool *)src || cJSON_AddTrueToObject(o, f->name) ? 0 : BANTER_ENOMEM;
    case FT_MEMBERS:
        return put_members(o, src, f->required);
    case FT_PATHS:
        return put_paths(o, src);
    case FT_PFIELD:
        return put_string(o, f->name, rv_field_name(*(const rv_field *)src));
    case FT_CRITERIA:
        return put_criteria(o, src);
    case FT_OP:
        return put_string(o, f->name, rv_op_name(*(const rv_op *)src));
    case FT_PRESENCE:
        return put_string(o, f->name, rv_presence_name(*(const rv_presence *)src));
    default: /* FT_SETTINGS */
        return put_settings(o, src);
    }
}

int ctlmsg_encode_request(const ctl_request *q, buf *out, char *why, size_t cap)
{
    buf tmp;
    ctl_request check;
    if (cap)
        why[0] = '\0';
    if ((unsigned)q->kind >= CTL_KIND_COUNT)
        return fail(BANTER_EINVAL, why, cap, "no such request");
    cJSON *o = cJSON_CreateObject();
    int r = o && cJSON_AddStringToObject(o, "cmd", kinds[q->kind].name) ? 0 : BANTER_ENOMEM;
    for (size_t i = 0; !r && i < kinds[q->kind].nf; i++)
        r = put_field(o, q, &kinds[q->kind].f[i]);
    buf_init(&tmp, BANTER_CTL_MAX_LINE);
    if (!r)
        r = jsonv_print(o, BANTER_CTL_MAX_LINE, &tmp);
    jsonv_delete_wiped(o);
    if (r == BANTER_EINVAL)
        fail(r, why, cap, "an argument of %s is not terminated or not set", kinds[q->kind].name);
    /* What was written must read back: the decoder's rules are the rules. */
    if (!r)
        r = ctlmsg_decode(&check, (const char *)buf_data(&tmp), buf_len(&tmp), why, cap);
    if (!r) {
        ctl_request_clear(&check);
        r = buf_append(out, buf_data(&tmp), buf_len(&tmp));
    }
    if (buf_len(&tmp))
        bcrypto_wipe((void *)(uintptr_t)buf_data(&tmp), buf_len(&tmp));
    buf_free(&tmp);
    return r;
}

/* ---- replies and events ----
 *
 * The writers below keep the first error in *e and do nothing once there
 * is one, so a reply is built in a straight line and checked once. */

static void put_str(int *e, cJSON *o, const char *key, const char *s)
{
    if (*e)
        return;
    s = s ? s : "";
    if (!utf8_valid(s, strlen(s)))
        *e = BANTER_EUTF8;
    else if (!cJSON_AddStringToObject(o, key, s))
        *e = BANTER_ENOMEM;
}

/* Absent when NULL or "". */
static void put_str_opt(int *e, cJSON *o, const char *key, const char *s)
{
    if (s && s[0])
        put_str(e, o, key, s);
}

/* null when NULL or "". */
static void put_str_null(int *e, cJSON *o, const char *key, const char *s)
{
    if (s && s[0])
        put_str(e, o, key, s);
    else if (!*e && !cJSON_AddNullToObject(o, key))
        *e = BANTER_ENOMEM;
}

static void put_bool(int *e, cJSON *o, const char *key, bool b)
{
    if (!*e && !cJSON_AddBoolToObject(o, key, b))
        *e = BANTER_ENOMEM;
}

/* 0..2^53, exactly. */
static void put_int(int *e, cJSON *o, const char *key, int64_t v)
{
    if (!*e)
        *e = v < 0 ? BANTER_ESCHEMA : jsonv_add_int(o, key, v);
}

static void put_id(int *e, cJSON *o, const char *key, const uint8_t id[static CTL_ID_LEN])
{
    if (!*e)
        *e = jsonv_add_hex(o, key, id, CTL_ID_LEN);
}

static void put_hex(int *e, cJSON *o, const char *key, const uint8_t *p, size_t n)
{
    if (!*e && !p)
        *e = BANTER_EINVAL;
    if (!*e)
        *e = jsonv_add_hex(o, key, p, n);
}

static cJSON *put_obj(int *e, cJSON *o, const char *key)
{
    cJSON *v = *e ? NULL : cJSON_AddObjectToObject(o, key);
    if (!*e && !v)
        *e = BANTER_ENOMEM;
    return v;
}

static cJSON *put_arr(int *e, cJSON *o, const char *key)
{
    cJSON *v = *e ? NULL : cJSON_AddArrayToObject(o, key);
    if (!*e && !v)
        *e = BANTER_ENOMEM;
    return v;
}

/* A new object appended to the array a. */
static cJSON *put_item(int *e, cJSON *a)
{
    cJSON *v = *e ? NULL : cJSON_CreateObject();
    if (!*e && (!v || !cJSON_AddItemToArray(a, v))) {
        cJSON_Delete(v);
        *e = BANTER_ENOMEM;
        return NULL;
    }
    return v;
}

/* "id": a contact's key in hex (the "#ID" that requests take). */
static void put_key(int *e, cJSON *o, const uint8_t *key)
{
    if (key && !*e)
        *e = jsonv_add_hex(o, "id", key, 32);
}

static void put_peer_ref(int *e, cJSON *o, const char *key, const ctl_peer_ref *p)
{
    cJSON *v = put_obj(e, o, key);
    put_key(e, v, p->id);
    put_str(e, v, "fingerprint", p->fingerprint);
    put_str(e, v, "name", p->name);
}

static void put_links(int *e, cJSON *o, const char *body, size_t len)
{
    cJSON *a = put_arr(e, o, "links");
    size_t off = 0, start, n;
    while (!*e && links_next(body, len, &off, &start, &n)) {
        char *s = malloc(n + 1);
        cJSON *it = NULL;
        if (s) {
            memcpy(s, body + start, n);
            s[n] = '\0';
            it = cJSON_CreateString(s);
            free(s);
        }
        if (!it || !cJSON_AddItemToArray(a, it)) {
            cJSON_Delete(it);
            *e = BANTER_ENOMEM;
        }
    }
}

/* body_len bytes of UTF-8 without NUL, and the links found in it. */
static void put_body(int *e, cJSON *o, const char *body, size_t len)
{
    body = body ? body : "";
    if (!*e && (memchr(body, '\0', len) || !utf8_valid(body, len)))
        *e = BANTER_EUTF8;
    put_str(e, o, "body", body);
    put_links(e, o, body, len);
}

/* A history entry (history true) or a "message" event's members. */
static void put_message(int *e, cJSON *o, const ctl_message *m, bool history)
{
    put_id(e, o, "id", m->id);
    put_int(e, o, "seq", m->seq);
    if (history) {
        put_str(e, o, "direction", m->incoming ? "in" : "out");
        put_str_opt(e, o, "device", m->device);
    }
    if (m->unverified)
        put_bool(e, o, "unverified", true);
    if (!history && m->from_self)
        put_str(e, o, "direction", "out");
    put_int(e, o, "ts", m->ts);
    if (history) {
        put_int(e, o, "stored", m->stored);
        put_str(e, o, "state", m->state);
        put_str_opt(e, o, "error", m->error);
    }
    put_bool(e, o, "broadcast", m->broadcast);
    put_body(e, o, m->body, m->body_len);
}

static void put_device(int *e, cJSON *o, const ctl_device *d)
{
    put_str(e, o, "fingerprint", d->fingerprint);
    put_str(e, o, "name", d->name);
    put_str(e, o, "trust", d->trust);
    put_bool(e, o, "online", d->online);
    put_str(e, o, "address", d->address);
    put_str(e, o, "source", d->source);
    put_str(e, o, "route", d->route);
    put_str(e, o, "path", d->path);
}

static void put_peer(int *e, cJSON *o, const ctl_peer *p)
{
    put_key(e, o, p->id);
    put_str(e, o, "fingerprint", p->fingerprint);
    put_str(e, o, "name", p->name);
    put_str(e, o, "fold", p->fold);
    put_bool(e, o, "online", p->online);
    cJSON *addrs = put_arr(e, o, "addresses");
    if (!*e && p->address && p->address[0]) {
        if (!utf8_valid(p->address, strlen(p->address)))
            *e = BANTER_EUTF8;
        else if (!cJSON_AddItemToArray(addrs, cJSON_CreateString(p->address)))
            *e = BANTER_ENOMEM;
    }
    put_str(e, o, "source", p->source);
    put_str(e, o, "route", p->route);
    put_str(e, o, "trust", p->trust);
    put_int(e, o, "last_seen", p->last_seen);
    if (p->account && p->account[0]) { /* an organisation account */
        put_str(e, o, "account", p->account);
        put_str(e, o, "status", p->status);
        put_str(e, o, "text", p->text);
        put_str(e, o, "contact", p->contact);
        put_str(e, o, "display_name", p->display_name);
        cJSON *org = put_obj(e, o, "org");
        put_str(e, org, "account", p->account);
        put_str(e, org, "server_fp", p->org_server_fp);
    }
    put_str_opt(e, o, "replaces", p->replaces);
    cJSON *devs = put_arr(e, o, "devices");
    for (size_t i = 0; !*e && i < p->ndev; i++)
        put_device(e, put_item(e, devs), &p->devs[i]);
}

static void put_transfer(int *e, cJSON *o, const ctl_transfer *t)
{
    put_id(e, o, "id", t->id);
    put_peer_ref(e, o, "peer", &t->peer);
    put_str(e, o, "direction", t->incoming ? "in" : "out");
    put_str(e, o, "state", t->state);
    put_str(e, o, "name", t->name);
    put_int(e, o, "files", t->files);
    put_int(e, o, "size", t->size);
    put_int(e, o, "done", t->done);
    put_int(e, o, "rate", t->rate > 0 ? t->rate : 0);
    put_str(e, o, "error", t->error);
    put_str(e, o, "dest", t->dest);
    put_int(e, o, "created", t->created);
}

static void put_settings_view(int *e, cJSON *o, const ctl_settings *s)
{
    cJSON *v = put_obj(e, o, "settings");
    if (!*e && (unsigned)s->theme >= CTL_THEME_COUNT)
        *e = BANTER_ESCHEMA;
    put_str(e, v, "theme", *e ? "" : theme_names[s->theme]);
    put_int(e, v, "font_size", s->font_size);
    put_bool(e, v, "sound", s->sound);
    put_bool(e, v, "notify", s->notify);
    cJSON *rd = put_obj(e, v, "read");
    for (size_t i = 0; !*e && i < s->nread; i++) {
        const struct ctl_read_mark *m = &s->read[i];
        if (!memchr(m->key, '\0', sizeof m->key) || !read_key_ok(m->key))
            *e = BANTER_ESCHEMA;
        put_int(e, rd, m->key, m->ts);
    }
}

static void put_profile(int *e, cJSON *o, const struct rv_profile *p)
{
    for (int f = 0; p && f < RV_F_COUNT; f++)
        if (p->f[f])
            put_str(e, o, rv_field_name((rv_field)f), p->f[f]);
}

static void put_contact(int *e, cJSON *o, const ctl_contact *c)
{
    if (!*e && ((unsigned)c->state >= RV_CS_COUNT || (unsigned)c->status >= RV_P_COUNT))
        *e = BANTER_ESCHEMA;
    put_str(e, o, "user", c->user);
    put_str(e, o, "state", rv_cstate_name(c->state));
    put_str(e, o, "status", rv_presence_name(c->status));
    put_str(e, o, "text", c->text);
    put_int(e, o, "devices", c->devices);
    put_profile(e, o, c->profile);
}

static void put_contacts(int *e, cJSON *o, const ctl_reply *r)
{
    bool requests = r->kind == CTL_REQUESTS;
    put_bool(e, o, "logged_in", r->u.contacts.logged_in);
    cJSON *a = put_arr(e, o, requests ? "incoming" : "contacts");
    cJSON *out = requests ? put_arr(e, o, "outgoing") : NULL;
    for (size_t i = 0; !*e && i < r->u.contacts.n; i++) {
        const ctl_contact *c = &r->u.contacts.contacts[i];
        cJSON *dst = a;
        if (requests && c->state != RV_CS_INCOMING)
            dst = c->state == RV_CS_OUTGOING ? out : NULL;
        if (dst)
            put_contact(e, put_item(e, dst), c);
    }
}

static void put_rdv_status(int *e, cJSON *o, const struct ctl_rdv_status *s)
{
    put_bool(e, o, "configured", s->configured);
    put_str_null(e, o, "server", s->server);
    put_str_null(e, o, "server_key", s->server_key);
    put_str_null(e, o, "instance", s->instance);
    put_bool(e, o, "connected", s->connected);
    put_bool(e, o, "verified", s->verified);
    put_str_null(e, o, "user", s->user);
    put_bool(e, o, "admin", s->admin);
    put_str_null(e, o, "error", s->error);
    put_str_null(e, o, "auth_error", s->auth_error);
    if (s->auth_error && s->auth_error[0] && s->retry_after_ms > 0)
        put_int(e, o, "retry_after_ms", s->retry_after_ms);
    if (s->cert_expires)
        put_int(e, o, "cert_expires", s->cert_expires);
    else
        put_str_null(e, o, "cert_expires", NULL);
    if (!*e && (unsigned)s->status >= RV_P_COUNT)
        *e = BANTER_ESCHEMA;
    put_str_null(e, o, "status", s->status != RV_P_OFFLINE ? rv_presence_name(s->status) : NULL);
    put_str_null(e, o, "status_text", s->status_text);
    if (s->has_policy) {
        cJSON *p = put_obj(e, o, "policy");
        put_int(e, p, "serial", s->pol_serial);
        put_int(e, p, "issued", s->pol_issued);
        put_int(e, p, "max_file_mb", s->pol_max_file_mb);
        put_bool(e, p, "auto_accept", s->pol_auto_accept);
        put_int(e, p, "history_days", s->pol_history_days);
        put_bool(e, p, "lan_discovery", s->pol_lan_discovery);
    } else if (!*e && !cJSON_AddNullToObject(o, "policy")) {
        *e = BANTER_ENOMEM;
    }
}

static void put_search(int *e, cJSON *o, const ctl_reply *r)
{
    put_int(e, o, "total", r->u.search.total);
    put_int(e, o, "page", r->u.search.page);
    put_int(e, o, "per_page", r->u.search.per_page);
    cJSON *a = put_arr(e, o, "users");
    for (size_t i = 0; !*e && i < r->u.search.n; i++) {
        const struct rv_user *u = &r->u.search.users[i];
        cJSON *it = put_item(e, a);
        put_str(e, it, "user", u->name);
        put_profile(e, it, &u->p);
    }
}

/* The members of the rendezvous replies that wait for the server. */
static void put_rdv_reply(int *e, cJSON *o, const ctl_reply *r)
{
    switch (r->kind) {
    case CTL_LOGIN:
        put_str(e, o, "user", r->u.login.user);
        put_bool(e, o, "admin", r->u.login.admin);
        break;
    case CTL_LOGOUT:
        put_str(e, o, "user", r->u.logout.user);
        break;
    case CTL_PROFILE_SET:
        if (!*e && (unsigned)r->u.profile.field >= RV_F_COUNT)
            *e = BANTER_ESCHEMA;
        put_str(e, o, "field", rv_field_name(r->u.profile.field));
        put_str(e, o, "value", r->u.profile.value);
        break;
    case CTL_SEARCH:
        put_search(e, o, r);
        break;
    case CTL_CONTACT:
        if (!*e && (unsigned)r->u.contact.op >= RV_OP_COUNT)
            *e = BANTER_ESCHEMA;
        put_str(e, o, "op", rv_op_name(r->u.contact.op));
        put_str(e, o, "user", r->u.contact.user);
        break;
    case CTL_STATUS:
        if (!*e && (unsigned)r->u.status.status >= RV_P_COUNT)
            *e = BANTER_ESCHEMA;
        put_str(e, o, "status", rv_presence_name(r->u.status.status));
        put_str(e, o, "text", r->u.status.text);
        break;
    default: /* CTL_ORG_BROADCAST */
        put_int(e, o, "users", r->u.org_broadcast.users);
        put_int(e, o, "delivered", r->u.org_broadcast.delivered);
        put_int(e, o, "stored", r->u.org_broadcast.stored);
        put_int(e, o, "refused", r->u.org_broadcast.refused);
        break;
    }
}

static void put_list(int *e, cJSON *o, const ctl_reply *r)
{
    if (r->kind == CTL_PEERS) {
        cJSON *a = put_arr(e, o, "peers");
        for (size_t i = 0; !*e && i < r->u.peers.n; i++)
            put_peer(e, put_item(e, a), &r->u.peers.peers[i]);
    } else if (r->kind == CTL_HISTORY) {
        put_peer_ref(e, o, "peer", &r->u.history.peer);
        cJSON *a = put_arr(e, o, "messages");
        for (size_t i = 0; !*e && i < r->u.history.n; i++)
            put_message(e, put_item(e, a), &r->u.history.messages[i], true);
        put_bool(e, o, "more", r->u.history.more);
    } else { /* CTL_TRANSFERS */
        cJSON *a = put_arr(e, o, "transfers");
        for (size_t i = 0; !*e && i < r->u.transfers.n; i++)
            put_transfer(e, put_item(e, a), &r->u.transfers.transfers[i]);
    }
}

static void put_plugins(int *e, cJSON *o, const ctl_reply *r)
{
    if (r->u.plugins.message)
        put_str(e, o, "message", r->u.plugins.message);
    cJSON *a = put_arr(e, o, "plugins");
    for (size_t i = 0; !*e && i < r->u.plugins.n; i++) {
        const ctl_plugin *p = &r->u.plugins.plugins[i];
        cJSON *it = put_item(e, a);
        put_str(e, it, "name", p->name);
        put_str(e, it, "path", p->path);
        put_str(e, it, "state", p->state);
        put_bool(e, it, "enabled", p->enabled);
        put_int(e, it, "pid", p->pid);
        put_int(e, it, "restarts", p->restarts);
        put_int(e, it, "retry_in_ms", p->retry_in_ms);
        put_str(e, it, "version", p->version);
        put_str(e, it, "description", p->description);
        put_str(e, it, "last_error", p->last_error);
    }
}

static void put_doctor(int *e, cJSON *o, const ctl_reply *r)
{
    cJSON *a = put_arr(e, o, "checks");
    for (size_t i = 0; !*e && i < r->u.doctor.n; i++) {
        const ctl_check *c = &r->u.doctor.checks[i];
        cJSON *it = put_item(e, a);
        put_str(e, it, "name", c->name);
        put_str(e, it, "status", c->status);
        put_str(e, it, "text", c->text);
    }
}

static void put_group_view(int *e, cJSON *o, const ctl_group_view *g)
{
    put_hex(e, o, "id", g->id, CTL_GROUP_ID_LEN);
    put_str(e, o, "name", g->name);
    put_int(e, o, "version", g->version);
    put_str(e, o, "creator", g->creator);
    put_int(e, o, "members_count", g->members_count);
    put_bool(e, o, "member", g->member);
    put_bool(e, o, "admin", g->admin);
    put_int(e, o, "unread", g->unread);
    put_int(e, o, "created", g->created);
    if (!g->with_members)
        return;
    cJSON *a = put_arr(e, o, "members");
    for (size_t i = 0; !*e && i < g->nmembers; i++) {
        const ctl_group_member *m = &g->members[i];
        cJSON *it = put_item(e, a);
        put_str(e, it, "id", m->id);
        if (m->admin)
            put_bool(e, it, "admin", true);
        if (m->me)
            put_bool(e, it, "me", true);
        if (m->fingerprint)
            put_str(e, it, "fingerprint", m->fingerprint);
        if (m->name)
            put_str(e, it, "name", m->name);
    }
}

static void put_group_message(int *e, cJSON *o, const ctl_group_message *m)
{
    put_id(e, o, "id", m->id);
    put_int(e, o, "seq", m->seq);
    put_str(e, o, "direction", m->incoming ? "in" : "out");
    if (m->device)
        put_str(e, o, "device", m->device);
    if (m->from)
        put_str(e, o, "from", m->from);
    if (m->account)
        put_str(e, o, "account", m->account);
    put_int(e, o, "ts", m->ts);
    put_int(e, o, "stored", m->stored);
    put_str(e, o, "state", m->state);
    put_body(e, o, m->body, m->body_len);
    if (!m->has_delivery)
        return;
    cJSON *a = put_arr(e, o, "delivery");
    for (size_t i = 0; !*e && i < m->ndelivery; i++) {
        cJSON *it = put_item(e, a);
        put_str(e, it, "member", m->delivery[i].member);
        put_str(e, it, "state", m->delivery[i].state);
    }
    put_int(e, o, "delivered_to", m->delivered_to);
    put_int(e, o, "recipients", (int64_t)m->ndelivery);
}

static void put_found(int *e, cJSON *o, const ctl_found *f)
{
    cJSON *c = put_obj(e, o, "conversation");
    put_str(e, c, "kind", f->group ? "group" : "contact");
    put_hex(e, c, f->group ? "group" : "peer", f->conv, f->group ? CTL_GROUP_ID_LEN : 32);
    if (f->name)
        put_str(e, c, "name", f->name);
    if (f->account)
        put_str(e, c, "account", f->account);
    put_group_message(e, put_obj(e, o, "message"), &f->message);
}

static void put_groups(int *e, cJSON *o, const ctl_reply *r)
{
    if (r->kind == CTL_GROUPS) {
        cJSON *a = put_arr(e, o, "groups");
        for (size_t i = 0; !*e && i < r->u.groups.n; i++)
            put_group_view(e, put_item(e, a), &r->u.groups.groups[i]);
        if (r->u.groups.limit > 0)
            put_int(e, o, "limit", r->u.groups.limit);
        if (r->u.groups.refused > 0) {
            put_int(e, o, "refused", r->u.groups.refused);
            put_int(e, o, "refused_at", r->u.groups.refused_at);
        }
    } else if (r->kind == CTL_GROUP_DELETE) {
        put_hex(e, o, "id", r->u.group_delete.id, CTL_GROUP_ID_LEN);
        put_str(e, o, "name", r->u.group_delete.name ? r->u.group_delete.name : "");
        put_bool(e, o, "left", r->u.group_delete.left);
        put_int(e, o, "messages", r->u.group_delete.messages);
    } else if (r->kind == CTL_GROUP_SEND) {
        put_id(e, o, "id", r->u.group_send.id);
        put_hex(e, o, "group", r->u.group_send.group, CTL_GROUP_ID_LEN);
        put_str(e, o, "state", "queued");
    } else if (r->kind == CTL_FIND) {
        cJSON *a = put_arr(e, o, "results");
        for (size_t i = 0; !*e && i < r->u.find.n; i++)
            put_found(e, put_item(e, a), &r->u.find.results[i]);
        if (r->u.find.next_before > 0)
            put_int(e, o, "next_before", r->u.find.next_before);
    } else { /* the others: the group, and a history's messages */
        if (!r->u.group.group) {
            *e = BANTER_EINVAL;
            return;
        }
        put_group_view(e, put_obj(e, o, "group"), r->u.group.group);
        if (r->kind == CTL_GROUP_HISTORY) {
            cJSON *a = put_arr(e, o, "messages");
            for (size_t i = 0; !*e && i < r->u.group.n; i++)
                put_group_message(e, put_item(e, a), &r->u.group.messages[i]);
        }
    }
}

static void put_nat(int *e, cJSON *o, const ctl_nat *n)
{
    put_str(e, o, "servers", n->servers);
    put_int(e, o, "credentials_expire_ms", n->credentials_expire_ms);
    cJSON *a = put_arr(e, o, "candidates");
    for (size_t i = 0; !*e && i < n->ncands; i++) {
        const ctl_nat_cand *c = &n->cands[i];
        cJSON *it = put_item(e, a);
        put_str(e, it, "type", c->type);
        put_str(e, it, "transport", c->transport);
        put_str(e, it, "address", c->address);
        put_int(e, it, "port", c->port);
        if (c->turn)
            put_str(e, it, "turn", c->turn);
    }
    put_int(e, o, "host", n->host);
    put_int(e, o, "srflx", n->srflx);
    put_int(e, o, "relay_udp", n->relay_udp);
    put_int(e, o, "relay_tcp", n->relay_tcp);
    put_str(e, o, "nat", n->nat);
    put_str_opt(e, o, "mapped", n->mapped);
    put_str(e, o, "turn", n->turn);
    put_str(e, o, "verdict", n->verdict);
}

static void put_announcement(int *e, cJSON *o, const ctl_announcement *a)
{
    put_int(e, o, "id", a->id);
    put_int(e, o, "ts", a->ts);
    put_str(e, o, "department", a->department);
    put_str(e, o, "text", a->text);
    put_int(e, o, "received", a->received);
    if (a->read)
        put_int(e, o, "read", a->read);
    else if (!*e && !cJSON_AddNullToObject(o, "read"))
        *e = BANTER_ENOMEM;
}

static void put_reply(int *e, cJSON *o, const ctl_reply *r)
{
    if (r->kind >= CTL_GROUPS && r->kind <= CTL_FIND) {
        put_groups(e, o, r);
        return;
    }
    switch (r->kind) {
    case CTL_ID:
        put_str(e, o, "fingerprint", r->u.id.fingerprint);
        put_str(e, o, "name", r->u.id.name);
        put_int(e, o, "port", r->u.id.port);
        break;
    case CTL_PEERS:
    case CTL_HISTORY:
    case CTL_TRANSFERS:
        put_list(e, o, r);
        break;
    case CTL_SEND:
        put_id(e, o, "id", r->u.send.id);
        put_str(e, o, "state", r->u.send.state);
        put_str_opt(e, o, "error", r->u.send.error);
        break;
    case CTL_BROADCAST:
        put_id(e, o, "id", r->u.broadcast.id);
        put_int(e, o, "recipients", r->u.broadcast.recipients);
        break;
    case CTL_VERIFY:
        put_str(e, o, "message", r->u.verify.message);
        if (r->u.verify.peer)
            put_peer(e, put_obj(e, o, "peer"), r->u.verify.peer);
        break;
    case CTL_LISTEN:
        put_bool(e, o, "listening", true);
        break;
    case CTL_SEND_FILE:
        put_id(e, o, "id", r->u.send_file.id);
        put_str(e, o, "state", r->u.send_file.offered ? "offered" : "queued");
        if (r->u.send_file.transfer)
            put_transfer(e, put_obj(e, o, "transfer"), r->u.send_file.transfer);
        break;
    case CTL_ACCEPT:
    case CTL_DECLINE:
    case CTL_CANCEL:
        if (r->u.xfer.transfer)
            put_transfer(e, put_obj(e, o, "transfer"), r->u.xfer.transfer);
        break;
    case CTL_SETTINGS_GET:
    case CTL_SETTINGS_SET:
        put_settings_view(e, o, &r->u.settings);
        break;
    case CTL_WEB:
        put_bool(e, o, "enabled", r->u.web.enabled);
        put_str(e, o, r->u.web.enabled ? "url" : "message",
                r->u.web.enabled ? r->u.web.url : r->u.web.message);
        break;
    case CTL_RENDEZVOUS:
        put_rdv_status(e, o, &r->u.rendezvous);
        break;
    case CTL_CONTACTS:
    case CTL_REQUESTS:
        put_contacts(e, o, r);
        break;
    case CTL_PLUGINS:
        put_plugins(e, o, r);
        break;
    case CTL_DOCTOR:
        put_doctor(e, o, r);
        break;
    case CTL_NAT_CHECK:
        put_nat(e, o, &r->u.nat_check);
        break;
    case CTL_ANNOUNCEMENTS: {
        cJSON *a = put_arr(e, o, "announcements");
        for (size_t i = 0; !*e && i < r->u.announcements.n; i++)
            put_announcement(e, put_item(e, a), &r->u.announcements.announcements[i]);
        break;
    }
    case CTL_ANNOUNCEMENT_READ:
        put_int(e, o, "id", r->u.announcement_read.id);
        break;
    default:
        put_rdv_reply(e, o, r);
        break;
    }
}

/* Print o (freed here) into out unless e says it failed. */
static int finish(cJSON *o, int e, buf *out)
{
    if (!o)
        e = BANTER_ENOMEM;
    if (!e)
        e = jsonv_print(o, SIZE_MAX, out);
    cJSON_Delete(o);
    return e;
}

int ctlmsg_encode_reply(const ctl_reply *r, buf *out)
{
    int e = (unsigned)r->kind < CTL_KIND_COUNT ? 0 : BANTER_EINVAL;
    cJSON *o = cJSON_CreateObject();
    put_bool(&e, o, "ok", true);
    if (!e)
        put_reply(&e, o, r);
    return finish(o, e, out);
}

int ctlmsg_encode_error(int err, const char *name, const char *message, const char *code,
                        int64_t retry_after_ms, buf *out)
{
    int e = 0;
    cJSON *o = cJSON_CreateObject();
    put_bool(&e, o, "ok", false);
    put_str(&e, o, "error", name && name[0] ? name : banter_errname(err));
    put_str(&e, o, "message", message ? message : banter_strerror(err));
    put_str_opt(&e, o, "code", code);
    if (retry_after_ms > 0)
        put_int(&e, o, "retry_after_ms", retry_after_ms);
    return finish(o, e, out);
}

static const char *const event_names[CTL_EV_COUNT] = {
    "message",     "delivered",  "online",     "offline",       "key_changed",
    "discovery",   "rendezvous", "contacts",   "presence",      "renamed",
    "settings",    "file_offer", "file_state", "file_progress", "file_done",
    "file_failed", "deferred",   "group",      "group_message", "announcement",
};

const char *ctl_event_name(ctl_event_kind k)
{
    return (unsigned)k < CTL_EV_COUNT ? event_names[k] : "?";
}

int ctlmsg_encode_event(const ctl_event *ev, buf *out)
{
    int e = (unsigned)ev->kind < CTL_EV_COUNT ? 0 : BANTER_EINVAL;
    cJSON *o = cJSON_CreateObject();
    put_str(&e, o, "event", ctl_event_name(ev->kind));
    put_int(&e, o, "at", ev->at);
    if (ev->peer)
        put_peer_ref(&e, o, "peer", ev->peer);
    if (ev->message && ev->kind == CTL_EV_MESSAGE) {
        put_message(&e, o, ev->message, false);
    } else if (ev->message && (ev->kind == CTL_EV_DELIVERED || ev->kind == CTL_EV_DEFERRED)) {
        put_id(&e, o, "id", ev->message->id);
        put_str(&e, o, "state", ev->message->state);
        put_str_opt(&e, o, "error", ev->message->error);
    }
    if (ev->status)
        put_str(&e, o, "status", ev->status);
    if (ev->text)
        put_str(&e, o, "text", ev->text);
    if (ev->settings)
        put_settings_view(&e, o, ev->settings);
    if (ev->transfer)
        put_transfer(&e, put_obj(&e, o, "transfer"), ev->transfer);
    if (ev->group)
        put_group_view(&e, put_obj(&e, o, "group"), ev->group);
    if (ev->group_message)
        put_group_message(&e, put_obj(&e, o, "message"), ev->group_message);
    if (ev->announcement)
        put_announcement(&e, put_obj(&e, o, "announcement"), ev->announcement);
    if (ev->deleted_group) {
        put_hex(&e, o, "id", ev->deleted_group, CTL_GROUP_ID_LEN);
        put_bool(&e, o, "deleted", true);
    }
    return finish(o, e, out);
}
