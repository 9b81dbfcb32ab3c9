/* Pollard-Brent rho in Montgomery arithmetic, with batched gcds. */
#include <stdint.h>

#include "factor_internal.h"
#include "montgomery.h"

/* Differences multiplied together between two gcds. */
#define RHO_BATCH 128

/* One rho walk with f(y) = y^2 + c (Montgomery form, c < n), of about
 * max_iter steps at most. Returns a factor of n, 1 when it found none, or n
 * when the walk closed its cycle mod every factor at once. The walk uses the
 * lazy arithmetic (values in [0, 2n)) when n < 2^62: residues are the same
 * either way, and gcd(v, n) does not care which representative v is. */
static inline __attribute__((always_inline)) uint64_t rho_walk(const pf_mont *mp, int lazy, uint64_t c,
                                                               uint64_t max_iter)
{
    const pf_mont mc = *mp, *m = &mc; /* a local copy stays in registers */
    uint64_t y = pf_mont_add(m, m->one, m->one), x, ys, q = m->one, g = 1;
    uint64_t r = 1, done = 0;

    do {
        x = y;
        for (uint64_t i = 0; i < r; i++)
            y = pf_mont_add_sel(m, lazy, pf_mont_mul_sel(m, lazy, y, y), c);
        uint64_t k = 0;
        do {
            ys = y;
            uint64_t lim = r - k < RHO_BATCH ? r - k : RHO_BATCH;
            for (uint64_t i = 0; i < lim; i++) {
                y = pf_mont_add_sel(m, lazy, pf_mont_mul_sel(m, lazy, y, y), c);
                q = pf_mont_mul_sel(m, lazy, q, pf_mont_sub_sel(m, lazy, x, y));
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
            ys = pf_mont_add_sel(m, lazy, pf_mont_mul_sel(m, lazy, ys, ys), c);
            g = pf_gcd(pf_mont_sub_sel(m, lazy, x, ys), m->n);
        } while (g == 1);
    }
    return g;
}

static uint64_t rho_walk_lazy(const pf_mont *m, uint64_t c, uint64_t max_iter)
{
    return rho_walk(m, 1, c, max_iter);
}

static uint64_t rho_walk_strict(const pf_mont *m, uint64_t c, uint64_t max_iter)
{
    return rho_walk(m, 0, c, max_iter);
}

static uint64_t walk(const pf_mont *m, uint64_t c, uint64_t max_iter)
{
    return m->n < ((uint64_t)1 << 62) ? rho_walk_lazy(m, c, max_iter) : rho_walk_strict(m, c, max_iter);
}

uint64_t pfi_rho(uint64_t n)
{
    pf_mont m;
    pf_mont_init(&m, n);
    for (uint64_t c = 1; c < 64; c++) {
        uint64_t g = walk(&m, pf_mont_to(&m, c), (uint64_t)1 << 26);
        if (g != 1 && g != n)
            return g;
    }
    return n;
}
