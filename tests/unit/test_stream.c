/* Unit tests for core/stream.c (pf_stream) and core/errors.c (pf_strerror).
 *
 * Expected answers come from a trial-division oracle in this file, not from
 * pf_factor, so that a stream that reorders, drops or repeats answers fails
 * even if it agrees with itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pf.h"
#include "stream.h"

#define assert_i64(got, want)                                                                   \
    do {                                                                                        \
        int64_t g_ = (got), w_ = (want);                                                        \
        if (g_ != w_)                                                                           \
            fail_msg("%s = %" PRId64 ", want %" PRId64, #got, g_, w_);                          \
    } while (0)

#define MAX_ANSWERS 64

/* One request and the answers it must produce. */
struct expected {
    pf_request req;
    size_t n;                       /* answers */
    int64_t results[MAX_ANSWERS];   /* result of each answer */
    const char *error;              /* on the single answer, or NULL */
};

/* Trial division, for the small numbers the model tests use. */
static size_t oracle_factor(int64_t n, int64_t *out)
{
    size_t k = 0;
    for (int64_t p = 2; p * p <= n; p++)
        while (n % p == 0) {
            out[k++] = p;
            n /= p;
        }
    if (n > 1)
        out[k++] = n;
    return k;
}

static struct expected expect_for(int64_t num, int err, uint64_t stamp)
{
    struct expected e = {.req = {.num = num, .err = err, .stamp = stamp}};
    if (err != PF_OK || num < 0) {
        e.n = 1;
        e.error = pf_strerror(err != PF_OK ? err : PF_ENEGATIVE);
    } else if (num < 2) {
        e.n = 1;
    } else {
        e.n = oracle_factor(num, e.results);
    }
    return e;
}

static pf_stream *new_stream(size_t max_pending)
{
    pf_stream *s = NULL;
    assert_int_equal(pf_stream_new(max_pending, NULL, NULL, NULL, &s), PF_OK);
    assert_non_null(s);
    assert_int_equal(pf_stream_pending(s), 0);
    assert_true(pf_stream_want_read(s));
    return s;
}

static void push_ok(pf_stream *s, const pf_request *req)
{
    size_t before = pf_stream_pending(s);
    assert_int_equal(pf_stream_push(s, req), PF_OK);
    assert_int_equal(pf_stream_pending(s), before + 1);
}

/* Pops answer i of e (0-based) and checks every field. */
static void pop_expect(pf_stream *s, const struct expected *e, size_t i)
{
    pf_response r;
    memset(&r, 0xa5, sizeof r);
    int rc = pf_stream_pop(s, &r);
    if (rc != PF_OK)
        fail_msg("pop for num %" PRId64 " answer %zu: rc %d (%s)", e->req.num, i, rc,
                 pf_strerror(rc));
    int64_t want_result = e->error || e->req.num < 2 ? 0 : e->results[i];
    if (r.num != e->req.num || r.result != want_result || r.last != (i + 1 == e->n) ||
        r.stamp != e->req.stamp)
        fail_msg("num %" PRId64 " answer %zu/%zu: got {result %" PRId64 ", num %" PRId64
                 ", last %d, stamp %" PRIu64 "}, want {result %" PRId64 ", last %d, stamp %" PRIu64
                 "}",
                 e->req.num, i + 1, e->n, r.result, r.num, r.last, r.stamp, want_result,
                 i + 1 == e->n, e->req.stamp);
    if (e->error) {
        assert_non_null(r.error);
        assert_string_equal(r.error, e->error);
    } else if (r.error) {
        fail_msg("num %" PRId64 " answer %zu: unexpected error \"%s\"", e->req.num, i, r.error);
    }
}

/* Pops every answer of e. */
static void pop_all(pf_stream *s, const struct expected *e)
{
    for (size_t i = 0; i < e->n; i++)
        pop_expect(s, e, i);
}

static void assert_empty(pf_stream *s)
{
    pf_response r;
    assert_int_equal(pf_stream_pop(s, &r), PF_EAGAIN);
    assert_int_equal(pf_stream_pending(s), 0);
    assert_true(pf_stream_want_read(s));
}

