/* A listening TCP socket of pfgate's own, for the ports whose library
 * cannot do what pfgate needs with its own listener (connection limits on
 * the gRPC port; SO_REUSEPORT on the HTTP port). */
#ifndef PF_LISTEN_H
#define PF_LISTEN_H

#include <stdbool.h>

#include "config.h"

/* Binds and listens (non-blocking, close-on-exec) on addr, sharing the port
 * with other processes when reuse_port. Returns the socket and sets *port to
 * the bound port, or returns -1 after logging why (what names the port). */
int pf_listen(const char *what, const struct pf_addr *addr, bool reuse_port, int *port);

#endif
