#include "grpc_call.h"

#include <grpc/support/alloc.h>
#include <stdlib.h>
#include <string.h>

#include "access_log.h"
#include "clock.h"
#include "grpc_conns.h"
#include "grpc_service.h"
#include "log.h"

/* The access log's line of a call that started. A call that ended without
 * a status of pfgate's was cancelled (by its client, or by the HTTP/2 guard). */
static void log_call(struct pf_grpc_call *c)
{
    if (!c->start_ns || !pf_access_log_on())
        return;
    struct pf_access_rec r = {
        .front = PF_ACCESS_GRPC, .status = c->status >= 0 ? c->status : GRPC_STATUS_CANCELLED,
        .answers = c->messages_sent, .bytes_in = -1, .bytes_out = -1, .start_ns = c->start_ns,
    };
    const struct pf_grpc_service *svc = c->serving ? c->serving->service : NULL;
    if (svc && svc->path[c->method]) {
        r.path = svc->path[c->method];
        r.path_len = strlen(r.path);
    }
    if (c->kind->access)
        c->kind->access(c, &r);
    char client[64];
    pf_grpc_conns *conns = c->serving ? c->serving->queue->conns : NULL;
    char *peer = !r.peer && conns && c->call ? grpc_call_get_peer(c->call) : NULL;
    if (peer && pf_grpc_conns_client_of(conns, peer, client, sizeof(client)))
        r.peer = client;
    gpr_free(peer);
    pf_access_log_write(&r);
}

static void call_free(struct pf_grpc_call *c)
{
    if (!c->destroyed) {
        log_call(c);
        c->destroyed = true;
        if (c->kind->destroy)
            c->kind->destroy(c);
        if (c->serving)
            pf_grpc_serving_ended(c);
    }
    if (atomic_load(&c->wake_pending))
        return; /* its event comes back here */
    if (c->send_bb)
        grpc_byte_buffer_destroy(c->send_bb);
    if (c->call)
        grpc_call_unref(c->call);
    grpc_metadata_array_destroy(&c->request_md);
    free(c); /* the kind's struct: the base is its first member */
}

static void sent(struct pf_grpc_call *c, bool ok)
{
    c->send_pending = false;
    if (!ok)
        c->dead = true; /* the client is gone */
}

static void on_event(struct pf_grpc_tag *t, bool ok)
{
    struct pf_grpc_call_tag *ct = (struct pf_grpc_call_tag *)t;
    enum pf_grpc_op op = ct->op;
    struct pf_grpc_call *c = PF_GRPC_OWNER(ct - op, struct pf_grpc_call, tags);
    if (op == PF_GRPC_OP_NEW && !ok) {
        call_free(c); /* the server is shutting down: this request will never be a call */
        return;
    }
    if (op == PF_GRPC_OP_WAKE) {
        atomic_store(&c->wake_pending, false);
        if (c->destroyed) {
            call_free(c);
            return;
        }
    } else if (op != PF_GRPC_OP_NEW) {
        c->batches--;
        if (!ok)
            pf_debug("grpc: %s call %p: batch %d failed (cancelled %d)", c->kind->name,
                     (void *)c, (int)op, c->cancelled);
        if (op == PF_GRPC_OP_CLOSE && c->cancelled)
            c->dead = true;
        if (op == PF_GRPC_OP_SEND)
            sent(c, ok);
    } else {
        c->start_ns = pf_now_ns();
        if (c->serving)
            pf_grpc_serving_started(c);
    }
    if (c->kind->on[op])
        c->kind->on[op](c, ok);
    pf_grpc_call_pump(c);
}

void pf_grpc_call_pump(struct pf_grpc_call *c)
{
    if (c->kind->pump)
        c->kind->pump(c);
    if (c->batches == 0 && !c->held)
        call_free(c);
}

