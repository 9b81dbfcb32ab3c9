/* Montgomery arithmetic modulo an odd 64-bit n, R = 2^64. Internal to core.
 *
 * Every n odd with 1 < n < 2^64 works, including n >= 2^63: the reduction
 * computes hi(t) - hi(m*n) instead of (t + m*n) / R, so nothing overflows.
 * Values in Montgomery form are x*R mod n, kept fully reduced in [0, n). */
#ifndef PF_MONTGOMERY_H
#define PF_MONTGOMERY_H

#include <stdbool.h>
#include <stdint.h>

__extension__ typedef unsigned __int128 pf_u128;

typedef struct pf_mont {
    uint64_t n;    /* the odd modulus */
    uint64_t ninv; /* n^-1 mod 2^64 */
    uint64_t one;  /* R mod n: 1 in Montgomery form */
    uint64_t r2;   /* R^2 mod n: converts into Montgomery form */
} pf_mont;

/* n^-1 mod 2^64 for odd n, by Newton's iteration (each step doubles the bits). */
static inline uint64_t pf_inv64(uint64_t n)
{
    uint64_t x = (3 * n) ^ 2; /* correct to 5 bits */
    x *= 2 - n * x;           /* 10 */
    x *= 2 - n * x;           /* 20 */
    x *= 2 - n * x;           /* 40 */
    x *= 2 - n * x;           /* 80 */
    return x;
}

static inline void pf_mont_init(pf_mont *m, uint64_t n)
{
    m->n = n;
    m->ninv = pf_inv64(n);
    m->one = (0 - n) % n;
    m->r2 = (uint64_t)(((pf_u128)m->one << 64) % n);
}

/* a*b/R mod n, for a, b < n. */
static inline uint64_t pf_mont_mul(const pf_mont *m, uint64_t a, uint64_t b)
{
    pf_u128 t = (pf_u128)a * b;
    uint64_t lo = (uint64_t)t, hi = (uint64_t)(t >> 64);
    uint64_t q = lo * m->ninv;
    uint64_t mh = (uint64_t)(((pf_u128)q * m->n) >> 64);
    uint64_t r = hi - mh;
    return hi < mh ? r + m->n : r;
}

static inline uint64_t pf_mont_sqr(const pf_mont *m, uint64_t a)
{
    return pf_mont_mul(m, a, a);
}

/* a + b mod n, for a, b < n (no overflow even when n >= 2^63). */
static inline uint64_t pf_mont_add(const pf_mont *m, uint64_t a, uint64_t b)
{
    uint64_t s = a + b;
    uint64_t t = s - m->n;
    /* a + b >= n exactly when the sum wrapped or s >= n. */
    return (s < a || s >= m->n) ? t : s;
}

/* a - b mod n, for a, b < n. */
static inline uint64_t pf_mont_sub(const pf_mont *m, uint64_t a, uint64_t b)
{
    uint64_t d = a - b;
    return a < b ? d + m->n : d;
}

/* Lazy variants, for n < 2^62 only: values live in [0, 2n) instead of [0, n).
 * The product needs no final correction: for a, b < 2n, (ab - qn)/R lies in
 * (-n, n), and adding n lands in (0, 2n). That shortens the dependency chain
 * of every multiplication. pf_mont_canon() brings a value back to [0, n). */
static inline uint64_t pf_mont_mul_lazy(const pf_mont *m, uint64_t a, uint64_t b)
{
    pf_u128 t = (pf_u128)a * b;
    uint64_t q = (uint64_t)t * m->ninv;
    uint64_t mh = (uint64_t)(((pf_u128)q * m->n) >> 64);
    return (uint64_t)(t >> 64) - mh + m->n;
}

static inline uint64_t pf_mont_add_lazy(const pf_mont *m, uint64_t a, uint64_t b)
{
    uint64_t s = a + b, n2 = 2 * m->n;
    return s >= n2 ? s - n2 : s;
}

static inline uint64_t pf_mont_sub_lazy(const pf_mont *m, uint64_t a, uint64_t b)
{
    uint64_t d = a - b;
    return a < b ? d + 2 * m->n : d;
}

static inline uint64_t pf_mont_canon(const pf_mont *m, uint64_t x)
{
    return x >= m->n ? x - m->n : x;
}

/* Either arithmetic by a flag: callers keep values in [0, 2n) ("lazy", one
 * correction fewer per operation) when n < 2^62. Always inlined, so that
 * each caller's copy has the flag as a constant and no branch is left. */
#define PF_MONT_ALWAYS_INLINE static inline __attribute__((always_inline))

PF_MONT_ALWAYS_INLINE uint64_t pf_mont_mul_sel(const pf_mont *m, int lazy, uint64_t a, uint64_t b)
{
    return lazy ? pf_mont_mul_lazy(m, a, b) : pf_mont_mul(m, a, b);
}

PF_MONT_ALWAYS_INLINE uint64_t pf_mont_add_sel(const pf_mont *m, int lazy, uint64_t a, uint64_t b)
{
    return lazy ? pf_mont_add_lazy(m, a, b) : pf_mont_add(m, a, b);
}

PF_MONT_ALWAYS_INLINE uint64_t pf_mont_sub_sel(const pf_mont *m, int lazy, uint64_t a, uint64_t b)
{
    return lazy ? pf_mont_sub_lazy(m, a, b) : pf_mont_sub(m, a, b);
}

/* x*R mod n, for any 64-bit x. */
static inline uint64_t pf_mont_to(const pf_mont *m, uint64_t x)
{
    if (x >= m->n)
        x %= m->n;
    return pf_mont_mul(m, x, m->r2);
}

/* x/R mod n: back out of Montgomery form. */
static inline uint64_t pf_mont_from(const pf_mont *m, uint64_t x)
{
    uint64_t q = x * m->ninv;
    uint64_t mh = (uint64_t)(((pf_u128)q * m->n) >> 64);
    return mh == 0 ? 0 : m->n - mh;
}

/* base^e in Montgomery form (base in Montgomery form). */
static inline uint64_t pf_mont_pow(const pf_mont *m, uint64_t base, uint64_t e)
{
    uint64_t r = m->one;
    while (e) {
        if (e & 1)
            r = pf_mont_mul(m, r, base);
        e >>= 1;
        if (e)
            base = pf_mont_sqr(m, base);
    }
    return r;
}

/* gcd(a, b) by Stein's binary algorithm; gcd(0, b) = b. */
static inline uint64_t pf_gcd(uint64_t a, uint64_t b)
{
    if (a == 0)
        return b;
    if (b == 0)
        return a;
    int k = __builtin_ctzll(a | b);
    a >>= __builtin_ctzll(a);
    do {
        b >>= __builtin_ctzll(b);
        if (a > b) {
            uint64_t t = a;
            a = b;
            b = t;
        }
        b -= a;
    } while (b);
    return a << k;
}

#endif
