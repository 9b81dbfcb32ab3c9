#include "grpc_front.h"

#include <grpc/grpc.h>
#include <grpc/support/alloc.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "grpc_151.h"
#include "grpc_conns.h"
#include "grpc_health.h"
#include "grpc_listener.h"
#include "grpc_reflection.h"
#include "grpc_batch.h"
#include "grpc_tag.h"
#include "clock.h"
#include "health.h"
#include "list.h"
#include "log.h"
#include "metrics.h"
#include "pb_codec.h"
#include "service.h"
#include "stream.h"

/* How often the workers look at their streams while draining. */
#define DRAIN_TICK_MS 50
/* A stream over --max-streams(-total) waits this long for a slot before it is
 * refused: a stream its client has just cancelled keeps its slot until its
 * worker has seen the cancel, perhaps on another queue. */
#define ADMIT_WAIT_NS (50 * 1000 * 1000)
#define ADMIT_TICK_MS 2
/* How many bytes of hinted answers (send_next_answer) a stream may hold
 * unwritten: past this a hinted send waits for its write like any other
 * (BENCHMARKS.md, "gRPC: one write per run of answers"). */
#define WRITE_BUFFER_BYTES 1024

struct worker;

/* One PrimeFactors stream. Freed when no batch is in flight any more. */
struct call {
    struct pf_grpc_tag t_new, t_recv, t_send, t_status, t_close;
    struct worker *w;
    struct pf_list link; /* in the worker's live calls, for the drain */

    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array request_md;
    grpc_byte_buffer *recv_bb;
    grpc_byte_buffer *send_bb;
    int cancelled;
    pf_stream *stream;
    pf_grpc_conn *conn; /* its connection, for the per-connection stream count */

    uint64_t last_recv_ns; /* when the last request arrived */
    uint64_t admit_deadline_ns; /* nonzero while waiting for a slot (--max-streams...) */
    int batches;           /* in flight */
    bool recv_pending, send_pending, input_done, md_sent, status_sent, dead;
    grpc_status_code status;
    const char *status_details;
};

/* A call for a method pfgate does not serve: answered UNIMPLEMENTED at once,
 * else the client would wait for its deadline. */
struct unknown_call {
    struct pf_grpc_tag t_new, t_done;
    struct worker *w;
    grpc_call *call;
    grpc_call_details details;
    grpc_metadata_array request_md;
    int cancelled;
};

/* Only the first worker's queue polls (grpc_151.h, "queue steering"). The
 * others wait for their calls' events without polling, and always have a
 * request for the next stream pending. */
struct worker {
    pf_grpc_front *front;
    grpc_completion_queue *cq;
    pf_grpc_health_queue *health;
    pf_grpc_reflection_queue *reflection;
    pthread_t thread;
    bool thread_started;
    struct pf_list calls; /* live PrimeFactors calls (struct call) */
    int admitting;        /* calls waiting for a slot on their connection */
    atomic_int live;      /* its PrimeFactors calls */
    atomic_bool armed;    /* its request for the next call is pending */
    bool drain_seen;
};

struct pf_grpc_front {
    grpc_server *server;
    pf_grpc_health *health;
    pf_grpc_reflection *reflection;
    pf_grpc_listener *listener;
    pf_grpc_conns *conns;
    void *method;
    grpc_completion_queue *shutdown_cq;
    grpc_completion_queue *steer_cq; /* grpc_151.h, "queue steering" */
    struct worker *workers;
    int nworkers;
    size_t max_pending;
    atomic_int live_calls;
    bool shutdown_started;
};

/* ---- PrimeFactors calls ---------------------------------------------------- */

static void keep_requests(struct worker *w);

static void call_free(struct call *c)
{
    if (pf_list_linked(&c->link)) {
        atomic_fetch_sub(&c->w->front->live_calls, 1);
        atomic_fetch_sub(&c->w->live, 1);
        pf_metrics_streams(PF_FRONT_GRPC, -1);
        pf_list_remove(&c->link);
        keep_requests(c->w);
    }
    if (c->admit_deadline_ns)
        c->w->admitting--;
    if (c->conn)
        pf_grpc_conns_stream_end(c->w->front->conns, c->conn);
    if (c->call)
        grpc_call_unref(c->call);
    grpc_metadata_array_destroy(&c->request_md);
    pf_stream_free(c->stream);
    free(c);
}

