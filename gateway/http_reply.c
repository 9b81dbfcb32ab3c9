/* Short, complete HTTP replies: headers with a Content-Length, then the body. */
#include <stdlib.h>
#include <string.h>

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
