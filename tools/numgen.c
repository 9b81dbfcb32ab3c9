/* numgen: deterministic test and benchmark inputs for pffactor, one number a line.
 *
 *   numgen uniform  COUNT SEED          uniform in [2, 2^63)
 *   numgen uniform64 COUNT SEED         uniform in [0, 2^64)
 *   numgen bits     COUNT SEED MAXBITS  bit length uniform in 1..MAXBITS, then uniform
 *   numgen semi     COUNT SEED LO HI    p*q, p and q primes of LO..HI bits each
 *   numgen below    COUNT START         the COUNT largest primes <= START
 *   numgen powers   COUNT SEED          p^k for primes p and k >= 2, and products
 *                                       of small primes: p^2, p^3 near 2^21, 2^31, 2^32
 *
 * Its primality test is its own (Miller-Rabin with 128-bit remainders), kept apart
 * from the core's so that the tests do not check the core against itself. Used by
 * tests/core/oracle.sh and tools/bench.sh; built by them with plain `cc -O2`. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__extension__ typedef unsigned __int128 u128;

static uint64_t rng_state;

static uint64_t next64(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* uniform in [0, bound), bound > 0, without modulo bias */
static uint64_t below(uint64_t bound)
{
    uint64_t lim = UINT64_MAX - UINT64_MAX % bound;
    uint64_t x;
    do
        x = next64();
    while (x >= lim);
    return x % bound;
}

static uint64_t mulmod(uint64_t a, uint64_t b, uint64_t n)
{
    return (uint64_t)((u128)a * b % n);
}

static uint64_t powmod(uint64_t a, uint64_t e, uint64_t n)
{
    uint64_t r = 1;
    a %= n;
    while (e) {
        if (e & 1)
            r = mulmod(r, a, n);
        a = mulmod(a, a, n);
        e >>= 1;
    }
    return r;
}

static bool is_prime(uint64_t n)
{
    static const uint64_t small[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
    if (n < 2)
        return false;
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
        if (n == small[i])
            return true;
        if (n % small[i] == 0)
            return false;
    }
    uint64_t d = n - 1;
    int s = 0;
    while (!(d & 1)) {
        d >>= 1;
        s++;
    }
    /* The first twelve primes as bases: deterministic below 3.3 * 10^24. */
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
        uint64_t x = powmod(small[i], d, n);
        if (x == 1 || x == n - 1)
            continue;
        int r;
        for (r = 1; r < s; r++) {
            x = mulmod(x, x, n);
            if (x == n - 1)
                break;
        }
        if (r == s)
            return false;
    }
    return true;
}

/* a random prime with exactly `bits` bits (bits >= 2) */
static uint64_t random_prime(int bits)
{
    for (;;) {
        uint64_t hi = (uint64_t)1 << (bits - 1);
        uint64_t x = hi | below(hi);
        if (is_prime(x))
            return x;
    }
}

static uint64_t arg_u64(const char *s)
{
    return strtoull(s, NULL, 0);
}

int main(int argc, char **argv)
{
    static char buf[1 << 16];
    setvbuf(stdout, buf, _IOFBF, sizeof buf);
    if (argc < 4) {
        fputs("usage: numgen MODE COUNT SEED|START [ARGS]\n", stderr);
        return 2;
    }
    const char *mode = argv[1];
    uint64_t count = arg_u64(argv[2]);
    rng_state = arg_u64(argv[3]);

    if (strcmp(mode, "uniform") == 0) {
        for (uint64_t i = 0; i < count; i++)
            printf("%" PRIu64 "\n", 2 + below(((uint64_t)1 << 63) - 2));
    } else if (strcmp(mode, "uniform64") == 0) {
        for (uint64_t i = 0; i < count; i++)
            printf("%" PRIu64 "\n", next64());
    } else if (strcmp(mode, "bits") == 0 && argc >= 5) {
        int maxbits = atoi(argv[4]);
        for (uint64_t i = 0; i < count; i++) {
            int b = 1 + (int)below((uint64_t)maxbits);
            uint64_t hi = (uint64_t)1 << (b - 1);
            printf("%" PRIu64 "\n", hi | below(hi));
        }
    } else if (strcmp(mode, "semi") == 0 && argc >= 6) {
        int lo = atoi(argv[4]), hi = atoi(argv[5]);
        for (uint64_t i = 0; i < count; i++) {
            uint64_t p = random_prime(lo + (int)below((uint64_t)(hi - lo + 1)));
            uint64_t q = random_prime(lo + (int)below((uint64_t)(hi - lo + 1)));
            printf("%" PRIu64 "\n", p * q);
        }
    } else if (strcmp(mode, "below") == 0) {
        uint64_t x = rng_state;
        for (uint64_t i = 0; i < count && x >= 2; x--)
            if (is_prime(x)) {
                printf("%" PRIu64 "\n", x);
                i++;
            }
    } else if (strcmp(mode, "powers") == 0) {
        static const int centers[] = {11, 16, 21, 31, 32};
        for (uint64_t i = 0; i < count; i++) {
            switch (i % 4) {
            case 0: { /* p^2 or p^3 near the centers */
                int b = centers[below(5)];
                uint64_t p = random_prime(b);
                if (b <= 21 && below(2))
                    printf("%" PRIu64 "\n", p * p * p);
                else
                    printf("%" PRIu64 "\n", p * p);
                break;
            }
            case 1: { /* p^k for a small prime p, as large as fits in 63 bits */
                uint64_t p = random_prime(2 + (int)below(10)), x = p;
                while (x <= (((uint64_t)1 << 63) - 1) / p)
                    x *= p;
                printf("%" PRIu64 "\n", x);
                break;
            }
            case 2: { /* many small factors times a large prime */
                uint64_t x = random_prime(10 + (int)below(30));
                for (;;) {
                    uint64_t p = random_prime(2 + (int)below(12));
                    if (x > (((uint64_t)1 << 63) - 1) / p)
                        break;
                    x *= p;
                }
                printf("%" PRIu64 "\n", x);
                break;
            }
            default: { /* p^2 * q: a square times another prime */
                uint64_t p = random_prime(12 + (int)below(10));
                uint64_t bits = 63 - 2 * (64 - (uint64_t)__builtin_clzll(p));
                uint64_t q = random_prime(2 + (int)below(bits - 1));
                printf("%" PRIu64 "\n", p * p * q);
                break;
            }
            }
        }
    } else {
        fprintf(stderr, "numgen: unknown mode or missing arguments: %s\n", mode);
        return 2;
    }
    return fflush(stdout) ? 1 : 0;
}
