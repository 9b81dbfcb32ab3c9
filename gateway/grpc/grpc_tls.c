#include "grpc_tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "log.h"
#include "tls.h"

struct pf_grpc_tls {
    SSL *ssl;
    uint32_t read_waits;  /* EPOLLIN/EPOLLOUT the last read's EAGAIN waits for */
    uint32_t write_waits; /* likewise for the last write */
    bool failed;          /* a fatal error: no close_notify may follow */
    bool notified;        /* close_notify sent */
};

/* ALPN: h2 or nothing. A client that offers protocols but not h2 would not
 * speak HTTP/2: the handshake fails with no_application_protocol, as RFC
 * 7301 says. A client that offers none speaks HTTP/2 by prior knowledge (or
 * not, which the preface check and the guard then see): it is served. */
static int select_h2(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                     const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    for (unsigned int i = 0; i < inlen; i += 1u + in[i]) {
        unsigned int n = in[i];
        if (i + 1 + n > inlen)
            break;
        if (n == 2 && memcmp(in + i + 1, "h2", 2) == 0) {
            *out = in + i + 1;
            *outlen = 2;
            return SSL_TLSEXT_ERR_OK;
        }
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

SSL_CTX *pf_grpc_tls_ctx_new(const char *cert_file, const char *key_file)
{
    SSL_CTX *ctx = pf_tls_server_ctx_new(cert_file, key_file);
    if (!ctx)
        return NULL;
    SSL_CTX_set_alpn_select_cb(ctx, select_h2, NULL);
    /* gRPC connections live long and carry many calls: resuming a session
     * saves little, while tickets cost a message per handshake and a key
     * to rotate, and a cache costs memory per client. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* Partial writes and a moving buffer: the relay's send() semantics (what
     * a socket does not take stays in the relay's backlog, which may move).
     * Released buffers: an idle connection holds no 34 KiB of record space.
     * Read-ahead: one read() per batch of records, not two per record. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(ctx, 1);
    return ctx;
}

pf_grpc_tls *pf_grpc_tls_new(SSL_CTX *ctx, int fd)
{
    pf_grpc_tls *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    if (!(t->ssl = SSL_new(ctx)) || SSL_set_fd(t->ssl, fd) != 1) {
        ERR_clear_error();
        pf_grpc_tls_free(t);
        return NULL;
    }
    SSL_set_accept_state(t->ssl);
    return t;
}

void pf_grpc_tls_free(pf_grpc_tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    free(t);
}

/* What an SSL_* call's result means: > 0 progress; -1 with errno EAGAIN and
 * *waits set, or another errno; 0 at the end of the client's data. */
static int outcome(pf_grpc_tls *t, int rc, uint32_t *waits)
{
    if (rc > 0) {
        *waits = 0;
        return rc;
    }
    int err = SSL_get_error(t->ssl, rc);
    switch (err) {
    case SSL_ERROR_WANT_READ:
        *waits = EPOLLIN;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        *waits = EPOLLOUT;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        *waits = 0;
        return 0;
    case SSL_ERROR_SYSCALL:
        /* errno is the socket's (ECONNRESET: a client reset mid-record). */
        if (errno == 0 || errno == EAGAIN)
            errno = ECONNRESET;
        break;
    default:
        pf_debug("grpc tls: %s", ERR_peek_error() ? ERR_reason_error_string(ERR_peek_error())
                                                   : "error");
        errno = EPROTO;
        break;
    }
    /* The error queue is per thread and SSL_get_error() reads it: leave it
     * empty for the next connection. */
    ERR_clear_error();
    t->failed = true;
    *waits = 0;
    return -1;
}

int pf_grpc_tls_handshake(pf_grpc_tls *t)
{
    errno = 0;
    int rc = outcome(t, SSL_do_handshake(t->ssl), &t->read_waits);
    return rc > 0 ? 1 : rc < 0 && errno == EAGAIN ? 0 : -1;
}

ssize_t pf_grpc_tls_read(pf_grpc_tls *t, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        size_t n = 0;
        errno = 0;
        int rc = SSL_read_ex(t->ssl, (char *)buf + got, len - got, &n) == 1
                     ? 1 : outcome(t, 0, &t->read_waits);
        if (rc <= 0)
            return got > 0 ? (ssize_t)got : rc;
        t->read_waits = 0;
        got += n;
    }
    return (ssize_t)got;
}

ssize_t pf_grpc_tls_write(pf_grpc_tls *t, const void *buf, size_t len)
{
    size_t put = 0;
    while (put < len) {
        size_t n = 0;
        errno = 0;
        int rc = SSL_write_ex(t->ssl, (const char *)buf + put, len - put, &n) == 1
                     ? 1 : outcome(t, 0, &t->write_waits);
        if (rc <= 0)
            return put > 0 ? (ssize_t)put : rc < 0 ? -1 : (errno = EPIPE, -1);
        t->write_waits = 0;
        put += n;
    }
    return (ssize_t)put;
}

uint32_t pf_grpc_tls_waits_for(const pf_grpc_tls *t)
{
    return t->read_waits | t->write_waits;
}

bool pf_grpc_tls_read_waits_for_output(const pf_grpc_tls *t)
{
    return t->read_waits == EPOLLOUT;
}

bool pf_grpc_tls_has_pending(const pf_grpc_tls *t)
{
    return SSL_has_pending(t->ssl) == 1;
}

void pf_grpc_tls_close_notify(pf_grpc_tls *t)
{
    if (t->failed || t->notified || !SSL_is_init_finished(t->ssl))
        return;
    t->notified = true;
    if (SSL_shutdown(t->ssl) < 0)
        ERR_clear_error();
}
