/* Unit tests for core/scheduler.c, through pf_stream (core/stream.c) with real
 * worker threads: order, turns, bounds, free, pop_now, stop, and a stress test
 * for ThreadSanitizer (`make test SANITIZE=thread`).
 *
 * Hard numbers are balanced 62-bit semiprimes (two primes in [2^30, 2^31)),
 * which pf_stream hands to the workers; every answer is compared with
 * pf_factor on the test's thread. cmocka's asserts longjmp, so owner threads
 * only record what went wrong and the test's thread asserts it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "factor.h"
#include "pf.h"
#include "scheduler.h"
#include "scheduler_internal.h"
#include "stream.h"

/* A wait for a wake longer than this is a lost wake. */
#define WAKE_TIMEOUT_S 20

/* ---- numbers ------------------------------------------------------------- */

static uint64_t next_rand(uint64_t *x) /* xorshift64 */
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static uint64_t prime31(uint64_t *rng) /* a prime in [2^30, 2^31) */
{
    for (;;) {
        uint64_t p = (next_rand(rng) & 0x3fffffffu) | 0x40000001u;
        if (pf_is_prime(p))
            return p;
    }
}

static int64_t hard_number(uint64_t *rng)
{
    return (int64_t)(prime31(rng) * prime31(rng));
}

/* Hard numbers (semiprimes, squares of a 31-bit prime) mixed with what the
 * owner factors itself, 0, 1, negatives and decode errors. */
static pf_request mixed_request(uint64_t *rng, uint64_t stamp)
{
    pf_request r = {.err = PF_OK, .stamp = stamp};
    uint64_t p;
    switch (next_rand(rng) % 12) {
    case 0: case 1: case 2: case 3:
        r.num = hard_number(rng);
        break;
    case 4:
        p = prime31(rng);
        r.num = (int64_t)(p * p);
        break;
    case 5:
        r.num = (int64_t)(next_rand(rng) % PF_CHEAP_BELOW);
        break;
    case 6:
        r.num = (int64_t)(next_rand(rng) >> 1); /* 63 bits: quick or not */
        break;
    case 7:
        r.num = (int64_t)(prime31(rng) << 30); /* above 2^40, quick */
        break;
    case 8:
        r.num = (int64_t)(next_rand(rng) % 2);
        break;
    case 9:
        r.num = -(int64_t)(next_rand(rng) % 1000) - 1;
        break;
    default:
        r.err = next_rand(rng) % 2 ? PF_ESYNTAX : PF_ERANGE;
        break;
    }
    return r;
}

/* ---- expected answers ---------------------------------------------------- */

struct want {
    pf_request req;
    const char *error; /* on its single answer */
    size_t n;          /* answers */
    uint64_t f[PF_FACTORS_MAX];
};

static void want_of(struct want *w, pf_request req)
{
    memset(w, 0, sizeof(*w));
    w->req = req;
    w->n = 1;
    if (req.err != PF_OK || req.num < 0)
        w->error = pf_strerror(req.err != PF_OK ? req.err : PF_ENEGATIVE);
    else if (req.num >= 2)
        w->n = pf_factor((uint64_t)req.num, w->f);
}

/* Answer i of w: false, with what is wrong in err, if r is not it. */
static bool answer_ok(const struct want *w, size_t i, const pf_response *r, char *err, size_t len)
{
    bool last = i + 1 == w->n;
    int64_t result = (int64_t)w->f[i]; /* 0 with an error and for 0 and 1 */
    if (r->num == w->req.num && r->result == result && r->last == last &&
        r->stamp == w->req.stamp && r->error == w->error)
        return true;
    snprintf(err, len,
             "num %" PRId64 " answer %zu/%zu: got {result %" PRId64 ", num %" PRId64
             ", last %d, stamp %" PRIu64 ", error %s}, want {result %" PRId64 ", last %d, stamp %" PRIu64
             ", error %s}",
             w->req.num, i + 1, w->n, r->result, r->num, r->last, r->stamp,
             r->error ? r->error : "-", result, last, w->req.stamp, w->error ? w->error : "-");
    return false;
}

/* Pops every answer of w on the test's thread (pf_stream_pop_now if now). */
static void pop_want(pf_stream *s, const struct want *w, bool now)
{
    char err[512];
    for (size_t i = 0; i < w->n; i++) {
        pf_response r;
        memset(&r, 0xa5, sizeof r);
        int rc = (now ? pf_stream_pop_now : pf_stream_pop)(s, &r);
        if (rc != PF_OK)
            fail_msg("num %" PRId64 " answer %zu: rc %d", w->req.num, i, rc);
        if (!answer_ok(w, i, &r, err, sizeof err))
            fail_msg("%s", err);
    }
}

static struct want push_want(pf_stream *s, pf_request req)
{
    struct want w;
    want_of(&w, req);
    assert_int_equal(pf_stream_push(s, &req), PF_OK);
    return w;
}

/* ---- wakes ---------------------------------------------------------------- */

/* A thread that owns streams, and sleeps until one of their wakes. */
struct owner {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned long woken; /* wakes so far (lock) */
};

/* The order in which the wakes of several streams came. */
struct wake_log {
    pthread_mutex_t lock;
    size_t n;
    int id[4096];
};

/* A stream's wake argument; it outlives the stream, so that a wake after
 * pf_stream_free is counted rather than a use after free. */
struct waker {
    struct owner *owner;   /* or NULL */
    struct wake_log *log;  /* or NULL */
    int id;
    atomic_uint wakes;
    atomic_bool freed;     /* set once pf_stream_free has returned */
    atomic_uint late;      /* wakes that came after that */
    atomic_bool stopped;   /* set once pf_sched_stop has returned */
    atomic_uint after_stop;
};

/* Counts before it signals: an owner woken by it sees it counted. */
static void on_wake(void *arg)
{
    struct waker *w = arg;
    if (atomic_load(&w->freed))
        atomic_fetch_add(&w->late, 1);
    if (atomic_load(&w->stopped))
        atomic_fetch_add(&w->after_stop, 1);
    atomic_fetch_add(&w->wakes, 1);
    if (w->log) {
        pthread_mutex_lock(&w->log->lock);
        if (w->log->n < sizeof w->log->id / sizeof w->log->id[0])
            w->log->id[w->log->n++] = w->id;
        pthread_mutex_unlock(&w->log->lock);
    }
    if (w->owner) {
        pthread_mutex_lock(&w->owner->lock);
        w->owner->woken++;
        pthread_cond_broadcast(&w->owner->cond);
        pthread_mutex_unlock(&w->owner->lock);
    }
}

static void owner_init(struct owner *o)
{
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->cond, NULL);
    o->woken = 0;
}

static void owner_destroy(struct owner *o)
{
    pthread_cond_destroy(&o->cond);
    pthread_mutex_destroy(&o->lock);
}

static unsigned long owner_woken(struct owner *o)
{
    pthread_mutex_lock(&o->lock);
    unsigned long n = o->woken;
    pthread_mutex_unlock(&o->lock);
    return n;
}

