/* grpc_semiprime_load: grpc_load (same options, output and checks) sending
 * balanced 62-bit semiprimes instead of X, X+1, ...: number X+i of a stream is
 * entry i of a table of p*q, p and q primes in [2^30.5, 2^31) from a fixed
 * seed, so that bench/fairness.py's heavy gRPC load costs pfgate factoring
 * time and the client little CPU (Python's grpc client cannot keep pfgate busy).
 * The swap is made where grpc_load packs a request and checks an answer, by
 * macros over pf_pb_pack and pf_answer_fits, so grpc_load.c stays as it is. */
#include <stdint.h>

#include "answer_check.h"
#include "pb_codec.h"
#include "primefactor.pb-c.h"
#include "semiprimes.h"

static const ProtobufCMessage *sp_swap(const ProtobufCMessage *m)
{
    Primefactor__Request *r = (Primefactor__Request *)(uintptr_t)m;
    r->num = sp_at((long)r->num);
    return m;
}

#define pf_pb_pack(m) pf_pb_pack(sp_swap(m))
#define pf_answer_fits(p, expected, ...) pf_answer_fits(p, sp_at(expected), __VA_ARGS__)
#include "grpc_load.c"
