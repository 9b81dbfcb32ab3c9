/* Unit tests for gateway/config.c: the flag table. Every default, every
 * bound of every flag (the value at it is taken, one past it refused with
 * its message), bad syntax, and the command line around the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"

/* What fd out_fd (1 or 2) received while fn ran: pf_flag_set and
 * pf_config_parse report on stderr, --help prints on stdout. */
static char captured[16384];

static void capture_start(int out_fd, int *saved, FILE **tmp)
{
    fflush(stdout);
    fflush(stderr);
    *tmp = tmpfile();
    assert_non_null(*tmp);
    *saved = dup(out_fd);
    dup2(fileno(*tmp), out_fd);
}

static const char *capture_end(int out_fd, int saved, FILE *tmp)
{
    fflush(stdout);
    fflush(stderr);
    dup2(saved, out_fd);
    close(saved);
    rewind(tmp);
    size_t n = fread(captured, 1, sizeof(captured) - 1, tmp);
    captured[n] = '\0';
    fclose(tmp);
    return captured;
}

/* pf_flag_set(--name text); *err gets what it wrote on stderr. */
static int set(struct pf_config *cfg, const char *name, const char *text, const char **err)
{
    const struct pf_flag *f = pf_flag_find(name);
    assert_non_null(f);
    int saved;
    FILE *tmp;
    capture_start(2, &saved, &tmp);
    int rc = pf_flag_set(f, cfg, text);
    *err = capture_end(2, saved, tmp);
    return rc;
}

/* pf_config_parse of a NULL-terminated argv (argv[0] added); *out gets what
 * went to out_fd. */
static int parse(struct pf_config *cfg, int out_fd, const char **out, ...)
{
    char *argv[32] = { "pfgate" };
    int argc = 1;
    va_list ap;
    va_start(ap, out);
    for (char *a; (a = va_arg(ap, char *)) != NULL;)
        argv[argc++] = a;
    va_end(ap);
    int saved;
    FILE *tmp;
    capture_start(out_fd, &saved, &tmp);
    int rc = pf_config_parse(cfg, argc, argv);
    *out = capture_end(out_fd, saved, tmp);
    return rc;
}

static long count_of(const struct pf_config *cfg, const struct pf_flag *f)
{
    const char *field = (const char *)cfg + f->field;
    return f->size == sizeof(int) ? *(const int *)field : (long)*(const size_t *)field;
}

static double seconds_of(const struct pf_config *cfg, const struct pf_flag *f)
{
    return *(const double *)((const char *)cfg + f->field);
}

static void defaults(struct pf_config *cfg)
{
    assert_int_equal(pf_config_defaults(cfg), 0);
}

static void test_defaults(void **state)
{
    (void)state;
    struct pf_config c;
    defaults(&c);
    assert_string_equal(c.grpc_addr.host, "127.0.0.1");
    assert_int_equal(c.grpc_addr.port, 50051);
    assert_string_equal(c.http_addr.host, "127.0.0.1");
    assert_int_equal(c.http_addr.port, 8080);
    assert_false(c.admin);
    assert_string_equal(c.admin_addr.host, "");
    assert_int_equal(c.admin_addr.port, 0);
    /* The repo's web/ next to build/, or "web" (build/san/tests is too deep). */
    size_t n = strlen(c.web_root);
    assert_true(strcmp(c.web_root, "web") == 0 || (n > 4 && strcmp(c.web_root + n - 4, "/web") == 0));
    assert_int_equal(c.grpc_threads, 1);
    assert_int_equal(c.max_pending, 1024);
    assert_int_equal(c.max_message, 4194304);
    assert_true(c.drain_timeout == 5.0);
    assert_int_equal(c.max_connections, 1024);
    assert_int_equal(c.max_streams_per_conn, 128);
    assert_int_equal(c.max_streams_total, 4096);
    assert_int_equal(c.header_timeout, 10);
    assert_int_equal(c.idle_timeout, 60);
    assert_false(c.reuse_port);
    assert_null(c.tls_cert);
    assert_null(c.tls_key);
    assert_int_equal(c.log_level, PF_LOG_INFO);
    assert_int_equal(c.max_frame, 16384);
    assert_int_equal(c.max_line, 16384);
    assert_int_equal(c.ws_idle_timeout, 90);
    assert_int_equal(c.n_allow_origins, 0);
    assert_null(c.access_log);
    assert_int_equal(c.log_format, PF_LOG_FORMAT_TEXT);
}

