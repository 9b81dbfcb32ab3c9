#include "grpc_health.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_batch.h"
#include "grpc_tag.h"
#include "health.h"
#include "health.pb-c.h"
#include "list.h"
#include "log.h"
#include "pb_codec.h"

#define CHECK_METHOD "/grpc.health.v1.Health/Check"
#define WATCH_METHOD "/grpc.health.v1.Health/Watch"

struct pf_grpc_health {
    void *check;
    void *watch;
};

struct pf_grpc_health_queue {
    pf_grpc_health *h;
    grpc_server *server;
    grpc_completion_queue *cq;
    struct pf_list watches; /* open Watch streams (struct health_call) */
};

/* One Check or Watch call. A Check is one batch; a Watch sends its first
 * status, then NOT_SERVING and OK when the drain starts. */
struct health_call {
    struct pf_grpc_tag t_new, t_send, t_close;
    pf_grpc_health_queue *q;
    bool is_watch;
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array request_md;
    grpc_byte_buffer *request, *response;
    int cancelled;
    int batches;
    bool send_pending, last_sent;
    int sent_status; /* the last status sent on a Watch */
    struct pf_list link; /* in watches, while a Watch is open */
};

static const char *const known_services[] = { "", "primefactor.Factors" };

static bool known(const char *service)
{
    for (size_t i = 0; i < sizeof(known_services) / sizeof(known_services[0]); i++)
        if (strcmp(service, known_services[i]) == 0)
            return true;
    return false;
}

static int current_status(void)
{
    return pf_health_draining() ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
                                : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
}

/* The requested service name: true when it was decoded (into name). */
static bool read_service(grpc_byte_buffer *bb, char *name, size_t size)
{
    Grpc__Health__V1__HealthCheckRequest *req =
        bb ? (Grpc__Health__V1__HealthCheckRequest *)pf_pb_unpack(
                 bb, &grpc__health__v1__health_check_request__descriptor)
           : NULL;
    if (!req)
        return false;
    bool fits = strlen(req->service) < size;
    if (fits)
        strcpy(name, req->service);
    grpc__health__v1__health_check_request__free_unpacked(req, NULL);
    return fits;
}

static grpc_byte_buffer *encode_status(int status)
{
    Grpc__Health__V1__HealthCheckResponse msg = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    msg.status = status;
    return pf_pb_pack(&msg.base);
}

static void call_free(struct health_call *c)
{
    pf_list_remove(&c->link);
    if (c->call)
        grpc_call_unref(c->call);
    if (c->request)
        grpc_byte_buffer_destroy(c->request);
    if (c->response)
        grpc_byte_buffer_destroy(c->response);
    grpc_metadata_array_destroy(&c->request_md);
    free(c);
}

static void batch(struct health_call *c, grpc_op *ops, size_t n, struct pf_grpc_tag *t)
{
    if (grpc_call_start_batch(c->call, ops, n, t, NULL) == GRPC_CALL_OK)
        c->batches++;
    else
        grpc_call_cancel(c->call, NULL);
}

/* Sends status on a Watch; with last, the stream ends with OK after it. */
static void watch_send(struct health_call *c, int status, bool last)
{
    struct pf_grpc_batch b;
    bool md_sent = c->sent_status >= 0;
    pf_grpc_batch_send(&b, &md_sent);
    c->response = encode_status(status);
    pf_grpc_batch_message(&b, c->response);
    static grpc_slice no_details;
    if (last) {
        pf_grpc_batch_status(&b, GRPC_STATUS_OK, &no_details);
        c->last_sent = true;
    }
    c->sent_status = status;
    c->send_pending = true;
    batch(c, b.ops, b.n, &c->t_send);
}

/* Moves a Watch forward: when the drain has started, its last message. */
static void watch_pump(struct health_call *c)
{
    if (c->send_pending || c->last_sent || c->cancelled)
        return;
    if (pf_health_draining())
        watch_send(c, c->sent_status ==
                              GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN
                          ? c->sent_status
                          : current_status(),
                   true);
}

static void after_event(struct health_call *c)
{
    if (c->batches == 0)
        call_free(c);
}

static void on_send(struct pf_grpc_tag *t, bool ok)
{
    struct health_call *c = PF_GRPC_OWNER(t, struct health_call, t_send);
    c->batches--;
    c->send_pending = false;
    grpc_byte_buffer_destroy(c->response);
    c->response = NULL;
    if (ok && c->is_watch)
        watch_pump(c);
    after_event(c);
}

