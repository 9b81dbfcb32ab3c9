/* Unit tests for gateway/grpc/grpc_listener.c: the gRPC accept loop on a real
 * grpc server (no port of its own), driven by real TCP clients. The link
 * wraps the loop's system calls (Makefile: test_grpc_listener_LDFLAGS), so
 * that epoll_wait can fail on purpose and every close and SIOCOUTQ is seen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <grpc/grpc.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "grpc_conns.h"
#include "grpc_listener.h"
#include "h2_guard.h"

/* ---- the wrapped system calls ------------------------------------------- */

int __real_epoll_wait(int epfd, struct epoll_event *events, int max, int timeout);
int __real_close(int fd);
int __real_ioctl(int fd, unsigned long request, ...);
int __real_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int __real_socketpair(int domain, int type, int protocol, int sv[2]);
int __wrap_epoll_wait(int epfd, struct epoll_event *events, int max, int timeout);
int __wrap_close(int fd);
int __wrap_ioctl(int fd, unsigned long request, ...);
int __wrap_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int __wrap_socketpair(int domain, int type, int protocol, int sv[2]);

/* epoll_wait's faults, taken in this order: EINTRs, then EBADFs, then EBADF
 * for ever when fail_forever. */
static atomic_int eintr_left, ebadf_left;
static atomic_bool fail_forever;

static bool take(atomic_int *left)
{
    int n = atomic_load(left);
    while (n > 0)
        if (atomic_compare_exchange_weak(left, &n, n - 1))
            return true;
    return false;
}

int __wrap_epoll_wait(int epfd, struct epoll_event *events, int max, int timeout)
{
    if (take(&eintr_left)) {
        errno = EINTR;
        return -1;
    }
    if (take(&ebadf_left) || atomic_load(&fail_forever)) {
        errno = EBADF;
        return -1;
    }
    return __real_epoll_wait(epfd, events, max, timeout);
}

/* Descriptors the gateway's objects closed, until accept4 or socketpair
 * hands the number out again. */
#define MAX_FD 4096
static atomic_bool closed_fd[MAX_FD];
/* pf_grpc_listener_unsent() running in a loop on `reader`: each close made
 * by the accept thread waits for two whole passes of it, so that a watch
 * still listed with a closed socket is surely read. */
static atomic_bool reading;
static pthread_t reader, test_thread;
static atomic_long passes, closes_seen, ioctls_on_closed;

int __wrap_close(int fd)
{
    if (fd >= 0 && fd < MAX_FD)
        atomic_store(&closed_fd[fd], true);
    int rc = __real_close(fd);
    pthread_t self = pthread_self();
    if (atomic_load(&reading) && !pthread_equal(self, reader) && !pthread_equal(self, test_thread)) {
        long until = atomic_load(&passes) + 2;
        for (int i = 0; i < 1000 && atomic_load(&passes) < until; i++)
            usleep(100);
        atomic_fetch_add(&closes_seen, 1);
    }
    return rc;
}

int __wrap_ioctl(int fd, unsigned long request, ...)
{
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if ((request == SIOCOUTQ || request == SIOCINQ) && fd >= 0 && fd < MAX_FD &&
        atomic_load(&closed_fd[fd]))
        atomic_fetch_add(&ioctls_on_closed, 1);
    return __real_ioctl(fd, request, arg);
}

static void opened(int fd)
{
    if (fd >= 0 && fd < MAX_FD)
        atomic_store(&closed_fd[fd], false);
}

int __wrap_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    int c = __real_accept4(fd, addr, len, flags);
    opened(c);
    return c;
}

int __wrap_socketpair(int domain, int type, int protocol, int sv[2])
{
    int rc = __real_socketpair(domain, type, protocol, sv);
    if (rc == 0) {
        opened(sv[0]);
        opened(sv[1]);
    }
    return rc;
}

/* ---- a listener on a real grpc server ----------------------------------- */

struct rig {
    grpc_server *server;
    grpc_completion_queue *cq;
    pthread_t poller;
    atomic_bool shut_down; /* the server's shutdown tag came */
    pf_grpc_conns *conns;
    pf_grpc_listener *l;
    int port;
};

static int shutdown_tag;

