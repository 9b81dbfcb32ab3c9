/* gRPC connections and their open streams, for the stream limits (per
 * connection and in all) and the connection limit. Shared by the listener
 * thread and the completion-queue workers: every function takes the table's
 * lock. */
#ifndef PF_GRPC_CONNS_H
#define PF_GRPC_CONNS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct pf_grpc_conns pf_grpc_conns;
typedef struct pf_grpc_conn pf_grpc_conn;

int pf_grpc_conns_new(size_t max_streams_per_conn, size_t max_streams_total,
                      pf_grpc_conns **out);
void pf_grpc_conns_free(pf_grpc_conns *t); /* NULL-safe */

/* A connection is known by grpc's peer string for its calls. open() makes
 * a new entry, which takes the name from an older one (a closed connection's
 * fd number, reused before its close was seen); *conn is what close() takes,
 * once the connection has closed. */
int pf_grpc_conns_open(pf_grpc_conns *t, const char *peer, pf_grpc_conn **conn);
void pf_grpc_conns_close(pf_grpc_conns *t, pf_grpc_conn *conn); /* conn may be NULL */
size_t pf_grpc_conns_count(pf_grpc_conns *t);

/* The client's address (ADDR:PORT) of conn, for the access log: grpc knows
 * only its end of the relay. client_of() copies it for grpc's peer name;
 * false when there is none. */
void pf_grpc_conns_name_client(pf_grpc_conns *t, pf_grpc_conn *conn, const char *client);
bool pf_grpc_conns_client_of(pf_grpc_conns *t, const char *peer, char *buf, size_t size);
/* The same for a stream's conn (stream_begin's): named before grpc had the
 * connection, so before any of its streams began, and never again. */
const char *pf_grpc_conns_client(const pf_grpc_conn *conn);

/* Counts a new stream on peer's connection: PF_EFULL when that connection
 * already has max_streams_per_conn open, or all connections together
 * max_streams_total; then *why is the status text that names the limit. On
 * success *conn is what stream_end() takes; peers never opened get an entry
 * of their own. */
int pf_grpc_conns_stream_begin(pf_grpc_conns *t, const char *peer, pf_grpc_conn **conn,
                               const char **why);
void pf_grpc_conns_stream_end(pf_grpc_conns *t, pf_grpc_conn *conn);

#endif
