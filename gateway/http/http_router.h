/* Which handler an HTTP request goes to: a pure function of the method and
 * the path, so that it can be tested and fuzzed without a socket. */
#ifndef PF_HTTP_ROUTER_H
#define PF_HTTP_ROUTER_H

#include <stddef.h>

/* HEAD is served wherever GET is (RFC 9110 9.3.2), without the body. */
enum pf_method { PF_METHOD_GET, PF_METHOD_POST, PF_METHOD_OTHER, PF_METHOD_HEAD };

enum pf_route {
    PF_ROUTE_WRONG_METHOD, /* the path exists; `allow` says which methods it takes */
    PF_ROUTE_NDJSON,       /* POST /primefactor.Factors/PrimeFactors */
    PF_ROUTE_FACTORS,      /* GET /v1/factors/{num}: arg is num's text */
    PF_ROUTE_HEALTHZ,
    PF_ROUTE_METRICS,
    PF_ROUTE_OPENAPI,      /* GET /openapi.json: the description of these routes */
    PF_ROUTE_FILE,         /* a GET of any other path: a static file (or a 404) */
};

struct pf_route_match {
    enum pf_route route;
    const char *arg; /* points into path */
    size_t arg_len;
    const char *allow; /* the value of an Allow header (RFC 9110 10.2.1) */
};

/* The Allow header of a request whose method pfgate serves nowhere. */
#define PF_HTTP_ALLOW_ANY "GET, HEAD, POST"

struct pf_route_match pf_http_route(enum pf_method method, const char *path, size_t len);

#endif
