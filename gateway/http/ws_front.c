#include "ws_front.h"

#include <stdlib.h>
#include <sys/ioctl.h>
#include <string.h>

#include "clock.h"
#include "health.h"
#include "http_access.h"
#include "http_reply.h"
#include "http_request_rules.h"
#include "json_codec.h"
#include "log.h"
#include "lws_env.h"
#include "metrics.h"
#include "origin.h"
#include "service.h"
#include "ws_frame.h"

/* Answer frames leave in batches of up to this many bytes, one write each;
 * one batch per writable callback, so that one busy socket does not keep the
 * others waiting. Below the protocol's tx_packet_size, which lws would split. */
#define BATCH_BYTES 16384
/* How often a cancelled socket tries to write its Close again. */
#define CANCEL_RETRY_US 2000


/* RFC 6455 4.2.1: a GET, version 13, and a key of 16 base64-encoded bytes.
 * Returns why not, or NULL. */
static const char *bad_handshake(struct lws *wsi, int method, const char *upgrade)
{
    if (!upgrade || strcasecmp(upgrade, "websocket") != 0) /* RFC 6455 4.2.1: any case */
        return "only a WebSocket upgrade is served here";
    if (method != LWSHUMETH_GET)
        return "a WebSocket handshake is a GET";
    char key[32];
    int n = lws_hdr_copy(wsi, key, sizeof(key), WSI_TOKEN_KEY);
    if (n != 24 || strcmp(key + 22, "==") != 0 ||
        strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") != 22)
        return "Sec-WebSocket-Key must be 16 bytes in base64";
    return NULL;
}

static bool version_13(struct lws *wsi)
{
    char version[8];
    return lws_hdr_copy(wsi, version, sizeof(version), WSI_TOKEN_VERSION) == 2 &&
           strcmp(version, "13") == 0;
}

int pf_ws_confirm_upgrade(struct lws *wsi, const char *upgrade)
{
    char *uri;
    int uri_len;
    int method = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
    int rc = pf_http_check_request(wsi);
    if (rc)
        return rc;
    if (method < 0 || uri_len != (int)strlen(PF_STREAM_PATH) || memcmp(uri, PF_STREAM_PATH, (size_t)uri_len) != 0)
        return pf_http_refuse(wsi, HTTP_STATUS_NOT_FOUND, "no WebSocket here: use " PF_STREAM_PATH);
    const char *bad = bad_handshake(wsi, method, upgrade);
    if (bad)
        return pf_http_refuse(wsi, HTTP_STATUS_BAD_REQUEST, bad);
    if (!version_13(wsi))
        return pf_http_refuse_with(wsi, 426, "this server speaks WebSocket version 13",
                                   "sec-websocket-version: 13");
    if (pf_health_draining())
        return pf_http_refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "server is shutting down");

    char origin[512], host[512];
    const char *origin_p = NULL, *host_p = NULL;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0) {
        if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) < 0)
            return pf_http_refuse(wsi, HTTP_STATUS_FORBIDDEN, "origin not allowed");
        origin_p = origin;
    }
    if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) > 0)
        host_p = host;
    const struct pf_config *cfg = pf_lws_env(wsi)->cfg;
    if (!pf_origin_allowed(origin_p, host_p, lws_is_ssl(wsi), cfg->allow_origins,
                           cfg->n_allow_origins)) {
        pf_info("ws: refused upgrade from origin %.100s", origin);
        return pf_http_refuse(wsi, HTTP_STATUS_FORBIDDEN, "origin not allowed (see --allow-origin)");
    }
    return 0;
}

/* Sends the Close the session's state gives (CLOSING): the caller returns -1. */
static int close_now(struct lws *wsi, const struct pf_ws_session *s)
{
    lws_close_reason(wsi, (enum lws_close_status)s->fsm.close_code,
                     (unsigned char *)s->fsm.close_why, strlen(s->fsm.close_why));
    return -1;
}

/* From RECEIVE, the stream fails in a later WRITEABLE, not at once: a -1
 * from RECEIVE leaves the rest of lws's read buffer unparsed, lws goes on
 * reading the socket from the middle of a frame, and the garbage "frame"
 * that follows has it drop the connection without the Close
 * (roles/h1/ops-h1.c lws_read_h1 "bail"; core-net/close.c: a second close
 * in LRS_WAITING_TO_SEND_CLOSE is just_kill_connection). Until then, the
 * answers owed go out and what the client still sends is dropped. */
