/* Debian builds abseil without NDEBUG, so every absl::Mutex that grpc core
 * locks runs abseil's deadlock-cycle detection: 5% of pfgate's CPU on 64 gRPC
 * streams (perf). absl::SetMutexDeadlockDetectionMode(OnDeadlockCycle::kIgnore)
 * turns it off. It is a C++ function, so it is named here by its mangled name,
 * and weak: with an abseil of another inline namespace it is absent and the
 * detection stays on. Shared by pfgate and the gRPC load client. */
#ifndef PF_ABSL_QUIET_H
#define PF_ABSL_QUIET_H

extern void pf_absl_set_mutex_deadlock_detection_mode(int mode) __asm__(
    "_ZN4absl7debian329SetMutexDeadlockDetectionModeENS0_15OnDeadlockCycleE") __attribute__((weak));

/* Call once, before the first call is served. */
static inline void pf_absl_deadlock_detection_off(void)
{
    enum { ABSL_ON_DEADLOCK_CYCLE_IGNORE = 0 };
    if (pf_absl_set_mutex_deadlock_detection_mode)
        pf_absl_set_mutex_deadlock_detection_mode(ABSL_ON_DEADLOCK_CYCLE_IGNORE);
}

#endif
