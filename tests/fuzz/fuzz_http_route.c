/* libFuzzer: any method and path through the HTTP router. The first byte
 * picks the method, the rest is the path. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "http_router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    enum pf_method method = (enum pf_method)(data[0] % 4);
    const char *path = (const char *)data + 1;
    size_t len = size - 1;
    struct pf_route_match m = pf_http_route(method, path, len);
    if (m.route == PF_ROUTE_FACTORS) {
        assert(m.arg > path && m.arg + m.arg_len == path + len);
        assert(memcmp(path, "/v1/factors/", 12) == 0);
    }
    if (m.route == PF_ROUTE_WRONG_METHOD)
        assert(m.allow != NULL);
    return 0;
}