static int fail_stream(struct lws *wsi, struct pf_ws_session *s, enum pf_ws_event failure)
{
    if (pf_ws_takes_numbers(&s->fsm))
        pf_metrics_stream_error(PF_FRONT_WEBSOCKET);
    pf_ws_to(&s->fsm, failure);
    pf_bytes_free(&s->msg);
    lws_callback_on_writable(wsi);
    return 0;
}

/* On the service thread: a worker finished one of its numbers. */
static void on_wake(struct pf_lws_waker *w)
{
    lws_callback_on_writable(PF_CONTAINER_OF(w, struct pf_ws_session, waker)->wsi);
}

/* The stream is made at the first number, not at ESTABLISHED: most sockets
 * sit idle, and each byte of an idle one counts 10,000 times. */
static int make_stream(struct lws *wsi, struct pf_ws_session *s)
{
    struct pf_lws_env *env = pf_lws_env(wsi);
    return pf_stream_new(env->cfg->max_pending, env->sched, pf_lws_wake, &s->waker, &s->stream);
}

/* Numbers taken and not yet answered (none before the first). */
static size_t pending(const struct pf_ws_session *s)
{
    return s->stream ? pf_stream_pending(s->stream) : 0;
}

static int on_established(struct lws *wsi, struct pf_ws_session *s)
{
    struct pf_lws_env *env = pf_lws_env(wsi);
    memset(s, 0, sizeof(*s));
    s->wsi = wsi;
    s->start_ns = pf_now_ns();
    pf_lws_waker_init(&s->waker, &env->wakes, on_wake);
    pf_list_append(&env->ws_sessions, &s->link);
    env->open_streams++;
    pf_metrics_streams(PF_FRONT_WEBSOCKET, 1);
    if (pf_health_draining()) { /* the drain started between the upgrade and now */
        pf_ws_to(&s->fsm, PF_WS_DRAIN);
        lws_callback_on_writable(wsi);
    }
    return 0;
}

/* The close code of a session that ends: the client's Close, else the one
 * pfgate sent, else 1006 (the connection went without a Close). */
static int close_code(const struct pf_ws_session *s)
{
    if (s->peer_code)
        return s->peer_code;
    if (s->fsm.state == PF_WS_CLOSING && s->fsm.close_code)
        return s->fsm.close_code;
    return LWS_CLOSE_STATUS_ABNORMAL_CLOSE;
}

static void log_session(struct lws *wsi, const struct pf_ws_session *s)
{
    struct pf_stream_counts counts = { 0, 0, 0 };
    pf_stream_counts(s->stream, &counts);
    struct pf_http_access a = { .front = PF_ACCESS_WS, .status = close_code(s),
                                .path = PF_STREAM_PATH, .counts = &counts,
                                .bytes_in = (int64_t)s->bytes_in,
                                .bytes_out = (int64_t)s->bytes_out, .start_ns = s->start_ns };
    pf_http_access_log(wsi, &a);
}

static void on_closed(struct lws *wsi, struct pf_ws_session *s)
{
    struct pf_lws_env *env = pf_lws_env(wsi);
    if (pf_list_linked(&s->link)) {
        log_session(wsi, s);
        pf_list_remove(&s->link);
        env->open_streams--;
        pf_metrics_streams(PF_FRONT_WEBSOCKET, -1);
    }
    pf_stream_free(s->stream); /* no wake after this */
    pf_lws_waker_forget(&s->waker);
    pf_bytes_free(&s->msg);
    memset(s, 0, sizeof(*s));
}

/* Returns 0, or the failure: the message is over max, or out of memory. */
static int append_fragment(struct pf_ws_session *s, const char *in, size_t len, size_t max,
                           enum pf_ws_event *failure)
{
    *failure = PF_WS_TOO_LARGE;
    if (len > max || s->msg.len > max - len)
        return -1;
    *failure = PF_WS_OUT_OF_MEMORY;
    return pf_bytes_append(&s->msg, in, len, 64) < 0 ? -1 : 0;
}

static void pause_rx(struct lws *wsi, struct pf_ws_session *s)
{
    if (!s->rx_paused) {
        s->rx_paused = true;
        lws_rx_flow_control(wsi, 0);
    }
}

static void resume_rx(struct lws *wsi, struct pf_ws_session *s)
{
    if (s->rx_paused) {
        s->rx_paused = false;
        lws_rx_flow_control(wsi, 1);
    }
}

/* --max-pending numbers are held unanswered, or the workers have enough of
 * them: reading waits for answers. */
static bool stream_full(struct pf_ws_session *s)
{
    return s->stream && !pf_stream_want_read(s->stream);
}

