/* Every flag, default and limit of pfgate, in one place. */
#ifndef PF_CONFIG_H
#define PF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct pf_addr {
    char host[256]; /* as given, without brackets for IPv6 */
    int port;       /* 0..65535; 0 picks a free port */
};

struct pf_config {
    struct pf_addr grpc_addr;
    struct pf_addr http_addr;
    struct pf_addr admin_addr; /* /healthz and /metrics only, off the client caps */
    bool admin;                /* --admin-addr given */
    char web_root[4096];
    int grpc_threads;        /* completion-queue threads */
    int workers;             /* factoring threads */
    size_t max_queued;       /* numbers waiting for a factoring thread, in all */
    int max_queued_per_stream; /* ... of one stream */
    size_t max_pending;      /* requests held per stream before pfgate stops reading */
    int max_message;         /* largest gRPC message accepted, in bytes */
    double drain_timeout;    /* seconds */
    size_t max_connections;  /* open connections per port */
    size_t max_streams_per_conn; /* concurrent gRPC streams on one connection */
    size_t max_streams_total;    /* concurrent gRPC streams in all */
    int header_timeout;      /* seconds for a new connection to send its request headers */
    int idle_timeout;        /* seconds a connection may stay open with no stream */
    bool reuse_port;         /* SO_REUSEPORT: share the ports with other processes */
    const char *tls_cert;    /* PEM files: TLS on both ports when set */
    const char *tls_key;
    int log_level;
    const char *access_log;  /* --access-log: a path, "-" (stderr) or NULL (off) */
    int log_format;          /* enum pf_log_format */

    /* HTTP and WebSocket */
    size_t max_frame;        /* longest WebSocket message, in bytes */
    size_t max_line;         /* longest NDJSON request line, in bytes */
    int ws_idle_timeout;     /* seconds without a pong before a WebSocket is closed */
    int n_allow_origins;
    const char *allow_origins[16]; /* --allow-origin values ("*" allows any) */
};

enum pf_log_format { PF_LOG_FORMAT_TEXT, PF_LOG_FORMAT_JSON };

/* How a flag's text becomes a value of struct pf_config. */
enum pf_flag_kind {
    PF_FLAG_ADDR,    /* HOST:PORT into a struct pf_addr */
    PF_FLAG_PATH,    /* copied into a char array */
    PF_FLAG_FILE,    /* a const char * to the text itself (argv outlives the config) */
    PF_FLAG_COUNT,   /* a whole number from min to max, into an int or a size_t */
    PF_FLAG_SECONDS, /* seconds from min to max, fractions allowed, into a double */
    PF_FLAG_CHOICE,  /* one of choices, its index into an int */
    PF_FLAG_LIST,    /* repeatable: appended to a const char *[] */
    PF_FLAG_SWITCH,  /* takes no value: sets a bool */
    PF_FLAG_HELP,    /* takes no value: prints and exits */
    PF_FLAG_VERSION,
};

/* One row per flag: getopt's options, the usage text and the defaults are
 * all made from the table, so a flag is written once; whatever else reads
 * flags (the tests, environment variables) walks the same rows. */
struct pf_flag {
    const char *name; /* without the leading "--" */
    const char *arg;  /* the value's name in the usage; NULL: takes none */
    enum pf_flag_kind kind;
    size_t field, size; /* offsetof and sizeof the member of struct pf_config it writes */
    size_t also;      /* 1 + offsetof a member it writes too, 0: none. LIST: the int
                       * count of values; ADDR: a bool, true when the flag is given */
    long min, max;    /* COUNT and SECONDS */
    const char *const *choices; /* CHOICE: NULL-terminated */
    /* The default, as the flag's own text (parsed like a given value), or
     * made at start from the machine (written to buf); neither: zero. */
    const char *def;
    void (*def_of_machine)(const struct pf_flag *f, char *buf, size_t size);
    const char *help; /* usage lines ('\n' between them); %D stands for def */
};

extern const struct pf_flag pf_flags[];
extern const size_t pf_n_flags;

/* The row of --name, or NULL. */
const struct pf_flag *pf_flag_find(const char *name);

/* Writes f's environment variable (PFGATE_GRPC_ADDR for --grpc-addr) into
 * buf. False when f has none (--help, --version). */
bool pf_flag_env_name(const struct pf_flag *f, char *buf, size_t size);

/* Parses text as flag f's value into cfg. Returns 0, or -1 with the reason
 * on stderr and cfg unchanged. */
int pf_flag_set(const struct pf_flag *f, struct pf_config *cfg, const char *text);

/* Every flag's default. Returns 0, or -1 (a default the table gets wrong,
 * already reported on stderr). */
int pf_config_defaults(struct pf_config *cfg);

/* `pfgate --help`. */
void pf_config_usage(FILE *out);

/* Parses argv into cfg: the defaults, then the command line, then for each
 * flag not on it its PFGATE_ variable (pf_flag_env_name; a bad value is
 * reported with the variable's name; a PFGATE_ variable of no flag gets a
 * warning on stderr). Returns 0 to run, 1 when the process
 * should exit 0 at once (--help, --version, already printed), -1 on a bad
 * flag (already reported on stderr). */
int pf_config_parse(struct pf_config *cfg, int argc, char **argv);

/* "HOST:PORT" of addr with the given port, brackets around IPv6 hosts. */
void pf_addr_format(const struct pf_addr *addr, int port, char *buf, size_t size);

#endif
