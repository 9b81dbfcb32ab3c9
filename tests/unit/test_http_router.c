/* Unit tests for gateway/http/http_router.c: which handler a method and path go
 * to, and the Allow header of a 405 (RFC 9110 15.5.6: a 405 lists the
 * methods the path takes; HEAD goes wherever GET goes, 9.3.2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http_router.h"

struct route_case {
    enum pf_method method;
    const char *path;
    enum pf_route route;
    const char *allow; /* for PF_ROUTE_WRONG_METHOD */
};

static const struct route_case cases[] = {
    {PF_METHOD_POST, "/primefactor.Factors/PrimeFactors", PF_ROUTE_NDJSON, NULL},
    {PF_METHOD_GET, "/primefactor.Factors/PrimeFactors", PF_ROUTE_WRONG_METHOD, "POST"},
    {PF_METHOD_HEAD, "/primefactor.Factors/PrimeFactors", PF_ROUTE_WRONG_METHOD, "POST"},
    {PF_METHOD_OTHER, "/primefactor.Factors/PrimeFactors", PF_ROUTE_WRONG_METHOD, "POST"},
    {PF_METHOD_GET, "/v1/factors/360", PF_ROUTE_FACTORS, NULL},
    {PF_METHOD_HEAD, "/v1/factors/360", PF_ROUTE_FACTORS, NULL},
    {PF_METHOD_POST, "/v1/factors/360", PF_ROUTE_WRONG_METHOD, "GET, HEAD"},
    {PF_METHOD_OTHER, "/v1/factors/360", PF_ROUTE_WRONG_METHOD, "GET, HEAD"},
    {PF_METHOD_GET, "/healthz", PF_ROUTE_HEALTHZ, NULL},
    {PF_METHOD_HEAD, "/healthz", PF_ROUTE_HEALTHZ, NULL},
    {PF_METHOD_POST, "/healthz", PF_ROUTE_WRONG_METHOD, "GET, HEAD"},
    {PF_METHOD_GET, "/metrics", PF_ROUTE_METRICS, NULL},
    {PF_METHOD_OTHER, "/metrics", PF_ROUTE_WRONG_METHOD, "GET, HEAD"},
    {PF_METHOD_GET, "/openapi.json", PF_ROUTE_OPENAPI, NULL},
    {PF_METHOD_HEAD, "/openapi.json", PF_ROUTE_OPENAPI, NULL},
    {PF_METHOD_POST, "/openapi.json", PF_ROUTE_WRONG_METHOD, "GET, HEAD"},
    {PF_METHOD_GET, "/openapi.json/", PF_ROUTE_FILE, NULL},
    /* Everything else is a static file (or its 404), GET and HEAD only. */
    {PF_METHOD_GET, "/", PF_ROUTE_FILE, NULL},
    {PF_METHOD_HEAD, "/index.html", PF_ROUTE_FILE, NULL},
    {PF_METHOD_POST, "/index.html", PF_ROUTE_WRONG_METHOD, "GET, HEAD"},
    {PF_METHOD_OTHER, "/nope", PF_ROUTE_WRONG_METHOD, "GET, HEAD"},
    {PF_METHOD_GET, "/v1/factors/", PF_ROUTE_FILE, NULL},
    {PF_METHOD_GET, "/v1/factors", PF_ROUTE_FILE, NULL},
    {PF_METHOD_GET, "/healthz/", PF_ROUTE_FILE, NULL},
    {PF_METHOD_POST, "/primefactor.Factors/PrimeFactorsX", PF_ROUTE_WRONG_METHOD, "GET, HEAD"},
};

static void test_routes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct route_case *c = &cases[i];
        struct pf_route_match m = pf_http_route(c->method, c->path, strlen(c->path));
        if (m.route != c->route)
            fail_msg("%d %s: route %d, want %d", c->method, c->path, m.route, c->route);
        if (c->allow)
            assert_string_equal(m.allow, c->allow);
    }
}

static void test_factors_argument_points_into_the_path(void **state)
{
    (void)state;
    static const char path[] = "/v1/factors/360\001x";
    struct pf_route_match m = pf_http_route(PF_METHOD_GET, path, sizeof(path) - 1);
    assert_int_equal(m.route, PF_ROUTE_FACTORS);
    assert_ptr_equal(m.arg, path + 12);
    assert_int_equal(m.arg_len, 5); /* the control character stays: num.c refuses it */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_factors_argument_points_into_the_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
