/* SPDX-License-Identifier: MIT */
/* admmsg.c - the admin protocol's codec (see admmsg.h). */
#include "admmsg.h"

#include <stdlib.h>
#include <string.h>

#include "bcrypto.h"
#include "jsonv.h"
#include "utf8.h"

#define B(a) ADM_BIT(ADM_A_##a)

static const adm_cmd_info table[ADM_CMD_COUNT] = {
    [ADM_STATUS] = {"status", false, 0, 0},
    [ADM_USER_LIST] = {"user.list", false, 0, B(OFFSET)},
    [ADM_USER_SHOW] = {"user.show", false, B(NAME), B(NAME)},
    [ADM_USER_ADD] = {"user.add", true, B(NAME) | B(PASSWORD),
                      B(NAME) | B(PASSWORD) | B(ADMIN) | B(REUSE)},
    [ADM_USER_DISABLE] = {"user.disable", true, B(NAME), B(NAME)},
    [ADM_USER_ENABLE] = {"user.enable", true, B(NAME), B(NAME)},
    [ADM_USER_DELETE] = {"user.delete", true, B(NAME), B(NAME)},
    [ADM_USER_PASSWD] = {"user.passwd", true, B(NAME) | B(PASSWORD), B(NAME) | B(PASSWORD)},
    [ADM_USER_SET] = {"user.set", true, B(NAME) | B(FIELD) | B(VALUE),
                      B(NAME) | B(FIELD) | B(VALUE)},
    [ADM_USER_GRANT] = {"user.grant", true, B(NAME) | B(RIGHT), B(NAME) | B(RIGHT)},
    [ADM_USER_REVOKE] = {"user.revoke", true, B(NAME) | B(RIGHT), B(NAME) | B(RIGHT)},
    [ADM_DEVICE_LIST] = {"device.list", false, 0, B(NAME) | B(OFFSET)},
    [ADM_DEVICE_REVOKE] = {"device.revoke", true, B(FP), B(FP)},
    [ADM_SESSION_LIST] = {"session.list", false, 0, B(OFFSET)},
    [ADM_SESSION_KICK] = {"session.kick", true, B(NAME), B(NAME)},
    [ADM_MAILBOX_STATS] = {"mailbox.stats", false, 0, 0},
    [ADM_MAILBOX_PURGE] = {"mailbox.purge", true, B(DAYS), B(DAYS)},
    [ADM_AUDIT_TAIL] = {"audit.tail", false, 0, B(COUNT)},
    [ADM_AUDIT_VERIFY] = {"audit.verify", false, 0, 0},
    [ADM_BACKUP] = {"backup", true, B(FILE), B(FILE)},
    [ADM_CONFIG_SHOW] = {"config.show", false, 0, 0},
    [ADM_LOG_LEVEL] = {"log.level", true, 0, B(LEVEL)},
    [ADM_ADMIN_LIST] = {"admin.list", false, 0, 0},
    [ADM_ADMIN_ADD] = {"admin.add", true, B(FP) | B(ROLE), B(FP) | B(ROLE)},
    [ADM_ADMIN_REMOVE] = {"admin.remove", true, B(FP), B(FP)},
    [ADM_POLICY_SHOW] = {"policy.show", false, 0, 0},
    [ADM_POLICY_SET] = {"policy.set", true, B(FIELD) | B(VALUE), B(FIELD) | B(VALUE)},
    [ADM_PLUGIN_LIST] = {"plugin.list", false, 0, 0},
    [ADM_PLUGIN_ENABLE] = {"plugin.enable", true, B(NAME), B(NAME)},
    [ADM_PLUGIN_DISABLE] = {"plugin.disable", true, B(NAME), B(NAME)},
    [ADM_PLUGIN_RESTART] = {"plugin.restart", true, B(NAME), B(NAME)},
    [ADM_ANNOUNCE] = {"announce", true, B(TEXT), B(TEXT) | B(DEPARTMENT)},
    [ADM_ANNOUNCE_REPORT] = {"announce.report", false, B(ANN), B(ANN)},
};

