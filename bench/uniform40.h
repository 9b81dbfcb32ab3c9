/* The numbers of the uniform load clients (grpc_uniform_load.c,
 * ws_uniform_load.c): u40_at(i) is uniform in [2, 2^40], a hash of i, so that
 * a load of small numbers is the same on every run and costs the client
 * nothing to make (issue 14: "small-number throughput, uniform in [2, 2^40]"). */
#ifndef PF_UNIFORM40_H
#define PF_UNIFORM40_H

#include <stdint.h>

static inline int64_t u40_at(long i)
{
    uint64_t z = (uint64_t)i * 0x9e3779b97f4a7c15u + 0x9e3779b97f4a7c15u; /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return (int64_t)(2 + z % ((UINT64_C(1) << 40) - 1));
}

#endif