static bool start_batch(struct call *c, const grpc_op *ops, size_t n, struct pf_grpc_tag *t)
{
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, t, NULL);
    if (e != GRPC_CALL_OK) {
        /* The tag will never come back: nothing to undo but the call itself. */
        pf_error("grpc: start_batch failed (%d)", (int)e);
        c->dead = true;
        grpc_call_cancel(c->call, NULL);
        return false;
    }
    c->batches++;
    return true;
}

static void post_recv(struct call *c)
{
    grpc_op op = { .op = GRPC_OP_RECV_MESSAGE };
    op.data.recv_message.recv_message = &c->recv_bb;
    c->recv_pending = start_batch(c, &op, 1, &c->t_recv);
}

static void send_status(struct call *c)
{
    struct pf_grpc_batch b;
    grpc_slice details = grpc_slice_from_static_string(c->status_details);
    pf_grpc_batch_send(&b, &c->md_sent);
    pf_grpc_batch_status(&b, c->status, &details);
    c->status_sent = start_batch(c, b.ops, b.n, &c->t_status);
}

static void send_next_answer(struct call *c)
{
    pf_response r;
    if (pf_stream_pop(c->stream, &r) < 0)
        return;
    pf_metrics_answer(PF_FRONT_GRPC, &r);
    c->send_bb = pf_pb_encode_response(&r);
    if (!c->send_bb) {
        pf_error("grpc: out of memory encoding an answer");
        c->dead = true;
        grpc_call_cancel_with_status(c->call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory",
                                     NULL);
        return;
    }
    /* While more answers are ready, each one is a hinted message: the
     * transport buffers it (up to WRITE_BUFFER_BYTES) and completes it
     * at once, and the last ready answer, unhinted, takes them all out in
     * one write: a sendmsg per run of ready answers, not one per answer. Not
     * the first message (grpc_151.h, "hinted first message"). */
    bool first = !c->md_sent;
    struct pf_grpc_batch b;
    pf_grpc_batch_send(&b, &c->md_sent);
    pf_grpc_batch_message(&b, c->send_bb);
    if (!first && pf_stream_pending(c->stream) > 0)
        b.ops[b.n - 1].flags = GRPC_WRITE_BUFFER_HINT;
    c->send_pending = start_batch(c, b.ops, b.n, &c->t_send);
    if (!c->send_pending) {
        grpc_byte_buffer_destroy(c->send_bb);
        c->send_bb = NULL;
    }
}

/* Moves the call forward after any event: send the next answer, read the next
 * request when there is room, and end the call when all is answered. */
static void pump(struct call *c)
{
    if (c->dead || c->status_sent || c->admit_deadline_ns)
        return;
    if (!c->send_pending)
        send_next_answer(c);
    if (c->dead)
        return;
    if (!c->recv_pending && !c->input_done && pf_stream_want_read(c->stream))
        post_recv(c);
    /* While draining, the stream goes on until its client is quiet; then
     * the status ends it, with a RECV still pending. */
    bool quiet = pf_health_draining() && pf_now_ns() - c->last_recv_ns >= PF_DRAIN_QUIET_NS;
    if (!c->send_pending && pf_stream_pending(c->stream) == 0 && (c->input_done || quiet))
        send_status(c);
}

static void on_recv(struct call *c, bool ok)
{
    c->recv_pending = false;
    if (!ok) {
        /* The call failed: an oversized message (core has already sent
         * RESOURCE_EXHAUSTED) or a cancel. */
        pf_metrics_stream_error(PF_FRONT_GRPC);
        c->dead = true;
        return;
    }
    if (!c->recv_bb) {
        c->input_done = true; /* half-close; a cancel also shows up at the close event */
        return;
    }
    pf_request req;
    int rc = pf_pb_decode_request(c->recv_bb, &req);
    grpc_byte_buffer_destroy(c->recv_bb);
    c->recv_bb = NULL;
    if (rc < 0) {
        pf_metrics_stream_error(PF_FRONT_GRPC);
        c->input_done = true;
        c->status = GRPC_STATUS_INVALID_ARGUMENT;
        c->status_details = "request is not a valid primefactor.Request message";
        return;
    }
    /* RECV is posted only while the stream wants to read, so this fits. */
    req.stamp = c->last_recv_ns = pf_now_ns();
    pf_metrics_request(PF_FRONT_GRPC);
    pf_stream_push(c->stream, &req);
}

