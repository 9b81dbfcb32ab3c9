/* The life of one server call, the same for every gRPC service pfgate serves
 * (PrimeFactors, unknown methods, health, reflection): the grpc_call and what
 * grpc fills in when it starts, one tag per kind of batch, the batches in
 * flight, the message being sent, the service it was requested for (its
 * queue's list of started calls: grpc_service.h), and the free once nothing
 * is in flight. A call lives on one completion queue, so it needs no lock.
 *
 * A kind embeds struct pf_grpc_call as its FIRST member and gives a table of
 * handlers. Every event of the call is counted here, handed to the kind's
 * handler, followed by the kind's pump, and the call is freed when no batch
 * is in flight any more and the kind does not hold it (a failed new-call
 * event frees it at once). */
#ifndef PF_GRPC_CALL_H
#define PF_GRPC_CALL_H

#include <grpc/grpc.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "access_log.h"
#include "grpc_tag.h"
#include "list.h"

/* What a batch does; each has its own tag, so at most one batch of a kind
 * is in flight. */
enum pf_grpc_op {
    PF_GRPC_OP_NEW,    /* the call started (the request was matched) */
    PF_GRPC_OP_RECV,   /* a message read */
    PF_GRPC_OP_SEND,   /* send_bb (and maybe the status) sent */
    PF_GRPC_OP_STATUS, /* the status sent */
    PF_GRPC_OP_CLOSE,  /* the call closed (RECV_CLOSE_ON_SERVER) */
    PF_GRPC_OP_WAKE,   /* pf_grpc_call_wake(): not counted in batches */
    PF_GRPC_NOPS
};

struct pf_grpc_call;
struct pf_grpc_serving;

struct pf_grpc_call_kind {
    const char *name; /* for the debug log */
    /* One handler per op, called after the count; NULL: nothing to do. */
    void (*on[PF_GRPC_NOPS])(struct pf_grpc_call *c, bool ok);
    /* After every event, and at the drain: moves the call forward. May be NULL. */
    void (*pump)(struct pf_grpc_call *c);
    /* Gives back what the kind holds, before the base frees the call; after
     * it nothing may call pf_grpc_call_wake() on c any more. May be NULL. */
    void (*destroy)(struct pf_grpc_call *c);
    /* The access log's line of a finished call, before destroy: fills in
     * what only the kind knows (the path, when its service has none for
     * the method; numbers, answers and errors; the peer, when it knows it).
     * May be NULL: the path of the service's method, no numbers, every
     * message sent an answer, the peer looked up by grpc's name for it. */
    void (*access)(struct pf_grpc_call *c, struct pf_access_rec *r);
};

struct pf_grpc_call_tag {
    struct pf_grpc_tag tag;
    enum pf_grpc_op op;
};

struct pf_grpc_call {
    struct pf_grpc_call_tag tags[PF_GRPC_NOPS];
    const struct pf_grpc_call_kind *kind;
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array request_md;
    struct pf_grpc_serving *serving; /* what requested it, on which queue */
    size_t method;                   /* which of the service's methods */
    struct pf_list link;             /* in serving's started calls */
    /* The message of the SEND batch: one buffer for all of the call's
     * messages (pf_grpc_call_send_buffer()), freed with the call. */
    grpc_byte_buffer *send_bb;
    int batches;                     /* in flight */
    int cancelled;                   /* set by a RECV_CLOSE_ON_SERVER op */
    bool send_pending;               /* a SEND batch is in flight */
    bool dead; /* a batch failed to start, or the call was cancelled: send nothing more */
    /* The kind keeps the call while no batch is in flight (a stream waiting
     * for its factoring, or for a slot); it lets go in its pump. */
    bool held;
    bool destroyed;         /* the kind's destroy ran; the rest waits for the wake's event */
    atomic_bool wake_pending; /* a WAKE event is on its way */
    /* For the access log: */
    uint64_t start_ns;       /* its NEW event; 0: it never started */
    int status;              /* the status it sent (or failed with), or -1 */
    uint64_t messages_sent;
};

/* A zeroed call of `size` bytes (the kind's struct) of that kind; NULL
 * (logged) when out of memory. */
struct pf_grpc_call *pf_grpc_call_new(size_t size, const struct pf_grpc_call_kind *kind);

/* Asks grpc for the next call of `method` (registered), or of any
 * unregistered method when method is NULL (details then gets its name). The
 * NEW event comes on cq. False, after logging and freeing c, when grpc refuses. */
bool pf_grpc_call_request(struct pf_grpc_call *c, grpc_server *server, void *method,
                          grpc_byte_buffer **payload, grpc_call_details *details,
                          grpc_completion_queue *cq);

/* Starts ops as one batch, with op's tag. False when grpc refuses it: then
 * its event never comes, nothing is counted, the call is cancelled and dead. */
bool pf_grpc_call_start_batch(struct pf_grpc_call *c, const grpc_op *ops, size_t n,
                              enum pf_grpc_op op);

/* From any thread: a WAKE event for c comes on its queue (its kind's
 * handler, then its pump), unless one is already on its way. An empty batch,
 * which grpc posts to the call's queue at once, from any thread
 * (grpc.h: "with an empty batch is thread-compatible"). The caller makes
 * sure c is not destroyed meanwhile (the kind's destroy hook). */
void pf_grpc_call_wake(struct pf_grpc_call *c);

/* The call's send buffer, for the next message: grpc takes a message's
 * slices when its batch starts and leaves the buffer to its owner
 * (grpc_types.h, send_message), so one buffer serves every message and
 * the allocation and grpc_byte_buffer_destroy() (an ExecCtx each) are
 * paid once per call. Pack into it with pf_pb_pack_into(). */
grpc_byte_buffer *pf_grpc_call_send_buffer(struct pf_grpc_call *c);

/* Starts the RECV_CLOSE_ON_SERVER batch (into c->cancelled). */
bool pf_grpc_call_watch_close(struct pf_grpc_call *c);

/* Ends the call now with code and details (static), sending nothing more. */
void pf_grpc_call_fail(struct pf_grpc_call *c, grpc_status_code code, const char *details);

/* Runs the kind's pump outside an event, then frees the call if nothing
 * keeps it any more: c may be gone when this returns. */
void pf_grpc_call_pump(struct pf_grpc_call *c);

/* Pumps every call on a list of started calls (the drain: a call whose
 * client is silent has no event coming). */
void pf_grpc_call_pump_all(struct pf_list *calls);

#endif