static int on_receive(struct lws *wsi, struct pf_ws_session *s, const char *in, size_t len)
{
    const struct pf_config *cfg = pf_lws_env(wsi)->cfg;
    s->bytes_in += len;
    pf_ws_to(&s->fsm, PF_WS_FRAME);
    if (!pf_ws_takes_numbers(&s->fsm))
        return 0; /* after {"end":true}, a failure or the drain deadline */
    if (lws_frame_is_binary(wsi))
        return fail_stream(wsi, s, PF_WS_BINARY);
    enum pf_ws_event failure;
    if (append_fragment(s, in, len, cfg->max_frame, &failure) < 0)
        return fail_stream(wsi, s, failure);
    if (!lws_is_final_fragment(wsi))
        return 0;

    size_t n = s->msg.len;
    const char *msg = n ? s->msg.data : ""; /* an empty message may have no buffer */
    s->msg.len = 0;
    int end = pf_json_is_end(msg, n);
    if (end < 0)
        return fail_stream(wsi, s, PF_WS_OUT_OF_MEMORY);
    if (end) {
        pf_ws_to(&s->fsm, PF_WS_END);
    } else {
        pf_request req;
        pf_json_decode_request(msg, n, &req);
        if (req.err == PF_ENOMEM) /* no answer of its own: the stream's failure */
            return fail_stream(wsi, s, PF_WS_OUT_OF_MEMORY);
        req.stamp = pf_now_ns();
        pf_metrics_request(PF_FRONT_WEBSOCKET);
        if (!s->stream && make_stream(wsi, s) < 0)
            return fail_stream(wsi, s, PF_WS_OUT_OF_MEMORY);
        int rc = pf_stream_push(s->stream, &req);
        if (rc < 0)
            return fail_stream(wsi, s, pf_ws_push_failure(rc));
    }
    if (stream_full(s))
        pause_rx(wsi, s);
    lws_callback_on_writable(wsi);
    return 0;
}

/* Input the kernel holds for this socket that lws has not read yet. */
static bool unread_input(struct lws *wsi)
{
    int n = 0;
    return ioctl(lws_get_socket_fd(wsi), FIONREAD, &n) == 0 && n > 0;
}

/* Pops answers into frames packed in one buffer, and writes it; `now`:
 * answers not yet factored are factored here (pf_stream_pop_now). */
static int write_batch(struct lws *wsi, struct pf_ws_session *s, bool now)
{
    unsigned char buf[LWS_PRE + BATCH_BYTES];
    unsigned char *start = buf + LWS_PRE, *p = start;
    const unsigned char *end = start + BATCH_BYTES;
    pf_response r;
    while (s->stream && end - p >= PF_WS_FRAME_HEADER_MAX + PF_JSON_RESPONSE_MAX &&
           (now ? pf_stream_pop_now : pf_stream_pop)(s->stream, &r) == 0) {
        char json[PF_JSON_RESPONSE_MAX];
        size_t n = pf_json_encode_response(&r, json);
        p += pf_ws_text_frame_header(p, n);
        memcpy(p, json, n);
        p += n;
        pf_metrics_answer(PF_FRONT_WEBSOCKET, &r);
    }
    size_t len = (size_t)(p - start);
    s->bytes_out += len;
    /* Whatever the socket does not take now, lws keeps and sends first. */
    return len > 0 && lws_write(wsi, start, len, LWS_WRITE_RAW) < 0 ? -1 : 0;
}

/* After the drain deadline: the Close as soon as lws holds nothing (what it
 * holds goes first, or the reader would get a bare TCP close), answered or not. */
static int write_cancelled(struct lws *wsi, struct pf_ws_session *s)
{
    if (lws_partial_buffered(wsi)) {
        pause_rx(wsi, s); /* see on_writeable() */
        lws_callback_on_writable(wsi);
        return 0;
    }
    /* A socket closed with unread input is reset, and the reset would
     * destroy the Close: let lws read (and drop) it first. */
    resume_rx(wsi, s);
    if (unread_input(wsi))
        return 0; /* the timer tries again */
    pf_ws_to(&s->fsm, PF_WS_WRITTEN);
    return close_now(wsi, s);
}

