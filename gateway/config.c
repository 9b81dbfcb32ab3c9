#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static const char usage_head[] =
    "usage: pfgate [flags]\n"
    "\n"
    "Prime-factor gateway: a gRPC bidirectional stream (primefactor.Factors/PrimeFactors)\n"
    "and the same stream over WebSocket and HTTP with JSON.\n"
    "\n";
static const char usage_env[] =
    "Each flag may also be given in the environment variable shown below it\n"
    "(a flag on the command line wins): switches take 1, 0, true, false, yes\n"
    "or no, repeatable flags a comma-separated list.\n"
    "\n";

/* The repo's web/ folder, found from the binary's place (build/pfgate or
 * build/san/pfgate), so that `make run` serves it from any working folder. */
static void default_web_root(const struct pf_flag *f, char *out, size_t size)
{
    (void)f;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    snprintf(out, size, "web");
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *dir = dirname(exe);
    /* The repo's web/ beside build/pfgate (or build/san/pfgate), or the
     * page `make install` put beside PREFIX/bin/pfgate. */
    static const char *const ups[] = { "/../web", "/../../web", "/../share/pfgate/web" };
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

/* One thread per core, within the flag's bounds (--workers). */
static void one_per_core(const struct pf_flag *f, char *out, size_t size)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(out, size, "%ld", cores < f->min ? f->min : cores > f->max ? f->max : cores);
}

/* --log-level's value is the index: enum pf_log_level. */
static const char *const log_levels[] = { "error", "warn", "info", "debug", NULL };
_Static_assert(PF_LOG_ERROR == 0 && PF_LOG_WARN == 1 && PF_LOG_INFO == 2 && PF_LOG_DEBUG == 3,
               "log_levels follows enum pf_log_level");

/* --log-format's value is the index: enum pf_log_format. */
static const char *const log_formats[] = { "text", "json", NULL };
_Static_assert(PF_LOG_FORMAT_TEXT == 0 && PF_LOG_FORMAT_JSON == 1,
               "log_formats follows enum pf_log_format");

#define FIELD(m) .field = offsetof(struct pf_config, m), .size = sizeof(((struct pf_config *)0)->m)
#define ALSO(m) .also = offsetof(struct pf_config, m) + 1