/* Sleeps until a wake after the seen-th; false after WAKE_TIMEOUT_S without one. */
static bool owner_wait(struct owner *o, unsigned long *seen)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAKE_TIMEOUT_S;
    pthread_mutex_lock(&o->lock);
    int rc = 0;
    while (o->woken == *seen && rc == 0)
        rc = pthread_cond_timedwait(&o->cond, &o->lock, &until);
    bool woken = o->woken != *seen;
    *seen = o->woken;
    pthread_mutex_unlock(&o->lock);
    return woken;
}

static void waker_init(struct waker *w, struct owner *o, struct wake_log *log, int id)
{
    memset(w, 0, sizeof(*w));
    w->owner = o;
    w->log = log;
    w->id = id;
}

static pf_sched *sched_new(unsigned workers, size_t max_queued, unsigned per_stream)
{
    pf_sched *s = NULL;
    assert_int_equal(pf_sched_new(workers, max_queued, per_stream, &s), PF_OK);
    assert_non_null(s);
    assert_int_equal(pf_sched_queued(s), 0);
    return s;
}

static pf_stream *stream_new(size_t max_pending, pf_sched *sched, struct waker *w)
{
    pf_stream *s = NULL;
    assert_int_equal(pf_stream_new(max_pending, sched, on_wake, w, &s), PF_OK);
    assert_non_null(s);
    return s;
}

static void stream_free(pf_stream *s, struct waker *w)
{
    pf_stream_free(s);
    atomic_store(&w->freed, true);
}

/* Waits (sleeping, up to 5 s) for the workers to finish what they hold. */
static void wait_queued(pf_sched *s, size_t want)
{
    for (int i = 0; i < 5000 && pf_sched_queued(s) != want; i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    assert_int_equal(pf_sched_queued(s), want);
}

/* ---- feeds: streams driven as a front end drives them -------------------- */

/* One stream's requests, pushed while it wants to read, answers popped as
 * they come and checked. */
struct feed {
    pf_stream *s;
    struct waker *w;
    struct want *wants;
    size_t count;     /* requests */
    size_t pushed;
    size_t answered;  /* requests whose last answer was popped */
    size_t part;      /* answers popped of wants[answered] */
    size_t push_stop; /* pushes no more past this */
    size_t free_at;   /* freed once this many are answered, the rest still held */
    bool now;         /* pops with pf_stream_pop_now once every request is pushed */
};

static void feed_init(struct feed *f, size_t count, uint64_t *rng, uint64_t stamp0)
{
    memset(f, 0, sizeof(*f));
    f->wants = calloc(count, sizeof(*f->wants));
    if (!f->wants)
        abort();
    for (size_t i = 0; i < count; i++)
        want_of(&f->wants[i], mixed_request(rng, stamp0 + i));
    f->count = f->push_stop = count;
    f->free_at = SIZE_MAX;
}

static bool feed_done(const struct feed *f)
{
    return f->answered == f->push_stop;
}

/* Pushes and pops what it can; true if it did anything. err is set on a
 * wrong answer or return code. */
static bool feed_step(struct feed *f, char *err, size_t len)
{
    bool progress = false;
    while (f->pushed < f->push_stop && pf_stream_want_read(f->s)) {
        int rc = pf_stream_push(f->s, &f->wants[f->pushed].req);
        if (rc != PF_OK) {
            snprintf(err, len, "push %zu: rc %d while want_read", f->pushed, rc);
            return false;
        }
        f->pushed++;
        progress = true;
    }
    bool now = f->now && f->pushed == f->push_stop;
    while (f->answered < f->pushed) {
        pf_response r;
        int rc = (now ? pf_stream_pop_now : pf_stream_pop)(f->s, &r);
        if (rc == PF_EAGAIN && !now)
            break;
        if (rc != PF_OK) {
            snprintf(err, len, "pop of request %zu: rc %d", f->answered, rc);
            return false;
        }
        if (!answer_ok(&f->wants[f->answered], f->part, &r, err, len))
            return false;
        progress = true;
        if (++f->part == f->wants[f->answered].n) {
            f->answered++;
            f->part = 0;
        }
    }
    if (f->answered == f->pushed && f->pushed < f->count && pf_stream_pending(f->s) != 0) {
        snprintf(err, len, "pending %zu with every request answered", pf_stream_pending(f->s));
        return false;
    }
    return progress;
}

/* Runs feeds to their end on this thread, sleeping for wakes when nothing
 * can be done. err: empty, or the first thing that went wrong. */
static void run_feeds(struct owner *o, struct feed *feeds, size_t n, char *err, size_t len)
{
    unsigned long seen = owner_woken(o);
    for (;;) {
        bool progress = false, all_done = true;
        for (size_t i = 0; i < n; i++) {
            if (feed_done(&feeds[i]))
                continue;
            progress |= feed_step(&feeds[i], err, len);
            if (err[0])
                return;
            all_done &= feed_done(&feeds[i]);
        }
        if (all_done)
            return;
        if (!progress && !owner_wait(o, &seen)) {
            snprintf(err, len, "no wake for %d s with answers outstanding", WAKE_TIMEOUT_S);
            return;
        }
    }
}

/* ---- tests ---------------------------------------------------------------- */

static void test_einval(void **state)
{
    (void)state;
    pf_sched *s = (pf_sched *)(uintptr_t)1; /* left alone on error */
    assert_int_equal(pf_sched_new(0, 16, 16, &s), PF_EINVAL);
    assert_int_equal(pf_sched_new(1, 0, 16, &s), PF_EINVAL);
    assert_int_equal(pf_sched_new(1, 16, 0, &s), PF_EINVAL);
    assert_int_equal(pf_sched_new(1, 16, 16, NULL), PF_EINVAL);
    assert_ptr_equal(s, (pf_sched *)(uintptr_t)1);
    pf_sched_free(NULL);

    s = sched_new(1, 16, 16);
    struct waker w;
    waker_init(&w, NULL, NULL, 0);
    pf_stream *st = (pf_stream *)(uintptr_t)1;
    assert_int_equal(pf_stream_new(0, s, on_wake, &w, &st), PF_EINVAL);
    assert_int_equal(pf_stream_new(8, s, NULL, &w, &st), PF_EINVAL); /* a scheduler needs a wake */
    assert_int_equal(pf_stream_new(8, s, on_wake, &w, NULL), PF_EINVAL);
    assert_ptr_equal(st, (pf_stream *)(uintptr_t)1);
    /* Without a scheduler the wake may be NULL. */
    assert_int_equal(pf_stream_new(8, NULL, NULL, NULL, &st), PF_OK);
    pf_stream_free(st);
    pf_stream_free(NULL);
    pf_sched_free(s);
    assert_int_equal(atomic_load(&w.wakes), 0);
}

/* pf_factored_of: distinct primes with exponents, up to 15 of them. */
static void test_factored_of(void **state)
{
    (void)state;
    struct pf_factored f;
    pf_factored_of(0, &f);
    assert_int_equal(f.count, 0);
    pf_factored_of(1, &f);
    assert_int_equal(f.count, 0);
    pf_factored_of(360, &f);
    assert_int_equal(f.count, 3);
    assert_int_equal(f.prime[0], 2);
    assert_int_equal(f.exp[0], 3);
    assert_int_equal(f.prime[1], 3);
    assert_int_equal(f.exp[1], 2);
    assert_int_equal(f.prime[2], 5);
    assert_int_equal(f.exp[2], 1);
    pf_factored_of(UINT64_C(1) << 63, &f);
    assert_int_equal(f.count, 1);
    assert_int_equal(f.prime[0], 2);
    assert_int_equal(f.exp[0], 63);
    pf_factored_of(UINT64_C(4611686014132420609), &f); /* (2^31-1)^2 */
    assert_int_equal(f.count, 1);
    assert_int_equal(f.prime[0], 2147483647);
    assert_int_equal(f.exp[0], 2);
    /* The first 15 primes: their product is below 2^64. */
    static const uint64_t primes[15] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47};
    uint64_t n = 1;
    for (int i = 0; i < 15; i++)
        n *= primes[i];
    pf_factored_of(n, &f);
    assert_int_equal(f.count, 15);
    for (int i = 0; i < 15; i++) {
        assert_int_equal(f.prime[i], primes[i]);
        assert_int_equal(f.exp[i], 1);
    }
}