static const char *const arg_keys[ADM_A_COUNT_OF] = {
    [ADM_A_NAME] = "name",
    [ADM_A_FP] = "fp",
    [ADM_A_ROLE] = "role",
    [ADM_A_FIELD] = "field",
    [ADM_A_VALUE] = "value",
    [ADM_A_PASSWORD] = "password",
    [ADM_A_ADMIN] = "admin",
    [ADM_A_DAYS] = "days",
    [ADM_A_COUNT] = "count",
    [ADM_A_OFFSET] = "offset",
    [ADM_A_FILE] = "file",
    [ADM_A_LEVEL] = "level",
    [ADM_A_RIGHT] = "right",
    [ADM_A_TEXT] = "text",
    [ADM_A_DEPARTMENT] = "department",
    [ADM_A_ANN] = "announcement",
    [ADM_A_REUSE] = "reuse_name",
};

const adm_cmd_info *adm_cmd_get(adm_cmd c) { return &table[c]; }

int adm_cmd_find(const char *wire)
{
    for (int i = 0; i < ADM_CMD_COUNT; i++)
        if (strcmp(table[i].wire, wire) == 0)
            return i;
    return -1;
}

const char *adm_arg_key(adm_arg a) { return arg_keys[a]; }

bool admmsg_owns(int type) { return type == ADM_REQUEST || type == ADM_RESULT; }

/* ---- the rules of each argument ---- */

/* A user name: [a-z0-9][a-z0-9._-]* */
static bool is_name(const char *s)
{
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
              *p == '-'))
            return false;
    return true;
}

/* Digits with spaces or dashes between, at least one digit. */
static bool is_fp(const char *s)
{
    bool digit = false;
    for (const char *p = s; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digit = true;
        else if (*p != ' ' && *p != '-')
            return false;
    }
    return digit;
}

/* A lowercase word: [a-z_]+ */
static bool is_word(const char *s)
{
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
            return false;
    return s[0] != '\0';
}

/* Text people read: UTF-8 with no control character (C0, DEL, C1) but
 * newline and tab. */
static bool is_text(const char *s) { return utf8_no_controls(s, strlen(s), true); }

/* A department: UTF-8 with no control character at all. */
static bool is_dept(const char *s) { return utf8_no_controls(s, strlen(s), false); }

/* A plain file name: no '/', not "." or "..", no control characters. */
static bool is_file(const char *s)
{
    return s[0] && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 && jsonv_plain(s);
}

/* The string argument a of r: where it lives, its cap, its rule. */
static char *str_slot(adm_request *r, adm_arg a, size_t *cap, bool (**ok)(const char *))
{
    *ok = NULL;
    switch (a) {
    case ADM_A_NAME:
        *cap = BANTER_MAX_NAME;
        *ok = is_name;
        return r->name;
    case ADM_A_FP:
        *cap = ADM_MAX_FP;
        *ok = is_fp;
        return r->fp;
    case ADM_A_ROLE:
        *cap = ADM_MAX_WORD;
        *ok = is_word;
        return r->role;
    case ADM_A_FIELD:
        *cap = ADM_MAX_WORD;
        *ok = is_word;
        return r->field;
    case ADM_A_VALUE:
        *cap = ADM_MAX_VALUE;
        return r->value;
    case ADM_A_PASSWORD:
        *cap = ADM_MAX_VALUE;
        return r->password;
    case ADM_A_FILE:
        *cap = ADM_MAX_WORD;
        *ok = is_file;
        return r->file;
    case ADM_A_LEVEL:
        *cap = ADM_MAX_WORD;
        *ok = is_word;
        return r->level;
    case ADM_A_RIGHT:
        *cap = ADM_MAX_WORD;
        *ok = is_word;
        return r->right;
    case ADM_A_TEXT:
        *cap = ADM_MAX_ANNOUNCE;
        *ok = is_text;
        return r->text;
    case ADM_A_DEPARTMENT:
        *cap = ADM_MAX_WORD;
        *ok = is_dept;
        return r->department;
    default:
        return NULL;
    }
}

static int64_t *int_slot(adm_request *r, adm_arg a, int64_t *min, int64_t *max)
{
    switch (a) {
    case ADM_A_DAYS:
        *min = 0;
        *max = ADM_MAX_DAYS;
        return &r->days;
    case ADM_A_COUNT:
        *min = 1;
        *max = ADM_MAX_COUNT;
        return &r->count;
    case ADM_A_OFFSET:
        *min = 0;
        *max = ADM_MAX_COUNT;
        return &r->offset;
    case ADM_A_ANN:
        *min = 1;
        *max = BANTER_MAX_INT;
        return &r->ann;
    default:
        return NULL;
    }
}

