/* grpc.health.v1.Health on the gRPC port: Check and Watch for "" and
 * "primefactor.Factors"; SERVING until the drain starts, NOT_SERVING from
 * then on (pf_health_draining()); other names are NOT_FOUND (Check) or
 * SERVICE_UNKNOWN (Watch). At the drain, every Watch gets NOT_SERVING and
 * ends with OK. */
#ifndef PF_GRPC_HEALTH_H
#define PF_GRPC_HEALTH_H

#include <grpc/grpc.h>

#include "grpc_service.h"

/* Registers the methods; before grpc_server_start(). Served on each queue
 * with pf_grpc_queue_add(); freed with pf_grpc_service_free(). NULL when out
 * of memory. */
struct pf_grpc_service *pf_grpc_health_register(grpc_server *server);

#endif
