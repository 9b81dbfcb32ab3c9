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
#include "grpc_batch.h"
#include "grpc_call.h"
#include "grpc_conns.h"
#include "grpc_health.h"
#include "grpc_listener.h"
#include "grpc_reflection.h"
#include "grpc_service.h"
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
/* A worker whose request for the next call failed (out of memory) asks again
 * this often: a call that no request takes would wait for its deadline. */
#define REARM_TICK_MS 10
/* How many bytes of hinted answers (send_next_answer) a stream may hold
 * unwritten: past this a hinted send waits for its write like any other
 * (BENCHMARKS.md, "gRPC: one write per run of answers"). 4 KiB: one stream
 * 1.12x the numbers/s of 1 KiB, and a stream whose client stops reading
 * holds ~16 KiB more (grpc's 64 KiB default: 26-62 KiB more). */
#define WRITE_BUFFER_BYTES 4096
/* How long shutdown waits for grpc core to let go of the server. */
#define SHUTDOWN_WAIT_S 5

struct worker;

/* One PrimeFactors stream. */
struct call {
    struct pf_grpc_call base; /* first; its send_bb: the answer being sent */
    struct worker *w;
    grpc_byte_buffer *recv_bb;
    pf_stream *stream;
    pf_grpc_conn *conn; /* its connection, for the per-connection stream count */

    struct pf_stream_counts counts; /* the stream's, kept when it goes (access log) */
    uint64_t last_recv_ns; /* when the last request arrived */
    uint64_t admit_deadline_ns; /* nonzero while waiting for a slot (--max-streams...) */
    bool recv_pending, input_done, md_sent, status_sent, close_watched;
    grpc_status_code status;
    const char *status_details;
};

/* A call for a method pfgate does not serve: answered UNIMPLEMENTED at once,
 * else the client would wait for its deadline. */
struct unknown_call {
    struct pf_grpc_call base; /* first */
    grpc_call_details details;
};

/* Only the first worker's queue polls (grpc_151.h, "queue steering"). The
 * others wait for their calls' events without polling, and always have a
 * request for the next stream pending. */
struct worker {
    pf_grpc_front *front;
    struct pf_grpc_queue queue; /* its services */
    struct pf_grpc_serving *pf; /* PrimeFactors on its queue (struct call) */
    pthread_t thread;
    bool thread_started;
    int admitting; /* calls waiting for a slot on their connection */
    bool drain_seen;
};

struct pf_grpc_front {
    grpc_server *server;
    struct pf_grpc_service prime_factors; /* its live: the open streams */
    struct pf_grpc_service unknown;
    struct pf_grpc_service *health, *reflection; /* NULL: off */
    pf_grpc_listener *listener;
    pf_grpc_conns *conns;
    grpc_completion_queue *shutdown_cq;
    grpc_completion_queue *steer_cq; /* grpc_151.h, "queue steering" */
    struct worker *workers;
    int nworkers;
    size_t max_pending;
    pf_sched *sched;
    bool shutdown_started;
};

/* ---- PrimeFactors calls ---------------------------------------------------- */

static void init_call(struct pf_grpc_serving *s, size_t i, struct pf_grpc_call *base,
                      struct pf_grpc_call_into *into)
{
    (void)i, (void)into;
    struct call *c = (struct call *)base;
    c->w = s->ctx;
    c->status = GRPC_STATUS_OK;
    c->status_details = "";
}

/* The stream and its queued numbers go: no wake comes after this. */
static void drop_stream(struct call *c)
{
    pf_stream_counts(c->stream, &c->counts);
    pf_stream_free(c->stream);
    c->stream = NULL;
}

static void call_destroy(struct pf_grpc_call *base)
{
    struct call *c = (struct call *)base;
    if (pf_list_linked(&base->link))
        pf_metrics_streams(PF_FRONT_GRPC, -1); /* it had started */
    if (c->admit_deadline_ns)
        c->w->admitting--;
    if (c->conn)
        pf_grpc_conns_stream_end(c->w->front->conns, c->conn);
    if (c->recv_bb)
        grpc_byte_buffer_destroy(c->recv_bb);
    drop_stream(c);
}

/* Out of memory: the call ends RESOURCE_EXHAUSTED at once (oom.md). */
static void fail_no_memory(struct call *c)
{
    pf_metrics_stream_error(PF_FRONT_GRPC);
    pf_grpc_call_fail(&c->base, GRPC_STATUS_RESOURCE_EXHAUSTED, pf_strerror(PF_ENOMEM));
}

