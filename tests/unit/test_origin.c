/* Unit tests for gateway/http/origin.c: which Origin may open a WebSocket
 * (SPEC.md, "The WebSocket session", Origin). One table: origin, Host header,
 * TLS, --allow-origin list, verdict. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "origin.h"

#define MAX_ALLOW 3

struct origin_case {
    const char *origin; /* NULL: no Origin header */
    const char *host;   /* NULL: no Host header */
    bool tls;
    const char *allow[MAX_ALLOW]; /* NULL-terminated --allow-origin list */
    bool allowed;
};

#define NONE {NULL}
#define APP {"https://app.example.com"}
#define APP_SLASH {"https://app.example.com/"}
#define A_AND_B {"https://a.example", "https://b.example"}

static const struct origin_case cases[] = {
    /* No Origin: not a browser (websocat, scripts). */
    {NULL, "localhost:8080", false, NONE, true},
    {NULL, NULL, false, NONE, true},
    {NULL, "localhost:8080", true, APP, true},

    /* Same host:port as the Host header. */
    {"http://localhost:8080", "localhost:8080", false, NONE, true},
    {"http://LOCALHOST:8080", "localhost:8080", false, NONE, true},
    {"HTTP://localhost:8080", "LocalHost:8080", false, NONE, true},
    {"http://127.0.0.1:8080", "127.0.0.1:8080", false, NONE, true},
    {"http://localhost:8080/", "localhost:8080", false, NONE, true},
    {"http://localhost:65535", "localhost:65535", false, NONE, true},
    /* Default ports from the schemes: 80 for http, 443 for https. */
    {"http://localhost", "localhost:80", false, NONE, true},
    {"http://localhost", "localhost", false, NONE, true},
    {"http://localhost:80", "localhost", false, NONE, true},
    {"https://example.com", "example.com", true, NONE, true},
    {"https://example.com", "example.com:443", true, NONE, true},
    {"https://example.com:443", "example.com", true, NONE, true},
    {"https://example.com", "example.com", false, NONE, false}, /* 443 vs 80 */
    {"http://example.com", "example.com", true, NONE, false},   /* 80 vs 443 */
    {"http://localhost", "localhost:8080", false, NONE, false},
    {"http://localhost:8080", "localhost", false, NONE, false},
    /* IPv6 literals. */
    {"http://[::1]:8080", "[::1]:8080", false, NONE, true},
    {"http://[::1]", "[::1]", false, NONE, true},
    {"http://[::1]", "[::1]:80", false, NONE, true},
    {"https://[2001:db8::1]", "[2001:db8::1]", true, NONE, true},
    {"http://[::1]:8080", "[::2]:8080", false, NONE, false},
    {"http://[::1]:8081", "[::1]:8080", false, NONE, false},
    {"http://[::1]:8080", "localhost:8080", false, NONE, false},

    /* Another site, or another port of this one. */
    {"http://evil.example", "localhost:8080", false, NONE, false},
    {"http://evil.example:8080", "localhost:8080", false, NONE, false},
    {"http://localhost:8081", "localhost:8080", false, NONE, false},
    {"http://localhost.evil.example:8080", "localhost:8080", false, NONE, false},
    {"http://evil.example/localhost:8080", "localhost:8080", false, NONE, false},
    {"http://localhost:8080@evil.example", "localhost:8080", false, NONE, false},
    {"http://evil.example#localhost:8080", "localhost:8080", false, NONE, false},
    {"http://localhost:8080", NULL, false, NONE, false},
    /* Opaque and other schemes. */
    {"null", "localhost:8080", false, NONE, false},
    {"file://", "localhost:8080", false, NONE, false},
    {"file:///home/u/page.html", "localhost:8080", false, NONE, false},
    {"ws://localhost:8080", "localhost:8080", false, NONE, false},
    {"localhost:8080", "localhost:8080", false, NONE, false},
    {"", "localhost:8080", false, NONE, false},
    /* Malformed: no host, bad ports. */
    {"http://", "localhost:8080", false, NONE, false},
    {"http://:8080", ":8080", false, NONE, false},
    {"http://:8080", "localhost:8080", false, NONE, false},
    {"http://localhost:", "localhost:80", false, NONE, false},
    {"http://localhost:", "localhost:", false, NONE, false},
    {"http://localhost:65536", "localhost:65536", false, NONE, false},
    {"http://localhost:65536", "localhost:0", false, NONE, false},
    {"http://localhost:99999", "localhost:34463", false, NONE, false}, /* 99999 mod 2^16 */
    {"http://localhost:4294967376", "localhost:80", false, NONE, false}, /* 2^32 + 80 */
    {"http://localhost:8o80", "localhost:8o80", false, NONE, false},
    {"http://localhost:80a", "localhost:80", false, NONE, false},
    {"http://localhost:-80", "localhost:80", false, NONE, false},
    {"http://[::1", "[::1", false, NONE, false},
    {"http://[::1]x", "[::1]", false, NONE, false},
    {"http://[::1]x80", "[::1]:80", false, NONE, false},
    {"http://[::1]:", "[::1]:80", false, NONE, false},

    /* --allow-origin: the whole origin, case-insensitive, a trailing slash
     * on either side ignored; a prefix is not a match. */
    {"https://app.example.com", "localhost:8080", false, APP, true},
    {"https://app.example.com/", "localhost:8080", false, APP, true},
    {"https://app.example.com", "localhost:8080", false, APP_SLASH, true},
    {"https://app.example.com/", "localhost:8080", false, APP_SLASH, true},
    {"HTTPS://APP.EXAMPLE.COM", "localhost:8080", false, APP, true},
    {"https://app.example.com", NULL, false, APP, true},
    {"https://app.example.com.evil", "localhost:8080", false, APP, false},
    {"https://app.example.com.evil", "localhost:8080", false, APP_SLASH, false},
    {"https://app.example.co", "localhost:8080", false, APP, false},
    {"https://app.example.com:8443", "localhost:8080", false, APP, false},
    {"http://app.example.com", "localhost:8080", false, APP, false},
    {"https://app.example.com/x", "localhost:8080", false, APP, false},
    {"https://app.example.com//", "localhost:8080", false, APP, false},
    {"https://evil.example", "localhost:8080", false, APP, false},
    /* The list does not replace the same-origin rule. */
    {"http://localhost:8080", "localhost:8080", false, APP, true},
    /* Several entries. */
    {"https://b.example", "localhost:8080", false, A_AND_B, true},
    {"https://c.example", "localhost:8080", false, A_AND_B, false},
    /* "*" allows anything, anywhere in the list. */
    {"http://evil.example", "localhost:8080", false, {"*"}, true},
    {"null", "localhost:8080", false, {"*"}, true},
    {"http://", NULL, false, {"*"}, true},
    {"http://evil.example", "localhost:8080", false, {"https://a.example", "*"}, true},
};

