#include "lws_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "http_request_rules.h"
#include "http_routes.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "lws_env.h"
#include "ndjson_front.h"
#include "ws_front.h"

#define PROTOCOL "pfgate"
#define ACCEPT_PROTOCOL "pfgate-accept"

struct pf_lws_server {
    struct pf_lws_env env; /* first: the context's user pointer is &env */
    struct lws_context *ctx;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    atomic_bool cancel; /* the drain deadline passed */
    atomic_int open_streams;
    bool drain_started, cancel_started; /* service thread only */
    int shared_listen_fd; /* --reuse-port: pfgate's own listening socket, or -1 */
    lws_retry_bo_t idle_policy;
    struct lws_http_mount mounts[5];
    char iface[INET6_ADDRSTRLEN];
};

/* lws allocates one of these per connection; a connection is either a
 * WebSocket or HTTP, never both at once. */
union session {
    struct pf_ws_session ws;
    struct pf_http_session http;
};

static bool is_ws_reason(enum lws_callback_reasons reason)
{
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        return true;
    default:
        return false;
    }
}

static struct pf_lws_server *server_of(struct lws_context *ctx)
{
    return (struct pf_lws_server *)pf_lws_env_of(ctx);
}

/* Each client connection is marked with what it counts as, so that its
 * destruction uncounts it the same way. */
static char counted_http, counted_ws, counted_over_limit;

/* Counts a new connection; one over --max-connections is marked, and its
 * requests and upgrades are answered 503. */
static void on_new_connection(struct lws *wsi, struct pf_lws_server *s)
{
    if (lws_get_socket_fd(wsi) == s->shared_listen_fd)
        return; /* the listening socket itself, adopted (--reuse-port) */
    s->env.connections++;
    if ((size_t)s->env.connections > s->env.cfg->max_connections) {
        lws_set_opaque_user_data(wsi, &counted_over_limit);
        pf_metrics_connection_refused(PF_FRONT_HTTP);
        return;
    }
    lws_set_opaque_user_data(wsi, &counted_http);
    pf_metrics_connections(PF_FRONT_HTTP, 1);
}

static void on_connection_gone(struct lws *wsi, struct pf_lws_server *s)
{
    void *mark = lws_get_opaque_user_data(wsi);
    if (!mark)
        return; /* not a client connection */
    s->env.connections--;
    if (mark == &counted_http)
        pf_metrics_connections(PF_FRONT_HTTP, -1);
    else if (mark == &counted_ws)
        pf_metrics_connections(PF_FRONT_WEBSOCKET, -1);
}

static bool over_limit(struct lws *wsi)
{
    return lws_get_opaque_user_data(wsi) == &counted_over_limit;
}

static int refuse_over_limit(struct lws *wsi)
{
    return pf_http_refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE,
                          "too many connections (--max-connections)");
}

/* RFC 9112 6.3: a Content-Length that is not a plain decimal is an error. */
static bool bad_content_length(struct lws *wsi)
{
    char value[32];
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    if (n <= 0)
        return false;
    if (n >= (int)sizeof(value) - 12 ||
        lws_hdr_copy(wsi, value, sizeof(value), WSI_TOKEN_HTTP_CONTENT_LENGTH) < 0)
        return true;
    for (const char *p = value; *p; p++)
        if (*p < '0' || *p > '9')
            return true;
    return false;
}

static int filter_request(struct lws *wsi)
{
    if (over_limit(wsi))
        return refuse_over_limit(wsi);
    if (bad_content_length(wsi))
        return pf_http_refuse(wsi, HTTP_STATUS_BAD_REQUEST, "malformed Content-Length");
    return pf_http_filter(wsi);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    union session *session = user;
    struct pf_lws_server *server = server_of(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
        on_new_connection(wsi, server);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        on_connection_gone(wsi, server);
        return 0;
    case LWS_CALLBACK_FILTER_HTTP_CONNECTION:
        return filter_request(wsi);
    case LWS_CALLBACK_ESTABLISHED:
        /* Now a WebSocket: count it as one. */
        lws_set_opaque_user_data(wsi, &counted_ws);
        pf_metrics_connections(PF_FRONT_HTTP, -1);
        pf_metrics_connections(PF_FRONT_WEBSOCKET, 1);
        break;
    default:
        break;
    }
    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
        struct lws_context *ctx = lws_get_context(wsi);
        struct pf_lws_server *s = server_of(ctx);
        if (pf_health_draining() && !s->drain_started) {
            s->drain_started = true;
            pf_ws_drain_all(ctx);
            pf_ndjson_drain_all(ctx);
        }
        if (atomic_load(&s->cancel) && !s->cancel_started) {
            s->cancel_started = true;
            pf_ws_cancel_all(ctx);
            pf_ndjson_cancel_all(ctx);
        }
        atomic_store(&s->open_streams, s->env.open_streams);
        return 0;
    }
    if (reason == LWS_CALLBACK_HTTP_CONFIRM_UPGRADE)
        return over_limit(wsi) ? refuse_over_limit(wsi) : pf_ws_confirm_upgrade(wsi, in);

    bool ws = is_ws_reason(reason) ||
              (reason == LWS_CALLBACK_TIMER && lws_get_opaque_user_data(wsi) == &counted_ws);
    int rc = ws ? pf_ws_callback(wsi, reason, &session->ws, in, len)
                                  : pf_http_callback(wsi, reason, session ? &session->http : NULL,
                                                     in, len);
    atomic_store(&server->open_streams, server->env.open_streams);
    return rc;
}

