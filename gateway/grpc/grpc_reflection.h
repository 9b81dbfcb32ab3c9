/* grpc.reflection.v1 and v1alpha ServerReflection on the gRPC port, from
 * the descriptor set the build embeds (descriptors.h): list services, file
 * by filename, file containing symbol. The two versions are the same on the
 * wire, so one implementation serves both. */
#ifndef PF_GRPC_REFLECTION_H
#define PF_GRPC_REFLECTION_H

#include <grpc/grpc.h>
#include <stdbool.h>

typedef struct pf_grpc_reflection pf_grpc_reflection;             /* per server */
typedef struct pf_grpc_reflection_queue pf_grpc_reflection_queue; /* per completion queue */

/* Registers the methods (before grpc_server_start) and indexes the
 * descriptors. NULL when they cannot be read (logged). */
pf_grpc_reflection *pf_grpc_reflection_register(grpc_server *server);
void pf_grpc_reflection_free(pf_grpc_reflection *r); /* NULL-safe */

pf_grpc_reflection_queue *pf_grpc_reflection_queue_new(pf_grpc_reflection *r,
                                                       grpc_server *server,
                                                       grpc_completion_queue *cq);
/* On the queue's thread, once the drain starts: open streams end with OK. */
void pf_grpc_reflection_queue_drain(pf_grpc_reflection_queue *q);
/* True when a request for a method's next call failed (out of memory):
 * then rearm(), on the queue's thread, asks again. NULL-safe. */
bool pf_grpc_reflection_queue_unarmed(const pf_grpc_reflection_queue *q);
void pf_grpc_reflection_queue_rearm(pf_grpc_reflection_queue *q);
void pf_grpc_reflection_queue_free(pf_grpc_reflection_queue *q); /* NULL-safe */

#endif