static int on_writeable(struct lws *wsi, struct pf_ws_session *s)
{
    if (s->fsm.state == PF_WS_CANCELLED)
        return write_cancelled(wsi, s);
    if (s->fsm.state == PF_WS_CLOSING)
        return 0; /* lws is closing it */
    if (write_batch(wsi, s, false) < 0)
        return -1;
    if (lws_partial_buffered(wsi)) {
        /* lws closes hard if it parses a Close while a write is partly
         * sent: read on only once the socket has taken everything. */
        pause_rx(wsi, s);
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (pending(s) > 0) {
        if (!stream_full(s))
            resume_rx(wsi, s);
        if (pf_stream_answer_ready(s->stream))
            lws_callback_on_writable(wsi); /* else the wake asks for it */
        return 0;
    }
    switch (pf_ws_to(&s->fsm, PF_WS_ANSWERED)) {
    case PF_WS_CLOSING:
        return close_now(wsi, s);
    case PF_WS_DRAINING:
        /* Numbers sent before the signal may still be on their way: read on
         * until the client is quiet, then close (on_timer). */
        resume_rx(wsi, s);
        lws_set_timer_usecs(wsi, PF_DRAIN_QUIET_NS / 1000);
        return 0;
    default:
        resume_rx(wsi, s);
        return 0;
    }
}

/* The client's Close: lws replies to it once this returns, and accepts no
 * answer after, so every number read before it is answered now, those the
 * workers have not taken factored here: at most --max-queued-per-stream
 * (the stream stops reading at that many), about a millisecond's work. */
static int on_peer_close(struct lws *wsi, struct pf_ws_session *s, const unsigned char *in,
                         size_t len)
{
    s->peer_code = len >= 2 ? (unsigned short)(in[0] << 8 | in[1])
                            : LWS_CLOSE_STATUS_NO_STATUS;
    bool cancelled = s->fsm.state == PF_WS_CANCELLED;
    pf_ws_to(&s->fsm, PF_WS_PEER_CLOSE);
    if (cancelled)
        return 0;
    while (pending(s) > 0)
        if (write_batch(wsi, s, true) < 0)
            return -1;
    return 0;
}

static void on_timer(struct lws *wsi, struct pf_ws_session *s)
{
    /* After the deadline, what lws holds goes out pushed (pf_ws_push_cancelled),
     * the Close included once it is on its way. */
    if (s->fsm.state == PF_WS_CANCELLED || s->fsm.state == PF_WS_CLOSING) {
        s->push_due = true;
        lws_callback_on_writable(wsi);
        lws_set_timer_usecs(wsi, CANCEL_RETRY_US);
        return;
    }
    /* Not quiet: the next write re-arms the timer. */
    if (pf_ws_to(&s->fsm, PF_WS_QUIET) == PF_WS_DRAIN_QUIET)
        lws_callback_on_writable(wsi);
}

int pf_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, struct pf_ws_session *s,
                   void *in, size_t len)
{
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED: return on_established(wsi, s);
    case LWS_CALLBACK_RECEIVE: return on_receive(wsi, s, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE: return on_writeable(wsi, s);
    case LWS_CALLBACK_CLOSED: on_closed(wsi, s); return 0;
    case LWS_CALLBACK_TIMER: on_timer(wsi, s); return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: return on_peer_close(wsi, s, in, len);
    default: return 0;
    }
}

void pf_ws_drain_all(struct lws_context *ctx)
{
    struct pf_lws_env *env = pf_lws_env_of(ctx);
    struct pf_list *node, *tmp;
    pf_list_for_each(node, tmp, &env->ws_sessions) {
        struct pf_ws_session *s = PF_CONTAINER_OF(node, struct pf_ws_session, link);
        pf_ws_to(&s->fsm, PF_WS_DRAIN);
        lws_callback_on_writable(s->wsi);
    }
}

void pf_ws_cancel_all(struct lws_context *ctx)
{
    struct pf_lws_env *env = pf_lws_env_of(ctx);
    struct pf_list *node, *tmp;
    pf_list_for_each(node, tmp, &env->ws_sessions) {
        struct pf_ws_session *s = PF_CONTAINER_OF(node, struct pf_ws_session, link);
        pf_ws_to(&s->fsm, PF_WS_CANCEL);
        /* Read on (and drop) what the client sent; see write_cancelled(). */
        if (!lws_partial_buffered(s->wsi))
            resume_rx(s->wsi, s);
        lws_callback_on_writable(s->wsi);
        lws_set_timer_usecs(s->wsi, CANCEL_RETRY_US);
    }
}

void pf_ws_push_cancelled(struct lws_context *ctx)
{
    struct pf_lws_env *env = pf_lws_env_of(ctx);
    struct pf_list *node, *tmp;
    pf_list_for_each(node, tmp, &env->ws_sessions) {
        struct pf_ws_session *s = PF_CONTAINER_OF(node, struct pf_ws_session, link);
        int fd = lws_get_socket_fd(s->wsi);
        if (!s->push_due || fd < 0)
            continue;
        s->push_due = false;
        struct lws_pollfd pfd = { .fd = fd, .events = LWS_POLLOUT, .revents = LWS_POLLOUT };
        lws_service_fd(ctx, &pfd); /* may close the socket and free s */
    }
}