const struct pf_flag pf_flags[] = {
    { "grpc-addr", "HOST:PORT", PF_FLAG_ADDR, FIELD(grpc_addr), .def = "127.0.0.1:50051",
      .help = "gRPC listener (default %D; port 0 picks one)" },
    { "http-addr", "HOST:PORT", PF_FLAG_ADDR, FIELD(http_addr), .def = "127.0.0.1:8080",
      .help = "HTTP, WebSocket and web page (default %D)" },
    { "admin-addr", "HOST:PORT", PF_FLAG_ADDR, FIELD(admin_addr), ALSO(admin),
      .help = "also serve GET /healthz and /metrics here, off the\n"
              "client connection caps (probes, Prometheus;\n"
              "default off)" },
    { "web-root", "DIR", PF_FLAG_PATH, FIELD(web_root), .def_of_machine = default_web_root,
      .help = "static page folder (default: the repo's web/, or\n"
              "PREFIX/share/pfgate/web once installed)" },
    /* One: only the first thread polls grpc (grpc_151.h), so another one
     * adds a thread hop to its streams' every event and takes nothing off
     * the poller (BENCHMARKS.md, "One completion-queue thread"). */
    { "threads", "N", PF_FLAG_COUNT, FIELD(grpc_threads), .min = 1, .max = 64, .def = "1",
      .help = "gRPC completion-queue threads (default %D)" },
    { "workers", "N", PF_FLAG_COUNT, FIELD(workers), .min = 1, .max = 256,
      .def_of_machine = one_per_core,
      .help = "factoring threads (default: one per core); streams\n"
              "take turns on them, one number each" },
    { "max-queued", "N", PF_FLAG_COUNT, FIELD(max_queued), .min = 1, .max = 1L << 24,
      .def = "16384",
      .help = "numbers waiting for a factoring thread, in all\n"
              "(default %D); past it streams stop reading until\n"
              "some are factored (numbers below 2^40 never wait)" },
    { "max-queued-per-stream", "N", PF_FLAG_COUNT, FIELD(max_queued_per_stream), .min = 1,
      .max = 4096, .def = "16",
      .help = "numbers of one stream waiting for a factoring thread\n"
              "(default %D); past it the stream stops reading. A\n"
              "WebSocket's Close is answered at once: pfgate factors\n"
              "these itself then" },
    { "max-pending", "N", PF_FLAG_COUNT, FIELD(max_pending), .min = 1, .max = 1L << 20,
      .def = "1024",
      .help = "numbers held per stream before pfgate stops reading\n"
              "that stream (flow control; default %D)" },
    { "max-message", "BYTES", PF_FLAG_COUNT, FIELD(max_message), .min = 64, .max = 1L << 30,
      .def = "4194304",
      .help = "largest gRPC message accepted (default %D);\n"
              "larger ones end the stream with RESOURCE_EXHAUSTED,\n"
              "seen from their length prefix (README: the HTTP/2\n"
              "guard, which also bounds header blocks, resets and\n"
              "PINGs on the gRPC port, TLS too; compression is off)" },
    { "max-connections", "N", PF_FLAG_COUNT, FIELD(max_connections), .min = 1, .max = 1L << 20,
      .def = "1024",
      .help = "open connections per port (default %D); at the cap\n"
              "the oldest connection that has sent nothing yet is\n"
              "closed to make room, else the gRPC port closes the\n"
              "new one and HTTP serves it only /healthz and\n"
              "/metrics (32 more), answering 503 to the rest" },
    { "max-streams", "N", PF_FLAG_COUNT, FIELD(max_streams_per_conn), .min = 1, .max = 1L << 20,
      .def = "128",
      .help = "concurrent gRPC streams per connection (default %D);\n"
              "more get RESOURCE_EXHAUSTED" },
    { "max-streams-total", "N", PF_FLAG_COUNT, FIELD(max_streams_total), .min = 1,
      .max = 1L << 24, .def = "4096",
      .help = "concurrent gRPC streams in all (default %D); more\n"
              "get RESOURCE_EXHAUSTED (each open stream makes every\n"
              "gRPC event a little slower; README: Flags and limits)" },
    { "header-timeout", "SECS", PF_FLAG_COUNT, FIELD(header_timeout), .min = 1, .max = 3600,
      .def = "10",
      .help = "time a new connection has to send its request\n"
              "headers (HTTP) or its HTTP/2 preface (gRPC)\n"
              "(default %D)" },
    { "idle-timeout", "SECS", PF_FLAG_COUNT, FIELD(idle_timeout), .min = 1, .max = 86400,
      .def = "60",
      .help = "close a connection with no stream for this long, and\n"
              "an NDJSON stream whose client reads nothing (default %D)" },
    { "tls-cert", "FILE", PF_FLAG_FILE, FIELD(tls_cert),
      .help = "PEM certificate (chain): TLS on both ports (gRPC over\n"
              "TLS, https and wss); needs --tls-key. pfgate ends the\n"
              "gRPC port's TLS itself: its limits all apply there" },
    { "tls-key", "FILE", PF_FLAG_FILE, FIELD(tls_key),
      .help = "PEM private key of --tls-cert" },
    { "reuse-port", NULL, PF_FLAG_SWITCH, FIELD(reuse_port),
      .help = "share both ports with other pfgate processes\n"
              "(SO_REUSEPORT; the kernel spreads connections)" },
    { "drain-timeout", "SECONDS", PF_FLAG_SECONDS, FIELD(drain_timeout), .min = 0, .max = 3600,
      .def = "5",
      .help = "on SIGINT/SIGTERM, time to finish open streams\n"
              "before they are cancelled (default %D)" },
    { "max-frame", "BYTES", PF_FLAG_COUNT, FIELD(max_frame), .min = 64, .max = 1L << 24,
      .def = "16384",
      .help = "longest WebSocket message (default %D); longer\n"
              "ones close the socket with 1009" },
    { "max-line", "BYTES", PF_FLAG_COUNT, FIELD(max_line), .min = 64, .max = 1L << 24,
      .def = "16384",
      .help = "longest NDJSON request line (default %D); longer\n"
              "ones get an error answer in their place" },
    { "allow-origin", "ORIGIN", PF_FLAG_LIST, FIELD(allow_origins), ALSO(n_allow_origins),
      .help = "also accept WebSocket upgrades from this Origin, e.g.\n"
              "https://example.com (repeatable; * allows any)" },
    { "ws-idle-timeout", "SECS", PF_FLAG_COUNT, FIELD(ws_idle_timeout), .min = 31, .max = 3600,
      .def = "90",
      .help = "close a WebSocket whose pong has not come back for\n"
              "this long (default %D; pings go out every 30 s)" },
    { "log-level", "LEVEL", PF_FLAG_CHOICE, FIELD(log_level), .choices = log_levels,
      .def = "info",
      .help = "error, warn, info or debug (default %D)" },
    { "access-log", "PATH", PF_FLAG_FILE, FIELD(access_log),
      .help = "one line per finished stream or request, to PATH\n"
              "(appended; reopened on SIGHUP) or - for standard\n"
              "error (default off)" },
    { "log-format", "FORMAT", PF_FLAG_CHOICE, FIELD(log_format), .choices = log_formats,
      .def = "text",
      .help = "the access log's lines: text (logfmt) or json\n"
              "(default %D)" },
    { "version", NULL, PF_FLAG_VERSION, .help = "print the version and exit" },
    { "help", NULL, PF_FLAG_HELP, .help = "print this help and exit" },
};
const size_t pf_n_flags = sizeof(pf_flags) / sizeof(pf_flags[0]);

