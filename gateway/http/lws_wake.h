/* Waking the lws service thread for a stream whose number a factoring
 * worker has finished (stream.h's wake callback). Other threads may only call
 * lws_cancel_service(); the service thread then runs each woken session's
 * on_wake from LWS_CALLBACK_EVENT_WAIT_CANCELLED. */
#ifndef PF_LWS_WAKE_H
#define PF_LWS_WAKE_H

#include <libwebsockets.h>
#include <pthread.h>
#include <stdbool.h>

#include "list.h"

/* The sessions woken and not yet run, per lws context (in pf_lws_env). */
struct pf_lws_wakes {
    pthread_mutex_t lock;
    struct pf_list woken;
    struct lws_context *ctx;
};

/* One per session, inside it. */
struct pf_lws_waker {
    struct pf_lws_wakes *wakes;
    struct pf_list link; /* in wakes->woken while woken (lock) */
    void (*on_wake)(struct pf_lws_waker *w);
};

void pf_lws_wakes_init(struct pf_lws_wakes *wakes, struct lws_context *ctx);
void pf_lws_wakes_destroy(struct pf_lws_wakes *wakes);

void pf_lws_waker_init(struct pf_lws_waker *w, struct pf_lws_wakes *wakes,
                       void (*on_wake)(struct pf_lws_waker *w));

/* A pf_stream_wake_fn, arg a struct pf_lws_waker: any thread. */
void pf_lws_wake(void *arg);

/* On the service thread, once the session's stream is freed (no wake comes
 * any more): the session is forgotten if it was woken. */
void pf_lws_waker_forget(struct pf_lws_waker *w);

/* On the service thread (EVENT_WAIT_CANCELLED): runs on_wake of every
 * session woken since the last time. */
void pf_lws_wakes_run(struct pf_lws_wakes *wakes);

#endif
