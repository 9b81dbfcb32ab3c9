/* The certificate and key of --tls-cert/--tls-key, checked at start-up so
 * that a bad file is a clear error, not a failed handshake later. */
#ifndef PF_TLS_H
#define PF_TLS_H

/* Reads both PEM files and checks that they parse and that the key matches
 * the certificate. On success *cert_pem and *key_pem are new strings the
 * caller frees; returns 0, or -1 after logging why. */
int pf_tls_load(const char *cert_file, const char *key_file, char **cert_pem, char **key_pem);

#endif
