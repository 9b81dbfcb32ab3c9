/* HTTP requests on --http-addr: the routes of SPEC.md that are not static
 * files (/v1/factors/{num}, /healthz, /metrics, /openapi.json, the NDJSON
 * POST), and 404s. */
#ifndef PF_HTTP_ROUTES_H
#define PF_HTTP_ROUTES_H

#include <libwebsockets.h>

#include "lws_env.h"

struct pf_http_session {
    struct pf_ndjson_session *ndjson;
};

/* The HTTP callback reasons; the same return convention as lws. */
int pf_http_callback(struct lws *wsi, enum lws_callback_reasons reason,
                     struct pf_http_session *s, void *in, size_t len);

/* For LWS_CALLBACK_FILTER_HTTP_CONNECTION: the checks of every request
 * pfgate serves, static files included (see http_request_rules.h). Returns
 * 0 to serve it, else what the callback must return. */
int pf_http_filter(struct lws *wsi);

#endif
