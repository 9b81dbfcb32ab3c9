/* grpc.health.v1.Health on the gRPC port: Check and Watch for "" and
 * "primefactor.Factors"; SERVING until the drain starts, NOT_SERVING from
 * then on (pf_health_draining()); other names are NOT_FOUND (Check) or
 * SERVICE_UNKNOWN (Watch). */
#ifndef PF_GRPC_HEALTH_H
#define PF_GRPC_HEALTH_H

#include <grpc/grpc.h>
#include <stdbool.h>

typedef struct pf_grpc_health pf_grpc_health;             /* per server */
typedef struct pf_grpc_health_queue pf_grpc_health_queue; /* per completion queue */

/* Registers the methods; before grpc_server_start(). NULL when out of memory. */
pf_grpc_health *pf_grpc_health_register(grpc_server *server);
void pf_grpc_health_free(pf_grpc_health *h); /* NULL-safe */

/* Starts taking health calls on cq; their events come back on cq. */
pf_grpc_health_queue *pf_grpc_health_queue_new(pf_grpc_health *h, grpc_server *server,
                                               grpc_completion_queue *cq);
/* On the queue's thread, once the drain starts: every Watch gets
 * NOT_SERVING and ends with OK. */
void pf_grpc_health_queue_drain(pf_grpc_health_queue *q);
/* True when a request for the next Check or Watch failed (out of memory):
 * then rearm(), on the queue's thread, asks again. NULL-safe. */
bool pf_grpc_health_queue_unarmed(const pf_grpc_health_queue *q);
void pf_grpc_health_queue_rearm(pf_grpc_health_queue *q);
void pf_grpc_health_queue_free(pf_grpc_health_queue *q); /* NULL-safe; after the queue is drained */

#endif
