#include "http_router.h"

#include <stdbool.h>
#include <string.h>

#define FACTORS_PREFIX "/v1/factors/"

static bool path_is(const char *path, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(path, want, len) == 0;
}

static struct pf_route_match only(enum pf_method want, enum pf_method method, enum pf_route route,
                                  const char *allow)
{
    if (method != want)
        return (struct pf_route_match){ .route = PF_ROUTE_WRONG_METHOD, .allow = allow };
    return (struct pf_route_match){ .route = route };
}

struct pf_route_match pf_http_route(enum pf_method method, const char *path, size_t len)
{
    size_t prefix = strlen(FACTORS_PREFIX);
    if (path_is(path, len, "/primefactor.Factors/PrimeFactors"))
        return only(PF_METHOD_POST, method, PF_ROUTE_NDJSON, "POST");
    if (len > prefix && memcmp(path, FACTORS_PREFIX, prefix) == 0) {
        struct pf_route_match m = only(PF_METHOD_GET, method, PF_ROUTE_FACTORS, "GET");
        m.arg = path + prefix;
        m.arg_len = len - prefix;
        return m;
    }
    if (path_is(path, len, "/healthz"))
        return only(PF_METHOD_GET, method, PF_ROUTE_HEALTHZ, "GET");
    if (path_is(path, len, "/metrics"))
        return only(PF_METHOD_GET, method, PF_ROUTE_METRICS, "GET");
    return (struct pf_route_match){ .route = PF_ROUTE_NOT_FOUND };
}