static void test_new_and_free(void **state)
{
    (void)state;
    pf_stream *s = NULL;
    assert_int_equal(pf_stream_new(0, NULL, NULL, NULL, &s), PF_EINVAL);
    assert_null(s);
    assert_int_equal(pf_stream_new(8, NULL, NULL, NULL, NULL), PF_EINVAL);
    pf_stream_free(NULL);

    s = new_stream(1);
    assert_empty(s);
    pf_stream_free(s);
    /* A stream freed while it holds requests, some half answered, leaks nothing. */
    s = new_stream(100);
    for (int64_t n = 2; n < 40; n++)
        push_ok(s, &(pf_request){.num = n});
    pf_response r;
    assert_int_equal(pf_stream_pop(s, &r), PF_OK);
    assert_int_equal(pf_stream_pop(s, &r), PF_OK);
    assert_int_equal(pf_stream_pop(s, &r), PF_OK); /* 4 = 2*2: its first answer */
    assert_false(r.last);
    pf_stream_free(s);
}

static void test_empty_is_eagain(void **state)
{
    (void)state;
    pf_stream *s = new_stream(4);
    pf_response r;
    assert_int_equal(pf_stream_pop(s, &r), PF_EAGAIN);
    assert_int_equal(pf_stream_pop(s, &r), PF_EAGAIN);
    struct expected e = expect_for(7, PF_OK, 1);
    push_ok(s, &e.req);
    pop_all(s, &e);
    assert_empty(s);
    pf_stream_free(s);
}

/* 360 -> 2,2,2,3,3,5: num on every answer, last only on the final one. */
static void test_360(void **state)
{
    (void)state;
    static const int64_t want[] = {2, 2, 2, 3, 3, 5};
    pf_stream *s = new_stream(4);
    push_ok(s, &(pf_request){.num = 360, .stamp = 0xdeadbeefcafeu});
    for (size_t i = 0; i < 6; i++) {
        pf_response r;
        assert_int_equal(pf_stream_pop(s, &r), PF_OK);
        assert_i64(r.result, want[i]);
        assert_i64(r.num, 360);
        assert_int_equal(r.last, i == 5);
        assert_null(r.error);
        assert_int_equal(r.stamp, 0xdeadbeefcafeu);
        assert_int_equal(pf_stream_pending(s), i == 5 ? 0 : 1);
    }
    assert_empty(s);
    pf_stream_free(s);
}

/* Numbers with one answer each, and the largest factor lists. */
static void test_table(void **state)
{
    (void)state;
    static const struct {
        int64_t num;
        int err;
        size_t n;
        int64_t results[MAX_ANSWERS];
        int error; /* PF_OK: no error text */
    } cases[] = {
        {0, PF_OK, 1, {0}, PF_OK},
        {1, PF_OK, 1, {0}, PF_OK},
        {2, PF_OK, 1, {2}, PF_OK},
        {-1, PF_OK, 1, {0}, PF_ENEGATIVE},
        {-5, PF_OK, 1, {0}, PF_ENEGATIVE},
        {-360, PF_OK, 1, {0}, PF_ENEGATIVE},
        {INT64_MIN, PF_OK, 1, {0}, PF_ENEGATIVE},
        {INT64_MIN + 1, PF_OK, 1, {0}, PF_ENEGATIVE},
        /* Decode errors: one answer carrying the error, num copied as given. */
        {0, PF_ESYNTAX, 1, {0}, PF_ESYNTAX},
        {0, PF_ENOTNUM, 1, {0}, PF_ENOTNUM},
        {0, PF_EFRACTION, 1, {0}, PF_EFRACTION},
        {0, PF_ERANGE, 1, {0}, PF_ERANGE},
        {0, PF_EMISSING, 1, {0}, PF_EMISSING},
        {0, PF_EFIELD, 1, {0}, PF_EFIELD},
        {0, PF_ETOOLONG, 1, {0}, PF_ETOOLONG},
        {360, PF_EFIELD, 1, {0}, PF_EFIELD}, /* an error wins over a good num */
        {-5, PF_ESYNTAX, 1, {0}, PF_ESYNTAX},
        {INT64_MAX, PF_OK, 7, {7, 7, 73, 127, 337, 92737, 649657}, PF_OK},
        {9223372036854775783, PF_OK, 1, {9223372036854775783}, PF_OK},
        {(int64_t)1 << 62, PF_OK, 62, {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
                                       2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
                                       2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
                                       2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}, PF_OK},
        {4611686014132420609, PF_OK, 2, {2147483647, 2147483647}, PF_OK},
    };
    pf_stream *s = new_stream(1000);
    /* All queued first, then drained: answers stay in order and per request. */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        push_ok(s, &(pf_request){.num = cases[i].num, .err = cases[i].err, .stamp = 1000 + i});
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct expected e = {
            .req = {.num = cases[i].num, .err = cases[i].err, .stamp = 1000 + i},
            .n = cases[i].n,
            .error = cases[i].error != PF_OK ? pf_strerror(cases[i].error) : NULL,
        };
        memcpy(e.results, cases[i].results, sizeof e.results);
        if (e.error || e.req.num < 2)
            memset(e.results, 0, sizeof e.results);
        pop_all(s, &e);
        assert_int_equal(pf_stream_pending(s), sizeof cases / sizeof cases[0] - i - 1);
    }
    assert_empty(s);
    pf_stream_free(s);
}

