/* Micro-ECM: Lenstra's elliptic-curve method for 64-bit n, in Montgomery arithmetic.
 *
 * Curves are Montgomery curves B y^2 = x^3 + A x^2 + x in Suyama's
 * parametrization (group order divisible by 12), used x-only in projective
 * (X : Z) coordinates. Stage 1 multiplies the start point by every prime power
 * up to B1 with a Montgomery ladder; stage 2 looks for one more prime q in
 * (B1, B2] with baby steps j (coprime to D = 60) and giant steps k*D, q = kD +- j. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecm_table.h"
#include "factor_internal.h"
#include "montgomery.h"

typedef struct point {
    uint64_t x, z;
} point;

/* The curve arithmetic's modulus. With lazy set (n < 2^62) values are kept in
 * [0, 2n) (see pf_mont_mul_lazy). lazy is a constant wherever the curve code
 * is inlined, so each variant compiles to straight code. */
typedef struct emod {
    pf_mont mont;
    int lazy;
} emod;

#define E_OP(name, args, lazy_call, strict_call)                                                  \
    static inline __attribute__((always_inline)) uint64_t name args                              \
    {                                                                                             \
        return m->lazy ? lazy_call : strict_call;                                                 \
    }
E_OP(e_mul, (const emod *m, uint64_t a, uint64_t b), pf_mont_mul_lazy(&m->mont, a, b),
     pf_mont_mul(&m->mont, a, b))
E_OP(e_sqr, (const emod *m, uint64_t a), pf_mont_mul_lazy(&m->mont, a, a), pf_mont_mul(&m->mont, a, a))
E_OP(e_add, (const emod *m, uint64_t a, uint64_t b), pf_mont_add_lazy(&m->mont, a, b),
     pf_mont_add(&m->mont, a, b))
E_OP(e_sub, (const emod *m, uint64_t a, uint64_t b), pf_mont_sub_lazy(&m->mont, a, b),
     pf_mont_sub(&m->mont, a, b))

/* 2P. a24 = (A + 2) / 4 in Montgomery form. 3M + 2S. */
static inline __attribute__((always_inline)) point xdbl(const emod *m, point p, uint64_t a24)
{
    uint64_t s = e_sqr(m, e_add(m, p.x, p.z));
    uint64_t d = e_sqr(m, e_sub(m, p.x, p.z));
    uint64_t t = e_sub(m, s, d); /* 4XZ */
    point r;
    r.x = e_mul(m, s, d);
    r.z = e_mul(m, t, e_add(m, d, e_mul(m, a24, t)));
    return r;
}

/* P + Q given diff = P - Q. 4M + 2S. */
static inline __attribute__((always_inline)) point xadd(const emod *m, point p, point q, point diff)
{
    uint64_t u = e_mul(m, e_sub(m, p.x, p.z), e_add(m, q.x, q.z));
    uint64_t v = e_mul(m, e_add(m, p.x, p.z), e_sub(m, q.x, q.z));
    point r;
    r.x = e_mul(m, diff.z, e_sqr(m, e_add(m, u, v)));
    r.z = e_mul(m, diff.x, e_sqr(m, e_sub(m, u, v)));
    return r;
}

/* P + Q given diff = P - Q with diff.z = 1 (diff_x alone). 3M + 2S. */
static inline __attribute__((always_inline)) point xadd1(const emod *m, point p, point q, uint64_t diff_x)
{
    uint64_t u = e_mul(m, e_sub(m, p.x, p.z), e_add(m, q.x, q.z));
    uint64_t v = e_mul(m, e_add(m, p.x, p.z), e_sub(m, q.x, q.z));
    point r;
    r.x = e_sqr(m, e_add(m, u, v));
    r.z = e_mul(m, diff_x, e_sqr(m, e_sub(m, u, v)));
    return r;
}

