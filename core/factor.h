/* Prime factorization of 64-bit integers: no allocation, no I/O, thread-safe. */
#ifndef PF_FACTOR_H
#define PF_FACTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A 64-bit number has at most 64 prime factors counted with multiplicity (2^63·2). */
#define PF_FACTORS_MAX 64

/* Writes the prime factors of n to factors[] in non-decreasing order, with
 * multiplicity, and returns how many there are. 0 and 1 have none (returns 0). */
size_t pf_factor(uint64_t n, uint64_t factors[PF_FACTORS_MAX]);

/* True when factoring n needs no more than trial division and one
 * primality test (its cofactor after the primes below 512 is 1 or prime),
 * which takes about as long as this test: at most a few microseconds. */
bool pf_factor_is_quick(uint64_t n);

/* Deterministic primality test for every 64-bit n. */
bool pf_is_prime(uint64_t n);

#endif
