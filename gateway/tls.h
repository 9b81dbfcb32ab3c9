/* TLS for both ports: the certificate and key of --tls-cert/--tls-key,
 * checked at start-up so that a bad file is a clear error, not a failed
 * handshake later, and the one policy both ports apply. */
#ifndef PF_TLS_H
#define PF_TLS_H

#include <openssl/ssl.h>

/* TLS 1.2 and up, forward-secret AEAD suites only (OpenSSL's default list
 * also offers RSA key exchange and CBC). TLS 1.3's suites are all of that
 * kind, so its defaults stay. No compression (CRIME), no renegotiation
 * (a client could make the server do handshakes on an open connection). */
#define PF_TLS_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL"
#define PF_TLS_OPTIONS                                                                        \
    (SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_COMPRESSION |          \
     SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE)

/* A server context with the certificate (chain) and key of these PEM files
 * and the policy above. Checks that both parse and that the key matches the
 * certificate. Returns NULL after logging why. */
SSL_CTX *pf_tls_server_ctx_new(const char *cert_file, const char *key_file);

/* OpenSSL's last error as text (a thread-local buffer), and clears it. */
const char *pf_tls_error(void);

#endif
