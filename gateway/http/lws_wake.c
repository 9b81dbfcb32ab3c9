#include "lws_wake.h"

void pf_lws_wakes_init(struct pf_lws_wakes *wakes, struct lws_context *ctx)
{
    pthread_mutex_init(&wakes->lock, NULL);
    pf_list_init(&wakes->woken);
    wakes->ctx = ctx;
}

void pf_lws_wakes_destroy(struct pf_lws_wakes *wakes)
{
    pthread_mutex_destroy(&wakes->lock);
}

void pf_lws_waker_init(struct pf_lws_waker *w, struct pf_lws_wakes *wakes,
                       void (*on_wake)(struct pf_lws_waker *w))
{
    w->wakes = wakes;
    w->link.prev = w->link.next = NULL; /* not woken */
    w->on_wake = on_wake;
}

void pf_lws_wake(void *arg)
{
    struct pf_lws_waker *w = arg;
    struct pf_lws_wakes *wakes = w->wakes;
    pthread_mutex_lock(&wakes->lock);
    if (!pf_list_linked(&w->link)) {
        /* One cancel_service (a write to a pipe) while the thread has not
         * yet run the sessions woken before. */
        bool first = pf_list_empty(&wakes->woken);
        pf_list_append(&wakes->woken, &w->link);
        if (first)
            lws_cancel_service(wakes->ctx);
    }
    pthread_mutex_unlock(&wakes->lock);
}

void pf_lws_waker_forget(struct pf_lws_waker *w)
{
    if (!w->wakes)
        return; /* never initialised */
    pthread_mutex_lock(&w->wakes->lock);
    if (pf_list_linked(&w->link))
        pf_list_remove(&w->link);
    pthread_mutex_unlock(&w->wakes->lock);
}

void pf_lws_wakes_run(struct pf_lws_wakes *wakes)
{
    pthread_mutex_lock(&wakes->lock);
    while (!pf_list_empty(&wakes->woken)) {
        struct pf_list *node = wakes->woken.next;
        pf_list_remove(node);
        pthread_mutex_unlock(&wakes->lock);
        struct pf_lws_waker *w = PF_CONTAINER_OF(node, struct pf_lws_waker, link);
        w->on_wake(w);
        pthread_mutex_lock(&wakes->lock);
    }
    pthread_mutex_unlock(&wakes->lock);
}