static void on_send(struct call *c, bool ok)
{
    c->send_pending = false;
    grpc_byte_buffer_destroy(c->send_bb);
    c->send_bb = NULL;
    if (!ok)
        c->dead = true; /* the client is gone */
}

/* A place for c among its connection's streams and all streams
 * (--max-streams, --max-streams-total); when there is none, *why says which. */
static int take_slot(struct call *c, const char **why)
{
    char *peer = grpc_call_get_peer(c->call);
    int rc = pf_grpc_conns_stream_begin(c->w->front->conns, peer, &c->conn, why);
    gpr_free(peer);
    return rc;
}

/* On a worker tick: calls waiting for a slot get one, or, past their wait,
 * end at once with RESOURCE_EXHAUSTED, nothing read. */
static void admit_waiting(struct worker *w)
{
    uint64_t now = pf_now_ns();
    struct pf_list *node, *tmp;
    pf_list_for_each(node, tmp, &w->calls) {
        struct call *c = PF_CONTAINER_OF(node, struct call, link);
        if (!c->admit_deadline_ns)
            continue;
        const char *why = "cancelled";
        int rc = c->dead ? PF_EFULL : take_slot(c, &why);
        if (rc != PF_OK && now < c->admit_deadline_ns && !c->dead)
            continue;
        if (rc != PF_OK) {
            c->status = GRPC_STATUS_RESOURCE_EXHAUSTED;
            c->status_details = why;
            c->input_done = true;
        }
        c->admit_deadline_ns = 0;
        w->admitting--;
        pump(c);
    }
}

static void on_new_call(struct call *c, bool ok)
{
    struct worker *w = c->w;
    if (!ok) {
        /* The server is shutting down: this request will never be a call. */
        call_free(c);
        return;
    }
    atomic_store(&w->armed, false);
    pf_list_append(&w->calls, &c->link);
    c->last_recv_ns = pf_now_ns();
    atomic_fetch_add(&w->front->live_calls, 1);
    atomic_fetch_add(&w->live, 1);
    keep_requests(w);
    pf_metrics_streams(PF_FRONT_GRPC, 1);

    grpc_op close_op = { .op = GRPC_OP_RECV_CLOSE_ON_SERVER };
    close_op.data.recv_close_on_server.cancelled = &c->cancelled;
    if (!start_batch(c, &close_op, 1, &c->t_close))
        return;
    const char *why;
    int rc = take_slot(c, &why);
    if (rc == PF_EFULL) {
        c->admit_deadline_ns = pf_now_ns() + ADMIT_WAIT_NS;
        w->admitting++;
    }
    if (rc == PF_ENOMEM || pf_stream_new(w->front->max_pending, &c->stream) < 0) {
        c->dead = true;
        grpc_call_cancel_with_status(c->call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory",
                                     NULL);
        return;
    }
    pump(c);
}

/* After any event of c: move it forward; free it when nothing is in flight. */
static void after_event(struct call *c)
{
    pump(c);
    if (c->batches == 0)
        call_free(c);
}

static void batch_done(struct call *c, bool ok, const char *what)
{
    c->batches--;
    if (!ok)
        pf_debug("grpc: call %p: %s failed (pending %zu, cancelled %d)", (void *)c, what,
                 c->stream ? pf_stream_pending(c->stream) : 0, c->cancelled);
}

static void on_recv_event(struct pf_grpc_tag *t, bool ok)
{
    struct call *c = PF_GRPC_OWNER(t, struct call, t_recv);
    batch_done(c, ok, "recv");
    on_recv(c, ok);
    after_event(c);
}

static void on_send_event(struct pf_grpc_tag *t, bool ok)
{
    struct call *c = PF_GRPC_OWNER(t, struct call, t_send);
    batch_done(c, ok, "send");
    on_send(c, ok);
    after_event(c);
}

static void on_status_event(struct pf_grpc_tag *t, bool ok)
{
    struct call *c = PF_GRPC_OWNER(t, struct call, t_status);
    batch_done(c, ok, "status"); /* then only the close event is left */
    after_event(c);
}

static void on_close_event(struct pf_grpc_tag *t, bool ok)
{
    struct call *c = PF_GRPC_OWNER(t, struct call, t_close);
    batch_done(c, ok, "close");
    if (c->cancelled)
        c->dead = true;
    after_event(c);
}

static void on_new_call_event(struct pf_grpc_tag *t, bool ok)
{
    struct call *c = PF_GRPC_OWNER(t, struct call, t_new);
    on_new_call(c, ok);
    if (ok && c->batches == 0)
        call_free(c);
}

