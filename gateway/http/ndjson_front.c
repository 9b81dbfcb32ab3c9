#include "ndjson_front.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "clock.h"
#include "health.h"
#include "http_access.h"
#include "http_reply.h"
#include "json_codec.h"
#include "log.h"
#include "lws_416.h"
#include "lws_env.h"
#include "metrics.h"
#include "service.h"
#include "stream.h"

/* Answers gathered into one write: one syscall for ~16 KiB of lines. */
#define BATCH 16384

struct pf_ndjson_session {
    struct lws *wsi;
    struct pf_list link; /* in pf_lws_env.ndjson_sessions */
    pf_stream *stream;
    struct pf_lws_waker waker; /* a worker finished one of its numbers */
    struct pf_bytes in; /* body bytes not yet parsed into requests */
    size_t max_line;
    bool skipping;  /* discarding the rest of an overlong line */
    bool body_done; /* no more requests will come */
    bool rx_paused;
    int err;              /* the stream failed (PF_ENOMEM): its last line says so */
    bool err_sent;        /* that line is written */
    uint64_t quiet_since; /* while draining: when the client last sent, or reading resumed */
    /* For the access log: */
    uint64_t start_ns;
    uint64_t bytes_in, bytes_out; /* body bytes */
};

/* No more requests are taken: what is left unparsed (after a failure, or
 * the incomplete line of a client gone quiet in the drain) is not answered.
 * Reading pauses for good (see pf_ndjson_body_done). */
static void stop_reading(struct lws *wsi, struct pf_ndjson_session *s);

/* The stream fails: the answers owed are sent, then one last line with the
 * error, and the response ends. */
static void fail(struct pf_ndjson_session *s, int err)
{
    if (s->err)
        return;
    s->err = err;
    pf_metrics_stream_error(PF_FRONT_HTTP);
    stop_reading(s->wsi, s);
}

static int push(struct pf_ndjson_session *s, const pf_request *req)
{
    pf_request r = *req;
    r.stamp = pf_now_ns();
    int rc = pf_stream_push(s->stream, &r); /* callers check want_read first */
    if (rc < 0) {
        fail(s, rc);
        return rc;
    }
    pf_metrics_request(PF_FRONT_HTTP);
    return 0;
}

static int handle_line(struct pf_ndjson_session *s, const char *line, size_t len)
{
    /* The limit counts the line as sent, the same whether or not it came
     * in one piece. */
    bool too_long = len > s->max_line;
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    while (len > 0 && (line[0] == ' ' || line[0] == '\t'))
        line++, len--;
    if (len == 0)
        return 0; /* blank lines are not requests */
    pf_request req = { 0 };
    if (too_long)
        req.err = PF_ETOOLONG;
    else
        pf_json_decode_request(line, len, &req);
    if (req.err == PF_ENOMEM) {
        fail(s, PF_ENOMEM);
        return PF_ENOMEM;
    }
    return push(s, &req);
}

/* Turns complete lines into requests while the stream has room. Returns true
 * when input is left that the stream could not take yet. */
static bool parse_lines(struct pf_ndjson_session *s)
{
    size_t pos = 0;
    bool blocked = false;
    while (pos < s->in.len) {
        if (!pf_stream_want_read(s->stream)) {
            blocked = true;
            break;
        }
        const char *line = s->in.data + pos;
        const char *nl = memchr(line, '\n', s->in.len - pos);
        size_t len = nl ? (size_t)(nl - line) : s->in.len - pos;
        if (!nl && !s->body_done) {
            /* An incomplete line: wait for the rest, unless it is already too long. */
            if (!s->skipping && len > s->max_line) {
                pf_request req = { .err = PF_ETOOLONG };
                if (push(s, &req) < 0)
                    return false; /* the input is gone */
                s->skipping = true;
            }
            if (s->skipping)
                pos = s->in.len;
            break;
        }
        if (s->skipping)
            s->skipping = false; /* the overlong line ends here; it was answered */
        else if (handle_line(s, line, len) < 0)
            return false; /* the input is gone */
        pos += len + (nl ? 1 : 0);
    }
    pf_bytes_consume(&s->in, pos);
    return blocked;
}

static void pause_rx(struct lws *wsi, struct pf_ndjson_session *s)
{
    if (s->rx_paused)
        return;
    s->rx_paused = true;
    lws_rx_flow_control(wsi, 0);
    pf_lws416_want_write(wsi, true);
}

static void resume_rx(struct lws *wsi, struct pf_ndjson_session *s)
{
    if (!s->rx_paused || s->body_done)
        return;
    s->rx_paused = false;
    s->quiet_since = pf_now_ns();
    lws_rx_flow_control(wsi, 1);
}

