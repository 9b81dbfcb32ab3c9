/* Internal interfaces between the core's factoring files. Not for front ends. */
#ifndef PF_FACTOR_INTERNAL_H
#define PF_FACTOR_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "montgomery.h"

/* Deterministic primality for odd n > 1 with no prime factor below 11
 * (trial division already done): strong probable-prime tests in Montgomery form. */
bool pfi_is_prime_odd(uint64_t n);

/* A factor d, 1 < d < n, of an odd composite n, by Pollard-Brent rho.
 * Returns n only if every attempt failed (not seen in practice). */
uint64_t pfi_rho(uint64_t n);

/* A factor d, 1 < d < n, of an odd composite n, by micro-ECM.
 * Returns n when its curves all failed (then use pfi_rho). */
uint64_t pfi_ecm(uint64_t n);

#endif
