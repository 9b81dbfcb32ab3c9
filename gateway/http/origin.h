/* Cross-site WebSocket hijacking guard: which Origin may open a socket. */
#ifndef PF_ORIGIN_H
#define PF_ORIGIN_H

#include <stdbool.h>

/* True when a WebSocket upgrade that carries `origin` may proceed: its
 * host:port equals the request's `host` header (default ports filled in
 * from the schemes; tls says whether the request came over TLS), or it is
 * in allow[] ("*" allows any). Case-insensitive. A NULL origin (no header:
 * not a browser) is allowed. */
bool pf_origin_allowed(const char *origin, const char *host, bool tls, const char *const *allow,
                       int n_allow);

#endif