/* grpc moves a server's connections only while its queue is polled. */
static void *poll_queue(void *arg)
{
    struct rig *r = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(r->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            return NULL;
        if (ev.type == GRPC_OP_COMPLETE && ev.tag == &shutdown_tag)
            atomic_store(&r->shut_down, true);
    }
}

static void rig_start(struct rig *r)
{
    memset(r, 0, sizeof(*r));
    struct pf_config cfg;
    assert_int_equal(pf_config_defaults(&cfg), 0);
    snprintf(cfg.grpc_addr.host, sizeof(cfg.grpc_addr.host), "127.0.0.1");
    cfg.grpc_addr.port = 0;
    grpc_init();
    r->server = grpc_server_create(NULL, NULL);
    r->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(r->server, r->cq, NULL);
    grpc_server_start(r->server);
    assert_int_equal(pthread_create(&r->poller, NULL, poll_queue, r), 0);
    assert_int_equal(pf_grpc_conns_new(cfg.max_streams_per_conn, cfg.max_streams_total,
                                       &r->conns), 0);
    assert_int_equal(pf_grpc_listener_bind(&cfg, &r->l, &r->port), 0);
    assert_int_equal(pf_grpc_listener_run(r->l, r->server, r->conns), 0);
}

static void rig_stop(struct rig *r)
{
    pf_grpc_listener_free(r->l); /* ends the relays: grpc sees its connections close */
    grpc_server_shutdown_and_notify(r->server, r->cq, &shutdown_tag);
    grpc_server_cancel_all_calls(r->server);
    for (int i = 0; i < 500 && !atomic_load(&r->shut_down); i++)
        usleep(10000);
    assert_true(atomic_load(&r->shut_down));
    grpc_server_destroy(r->server);
    grpc_completion_queue_shutdown(r->cq);
    pthread_join(r->poller, NULL);
    grpc_completion_queue_destroy(r->cq);
    pf_grpc_conns_free(r->conns);
    grpc_shutdown();
}

/* A client that has sent the HTTP/2 preface. */
static int client(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(send(fd, PF_H2_PREFACE, PF_H2_PREFACE_LEN, MSG_NOSIGNAL),
                     (ssize_t)PF_H2_PREFACE_LEN);
    return fd;
}

/* Waits up to ms for the listener to count n open connections. */
static bool count_reaches(struct rig *r, size_t n, int ms)
{
    for (int i = 0; i < ms / 10 && pf_grpc_conns_count(r->conns) != n; i++)
        usleep(10000);
    return pf_grpc_conns_count(r->conns) == n;
}

/* Waits up to 5 s for the first bytes grpc sends (its SETTINGS): the
 * connection went through the relay. */
static void await_server_bytes(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    char buf[256];
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_true(recv(fd, buf, sizeof(buf), 0) > 0);
}

/* What stderr received from capture_start() on: the listener's log. */
static char captured[65536];

static int capture_start(FILE **tmp)
{
    fflush(stderr);
    *tmp = tmpfile();
    assert_non_null(*tmp);
    int saved = dup(2);
    dup2(fileno(*tmp), 2);
    return saved;
}

static const char *capture_end(int saved, FILE *tmp)
{
    fflush(stderr);
    dup2(saved, 2);
    __real_close(saved);
    rewind(tmp);
    size_t n = fread(captured, 1, sizeof(captured) - 1, tmp);
    captured[n] = '\0';
    fclose(tmp);
    return captured;
}

static int occurrences(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

/* ---- tests ---------------------------------------------------------------- */

/* epoll_wait failing for good: the process exits 1 with a line that says
 * why, instead of a gRPC port that accepts nothing while pfgate looks alive.
 * In a child process, run first: grpc must not be running when it forks. */
static void test_epoll_wait_failing_for_good_exits_loudly(void **state)
{
    (void)state;
    FILE *err = tmpfile();
    assert_non_null(err);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fileno(err), 2);
        struct rig r;
        rig_start(&r);
        atomic_store(&fail_forever, true);
        int c = client(r.port); /* wakes the loop: its next wait fails */
        (void)c;
        sleep(8);
        _exit(3); /* the accept thread neither served nor exited */
    }
    int status = 0;
    pid_t done = 0;
    for (int i = 0; i < 1000 && (done = waitpid(pid, &status, WNOHANG)) == 0; i++)
        usleep(10000);
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    rewind(err);
    size_t n = fread(captured, 1, sizeof(captured) - 1, err);
    captured[n] = '\0';
    fclose(err);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_non_null(strstr(captured, " pfgate error: grpc: the accept thread cannot wait for "
                                     "events (Bad file descriptor) after 20 tries; exiting\n"));
    /* Said once a second at most while it tried: 20 tries of 100 ms. */
    int lines = occurrences(captured, "pfgate error: grpc: the accept thread cannot wait for "
                                      "events: Bad file descriptor; trying again in 100 ms");
    assert_true(lines >= 1 && lines <= 3);
}

