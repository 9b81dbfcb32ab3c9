#include "http_access.h"

#include <string.h>

#include "lws_env.h"

void pf_http_access_log(struct lws *wsi, const struct pf_http_access *a)
{
    if (!pf_access_log_on())
        return;
    struct pf_lws_env *env = pf_lws_env(wsi);
    struct pf_access_rec r = {
        .front = a->front, .status = a->status, .bytes_in = a->bytes_in,
        .bytes_out = a->bytes_out, .start_ns = a->start_ns ? a->start_ns : env->request_ns,
    };
    if (a->counts) {
        r.numbers = a->counts->numbers;
        r.answers = a->counts->answers;
        r.errors = a->counts->errors;
    }
    char *uri;
    int len;
    if (a->path) {
        r.path = a->path;
        r.path_len = strlen(a->path);
    } else if (lws_http_get_uri_and_method(wsi, &uri, &len) >= 0 && len > 0) {
        r.path = uri;
        r.path_len = (size_t)len;
    }
    const struct pf_http_conn *conn = pf_http_conn_of(wsi);
    r.peer = conn && conn->peer[0] ? conn->peer : NULL;
    pf_access_log_write(&r);
}
