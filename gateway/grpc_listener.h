/* pfgate's own accept loop for the plaintext gRPC port: grpc core 1.51 has
 * no connection limit, so pfgate accepts, counts, and hands each socket to
 * grpc (grpc_server_add_channel_from_fd) once its client has sent the HTTP/2
 * preface; one that has not within --header-timeout is closed. A dup of
 * each socket tells the loop when grpc or the peer has closed it. */
#ifndef PF_GRPC_LISTENER_H
#define PF_GRPC_LISTENER_H

#include <grpc/grpc.h>
#include <stddef.h>

#include "config.h"
#include "grpc_conns.h"

typedef struct pf_grpc_listener pf_grpc_listener;

/* Binds and listens on cfg->grpc_addr; *port gets the bound port. Returns 0,
 * or -1 after logging why. Accepts nothing until pf_grpc_listener_run(). */
int pf_grpc_listener_bind(const struct pf_config *cfg, pf_grpc_listener **out, int *port);

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