static void stop_reading(struct lws *wsi, struct pf_ndjson_session *s)
{
    s->body_done = true;
    s->in.len = 0;
    s->skipping = false;
    pause_rx(wsi, s);
}

/* The drain's rule for every stream (service.h): a client that has sent
 * nothing for PF_DRAIN_QUIET_NS, with everything it sent answered, is done.
 * Returns the nanoseconds left until it is, or 0 when it is now. */
static uint64_t quiet_left(const struct pf_ndjson_session *s)
{
    uint64_t quiet = pf_now_ns() - s->quiet_since;
    return quiet >= PF_DRAIN_QUIET_NS ? 0 : PF_DRAIN_QUIET_NS - quiet;
}

/* While draining and reading, with nothing left to answer. */
static bool drain_waits_for_quiet(const struct pf_ndjson_session *s)
{
    return pf_health_draining() && !s->body_done && !s->rx_paused &&
           pf_stream_pending(s->stream) == 0;
}

static bool finished(const struct pf_ndjson_session *s)
{
    return s->body_done && s->in.len == 0 && pf_stream_pending(s->stream) == 0;
}

/* Writes one batch of answers, and after the last answer the failed
 * stream's error line. Returns 1 when it wrote something, 0 when nothing was
 * ready, -1 to close the connection (also after the last line). */
static int write_batch(struct lws *wsi, void *arg)
{
    struct pf_ndjson_session *s = arg;
    unsigned char buf[LWS_PRE + BATCH];
    char *start = (char *)buf + LWS_PRE, *p = start;
    pf_response r;
    while (p + PF_JSON_RESPONSE_MAX + 1 <= start + BATCH) {
        if (pf_stream_pop(s->stream, &r) < 0) {
            parse_lines(s);
            if (pf_stream_pop(s->stream, &r) < 0)
                break;
        }
        p += pf_json_encode_response(&r, p);
        *p++ = '\n';
        pf_metrics_answer(PF_FRONT_HTTP, &r);
    }
    bool done = finished(s);
    if (done && s->err) {
        if (p + PF_JSON_RESPONSE_MAX + 1 <= start + BATCH) {
            pf_response failed = { .last = true, .error = pf_strerror(s->err) };
            p += pf_json_encode_response(&failed, p);
            *p++ = '\n';
            s->err_sent = true;
        } else {
            done = false; /* the error line goes in the next batch */
        }
    }
    size_t n = (size_t)(p - start);
    if (n == 0 && !done)
        return 0;
    s->bytes_out += n;
    if (lws_write(wsi, (unsigned char *)start, n, done ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) <
        (int)n)
        return -1;
    if (done)
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    return 1;
}

/* After a write: resume reading when everything read so far is parsed, ask
 * for the next chance to write while answers remain, and while draining
 * wake up when the client will have been quiet long enough. */
static void schedule(struct lws *wsi, struct pf_ndjson_session *s)
{
    if (!parse_lines(s))
        resume_rx(wsi, s);
    /* Answers still with the workers: their wake calls this again. */
    if (pf_stream_answer_ready(s->stream) || finished(s))
        pf_lws416_want_write(wsi, s->rx_paused);
    if (drain_waits_for_quiet(s))
        lws_set_timer_usecs(wsi, (lws_usec_t)(quiet_left(s) / 1000) + 1);
}

int pf_ndjson_write(struct lws *wsi, struct pf_ndjson_session *s)
{
    int rc = write_batch(wsi, s);
    if (rc < 0)
        return -1;
    if (rc == 0 && finished(s))
        return 0; /* the last write is out and the transaction is complete */
    schedule(wsi, s);
    return 0;
}

int pf_ndjson_timer(struct lws *wsi, struct pf_ndjson_session *s)
{
    if (s->rx_paused) {
        int rc = pf_lws416_paused_write(wsi, write_batch, s);
        if (rc < 0)
            return -1;
        if (rc > 0)
            /* A client that reads nothing for --idle-timeout loses its stream. */
            lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT,
                            pf_lws_env(wsi)->cfg->idle_timeout);
    }
    if (drain_waits_for_quiet(s) && quiet_left(s) == 0)
        stop_reading(wsi, s);
    schedule(wsi, s);
    return 0;
}

int pf_ndjson_body(struct lws *wsi, struct pf_ndjson_session *s, const char *in, size_t len)
{
    s->bytes_in += len;
    if (s->body_done || len == 0)
        return 0; /* failed, or quiet in the drain: what arrives now is not answered */
    s->quiet_since = pf_now_ns();
    if (pf_bytes_append(&s->in, in, len, 4096) < 0) {
        fail(s, PF_ENOMEM);
        return 0;
    }
    if (parse_lines(s))
        pause_rx(wsi, s);
    if (!s->rx_paused && pf_stream_answer_ready(s->stream))
        lws_callback_on_writable(wsi);
    return 0;
}

