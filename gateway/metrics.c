#include "metrics.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bytes.h"
#include "clock.h"
#include "health.h"

/* Latency bucket bounds in seconds, from tens of microseconds (a number
 * answered at once) to seconds (a stalled client). */
static const double bucket_bounds[] = { 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                        0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                        0.5,     1,      2.5,     5,      10 };
#define NBUCKETS (sizeof(bucket_bounds) / sizeof(bucket_bounds[0]))

struct front_metrics {
    atomic_ullong requests, factors, request_errors, stream_errors, refused_connections;
    atomic_llong streams, connections;
    atomic_ullong latency_buckets[NBUCKETS]; /* not cumulative: rendered so */
    atomic_ullong latency_count, latency_sum_ns;
};

static struct front_metrics fronts[PF_FRONT_COUNT];
static const pf_sched *_Atomic scheduler;
static int scheduler_workers;
static const char *const front_names[PF_FRONT_COUNT] = { "grpc", "websocket", "http" };

/* Relaxed: these are statistics, ordered with nothing else. */
#define ADD(counter, n) atomic_fetch_add_explicit(&(counter), (n), memory_order_relaxed)
#define GET(counter) atomic_load_explicit(&(counter), memory_order_relaxed)

void pf_metrics_watch_scheduler(const pf_sched *s, int workers)
{
    scheduler_workers = workers;
    atomic_store(&scheduler, s);
}

void pf_metrics_request(enum pf_front front)
{
    ADD(fronts[front].requests, 1);
}

void pf_metrics_answer(enum pf_front front, const pf_response *r)
{
    struct front_metrics *m = &fronts[front];
    if (r->error)
        ADD(m->request_errors, 1);
    else if (r->result)
        ADD(m->factors, 1);
    if (!r->last || !r->stamp)
        return;
    uint64_t ns = pf_now_ns() - r->stamp;
    double seconds = (double)ns / 1e9;
    size_t b = 0;
    while (b < NBUCKETS && seconds > bucket_bounds[b])
        b++;
    if (b < NBUCKETS)
        ADD(m->latency_buckets[b], 1);
    ADD(m->latency_count, 1);
    ADD(m->latency_sum_ns, ns);
}

void pf_metrics_stream_error(enum pf_front front)
{
    ADD(fronts[front].stream_errors, 1);
}

void pf_metrics_connection_refused(enum pf_front front)
{
    ADD(fronts[front].refused_connections, 1);
}

void pf_metrics_streams(enum pf_front front, int delta)
{
    ADD(fronts[front].streams, delta);
}

void pf_metrics_connections(enum pf_front front, int delta)
{
    ADD(fronts[front].connections, delta);
}

struct text {
    struct pf_bytes b;
    bool failed;
};

static void emit(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void emit(struct text *t, const char *fmt, ...)
{
    while (!t->failed) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = t->b.cap - t->b.len;
        int n = vsnprintf(t->b.data + t->b.len, room, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < room) {
            t->b.len += (size_t)n;
            return;
        }
        t->failed = n < 0 || pf_bytes_reserve(&t->b, (size_t)n + 1, 4096) < 0;
    }
}