/* The table itself: what the parser and the usage rely on. */
static void test_table_shape(void **state)
{
    (void)state;
    for (size_t i = 0; i < pf_n_flags; i++) {
        const struct pf_flag *f = &pf_flags[i];
        assert_ptr_equal(pf_flag_find(f->name), f); /* names are unique */
        assert_non_null(f->help);
        assert_true((strstr(f->help, "%D") != NULL) == (f->def != NULL));
        bool takes_value = f->kind != PF_FLAG_SWITCH && f->kind != PF_FLAG_HELP &&
                           f->kind != PF_FLAG_VERSION;
        assert_true((f->arg != NULL) == takes_value);
        if (f->kind == PF_FLAG_COUNT) {
            assert_true(f->size == sizeof(int) || f->size == sizeof(size_t));
            assert_true(f->min <= f->max);
            assert_true(f->size != sizeof(int) || f->max <= INT32_MAX);
        }
        if (f->kind == PF_FLAG_SECONDS)
            assert_int_equal(f->size, sizeof(double));
        if (f->kind == PF_FLAG_LIST)
            assert_int_not_equal(f->also, 0);
    }
    assert_null(pf_flag_find("no-such-flag"));
}

/* Every COUNT and SECONDS flag: each bound is taken, one past it is refused
 * with the message, and so is bad syntax; a refused value leaves the field. */
static void test_bounds_of_every_number(void **state)
{
    (void)state;
    int walked = 0;
    for (size_t i = 0; i < pf_n_flags; i++) {
        const struct pf_flag *f = &pf_flags[i];
        if (f->kind != PF_FLAG_COUNT && f->kind != PF_FLAG_SECONDS)
            continue;
        walked++;
        bool secs = f->kind == PF_FLAG_SECONDS;
        char text[64], want[256];
        const char *err;
        struct pf_config c;

        const long at[] = { f->min, f->max };
        for (int b = 0; b < 2; b++) {
            defaults(&c);
            snprintf(text, sizeof(text), "%ld", at[b]);
            assert_int_equal(set(&c, f->name, text, &err), 0);
            assert_string_equal(err, "");
            if (secs)
                assert_true(seconds_of(&c, f) == (double)at[b]);
            else
                assert_int_equal(count_of(&c, f), at[b]);
        }

        const long past[] = { f->min - 1, f->max + 1 };
        const char *bad[] = { "", "x", "12abc", "1 ", "-", "5s", "99999999999999999999", "nan" };
        for (size_t b = 0; b < 2 + sizeof(bad) / sizeof(bad[0]); b++) {
            if (b < 2)
                snprintf(text, sizeof(text), "%ld", past[b]);
            else
                snprintf(text, sizeof(text), "%s", bad[b - 2]);
            defaults(&c);
            struct pf_config before;
            memcpy(&before, &c, sizeof(c));
            assert_int_equal(set(&c, f->name, text, &err), -1);
            snprintf(want, sizeof(want), "pfgate: --%s wants %s from %ld to %ld, got '%s'\n",
                     f->name, secs ? "seconds" : "a whole number", f->min, f->max, text);
            assert_string_equal(err, want);
            assert_memory_equal(&c, &before, sizeof(c));
        }
    }
    assert_int_equal(walked, 15); /* 14 counts, --drain-timeout */
}

static void test_seconds_take_fractions(void **state)
{
    (void)state;
    struct pf_config c;
    const char *err;
    defaults(&c);
    assert_int_equal(set(&c, "drain-timeout", "0.25", &err), 0);
    assert_true(c.drain_timeout == 0.25);
    assert_int_equal(set(&c, "drain-timeout", "3600.001", &err), -1);
    assert_string_equal(err, "pfgate: --drain-timeout wants seconds from 0 to 3600, got "
                             "'3600.001'\n");
    /* Whole seconds only: the number is a count. */
    assert_int_equal(set(&c, "header-timeout", "1.5", &err), -1);
    assert_string_equal(err, "pfgate: --header-timeout wants a whole number from 1 to 3600, "
                             "got '1.5'\n");
}