/* The error text of a negative number is pf_strerror's own string. */
static void test_error_is_strerror(void **state)
{
    (void)state;
    pf_stream *s = new_stream(2);
    pf_response r;
    push_ok(s, &(pf_request){.num = -5, .stamp = 9});
    assert_int_equal(pf_stream_pop(s, &r), PF_OK);
    assert_ptr_equal(r.error, pf_strerror(PF_ENEGATIVE));
    assert_i64(r.num, -5);
    assert_i64(r.result, 0);
    assert_true(r.last);
    assert_int_equal(r.stamp, 9);
    push_ok(s, &(pf_request){.num = 0, .err = PF_ESYNTAX, .stamp = 10});
    assert_int_equal(pf_stream_pop(s, &r), PF_OK);
    assert_ptr_equal(r.error, pf_strerror(PF_ESYNTAX));
    assert_i64(r.num, 0);
    assert_i64(r.result, 0);
    assert_true(r.last);
    assert_int_equal(r.stamp, 10);
    assert_empty(s);
    pf_stream_free(s);
}

/* 2..2000, with zeros, ones, negatives and decode errors mixed in, all queued
 * at once: every answer in order, each number's answers contiguous. */
static void test_many_in_order(void **state)
{
    (void)state;
    enum { N = 2000 };
    struct expected *e = calloc(N, sizeof(*e));
    assert_non_null(e);
    pf_stream *s = new_stream(N);
    for (int i = 0; i < N; i++) {
        int64_t num = i;
        int err = PF_OK;
        if (i % 97 == 3)
            num = -i;
        if (i % 101 == 5)
            err = PF_ENOTNUM, num = 0;
        e[i] = expect_for(num, err, (uint64_t)i * 31 + 7);
        push_ok(s, &e[i].req);
    }
    assert_false(pf_stream_want_read(s));
    for (int i = 0; i < N; i++) {
        pop_all(s, &e[i]);
        assert_int_equal(pf_stream_pending(s), (size_t)(N - i - 1));
    }
    assert_empty(s);
    pf_stream_free(s);
    free(e);
}

/* PF_EFULL exactly at max_pending, and want_read comes back only when an
 * answer finishes a number, not on a partial answer. */
static void test_full(void **state)
{
    (void)state;
    pf_stream *s = new_stream(3);
    struct expected e12 = expect_for(12, PF_OK, 1), e5 = expect_for(5, PF_OK, 2),
                    e7 = expect_for(7, PF_OK, 3), e11 = expect_for(11, PF_OK, 4);
    push_ok(s, &e12.req);
    assert_true(pf_stream_want_read(s));
    push_ok(s, &e5.req);
    assert_true(pf_stream_want_read(s));
    push_ok(s, &e7.req);
    assert_false(pf_stream_want_read(s));
    assert_int_equal(pf_stream_push(s, &e11.req), PF_EFULL);
    assert_int_equal(pf_stream_pending(s), 3);

    pop_expect(s, &e12, 0); /* 2 of 12 = 2*2*3: not last */
    pop_expect(s, &e12, 1);
    assert_false(pf_stream_want_read(s));
    assert_int_equal(pf_stream_push(s, &e11.req), PF_EFULL);
    assert_int_equal(pf_stream_pending(s), 3);
    pop_expect(s, &e12, 2); /* last answer of 12 */
    assert_true(pf_stream_want_read(s));
    assert_int_equal(pf_stream_pending(s), 2);

    push_ok(s, &e11.req);
    assert_false(pf_stream_want_read(s));
    assert_int_equal(pf_stream_push(s, &e12.req), PF_EFULL);
    pop_all(s, &e5);
    pop_all(s, &e7);
    pop_all(s, &e11); /* the refused requests left no trace */
    assert_empty(s);
    pf_stream_free(s);
}

