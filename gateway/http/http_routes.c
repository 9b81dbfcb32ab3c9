#include "http_routes.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "health.h"
#include "http_access.h"
#include "http_reply.h"
#include "http_request_rules.h"
#include "http_router.h"
#include "http_static.h"
#include "json_codec.h"
#include "metrics.h"
#include "ndjson_front.h"
#include "num.h"
#include "openapi.h"
#include "stream.h"

static int reply_json(struct lws *wsi, unsigned status, char *json)
{
    if (!json)
        return -1;
    int rc = pf_http_reply(wsi, status, "application/json", json, strlen(json), NULL);
    free(json);
    return rc;
}

static int reply_error(struct lws *wsi, unsigned status, const char *error)
{
    return reply_json(wsi, status, pf_json_encode_error(error));
}

/* GET /v1/factors/{num}: the same request -> answers path as the streams,
 * for a stream of one number. */
static int get_factors(struct lws *wsi, const char *text, size_t len)
{
    pf_request req = { .stamp = pf_now_ns() };
    req.err = pf_parse_i64(text, len, &req.num);
    if (len > 64)
        req.err = PF_ETOOLONG;

    pf_stream *stream = NULL;
    int rc = pf_stream_new(1, NULL, NULL, NULL, &stream);
    if (rc == 0)
        rc = pf_stream_push(stream, &req);
    if (rc < 0) {
        pf_stream_free(stream);
        return reply_error(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, pf_strerror(rc));
    }
    pf_metrics_request(PF_FRONT_HTTP);

    int64_t factors[64];
    size_t n = 0;
    pf_response r;
    const char *error = NULL;
    do {
        pf_stream_pop(stream, &r);
        pf_metrics_answer(PF_FRONT_HTTP, &r);
        if (r.error)
            error = r.error;
        else if (r.result)
            factors[n++] = r.result;
    } while (!r.last);
    pf_stream_counts(stream, &pf_lws_env(wsi)->reply_counts); /* its reply's log line */
    pf_stream_free(stream);

    if (error)
        return reply_error(wsi, HTTP_STATUS_BAD_REQUEST, error);
    return reply_json(wsi, HTTP_STATUS_OK, pf_json_encode_factors(req.num, factors, n));
}

static int get_metrics(struct lws *wsi)
{
    size_t len;
    char *text = pf_metrics_render(&len);
    if (!text)
        return -1;
    int rc = pf_http_reply(wsi, HTTP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8", text,
                           len, NULL);
    free(text);
    return rc;
}

static int get_healthz(struct lws *wsi)
{
    if (pf_health_draining())
        return reply_json(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE,
                          strdup("{\"status\":\"NOT_SERVING\"}"));
    return reply_json(wsi, HTTP_STATUS_OK, strdup("{\"status\":\"SERVING\"}"));
}

/* The description changes only with the binary: caches may keep it a while. */
static int get_openapi(struct lws *wsi)
{
    return pf_http_reply(wsi, HTTP_STATUS_OK, "application/json", (const char *)pf_openapi_json,
                         pf_openapi_json_len, "cache-control: public, max-age=3600");
}

static int route(struct lws *wsi, struct pf_http_session *s)
{
    struct pf_route_match m = pf_http_route_of(wsi);
    switch (m.route) {
    case PF_ROUTE_NDJSON: return pf_ndjson_start(wsi, &s->ndjson);
    case PF_ROUTE_FACTORS: return get_factors(wsi, m.arg, m.arg_len);
    case PF_ROUTE_HEALTHZ: return get_healthz(wsi);
    case PF_ROUTE_METRICS: return get_metrics(wsi);
    case PF_ROUTE_OPENAPI: return get_openapi(wsi);
    case PF_ROUTE_WRONG_METHOD: return pf_http_refuse_method(wsi, m.allow); /* the filter's */
    case PF_ROUTE_FILE: break;
    }
    int rc = pf_http_static_serve(wsi, false);
    if (rc)
        return rc;
    /* lws hands pfgate the static files that do not exist. */
    return reply_error(wsi, HTTP_STATUS_NOT_FOUND, "not found");
}

int pf_http_filter(struct lws *wsi)
{
    int rc = pf_http_check_request(wsi);
    if (rc)
        return rc;
    struct pf_route_match m = pf_http_route_of(wsi);
    if (m.route == PF_ROUTE_WRONG_METHOD)
        return pf_http_refuse_method(wsi, m.allow);
    /* The mount of "/" would have lws send the file itself (http_static.h). */
    if (m.route == PF_ROUTE_FILE)
        return pf_http_static_serve(wsi, true);
    return 0;
}

int pf_http_callback(struct lws *wsi, enum lws_callback_reasons reason,
                     struct pf_http_session *s, void *in, size_t len)
{
    if (reason == LWS_CALLBACK_RAW_RX)
        return pf_http_refuse_raw(wsi, in, len);
    if (!s) /* no per-connection state (yet): nothing of ours to do */
        return lws_callback_http_dummy(wsi, reason, s, in, len);
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return route(wsi, s);
    case LWS_CALLBACK_HTTP_BODY:
        return s->ndjson ? pf_ndjson_body(wsi, s->ndjson, in, len) : 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return s->ndjson ? pf_ndjson_body_done(wsi, s->ndjson) : 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return s->ndjson ? pf_ndjson_write(wsi, s->ndjson) : 0;
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
        /* A file lws served itself (http_static.h): its line. */
        pf_http_access_log(wsi, &(struct pf_http_access){ .front = PF_ACCESS_HTTP,
                                                          .status = HTTP_STATUS_OK,
                                                          .bytes_in = -1, .bytes_out = -1 });
        return lws_callback_http_dummy(wsi, reason, s, in, len);
    case LWS_CALLBACK_TIMER:
        return s->ndjson ? pf_ndjson_timer(wsi, s->ndjson) : 0;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        pf_ndjson_free(wsi, s->ndjson);
        s->ndjson = NULL;
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, s, in, len);
    }
}
