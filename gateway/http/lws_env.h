/* What the libwebsockets front ends (ws_front, http_routes, ndjson_front)
 * share. Everything here is touched only on the lws service thread, but
 * wakes (lws_wake.h). */
#ifndef PF_LWS_ENV_H
#define PF_LWS_ENV_H

#include <libwebsockets.h>
#include <stdbool.h>

#include "config.h"
#include "http_conns.h"
#include "list.h"
#include "lws_wake.h"
#include "scheduler.h"
#include "stream.h"

struct pf_lws_env {
    const struct pf_config *cfg;
    pf_sched *sched;            /* the factoring workers */
    struct pf_lws_wakes wakes;  /* sessions they woke */
    struct pf_list ws_sessions;     /* open WebSockets (pf_ws_session), for the drain */
    struct pf_list ndjson_sessions; /* open NDJSON streams, likewise */
    int open_streams;
    int connections; /* client connections, WebSockets included */
    /* The request being answered, for the access log: when its head came
     * (0: unknown), and the counts of a GET /v1/factors for its reply. */
    uint64_t request_ns;
    struct pf_stream_counts reply_counts;
};

static inline struct pf_lws_env *pf_lws_env_of(struct lws_context *ctx)
{
    return lws_context_user(ctx);
}

static inline struct pf_lws_env *pf_lws_env(struct lws *wsi)
{
    return pf_lws_env_of(lws_get_context(wsi));
}

/* The connection record pfgate gave a client connection at accept (an
 * HTTP/2 stream's is its connection's); NULL for lws's own descriptors. */
static inline struct pf_http_conn *pf_http_conn_of(struct lws *wsi)
{
    struct lws *net = lws_get_network_wsi(wsi);
    return lws_get_opaque_user_data(net ? net : wsi);
}

/* An HTTP/2 stream (over TLS, by ALPN), not a connection of its own: no
 * request line, headers and body in separate frames. */
static inline bool pf_http_is_h2_stream(struct lws *wsi)
{
    return lws_get_network_wsi(wsi) != wsi;
}

#endif
