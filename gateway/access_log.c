#include "access_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

/* Set before any other thread starts and after they all stop; reopen only
 * changes the file behind the descriptor. */
static int log_fd = -1;
static bool log_json;
static const char *log_path; /* NULL: stderr */

static const char *const fronts[] = { "grpc", "ws", "ndjson", "http" };

/* Lines are not written by the threads that serve: a write(2) per line
 * cost a tenth of a GET's CPU (BENCHMARKS.md, "Access log"). They append
 * whole lines to a buffer, and a writer thread writes the buffer out at
 * most WRITE_DELAY_MS after its first line: many lines per write(2), each
 * write whole lines only and at most PIPE_BUF bytes, so lines never
 * interleave with each other or with the process log on a pipe. A thread
 * that finds the buffer full waits for the writer (a slow disk slows
 * pfgate rather than lose lines). Without the writer thread, each line is
 * written at once. */
#define BUFFER_BYTES (64 << 10)
#define WRITE_DELAY_MS 20

static struct {
    pthread_mutex_t lock;
    pthread_cond_t have; /* for the writer: lines came, or urgent, or stop */
    pthread_cond_t room; /* for the threads that wait: the buffer was written out */
    char bufs[2][BUFFER_BYTES];
    char *buf;           /* where lines are appended (one of bufs) */
    size_t len;
    bool urgent;         /* someone waits for the buffer: no delay */
    bool writing;        /* the writer holds lines it has not written yet */
    bool stop;
    bool started;
    pthread_t thread;
} w = { .lock = PTHREAD_MUTEX_INITIALIZER, .have = PTHREAD_COND_INITIALIZER,
        .room = PTHREAD_COND_INITIALIZER };

/* Writes len bytes of whole lines in writes of at most PIPE_BUF bytes, each
 * ending at a line's end. */
static void write_lines(const char *p, size_t len)
{
    while (len > 0) {
        size_t n = len;
        if (n > PIPE_BUF) {
            n = PIPE_BUF;
            while (n > 0 && p[n - 1] != '\n')
                n--;
            if (n == 0)
                n = PIPE_BUF; /* no line is that long (PF_ACCESS_LINE_MAX) */
        }
        ssize_t rc = write(log_fd, p, n);
        if (rc <= 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return; /* the disk is full, or the file gone: these lines are lost */
        p += rc;
        len -= (size_t)rc;
    }
}

static void *writer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&w.lock);
    for (;;) {
        while (w.len == 0 && !w.stop)
            pthread_cond_wait(&w.have, &w.lock);
        if (w.len == 0)
            break; /* stopped, everything written */
        /* Let the lines of the next WRITE_DELAY_MS join these. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += WRITE_DELAY_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!w.urgent && !w.stop &&
               pthread_cond_timedwait(&w.have, &w.lock, &until) != ETIMEDOUT)
            ;
        char *out = w.buf;
        size_t len = w.len;
        w.buf = out == w.bufs[0] ? w.bufs[1] : w.bufs[0];
        w.len = 0;
        w.urgent = false;
        w.writing = true;
        pthread_cond_broadcast(&w.room);
        pthread_mutex_unlock(&w.lock);
        write_lines(out, len);
        pthread_mutex_lock(&w.lock);
        w.writing = false;
        pthread_cond_broadcast(&w.room);
    }
    pthread_mutex_unlock(&w.lock);
    return NULL;
}

static void append_line(const char *line, size_t n)
{
    if (!w.started) {
        write_lines(line, n);
        return;
    }
    pthread_mutex_lock(&w.lock);
    while (w.len + n > BUFFER_BYTES) {
        w.urgent = true;
        pthread_cond_signal(&w.have);
        pthread_cond_wait(&w.room, &w.lock);
    }
    memcpy(w.buf + w.len, line, n);
    w.len += n;
    if (w.len == n) /* the first line of a batch: once per batch, not per line */
        pthread_cond_signal(&w.have);
    pthread_mutex_unlock(&w.lock);
}

