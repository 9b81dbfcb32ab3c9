/* pf_sched: the factoring workers, and the turns streams take on them.
 *
 * A number that is not cheap (pf_stream decides: see stream.h) becomes a job
 * of its stream. The streams with jobs waiting form one round-robin queue:
 * a free worker takes the next stream's oldest job, and the stream goes back
 * to the end of the queue if it has more. So a stream with one number waits
 * for at most one turn of each other busy stream, never for their backlogs,
 * and one busy stream still keeps every worker busy.
 *
 * No I/O: a stream's owner hears of its finished jobs through the wake
 * callback it gave pf_stream_new(), and does its I/O on its own thread. */
#ifndef PF_SCHEDULER_H
#define PF_SCHEDULER_H

#include <stddef.h>

typedef struct pf_sched pf_sched;

/* Starts `workers` factoring threads. max_queued bounds the jobs queued or
 * being factored, in all, per_stream the jobs of one stream not yet
 * answered: past either, streams stop reading (pf_stream_want_read) until
 * jobs finish. per_stream also bounds what a stream's owner may have to
 * factor itself at once (pf_stream_pop_now). PF_EINVAL, PF_ENOMEM, or
 * PF_EAGAIN when a thread cannot be started. */
int pf_sched_new(unsigned workers, size_t max_queued, unsigned per_stream, pf_sched **out);

/* Stops the workers and waits for them: no wake callback comes after this.
 * Jobs still queued are factored only by pf_stream_pop_now(). */
void pf_sched_stop(pf_sched *s);

/* Stops it if needed and frees it; every stream on it must be freed first. NULL-safe. */
void pf_sched_free(pf_sched *s);

/* Jobs queued or being factored now (a gauge for /metrics). */
size_t pf_sched_queued(const pf_sched *s);

/* Jobs ever added: the numbers the workers factored or were asked to. */
unsigned long long pf_sched_jobs_total(const pf_sched *s);

#endif
