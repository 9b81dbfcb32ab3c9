#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "clock.h"

static _Atomic int max_level = PF_LOG_INFO;

void pf_log_set_level(enum pf_log_level level)
{
    max_level = level;
}

static void log_line(enum pf_log_level level, const char *suffix, const char *fmt, va_list ap)
{
    static const char *const names[] = { "error", "warn", "info", "debug" };

    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);

    /* Format the whole line first: one fputs keeps lines from different
     * threads whole. */
    char line[1024];
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ pfgate %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, names[level]);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len < sizeof(line) - 1 && suffix[0]) {
        m = snprintf(line + len, sizeof(line) - len - 1, "%s", suffix);
        len += m < 0 ? 0 : (size_t)m;
    }
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}

void pf_log(enum pf_log_level level, const char *fmt, ...)
{
    if ((int)level > max_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_line(level, "", fmt, ap);
    va_end(ap);
}

void pf_log_limited(struct pf_log_limit *limit, enum pf_log_level level, const char *fmt, ...)
{
    if ((int)level > max_level)
        return;
    int64_t now = pf_now_ms();
    if (limit->last_ms != 0 && now - limit->last_ms < 1000) {
        limit->dropped++;
        return;
    }
    char suffix[64] = "";
    if (limit->dropped > 0)
        snprintf(suffix, sizeof(suffix), " (and %lu more in the last %.1f s)", limit->dropped,
                 (double)(now - limit->last_ms) / 1000.0);
    limit->last_ms = now;
    limit->dropped = 0;
    va_list ap;
    va_start(ap, fmt);
    log_line(level, suffix, fmt, ap);
    va_end(ap);
}
