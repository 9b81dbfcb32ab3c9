/* Unit tests for the factoring core: core/factor.c, core/prime.c, core/rho.c and
 * the Montgomery helpers of core/montgomery.h. Table-driven; every expected list
 * was checked against GNU factor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "factor.h"
#include "factor_internal.h"
#include "montgomery.h"

#define MAX_EXPECT 20

struct case_ {
    uint64_t n;
    size_t count;
    uint64_t factors[MAX_EXPECT];
};

/* Exact factorizations: small numbers, 2^k +- 1 neighbours, 2^63-1 =
 * 7^2*73*127*337*92737*649657, the largest primes below 2^32, 2^63 and 2^64,
 * squares of primes near 2^31 and 2^32, semiprimes, Carmichael numbers, strong
 * pseudoprimes to base 2 and to several bases, primorials. */
static const struct case_ cases[] = {
    {2u, 1, {2u}},
    {3u, 1, {3u}},
    {4u, 2, {2u, 2u}},
    {5u, 1, {5u}},
    {6u, 2, {2u, 3u}},
    {7u, 1, {7u}},
    {8u, 3, {2u, 2u, 2u}},
    {9u, 2, {3u, 3u}},
    {12u, 3, {2u, 2u, 3u}},
    {360u, 6, {2u, 2u, 2u, 3u, 3u, 5u}},
    {1024u, 10, {2u, 2u, 2u, 2u, 2u, 2u, 2u, 2u, 2u, 2u}},
    {65536u, 16, {2u, 2u, 2u, 2u, 2u, 2u, 2u, 2u, 2u, 2u, 2u, 2u, 2u, 2u, 2u, 2u}},
    {9223372036854775807u, 7, {7u, 7u, 73u, 127u, 337u, 92737u, 649657u}},
    {9223372036854775783u, 1, {9223372036854775783uLL}},
    {18446744073709551557u, 1, {18446744073709551557uLL}},
    {18446744073709551615u, 7, {3u, 5u, 17u, 257u, 641u, 65537u, 6700417u}},
    {18446744073709551614u, 8, {2u, 7u, 7u, 73u, 127u, 337u, 92737u, 649657u}},
    {18446744073709551613u, 3, {13u, 3889u, 364870227143809uLL}},
    {9223372036854775806u, 4, {2u, 3u, 715827883u, 2147483647u}},
    {4294967295u, 5, {3u, 5u, 17u, 257u, 65537u}},
    {4294967291u, 1, {4294967291uLL}},
    {4294967297u, 2, {641u, 6700417u}},
    {4294967311u, 1, {4294967311uLL}},
    {2147483647u, 1, {2147483647u}},
    {2147483649u, 2, {3u, 715827883u}},
    {4611686014132420609u, 2, {2147483647u, 2147483647u}},
    {4611686001247518721u, 4, {11u, 11u, 11370839u, 3351828959uLL}},
    {18446744030759878681u, 2, {4294967291uLL, 4294967291uLL}},
    {18446744047939747781u, 1, {18446744047939747781uLL}},
    {9223372030412324353u, 2, {3163u, 2916020243570131uLL}},
    {2199023255531u, 1, {2199023255531uLL}},
    {2097143u, 1, {2097143u}},
    {4398034478449u, 3, {17u, 209959u, 1232183u}},
    {9223358842721533951u, 12, {7u, 7u, 7u, 7u, 7u, 7u, 127u, 127u, 127u, 337u, 337u, 337u}},
    {4294967279u, 1, {4294967279uLL}},
    {18446743979220271189u, 2, {4294967279uLL, 4294967291uLL}},
    {18446743927680663719u, 5, {67u, 967u, 3191u, 10333u, 8635057u}},
    {561u, 3, {3u, 11u, 17u}},
    {1105u, 3, {5u, 13u, 17u}},
    {1729u, 3, {7u, 13u, 19u}},
    {2465u, 3, {5u, 17u, 29u}},
    {41041u, 4, {7u, 11u, 13u, 41u}},
    {825265u, 5, {5u, 7u, 17u, 19u, 73u}},
    {321197185u, 6, {5u, 19u, 23u, 29u, 37u, 137u}},
    {5394826801u, 7, {7u, 13u, 17u, 23u, 31u, 67u, 73u}},
    {232250619601u, 8, {7u, 11u, 13u, 17u, 31u, 37u, 73u, 163u}},
    {9746347772161u, 9, {7u, 11u, 13u, 17u, 19u, 31u, 37u, 41u, 641u}},
    {1436697831295441u, 10, {11u, 13u, 19u, 29u, 31u, 37u, 41u, 43u, 71u, 127u}},
    {60977817398996785u, 11, {5u, 7u, 17u, 19u, 23u, 37u, 53u, 73u, 79u, 89u, 233u}},
    {7156857700403137441u, 12, {11u, 13u, 17u, 19u, 29u, 37u, 41u, 43u, 61u, 97u, 109u, 127u}},
    {2047u, 2, {23u, 89u}},
    {3277u, 2, {29u, 113u}},
    {4033u, 2, {37u, 109u}},
    {4681u, 2, {31u, 151u}},
    {8321u, 2, {53u, 157u}},
    {15841u, 3, {7u, 31u, 73u}},
    {29341u, 3, {13u, 37u, 61u}},
    {42799u, 2, {127u, 337u}},
    {49141u, 2, {157u, 313u}},
    {52633u, 3, {7u, 73u, 103u}},
    {65281u, 2, {97u, 673u}},
    {74665u, 3, {5u, 109u, 137u}},
    {80581u, 2, {61u, 1321u}},
    {85489u, 2, {53u, 1613u}},
    {88357u, 2, {149u, 593u}},
    {90751u, 2, {151u, 601u}},
    {104653u, 2, {229u, 457u}},
    {130561u, 2, {137u, 953u}},
    {196093u, 2, {157u, 1249u}},
    {220729u, 2, {103u, 2143u}},
    {233017u, 2, {43u, 5419u}},
    {252601u, 3, {41u, 61u, 101u}},
    {253241u, 2, {157u, 1613u}},
    {256999u, 2, {233u, 1103u}},
    {271951u, 2, {151u, 1801u}},
    {280601u, 2, {277u, 1013u}},
    {314821u, 3, {13u, 61u, 397u}},
    {357761u, 2, {131u, 2731u}},
    {390937u, 2, {313u, 1249u}},
    {458989u, 2, {277u, 1657u}},
    {476971u, 3, {11u, 131u, 331u}},
    {486737u, 2, {233u, 2089u}},
    {1373653u, 2, {829u, 1657u}},
    {25326001u, 2, {2251u, 11251u}},
    {3215031751u, 3, {151u, 751u, 28351u}},
    {2152302898747u, 3, {6763u, 10627u, 29947u}},
    {3474749660383u, 3, {1303u, 16927u, 157543u}},
    {341550071728321u, 2, {10670053u, 32010157u}},
    {3825123056546413051u, 3, {149491u, 747451u, 34233211u}},
    {1122004669633u, 2, {611557u, 1834669u}},
    {4759123141u, 2, {48781u, 97561u}},
    {1000000007u, 1, {1000000007u}},
    {999999999999999989u, 1, {999999999999999989uLL}},
    {614889782588491410u, 15, {2u, 3u, 5u, 7u, 11u, 13u, 17u, 19u, 23u, 29u, 31u, 37u, 41u, 43u, 47u}},
    {9999999999999999999u, 3, {3u, 3u, 1111111111111111111uLL}},
    {12345678901234567890u, 9, {2u, 3u, 3u, 5u, 101u, 3541u, 3607u, 3803u, 27961u}},
    {6469693230u, 10, {2u, 3u, 5u, 7u, 11u, 13u, 17u, 19u, 23u, 29u}},
    {304250263527210u, 13, {2u, 3u, 5u, 7u, 11u, 13u, 17u, 19u, 23u, 29u, 31u, 37u, 41u}},
    {2305567963945518424u, 6, {2u, 2u, 2u, 17u, 112898393u, 150158963u}},
    {7177162611713u, 1, {7177162611713uLL}},
};

