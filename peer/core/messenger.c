/* SPDX-License-Identifier: MIT */
/* messenger.c - the outbox and delivery state for every route (see messenger.h). */
#include "core/messenger.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

typedef struct flight { /* one copy handed to a route, not answered yet */
    int64_t seq;
    uint8_t device[32];
    uint8_t contact[32];
    size_t route;
    int64_t sent_ms;
} flight;

struct messenger {
    store *st;
    contacts *cs;
    node_clock clock;
    banter_rng rng;
    messenger_callbacks cb;
    void *ud;
    mr_route routes[MESSENGER_MAX_ROUTES];
    size_t nroutes;
    GHashTable *flights; /* (seq, device) -> flight */
    GHashTable *defers;  /* (route index, device) -> int64_t: resting until (mono ms) */
    bool kicking;        /* a flush runs: a kick from a route's send waits */
    bool kick_again;
};

/* The map key of (seq, device): 8 + 32 bytes. */
typedef struct fkey {
    int64_t seq;
    uint8_t device[32];
} fkey;

static guint fkey_hash(gconstpointer p)
{
    const fkey *k = p;
    guint h;
    memcpy(&h, k->device, sizeof h);
    return h ^ (guint)k->seq;
}

static gboolean fkey_equal(gconstpointer a, gconstpointer b)
{
    return memcmp(a, b, sizeof(fkey)) == 0;
}

static void fkey_make(fkey *k, int64_t seq, const uint8_t device[static 32])
{
    memset(k, 0, sizeof *k);
    k->seq = seq;
    memcpy(k->device, device, 32);
}

int messenger_new(messenger **out, store *st, contacts *cs, const node_clock *clock, banter_rng rng,
                  const messenger_callbacks *cb, void *ud)
{
    messenger *m = g_new0(messenger, 1);
    m->st = st;
    m->cs = cs;
    m->clock = *clock;
    m->rng = rng;
    m->cb = *cb;
    m->ud = ud;
    m->flights = g_hash_table_new_full(fkey_hash, fkey_equal, g_free, g_free);
    m->defers = g_hash_table_new_full(fkey_hash, fkey_equal, g_free, g_free);
    *out = m;
    return 0;
}

void messenger_free(messenger *m)
{
    if (!m)
        return;
    g_hash_table_destroy(m->flights);
    g_hash_table_destroy(m->defers);
    g_free(m);
}

int messenger_add_route(messenger *m, const mr_route *r)
{
    if (m->nroutes == MESSENGER_MAX_ROUTES)
        return BANTER_ENOMEM;
    m->routes[m->nroutes++] = *r;
    return 0;
}

size_t messenger_inflight(const messenger *m)
{
    return g_hash_table_size(m->flights) + g_hash_table_size(m->defers);
}

static int check_text(const char *text, size_t len)
{
    if (len == 0 || memchr(text, '\0', len))
        return BANTER_EINVAL;
    if (len > BANTER_MAX_BODY)
        return BANTER_ETOOLONG;
    return utf8_valid(text, len) ? 0 : BANTER_EUTF8;
}

/* ---- the final state ---- */

/* Whether a copy still counts for the message's state: its device exists,
 * is trusted, and is not one of the node's own account's (a copy of what
 * this device sent, for the account's other devices, says nothing of
 * whether the contact has it). */
static bool copy_counts(messenger *m, const store_copy *c)
{
    store_device d;
    store_contact self;
    return store_device_get(m->st, c->device, &d) == 0 &&
           contacts_device_trusted(&d, clock_wall(&m->clock)) &&
           !(contacts_self_known(m->cs) && contacts_self(m->cs, &self) == 0 &&
             memcmp(d.contact, self.key, 32) == 0);
}

