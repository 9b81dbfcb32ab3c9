/* Every flag, default and limit of pfgate, in one place. */
#ifndef PF_CONFIG_H
#define PF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct pf_addr {
    char host[256]; /* as given, without brackets for IPv6 */
    int port;       /* 0..65535; 0 picks a free port */
};

struct pf_config {
    struct pf_addr grpc_addr;
    struct pf_addr http_addr;
    struct pf_addr admin_addr; /* /healthz and /metrics only, off the client caps */
    bool admin;                /* --admin-addr given */
    char web_root[4096];
    int grpc_threads;        /* completion-queue threads */
    size_t max_pending;      /* requests held per stream before pfgate stops reading */
    int max_message;         /* largest gRPC message accepted, in bytes */
    double drain_timeout;    /* seconds */
    size_t max_connections;  /* open connections per port */
    size_t max_streams_per_conn; /* concurrent gRPC streams on one connection */
    size_t max_streams_total;    /* concurrent gRPC streams in all */
    int header_timeout;      /* seconds for a new connection to send its request headers */
    int idle_timeout;        /* seconds a connection may stay open with no stream */
    bool reuse_port;         /* SO_REUSEPORT: share the ports with other processes */
    const char *tls_cert;    /* PEM files: TLS on both ports when set */
    const char *tls_key;
    int log_level;

    /* HTTP and WebSocket */
    size_t max_frame;        /* longest WebSocket message, in bytes */
    size_t max_line;         /* longest NDJSON request line, in bytes */
    int ws_idle_timeout;     /* seconds without a pong before a WebSocket is closed */
    int n_allow_origins;
    const char *allow_origins[16]; /* --allow-origin values ("*" allows any) */
};

/* Parses argv into cfg (defaults first). Returns 0 to run, 1 when the process
 * should exit 0 at once (--help, --version, already printed), -1 on a bad
 * flag (already reported on stderr). */
int pf_config_parse(struct pf_config *cfg, int argc, char **argv);

/* "HOST:PORT" of addr with the given port, brackets around IPv6 hosts. */
void pf_addr_format(const struct pf_addr *addr, int port, char *buf, size_t size);

#endif
