/* Unit tests for gateway/access_log.c: the exact line in both formats, the
 * escaping of hostile paths, and the reopen behind the same descriptor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "access_log.h"

/* 2026-12-06T19:30:05.123Z */
static const struct timespec wall = { 1796585405, 123456789 };

static const char *line_of(const struct pf_access_rec *r, bool json, uint64_t now_ns)
{
    static char buf[PF_ACCESS_LINE_MAX];
    size_t n = pf_access_log_format(r, json, now_ns, &wall, buf);
    assert_true(n < sizeof(buf));
    buf[n] = '\0';
    return buf;
}

static void test_logfmt_line(void **state)
{
    (void)state;
    static const char path[] = "/primefactor.Factors/PrimeFactors";
    struct pf_access_rec r = { .front = PF_ACCESS_GRPC, .peer = "127.0.0.1:40000",
                               .path = path, .path_len = sizeof(path) - 1, .status = 0,
                               .numbers = 3, .answers = 7, .errors = 1, .bytes_in = -1,
                               .bytes_out = -1, .start_ns = 1000000000 };
    assert_string_equal(line_of(&r, false, 1012345678),
                        "time=2026-12-06T19:30:05.123Z front=grpc peer=127.0.0.1:40000 "
                        "path=/primefactor.Factors/PrimeFactors status=0 numbers=3 answers=7 "
                        "errors=1 duration_ms=12.345\n");
    r.front = PF_ACCESS_NDJSON;
    r.bytes_in = 10;
    r.bytes_out = 200;
    r.peer = NULL;
    r.status = 200;
    assert_string_equal(line_of(&r, false, 1000000000),
                        "time=2026-12-06T19:30:05.123Z front=ndjson "
                        "path=/primefactor.Factors/PrimeFactors status=200 numbers=3 answers=7 "
                        "errors=1 bytes_in=10 bytes_out=200 duration_ms=0.000\n");
}

static void test_json_line(void **state)
{
    (void)state;
    static const char path[] = "/v1/factors/12";
    struct pf_access_rec r = { .front = PF_ACCESS_HTTP, .peer = "[::1]:5",
                               .path = path, .path_len = sizeof(path) - 1, .status = 404,
                               .numbers = 1, .answers = 2, .errors = 0, .bytes_in = -1,
                               .bytes_out = 99, .start_ns = 5 };
    assert_string_equal(line_of(&r, true, 2000005),
                        "{\"time\":\"2026-12-06T19:30:05.123Z\",\"front\":\"http\","
                        "\"peer\":\"[::1]:5\",\"path\":\"/v1/factors/12\",\"status\":404,"
                        "\"numbers\":1,\"answers\":2,\"errors\":0,\"bytes_out\":99,"
                        "\"duration_ms\":2.000}\n");
    r.front = PF_ACCESS_WS;
    r.status = 1000;
    r.peer = NULL;
    r.bytes_out = -1;
    assert_string_equal(line_of(&r, true, 5),
                        "{\"time\":\"2026-12-06T19:30:05.123Z\",\"front\":\"ws\","
                        "\"path\":\"/v1/factors/12\",\"status\":1000,\"numbers\":1,"
                        "\"answers\":2,\"errors\":0,\"duration_ms\":0.000}\n");
}

/* Quotes, backslashes, '=', control bytes, bytes that are not UTF-8 and
 * valid UTF-8, in both formats. */
static void test_hostile_path(void **state)
{
    (void)state;
    static const char path[] = "/a b\"c\\d=e\nf\x01g\xff\xc3\xa9h\xe2\x82";
    struct pf_access_rec r = { .front = PF_ACCESS_HTTP, .path = path,
                               .path_len = sizeof(path) - 1, .status = 404, .bytes_in = -1,
                               .bytes_out = -1 };
    const char *l = line_of(&r, false, 0);
    assert_non_null(strstr(l, " path=\"/a b\\\"c\\\\d=e\\nf\\x01g\\xff\xc3\xa9h\\xe2\\x82\" "
                              "status=404 "));
    l = line_of(&r, true, 0);
    assert_non_null(strstr(l, ",\"path\":\"/a b\\\"c\\\\d=e\\nf\\u0001g\\u00ff\xc3\xa9h\\u00e2"
                              "\\u0082\",\"status\":404,"));
    /* Empty: quoted in logfmt too. */
    r.path_len = 0;
    assert_non_null(strstr(line_of(&r, false, 0), " path=\"\" status=404 "));
}

/* A long path is cut at PF_ACCESS_PATH_MAX bytes and ends with "..."; the
 * worst case (every byte escaped) still fits one line of the buffer. */
