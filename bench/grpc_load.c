/* grpc_load: a streaming load client for primefactor.Factors/PrimeFactors on
 * the grpc core C API, so that the server, not the client, is what a
 * benchmark measures.
 *
 *   grpc_load HOST:PORT [--streams S] [--conns C] [--numbers N] [--window W]
 *             [--rate R] [--start X] [--tls-ca FILE]
 *
 * S streams spread over C connections each send N numbers (X, X+1, ...),
 * keeping at most W numbers unanswered per stream (or R numbers/s per stream
 * when --rate is given, for latency at a fixed offered load); without a
 * rate, a stream sends in runs, whenever a quarter of its window is free.
 * Prints one line: numbers/s, answers/s, and p50/p99 latency from a
 * number's send to its last answer. Exits 1 when a stream did not end OK
 * with every number answered, or an answer was wrong. With --tls-ca, the
 * connections are TLS, verified against that CA for the name "localhost". */
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grpc_151.h"
#include "answer_check.h"
#include "pb_codec.h"
#include "primefactor.pb-c.h"

enum op { OP_START, OP_SEND, OP_RECV, OP_STATUS };

struct stream;

struct tag {
    enum op op;
    struct stream *s;
};

struct stream {
    struct tag t_start, t_send, t_recv, t_status;
    grpc_call *call;
    grpc_metadata_array initial_md, trailing_md;
    grpc_byte_buffer *send_bb, *recv_bb;
    grpc_status_code status;
    grpc_slice details;
    long sent, answered; /* numbers: start_num + sent is the next one */
    uint64_t product; /* of the factors answered so far for the next number */
    long wrong;       /* answers that do not fit the number they answer */
    bool send_pending, closed, done, in_run;
    double *sent_at; /* per number, for latency */
    double *latency;
};

static long n_numbers = 100000, window = 1000, n_streams = 1, n_conns = 1, start_num = 2;
static double rate;
static char *tls_ca; /* PEM text of --tls-ca, or NULL: plaintext */
static long refill; /* free window slots that start a run of sends */

