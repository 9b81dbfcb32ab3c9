/* Static files from --web-root, answered whole in one write.
 *
 * lws 4.1.6 sends a file from its mount in pieces, each when the socket is
 * writable; a client that half-closes after its request loses the rest,
 * because lws reads the EOF and closes first (roles/h1/ops-h1.c,
 * lws_h1_server_socket_service: "read 0 len" -> fail), and it stops
 * answering requests pipelined behind a file. pfgate reads the file and
 * writes it whole instead; lws keeps what the socket does not take and
 * sends it before it closes. */
#ifndef PF_HTTP_STATIC_H
#define PF_HTTP_STATIC_H

#include <libwebsockets.h>
#include <stdbool.h>

/* Files up to this size are read whole; larger ones lws serves itself. Each
 * connection may hold one such file in lws's output buffer until its client
 * reads it (at most 5 s after a close), so the bound is per connection. */
#define PF_STATIC_FILE_MAX (64 << 10)

/* Answers a GET or HEAD of a static file on wsi, if the file exists and is
 * no larger than PF_STATIC_FILE_MAX. `close` ends the connection after it
 * (from LWS_CALLBACK_FILTER_HTTP_CONNECTION, which cannot end the
 * transaction); else the transaction ends and the connection stays.
 * Returns 0 when it did not answer (no such file, or too large: lws then
 * serves the file or hands pfgate the miss), else what the callback must
 * return. */
int pf_http_static_serve(struct lws *wsi, bool close);

#endif
