/* The OpenSSL side of the gRPC port with --tls-cert: pfgate ends TLS itself,
 * so that a TLS connection goes through the same accept loop, caps, preface
 * timeout and HTTP/2 guard as a plaintext one, and grpc gets plaintext over
 * its socketpair (grpc_server_add_channel_from_fd takes nothing else).
 *
 * One pf_grpc_tls per client socket, non-blocking, driven by the gRPC accept
 * thread's epoll: each call either makes progress or says what the socket
 * must become (pf_grpc_tls_waits_for) before the same call is tried again.
 * Only that thread calls these functions. */
#ifndef PF_GRPC_TLS_H
#define PF_GRPC_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct pf_grpc_tls pf_grpc_tls;

/* The context every gRPC TLS connection shares: the PEM files and the policy
 * of tls.h, ALPN "h2" (a client offering ALPN without h2 is refused; one
 * offering none is served), no session tickets or cache, and
 * buffers released while idle. Returns NULL after logging why. */
SSL_CTX *pf_grpc_tls_ctx_new(const char *cert_file, const char *key_file);

/* A server-side TLS connection on fd (non-blocking; the caller keeps owning
 * and closing fd). NULL when out of memory. */
pf_grpc_tls *pf_grpc_tls_new(SSL_CTX *ctx, int fd);
void pf_grpc_tls_free(pf_grpc_tls *t); /* NULL-safe; does not close fd */

/* One step of the handshake: 1 done, 0 to be called again once the socket
 * is as pf_grpc_tls_waits_for() says, -1 failed (the client is closed). */
int pf_grpc_tls_handshake(pf_grpc_tls *t);

/* As recv() and send() on a non-blocking socket, on the plaintext: read
 * returns > 0, 0 at the end (close_notify, or a TCP close without it:
 * HTTP/2 frames delimit themselves, so nothing can be cut unseen), -1 with
 * errno EAGAIN (wait, see pf_grpc_tls_waits_for) or another errno (failed:
 * a reset, a bad record). Several records are read or written per call,
 * up to len. A write that returned EAGAIN must be retried with the same
 * bytes first (more may follow them; they may have moved). */
ssize_t pf_grpc_tls_read(pf_grpc_tls *t, void *buf, size_t len);
ssize_t pf_grpc_tls_write(pf_grpc_tls *t, const void *buf, size_t len);

/* EPOLLIN and/or EPOLLOUT: what the last read and the last write that
 * returned EAGAIN wait for (a read may need to write, and a write to read,
 * when TLS has its own messages to exchange); 0 when neither waits. */
uint32_t pf_grpc_tls_waits_for(const pf_grpc_tls *t);

/* Whether a read waiting on EPOLLOUT (rare: TLS's own message to send)
 * should be tried again on such an event. */
bool pf_grpc_tls_read_waits_for_output(const pf_grpc_tls *t);

/* Plaintext or raw bytes already read from the socket and held by OpenSSL:
 * epoll will not report them, so the caller reads on while this is true and
 * a read makes progress. */
bool pf_grpc_tls_has_pending(const pf_grpc_tls *t);

/* Sends close_notify once, if the connection is in a state to (best effort:
 * a socket that cannot take its 24 bytes now does not get it). */
void pf_grpc_tls_close_notify(pf_grpc_tls *t);

#endif