static void post_recv(struct call *c)
{
    grpc_op op = { .op = GRPC_OP_RECV_MESSAGE };
    op.data.recv_message.recv_message = &c->recv_bb;
    c->recv_pending = pf_grpc_call_start_batch(&c->base, &op, 1, PF_GRPC_OP_RECV);
}

/* The call's close (RECV_CLOSE_ON_SERVER) watched, once: grpc refuses a
 * second watch, and cancels the call. */
static void watch_close(struct call *c)
{
    if (!c->close_watched)
        c->close_watched = pf_grpc_call_watch_close(&c->base);
}

/* The status, with the close of the call when nothing watches it yet. */
static void send_status(struct call *c)
{
    struct pf_grpc_batch b;
    grpc_slice details = grpc_slice_from_static_string(c->status_details);
    pf_grpc_batch_send(&b, &c->md_sent);
    pf_grpc_batch_status(&b, c->status, &details);
    if (!c->close_watched)
        pf_grpc_batch_close(&b, &c->base.cancelled);
    c->status_sent = pf_grpc_call_start_batch(&c->base, b.ops, b.n, PF_GRPC_OP_STATUS);
}

static void send_next_answer(struct call *c)
{
    pf_response r;
    if (pf_stream_pop(c->stream, &r) < 0)
        return;
    pf_metrics_answer(PF_FRONT_GRPC, &r);
    pf_pb_encode_response(&r, pf_grpc_call_send_buffer(&c->base));
    /* While the next answer is ready too, each one is a hinted message: the
     * transport buffers it (up to WRITE_BUFFER_BYTES) and completes it
     * at once, and the last ready answer, unhinted, takes them all out in
     * one write: a sendmsg per run of ready answers, not one per answer. Not
     * the first message (grpc_151.h, "hinted first message"). */
    bool first = !c->md_sent;
    struct pf_grpc_batch b;
    pf_grpc_batch_send(&b, &c->md_sent);
    pf_grpc_batch_message(&b, c->base.send_bb);
    if (!first && pf_stream_answer_ready(c->stream))
        b.ops[b.n - 1].flags = GRPC_WRITE_BUFFER_HINT;
    c->base.send_pending = pf_grpc_call_start_batch(&c->base, b.ops, b.n, PF_GRPC_OP_SEND);
}

/* Moves the call forward after any event: send the next answer, read the next
 * request when there is room, and end the call when all is answered. A
 * stream's WAKE event (a worker finished one of its numbers) comes here too. */
static void move_forward(struct call *c)
{
    struct pf_grpc_call *base = &c->base;
    if (c->admit_deadline_ns)
        return;
    if (!base->send_pending)
        send_next_answer(c);
    if (base->dead)
        return;
    if (!c->recv_pending && !c->input_done && pf_stream_want_read(c->stream))
        post_recv(c);
    /* While draining, the stream goes on until its client is quiet; then
     * the status ends it, with a RECV still pending. */
    bool quiet = pf_health_draining() && pf_now_ns() - c->last_recv_ns >= PF_DRAIN_QUIET_NS;
    if (!base->send_pending && pf_stream_pending(c->stream) == 0 && (c->input_done || quiet))
        send_status(c);
}

static void pump(struct pf_grpc_call *base)
{
    struct call *c = (struct call *)base;
    if (!base->dead && !c->status_sent)
        move_forward(c);
    if (base->dead || c->status_sent) {
        drop_stream(c); /* a cancel drops the queued numbers at once */
        base->held = false; /* what is in flight keeps the call now */
    }
}

/* Ends the input with status code: the numbers already taken are answered,
 * then the status goes out. */
static void end_input(struct call *c, grpc_status_code code, const char *details)
{
    pf_metrics_stream_error(PF_FRONT_GRPC);
    c->input_done = true;
    c->status = code;
    c->status_details = details;
}