int pf_ndjson_body_done(struct lws *wsi, struct pf_ndjson_session *s)
{
    if (s->body_done)
        return 0; /* failed, or quiet in the drain: reading has stopped */
    s->body_done = true;
    parse_lines(s); /* a last line without its newline */
    /* Read nothing more: a client that half-closes after its body (nc -N)
     * would have lws read the EOF and close before the answers are out
     * (roles/h1/ops-h1.c: "read 0 len" -> fail). The answer stream is
     * close-delimited, so nothing after the body is for pfgate anyway. The
     * timer writes while reading is paused. */
    pause_rx(wsi, s);
    pf_lws416_want_write(wsi, true);
    return 0;
}


/* On the service thread: a worker finished one of its numbers, or the
 * stream may read again. */
static void on_wake(struct pf_lws_waker *w)
{
    struct pf_ndjson_session *s = PF_CONTAINER_OF(w, struct pf_ndjson_session, waker);
    schedule(s->wsi, s);
}

int pf_ndjson_start(struct lws *wsi, struct pf_ndjson_session **out)
{
    struct pf_lws_env *env = pf_lws_env(wsi);
    if (pf_health_draining())
        return pf_http_refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "server is shutting down");
    /* A chunked body never gets here (pf_http_check_request: 411). */
    char length[32] = "";
    lws_hdr_copy(wsi, length, sizeof(length), WSI_TOKEN_HTTP_CONTENT_LENGTH);

    struct pf_ndjson_session *s = calloc(1, sizeof(*s));
    if (s)
        pf_lws_waker_init(&s->waker, &env->wakes, on_wake);
    if (!s || pf_stream_new(env->cfg->max_pending, env->sched, pf_lws_wake, &s->waker,
                            &s->stream) < 0) {
        free(s);
        return pf_http_refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, pf_strerror(PF_ENOMEM));
    }
    s->wsi = wsi;
    s->start_ns = pf_now_ns();
    s->max_line = env->cfg->max_line;
    pf_list_append(&env->ndjson_sessions, &s->link);
    env->open_streams++;
    pf_metrics_streams(PF_FRONT_HTTP, 1);
    *out = s;

    if (pf_lws416_continue(wsi) < 0)
        return -1;

    unsigned char headers[LWS_PRE + 512];
    unsigned char *start = headers + LWS_PRE, *p = start, *end = headers + sizeof(headers) - 1;
    if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "application/x-ndjson",
                                    LWS_ILLEGAL_HTTP_CONTENT_LEN, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    if (strcmp(length, "0") == 0)
        return pf_ndjson_body_done(wsi, s);
    return 0;
}

void pf_ndjson_free(struct lws *wsi, struct pf_ndjson_session *s)
{
    if (!s)
        return;
    struct pf_lws_env *env = pf_lws_env(wsi);
    struct pf_stream_counts counts = { 0, 0, 0 };
    pf_stream_counts(s->stream, &counts);
    if (s->err_sent) { /* the failed stream's last line is an error answer too */
        counts.answers++;
        counts.errors++;
    }
    struct pf_http_access a = { .front = PF_ACCESS_NDJSON, .status = HTTP_STATUS_OK,
                                .path = PF_STREAM_PATH, .counts = &counts,
                                .bytes_in = (int64_t)s->bytes_in,
                                .bytes_out = (int64_t)s->bytes_out, .start_ns = s->start_ns };
    pf_http_access_log(wsi, &a);
    pf_list_remove(&s->link);
    env->open_streams--;
    pf_metrics_streams(PF_FRONT_HTTP, -1);
    pf_stream_free(s->stream); /* no wake after this */
    pf_lws_waker_forget(&s->waker);
    pf_bytes_free(&s->in);
    free(s);
}

void pf_ndjson_drain_all(struct lws_context *ctx)
{
    struct pf_lws_env *env = pf_lws_env_of(ctx);
    struct pf_list *node, *tmp;
    pf_list_for_each(node, tmp, &env->ndjson_sessions) {
        struct pf_ndjson_session *s = PF_CONTAINER_OF(node, struct pf_ndjson_session, link);
        /* Quiet counts from now: a number sent just before the signal may
         * still be on its way. */
        s->quiet_since = pf_now_ns();
        schedule(s->wsi, s);
    }
}

void pf_ndjson_cancel_all(struct lws_context *ctx)
{
    struct pf_lws_env *env = pf_lws_env_of(ctx);
    struct pf_list *node, *tmp;
    pf_list_for_each(node, tmp, &env->ndjson_sessions)
        lws_set_timeout(PF_CONTAINER_OF(node, struct pf_ndjson_session, link)->wsi,
                        PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
}
