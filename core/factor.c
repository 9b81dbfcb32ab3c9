/* pf_factor(): trial division by the primes below 512, then on what is left:
 * Miller-Rabin (prime.c), a square test, micro-ECM (ecm.c) for composites of
 * 40 bits and more, Pollard-Brent rho (rho.c) below that and as a fallback. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "factor.h"
#include "factor_internal.h"
#include "primes_table.h"

/* Trial division uses the odd primes below TRIAL_LIMIT; a cofactor below
 * TRIAL_LIMIT^2 left by it is prime. */
#define TRIAL_COUNT 96 /* odd primes below 512 */
#define TRIAL_LIMIT 512u

/* Composites from ECM_MIN up go to micro-ECM, smaller ones to rho. */
#define ECM_MIN ((uint64_t)1 << 40)

_Static_assert(TRIAL_COUNT <= PF_ODD_PRIMES_COUNT, "prime table too short");

/* floor(sqrt(n)) by Newton's iteration from above. */
static uint64_t isqrt64(uint64_t n)
{
    if (n < 2)
        return n;
    int bits = 64 - __builtin_clzll(n);
    uint64_t x = (uint64_t)1 << ((bits + 1) / 2); /* x >= sqrt(n) */
    for (;;) {
        uint64_t y = (x + n / x) / 2;
        if (y >= x)
            return x;
        x = y;
    }
}

static void sort_tail(uint64_t *f, size_t from, size_t to)
{
    for (size_t i = from + 1; i < to; i++) {
        uint64_t v = f[i];
        size_t j = i;
        while (j > from && f[j - 1] > v) {
            f[j] = f[j - 1];
            j--;
        }
        f[j] = v;
    }
}

/* Factors an odd n > 1 with no prime factor below TRIAL_LIMIT, appending to f. */
static size_t factor_large(uint64_t n, uint64_t *f, size_t count)
{
    /* A composite splits into two parts, so at most 64 are ever pending. */
    uint64_t todo[PF_FACTORS_MAX];
    size_t top = 0;
    todo[top++] = n;
    while (top > 0) {
        uint64_t x = todo[--top];
        if (x < (uint64_t)TRIAL_LIMIT * TRIAL_LIMIT || pfi_is_prime_odd(x)) {
            f[count++] = x;
            continue;
        }
        uint64_t s = isqrt64(x);
        uint64_t d;
        if (s * s == x)
            d = s;
        else if (x < ECM_MIN)
            d = pfi_rho(x);
        else
            d = pfi_ecm(x);
        if (d == x)
            d = pfi_rho(x);
        if (d == x || d == 1) {
            /* Not reached: rho with 63 polynomials has never failed to split a
             * composite. Were it to, x would be listed unsplit. */
            f[count++] = x;
            continue;
        }
        todo[top++] = d;
        todo[top++] = x / d;
    }
    return count;
}

/* Divides out 2 and the odd primes below TRIAL_LIMIT, appending them to
 * factors; returns the cofactor, 1, prime, or odd with no factor below
 * TRIAL_LIMIT. n >= 2. */
static uint64_t trial_divide(uint64_t n, uint64_t *factors, size_t *count)
{
    int twos = __builtin_ctzll(n);
    n >>= twos;
    for (int i = 0; i < twos; i++)
        factors[(*count)++] = 2;

    for (size_t i = 0; i < TRIAL_COUNT && n > 1; i++) {
        uint64_t p = pf_odd_prime_values[i];
        if (p * p > n) {
            factors[(*count)++] = n;
            return 1;
        }
        const pf_divisor *d = &pf_odd_primes[i];
        while (n * d->inv <= d->lim) {
            n *= d->inv; /* exact division */
            factors[(*count)++] = p;
        }
    }
    return n;
}

size_t pf_factor(uint64_t n, uint64_t factors[PF_FACTORS_MAX])
{
    size_t count = 0;
    if (n < 2)
        return 0;
    n = trial_divide(n, factors, &count);
    if (n == 1)
        return count;

    size_t start = count;
    count = factor_large(n, factors, count);
    sort_tail(factors, start, count);
    return count;
}

bool pf_factor_is_quick(uint64_t n)
{
    uint64_t factors[PF_FACTORS_MAX];
    size_t count = 0;
    if (n < 2)
        return true;
    n = trial_divide(n, factors, &count);
    return n < (uint64_t)TRIAL_LIMIT * TRIAL_LIMIT || pfi_is_prime_odd(n);
}
