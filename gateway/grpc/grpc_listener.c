#include "grpc_listener.h"

#include <errno.h>
#include <grpc/grpc_posix.h>
#include <grpc/grpc_security.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "access_log.h"
#include "accept_guard.h"
#include "clock.h"
#include "grpc_151.h"
#include "grpc_relay.h"
#include "grpc_tls.h"
#include "list.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"

/* What the main thread asks of the accept thread, through wake_fd. */
enum command { RUN, STOP_ACCEPTING, EXIT };

struct watch;

struct pf_grpc_listener {
    int listen_fd;
    int header_timeout_ms;
    int idle_timeout_ms; /* --idle-timeout */
    struct pf_acceptor acceptor;
    int64_t accept_resume_ms; /* >= 0: the listener is out of epoll until then (EMFILE) */
    struct pf_list waiting; /* watches not yet handed to grpc */
    struct pf_list closing; /* watches whose relay has a deadline */
    struct pf_list dead;    /* watches to free after this round of events */
    struct pf_list idle;    /* watches whose relay is open with no stream, longest idle first */
    struct pf_h2_limits limits;
    struct pf_relay_scratch *scratch;
    struct pf_log_limit relay_failed, relay_refused, refused, wait_failed;
    atomic_int command;
    pthread_mutex_t watches_lock; /* the accept thread changes the list; others read it */
    struct pf_list watches; /* one per open connection */
    int epoll_fd;
    int wake_fd;
    pthread_t thread;
    bool thread_started;
    size_t max_connections;
    grpc_server *server;
    grpc_server_credentials *creds;
    pf_grpc_conns *conns;
    SSL_CTX *tls_ctx; /* --tls-cert: pfgate ends TLS (grpc_tls.h); else NULL */
};

/* One client connection. Until its client has sent the HTTP/2 preface (over
 * TLS: its handshake, then the preface), it waits on the listener's list,
 * unknown to grpc, and is closed at its deadline; then its relay
 * (grpc_relay.h) carries it, and grpc has the other end of the relay's
 * socketpair. */
struct watch {
    enum pf_epoll_kind kind; /* PF_EPOLL_WATCH: first, see grpc_relay.h */
    int fd;                  /* the client's socket until the relay takes it */
    struct pf_list link;     /* in the listener's watches */
    struct pf_list waiting_link; /* in waiting, then in closing */
    int64_t deadline;
    struct pf_list idle_link; /* in idle, since idle_since */
    int64_t idle_since;
    bool partial; /* part of the preface came (plaintext: it is only peeked) */
    bool dead;    /* its relay is over: freed after this round of events */
    pf_grpc_tls *tls; /* TLS port: until the relay takes it */
    bool handshaken;
    /* TLS port: the preface as read from the plaintext (TLS records cannot
     * be peeked at on the socket); the relay passes it on to grpc. */
    uint8_t head[PF_H2_PREFACE_LEN];
    size_t head_len;
    pf_grpc_relay *relay;
    pf_grpc_conn *conn;
};

/* epoll's data.ptr for the listening socket and the wake-up. */
static enum pf_epoll_kind listen_mark = PF_EPOLL_MARK, wake_mark = PF_EPOLL_MARK;

uint32_t pf_grpc_concurrent_streams(const struct pf_config *cfg)
{
    size_t n = 2 * cfg->max_streams_per_conn;
    return n < 16 ? 16 : n > 65536 ? 65536 : (uint32_t)n;
}

