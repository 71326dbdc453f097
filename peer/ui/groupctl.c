/* SPDX-License-Identifier: MIT */
/* groupctl.c - group and history-search requests of the control socket (see groupctl.h). */
#include "ui/groupctl.h"

#include <glib.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"

/* What a group view points into while it is written. */
typedef struct member_names {
    char fp[IDENTITY_FP_LEN + 1];
    char name[BANTER_MAX_NAME + 1];
} member_names;

typedef struct group_out {
    ctl_group_view v;
    ctl_group_member m[GSTATE_MAX_MEMBERS];
    member_names names[GSTATE_MAX_MEMBERS];
    char hexid[GSTATE_MAX_MEMBERS][GSTATE_MEMBER_MAX + 1];
} group_out;

/* What a message points into while it is written. */
typedef struct message_out {
    ctl_group_message m;
    char fp[IDENTITY_FP_LEN + 1];
    store_contact from;
    groups_member_delivery *dl; /* malloc'd by groups_delivery */
    ctl_delivery *d;
} message_out;

static int reply_error(int err, const char *message, buf *out)
{
    return ctlmsg_encode_error(err, NULL, message && message[0] ? message : NULL, NULL, 0, out);
}

/* The group q names (its name, or its id in hex); nonzero after writing
 * why into out. */
static int find_group(node *n, const char *q, uint8_t id[static GSTATE_ID_LEN], buf *out, int *r)
{
    *r = groups_find(node_groups(n), q, id);
    if (*r == BANTER_ENOENT)
        *r = reply_error(*r, "no such group (banter group list)", out);
    else if (*r == BANTER_EAMBIGUOUS)
        *r = reply_error(*r, "several groups have that name: name it by its id", out);
    else if (*r)
        *r = reply_error(*r, NULL, out);
    else
        return 0;
    return 1;
}

/* The member ids of what was typed, resolved; nonzero after writing why. */
static int member_ids(node *n, const char (*typed)[BANTER_CTL_MAX_PEER + 1], size_t count,
                      char (*ids)[GSTATE_MEMBER_MAX + 1], buf *out, int *r)
{
    char why[256] = "", text[400];
    for (size_t i = 0; i < count; i++) {
        *r = groups_member_id(node_groups(n), typed[i], ids[i], why, sizeof why);
        if (*r) {
            snprintf(text, sizeof text, "member \"%.64s\": %s", typed[i],
                     why[0] ? why : banter_strerror(*r));
            *r = reply_error(*r, text, out);
            return 1;
        }
    }
    return 0;
}

/* A key member as people read it: its fingerprint and contact name. */
static void key_member(node *n, ctl_group_member *o, member_names *nm, const char *hex)
{
    uint8_t key[32];
    size_t kn = 0;
    store_device d;
    store_contact c;
    if (sodium_hex2bin(key, 32, hex, strlen(hex), NULL, &kn, NULL) != 0 || kn != 32)
        return;
    identity_fingerprint(key, nm->fp);
    o->fingerprint = nm->fp;
    if (store_device_get(node_store(n), key, &d) == 0 &&
        store_contact_get(node_store(n), d.contact, &c) == 0) {
        g_strlcpy(nm->name, c.name, sizeof nm->name);
        o->name = nm->name;
    }
}

/* g (g_new0'd by the caller) describes gi; with its members when asked. */
static void group_of(node *n, group_out *g, const groups_info *gi, bool members)
{
    char me[GSTATE_MEMBER_MAX + 1];
    ctl_group_view *v = &g->v;
    memcpy(v->id, gi->st.group, GSTATE_ID_LEN);
    v->name = gi->st.name;
    v->version = (int64_t)gi->st.v;
    v->creator = gi->st.creator;
    v->members_count = (int64_t)gi->st.n;
    v->member = gi->member;
    v->admin = gi->admin;
    v->unread = gi->unread;
    v->created = gi->created_ms;
    v->with_members = members;
    if (!members)
        return;
    groups_me(node_groups(n), me);
    for (size_t i = 0; i < gi->st.n && i < GSTATE_MAX_MEMBERS; i++) {
        const gstate_member *m = &gi->st.m[i];
        ctl_group_member *o = &g->m[i];
        g_strlcpy(g->hexid[i], m->id, sizeof g->hexid[i]);
        o->id = g->hexid[i];
        o->admin = m->admin;
        o->me = strcmp(m->id, me) == 0;
        if (m->id[0] != '@')
            key_member(n, o, &g->names[i], m->id);
    }
    v->nmembers = MIN(gi->st.n, (size_t)GSTATE_MAX_MEMBERS);
    v->members = g->m;
}