/* a^-1 mod n for plain (not Montgomery) a, or 0 when gcd(a, n) != 1; *g gets the gcd. */
static uint64_t inverse_mod(uint64_t a, uint64_t n, uint64_t *g)
{
    /* Extended Euclid on (n, a); the coefficients of a stay below n in magnitude. */
    __extension__ typedef __int128 s128;
    uint64_t r0 = n, r1 = a;
    s128 t0 = 0, t1 = 1;
    while (r1 != 0) {
        uint64_t q = r0 / r1;
        uint64_t r2 = r0 - q * r1;
        s128 t2 = t0 - (s128)q * t1;
        r0 = r1;
        r1 = r2;
        t0 = t1;
        t1 = t2;
    }
    *g = r0;
    if (r0 != 1)
        return 0;
    if (t0 < 0)
        t0 += n;
    return (uint64_t)t0;
}

/* Baby steps: j in [1, D/2) coprime to D = 60. */
#define ECM_D 60
static const uint8_t baby_j[] = {1, 7, 11, 13, 17, 19, 23, 29};
#define BABY_COUNT (sizeof baby_j / sizeof baby_j[0])

/* Curves run ECM_LANES at a time in lock step, so that independent
 * multiplications can overlap. Measured: 2 lanes as fast as 1 on 62-bit
 * semiprimes and slightly faster on uniform numbers, 4 lanes slower (more
 * wasted curves). */
#define ECM_LANES 2
#define LANES_LOOP _Pragma("GCC unroll 4") for (int l = 0; l < ECM_LANES; l++)

/* Sets up the curve of Suyama's sigma: *x0 (normalized start point, Z = 1) and
 * *a24. Returns 1, or the gcd when an inversion failed (a factor, or n). */
static uint64_t suyama(const pf_mont *m, uint64_t sigma, uint64_t *x0, uint64_t *a24)
{
    /* u = sigma^2 - 5, v = 4 sigma; start point (u^3 : v^3);
     * a24 = (v - u)^3 (3u + v) / (16 u^3 v). */
    uint64_t sg = pf_mont_to(m, sigma);
    uint64_t five = pf_mont_to(m, 5);
    uint64_t u = pf_mont_sub(m, pf_mont_sqr(m, sg), five);
    uint64_t v = pf_mont_add(m, sg, sg);
    v = pf_mont_add(m, v, v);
    uint64_t u3 = pf_mont_mul(m, pf_mont_sqr(m, u), u);
    uint64_t v3 = pf_mont_mul(m, pf_mont_sqr(m, v), v);
    uint64_t vmu = pf_mont_sub(m, v, u);
    uint64_t num = pf_mont_mul(m, pf_mont_mul(m, pf_mont_sqr(m, vmu), vmu),
                               pf_mont_add(m, pf_mont_add(m, pf_mont_add(m, u, u), u), v));
    uint64_t den = pf_mont_mul(m, u3, v); /* times 16 below */
    for (int i = 0; i < 4; i++)
        den = pf_mont_add(m, den, den);
    /* One inversion gives both 1/den and 1/v^3. */
    uint64_t g;
    uint64_t inv = inverse_mod(pf_mont_from(m, pf_mont_mul(m, den, v3)), m->n, &g);
    if (inv == 0)
        return g;
    inv = pf_mont_to(m, inv);
    *a24 = pf_mont_mul(m, num, pf_mont_mul(m, inv, v3));
    *x0 = pf_mont_mul(m, u3, pf_mont_mul(m, inv, den));
    return 1;
}

/* ECM_LANES curves, sigma0 and the next ones. Returns a factor of n (1 when
 * none was found, or n). */