/* The hard numbers the tests use go to the workers. */
static void test_hard_numbers_are_jobs(void **state)
{
    (void)state;
    uint64_t rng = 7;
    for (int i = 0; i < 200; i++) {
        int64_t n = hard_number(&rng);
        assert_true(n >= (INT64_C(1) << 60) && n < (INT64_C(1) << 62));
        assert_false(pf_factor_is_quick((uint64_t)n));
        uint64_t f[PF_FACTORS_MAX];
        assert_int_equal(pf_factor((uint64_t)n, f), 2);
    }
}

struct owner_run {
    pthread_t thread;
    struct owner owner;
    pf_sched *sched;
    size_t streams, requests, max_pending;
    uint64_t seed;
    char err[512];
};

/* Many streams on one owner thread, every answer in order. */
static void *many_streams_main(void *arg)
{
    struct owner_run *r = arg;
    uint64_t rng = r->seed;
    struct feed *feeds = calloc(r->streams, sizeof(*feeds));
    struct waker *wakers = calloc(r->streams, sizeof(*wakers));
    if (!feeds || !wakers)
        abort();
    for (size_t i = 0; i < r->streams; i++) {
        feed_init(&feeds[i], r->requests, &rng, i << 32);
        waker_init(&wakers[i], &r->owner, NULL, (int)i);
        feeds[i].w = &wakers[i];
        if (pf_stream_new(r->max_pending, r->sched, on_wake, &wakers[i], &feeds[i].s) != PF_OK)
            abort();
    }
    run_feeds(&r->owner, feeds, r->streams, r->err, sizeof r->err);
    for (size_t i = 0; i < r->streams; i++) {
        pf_stream_free(feeds[i].s);
        free(feeds[i].wants);
    }
    free(feeds);
    free(wakers); /* every stream freed: no wake comes now (ASan would see one) */
    return NULL;
}

static void test_order_many_streams(void **state)
{
    (void)state;
    pf_sched *s = sched_new(2, 16384, 16);
    struct owner_run runs[2];
    for (int t = 0; t < 2; t++) {
        memset(&runs[t], 0, sizeof runs[t]);
        owner_init(&runs[t].owner);
        runs[t].sched = s;
        runs[t].streams = 24;
        runs[t].requests = 80;
        runs[t].max_pending = 32;
        runs[t].seed = 0x9e3779b97f4a7c15u + (uint64_t)t;
        assert_int_equal(pthread_create(&runs[t].thread, NULL, many_streams_main, &runs[t]), 0);
    }
    for (int t = 0; t < 2; t++) {
        pthread_join(runs[t].thread, NULL);
        if (runs[t].err[0])
            fail_msg("owner %d: %s", t, runs[t].err);
        owner_destroy(&runs[t].owner);
    }
    assert_int_equal(pf_sched_queued(s), 0);
    pf_sched_free(s);
}

/* Pushes k hard numbers on s, remembering them in w[]. */
static void push_hard(pf_stream *s, uint64_t *rng, struct want *w, size_t k, uint64_t stamp0)
{
    for (size_t i = 0; i < k; i++)
        w[i] = push_want(s, (pf_request){.num = hard_number(rng), .stamp = stamp0 + i});
}

/* Pops every answer of w[0..k), sleeping for wakes when one is not ready. */
static void pop_hard(pf_stream *s, struct owner *o, struct want *w, size_t k)
{
    unsigned long seen = owner_woken(o);
    for (size_t i = 0; i < k; i++) {
        while (!pf_stream_answer_ready(s))
            if (!owner_wait(o, &seen))
                fail_msg("no wake in %d s for request %zu", WAKE_TIMEOUT_S, i);
        pop_want(s, &w[i], false);
    }
}

/* ---- the order of jobs, read from wakes ----------------------------------- */

/* A stream is woken only when its last job in work is done or every 8 done
 * jobs, so its wakes do not mark each job; the wakes of streams waiting for
 * room do. One worker, T traced jobs queued with max_queued T, and "clock"
 * streams waiting for room: after the k-th job is done k places are free, and
 * wake_waiting_for_room wakes one waiting stream per free place, oldest
 * first: k clocks. The wake log is then, for each job in the order done, its
 * stream's own wake if it has one, then k clocks. "Gate" streams with one job
 * each (512: some 20 ms of work), queued first, keep the worker busy while
 * the test queues the traced jobs and arms the clocks (a clock's first
 * want_read allocates its jobs: microseconds): no traced job is started
 * before all are queued, and the order is exact. Attempts where the gates
 * did not last are seen (trace_arm) and made again. */
enum { GATES = 512, TRACED_MAX = 17, CLOCKS_MAX = TRACED_MAX * (TRACED_MAX + 1) / 2 };
enum { GATE_ID = 100, CLOCK_ID = 1000 }; /* wake ids */
_Static_assert(GATE_ID + GATES <= CLOCK_ID, "gate and clock ids overlap");

struct trace {
    pf_sched *s;
    struct owner owner;
    struct wake_log log;
    size_t jobs;   /* jobs queued to be traced, T */
    size_t traced; /* the first J of them are: J (J + 1) / 2 clocks */
    size_t clocks;
    struct waker gate_w[GATES], clock_w[CLOCKS_MAX];
    pf_stream *gate[GATES], *clock[CLOCKS_MAX];
};

/* k hard numbers in w[], made before the gates are queued (making one costs
 * about as much as factoring it). */
static void make_hard(uint64_t *rng, struct want *w, size_t k, uint64_t stamp0)
{
    for (size_t i = 0; i < k; i++)
        want_of(&w[i], (pf_request){.num = hard_number(rng), .stamp = stamp0 + i});
}

