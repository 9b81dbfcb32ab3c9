/* libFuzzer: the strict number parser against an oracle (strtoll on the
 * same text when it has the strict shape: optional '-' and digits). */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "num.h"
#include "pf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool strict_shape(const char *s, size_t n)
{
    size_t i = n > 0 && s[0] == '-';
    if (i == n)
        return false;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64)
        return 0;
    char text[65];
    memcpy(text, data, size);
    text[size] = '\0';
    int64_t v = 7;
    int rc = pf_parse_i64((const char *)data, size, &v);
    if (!strict_shape(text, size)) {
        assert(rc != PF_OK && v == 7);
        return 0;
    }
    errno = 0;
    long long want = strtoll(text, NULL, 10);
    if (errno == ERANGE) {
        assert(rc == PF_ERANGE);
        return 0;
    }
    assert(rc == PF_OK && v == want);
    char back[20];
    size_t n = pf_format_i64(v, back);
    assert(n <= 20);
    int64_t again;
    assert(pf_parse_i64(back, n, &again) == PF_OK && again == v);
    return 0;
}
