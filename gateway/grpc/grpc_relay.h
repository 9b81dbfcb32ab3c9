/* The relay between a gRPC client's socket and grpc core: grpc gets one end
 * of a socketpair instead of the client's socket, and the gRPC accept thread
 * copies the bytes both ways (through TLS on the client's side on a TLS
 * port: grpc_tls.h) through the HTTP/2 guard (h2_guard.h), which
 * bounds what the client can make grpc hold. Each way holds at most
 * PF_RELAY_BUF bytes; a side is not read while the other side's buffer is
 * full, so a client that does not read stalls grpc's writes (flow control),
 * never pfgate's memory. Only the accept thread calls these functions, except
 * pf_grpc_relay_unsent(). */
#ifndef PF_GRPC_RELAY_H
#define PF_GRPC_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "grpc_tls.h"
#include "h2_guard.h"

#define PF_RELAY_BUF (64 * 1024)

/* What an epoll event's data.ptr points at in the gRPC accept thread: each
 * struct registered there begins with one. */
enum pf_epoll_kind { PF_EPOLL_MARK, PF_EPOLL_WATCH, PF_EPOLL_RELAY };

typedef struct pf_grpc_relay pf_grpc_relay;

/* Read and write space for every relay of one thread. */
struct pf_relay_scratch {
    uint8_t in[PF_RELAY_BUF];
    uint8_t out[PF_RELAY_BUF + PF_H2_GUARD_SLACK];
};

/* Takes client_fd (a connected, non-blocking socket whose client sent the
 * HTTP/2 preface) and tls (its TLS connection, handshake done, or NULL for
 * plaintext), and makes the socketpair; *grpc_fd gets the end for
 * grpc_server_add_channel_from_fd. Both of the relay's sockets are added to
 * epoll_fd. Returns 0, or -1 with client_fd closed and tls freed. Then call
 * pf_grpc_relay_start(). */
int pf_grpc_relay_new(int client_fd, pf_grpc_tls *tls, int epoll_fd,
                      const struct pf_h2_limits *lim, struct pf_relay_scratch *scratch,
                      void *owner, pf_grpc_relay **out, int *grpc_fd);

/* Relays head (the n bytes the caller already read from the client: a TLS
 * client's preface) and whatever the client's TLS layer already holds, for
 * which no epoll event will come. Returns true when the relay is over, as
 * pf_grpc_relay_event() does. */
bool pf_grpc_relay_start(pf_grpc_relay *r, const uint8_t *head, size_t n, int64_t now_ms);

/* data.ptr of an epoll event with kind PF_EPOLL_RELAY: its relay. */
pf_grpc_relay *pf_grpc_relay_of(void *epoll_ptr);
void *pf_grpc_relay_owner(const pf_grpc_relay *r);

/* Handles an event on one of the relay's sockets. Returns true once the
 * relay is over (both sides done, or an error): the caller frees it. */
bool pf_grpc_relay_event(pf_grpc_relay *r, void *epoll_ptr, uint32_t events, int64_t now_ms);

/* Streams open on the connection (h2_guard.h): 0 while it is idle. */
uint32_t pf_grpc_relay_open_streams(const pf_grpc_relay *r);

/* Ends an idle connection (--idle-timeout): the client gets a GOAWAY with
 * NO_ERROR, and the relay closes as after a guard failure (its deadline is
 * set). Returns true once the relay is over, as pf_grpc_relay_event() does. */
bool pf_grpc_relay_end(pf_grpc_relay *r, int64_t now_ms);

/* Why the guard ended the connection (a static string), or NULL: also for
 * pf_grpc_relay_end(). */
const char *pf_grpc_relay_why(const pf_grpc_relay *r);

/* A closing relay's deadline (ms on pf_now_ms()), or -1: a relay still
 * open at its deadline is over (its last bytes could not go out in time),
 * and the caller frees it. */
int64_t pf_grpc_relay_deadline(const pf_grpc_relay *r);

/* Bytes grpc has written that the client has not yet acknowledged: in the
 * socketpair, the relay's buffer, and the client socket's send queue. Any
 * thread. */
size_t pf_grpc_relay_unsent(const pf_grpc_relay *r);

/* Closes both sockets (grpc sees its end close) and frees. NULL-safe. */
void pf_grpc_relay_free(pf_grpc_relay *r);

#endif