static void push_made(pf_stream *s, const struct want *w, size_t k)
{
    for (size_t i = 0; i < k; i++)
        assert_int_equal(pf_stream_push(s, &w[i].req), PF_OK);
}

/* A scheduler with one worker for `jobs` jobs to be queued next, the first
 * `traced` done of them to be traced; its clocks ready, its gates queued. */
static void trace_start(struct trace *t, size_t jobs, size_t traced, unsigned per_stream,
                        uint64_t *rng)
{
    memset(t, 0, sizeof(*t));
    pthread_mutex_init(&t->log.lock, NULL);
    owner_init(&t->owner);
    t->jobs = jobs;
    t->traced = traced;
    t->clocks = traced * (traced + 1) / 2;
    assert_true(traced <= jobs && traced <= TRACED_MAX);
    t->s = sched_new(1, jobs, per_stream);
    for (size_t i = 0; i < t->clocks; i++) {
        waker_init(&t->clock_w[i], NULL, &t->log, CLOCK_ID + (int)i);
        t->clock[i] = stream_new(64, t->s, &t->clock_w[i]);
    }
    for (int i = 0; i < GATES; i++) {
        waker_init(&t->gate_w[i], NULL, &t->log, GATE_ID + i);
        t->gate[i] = stream_new(64, t->s, &t->gate_w[i]);
    }
    struct want w;
    make_hard(rng, &w, 1, 0);
    /* A first job each makes the gates' jobs: queued again, they queue fast. */
    for (int i = 0; i < GATES; i++)
        push_made(t->gate[i], &w, 1);
    for (int i = 0; i < GATES; i++)
        pop_want(t->gate[i], &w, true);
    for (int i = 0; i < GATES; i++)
        push_made(t->gate[i], &w, 1);
}

/* A traced stream: id < GATE_ID. */
static pf_stream *trace_stream(struct trace *t, struct waker *w, int id)
{
    waker_init(w, &t->owner, &t->log, id);
    return stream_new(64, t->s, w);
}

/* After the traced jobs are queued: the clocks wait for room. False, and the
 * trace is void, if the gates did not last: a traced job was started before
 * all were queued, or done before the clocks waited. */
static bool trace_arm(struct trace *t)
{
    bool gated = !pf_stream_answer_ready(t->gate[GATES - 1]);
    for (size_t i = 0; i < t->clocks; i++)
        if (pf_stream_want_read(t->clock[i]))
            return false;
    return gated;
}

/* Frees the streams and the scheduler: every wake is in the log then. */
static void trace_end(struct trace *t)
{
    for (int i = 0; i < GATES; i++)
        stream_free(t->gate[i], &t->gate_w[i]);
    for (size_t i = 0; i < t->clocks; i++)
        stream_free(t->clock[i], &t->clock_w[i]);
    pf_sched_free(t->s);
    t->s = NULL;
    owner_destroy(&t->owner);
    pthread_mutex_destroy(&t->log.lock);
}

/* The stream of each traced job, in the order the worker did them: the id of
 * the stream whose wake came with it, or -1 for a job done without one. */
static void trace_order(const struct trace *t, int *order)
{
    size_t pos = 0, clock = 0;
    const struct wake_log *log = &t->log;
    while (pos < log->n && log->id[pos] >= GATE_ID && log->id[pos] < CLOCK_ID)
        pos++; /* the gates, all done before */
    for (size_t k = 1; k <= t->traced; k++) {
        order[k - 1] = -1;
        if (pos < log->n && log->id[pos] < GATE_ID)
            order[k - 1] = log->id[pos++];
        for (size_t i = 0; i < k; i++, pos++, clock++)
            if (pos >= log->n || log->id[pos] != CLOCK_ID + (int)clock)
                fail_msg("job %zu: wake %zu is %d, want clock %zu", k, pos,
                         pos < log->n ? log->id[pos] : -1, clock);
    }
}

/* Pops every answer of the traced streams st[0..n), sleeping for wakes. */
static void trace_pop(struct trace *t, pf_stream **st, struct want **want, const size_t *k, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pop_hard(st[i], &t->owner, want[i], k[i]);
}

/* --workers 1, a busy stream with 16 numbers, then streams with one number
 * each: once the busy stream has had a turn, each single has its turn, in the
 * order they came, before the busy stream's next (its whole backlog without
 * turns). */
static void test_one_job_waits_one_turn(void **state)
{
    (void)state;
    enum { BUSY = 16, SINGLES = 3, TRACED = 11 };
    static struct trace t;
    uint64_t rng = 11;
    bool measured = false;
    for (int attempt = 0; attempt < 20 && !measured; attempt++) {
        struct want busy[BUSY], single[SINGLES];
        make_hard(&rng, busy, BUSY, 0);
        make_hard(&rng, single, SINGLES, 100);
        trace_start(&t, BUSY + SINGLES, TRACED, BUSY, &rng);
        struct waker w[1 + SINGLES];
        pf_stream *st[1 + SINGLES];
        struct want *want[1 + SINGLES] = {busy, &single[0], &single[1], &single[2]};
        size_t k[1 + SINGLES] = {BUSY, 1, 1, 1};
        for (int i = 0; i <= SINGLES; i++)
            st[i] = trace_stream(&t, &w[i], i);
        push_made(st[0], busy, BUSY);
        for (int i = 0; i < SINGLES; i++)
            push_made(st[1 + i], &single[i], 1);
        measured = trace_arm(&t);
        trace_pop(&t, st, want, k, 1 + SINGLES);
        for (int i = 0; i <= SINGLES; i++)
            stream_free(st[i], &w[i]);
        trace_end(&t);
        if (!measured)
            continue;
        /* The busy stream's 1st, the singles, its 2nd to 8th (with its wake). */
        int order[TRACED];
        trace_order(&t, order);
        static const int want_order[TRACED] = {-1, 1, 2, 3, -1, -1, -1, -1, -1, -1, 0};
        for (size_t i = 0; i < TRACED; i++)
            if (order[i] != want_order[i])
                fail_msg("job %zu done is stream %d's, want %d's (-1: the busy stream, unwoken)",
                         i + 1, order[i], want_order[i]);
    }
    assert_true(measured);
}

/* --workers 1, a stream with m numbers and one with 16, queued while the
 * worker is busy: they alternate, one job each turn, the first stream first,
 * until it has no more; then the second does the rest. Jobs without a wake
 * of their own cannot be told apart, so the first stream's length varies:
 * its last job, with its wake, is its m-th turn, for each m up to 8. */
