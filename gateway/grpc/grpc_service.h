/* A gRPC service served on every completion queue: PrimeFactors, unknown
 * methods, health, reflection. A service (one per server) names its methods
 * and makes the call struct for each; per queue, a pf_grpc_serving keeps a
 * request for every method's next call pending, asks again after a request
 * failed (out of memory: grpc has no call to hand over until someone asks),
 * holds the calls that have started, for the drain, and counts them.
 * A pf_grpc_queue is every service of one completion queue. */
#ifndef PF_GRPC_SERVICE_H
#define PF_GRPC_SERVICE_H

#include <grpc/grpc.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "grpc_call.h"
#include "grpc_conns.h"
#include "list.h"

#define PF_GRPC_SERVICE_METHODS 2 /* at most, per service */
#define PF_GRPC_QUEUE_SERVICES 4  /* at most, per queue */

struct pf_grpc_serving;

/* Where grpc puts what it hands over with a new call (left NULL: nothing). */
struct pf_grpc_call_into {
    grpc_byte_buffer **payload; /* the first message (GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER) */
    grpc_call_details *details; /* the method's name (the unregistered method) */
};

struct pf_grpc_service {
    size_t nmethods;
    /* From grpc_server_register_method(); NULL: every method not registered. */
    void *method[PF_GRPC_SERVICE_METHODS];
    const char *path[PF_GRPC_SERVICE_METHODS]; /* each one's, for the access log */
    /* Its calls: the kind's struct (call_size bytes, zeroed) and handlers. */
    const struct pf_grpc_call_kind *kind;
    size_t call_size;
    /* May be NULL: sets up a new call c for method i on s's queue before it
     * is requested, and says where grpc puts what it hands over. */
    void (*init)(struct pf_grpc_serving *s, size_t i, struct pf_grpc_call *c,
                 struct pf_grpc_call_into *into);
    /* After one of s's calls starts or ends, and at a rearm: keeps the
     * requests the service wants pending (pf_grpc_serving_request). NULL:
     * every method always has one. */
    void (*keep)(struct pf_grpc_serving *s);
    /* Frees the service (what embeds it); NULL: free(). */
    void (*destroy)(struct pf_grpc_service *svc);
    atomic_int live; /* its calls started and not yet freed, on every queue */
};

/* One service on one queue. Its calls' events come on its queue's thread;
 * armed, failed and live may be read and requests made from any thread. */
struct pf_grpc_serving {
    struct pf_grpc_service *service;
    struct pf_grpc_queue *queue;
    void *ctx;            /* the queue owner's, for new_call and keep */
    struct pf_list calls; /* started, not yet freed (struct pf_grpc_call.link) */
    atomic_int live;      /* how many */
    atomic_bool armed[PF_GRPC_SERVICE_METHODS]; /* a request for the next call is pending */
    atomic_bool failed;   /* a request failed: ask again (pf_grpc_queue_rearm) */
};

struct pf_grpc_queue {
    grpc_server *server;
    pf_grpc_conns *conns; /* the clients' addresses, for the access log; may be NULL */
    grpc_completion_queue *cq;
    struct pf_grpc_serving serving[PF_GRPC_QUEUE_SERVICES];
    size_t n;
};

void pf_grpc_service_free(struct pf_grpc_service *svc); /* NULL-safe */

/* Before any request on it. */
void pf_grpc_queue_init(struct pf_grpc_queue *q, grpc_server *server, grpc_completion_queue *cq);
/* Serves svc on q (nothing when svc is NULL: the service is off); the
 * requests start with pf_grpc_queue_arm(). */
struct pf_grpc_serving *pf_grpc_queue_add(struct pf_grpc_queue *q, struct pf_grpc_service *svc,
                                          void *ctx);
/* Requests every method's first call, on every service of q. */
void pf_grpc_queue_arm(struct pf_grpc_queue *q);

/* Asks grpc for the next call of method i on s, unless a request is
 * pending or the drain has started. When it fails, s is marked failed. */
void pf_grpc_serving_request(struct pf_grpc_serving *s, size_t i);

/* On q's thread. unarmed: a request failed and the drain has not started;
 * then rearm() asks again for what every service wants. */
bool pf_grpc_queue_unarmed(struct pf_grpc_queue *q);
void pf_grpc_queue_rearm(struct pf_grpc_queue *q);

/* On q's thread, during the drain: every started call is moved forward (one
 * whose client is silent has no event coming). */
void pf_grpc_queue_drain(struct pf_grpc_queue *q);

/* For grpc_call.c: a call of s has started (its NEW event), and is being
 * freed (after its kind's destroy). */
void pf_grpc_serving_started(struct pf_grpc_call *c);
void pf_grpc_serving_ended(struct pf_grpc_call *c);

#endif