/* When every copy of msg that counts is settled, give msg its state. */
static void maybe_final(messenger *m, const store_contact *c, store_msg *om)
{
    store_copy *copies = NULL;
    size_t n = 0, counted = 0, ok = 0, server = 0, failed = 0;
    const char *err = "";
    if (store_copies(m->st, om->seq, &copies, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        /* A group row is final when every copy is (own devices too). */
        if (!om->has_group && !copy_counts(m, &copies[i]))
            continue;
        counted++;
        switch (copies[i].state) {
        case COPY_PENDING:
            free(copies);
            return;
        case COPY_DELIVERED:
            ok++;
            break;
        case COPY_SERVER:
            server++;
            break;
        case COPY_FAILED:
            if (!failed++)
                err = copies[i].error;
            break;
        }
    }
    if (counted) {
        om->state = ok + server == 0 ? STORE_FAILED : server ? STORE_SERVER : STORE_DELIVERED;
        g_strlcpy(om->error, om->state == STORE_FAILED ? err : "", sizeof om->error);
        if (store_msg_set_result(m->st, om->seq, om->state, om->error) == 0 && m->cb.settled)
            m->cb.settled(m->ud, c, om);
    }
    free(copies);
}

/* ---- sending ---- */

static int copy_state(messenger *m, int64_t seq, const uint8_t dev[static 32],
                      store_copy_state *out)
{
    store_copy *copies = NULL;
    size_t n = 0;
    int r = store_copies(m->st, seq, &copies, &n);
    for (size_t i = 0; r == 0 && i < n; i++)
        if (memcmp(copies[i].device, dev, 32) == 0) {
            *out = copies[i].state;
            free(copies);
            return 0;
        }
    free(copies);
    return r ? r : BANTER_ENOENT;
}

/* ---- routes that rest for a device ---- */

/* Refusals that say "not now" rather than "never". */
static bool transient(const char *error)
{
    static const char *const codes[] = {"EQUOTA", "ENOMEM", "EBUSY", "ERATE",
                                        "ENOSPC", "EDB",    "EAGAIN"};
    for (size_t i = 0; error && i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(error, codes[i]) == 0)
            return true;
    return false;
}

static size_t route_index(const messenger *m, const char *route)
{
    for (size_t i = 0; i < m->nroutes; i++)
        if (strcmp(m->routes[i].name, route) == 0)
            return i;
    return MESSENGER_MAX_ROUTES;
}

static void defer(messenger *m, const char *route, const uint8_t device[static 32],
                  const char *error)
{
    fkey k;
    size_t ri = route_index(m, route);
    if (ri == MESSENGER_MAX_ROUTES)
        return;
    fkey_make(&k, (int64_t)ri, device);
    int64_t *until = g_new(int64_t, 1);
    *until = clock_mono(&m->clock) + (strcmp(error, "ERATE") == 0    ? MESSENGER_RATE_DEFER_MS
                                      : strcmp(error, "EAGAIN") == 0 ? MESSENGER_AGAIN_DEFER_MS
                                                                     : MESSENGER_DEFER_MS);
    g_hash_table_replace(m->defers, g_memdup2(&k, sizeof k), until);
}

static bool deferred(messenger *m, size_t ri, const uint8_t device[static 32])
{
    fkey k;
    fkey_make(&k, (int64_t)ri, device);
    const int64_t *until = g_hash_table_lookup(m->defers, &k);
    return until && *until > clock_mono(&m->clock);
}

/* The first route that reaches d now and does not rest for it, or -1. */
static int pick_route(messenger *m, const store_contact *c, const store_device *d)
{
    for (size_t i = 0; i < m->nroutes; i++)
        if (!deferred(m, i, d->key) && m->routes[i].reaches(m->routes[i].ud, c, d))
            return (int)i;
    return -1;
}

/* Send the copies of msgs (oldest first) for device d of c. A copy for
 * the self contact's device carries "to", naming the conversation. */
static void flush_device(messenger *m, const store_contact *c, const store_device *d,
                         store_msg *msgs, size_t n)
{
    int ri = pick_route(m, c, d);
    if (ri < 0)
        return;
    mr_route *route = &m->routes[ri];
    bool sync = contacts_is_self(m->cs, c);
    for (size_t i = 0; i < n; i++) {
        fkey k;
        store_copy_state cst;
        store_contact conv;
        fkey_make(&k, msgs[i].seq, d->key);
        if (g_hash_table_contains(m->flights, &k) ||
            copy_state(m, msgs[i].seq, d->key, &cst) != 0 || cst != COPY_PENDING)
            continue;
        msgs[i].to[0] = '\0';
        /* A group message goes to an own device as it goes to anyone. */
        if (sync && !msgs[i].has_group &&
            (store_contact_get(m->st, msgs[i].contact, &conv) != 0 ||
             contacts_sync_to(m->cs, &conv, msgs[i].to) != 0)) {
            /* No way to name the conversation to the other device (a LAN
             * contact with no trusted device left): nothing to copy. */
            if (store_copy_set(m->st, msgs[i].seq, d->key, COPY_FAILED, "", "ENOENT") != 0)
                return;
            continue;
        }
        /* In flight before the send: a route may answer from inside it
         * (messenger_settled), and that answer must find the flight. */
        flight *f = g_new0(flight, 1);
        f->seq = msgs[i].seq;
        memcpy(f->device, d->key, 32);
        memcpy(f->contact, msgs[i].contact, 32); /* the conversation, also for a sync copy */
        f->route = (size_t)ri;
        f->sent_ms = clock_mono(&m->clock);
        g_hash_table_insert(m->flights, g_memdup2(&k, sizeof k), f);
        if (route->send(route->ud, c, d, &msgs[i]) != 0) {
            g_hash_table_remove(m->flights, &k);
            return; /* full, or not now: a kick resumes in order */
        }
    }
}

/* The trusted devices of contact key (*out malloc'd). */
static int trusted_devices(messenger *m, const uint8_t key[static 32], store_device **out,
                           size_t *n)
{
    size_t k = 0;
    int r = store_device_list(m->st, key, out, n);
    for (size_t i = 0; r == 0 && i < *n; i++)
        if (contacts_device_trusted(&(*out)[i], clock_wall(&m->clock)))
            (*out)[k++] = (*out)[i];
    if (r == 0)
        *n = k;
    return r;
}

/* The messages of contact (NULL: every contact) with something to send:
 * the outbox, and messages sent already whose copies for the account's
 * other devices (self: the self contact, or NULL) still wait; by seq. */
static int sendable(messenger *m, const uint8_t *contact, const store_contact *self,
                    store_msg **out, size_t *n)
{
    store_msg *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    int r = store_outbox(m->st, contact, &a, &na);
    if (r == 0 && self)
        r = store_sync_pending(m->st, contact, self->key, &b, &nb);
    if (r || nb == 0) {
        store_msgs_free(b, nb);
        *out = a;
        *n = na;
        return r;
    }
    store_msg *all = g_try_new(store_msg, na + nb);
    if (!all) {
        store_msgs_free(a, na);
        store_msgs_free(b, nb);
        return BANTER_ENOMEM;
    }
    size_t i = 0, j = 0, k = 0; /* merge by seq: the two sets do not meet */
    while (i < na || j < nb)
        all[k++] = j == nb || (i < na && a[i].seq < b[j].seq) ? a[i++] : b[j++];
    g_free(a); /* the bodies moved to all */
    g_free(b);
    *out = all;
    *n = k;
    return 0;
}

/* The conversation of a group (its handle; no contact row). */
static void group_conv(const uint8_t handle[static 32], store_contact *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->key, handle, 32);
}

