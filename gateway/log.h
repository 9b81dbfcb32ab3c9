/* Logs go to standard error, one line each; standard output carries only the
 * "listening ..." line. */
#ifndef PF_LOG_H
#define PF_LOG_H

enum pf_log_level { PF_LOG_ERROR, PF_LOG_WARN, PF_LOG_INFO, PF_LOG_DEBUG };

void pf_log_set_level(enum pf_log_level level);
void pf_log(enum pf_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define pf_error(...) pf_log(PF_LOG_ERROR, __VA_ARGS__)
#define pf_warn(...) pf_log(PF_LOG_WARN, __VA_ARGS__)
#define pf_info(...) pf_log(PF_LOG_INFO, __VA_ARGS__)
#define pf_debug(...) pf_log(PF_LOG_DEBUG, __VA_ARGS__)

#endif
