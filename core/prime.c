/* Deterministic Miller-Rabin primality test for every 64-bit n. */
#include <stdbool.h>
#include <stdint.h>

#include "factor.h"
#include "factor_internal.h"
#include "montgomery.h"

/* The exponentiations below use the lazy arithmetic (pf_mont_*_sel) when
 * n < 2^62. Values are made canonical before they are compared. */

/* 2^d in Montgomery form by squarings and doublings (a doubling is an addition). */
static inline __attribute__((always_inline)) uint64_t pow2(const pf_mont *mp, int lazy, uint64_t d)
{
    const pf_mont mc = *mp, *m = &mc;
    int top = 63 - __builtin_clzll(d);
    uint64_t x = pf_mont_add(m, m->one, m->one); /* 2 */
    for (int b = top - 1; b >= 0; b--) {
        x = pf_mont_mul_sel(m, lazy, x, x);
        if ((d >> b) & 1)
            x = pf_mont_add_sel(m, lazy, x, x);
    }
    return lazy ? pf_mont_canon(m, x) : x;
}

static uint64_t pow2_lazy(const pf_mont *m, uint64_t d)
{
    return pow2(m, 1, d);
}

static uint64_t pow2_strict(const pf_mont *m, uint64_t d)
{
    return pow2(m, 0, d);
}

/* The strong probable-prime test to base 2. */
static bool sprp2(const pf_mont *m, uint64_t d, int s)
{
    uint64_t minus_one = m->n - m->one;
    uint64_t x = m->n < ((uint64_t)1 << 62) ? pow2_lazy(m, d) : pow2_strict(m, d);
    if (x == m->one || x == minus_one)
        return true;
    while (--s > 0) {
        x = pf_mont_sqr(m, x);
        if (x == minus_one)
            return true;
        if (x == m->one)
            return false;
    }
    return false;
}

/* Strong probable-prime tests to K bases at once (a[] in Montgomery form): the
 * K exponentiations are interleaved so that their multiplications overlap. */
#define SPRP_MAX 6
static inline __attribute__((always_inline)) bool sprp_multi(const pf_mont *mp, int lazy,
                                                             const uint64_t *a, int k, uint64_t d,
                                                             int s)
{
    const pf_mont mc = *mp, *m = &mc; /* a local copy stays in registers */
    uint64_t minus_one = m->n - m->one;
    uint64_t x[SPRP_MAX], base[SPRP_MAX];
    for (int i = 0; i < k; i++) {
        base[i] = a[i];
        x[i] = base[i];
    }
    /* k is a constant where this is inlined: the lane loops unroll fully. */
    for (int b = 62 - __builtin_clzll(d); b >= 0; b--) {
        _Pragma("GCC unroll 6") for (int i = 0; i < k; i++)
            x[i] = pf_mont_mul_sel(m, lazy, x[i], x[i]);
        if ((d >> b) & 1) {
            _Pragma("GCC unroll 6") for (int i = 0; i < k; i++)
                x[i] = pf_mont_mul_sel(m, lazy, x[i], base[i]);
        }
    }
    for (int i = 0; i < k; i++) {
        uint64_t y = lazy ? pf_mont_canon(m, x[i]) : x[i];
        if (y == m->one || y == minus_one || y == 0)
            continue; /* y == 0: the base was a multiple of n, which says nothing */
        int r;
        for (r = 1; r < s; r++) {
            y = pf_mont_sqr(m, y);
            if (y == minus_one)
                break;
            if (y == m->one)
                return false;
        }
        if (r == s)
            return false;
    }
    return true;
}

/* Base sets with no strong pseudoprime below the bound: {2, 7, 61} below
 * 4,759,123,141 (Jaeschke), and Jim Sinclair's seven bases for every n < 2^64. */
static const uint64_t bases32[] = {7, 61};
static const uint64_t bases64[] = {325, 9375, 28178, 450775, 9780504, 1795265022};

bool pfi_is_prime_odd(uint64_t n)
{
    pf_mont m;
    pf_mont_init(&m, n);
    uint64_t d = n - 1;
    int s = __builtin_ctzll(d);
    d >>= s;

    /* Base 2 first and alone: it rejects nearly every composite. */
    if (!sprp2(&m, d, s))
        return false;
    uint64_t a[SPRP_MAX];
    if (n < 4759123141u) {
        for (int i = 0; i < 2; i++)
            a[i] = pf_mont_to(&m, bases32[i]);
        return sprp_multi(&m, 1, a, 2, d, s);
    }
    for (int i = 0; i < 6; i++)
        a[i] = pf_mont_to(&m, bases64[i]); /* 0 when n divides the base */
    if (n < ((uint64_t)1 << 62))
        return sprp_multi(&m, 1, a, 6, d, s);
    return sprp_multi(&m, 0, a, 6, d, s);
}

bool pf_is_prime(uint64_t n)
{
    static const uint8_t small[] = {2, 3, 5, 7};
    if (n < 2)
        return false;
    for (size_t i = 0; i < sizeof small; i++) {
        if (n == small[i])
            return true;
        if (n % small[i] == 0)
            return false;
    }
    if (n < 121)
        return true;
    return pfi_is_prime_odd(n);
}