char *adm_request_text(adm_request *r, adm_arg a, size_t *cap)
{
    bool (*ok)(const char *);
    return str_slot(r, a, cap, &ok);
}

bool *adm_request_bool(adm_request *r, adm_arg a)
{
    return a == ADM_A_ADMIN ? &r->admin : a == ADM_A_REUSE ? &r->reuse_name : NULL;
}

int64_t *adm_request_int(adm_request *r, adm_arg a)
{
    int64_t min, max;
    return int_slot(r, a, &min, &max);
}

/* Whether the string argument a may be "". */
static bool empty_ok(adm_arg a) { return a == ADM_A_VALUE || a == ADM_A_DEPARTMENT; }

/* Whether every argument present follows its rule (the encoder's check). */
static int check_args(const adm_request *r)
{
    const adm_cmd_info *ci = adm_cmd_get(r->cmd);
    if ((r->has & ~ci->allow) || (r->has & ci->need) != ci->need)
        return BANTER_ESCHEMA;
    adm_request *w = (adm_request *)r; /* str_slot's view; nothing is written */
    for (int a = 0; a < ADM_A_COUNT_OF; a++) {
        if (!(r->has & ADM_BIT(a)))
            continue;
        size_t cap;
        bool (*ok)(const char *);
        int64_t min, max;
        const char *s = str_slot(w, (adm_arg)a, &cap, &ok);
        const int64_t *v = int_slot(w, (adm_arg)a, &min, &max);
        if (s) {
            size_t n = strnlen(s, cap + 1);
            int e = jsonv_check_text(s, n, empty_ok(a) ? 0 : 1, cap,
                                     a != ADM_A_PASSWORD && a != ADM_A_TEXT);
            if (e)
                return e;
            if (ok && !ok(s))
                return BANTER_ESCHEMA;
        } else if (v && (*v < min || *v > max)) {
            return BANTER_ESCHEMA;
        }
    }
    return 0;
}

/* ---- requests ---- */

static int build_request(const adm_request *r, cJSON *o)
{
    cJSON *args = cJSON_CreateObject();
    if (!args)
        return BANTER_ENOMEM;
    if (!cJSON_AddItemToObject(o, "args", args)) {
        cJSON_Delete(args);
        return BANTER_ENOMEM;
    }
    if (jsonv_add_int(o, "id", r->id) || !cJSON_AddStringToObject(o, "cmd", table[r->cmd].wire))
        return BANTER_ENOMEM;
    adm_request *w = (adm_request *)r;
    for (int a = 0; a < ADM_A_COUNT_OF; a++) {
        if (!(r->has & ADM_BIT(a)))
            continue;
        size_t cap;
        bool (*ok)(const char *);
        int64_t min, max;
        const char *s = str_slot(w, (adm_arg)a, &cap, &ok);
        const int64_t *v = int_slot(w, (adm_arg)a, &min, &max);
        int e = 0;
        if (s)
            e = cJSON_AddStringToObject(args, arg_keys[a], s) ? 0 : BANTER_ENOMEM;
        else if (v)
            e = jsonv_add_int(args, arg_keys[a], *v);
        else
            e = cJSON_AddBoolToObject(args, arg_keys[a], *adm_request_bool(w, (adm_arg)a))
                    ? 0
                    : BANTER_ENOMEM;
        if (e)
            return e;
    }
    return 0;
}

int adm_request_encode(const adm_request *r, buf *out)
{
    if ((unsigned)r->cmd >= ADM_CMD_COUNT)
        return BANTER_ESCHEMA;
    int ret = check_args(r);
    if (ret)
        return ret;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return BANTER_ENOMEM;
    ret = build_request(r, o);
    if (ret == 0)
        ret = jsonv_write(o, ADM_REQUEST, out);
    jsonv_delete_wiped(o);
    return ret;
}

