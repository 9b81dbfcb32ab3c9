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

static const char *ssl_error(void)
{
    static _Thread_local char text[256];
    unsigned long e = ERR_get_error();
    ERR_error_string_n(e, text, sizeof(text));
    ERR_clear_error();
    return e ? text : "no PEM data found";
}

int pf_tls_load(const char *cert_file, const char *key_file, char **cert_pem, char **key_pem)
{
    int rc = -1;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    char *cert_text = read_file(cert_file);
    char *key_text = cert_text ? read_file(key_file) : NULL;
    if (!key_text)
        goto out;

    BIO *bio = BIO_new_mem_buf(cert_text, -1);
    cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!cert) {
        pf_error("tls: %s is not a PEM certificate: %s", cert_file, ssl_error());
        goto out;
    }
    bio = BIO_new_mem_buf(key_text, -1);
    key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!key) {
        pf_error("tls: %s is not a PEM private key (or is encrypted): %s", key_file, ssl_error());
        goto out;
    }
    if (X509_check_private_key(cert, key) != 1) {
        pf_error("tls: the key in %s does not match the certificate in %s", key_file, cert_file);
        ERR_clear_error();
        goto out;
    }
    *cert_pem = cert_text;
    *key_pem = key_text;
    cert_text = key_text = NULL;
    rc = 0;
out:
    X509_free(cert);
    EVP_PKEY_free(key);
    free(cert_text);
    free(key_text);
    return rc;
}
