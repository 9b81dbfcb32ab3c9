/* The tag of every batch pfgate puts on a grpc completion queue: the worker
 * that takes the event hands it to the tag's own handler (grpc_call.c, for
 * every kind of call). */
#ifndef PF_GRPC_TAG_H
#define PF_GRPC_TAG_H

#include <stdbool.h>
#include <stddef.h>

struct pf_grpc_tag {
    void (*handle)(struct pf_grpc_tag *t, bool ok);
};

/* The struct that embeds tag t as member. */
#define PF_GRPC_OWNER(t, type, member) ((type *)((char *)(t) - offsetof(type, member)))

#endif
