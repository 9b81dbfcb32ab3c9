/* The ops of one grpc_call_start_batch, built in order. A server call sends
 * its initial metadata before its first message or its status: the builder
 * puts it first in whichever batch sends something first. */
#ifndef PF_GRPC_BATCH_H
#define PF_GRPC_BATCH_H

#include <grpc/grpc.h>
#include <stdbool.h>
#include <string.h>

struct pf_grpc_batch {
    grpc_op ops[4];
    size_t n;
};

/* Starts a batch that sends; *md_sent says whether the call's initial
 * metadata has left (or is in this batch), and is set. */
static inline void pf_grpc_batch_send(struct pf_grpc_batch *b, bool *md_sent)
{
    memset(b, 0, sizeof(*b));
    if (!*md_sent)
        b->ops[b->n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    *md_sent = true;
}

static inline void pf_grpc_batch_message(struct pf_grpc_batch *b, grpc_byte_buffer *message)
{
    b->ops[b->n].op = GRPC_OP_SEND_MESSAGE;
    b->ops[b->n++].data.send_message.send_message = message;
}

/* details must live until the batch has started. */
static inline void pf_grpc_batch_status(struct pf_grpc_batch *b, grpc_status_code code,
                                        grpc_slice *details)
{
    b->ops[b->n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    b->ops[b->n].data.send_status_from_server.status = code;
    b->ops[b->n++].data.send_status_from_server.status_details = details;
}

static inline void pf_grpc_batch_close(struct pf_grpc_batch *b, int *cancelled)
{
    b->ops[b->n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    b->ops[b->n++].data.recv_close_on_server.cancelled = cancelled;
}

#endif