/* The group messages (and control messages) of handle with copies still
 * to send: every device with a pending copy gets what waits for it, each
 * through the route that reaches it as a device of its own contact. */
static void flush_group(messenger *m, const uint8_t handle[static 32])
{
    store_contact self;
    store_msg *msgs = NULL;
    size_t nm = 0;
    GHashTable *seen =
        g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref, NULL);
    bool has_self = contacts_self_known(m->cs) && contacts_self(m->cs, &self) == 0;
    if (sendable(m, handle, has_self ? &self : NULL, &msgs, &nm) != 0)
        goto out;
    for (size_t i = 0; i < nm; i++) {
        store_copy *copies = NULL;
        size_t nc = 0;
        if (!msgs[i].has_group || store_copies(m->st, msgs[i].seq, &copies, &nc) != 0)
            continue;
        for (size_t k = 0; k < nc; k++) {
            store_device d;
            store_contact c;
            GBytes *key = g_bytes_new(copies[k].device, 32);
            if (copies[k].state != COPY_PENDING || g_hash_table_contains(seen, key) ||
                store_device_get(m->st, copies[k].device, &d) != 0 ||
                !contacts_device_trusted(&d, clock_wall(&m->clock)) ||
                store_contact_get(m->st, d.contact, &c) != 0) {
                g_bytes_unref(key);
                continue;
            }
            g_hash_table_add(seen, key);
            flush_device(m, &c, &d, msgs, nm);
        }
        free(copies);
    }
