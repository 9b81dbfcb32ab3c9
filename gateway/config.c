#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static const char usage[] =
    "usage: pfgate [flags]\n"
    "\n"
    "Prime-factor gateway: a gRPC bidirectional stream (primefactor.Factors/PrimeFactors)\n"
    "and the same stream over WebSocket and HTTP with JSON.\n"
    "\n"
    "  --grpc-addr HOST:PORT    gRPC listener (default 127.0.0.1:50051; port 0 picks one)\n"
    "  --http-addr HOST:PORT    HTTP, WebSocket and web page (default 127.0.0.1:8080)\n"
    "  --admin-addr HOST:PORT   also serve GET /healthz and /metrics here, off the\n"
    "                           client connection caps (probes, Prometheus;\n"
    "                           default off)\n"
    "  --web-root DIR           static page folder (default: the repo's web/)\n"
    "  --threads N              gRPC completion-queue threads (default: one per core)\n"
    "  --max-pending N          numbers held per stream before pfgate stops reading\n"
    "                           that stream (flow control; default 1024)\n"
    "  --max-message BYTES      largest gRPC message accepted (default 4194304);\n"
    "                           larger ones end the stream with RESOURCE_EXHAUSTED,\n"
    "                           seen from their length prefix (README: the HTTP/2\n"
    "                           guard, which also bounds header blocks, resets and\n"
    "                           PINGs on the gRPC port, TLS too; compression is off)\n"
    "  --max-connections N      open connections per port (default 1024); at the cap\n"
    "                           the oldest connection that has sent nothing yet is\n"
    "                           closed to make room, else the gRPC port closes the\n"
    "                           new one and HTTP serves it only /healthz and\n"
    "                           /metrics (32 more), answering 503 to the rest\n"
    "  --max-streams N          concurrent gRPC streams per connection (default 128);\n"
    "                           more get RESOURCE_EXHAUSTED\n"
    "  --max-streams-total N    concurrent gRPC streams in all (default 4096); more\n"
    "                           get RESOURCE_EXHAUSTED (each open stream makes every\n"
    "                           gRPC event a little slower; README: Flags and limits)\n"
    "  --header-timeout SECS    time a new connection has to send its request\n"
    "                           headers (HTTP) or its HTTP/2 preface (gRPC)\n"
    "                           (default 10)\n"
    "  --idle-timeout SECS      close a connection with no stream for this long, and\n"
    "                           an NDJSON stream whose client reads nothing (default 60)\n"
    "  --tls-cert FILE          PEM certificate (chain): TLS on both ports (gRPC over\n"
    "                           TLS, https and wss); needs --tls-key. pfgate ends the\n"
    "                           gRPC port's TLS itself: its limits all apply there\n"
    "  --tls-key FILE           PEM private key of --tls-cert\n"
    "  --reuse-port             share both ports with other pfgate processes\n"
    "                           (SO_REUSEPORT; the kernel spreads connections)\n"
    "  --drain-timeout SECONDS  on SIGINT/SIGTERM, time to finish open streams\n"
    "                           before they are cancelled (default 5)\n"
    "  --max-frame BYTES        longest WebSocket message (default 16384); longer\n"
    "                           ones close the socket with 1009\n"
    "  --max-line BYTES         longest NDJSON request line (default 16384); longer\n"
    "                           ones get an error answer in their place\n"
    "  --allow-origin ORIGIN    also accept WebSocket upgrades from this Origin, e.g.\n"
    "                           https://example.com (repeatable; * allows any)\n"
    "  --ws-idle-timeout SECS   close a WebSocket whose pong has not come back for\n"
    "                           this long (default 90; pings go out every 30 s)\n"
    "  --log-level LEVEL        error, warn, info or debug (default info)\n"
    "  --version                print the version and exit\n"
    "  --help                   print this help and exit\n";

/* The repo's web/ folder, found from the binary's place (build/pfgate or
 * build/san/pfgate), so that `make run` serves it from any working folder. */
static void default_web_root(char *out, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    snprintf(out, size, "web");
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *dir = dirname(exe);
    static const char *const ups[] = { "/../web", "/../../web" };
    for (size_t i = 0; i < sizeof(ups) / sizeof(ups[0]); i++) {
        char candidate[PATH_MAX + 16];
        struct stat st;
        snprintf(candidate, sizeof(candidate), "%s%s", dir, ups[i]);
        if (stat(candidate, &st) == 0 && S_ISDIR(st.st_mode) && realpath(candidate, exe)) {
            snprintf(out, size, "%s", exe);
            return;
        }
    }
}

