/* SPDX-License-Identifier: MIT */
/* groupctl.c - group and history-search requests of the control socket (see groupctl.h). */
#include "ui/groupctl.h"

#include <glib.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "utf8.h"

#define MAX_MEMBERS_ARG 32  /* members in one request */
#define ARG_MAX         256 /* a group or member as typed */

static cJSON *err_reply(int err, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddFalseToObject(o, "ok");
    cJSON_AddStringToObject(o, "error", banter_errname(err));
    cJSON_AddStringToObject(o, "message", message && message[0] ? message : banter_strerror(err));
    return o;
}

static cJSON *ok_reply(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddTrueToObject(o, "ok");
    return o;
}

static void add_hex(cJSON *o, const char *key, const uint8_t *p, size_t n)
{
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, p, n);
    cJSON_AddStringToObject(o, key, hex);
}

/* A string argument: 1..max bytes of UTF-8 without control characters. */
static const char *str_arg(const cJSON *req, const char *key, size_t max)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);
    if (!cJSON_IsString(v))
        return NULL;
    size_t n = strlen(v->valuestring);
    if (n == 0 || n > max || !utf8_valid(v->valuestring, n))
        return NULL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v->valuestring[i] < 0x20 || v->valuestring[i] == 0x7f)
            return NULL;
    return v->valuestring;
}

/* An integer argument in lo..hi, def when absent; false when bad. */
static bool int_arg(const cJSON *req, const char *key, int64_t lo, int64_t hi, int64_t def,
                    int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);
    *out = def;
    if (!v)
        return true;
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int64_t)v->valuedouble ||
        v->valuedouble < (double)lo || v->valuedouble > (double)hi)
        return false;
    *out = (int64_t)v->valuedouble;
    return true;
}

/* The group "group" names (its name, or its id in hex). */
static cJSON *find_group(node *n, const cJSON *req, uint8_t id[static GSTATE_ID_LEN])
{
    const char *q = str_arg(req, "group", ARG_MAX);
    if (!q)
        return err_reply(BANTER_EINVAL, "\"group\": a group's name or id");
    int r = groups_find(node_groups(n), q, id);
    if (r == BANTER_ENOENT)
        return err_reply(r, "no such group (banter group list)");
    if (r == BANTER_EAMBIGUOUS)
        return err_reply(r, "several groups have that name: name it by its id");
    return r ? err_reply(r, NULL) : NULL;
}

/* The member ids of "members" (an array) or "member" (one), resolved. */
static cJSON *member_args(node *n, const cJSON *req, char (*ids)[GSTATE_MEMBER_MAX + 1],
                          size_t *count, bool one)
{
    char why[256] = "", text[400];
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(req, one ? "member" : "members");
    *count = 0;
    if (one) {
        const char *q = str_arg(req, "member", ARG_MAX);
        if (!q)
            return err_reply(BANTER_EINVAL, "\"member\": \"@account\", a contact or a key");
        int r = groups_member_id(node_groups(n), q, ids[0], why, sizeof why);
        if (r)
            return err_reply(r, why);
        *count = 1;
        return NULL;
    }
    if (arr && !cJSON_IsArray(arr))
        return err_reply(BANTER_EINVAL, "\"members\": an array of names");
    const cJSON *it;
    cJSON_ArrayForEach (it, arr) {
        if (*count == MAX_MEMBERS_ARG)
            return err_reply(BANTER_EINVAL, "too many members in one request (32 at most)");
        if (!cJSON_IsString(it) || !it->valuestring[0] || strlen(it->valuestring) > ARG_MAX ||
            !utf8_valid(it->valuestring, strlen(it->valuestring)))
            return err_reply(BANTER_EINVAL, "\"members\": an array of names");
        int r = groups_member_id(node_groups(n), it->valuestring, ids[*count], why, sizeof why);
        if (r) {
            snprintf(text, sizeof text, "member \"%.64s\": %s", it->valuestring,
                     why[0] ? why : banter_strerror(r));
            return err_reply(r, text);
        }
        (*count)++;
    }
    return NULL;
}

/* A member id as people read it: "@account", or the key's contact name
 * and fingerprint. */
static cJSON *member_json(node *n, const gstate_member *m, const char *me)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", m->id);
    if (m->admin)
        cJSON_AddTrueToObject(o, "admin");
    if (strcmp(m->id, me) == 0)
        cJSON_AddTrueToObject(o, "me");
    if (m->id[0] != '@') {
        uint8_t key[32];
        size_t kn = 0;
        store_device d;
        store_contact c;
        char fp[IDENTITY_FP_LEN + 1];
        if (sodium_hex2bin(key, 32, m->id, strlen(m->id), NULL, &kn, NULL) == 0 && kn == 32) {
            identity_fingerprint(key, fp);
            cJSON_AddStringToObject(o, "fingerprint", fp);
            if (store_device_get(node_store(n), key, &d) == 0 &&
                store_contact_get(node_store(n), d.contact, &c) == 0)
                cJSON_AddStringToObject(o, "name", c.name);
        }
    }
    return o;
}

