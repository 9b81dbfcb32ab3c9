/* Unit tests for core/num.c: pf_parse_i64, the one strict text -> int64
 * parser, and pf_format_i64. Every input is copied into a heap block of
 * exactly its length, so that ASan catches a read past len; pf_format_i64
 * writes into a 20-byte heap block, so that ASan catches a write past it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "num.h"
#include "pf.h"

/* cmocka prints integers in hex; these print both values in decimal. */
#define assert_i64(got, want)                                                                   \
    do {                                                                                        \
        int64_t g_ = (got), w_ = (want);                                                        \
        if (g_ != w_)                                                                           \
            fail_msg("%s = %" PRId64 ", want %" PRId64, #got, g_, w_);                          \
    } while (0)

#define SENTINEL INT64_C(0x5a5a5a5a5a5a5a5a)

struct parse_case {
    const char *text;
    size_t len; /* bytes of text to parse; 0 means strlen(text) */
    int rc;
    int64_t value; /* when rc == PF_OK */
};

#define ALL 0

static const struct parse_case parse_cases[] = {
    {"0", ALL, PF_OK, 0},
    {"-0", ALL, PF_OK, 0},
    {"7", ALL, PF_OK, 7},
    {"-7", ALL, PF_OK, -7},
    {"360", ALL, PF_OK, 360},
    {"007", ALL, PF_OK, 7},
    {"-007", ALL, PF_OK, -7},
    {"0000000000000000000000000000000000042", ALL, PF_OK, 42},
    {"9223372036854775807", ALL, PF_OK, INT64_MAX},
    {"-9223372036854775807", ALL, PF_OK, -INT64_MAX},
    {"-9223372036854775808", ALL, PF_OK, INT64_MIN},
    {"09223372036854775807", ALL, PF_OK, INT64_MAX},
    {"9223372036854775808", ALL, PF_ERANGE, 0},
    {"-9223372036854775809", ALL, PF_ERANGE, 0},
    {"9223372036854775810", ALL, PF_ERANGE, 0},
    {"18446744073709551615", ALL, PF_ERANGE, 0},
    {"18446744073709551616", ALL, PF_ERANGE, 0},
    {"99999999999999999999999", ALL, PF_ERANGE, 0},
    {"-99999999999999999999999", ALL, PF_ERANGE, 0},
    /* An overflowing prefix does not hide a later non-digit. */
    {"99999999999999999999x", ALL, PF_ENOTNUM, 0},
    {"", ALL, PF_ENOTNUM, 0},
    {"-", ALL, PF_ENOTNUM, 0},
    {"--5", ALL, PF_ENOTNUM, 0},
    {"+5", ALL, PF_ENOTNUM, 0},
    {" 5", ALL, PF_ENOTNUM, 0},
    {"5 ", ALL, PF_ENOTNUM, 0},
    {"5\n", ALL, PF_ENOTNUM, 0},
    {"5-", ALL, PF_ENOTNUM, 0},
    {"0x10", ALL, PF_ENOTNUM, 0},
    {"abc", ALL, PF_ENOTNUM, 0},
    {"1,000", ALL, PF_ENOTNUM, 0},
    {"\"5\"", ALL, PF_ENOTNUM, 0},
    {"\xd9\xa1", ALL, PF_ENOTNUM, 0}, /* ARABIC-INDIC DIGIT ONE */
    {"1.5", ALL, PF_EFRACTION, 0},
    {"-1.5", ALL, PF_EFRACTION, 0},
    {"1.0", ALL, PF_EFRACTION, 0},
    {"1e3", ALL, PF_EFRACTION, 0},
    {"1E3", ALL, PF_EFRACTION, 0},
    {"1e+3", ALL, PF_EFRACTION, 0},
    {"1e-3", ALL, PF_EFRACTION, 0},
    {"1.5x", ALL, PF_ENOTNUM, 0},
    {".", ALL, PF_ENOTNUM, 0}, /* no digits: not number-like */
    {"e", ALL, PF_ENOTNUM, 0},
    /* Exactly len bytes: what follows is never read. */
    {"12345", 3, PF_OK, 123},
    {"360abc", 3, PF_OK, 360},
    {"1.5", 1, PF_OK, 1},
    {"-12", 1, PF_ENOTNUM, 0},
    {"7 ", 1, PF_OK, 7},
    {"92233720368547758070", 19, PF_OK, INT64_MAX},
    {"9223372036854775807", 18, PF_OK, 922337203685477580},
    {"-9223372036854775808", 20, PF_OK, INT64_MIN},
    {"1\0002", 3, PF_ENOTNUM, 0},
};

/* Parses text[0..len) from a heap copy of exactly len bytes. */
static int parse_exact(const char *text, size_t len, int64_t *out)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    int rc = pf_parse_i64(copy, len, out);
    free(copy);
    return rc;
}

