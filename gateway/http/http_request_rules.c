#include "http_request_rules.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "http_reply.h"
#include "http_router.h"
#include "lws_416.h"
#include "lws_env.h"

const struct lws_token_limits *pf_http_token_limits(void)
{
    static struct lws_token_limits limits;
    if (!limits.token_limit[0])
        for (size_t i = 0; i < WSI_TOKEN_COUNT; i++)
            limits.token_limit[i] = PF_HTTP_FIELD_MAX + 1;
    return &limits;
}

/* The request-target: its path, a '?' and the query, which lws keeps apart. */
static size_t target_length(struct lws *wsi)
{
    char *path;
    int path_len;
    if (lws_http_get_uri_and_method(wsi, &path, &path_len) < 0 || path_len < 0)
        return 0;
    int query = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
    return (size_t)path_len + (query > 0 ? 1 + (size_t)query : 0);
}

static bool is_request_target(enum lws_token_indexes t)
{
    switch (t) {
    case WSI_TOKEN_GET_URI:
    case WSI_TOKEN_POST_URI:
    case WSI_TOKEN_OPTIONS_URI:
    case WSI_TOKEN_PUT_URI:
    case WSI_TOKEN_PATCH_URI:
    case WSI_TOKEN_DELETE_URI:
    case WSI_TOKEN_CONNECT:
    case WSI_TOKEN_HEAD_URI:
    case WSI_TOKEN_HTTP_COLON_PATH:
    case WSI_TOKEN_HTTP_URI_ARGS:
        return true;
    default:
        return false;
    }
}

/* lws cuts a longer field at the token limit, so a field that long was
 * longer when sent. */
static bool field_too_long(struct lws *wsi)
{
    for (int t = 0; t < WSI_TOKEN_COUNT; t++)
        if (!is_request_target((enum lws_token_indexes)t) &&
            lws_hdr_total_length(wsi, (enum lws_token_indexes)t) > PF_HTTP_FIELD_MAX)
            return true;
    return false;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 9112 2.3 and 3: the request line ends in HTTP/1.x. Without a version,
 * lws has cut the line short: a CR or LF (also %0d, %0a) inside the target. */
static unsigned version_status(struct lws *wsi)
{
    char v[16];
    if (lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_HTTP) != 8 || memcmp(v, "HTTP/", 5) != 0 ||
        !is_digit(v[5]) || v[6] != '.' || !is_digit(v[7]))
        return HTTP_STATUS_BAD_REQUEST;
    return v[5] == '1' ? 0 : 505;
}

static bool is_http11(struct lws *wsi)
{
    char v[16];
    return lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_HTTP) == 8 && strcmp(v, "HTTP/1.0") != 0;
}

/* RFC 9112 3.2: exactly one Host in HTTP/1.1 (at most one in 1.0), with a
 * value that can be a host and port (RFC 9110 4.2.1: an http URI never has
 * an empty host, so an empty Host counts as none). lws joins repeated lines
 * into one value, so a second line shows as a total longer than the first. */
static const char *bad_host(struct lws *wsi)
{
    int total = lws_hdr_total_length(wsi, WSI_TOKEN_HOST);
    if (total == 0)
        return is_http11(wsi) ? "an HTTP/1.1 request needs one Host header" : NULL;
    if (total != lws_hdr_fragment_length(wsi, WSI_TOKEN_HOST, 0))
        return "more than one Host header";
    static const char host_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789-._~%!$&'()*+,;=:[]";
    char host[300];
    if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) != total ||
        strspn(host, host_chars) != (size_t)total)
        return "malformed Host header";
    return NULL;
}

/* RFC 9112 5.1 and 5.2: whitespace between a field name and its colon, or
 * a line folded onto the one before, must be refused: a proxy in front may
 * read such a line differently, and for the fields that frame or route the
 * request that difference is request smuggling. lws takes such a line for
 * an unknown header, whose name it keeps with the whitespace. */
