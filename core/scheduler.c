#include "scheduler.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "factor.h"
#include "pf.h"
#include "scheduler_internal.h"

struct pf_job {
    uint64_t n;
    atomic_bool done; /* stored last (release): the owner then reads result */
    struct pf_factored result;
};

/* A link in one of the scheduler's circular lists (the turn queue, the
 * streams waiting for room). */
struct link {
    struct link *prev, *next;
};

struct pf_jobs {
    pf_sched *sched;
    pf_wake_fn *wake;
    void *arg;
    /* Sequence numbers (64 bits never wrap): ring[seq % per_stream].
     * head <= take <= tail; head is the owner's, take and tail change under
     * the lock (the owner writes tail, workers take). */
    uint64_t head, take, tail;
    unsigned running;   /* jobs workers are factoring now (lock) */
    unsigned unwoken;   /* jobs done since the owner was last woken (lock) */
    bool released;      /* the stream is gone (lock) */
    struct link turn;    /* in the turn queue while take < tail (lock) */
    struct link waiting; /* waiting for room under max_queued (lock) */
    struct pf_job ring[]; /* per_stream */
};

struct pf_sched {
    pthread_mutex_t lock;
    pthread_cond_t work;     /* a job was queued, or stop */
    pthread_cond_t finished; /* a job finished, for pf_jobs_oldest_now */
    struct link turns;       /* streams with queued jobs, in turn order */
    struct link room;        /* streams waiting for queued < max_queued */
    atomic_size_t queued;    /* jobs queued or being factored; changed under the lock */
    atomic_ullong jobs;      /* ever added */
    size_t max_queued;
    unsigned per_stream;
    unsigned idle;           /* workers waiting for work */
    unsigned now_waiting;    /* owners in pf_jobs_oldest_now */
    bool stopping;
    unsigned nthreads;
    pthread_t *threads;
};

/* A stream's owner is woken when its last job in work is done, or every
 * WAKE_EVERY done jobs before that: a busy stream's answers then go out a
 * few at a time, one wake-up and one write for several, and a stream with
 * one number waits for nothing but it. */
#define WAKE_EVERY 8

#define JOBS_OF(l, member) ((struct pf_jobs *)((char *)(l) - offsetof(struct pf_jobs, member)))

static void list_init(struct link *l) { l->prev = l->next = l; }
static bool list_empty(const struct link *l) { return l->next == l; }
static bool linked(const struct link *l) { return l->next != NULL && l->next != l; }

static void list_append(struct link *list, struct link *l)
{
    l->prev = list->prev;
    l->next = list;
    list->prev->next = l;
    list->prev = l;
}

static void list_remove(struct link *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    list_init(l);
}

void pf_factored_of(uint64_t n, struct pf_factored *out)
{
    uint64_t f[PF_FACTORS_MAX];
    size_t count = pf_factor(n, f);
    out->count = 0;
    for (size_t i = 0; i < count; i++) {
        if (i > 0 && f[i] == f[i - 1]) {
            out->exp[out->count - 1]++;
            continue;
        }
        out->prime[out->count] = f[i];
        out->exp[out->count] = 1;
        out->count++;
    }
}

/* ---- under the lock ------------------------------------------------------ */

static size_t queued(const pf_sched *s)
{
    return atomic_load_explicit(&s->queued, memory_order_relaxed);
}

static void add_queued(pf_sched *s, long delta)
{
    atomic_fetch_add_explicit(&s->queued, (size_t)delta, memory_order_relaxed);
}

/* Jobs finished or dropped: streams waiting for room may read again. Not
 * once stopped: pop_now and free still make room, but no wake may come. */
static void wake_waiting_for_room(pf_sched *s)
{
    if (s->stopping || queued(s) >= s->max_queued)
        return;
    /* One stream per free place, oldest first: the rest wait for the next. */
    for (size_t room = s->max_queued - queued(s); room > 0 && !list_empty(&s->room); room--) {
        struct pf_jobs *j = JOBS_OF(s->room.next, waiting);
        list_remove(&j->waiting);
        j->wake(j->arg);
    }
}

