/* Intrusive doubly-linked lists: a struct pf_list inside each element, and
 * a circular head. Used for the open streams each front end must reach at
 * the drain, and for the gRPC listener's connections. */
#ifndef PF_LIST_H
#define PF_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct pf_list {
    struct pf_list *prev, *next;
};

/* The struct that embeds node as member. */
#define PF_CONTAINER_OF(node, type, member) ((type *)((char *)(node) - offsetof(type, member)))

static inline void pf_list_init(struct pf_list *head)
{
    head->prev = head->next = head;
}

static inline bool pf_list_empty(const struct pf_list *head)
{
    return head->next == head;
}

/* Appends node at the tail (so that a walk from the head sees insertion order). */
static inline void pf_list_append(struct pf_list *head, struct pf_list *node)
{
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

/* Takes node out of its list; a node never added (zeroed) is left alone. */
static inline void pf_list_remove(struct pf_list *node)
{
    if (!node->next)
        return;
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = NULL;
}

static inline bool pf_list_linked(const struct pf_list *node)
{
    return node->next != NULL;
}

/* Walks the list; the current node may be removed meanwhile. */
#define pf_list_for_each(node, tmp, head)                                                    \
    for ((node) = (head)->next, (tmp) = (node)->next; (node) != (head);                      \
         (node) = (tmp), (tmp) = (node)->next)

#endif
