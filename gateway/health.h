/* Whether pfgate is serving or draining: one flag that /healthz, gRPC health
 * and every front end read. */
#ifndef PF_HEALTH_H
#define PF_HEALTH_H

#include <stdbool.h>

void pf_health_set_draining(void);
bool pf_health_draining(void);

#endif