/* Asks grpc for w's next call, unless w has asked already. A failed request
 * leaves w unasked, so that the next stream to start or end asks again. */
static void request_call(struct worker *w)
{
    pf_grpc_front *f = w->front;
    if (pf_health_draining() || atomic_exchange(&w->armed, true))
        return;
    struct call *c = calloc(1, sizeof(*c));
    if (!c) {
        pf_error("grpc: out of memory asking for the next stream");
        atomic_store(&w->armed, false);
        return;
    }
    c->w = w;
    c->t_new.handle = on_new_call_event;
    c->t_recv.handle = on_recv_event;
    c->t_send.handle = on_send_event;
    c->t_status.handle = on_status_event;
    c->t_close.handle = on_close_event;
    c->status = GRPC_STATUS_OK;
    c->status_details = "";
    grpc_metadata_array_init(&c->request_md);
    grpc_call_error e = grpc_server_request_registered_call(
        f->server, f->method, &c->call, &c->deadline, &c->request_md, NULL, w->cq, w->cq,
        &c->t_new);
    if (e != GRPC_CALL_OK) {
        pf_error("grpc: request_registered_call failed (%d)", (int)e);
        atomic_store(&w->armed, false);
        call_free(c);
    }
}

/* On w's thread, when one of its calls starts or ends: w asks for its next
 * call, and the polling worker for its own while it holds no more than its
 * share of the streams (the others always ask, so that no stream is left
 * without a worker; grpc takes requests from any thread). */
static void keep_requests(struct worker *w)
{
    pf_grpc_front *f = w->front;
    struct worker *first = &f->workers[0];
    if (w != first && !atomic_load(&w->armed))
        request_call(w);
    if (!atomic_load(&first->armed) &&
        atomic_load(&first->live) * f->nworkers <= atomic_load(&f->live_calls))
        request_call(first);
}

/* ---- calls for unknown methods ------------------------------------------- */

static void unknown_free(struct unknown_call *u)
{
    if (u->call)
        grpc_call_unref(u->call);
    grpc_call_details_destroy(&u->details);
    grpc_metadata_array_destroy(&u->request_md);
    free(u);
}

static void on_unknown_done(struct pf_grpc_tag *t, bool ok)
{
    (void)ok;
    unknown_free(PF_GRPC_OWNER(t, struct unknown_call, t_done));
}

static void request_unknown(struct worker *w);

static void on_unknown_call(struct pf_grpc_tag *t, bool ok)
{
    struct unknown_call *u = PF_GRPC_OWNER(t, struct unknown_call, t_new);
    struct worker *w = u->w;
    if (!ok) {
        unknown_free(u);
        return;
    }
    request_unknown(w);
    grpc_slice details = grpc_slice_from_static_string("unknown method");
    struct pf_grpc_batch b;
    bool md_sent = false;
    pf_grpc_batch_send(&b, &md_sent);
    pf_grpc_batch_status(&b, GRPC_STATUS_UNIMPLEMENTED, &details);
    pf_grpc_batch_close(&b, &u->cancelled);
    if (grpc_call_start_batch(u->call, b.ops, b.n, &u->t_done, NULL) != GRPC_CALL_OK)
        unknown_free(u);
}

static void request_unknown(struct worker *w)
{
    pf_grpc_front *f = w->front;
    if (pf_health_draining())
        return;
    struct unknown_call *u = calloc(1, sizeof(*u));
    if (!u)
        return;
    u->w = w;
    u->t_new.handle = on_unknown_call;
    u->t_done.handle = on_unknown_done;
    grpc_call_details_init(&u->details);
    grpc_metadata_array_init(&u->request_md);
    if (grpc_server_request_call(f->server, &u->call, &u->details, &u->request_md, w->cq, w->cq,
                                 &u->t_new) != GRPC_CALL_OK)
        unknown_free(u);
}

/* ---- workers ------------------------------------------------------------- */

/* On the worker thread when the drain starts: a stream whose client is
 * silent has no event coming, so each is moved forward here. */
