#include "lws_server.h"

#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "accept_guard.h"
#include "access_log.h"
#include "clock.h"
#include "health.h"
#include "http_conns.h"
#include "http_reply.h"
#include "http_request_rules.h"
#include "http_routes.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "service.h"
#include "tls.h"
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
    atomic_bool drain_seen; /* the service thread has started the drain */
    bool drain_started, cancel_started; /* service thread only */
    /* pfgate's own listening sockets: it accepts, counts and only then
     * hands each connection to lws (which would read a flood of silent
     * connections until the descriptors ran out). */
    int listen_fd, admin_fd; /* admin_fd: --admin-addr, or -1 */
    struct pf_acceptor acceptor, admin_acceptor;
    struct pf_http_conns conns;
    struct pf_log_limit refused_log;
    lws_retry_bo_t idle_policy;
    struct lws_http_mount mounts[6];
};

/* What a connection is now. lws allocates one session per connection,
 * zeroed (HTTP); the upgrade gives the WebSocket a new one (ESTABLISHED). */
enum session_kind { SESSION_HTTP, SESSION_WEBSOCKET };

struct session {
    enum session_kind kind;
    union {
        struct pf_ws_session ws;
        struct pf_http_session http;
    } as;
};

static struct pf_lws_server *server_of(struct lws_context *ctx)
{
    return (struct pf_lws_server *)pf_lws_env_of(ctx);
}

static enum session_kind kind_of(const struct session *session)
{
    return session ? session->kind : SESSION_HTTP; /* no session yet: HTTP */
}

static enum pf_front front_of(const struct session *session)
{
    return kind_of(session) == SESSION_WEBSOCKET ? PF_FRONT_WEBSOCKET : PF_FRONT_HTTP;
}

/* The upgrade is done: the connection counts as a WebSocket from now on. */
static void become_websocket(struct lws *wsi, struct session *session)
{
    struct pf_http_conn *conn = pf_http_conn_of(wsi);
    if (conn && conn->kind == PF_CONN_CLIENT) {
        pf_metrics_connections(PF_FRONT_HTTP, -1);
        pf_metrics_connections(PF_FRONT_WEBSOCKET, 1);
    }
    session->kind = SESSION_WEBSOCKET;
}

static void on_connection_gone(struct lws *wsi, struct pf_lws_server *s,
                               const struct session *session)
{
    struct pf_http_conn *conn = lws_get_opaque_user_data(wsi);
    if (!conn)
        return; /* not a client connection */
    lws_set_opaque_user_data(wsi, NULL);
    s->env.connections--;
    if (conn->kind == PF_CONN_CLIENT)
        pf_metrics_connections(front_of(session), -1);
    pf_http_conns_close(&s->conns, conn);
}

static bool is_probe_path(const char *uri)
{
    return uri && (strcmp(uri, "/healthz") == 0 || strcmp(uri, "/metrics") == 0);
}

/* What a reserve or admin connection may not ask for. Returns 0 when the
 * request may go on, else what the callback must return. */
static int refuse_beyond_probes(struct lws *wsi, const char *uri)
{
    struct pf_http_conn *conn = pf_http_conn_of(wsi);
    if (!conn || conn->kind == PF_CONN_CLIENT || is_probe_path(uri))
        return 0;
    if (conn->kind == PF_CONN_ADMIN)
        return pf_http_refuse(wsi, HTTP_STATUS_NOT_FOUND,
                              "the admin port serves /healthz and /metrics only");
    return pf_http_refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE,
                          "too many connections (--max-connections)");
}

/* When a request's head came, for the access log's duration. */
static void request_came(struct lws *wsi)
{
    if (pf_access_log_on()) {
        pf_lws_env(wsi)->request_ns = pf_now_ns();
        pf_lws_env(wsi)->reply_counts = (struct pf_stream_counts){ 0, 0, 0 };
    }
}

/* A whole request head has come (in: its path). */
static int filter_request(struct lws *wsi, const char *uri)
{
    request_came(wsi);
    struct pf_http_conn *conn = pf_http_conn_of(wsi);
    if (conn)
        pf_http_conns_spoke(conn);
    int rc = refuse_beyond_probes(wsi, uri);
    return rc ? rc : pf_http_filter(wsi);
}

static int confirm_upgrade(struct lws *wsi, const char *protocol)
{
    request_came(wsi);
    struct pf_http_conn *conn = pf_http_conn_of(wsi);
    if (conn)
        pf_http_conns_spoke(conn);
    int rc = refuse_beyond_probes(wsi, NULL); /* an upgrade is never a probe */
    return rc ? rc : pf_ws_confirm_upgrade(wsi, protocol);
}

