/* The HTTP port's connections as pfgate counts them, decided at accept,
 * before a byte is read (a flood of silent connections must not take the
 * descriptors that the gRPC port and the health probe need).
 *
 * - client: counted against --max-connections;
 * - reserve: accepted over that cap, up to PF_HTTP_RESERVE more, for
 *   GET /healthz and /metrics only (anything else gets 503), so that a load
 *   balancer's probe still gets its answer while the clients' slots are full;
 * - admin: accepted on --admin-addr (probes and Prometheus), never counted
 *   against the clients, at most PF_ADMIN_MAX_CONNECTIONS.
 * A connection is silent until it has sent a whole request head. When a
 * port is full, its oldest silent connection is closed to make room: a
 * flood of connections that say nothing can hold no slot for long. No I/O
 * here: the caller closes what it is told to. Service thread only. */
#ifndef PF_HTTP_CONNS_H
#define PF_HTTP_CONNS_H

#include <stdbool.h>
#include <stddef.h>

#include "list.h"

#define PF_HTTP_RESERVE 32
#define PF_ADMIN_MAX_CONNECTIONS 64

enum pf_http_conn_kind { PF_CONN_CLIENT, PF_CONN_RESERVE, PF_CONN_ADMIN };

struct pf_http_conn {
    enum pf_http_conn_kind kind;
    bool counted;           /* false once evicted: its place is already given away */
    void *handle;           /* the caller's (an lws wsi) */
    struct pf_list silent;  /* linked while no request head has come */
    char peer[48];          /* the client's ADDR:PORT, for the access log ("" when off) */
};

struct pf_http_conns {
    size_t max_clients;
    size_t open[3];              /* by kind */
    struct pf_list silent_public; /* client and reserve connections, oldest first */
    struct pf_list silent_admin;
};

void pf_http_conns_init(struct pf_http_conns *c, size_t max_clients);

/* Admits a new connection on the public port (admin false) or the admin
 * port. Returns its record (silent), or NULL when the port is full and
 * nothing can make room (or out of memory). *evict is set to a silent
 * connection the caller must close now, or NULL: its place is already
 * given away, and its record stays the caller's until pf_http_conns_close. */
struct pf_http_conn *pf_http_conns_admit(struct pf_http_conns *c, bool admin,
                                         struct pf_http_conn **evict);

/* The connection sent a whole request head: no longer silent. */
void pf_http_conns_spoke(struct pf_http_conn *conn);

/* The connection is gone: uncounts it (unless evicted) and frees it. */
void pf_http_conns_close(struct pf_http_conns *c, struct pf_http_conn *conn);

#endif
