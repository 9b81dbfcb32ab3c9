#include "health.h"

#include <stdatomic.h>

static atomic_bool draining;

void pf_health_set_draining(void)
{
    atomic_store(&draining, true);
}

bool pf_health_draining(void)
{
    return atomic_load_explicit(&draining, memory_order_relaxed);
}