out:
    g_hash_table_destroy(seen);
    store_msgs_free(msgs, nm);
}

static void flush_contact(messenger *m, const uint8_t contact[static 32])
{
    store_contact c, self;
    store_msg *msgs = NULL;
    store_device *devs = NULL, *own = NULL;
    size_t nm = 0, nd = 0, no = 0;
    int r = store_contact_get(m->st, contact, &c);
    if (r == BANTER_ENOENT) { /* no contact: a group's handle, or nothing */
        flush_group(m, contact);
        return;
    }
    if (r != 0 || contacts_is_self(m->cs, &c))
        return;
    bool has_self = contacts_self_known(m->cs) && contacts_self(m->cs, &self) == 0;
    if (sendable(m, contact, has_self ? &self : NULL, &msgs, &nm) != 0 || nm == 0 ||
        trusted_devices(m, contact, &devs, &nd) != 0 ||
        (has_self && trusted_devices(m, self.key, &own, &no) != 0))
        goto out;
    /* Every trusted device gets a copy of every queued message, also one
     * that appeared after the message was queued; every other device of
     * the node's own account a copy of every message (not a broadcast)
     * this device sent, so their histories read the same. */
    for (size_t d = 0; d < nd; d++)
        for (size_t i = 0; i < nm; i++)
            if (msgs[i].state == STORE_QUEUED &&
                store_copy_add(m->st, msgs[i].seq, devs[d].key) < 0)
                goto out;
    for (size_t d = 0; d < no; d++)
        for (size_t i = 0; i < nm; i++)
            if (!msgs[i].broadcast && store_copy_add(m->st, msgs[i].seq, own[d].key) < 0)
                goto out;
    for (size_t d = 0; d < nd; d++)
        flush_device(m, &c, &devs[d], msgs, nm);
    for (size_t d = 0; d < no; d++)
        flush_device(m, &self, &own[d], msgs, nm);
out:
    free(devs);
    free(own);
    store_msgs_free(msgs, nm);
}

void messenger_kick(messenger *m, const uint8_t *contact)
{
    if (m->kicking) { /* from inside a route's send: once more after */
        m->kick_again = true;
        return;
    }
    store_contact self;
    bool has_self = contacts_self_known(m->cs) && contacts_self(m->cs, &self) == 0;
    if (contact && has_self && memcmp(contact, self.key, 32) == 0)
        contact = NULL; /* an own device: copies of every conversation may go */
    m->kicking = true;
    do {
        m->kick_again = false;
        if (contact) {
            flush_contact(m, contact);
            continue;
        }
        store_msg *all = NULL;
        size_t n = 0;
        if (sendable(m, NULL, has_self ? &self : NULL, &all, &n) != 0)
            break;
        for (size_t i = 0; i < n; i++) {
            bool seen = false; /* one flush per contact */
            for (size_t j = 0; j < i && !seen; j++)
                seen = memcmp(all[j].contact, all[i].contact, 32) == 0;
            if (!seen)
                flush_contact(m, all[i].contact);
        }
        store_msgs_free(all, n);
    } while (m->kick_again);
    m->kicking = false;
}

static int queue_one(messenger *m, const store_contact *c, const uint8_t id[static MSG_ID_LEN],
                     int64_t ts, const char *text, size_t len, bool broadcast, unsigned flags)
{
    store_msg sm = {.dir = STORE_OUT,
                    .state = STORE_QUEUED,
                    .flags = flags,
                    .broadcast = broadcast,
                    .ts_ms = ts,
                    .stored_ms = ts,
                    .body = (char *)text,
                    .body_len = len};
    memcpy(sm.id, id, MSG_ID_LEN);
    memcpy(sm.contact, c->key, 32);
    int r = store_msg_add(m->st, &sm, NULL);
    return r < 0 ? r : 0;
}