int pf_grpc_listener_bind(const struct pf_config *cfg, pf_grpc_listener **out, int *port)
{
    SSL_CTX *tls_ctx = NULL;
    if (cfg->tls_cert && !(tls_ctx = pf_grpc_tls_ctx_new(cfg->tls_cert, cfg->tls_key)))
        return -1;
    int fd = pf_listen("grpc", &cfg->grpc_addr, cfg->reuse_port, port);
    pf_grpc_listener *l = fd >= 0 ? calloc(1, sizeof(*l)) : NULL;
    if (!l) {
        if (fd >= 0)
            close(fd);
        SSL_CTX_free(tls_ctx);
        return -1;
    }
    l->listen_fd = fd;
    l->tls_ctx = tls_ctx;
    l->acceptor.front = "grpc";
    l->accept_resume_ms = -1;
    /* The guard's table holds a stream until grpc has ended it: room for
     * streams grpc has not yet refused when a client goes past the limit. */
    pf_h2_limits_default(&l->limits, (uint32_t)cfg->max_message,
                         pf_grpc_concurrent_streams(cfg) + 64);
    l->epoll_fd = -1;
    l->wake_fd = -1;
    l->max_connections = cfg->max_connections;
    pthread_mutex_init(&l->watches_lock, NULL);
    pf_list_init(&l->watches);
    pf_list_init(&l->waiting);
    pf_list_init(&l->closing);
    pf_list_init(&l->dead);
    pf_list_init(&l->idle);
    l->header_timeout_ms = cfg->header_timeout * 1000;
    l->idle_timeout_ms = cfg->idle_timeout * 1000;
    *out = l;
    return 0;
}

/* How often a connection part-way through its preface is looked at. */
#define PARTIAL_TICK_MS 20

static void watch_close(pf_grpc_listener *l, struct watch *w);
static void resume_accepting(pf_grpc_listener *l);
static void relay_went(pf_grpc_listener *l, struct watch *w, bool over);

static void set_events(pf_grpc_listener *l, struct watch *w, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = w };
    epoll_ctl(l->epoll_fd, EPOLL_CTL_MOD, w->fd, &ev);
}

/* grpc gets one end of a socketpair, and the relay carries the bytes between
 * it and the client's socket: still unread on a plaintext port (the preface
 * was only peeked), from w->head on over TLS. */
static void hand_over(pf_grpc_listener *l, struct watch *w)
{
    pf_list_remove(&w->waiting_link);
    epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, w->fd, NULL);
    int client_fd = w->fd, grpc_fd = -1;
    pf_grpc_tls *tls = w->tls;
    w->fd = -1;
    w->tls = NULL;
    char peer[32];
    pf_grpc_relay *relay;
    if (pf_grpc_relay_new(client_fd, tls, l->epoll_fd, &l->limits, l->scratch, w, &relay,
                          &grpc_fd) < 0) {
        pf_log_limited(&l->relay_refused, PF_LOG_WARN, "grpc: cannot relay a connection: %s",
                       strerror(errno));
        watch_close(l, w);
        return;
    }
    /* Under the lock: pf_grpc_listener_unsent() reads w->relay from another thread. */
    pthread_mutex_lock(&l->watches_lock);
    w->relay = relay;
    pthread_mutex_unlock(&l->watches_lock);
    /* grpc names the connection after the fd it was given. */
    pf_grpc151_peer_name(grpc_fd, peer, sizeof(peer));
    pf_grpc_conns_close(l->conns, w->conn);
    if (pf_grpc_conns_open(l->conns, peer, &w->conn) < 0) {
        w->conn = NULL;
        close(grpc_fd);
        watch_close(l, w);
        return;
    }
    if (pf_access_log_on()) {
        char client[48];
        pf_access_peer(client_fd, client, sizeof(client));
        pf_grpc_conns_name_client(l->conns, w->conn, client);
    }
    grpc_server_add_channel_from_fd(l->server, grpc_fd, l->creds);
    relay_went(l, w, pf_grpc_relay_start(w->relay, w->head, w->head_len, pf_now_ms()));
}

/* A TLS connection waiting: one step of its handshake, then the preface,
 * read from the plaintext into w->head. */
