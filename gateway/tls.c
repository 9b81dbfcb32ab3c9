#include "tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define PEM_MAX (1 << 20)

/* The whole file, read once: what is checked is what is used. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        pf_error("tls: cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(PEM_MAX + 1);
    size_t n = buf ? fread(buf, 1, PEM_MAX + 1, f) : 0;
    fclose(f);
    if (!buf || n == 0 || n > PEM_MAX) {
        pf_error("tls: %s is %s", path, n == 0 ? "empty" : "larger than 1 MiB");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

const char *pf_tls_error(void)
{
    static _Thread_local char text[256];
    unsigned long e = ERR_get_error();
    ERR_error_string_n(e, text, sizeof(text));
    ERR_clear_error();
    return e ? text : "no PEM data found";
}

/* The leaf certificate first, then any intermediates after it. */
static int use_cert_chain(SSL_CTX *ctx, const char *pem, const char *file)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    if (!cert) {
        pf_error("tls: %s is not a PEM certificate: %s", file, pf_tls_error());
        BIO_free(bio);
        return -1;
    }
    int rc = SSL_CTX_use_certificate(ctx, cert) == 1 ? 0 : -1;
    X509_free(cert);
    X509 *extra;
    while (rc == 0 && (extra = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
        if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
            X509_free(extra);
            rc = -1;
        }
    ERR_clear_error(); /* the end of the file reads as an error */
    BIO_free(bio);
    if (rc < 0)
        pf_error("tls: cannot use the certificate in %s", file);
    return rc;
}

static int use_key(SSL_CTX *ctx, const char *pem, const char *file, const char *cert_file)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!key) {
        pf_error("tls: %s is not a PEM private key (or is encrypted): %s", file, pf_tls_error());
        return -1;
    }
    int ok = SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
    EVP_PKEY_free(key);
    if (!ok) {
        pf_error("tls: the key in %s does not match the certificate in %s", file, cert_file);
        ERR_clear_error();
        return -1;
    }
    return 0;
}

SSL_CTX *pf_tls_server_ctx_new(const char *cert_file, const char *key_file)
{
    SSL_CTX *ctx = NULL;
    char *cert_text = read_file(cert_file);
    char *key_text = cert_text ? read_file(key_file) : NULL;
    if (!key_text)
        goto fail;
    if (!(ctx = SSL_CTX_new(TLS_server_method()))) {
        pf_error("tls: %s", pf_tls_error());
        goto fail;
    }
    if (use_cert_chain(ctx, cert_text, cert_file) < 0 ||
        use_key(ctx, key_text, key_file, cert_file) < 0)
        goto fail;
    SSL_CTX_set_options(ctx, PF_TLS_OPTIONS);
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, PF_TLS_CIPHERS) != 1) {
        pf_error("tls: cannot set the cipher policy: %s", pf_tls_error());
        goto fail;
    }
    free(cert_text);
    free(key_text);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    free(cert_text);
    free(key_text);
    return NULL;
}