static int parse_addr(const char *flag, const char *text, struct pf_addr *out)
{
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text)
        goto bad;
    const char *host = text;
    size_t host_len = (size_t)(colon - text);
    if (host[0] == '[') {
        if (host_len < 3 || host[host_len - 1] != ']')
            goto bad;
        host++;
        host_len -= 2;
    }
    if (host_len >= sizeof(out->host))
        goto bad;

    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno || port < 0 || port > 65535)
        goto bad;

    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    out->port = (int)port;
    return 0;
bad:
    fprintf(stderr, "pfgate: %s wants HOST:PORT with a port from 0 to 65535, got '%s'\n", flag,
            text);
    return -1;
}

static int parse_long(const char *flag, const char *text, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (text[0] == '\0' || *end != '\0' || errno || v < min || v > max) {
        fprintf(stderr, "pfgate: %s wants a whole number from %ld to %ld, got '%s'\n", flag, min,
                max, text);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_seconds(const char *flag, const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (text[0] == '\0' || *end != '\0' || errno || !(v >= 0 && v <= 3600)) {
        fprintf(stderr, "pfgate: %s wants seconds from 0 to 3600, got '%s'\n", flag, text);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_log_level(const char *text, int *out)
{
    static const char *const names[] = { "error", "warn", "info", "debug" };
    for (int i = 0; i < 4; i++)
        if (strcmp(text, names[i]) == 0) {
            *out = i;
            return 0;
        }
    fprintf(stderr, "pfgate: --log-level wants error, warn, info or debug, got '%s'\n", text);
    return -1;
}

static void set_defaults(struct pf_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->grpc_addr.host, sizeof(cfg->grpc_addr.host), "127.0.0.1");
    cfg->grpc_addr.port = 50051;
    snprintf(cfg->http_addr.host, sizeof(cfg->http_addr.host), "127.0.0.1");
    cfg->http_addr.port = 8080;
    default_web_root(cfg->web_root, sizeof(cfg->web_root));
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->grpc_threads = cores > 0 ? (int)(cores < 64 ? cores : 64) : 1;
    cfg->max_pending = 1024;
    cfg->max_message = 4 * 1024 * 1024;
    cfg->drain_timeout = 5.0;
    cfg->max_connections = 1024;
    cfg->max_streams_per_conn = 128;
    cfg->max_streams_total = 4096;
    cfg->header_timeout = 10;
    cfg->idle_timeout = 60;
    cfg->log_level = PF_LOG_INFO;
    cfg->max_frame = 16384;
    cfg->max_line = 16384;
    cfg->ws_idle_timeout = 90;
}

int pf_config_parse(struct pf_config *cfg, int argc, char **argv)
{
    enum { GRPC_ADDR = 256, HTTP_ADDR, WEB_ROOT, THREADS, MAX_PENDING, MAX_MESSAGE,
           DRAIN_TIMEOUT, LOG_LEVEL, MAX_FRAME, MAX_LINE, ALLOW_ORIGIN, WS_IDLE_TIMEOUT,
           MAX_CONNECTIONS, MAX_STREAMS, MAX_STREAMS_TOTAL, REUSE_PORT, HEADER_TIMEOUT,
           IDLE_TIMEOUT, TLS_CERT, TLS_KEY, ADMIN_ADDR, VERSION, HELP };
    static const struct option options[] = {
        { "grpc-addr", required_argument, NULL, GRPC_ADDR },
        { "http-addr", required_argument, NULL, HTTP_ADDR },
        { "admin-addr", required_argument, NULL, ADMIN_ADDR },
        { "web-root", required_argument, NULL, WEB_ROOT },
        { "threads", required_argument, NULL, THREADS },
        { "max-pending", required_argument, NULL, MAX_PENDING },
        { "max-message", required_argument, NULL, MAX_MESSAGE },
        { "drain-timeout", required_argument, NULL, DRAIN_TIMEOUT },
        { "log-level", required_argument, NULL, LOG_LEVEL },
        { "max-frame", required_argument, NULL, MAX_FRAME },
        { "max-line", required_argument, NULL, MAX_LINE },
        { "allow-origin", required_argument, NULL, ALLOW_ORIGIN },
        { "ws-idle-timeout", required_argument, NULL, WS_IDLE_TIMEOUT },
        { "max-connections", required_argument, NULL, MAX_CONNECTIONS },
        { "max-streams", required_argument, NULL, MAX_STREAMS },
        { "max-streams-total", required_argument, NULL, MAX_STREAMS_TOTAL },
        { "reuse-port", no_argument, NULL, REUSE_PORT },
        { "header-timeout", required_argument, NULL, HEADER_TIMEOUT },
        { "idle-timeout", required_argument, NULL, IDLE_TIMEOUT },
        { "tls-cert", required_argument, NULL, TLS_CERT },
        { "tls-key", required_argument, NULL, TLS_KEY },
        { "version", no_argument, NULL, VERSION },
        { "help", no_argument, NULL, HELP },
        { NULL, 0, NULL, 0 },
    };

    set_defaults(cfg);
    opterr = 0;
    optind = 1;
    int opt;
    long v;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        int rc = 0;
        switch (opt) {
        case GRPC_ADDR: rc = parse_addr("--grpc-addr", optarg, &cfg->grpc_addr); break;
        case HTTP_ADDR: rc = parse_addr("--http-addr", optarg, &cfg->http_addr); break;
        case ADMIN_ADDR:
            rc = parse_addr("--admin-addr", optarg, &cfg->admin_addr);
            cfg->admin = true;
            break;
        case WEB_ROOT:
            if (strlen(optarg) >= sizeof(cfg->web_root)) {
                fprintf(stderr, "pfgate: --web-root is too long\n");
                return -1;
            }
            snprintf(cfg->web_root, sizeof(cfg->web_root), "%s", optarg);
            break;
        case THREADS:
            if ((rc = parse_long("--threads", optarg, 1, 64, &v)) == 0)
                cfg->grpc_threads = (int)v;
            break;
        case MAX_PENDING:
            if ((rc = parse_long("--max-pending", optarg, 1, 1L << 20, &v)) == 0)
                cfg->max_pending = (size_t)v;
            break;
        case MAX_MESSAGE:
            if ((rc = parse_long("--max-message", optarg, 64, 1L << 30, &v)) == 0)
                cfg->max_message = (int)v;
            break;
        case DRAIN_TIMEOUT: rc = parse_seconds("--drain-timeout", optarg, &cfg->drain_timeout); break;
        case LOG_LEVEL: rc = parse_log_level(optarg, &cfg->log_level); break;
        case MAX_FRAME:
            if ((rc = parse_long("--max-frame", optarg, 64, 1L << 24, &v)) == 0)
                cfg->max_frame = (size_t)v;
            break;
        case MAX_LINE:
            if ((rc = parse_long("--max-line", optarg, 64, 1L << 24, &v)) == 0)
                cfg->max_line = (size_t)v;
            break;
        case ALLOW_ORIGIN:
            if (cfg->n_allow_origins == (int)(sizeof(cfg->allow_origins) / sizeof(char *))) {
                fprintf(stderr, "pfgate: at most 16 --allow-origin flags\n");
                return -1;
            }
            cfg->allow_origins[cfg->n_allow_origins++] = optarg;
            break;
        case WS_IDLE_TIMEOUT:
            if ((rc = parse_long("--ws-idle-timeout", optarg, 31, 3600, &v)) == 0)
                cfg->ws_idle_timeout = (int)v;
            break;
        case MAX_CONNECTIONS:
            if ((rc = parse_long("--max-connections", optarg, 1, 1L << 20, &v)) == 0)
                cfg->max_connections = (size_t)v;
            break;
        case MAX_STREAMS:
            if ((rc = parse_long("--max-streams", optarg, 1, 1L << 20, &v)) == 0)
                cfg->max_streams_per_conn = (size_t)v;
            break;
        case MAX_STREAMS_TOTAL:
            if ((rc = parse_long("--max-streams-total", optarg, 1, 1L << 24, &v)) == 0)
                cfg->max_streams_total = (size_t)v;
            break;
        case REUSE_PORT: cfg->reuse_port = true; break;
        case TLS_CERT: cfg->tls_cert = optarg; break;
        case TLS_KEY: cfg->tls_key = optarg; break;
        case HEADER_TIMEOUT:
            if ((rc = parse_long("--header-timeout", optarg, 1, 3600, &v)) == 0)
                cfg->header_timeout = (int)v;
            break;
        case IDLE_TIMEOUT:
            if ((rc = parse_long("--idle-timeout", optarg, 1, 86400, &v)) == 0)
                cfg->idle_timeout = (int)v;
            break;
        case VERSION: printf("pfgate %s\n", PF_VERSION); return 1;
        case HELP: fputs(usage, stdout); return 1;
        default:
            fprintf(stderr, "pfgate: unknown or incomplete flag '%s'; see pfgate --help\n",
                    argv[optind - 1]);
            return -1;
        }
        if (rc < 0)
            return -1;
    }
    if (!cfg->tls_cert != !cfg->tls_key) {
        fprintf(stderr, "pfgate: --tls-cert and --tls-key go together\n");
        return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "pfgate: unexpected argument '%s'; see pfgate --help\n", argv[optind]);
        return -1;
    }
    return 0;
}

void pf_addr_format(const struct pf_addr *addr, int port, char *buf, size_t size)
{
    bool v6 = strchr(addr->host, ':') != NULL;
    snprintf(buf, size, v6 ? "[%s]:%d" : "%s:%d", addr->host, port);
}