static void tls_advance(pf_grpc_listener *l, struct watch *w)
{
    if (!w->handshaken) {
        int rc = pf_grpc_tls_handshake(w->tls);
        if (rc < 0) {
            pf_debug("grpc: a TLS handshake failed: %s", strerror(errno));
            watch_close(l, w);
            return;
        }
        if (rc == 0) {
            set_events(l, w, pf_grpc_tls_waits_for(w->tls) | EPOLLRDHUP);
            return;
        }
        w->handshaken = true;
    }
    ssize_t n = pf_grpc_tls_read(w->tls, w->head + w->head_len, PF_H2_PREFACE_LEN - w->head_len);
    if (n > 0) {
        w->head_len += (size_t)n;
        if (w->head_len == PF_H2_PREFACE_LEN || memcmp(w->head, PF_H2_PREFACE, w->head_len) != 0) {
            hand_over(l, w);
            return;
        }
    } else if (n == 0 || errno != EAGAIN) {
        watch_close(l, w);
        return;
    }
    uint32_t waits = pf_grpc_tls_waits_for(w->tls);
    set_events(l, w, (waits ? waits : EPOLLIN) | EPOLLRDHUP);
}

/* Looks at what the client has sent so far, without taking it: the
 * connection goes to grpc once it has sent the whole HTTP/2 preface (or
 * something else, which the guard then refuses). Returns false when w is no
 * longer waiting (handed over, or closed and freed). */