static void test_addresses(void **state)
{
    (void)state;
    static const struct { const char *text, *host; int port; } good[] = {
        { "0.0.0.0:0", "0.0.0.0", 0 },
        { "localhost:65535", "localhost", 65535 },
        { "[::1]:443", "::1", 443 },
        { "[::]:0", "::", 0 },
    };
    static const char *const bad[] = {
        "", "host", ":80", "host:", "host:65536", "host:-1", "host:8x", "[]:1", "[::1:5",
        "[::1]", "host:99999999999999999999",
    };
    const char *flags[] = { "grpc-addr", "http-addr", "admin-addr" };
    for (size_t fl = 0; fl < 3; fl++) {
        struct pf_config c;
        const char *err;
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
            defaults(&c);
            assert_int_equal(set(&c, flags[fl], good[i].text, &err), 0);
            const struct pf_addr *a = fl == 0 ? &c.grpc_addr : fl == 1 ? &c.http_addr
                                                                       : &c.admin_addr;
            assert_string_equal(a->host, good[i].host);
            assert_int_equal(a->port, good[i].port);
            assert_int_equal(c.admin, fl == 2); /* only --admin-addr turns it on */
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            defaults(&c);
            struct pf_config before;
            memcpy(&before, &c, sizeof(c));
            char want[256];
            assert_int_equal(set(&c, flags[fl], bad[i], &err), -1);
            snprintf(want, sizeof(want),
                     "pfgate: --%s wants HOST:PORT with a port from 0 to 65535, got '%s'\n",
                     flags[fl], bad[i]);
            assert_string_equal(err, want);
            assert_memory_equal(&c, &before, sizeof(c));
        }
    }
    /* The host's room: 255 bytes. */
    char text[300];
    struct pf_config c;
    const char *err;
    defaults(&c);
    memset(text, 'h', 255);
    strcpy(text + 255, ":1");
    assert_int_equal(set(&c, "grpc-addr", text, &err), 0);
    assert_int_equal(strlen(c.grpc_addr.host), 255);
    memset(text, 'h', 256);
    strcpy(text + 256, ":1");
    assert_int_equal(set(&c, "grpc-addr", text, &err), -1);
}

static void test_log_level(void **state)
{
    (void)state;
    static const char *const names[] = { "error", "warn", "info", "debug" };
    static const int levels[] = { PF_LOG_ERROR, PF_LOG_WARN, PF_LOG_INFO, PF_LOG_DEBUG };
    struct pf_config c;
    const char *err;
    defaults(&c);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(set(&c, "log-level", names[i], &err), 0);
        assert_int_equal(c.log_level, levels[i]);
    }
    const char *bad[] = { "loud", "INFO", "", "info " };
    for (int i = 0; i < 4; i++) {
        char want[128];
        assert_int_equal(set(&c, "log-level", bad[i], &err), -1);
        snprintf(want, sizeof(want),
                 "pfgate: --log-level wants error, warn, info or debug, got '%s'\n", bad[i]);
        assert_string_equal(err, want);
        assert_int_equal(c.log_level, PF_LOG_DEBUG);
    }
}

static void test_web_root(void **state)
{
    (void)state;
    static char path[sizeof(((struct pf_config *)0)->web_root) + 1];
    struct pf_config c;
    const char *err;
    defaults(&c);
    memset(path, 'p', sizeof(path) - 2); /* 4095 bytes: the most */
    assert_int_equal(set(&c, "web-root", path, &err), 0);
    assert_string_equal(c.web_root, path);
    path[sizeof(path) - 2] = 'p'; /* 4096 */
    assert_int_equal(set(&c, "web-root", path, &err), -1);
    assert_string_equal(err, "pfgate: --web-root wants a path of at most 4095 bytes, got "
                             "4096 bytes\n");
    assert_int_equal(strlen(c.web_root), 4095);
}

static void test_allow_origin_repeats(void **state)
{
    (void)state;
    static char names[16][32];
    struct pf_config c;
    const char *err;
    defaults(&c);
    for (int i = 0; i < 16; i++) {
        snprintf(names[i], sizeof(names[i]), "https://o%d", i);
        assert_int_equal(set(&c, "allow-origin", names[i], &err), 0);
    }
    assert_int_equal(c.n_allow_origins, 16);
    for (int i = 0; i < 16; i++)
        assert_string_equal(c.allow_origins[i], names[i]);
    assert_int_equal(set(&c, "allow-origin", "https://one-too-many", &err), -1);
    assert_string_equal(err, "pfgate: at most 16 --allow-origin flags\n");
    assert_int_equal(c.n_allow_origins, 16);
}

