/* The WebSocket front end: primefactor.Factors/PrimeFactors as JSON text
 * frames. Runs on the lws service thread. */
#ifndef PF_WS_FRONT_H
#define PF_WS_FRONT_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "list.h"
#include "lws_wake.h"
#include "stream.h"
#include "ws_session.h"

struct pf_ws_session {
    struct lws *wsi;
    struct pf_list link; /* in pf_lws_env.ws_sessions */
    pf_stream *stream; /* NULL until the first number (ws_front.c make_stream) */
    struct pf_lws_waker waker; /* a worker finished one of its numbers */
    struct pf_bytes msg; /* the message being assembled from its fragments */
    struct pf_ws_fsm fsm;
    bool rx_paused; /* lws's flow control: reading waits for answers to leave */
    bool push_due;  /* cancelled, and its timer says: try to write again */
    unsigned short peer_code; /* the client's Close code (1005: none in it), 0: no Close came */
    /* For the access log: */
    uint64_t start_ns;
    uint64_t bytes_in, bytes_out; /* message bytes read, frame bytes written */
};

/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE (upgrade is the protocol asked for):
 * refuses other paths (404), handshakes RFC 6455 does not allow (400, 426
 * for another version), foreign origins (403) and upgrades while draining
 * (503). 0 accepts. */
int pf_ws_confirm_upgrade(struct lws *wsi, const char *upgrade);

/* The WebSocket callback reasons; the same return convention as lws. */
int pf_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, struct pf_ws_session *s,
                   void *in, size_t len);

/* On the service thread, once the drain starts: every socket answers what it
 * holds and closes with 1001. */
void pf_ws_drain_all(struct lws_context *ctx);

/* Once the drain deadline has passed: every socket closes with 1001 as soon
 * as it can write, answered or not. */
void pf_ws_cancel_all(struct lws_context *ctx);

/* After each service pass once the deadline has passed: hands every
 * cancelled socket whose timer is due to lws as writable, so that what lws
 * holds for it and its Close go out as soon as the kernel takes any byte.
 * Linux reports a TCP socket writable only once a third of its send buffer
 * is free, which a slow reader behind megabytes of answers may not reach
 * before the process exits; lws writes nothing until then, and the reader
 * would get a bare TCP close. */
void pf_ws_push_cancelled(struct lws_context *ctx);

#endif
