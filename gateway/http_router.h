/* Which handler an HTTP request goes to: a pure function of the method and
 * the path, so that it can be tested and fuzzed without a socket. */
#ifndef PF_HTTP_ROUTER_H
#define PF_HTTP_ROUTER_H

#include <stddef.h>

enum pf_method { PF_METHOD_GET, PF_METHOD_POST, PF_METHOD_OTHER };

enum pf_route {
    PF_ROUTE_NOT_FOUND,
    PF_ROUTE_WRONG_METHOD, /* the path exists; `allow` says which method it takes */
    PF_ROUTE_NDJSON,       /* POST /primefactor.Factors/PrimeFactors */
    PF_ROUTE_FACTORS,      /* GET /v1/factors/{num}: arg is num's text */
    PF_ROUTE_HEALTHZ,
    PF_ROUTE_METRICS,
};

struct pf_route_match {
    enum pf_route route;
    const char *arg; /* points into path */
    size_t arg_len;
    const char *allow;
};

struct pf_route_match pf_http_route(enum pf_method method, const char *path, size_t len);

#endif
