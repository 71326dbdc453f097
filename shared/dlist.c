/* SPDX-License-Identifier: MIT */
/* dlist.c - the intrusive doubly linked list (see dlist.h). */
#include "dlist.h"

static dlist_link *link_of(void *e, size_t off) { return (dlist_link *)(void *)((char *)e + off); }

void dlist_push_back(dlist *l, void *e, size_t off)
{
    dlist_link *k = link_of(e, off);
    k->next = NULL;
    k->prev = l->tail;
    if (l->tail)
        link_of(l->tail, off)->next = e;
    else
        l->head = e;
    l->tail = e;
}

void dlist_push_front(dlist *l, void *e, size_t off)
{
    dlist_link *k = link_of(e, off);
    k->prev = NULL;
    k->next = l->head;
    if (l->head)
        link_of(l->head, off)->prev = e;
    else
        l->tail = e;
    l->head = e;
}

/* Unlink e between its neighbours; *head and *tail (tail may be NULL: an
 * hlist) follow when e was at an end. */
static void unlink_elem(void **head, void **tail, void *e, size_t off)
{
    dlist_link *k = link_of(e, off);
    if (k->prev)
        link_of(k->prev, off)->next = k->next;
    else
        *head = k->next;
    if (k->next)
        link_of(k->next, off)->prev = k->prev;
    else if (tail)
        *tail = k->prev;
    k->prev = k->next = NULL;
}

void dlist_remove(dlist *l, void *e, size_t off) { unlink_elem(&l->head, &l->tail, e, off); }

void hlist_push(hlist *l, void *e, size_t off)
{
    dlist_link *k = link_of(e, off);
    k->prev = NULL;
    k->next = l->head;
    if (l->head)
        link_of(l->head, off)->prev = e;
    l->head = e;
}

void hlist_remove(hlist *l, void *e, size_t off) { unlink_elem(&l->head, NULL, e, off); }