/* Checks pf_factor(n) against an expected list, and the list's own sanity:
 * ascending, every entry prime, product n. */
static void check_factor(uint64_t n, size_t count, const uint64_t *expect)
{
    uint64_t f[PF_FACTORS_MAX];
    memset(f, 0xa5, sizeof f);
    size_t k = pf_factor(n, f);
    if (k != count)
        print_error("n = %llu: %zu factors, expected %zu\n", (unsigned long long)n, k, count);
    assert_int_equal(k, count);
    uint64_t prod = 1;
    for (size_t i = 0; i < k; i++) {
        if (f[i] != expect[i])
            print_error("n = %llu: factor %zu is %llu, expected %llu\n", (unsigned long long)n, i,
                        (unsigned long long)f[i], (unsigned long long)expect[i]);
        assert_int_equal(f[i], expect[i]);
        assert_true(pf_is_prime(f[i]));
        if (i > 0)
            assert_true(f[i - 1] <= f[i]);
        prod *= f[i];
    }
    if (n >= 2)
        assert_int_equal(prod, n);
}

/* Checks what can be checked without an expected list. */
static void check_sane(uint64_t n)
{
    uint64_t f[PF_FACTORS_MAX];
    size_t k = pf_factor(n, f);
    uint64_t prod = 1;
    for (size_t i = 0; i < k; i++) {
        if (!pf_is_prime(f[i]))
            print_error("n = %llu: factor %llu is not prime\n", (unsigned long long)n,
                        (unsigned long long)f[i]);
        assert_true(pf_is_prime(f[i]));
        if (i > 0)
            assert_true(f[i - 1] <= f[i]);
        prod *= f[i];
    }
    assert_int_equal(prod, n < 2 ? 1 : n);
}

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_factor(cases[i].n, cases[i].count, cases[i].factors);
}

