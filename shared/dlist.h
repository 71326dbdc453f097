/* SPDX-License-Identifier: MIT */
/*
 * dlist.h - an intrusive doubly linked list: the element embeds its links
 * (a dlist_link member), so putting it on a list or taking it off never
 * allocates and costs O(1). One element may sit on several lists through
 * several dlist_link members.
 *
 * The links point at elements, not at links, so a walk reads naturally:
 *
 *     for (item *it = l.head; it; it = it->link.next)
 *
 * The calls take the offset of the link in the element
 * (offsetof(item, link)); a module with a list names it once, e.g.
 * `#define Q_LINK offsetof(item, q)`. A dlist has a head and a tail; an
 * hlist (below) only a head. The caller serialises; an element is
 * on a list at most once per link member, and remove is called only for an
 * element that is on that list.
 */
#ifndef BANTER_DLIST_H
#define BANTER_DLIST_H

#include <stdbool.h>
#include <stddef.h>

/* The element's neighbours on one list (NULL at the ends and when off it). */
typedef struct dlist_link {
    void *prev, *next;
} dlist_link;

/* A list: its first and last element (both NULL when empty). Zero is empty. */
typedef struct dlist {
    void *head, *tail;
} dlist;

/* Append e (link at offset off) after the tail. */
void dlist_push_back(dlist *l, void *e, size_t off);
/* Insert e (link at offset off) before the head. */
void dlist_push_front(dlist *l, void *e, size_t off);
/* Take e (link at offset off) off l; its links are NULL afterwards. */
void dlist_remove(dlist *l, void *e, size_t off);

static inline bool dlist_empty(const dlist *l) { return l->head == NULL; }

/* A list known by its head alone, one pointer: for a list head kept in a
 * record there are hundreds of thousands of (a connection, an account),
 * where a tail would cost 8 bytes each. Same links; pushed at the front. */
typedef struct hlist {
    void *head;
} hlist;

/* Insert e (link at offset off) before the head. */
void hlist_push(hlist *l, void *e, size_t off);
/* Take e (link at offset off) off l; its links are NULL afterwards. */
void hlist_remove(hlist *l, void *e, size_t off);

#endif