static const char *state_name(store_state s)
{
    static const char *names[] = {"queued", "delivered", "received", "stored", "failed"};
    return (unsigned)s < 5 ? names[s] : "?";
}

/* o (zeroed by the caller) describes m, a group or conversation message;
 * delivery per member for a group message this device sent. Free with
 * message_done. */
static void message_of(node *n, message_out *o, const store_msg *m)
{
    ctl_group_message *g = &o->m;
    memcpy(g->id, m->id, MSG_ID_LEN);
    g->seq = m->seq;
    g->incoming = m->dir == STORE_IN;
    if (m->has_device) {
        store_device d;
        identity_fingerprint(m->device, o->fp);
        g->device = o->fp;
        if (store_device_get(node_store(n), m->device, &d) == 0 &&
            store_contact_get(node_store(n), d.contact, &o->from) == 0) {
            g->from = o->from.name;
            if (o->from.kind == CONTACT_ORG)
                g->account = o->from.account;
        }
    }
    g->ts = m->ts_ms;
    g->stored = m->stored_ms;
    g->state = state_name(m->state);
    g->body = m->body ? m->body : "";
    g->body_len = strlen(g->body);
    size_t k = 0;
    if (!m->has_group || m->dir != STORE_OUT || m->has_device ||
        groups_delivery(node_groups(n), m->group, m->id, &o->dl, &k) != 0)
        return;
    o->d = g_new0(ctl_delivery, k + 1);
    for (size_t i = 0; i < k; i++) {
        o->d[i].member = o->dl[i].id;
        o->d[i].state = o->dl[i].delivered ? "delivered"
                        : o->dl[i].server  ? "stored"
                        : o->dl[i].failed  ? "failed"
                                           : "queued";
        g->delivered_to += o->dl[i].delivered;
    }
    g->has_delivery = true;
    g->ndelivery = k;
    g->delivery = o->d;
}

static void message_done(message_out *o)
{
    free(o->dl);
    g_free(o->d);
}

static int cmd_groups(node *n, buf *out)
{
    groups_info *all = NULL;
    size_t k = 0;
    int r = groups_list(node_groups(n), &all, &k);
    if (r)
        return reply_error(r, NULL, out);
    group_out *gs = g_new0(group_out, 1); /* scratch for one; views are small */
    ctl_group_view *views = g_new0(ctl_group_view, k + 1);
    for (size_t i = 0; i < k; i++) {
        group_of(n, gs, &all[i], false);
        views[i] = gs->v;
    }
    ctl_reply rp = {.kind = CTL_GROUPS, .u.groups = {k, views, GROUPS_MAX, 0, 0}};
    groups_refusals(node_groups(n), &rp.u.groups.refused, &rp.u.groups.refused_at);
    r = ctlmsg_encode_reply(&rp, out);
    g_free(views);
    g_free(gs);
    free(all);
    return r;
}

/* The reply of kind about group id: the group, with members when asked,
 * and n messages (a history). */
static int reply_group(node *n, ctl_kind kind, const uint8_t id[static GSTATE_ID_LEN], bool members,
                       const store_msg *h, size_t k, buf *out)
{
    groups_info gi;
    int r = groups_get(node_groups(n), id, &gi);
    if (r)
        return reply_error(r, NULL, out);
    group_out *g = g_new0(group_out, 1);
    message_out *ms = g_new0(message_out, k + 1);
    ctl_group_message *msgs = g_new0(ctl_group_message, k + 1);
    group_of(n, g, &gi, members);
    for (size_t i = 0; i < k; i++) {
        message_of(n, &ms[i], &h[i]);
        msgs[i] = ms[i].m;
    }
    ctl_reply rp = {.kind = kind, .u.group = {&g->v, k, msgs}};
    r = ctlmsg_encode_reply(&rp, out);
    for (size_t i = 0; i < k; i++)
        message_done(&ms[i]);
    g_free(msgs);
    g_free(ms);
    g_free(g);
    return r;
}