/* Waits until every line appended so far is written. */
static void flush_lines(void)
{
    if (!w.started)
        return;
    pthread_mutex_lock(&w.lock);
    while (w.len > 0 || w.writing) {
        w.urgent = true;
        pthread_cond_signal(&w.have);
        pthread_cond_wait(&w.room, &w.lock);
    }
    pthread_mutex_unlock(&w.lock);
}

static void start_writer(void)
{
    w.buf = w.bufs[0];
    w.len = 0;
    w.stop = w.urgent = w.writing = false;
    w.started = pthread_create(&w.thread, NULL, writer_main, NULL) == 0;
    if (w.started)
        pthread_setname_np(w.thread, "pfgate-log");
}

static void stop_writer(void)
{
    if (!w.started)
        return;
    pthread_mutex_lock(&w.lock);
    w.stop = true;
    pthread_cond_signal(&w.have);
    pthread_mutex_unlock(&w.lock);
    pthread_join(w.thread, NULL);
    w.started = false;
}

int pf_access_log_open(const char *path, bool json)
{
    log_json = json;
    if (!path)
        return 0;
    if (strcmp(path, "-") == 0) {
        log_fd = STDERR_FILENO;
    } else {
        log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (log_fd < 0) {
            fprintf(stderr, "pfgate: --access-log %s: %s\n", path, strerror(errno));
            return -1;
        }
        log_path = path;
    }
    start_writer();
    return 0;
}

bool pf_access_log_on(void)
{
    return log_fd >= 0;
}

int pf_access_log_reopen(void)
{
    if (!log_path)
        return 0;
    int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        pf_error("access log: cannot reopen %s: %s (still writing to the old file)", log_path,
                 strerror(errno));
        return -1;
    }
    /* The lines that came before the signal go to the old file. dup2 swaps
     * the file atomically: a write goes to the old file or the new one,
     * never to a closed descriptor. */
    flush_lines();
    int rc = dup2(fd, log_fd) < 0 ? -1 : 1;
    if (rc < 0)
        pf_error("access log: cannot reopen %s: %s", log_path, strerror(errno));
    close(fd);
    return rc;
}

void pf_access_log_close(void)
{
    stop_writer(); /* it writes what it holds first */
    if (log_path && log_fd >= 0)
        close(log_fd);
    log_fd = -1;
    log_path = NULL;
}

void pf_access_peer(int fd, char *buf, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char ip[INET6_ADDRSTRLEN];
    buf[0] = '\0';
    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
        return;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        if (inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip)))
            snprintf(buf, size, "%s:%u", ip, ntohs(in->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        if (inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip)))
            snprintf(buf, size, "[%s]:%u", ip, ntohs(in6->sin6_port));
    } else if (ss.ss_family == AF_UNIX) {
        snprintf(buf, size, "unix");
    }
}

/* Length of the valid UTF-8 sequence at p (2 to 4 bytes), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf; /* the second byte's range */
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

/* Whether logfmt must quote s: empty, or a byte other than printable ASCII
 * but '=', '"' and '\\'. */
static bool needs_quotes(const unsigned char *s, size_t n)
{
    if (n == 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] >= 0x7f || s[i] == '=' || s[i] == '"' || s[i] == '\\')
            return true;
    return false;
}

/* Appends s (at most max bytes of it, then "...") as a value: always quoted
 * in JSON, when needed in logfmt. Control bytes and bytes that are not UTF-8
 * are escaped (JSON \u00XX, logfmt \xXX), so a line stays one line, and
 * bounded: at most 6 bytes out per byte in. */