/* One argument member of a request. */
static int read_arg(adm_request *r, const cJSON *args, adm_arg a)
{
    size_t cap, n;
    bool (*ok)(const char *);
    int64_t min, max;
    char *s = str_slot(r, a, &cap, &ok);
    int64_t *v = int_slot(r, a, &min, &max);
    if (s) {
        const char *t;
        int e = jsonv_str(args, arg_keys[a], true, empty_ok(a) ? 0 : 1, cap, &t, &n);
        if (e)
            return e;
        if (memchr(t, '\0', n) ||
            (a != ADM_A_PASSWORD && a != ADM_A_VALUE && a != ADM_A_TEXT && !jsonv_plain(t)))
            return BANTER_ESCHEMA;
        jsonv_copy(s, t, n);
        if (a == ADM_A_VALUE && !jsonv_plain(s))
            return BANTER_ESCHEMA;
        return ok && !ok(s) ? BANTER_ESCHEMA : 0;
    }
    if (v)
        return jsonv_int(args, arg_keys[a], min, max, v);
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(args, arg_keys[a]);
    bool *slot = adm_request_bool(r, a);
    if (!cJSON_IsBool(b) || !slot)
        return BANTER_ESCHEMA;
    *slot = cJSON_IsTrue(b);
    return 0;
}

static int parse_request(adm_request *r, const cJSON *o)
{
    int64_t id;
    const char *cmd;
    size_t n;
    char wire[ADM_MAX_WORD + 1];
    int ret = jsonv_int(o, "id", 0, ADM_MAX_ID, &id);
    if (ret == 0)
        ret = jsonv_str(o, "cmd", true, 1, ADM_MAX_WORD, &cmd, &n);
    if (ret)
        return ret;
    r->id = (uint32_t)id;
    jsonv_copy(wire, cmd, n);
    int c = adm_cmd_find(wire);
    if (c < 0)
        return BANTER_ESCHEMA;
    r->cmd = (adm_cmd)c;
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(o, "args");
    if (!cJSON_IsObject(args) || jsonv_members(args) != 0 || cJSON_GetArraySize(o) != 3)
        return BANTER_ESCHEMA;
    /* Every member of args must be an argument the command allows. */
    for (const cJSON *m = args->child; m; m = m->next) {
        int a = 0;
        while (a < ADM_A_COUNT_OF && strcmp(arg_keys[a], m->string) != 0)
            a++;
        if (a == ADM_A_COUNT_OF || !(table[c].allow & ADM_BIT(a)))
            return BANTER_ESCHEMA;
        ret = read_arg(r, args, (adm_arg)a);
        if (ret)
            return ret;
        r->has |= ADM_BIT(a);
    }
    return (r->has & table[c].need) == table[c].need ? 0 : BANTER_ESCHEMA;
}

int adm_request_decode(adm_request *r, const uint8_t *pt, size_t len)
{
    memset(r, 0, sizeof *r);
    if (len < 1)
        return BANTER_ETRUNCATED;
    if (pt[0] != ADM_REQUEST)
        return BANTER_EBADTYPE;
    cJSON *o = NULL;
    int ret = jsonv_parse((const char *)pt + 1, len - 1, &o);
    if (ret == 0)
        ret = parse_request(r, o);
    jsonv_delete_wiped(o);
    if (ret)
        adm_request_clear(r);
    return ret;
}

void adm_request_clear(adm_request *r) { bcrypto_wipe(r, sizeof *r); }

/* ---- results ---- */

static int build_result(const adm_result *r, cJSON *o)
{
    if (jsonv_add_int(o, "id", r->id) || !cJSON_AddBoolToObject(o, "ok", r->ok))
        return BANTER_ENOMEM;
    if (!r->ok) {
        size_t n = strlen(r->error);
        if (n == 0 || jsonv_check_text(r->error, n, 1, BANTER_MAX_ERRCODE, true))
            return BANTER_ESCHEMA;
        if (!cJSON_AddStringToObject(o, "error", r->error))
            return BANTER_ENOMEM;
    }
    if (r->text) {
        int e = jsonv_check_text(r->text, strlen(r->text), 0, ADM_MAX_TEXT, false);
        if (e)
            return e;
        if (!cJSON_AddStringToObject(o, "text", r->text))
            return BANTER_ENOMEM;
    }
    if (r->data) {
        cJSON *d = NULL;
        int e = jsonv_parse(r->data, strlen(r->data), &d);
        if (e)
            return e;
        if (!cJSON_AddItemToObject(o, "data", d)) {
            cJSON_Delete(d);
            return BANTER_ENOMEM;
        }
    }
    return 0;
}

int adm_result_encode(const adm_result *r, buf *out)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return BANTER_ENOMEM;
    int ret = build_result(r, o);
    if (ret == 0)
        ret = jsonv_write(o, ADM_RESULT, out);
    cJSON_Delete(o);
    return ret;
}