int messenger_send(messenger *m, const uint8_t contact[static 32], const char *text, size_t len,
                   uint8_t id[static MSG_ID_LEN])
{
    return messenger_send_as(m, contact, text, len, 0, id);
}

int messenger_send_as(messenger *m, const uint8_t contact[static 32], const char *text, size_t len,
                      unsigned flags, uint8_t id[static MSG_ID_LEN])
{
    store_contact c;
    int r = check_text(text, len);
    if (r == 0)
        r = store_contact_get(m->st, contact, &c);
    if (r == 0 && contacts_is_self(m->cs, &c))
        r = BANTER_EPERM; /* no conversation: its devices get copies of the others */
    if (r == 0)
        r = contacts_may_send(m->cs, contact);
    if (r)
        return r;
    m->rng.fill(m->rng.ctx, id, MSG_ID_LEN);
    r = queue_one(m, &c, id, clock_wall(&m->clock), text, len, false, flags & STORE_MSG_AUTO);
    if (r == 0)
        messenger_kick(m, contact);
    return r;
}

int messenger_broadcast(messenger *m, const char *text, size_t len, messenger_filter accept,
                        void *ud, uint8_t id[static MSG_ID_LEN], size_t *count)
{
    store_contact *all = NULL;
    size_t k = 0;
    *count = 0;
    int r = check_text(text, len);
    if (r == 0)
        r = store_contact_list(m->st, &all, &k);
    if (r)
        return r;
    m->rng.fill(m->rng.ctx, id, MSG_ID_LEN);
    int64_t ts = clock_wall(&m->clock);
    for (size_t i = 0; i < k && r == 0; i++) {
        if (contacts_is_self(m->cs, &all[i]) || contacts_may_send(m->cs, all[i].key) != 0 ||
            (accept && !accept(ud, &all[i])))
            continue;
        r = queue_one(m, &all[i], id, ts, text, len, true, 0);
        *count += r == 0;
    }
    free(all);
    if (*count)
        messenger_kick(m, NULL);
    return r;
}

/* ---- outcomes ---- */

void messenger_route_lost(messenger *m, const char *route, const uint8_t device[static 32])
{
    GHashTableIter it;
    gpointer k, v;
    uint8_t contact[32];
    bool any = false;
    g_hash_table_iter_init(&it, m->flights);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        flight *f = v;
        if (memcmp(f->device, device, 32) != 0 || strcmp(m->routes[f->route].name, route) != 0)
            continue;
        memcpy(contact, f->contact, 32);
        any = true;
        g_hash_table_iter_remove(&it);
    }
    if (any)
        messenger_kick(m, contact);
}

void messenger_settled(messenger *m, const char *route, const uint8_t device[static 32],
                       const uint8_t id[static MSG_ID_LEN], store_copy_state state,
                       const char *error)
{
    store_contact c;
    store_msg sm;
    fkey k;
    if (store_msg_find_copy(m->st, id, device, &sm) != 0)
        return;
    if (sm.has_group)
        group_conv(sm.contact, &c);
    else if (store_contact_get(m->st, sm.contact, &c) != 0) {
        store_msg_clear(&sm);
        return;
    }
    fkey_make(&k, sm.seq, device);
    flight *f = g_hash_table_lookup(m->flights, &k);
    store_copy_state now_st;
    /* An answer to a copy sent before a restart or a lost route still
     * counts while the copy is pending: the device has it. */
    if ((f && strcmp(m->routes[f->route].name, route) == 0) ||
        (copy_state(m, sm.seq, device, &now_st) == 0 && now_st == COPY_PENDING)) {
        g_hash_table_remove(m->flights, &k);
        if (state == COPY_FAILED && transient(error)) {
            /* Not now (a full mailbox...): the copy stays pending, this
             * route rests for this device, another may take it. Said
             * once per rest: a backlog refused copy by copy (ERATE) is
             * one event, not one per message. */
            size_t ri = route_index(m, route);
            bool resting = ri < MESSENGER_MAX_ROUTES && deferred(m, ri, device);
            defer(m, route, device, error);
            if (m->cb.deferred && !resting)
                m->cb.deferred(m->ud, &c, &sm, error);
            store_msg_clear(&sm);
            messenger_kick(m, c.key);
            return;
        }
        if (store_copy_set(m->st, sm.seq, device, state, route, error ? error : "") == 0 &&
            sm.state == STORE_QUEUED)
            maybe_final(m, &c, &sm);
    }
    store_msg_clear(&sm);
}

