/* The gRPC front end: primefactor.Factors/PrimeFactors on the grpc core C API.
 *
 * One completion queue per worker thread; a call lives on one queue, so its
 * state needs no lock. Lifecycle, from the main thread:
 *   start -> (serve) -> drain -> wait_drained ... [cancel_all] -> free */
#ifndef PF_GRPC_FRONT_H
#define PF_GRPC_FRONT_H

#include <stdbool.h>

#include "config.h"
#include "scheduler.h"

typedef struct pf_grpc_front pf_grpc_front;

/* Binds cfg->grpc_addr and starts the completion-queue threads; numbers are
 * factored on sched. *port gets the bound port. Returns 0, or -1 after
 * logging why (the port is busy, say). */
int pf_grpc_front_start(const struct pf_config *cfg, pf_sched *sched, pf_grpc_front **out,
                        int *port);

/* Stops accepting connections and streams; open streams go on until their
 * client half-closes or is quiet for 200 ms, answer all they read, then end
 * with status OK. Call pf_health_set_draining() first. */
void pf_grpc_front_drain(pf_grpc_front *f);

/* Waits up to `seconds` for every stream to end; true when all have.
 * Connections may stay open: free() closes them. */
bool pf_grpc_front_wait_drained(pf_grpc_front *f, double seconds);

/* Ends every open stream now: clients get UNAVAILABLE after the answers
 * already sent. */
void pf_grpc_front_cancel_all(pf_grpc_front *f);

/* Shuts down (if not yet), joins the workers and frees; 0. NULL-safe.
 * -1 (logged) when grpc core has not let go of the server within a few
 * seconds: then nothing is freed, grpc_shutdown() must not be called, and
 * the process should exit with a failure. */
int pf_grpc_front_free(pf_grpc_front *f);

#endif