#define N_FLAGS (sizeof(pf_flags) / sizeof(pf_flags[0]))

/* getopt_long's value for row i: past every short option's character. */
#define OPT_BASE 256

static int parse_addr(const char *text, struct pf_addr *out)
{
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text)
        return -1;
    const char *host = text;
    size_t host_len = (size_t)(colon - text);
    if (host[0] == '[') {
        if (host_len < 3 || host[host_len - 1] != ']')
            return -1;
        host++;
        host_len -= 2;
    }
    if (host_len >= sizeof(out->host))
        return -1;

    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno || port < 0 || port > 65535)
        return -1;

    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    out->port = (int)port;
    return 0;
}

static int parse_long(const char *text, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (text[0] == '\0' || *end != '\0' || errno || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_seconds(const char *text, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (text[0] == '\0' || *end != '\0' || errno || !(v >= min && v <= max))
        return -1;
    *out = v;
    return 0;
}

static int parse_choice(const char *const *choices, const char *text, int *out)
{
    for (int i = 0; choices[i]; i++)
        if (strcmp(text, choices[i]) == 0) {
            *out = i;
            return 0;
        }
    return -1;
}

/* "a, b, c or d" */
static void print_choices(FILE *out, const char *const *choices)
{
    for (int i = 0; choices[i]; i++)
        fprintf(out, "%s%s", i == 0 ? "" : choices[i + 1] ? ", " : " or ", choices[i]);
}

/* "pfgate: " and, for a value from the environment, its variable. */
static void say_where(const char *env)
{
    fprintf(stderr, "pfgate: %s%s", env ? env : "", env ? ": " : "");
}

static void complain(const struct pf_flag *f, const char *text, const char *env)
{
    say_where(env);
    fprintf(stderr, "--%s wants ", f->name);
    switch (f->kind) {
    case PF_FLAG_ADDR: fputs("HOST:PORT with a port from 0 to 65535", stderr); break;
    case PF_FLAG_PATH: fprintf(stderr, "a path of at most %zu bytes", f->size - 1); break;
    case PF_FLAG_COUNT: fprintf(stderr, "a whole number from %ld to %ld", f->min, f->max); break;
    case PF_FLAG_SECONDS: fprintf(stderr, "seconds from %ld to %ld", f->min, f->max); break;
    case PF_FLAG_CHOICE: print_choices(stderr, f->choices); break;
    case PF_FLAG_SWITCH: fputs("1, 0, true, false, yes or no", stderr); break;
    default: fputs("no value", stderr); break;
    }
    if (f->kind == PF_FLAG_PATH)
        fprintf(stderr, ", got %zu bytes\n", strlen(text));
    else
        fprintf(stderr, ", got '%s'\n", text);
}

/* A switch's value from the environment: 1 on, 0 off, -1 neither. */
static int parse_switch(const char *text)
{
    static const char *const on[] = { "1", "true", "yes" }, *const off[] = { "0", "false", "no" };
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(text, on[i]) == 0)
            return 1;
        if (strcasecmp(text, off[i]) == 0)
            return 0;
    }
    return -1;
}

