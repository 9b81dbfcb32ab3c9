/* Between pf_stream and pf_sched: one stream's jobs. Not for front ends.
 *
 * A stream's jobs are a ring of at most the scheduler's per_stream, in the
 * stream's order.
 * Its owner (the stream's thread) adds jobs at the tail and takes finished
 * ones from the head; workers take queued ones in order and write their
 * results. The owner reads a result only after seeing its job done. */
#ifndef PF_SCHEDULER_INTERNAL_H
#define PF_SCHEDULER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "scheduler.h"

/* A factorization as its distinct primes and their exponents: a 64-bit
 * number has at most 15 distinct prime factors (the first 16 primes
 * multiply to more than 2^64). */
#define PF_DISTINCT_MAX 15
struct pf_factored {
    uint8_t count;
    uint8_t exp[PF_DISTINCT_MAX];
    uint64_t prime[PF_DISTINCT_MAX];
};

/* Factors n into *out. */
void pf_factored_of(uint64_t n, struct pf_factored *out);

/* Called with the scheduler's lock held, when the stream's owner may have
 * something to do: a job of its finished (on a worker), or jobs may be added
 * again (on a worker, or on the thread of any stream's owner whose
 * pf_jobs_oldest_now or pf_jobs_release made room). Must only wake the
 * owner's thread, quickly; may come when there is nothing new. */
typedef void pf_wake_fn(void *arg);

struct pf_jobs;

/* True when max_queued jobs are queued or being factored. */
bool pf_sched_full(const pf_sched *s);

/* The jobs of one stream on s; NULL when out of memory. */
struct pf_jobs *pf_jobs_new(pf_sched *s, pf_wake_fn *wake, void *arg);

/* The stream is gone: its queued jobs are dropped now, and the jobs are freed
 * once no worker factors one of them. No wake comes after this returns. NULL-safe. */
void pf_jobs_release(struct pf_jobs *j);

/* True while another job may be added: fewer than per_stream unanswered,
 * and the scheduler below its max_queued (else the stream is woken when it
 * has room again). */
bool pf_jobs_room(struct pf_jobs *j);

/* True when per_stream jobs are unanswered: no job may be added. */
bool pf_jobs_full(const struct pf_jobs *j);

/* Adds a job for n; not when pf_jobs_full. Past max_queued is allowed
 * (the caller may have checked pf_jobs_room a while ago). */
void pf_jobs_add(struct pf_jobs *j, uint64_t n);

/* The oldest unanswered job's result if it is done, else NULL. */
const struct pf_factored *pf_jobs_oldest_done(struct pf_jobs *j);

/* The oldest unanswered job's result, now: factored by the caller if no
 * worker has taken it yet, else waited for. */
const struct pf_factored *pf_jobs_oldest_now(struct pf_jobs *j);

/* The oldest job has been answered: its place is free. */
void pf_jobs_take_done(struct pf_jobs *j);

#endif
