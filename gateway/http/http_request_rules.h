/* The rules of RFC 9112 that libwebsockets 4.1.6 does not enforce on a
 * request, checked once its headers are parsed, before it is served
 * (LWS_CALLBACK_FILTER_HTTP_CONNECTION and HTTP_CONFIRM_UPGRADE). */
#ifndef PF_HTTP_REQUEST_RULES_H
#define PF_HTTP_REQUEST_RULES_H

#include <libwebsockets.h>

#include "http_router.h"

/* lws's buffer for one request's line and headers (context info
 * max_http_header_data). A request that does not fit is closed by lws
 * without a response; each field is capped below it (token limits), so
 * that a long URL or header still reaches pfgate as a 414 or 431. */
#define PF_HTTP_HEADER_BUFFER 16384
/* The longest request-target and the longest header field (all its lines
 * together) pfgate reads: RFC 9112 3 recommends at least 8000 octets. */
#define PF_HTTP_FIELD_MAX 8191

/* For the context info: every token capped at PF_HTTP_FIELD_MAX + 1, so
 * that lws keeps the first PF_HTTP_FIELD_MAX + 1 bytes of a longer one and
 * skips the rest instead of failing the request. */
const struct lws_token_limits *pf_http_token_limits(void);

/* Checks the request on wsi: Content-Length a plain decimal, sizes (414,
 * 431), request line (version), Host (exactly one in HTTP/1.1), no
 * whitespace before the colon of the fields that frame or route it, and no
 * Transfer-Encoding. Returns 0 to serve it, or, after
 * answering with pfgate's JSON error and "Connection: close", what the
 * callback must return. */
int pf_http_check_request(struct lws *wsi);

/* The route of the request on wsi (see http_router.h). */
struct pf_route_match pf_http_route_of(struct lws *wsi);

/* 405 with an Allow header (the methods the path takes) for a method the
 * request's path does not take (static files included: lws would serve a
 * file to a POST). Returns what the callback must return. Not for upgrades,
 * which are GETs of the POST-only stream path. */
int pf_http_refuse_method(struct lws *wsi, const char *allow);

/* A request whose method lws does not know (TRACE, PROPFIND ...) or that it
 * would tunnel (CONNECT) reaches pfgate as raw bytes (the vhost's fallback
 * to a raw socket, LWS_SERVER_OPTION_FALLBACK_TO_APPLY_LISTEN_ACCEPT_CONFIG):
 * answers it 405 and closes. (lws takes the same fallback for plain text on
 * the TLS port; such a connection is reset before any byte reaches pfgate,
 * and if one ever did, it gets 400, not 405.)
 * For LWS_CALLBACK_RAW_RX; returns what the callback must return. */
int pf_http_refuse_raw(struct lws *wsi, const char *in, size_t len);

#endif