static void on_recv(struct pf_grpc_call *base, bool ok)
{
    struct call *c = (struct call *)base;
    c->recv_pending = false;
    if (!ok) {
        /* The call failed: an oversized message (core has already sent
         * RESOURCE_EXHAUSTED) or a cancel. */
        pf_metrics_stream_error(PF_FRONT_GRPC);
        base->dead = true;
        return;
    }
    if (!c->recv_bb) {
        /* The end of the input: a half-close, or a cancel, which only the
         * close event tells apart. The close is watched from here, not from
         * the call's start: all along, it would be one more pending
         * operation on the queue, and Debian's grpc looks through all of
         * them at every event (README, --max-streams-total). A cancel of a
         * stream that is not reading shows too: its next SEND fails. */
        c->input_done = true;
        watch_close(c);
        return;
    }
    if (!c->stream) {
        /* The call ended (its status sent, or a send failed) while this
         * message was on its way: nothing answers it. */
        grpc_byte_buffer_destroy(c->recv_bb);
        c->recv_bb = NULL;
        return;
    }
    pf_request req;
    int rc = pf_pb_decode_request(c->recv_bb, &req);
    grpc_byte_buffer_destroy(c->recv_bb);
    c->recv_bb = NULL;
    if (rc < 0) {
        end_input(c, GRPC_STATUS_INVALID_ARGUMENT,
                  "request is not a valid primefactor.Request message");
        return;
    }
    /* RECV is posted only while the stream wants to read, so the request
     * fits: a push fails only when its queue cannot grow. */
    req.stamp = c->last_recv_ns = pf_now_ns();
    pf_metrics_request(PF_FRONT_GRPC);
    rc = pf_stream_push(c->stream, &req);
    if (rc < 0)
        end_input(c, GRPC_STATUS_RESOURCE_EXHAUSTED, pf_strerror(rc));
}

/* A place for c among its connection's streams and all streams
 * (--max-streams, --max-streams-total); when there is none, *why says which. */
static int take_slot(struct call *c, const char **why)
{
    char *peer = grpc_call_get_peer(c->base.call);
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
    pf_list_for_each(node, tmp, &w->pf->calls) {
        struct call *c = (struct call *)PF_CONTAINER_OF(node, struct pf_grpc_call, link);
        if (!c->admit_deadline_ns)
            continue;
        const char *why = "cancelled";
        int rc = c->base.dead ? PF_EFULL : take_slot(c, &why);
        if (rc != PF_OK && now < c->admit_deadline_ns && !c->base.dead)
            continue;
        if (rc != PF_OK) {
            c->status = GRPC_STATUS_RESOURCE_EXHAUSTED;
            c->status_details = why;
            c->input_done = true;
        }
        c->admit_deadline_ns = 0;
        w->admitting--;
        pf_grpc_call_pump(&c->base);
    }
}

/* On a factoring worker: one of the call's numbers is factored. */
static void wake_call(void *arg)
{
    pf_grpc_call_wake(arg);
}

static void on_new_call(struct pf_grpc_call *base, bool ok)
{
    (void)ok; /* a failed one never comes here (grpc_call.h) */
    struct call *c = (struct call *)base;
    struct worker *w = c->w;
    c->last_recv_ns = pf_now_ns();
    pf_metrics_streams(PF_FRONT_GRPC, 1);
    base->held = true; /* until its status is sent, or it is dead */
    const char *why;
    int rc = take_slot(c, &why);
    if (rc == PF_EFULL) {
        /* Nothing else is in flight while it waits: its close tells a
         * cancel (a flood of new streams reset at once, Rapid Reset, waits
         * here), and the next tick lets it go. */
        c->admit_deadline_ns = pf_now_ns() + ADMIT_WAIT_NS;
        w->admitting++;
        watch_close(c);
    }
    if (rc == PF_ENOMEM || pf_stream_new(w->front->max_pending, w->front->sched, wake_call,
                                         base, &c->stream) < 0)
        fail_no_memory(c);
}

static void call_access(struct pf_grpc_call *base, struct pf_access_rec *r)
{
    struct call *c = (struct call *)base;
    pf_stream_counts(c->stream, &c->counts);
    r->numbers = c->counts.numbers;
    r->answers = c->counts.answers;
    r->errors = c->counts.errors;
    if (c->conn && pf_grpc_conns_client(c->conn)[0])
        r->peer = pf_grpc_conns_client(c->conn); /* no lookup by grpc's peer name */
}

static const struct pf_grpc_call_kind prime_factors = {
    .name = "PrimeFactors",
    .on = { [PF_GRPC_OP_NEW] = on_new_call, [PF_GRPC_OP_RECV] = on_recv },
    .pump = pump, .destroy = call_destroy, .access = call_access,
};

/* When one of s's calls starts or ends: s asks for its next call, and the
 * polling worker for its own while it holds no more than its share of the
 * streams (the others always ask, so that no stream is left without a
 * worker; grpc takes requests from any thread). */
