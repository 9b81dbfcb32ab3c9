/* pfgate's request -> response model, shared by every front end.
 *
 * A front end decodes bytes into a pf_request (a decode failure is still a
 * request: it carries the error, so its answer keeps its place in the order),
 * pushes it into a pf_stream, and pops pf_responses to encode and send. */
#ifndef PF_H
#define PF_H

#include <stdbool.h>
#include <stdint.h>

/* 0 is success; every error is negative. */
enum pf_err {
    PF_OK = 0,
    /* Stream control: not answers. */
    PF_EAGAIN = -1,     /* no answer is ready yet */
    PF_EFULL = -2,      /* the stream holds its limit of requests: stop reading */
    PF_ENOMEM = -3,
    PF_EINVAL = -4,     /* a pf_ function was called with a bad argument */
    /* Per-request errors: each becomes one error answer. */
    PF_ENEGATIVE = -10, /* num < 0 */
    PF_ESYNTAX = -11,   /* the request is not valid JSON */
    PF_ENOTNUM = -12,   /* num is not an integer (text, bool, object ...) */
    PF_EFRACTION = -13, /* num has a fraction or an exponent */
    PF_ERANGE = -14,    /* num is outside int64 */
    PF_EMISSING = -15,  /* the request has no num */
    PF_EFIELD = -16,    /* the request has a field other than num */
    PF_ETOOLONG = -17,  /* the request is longer than the front end's limit */
};

/* A short, stable English text for err; every front end sends this text. */
const char *pf_strerror(int err);

typedef struct pf_request {
    int64_t num;
    int err;        /* PF_OK, or the decode error this request's answer must carry */
    uint64_t stamp; /* opaque to the core, copied to each answer (front ends: arrival time) */
} pf_request;

/* One answer message. error is a static string (pf_strerror) or NULL. */
typedef struct pf_response {
    int64_t result;
    int64_t num;
    bool last;
    const char *error;
    uint64_t stamp; /* the request's stamp */
} pf_response;

#endif