static bool check_preface(pf_grpc_listener *l, struct watch *w)
{
    char buf[PF_H2_PREFACE_LEN];
    ssize_t n = recv(w->fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
    if (n == (ssize_t)PF_H2_PREFACE_LEN || (n > 0 && memcmp(buf, PF_H2_PREFACE, (size_t)n) != 0)) {
        hand_over(l, w);
        return false;
    } else if (n > 0 && !w->partial) {
        /* A part of the preface: looked at again on each tick, since the
         * unread bytes would wake epoll at once, forever. */
        w->partial = true;
        set_events(l, w, EPOLLRDHUP);
    }
    return true;
}

/* Connections with no stream for --idle-timeout end with a GOAWAY (as grpc's
 * own idle timer would, which costs every call more: BENCHMARKS.md). The idle
 * list is in the order its connections went idle, so only its head is due
 * next. Returns the ms until the next is due, or -1. */
static int64_t end_idle(pf_grpc_listener *l, int64_t now)
{
    while (!pf_list_empty(&l->idle)) {
        struct watch *w = PF_CONTAINER_OF(l->idle.next, struct watch, idle_link);
        int64_t at = w->idle_since + l->idle_timeout_ms;
        if (at > now)
            return at - now;
        pf_list_remove(&w->idle_link);
        pf_debug("grpc: ending a connection idle for --idle-timeout");
        relay_went(l, w, pf_grpc_relay_end(w->relay, now));
    }
    return -1;
}

/* Connections that have not sent their preface within --header-timeout are
 * closed (grpc's handshake timeout does not cover sockets added by fd), and
 * the ones part-way through it are looked at again; so are relays past
 * their closing deadline, and a listener paused on EMFILE. Returns how long
 * epoll_wait may sleep. */
static int check_waiting(pf_grpc_listener *l)
{
    int64_t now = pf_now_ms();
    int64_t next = end_idle(l, now);
    struct pf_list *node, *tmp;
    pf_list_for_each(node, tmp, &l->closing) {
        struct watch *w = PF_CONTAINER_OF(node, struct watch, waiting_link);
        int64_t at = pf_grpc_relay_deadline(w->relay);
        if (at <= now)
            watch_close(l, w);
        else if (next < 0 || at - now < next)
            next = at - now;
    }
    if (l->accept_resume_ms >= 0) {
        if (l->accept_resume_ms <= now) {
            resume_accepting(l);
        } else if (next < 0 || l->accept_resume_ms - now < next) {
            next = l->accept_resume_ms - now;
        }
    }
    bool partial = false;
    pf_list_for_each(node, tmp, &l->waiting) {
        struct watch *w = PF_CONTAINER_OF(node, struct watch, waiting_link);
        if (w->deadline <= now) {
            pf_debug("grpc: closing a connection that sent no preface in time");
            watch_close(l, w);
            continue;
        }
        if (w->partial && !check_preface(l, w))
            continue;
        partial = partial || w->partial;
        if (next < 0 || w->deadline - now < next)
            next = w->deadline - now;
    }
    if (partial && (next < 0 || next > PARTIAL_TICK_MS))
        next = PARTIAL_TICK_MS;
    return (int)next;
}

static void on_watch_event(pf_grpc_listener *l, struct watch *w, uint32_t events)
{
    if (w->dead)
        return;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        watch_close(l, w);
    else if (w->tls)
        tls_advance(l, w);
    else
        check_preface(l, w);
}

static void on_relay_event(pf_grpc_listener *l, void *ptr, uint32_t events)
{
    pf_grpc_relay *r = pf_grpc_relay_of(ptr);
    struct watch *w = pf_grpc_relay_owner(r);
    if (w->dead)
        return;
    relay_went(l, w, pf_grpc_relay_event(r, ptr, events, pf_now_ms()));
}

/* After a relay's step: a closing one gets a deadline, one that is over
 * is freed after this round of events. */
static void relay_went(pf_grpc_listener *l, struct watch *w, bool over)
{
    bool closing = pf_grpc_relay_deadline(w->relay) >= 0;
    if (!over && closing && !pf_list_linked(&w->waiting_link))
        pf_list_append(&l->closing, &w->waiting_link);
    bool idle = !over && !closing && pf_grpc_relay_open_streams(w->relay) == 0;
    if (idle && !pf_list_linked(&w->idle_link)) {
        w->idle_since = pf_now_ms();
        pf_list_append(&l->idle, &w->idle_link);
    } else if (!idle) {
        pf_list_remove(&w->idle_link);
    }
    if (over) {
        /* Not freed yet: this round may hold an event for its other socket. */
        w->dead = true;
        pf_list_remove(&w->waiting_link);
        pf_list_append(&l->dead, &w->waiting_link);
    }
}

static void free_dead(pf_grpc_listener *l)
{
    struct pf_list *node, *tmp;
    pf_list_for_each(node, tmp, &l->dead)
        watch_close(l, PF_CONTAINER_OF(node, struct watch, waiting_link));
}

static void watch_close(pf_grpc_listener *l, struct watch *w)
{
    if (w->relay && pf_grpc_relay_why(w->relay))
        pf_log_limited(&l->relay_failed, PF_LOG_WARN, "grpc: closed a connection: %s",
                       pf_grpc_relay_why(w->relay));
    pf_list_remove(&w->waiting_link);
    pf_list_remove(&w->idle_link);
    pf_grpc_conns_close(l->conns, w->conn);
    pf_metrics_connections(PF_FRONT_GRPC, -1);
    /* Out of the list before the sockets close: pf_grpc_listener_unsent()
     * reads them from another thread. */
    pthread_mutex_lock(&l->watches_lock);
    pf_list_remove(&w->link);
    pthread_mutex_unlock(&l->watches_lock);
    if (w->fd >= 0) {
        epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, w->fd, NULL);
        close(w->fd); /* grpc never saw it */
    }
    pf_grpc_tls_free(w->tls);
    pf_grpc_relay_free(w->relay);
    free(w);
}

static void pause_accepting(pf_grpc_listener *l)
{
    epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, l->listen_fd, NULL);
    l->accept_resume_ms = pf_now_ms() + PF_ACCEPT_PAUSE_MS;
}

static void resume_accepting(pf_grpc_listener *l)
{
    l->accept_resume_ms = -1;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &listen_mark };
    if (l->listen_fd >= 0)
        epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, l->listen_fd, &ev);
}

/* At the cap, the oldest connection that has not sent its preface gives its
 * place to the new one: a flood of silent connections holds no slot for
 * long. Its slot is free at once; it is closed after this round of events
 * (one of them may be its own). */