static void keep_requests(struct pf_grpc_serving *s)
{
    struct worker *w = s->ctx;
    pf_grpc_front *f = w->front;
    struct pf_grpc_serving *first = f->workers[0].pf;
    if (s != first)
        pf_grpc_serving_request(s, 0);
    if (!atomic_load(&first->armed[0]) &&
        atomic_load(&first->live) * f->nworkers <= atomic_load(&f->prime_factors.live))
        pf_grpc_serving_request(first, 0);
}

/* ---- calls for unknown methods ------------------------------------------- */

static void unknown_destroy(struct pf_grpc_call *base)
{
    grpc_call_details_destroy(&((struct unknown_call *)base)->details);
}

static void on_unknown_call(struct pf_grpc_call *base, bool ok)
{
    (void)ok;
    grpc_slice details = grpc_slice_from_static_string("unknown method");
    struct pf_grpc_batch b;
    bool md_sent = false;
    pf_grpc_batch_send(&b, &md_sent);
    pf_grpc_batch_status(&b, GRPC_STATUS_UNIMPLEMENTED, &details);
    pf_grpc_batch_close(&b, &base->cancelled);
    pf_grpc_call_start_batch(base, b.ops, b.n, PF_GRPC_OP_STATUS);
}

static void unknown_access(struct pf_grpc_call *base, struct pf_access_rec *r)
{
    const grpc_slice *method = &((struct unknown_call *)base)->details.method;
    r->path = (const char *)GRPC_SLICE_START_PTR(*method);
    r->path_len = GRPC_SLICE_LENGTH(*method);
}

static const struct pf_grpc_call_kind unknown_method = {
    .name = "unknown-method",
    .on = { [PF_GRPC_OP_NEW] = on_unknown_call },
    .destroy = unknown_destroy, .access = unknown_access,
};

static void init_unknown_call(struct pf_grpc_serving *s, size_t i, struct pf_grpc_call *base,
                              struct pf_grpc_call_into *into)
{
    (void)s, (void)i;
    struct unknown_call *u = (struct unknown_call *)base;
    grpc_call_details_init(&u->details);
    into->details = &u->details;
}

/* ---- workers ------------------------------------------------------------- */