static void on_close(struct pf_grpc_tag *t, bool ok)
{
    (void)ok;
    struct health_call *c = PF_GRPC_OWNER(t, struct health_call, t_close);
    c->batches--;
    c->cancelled = c->cancelled || !c->last_sent;
    after_event(c);
}

static void request(pf_grpc_health_queue *q, bool watch);

static void answer_check(struct health_call *c, const char *service, bool decoded)
{
    struct pf_grpc_batch b;
    bool md_sent = false;
    pf_grpc_batch_send(&b, &md_sent);
    grpc_status_code code = GRPC_STATUS_OK;
    grpc_slice details = grpc_slice_from_static_string("");
    if (!decoded) {
        code = GRPC_STATUS_INVALID_ARGUMENT;
        details = grpc_slice_from_static_string("request is not a HealthCheckRequest");
    } else if (!known(service)) {
        code = GRPC_STATUS_NOT_FOUND;
        details = grpc_slice_from_static_string("unknown service");
    } else {
        c->response = encode_status(current_status());
        pf_grpc_batch_message(&b, c->response);
    }
    pf_grpc_batch_status(&b, code, &details);
    pf_grpc_batch_close(&b, &c->cancelled);
    c->last_sent = true;
    batch(c, b.ops, b.n, &c->t_close);
}

static void start_watch(struct health_call *c, const char *service, bool decoded)
{
    pf_grpc_health_queue *q = c->q;
    grpc_op close_op = { .op = GRPC_OP_RECV_CLOSE_ON_SERVER };
    close_op.data.recv_close_on_server.cancelled = &c->cancelled;
    batch(c, &close_op, 1, &c->t_close);
    pf_list_append(&q->watches, &c->link);
    int status = decoded && known(service)
                     ? current_status()
                     : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN;
    watch_send(c, status, pf_health_draining());
}

static void on_new(struct pf_grpc_tag *t, bool ok)
{
    struct health_call *c = PF_GRPC_OWNER(t, struct health_call, t_new);
    if (!ok) {
        call_free(c); /* the server is shutting down */
        return;
    }
    request(c->q, c->is_watch);
    char service[256] = "";
    bool decoded = read_service(c->request, service, sizeof(service));
    if (c->is_watch)
        start_watch(c, service, decoded);
    else
        answer_check(c, service, decoded);
    after_event(c);
}

static void request(pf_grpc_health_queue *q, bool watch)
{
    if (pf_health_draining())
        return;
    struct health_call *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    c->q = q;
    c->is_watch = watch;
    c->sent_status = -1;
    c->t_new.handle = on_new;
    c->t_send.handle = on_send;
    c->t_close.handle = on_close;
    grpc_metadata_array_init(&c->request_md);
    if (grpc_server_request_registered_call(q->server, watch ? q->h->watch : q->h->check,
                                            &c->call, &c->deadline, &c->request_md, &c->request,
                                            q->cq, q->cq, &c->t_new) != GRPC_CALL_OK) {
        pf_error("grpc: cannot take health calls");
        call_free(c);
    }
}

pf_grpc_health *pf_grpc_health_register(grpc_server *server)
{
    pf_grpc_health *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->check = grpc_server_register_method(server, CHECK_METHOD, NULL,
                                           GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    h->watch = grpc_server_register_method(server, WATCH_METHOD, NULL,
                                           GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    return h;
}

void pf_grpc_health_free(pf_grpc_health *h)
{
    free(h);
}

pf_grpc_health_queue *pf_grpc_health_queue_new(pf_grpc_health *h, grpc_server *server,
                                               grpc_completion_queue *cq)
{
    if (!h)
        return NULL;
    pf_grpc_health_queue *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->h = h;
    q->server = server;
    q->cq = cq;
    pf_list_init(&q->watches);
    request(q, false);
    request(q, true);
    return q;
}

void pf_grpc_health_queue_drain(pf_grpc_health_queue *q)
{
    if (!q)
        return;
    struct pf_list *node, *tmp;
    pf_list_for_each(node, tmp, &q->watches)
        watch_pump(PF_CONTAINER_OF(node, struct health_call, link));
}

void pf_grpc_health_queue_free(pf_grpc_health_queue *q)
{
    free(q);
}