/* On the service thread after lws_cancel_service(): the drain and its
 * deadline, asked for by the main thread. */
static void on_wake(struct lws_context *ctx)
{
    struct pf_lws_server *s = server_of(ctx);
    if (pf_health_draining() && !s->drain_started) {
        s->drain_started = true;
        pf_ws_drain_all(ctx);
        pf_ndjson_drain_all(ctx);
        atomic_store(&s->drain_seen, true);
    }
    if (atomic_load(&s->cancel) && !s->cancel_started) {
        s->cancel_started = true;
        pf_ws_cancel_all(ctx);
        pf_ndjson_cancel_all(ctx);
    }
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct session *session = user;
    struct pf_lws_server *server = server_of(lws_get_context(wsi));
    int rc = 0;
    /* What concerns the connection itself, whatever it is. */
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        on_wake(lws_get_context(wsi));
        pf_lws_wakes_run(&server->env.wakes);
        goto out;
    case LWS_CALLBACK_WSI_DESTROY:
        on_connection_gone(wsi, server, session);
        return 0;
    case LWS_CALLBACK_FILTER_HTTP_CONNECTION:
        return filter_request(wsi, in);
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(wsi, in);
    case LWS_CALLBACK_ESTABLISHED:
        become_websocket(wsi, session);
        break;
    default:
        break;
    }
    switch (kind_of(session)) {
    case SESSION_WEBSOCKET:
        rc = pf_ws_callback(wsi, reason, &session->as.ws, in, len);
        break;
    case SESSION_HTTP:
        rc = pf_http_callback(wsi, reason, session ? &session->as.http : NULL, in, len);
        break;
    }
out:
    atomic_store(&server->open_streams, server->env.open_streams);
    return rc;
}

/* Closes a silent connection whose place a new one takes (from the
 * service thread, on lws's next turn). */
static void evict(struct pf_http_conn *victim)
{
    pf_debug("http: closing a connection that has sent nothing, to make room");
    lws_set_timeout(victim->handle, PENDING_TIMEOUT_HOLDING_AH, LWS_TO_KILL_ASYNC);
}

static void take_connection(struct pf_lws_server *s, struct lws_vhost *vhost, int fd, bool admin)
{
    struct pf_http_conn *victim;
    struct pf_http_conn *conn = pf_http_conns_admit(&s->conns, admin, &victim);
    if (victim)
        evict(victim);
    if (!conn) {
        close(fd);
        if (!admin)
            pf_metrics_connection_refused(PF_FRONT_HTTP);
        pf_log_limited(&s->refused_log, PF_LOG_WARN,
                       "http: refused a connection: the %s port is full (--max-connections %zu)",
                       admin ? "admin" : "HTTP", s->env.cfg->max_connections);
        return;
    }
    if (pf_access_log_on()) /* once per connection, not per request */
        pf_access_peer(fd, conn->peer, sizeof(conn->peer));
    if (conn->kind == PF_CONN_CLIENT)
        pf_metrics_connections(PF_FRONT_HTTP, 1);
    else if (conn->kind == PF_CONN_RESERVE)
        pf_metrics_connection_refused(PF_FRONT_HTTP);
    s->env.connections++;
    struct lws *wsi = lws_adopt_socket_vhost(vhost, fd); /* closes fd on failure */
    if (!wsi) {
        pf_warn("http: lws could not take an accepted connection");
        s->env.connections--;
        if (conn->kind == PF_CONN_CLIENT)
            pf_metrics_connections(PF_FRONT_HTTP, -1);
        pf_http_conns_close(&s->conns, conn);
        return;
    }
    conn->handle = wsi;
    lws_set_opaque_user_data(wsi, conn);
}

/* The listening sockets are pfgate's: lws watches each as a raw descriptor,
 * and each connection accepted from it is handed to lws as if lws had
 * accepted it. Out of descriptors, the listener is not watched for a
 * while (a timer brings it back). */
