#include "origin.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

struct authority {
    char host[256];
    unsigned port;
};

/* Splits "host[:port]" or "[v6]:port" into its parts, filling in default_port. */
static bool parse_authority(const char *text, size_t len, unsigned default_port,
                            struct authority *out)
{
    const char *end = text + len;
    const char *host_end = end;
    const char *port = NULL;
    if (len > 0 && text[0] == '[') {
        const char *close = memchr(text, ']', len);
        if (!close)
            return false;
        host_end = close + 1;
        if (host_end < end) {
            if (*host_end != ':')
                return false;
            port = host_end + 1;
        }
    } else {
        const char *colon = memchr(text, ':', len);
        if (colon) {
            host_end = colon;
            port = colon + 1;
        }
    }
    size_t host_len = (size_t)(host_end - text);
    if (host_len == 0 || host_len >= sizeof(out->host))
        return false;
    memcpy(out->host, text, host_len);
    out->host[host_len] = '\0';

    out->port = default_port;
    if (port) {
        unsigned v = 0;
        if (port == end || end - port > 5)
            return false;
        for (const char *p = port; p < end; p++) {
            if (*p < '0' || *p > '9')
                return false;
            v = v * 10 + (unsigned)(*p - '0');
        }
        if (v > 65535)
            return false;
        out->port = v;
    }
    return true;
}

static bool same_origin(const char *origin, const char *host, bool tls)
{
    unsigned origin_port;
    const char *rest;
    if (strncasecmp(origin, "http://", 7) == 0) {
        origin_port = 80;
        rest = origin + 7;
    } else if (strncasecmp(origin, "https://", 8) == 0) {
        origin_port = 443;
        rest = origin + 8;
    } else {
        return false; /* "null" (sandboxed pages, file://) and other schemes */
    }
    size_t rest_len = strlen(rest);
    if (rest_len > 0 && rest[rest_len - 1] == '/')
        rest_len--;

    struct authority a, b;
    return parse_authority(rest, rest_len, origin_port, &a) &&
           parse_authority(host, strlen(host), tls ? 443 : 80, &b) &&
           a.port == b.port && strcasecmp(a.host, b.host) == 0;
}

bool pf_origin_allowed(const char *origin, const char *host, bool tls, const char *const *allow,
                       int n_allow)
{
    if (!origin)
        return true;
    for (int i = 0; i < n_allow; i++) {
        size_t n = strlen(allow[i]);
        if (n > 0 && allow[i][n - 1] == '/')
            n--;
        if (strcmp(allow[i], "*") == 0 ||
            (strncasecmp(origin, allow[i], n) == 0 &&
             (origin[n] == '\0' || (origin[n] == '/' && origin[n + 1] == '\0'))))
            return true;
    }
    return host && same_origin(origin, host, tls);
}
