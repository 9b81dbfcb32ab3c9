/* Short, complete HTTP replies: headers with a Content-Length, then the body. */
#include "http_reply.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_access.h"
#include "json_codec.h"
#include "log.h"
#include "lws_env.h"

/* Adds "name: value" (one string, as pf_http_refuse_with() takes it). */
static int add_header_line(struct lws *wsi, const char *line, unsigned char **p,
                           unsigned char *end)
{
    const char *colon = strchr(line, ':');
    char name[64];
    if (!colon || (size_t)(colon - line) + 2 > sizeof(name))
        return -1;
    memcpy(name, line, (size_t)(colon - line) + 1);
    name[colon - line + 1] = '\0';
    const char *value = colon + 1 + strspn(colon + 1, " ");
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

/* The access log's line of a reply pfgate wrote whole (bytes: all of it);
 * a GET /v1/factors left its counts in the env. */
static void log_reply(struct lws *wsi, unsigned status, size_t bytes)
{
    struct pf_lws_env *env = pf_lws_env(wsi);
    struct pf_http_access a = { .front = PF_ACCESS_HTTP, .status = (int)status,
                                .counts = &env->reply_counts, .bytes_in = -1,
                                .bytes_out = (int64_t)bytes };
    pf_http_access_log(wsi, &a);
    env->reply_counts = (struct pf_stream_counts){ 0, 0, 0 };
    env->request_ns = 0;
}

static bool is_head_request(struct lws *wsi)
{
    return lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0;
}

/* What the response says of the connection (RFC 9112 9.3, 9.6). */
enum persistence {
    KEEP,            /* HTTP/1.1's default: nothing to say */
    CLOSE,           /* HTTP/1.0 without keep-alive, or Connection: close: lws closes */
    KEEP_ALIVE_10,   /* HTTP/1.0 keeps the connection only if the response says so */
};

static enum persistence persistence_asked(struct lws *wsi)
{
    char connection[32] = "", version[16] = "";
    lws_hdr_copy(wsi, connection, sizeof(connection), WSI_TOKEN_CONNECTION);
    lws_hdr_copy(wsi, version, sizeof(version), WSI_TOKEN_HTTP);
    if (strcasecmp(connection, "close") == 0)
        return CLOSE;
    if (strcmp(version, "HTTP/1.0") != 0)
        return KEEP;
    return strcasecmp(connection, "keep-alive") == 0 ? KEEP_ALIVE_10 : CLOSE;
}

static int write_body(struct lws *wsi, unsigned char *start, unsigned char *p, const char *body,
                      size_t body_len)
{
    if (pf_http_is_h2_stream(wsi)) {
        if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) < 0)
            return -1;
        p = start;
    }
    memcpy(p, body, body_len);
    p += body_len;
    return lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL) < 0 ? -1 : 0;
}

/* Writes the whole reply: what the socket does not take now, lws keeps and
 * sends first, also when the connection is closing. */
static int write_reply(struct lws *wsi, unsigned status, const char *content_type,
                       const char *body, size_t len, const char *header, bool close)
{
    enum { HEADERS_MAX = 512 };
    static const char no_store[] = "no-store";
    size_t body_len = is_head_request(wsi) ? 0 : len;
    /* lws_write needs LWS_PRE bytes of headroom before what it sends. */
    unsigned char *buf = malloc(LWS_PRE + HEADERS_MAX + body_len);
    if (!buf)
        return -1;
    unsigned char *start = buf + LWS_PRE, *p = start, *end = start + HEADERS_MAX - 1;
    int rc = -1;
    bool h2 = pf_http_is_h2_stream(wsi); /* its connection is not this request's to close */
    enum persistence asked = h2 ? KEEP : persistence_asked(wsi);
    bool closing = !h2 && (close || asked == CLOSE);
    bool own_cache = header && strncasecmp(header, "cache-control:", 14) == 0;
    if (lws_add_http_common_headers(wsi, status, content_type, len, &p, end) ||
        (!own_cache &&
         lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                      (const unsigned char *)no_store, sizeof(no_store) - 1, &p,
                                      end)) ||
        (header && add_header_line(wsi, header, &p, end)) ||
        (closing && add_header_line(wsi, "connection: close", &p, end)) ||
        (!closing && asked == KEEP_ALIVE_10 &&
         add_header_line(wsi, "connection: keep-alive", &p, end)) ||
        lws_finalize_http_header(wsi, &p, end))
        goto out;
    rc = write_body(wsi, start, p, body, body_len);
    log_reply(wsi, status, (size_t)(p - start) + body_len);
out:
    free(buf);
    return rc;
}

int pf_http_reply(struct lws *wsi, unsigned status, const char *content_type, const char *body,
                  size_t len, const char *header)
{
    if (write_reply(wsi, status, content_type, body, len, header, false) < 0)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int pf_http_reply_then_close(struct lws *wsi, unsigned status, const char *content_type,
                             const char *body, size_t len)
{
    write_reply(wsi, status, content_type, body, len, NULL, true);
    return 1;
}

static const char *reason_phrase(unsigned status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

int pf_http_refuse(struct lws *wsi, unsigned status, const char *why)
{
    return pf_http_refuse_with(wsi, status, why, NULL);
}

int pf_http_refuse_with(struct lws *wsi, unsigned status, const char *why, const char *header)
{
    /* Written whole, as raw bytes: lws_return_http_status() says HTTP/1.0
     * before the request is parsed, which some WebSocket clients reject. */
    char *body = pf_json_encode_error(why);
    if (!body)
        return 1; /* closed without a reply rather than a reply without its body */
    unsigned char buf[LWS_PRE + 1024];
    char *text = (char *)buf + LWS_PRE;
    int n = snprintf(text, sizeof(buf) - LWS_PRE,
                     "HTTP/1.1 %u %s\r\ncontent-type: application/json\r\n"
                     "content-length: %zu\r\ncache-control: no-store\r\n"
                     "%s%sconnection: close\r\n\r\n%s",
                     status, reason_phrase(status), strlen(body), header ? header : "",
                     header ? "\r\n" : "", body);
    free(body);
    pf_debug("http: refused with %u: %s", status, why);
    if (n > 0 && (size_t)n < sizeof(buf) - LWS_PRE) {
        lws_write(wsi, (unsigned char *)text, (size_t)n, LWS_WRITE_RAW);
        log_reply(wsi, status, (size_t)n);
    }
    return 1;
}