static void emit_counter(struct text *t, const char *name, const char *help, size_t offset)
{
    emit(t, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (int f = 0; f < PF_FRONT_COUNT; f++) {
        atomic_ullong *c = (atomic_ullong *)((char *)&fronts[f] + offset);
        emit(t, "%s{front=\"%s\"} %llu\n", name, front_names[f], GET(*c));
    }
}

static void emit_gauge(struct text *t, const char *name, const char *help, size_t offset)
{
    emit(t, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    for (int f = 0; f < PF_FRONT_COUNT; f++) {
        atomic_llong *g = (atomic_llong *)((char *)&fronts[f] + offset);
        emit(t, "%s{front=\"%s\"} %lld\n", name, front_names[f], GET(*g));
    }
}

static void emit_histogram(struct text *t)
{
    const char *name = "pfgate_answer_duration_seconds";
    emit(t, "# HELP %s Time from a number's arrival to its last answer leaving pfgate.\n", name);
    emit(t, "# TYPE %s histogram\n", name);
    for (int f = 0; f < PF_FRONT_COUNT; f++) {
        struct front_metrics *m = &fronts[f];
        /* Other threads add as we read: clamp so that buckets never pass count. */
        unsigned long long count = GET(m->latency_count), cumulative = 0;
        for (size_t b = 0; b < NBUCKETS; b++) {
            cumulative += GET(m->latency_buckets[b]);
            if (cumulative > count)
                cumulative = count;
            emit(t, "%s_bucket{front=\"%s\",le=\"%g\"} %llu\n", name, front_names[f],
                 bucket_bounds[b], cumulative);
        }
        emit(t, "%s_bucket{front=\"%s\",le=\"+Inf\"} %llu\n", name, front_names[f], count);
        emit(t, "%s_sum{front=\"%s\"} %.9f\n", name, front_names[f],
             (double)GET(m->latency_sum_ns) / 1e9);
        emit(t, "%s_count{front=\"%s\"} %llu\n", name, front_names[f], count);
    }
}

static void emit_scheduler(struct text *t)
{
    const pf_sched *s = atomic_load(&scheduler);
    if (!s)
        return;
    emit(t, "# HELP pfgate_factoring_workers Factoring threads (--workers).\n"
            "# TYPE pfgate_factoring_workers gauge\npfgate_factoring_workers %d\n",
         scheduler_workers);
    emit(t, "# HELP pfgate_factoring_queued Numbers waiting for or on a factoring thread.\n"
            "# TYPE pfgate_factoring_queued gauge\npfgate_factoring_queued %zu\n",
         pf_sched_queued(s));
    emit(t, "# HELP pfgate_factoring_jobs_total Numbers handed to the factoring threads "
            "(the rest are quick: factored where they arrive).\n"
            "# TYPE pfgate_factoring_jobs_total counter\npfgate_factoring_jobs_total %llu\n",
         pf_sched_jobs_total(s));
}

char *pf_metrics_render(size_t *len)
{
    struct text t = { 0 };
    t.failed = pf_bytes_reserve(&t.b, 4096, 4096) < 0;
    emit_counter(&t, "pfgate_requests_total", "Numbers received.",
                 offsetof(struct front_metrics, requests));
    emit_counter(&t, "pfgate_factors_total", "Prime factors sent.",
                 offsetof(struct front_metrics, factors));
    emit_counter(&t, "pfgate_request_errors_total",
                 "Error answers sent for numbers that could not be factored or parsed.",
                 offsetof(struct front_metrics, request_errors));
    emit_counter(&t, "pfgate_stream_errors_total",
                 "Streams ended by an error (undecodable or oversized message, bad frame).",
                 offsetof(struct front_metrics, stream_errors));
    emit_counter(&t, "pfgate_refused_connections_total",
                 "Connections refused because --max-connections were open.",
                 offsetof(struct front_metrics, refused_connections));
    emit_gauge(&t, "pfgate_open_streams", "Streams open now.",
               offsetof(struct front_metrics, streams));
    emit_gauge(&t, "pfgate_open_connections", "Client connections open now.",
               offsetof(struct front_metrics, connections));
    emit_histogram(&t);
    emit_scheduler(&t);
    emit(&t, "# HELP pfgate_draining 1 while pfgate drains before exiting.\n"
             "# TYPE pfgate_draining gauge\npfgate_draining %d\n", pf_health_draining() ? 1 : 0);
    emit(&t, "# HELP pfgate_build_info The running version.\n"
             "# TYPE pfgate_build_info gauge\npfgate_build_info{version=\"%s\"} 1\n", PF_VERSION);
    if (t.failed) {
        pf_bytes_free(&t.b);
        return NULL;
    }
    *len = t.b.len;
    return t.b.data;
}
