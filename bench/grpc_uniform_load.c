/* grpc_uniform_load: grpc_load (same options, output and checks) sending
 * numbers uniform in [2, 2^40] instead of X, X+1, ...: number X+i of a stream
 * is u40_at(X+i) (uniform40.h). Swapped in as grpc_semiprime_load.c does. */
#include <stdint.h>

#include "answer_check.h"
#include "pb_codec.h"
#include "primefactor.pb-c.h"
#include "uniform40.h"

static const ProtobufCMessage *u40_swap(const ProtobufCMessage *m)
{
    Primefactor__Request *r = (Primefactor__Request *)(uintptr_t)m;
    r->num = u40_at((long)r->num);
    return m;
}

#define pf_pb_pack(m) pf_pb_pack(u40_swap(m))
#define pf_answer_fits(p, expected, ...) pf_answer_fits(p, u40_at(expected), __VA_ARGS__)
#include "grpc_load.c"