static void test_turns_alternate(void **state)
{
    (void)state;
    enum { K = 16 };
    static struct trace t;
    uint64_t rng = 12;
    for (size_t m = 1; m <= 8; m++) {
        const size_t traced = m < 8 ? m + 8 : 16; /* to the second's 8th */
        bool measured = false;
        for (int attempt = 0; attempt < 20 && !measured; attempt++) {
            struct want want[2][K];
            make_hard(&rng, want[0], m, 0);
            make_hard(&rng, want[1], K, 100);
            trace_start(&t, m + K, traced, K, &rng);
            struct waker w[2];
            pf_stream *st[2];
            struct want *wants[2] = {want[0], want[1]};
            size_t k[2] = {m, K};
            for (int i = 0; i < 2; i++)
                st[i] = trace_stream(&t, &w[i], i);
            push_made(st[0], want[0], m);
            push_made(st[1], want[1], K);
            measured = trace_arm(&t);
            trace_pop(&t, st, wants, k, 2);
            for (int i = 0; i < 2; i++)
                stream_free(st[i], &w[i]);
            trace_end(&t);
            if (!measured)
                continue;
            int order[TRACED_MAX];
            trace_order(&t, order);
            size_t done[2] = {0, 0};
            for (size_t i = 0; i < traced; i++) {
                int id = i < 2 * m ? (int)(i % 2) : 1;
                done[id]++;
                bool woken = done[id] % 8 == 0 || done[id] == k[id];
                int want_id = woken ? id : -1;
                if (order[i] != want_id)
                    fail_msg("m %zu: job %zu done with a wake of %d, want %d (stream %d's job %zu; "
                             "-1: none)", m, i + 1, order[i], want_id, id, done[id]);
            }
        }
        assert_true(measured);
    }
}

/* The wake rule: a stream with n jobs queued at once is woken at every 8th
 * done and at its last (ceil(n/8) wakes, none more); jobs pushed one at a
 * time, each waited for, are each the stream's last in work: a wake each. */
static void test_wakes_every_8th_and_last(void **state)
{
    (void)state;
    static const size_t ns[] = {12, 17};
    static struct trace t;
    uint64_t rng = 22;
    for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++) {
        const size_t n = ns[c];
        bool measured = false;
        for (int attempt = 0; attempt < 20 && !measured; attempt++) {
            struct want wants[32];
            make_hard(&rng, wants, n, 0);
            trace_start(&t, n, n, 32, &rng);
            struct waker w;
            pf_stream *a = trace_stream(&t, &w, 0);
            push_made(a, wants, n);
            measured = trace_arm(&t);
            pop_hard(a, &t.owner, wants, n);
            stream_free(a, &w);
            trace_end(&t);
            if (!measured)
                continue;
            int order[TRACED_MAX];
            trace_order(&t, order);
            for (size_t i = 0; i < n; i++) {
                bool woken = (i + 1) % 8 == 0 || i + 1 == n;
                if (order[i] != (woken ? 0 : -1))
                    fail_msg("n %zu: job %zu done %s a wake", n, i + 1, woken ? "without" : "with");
            }
            assert_int_equal(atomic_load(&w.wakes), (n + 7) / 8);
        }
        assert_true(measured);
    }

    enum { ONE_BY_ONE = 12 }; /* past 8: the count starts again at each wake */
    pf_sched *s = sched_new(1, 1024, 32);
    struct owner o;
    owner_init(&o);
    struct waker w;
    waker_init(&w, &o, NULL, 0);
    pf_stream *a = stream_new(64, s, &w);
    unsigned long seen = owner_woken(&o);
    for (unsigned i = 0; i < ONE_BY_ONE; i++) {
        struct want want;
        push_hard(a, &rng, &want, 1, i);
        while (atomic_load(&w.wakes) < i + 1)
            if (!owner_wait(&o, &seen))
                fail_msg("job %u: no wake in %d s", i, WAKE_TIMEOUT_S);
        assert_true(pf_stream_answer_ready(a));
        pop_want(a, &want, false);
        assert_int_equal(atomic_load(&w.wakes), i + 1);
    }
    stream_free(a, &w); /* no wake after it, none running (scheduler.h) */
    pf_sched_free(s);
    assert_int_equal(atomic_load(&w.wakes), ONE_BY_ONE);
    assert_int_equal(atomic_load(&w.late), 0);
    owner_destroy(&o);
}

/* A stream holds at most per_stream unanswered jobs: want_read is false at
 * per_stream, a hard push past it is PF_EFULL, and a job counts until its
 * answers are popped, not until it is factored. Other streams and quick
 * numbers are not held back by it. */
static void test_per_stream_bound(void **state)
{
    (void)state;
    enum { PER = 4 };
    uint64_t rng = 13;
    pf_sched *s = sched_new(1, 1024, PER);
    struct owner o;
    owner_init(&o);
    struct waker wa, wb, wq;
    waker_init(&wa, &o, NULL, 0);
    waker_init(&wb, &o, NULL, 1);
    waker_init(&wq, &o, NULL, 2);
    pf_stream *a = stream_new(64, s, &wa), *b = stream_new(64, s, &wb), *q = stream_new(64, s, &wq);

    struct want wants[PER + 1];
    for (size_t i = 0; i < PER; i++) {
        assert_true(pf_stream_want_read(a));
        push_hard(a, &rng, &wants[i], 1, i);
    }
    assert_false(pf_stream_want_read(a));
    pf_request extra = {.num = hard_number(&rng), .stamp = PER};
    assert_int_equal(pf_stream_push(a, &extra), PF_EFULL);
    assert_int_equal(pf_stream_pending(a), PER);

    /* Another stream is not held back. */
    struct want wb_wants[PER];
    for (size_t i = 0; i < PER; i++) {
        assert_true(pf_stream_want_read(b));
        push_hard(b, &rng, &wb_wants[i], 1, 50 + i);
    }
    assert_false(pf_stream_want_read(b));

    /* Quick numbers never count. */
    struct want quick[20];
    for (size_t i = 0; i < 20; i++) {
        assert_true(pf_stream_want_read(q));
        int64_t n = i % 2 ? (int64_t)(INT64_C(360) << i) : INT64_C(1) << 62;
        quick[i] = push_want(q, (pf_request){.num = n, .stamp = i});
    }
    assert_true(pf_stream_want_read(q));
    for (size_t i = 0; i < 20; i++)
        pop_want(q, &quick[i], false);

    /* Factored is not answered. */
    wait_queued(s, 0);
    assert_false(pf_stream_want_read(a));
    assert_int_equal(pf_stream_push(a, &extra), PF_EFULL);

    /* Its first answer of two leaves the job unanswered; the second frees a place. */
    pf_response r;
    assert_int_equal(pf_stream_pop(a, &r), PF_OK);
    assert_false(r.last);
    assert_false(pf_stream_want_read(a));
    assert_int_equal(pf_stream_pop(a, &r), PF_OK);
    assert_true(r.last);
    assert_true(pf_stream_want_read(a));
    want_of(&wants[PER], extra);
    assert_int_equal(pf_stream_push(a, &extra), PF_OK);
    assert_false(pf_stream_want_read(a));
    pop_hard(a, &o, &wants[1], PER);
    assert_true(pf_stream_want_read(a));
    pop_hard(b, &o, wb_wants, PER);
    assert_int_equal(pf_stream_pending(a), 0);
    assert_int_equal(pf_stream_pending(b), 0);

    stream_free(a, &wa);
    stream_free(b, &wb);
    stream_free(q, &wq);
    pf_sched_free(s);
    owner_destroy(&o);
}