static int cmd_create(node *n, const struct ctl_group *q, buf *out)
{
    char ids[CTL_MAX_GROUP_MEMBERS][GSTATE_MEMBER_MAX + 1], why[256] = "";
    const char *ptrs[CTL_MAX_GROUP_MEMBERS];
    uint8_t id[GSTATE_ID_LEN];
    int r;
    if (member_ids(n, q->members, q->nmembers, ids, out, &r))
        return r;
    for (size_t i = 0; i < q->nmembers; i++)
        ptrs[i] = ids[i];
    r = groups_create(node_groups(n), q->name, ptrs, q->nmembers, id, why, sizeof why);
    node_arm(n);
    return r ? reply_error(r, why, out) : reply_group(n, CTL_GROUP_CREATE, id, true, NULL, 0, out);
}

static int cmd_change(node *n, ctl_kind kind, const struct ctl_group *q, buf *out)
{
    char ids[CTL_MAX_GROUP_MEMBERS][GSTATE_MEMBER_MAX + 1], why[256] = "";
    const char *ptrs[CTL_MAX_GROUP_MEMBERS];
    uint8_t id[GSTATE_ID_LEN];
    groups *g = node_groups(n);
    int r;
    if (find_group(n, q->group, id, out, &r) ||
        (kind == CTL_GROUP_INVITE && member_ids(n, q->members, q->nmembers, ids, out, &r)) ||
        ((kind == CTL_GROUP_REMOVE || kind == CTL_GROUP_ADMIN) &&
         member_ids(n, &q->member, 1, ids, out, &r)))
        return r;
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
    return r ? reply_error(r, why, out) : reply_group(n, kind, id, true, NULL, 0, out);
}

/* group_delete: the user's own request (only the control socket and the
 * page with its key reach here; no peer message deletes a group). */
static int cmd_delete(node *n, const struct ctl_group *q, buf *out)
{
    char why[256] = "";
    groups_deleted d;
    ctl_reply rp = {.kind = CTL_GROUP_DELETE};
    int r;
    if (find_group(n, q->group, rp.u.group_delete.id, out, &r))
        return r;
    r = groups_delete(node_groups(n), rp.u.group_delete.id, &d, why, sizeof why);
    node_arm(n); /* the leave goes out */
    if (r)
        return reply_error(r, why, out);
    rp.u.group_delete.name = d.name;
    rp.u.group_delete.left = d.left;
    rp.u.group_delete.messages = d.messages;
    return ctlmsg_encode_reply(&rp, out);
}

static int cmd_send(node *n, const struct ctl_group *q, buf *out)
{
    ctl_reply rp = {.kind = CTL_GROUP_SEND};
    int r;
    if (find_group(n, q->group, rp.u.group_send.group, out, &r))
        return r;
    r = groups_send(node_groups(n), rp.u.group_send.group, q->text.s, q->text.len,
                    rp.u.group_send.id);
    node_arm(n);
    if (r == BANTER_ESTATE)
        return reply_error(r, "this node is no longer a member of the group", out);
    return r ? reply_error(r, NULL, out) : ctlmsg_encode_reply(&rp, out);
}

static int cmd_history(node *n, const struct ctl_group *q, buf *out)
{
    uint8_t id[GSTATE_ID_LEN];
    store_msg *h = NULL;
    size_t k = 0;
    int r;
    if (find_group(n, q->group, id, out, &r))
        return r;
    r = store_group_history(node_store(n), id, NULL, (size_t)q->limit, &h, &k);
    if (r)
        return reply_error(r, NULL, out);
    r = reply_group(n, CTL_GROUP_HISTORY, id, false, h, k, out);
    store_msgs_free(h, k);
    return r;
}

/* What a "find" result points into while it is written. */
typedef struct found_out {
    ctl_found f;
    message_out m;
    char gname[sizeof((gstate *)0)->name];
    store_contact c;
} found_out;

/* The conversation a found message belongs to. */
static void found_of(node *n, found_out *o, const store_msg *m)
{
    message_of(n, &o->m, m);
    o->f.message = o->m.m;
    o->f.group = m->has_group;
    if (m->has_group) {
        groups_info gi;
        o->f.conv = m->group;
        if (groups_get(node_groups(n), m->group, &gi) == 0) {
            g_strlcpy(o->gname, gi.st.name, sizeof o->gname);
            o->f.name = o->gname;
        }
        return;
    }
    o->f.conv = m->contact;
    if (store_contact_get(node_store(n), m->contact, &o->c) == 0) {
        o->f.name = o->c.name;
        if (o->c.kind == CONTACT_ORG)
            o->f.account = o->c.account;
    }
}