static void test_zero_and_one(void **state)
{
    (void)state;
    uint64_t f[PF_FACTORS_MAX];
    assert_int_equal(pf_factor(0, f), 0);
    assert_int_equal(pf_factor(1, f), 0);
    assert_false(pf_is_prime(0));
    assert_false(pf_is_prime(1));
}

/* 2^k -> k twos (2^63 gives 63), and 3 * 2^k, 2^k * (2^61 - 1) shapes. */
static void test_powers_of_two(void **state)
{
    (void)state;
    uint64_t expect[PF_FACTORS_MAX];
    for (size_t i = 0; i < PF_FACTORS_MAX; i++)
        expect[i] = 2;
    for (unsigned k = 1; k < 64; k++) {
        uint64_t n = (uint64_t)1 << k;
        check_factor(n, k, expect);
        expect[k - 1] = 3;
        check_factor(3 * (n >> 1), k, expect);
        expect[k - 1] = 2;
    }
    uint64_t m61 = ((uint64_t)1 << 61) - 1; /* a Mersenne prime */
    for (unsigned k = 0; k <= 2; k++) {
        expect[k] = m61;
        check_factor(m61 << k, k + 1, expect);
        expect[k] = 2;
    }
}

/* Reference primality by trial division, for small n. */
static int slow_is_prime(uint64_t n)
{
    if (n < 2)
        return 0;
    for (uint64_t d = 2; d * d <= n; d++)
        if (n % d == 0)
            return 0;
    return 1;
}

/* Every n below 2^20 against a sieve: covers every strong pseudoprime base 2
 * below 2^20 and the fast paths for small n. */
static void test_is_prime_exhaustive_small(void **state)
{
    (void)state;
    enum { LIMIT = 1 << 20 };
    static unsigned char composite[LIMIT];
    memset(composite, 0, sizeof composite);
    composite[0] = composite[1] = 1;
    for (uint32_t i = 2; (uint64_t)i * i < LIMIT; i++)
        if (!composite[i])
            for (uint32_t j = i * i; j < LIMIT; j += i)
                composite[j] = 1;
    for (uint32_t n = 0; n < LIMIT; n++) {
        if (pf_is_prime(n) != !composite[n])
            print_error("pf_is_prime(%u) wrong\n", n);
        assert_int_equal(pf_is_prime(n), !composite[n]);
    }
}

