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

/* 2P. a24 = (A + 2) / 4 in Montgomery form. 3M + 2S. */
static inline point xdbl(const pf_mont *m, point p, uint64_t a24)
{
    uint64_t s = pf_mont_sqr(m, pf_mont_add(m, p.x, p.z));
    uint64_t d = pf_mont_sqr(m, pf_mont_sub(m, p.x, p.z));
    uint64_t t = pf_mont_sub(m, s, d); /* 4XZ */
    point r;
    r.x = pf_mont_mul(m, s, d);
    r.z = pf_mont_mul(m, t, pf_mont_add(m, d, pf_mont_mul(m, a24, t)));
    return r;
}

/* P + Q given diff = P - Q. 4M + 2S. */
static inline point xadd(const pf_mont *m, point p, point q, point diff)
{
    uint64_t u = pf_mont_mul(m, pf_mont_sub(m, p.x, p.z), pf_mont_add(m, q.x, q.z));
    uint64_t v = pf_mont_mul(m, pf_mont_add(m, p.x, p.z), pf_mont_sub(m, q.x, q.z));
    point r;
    r.x = pf_mont_mul(m, diff.z, pf_mont_sqr(m, pf_mont_add(m, u, v)));
    r.z = pf_mont_mul(m, diff.x, pf_mont_sqr(m, pf_mont_sub(m, u, v)));
    return r;
}

