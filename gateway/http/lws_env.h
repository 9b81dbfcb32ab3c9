/* What the libwebsockets front ends (ws_front, http_routes, ndjson_front)
 * share. Everything here is touched only on the lws service thread. */
#ifndef PF_LWS_ENV_H
#define PF_LWS_ENV_H

#include <libwebsockets.h>
#include <stdbool.h>

#include "config.h"
#include "list.h"

struct pf_lws_env {
    const struct pf_config *cfg;
    struct pf_list ws_sessions;     /* open WebSockets (pf_ws_session), for the drain */
    struct pf_list ndjson_sessions; /* open NDJSON streams, likewise */
    int open_streams;
    int connections; /* client connections, WebSockets included */
};

static inline struct pf_lws_env *pf_lws_env_of(struct lws_context *ctx)
{
    return lws_context_user(ctx);
}

static inline struct pf_lws_env *pf_lws_env(struct lws *wsi)
{
    return pf_lws_env_of(lws_get_context(wsi));
}

/* An HTTP/2 stream (over TLS, by ALPN), not a connection of its own: no
 * request line, headers and body in separate frames. */
static inline bool pf_http_is_h2_stream(struct lws *wsi)
{
    return lws_get_network_wsi(wsi) != wsi;
}

/* Sends a complete reply (status, content type, body, and one more header
 * line "name: value" or NULL) from LWS_CALLBACK_HTTP in one write, and ends
 * the transaction there: lws parses a pipelined request as soon as the
 * callback returns, and closes at a half-close, so a body left for
 * HTTP_WRITEABLE would be overtaken or lost. A HEAD request gets the headers
 * only. Returns what the callback must return (nonzero: close). */
int pf_http_reply(struct lws *wsi, unsigned status, const char *content_type, const char *body,
                  size_t len, const char *header);
/* The same with "Connection: close", for a callback that cannot end the
 * transaction (FILTER_HTTP_CONNECTION): lws closes once it is sent. */
int pf_http_reply_then_close(struct lws *wsi, unsigned status, const char *content_type,
                             const char *body, size_t len);

/* Answers a request pfgate will not serve (a refused upgrade, a limit, a
 * malformed request) with an HTTP/1.1 status, a JSON error body and
 * "Connection: close", from any point before the response has started.
 * Returns what the callback must return (nonzero: close). */
int pf_http_refuse(struct lws *wsi, unsigned status, const char *why);
/* The same with one more header line ("name: value"), or NULL. */
int pf_http_refuse_with(struct lws *wsi, unsigned status, const char *why, const char *header);

#endif
