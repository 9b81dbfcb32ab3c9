/* The access log's line of a libwebsockets stream or request: the peer and,
 * unless given, the path from its wsi (on the lws service thread). */
#ifndef PF_HTTP_ACCESS_H
#define PF_HTTP_ACCESS_H

#include <libwebsockets.h>
#include <stdint.h>

#include "access_log.h"
#include "stream.h"

struct pf_http_access {
    enum pf_access_front front;
    int status;
    const char *path;                     /* NULL: the request's own */
    const struct pf_stream_counts *counts; /* NULL: none */
    int64_t bytes_in, bytes_out;          /* -1: unknown */
    uint64_t start_ns;                    /* 0: the request's head (pf_lws_env) */
};

/* Writes a's line for wsi, when the access log is on. */
void pf_http_access_log(struct lws *wsi, const struct pf_http_access *a);

#endif