void messenger_devices_changed(messenger *m, const uint8_t contact[static 32])
{
    store_contact c;
    store_msg *msgs = NULL;
    size_t n = 0;
    if (store_contact_get(m->st, contact, &c) == 0 && store_outbox(m->st, contact, &msgs, &n) == 0)
        for (size_t i = 0; i < n; i++) /* copies for a device gone no longer count */
            maybe_final(m, &c, &msgs[i]);
    store_msgs_free(msgs, n);
    messenger_kick(m, contact);
}

bool messenger_tick(messenger *m)
{
    int64_t now = clock_mono(&m->clock);
    GHashTableIter it;
    gpointer k, v;
    GPtrArray *again = g_ptr_array_new_with_free_func(g_free);
    g_hash_table_iter_init(&it, m->flights);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        flight *f = v;
        if (now - f->sent_ms < MESSENGER_RETRY_MS)
            continue;
        g_ptr_array_add(again, g_memdup2(f->contact, 32));
        g_hash_table_iter_remove(&it);
    }
    bool rested = false; /* a route that rested for a device may carry again */
    g_hash_table_iter_init(&it, m->defers);
    while (g_hash_table_iter_next(&it, &k, &v))
        if (*(int64_t *)v <= now) {
            g_hash_table_iter_remove(&it);
            rested = true;
        }
    for (guint i = 0; i < again->len; i++)
        messenger_kick(m, g_ptr_array_index(again, i));
    g_ptr_array_free(again, TRUE);
    if (rested)
        messenger_kick(m, NULL);
    return messenger_inflight(m) > 0;
}

/* ---- receiving ---- */

/* A copy of a message another device of the node's own account sent to
 * the conversation chat->to: stored as outgoing, from that device. */
static int received_sync(messenger *m, const store_contact *from, const store_device *d,
                         const struct msg_chat *chat)
{
    store_contact conv;
    /* Only a trusted device of the node's own account speaks for it. */
    if (!contacts_is_self(m->cs, from) || !contacts_device_trusted(d, clock_wall(&m->clock)) ||
        chat->broadcast)
        return BANTER_EPERM;
    int r = contacts_sync_from(m->cs, chat->to, &conv);
    if (r == BANTER_ENOENT)
        return 0; /* a LAN contact this device never met: taken, not kept */
    if (r)
        return r;
    store_msg sm = {.dir = STORE_OUT,
                    .state = STORE_DELIVERED,
                    .has_device = true,
                    .flags = STORE_MSG_SYNCED,
                    .ts_ms = chat->ts_ms,
                    .stored_ms = clock_wall(&m->clock),
                    .body = chat->body,
                    .body_len = chat->body_len};
    memcpy(sm.id, chat->id, MSG_ID_LEN);
    memcpy(sm.contact, conv.key, 32);
    memcpy(sm.device, d->key, 32);
    int64_t seq = 0;
    r = store_msg_add(m->st, &sm, &seq);
    if (r < 0)
        return r;
    if (r == 0 && m->cb.received) {
        sm.seq = seq;
        m->cb.received(m->ud, &conv, d, &sm);
    }
    return 0;
}

static int store_in(messenger *m, const store_contact *c, const store_device *d,
                    const struct msg_chat *chat, unsigned flags);

int messenger_received(messenger *m, const uint8_t device[static 32], const struct msg_chat *chat)
{
    store_device d;
    store_contact c;
    int r = store_device_get(m->st, device, &d);
    if (r == 0)
        r = store_contact_get(m->st, d.contact, &c);
    if (r)
        return r == BANTER_ENOENT ? BANTER_EPERM : r;
    if (chat->to[0])
        return received_sync(m, &c, &d, chat);
    if (contacts_is_self(m->cs, &c))
        return BANTER_EPERM; /* an own device writes copies only ("to"), never to itself */
    return store_in(m, &c, &d, chat,
                    contacts_device_trusted(&d, clock_wall(&m->clock)) ? 0 : STORE_MSG_UNTRUSTED);
}

