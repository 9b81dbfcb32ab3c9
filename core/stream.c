#include "stream.h"

#include <stdlib.h>

#include "factor.h"

/* The ring starts small and doubles up to max_pending, so that an idle stream
 * (most WebSockets) costs a few hundred bytes, not the full limit. */
#define RING_MIN 8

struct pf_stream {
    pf_request *ring;
    size_t cap;   /* slots allocated, a power of two */
    size_t head;  /* index of the oldest request */
    size_t count; /* requests held */
    size_t max_pending;

    /* Answers of the request at head, computed when it is first popped. */
    bool head_ready;
    size_t head_next; /* next factor to send */
    size_t head_nfactors;
    uint64_t head_factors[PF_FACTORS_MAX];
};

int pf_stream_new(size_t max_pending, pf_stream **out)
{
    if (max_pending == 0 || !out)
        return PF_EINVAL;
    pf_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return PF_ENOMEM;
    s->max_pending = max_pending;
    *out = s;
    return PF_OK;
}

void pf_stream_free(pf_stream *s)
{
    if (!s)
        return;
    free(s->ring);
    free(s);
}

static int grow(pf_stream *s)
{
    size_t cap = s->cap ? s->cap * 2 : RING_MIN;
    pf_request *ring = malloc(cap * sizeof(*ring));
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

int pf_stream_push(pf_stream *s, const pf_request *req)
{
    if (s->count >= s->max_pending)
        return PF_EFULL;
    if (s->count == s->cap) {
        int rc = grow(s);
        if (rc < 0)
            return rc;
    }
    s->ring[(s->head + s->count) & (s->cap - 1)] = *req;
    s->count++;
    return PF_OK;
}

static void prepare_head(pf_stream *s, const pf_request *req)
{
    s->head_ready = true;
    s->head_next = 0;
    s->head_nfactors = 0;
    if (req->err == PF_OK && req->num >= 2)
        s->head_nfactors = pf_factor((uint64_t)req->num, s->head_factors);
}

static void advance(pf_stream *s)
{
    s->head = (s->head + 1) & (s->cap - 1);
    s->count--;
    s->head_ready = false;
}

int pf_stream_pop(pf_stream *s, pf_response *out)
{
    if (s->count == 0)
        return PF_EAGAIN;
    const pf_request *req = &s->ring[s->head];
    if (!s->head_ready)
        prepare_head(s, req);

    pf_response r = { .num = req->num, .stamp = req->stamp };
    if (req->err != PF_OK || req->num < 0) {
        r.error = pf_strerror(req->err != PF_OK ? req->err : PF_ENEGATIVE);
        r.last = true;
    } else if (s->head_nfactors == 0) {
        r.last = true; /* 0 and 1: no factors */
    } else {
        r.result = (int64_t)s->head_factors[s->head_next++];
        r.last = s->head_next == s->head_nfactors;
    }
    if (r.last)
        advance(s);
    *out = r;
    return PF_OK;
}

bool pf_stream_want_read(const pf_stream *s)
{
    return s->count < s->max_pending;
}

size_t pf_stream_pending(const pf_stream *s)
{
    return s->count;
}
