/* Short, complete HTTP replies: headers with a Content-Length, then the body. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_codec.h"
#include "log.h"
#include "lws_env.h"

int pf_http_reply_start(struct lws *wsi, struct pf_http_reply *r, unsigned status,
                        const char *content_type, const char *body, size_t len)
{
    unsigned char headers[LWS_PRE + 512];
    unsigned char *start = headers + LWS_PRE, *p = start, *end = headers + sizeof(headers) - 1;
    static const char no_store[] = "no-store";

    pf_http_reply_free(r);
    /* lws_write needs LWS_PRE bytes of headroom before what it sends. */
    r->body = malloc(LWS_PRE + len + 1);
    if (!r->body)
        return -1;
    memcpy(r->body + LWS_PRE, body, len);
    r->len = len;

    if (lws_add_http_common_headers(wsi, status, content_type, len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)no_store, sizeof(no_store) - 1, &p,
                                     end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

int pf_http_reply_write(struct lws *wsi, struct pf_http_reply *r)
{
    if (!r->body)
        return 0;
    int n = lws_write(wsi, (unsigned char *)r->body + LWS_PRE, r->len, LWS_WRITE_HTTP_FINAL);
    pf_http_reply_free(r);
    if (n < 0)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

void pf_http_reply_free(struct pf_http_reply *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

static const char *reason_phrase(unsigned status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 426: return "Upgrade Required";
    case 503: return "Service Unavailable";
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
    unsigned char buf[LWS_PRE + 1024];
    char *text = (char *)buf + LWS_PRE;
    int n = snprintf(text, sizeof(buf) - LWS_PRE,
                     "HTTP/1.1 %u %s\r\ncontent-type: application/json\r\n"
                     "content-length: %zu\r\ncache-control: no-store\r\n"
                     "%s%sconnection: close\r\n\r\n%s",
                     status, reason_phrase(status), body ? strlen(body) : 0, header ? header : "",
                     header ? "\r\n" : "", body ? body : "");
    free(body);
    pf_debug("http: refused with %u: %s", status, why);
    if (n > 0 && (size_t)n < sizeof(buf) - LWS_PRE)
        lws_write(wsi, (unsigned char *)text, (size_t)n, LWS_WRITE_RAW);
    return 1;
}
