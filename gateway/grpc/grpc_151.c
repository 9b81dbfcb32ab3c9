#include "grpc_151.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

int pf_grpc151_check_runtime(void)
{
    const char *v = grpc_version_string();
    if (strncmp(v, PF_GRPC_CORE_VERSION, strlen(PF_GRPC_CORE_VERSION)) != 0) {
        pf_error("grpc: core %s, but pfgate is written for 1.51 (core %s*)", v,
                 PF_GRPC_CORE_VERSION);
        return -1;
    }
    return 0;
}

void pf_grpc151_peer_name(int fd, char *buf, size_t size)
{
    snprintf(buf, size, "fd:%d", fd);
}

static grpc_completion_queue *queue_new(grpc_server *server, bool polls)
{
    grpc_completion_queue_attributes attr = {
        GRPC_CQ_CURRENT_VERSION, GRPC_CQ_NEXT,
        polls ? GRPC_CQ_DEFAULT_POLLING : GRPC_CQ_NON_POLLING, NULL
    };
    grpc_completion_queue *cq =
        grpc_completion_queue_create(grpc_completion_queue_factory_lookup(&attr), &attr, NULL);
    grpc_server_register_completion_queue(server, cq, NULL);
    return cq;
}

grpc_completion_queue *pf_grpc151_steer_queue(grpc_server *server)
{
    return queue_new(server, false);
}

grpc_completion_queue *pf_grpc151_worker_queue(grpc_server *server, bool polls)
{
    return queue_new(server, polls);
}