static int is_sprp(uint64_t n, uint64_t a)
{
    __extension__ typedef unsigned __int128 u128;
    uint64_t d = n - 1;
    int s = 0;
    while (!(d & 1)) {
        d >>= 1;
        s++;
    }
    uint64_t x = 1, b = a % n;
    for (uint64_t e = d; e; e >>= 1) {
        if (e & 1)
            x = (uint64_t)((u128)x * b % n);
        b = (uint64_t)((u128)b * b % n);
    }
    if (x == 1 || x == n - 1)
        return 1;
    for (int r = 1; r < s; r++) {
        x = (uint64_t)((u128)x * x % n);
        if (x == n - 1)
            return 1;
    }
    return 0;
}

/* Composites that fool Miller-Rabin to some bases, and Carmichael numbers. */
static void test_pseudoprimes(void **state)
{
    (void)state;
    /* Every strong pseudoprime to base 2 below 500,000. */
    static const uint64_t spsp2[] = {
        2047, 3277, 4033, 4681, 8321, 15841, 29341, 42799, 49141, 52633, 65281,
        74665, 80581, 85489, 88357, 90751, 104653, 130561, 196093, 220729, 233017,
        252601, 253241, 256999, 271951, 280601, 314821, 357761, 390937, 458989,
        476971, 486737, 489997,
    };
    for (size_t i = 0; i < sizeof spsp2 / sizeof spsp2[0]; i++) {
        assert_true(is_sprp(spsp2[i], 2)); /* the table itself is right */
        assert_false(pf_is_prime(spsp2[i]));
        check_sane(spsp2[i]);
    }
    /* n, and how many of the bases 2, 3, 5, 7, ... it fools. */
    static const struct {
        uint64_t n;
        int fooled;
    } multi[] = {
        {1373653, 2},           {25326001, 3},
        {3215031751, 4},        {2152302898747, 5},
        {3474749660383, 6},     {341550071728321, 7},
        {3825123056546413051u, 9},
    };
    static const uint64_t primes[] = {2, 3, 5, 7, 11, 13, 17, 19, 23};
    for (size_t i = 0; i < sizeof multi / sizeof multi[0]; i++) {
        for (int b = 0; b < multi[i].fooled; b++)
            assert_true(is_sprp(multi[i].n, primes[b]));
        assert_false(pf_is_prime(multi[i].n));
        check_sane(multi[i].n);
    }
    /* Pseudoprimes to the bases of the 32-bit and 40-bit fast paths. */
    assert_true(is_sprp(4759123141u, 2) && is_sprp(4759123141u, 7) && is_sprp(4759123141u, 61));
    assert_false(pf_is_prime(4759123141u));
    assert_false(pf_is_prime(1122004669633u));
    /* Carmichael numbers */
    static const uint64_t carmichael[] = {
        561, 1105, 1729, 2465, 2821, 6601, 8911, 41041, 825265, 321197185,
        5394826801u, 232250619601u, 9746347772161u, 1436697831295441u,
        60977817398996785u, 7156857700403137441u,
    };
    for (size_t i = 0; i < sizeof carmichael / sizeof carmichael[0]; i++) {
        assert_false(pf_is_prime(carmichael[i]));
        check_sane(carmichael[i]);
    }
}

/* Primes near the top of the range and at word boundaries. */
static void test_large_primes(void **state)
{
    (void)state;
    static const uint64_t primes[] = {
        4294967291u, 4294967311u, 2147483647u, 9223372036854775783u,
        18446744073709551557u, 18446744047939747781u, 999999999999999989u,
        2305843009213693951u, /* 2^61 - 1 */
    };
    for (size_t i = 0; i < sizeof primes / sizeof primes[0]; i++) {
        assert_true(pf_is_prime(primes[i]));
        check_factor(primes[i], 1, &primes[i]);
    }
    /* the numbers between 2^64-59 and 2^64 are all composite */
    for (uint64_t n = 18446744073709551558u; n != 0; n++) {
        assert_false(pf_is_prime(n));
        check_sane(n);
    }
    for (uint64_t n = 9223372036854775784u; n != (uint64_t)1 << 63; n++)
        assert_false(pf_is_prime(n));
}

/* Squares and cubes of primes near 2^11, 2^21, 2^31, 2^32; products of two
 * primes near 2^31 and 2^32. */