static void test_max_pending_one(void **state)
{
    (void)state;
    pf_stream *s = new_stream(1);
    for (int64_t n = 0; n < 50; n++) {
        struct expected e = expect_for(n * 6, PF_OK, (uint64_t)n);
        push_ok(s, &e.req);
        assert_false(pf_stream_want_read(s));
        assert_int_equal(pf_stream_push(s, &e.req), PF_EFULL);
        pop_all(s, &e);
        assert_empty(s);
    }
    pf_stream_free(s);
}

/* The ring (8 slots at first) fills past its end while its head is not at 0,
 * then must grow: the wrapped requests keep their order. */
static void test_grow_wrapped(void **state)
{
    (void)state;
    pf_stream *s = new_stream(1000);
    struct expected e[64];
    int next_push = 0, next_pop = 0;
    for (; next_push < 5; next_push++) {
        e[next_push] = expect_for(100 + next_push, PF_OK, (uint64_t)next_push);
        push_ok(s, &e[next_push].req);
    }
    for (; next_pop < 5; next_pop++)
        pop_all(s, &e[next_pop]); /* head is now at slot 5 */
    for (; next_push < 5 + 8; next_push++) { /* slots 5,6,7,0,...,4: full and wrapped */
        e[next_push] = expect_for(100 + next_push, PF_OK, (uint64_t)next_push);
        push_ok(s, &e[next_push].req);
    }
    for (; next_push < 64; next_push++) { /* grows to 16, then 32, then 64 */
        e[next_push] = expect_for(100 + next_push, PF_OK, (uint64_t)next_push);
        push_ok(s, &e[next_push].req);
    }
    assert_int_equal(pf_stream_pending(s), 64 - 5);
    for (; next_pop < 64; next_pop++)
        pop_all(s, &e[next_pop]);
    assert_empty(s);
    pf_stream_free(s);
}

/* The ring grows while the number at its head is half answered. */
static void test_grow_mid_answer(void **state)
{
    (void)state;
    pf_stream *s = new_stream(1000);
    struct expected first = expect_for(360, PF_OK, 1);
    push_ok(s, &first.req);
    pop_expect(s, &first, 0);
    pop_expect(s, &first, 1);
    struct expected rest[40];
    for (int i = 0; i < 40; i++) {
        rest[i] = expect_for(1000 + i, PF_OK, (uint64_t)i + 2);
        push_ok(s, &rest[i].req);
    }
    for (size_t i = 2; i < first.n; i++)
        pop_expect(s, &first, i);
    for (int i = 0; i < 40; i++)
        pop_all(s, &rest[i]);
    assert_empty(s);
    pf_stream_free(s);
}

/* Pushes and pops interleaved at random, far past the first ring size,
 * against a model queue: order, pending counts, EFULL and want_read. */
static void run_model(size_t max_pending, int steps)
{
    size_t cap = max_pending + 1;
    struct expected *model = calloc(cap, sizeof(*model));
    assert_non_null(model);
    size_t head = 0, count = 0, answered = 0; /* answers of model[head] popped */
    pf_stream *s = new_stream(max_pending);
    uint64_t x = 88172645463325252u, stamp = 0;
    int64_t num = 0;
    int full_hits = 0, empty_hits = 0;
    for (int i = 0; i < steps; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* Phases that mostly push, then mostly pop, so that the queue
         * swings between empty and full. */
        bool pushing = (i / 3000) % 2 == 0 ? x % 4 != 0 : x % 4 == 0;
        if (pushing) {
            struct expected e = expect_for(num++ % 5000, PF_OK, stamp++);
            if (num % 13 == 0)
                e = expect_for(-num, PF_OK, stamp++);
            int rc = pf_stream_push(s, &e.req);
            if (count == max_pending) {
                assert_int_equal(rc, PF_EFULL);
                full_hits++;
            } else {
                assert_int_equal(rc, PF_OK);
                model[(head + count) % cap] = e;
                count++;
            }
        } else if (count == 0) {
            pf_response r;
            assert_int_equal(pf_stream_pop(s, &r), PF_EAGAIN);
            empty_hits++;
        } else {
            const struct expected *e = &model[head % cap];
            pop_expect(s, e, answered++);
            if (answered == e->n) {
                head = (head + 1) % cap;
                count--;
                answered = 0;
            }
        }
        assert_int_equal(pf_stream_pending(s), count);
        assert_int_equal(pf_stream_want_read(s), count < max_pending);
    }
    /* The run must have swung between both ends, or it proved little. */
    assert_true(full_hits > 0);
    assert_true(empty_hits > 0);
    while (count) {
        const struct expected *e = &model[head];
        while (answered < e->n)
            pop_expect(s, e, answered++);
        head = (head + 1) % cap;
        count--;
        answered = 0;
    }
    assert_empty(s);
    pf_stream_free(s);
    free(model);
}