static bool evict_oldest_silent(pf_grpc_listener *l)
{
    if (pf_list_empty(&l->waiting))
        return false;
    struct watch *w = PF_CONTAINER_OF(l->waiting.next, struct watch, waiting_link);
    pf_debug("grpc: closing a connection that has sent nothing, to make room");
    pf_grpc_conns_close(l->conns, w->conn);
    w->conn = NULL;
    w->dead = true;
    pf_list_remove(&w->waiting_link);
    pf_list_append(&l->dead, &w->waiting_link);
    return true;
}

static void accept_one(pf_grpc_listener *l, int fd)
{
    if (pf_grpc_conns_count(l->conns) >= l->max_connections && !evict_oldest_silent(l)) {
        pf_log_limited(&l->refused, PF_LOG_WARN,
                       "grpc: refused a connection: %zu open (--max-connections)",
                       l->max_connections);
        pf_metrics_connection_refused(PF_FRONT_GRPC);
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    struct watch *w = calloc(1, sizeof(*w));
    char peer[32];
    pf_grpc151_peer_name(fd, peer, sizeof(peer)); /* renamed after grpc's fd at hand-over */
    struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
    if (!w) {
        close(fd);
        return;
    }
    w->kind = PF_EPOLL_WATCH;
    w->fd = fd;
    ev.data.ptr = w;
    if ((l->tls_ctx && !(w->tls = pf_grpc_tls_new(l->tls_ctx, fd))) ||
        epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ||
        pf_grpc_conns_open(l->conns, peer, &w->conn) < 0) {
        epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
        pf_grpc_tls_free(w->tls);
        free(w);
        close(fd);
        return;
    }
    pthread_mutex_lock(&l->watches_lock);
    pf_list_append(&l->watches, &w->link);
    pthread_mutex_unlock(&l->watches_lock);
    w->deadline = pf_now_ms() + l->header_timeout_ms;
    pf_list_append(&l->waiting, &w->waiting_link);
    pf_metrics_connections(PF_FRONT_GRPC, 1);
}

/* epoll_wait fails (EINTR aside) only when the epoll set itself is broken:
 * tried again after a pause, in case; still failing after WAIT_TRIES tries,
 * the gRPC port is dead, and pfgate exits loudly rather than look alive. */
#define WAIT_PAUSE_MS 100
#define WAIT_TRIES 20

/* Returns true when the main thread has asked the accept thread to exit. */
static bool wait_failed(pf_grpc_listener *l, int *failures)
{
    int err = errno;
    if (++*failures >= WAIT_TRIES) {
        pf_error("grpc: the accept thread cannot wait for events (%s) after %d tries; exiting",
                 strerror(err), WAIT_TRIES);
        _exit(1); /* not exit(): the other threads are still running */
    }
    pf_log_limited(&l->wait_failed, PF_LOG_ERROR,
                   "grpc: the accept thread cannot wait for events: %s; trying again in %d ms",
                   strerror(err), WAIT_PAUSE_MS);
    nanosleep(&(struct timespec){ .tv_nsec = WAIT_PAUSE_MS * 1000000L }, NULL);
    return atomic_load(&l->command) == EXIT;
}

static void *listener_main(void *arg)
{
    pf_grpc_listener *l = arg;
    struct epoll_event events[64];
    int failures = 0;
    for (;;) {
        int n = epoll_wait(l->epoll_fd, events, 64, check_waiting(l));
        if (n < 0) {
            if (errno != EINTR && wait_failed(l, &failures))
                return NULL;
            continue;
        }
        failures = 0;
        for (int i = 0; i < n; i++) {
            void *what = events[i].data.ptr;
            if (what == &wake_mark) {
                uint64_t count;
                if (read(l->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
                    pf_warn("grpc: reading the wake-up: %s", strerror(errno));
                int command = atomic_load(&l->command);
                if (command == EXIT)
                    return NULL;
                if (command == STOP_ACCEPTING && l->listen_fd >= 0) {
                    close(l->listen_fd); /* leaves the epoll set too */
                    l->listen_fd = -1;
                }
                continue;
            }
            if (what != &listen_mark) {
                if (*(enum pf_epoll_kind *)what == PF_EPOLL_RELAY)
                    on_relay_event(l, what, events[i].events);
                else
                    on_watch_event(l, what, events[i].events);
                continue;
            }
            int fd;
            bool pause = false;
            while (l->listen_fd >= 0 && (fd = pf_accept(&l->acceptor, l->listen_fd, &pause)) >= 0)
                accept_one(l, fd);
            if (pause && l->listen_fd >= 0)
                pause_accepting(l);
        }
        free_dead(l);
    }
}

int pf_grpc_listener_run(pf_grpc_listener *l, grpc_server *server, pf_grpc_conns *conns)
{
    l->server = server;
    l->conns = conns;
    l->creds = grpc_insecure_server_credentials_create();
    l->scratch = malloc(sizeof(*l->scratch));
    l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event listen_ev = { .events = EPOLLIN, .data.ptr = &listen_mark };
    struct epoll_event wake_ev = { .events = EPOLLIN, .data.ptr = &wake_mark };
    if (!l->scratch || l->epoll_fd < 0 || l->wake_fd < 0 ||
        epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, l->listen_fd, &listen_ev) < 0 ||
        epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, l->wake_fd, &wake_ev) < 0 ||
        pthread_create(&l->thread, NULL, listener_main, l) != 0) {
        pf_error("grpc: cannot start the accept thread: %s", strerror(errno));
        return -1;
    }
    l->thread_started = true;
    pthread_setname_np(l->thread, "pfgate-relay");
    return 0;
}

size_t pf_grpc_listener_unsent(pf_grpc_listener *l)
{
    size_t total = 0;
    if (!l)
        return 0;
    struct pf_list *node, *tmp;
    pthread_mutex_lock(&l->watches_lock);
    pf_list_for_each(node, tmp, &l->watches) {
        struct watch *w = PF_CONTAINER_OF(node, struct watch, link);
        if (w->relay)
            total += pf_grpc_relay_unsent(w->relay);
    }
    pthread_mutex_unlock(&l->watches_lock);
    return total;
}

static void send_command(pf_grpc_listener *l, enum command command)
{
    atomic_store(&l->command, command);
    uint64_t one = 1;
    if (write(l->wake_fd, &one, sizeof(one)) < 0)
        pf_warn("grpc: cannot wake the accept thread: %s", strerror(errno));
}

void pf_grpc_listener_stop(pf_grpc_listener *l)
{
    if (l && l->thread_started)
        send_command(l, STOP_ACCEPTING);
}

void pf_grpc_listener_free(pf_grpc_listener *l)
{
    if (!l)
        return;
    if (l->thread_started) {
        send_command(l, EXIT);
        pthread_join(l->thread, NULL);
    }
    if (l->listen_fd >= 0)
        close(l->listen_fd);
    /* Connections still open belong to idle clients: end them, so that
     * grpc's shutdown, which waits for every connection, can finish. */
    struct pf_list *node, *tmp;
    pf_list_for_each(node, tmp, &l->watches) {
        struct watch *w = PF_CONTAINER_OF(node, struct watch, link);
        if (w->fd >= 0)
            close(w->fd);
        pf_grpc_tls_free(w->tls);
        pf_grpc_relay_free(w->relay); /* grpc sees its end close */
        pf_grpc_conns_close(l->conns, w->conn);
        free(w);
    }
    if (l->epoll_fd >= 0)
        close(l->epoll_fd);
    if (l->wake_fd >= 0)
        close(l->wake_fd);
    if (l->creds)
        grpc_server_credentials_release(l->creds);
    free(l->scratch);
    SSL_CTX_free(l->tls_ctx);
    pthread_mutex_destroy(&l->watches_lock);
    free(l);
}
