/* The balanced 62-bit semiprimes of the semiprime load clients
 * (grpc_semiprime_load.c, ws_semiprime_load.c): sp_at(i) is entry i (mod
 * 4096) of a table of p*q, p and q primes in [2^30.5, 2^31) from a fixed seed,
 * so that a load costs pfgate factoring time and the client little CPU. */
#ifndef PF_SEMIPRIMES_H
#define PF_SEMIPRIMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

__extension__ typedef unsigned __int128 sp_u128;

static uint64_t sp_mulmod(uint64_t a, uint64_t b, uint64_t n)
{
    return (uint64_t)((sp_u128)a * b % n);
}

static uint64_t sp_powmod(uint64_t a, uint64_t e, uint64_t n)
{
    uint64_t r = 1;
    for (a %= n; e; e >>= 1, a = sp_mulmod(a, a, n))
        if (e & 1)
            r = sp_mulmod(r, a, n);
    return r;
}

/* Miller-Rabin with the first 12 primes as bases: exact below 3.3e24. */
static bool sp_is_prime(uint64_t n)
{
    static const uint64_t bases[] = { 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37 };
    uint64_t d = n - 1;
    int s = 0;
    for (size_t i = 0; i < sizeof bases / sizeof *bases; i++)
        if (n % bases[i] == 0)
            return n == bases[i];
    for (; !(d & 1); d >>= 1)
        s++;
    for (size_t i = 0; i < sizeof bases / sizeof *bases; i++) {
        uint64_t x = sp_powmod(bases[i], d, n);
        int r = 1;
        for (; r < s && x != 1 && x != n - 1; r++)
            x = sp_mulmod(x, x, n);
        if (x != n - 1 && (x != 1 || r > 1))
            return false;
    }
    return true;
}

enum { SP_PRIMES = 128, SP_COUNT = 4096 };

static uint64_t sp_rand(uint64_t *state) /* splitmix64 */
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static int64_t sp_at(long i)
{
    static int64_t table[SP_COUNT];
    static bool made;
    if (!made) {
        uint64_t primes[SP_PRIMES], state = 14, lo = 1518500250u, hi = 1u << 31; /* 2^30.5 */
        for (int k = 0; k < SP_PRIMES;) {
            uint64_t c = (lo + sp_rand(&state) % (hi - lo)) | 1;
            if (sp_is_prime(c))
                primes[k++] = c;
        }
        for (int k = 0; k < SP_COUNT; k++) {
            uint64_t p = primes[sp_rand(&state) % SP_PRIMES];
            uint64_t q = primes[sp_rand(&state) % SP_PRIMES];
            table[k] = (int64_t)(p * q); /* p == q now and then: a square, as hard */
        }
        made = true;
    }
    return table[(unsigned long)i % SP_COUNT];
}

#endif