static int accept_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                           void *in, size_t len)
{
    (void)user, (void)in, (void)len;
    struct pf_lws_server *s = server_of(lws_get_context(wsi));
    int listen_fd = lws_get_socket_fd(wsi);
    bool admin = listen_fd == s->admin_fd;
    struct pf_acceptor *acceptor = admin ? &s->admin_acceptor : &s->acceptor;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        for (;;) {
            bool pause;
            int fd = pf_accept(acceptor, listen_fd, &pause);
            if (fd < 0) {
                if (pause) {
                    lws_rx_flow_control(wsi, 0);
                    lws_set_timer_usecs(wsi, PF_ACCEPT_PAUSE_MS * 1000);
                }
                return 0;
            }
            take_connection(s, lws_get_vhost(wsi), fd, admin);
        }
    case LWS_CALLBACK_TIMER:
        lws_rx_flow_control(wsi, 1);
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    { .name = PROTOCOL,
      .callback = callback,
      .per_session_data_size = sizeof(struct session),
      /* Each WebSocket holds this much for its whole life (lws's rx_ubuf),
       * idle or not, and lws reads at most this much per read() (ops-ws.c).
       * Clients' bursts of numbers rarely fill 2 KiB: 4096 took as many
       * read() calls under ws_load. A longer message comes in pieces. */
      .rx_buffer_size = 2048,
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

/* lws watches a listening socket of pfgate's as a raw descriptor. */
static int watch_listener(struct pf_lws_server *s, int fd)
{
    lws_sock_file_fd_type desc = { .filefd = fd };
    if (lws_adopt_descriptor_vhost(lws_get_vhost_by_name(s->ctx, "default"),
                                   LWS_ADOPT_RAW_FILE_DESC, desc, ACCEPT_PROTOCOL, NULL))
        return 0;
    pf_error("http: lws cannot watch a listening socket");
    return -1;
}

int pf_lws_server_start(const struct pf_config *cfg, pf_sched *sched, pf_lws_server **out,
                        int *port, int *admin_port)
{
    struct pf_lws_server *s = calloc(1, sizeof(*s));
    if (!s)
        return -1;
    s->env.cfg = cfg;
    s->env.sched = sched;
    pf_list_init(&s->env.ws_sessions);
    pf_list_init(&s->env.ndjson_sessions);
    pf_http_conns_init(&s->conns, cfg->max_connections);
    s->acceptor.front = "http";
    s->admin_acceptor.front = "admin";
    s->admin_fd = -1;
    s->listen_fd = pf_listen("http", &cfg->http_addr, cfg->reuse_port, port);
    if (s->listen_fd < 0)
        goto fail;
    if (cfg->admin && (s->admin_fd = pf_listen("admin", &cfg->admin_addr, false, admin_port)) < 0)
        goto fail;

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.vhost_name = "default";
    /* No listener of lws's own, but a server vhost (TLS included) for the
     * connections pfgate hands it. */
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
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
        /* The same policy as the gRPC port's (tls.h). */
        info.ssl_cipher_list = PF_TLS_CIPHERS;
        info.ssl_options_set = PF_TLS_OPTIONS;
    }

    add_callback_mount(s, 0, PF_STREAM_PATH);
    add_callback_mount(s, 1, "/v1/factors");
    add_callback_mount(s, 2, "/healthz");
    add_callback_mount(s, 3, "/metrics");
    add_callback_mount(s, 4, "/openapi.json");
    struct lws_http_mount *files = &s->mounts[5];
    files->mountpoint = "/";
    files->mountpoint_len = 1;
    files->origin = cfg->web_root;
    files->def = "index.html";
    files->origin_protocol = LWSMPRO_FILE;
    info.mounts = s->mounts;

    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        pf_error("http: libwebsockets could not start (see its log above)");
        goto fail;
    }
    pf_lws_wakes_init(&s->env.wakes, s->ctx);
    if (watch_listener(s, s->listen_fd) < 0 || (s->admin_fd >= 0 && watch_listener(s, s->admin_fd) < 0))
        goto fail_ctx;
    if (pthread_create(&s->thread, NULL, service_main, s) != 0) {
        pf_error("http: cannot start the service thread");
        goto fail_ctx;
    }
    s->thread_started = true;
    pthread_setname_np(s->thread, "pfgate-http");
    *out = s;
    return 0;
fail_ctx:
    pf_lws_server_free(s); /* lws closes the listeners it watches */
    return -1;
fail:
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->admin_fd >= 0)
        close(s->admin_fd);
    free(s);
    return -1;
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

bool pf_lws_server_drained(pf_lws_server *s)
{
    return atomic_load(&s->drain_seen) && atomic_load(&s->open_streams) == 0;
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
    pf_lws_wakes_destroy(&s->env.wakes);
    free(s);
}
