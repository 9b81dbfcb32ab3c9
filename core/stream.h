/* pf_stream: requests in, ordered answers out, bounded.
 *
 * The stream does no I/O (the shape of nghttp2's session): a front end pushes
 * decoded requests and pops answers one at a time, on one thread (its owner).
 *
 * Who factors: a quick number is factored on the owner's thread when its
 * first answer is popped, which costs less than handing it over: one below
 * PF_CHEAP_BELOW, or one that trial division and a primality test factor
 * (pf_factor_is_quick). Any other number, on a stream with a scheduler,
 * becomes a job that the scheduler's workers factor in turns (scheduler.h);
 * its answers can be popped once it is done, and the wake callback says when
 * that may be. */
#ifndef PF_STREAM_H
#define PF_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pf.h"
#include "scheduler.h"

/* Numbers below this are factored by the owner: trial division, a
 * primality test, and Pollard rho at worst (a few microseconds, tens at
 * most; factor.c). */
#define PF_CHEAP_BELOW ((int64_t)1 << 40)

typedef struct pf_stream pf_stream;

/* Called when the owner may have something to do: an answer may be ready (on
 * a scheduler's worker), or the stream may read again (on a worker, or on the
 * thread of any stream's owner whose pf_stream_pop_now or pf_stream_free made
 * room). It must only wake the owner's thread, and quickly (a scheduler lock
 * is held: no pf_ call); it may come when there is nothing new, and never
 * after pf_stream_free() returns. */
typedef void pf_stream_wake_fn(void *arg);

/* max_pending: requests held (received, not yet fully answered) at most.
 * sched NULL: every number is factored by the owner. */
int pf_stream_new(size_t max_pending, pf_sched *sched, pf_stream_wake_fn *wake, void *arg,
                  pf_stream **out);
/* Drops what is not answered. NULL-safe. */
void pf_stream_free(pf_stream *s);

/* Queues one request. PF_EFULL when max_pending requests are held, or the
 * number would be one job too many for the stream (the request is not taken:
 * check pf_stream_want_read first); past max_queued a request is still taken
 * (the owner may have checked want_read a while ago). PF_ENOMEM when the
 * queue could not grow. */
int pf_stream_push(pf_stream *s, const pf_request *req);

/* Writes the next answer to *out. PF_EAGAIN when no request is held, or the
 * oldest one is still being factored (the wake callback comes when it is done). */
int pf_stream_pop(pf_stream *s, pf_response *out);

/* Like pf_stream_pop, but never waits for a worker's turn: a number not yet
 * taken by a worker is factored by the caller, one being factored is waited
 * for. For the few answers that must go out now (a WebSocket's Close). */
int pf_stream_pop_now(pf_stream *s, pf_response *out);

/* True when pf_stream_pop would give an answer. */
bool pf_stream_answer_ready(pf_stream *s);

/* True while another request may be pushed: fewer than max_pending held,
 * fewer jobs unanswered than the scheduler allows a stream, and the
 * scheduler below its max_queued (else the stream is woken when there is room). */
bool pf_stream_want_read(pf_stream *s);

/* Requests received and not yet fully answered. */
size_t pf_stream_pending(const pf_stream *s);

/* What a stream has taken and answered in its life (the access log). */
struct pf_stream_counts {
    uint64_t numbers; /* requests pushed */
    uint64_t answers; /* answers popped, errors included */
    uint64_t errors;  /* error answers popped */
};
/* Copies s's counts into *out; leaves *out as it is when s is NULL. */
void pf_stream_counts(const pf_stream *s, struct pf_stream_counts *out);

#endif