static void test_long_path_is_bounded(void **state)
{
    (void)state;
    static char path[100000];
    memset(path, 'p', sizeof(path));
    struct pf_access_rec r = { .front = PF_ACCESS_HTTP, .path = path, .path_len = sizeof(path),
                               .status = 414, .bytes_in = -1, .bytes_out = -1 };
    char want[PF_ACCESS_PATH_MAX + 32] = " path=\"";
    memset(want + 7, 'p', PF_ACCESS_PATH_MAX);
    strcpy(want + 7 + PF_ACCESS_PATH_MAX, "...\" status=414");
    assert_non_null(strstr(line_of(&r, false, 0), want));

    memset(path, 0x01, sizeof(path));
    static char peer[1000];
    memset(peer, 0x02, sizeof(peer) - 1);
    r.peer = peer;
    for (int json = 0; json < 2; json++) {
        const char *l = line_of(&r, json, UINT64_MAX);
        assert_true(strlen(l) < 4096); /* PIPE_BUF: one write is one line on a pipe */
        assert_ptr_equal(strchr(l, '\n'), l + strlen(l) - 1);
    }
}

/* The file's text, to free. */
static char *slurp(const char *name)
{
    char buf[8192];
    FILE *f = fopen(name, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strdup(buf);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* After a rename (logrotate), reopen sends the next line to a new file at
 * the path; the renamed one keeps its lines. */
static void test_reopen(void **state)
{
    (void)state;
    char dir[] = "/tmp/pf-access-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char name[64], rotated[64];
    snprintf(name, sizeof(name), "%s/access.log", dir);
    snprintf(rotated, sizeof(rotated), "%s/access.log.1", dir);
    assert_int_equal(pf_access_log_open(name, false), 0);
    assert_true(pf_access_log_on());
    struct pf_access_rec r = { .front = PF_ACCESS_HTTP, .path = "/one", .path_len = 4,
                               .status = 200, .bytes_in = -1, .bytes_out = -1 };
    pf_access_log_write(&r);
    pf_access_log_write(&r);
    assert_int_equal(rename(name, rotated), 0);
    r.path = "/two";
    pf_access_log_write(&r); /* still the old file, until the reopen */
    assert_int_equal(pf_access_log_reopen(), 1);
    r.path = "/three";
    r.path_len = 6;
    pf_access_log_write(&r);
    pf_access_log_close();
    assert_false(pf_access_log_on());

    char *old = slurp(rotated);
    assert_int_equal(count_lines(old), 3);
    assert_non_null(strstr(old, " path=/two "));
    assert_null(strstr(old, "/three"));
    char *now = slurp(name);
    assert_int_equal(count_lines(now), 1);
    assert_non_null(strstr(now, " path=/three "));
    free(old);
    free(now);
    unlink(name);
    unlink(rotated);
    rmdir(dir);
}

static void test_off(void **state)
{
    (void)state;
    assert_int_equal(pf_access_log_open(NULL, true), 0);
    assert_false(pf_access_log_on());
    assert_int_equal(pf_access_log_reopen(), 0);
    assert_int_equal(pf_access_log_open("/nonexistent-dir/x.log", false), -1);
    assert_false(pf_access_log_on());
}

/* Lines from several threads at once, through the buffer and its writer:
 * every line arrives whole, once. */
#define THREADS 4
#define LINES_EACH 5000

static void *log_lines(void *arg)
{
    char path[32];
    int n = snprintf(path, sizeof(path), "/t%ld", (long)(intptr_t)arg);
    struct pf_access_rec r = { .front = PF_ACCESS_GRPC, .path = path, .path_len = (size_t)n,
                               .bytes_in = -1, .bytes_out = -1 };
    for (int i = 0; i < LINES_EACH; i++) {
        r.numbers = (uint64_t)i;
        pf_access_log_write(&r);
    }
    return NULL;
}

static void test_threads_never_interleave(void **state)
{
    (void)state;
    char name[] = "/tmp/pf-access-lines-XXXXXX";
    int fd = mkstemp(name);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(pf_access_log_open(name, false), 0);
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, log_lines, (void *)(intptr_t)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pf_access_log_close(); /* writes out what the buffer holds */

    FILE *f = fopen(name, "r");
    assert_non_null(f);
    static int next[THREADS];
    char line[PF_ACCESS_LINE_MAX];
    int lines = 0;
    while (fgets(line, sizeof(line), f)) {
        int th, num;
        assert_int_equal(sscanf(line, "time=%*s front=grpc path=/t%d status=0 numbers=%d answers=0 "
                                      "errors=0 duration_ms=0.000\n", &th, &num), 2);
        assert_true(th >= 0 && th < THREADS);
        assert_int_equal(num, next[th]++); /* each thread's lines in order, none lost */
        lines++;
    }
    fclose(f);
    unlink(name);
    assert_int_equal(lines, THREADS * LINES_EACH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logfmt_line),
        cmocka_unit_test(test_json_line),
        cmocka_unit_test(test_hostile_path),
        cmocka_unit_test(test_long_path_is_bounded),
        cmocka_unit_test(test_reopen),
        cmocka_unit_test(test_off),
        cmocka_unit_test(test_threads_never_interleave),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