/* pf_flag_set(), with env the variable text came from (NULL: the command line). */
static int flag_set(const struct pf_flag *f, struct pf_config *cfg, const char *text,
                    const char *env)
{
    char *field = (char *)cfg + f->field;
    char *also = f->also ? (char *)cfg + f->also - 1 : NULL;
    long v;
    double d;
    int i;
    struct pf_addr addr;
    switch (f->kind) {
    case PF_FLAG_ADDR:
        if (parse_addr(text, &addr) < 0)
            goto bad;
        memcpy(field, &addr, sizeof(addr));
        if (also)
            *(bool *)also = true;
        return 0;
    case PF_FLAG_PATH:
        if (strlen(text) >= f->size)
            goto bad;
        memcpy(field, text, strlen(text) + 1);
        return 0;
    case PF_FLAG_FILE:
        *(const char **)field = text;
        return 0;
    case PF_FLAG_COUNT:
        if (parse_long(text, f->min, f->max, &v) < 0)
            goto bad;
        if (f->size == sizeof(int))
            *(int *)field = (int)v;
        else
            *(size_t *)field = (size_t)v;
        return 0;
    case PF_FLAG_SECONDS:
        if (parse_seconds(text, (double)f->min, (double)f->max, &d) < 0)
            goto bad;
        *(double *)field = d;
        return 0;
    case PF_FLAG_CHOICE:
        if (parse_choice(f->choices, text, &i) < 0)
            goto bad;
        *(int *)field = i;
        return 0;
    case PF_FLAG_LIST:
        if (*(int *)also == (int)(f->size / sizeof(const char *))) {
            say_where(env);
            fprintf(stderr, "at most %zu --%s %s\n", f->size / sizeof(const char *), f->name,
                    env ? "values" : "flags");
            return -1;
        }
        ((const char **)field)[(*(int *)also)++] = text;
        return 0;
    case PF_FLAG_SWITCH:
        /* Only a variable gives a switch a value. */
        i = env ? parse_switch(text) : 1;
        if (i < 0)
            goto bad;
        *(bool *)field = i == 1;
        return 0;
    case PF_FLAG_HELP:
    case PF_FLAG_VERSION:
        return 0;
    }
bad:
    complain(f, text, env);
    return -1;
}

int pf_flag_set(const struct pf_flag *f, struct pf_config *cfg, const char *text)
{
    return flag_set(f, cfg, text, NULL);
}

bool pf_flag_env_name(const struct pf_flag *f, char *buf, size_t size)
{
    if (f->kind == PF_FLAG_HELP || f->kind == PF_FLAG_VERSION)
        return false;
    int n = snprintf(buf, size, "PFGATE_%s", f->name);
    if (n < 0 || (size_t)n >= size)
        return false;
    for (char *p = buf; *p; p++)
        *p = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    return true;
}

/* The values of list variables, split in place; kept for the process's
 * life (the config points into them), reachable for the leak checker. */
static char *env_lists[N_FLAGS];

/* Flag i's value from its variable, when that is set and not empty. A list
 * variable holds values separated by commas (blanks around them dropped,
 * empty ones skipped). */
static int apply_env(size_t i, struct pf_config *cfg)
{
    const struct pf_flag *f = &pf_flags[i];
    char name[64];
    if (!pf_flag_env_name(f, name, sizeof(name)))
        return 0;
    const char *text = getenv(name);
    if (!text || !text[0])
        return 0;
    if (f->kind != PF_FLAG_LIST)
        return flag_set(f, cfg, text, name);
    free(env_lists[i]);
    if (!(env_lists[i] = strdup(text))) {
        fprintf(stderr, "pfgate: %s: out of memory\n", name);
        return -1;
    }
    char *save = NULL;
    for (char *v = strtok_r(env_lists[i], ",", &save); v; v = strtok_r(NULL, ",", &save)) {
        v += strspn(v, " \t");
        char *end = v + strlen(v);
        while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (*v && flag_set(f, cfg, v, name) < 0)
            return -1;
    }
    return 0;
}

/* A PFGATE_ variable that names no flag is most likely a typo: said, not fatal. */
static void warn_unknown_env(void)
{
    static const char prefix[] = "PFGATE_";
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, prefix, sizeof(prefix) - 1) != 0)
            continue;
        size_t len = strcspn(*e, "=");
        bool known = false;
        for (size_t i = 0; i < N_FLAGS && !known; i++) {
            char name[64];
            known = pf_flag_env_name(&pf_flags[i], name, sizeof(name)) &&
                    strlen(name) == len && strncmp(name, *e, len) == 0;
        }
        if (!known)
            fprintf(stderr, "pfgate: warning: %.*s names no flag (ignored); see pfgate --help\n",
                    (int)(len > 100 ? 100 : len), *e);
    }
}

