#include "grpc_health.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_batch.h"
#include "grpc_call.h"
#include "health.h"
#include "health.pb-c.h"
#include "pb_codec.h"

#define CHECK_METHOD "/grpc.health.v1.Health/Check"
#define WATCH_METHOD "/grpc.health.v1.Health/Watch"

enum { CHECK, WATCH, NMETHODS };

/* One Check or Watch call. A Check is one batch; a Watch sends its first
 * status, then NOT_SERVING and OK when the drain starts. */
struct health_call {
    struct pf_grpc_call base; /* first; its send_bb: the response */
    bool is_watch;
    grpc_byte_buffer *request;
    bool last_sent;
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

/* Packs status into the call's send buffer. */
static grpc_byte_buffer *encode_status(struct health_call *c, int status)
{
    Grpc__Health__V1__HealthCheckResponse msg = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    msg.status = status;
    grpc_byte_buffer *bb = pf_grpc_call_send_buffer(&c->base);
    pf_pb_pack_into(bb, &msg.base);
    return bb;
}

static void call_destroy(struct pf_grpc_call *base)
{
    struct health_call *c = (struct health_call *)base;
    if (c->request)
        grpc_byte_buffer_destroy(c->request);
}

/* Sends status on a Watch; with last, the stream ends with OK after it. */
static void watch_send(struct health_call *c, int status, bool last)
{
    struct pf_grpc_batch b;
    bool md_sent = c->sent_status >= 0;
    pf_grpc_batch_send(&b, &md_sent);
    pf_grpc_batch_message(&b, encode_status(c, status));
    static grpc_slice no_details;
    if (last) {
        pf_grpc_batch_status(&b, GRPC_STATUS_OK, &no_details);
        c->last_sent = true;
    }
    c->sent_status = status;
    c->base.send_pending = pf_grpc_call_start_batch(&c->base, b.ops, b.n, PF_GRPC_OP_SEND);
}

/* Moves a Watch forward: when the drain has started, its last message. */
static void watch_pump(struct pf_grpc_call *base)
{
    struct health_call *c = (struct health_call *)base;
    if (!c->is_watch || base->send_pending || c->last_sent || base->cancelled || base->dead)
        return;
    if (pf_health_draining())
        watch_send(c, c->sent_status ==
                              GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN
                          ? c->sent_status
                          : current_status(),
                   true);
}

static void on_close(struct pf_grpc_call *base, bool ok)
{
    (void)ok;
    struct health_call *c = (struct health_call *)base;
    base->cancelled = base->cancelled || !c->last_sent;
}

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
        pf_grpc_batch_message(&b, encode_status(c, current_status()));
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
    int status = decoded && known(service)
                     ? current_status()
                     : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN;
    watch_send(c, status, pf_health_draining());
}

static void on_new(struct pf_grpc_call *base, bool ok)
{
    (void)ok;
    struct health_call *c = (struct health_call *)base;
    char service[256] = "";
    bool decoded = read_service(c->request, service, sizeof(service));
    if (c->is_watch)
        start_watch(c, service, decoded);
    else
        answer_check(c, service, decoded);
}

static const struct pf_grpc_call_kind health_kind = {
    .name = "health",
    .on = { [PF_GRPC_OP_NEW] = on_new, [PF_GRPC_OP_CLOSE] = on_close },
    .pump = watch_pump, .destroy = call_destroy,
};

static void init_call(struct pf_grpc_serving *s, size_t i, struct pf_grpc_call *base,
                      struct pf_grpc_call_into *into)
{
    (void)s;
    struct health_call *c = (struct health_call *)base;
    c->is_watch = i == WATCH;
    c->sent_status = -1;
    into->payload = &c->request;
}

struct pf_grpc_service *pf_grpc_health_register(grpc_server *server)
{
    struct pf_grpc_service *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->nmethods = NMETHODS;
    h->kind = &health_kind;
    h->call_size = sizeof(struct health_call);
    h->init = init_call;
    h->path[CHECK] = CHECK_METHOD;
    h->path[WATCH] = WATCH_METHOD;
    h->method[CHECK] = grpc_server_register_method(server, CHECK_METHOD, NULL,
                                                   GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    h->method[WATCH] = grpc_server_register_method(server, WATCH_METHOD, NULL,
                                                   GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    return h;
}
