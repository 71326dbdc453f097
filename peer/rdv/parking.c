/* SPDX-License-Identifier: MIT */
/* parking.c - early relayed group messages, waiting (see parking.h). */
#include "rdv/parking.h"

#include <glib.h>
#include <string.h>

typedef struct spot {
    uint8_t id[PARKING_ID_LEN];
    uint8_t sender[PARKING_SENDER_LEN];
    uint8_t group[PARKING_GROUP_LEN];
    void *item;
} spot;

struct parking {
    size_t max, per_sender, n;
    void (*item_free)(void *);
    GHashTable *ids;     /* id and sender (GBytes) -> spot (borrowed from groups) */
    GHashTable *senders; /* sender (GBytes) -> its count (GUINT_TO_POINTER) */
    GHashTable *groups;  /* group (GBytes) -> GQueue of spot, oldest first (owned) */
};

static void queue_free(gpointer q) { g_queue_free_full(q, g_free); }

parking *parking_new(size_t max, size_t per_sender, void (*item_free)(void *))
{
    parking *p = g_new0(parking, 1);
    p->max = max ? max : 1;
    p->per_sender = per_sender ? per_sender : 1;
    p->item_free = item_free;
    p->ids =
        g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref, NULL);
    p->senders =
        g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref, NULL);
    p->groups = g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref,
                                      queue_free);
    return p;
}

static void free_items(gpointer k, gpointer q, gpointer ud)
{
    parking *p = ud;
    (void)k;
    for (GList *l = ((GQueue *)q)->head; l; l = l->next)
        p->item_free(((spot *)l->data)->item);
}

void parking_free(parking *p)
{
    if (!p)
        return;
    if (p->item_free)
        g_hash_table_foreach(p->groups, free_items, p);
    g_hash_table_destroy(p->ids);
    g_hash_table_destroy(p->senders);
    g_hash_table_destroy(p->groups);
    g_free(p);
}

static size_t sender_count(const parking *p, const uint8_t sender[static PARKING_SENDER_LEN])
{
    GBytes *k = g_bytes_new_static(sender, PARKING_SENDER_LEN);
    size_t n = GPOINTER_TO_UINT(g_hash_table_lookup(p->senders, k));
    g_bytes_unref(k);
    return n;
}

static void sender_set(parking *p, const uint8_t sender[static PARKING_SENDER_LEN], size_t n)
{
    GBytes *k = g_bytes_new(sender, PARKING_SENDER_LEN);
    if (n)
        g_hash_table_replace(p->senders, k, GUINT_TO_POINTER((guint)n));
    else {
        g_hash_table_remove(p->senders, k);
        g_bytes_unref(k);
    }
}

/* The key of a parked message: its id and its sender (another sender's
 * message with the same id is another message). */
static GBytes *id_key(const uint8_t id[static PARKING_ID_LEN],
                      const uint8_t sender[static PARKING_SENDER_LEN])
{
    uint8_t k[PARKING_ID_LEN + PARKING_SENDER_LEN];
    memcpy(k, id, PARKING_ID_LEN);
    memcpy(k + PARKING_ID_LEN, sender, PARKING_SENDER_LEN);
    return g_bytes_new(k, sizeof k);
}

int parking_add(parking *p, const uint8_t id[static PARKING_ID_LEN],
                const uint8_t sender[static PARKING_SENDER_LEN],
                const uint8_t group[static PARKING_GROUP_LEN], void *item)
{
    GBytes *ik = id_key(id, sender);
    if (g_hash_table_contains(p->ids, ik)) {
        g_bytes_unref(ik);
        return 1;
    }
    size_t mine = sender_count(p, sender);
    if (p->n >= p->max || mine >= p->per_sender) {
        g_bytes_unref(ik);
        return BANTER_EAGAIN;
    }
    spot *s = g_new(spot, 1);
    memcpy(s->id, id, PARKING_ID_LEN);
    memcpy(s->sender, sender, PARKING_SENDER_LEN);
    memcpy(s->group, group, PARKING_GROUP_LEN);
    s->item = item;
    GBytes *gk = g_bytes_new(group, PARKING_GROUP_LEN);
    GQueue *q = g_hash_table_lookup(p->groups, gk);
    if (!q) {
        q = g_queue_new();
        g_hash_table_insert(p->groups, gk, q);
    } else {
        g_bytes_unref(gk);
    }
    g_queue_push_tail(q, s);
    g_hash_table_insert(p->ids, ik, s);
    sender_set(p, sender, mine + 1);
    p->n++;
    return 0;
}

size_t parking_take(parking *p, const uint8_t group[static PARKING_GROUP_LEN],
                    const uint8_t *sender, void ***items)
{
    *items = NULL;
    GBytes *gk = g_bytes_new_static(group, PARKING_GROUP_LEN);
    GQueue *q = g_hash_table_lookup(p->groups, gk);
    size_t n = 0;
    if (q) {
        *items = g_new(void *, g_queue_get_length(q));
        for (GList *l = q->head, *next; l; l = next) {
            next = l->next;
            spot *s = l->data;
            if (sender && memcmp(s->sender, sender, PARKING_SENDER_LEN) != 0)
                continue;
            (*items)[n++] = s->item;
            GBytes *ik = id_key(s->id, s->sender);
            g_hash_table_remove(p->ids, ik);
            g_bytes_unref(ik);
            sender_set(p, s->sender, sender_count(p, s->sender) - 1);
            g_queue_delete_link(q, l);
            g_free(s);
            p->n--;
        }
        if (g_queue_is_empty(q))
            g_hash_table_remove(p->groups, gk); /* frees q */
    }
    g_bytes_unref(gk);
    if (!n) {
        g_free(*items);
        *items = NULL;
    }
    return n;
}

size_t parking_count(const parking *p, const uint8_t *sender)
{
    return sender ? sender_count(p, sender) : p->n;
}
