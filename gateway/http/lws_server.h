/* The HTTP + WebSocket listener on libwebsockets: one context, one vhost,
 * one service thread that owns every lws object. Lifecycle, from the main
 * thread: start -> (serve) -> drain -> open_streams() == 0 ... -> free. */
#ifndef PF_LWS_SERVER_H
#define PF_LWS_SERVER_H

#include "config.h"
#include "scheduler.h"

typedef struct pf_lws_server pf_lws_server;

/* Binds cfg->http_addr (and cfg->admin_addr when set) and starts the
 * service thread. *port and *admin_port get the bound ports. Returns 0, or
 * -1 after logging why. */
int pf_lws_server_start(const struct pf_config *cfg, pf_sched *sched, pf_lws_server **out,
                        int *port, int *admin_port);

/* Wakes the service thread to close WebSockets (1001) and end NDJSON streams
 * once their answers are out. New streams are refused from now on (503). */
void pf_lws_server_drain(pf_lws_server *s);

/* After the drain deadline: WebSockets close with 1001 at once, answered or
 * not, and NDJSON streams are cut. */
void pf_lws_server_cancel_all(pf_lws_server *s);

/* The drain is done: the service thread has started it, and no WebSocket
 * or NDJSON stream is open. Not before the service thread has seen the
 * drain: a WebSocket whose upgrade was answered just before the signal is
 * counted only once its service call is over. */
bool pf_lws_server_drained(pf_lws_server *s);

/* Stops the service thread and frees. NULL-safe. */
void pf_lws_server_free(pf_lws_server *s);

#endif