int messenger_received_unvouched(messenger *m, const char *account, const uint8_t device[static 32],
                                 const struct msg_chat *chat)
{
    store_contact c;
    store_device d;
    if (chat->to[0])
        return BANTER_EPERM; /* only a device vouched for speaks for this account */
    int r = contacts_org(m->cs, account, NULL, 0, &c); /* the contact, no device vouched for */
    if (r)
        return r == BANTER_EINVAL ? BANTER_EPERM : r;
    if (contacts_is_self(m->cs, &c))
        return BANTER_EPERM;
    r = store_device_get(m->st, device, &d);
    if (r == BANTER_ENOENT || (r == 0 && memcmp(d.contact, c.key, 32) != 0)) {
        /* named, not kept: this node learns no device from it */
        memset(&d, 0, sizeof d);
        memcpy(d.key, device, 32);
        memcpy(d.contact, c.key, 32);
        g_strlcpy(d.name, account, sizeof d.name);
        r = 0;
    }
    return r ? r : store_in(m, &c, &d, chat, STORE_MSG_UNTRUSTED);
}

/* Store chat, from device d of contact c, as incoming with flags. */
static int store_in(messenger *m, const store_contact *c, const store_device *d,
                    const struct msg_chat *chat, unsigned flags)
{
    const uint8_t *device = d->key;
    store_msg sm = {.dir = STORE_IN,
                    .state = STORE_RECEIVED,
                    .has_device = true,
                    .flags = flags,
                    .broadcast = chat->broadcast,
                    .ts_ms = chat->ts_ms,
                    .stored_ms = clock_wall(&m->clock),
                    .body = chat->body,
                    .body_len = chat->body_len};
    memcpy(sm.id, chat->id, MSG_ID_LEN);
    memcpy(sm.contact, c->key, 32);
    memcpy(sm.device, device, 32);
    int64_t seq = 0;
    int r = store_msg_add(m->st, &sm, &seq);
    if (r < 0)
        return r;
    if (r == 0 && m->cb.received) {
        sm.seq = seq;
        m->cb.received(m->ud, c, d, &sm);
    }
    return 0;
}

int messenger_queue_group(messenger *m, const store_msg *sm, const uint8_t (*devs)[32], size_t n)
{
    int64_t seq = 0;
    if (!sm->has_group || !sm->sealed || sm->dir != STORE_OUT || sm->state != STORE_QUEUED)
        return BANTER_EINVAL;
    int r = store_msg_add(m->st, sm, &seq);
    if (r == 1)
        return 0; /* queued already */
    for (size_t i = 0; r == 0 && i < n; i++)
        r = store_copy_add(m->st, seq, devs[i]) < 0 ? BANTER_EDB : 0;
    if (r == 0 && n == 0) /* nobody else: nothing to wait for */
        r = store_msg_set_result(m->st, seq, STORE_DELIVERED, "");
    if (r == 0)
        messenger_kick(m, sm->contact);
    return r;
}

int messenger_chat_of(const store_msg *sm, msg *out)
{
    if (sm->has_group) { /* the bytes every copy of a group message carries */
        memset(out, 0, sizeof *out);
        if (!sm->sealed)
            return BANTER_EINVAL;
        if (!(sm->flags & STORE_MSG_GCTL))
            return msg_gmsg_init(out, sm->id, sm->sealed, sm->sealed_len);
        int r = msg_decode(out, sm->sealed, sm->sealed_len);
        if (r == 0 && out->type != MSG_GROUP_STATE && out->type != MSG_GROUP_KEY) {
            msg_clear(out);
            r = BANTER_EINVAL;
        }
        return r;
    }
    int r = msg_chat_init(out, sm->id, sm->ts_ms, sm->body, sm->body_len, sm->broadcast);
    if (r == 0)
        g_strlcpy(out->u.chat.to, sm->to, sizeof out->u.chat.to);
    return r;
}
