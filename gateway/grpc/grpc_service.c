#include "grpc_service.h"

#include <stdlib.h>

#include "health.h"

void pf_grpc_service_free(struct pf_grpc_service *svc)
{
    if (svc && svc->destroy)
        svc->destroy(svc);
    else
        free(svc);
}

void pf_grpc_queue_init(struct pf_grpc_queue *q, grpc_server *server, grpc_completion_queue *cq)
{
    q->server = server;
    q->conns = NULL;
    q->cq = cq;
    q->n = 0;
}

struct pf_grpc_serving *pf_grpc_queue_add(struct pf_grpc_queue *q, struct pf_grpc_service *svc,
                                          void *ctx)
{
    if (!svc || q->n == PF_GRPC_QUEUE_SERVICES)
        return NULL;
    struct pf_grpc_serving *s = &q->serving[q->n++];
    s->service = svc;
    s->queue = q;
    s->ctx = ctx;
    pf_list_init(&s->calls);
    atomic_init(&s->live, 0);
    for (size_t i = 0; i < PF_GRPC_SERVICE_METHODS; i++)
        atomic_init(&s->armed[i], false);
    atomic_init(&s->failed, false);
    return s;
}

void pf_grpc_serving_request(struct pf_grpc_serving *s, size_t i)
{
    if (pf_health_draining() || atomic_exchange(&s->armed[i], true))
        return;
    struct pf_grpc_call_into into = { NULL, NULL };
    struct pf_grpc_call *c = pf_grpc_call_new(s->service->call_size, s->service->kind);
    if (c) {
        c->serving = s;
        c->method = i;
        if (s->service->init)
            s->service->init(s, i, c, &into);
    }
    if (!c || !pf_grpc_call_request(c, s->queue->server, s->service->method[i], into.payload,
                                    into.details, s->queue->cq)) {
        atomic_store(&s->armed[i], false);
        atomic_store(&s->failed, true);
    }
}

static void keep(struct pf_grpc_serving *s)
{
    if (s->service->keep) {
        s->service->keep(s);
        return;
    }
    for (size_t i = 0; i < s->service->nmethods; i++)
        pf_grpc_serving_request(s, i);
}

void pf_grpc_queue_arm(struct pf_grpc_queue *q)
{
    for (size_t k = 0; k < q->n; k++)
        for (size_t i = 0; i < q->serving[k].service->nmethods; i++)
            pf_grpc_serving_request(&q->serving[k], i);
}

bool pf_grpc_queue_unarmed(struct pf_grpc_queue *q)
{
    if (pf_health_draining())
        return false;
    for (size_t k = 0; k < q->n; k++)
        if (atomic_load(&q->serving[k].failed))
            return true;
    return false;
}

void pf_grpc_queue_rearm(struct pf_grpc_queue *q)
{
    for (size_t k = 0; k < q->n; k++) {
        atomic_store(&q->serving[k].failed, false);
        keep(&q->serving[k]);
    }
}

void pf_grpc_queue_drain(struct pf_grpc_queue *q)
{
    for (size_t k = 0; k < q->n; k++)
        pf_grpc_call_pump_all(&q->serving[k].calls);
}

void pf_grpc_serving_started(struct pf_grpc_call *c)
{
    struct pf_grpc_serving *s = c->serving;
    atomic_store(&s->armed[c->method], false);
    pf_list_append(&s->calls, &c->link);
    atomic_fetch_add(&s->service->live, 1);
    atomic_fetch_add(&s->live, 1);
    keep(s);
}

void pf_grpc_serving_ended(struct pf_grpc_call *c)
{
    struct pf_grpc_serving *s = c->serving;
    if (!pf_list_linked(&c->link))
        return; /* never started */
    pf_list_remove(&c->link);
    atomic_fetch_sub(&s->service->live, 1);
    atomic_fetch_sub(&s->live, 1);
    keep(s);
}
