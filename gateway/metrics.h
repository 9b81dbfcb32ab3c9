/* Process-wide counters, shared by every thread (C11 atomics), rendered in
 * the Prometheus text format for GET /metrics. */
#ifndef PF_METRICS_H
#define PF_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "pf.h"
#include "scheduler.h"

enum pf_front { PF_FRONT_GRPC, PF_FRONT_WEBSOCKET, PF_FRONT_HTTP, PF_FRONT_COUNT };


void pf_metrics_request(enum pf_front front);
/* One answer handed to the transport: counts a factor or an error, and on
 * the last answer of a number the time since its arrival (r->stamp). */
void pf_metrics_answer(enum pf_front front, const pf_response *r);
void pf_metrics_stream_error(enum pf_front front);
void pf_metrics_streams(enum pf_front front, int delta);
void pf_metrics_connections(enum pf_front front, int delta);
void pf_metrics_connection_refused(enum pf_front front); /* over --max-connections */

/* /metrics shows s's queue from now on (it must outlive the HTTP front end). */
void pf_metrics_watch_scheduler(const pf_sched *s, int workers);

/* Writes the exposition text into a new buffer the caller frees, or NULL. */
char *pf_metrics_render(size_t *len);

#endif
