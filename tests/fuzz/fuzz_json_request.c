/* libFuzzer: any bytes as a WebSocket frame or NDJSON line. The decoder must
 * never crash, and every request it yields must come out as answers that
 * encode to bounded, valid-looking JSON. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "json_codec.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pf_request req;
    pf_json_decode_request((const char *)data, size, &req);
    assert(req.err <= 0);
    assert(req.err == 0 || req.num == 0);
    (void)pf_json_is_end((const char *)data, size);

    pf_stream *s;
    if (pf_stream_new(1, NULL, NULL, NULL, &s) < 0)
        return 0;
    assert(pf_stream_push(s, &req) == PF_OK);
    pf_response r;
    size_t answers = 0;
    do {
        assert(pf_stream_pop(s, &r) == PF_OK);
        char buf[PF_JSON_RESPONSE_MAX];
        size_t n = pf_json_encode_response(&r, buf);
        assert(n >= 2 && n < PF_JSON_RESPONSE_MAX && buf[0] == '{' && buf[n - 1] == '}');
        assert(++answers <= 64);
    } while (!r.last);
    assert(pf_stream_pop(s, &r) == PF_EAGAIN);
    pf_stream_free(s);
    return 0;
}
