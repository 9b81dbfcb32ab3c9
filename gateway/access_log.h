/* The access log: one line per finished gRPC call, WebSocket, NDJSON stream
 * and HTTP request, as logfmt or JSON (--log-format), to a file or stderr
 * (--access-log). Knows nothing of grpc or lws: each front end fills a
 * record where its stream or request ends.
 *
 * Threads: open and close run on the main thread before and after every
 * other thread that logs (open starts the writer thread: call it with the
 * signals blocked); write from any thread: the line is appended whole to a
 * buffer that a writer thread writes out within WRITE_DELAY_MS, in writes
 * of whole lines (access_log.c), so lines never interleave; reopen (SIGHUP)
 * from the main thread writes out what came before, then swaps the file
 * under the same descriptor (dup2), so no write ever sees it closed. */
#ifndef PF_ACCESS_LOG_H
#define PF_ACCESS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum pf_access_front { PF_ACCESS_GRPC, PF_ACCESS_WS, PF_ACCESS_NDJSON, PF_ACCESS_HTTP };

/* Paths longer than this are cut (and end with "..."), so a line stays
 * below PIPE_BUF: one write is one line on a pipe too. */
#define PF_ACCESS_PATH_MAX 512

struct pf_access_rec {
    enum pf_access_front front;
    const char *peer;      /* "ADDR:PORT", or NULL: unknown */
    const char *path;      /* bytes as received, any of them */
    size_t path_len;
    int status;            /* gRPC status code, WebSocket close code, or HTTP status */
    uint64_t numbers;      /* requests received */
    uint64_t answers;      /* answers (messages) sent, errors included */
    uint64_t errors;       /* error answers */
    int64_t bytes_in, bytes_out; /* -1: unknown, left out of the line */
    uint64_t start_ns;     /* pf_now_ns() when it started */
};

/* path: a file (appended to, created 0640), "-" for stderr, or NULL (off).
 * json: JSON lines, else logfmt. Returns 0, or -1 with the reason on stderr. */
int pf_access_log_open(const char *path, bool json);

/* True when lines are written: a front end fills a record only then. */
bool pf_access_log_on(void);

/* Logs r's line (its time is now). */
void pf_access_log_write(const struct pf_access_rec *r);

/* Opens the file again (logrotate renamed it). Returns 1, 0 when there is
 * no file (off, or stderr), or -1 with the reason logged: lines keep going
 * to the old file then. */
int pf_access_log_reopen(void);

void pf_access_log_close(void);

/* The peer of socket fd as the log shows it: ADDR:PORT, [ADDR]:PORT for
 * IPv6, "unix" for a local socket; "" when unknown. */
void pf_access_peer(int fd, char *buf, size_t size);

/* Formats r's line into buf (at least PF_ACCESS_LINE_MAX bytes), ending in
 * '\n'; returns its length. For the tests. */
#define PF_ACCESS_LINE_MAX 4096
size_t pf_access_log_format(const struct pf_access_rec *r, bool json, uint64_t now_ns,
                            const struct timespec *wall, char *buf);

#endif