static void test_parse_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
        const struct parse_case *c = &parse_cases[i];
        size_t len = c->len ? c->len : strlen(c->text);
        int64_t v = SENTINEL;
        int rc = parse_exact(c->text, len, &v);
        if (rc != c->rc)
            fail_msg("pf_parse_i64(\"%.*s\", %zu) = %d (%s), want %d (%s)", (int)len, c->text, len,
                     rc, pf_strerror(rc), c->rc, pf_strerror(c->rc));
        int64_t want = c->rc == PF_OK ? c->value : SENTINEL; /* untouched on failure */
        if (v != want)
            fail_msg("pf_parse_i64(\"%.*s\", %zu): *out = %" PRId64 ", want %" PRId64, (int)len,
                     c->text, len, v, want);
    }
}

/* Formats v into a heap block of exactly 20 bytes and checks it against printf. */
static void check_format(int64_t v)
{
    char want[32];
    int want_len = snprintf(want, sizeof want, "%" PRId64, v);
    char *buf = malloc(20);
    assert_non_null(buf);
    memset(buf, '#', 20);
    size_t len = pf_format_i64(v, buf);
    if (len != (size_t)want_len || memcmp(buf, want, len) != 0)
        fail_msg("pf_format_i64(%s) = \"%.*s\" (%zu bytes)", want, (int)(len <= 20 ? len : 20), buf,
                 len);
    for (size_t i = len; i < 20; i++)
        assert_int_equal(buf[i], '#'); /* no terminator, nothing past the digits */

    int64_t back = SENTINEL;
    assert_int_equal(parse_exact(buf, len, &back), PF_OK);
    assert_i64(back, v);
    free(buf);
}

static void test_format_extremes(void **state)
{
    (void)state;
    static const struct {
        int64_t v;
        const char *text;
    } cases[] = {
        {0, "0"},
        {-1, "-1"},
        {1, "1"},
        {9, "9"},
        {10, "10"},
        {-10, "-10"},
        {360, "360"},
        {INT64_MAX, "9223372036854775807"},
        {INT64_MIN, "-9223372036854775808"},
        {INT64_MIN + 1, "-9223372036854775807"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[20];
        size_t len = pf_format_i64(cases[i].v, buf);
        assert_int_equal(len, strlen(cases[i].text));
        assert_memory_equal(buf, cases[i].text, len);
        check_format(cases[i].v);
    }
}

/* Every power of ten and of two with its neighbours, both signs, and a
 * pseudo-random sweep over all magnitudes. */
static void test_format_sweep(void **state)
{
    (void)state;
    int64_t p = 1;
    for (int k = 0; k <= 18; k++) {
        for (int64_t d = -1; d <= 1; d++) {
            check_format(p + d);
            check_format(-(p + d));
        }
        if (k < 18)
            p *= 10;
    }
    for (int k = 0; k < 63; k++) {
        int64_t q = (int64_t)1 << k;
        check_format(q);
        check_format(q - 1);
        check_format(-q);
        check_format(-q + 1);
    }
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        check_format((int64_t)(x >> (i % 64))); /* small and large magnitudes */
        check_format((int64_t)x);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_format_extremes),
        cmocka_unit_test(test_format_sweep),
    };
    return cmocka_run_group_tests_name("num", tests, NULL, NULL);
}