/* A worker's turn: the next stream's oldest queued job. The stream goes back
 * to the end of the queue while it has more. */
static struct pf_job *take_turn(pf_sched *s, struct pf_jobs **owner)
{
    struct pf_jobs *j = JOBS_OF(s->turns.next, turn);
    list_remove(&j->turn);
    struct pf_job *job = &j->ring[j->take++ % s->per_stream];
    if (j->take != j->tail)
        list_append(&s->turns, &j->turn);
    j->running++;
    *owner = j;
    return job;
}

static void job_done(pf_sched *s, struct pf_jobs *j, struct pf_job *job)
{
    atomic_store_explicit(&job->done, true, memory_order_release);
    j->running--;
    add_queued(s, -1);
    if (j->released) {
        if (j->running == 0)
            free(j);
    } else if (++j->unwoken >= WAKE_EVERY || (j->running == 0 && j->take == j->tail)) {
        j->unwoken = 0;
        j->wake(j->arg);
    }
    if (s->now_waiting)
        pthread_cond_broadcast(&s->finished);
    wake_waiting_for_room(s);
}

/* ---- the workers --------------------------------------------------------- */

static void *worker_main(void *arg)
{
    pf_sched *s = arg;
    /* Factoring is batch work: a worker does not preempt the I/O threads
     * when it wakes, so that they answer /healthz and quick numbers at once. */
    struct sched_param batch = { 0 };
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &batch);
    pthread_setname_np(pthread_self(), "pfgate-factor"); /* top -H, perf */
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->stopping && list_empty(&s->turns)) {
            s->idle++;
            pthread_cond_wait(&s->work, &s->lock);
            s->idle--;
        }
        if (s->stopping)
            break;
        struct pf_jobs *j;
        struct pf_job *job = take_turn(s, &j);
        uint64_t n = job->n;
        pthread_mutex_unlock(&s->lock);

        struct pf_factored f;
        pf_factored_of(n, &f);

        pthread_mutex_lock(&s->lock);
        job->result = f;
        job_done(s, j, job);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int pf_sched_new(unsigned workers, size_t max_queued, unsigned per_stream, pf_sched **out)
{
    if (workers == 0 || max_queued == 0 || per_stream == 0 || !out)
        return PF_EINVAL;
    pf_sched *s = calloc(1, sizeof(*s));
    if (!s)
        return PF_ENOMEM;
    s->threads = calloc(workers, sizeof(*s->threads));
    if (!s->threads) {
        free(s);
        return PF_ENOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->finished, NULL);
    list_init(&s->turns);
    list_init(&s->room);
    s->max_queued = max_queued;
    s->per_stream = per_stream;
    for (; s->nthreads < workers; s->nthreads++) {
        if (pthread_create(&s->threads[s->nthreads], NULL, worker_main, s) != 0) {
            pf_sched_free(s);
            return PF_EAGAIN;
        }
    }
    *out = s;
    return PF_OK;
}

void pf_sched_stop(pf_sched *s)
{
    pthread_mutex_lock(&s->lock);
    bool was = s->stopping;
    s->stopping = true;
    pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->lock);
    if (was)
        return;
    for (unsigned i = 0; i < s->nthreads; i++)
        pthread_join(s->threads[i], NULL);
}

void pf_sched_free(pf_sched *s)
{
    if (!s)
        return;
    pf_sched_stop(s);
    pthread_cond_destroy(&s->finished);
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->lock);
    free(s->threads);
    free(s);
}

size_t pf_sched_queued(const pf_sched *s)
{
    return queued(s);
}

unsigned long long pf_sched_jobs_total(const pf_sched *s)
{
    return atomic_load_explicit(&s->jobs, memory_order_relaxed);
}

bool pf_sched_full(const pf_sched *s)
{
    return queued(s) >= s->max_queued;
}

/* ---- one stream's jobs, on its owner's thread ----------------------------- */