/* "find": full-text search over every conversation and group, newest
 * first, paged by "before" (a seq). */
static int cmd_find(node *n, const struct ctl_find *q, buf *out)
{
    store_msg *hits = NULL;
    size_t k = 0;
    int r = store_search(node_store(n), q->text, NULL, q->before, (size_t)q->limit, &hits, &k);
    if (r == BANTER_ETOOLONG)
        return reply_error(r, "too many words (16 at most)", out);
    if (r == BANTER_EINVAL)
        return reply_error(r, "no word to find", out);
    if (r)
        return reply_error(r, NULL, out);
    found_out *fo = g_new0(found_out, k + 1);
    ctl_found *res = g_new0(ctl_found, k + 1);
    for (size_t i = 0; i < k; i++) {
        found_of(n, &fo[i], &hits[i]);
        res[i] = fo[i].f;
    }
    ctl_reply rp = {.kind = CTL_FIND, .u.find = {k, res, 0}};
    if (k && k == (size_t)q->limit)
        rp.u.find.next_before = hits[k - 1].seq;
    r = ctlmsg_encode_reply(&rp, out);
    for (size_t i = 0; i < k; i++)
        message_done(&fo[i].m);
    g_free(res);
    g_free(fo);
    store_msgs_free(hits, k);
    return r;
}

bool groupctl_owns(ctl_kind kind) { return kind >= CTL_GROUPS && kind <= CTL_FIND; }

int groupctl_request(node *n, const ctl_request *q, buf *out)
{
    uint8_t id[GSTATE_ID_LEN];
    int r;
    switch (q->kind) {
    case CTL_GROUPS:
        return cmd_groups(n, out);
    case CTL_GROUP_CREATE:
        return cmd_create(n, &q->u.group, out);
    case CTL_GROUP_MEMBERS:
    case CTL_GROUP_READ:
        if (find_group(n, q->u.group.group, id, out, &r))
            return r;
        if (q->kind == CTL_GROUP_READ && groups_mark_read(node_groups(n), id) != 0)
            return reply_error(BANTER_EDB, NULL, out);
        return reply_group(n, q->kind, id, q->kind == CTL_GROUP_MEMBERS, NULL, 0, out);
    case CTL_GROUP_SEND:
        return cmd_send(n, &q->u.group, out);
    case CTL_GROUP_DELETE:
        return cmd_delete(n, &q->u.group, out);
    case CTL_GROUP_HISTORY:
        return cmd_history(n, &q->u.group, out);
    case CTL_FIND:
        return cmd_find(n, &q->u.find, out);
    default:
        return cmd_change(n, q->kind, &q->u.group, out);
    }
}

bool groupctl_event_owns(const node_event *ev)
{
    return ev->type == NODE_EV_GROUP_MESSAGE || ev->type == NODE_EV_GROUP;
}

int groupctl_event(node *n, const node_event *ev, int64_t at, buf *out)
{
    ctl_event e = {.kind = ev->type == NODE_EV_GROUP ? CTL_EV_GROUP : CTL_EV_GROUP_MESSAGE,
                   .at = at,
                   .text = ev->type == NODE_EV_GROUP ? ev->text : NULL};
    groups_info gi;
    group_out *g = NULL;
    message_out mo = {0};
    int got = ev->group ? groups_get(node_groups(n), ev->group, &gi) : BANTER_ENOENT;
    if (got == 0) {
        g = g_new0(group_out, 1);
        group_of(n, g, &gi, ev->type == NODE_EV_GROUP);
        e.group = &g->v;
    } else if (got == BANTER_ENOENT && ev->group && ev->type == NODE_EV_GROUP && !ev->text) {
        e.deleted_group = ev->group; /* deleted here */
        e.text = "a group was deleted on this node";
    }
    if (ev->type == NODE_EV_GROUP_MESSAGE && ev->msg) {
        message_of(n, &mo, ev->msg);
        e.group_message = &mo.m;
    }
    int r = ctlmsg_encode_event(&e, out);
    message_done(&mo);
    g_free(g);
    return r;
}
