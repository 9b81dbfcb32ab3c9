#include "http_router.h"
#include "service.h"

#include <stdbool.h>
#include <string.h>

#define FACTORS_PREFIX "/v1/factors/"
#define ALLOW_GET "GET, HEAD"
#define ALLOW_POST "POST"

static bool path_is(const char *path, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(path, want, len) == 0;
}

static bool takes(const char *allow, enum pf_method method)
{
    if (strcmp(allow, ALLOW_GET) == 0)
        return method == PF_METHOD_GET || method == PF_METHOD_HEAD;
    return method == PF_METHOD_POST;
}

static struct pf_route_match only(const char *allow, enum pf_method method, enum pf_route route)
{
    if (!takes(allow, method))
        return (struct pf_route_match){ .route = PF_ROUTE_WRONG_METHOD, .allow = allow };
    return (struct pf_route_match){ .route = route };
}

struct pf_route_match pf_http_route(enum pf_method method, const char *path, size_t len)
{
    size_t prefix = strlen(FACTORS_PREFIX);
    if (path_is(path, len, PF_STREAM_PATH))
        return only(ALLOW_POST, method, PF_ROUTE_NDJSON);
    if (len > prefix && memcmp(path, FACTORS_PREFIX, prefix) == 0) {
        struct pf_route_match m = only(ALLOW_GET, method, PF_ROUTE_FACTORS);
        m.arg = path + prefix;
        m.arg_len = len - prefix;
        return m;
    }
    if (path_is(path, len, "/healthz"))
        return only(ALLOW_GET, method, PF_ROUTE_HEALTHZ);
    if (path_is(path, len, "/metrics"))
        return only(ALLOW_GET, method, PF_ROUTE_METRICS);
    if (path_is(path, len, "/openapi.json"))
        return only(ALLOW_GET, method, PF_ROUTE_OPENAPI);
    return only(ALLOW_GET, method, PF_ROUTE_FILE);
}
