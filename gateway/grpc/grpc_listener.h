/* pfgate's own accept loop for the gRPC port: grpc core 1.51 has no
 * connection limit, so pfgate accepts, counts, and, once a client has sent
 * the HTTP/2 preface, hands grpc (grpc_server_add_channel_from_fd) one end of
 * a socketpair; the thread relays the bytes between it and the client's
 * socket through the HTTP/2 guard (grpc_relay.h, h2_guard.h). With
 * --tls-cert the thread also ends TLS (grpc_tls.h): the handshake, then the
 * preface, read from the plaintext. A connection that has not done both
 * within --header-timeout is closed. On EMFILE the listener is left alone
 * for PF_ACCEPT_PAUSE_MS (accept_guard.h). An epoll_wait that keeps failing
 * ends the process (exit 1): a gRPC port that serves nothing must not look
 * alive. */
#ifndef PF_GRPC_LISTENER_H
#define PF_GRPC_LISTENER_H

#include <grpc/grpc.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "grpc_conns.h"

typedef struct pf_grpc_listener pf_grpc_listener;

/* Binds and listens on cfg->grpc_addr; *port gets the bound port. Returns 0,
 * or -1 after logging why. Accepts nothing until pf_grpc_listener_run(). */
int pf_grpc_listener_bind(const struct pf_config *cfg, pf_grpc_listener **out, int *port);

/* What pfgate announces as SETTINGS_MAX_CONCURRENT_STREAMS
 * (GRPC_ARG_MAX_CONCURRENT_STREAMS): twice --max-streams, so that a client
 * past --max-streams still gets pfgate's RESOURCE_EXHAUSTED, and the guard's
 * table of streams stays bounded. */
uint32_t pf_grpc_concurrent_streams(const struct pf_config *cfg);

/* Starts the accept thread; server must be started. */
int pf_grpc_listener_run(pf_grpc_listener *l, grpc_server *server, pf_grpc_conns *conns);

/* Stops accepting: new connections are refused from now on. */
void pf_grpc_listener_stop(pf_grpc_listener *l);

/* Bytes written to the open connections that their clients have not yet
 * acknowledged: 0 once every answer and status has reached its client. */
size_t pf_grpc_listener_unsent(pf_grpc_listener *l);

/* Stops the thread, ends the connections still open, and frees. NULL-safe. */
void pf_grpc_listener_free(pf_grpc_listener *l);

#endif