/* --reuse-port: lws 4.1 sets SO_REUSEPORT on Windows only, so pfgate listens
 * itself, lws watches that socket as a raw descriptor, and each connection
 * accepted from it is handed to lws as if lws had accepted it. */
static int accept_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                           void *in, size_t len)
{
    (void)user, (void)in, (void)len;
    if (reason != LWS_CALLBACK_RAW_RX_FILE)
        return 0;
    int fd;
    while ((fd = accept4(lws_get_socket_fd(wsi), NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
        if (!lws_adopt_socket_vhost(lws_get_vhost(wsi), fd))
            pf_warn("http: lws could not take an accepted connection");
    return 0;
}

static const struct lws_protocols protocols[] = {
    { .name = PROTOCOL,
      .callback = callback,
      .per_session_data_size = sizeof(union session),
      .rx_buffer_size = 4096,
      /* Larger than one NDJSON batch, so that lws never splits a batch
       * whose tail it could not flush while reading is paused. */
      .tx_packet_size = 32768 },
    { .name = ACCEPT_PROTOCOL, .callback = accept_callback },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void lws_log(int level, const char *line)
{
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        n--;
    pf_log(level == LLL_ERR ? PF_LOG_ERROR : PF_LOG_WARN, "lws: %.*s", (int)n, line);
}

/* lws wants an IP literal or an interface name: resolve a host name first. */
static int resolve_iface(const char *host, char *out, size_t size)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_flags = AI_PASSIVE }, *res;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return -1;
    const void *addr = res->ai_family == AF_INET
                           ? (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr
                           : (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr;
    const char *ok = inet_ntop(res->ai_family, addr, out, (socklen_t)size);
    freeaddrinfo(res);
    return ok ? 0 : -1;
}

/* Binds a throwaway socket to the address first: lws reports a busy port
 * only through its own log, and leaks on that path. */
static int probe_bind(const char *iface, int port)
{
    if (port == 0)
        return 0;
    char service[8];
    snprintf(service, sizeof(service), "%d", port);
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV },
                    *res;
    if (getaddrinfo(iface, service, &hints, &res) != 0)
        return 0; /* let lws say what it makes of it */
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, rc = 0;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
            pf_error("http: cannot listen on %s:%d: %s", iface ? iface : "*", port,
                     strerror(errno));
            rc = -1;
        }
        close(fd);
    }
    freeaddrinfo(res);
    return rc;
}

static void add_callback_mount(struct pf_lws_server *s, int i, const char *path)
{
    struct lws_http_mount *m = &s->mounts[i];
    m->mountpoint = path;
    m->mountpoint_len = (unsigned char)strlen(path);
    m->origin = PROTOCOL;
    m->origin_protocol = LWSMPRO_CALLBACK;
    m->mount_next = &s->mounts[i + 1];
}

static void *service_main(void *arg)
{
    struct pf_lws_server *s = arg;
    while (!atomic_load(&s->stop)) {
        if (lws_service(s->ctx, 0) < 0)
            break;
        if (s->cancel_started)
            pf_ws_push_cancelled(s->ctx);
    }
    return NULL;
}

int pf_lws_server_start(const struct pf_config *cfg, pf_lws_server **out, int *port)
{
    struct pf_lws_server *s = calloc(1, sizeof(*s));
    if (!s)
        return -1;
    s->env.cfg = cfg;
    pf_list_init(&s->env.ws_sessions);
    pf_list_init(&s->env.ndjson_sessions);

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.vhost_name = "default";
    info.port = cfg->http_addr.port;
    info.protocols = protocols;
    info.user = &s->env;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    /* Slow or silent clients (slowloris) must not pin connections. */
    info.timeout_secs = (unsigned)cfg->header_timeout;
    info.timeout_secs_ah_idle = (unsigned)cfg->header_timeout;
    info.keepalive_timeout = cfg->idle_timeout;
    /* Ping an idle WebSocket every 30 s, inside the 60 s idle timeouts of
     * common proxies; hang up when no pong came for ws_idle_timeout. */
    s->idle_policy.secs_since_valid_ping = 30;
    s->idle_policy.secs_since_valid_hangup = (uint16_t)cfg->ws_idle_timeout;
    info.retry_and_idle_policy = &s->idle_policy;
    /* Room for a long URL or header to be cut at its token limit and
     * answered 414/431 (http_request_rules.h); without it lws closes. */
    info.max_http_header_data = PF_HTTP_HEADER_BUFFER;
    info.token_limits = pf_http_token_limits();
    /* Methods lws does not know (TRACE ...) and CONNECT come to pfgate as
     * raw bytes, answered 405, instead of lws's HTML 403. */
    info.options |= LWS_SERVER_OPTION_FALLBACK_TO_APPLY_LISTEN_ACCEPT_CONFIG;
    info.listen_accept_role = "raw-skt"; /* with protocols[0], pfgate's */

    if (cfg->tls_cert) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cfg->tls_cert;
        info.ssl_private_key_filepath = cfg->tls_key;
    }

    /* An IPv4 address binds IPv6 too unless lws is told not to. */
    const char *host = cfg->http_addr.host;
    if (strcmp(host, "0.0.0.0") == 0) {
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    } else if (strcmp(host, "::") != 0 && host[0] != '\0') {
        if (resolve_iface(host, s->iface, sizeof(s->iface)) < 0) {
            pf_error("http: cannot resolve %s", host);
            free(s);
            return -1;
        }
        info.iface = s->iface;
        if (!strchr(s->iface, ':'))
            info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    }

    add_callback_mount(s, 0, "/primefactor.Factors/PrimeFactors");
    add_callback_mount(s, 1, "/v1/factors");
    add_callback_mount(s, 2, "/healthz");
    add_callback_mount(s, 3, "/metrics");
    struct lws_http_mount *files = &s->mounts[4];
    files->mountpoint = "/";
    files->mountpoint_len = 1;
    files->origin = cfg->web_root;
    files->def = "index.html";
    files->origin_protocol = LWSMPRO_FILE;
    info.mounts = s->mounts;

    s->shared_listen_fd = -1;
    if (cfg->reuse_port) {
        s->shared_listen_fd = pf_listen("http", &cfg->http_addr, true, port);
        if (s->shared_listen_fd < 0) {
            free(s);
            return -1;
        }
        info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    } else if (probe_bind(info.iface, info.port) < 0) {
        free(s);
        return -1;
    }
    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        pf_error("http: cannot listen on %s:%d (address in use, or not an address of this host)",
                 host, cfg->http_addr.port);
        if (s->shared_listen_fd >= 0)
            close(s->shared_listen_fd);
        free(s);
        return -1;
    }
    struct lws_vhost *vhost = lws_get_vhost_by_name(s->ctx, "default");
    if (s->shared_listen_fd >= 0) {
        lws_sock_file_fd_type desc = { .filefd = s->shared_listen_fd };
        if (!lws_adopt_descriptor_vhost(vhost, LWS_ADOPT_RAW_FILE_DESC, desc, ACCEPT_PROTOCOL,
                                        NULL)) {
            pf_error("http: lws cannot watch the shared listening socket");
            pf_lws_server_free(s);
            return -1;
        }
    } else {
        *port = lws_get_vhost_listen_port(vhost);
    }
    if (pthread_create(&s->thread, NULL, service_main, s) != 0) {
        pf_error("http: cannot start the service thread");
        pf_lws_server_free(s);
        return -1;
    }
    s->thread_started = true;
    *out = s;
    return 0;
}

void pf_lws_server_drain(pf_lws_server *s)
{
    lws_cancel_service(s->ctx);
}

void pf_lws_server_cancel_all(pf_lws_server *s)
{
    atomic_store(&s->cancel, true);
    lws_cancel_service(s->ctx);
}

int pf_lws_server_open_streams(pf_lws_server *s)
{
    return atomic_load(&s->open_streams);
}

void pf_lws_server_free(pf_lws_server *s)
{
    if (!s)
        return;
    if (s->thread_started) {
        atomic_store(&s->stop, true);
        lws_cancel_service(s->ctx);
        pthread_join(s->thread, NULL);
    }
    lws_context_destroy(s->ctx);
    free(s);
}
