/* pf_stream: requests in, ordered answers out, bounded.
 *
 * The stream does no I/O (the shape of nghttp2's session): a front end pushes
 * decoded requests and pops answers one at a time. A number is factored when
 * its first answer is popped, so factoring runs on the front end's thread at
 * the pace the transport can send. Not thread-safe: one owner at a time. */
#ifndef PF_STREAM_H
#define PF_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "pf.h"

typedef struct pf_stream pf_stream;

/* max_pending: requests held (received, not yet fully answered) at most. */
int pf_stream_new(size_t max_pending, pf_stream **out);
void pf_stream_free(pf_stream *s); /* NULL-safe */

/* Queues one request. PF_EFULL when max_pending requests are held (the
 * request is not taken), PF_ENOMEM when the queue could not grow. */
int pf_stream_push(pf_stream *s, const pf_request *req);

/* Writes the next answer to *out. PF_EAGAIN when no request is held. */
int pf_stream_pop(pf_stream *s, pf_response *out);

/* True while another request may be pushed. */
bool pf_stream_want_read(const pf_stream *s);

/* Requests received and not yet fully answered. */
size_t pf_stream_pending(const pf_stream *s);

#endif
