/* libFuzzer: the HTTP/2 guard of the gRPC port fed hostile bytes from both
 * sides, in pieces of any size. Each piece is one control byte (bit 7: from
 * grpc rather than from the client; bits 0-6: its length) and its bytes.
 * The client's stream starts with the HTTP/2 preface, so that the fuzzer
 * reaches the frame parser at once. The guard must never write past the
 * room it is given, never consume more than it was fed, and once failed
 * stay failed. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h2_guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void feed(pf_h2_guard *g, bool from_server, const uint8_t *in, size_t n, int64_t now)
{
    /* Little room on purpose: held injections and short feeds get exercised. */
    uint8_t buf[256 + PF_H2_GUARD_SLACK];
    struct pf_h2_out out = { buf, 0, n + PF_H2_GUARD_SLACK + (n % 37) };
    size_t used = from_server ? pf_h2_guard_from_server(g, in, n, &out)
                              : pf_h2_guard_from_client(g, now, in, n, &out);
    assert(used <= n);
    assert(out.len <= out.cap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pf_h2_limits lim;
    pf_h2_limits_default(&lim, 1024, 4);
    lim.max_header_block = 512; /* small limits, so that the fuzzer reaches them */
    lim.reset_burst = lim.control_burst = lim.window_burst = lim.max_unanswered = 8;
    pf_h2_guard *g = pf_h2_guard_new(&lim);
    if (!g)
        return 0;
    feed(g, false, (const uint8_t *)PF_H2_PREFACE, PF_H2_PREFACE_LEN, 0);
    int64_t now = 0;
    size_t i = 0;
    while (i < size) {
        bool from_server = data[i] & 0x80;
        size_t n = data[i] & 0x7f;
        i++;
        if (n > size - i)
            n = size - i;
        bool failed = pf_h2_guard_failed(g);
        feed(g, from_server, data + i, n, now += 7);
        assert(!failed || pf_h2_guard_failed(g));
        i += n;
    }
    pf_h2_guard_free(g);
    return 0;
}