static void test_command_line(void **state)
{
    (void)state;
    struct pf_config c;
    const char *err;
    assert_int_equal(parse(&c, 2, &err, "--grpc-addr", "[::1]:0", "--reuse-port", "--tls-cert",
                           "c.pem", "--tls-key", "k.pem", "--max-streams=7", "--threads", "3",
                           NULL),
                     0);
    assert_string_equal(err, "");
    assert_string_equal(c.grpc_addr.host, "::1");
    assert_true(c.reuse_port);
    assert_string_equal(c.tls_cert, "c.pem");
    assert_string_equal(c.tls_key, "k.pem");
    assert_int_equal(c.max_streams_per_conn, 7);
    assert_int_equal(c.grpc_threads, 3);
    assert_int_equal(c.max_pending, 1024); /* the rest keep their defaults */

    static const struct { const char *args[3]; const char *err; } bad[] = {
        { { "--no-such-flag" }, "pfgate: unknown or ambiguous flag '--no-such-flag'; see pfgate --help\n" },
        { { "--max-stream", "5" }, "pfgate: unknown or ambiguous flag '--max-stream'; see pfgate --help\n" },
        { { "-h" }, "pfgate: unknown or ambiguous flag '-h'; see pfgate --help\n" },
        { { "--grpc-addr" }, "pfgate: --grpc-addr wants a value (HOST:PORT); see pfgate --help\n" },
        { { "--threads" }, "pfgate: --threads wants a value (N); see pfgate --help\n" },
        { { "--reuse-port=1" }, "pfgate: --reuse-port takes no value, got '--reuse-port=1'; see pfgate --help\n" },
        { { "stray" }, "pfgate: unexpected argument 'stray'; see pfgate --help\n" },
        { { "--tls-cert", "c.pem" }, "pfgate: --tls-cert and --tls-key go together\n" },
        { { "--tls-key", "k.pem" }, "pfgate: --tls-cert and --tls-key go together\n" },
        { { "--max-line", "63" }, "pfgate: --max-line wants a whole number from 64 to 16777216, got '63'\n" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *a0 = (char *)bad[i].args[0], *a1 = (char *)bad[i].args[1];
        assert_int_equal(parse(&c, 2, &err, a0, a1, NULL), -1);
        assert_string_equal(err, bad[i].err);
    }
}

/* The usage is made from the table: the layout of two rows, and every flag
 * and every default in it. */
static void test_usage(void **state)
{
    (void)state;
    struct pf_config c;
    const char *out;
    assert_int_equal(parse(&c, 1, &out, "--help", NULL), 1);
    assert_true(strncmp(out, "usage: pfgate [flags]\n\n", 23) == 0);
    assert_non_null(strstr(out,
        "\n  --max-pending N          numbers held per stream before pfgate stops reading\n"
        "                           that stream (flow control; default 1024)\n"
        "                           (env PFGATE_MAX_PENDING)\n"));
    assert_non_null(strstr(out,
        "\n  --drain-timeout SECONDS  on SIGINT/SIGTERM, time to finish open streams\n"
        "                           before they are cancelled (default 5)\n"));
    assert_non_null(strstr(out, "\n  --reuse-port             share both ports"));
    for (size_t i = 0; i < pf_n_flags; i++) {
        char line[128];
        snprintf(line, sizeof(line), "\n  --%s%s%s ", pf_flags[i].name, pf_flags[i].arg ? " " : "",
                 pf_flags[i].arg ? pf_flags[i].arg : "");
        assert_non_null(strstr(out, line));
        if (pf_flags[i].def) {
            snprintf(line, sizeof(line), "default %s", pf_flags[i].def);
            assert_non_null(strstr(out, line));
        }
        char env[64];
        if (pf_flag_env_name(&pf_flags[i], env, sizeof(env))) {
            snprintf(line, sizeof(line), "\n                           (env %s)\n", env);
            assert_non_null(strstr(out, line));
        }
    }
    assert_null(strstr(out, "PFGATE_HELP"));
    assert_null(strstr(out, "PFGATE_VERSION"));
    assert_null(strstr(out, "%D"));
}


/* Unsets every PFGATE_ variable, so that each test starts from none. */
static void clear_env(void)
{
    for (size_t i = 0; i < pf_n_flags; i++) {
        char name[64];
        if (pf_flag_env_name(&pf_flags[i], name, sizeof(name)))
            unsetenv(name);
    }
    unsetenv("PFGATE_MAX_FRAMES");
}

static void test_env_names(void **state)
{
    (void)state;
    char name[64];
    assert_true(pf_flag_env_name(pf_flag_find("grpc-addr"), name, sizeof(name)));
    assert_string_equal(name, "PFGATE_GRPC_ADDR");
    assert_true(pf_flag_env_name(pf_flag_find("max-queued-per-stream"), name, sizeof(name)));
    assert_string_equal(name, "PFGATE_MAX_QUEUED_PER_STREAM");
    assert_false(pf_flag_env_name(pf_flag_find("help"), name, sizeof(name)));
    assert_false(pf_flag_env_name(pf_flag_find("version"), name, sizeof(name)));
    /* Every other flag has one, and no two share it. */
    int with = 0;
    for (size_t i = 0; i < pf_n_flags; i++) {
        char other[64];
        if (!pf_flag_env_name(&pf_flags[i], name, sizeof(name)))
            continue;
        with++;
        for (size_t j = 0; j < i; j++)
            assert_true(!pf_flag_env_name(&pf_flags[j], other, sizeof(other)) ||
                        strcmp(name, other) != 0);
    }
    assert_int_equal(with, (int)pf_n_flags - 2);
}

/* A variable gives the value when the command line does not. */
static void test_env_used(void **state)
{
    (void)state;
    clear_env();
    setenv("PFGATE_GRPC_ADDR", "127.0.0.1:0", 1);
    setenv("PFGATE_MAX_FRAME", "1000", 1);
    setenv("PFGATE_DRAIN_TIMEOUT", "0.5", 1);
    setenv("PFGATE_LOG_LEVEL", "debug", 1);
    setenv("PFGATE_ACCESS_LOG", "-", 1);
    setenv("PFGATE_LOG_FORMAT", "json", 1);
    setenv("PFGATE_WEB_ROOT", "/srv/web", 1);
    setenv("PFGATE_TLS_CERT", "c.pem", 1);
    setenv("PFGATE_TLS_KEY", "k.pem", 1);
    struct pf_config c;
    const char *err;
    assert_int_equal(parse(&c, 2, &err, NULL), 0);
    assert_string_equal(err, "");
    assert_string_equal(c.grpc_addr.host, "127.0.0.1");
    assert_int_equal(c.grpc_addr.port, 0);
    assert_int_equal(c.max_frame, 1000);
    assert_true(c.drain_timeout == 0.5);
    assert_int_equal(c.log_level, PF_LOG_DEBUG);
    assert_string_equal(c.access_log, "-");
    assert_int_equal(c.log_format, PF_LOG_FORMAT_JSON);
    assert_string_equal(c.web_root, "/srv/web");
    assert_string_equal(c.tls_cert, "c.pem");
    assert_string_equal(c.tls_key, "k.pem");
    assert_int_equal(c.max_line, 16384); /* no variable: the default */
    /* Empty is not set: the default stays. */
    setenv("PFGATE_MAX_FRAME", "", 1);
    assert_int_equal(parse(&c, 2, &err, NULL), 0);
    assert_string_equal(err, "");
    assert_int_equal(c.max_frame, 16384);
    clear_env();
}

/* A flag on the command line wins over its variable, whose value is then
 * not even looked at; a list flag replaces the variable's whole list. */
static void test_env_flag_wins(void **state)
{
    (void)state;
    clear_env();
    setenv("PFGATE_MAX_FRAME", "1000", 1);
    setenv("PFGATE_MAX_LINE", "not a number", 1);
    setenv("PFGATE_ALLOW_ORIGIN", "https://a,https://b", 1);
    setenv("PFGATE_REUSE_PORT", "no", 1);
    struct pf_config c;
    const char *err;
    assert_int_equal(parse(&c, 2, &err, "--max-frame", "2000", "--max-line", "100",
                           "--allow-origin", "https://c", "--reuse-port", NULL),
                     0);
    assert_string_equal(err, "");
    assert_int_equal(c.max_frame, 2000);
    assert_int_equal(c.max_line, 100);
    assert_int_equal(c.n_allow_origins, 1);
    assert_string_equal(c.allow_origins[0], "https://c");
    assert_true(c.reuse_port);
    clear_env();
}

/* A bad value stops the start with the variable's name, like a bad flag. */
static void test_env_bad_value_names_variable(void **state)
{
    (void)state;
    static const struct { const char *name, *value, *err; } bad[] = {
        { "PFGATE_MAX_FRAME", "12abc",
          "pfgate: PFGATE_MAX_FRAME: --max-frame wants a whole number from 64 to 16777216, "
          "got '12abc'\n" },
        { "PFGATE_GRPC_ADDR", "nowhere",
          "pfgate: PFGATE_GRPC_ADDR: --grpc-addr wants HOST:PORT with a port from 0 to 65535, "
          "got 'nowhere'\n" },
        { "PFGATE_DRAIN_TIMEOUT", "-1",
          "pfgate: PFGATE_DRAIN_TIMEOUT: --drain-timeout wants seconds from 0 to 3600, got "
          "'-1'\n" },
        { "PFGATE_LOG_FORMAT", "xml",
          "pfgate: PFGATE_LOG_FORMAT: --log-format wants text or json, got 'xml'\n" },
        { "PFGATE_REUSE_PORT", "maybe",
          "pfgate: PFGATE_REUSE_PORT: --reuse-port wants 1, 0, true, false, yes or no, got "
          "'maybe'\n" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        clear_env();
        setenv(bad[i].name, bad[i].value, 1);
        struct pf_config c;
        const char *err;
        assert_int_equal(parse(&c, 2, &err, NULL), -1);
        assert_string_equal(err, bad[i].err);
    }
    clear_env();
}

static void test_env_switch_forms(void **state)
{
    (void)state;
    static const struct { const char *text; bool on; } forms[] = {
        { "1", true }, { "true", true }, { "yes", true }, { "TRUE", true }, { "Yes", true },
        { "0", false }, { "false", false }, { "no", false }, { "FALSE", false }, { "No", false },
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        clear_env();
        setenv("PFGATE_REUSE_PORT", forms[i].text, 1);
        struct pf_config c;
        const char *err;
        assert_int_equal(parse(&c, 2, &err, NULL), 0);
        assert_string_equal(err, "");
        assert_int_equal(c.reuse_port, forms[i].on);
    }
    clear_env();
}

static void test_env_list(void **state)
{
    (void)state;
    clear_env();
    setenv("PFGATE_ALLOW_ORIGIN", " https://a, https://b ,,https://c,", 1);
    struct pf_config c;
    const char *err;
    assert_int_equal(parse(&c, 2, &err, NULL), 0);
    assert_string_equal(err, "");
    assert_int_equal(c.n_allow_origins, 3);
    assert_string_equal(c.allow_origins[0], "https://a");
    assert_string_equal(c.allow_origins[1], "https://b");
    assert_string_equal(c.allow_origins[2], "https://c");
    /* The same bound as the flag's. */
    char many[17 * 4 + 1] = "";
    for (int i = 0; i < 17; i++)
        strcat(many, "o,");
    setenv("PFGATE_ALLOW_ORIGIN", many, 1);
    assert_int_equal(parse(&c, 2, &err, NULL), -1);
    assert_string_equal(err, "pfgate: PFGATE_ALLOW_ORIGIN: at most 16 --allow-origin values\n");
    clear_env();
}

/* A PFGATE_ variable of no flag (a typo) is warned about; the start goes on. */
static void test_env_unknown_warns(void **state)
{
    (void)state;
    clear_env();
    setenv("PFGATE_MAX_FRAMES", "1000", 1);
    struct pf_config c;
    const char *err;
    assert_int_equal(parse(&c, 2, &err, NULL), 0);
    assert_string_equal(err,
                        "pfgate: warning: PFGATE_MAX_FRAMES names no flag (ignored); see pfgate --help\n");
    assert_int_equal(c.max_frame, 16384);
    clear_env();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_table_shape),
        cmocka_unit_test(test_bounds_of_every_number),
        cmocka_unit_test(test_seconds_take_fractions),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_log_level),
        cmocka_unit_test(test_web_root),
        cmocka_unit_test(test_allow_origin_repeats),
        cmocka_unit_test(test_command_line),
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_env_names),
        cmocka_unit_test(test_env_used),
        cmocka_unit_test(test_env_flag_wins),
        cmocka_unit_test(test_env_bad_value_names_variable),
        cmocka_unit_test(test_env_switch_forms),
        cmocka_unit_test(test_env_list),
        cmocka_unit_test(test_env_unknown_warns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
