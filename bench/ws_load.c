/* ws_load: a WebSocket load client for the JSON stream of
 * /primefactor.Factors/PrimeFactors, on the libwebsockets client API, so that
 * the server, not the client, is what a benchmark measures.
 *
 *   ws_load URL [--conns C] [--numbers N] [--window W] [--rate R] [--start X]
 *               [--timeout SECS]
 *   ws_load URL --conns C --hold SECS
 *
 * URL is ws://HOST:PORT/PATH. Each of C connections sends N numbers as JSON
 * text frames ("2", "3", ...: X, X+1, ...), keeping at most W numbers
 * unanswered (or R numbers/s per connection when --rate is given, for latency
 * at a fixed offered load), checks every answer (on_answer), then closes
 * with 1000. Prints one line, like grpc_load: numbers/s,
 * answers/s, and p50/p99 latency from a number's send to its last answer.
 *
 * With --hold, the connections only open and stay idle: once every one is
 * open (or has failed) it prints `established=N failed=M` and flushes, holds
 * them for SECS seconds, and exits. The benchmark script measures the
 * server's memory meanwhile.
 *
 * Connections are opened at most 128 at a time, so that a large C does not
 * overflow the server's listen backlog, and the numbers start once every
 * connection is open, so that a server slow to accept new connections while
 * busy is measured on all C at once. Timing starts then. The whole run is
 * bounded by --timeout (default 300 s): past it, ws_load prints what it has and exits 1.
 *
 * Frames are built and masked here and several go out in one write
 * (LWS_WRITE_RAW): lws would otherwise read 4 bytes of /dev/urandom and make
 * one send() per frame, and the client would cost more than the server. */
#include <libwebsockets.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "answer_check.h"

#define MAX_CONNECTING 128
#define MAX_FRAMES_PER_WRITE 256
#define FRAME_MAX 32 /* 2 header + 4 mask + up to 20 digits and a sign */

struct conn {
    struct lws *wsi;
    long idx;
    long sent, answers, answered;
    uint64_t product; /* of the factors answered so far for the next number */
    bool established, finished, closing;
    unsigned char mask[4];
    double *sent_at, *latency;
    char msg[512]; /* the answer being received, when it comes in fragments */
    size_t msg_len;
};

static long n_numbers = 100000, window = 1000, n_conns = 1, start_num = 2;
/* Number i of a connection: X+i; ws_semiprime_load.c puts its own in. */
#ifndef WS_LOAD_NUMBER
#define WS_LOAD_NUMBER(i) (start_num + (i))
#endif
static double rate, hold, timeout_s = 300;
static char host[256], path[512];
static int port;
static struct lws_context *context;
static struct conn *conns;
static long opened, connecting, established, failed, finished, wrong;
static double t0, t_start, t_all_open;
static volatile sig_atomic_t interrupted;
static bool exiting;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void open_more(void)
{
    while (opened < n_conns && connecting < MAX_CONNECTING) {
        struct conn *c = &conns[opened++];
        struct lws_client_connect_info i;
        memset(&i, 0, sizeof(i));
        i.context = context;
        i.address = host;
        i.port = port;
        i.path = path;
        i.host = host;
        i.userdata = c;
        i.pwsi = &c->wsi;
        connecting++;
        if (!lws_client_connect_via_info(&i)) {
            connecting--;
            failed++;
            c->finished = true;
            finished++;
        }
    }
}

/* Appends one masked text frame holding the decimal num to p; returns its length. */
static size_t put_frame(unsigned char *p, const unsigned char mask[4], long num)
{
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%ld", num);
    p[0] = 0x81; /* FIN, text */
    p[1] = (unsigned char)(0x80 | n);
    memcpy(p + 2, mask, 4);
    for (int k = 0; k < n; k++)
        p[6 + k] = (unsigned char)digits[k] ^ mask[k & 3];
    return (size_t)n + 6;
}

static bool conn_done(const struct conn *c)
{
    return c->answered == n_numbers;
}

static void finish(struct conn *c, bool ok)
{
    if (c->finished)
        return;
    c->finished = true;
    finished++;
    if (!ok)
        failed++;
}