/* Live workers, max_queued 2: a stream that has had jobs and one that never
 * had one stop reading when 2 are queued, and each is woken when a job is
 * done, with room by then. Neither has a job of its own: only room wakes them. */
static void test_max_queued_wakes_blocked(void **state)
{
    (void)state;
    enum { MAXQ = 2, N = 512 };
    uint64_t rng = 14;
    pf_sched *s = sched_new(1, MAXQ, N);
    struct owner oa, ob, oc;
    owner_init(&oa);
    owner_init(&ob);
    owner_init(&oc);
    struct waker wa, wb, wc;
    waker_init(&wa, &oa, NULL, 0);
    waker_init(&wb, &ob, NULL, 1);
    waker_init(&wc, &oc, NULL, 2);
    pf_stream *a = stream_new(N, s, &wa), *b = stream_new(N, s, &wb), *c = stream_new(N, s, &wc);

    struct want first;
    push_hard(b, &rng, &first, 1, 0);
    pop_hard(b, &ob, &first, 1);
    assert_true(pf_stream_want_read(b));

    /* a fills the queue until b and c see it full; jobs finish meanwhile. */
    static struct want wants[N];
    size_t n = 0;
    bool blocked = false;
    unsigned kb = 0, kc = 0;
    while (n < N && !blocked) {
        if (pf_stream_want_read(a)) {
            push_hard(a, &rng, &wants[n], 1, 1000 + n);
            n++;
            assert_true(pf_sched_queued(s) <= MAXQ);
        } else {
            kb = atomic_load(&wb.wakes);
            kc = atomic_load(&wc.wakes);
            blocked = !pf_stream_want_read(b) && !pf_stream_want_read(c);
        }
    }
    assert_true(blocked);
    unsigned long seen_b = 0, seen_c = 0;
    while (atomic_load(&wb.wakes) == kb)
        if (!owner_wait(&ob, &seen_b))
            fail_msg("the blocked stream had no wake in %d s", WAKE_TIMEOUT_S);
    while (atomic_load(&wc.wakes) == kc)
        if (!owner_wait(&oc, &seen_c))
            fail_msg("the blocked new stream had no wake in %d s", WAKE_TIMEOUT_S);
    assert_true(pf_sched_queued(s) < MAXQ);
    assert_true(pf_stream_want_read(b));
    assert_true(pf_stream_want_read(c));

    pop_hard(a, &oa, wants, n);
    assert_int_equal(pf_sched_queued(s), 0);
    stream_free(a, &wa);
    stream_free(b, &wb);
    stream_free(c, &wc);
    pf_sched_free(s);
    owner_destroy(&oa);
    owner_destroy(&ob);
    owner_destroy(&oc);
}

/* At max_queued every stream with a scheduler stops reading, one that never
 * had a job too; pop_now and free make room. A stopped scheduler keeps its
 * queue as it is. */
static void test_max_queued_holds_new_stream(void **state)
{
    (void)state;
    enum { MAXQ = 2 };
    uint64_t rng = 15;
    pf_sched *s = sched_new(1, MAXQ, 16);
    pf_sched_stop(s);
    struct waker wa, wn, wf;
    waker_init(&wa, NULL, NULL, 0);
    waker_init(&wn, NULL, NULL, 1);
    waker_init(&wf, NULL, NULL, 2);
    pf_stream *a = stream_new(64, s, &wa), *fresh = stream_new(64, s, &wn),
              *filler = stream_new(64, s, &wf);
    assert_true(pf_stream_want_read(fresh));

    struct want wants[MAXQ];
    push_hard(a, &rng, wants, MAXQ, 0);
    assert_int_equal(pf_sched_queued(s), MAXQ);
    assert_false(pf_stream_want_read(a));
    assert_false(pf_stream_want_read(fresh));

    /* pop_now factors a's oldest on this thread: room again. */
    pop_want(a, &wants[0], true);
    assert_int_equal(pf_sched_queued(s), MAXQ - 1);
    assert_true(pf_stream_want_read(fresh));
    assert_true(pf_stream_want_read(a));

    /* Full again; freeing the stream with the queued job makes room. */
    struct want more;
    push_hard(filler, &rng, &more, 1, 10);
    assert_false(pf_stream_want_read(fresh));
    stream_free(filler, &wf);
    assert_int_equal(pf_sched_queued(s), MAXQ - 1);
    assert_true(pf_stream_want_read(fresh));
    struct want last = push_want(fresh, (pf_request){.num = hard_number(&rng), .stamp = 20});
    pop_want(fresh, &last, true);
    pop_want(a, &wants[1], true);
    assert_int_equal(pf_sched_queued(s), 0);
    stream_free(a, &wa);
    stream_free(fresh, &wn);
    pf_sched_free(s);
}

/* pf_stream_free drops queued jobs at once (a stopped scheduler: exactly),
 * with live workers the queue empties too, and no wake comes after free. */
static void test_free_drops_queued(void **state)
{
    (void)state;
    uint64_t rng = 16;
    pf_sched *s = sched_new(1, 1024, 16);
    pf_sched_stop(s);
    struct waker wa, wb;
    waker_init(&wa, NULL, NULL, 0);
    waker_init(&wb, NULL, NULL, 1);
    pf_stream *a = stream_new(64, s, &wa), *b = stream_new(64, s, &wb);
    struct want wants[16];
    push_hard(a, &rng, wants, 16, 0);
    push_hard(b, &rng, wants, 3, 100);
    assert_int_equal(pf_stream_push(a, &(pf_request){.num = 360}), PF_OK); /* quick, held */
    assert_int_equal(pf_sched_queued(s), 19);
    stream_free(a, &wa);
    assert_int_equal(pf_sched_queued(s), 3);
    stream_free(b, &wb);
    assert_int_equal(pf_sched_queued(s), 0);
    pf_sched_free(s);
    assert_int_equal(atomic_load(&wa.wakes) + atomic_load(&wb.wakes), 0);

    enum { STREAMS = 6, WORKERS = 2 };
    s = sched_new(WORKERS, 1024, 16);
    struct waker w[STREAMS];
    pf_stream *st[STREAMS];
    for (int i = 0; i < STREAMS; i++) {
        waker_init(&w[i], NULL, NULL, i);
        st[i] = stream_new(64, s, &w[i]);
        push_hard(st[i], &rng, wants, 16, 0);
    }
    for (int i = 0; i < STREAMS; i++) {
        stream_free(st[i], &w[i]);
        assert_true(pf_sched_queued(s) <= (size_t)(STREAMS - 1 - i) * 16 + WORKERS);
    }
    wait_queued(s, 0);
    pf_sched_free(s); /* joins the workers: every wake has come */
    for (int i = 0; i < STREAMS; i++)
        assert_int_equal(atomic_load(&w[i].late), 0);
}

