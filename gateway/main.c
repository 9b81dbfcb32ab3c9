/* pfgate: flags -> start the front ends -> print "listening ..." -> wait for
 * a signal -> drain -> exit. */
#include <grpc/grpc.h>
#include <pthread.h>
#include <signal.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "access_log.h"
#include "config.h"
#include "grpc_front.h"
#include "health.h"
#include "http_conns.h"
#include "log.h"
#include "lws_server.h"
#include "metrics.h"
#include "scheduler.h"
#include "sd_notify.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* SIGHUP asks a daemon to reopen its log files (logrotate): the access log
 * file, when there is one; pfgate's own log goes to standard error. It must
 * not kill pfgate (its default action), as a terminal closing sends it too. */
static void on_hangup(void)
{
    int rc = pf_access_log_reopen();
    if (rc > 0)
        pf_info("SIGHUP: access log reopened");
    else if (rc == 0)
        pf_info("SIGHUP: no log file to reopen (logs go to standard error)");
}

/* Waits for SIGINT or SIGTERM (SIGHUPs on the way are handled), at most
 * timeout when one is given. Returns the signal, or 0 on timeout. */
static int wait_stop_signal(const sigset_t *signals, const struct timespec *timeout)
{
    for (;;) {
        int sig = timeout ? sigtimedwait(signals, NULL, timeout) : sigwaitinfo(signals, NULL);
        if (sig == SIGHUP) {
            on_hangup();
            continue;
        }
        if (sig < 0 && errno == EINTR)
            continue;
        return sig > 0 ? sig : 0;
    }
}

/* True when SIGINT or SIGTERM is pending: during the drain a second signal
 * means "exit now". */
static bool second_signal(const sigset_t *signals)
{
    struct timespec zero = { 0, 0 };
    return wait_stop_signal(signals, &zero) != 0;
}

/* Finishes every open stream within cfg->drain_timeout. Streams still open
 * near the end are cancelled early enough (the last fifth, at most a
 * second) for their UNAVAILABLE and 1001 to go out before the exit. */
static void drain(const struct pf_config *cfg, pf_grpc_front *grpc, pf_lws_server *http,
                  const sigset_t *signals)
{
    pf_health_set_draining();
    pf_grpc_front_drain(grpc);
    pf_lws_server_drain(http);

    double now = now_seconds();
    double deadline = now + cfg->drain_timeout;
    double grace = cfg->drain_timeout / 5 < 1.0 ? cfg->drain_timeout / 5 : 1.0;
    double cancel_at = deadline - grace;
    bool cancelled = false;
    for (;;) {
        bool grpc_done = pf_grpc_front_wait_drained(grpc, 0.02);
        if (grpc_done && pf_lws_server_drained(http))
            return;
        if (second_signal(signals)) {
            pf_warn("second signal: exiting now");
            _Exit(1);
        }
        now = now_seconds();
        if (now >= deadline)
            return;
        if (now >= cancel_at && !cancelled) {
            pf_warn("drain timeout (%.1f s) near: cancelling the open streams",
                    cfg->drain_timeout);
            pf_grpc_front_cancel_all(grpc);
            pf_lws_server_cancel_all(http);
            cancelled = true;
        }
    }
}

/* How long grpc_shutdown() may take (it joins grpc's own threads). */
#define GRPC_SHUTDOWN_WAIT_S 5

static void *grpc_shutdown_thread(void *arg)
{
    (void)arg;
    grpc_shutdown();
    return NULL;
}