/* epoll_wait failing for a while: EINTR is tried again without a word, any
 * other error is logged (once a second at most) and tried again after a
 * pause; the listener goes on accepting. */
static void test_epoll_wait_failures_are_survived(void **state)
{
    (void)state;
    struct rig r;
    rig_start(&r);
    FILE *tmp;
    int saved = capture_start(&tmp);
    atomic_store(&eintr_left, 2);
    atomic_store(&ebadf_left, 3);
    int first = client(r.port); /* wakes the loop, if the failures have not come yet */
    bool first_counted = count_reaches(&r, 1, 5000);
    for (int i = 0; i < 300 && (atomic_load(&eintr_left) || atomic_load(&ebadf_left)); i++)
        usleep(10000);
    int second = client(r.port);
    bool second_counted = count_reaches(&r, 2, 5000);
    const char *log = capture_end(saved, tmp);
    assert_true(first_counted);
    assert_int_equal(atomic_load(&eintr_left), 0);
    assert_int_equal(atomic_load(&ebadf_left), 0);
    assert_true(second_counted);
    assert_int_equal(occurrences(log, " pfgate error: grpc: the accept thread cannot wait for "
                                      "events: Bad file descriptor; trying again in 100 ms\n"),
                     1);
    assert_null(strstr(log, "Interrupted"));
    close(first);
    close(second);
    rig_stop(&r);
}

/* The drain reads SIOCOUTQ (pf_grpc_listener_unsent) on every listed
 * connection from another thread: a connection's sockets close only once it
 * is off the list. Each close waits for two passes of the reader, so a
 * socket closed while still listed is read, and counted. */
static void *read_unsent(void *arg)
{
    pf_grpc_listener *l = arg;
    while (atomic_load(&reading)) {
        pf_grpc_listener_unsent(l);
        atomic_fetch_add(&passes, 1);
    }
    return NULL;
}

static void test_sockets_close_after_leaving_the_list(void **state)
{
    (void)state;
    enum { CLIENTS = 40 };
    struct rig r;
    rig_start(&r);
    test_thread = pthread_self();
    atomic_store(&reading, true);
    assert_int_equal(pthread_create(&reader, NULL, read_unsent, r.l), 0);
    for (int i = 0; i < CLIENTS; i++) {
        int c = client(r.port);
        await_server_bytes(c); /* relayed: the connection has both its sockets */
        close(c);
    }
    bool all_closed = count_reaches(&r, 0, 10000);
    /* Each relay closes the client's socket and its end of the socketpair,
     * just after the count goes down. */
    for (int i = 0; i < 500 && atomic_load(&closes_seen) < 2 * CLIENTS; i++)
        usleep(10000);
    atomic_store(&reading, false);
    pthread_join(reader, NULL);
    assert_true(all_closed);
    assert_true(atomic_load(&closes_seen) >= 2 * CLIENTS);
    assert_int_equal(atomic_load(&ioctls_on_closed), 0);
    rig_stop(&r);
}

/* No fault left over from a test that failed. */
static int no_faults(void **state)
{
    (void)state;
    atomic_store(&eintr_left, 0);
    atomic_store(&ebadf_left, 0);
    atomic_store(&fail_forever, false);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_epoll_wait_failing_for_good_exits_loudly, no_faults),
        cmocka_unit_test_setup(test_epoll_wait_failures_are_survived, no_faults),
        cmocka_unit_test_setup(test_sockets_close_after_leaving_the_list, no_faults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