static cJSON *group_json(node *n, const groups_info *gi, bool members)
{
    char me[GSTATE_MEMBER_MAX + 1];
    groups_me(node_groups(n), me);
    cJSON *o = cJSON_CreateObject();
    add_hex(o, "id", gi->st.group, GSTATE_ID_LEN);
    cJSON_AddStringToObject(o, "name", gi->st.name);
    cJSON_AddNumberToObject(o, "version", (double)gi->st.v);
    cJSON_AddStringToObject(o, "creator", gi->st.creator);
    cJSON_AddNumberToObject(o, "members_count", (double)gi->st.n);
    cJSON_AddBoolToObject(o, "member", gi->member);
    cJSON_AddBoolToObject(o, "admin", gi->admin);
    cJSON_AddNumberToObject(o, "unread", (double)gi->unread);
    cJSON_AddNumberToObject(o, "created", (double)gi->created_ms);
    if (members) {
        cJSON *a = cJSON_AddArrayToObject(o, "members");
        for (size_t i = 0; i < gi->st.n; i++)
            cJSON_AddItemToArray(a, member_json(n, &gi->st.m[i], me));
    }
    return o;
}

static const char *state_name(store_state s)
{
    static const char *names[] = {"queued", "delivered", "received", "stored", "failed"};
    return (unsigned)s < 5 ? names[s] : "?";
}

/* A group or conversation message; delivery per member for a group
 * message this device sent. */
static cJSON *message_json(node *n, const store_msg *m)
{
    cJSON *o = cJSON_CreateObject();
    add_hex(o, "id", m->id, MSG_ID_LEN);
    cJSON_AddNumberToObject(o, "seq", (double)m->seq);
    cJSON_AddStringToObject(o, "direction", m->dir == STORE_IN ? "in" : "out");
    if (m->has_device) {
        char fp[IDENTITY_FP_LEN + 1];
        store_device d;
        store_contact c;
        identity_fingerprint(m->device, fp);
        cJSON_AddStringToObject(o, "device", fp);
        if (store_device_get(node_store(n), m->device, &d) == 0 &&
            store_contact_get(node_store(n), d.contact, &c) == 0) {
            cJSON_AddStringToObject(o, "from", c.name);
            if (c.kind == CONTACT_ORG)
                cJSON_AddStringToObject(o, "account", c.account);
        }
    }
    cJSON_AddNumberToObject(o, "ts", (double)m->ts_ms);
    cJSON_AddNumberToObject(o, "stored", (double)m->stored_ms);
    cJSON_AddStringToObject(o, "state", state_name(m->state));
    cJSON_AddStringToObject(o, "body", m->body ? m->body : "");
    if (m->has_group && m->dir == STORE_OUT && !m->has_device) {
        groups_member_delivery *dl = NULL;
        size_t k = 0, got = 0;
        if (groups_delivery(node_groups(n), m->group, m->id, &dl, &k) == 0) {
            cJSON *a = cJSON_AddArrayToObject(o, "delivery");
            for (size_t i = 0; i < k; i++) {
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "member", dl[i].id);
                cJSON_AddStringToObject(e, "state",
                                        dl[i].delivered ? "delivered"
                                        : dl[i].server  ? "stored"
                                        : dl[i].failed  ? "failed"
                                                        : "queued");
                cJSON_AddItemToArray(a, e);
                got += dl[i].delivered;
            }
            cJSON_AddNumberToObject(o, "delivered_to", (double)got);
            cJSON_AddNumberToObject(o, "recipients", (double)k);
        }
        free(dl);
    }
    return o;
}

static cJSON *cmd_groups(node *n)
{
    groups_info *all = NULL;
    size_t k = 0;
    int r = groups_list(node_groups(n), &all, &k);
    if (r)
        return err_reply(r, NULL);
    cJSON *o = ok_reply();
    cJSON *a = cJSON_AddArrayToObject(o, "groups");
    for (size_t i = 0; i < k; i++)
        cJSON_AddItemToArray(a, group_json(n, &all[i], false));
    free(all);
    return o;
}

static cJSON *reply_group(node *n, const uint8_t id[static GSTATE_ID_LEN], bool members)
{
    groups_info gi;
    int r = groups_get(node_groups(n), id, &gi);
    if (r)
        return err_reply(r, NULL);
    cJSON *o = ok_reply();
    cJSON_AddItemToObject(o, "group", group_json(n, &gi, members));
    return o;
}

