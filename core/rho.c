/* Pollard-Brent rho in Montgomery arithmetic, with batched gcds. */
#include <stdint.h>

#include "factor_internal.h"
#include "montgomery.h"

/* Differences multiplied together between two gcds. */
#define RHO_BATCH 128

/* One rho walk with f(x) = x^2 + c (Montgomery form). Returns a factor of n,
 * possibly n itself when the walk closed its cycle mod every factor at once. */
static uint64_t rho_walk(const pf_mont *m, uint64_t c, uint64_t max_iter)
{
    uint64_t y = m->one + m->one, x, ys, q = m->one, g = 1;
    if (y >= m->n)
        y -= m->n;
    uint64_t r = 1, done = 0;

    do {
        x = y;
        for (uint64_t i = 0; i < r; i++)
            y = pf_mont_add(m, pf_mont_sqr(m, y), c);
        uint64_t k = 0;
        do {
            ys = y;
            uint64_t lim = r - k < RHO_BATCH ? r - k : RHO_BATCH;
            for (uint64_t i = 0; i < lim; i++) {
                y = pf_mont_add(m, pf_mont_sqr(m, y), c);
                q = pf_mont_mul(m, q, pf_mont_sub(m, x, y));
            }
            g = pf_gcd(q, m->n);
            k += lim;
        } while (k < r && g == 1);
        done += 2 * r;
        r <<= 1;
    } while (g == 1 && done < max_iter);

    if (g == m->n) {
        /* The batch overshot: redo it one difference at a time. */
        do {
            ys = pf_mont_add(m, pf_mont_sqr(m, ys), c);
            g = pf_gcd(pf_mont_sub(m, x, ys), m->n);
        } while (g == 1);
    }
    return g;
}

uint64_t pfi_rho_brief(uint64_t n, uint64_t max_iter)
{
    pf_mont m;
    pf_mont_init(&m, n);
    return rho_walk(&m, m.one, max_iter);
}

uint64_t pfi_rho(uint64_t n)
{
    pf_mont m;
    pf_mont_init(&m, n);
    for (uint64_t c = 1; c < 64; c++) {
        uint64_t g = rho_walk(&m, pf_mont_to(&m, c), (uint64_t)1 << 26);
        if (g != 1 && g != n)
            return g;
    }
    return n;
}