/* grpc_shutdown(), within `seconds`: false when it has not returned by then. */
static bool grpc_shutdown_within(int seconds)
{
    pthread_t t;
    if (pthread_create(&t, NULL, grpc_shutdown_thread, NULL) != 0) {
        grpc_shutdown();
        return true;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += seconds;
    return pthread_timedjoin_np(t, NULL, &until) == 0;
}

/* The soft descriptor limit is set to what pfgate can use, within the hard
 * limit: raised, or else --max-connections runs out of descriptors; lowered,
 * because libwebsockets 4.1 zeroes two tables sized by it at start (16 MiB of
 * RSS at 1048576). A gRPC connection holds three descriptors (the client's
 * socket and both ends of its relay to grpc), an HTTP one at most two (a
 * file of the page); 1024 more for grpc's, lws's and the admin port's own.
 * Running out anyway is survived (accept_guard.h). */
static void fit_fd_limit(const struct pf_config *cfg)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
        return;
    rlim_t want = (rlim_t)cfg->max_connections * (3 + 2) + PF_HTTP_RESERVE * 2 + 1024;
    if (lim.rlim_max != RLIM_INFINITY && want > lim.rlim_max)
        want = lim.rlim_max;
    if (lim.rlim_cur == want)
        return;
    rlim_t was = lim.rlim_cur;
    lim.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
        pf_warn("cannot set the descriptor limit to %llu: %s", (unsigned long long)want,
                strerror(errno));
    else
        pf_debug("descriptor limit %llu -> %llu (--max-connections %zu)",
                 (unsigned long long)was, (unsigned long long)want, cfg->max_connections);
}

int main(int argc, char **argv)
{
    struct pf_config cfg;
    int rc = pf_config_parse(&cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    pf_log_set_level(cfg.log_level);
    fit_fd_limit(&cfg);

    /* Block the signals before any thread starts (grpc's and lws's), so
     * that only sigwait() sees them. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* After the mask: its writer thread must not take the signals either. */
    if (pf_access_log_open(cfg.access_log, cfg.log_format == PF_LOG_FORMAT_JSON) < 0)
        return 2;

    grpc_init();
    pf_sched *sched = NULL;
    pf_grpc_front *grpc = NULL;
    pf_lws_server *http = NULL;
    int grpc_port = 0, http_port = 0, admin_port = 0;
    int status = 1;
    if (pf_sched_new((unsigned)cfg.workers, cfg.max_queued, (unsigned)cfg.max_queued_per_stream,
                     &sched) < 0) {
        pf_error("cannot start %d factoring threads", cfg.workers);
        goto out;
    }
    pf_metrics_watch_scheduler(sched, cfg.workers);
    if (pf_grpc_front_start(&cfg, sched, &grpc, &grpc_port) < 0 ||
        pf_lws_server_start(&cfg, sched, &http, &http_port, &admin_port) < 0)
        goto out;

    char grpc_addr[300], http_addr[300], admin_addr[300] = "";
    pf_addr_format(&cfg.grpc_addr, grpc_port, grpc_addr, sizeof(grpc_addr));
    pf_addr_format(&cfg.http_addr, http_port, http_addr, sizeof(http_addr));
    if (cfg.admin) {
        strcpy(admin_addr, " admin=");
        pf_addr_format(&cfg.admin_addr, admin_port, admin_addr + 7, sizeof(admin_addr) - 7);
    }
    printf("listening grpc=%s http=%s%s\n", grpc_addr, http_addr, admin_addr);
    fflush(stdout);
    pf_info("serving gRPC on %s (%d completion-queue thread%s), HTTP and WebSocket on %s, "
            "web root %s; %d factoring thread%s", grpc_addr, cfg.grpc_threads,
            cfg.grpc_threads == 1 ? "" : "s", http_addr, cfg.web_root, cfg.workers,
            cfg.workers == 1 ? "" : "s");
    pf_sd_notify("READY=1"); /* systemd's Type=notify: both listeners are bound */

    int sig = wait_stop_signal(&signals, NULL);
    pf_info("%s: draining (up to %.1f s)", sig == SIGINT ? "SIGINT" : "SIGTERM",
            cfg.drain_timeout);
    pf_sd_notify("STOPPING=1");
    drain(&cfg, grpc, http, &signals);
    status = 0;
out:
    /* No wake from a worker may reach a front end being freed. */
    if (sched)
        pf_sched_stop(sched);
    pf_lws_server_free(http);
    if (pf_grpc_front_free(grpc) < 0 || !grpc_shutdown_within(GRPC_SHUTDOWN_WAIT_S)) {
        /* grpc core's threads still run: exit() would run its static
         * destructors under their feet. */
        pf_error("grpc core did not shut down: exiting with status 1");
        _exit(1);
    }
    pf_sched_free(sched); /* after the streams on it */
    pf_access_log_close(); /* after every thread that writes to it */
    pf_info("stopped");
    return status;
}