static bool framing_field_with_whitespace(struct lws *wsi)
{
    static const char *const names[] = { "host", "content-length", "transfer-encoding" };
    static const char *const before[] = { "", " ", "\t" };
    static const char *const after[] = { ":", " :", "\t:" };
    char probe[64];
    for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++)
        for (size_t b = 0; b < 3; b++)
            for (size_t a = b == 0 ? 1 : 0; a < 3; a++) {
                int len = snprintf(probe, sizeof(probe), "%s%s%s", before[b], names[n], after[a]);
                if (lws_hdr_custom_length(wsi, probe, len) >= 0)
                    return true;
            }
    return false;
}

/* RFC 9112 6.3: a Content-Length that is not a plain decimal is an error. */
static bool bad_content_length(struct lws *wsi)
{
    char value[32];
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    if (n <= 0)
        return false;
    if (n >= (int)sizeof(value) - 12 ||
        lws_hdr_copy(wsi, value, sizeof(value), WSI_TOKEN_HTTP_CONTENT_LENGTH) < 0)
        return true;
    for (const char *p = value; *p; p++)
        if (!is_digit(*p))
            return true;
    return false;
}

int pf_http_check_request(struct lws *wsi)
{
    if (bad_content_length(wsi))
        return pf_http_refuse(wsi, HTTP_STATUS_BAD_REQUEST, "malformed Content-Length");
    if (target_length(wsi) > PF_HTTP_FIELD_MAX)
        return pf_http_refuse(wsi, 414, "the request-target is longer than 8191 bytes");
    if (field_too_long(wsi))
        return pf_http_refuse(wsi, 431, "a header field is longer than 8191 bytes");
    if (pf_http_is_h2_stream(wsi))
        return 0; /* no request line, no Host, and lws parses its fields */
    unsigned status = version_status(wsi);
    if (status == HTTP_STATUS_BAD_REQUEST)
        return pf_http_refuse(wsi, status, "malformed request line");
    if (status)
        return pf_http_refuse(wsi, status, "pfgate speaks HTTP/1.1");
    if (framing_field_with_whitespace(wsi))
        return pf_http_refuse(wsi, HTTP_STATUS_BAD_REQUEST,
                              "whitespace before the colon of a header field");
    const char *host = bad_host(wsi);
    if (host)
        return pf_http_refuse(wsi, HTTP_STATUS_BAD_REQUEST, host);
    /* RFC 9112 6.3 lets a server refuse a body without a Content-Length. */
    if (pf_lws416_body_unreadable(wsi))
        return pf_http_refuse(wsi, HTTP_STATUS_LENGTH_REQUIRED,
                              "send a Content-Length (curl --data-binary @file)");
    return 0;
}

static enum pf_method method_of(int lws_method)
{
    switch (lws_method) {
    case LWSHUMETH_GET: return PF_METHOD_GET;
    case LWSHUMETH_HEAD: return PF_METHOD_HEAD;
    case LWSHUMETH_POST: return PF_METHOD_POST;
    default: return PF_METHOD_OTHER;
    }
}

struct pf_route_match pf_http_route_of(struct lws *wsi)
{
    char *path;
    int len;
    int method = lws_http_get_uri_and_method(wsi, &path, &len);
    return pf_http_route(method_of(method), path, len > 0 ? (size_t)len : 0);
}

int pf_http_refuse_method(struct lws *wsi, const char *allow)
{
    char why[64], header[64];
    snprintf(why, sizeof(why), "this path takes %s only", allow);
    snprintf(header, sizeof(header), "allow: %s", allow);
    return pf_http_refuse_with(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, why, header);
}

int pf_http_refuse_raw(struct lws *wsi, const char *in, size_t len)
{
    (void)in;
    if (len == 0)
        return 0; /* the fallback of plain text on the TLS port starts with no bytes */
    if (pf_lws_env(wsi)->cfg->tls_cert && !lws_is_ssl(wsi))
        return pf_http_refuse(wsi, HTTP_STATUS_BAD_REQUEST, "this port speaks HTTPS");
    return pf_http_refuse_with(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED,
                               "pfgate serves GET, HEAD and POST only",
                               "allow: " PF_HTTP_ALLOW_ANY);
}