static inline __attribute__((always_inline)) uint64_t
ecm_curves(const pf_mont *mp, int lazy, uint64_t sigma0, const pf_ecm_stage1 *s1, uint32_t b2)
{
    /* A local copy: stores to the points cannot alias it, so n and n^-1 stay in registers. */
    const emod mc = {*mp, lazy}, *m = &mc;
    uint64_t x0[ECM_LANES], a24[ECM_LANES];
    for (int l = 0; l < ECM_LANES; l++) {
        uint64_t g = suyama(&m->mont, sigma0 + (uint64_t)l, &x0[l], &a24[l]);
        if (g != 1)
            return g;
    }

    /* Stage 1: Montgomery ladder over the odd part of the multiplier (its top
     * bit first), then its factor 2^k by doublings. */
    point r0[ECM_LANES], r1[ECM_LANES];
    uint32_t low = 0;
    while (!((s1->words[low / 64] >> (low % 64)) & 1))
        low++;
    LANES_LOOP {
        r0[l] = (point){x0[l], m->mont.one};
        r1[l] = xdbl(m, r0[l], a24[l]);
    }
    for (int b = (int)s1->bits - 2; b >= (int)low; b--) {
        if ((s1->words[b / 64] >> (b % 64)) & 1) {
            LANES_LOOP {
                r0[l] = xadd1(m, r1[l], r0[l], x0[l]);
                r1[l] = xdbl(m, r1[l], a24[l]);
            }
        } else {
            LANES_LOOP {
                r1[l] = xadd1(m, r1[l], r0[l], x0[l]);
                r0[l] = xdbl(m, r0[l], a24[l]);
            }
        }
    }
    for (uint32_t i = 0; i < low; i++)
        LANES_LOOP r0[l] = xdbl(m, r0[l], a24[l]);
    uint64_t acc[ECM_LANES];
    uint64_t prod = m->mont.one;
    for (int l = 0; l < ECM_LANES; l++)
        prod = e_mul(m, prod, r0[l].z);
    uint64_t g = pf_gcd(prod, m->mont.n);
    if (g != 1) {
        /* Some lane found a factor; n when all did: take the lanes one by one. */
        for (int l = 0; l < ECM_LANES && g == m->mont.n; l++)
            g = pf_gcd(r0[l].z, m->mont.n);
        return g;
    }

    /* Stage 2. Baby steps [j]Q for odd j < D/2 (all of them, to build the chain). */
    point baby[BABY_COUNT][ECM_LANES];
    uint64_t baby_xz[BABY_COUNT][ECM_LANES];
    point q2[ECM_LANES], prev[ECM_LANES], cur[ECM_LANES];
    LANES_LOOP {
        q2[l] = xdbl(m, r0[l], a24[l]);
        prev[l] = r0[l];
        cur[l] = xadd(m, q2[l], r0[l], r0[l]); /* [3]Q */
        baby[0][l] = r0[l];
    }
    size_t bi = 1;
    for (unsigned j = 3; j < ECM_D / 2; j += 2) {
        if (bi < BABY_COUNT && baby_j[bi] == j) {
            LANES_LOOP baby[bi][l] = cur[l];
            bi++;
        }
        LANES_LOOP {
            point next = xadd(m, cur[l], q2[l], prev[l]); /* [j+2]Q */
            prev[l] = cur[l];
            cur[l] = next;
        }
    }
    for (size_t i = 0; i < BABY_COUNT; i++)
        LANES_LOOP baby_xz[i][l] = e_mul(m, baby[i][l].x, baby[i][l].z);

    /* Giant steps [kD]Q for k = B1/D ... while kD - D/2 <= B2. */
    point qd[ECM_LANES], g0[ECM_LANES], g1[ECM_LANES];
    LANES_LOOP {
        /* [60]Q = 2 ([17]Q + [13]Q), difference [4]Q */
        qd[l] = xdbl(m, xadd(m, baby[4][l], baby[3][l], xdbl(m, q2[l], a24[l])), a24[l]);
        g0[l] = qd[l];
        g1[l] = xdbl(m, qd[l], a24[l]);
    }
    uint32_t k0 = s1->b1 / ECM_D;
    if (k0 == 0)
        k0 = 1;
    for (int b = 30 - __builtin_clz(k0); b >= 0; b--) {
        if ((k0 >> b) & 1) {
            LANES_LOOP {
                g0[l] = xadd(m, g1[l], g0[l], qd[l]);
                g1[l] = xdbl(m, g1[l], a24[l]);
            }
        } else {
            LANES_LOOP {
                g1[l] = xadd(m, g1[l], g0[l], qd[l]);
                g0[l] = xdbl(m, g0[l], a24[l]);
            }
        }
    }
    /* g0 = [k0 D]Q, g1 = [(k0 + 1) D]Q */
    LANES_LOOP acc[l] = m->mont.one;
    for (uint32_t k = k0;; k++) {
        uint64_t gxz[ECM_LANES];
        LANES_LOOP gxz[l] = e_mul(m, g0[l].x, g0[l].z);
        /* only the pairs where k D - j or k D + j is prime */
        unsigned mask = k < PF_ECM_PAIRS_K ? pf_ecm_pairs[k] : 0xffu;
        while (mask) {
            int i = __builtin_ctz(mask);
            mask &= mask - 1;
            LANES_LOOP {
                /* X_G Z_j - X_j Z_G = (X_G - X_j)(Z_G + Z_j) - X_G Z_G + X_j Z_j */
                uint64_t t = e_mul(m, e_sub(m, g0[l].x, baby[i][l].x), e_add(m, g0[l].z, baby[i][l].z));
                t = e_add(m, e_sub(m, t, gxz[l]), baby_xz[i][l]);
                acc[l] = e_mul(m, acc[l], t);
            }
        }
        if ((k + 1) * ECM_D > b2 + ECM_D / 2)
            break;
        LANES_LOOP {
            point next = xadd(m, g1[l], qd[l], g0[l]);
            g0[l] = g1[l];
            g1[l] = next;
        }
    }
    prod = m->mont.one;
    for (int l = 0; l < ECM_LANES; l++)
        prod = e_mul(m, prod, acc[l]);
    g = pf_gcd(prod, m->mont.n);
    for (int l = 0; l < ECM_LANES && g == m->mont.n; l++)
        g = pf_gcd(acc[l], m->mont.n);
    return g;
}

