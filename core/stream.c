#include "stream.h"

#include <stdlib.h>

#include "factor.h"
#include "scheduler_internal.h"

/* The ring starts small and doubles up to max_pending, so that an idle stream
 * (most WebSockets) costs a few hundred bytes, not the full limit. */
#define RING_MIN 8

/* A request as held: pf_request's fields and the job flag in 24 bytes. */
struct slot {
    int64_t num;
    uint64_t stamp;
    int32_t err;
    bool job; /* the workers factor it */
};
_Static_assert(sizeof(struct slot) == 24, "tests/integration/test_alloc_faults.py: SLOT_BYTES");

struct pf_stream {
    struct slot *ring;
    size_t cap;   /* slots allocated, a power of two */
    size_t head;  /* index of the oldest request */
    size_t count; /* requests held */
    size_t max_pending;

    pf_sched *sched;   /* NULL: no jobs */
    pf_stream_wake_fn *wake;
    void *wake_arg;
    struct pf_jobs *jobs; /* made at the first job */

    /* Answers of the request at head, known when it is first popped. */
    bool head_ready;
    const struct pf_factored *head_factors; /* &head_own, or its job's result */
    unsigned head_prime, head_exp;          /* the next factor to send */
    struct pf_factored head_own;            /* a cheap number's */

    struct pf_stream_counts counts;
};

int pf_stream_new(size_t max_pending, pf_sched *sched, pf_stream_wake_fn *wake, void *arg,
                  pf_stream **out)
{
    if (max_pending == 0 || !out || (sched && !wake))
        return PF_EINVAL;
    pf_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return PF_ENOMEM;
    s->max_pending = max_pending;
    s->sched = sched;
    s->wake = wake;
    s->wake_arg = arg;
    *out = s;
    return PF_OK;
}

void pf_stream_free(pf_stream *s)
{
    if (!s)
        return;
    pf_jobs_release(s->jobs);
    free(s->ring);
    free(s);
}

/* A number the workers factor: one that takes more than trial division and
 * a primality test (checking costs about what those cost). */
static bool wants_worker(const pf_stream *s, const pf_request *req)
{
    return s->sched && req->err == PF_OK && req->num >= PF_CHEAP_BELOW &&
           !pf_factor_is_quick((uint64_t)req->num);
}

static int grow(pf_stream *s)
{
    size_t cap = s->cap ? s->cap * 2 : RING_MIN;
    struct slot *ring = malloc(cap * sizeof(*ring));
    if (!ring)
        return PF_ENOMEM;
    for (size_t i = 0; i < s->count; i++)
        ring[i] = s->ring[(s->head + i) & (s->cap - 1)];
    free(s->ring);
    s->ring = ring;
    s->cap = cap;
    s->head = 0;
    return PF_OK;
}

bool pf_stream_want_read(pf_stream *s)
{
    if (s->count >= s->max_pending)
        return false;
    /* At max_queued a stream with no job yet waits too: its jobs are made
     * now, to be woken (an idle stream has none while there is room). */
    if (!s->jobs && s->sched && pf_sched_full(s->sched))
        s->jobs = pf_jobs_new(s->sched, s->wake, s->wake_arg);
    return !s->jobs || pf_jobs_room(s->jobs);
}

int pf_stream_push(pf_stream *s, const pf_request *req)
{
    if (s->count >= s->max_pending)
        return PF_EFULL;
    bool job = wants_worker(s, req);
    if (job) {
        if (!s->jobs && !(s->jobs = pf_jobs_new(s->sched, s->wake, s->wake_arg)))
            return PF_ENOMEM;
        if (pf_jobs_full(s->jobs))
            return PF_EFULL;
    }
    if (s->count == s->cap) {
        int rc = grow(s);
        if (rc < 0)
            return rc;
    }
    s->ring[(s->head + s->count) & (s->cap - 1)] =
        (struct slot){ .num = req->num, .stamp = req->stamp, .err = req->err, .job = job };
    s->count++;
    s->counts.numbers++;
    if (job)
        pf_jobs_add(s->jobs, (uint64_t)req->num);
    return PF_OK;
}

/* Finds the head's factors: false while its job is not done (and !now). */
static bool prepare_head(pf_stream *s, const struct slot *req, bool now)
{
    const struct pf_factored *f = &s->head_own;
    if (req->job) {
        f = now ? pf_jobs_oldest_now(s->jobs) : pf_jobs_oldest_done(s->jobs);
        if (!f)
            return false;
    } else if (req->err == PF_OK && req->num >= 2) {
        pf_factored_of((uint64_t)req->num, &s->head_own);
    } else {
        s->head_own.count = 0;
    }
    s->head_factors = f;
    s->head_prime = s->head_exp = 0;
    s->head_ready = true;
    return true;
}

static void advance(pf_stream *s, const struct slot *slot)
{
    if (slot->job)
        pf_jobs_take_done(s->jobs);
    s->head = (s->head + 1) & (s->cap - 1);
    s->count--;
    s->head_ready = false;
}

static int pop(pf_stream *s, pf_response *out, bool now)
{
    if (s->count == 0)
        return PF_EAGAIN;
    const struct slot *req = &s->ring[s->head];
    if (!s->head_ready && !prepare_head(s, req, now))
        return PF_EAGAIN;

    pf_response r = { .num = req->num, .stamp = req->stamp };
    const struct pf_factored *f = s->head_factors;
    if (req->err != PF_OK || req->num < 0) {
        r.error = pf_strerror(req->err != PF_OK ? req->err : PF_ENEGATIVE);
        r.last = true;
        s->counts.errors++;
    } else if (f->count == 0) {
        r.last = true; /* 0 and 1: no factors */
    } else {
        r.result = (int64_t)f->prime[s->head_prime];
        if (++s->head_exp == f->exp[s->head_prime]) {
            s->head_prime++;
            s->head_exp = 0;
        }
        r.last = s->head_prime == f->count;
    }
    if (r.last)
        advance(s, req);
    s->counts.answers++;
    *out = r;
    return PF_OK;
}

int pf_stream_pop(pf_stream *s, pf_response *out)
{
    return pop(s, out, false);
}

int pf_stream_pop_now(pf_stream *s, pf_response *out)
{
    return pop(s, out, true);
}

bool pf_stream_answer_ready(pf_stream *s)
{
    if (s->count == 0)
        return false;
    const struct slot *slot = &s->ring[s->head];
    return s->head_ready || !slot->job || pf_jobs_oldest_done(s->jobs);
}

size_t pf_stream_pending(const pf_stream *s)
{
    return s->count;
}

void pf_stream_counts(const pf_stream *s, struct pf_stream_counts *out)
{
    if (s)
        *out = s->counts;
}