static void drain_queue(struct worker *w)
{
    struct pf_list *node, *tmp;
    pf_list_for_each(node, tmp, &w->calls)
        pump(PF_CONTAINER_OF(node, struct call, link));
    pf_grpc_health_queue_drain(w->health);
    pf_grpc_reflection_queue_drain(w->reflection);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (;;) {
        /* While draining, wake up now and then: a stream whose client went
         * quiet has no event coming. */
        int tick = w->admitting ? ADMIT_TICK_MS : pf_health_draining() ? DRAIN_TICK_MS : -1;
        gpr_timespec until = tick < 0 ? gpr_inf_future(GPR_CLOCK_MONOTONIC)
                                      : gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                                     gpr_time_from_millis(tick, GPR_TIMESPAN));
        grpc_event ev = grpc_completion_queue_next(w->cq, until, NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (w->admitting)
            admit_waiting(w);
        if (ev.type == GRPC_OP_COMPLETE) {
            struct pf_grpc_tag *t = ev.tag;
            t->handle(t, ev.success != 0);
        }
        /* The drain's first wake-up is the failure of the unknown-method
         * request every queue has pending (see pf_grpc_front_drain()). */
        if (pf_health_draining() && (ev.type == GRPC_QUEUE_TIMEOUT || !w->drain_seen)) {
            w->drain_seen = true;
            drain_queue(w);
        }
    }
    return NULL;
}

/* ---- the front end ------------------------------------------------------- */

/* grpc core's own log lines join pfgate's on stderr, in its format. A
 * client's broken connection is grpc's "error" but no fault of pfgate's:
 * grpc errors are warnings here. */
static void grpc_log(gpr_log_func_args *args)
{
    enum pf_log_level level = args->severity == GPR_LOG_SEVERITY_DEBUG  ? PF_LOG_DEBUG
                              : args->severity == GPR_LOG_SEVERITY_INFO ? PF_LOG_INFO
                                                                        : PF_LOG_WARN;
    pf_log(level, "grpc: %s", args->message);
}

int pf_grpc_front_start(const struct pf_config *cfg, pf_grpc_front **out, int *port)
{
    gpr_set_log_function(grpc_log);
    if (pf_grpc151_check_runtime() < 0)
        return -1;
    pf_grpc151_quiet_abseil();
    pf_grpc_front *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    f->max_pending = cfg->max_pending;

    grpc_arg args[] = {
        { GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, { .integer = cfg->max_message } },
        /* Identity only: grpc 1.51 inflates a whole message before it checks
         * its size (a 1 MB gzip bomb cost 1.1 GB). Calls that announce
         * another encoding get UNIMPLEMENTED from grpc, compressed messages
         * from pfgate's HTTP/2 guard (h2_guard.c). */
        { GRPC_ARG_INTEGER, GRPC_COMPRESSION_CHANNEL_ENABLED_ALGORITHMS_BITSET,
          { .integer = 1 << GRPC_COMPRESS_NONE } },
        { GRPC_ARG_INTEGER, GRPC_ARG_MAX_CONCURRENT_STREAMS,
          { .integer = (int)pf_grpc_concurrent_streams(cfg) } },
        /* Off: BDP probing grows a stalled stream's window to megabytes of
         * unread requests; flow control needs the window to stay small. */
        { GRPC_ARG_INTEGER, GRPC_ARG_HTTP2_BDP_PROBE, { .integer = 0 } },
        { GRPC_ARG_INTEGER, GRPC_ARG_HTTP2_WRITE_BUFFER_SIZE, { .integer = WRITE_BUFFER_BYTES } },
        /* Idle connections must not pin file descriptors (silent ones are
         * the accept loop's: grpc_listener.h). */
        { GRPC_ARG_INTEGER, GRPC_ARG_MAX_CONNECTION_IDLE_MS, { .integer = cfg->idle_timeout * 1000 } },
    };
    grpc_channel_args channel_args = { sizeof(args) / sizeof(args[0]), args };
    f->server = grpc_server_create(&channel_args, NULL);
    f->method = grpc_server_register_method(f->server, PF_STREAM_PATH, NULL, GRPC_SRM_PAYLOAD_NONE, 0);
    f->health = pf_grpc_health_register(f->server);
    f->reflection = pf_grpc_reflection_register(f->server);
    f->shutdown_cq = grpc_completion_queue_create_for_pluck(NULL);
    f->steer_cq = pf_grpc151_steer_queue(f->server);

    f->nworkers = cfg->grpc_threads;
    f->workers = calloc((size_t)f->nworkers, sizeof(*f->workers));
    if (!f->workers)
        goto fail;
    for (int i = 0; i < f->nworkers; i++) {
        struct worker *w = &f->workers[i];
        w->front = f;
        pf_list_init(&w->calls);
        w->cq = pf_grpc151_worker_queue(f->server, i == 0);
    }

    if (pf_grpc_conns_new(cfg->max_streams_per_conn, cfg->max_streams_total, &f->conns) < 0)
        goto fail;
    /* pfgate accepts on both kinds of port, TLS included (it ends TLS
     * itself: grpc_tls.h); grpc listens on none. */
    if (pf_grpc_listener_bind(cfg, &f->listener, port) < 0)
        goto fail;
    grpc_server_start(f->server);
    if (pf_grpc_listener_run(f->listener, f->server, f->conns) < 0)
        goto fail;

    for (int i = 0; i < f->nworkers; i++) {
        struct worker *w = &f->workers[i];
        request_call(w);
        request_unknown(w);
        w->health = pf_grpc_health_queue_new(f->health, f->server, w->cq);
        w->reflection = pf_grpc_reflection_queue_new(f->reflection, f->server, w->cq);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            pf_error("grpc: cannot start a worker thread");
            goto fail;
        }
        w->thread_started = true;
    }
    *out = f;
    return 0;
