/* SPDX-License-Identifier: MIT */
/* annctl.c - announcements on the control socket (see annctl.h). */
#include "ui/annctl.h"

#include <glib.h>
#include <stdlib.h>

static ctl_announcement ann_view(const store_ann *a)
{
    return (ctl_announcement){.id = a->id,
                              .ts = a->ts_ms,
                              .department = a->department,
                              .text = a->text,
                              .received = a->received_ms,
                              .read = a->read_ms};
}

bool annctl_owns(ctl_kind kind)
{
    return kind == CTL_ANNOUNCEMENTS || kind == CTL_ANNOUNCEMENT_READ;
}

static int list(node *n, const struct ctl_ann *q, buf *out)
{
    store_ann *v = NULL;
    size_t k = 0;
    int r = store_ann_list(node_store(n), q->unread, (size_t)q->limit, &v, &k);
    if (r)
        return ctlmsg_encode_error(r, NULL, "cannot read the announcements", NULL, 0, out);
    ctl_announcement *views = g_new(ctl_announcement, k ? k : 1);
    for (size_t i = 0; i < k; i++)
        views[i] = ann_view(&v[i]);
    ctl_reply rp = {.kind = CTL_ANNOUNCEMENTS, .u.announcements = {k, views}};
    r = ctlmsg_encode_reply(&rp, out);
    g_free(views);
    free(v);
    return r;
}

int annctl_request(node *n, const ctl_request *q, buf *out)
{
    if (q->kind == CTL_ANNOUNCEMENTS)
        return list(n, &q->u.ann, out);
    int r = node_announcement_read(n, q->u.ann.id);
    if (r == BANTER_ENOENT)
        return ctlmsg_encode_error(
            r, NULL, "no announcement of that id (banter announcements lists them)", NULL, 0, out);
    if (r)
        return ctlmsg_encode_error(r, NULL, "cannot mark the announcement read", NULL, 0, out);
    ctl_reply rp = {.kind = CTL_ANNOUNCEMENT_READ, .u.announcement_read.id = q->u.ann.id};
    return ctlmsg_encode_reply(&rp, out);
}

bool annctl_event_owns(const node_event *ev) { return ev->type == NODE_EV_ANNOUNCE && ev->ann; }

int annctl_event(const node_event *ev, int64_t at, buf *out)
{
    ctl_announcement a = ann_view(ev->ann);
    ctl_event e = {.kind = CTL_EV_ANNOUNCEMENT, .at = at, .announcement = &a};
    return ctlmsg_encode_event(&e, out);
}