static void test_prime_powers_and_semiprimes(void **state)
{
    (void)state;
    /* primes just below and above 2^11, 2^21, 2^31, 2^32 */
    static const uint64_t p[] = {
        2039, 2053, 2097143, 2097169, 2147483629, 2147483647, 2147483659, 4294967279u, 4294967291u,
    };
    size_t np = sizeof p / sizeof p[0];
    for (size_t i = 0; i < np; i++) {
        assert_true(pf_is_prime(p[i]));
        uint64_t sq[2] = {p[i], p[i]};
        check_factor(p[i] * p[i], 2, sq);
        if (p[i] < ((uint64_t)1 << 21) + 1000) {
            uint64_t cube[3] = {p[i], p[i], p[i]};
            check_factor(p[i] * p[i] * p[i], 3, cube);
        }
        if (p[i] < 4096) {
            uint64_t n = p[i] * p[i] * p[i] * p[i] * p[i]; /* p^5, about 2^55 */
            uint64_t five[5] = {p[i], p[i], p[i], p[i], p[i]};
            check_factor(n, 5, five);
        }
        for (size_t j = i + 1; j < np; j++) {
            uint64_t pq[2] = {p[i], p[j]};
            check_factor(p[i] * p[j], 2, pq);
        }
    }
    /* 2^21-ish prime cubed times a small prime; three ~21-bit primes */
    uint64_t a[4] = {2, 2097143, 2097143, 2097143};
    check_factor(2 * UINT64_C(2097143) * 2097143 * 2097143, 4, a);
    uint64_t b[3] = {2097143, 2097169, 2097211};
    check_factor(UINT64_C(2097143) * 2097169 * 2097211, 3, b);
}

/* A fixed pseudo-random sweep: product, order and primality of the factors,
 * and primality against an independent test. */
