/* accept() on pfgate's own listening sockets, safe when the process runs out
 * of file descriptors. On EMFILE the pending connection stays queued, so a
 * poller watching the listener would wake at once, forever (a core at 100%
 * and a log line each time): the caller stops watching the listener for
 * PF_ACCEPT_PAUSE_MS instead, and the warning is rate-limited. Connections
 * already open go on being served meanwhile. */
#ifndef PF_ACCEPT_GUARD_H
#define PF_ACCEPT_GUARD_H

#include <stdbool.h>

#include "log.h"

#define PF_ACCEPT_PAUSE_MS 100

struct pf_acceptor {
    const char *front; /* names the port in the log: "grpc", "http" */
    struct pf_log_limit out_of_fds;
};

/* Returns a new non-blocking, close-on-exec socket, or -1 when there is
 * nothing more to take now. *pause is set when the caller must stop
 * watching listen_fd for PF_ACCEPT_PAUSE_MS (out of descriptors or memory);
 * it is left false when the queue is merely empty. */
int pf_accept(struct pf_acceptor *a, int listen_fd, bool *pause);

#endif
