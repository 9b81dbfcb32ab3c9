/* libFuzzer: any bytes as a gRPC request message. Decoding either fails
 * cleanly (the stream then ends INVALID_ARGUMENT) or yields a request. */
#include <assert.h>
#include <stdint.h>

#include "pb_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pf_request req = { .num = 12345, .err = 99 };
    int rc = pf_pb_decode_request_bytes(data, size, &req);
    if (rc == PF_OK)
        assert(req.err == PF_OK);
    else
        assert(rc == PF_ESYNTAX && req.num == 12345 && req.err == 99); /* untouched */
    return 0;
}
