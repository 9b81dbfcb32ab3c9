/* What libwebsockets 4.1.6 gets wrong or leaves out, worked around in one
 * place. Each workaround is tied to this version's code: on another version
 * the build fails here, and each one must be checked again (then kept,
 * changed or dropped) before the check is moved. */
#ifndef PF_LWS_416_H
#define PF_LWS_416_H

#include <libwebsockets.h>
#include <stdbool.h>

#if LWS_LIBRARY_VERSION_MAJOR != 4 || LWS_LIBRARY_VERSION_MINOR != 1 || \
    LWS_LIBRARY_VERSION_PATCH != 6
#error "gateway/http/lws_416.h works around libwebsockets 4.1.6: check each workaround on this version"
#endif

/* HTTP/1 with reading paused (lws_rx_flow_control(wsi, 0)): lws never
 * services POLLOUT, so HTTP_WRITEABLE never comes (the service thread spins
 * and the connection dies at its timeout). A timer drives the writes
 * instead. Asks for the next chance to write: HTTP_WRITEABLE while reading,
 * LWS_CALLBACK_TIMER while paused: at once when the socket takes more, else
 * in 1 ms (a 1 ms tick for every write capped one stream at 16 answers a
 * millisecond). */
void pf_lws416_want_write(struct lws *wsi, bool rx_paused);

/* From LWS_CALLBACK_TIMER while reading is paused: calls write(wsi, arg)
 * (1: wrote, 0: nothing to write, -1: close) while the socket takes more.
 * Returns -1 to close, 1 when something was written, else 0. The protocol's
 * tx_packet_size must hold one whole write: lws splits a larger one, and
 * cannot flush the tail while reading is paused. */
int pf_lws416_paused_write(struct lws *wsi, int (*write)(struct lws *, void *), void *arg);

/* lws cannot read a body sent with a Transfer-Encoding (chunked): it would
 * read its bytes as the next request. True for such a request, which must
 * be refused before it is served. */
bool pf_lws416_body_unreadable(struct lws *wsi);

/* lws never answers "Expect: 100-continue", and curl then waits a second
 * before it sends a large body: sends the 100 when the request asks for it.
 * Returns -1 when the write failed. */
int pf_lws416_continue(struct lws *wsi);

#endif