static cJSON *cmd_create(node *n, const cJSON *req)
{
    char ids[MAX_MEMBERS_ARG][GSTATE_MEMBER_MAX + 1], why[256] = "";
    const char *ptrs[MAX_MEMBERS_ARG];
    size_t k = 0;
    uint8_t id[GSTATE_ID_LEN];
    const char *name = str_arg(req, "name", BANTER_MAX_NAME);
    if (!name)
        return err_reply(BANTER_EINVAL, "\"name\": 1 to 64 bytes of text");
    cJSON *e = member_args(n, req, ids, &k, false);
    if (e)
        return e;
    for (size_t i = 0; i < k; i++)
        ptrs[i] = ids[i];
    int r = groups_create(node_groups(n), name, ptrs, k, id, why, sizeof why);
    node_arm(n);
    return r ? err_reply(r, why) : reply_group(n, id, true);
}

static cJSON *cmd_change(node *n, const char *cmd, const cJSON *req)
{
    char ids[MAX_MEMBERS_ARG][GSTATE_MEMBER_MAX + 1], why[256] = "";
    const char *ptrs[MAX_MEMBERS_ARG];
    size_t k = 0;
    uint8_t id[GSTATE_ID_LEN];
    groups *g = node_groups(n);
    cJSON *e = find_group(n, req, id);
    if (e)
        return e;
    int r;
    if (strcmp(cmd, "group_invite") == 0) {
        if ((e = member_args(n, req, ids, &k, false)) != NULL)
            return e;
        if (k == 0)
            return err_reply(BANTER_EINVAL, "\"members\": whom to invite");
        for (size_t i = 0; i < k; i++)
            ptrs[i] = ids[i];
        r = groups_invite(g, id, ptrs, k, why, sizeof why);
    } else if (strcmp(cmd, "group_remove") == 0 || strcmp(cmd, "group_admin") == 0) {
        if ((e = member_args(n, req, ids, &k, true)) != NULL)
            return e;
        const cJSON *admin = cJSON_GetObjectItemCaseSensitive(req, "admin");
        if (cmd[6] == 'a' && !cJSON_IsBool(admin))
            return err_reply(BANTER_EINVAL, "\"admin\": true or false");
        r = cmd[6] == 'r' ? groups_remove(g, id, ids[0], why, sizeof why)
                          : groups_set_admin(g, id, ids[0], cJSON_IsTrue(admin), why, sizeof why);
    } else if (strcmp(cmd, "group_rename") == 0) {
        const char *name = str_arg(req, "name", BANTER_MAX_NAME);
        if (!name)
            return err_reply(BANTER_EINVAL, "\"name\": 1 to 64 bytes of text");
        r = groups_rename(g, id, name, why, sizeof why);
    } else { /* group_leave */
        r = groups_leave(g, id, why, sizeof why);
    }
    node_arm(n);
    return r ? err_reply(r, why) : reply_group(n, id, true);
}

static cJSON *cmd_send(node *n, const cJSON *req)
{
    uint8_t id[GSTATE_ID_LEN], msgid[MSG_ID_LEN];
    cJSON *e = find_group(n, req, id);
    if (e)
        return e;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(req, "text");
    if (!cJSON_IsString(t))
        return err_reply(BANTER_EINVAL, "\"text\": the message");
    int r = groups_send(node_groups(n), id, t->valuestring, strlen(t->valuestring), msgid);
    node_arm(n);
    if (r == BANTER_ESTATE)
        return err_reply(r, "this node is no longer a member of the group");
    if (r)
        return err_reply(r, NULL);
    cJSON *o = ok_reply();
    add_hex(o, "id", msgid, MSG_ID_LEN);
    add_hex(o, "group", id, GSTATE_ID_LEN);
    cJSON_AddStringToObject(o, "state", "queued");
    return o;
}

static cJSON *cmd_history(node *n, const cJSON *req)
{
    uint8_t id[GSTATE_ID_LEN];
    int64_t limit;
    store_msg *h = NULL;
    size_t k = 0;
    cJSON *e = find_group(n, req, id);
    if (e)
        return e;
    if (!int_arg(req, "limit", 1, GROUPS_PAGE_MAX, 50, &limit))
        return err_reply(BANTER_EINVAL, "\"limit\": 1 to 500 messages");
    int r = store_group_history(node_store(n), id, NULL, (size_t)limit, &h, &k);
    if (r)
        return err_reply(r, NULL);
    cJSON *o = reply_group(n, id, false);
    cJSON *a = cJSON_AddArrayToObject(o, "messages");
    for (size_t i = 0; i < k; i++)
        cJSON_AddItemToArray(a, message_json(n, &h[i]));
    store_msgs_free(h, k);
    return o;
}

