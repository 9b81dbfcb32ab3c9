/* Short, complete HTTP replies and refusals, for every libwebsockets front
 * end (on the lws service thread). */
#ifndef PF_HTTP_REPLY_H
#define PF_HTTP_REPLY_H

#include <libwebsockets.h>
#include <stddef.h>

/* Sends a complete reply (status, content type, body, and one more header
 * line "name: value" or NULL) from LWS_CALLBACK_HTTP in one write, and ends
 * the transaction there: lws parses a pipelined request as soon as the
 * callback returns, and closes at a half-close, so a body left for
 * HTTP_WRITEABLE would be overtaken or lost. A HEAD request gets the headers
 * only. Replies say "Cache-Control: no-store" unless `header` is a
 * Cache-Control line of its own. Returns what the callback must return (nonzero: close). */
int pf_http_reply(struct lws *wsi, unsigned status, const char *content_type, const char *body,
                  size_t len, const char *header);
/* The same with "Connection: close", for a callback that cannot end the
 * transaction (FILTER_HTTP_CONNECTION): lws closes once it is sent. */
int pf_http_reply_then_close(struct lws *wsi, unsigned status, const char *content_type,
                             const char *body, size_t len);

/* Answers a request pfgate will not serve (a refused upgrade, a limit, a
 * malformed request) with an HTTP/1.1 status, a JSON error body and
 * "Connection: close", from any point before the response has started.
 * Returns what the callback must return (nonzero: close). */
int pf_http_refuse(struct lws *wsi, unsigned status, const char *why);
/* The same with one more header line ("name: value"), or NULL. */
int pf_http_refuse_with(struct lws *wsi, unsigned status, const char *why, const char *header);

#endif