struct pf_jobs *pf_jobs_new(pf_sched *s, pf_wake_fn *wake, void *arg)
{
    struct pf_jobs *j = calloc(1, sizeof(*j) + s->per_stream * sizeof(j->ring[0]));
    if (!j)
        return NULL;
    j->sched = s;
    j->wake = wake;
    j->arg = arg;
    list_init(&j->turn);
    list_init(&j->waiting);
    return j;
}

void pf_jobs_release(struct pf_jobs *j)
{
    if (!j)
        return;
    pf_sched *s = j->sched;
    pthread_mutex_lock(&s->lock);
    if (linked(&j->turn))
        list_remove(&j->turn);
    if (linked(&j->waiting))
        list_remove(&j->waiting);
    add_queued(s, -(long)(j->tail - j->take)); /* dropped: never taken */
    j->take = j->tail;
    j->released = true;
    bool free_now = j->running == 0;
    wake_waiting_for_room(s);
    pthread_mutex_unlock(&s->lock);
    if (free_now)
        free(j);
}

bool pf_jobs_full(const struct pf_jobs *j)
{
    return j->tail - j->head >= j->sched->per_stream;
}

bool pf_jobs_room(struct pf_jobs *j)
{
    if (pf_jobs_full(j))
        return false; /* woken when the oldest is done */
    pf_sched *s = j->sched;
    if (queued(s) < s->max_queued)
        return true;
    pthread_mutex_lock(&s->lock);
    bool room = queued(s) < s->max_queued;
    if (!room && !linked(&j->waiting))
        list_append(&s->room, &j->waiting);
    pthread_mutex_unlock(&s->lock);
    return room;
}

void pf_jobs_add(struct pf_jobs *j, uint64_t n)
{
    struct pf_job *job = &j->ring[j->tail % j->sched->per_stream];
    job->n = n;
    atomic_store_explicit(&job->done, false, memory_order_relaxed);
    pf_sched *s = j->sched;
    pthread_mutex_lock(&s->lock);
    if (j->take == j->tail)
        list_append(&s->turns, &j->turn);
    j->tail++;
    add_queued(s, 1);
    atomic_fetch_add_explicit(&s->jobs, 1, memory_order_relaxed);
    bool wake = s->idle > 0;
    pthread_mutex_unlock(&s->lock);
    /* After the unlock: a worker woken under the lock would at once sleep
     * again on it (two futex calls per job instead of one). A waiter is
     * counted in idle only inside its wait, so the signal cannot be lost. */
    if (wake)
        pthread_cond_signal(&s->work);
}

const struct pf_factored *pf_jobs_oldest_done(struct pf_jobs *j)
{
    struct pf_job *job = &j->ring[j->head % j->sched->per_stream];
    return atomic_load_explicit(&job->done, memory_order_acquire) ? &job->result : NULL;
}

const struct pf_factored *pf_jobs_oldest_now(struct pf_jobs *j)
{
    const struct pf_factored *f = pf_jobs_oldest_done(j);
    if (f)
        return f;
    struct pf_job *job = &j->ring[j->head % j->sched->per_stream];
    pf_sched *s = j->sched;
    pthread_mutex_lock(&s->lock);
    if (j->take == j->head) {
        /* No worker has it: the owner factors it itself. */
        if (++j->take == j->tail)
            list_remove(&j->turn); /* else it keeps its place in the turns */
        add_queued(s, -1);
        wake_waiting_for_room(s);
        pthread_mutex_unlock(&s->lock);
        pf_factored_of(job->n, &job->result);
        atomic_store_explicit(&job->done, true, memory_order_relaxed);
        return &job->result;
    }
    s->now_waiting++;
    while (!atomic_load_explicit(&job->done, memory_order_acquire))
        pthread_cond_wait(&s->finished, &s->lock);
    s->now_waiting--;
    pthread_mutex_unlock(&s->lock);
    return &job->result;
}

void pf_jobs_take_done(struct pf_jobs *j)
{
    j->head++;
}