struct pf_grpc_call *pf_grpc_call_new(size_t size, const struct pf_grpc_call_kind *kind)
{
    struct pf_grpc_call *c = calloc(1, size);
    if (!c) {
        /* Asked again on a worker tick: at most a line a second. */
        static _Thread_local struct pf_log_limit limit;
        pf_log_limited(&limit, PF_LOG_ERROR, "grpc: out of memory for a %s call", kind->name);
        return NULL;
    }
    for (int i = 0; i < PF_GRPC_NOPS; i++) {
        c->tags[i].tag.handle = on_event;
        c->tags[i].op = (enum pf_grpc_op)i;
    }
    c->kind = kind;
    c->status = -1;
    grpc_metadata_array_init(&c->request_md);
    return c;
}

bool pf_grpc_call_request(struct pf_grpc_call *c, grpc_server *server, void *method,
                          grpc_byte_buffer **payload, grpc_call_details *details,
                          grpc_completion_queue *cq)
{
    struct pf_grpc_tag *t = &c->tags[PF_GRPC_OP_NEW].tag;
    grpc_call_error e =
        method ? grpc_server_request_registered_call(server, method, &c->call, &c->deadline,
                                                     &c->request_md, payload, cq, cq, t)
               : grpc_server_request_call(server, &c->call, details, &c->request_md, cq, cq, t);
    if (e != GRPC_CALL_OK) {
        static _Thread_local struct pf_log_limit limit;
        pf_log_limited(&limit, PF_LOG_ERROR, "grpc: cannot take %s calls (%d)", c->kind->name,
                       (int)e);
        call_free(c);
        return false;
    }
    return true;
}

bool pf_grpc_call_start_batch(struct pf_grpc_call *c, const grpc_op *ops, size_t n,
                              enum pf_grpc_op op)
{
    /* What the access log says of the call: a pass over at most 4 ops. */
    for (size_t i = 0; i < n; i++) {
        if (ops[i].op == GRPC_OP_SEND_MESSAGE)
            c->messages_sent++;
        else if (ops[i].op == GRPC_OP_SEND_STATUS_FROM_SERVER)
            c->status = (int)ops[i].data.send_status_from_server.status;
    }
    c->batches++;
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, &c->tags[op].tag, NULL);
    if (e != GRPC_CALL_OK) {
        /* The tag will never come back. */
        c->batches--;
        pf_error("grpc: %s call: start_batch failed (%d)", c->kind->name, (int)e);
        c->dead = true;
        grpc_call_cancel(c->call, NULL);
        return false;
    }
    return true;
}

void pf_grpc_call_wake(struct pf_grpc_call *c)
{
    if (atomic_exchange(&c->wake_pending, true))
        return;
    if (grpc_call_start_batch(c->call, NULL, 0, &c->tags[PF_GRPC_OP_WAKE].tag, NULL) != GRPC_CALL_OK)
        atomic_store(&c->wake_pending, false); /* not seen: an empty batch always starts */
}

grpc_byte_buffer *pf_grpc_call_send_buffer(struct pf_grpc_call *c)
{
    if (!c->send_bb)
        c->send_bb = grpc_raw_byte_buffer_create(NULL, 0);
    return c->send_bb;
}

bool pf_grpc_call_watch_close(struct pf_grpc_call *c)
{
    grpc_op op = { .op = GRPC_OP_RECV_CLOSE_ON_SERVER };
    op.data.recv_close_on_server.cancelled = &c->cancelled;
    return pf_grpc_call_start_batch(c, &op, 1, PF_GRPC_OP_CLOSE);
}

void pf_grpc_call_fail(struct pf_grpc_call *c, grpc_status_code code, const char *details)
{
    c->dead = true;
    c->status = (int)code;
    grpc_call_cancel_with_status(c->call, code, details, NULL);
}

void pf_grpc_call_pump_all(struct pf_list *calls)
{
    struct pf_list *node, *tmp;
    pf_list_for_each(node, tmp, calls)
        pf_grpc_call_pump(PF_CONTAINER_OF(node, struct pf_grpc_call, link));
}