/* Sends what the window (and the rate) allow; returns -1 to close. */
static int on_writeable(struct conn *c)
{
    static unsigned char buf[LWS_PRE + MAX_FRAMES_PER_WRITE * FRAME_MAX];
    if (hold > 0)
        return 0;
    if (conn_done(c)) {
        lws_close_reason(c->wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
        c->closing = true;
        return -1;
    }
    double t = now();
    unsigned char *p = buf + LWS_PRE;
    size_t len = 0;
    int frames = 0;
    while (c->sent < n_numbers && c->sent - c->answered < window &&
           frames < MAX_FRAMES_PER_WRITE) {
        if (rate > 0 && t < t0 + (double)c->sent / rate)
            break;
        len += put_frame(p + len, c->mask, WS_LOAD_NUMBER(c->sent));
        c->sent_at[c->sent++] = t;
        frames++;
    }
    if (len && lws_write(c->wsi, p, len, LWS_WRITE_RAW) != (int)len) {
        fprintf(stderr, "ws_load: connection %ld: write failed\n", c->idx);
        return -1;
    }
    if (c->sent < n_numbers && c->sent - c->answered < window) {
        if (rate > 0 && frames < MAX_FRAMES_PER_WRITE) {
            double wait = t0 + (double)c->sent / rate - now();
            lws_set_timer_usecs(c->wsi, wait > 0 ? (lws_usec_t)(wait * 1e6) : 1);
        } else {
            lws_callback_on_writable(c->wsi);
        }
    }
    return 0;
}

/* The int64 of a JSON answer's string field ("num":"12"), or 0 when absent
 * (proto3 JSON omits defaults). */
static long long json_int(const char *m, const char *field)
{
    const char *p = strstr(m, field);
    return p ? strtoll(p + strlen(field), NULL, 10) : 0;
}

/* Counts one answer and checks it (answer_check.h). */
static void on_answer(struct conn *c, const char *msg, size_t len)
{
    char m[sizeof(c->msg) + 1];
    len = len < sizeof(c->msg) ? len : sizeof(c->msg);
    memcpy(m, msg, len);
    m[len] = '\0';
    c->answers++;
    long long expected = WS_LOAD_NUMBER(c->answered);
    bool last = strstr(m, "\"last\":true") != NULL;
    if (!pf_answer_fits(&c->product, expected, json_int(m, "\"num\":\""),
                        json_int(m, "\"result\":\""), last) &&
        wrong++ == 0)
        fprintf(stderr, "ws_load: connection %ld: wrong answer for %lld: %s\n", c->idx, expected,
                m);
    if (!last)
        return;
    if (c->answered >= c->sent) {
        wrong++;
        fprintf(stderr, "ws_load: connection %ld: an answer to a number not sent: %s\n", c->idx,
                m);
        return;
    }
    c->latency[c->answered] = now() - c->sent_at[c->answered];
    c->answered++;
    if (conn_done(c) || (c->sent < n_numbers && c->sent - c->answered < window))
        lws_callback_on_writable(c->wsi);
}

/* Once every connection is open (or failed), the load starts, on all at once. */
static void all_open_check(void)
{
    if (established + failed != n_conns || t_all_open > 0)
        return;
    t_all_open = now();
    if (hold > 0)
        return;
    t0 = t_all_open;
    for (long i = 0; i < n_conns; i++)
        if (conns[i].established && conns[i].wsi)
            lws_callback_on_writable(conns[i].wsi);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct conn *c = user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (!c)
            break;
        fprintf(stderr, "ws_load: connection %ld: %s\n", c->idx,
                in ? (const char *)in : "connection error");
        connecting--;
        c->wsi = NULL;
        finish(c, false);
        open_more();
        all_open_check();
        break;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        connecting--;
        established++;
        c->established = true;
        open_more();
        all_open_check();
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writeable(c);
    case LWS_CALLBACK_TIMER:
        lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        bool final = lws_is_final_fragment(wsi);
        if (c->msg_len == 0 && final) {
            on_answer(c, in, len);
            break;
        }
        size_t room = sizeof(c->msg) - c->msg_len;
        size_t n = len < room ? len : room;
        memcpy(c->msg + c->msg_len, in, n);
        c->msg_len += n;
        if (final) {
            on_answer(c, c->msg, c->msg_len);
            c->msg_len = 0;
        }
        break;
    }
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (!conn_done(c) && hold <= 0) {
            unsigned short code = len >= 2 ? (unsigned short)(((unsigned char *)in)[0] << 8 |
                                                              ((unsigned char *)in)[1])
                                           : 0;
            fprintf(stderr, "ws_load: connection %ld: server closed (%u) after %ld answers\n",
                    c->idx, code, c->answered);
        }
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (!c)
            break;
        c->wsi = NULL;
        if (hold > 0 && !exiting && !c->finished)
            fprintf(stderr, "ws_load: connection %ld closed while held\n", c->idx);
        finish(c, hold > 0 ? true : conn_done(c));
        break;
    default: break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    { "pf-load", callback, 0, 4096, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* lws_service() sleeps until lws's next event, which can be its 30 s
 * handshake timeout: this wakes it ten times a second, so that --timeout and
 * --hold are kept to within 0.1 s however silent the server. */
static void on_tick(lws_sorted_usec_list_t *sul)
{
    lws_sul_schedule(context, 0, sul, on_tick, 100 * LWS_US_PER_MS);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
    if (context)
        lws_cancel_service(context);
}

static int parse_url(const char *url)
{
    const char *p = url;
    if (strncmp(p, "ws://", 5) == 0)
        p += 5;
    const char *slash = strchr(p, '/');
    const char *colon = memchr(p, ':', slash ? (size_t)(slash - p) : strlen(p));
    if (!colon || (size_t)(colon - p) >= sizeof(host))
        return -1;
    memcpy(host, p, (size_t)(colon - p));
    host[colon - p] = '\0';
    port = atoi(colon + 1);
    snprintf(path, sizeof(path), "%s", slash ? slash : "/");
    return port > 0 && port < 65536 ? 0 : -1;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        { "conns", required_argument, NULL, 'c' },   { "numbers", required_argument, NULL, 'n' },
        { "window", required_argument, NULL, 'w' },  { "rate", required_argument, NULL, 'r' },
        { "start", required_argument, NULL, 'x' },   { "hold", required_argument, NULL, 'h' },
        { "timeout", required_argument, NULL, 't' }, { NULL, 0, NULL, 0 },
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'c': n_conns = atol(optarg); break;
        case 'n': n_numbers = atol(optarg); break;
        case 'w': window = atol(optarg); break;
        case 'r': rate = atof(optarg); break;
        case 'x': start_num = atol(optarg); break;
        case 'h': hold = atof(optarg); break;
        case 't': timeout_s = atof(optarg); break;
        default: return 2;
        }
    }
    if (optind != argc - 1 || n_conns < 1 || n_numbers < 1 || window < 1 || timeout_s <= 0 ||
        parse_url(argv[optind]) != 0) {
        fprintf(stderr, "usage: ws_load ws://HOST:PORT/PATH [--conns C] [--numbers N] "
                        "[--window W] [--rate R] [--start X] [--timeout SECS]\n"
                        "       ws_load ws://HOST:PORT/PATH --conns C --hold SECS\n");
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    lws_set_log_level(LLL_ERR, NULL);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.timeout_secs = 30;
    context = lws_create_context(&info);
    if (!context) {
        fprintf(stderr, "ws_load: lws_create_context failed\n");
        return 1;
    }

    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    conns = calloc((size_t)n_conns, sizeof(*conns));
    for (long i = 0; i < n_conns; i++) {
        struct conn *c = &conns[i];
        c->idx = i;
        c->product = 1;
        for (int k = 0; k < 4; k++)
            c->mask[k] = (unsigned char)(rand() >> 7);
        if (hold <= 0) {
            c->sent_at = calloc((size_t)n_numbers, sizeof(double));
            c->latency = calloc((size_t)n_numbers, sizeof(double));
        }
    }

    static lws_sorted_usec_list_t tick;
    on_tick(&tick);
    t0 = t_start = now();
    open_more();
    bool reported = false, timed_out = false;
    while (!interrupted) {
        if (lws_service(context, 0) < 0)
            break;
        double t = now();
        if (hold > 0) {
            if (!reported && established + failed == n_conns) {
                printf("established=%ld failed=%ld open_seconds=%.3f\n", established, failed,
                       t_all_open - t_start);
                fflush(stdout);
                reported = true;
            }
            if (reported && t - t_all_open >= hold)
                break;
        } else if (finished == n_conns) {
            break;
        }
        if (t - t_start > timeout_s + (hold > 0 ? hold : 0)) {
            fprintf(stderr, "ws_load: timed out after %.0f s\n", t - t_start);
            timed_out = true;
            break;
        }
    }
    double elapsed = now() - t0;
    int status = failed || wrong || timed_out || interrupted ? 1 : 0;

    if (hold <= 0) {
        long total = n_numbers * n_conns, k = 0, answers = 0;
        double *all = malloc((size_t)total * sizeof(double));
        for (long i = 0; i < n_conns; i++) {
            answers += conns[i].answers;
            for (long j = 0; j < conns[i].answered; j++)
                all[k++] = conns[i].latency[j];
        }
        qsort(all, (size_t)k, sizeof(double), cmp_double);
        printf("numbers=%ld conns=%ld seconds=%.3f numbers_per_s=%.0f answers_per_s=%.0f "
               "p50_us=%.0f p99_us=%.0f\n",
               k, n_conns, elapsed, (double)k / elapsed, (double)answers / elapsed,
               k ? all[k / 2] * 1e6 : 0, k ? all[k * 99 / 100] * 1e6 : 0);
        if (k != total)
            status = 1;
        free(all);
    } else if (!reported) {
        printf("established=%ld failed=%ld open_seconds=%.3f\n", established, failed, elapsed);
    }

    exiting = true;
    lws_context_destroy(context);
    for (long i = 0; i < n_conns; i++) {
        free(conns[i].sent_at);
        free(conns[i].latency);
    }
    free(conns);
    return status;
}