static char *put_string(char *p, const char *str, size_t n, size_t max, bool json)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    bool cut = n > max;
    if (cut)
        n = max;
    bool quote = json || cut || needs_quotes(s, n);
    if (quote)
        *p++ = '"';
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t u = c >= 0x80 ? utf8_len(s + i, n - i) : 0;
        if (u) {
            memcpy(p, s + i, u);
            p += u;
            i += u;
            continue;
        }
        i++;
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            *p++ = '\\';
            *p++ = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else if (c < ' ' || c >= 0x7f) {
            memcpy(p, json ? "\\u00" : "\\x", json ? 4 : 2);
            p += json ? 4 : 2;
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        } else {
            *p++ = (char)c;
        }
    }
    if (cut) {
        memcpy(p, "...", 3);
        p += 3;
    }
    if (quote)
        *p++ = '"';
    return p;
}

/* ` key=` or `,"key":` */
static char *put_key(char *p, const char *key, bool json)
{
    size_t n = strlen(key);
    if (json) {
        *p++ = ',';
        *p++ = '"';
        memcpy(p, key, n);
        p += n;
        *p++ = '"';
        *p++ = ':';
    } else {
        *p++ = ' ';
        memcpy(p, key, n);
        p += n;
        *p++ = '=';
    }
    return p;
}

static char *put_digits(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

static char *put_uint(char *p, const char *key, uint64_t v, bool json)
{
    return put_digits(put_key(p, key, json), v);
}

size_t pf_access_log_format(const struct pf_access_rec *r, bool json, uint64_t now_ns,
                            const struct timespec *wall, char *buf)
{
    /* The date and time to the second, made once a second per thread. */
    static _Thread_local time_t second = -1;
    static _Thread_local char second_text[80];
    if (wall->tv_sec != second) {
        struct tm tm;
        gmtime_r(&wall->tv_sec, &tm);
        snprintf(second_text, sizeof(second_text), "%04d-%02d-%02dT%02d:%02d:%02d",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        second = wall->tv_sec;
    }
    char *p = buf;
    p += sprintf(p, json ? "{\"time\":\"%s.%03ldZ\"" : "time=%s.%03ldZ", second_text,
                 wall->tv_nsec / 1000000);
    p = put_key(p, "front", json);
    p = put_string(p, fronts[r->front], strlen(fronts[r->front]), 16, json);
    if (r->peer) {
        p = put_key(p, "peer", json);
        p = put_string(p, r->peer, strlen(r->peer), 64, json);
    }
    p = put_key(p, "path", json);
    p = put_string(p, r->path ? r->path : "", r->path ? r->path_len : 0, PF_ACCESS_PATH_MAX,
                   json);
    p = put_key(p, "status", json);
    if (r->status < 0)
        *p++ = '-';
    p = put_digits(p, r->status < 0 ? -(uint64_t)r->status : (uint64_t)r->status);
    p = put_uint(p, "numbers", r->numbers, json);
    p = put_uint(p, "answers", r->answers, json);
    p = put_uint(p, "errors", r->errors, json);
    if (r->bytes_in >= 0)
        p = put_uint(p, "bytes_in", (uint64_t)r->bytes_in, json);
    if (r->bytes_out >= 0)
        p = put_uint(p, "bytes_out", (uint64_t)r->bytes_out, json);
    uint64_t us = now_ns > r->start_ns && r->start_ns ? (now_ns - r->start_ns) / 1000 : 0;
    p = put_digits(put_key(p, "duration_ms", json), us / 1000);
    *p++ = '.';
    *p++ = (char)('0' + us % 1000 / 100);
    *p++ = (char)('0' + us % 100 / 10);
    *p++ = (char)('0' + us % 10);
    if (json)
        *p++ = '}';
    *p++ = '\n';
    return (size_t)(p - buf);
}

void pf_access_log_write(const struct pf_access_rec *r)
{
    if (log_fd < 0)
        return;
    char line[PF_ACCESS_LINE_MAX];
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    append_line(line, pf_access_log_format(r, log_json, pf_now_ns(), &wall, line));
}
