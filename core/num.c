#include "num.h"

#include <stdbool.h>

#include "pf.h"

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A number-like text with '.', 'e' or 'E' ("3.5", "1e3") is a fraction or
 * exponent error rather than "not a number", which tells the user more. */
static int classify_bad(const char *s, size_t len)
{
    bool digits = false, frac = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (is_digit(c))
            digits = true;
        else if (c == '.' || c == 'e' || c == 'E')
            frac = true;
        else if (!((c == '-' || c == '+') && (i == 0 || s[i - 1] == 'e' || s[i - 1] == 'E')))
            return PF_ENOTNUM;
    }
    return digits && frac ? PF_EFRACTION : PF_ENOTNUM;
}

int pf_parse_i64(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    bool neg = len > 0 && s[0] == '-';
    if (neg)
        i = 1;
    if (i == len)
        return PF_ENOTNUM;
    /* Accumulate the magnitude as unsigned so that INT64_MIN parses. */
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    bool overflow = false;
    for (; i < len; i++) {
        if (!is_digit(s[i]))
            return classify_bad(s, len);
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10)
            overflow = true; /* keep scanning: "99999999999999999999x" is not a number */
        else
            v = v * 10 + d;
    }
    if (overflow)
        return PF_ERANGE;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return PF_OK;
}

size_t pf_format_i64(int64_t v, char buf[20])
{
    char tmp[20];
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t len = 0;
    if (v < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    return len;
}
