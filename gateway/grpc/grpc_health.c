#include "grpc_health.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_batch.h"
#include "grpc_call.h"
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

enum { CHECK, WATCH, NKINDS };

struct pf_grpc_health_queue {
    pf_grpc_health *h;
    grpc_server *server;
    grpc_completion_queue *cq;
    struct pf_list watches; /* open Watch streams (struct health_call) */
    bool armed[NKINDS];     /* a request for the next Check, Watch is pending */
};

/* One Check or Watch call. A Check is one batch; a Watch sends its first
 * status, then NOT_SERVING and OK when the drain starts. */
struct health_call {
    struct pf_grpc_call base; /* first */
    pf_grpc_health_queue *q;
    bool is_watch;
    grpc_byte_buffer *request, *response;
    bool send_pending, last_sent;
    int sent_status; /* the last status sent on a Watch */
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

static void call_destroy(struct pf_grpc_call *base)
{
    struct health_call *c = (struct health_call *)base;
    if (c->request)
        grpc_byte_buffer_destroy(c->request);
    if (c->response)
        grpc_byte_buffer_destroy(c->response);
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
    c->send_pending = pf_grpc_call_start_batch(&c->base, b.ops, b.n, PF_GRPC_OP_SEND);
}

/* Moves a Watch forward: when the drain has started, its last message. */
static void watch_pump(struct pf_grpc_call *base)
{
    struct health_call *c = (struct health_call *)base;
    if (!c->is_watch || c->send_pending || c->last_sent || base->cancelled || base->dead)
        return;
    if (pf_health_draining())
        watch_send(c, c->sent_status ==
                              GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN
                          ? c->sent_status
                          : current_status(),
                   true);
}

static void on_send(struct pf_grpc_call *base, bool ok)
{
    struct health_call *c = (struct health_call *)base;
    c->send_pending = false;
    grpc_byte_buffer_destroy(c->response);
    c->response = NULL;
    if (!ok)
        base->dead = true;
}

static void on_close(struct pf_grpc_call *base, bool ok)
{
    (void)ok;
    struct health_call *c = (struct health_call *)base;
    base->cancelled = base->cancelled || !c->last_sent;
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
    pf_grpc_batch_close(&b, &c->base.cancelled);
    c->last_sent = true;
    pf_grpc_call_start_batch(&c->base, b.ops, b.n, PF_GRPC_OP_CLOSE);
}

static void start_watch(struct health_call *c, const char *service, bool decoded)
{
    if (!pf_grpc_call_watch_close(&c->base))
        return;
    pf_list_append(&c->q->watches, &c->base.link);
    int status = decoded && known(service)
                     ? current_status()
                     : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN;
    watch_send(c, status, pf_health_draining());
}

static void on_new(struct pf_grpc_call *base, bool ok)
{
    (void)ok;
    struct health_call *c = (struct health_call *)base;
    c->q->armed[c->is_watch] = false;
    request(c->q, c->is_watch);
    char service[256] = "";
    bool decoded = read_service(c->request, service, sizeof(service));
    if (c->is_watch)
        start_watch(c, service, decoded);
    else
        answer_check(c, service, decoded);
}

static const struct pf_grpc_call_kind health_kind = {
    .name = "health",
    .on = { [PF_GRPC_OP_NEW] = on_new, [PF_GRPC_OP_SEND] = on_send,
            [PF_GRPC_OP_CLOSE] = on_close },
    .pump = watch_pump, .destroy = call_destroy,
};

static void request(pf_grpc_health_queue *q, bool watch)
{
    if (pf_health_draining())
        return;
    struct health_call *c = (struct health_call *)pf_grpc_call_new(sizeof(*c), &health_kind);
    if (!c)
        return; /* asked again on the worker's tick (pf_grpc_health_queue_unarmed) */
    c->q = q;
    c->is_watch = watch;
    c->sent_status = -1;
    q->armed[watch] = pf_grpc_call_request(&c->base, q->server, watch ? q->h->watch : q->h->check,
                                           &c->request, NULL, q->cq);
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
    pf_grpc_health_queue_rearm(q);
    return q;
}

bool pf_grpc_health_queue_unarmed(const pf_grpc_health_queue *q)
{
    return q && (!q->armed[CHECK] || !q->armed[WATCH]);
}

void pf_grpc_health_queue_rearm(pf_grpc_health_queue *q)
{
    for (int k = 0; q && k < NKINDS; k++)
        if (!q->armed[k])
            request(q, k == WATCH);
}

void pf_grpc_health_queue_drain(pf_grpc_health_queue *q)
{
    if (q)
        pf_grpc_call_pump_all(&q->watches);
}

void pf_grpc_health_queue_free(pf_grpc_health_queue *q)
{
    free(q);
}
