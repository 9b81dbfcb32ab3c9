/* The monotonic clock every part of the gateway reads. */
#ifndef PF_CLOCK_H
#define PF_CLOCK_H

#include <stdint.h>

uint64_t pf_now_ns(void);
int64_t pf_now_ms(void);

#endif