/* The two compiled variants of the curve code. */
static uint64_t ecm_curves_lazy(const pf_mont *m, uint64_t sigma0, const pf_ecm_stage1 *s1, uint32_t b2)
{
    return ecm_curves(m, 1, sigma0, s1, b2);
}

static uint64_t ecm_curves_strict(const pf_mont *m, uint64_t sigma0, const pf_ecm_stage1 *s1, uint32_t b2)
{
    return ecm_curves(m, 0, sigma0, s1, b2);
}

/* B2 = ECM_B2_RATIO * B1. Stage 2 costs about 2 multiplications per prime
 * pair, stage 1 about 10 per bit of the multiplier: 25 measured best here. */
#define ECM_B2_RATIO 25

uint64_t pfi_ecm(uint64_t n)
{
    pf_mont m;
    pf_mont_init(&m, n);
    int bits = 64 - __builtin_clzll(n);
    int lazy = n < ((uint64_t)1 << 62);
    /* The smallest factor may be anything up to sqrt(n). Each round of
     * ECM_LANES curves takes the next B1 of pf_ecm_stage1_table (27, 47, 70, 85,
     * 125, 165, ...): the first rounds find small factors cheaply. B1 stops
     * growing at a cap set by the size of n. Numbers of 60 bits or more are
     * most often the product of two large primes (the semiprimes a user sends),
     * so they start at B1 = 85. All measured on uniform numbers and on 62-bit
     * semiprimes. */
    int cap = bits <= 44 ? 2 : bits <= 52 ? 3 : bits <= 58 ? 4 : 5;
    int idx = bits >= 60 ? 3 : 0;
    for (uint64_t sigma = 6; sigma < 6 + 400; sigma += ECM_LANES, idx++) {
        const pf_ecm_stage1 *s1 = &pf_ecm_stage1_table[idx < cap ? idx : cap];
        uint32_t b2 = ECM_B2_RATIO * s1->b1;
        uint64_t g = lazy ? ecm_curves_lazy(&m, sigma, s1, b2) : ecm_curves_strict(&m, sigma, s1, b2);
        if (g != 1 && g != n)
            return g;
    }
    return n;
}