/* pf_stream_free while a worker factors one of its jobs: the job finishes
 * into memory still held (ASan), no wake comes, the queue empties. With
 * --workers 1 and one stream, the worker takes the stream's next job in the
 * same hold of the lock as it finishes one: from the first done on, until the
 * last is taken (~2000 jobs later), one is always being factored. */
static void test_free_while_factoring(void **state)
{
    (void)state;
    enum { K = 2048 };
    uint64_t rng = 17;
    const int64_t n = hard_number(&rng);
    int hits = 0;
    for (int attempt = 0; attempt < 50 && hits < 3; attempt++) {
        pf_sched *s = sched_new(1, K, K);
        struct waker w;
        waker_init(&w, NULL, NULL, 0);
        pf_stream *a = stream_new(K, s, &w);
        for (int i = 0; i < K; i++)
            assert_int_equal(pf_stream_push(a, &(pf_request){.num = n, .stamp = (uint64_t)i}), PF_OK);
        while (!pf_stream_answer_ready(a))
            ;
        stream_free(a, &w);
        hits += pf_sched_queued(s) == 1; /* the one being factored: the rest dropped */
        wait_queued(s, 0);
        pf_sched_free(s); /* joins the worker: any late wake has come */
        assert_int_equal(atomic_load(&w.late), 0);
    }
    assert_true(hits > 0);
}

/* pop_now on a job no worker has taken: a stopped scheduler takes none, the
 * caller factors it; pop alone answers only what needs no worker. */
static void test_pop_now_not_taken(void **state)
{
    (void)state;
    uint64_t rng = 18;
    pf_sched *s = sched_new(1, 1024, 16);
    pf_sched_stop(s);
    struct waker w;
    waker_init(&w, NULL, NULL, 0);
    pf_stream *a = stream_new(64, s, &w);
    struct want h1 = push_want(a, (pf_request){.num = hard_number(&rng), .stamp = 1});
    struct want q1 = push_want(a, (pf_request){.num = 360, .stamp = 2});
    struct want h2 = push_want(a, (pf_request){.num = hard_number(&rng), .stamp = 3});
    struct want e1 = push_want(a, (pf_request){.num = -5, .stamp = 4});
    struct want z1 = push_want(a, (pf_request){.num = 0, .err = PF_ESYNTAX, .stamp = 5});
    struct want h3 = push_want(a, (pf_request){.num = hard_number(&rng), .stamp = 6});
    assert_int_equal(pf_sched_queued(s), 3);

    pf_response r;
    assert_false(pf_stream_answer_ready(a));
    assert_int_equal(pf_stream_pop(a, &r), PF_EAGAIN);
    pop_want(a, &h1, true);
    assert_int_equal(pf_sched_queued(s), 2);
    pop_want(a, &q1, false);
    assert_int_equal(pf_stream_pop(a, &r), PF_EAGAIN);
    /* pop_now's first answer, then pop for the rest: the job is answered. */
    assert_int_equal(pf_stream_pop_now(a, &r), PF_OK);
    assert_true(r.result == (int64_t)h2.f[0] && !r.last);
    assert_int_equal(pf_sched_queued(s), 1);
    assert_true(pf_stream_answer_ready(a));
    assert_int_equal(pf_stream_pop(a, &r), PF_OK);
    assert_true(r.result == (int64_t)h2.f[1] && r.last && r.num == h2.req.num);
    pop_want(a, &e1, false);
    pop_want(a, &z1, true); /* nothing to factor: pop_now is pop */
    pop_want(a, &h3, true);
    assert_int_equal(pf_sched_queued(s), 0);
    assert_int_equal(pf_stream_pop_now(a, &r), PF_EAGAIN);
    assert_int_equal(pf_stream_pending(a), 0);
    stream_free(a, &w);
    pf_sched_free(s);
    assert_int_equal(atomic_load(&w.wakes), 0);
}

/* pop_now on a job a worker is factoring waits for it. With --workers 1 and
 * one stream, the worker takes the next job in the same hold of the lock as
 * it finishes one: from the first done on, the oldest job not done is the
 * one the worker has, until the last. */
static void test_pop_now_being_factored(void **state)
{
    (void)state;
    enum { K = 512 };
    uint64_t rng = 19;
    struct want want;
    want_of(&want, (pf_request){.num = hard_number(&rng)});
    int hits = 0;
    for (int attempt = 0; attempt < 5 && hits == 0; attempt++) {
        pf_sched *s = sched_new(1, K, K);
        struct waker w;
        waker_init(&w, NULL, NULL, 0);
        pf_stream *a = stream_new(K, s, &w);
        for (int i = 0; i < K; i++)
            assert_int_equal(pf_stream_push(a, &want.req), PF_OK);
        while (!pf_stream_answer_ready(a))
            ;
        for (int i = 0; i < K; i++) {
            bool taken = !pf_stream_answer_ready(a);
            hits += taken;
            pop_want(a, &want, taken);
        }
        assert_int_equal(pf_sched_queued(s), 0);
        stream_free(a, &w);
        pf_sched_free(s);
    }
    assert_true(hits > 0);
}

/* pf_sched_stop with jobs queued: pop_now answers every one of them on the
 * owner's thread, pop alone waits forever for a job no worker took. */
static void test_stop_then_pop_now(void **state)
{
    (void)state;
    enum { STREAMS = 4, K = 16 };
    uint64_t rng = 20;
    pf_sched *s = sched_new(2, 1024, 16);
    struct waker w[STREAMS + 1];
    pf_stream *st[STREAMS + 1];
    struct want wants[STREAMS][K];
    for (int i = 0; i < STREAMS; i++) {
        waker_init(&w[i], NULL, NULL, i);
        st[i] = stream_new(64, s, &w[i]);
        for (int k = 0; k < K; k++) {
            pf_request r = {.num = k % 4 == 3 ? 360 + k : hard_number(&rng), .stamp = (uint64_t)k};
            wants[i][k] = push_want(st[i], r);
        }
    }
    pf_sched_stop(s);
    for (int i = 0; i < STREAMS; i++)
        atomic_store(&w[i].stopped, true);
    for (int i = 0; i < STREAMS; i++)
        for (int k = 0; k < K; k++)
            pop_want(st[i], &wants[i][k], true);
    assert_int_equal(pf_sched_queued(s), 0);

    waker_init(&w[STREAMS], NULL, NULL, STREAMS);
    st[STREAMS] = stream_new(64, s, &w[STREAMS]);
    struct want late = push_want(st[STREAMS], (pf_request){.num = hard_number(&rng), .stamp = 7});
    assert_int_equal(pf_sched_queued(s), 1);
    pf_response r;
    assert_false(pf_stream_answer_ready(st[STREAMS]));
    assert_int_equal(pf_stream_pop(st[STREAMS], &r), PF_EAGAIN);
    pop_want(st[STREAMS], &late, true);
    assert_int_equal(pf_sched_queued(s), 0);
    for (int i = 0; i <= STREAMS; i++) {
        stream_free(st[i], &w[i]);
        assert_int_equal(atomic_load(&w[i].after_stop), 0);
    }
    pf_sched_free(s);
}

