/* SPDX-License-Identifier: MIT */
/* annctl.c - announcements on the control socket (see annctl.h). */
#include "ui/annctl.h"

#include <glib.h>
#include <stdlib.h>

#include "jsonv.h"

static cJSON *err_reply(int err, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddFalseToObject(o, "ok");
    cJSON_AddStringToObject(o, "error", banter_errname(err));
    cJSON_AddStringToObject(o, "message", message ? message : banter_strerror(err));
    return o;
}

/* {"id","ts","department","text","received","read"} ("read": ms or null). */
static cJSON *ann_json(const store_ann *a)
{
    cJSON *o = cJSON_CreateObject();
    (void)jsonv_add_int(o, "id", a->id);
    (void)jsonv_add_int(o, "ts", a->ts_ms);
    cJSON_AddStringToObject(o, "department", a->department);
    cJSON_AddStringToObject(o, "text", a->text);
    (void)jsonv_add_int(o, "received", a->received_ms);
    if (a->read_ms)
        (void)jsonv_add_int(o, "read", a->read_ms);
    else
        cJSON_AddNullToObject(o, "read");
    return o;
}

bool annctl_owns(ctl_kind kind)
{
    return kind == CTL_ANNOUNCEMENTS || kind == CTL_ANNOUNCEMENT_READ;
}

static cJSON *list(node *n, const struct ctl_ann *q)
{
    store_ann *v = NULL;
    size_t k = 0;
    int r = store_ann_list(node_store(n), q->unread, (size_t)q->limit, &v, &k);
    if (r)
        return err_reply(r, "cannot read the announcements");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddTrueToObject(o, "ok");
    cJSON *arr = cJSON_AddArrayToObject(o, "announcements");
    for (size_t i = 0; i < k; i++)
        cJSON_AddItemToArray(arr, ann_json(&v[i]));
    free(v);
    return o;
}

cJSON *annctl_request(node *n, const ctl_request *q)
{
    if (q->kind == CTL_ANNOUNCEMENTS)
        return list(n, &q->u.ann);
    int r = node_announcement_read(n, q->u.ann.id);
    if (r == BANTER_ENOENT)
        return err_reply(r, "no announcement of that id (banter announcements lists them)");
    if (r)
        return err_reply(r, "cannot mark the announcement read");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddTrueToObject(o, "ok");
    (void)jsonv_add_int(o, "id", q->u.ann.id);
    return o;
}

bool annctl_event_owns(const node_event *ev) { return ev->type == NODE_EV_ANNOUNCE && ev->ann; }

cJSON *annctl_event(const node_event *ev)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "event", "announcement");
    (void)jsonv_add_int(o, "at", g_get_real_time() / 1000);
    cJSON_AddItemToObject(o, "announcement", ann_json(ev->ann));
    return o;
}
