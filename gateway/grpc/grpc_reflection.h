/* grpc.reflection.v1 and v1alpha ServerReflection on the gRPC port, from
 * the descriptor set the build embeds (descriptors.h): list services, file
 * by filename, file containing symbol. The two versions are the same on the
 * wire, so one implementation serves both. At the drain, open streams end
 * with OK. */
#ifndef PF_GRPC_REFLECTION_H
#define PF_GRPC_REFLECTION_H

#include <grpc/grpc.h>

#include "grpc_service.h"

/* Registers the methods (before grpc_server_start) and indexes the
 * descriptors. Served on each queue with pf_grpc_queue_add(); freed with
 * pf_grpc_service_free(). NULL when the descriptors cannot be read (logged). */
struct pf_grpc_service *pf_grpc_reflection_register(grpc_server *server);

#endif