/* No wake comes after pf_sched_stop returns (scheduler.h), not even to a
 * stream waiting for room that pop_now or free then make. */
static void test_no_wake_after_stop(void **state)
{
    (void)state;
    enum { MAXQ = 2 };
    uint64_t rng = 21;
    pf_sched *s = sched_new(1, MAXQ, 16);
    struct owner o;
    owner_init(&o);
    struct waker wa, wb;
    waker_init(&wa, NULL, NULL, 0);
    waker_init(&wb, &o, NULL, 1);
    pf_stream *a = stream_new(64, s, &wa), *b = stream_new(64, s, &wb);
    struct want first, wants[MAXQ];
    push_hard(b, &rng, &first, 1, 0);
    pop_hard(b, &o, &first, 1);

    pf_sched_stop(s);
    atomic_store(&wa.stopped, true);
    atomic_store(&wb.stopped, true);
    push_hard(a, &rng, wants, MAXQ, 10);
    assert_false(pf_stream_want_read(a));
    assert_false(pf_stream_want_read(b));
    pop_want(a, &wants[0], true); /* room */
    assert_true(pf_stream_want_read(b));
    stream_free(a, &wa);
    assert_int_equal(pf_sched_queued(s), 0);
    assert_int_equal(atomic_load(&wa.after_stop), 0);
    assert_int_equal(atomic_load(&wb.after_stop), 0);
    stream_free(b, &wb);
    pf_sched_free(s);
    owner_destroy(&o);
}

/* ---- stress (for ThreadSanitizer) ----------------------------------------- */

/* Owner threads, each with SLOTS streams at a time on a scheduler whose
 * queue is smaller than what they would queue: each stream runs to its end,
 * is freed with numbers still queued, or ends with pop_now (a WebSocket's
 * Close), and the next stream of its slot starts. */
enum { ST_OWNERS = 4, ST_SLOTS = 4, ST_GENS = 3, ST_REQUESTS = 250 };

struct stress_owner {
    pthread_t thread;
    struct owner owner;
    pf_sched *sched;
    uint64_t seed;
    struct waker wakers[ST_SLOTS * ST_GENS]; /* outlive their streams */
    unsigned freed_early;
    char err[512];
};

static void stress_start(struct stress_owner *r, struct feed *f, int slot, int gen, uint64_t *rng)
{
    feed_init(f, ST_REQUESTS, rng, (uint64_t)(slot * ST_GENS + gen) << 32);
    switch (next_rand(rng) % 3) {
    case 0:
        f->free_at = next_rand(rng) % ST_REQUESTS;
        break;
    case 1:
        f->now = true;
        f->push_stop = 1 + next_rand(rng) % ST_REQUESTS;
        break;
    }
    f->w = &r->wakers[slot * ST_GENS + gen];
    waker_init(f->w, &r->owner, NULL, slot * ST_GENS + gen);
    if (pf_stream_new(16, r->sched, on_wake, f->w, &f->s) != PF_OK)
        abort();
}

static void stress_end(struct feed *f)
{
    pf_stream_free(f->s);
    atomic_store(&f->w->freed, true);
    f->s = NULL;
    free(f->wants);
}

static void *stress_main(void *arg)
{
    struct stress_owner *r = arg;
    uint64_t rng = r->seed;
    struct feed feeds[ST_SLOTS];
    int gen[ST_SLOTS] = {0}, live = ST_SLOTS;
    for (int i = 0; i < ST_SLOTS; i++)
        stress_start(r, &feeds[i], i, 0, &rng);
    unsigned long seen = owner_woken(&r->owner);
    while (live > 0 && !r->err[0]) {
        bool progress = false;
        for (int i = 0; i < ST_SLOTS && !r->err[0]; i++) {
            struct feed *f = &feeds[i];
            if (!f->s)
                continue;
            progress |= feed_step(f, r->err, sizeof r->err);
            if (!feed_done(f) && f->answered < f->free_at)
                continue;
            r->freed_early += !feed_done(f);
            stress_end(f);
            progress = true;
            if (++gen[i] < ST_GENS)
                stress_start(r, f, i, gen[i], &rng);
            else
                live--;
        }
        if (!progress && !r->err[0] && !owner_wait(&r->owner, &seen))
            snprintf(r->err, sizeof r->err, "no wake for %d s", WAKE_TIMEOUT_S);
    }
    for (int i = 0; i < ST_SLOTS; i++)
        if (feeds[i].s)
            stress_end(&feeds[i]);
    return NULL;
}

static void test_stress(void **state)
{
    (void)state;
    pf_sched *s = sched_new(3, 24, 4);
    static struct stress_owner runs[ST_OWNERS];
    unsigned freed_early = 0;
    for (int t = 0; t < ST_OWNERS; t++) {
        memset(&runs[t], 0, sizeof runs[t]);
        owner_init(&runs[t].owner);
        runs[t].sched = s;
        runs[t].seed = 0x2545f4914f6cdd1du * (uint64_t)(t + 1);
        assert_int_equal(pthread_create(&runs[t].thread, NULL, stress_main, &runs[t]), 0);
    }
    for (int t = 0; t < ST_OWNERS; t++)
        pthread_join(runs[t].thread, NULL);
    wait_queued(s, 0); /* jobs of freed streams finishing */
    pf_sched_free(s);  /* every wake has come */
    for (int t = 0; t < ST_OWNERS; t++) {
        if (runs[t].err[0])
            fail_msg("owner %d: %s", t, runs[t].err);
        for (int i = 0; i < ST_SLOTS * ST_GENS; i++)
            if (atomic_load(&runs[t].wakers[i].late))
                fail_msg("owner %d stream %d: a wake after pf_stream_free", t, i);
        freed_early += runs[t].freed_early;
        owner_destroy(&runs[t].owner);
    }
    assert_true(freed_early > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_einval),
        cmocka_unit_test(test_factored_of),
        cmocka_unit_test(test_hard_numbers_are_jobs),
        cmocka_unit_test(test_order_many_streams),
        cmocka_unit_test(test_one_job_waits_one_turn),
        cmocka_unit_test(test_turns_alternate),
        cmocka_unit_test(test_wakes_every_8th_and_last),
        cmocka_unit_test(test_per_stream_bound),
        cmocka_unit_test(test_max_queued_wakes_blocked),
        cmocka_unit_test(test_max_queued_holds_new_stream),
        cmocka_unit_test(test_free_drops_queued),
        cmocka_unit_test(test_free_while_factoring),
        cmocka_unit_test(test_pop_now_not_taken),
        cmocka_unit_test(test_pop_now_being_factored),
        cmocka_unit_test(test_stop_then_pop_now),
        cmocka_unit_test(test_no_wake_after_stop),
        cmocka_unit_test(test_stress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