static int count_allow(const struct origin_case *c)
{
    int n = 0;
    while (n < MAX_ALLOW && c->allow[n])
        n++;
    return n;
}

/* Copies a string to a heap block of exactly its size, so that ASan sees
 * a read past its terminator. */
static char *dup_or_null(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    assert_non_null(copy);
    memcpy(copy, s, n);
    return copy;
}

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct origin_case *c = &cases[i];
        int n = count_allow(c);
        char *origin = dup_or_null(c->origin), *host = dup_or_null(c->host);
        char *allow[MAX_ALLOW] = {NULL};
        for (int k = 0; k < n; k++)
            allow[k] = dup_or_null(c->allow[k]);
        bool got = pf_origin_allowed(origin, host, c->tls, (const char *const *)allow, n);
        if (got != c->allowed)
            fail_msg("case %zu: origin %s, host %s, tls %d, %d allowed (%s%s): got %s, want %s", i,
                     c->origin ? c->origin : "(none)", c->host ? c->host : "(none)", c->tls, n,
                     n ? c->allow[0] : "", n > 1 ? ", ..." : "", got ? "allowed" : "refused",
                     c->allowed ? "allowed" : "refused");
        free(origin);
        free(host);
        for (int k = 0; k < n; k++)
            free(allow[k]);
    }
}

/* An empty list may come as NULL. */
static void test_null_list(void **state)
{
    (void)state;
    assert_true(pf_origin_allowed("http://localhost:8080", "localhost:8080", false, NULL, 0));
    assert_false(pf_origin_allowed("http://evil.example", "localhost:8080", false, NULL, 0));
    assert_true(pf_origin_allowed(NULL, "localhost:8080", false, NULL, 0));
}

/* A host name longer than any real one is refused, not overflowed. */
static void test_long_host(void **state)
{
    (void)state;
    enum { LEN = 1000 };
    char *origin = malloc(7 + LEN + 1), *host = malloc(LEN + 1);
    assert_non_null(origin);
    assert_non_null(host);
    memcpy(origin, "http://", 7);
    memset(origin + 7, 'a', LEN);
    origin[7 + LEN] = '\0';
    memset(host, 'a', LEN);
    host[LEN] = '\0';
    assert_false(pf_origin_allowed(origin, host, false, NULL, 0));
    /* The longest DNS name (253) still works. */
    origin[7 + 253] = '\0';
    host[253] = '\0';
    assert_true(pf_origin_allowed(origin, host, false, NULL, 0));
    free(origin);
    free(host);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_null_list),
        cmocka_unit_test(test_long_host),
    };
    return cmocka_run_group_tests_name("origin", tests, NULL, NULL);
}