const struct pf_flag *pf_flag_find(const char *name)
{
    for (size_t i = 0; i < N_FLAGS; i++)
        if (strcmp(pf_flags[i].name, name) == 0)
            return &pf_flags[i];
    return NULL;
}

int pf_config_defaults(struct pf_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < N_FLAGS; i++) {
        const struct pf_flag *f = &pf_flags[i];
        char buf[PATH_MAX];
        const char *text = f->def;
        if (f->def_of_machine) {
            f->def_of_machine(f, buf, sizeof(buf));
            text = buf;
        }
        if (text && pf_flag_set(f, cfg, text) < 0)
            return -1;
    }
    return 0;
}

/* One flag's help: its lines beside "--name ARG", %D replaced by the default. */
static void usage_of(FILE *out, const struct pf_flag *f)
{
    enum { COLUMN = 23 };
    char left[64];
    snprintf(left, sizeof(left), "--%s%s%s", f->name, f->arg ? " " : "", f->arg ? f->arg : "");
    fprintf(out, "  %-*s  ", COLUMN, left);
    for (const char *p = f->help; *p; p++) {
        if (p[0] == '%' && p[1] == 'D') {
            fputs(f->def, out);
            p++;
        } else {
            fputc(*p, out);
            if (*p == '\n')
                fprintf(out, "%*s", COLUMN + 4, "");
        }
    }
    char env[64];
    if (pf_flag_env_name(f, env, sizeof(env)))
        fprintf(out, "\n%*s(env %s)", COLUMN + 4, "", env);
    fputc('\n', out);
}

void pf_config_usage(FILE *out)
{
    fputs(usage_head, out);
    fputs(usage_env, out);
    for (size_t i = 0; i < N_FLAGS; i++)
        usage_of(out, &pf_flags[i]);
}

int pf_config_parse(struct pf_config *cfg, int argc, char **argv)
{
    struct option options[N_FLAGS + 1];
    for (size_t i = 0; i < N_FLAGS; i++)
        options[i] = (struct option){ pf_flags[i].name,
                                      pf_flags[i].arg ? required_argument : no_argument, NULL,
                                      OPT_BASE + (int)i };
    options[N_FLAGS] = (struct option){ NULL, 0, NULL, 0 };

    bool given[N_FLAGS] = { false };
    if (pf_config_defaults(cfg) < 0)
        return -1;
    opterr = 0;
    optind = 0; /* glibc: start afresh, as for a first call */
    int opt;
    /* ":" first: a missing value is told apart from an unknown flag. */
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (opt >= OPT_BASE) {
            const struct pf_flag *f = &pf_flags[opt - OPT_BASE];
            if (f->kind == PF_FLAG_HELP) {
                pf_config_usage(stdout);
                return 1;
            }
            if (f->kind == PF_FLAG_VERSION) {
                printf("pfgate %s\n", PF_VERSION);
                return 1;
            }
            if (pf_flag_set(f, cfg, optarg) < 0)
                return -1;
            given[opt - OPT_BASE] = true;
            continue;
        }
        const struct pf_flag *f = optopt >= OPT_BASE ? &pf_flags[optopt - OPT_BASE] : NULL;
        if (opt == ':' && f)
            fprintf(stderr, "pfgate: --%s wants a value (%s); see pfgate --help\n", f->name,
                    f->arg);
        else if (f)
            fprintf(stderr, "pfgate: --%s takes no value, got '%s'; see pfgate --help\n",
                    f->name, argv[optind - 1]);
        else
            fprintf(stderr, "pfgate: unknown or ambiguous flag '%s'; see pfgate --help\n", argv[optind - 1]);
        return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "pfgate: unexpected argument '%s'; see pfgate --help\n", argv[optind]);
        return -1;
    }
    /* The environment fills in the flags the command line left out. */
    for (size_t i = 0; i < N_FLAGS; i++)
        if (!given[i] && apply_env(i, cfg) < 0)
            return -1;
    warn_unknown_env();
    if (!cfg->tls_cert != !cfg->tls_key) {
        fprintf(stderr, "pfgate: --tls-cert and --tls-key go together\n");
        return -1;
    }
    return 0;
}

void pf_addr_format(const struct pf_addr *addr, int port, char *buf, size_t size)
{
    bool v6 = strchr(addr->host, ':') != NULL;
    snprintf(buf, size, v6 ? "[%s]:%d" : "%s:%d", addr->host, port);
}
