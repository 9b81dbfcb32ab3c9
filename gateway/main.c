/* pfgate: flags -> start the front ends -> print "listening ..." -> wait for
 * a signal -> drain -> exit. */
#include <grpc/grpc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "config.h"
#include "grpc_front.h"
#include "health.h"
#include "log.h"
#include "lws_server.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* True when SIGINT or SIGTERM is pending: during the drain a second signal
 * means "exit now". */
static bool second_signal(const sigset_t *signals)
{
    struct timespec zero = { 0, 0 };
    return sigtimedwait(signals, NULL, &zero) > 0;
}

/* Finishes every open stream within cfg->drain_timeout, then cancels the rest. */
static void drain(const struct pf_config *cfg, pf_grpc_front *grpc, pf_lws_server *http,
                  const sigset_t *signals)
{
    pf_health_set_draining();
    pf_grpc_front_drain(grpc);
    pf_lws_server_drain(http);

    double deadline = now_seconds() + cfg->drain_timeout;
    bool grpc_done = false;
    for (;;) {
        grpc_done = grpc_done || pf_grpc_front_wait_drained(grpc, 0.02);
        if (grpc_done && pf_lws_server_open_streams(http) == 0)
            return;
        if (second_signal(signals)) {
            pf_warn("second signal: exiting now");
            _Exit(1);
        }
        if (now_seconds() >= deadline)
            break;
    }
    pf_warn("drain timeout (%.1f s) passed: cancelling the open streams", cfg->drain_timeout);
    pf_grpc_front_cancel_all(grpc);
    pf_lws_server_cancel_all(http);
    /* A moment for the 1001 Close frames to go out. */
    for (int i = 0; i < 50 && pf_lws_server_open_streams(http) > 0; i++) {
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

int main(int argc, char **argv)
{
    struct pf_config cfg;
    int rc = pf_config_parse(&cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    pf_log_set_level(cfg.log_level);

    /* Block the signals before any thread starts (grpc's and lws's), so
     * that only sigwait() sees them. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    grpc_init();
    pf_grpc_front *grpc = NULL;
    pf_lws_server *http = NULL;
    int grpc_port = 0, http_port = 0;
    int status = 1;
    if (pf_grpc_front_start(&cfg, &grpc, &grpc_port) < 0 ||
        pf_lws_server_start(&cfg, &http, &http_port) < 0)
        goto out;

    char grpc_addr[300], http_addr[300];
    pf_addr_format(&cfg.grpc_addr, grpc_port, grpc_addr, sizeof(grpc_addr));
    pf_addr_format(&cfg.http_addr, http_port, http_addr, sizeof(http_addr));
    printf("listening grpc=%s http=%s\n", grpc_addr, http_addr);
    fflush(stdout);
    pf_info("serving gRPC on %s (%d threads), HTTP and WebSocket on %s, web root %s", grpc_addr,
            cfg.grpc_threads, http_addr, cfg.web_root);

    int sig = 0;
    sigwait(&signals, &sig);
    pf_info("%s: draining (up to %.1f s)", sig == SIGINT ? "SIGINT" : "SIGTERM",
            cfg.drain_timeout);
    drain(&cfg, grpc, http, &signals);
    status = 0;
out:
    pf_lws_server_free(http);
    pf_grpc_front_free(grpc);
    grpc_shutdown();
    pf_info("stopped");
    return status;
}
