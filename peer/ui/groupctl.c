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

/* The group q names (its name, or its id in hex). */
static cJSON *find_group(node *n, const char *q, uint8_t id[static GSTATE_ID_LEN])
{
    int r = groups_find(node_groups(n), q, id);
    if (r == BANTER_ENOENT)
        return err_reply(r, "no such group (banter group list)");
    if (r == BANTER_EAMBIGUOUS)
        return err_reply(r, "several groups have that name: name it by its id");
    return r ? err_reply(r, NULL) : NULL;
}

/* The member ids of what was typed, resolved. */
static cJSON *member_ids(node *n, const char (*typed)[BANTER_CTL_MAX_PEER + 1], size_t count,
                         char (*ids)[GSTATE_MEMBER_MAX + 1])
{
    char why[256] = "", text[400];
    for (size_t i = 0; i < count; i++) {
        int r = groups_member_id(node_groups(n), typed[i], ids[i], why, sizeof why);
        if (r) {
            snprintf(text, sizeof text, "member \"%.64s\": %s", typed[i],
                     why[0] ? why : banter_strerror(r));
            return err_reply(r, text);
        }
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

static cJSON *cmd_create(node *n, const struct ctl_group *q)
{
    char ids[CTL_MAX_GROUP_MEMBERS][GSTATE_MEMBER_MAX + 1], why[256] = "";
    const char *ptrs[CTL_MAX_GROUP_MEMBERS];
    uint8_t id[GSTATE_ID_LEN];
    cJSON *e = member_ids(n, q->members, q->nmembers, ids);
    if (e)
        return e;
    for (size_t i = 0; i < q->nmembers; i++)
        ptrs[i] = ids[i];
    int r = groups_create(node_groups(n), q->name, ptrs, q->nmembers, id, why, sizeof why);
    node_arm(n);
    return r ? err_reply(r, why) : reply_group(n, id, true);
}

static cJSON *cmd_change(node *n, ctl_kind kind, const struct ctl_group *q)
{
    char ids[CTL_MAX_GROUP_MEMBERS][GSTATE_MEMBER_MAX + 1], why[256] = "";
    const char *ptrs[CTL_MAX_GROUP_MEMBERS];
    uint8_t id[GSTATE_ID_LEN];
    groups *g = node_groups(n);
    cJSON *e = find_group(n, q->group, id);
    if (!e && kind == CTL_GROUP_INVITE)
        e = member_ids(n, q->members, q->nmembers, ids);
    if (!e && (kind == CTL_GROUP_REMOVE || kind == CTL_GROUP_ADMIN))
        e = member_ids(n, &q->member, 1, ids);
    if (e)
        return e;
    int r;
    switch (kind) {
    case CTL_GROUP_INVITE:
        for (size_t i = 0; i < q->nmembers; i++)
            ptrs[i] = ids[i];
        r = groups_invite(g, id, ptrs, q->nmembers, why, sizeof why);
        break;
    case CTL_GROUP_REMOVE:
        r = groups_remove(g, id, ids[0], why, sizeof why);
        break;
    case CTL_GROUP_ADMIN:
        r = groups_set_admin(g, id, ids[0], q->admin, why, sizeof why);
        break;
    case CTL_GROUP_RENAME:
        r = groups_rename(g, id, q->name, why, sizeof why);
        break;
    default: /* CTL_GROUP_LEAVE */
        r = groups_leave(g, id, why, sizeof why);
        break;
    }
    node_arm(n);
    return r ? err_reply(r, why) : reply_group(n, id, true);
}

static cJSON *cmd_send(node *n, const struct ctl_group *q)
{
    uint8_t id[GSTATE_ID_LEN], msgid[MSG_ID_LEN];
    cJSON *e = find_group(n, q->group, id);
    if (e)
        return e;
    int r = groups_send(node_groups(n), id, q->text.s, q->text.len, msgid);
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

static cJSON *cmd_history(node *n, const struct ctl_group *q)
{
    uint8_t id[GSTATE_ID_LEN];
    store_msg *h = NULL;
    size_t k = 0;
    cJSON *e = find_group(n, q->group, id);
    if (e)
        return e;
    int r = store_group_history(node_store(n), id, NULL, (size_t)q->limit, &h, &k);
    if (r)
        return err_reply(r, NULL);
    cJSON *o = reply_group(n, id, false);
    cJSON *a = cJSON_AddArrayToObject(o, "messages");
    for (size_t i = 0; i < k; i++)
        cJSON_AddItemToArray(a, message_json(n, &h[i]));
    store_msgs_free(h, k);
    return o;
}

/* The conversation a found message belongs to. */
static cJSON *conversation_json(node *n, const store_msg *m)
{
    cJSON *conv = cJSON_CreateObject();
    if (m->has_group) {
        groups_info gi;
        cJSON_AddStringToObject(conv, "kind", "group");
        add_hex(conv, "group", m->group, GSTATE_ID_LEN);
        if (groups_get(node_groups(n), m->group, &gi) == 0)
            cJSON_AddStringToObject(conv, "name", gi.st.name);
        return conv;
    }
    store_contact c;
    cJSON_AddStringToObject(conv, "kind", "contact");
    add_hex(conv, "peer", m->contact, 32);
    if (store_contact_get(node_store(n), m->contact, &c) == 0) {
        cJSON_AddStringToObject(conv, "name", c.name);
        if (c.kind == CONTACT_ORG)
            cJSON_AddStringToObject(conv, "account", c.account);
    }
    return conv;
}

/* "find": full-text search over every conversation and group, newest
 * first, paged by "before" (a seq). */
static cJSON *cmd_find(node *n, const struct ctl_find *q)
{
    store_msg *hits = NULL;
    size_t k = 0;
    int r = store_search(node_store(n), q->text, NULL, q->before, (size_t)q->limit, &hits, &k);
    if (r == BANTER_ETOOLONG)
        return err_reply(r, "too many words (16 at most)");
    if (r == BANTER_EINVAL)
        return err_reply(r, "no word to find");
    if (r)
        return err_reply(r, NULL);
    cJSON *o = ok_reply();
    cJSON *a = cJSON_AddArrayToObject(o, "results");
    for (size_t i = 0; i < k; i++) {
        cJSON *res = cJSON_CreateObject();
        cJSON_AddItemToObject(res, "conversation", conversation_json(n, &hits[i]));
        cJSON_AddItemToObject(res, "message", message_json(n, &hits[i]));
        cJSON_AddItemToArray(a, res);
    }
    if (k == (size_t)q->limit)
        cJSON_AddNumberToObject(o, "next_before", (double)hits[k - 1].seq);
    store_msgs_free(hits, k);
    return o;
}

bool groupctl_owns(ctl_kind kind) { return kind >= CTL_GROUPS && kind <= CTL_FIND; }

cJSON *groupctl_request(node *n, const ctl_request *q)
{
    uint8_t id[GSTATE_ID_LEN];
    cJSON *e;
    switch (q->kind) {
    case CTL_GROUPS:
        return cmd_groups(n);
    case CTL_GROUP_CREATE:
        return cmd_create(n, &q->u.group);
    case CTL_GROUP_MEMBERS:
    case CTL_GROUP_READ:
        e = find_group(n, q->u.group.group, id);
        if (e)
            return e;
        if (q->kind == CTL_GROUP_READ && groups_mark_read(node_groups(n), id) != 0)
            return err_reply(BANTER_EDB, NULL);
        return reply_group(n, id, q->kind == CTL_GROUP_MEMBERS);
    case CTL_GROUP_SEND:
        return cmd_send(n, &q->u.group);
    case CTL_GROUP_HISTORY:
        return cmd_history(n, &q->u.group);
    case CTL_FIND:
        return cmd_find(n, &q->u.find);
    default:
        return cmd_change(n, q->kind, &q->u.group);
    }
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