static cJSON *cmd_read(node *n, const cJSON *req)
{
    uint8_t id[GSTATE_ID_LEN];
    cJSON *e = find_group(n, req, id);
    if (e)
        return e;
    int r = groups_mark_read(node_groups(n), id);
    return r ? err_reply(r, NULL) : reply_group(n, id, false);
}

/* "find": full-text search over every conversation and group, newest
 * first, paged by "before" (a seq). */
static cJSON *cmd_find(node *n, const cJSON *req)
{
    int64_t limit, before;
    store_msg *hits = NULL;
    size_t k = 0;
    const char *text = str_arg(req, "text", STORE_SEARCH_MAX);
    if (!text)
        return err_reply(BANTER_EINVAL, "\"text\": the words to find (1 to 256 bytes)");
    if (!int_arg(req, "limit", 1, GROUPS_PAGE_MAX, 20, &limit) ||
        !int_arg(req, "before", 0, (int64_t)1 << 53, 0, &before))
        return err_reply(BANTER_EINVAL, "\"limit\": 1 to 500; \"before\": a seq");
    int r = store_search(node_store(n), text, NULL, before, (size_t)limit, &hits, &k);
    if (r == BANTER_ETOOLONG)
        return err_reply(r, "too many words (16 at most)");
    if (r == BANTER_EINVAL)
        return err_reply(r, "no word to find");
    if (r)
        return err_reply(r, NULL);
    cJSON *o = ok_reply();
    cJSON *a = cJSON_AddArrayToObject(o, "results");
    for (size_t i = 0; i < k; i++) {
        cJSON *res = cJSON_CreateObject(), *conv = cJSON_CreateObject();
        if (hits[i].has_group) {
            groups_info gi;
            cJSON_AddStringToObject(conv, "kind", "group");
            add_hex(conv, "group", hits[i].group, GSTATE_ID_LEN);
            if (groups_get(node_groups(n), hits[i].group, &gi) == 0)
                cJSON_AddStringToObject(conv, "name", gi.st.name);
        } else {
            store_contact c;
            cJSON_AddStringToObject(conv, "kind", "contact");
            add_hex(conv, "peer", hits[i].contact, 32);
            if (store_contact_get(node_store(n), hits[i].contact, &c) == 0) {
                cJSON_AddStringToObject(conv, "name", c.name);
                if (c.kind == CONTACT_ORG)
                    cJSON_AddStringToObject(conv, "account", c.account);
            }
        }
        cJSON_AddItemToObject(res, "conversation", conv);
        cJSON_AddItemToObject(res, "message", message_json(n, &hits[i]));
        cJSON_AddItemToArray(a, res);
    }
    if (k == (size_t)limit)
        cJSON_AddNumberToObject(o, "next_before", (double)hits[k - 1].seq);
    store_msgs_free(hits, k);
    return o;
}

static const char *const owned[] = {"groups",      "group_create",  "group_invite", "group_remove",
                                    "group_leave", "group_rename",  "group_admin",  "group_members",
                                    "group_send",  "group_history", "group_read",   "find"};

bool groupctl_owns(const char *cmd)
{
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        if (strcmp(cmd, owned[i]) == 0)
            return true;
    return false;
}

cJSON *groupctl_request(node *n, const char *cmd, const cJSON *req)
{
    uint8_t id[GSTATE_ID_LEN];
    if (strcmp(cmd, "groups") == 0)
        return cmd_groups(n);
    if (strcmp(cmd, "group_create") == 0)
        return cmd_create(n, req);
    if (strcmp(cmd, "group_members") == 0) {
        cJSON *e = find_group(n, req, id);
        return e ? e : reply_group(n, id, true);
    }
    if (strcmp(cmd, "group_send") == 0)
        return cmd_send(n, req);
    if (strcmp(cmd, "group_history") == 0)
        return cmd_history(n, req);
    if (strcmp(cmd, "group_read") == 0)
        return cmd_read(n, req);
    if (strcmp(cmd, "find") == 0)
        return cmd_find(n, req);
    return cmd_change(n, cmd, req);
}

bool groupctl_event_owns(const node_event *ev)
{
    return ev->type == NODE_EV_GROUP_MESSAGE || ev->type == NODE_EV_GROUP;
}

cJSON *groupctl_event(node *n, const node_event *ev)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "event", ev->type == NODE_EV_GROUP ? "group" : "group_message");
    cJSON_AddNumberToObject(o, "at", (double)(g_get_real_time() / 1000));
    groups_info gi;
    if (ev->group && groups_get(node_groups(n), ev->group, &gi) == 0)
        cJSON_AddItemToObject(o, "group", group_json(n, &gi, ev->type == NODE_EV_GROUP));
    if (ev->type == NODE_EV_GROUP_MESSAGE && ev->msg)
        cJSON_AddItemToObject(o, "message", message_json(n, ev->msg));
    return o;
}