static int parse_result(adm_result *r, const cJSON *o)
{
    int64_t id;
    const char *s;
    size_t n;
    int expect = 2;
    int ret = jsonv_int(o, "id", 0, ADM_MAX_ID, &id);
    if (ret)
        return ret;
    r->id = (uint32_t)id;
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(o, "ok");
    if (!cJSON_IsBool(ok))
        return BANTER_ESCHEMA;
    r->ok = cJSON_IsTrue(ok);
    if (!r->ok) {
        ret = jsonv_str(o, "error", true, 1, BANTER_MAX_ERRCODE, &s, &n);
        if (ret)
            return ret;
        jsonv_copy(r->error, s, n);
        if (!jsonv_plain(r->error))
            return BANTER_ESCHEMA;
        expect++;
    }
    ret = jsonv_str(o, "text", false, 0, ADM_MAX_TEXT, &s, &n);
    if (ret)
        return ret;
    if (s) {
        if (memchr(s, '\0', n) || !(r->text = malloc(n + 1)))
            return s && memchr(s, '\0', n) ? BANTER_ESCHEMA : BANTER_ENOMEM;
        jsonv_copy(r->text, s, n);
        expect++;
    }
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "data");
    if (d) {
        if (!cJSON_IsObject(d) || jsonv_members(d) != 0)
            return BANTER_ESCHEMA;
        r->data = cJSON_PrintUnformatted(d);
        if (!r->data)
            return BANTER_ENOMEM;
        expect++;
    }
    return cJSON_GetArraySize(o) == expect ? 0 : BANTER_ESCHEMA;
}

int adm_result_decode(adm_result *r, const uint8_t *pt, size_t len)
{
    memset(r, 0, sizeof *r);
    if (len < 1)
        return BANTER_ETRUNCATED;
    if (pt[0] != ADM_RESULT)
        return BANTER_EBADTYPE;
    cJSON *o = NULL;
    int ret = jsonv_parse((const char *)pt + 1, len - 1, &o);
    if (ret == 0)
        ret = parse_result(r, o);
    cJSON_Delete(o);
    if (ret)
        adm_result_clear(r);
    return ret;
}

void adm_result_clear(adm_result *r)
{
    free(r->text);
    if (r->data)
        cJSON_free(r->data);
    memset(r, 0, sizeof *r);
}

/* ---- pages ---- */

int64_t adm_data_next(const char *data)
{
    cJSON *o = NULL;
    int64_t next = -1;
    if (!data || jsonv_parse(data, strlen(data), &o) != 0)
        return -1;
    if (jsonv_int(o, "next", 0, JSONV_INT_MAX, &next) != 0)
        next = -1;
    cJSON_Delete(o);
    return next;
}

/* Move page's members into acc's (see adm_data_merge). */
static int merge_members(cJSON *acc, cJSON *page)
{
    cJSON *m;
    while ((m = page->child) != NULL) {
        cJSON_DetachItemViaPointer(page, m);
        cJSON *old = cJSON_GetObjectItemCaseSensitive(acc, m->string);
        if (cJSON_IsArray(m) && cJSON_IsArray(old)) {
            cJSON *e;
            while ((e = m->child) != NULL) {
                cJSON_DetachItemViaPointer(m, e);
                cJSON_AddItemToArray(old, e);
            }
            cJSON_Delete(m);
        } else if (strcmp(m->string, "next") == 0) {
            cJSON_Delete(m);
        } else if (old) {
            cJSON_ReplaceItemViaPointer(acc, old, m);
        } else {
            cJSON_AddItemToObject(acc, m->string, m);
        }
    }
    cJSON_DeleteItemFromObjectCaseSensitive(acc, "next");
    return 0;
}

int adm_data_merge(char **acc, const char *page)
{
    cJSON *a = NULL, *p = NULL;
    int ret = jsonv_parse(*acc, strlen(*acc), &a);
    if (ret == 0)
        ret = jsonv_parse(page, strlen(page), &p);
    if (ret == 0)
        ret = merge_members(a, p);
    char *text = ret == 0 ? cJSON_PrintUnformatted(a) : NULL;
    if (ret == 0 && !text)
        ret = BANTER_ENOMEM;
    cJSON_Delete(a);
    cJSON_Delete(p);
    if (ret)
        return ret;
    free(*acc);
    *acc = text;
    return 0;
}