/* P + Q given diff = P - Q with diff.z = 1 (diff_x alone). 3M + 2S. */
static inline point xadd1(const pf_mont *m, point p, point q, uint64_t diff_x)
{
    uint64_t u = pf_mont_mul(m, pf_mont_sub(m, p.x, p.z), pf_mont_add(m, q.x, q.z));
    uint64_t v = pf_mont_mul(m, pf_mont_add(m, p.x, p.z), pf_mont_sub(m, q.x, q.z));
    point r;
    r.x = pf_mont_sqr(m, pf_mont_add(m, u, v));
    r.z = pf_mont_mul(m, diff_x, pf_mont_sqr(m, pf_mont_sub(m, u, v)));
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

/* One curve, Suyama's sigma. Returns a factor of n (1 when none found, or n). */
static uint64_t ecm_curve(const pf_mont *m, uint64_t sigma, const pf_ecm_stage1 *s1, uint32_t b2)
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
    /* One inversion gives both 1/den and 1/v3. */
    uint64_t g;
    uint64_t inv = inverse_mod(pf_mont_from(m, pf_mont_mul(m, den, v3)), m->n, &g);
    if (inv == 0)
        return g; /* a lucky factor, or n for a degenerate sigma */
    inv = pf_mont_to(m, inv);
    uint64_t a24 = pf_mont_mul(m, num, pf_mont_mul(m, inv, v3));
    uint64_t x0 = pf_mont_mul(m, u3, pf_mont_mul(m, inv, den)); /* u^3 / v^3 */

    /* Stage 1: Montgomery ladder over the odd part of the multiplier (its top
     * bit first), then its factor 2^k by doublings. */
    point p = {x0, m->one};
    uint32_t low = 0;
    while (!((s1->words[low / 64] >> (low % 64)) & 1))
        low++;
    point r0 = p, r1 = xdbl(m, p, a24);
    for (int b = (int)s1->bits - 2; b >= (int)low; b--) {
        if ((s1->words[b / 64] >> (b % 64)) & 1) {
            r0 = xadd1(m, r1, r0, x0);
            r1 = xdbl(m, r1, a24);
        } else {
            r1 = xadd1(m, r1, r0, x0);
            r0 = xdbl(m, r0, a24);
        }
    }
    for (uint32_t i = 0; i < low; i++)
        r0 = xdbl(m, r0, a24);
    g = pf_gcd(pf_mont_from(m, r0.z), m->n);
    if (g != 1)
        return g;

    /* Stage 2. Baby steps [j]Q for odd j < D/2 (all of them, to build the chain). */
    point q = r0;
    point q2 = xdbl(m, q, a24);
    point baby[BABY_COUNT];
    uint64_t baby_xz[BABY_COUNT];
    point prev = q, cur = xadd(m, q2, q, q); /* [1]Q, [3]Q */
    size_t bi = 0;
    baby[bi++] = q;
    for (unsigned j = 3; j < ECM_D / 2; j += 2) {
        if (bi < BABY_COUNT && baby_j[bi] == j)
            baby[bi++] = cur;
        point next = xadd(m, cur, q2, prev); /* [j+2]Q */
        prev = cur;
        cur = next;
    }
    for (size_t i = 0; i < BABY_COUNT; i++)
        baby_xz[i] = pf_mont_mul(m, baby[i].x, baby[i].z);

    /* Giant steps [kD]Q from k = B1/D (rounded down), up to B2. */
    point qd = xdbl(m, xadd(m, baby[4], baby[3], xdbl(m, q2, a24)), a24); /* 2 (17 + 13) */
    uint32_t k0 = s1->b1 / ECM_D;
    if (k0 == 0)
        k0 = 1;
    /* [k0 D]Q by a ladder on k0, and [(k0 - 1) D]Q for the chain. */
    point g0 = qd, g1 = xdbl(m, qd, a24);
    int top = 31 - __builtin_clz(k0);
    for (int b = top - 1; b >= 0; b--) {
        if ((k0 >> b) & 1) {
            g0 = xadd(m, g1, g0, qd);
            g1 = xdbl(m, g1, a24);
        } else {
            g1 = xadd(m, g1, g0, qd);
            g0 = xdbl(m, g0, a24);
        }
    }
    /* now g0 = [k0 D]Q, g1 = [(k0 + 1) D]Q */
    uint64_t acc = m->one;
    point gprev = g0, gk = g1;
    /* k0 itself first, then k0+1, ... while kD - D/2 <= B2 */
    uint64_t gxz = pf_mont_mul(m, g0.x, g0.z);
    for (size_t i = 0; i < BABY_COUNT; i++) {
        uint64_t t = pf_mont_mul(m, pf_mont_sub(m, g0.x, baby[i].x), pf_mont_add(m, g0.z, baby[i].z));
        t = pf_mont_add(m, pf_mont_sub(m, t, gxz), baby_xz[i]);
        acc = pf_mont_mul(m, acc, t);
    }
    for (uint32_t k = k0 + 1; k * ECM_D <= b2 + ECM_D / 2; k++) {
        gxz = pf_mont_mul(m, gk.x, gk.z);
        for (size_t i = 0; i < BABY_COUNT; i++) {
            /* X_G Z_j - X_j Z_G = (X_G - X_j)(Z_G + Z_j) - X_G Z_G + X_j Z_j */
            uint64_t t = pf_mont_mul(m, pf_mont_sub(m, gk.x, baby[i].x), pf_mont_add(m, gk.z, baby[i].z));
            t = pf_mont_add(m, pf_mont_sub(m, t, gxz), baby_xz[i]);
            acc = pf_mont_mul(m, acc, t);
        }
        point next = xadd(m, gk, qd, gprev);
        gprev = gk;
        gk = next;
    }
    return pf_gcd(pf_mont_from(m, acc), m->n);
}

uint64_t pfi_ecm(uint64_t n)
{
    pf_mont m;
    pf_mont_init(&m, n);
    int bits = 64 - __builtin_clzll(n);
    /* B1 by the size of n (its smallest factor is at most sqrt(n)). */
    size_t idx;
#ifndef ECM_I1
#define ECM_I1 1
#define ECM_I2 2
#define ECM_I3 3
#define ECM_I4 4
#endif
#ifndef ECM_B2X
#define ECM_B2X 25
#endif
    if (bits <= 44)
        idx = ECM_I1;
    else if (bits <= 52)
        idx = ECM_I2;
    else if (bits <= 58)
        idx = ECM_I3;
    else
        idx = ECM_I4;
    const pf_ecm_stage1 *s1 = &pf_ecm_stage1_table[idx];
    uint32_t b2 = ECM_B2X * s1->b1;
    for (uint64_t sigma = 6; sigma < 6 + 300; sigma++) {
        uint64_t g = ecm_curve(&m, sigma, s1, b2);
        if (g != 1 && g != n)
            return g;
    }
    return n;
}