static void test_model_1000(void **state)
{
    (void)state;
    run_model(1000, 24000);
}

static void test_model_3(void **state)
{
    (void)state;
    run_model(3, 24000);
}

static void test_model_9(void **state)
{
    (void)state;
    run_model(9, 24000); /* one past the first ring size */
}

/* Every code has its own non-empty text, and none is the fallback's. */
static void test_strerror(void **state)
{
    (void)state;
    static const int codes[] = {
        PF_OK,        PF_EAGAIN,    PF_EFULL,   PF_ENOMEM,   PF_EINVAL,
        PF_ENEGATIVE, PF_ESYNTAX,   PF_ENOTNUM, PF_EFRACTION, PF_ERANGE,
        PF_EMISSING,  PF_EFIELD,    PF_ETOOLONG,
    };
    enum { N = sizeof codes / sizeof codes[0] };
    const char *unknown = pf_strerror(12345);
    assert_non_null(unknown);
    assert_true(unknown[0] != '\0');
    assert_string_equal(pf_strerror(-9999), unknown);
    for (size_t i = 0; i < N; i++) {
        const char *t = pf_strerror(codes[i]);
        assert_non_null(t);
        if (t[0] == '\0' || strcmp(t, unknown) == 0)
            fail_msg("pf_strerror(%d) = \"%s\"", codes[i], t);
        assert_string_equal(pf_strerror(codes[i]), t); /* stable */
        for (size_t j = 0; j < i; j++)
            if (strcmp(t, pf_strerror(codes[j])) == 0)
                fail_msg("pf_strerror(%d) and pf_strerror(%d) are both \"%s\"", codes[i],
                         codes[j], t);
    }
}

/* The life counts: numbers pushed (a refused push is not one), answers
 * popped, error answers among them. */
static void test_counts(void **state)
{
    (void)state;
    pf_stream *s = new_stream(2);
    struct pf_stream_counts c = { 9, 9, 9 };
    pf_stream_counts(NULL, &c); /* NULL: left as it is */
    assert_int_equal(c.numbers, 9);
    pf_stream_counts(s, &c);
    assert_int_equal(c.numbers + c.answers + c.errors, 0);
    pf_request twelve = { .num = 12 }, bad = { .err = PF_ESYNTAX }, neg = { .num = -5 };
    push_ok(s, &twelve);
    push_ok(s, &bad);
    assert_int_equal(pf_stream_push(s, &twelve), PF_EFULL);
    pf_response r;
    for (int i = 0; i < 4; i++) /* 2, 2, 3, the error */
        assert_int_equal(pf_stream_pop(s, &r), PF_OK);
    assert_int_equal(pf_stream_pop(s, &r), PF_EAGAIN);
    push_ok(s, &neg);
    assert_int_equal(pf_stream_pop_now(s, &r), PF_OK);
    pf_stream_counts(s, &c);
    assert_int_equal(c.numbers, 3);
    assert_int_equal(c.answers, 5);
    assert_int_equal(c.errors, 2);
    pf_stream_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_and_free),
        cmocka_unit_test(test_empty_is_eagain),
        cmocka_unit_test(test_360),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_error_is_strerror),
        cmocka_unit_test(test_many_in_order),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_max_pending_one),
        cmocka_unit_test(test_grow_wrapped),
        cmocka_unit_test(test_grow_mid_answer),
        cmocka_unit_test(test_model_1000),
        cmocka_unit_test(test_model_3),
        cmocka_unit_test(test_model_9),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_counts),
    };
    return cmocka_run_group_tests_name("stream", tests, NULL, NULL);
}