fail:
    pf_grpc_front_free(f);
    return -1;
}

void pf_grpc_front_drain(pf_grpc_front *f)
{
    if (f->shutdown_started)
        return;
    f->shutdown_started = true;
    pf_grpc_listener_stop(f->listener);
    grpc_server_shutdown_and_notify(f->server, f->shutdown_cq, f);
}

/* Drained: no stream is open and every byte written has reached its client,
 * so that closing the idle connections loses no answer or status. */
static bool drained(pf_grpc_front *f)
{
    return atomic_load(&f->live_calls) == 0 && pf_grpc_listener_unsent(f->listener) == 0;
}

bool pf_grpc_front_wait_drained(pf_grpc_front *f, double seconds)
{
    /* Streams, not connections: an idle client may keep its connection
     * open after the GOAWAY, and free() closes those. */
    for (double waited = 0; !drained(f) && waited < seconds; waited += 0.005) {
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    return drained(f);
}

void pf_grpc_front_cancel_all(pf_grpc_front *f)
{
    grpc_server_cancel_all_calls(f->server);
}

void pf_grpc_front_free(pf_grpc_front *f)
{
    if (!f)
        return;
    if (f->server) {
        /* A server must be shut down before it is destroyed, and its
         * shutdown ends only when every connection has closed: close the
         * ones that idle clients keep open. */
        pf_grpc_front_drain(f);
        pf_grpc_front_cancel_all(f);
        /* A moment for the cancelled streams' resets to be written. */
        pf_grpc_front_wait_drained(f, 0.3);
        pf_grpc_listener_free(f->listener);
        f->listener = NULL;
        for (;;) {
            gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                                 gpr_time_from_seconds(10, GPR_TIMESPAN));
            if (grpc_completion_queue_pluck(f->shutdown_cq, f, deadline, NULL).type ==
                GRPC_OP_COMPLETE)
                break;
            pf_warn("grpc: still waiting for the server to shut down");
        }
    }
    pf_grpc_listener_free(f->listener); /* when start failed before the server */
    for (int i = 0; f->workers && i < f->nworkers; i++) {
        struct worker *w = &f->workers[i];
        if (!w->cq)
            continue;
        grpc_completion_queue_shutdown(w->cq);
        if (w->thread_started)
            pthread_join(w->thread, NULL);
        else
            worker_main(w); /* frees what its queue still holds, then returns */
    }
    for (int i = 0; f->workers && i < f->nworkers; i++) {
        pf_grpc_health_queue_free(f->workers[i].health);
        pf_grpc_reflection_queue_free(f->workers[i].reflection);
    }
    pf_grpc_health_free(f->health);
    pf_grpc_reflection_free(f->reflection);
    if (f->server)
        grpc_server_destroy(f->server);
    for (int i = 0; f->workers && i < f->nworkers; i++)
        if (f->workers[i].cq)
            grpc_completion_queue_destroy(f->workers[i].cq);
    if (f->shutdown_cq) {
        grpc_completion_queue_shutdown(f->shutdown_cq);
        grpc_completion_queue_destroy(f->shutdown_cq);
    }
    if (f->steer_cq) {
        grpc_completion_queue_shutdown(f->steer_cq);
        grpc_completion_queue_destroy(f->steer_cq);
    }
    pf_grpc_conns_free(f->conns);
    free(f->workers);
    free(f);
}