static void test_random_sweep(void **state)
{
    (void)state;
    uint64_t s = 12345;
    for (int i = 0; i < 20000; i++) {
        s += 0x9e3779b97f4a7c15u;
        uint64_t z = s;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        z ^= z >> 31;
        uint64_t n = z >> (i % 64); /* every bit length */
        check_sane(n);
        if (n > 37 && (n & 1)) {
            static const uint64_t b[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
            int prime = 1;
            for (size_t j = 0; j < sizeof b / sizeof b[0] && prime; j++)
                prime = n % b[j] != 0 && is_sprp(n, b[j]);
            assert_int_equal(pf_is_prime(n), prime);
        }
    }
    /* small numbers against trial division */
    for (uint64_t n = 0; n < 3000; n++)
        assert_int_equal(pf_is_prime(n), slow_is_prime(n));
}

/* The Montgomery helpers against plain 128-bit arithmetic. */
static void test_montgomery(void **state)
{
    (void)state;
    __extension__ typedef unsigned __int128 u128;
    static const uint64_t moduli[] = {
        3, 5, 7, 1000003, 4294967291u, 4294967297u, 9223372036854775783u,
        9223372036854775809u, 18446744073709551557u, 18446744073709551615u,
    };
    uint64_t s = 99;
    for (size_t i = 0; i < sizeof moduli / sizeof moduli[0]; i++) {
        uint64_t n = moduli[i];
        pf_mont m;
        pf_mont_init(&m, n);
        assert_int_equal(n * pf_inv64(n), 1);
        assert_int_equal(m.one, (uint64_t)(((u128)1 << 64) % n));
        assert_int_equal(pf_mont_from(&m, m.one), 1 % n);
        for (int k = 0; k < 2000; k++) {
            s = s * 6364136223846793005u + 1442695040888963407u;
            uint64_t a = (s >> 3) % n;
            uint64_t b = (k < 4) ? n - 1 - (uint64_t)k % n : (s * 0x9e3779b97f4a7c15u) % n;
            if (b >= n)
                b = 0;
            uint64_t am = pf_mont_to(&m, a), bm = pf_mont_to(&m, b);
            assert_true(am < n && bm < n);
            assert_int_equal(pf_mont_from(&m, am), a);
            assert_int_equal(pf_mont_from(&m, pf_mont_mul(&m, am, bm)), (uint64_t)((u128)a * b % n));
            assert_int_equal(pf_mont_add(&m, a, b), (uint64_t)(((u128)a + b) % n));
            assert_int_equal(pf_mont_sub(&m, a, b), (uint64_t)(((u128)a + n - b) % n));
            uint64_t e = s >> 40;
            uint64_t want = 1 % n, base = a;
            for (uint64_t x = e; x; x >>= 1) {
                if (x & 1)
                    want = (uint64_t)((u128)want * base % n);
                base = (uint64_t)((u128)base * base % n);
            }
            assert_int_equal(pf_mont_from(&m, pf_mont_pow(&m, am, e)), want);
        }
    }
    assert_int_equal(pf_gcd(0, 0), 0);
    assert_int_equal(pf_gcd(0, 12), 12);
    assert_int_equal(pf_gcd(12, 0), 12);
    assert_int_equal(pf_gcd(12, 18), 6);
    assert_int_equal(pf_gcd(UINT64_C(4294967291) * 3, UINT64_C(4294967291) * 5), 4294967291u);
    assert_int_equal(pf_gcd(UINT64_MAX, 641), 641);
    assert_int_equal(pf_gcd((uint64_t)1 << 63, (uint64_t)1 << 40), (uint64_t)1 << 40);
}

/* The rho splitter alone returns a proper factor of odd composites. */
static void test_rho_splits(void **state)
{
    (void)state;
    static const uint64_t n[] = {
        UINT64_C(1031) * 1033, UINT64_C(2147483647) * 2147483659u,
        UINT64_C(4294967279) * 4294967291u, UINT64_C(4294967291) * 4294967291u, 3825123056546413051u, 9223372036854775807u,
    };
    for (size_t i = 0; i < sizeof n / sizeof n[0]; i++) {
        uint64_t d = pfi_rho(n[i]);
        assert_true(d > 1 && d < n[i]);
        assert_int_equal(n[i] % d, 0);
    }
}

/* The micro-ECM splitter alone, on both arithmetic paths: n < 2^62 (lazy
 * reduction) and n >= 2^62 (strict). */
static void test_ecm_splits(void **state)
{
    (void)state;
    static const uint64_t n[] = {
        UINT64_C(1048573) * 1048583,       /* 40 bits */
        UINT64_C(1000003) * 999999999989u, /* 20 x 40 bits */
        UINT64_C(2147483629) * 2147483647, /* 62 bits, lazy */
        UINT64_C(2147483647) * 2147483659u,
        UINT64_C(3037000453) * 3037000493u, /* just above 2^63 */
        UINT64_C(4294967279) * 4294967291u, /* 64 bits, strict */
        UINT64_C(4294967291) * 4294967291u, /* a square */
        UINT64_C(2097143) * 2097143 * 2097143, /* a cube */
        3825123056546413051u,
    };
    for (size_t i = 0; i < sizeof n / sizeof n[0]; i++) {
        uint64_t d = pfi_ecm(n[i]);
        if (d == n[i]) /* allowed: the caller falls back to rho */
            d = pfi_rho(n[i]);
        assert_true(d > 1 && d < n[i]);
        assert_int_equal(n[i] % d, 0);
    }
    /* the whole path on many 62- and 64-bit semiprimes */
    static const uint64_t p[] = {2147483549u, 2147483563u, 2147483579u, 2147483587u,
                                 4294967231u, 4294967279u, 4294967291u, 3037000453u};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        for (size_t j = i; j < sizeof p / sizeof p[0]; j++) {
            uint64_t pq[2] = {p[i] < p[j] ? p[i] : p[j], p[i] < p[j] ? p[j] : p[i]};
            check_factor(p[i] * p[j], 2, pq);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_zero_and_one),
        cmocka_unit_test(test_powers_of_two),
        cmocka_unit_test(test_is_prime_exhaustive_small),
        cmocka_unit_test(test_pseudoprimes),
        cmocka_unit_test(test_large_primes),
        cmocka_unit_test(test_prime_powers_and_semiprimes),
        cmocka_unit_test(test_random_sweep),
        cmocka_unit_test(test_montgomery),
        cmocka_unit_test(test_rho_splits),
        cmocka_unit_test(test_ecm_splits),
    };
    return cmocka_run_group_tests_name("factor", tests, NULL, NULL);
}