static char *read_pem(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = f ? calloc(1, 1 << 20) : NULL;
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    if (f)
        fclose(f);
    if (n == 0) {
        fprintf(stderr, "grpc_load: cannot read %s\n", path);
        exit(2);
    }
    return buf;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static grpc_byte_buffer *pack_request(long num)
{
    Primefactor__Request req = PRIMEFACTOR__REQUEST__INIT;
    req.num = num;
    return pf_pb_pack(&req.base);
}

static void batch(struct stream *s, grpc_op *ops, size_t n, struct tag *t)
{
    if (grpc_call_start_batch(s->call, ops, n, t, NULL) != GRPC_CALL_OK) {
        fprintf(stderr, "grpc_load: start_batch failed\n");
        exit(1);
    }
}

static void post_recv(struct stream *s)
{
    grpc_op op = { .op = GRPC_OP_RECV_MESSAGE };
    op.data.recv_message.recv_message = &s->recv_bb;
    batch(s, &op, 1, &s->t_recv);
}

static void maybe_send(struct stream *s, double t0)
{
    if (s->send_pending || s->closed)
        return;
    if (s->sent == n_numbers) {
        grpc_op op = { .op = GRPC_OP_SEND_CLOSE_FROM_CLIENT };
        s->closed = true;
        s->send_pending = true;
        batch(s, &op, 1, &s->t_send);
        return;
    }
    long room = window - (s->sent - s->answered);
    /* Without a fixed rate, numbers go in runs: a stream waits until a
     * quarter of its window is free, then fills it, each request hinted
     * but the last, so that a run leaves in one write. One write per
     * answered number made the client, not the server, the bottleneck on a
     * 2-core machine (a sendmsg per number). Safe: initial metadata went in
     * its own batch. */
    if (room <= 0 || (rate == 0 && !s->in_run && room < refill))
        return;
    if (rate > 0 && now() < t0 + (double)s->sent / rate)
        return;
    s->send_bb = pack_request(start_num + s->sent);
    s->sent_at[s->sent++] = now();
    grpc_op op = { .op = GRPC_OP_SEND_MESSAGE };
    op.data.send_message.send_message = s->send_bb;
    s->in_run = rate == 0 && s->sent < n_numbers && room > 1;
    if (s->in_run)
        op.flags = GRPC_WRITE_BUFFER_HINT;
    s->send_pending = true;
    batch(s, &op, 1, &s->t_send);
}

/* Reads one answer of s and checks it (answer_check.h). Returns true when it
 * was the last answer for its number. */
static bool read_answer(struct stream *s, grpc_byte_buffer *bb)
{
    Primefactor__Response *r =
        (Primefactor__Response *)pf_pb_unpack(bb, &primefactor__response__descriptor);
    if (!r) {
        s->wrong++;
        return false;
    }
    bool last = r->last;
    if (!pf_answer_fits(&s->product, start_num + s->answered, r->num, r->result, last))
        s->wrong++;
    primefactor__response__free_unpacked(r, NULL);
    return last;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        { "streams", required_argument, NULL, 's' }, { "conns", required_argument, NULL, 'c' },
        { "numbers", required_argument, NULL, 'n' }, { "window", required_argument, NULL, 'w' },
        { "rate", required_argument, NULL, 'r' },    { "start", required_argument, NULL, 'x' },
        { "tls-ca", required_argument, NULL, 't' },  { NULL, 0, NULL, 0 },
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 's': n_streams = atol(optarg); break;
        case 'c': n_conns = atol(optarg); break;
        case 'n': n_numbers = atol(optarg); break;
        case 'w': window = atol(optarg); break;
        case 'r': rate = atof(optarg); break;
        case 'x': start_num = atol(optarg); break;
        case 't': tls_ca = read_pem(optarg); break;
        default: return 2;
        }
    }
    if (optind != argc - 1 || n_streams < 1 || n_conns < 1 || n_numbers < 1 || window < 1) {
        fprintf(stderr, "usage: grpc_load HOST:PORT [--streams S] [--conns C] [--numbers N] "
                        "[--window W] [--rate R] [--start X] [--tls-ca FILE]\n");
        return 2;
    }
    refill = window / 4 > 0 ? window / 4 : 1;
    pf_grpc151_quiet_abseil();
    grpc_init();
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    grpc_channel **channels = calloc((size_t)n_conns, sizeof(*channels));
    for (long i = 0; i < n_conns; i++) {
        /* A local subchannel pool per channel: one TCP connection each. */
        grpc_arg arg[] = {
            { GRPC_ARG_INTEGER, GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, { .integer = 1 } },
            { GRPC_ARG_STRING, GRPC_SSL_TARGET_NAME_OVERRIDE_ARG, { .string = "localhost" } },
        };
        grpc_channel_args args = { tls_ca ? 2 : 1, arg };
        grpc_channel_credentials *creds = tls_ca ? grpc_ssl_credentials_create(tls_ca, NULL, NULL, NULL)
                                                 : grpc_insecure_credentials_create();
        channels[i] = grpc_channel_create(argv[optind], creds, &args);
        grpc_channel_credentials_release(creds);
    }

    struct stream *streams = calloc((size_t)n_streams, sizeof(*streams));
    grpc_slice method = grpc_slice_from_static_string("/primefactor.Factors/PrimeFactors");
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                                         gpr_time_from_seconds(600, GPR_TIMESPAN));
    double t0 = now();
    for (long i = 0; i < n_streams; i++) {
        struct stream *s = &streams[i];
        s->t_start = (struct tag){ OP_START, s };
        s->t_send = (struct tag){ OP_SEND, s };
        s->t_recv = (struct tag){ OP_RECV, s };
        s->t_status = (struct tag){ OP_STATUS, s };
        s->product = 1;
        s->sent_at = calloc((size_t)n_numbers, sizeof(double));
        s->latency = calloc((size_t)n_numbers, sizeof(double));
        grpc_metadata_array_init(&s->initial_md);
        grpc_metadata_array_init(&s->trailing_md);
        s->call = grpc_channel_create_call(channels[i % n_conns], NULL, GRPC_PROPAGATE_DEFAULTS,
                                           cq, method, NULL, deadline, NULL);
        grpc_op ops[2] = { { .op = GRPC_OP_SEND_INITIAL_METADATA },
                           { .op = GRPC_OP_RECV_INITIAL_METADATA } };
        ops[1].data.recv_initial_metadata.recv_initial_metadata = &s->initial_md;
        batch(s, ops, 2, &s->t_start);
        grpc_op st = { .op = GRPC_OP_RECV_STATUS_ON_CLIENT };
        st.data.recv_status_on_client.trailing_metadata = &s->trailing_md;
        st.data.recv_status_on_client.status = &s->status;
        st.data.recv_status_on_client.status_details = &s->details;
        batch(s, &st, 1, &s->t_status);
        post_recv(s);
        maybe_send(s, t0);
    }

    long done = 0, answers = 0;
    int failed = 0;
    while (done < n_streams) {
        gpr_timespec wait = rate > 0 ? gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                                     gpr_time_from_micros(200, GPR_TIMESPAN))
                                     : gpr_inf_future(GPR_CLOCK_MONOTONIC);
        grpc_event ev = grpc_completion_queue_next(cq, wait, NULL);
        if (ev.type == GRPC_QUEUE_TIMEOUT) {
            for (long i = 0; i < n_streams; i++)
                maybe_send(&streams[i], t0);
            continue;
        }
        struct tag *t = ev.tag;
        struct stream *s = t->s;
        switch (t->op) {
        case OP_SEND:
            s->send_pending = false;
            if (s->send_bb)
                grpc_byte_buffer_destroy(s->send_bb);
            s->send_bb = NULL;
            maybe_send(s, t0);
            break;
        case OP_RECV:
            if (!s->recv_bb)
                break; /* end of answers: the status follows */
            answers++;
            if (read_answer(s, s->recv_bb)) {
                if (s->answered < s->sent) {
                    s->latency[s->answered] = now() - s->sent_at[s->answered];
                    s->answered++;
                } else {
                    s->wrong++; /* an answer to a number not sent */
                }
            }
            grpc_byte_buffer_destroy(s->recv_bb);
            s->recv_bb = NULL;
            post_recv(s);
            maybe_send(s, t0);
            break;
        case OP_STATUS:
            if (s->status != GRPC_STATUS_OK || s->answered != n_numbers || s->wrong) {
                char *d = grpc_slice_to_c_string(s->details);
                fprintf(stderr,
                        "grpc_load: stream ended with status %d (%s) after %ld answered "
                        "numbers, %ld wrong answers\n",
                        (int)s->status, d, s->answered, s->wrong);
                gpr_free(d);
                failed = 1;
            }
            s->done = true;
            done++;
            break;
        case OP_START: break;
        }
    }
    double elapsed = now() - t0;

    long total = n_numbers * n_streams, k = 0;
    double *all = malloc((size_t)total * sizeof(double));
    for (long i = 0; i < n_streams; i++)
        for (long j = 0; j < streams[i].answered; j++)
            all[k++] = streams[i].latency[j];
    qsort(all, (size_t)k, sizeof(double), cmp_double);
    printf("numbers=%ld streams=%ld conns=%ld seconds=%.3f numbers_per_s=%.0f answers_per_s=%.0f "
           "p50_us=%.0f p99_us=%.0f\n",
           k, n_streams, n_conns, elapsed, (double)k / elapsed, (double)answers / elapsed,
           k ? all[k / 2] * 1e6 : 0, k ? all[k * 99 / 100] * 1e6 : 0);

    for (long i = 0; i < n_streams; i++) {
        grpc_call_unref(streams[i].call);
        grpc_metadata_array_destroy(&streams[i].initial_md);
        grpc_metadata_array_destroy(&streams[i].trailing_md);
        grpc_slice_unref(streams[i].details);
        free(streams[i].sent_at);
        free(streams[i].latency);
    }
    for (long i = 0; i < n_conns; i++)
        grpc_channel_destroy(channels[i]);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
    free(all);
    free(streams);
    free(channels);
    free(tls_ca);
    grpc_shutdown();
    return failed;
}