/* unarmed: a request of w's queue failed and must be made again. */
static int worker_tick_ms(struct worker *w, bool unarmed)
{
    /* While draining, wake up now and then: a stream whose client went
     * quiet has no event coming. */
    int tick = w->admitting ? ADMIT_TICK_MS : pf_health_draining() ? DRAIN_TICK_MS : -1;
    if (unarmed && (tick < 0 || tick > REARM_TICK_MS))
        tick = REARM_TICK_MS;
    return tick;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    bool unarmed = pf_grpc_queue_unarmed(&w->queue);
    for (;;) {
        int tick = worker_tick_ms(w, unarmed);
        gpr_timespec until = tick < 0 ? gpr_inf_future(GPR_CLOCK_MONOTONIC)
                                      : gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                                     gpr_time_from_millis(tick, GPR_TIMESPAN));
        grpc_event ev = grpc_completion_queue_next(w->queue.cq, until, NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (w->admitting)
            admit_waiting(w);
        if (ev.type == GRPC_OP_COMPLETE) {
            struct pf_grpc_tag *t = ev.tag;
            t->handle(t, ev.success != 0);
        }
        /* A request that failed (out of memory) is made again. */
        unarmed = pf_grpc_queue_unarmed(&w->queue);
        if (unarmed) {
            pf_grpc_queue_rearm(&w->queue);
            unarmed = pf_grpc_queue_unarmed(&w->queue);
        }
        /* The drain's first wake-up is the failure of the unknown-method
         * request every queue has pending (see pf_grpc_front_drain()). */
        if (pf_health_draining() && (ev.type == GRPC_QUEUE_TIMEOUT || !w->drain_seen)) {
            w->drain_seen = true;
            pf_grpc_queue_drain(&w->queue);
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

int pf_grpc_front_start(const struct pf_config *cfg, pf_sched *sched, pf_grpc_front **out,
                        int *port)
{
    gpr_set_log_function(grpc_log);
    if (pf_grpc151_check_runtime() < 0)
        return -1;
    pf_grpc151_quiet_abseil();
    pf_grpc_front *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    f->max_pending = cfg->max_pending;
    f->sched = sched;

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
        /* Without their filters, which each call's every batch goes through
         * (BENCHMARKS.md, "gRPC against grpc-go"): pfgate never compresses
         * its answers, and a compressed message never gets past the guard.
         * Idle connections are ended by the relay (grpc_listener.c), not by
         * grpc's max_age filter, for the same reason. */
        { GRPC_ARG_INTEGER, GRPC_ARG_ENABLE_PER_MESSAGE_COMPRESSION, { .integer = 0 } },
        { GRPC_ARG_INTEGER, GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION, { .integer = 0 } },
    };
    grpc_channel_args channel_args = { sizeof(args) / sizeof(args[0]), args };
    f->server = grpc_server_create(&channel_args, NULL);
    f->prime_factors = (struct pf_grpc_service){
        .nmethods = 1, .kind = &prime_factors, .call_size = sizeof(struct call),
        .init = init_call, .keep = keep_requests,
        .method = { grpc_server_register_method(f->server, PF_STREAM_PATH, NULL,
                                                GRPC_SRM_PAYLOAD_NONE, 0) },
        .path = { PF_STREAM_PATH },
    };
    f->unknown = (struct pf_grpc_service){
        .nmethods = 1, .kind = &unknown_method, .call_size = sizeof(struct unknown_call),
        .init = init_unknown_call,
    };
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
        pf_grpc_queue_init(&w->queue, f->server, pf_grpc151_worker_queue(f->server, i == 0));
        w->pf = pf_grpc_queue_add(&w->queue, &f->prime_factors, w);
        pf_grpc_queue_add(&w->queue, &f->unknown, w);
        pf_grpc_queue_add(&w->queue, f->health, w);
        pf_grpc_queue_add(&w->queue, f->reflection, w);
    }

    if (pf_grpc_conns_new(cfg->max_streams_per_conn, cfg->max_streams_total, &f->conns) < 0)
        goto fail;
    for (int i = 0; i < f->nworkers; i++)
        f->workers[i].queue.conns = f->conns;
    /* pfgate accepts on both kinds of port, TLS included (it ends TLS
     * itself: grpc_tls.h); grpc listens on none. */
    if (pf_grpc_listener_bind(cfg, &f->listener, port) < 0)
        goto fail;
    grpc_server_start(f->server);
    if (pf_grpc_listener_run(f->listener, f->server, f->conns) < 0)
        goto fail;

    for (int i = 0; i < f->nworkers; i++) {
        struct worker *w = &f->workers[i];
        pf_grpc_queue_arm(&w->queue);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            pf_error("grpc: cannot start a worker thread");
            goto fail;
        }
        w->thread_started = true;
        pthread_setname_np(w->thread, "pfgate-grpc"); /* top -H, perf */
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

static int live(const struct pf_grpc_service *s)
{
    return s ? atomic_load(&s->live) : 0;
}

/* Drained: no call of any service is open (a health Watch still has its
 * NOT_SERVING to send) and every byte written has reached its client, so
 * that closing the idle connections loses no answer or status. */
static bool drained(pf_grpc_front *f)
{
    return live(&f->prime_factors) + live(&f->unknown) + live(f->health) + live(f->reflection) ==
               0 &&
           pf_grpc_listener_unsent(f->listener) == 0;
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

/* Waits for grpc core to let go of the server, at most SHUTDOWN_WAIT_S. */
static bool server_shut_down(pf_grpc_front *f)
{
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                         gpr_time_from_seconds(SHUTDOWN_WAIT_S, GPR_TIMESPAN));
    return grpc_completion_queue_pluck(f->shutdown_cq, f, deadline, NULL).type == GRPC_OP_COMPLETE;
}

int pf_grpc_front_free(pf_grpc_front *f)
{
    if (!f)
        return 0;
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
        if (!server_shut_down(f)) {
            /* Its threads may still use the queues and calls: free nothing. */
            pf_error("grpc: the server did not shut down within %d s", SHUTDOWN_WAIT_S);
            return -1;
        }
    }
    pf_grpc_listener_free(f->listener); /* when start failed before the server */
    for (int i = 0; f->workers && i < f->nworkers; i++) {
        struct worker *w = &f->workers[i];
        if (!w->queue.cq)
            continue;
        grpc_completion_queue_shutdown(w->queue.cq);
        if (w->thread_started)
            pthread_join(w->thread, NULL);
        else
            worker_main(w); /* frees what its queue still holds, then returns */
    }
    pf_grpc_service_free(f->health);
    pf_grpc_service_free(f->reflection);
    if (f->server)
        grpc_server_destroy(f->server);
    for (int i = 0; f->workers && i < f->nworkers; i++)
        if (f->workers[i].queue.cq)
            grpc_completion_queue_destroy(f->workers[i].queue.cq);
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
    return 0;
}
