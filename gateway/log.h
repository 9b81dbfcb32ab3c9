/* Logs go to standard error, one line each; standard output carries only the
 * "listening ..." line. */
#ifndef PF_LOG_H
#define PF_LOG_H

#include <stdint.h>

enum pf_log_level { PF_LOG_ERROR, PF_LOG_WARN, PF_LOG_INFO, PF_LOG_DEBUG };

void pf_log_set_level(enum pf_log_level level);
void pf_log(enum pf_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A log line that an attacker could repeat thousands of times a second
 * (out of descriptors, a flood of refused connections): at most one a second
 * per call site, and the next one says how many were left out. Each limit is
 * used by one thread. */
struct pf_log_limit {
    int64_t last_ms;
    unsigned long dropped;
};
void pf_log_limited(struct pf_log_limit *limit, enum pf_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define pf_error(...) pf_log(PF_LOG_ERROR, __VA_ARGS__)
#define pf_warn(...) pf_log(PF_LOG_WARN, __VA_ARGS__)
#define pf_info(...) pf_log(PF_LOG_INFO, __VA_ARGS__)
#define pf_debug(...) pf_log(PF_LOG_DEBUG, __VA_ARGS__)

#endif
