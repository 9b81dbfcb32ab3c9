/* Unit tests for gateway/grpc/h2_guard.c: the HTTP/2 guard between a gRPC client
 * and grpc core, fed hand-built frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "h2_guard.h"

enum { DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE,
       CONTINUATION };
#define END_STREAM 0x1
#define END_HEADERS 0x4
#define PADDED 0x8
#define MAX_MESSAGE 4096
#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

/* Bytes built up by a test. */
struct bytes {
    uint8_t b[1 << 20];
    size_t n;
};

static void add(struct bytes *o, const void *p, size_t n)
{
    assert_true(o->n + n <= sizeof(o->b));
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void frame(struct bytes *o, uint8_t type, uint8_t flags, uint32_t sid, const void *p,
                  size_t n)
{
    uint8_t h[9] = { (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, type, flags,
                     (uint8_t)(sid >> 24), (uint8_t)(sid >> 16), (uint8_t)(sid >> 8), (uint8_t)sid };
    add(o, h, 9);
    if (n)
        add(o, p, n);
}

static void frame32(struct bytes *o, uint8_t type, uint32_t sid, uint32_t v)
{
    uint8_t p[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    frame(o, type, 0, sid, p, 4);
}

/* A gRPC message: flag, 4-byte length, then `len` bytes of 0x08 (or none
 * when body is false: a prefix that only announces). */
static void message(struct bytes *o, uint8_t flag, uint32_t len, bool body)
{
    uint8_t p[5] = { flag, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                     (uint8_t)len };
    add(o, p, 5);
    for (uint32_t i = 0; body && i < len; i++)
        add(o, "\x08", 1);
}

/* Some header block: the guard never looks inside. */
static const uint8_t block[] = { 0x83, 0x86, 0x04, 0x03, 'a', 'b', 'c' };

struct fixture {
    pf_h2_guard *g;
    struct pf_h2_limits lim;
    struct bytes to_server, to_client;
    int64_t now;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    pf_h2_limits_default(&f->lim, MAX_MESSAGE, 100);
    f->g = pf_h2_guard_new(&f->lim);
    f->now = 1000;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    pf_h2_guard_free(f->g);
    free(f);
    return 0;
}

/* Feeds client bytes in pieces of `step` (0: all at once), with room. */
static void from_client(struct fixture *f, const struct bytes *in, size_t step)
{
    static uint8_t out[1 << 21];
    size_t at = 0;
    do {
        size_t n = step && in->n - at > step ? step : in->n - at;
        struct pf_h2_out o = { out, 0, sizeof(out) };
        assert_int_equal(pf_h2_guard_from_client(f->g, f->now, in->b + at, n, &o), n);
        add(&f->to_server, out, o.len);
        at += n;
    } while (at < in->n);
}

static void from_server(struct fixture *f, const struct bytes *in)
{
    static uint8_t out[1 << 21];
    struct pf_h2_out o = { out, 0, sizeof(out) };
    assert_int_equal(pf_h2_guard_from_server(f->g, in->b, in->n, &o), in->n);
    add(&f->to_client, out, o.len);
}

static void flush_to_client(struct fixture *f)
{
    static struct bytes none;
    none.n = 0;
    from_server(f, &none);
}

static void hello(struct fixture *f)
{
    struct bytes *in = calloc(1, sizeof(*in));
    add(in, PREFACE, 24);
    frame(in, SETTINGS, 0, 0, NULL, 0);
    from_client(f, in, 0);
    f->to_server.n = 0;
    free(in);
}

/* The frames of a byte string, one at a time. */
struct frame_view {
    uint8_t type, flags;
    uint32_t sid, len;
    const uint8_t *p;
};

static size_t frames(const struct bytes *b, struct frame_view *v, size_t max)
{
    size_t n = 0;
    for (size_t at = 0; at + 9 <= b->n && n < max; n++) {
        const uint8_t *h = b->b + at;
        v[n] = (struct frame_view){ h[3], h[4],
                                    ((uint32_t)h[5] << 24 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 8 | h[8]) & 0x7fffffff,
                                    (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2], h + 9 };
        at += 9 + v[n].len;
    }
    return n;
}

static uint32_t u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool contains(const struct frame_view *v, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= v->len; i++)
        if (memcmp(v->p + i, s, n) == 0)
            return true;
    return false;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_well_behaved_traffic_passes_unchanged(void **state)
{
    struct fixture *f = *state;
    static struct bytes in;
    in.n = 0;
    add(&in, PREFACE, 24);
    frame(&in, SETTINGS, 0, 0, NULL, 0);
    frame(&in, HEADERS, END_HEADERS, 1, block, sizeof(block));
    static struct bytes data;
    data.n = 0;
    for (int i = 0; i < 50; i++)
        message(&data, 0, (uint32_t)(i * 37 % 300), true);
    /* Messages split across DATA frames at odd places, padding included. */
    size_t at = 0, cut = 7;
    while (at < data.n) {
        size_t n = data.n - at < cut ? data.n - at : cut;
        uint8_t padded[1 + 256 + 3];
        padded[0] = 3;
        memcpy(padded + 1, data.b + at, n);
        memset(padded + 1 + n, 0, 3);
        if (cut % 2)
            frame(&in, DATA, PADDED, 1, padded, n + 4);
        else
            frame(&in, DATA, 0, 1, data.b + at, n);
        at += n;
        cut = cut * 3 % 251 + 1;
    }
    frame(&in, DATA, END_STREAM, 1, NULL, 0);
    frame32(&in, WINDOW_UPDATE, 0, 1000);
    frame(&in, PING, 0, 0, "12345678", 8);

    from_client(f, &in, 1); /* byte by byte */
    assert_int_equal(f->to_server.n, in.n);
    assert_memory_equal(f->to_server.b, in.b, in.n);
    assert_false(pf_h2_guard_failed(f->g));

    static struct bytes srv;
    srv.n = 0;
    frame(&srv, SETTINGS, 0, 0, NULL, 0);
    frame(&srv, HEADERS, END_HEADERS, 1, block, sizeof(block));
    frame(&srv, DATA, 0, 1, "\0\0\0\0\2\x08\x02", 7);
    frame(&srv, HEADERS, END_HEADERS | END_STREAM, 1, block, sizeof(block));
    from_server(f, &srv);
    assert_int_equal(f->to_client.n, srv.n);
    assert_memory_equal(f->to_client.b, srv.b, srv.n);
}

static void expect_goaway(struct fixture *f, uint32_t code)
{
    assert_true(pf_h2_guard_failed(f->g));
    flush_to_client(f);
    assert_true(pf_h2_guard_done(f->g));
    struct frame_view v[4];
    size_t n = frames(&f->to_client, v, 4);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].type, GOAWAY);
    assert_int_equal(v[0].sid, 0);
    assert_int_equal(u32(v[0].p + 4), code);
}

static void test_continuation_flood_ends_with_goaway(void **state)
{
    struct fixture *f = *state;
    hello(f);
    static struct bytes in;
    in.n = 0;
    uint8_t junk[1024];
    memset(junk, 'j', sizeof(junk));
    frame(&in, HEADERS, 0, 1, block, sizeof(block));
    for (int i = 0; i < 100; i++)
        frame(&in, CONTINUATION, 0, 1, junk, sizeof(junk));
    from_client(f, &in, 0);
    expect_goaway(f, PF_H2_ENHANCE_YOUR_CALM);
    /* What went to grpc stayed under the bound. */
    assert_true(f->to_server.n <= f->lim.max_header_block);
    assert_true(f->to_server.n > f->lim.max_header_block - 2 * 1033);
    /* And nothing more goes. */
    size_t before = f->to_server.n;
    from_client(f, &in, 0);
    assert_int_equal(f->to_server.n, before);
}

static void test_empty_continuations_count_their_headers(void **state)
{
    struct fixture *f = *state;
    hello(f);
    static struct bytes in;
    in.n = 0;
    frame(&in, HEADERS, 0, 1, block, sizeof(block));
    for (int i = 0; i < 10000; i++)
        frame(&in, CONTINUATION, 0, 1, NULL, 0);
    from_client(f, &in, 0);
    expect_goaway(f, PF_H2_ENHANCE_YOUR_CALM);
}

static void test_a_large_header_block_within_the_bound_passes(void **state)
{
    struct fixture *f = *state;
    hello(f);
    static struct bytes in;
    in.n = 0;
    uint8_t junk[16000];
    memset(junk, 'j', sizeof(junk));
    frame(&in, HEADERS, 0, 1, junk, sizeof(junk));
    frame(&in, CONTINUATION, 0, 1, junk, sizeof(junk));
    frame(&in, CONTINUATION, END_HEADERS, 1, junk, sizeof(junk));
    frame(&in, HEADERS, END_HEADERS, 3, junk, sizeof(junk)); /* a new block counts anew */
    from_client(f, &in, 0);
    assert_false(pf_h2_guard_failed(f->g));
    assert_int_equal(f->to_server.n, in.n);
}

static void test_frames_out_of_place_are_protocol_errors(void **state)
{
    struct fixture *f = *state;
    hello(f);
    static struct bytes in;
    in.n = 0;
    frame(&in, HEADERS, 0, 1, block, sizeof(block));
    frame(&in, DATA, 0, 1, "x", 1); /* inside the header block */
    from_client(f, &in, 0);
    expect_goaway(f, PF_H2_PROTOCOL_ERROR);
}

static void test_continuation_without_headers_is_a_protocol_error(void **state)
{
    struct fixture *f = *state;
    hello(f);
    static struct bytes in;
    in.n = 0;
    frame(&in, CONTINUATION, END_HEADERS, 1, NULL, 0);
    from_client(f, &in, 0);
    expect_goaway(f, PF_H2_PROTOCOL_ERROR);
}

static void test_frame_over_max_size(void **state)
{
    struct fixture *f = *state;
    hello(f);
    static struct bytes in;
    in.n = 0;
    uint8_t big[16385] = { 0 };
    frame(&in, 0x42, 0, 0, big, sizeof(big));
    from_client(f, &in, 0);
    expect_goaway(f, PF_H2_FRAME_SIZE_ERROR);
}

static void test_not_a_preface(void **state)
{
    struct fixture *f = *state;
    static struct bytes in;
    in.n = 0;
    add(&in, "GET / HTTP/1.1\r\n\r\n", 18);
    from_client(f, &in, 0);
    assert_int_equal(f->to_server.n, 0);
    expect_goaway(f, PF_H2_PROTOCOL_ERROR);
}

static void rapid_reset(struct fixture *f, uint32_t first, int n)
{
    static struct bytes in;
    in.n = 0;
    for (int i = 0; i < n; i++) {
        uint32_t sid = first + 2 * (uint32_t)i;
        frame(&in, HEADERS, END_HEADERS, sid, block, sizeof(block));
        frame32(&in, RST_STREAM, sid, PF_H2_CANCEL);
    }
    from_client(f, &in, 0);
}

static void test_rapid_reset_over_budget_ends_with_goaway(void **state)
{
    struct fixture *f = *state;
    hello(f);
    rapid_reset(f, 1, (int)f->lim.reset_burst);
    assert_false(pf_h2_guard_failed(f->g));
    /* Half a second refills half a second's worth. */
    f->now += 500;
    rapid_reset(f, 1 + 2 * f->lim.reset_burst, (int)f->lim.resets_per_s / 2);
    assert_false(pf_h2_guard_failed(f->g));
    f->to_server.n = 0;
    rapid_reset(f, 4001, 1);
    expect_goaway(f, PF_H2_ENHANCE_YOUR_CALM);
    /* The last HEADERS went to grpc (its HPACK state), its reset did not. */
    struct frame_view v[4];
    assert_int_equal(frames(&f->to_server, v, 4), 1);
    assert_int_equal(v[0].type, HEADERS);
    /* GOAWAY names the last stream the client opened. */
    assert_int_equal(u32(f->to_client.b + 9), 4001);
}

static void test_resets_by_grpc_draw_on_the_same_budget(void **state)
{
    struct fixture *f = *state;
    hello(f);
    for (uint32_t i = 0; i <= f->lim.reset_burst; i++) {
        uint32_t sid = 1 + 2 * i;
        static struct bytes in, srv;
        in.n = srv.n = 0;
        frame(&in, HEADERS, END_HEADERS, sid, block, sizeof(block));
        from_client(f, &in, 0);
        frame32(&srv, RST_STREAM, sid, 7); /* REFUSED_STREAM */
        from_server(f, &srv);
        assert_int_equal(pf_h2_guard_failed(f->g), i == f->lim.reset_burst);
    }
    assert_true(pf_h2_guard_done(f->g)); /* GOAWAY right after grpc's last reset */
    static struct frame_view v[4096];
    size_t n = frames(&f->to_client, v, 4096);
    assert_int_equal(v[n - 1].type, GOAWAY);
    assert_int_equal(u32(v[n - 1].p + 4), PF_H2_ENHANCE_YOUR_CALM);
}

static void test_streams_over_the_table_end_with_goaway(void **state)
{
    struct fixture *f = *state;
    hello(f);
    static struct bytes in;
    in.n = 0;
    for (uint32_t i = 0; i <= f->lim.max_streams; i++)
        frame(&in, HEADERS, END_HEADERS, 1 + 2 * i, block, sizeof(block));
    from_client(f, &in, 0);
    expect_goaway(f, PF_H2_ENHANCE_YOUR_CALM);
}

static void test_streams_grpc_ended_leave_the_table(void **state)
{
    struct fixture *f = *state;
    hello(f);
    for (uint32_t i = 0; i < 3 * f->lim.max_streams; i++) {
        uint32_t sid = 1 + 2 * i;
        static struct bytes in;
        in.n = 0;
        static struct bytes srv;
        srv.n = 0;
        frame(&in, HEADERS, END_HEADERS, sid, block, sizeof(block));
        from_client(f, &in, 0);
        if (i % 2)
            frame(&srv, HEADERS, END_HEADERS | END_STREAM, sid, block, sizeof(block));
        else
            frame32(&srv, RST_STREAM, sid, 0);
        from_server(f, &srv);
    }
    assert_false(pf_h2_guard_failed(f->g));
}

/* The open-stream count the relay's idle timer reads: up at a client's
 * HEADERS, down at grpc's trailers and at a reset from either side. */
static void test_open_streams_count_what_is_open(void **state)
{
    struct fixture *f = *state;
    hello(f);
    static struct bytes in, srv;
    in.n = srv.n = 0;
    frame(&in, HEADERS, END_HEADERS, 1, block, sizeof(block));
    frame(&in, HEADERS, END_HEADERS | END_STREAM, 3, block, sizeof(block));
    frame(&in, HEADERS, END_HEADERS, 5, block, sizeof(block));
    from_client(f, &in, 0);
    assert_int_equal(pf_h2_guard_open_streams(f->g), 3);
    /* Response headers and a client half-close leave a stream open. */
    frame(&srv, HEADERS, END_HEADERS, 3, block, sizeof(block));
    from_server(f, &srv);
    assert_int_equal(pf_h2_guard_open_streams(f->g), 3);
    srv.n = 0;
    frame(&srv, HEADERS, END_HEADERS | END_STREAM, 3, block, sizeof(block));
    frame32(&srv, RST_STREAM, 1, 0);
    from_server(f, &srv);
    assert_int_equal(pf_h2_guard_open_streams(f->g), 1);
    in.n = 0;
    frame32(&in, RST_STREAM, 5, 8);
    from_client(f, &in, 0);
    assert_int_equal(pf_h2_guard_open_streams(f->g), 0);
}

/* An idle connection ended by pfgate: GOAWAY(NO_ERROR) naming the last
 * stream grpc saw, no failure for the log, and nothing more to grpc (a
 * stream opened after it is the client's to open again). */
static void test_end_sends_goaway_no_error_with_the_last_stream(void **state)
{
    struct fixture *f = *state;
    hello(f);
    static struct bytes in, srv;
    in.n = srv.n = 0;
    frame(&in, HEADERS, END_HEADERS | END_STREAM, 7, block, sizeof(block));
    from_client(f, &in, 0);
    frame(&srv, HEADERS, END_HEADERS | END_STREAM, 7, block, sizeof(block));
    from_server(f, &srv);
    f->to_client.n = 0;
    size_t to_grpc = f->to_server.n;

    pf_h2_guard_end(f->g);
    expect_goaway(f, PF_H2_NO_ERROR);
    struct frame_view v[1];
    frames(&f->to_client, v, 1);
    assert_int_equal(u32(v[0].p), 7);
    assert_int_equal(v[0].len, 8 + strlen("idle"));
    assert_memory_equal(v[0].p + 8, "idle", 4);
    assert_null(pf_h2_guard_why(f->g));

    in.n = 0;
    frame(&in, HEADERS, END_HEADERS, 9, block, sizeof(block));
    from_client(f, &in, 0);
    assert_int_equal(f->to_server.n, to_grpc);
}

static void test_unanswered_pings_end_with_goaway(void **state)
{
    struct fixture *f = *state;
    hello(f); /* one SETTINGS, unanswered */
    static struct bytes in;
    in.n = 0;
    for (uint32_t i = 1; i < f->lim.max_unanswered; i++)
        frame(&in, PING, 0, 0, "12345678", 8);
    from_client(f, &in, 0);
    assert_false(pf_h2_guard_failed(f->g));
    in.n = 0;
    frame(&in, PING, 0, 0, "12345678", 8);
    from_client(f, &in, 0);
    expect_goaway(f, PF_H2_ENHANCE_YOUR_CALM);
}

static void test_answered_pings_are_not_limited(void **state)
{
    struct fixture *f = *state;
    hello(f);
    static struct bytes in, srv;
    srv.n = 0;
    frame(&srv, SETTINGS, 0x1, 0, NULL, 0);
    from_server(f, &srv);
    for (int round = 0; round < 20; round++) {
        in.n = srv.n = 0;
        for (int i = 0; i < 500; i++) {
            frame(&in, PING, 0, 0, "12345678", 8);
            frame(&srv, PING, 0x1, 0, "12345678", 8);
        }
        from_client(f, &in, 0);
        from_server(f, &srv);
    }
    assert_false(pf_h2_guard_failed(f->g));
}

static void test_priority_flood_ends_with_goaway(void **state)
{
    struct fixture *f = *state;
    hello(f);
    static struct bytes in;
    in.n = 0;
    for (uint32_t i = 0; i <= f->lim.control_burst; i++)
        frame(&in, PRIORITY, 0, 1, "\0\0\0\0\x10", 5);
    from_client(f, &in, 0);
    expect_goaway(f, PF_H2_ENHANCE_YOUR_CALM);
}

static void test_empty_data_flood_ends_with_goaway(void **state)
{
    struct fixture *f = *state;
    hello(f);
    static struct bytes in;
    in.n = 0;
    frame(&in, HEADERS, END_HEADERS, 1, block, sizeof(block));
    for (uint32_t i = 0; i <= f->lim.control_burst; i++)
        frame(&in, DATA, 0, 1, NULL, 0);
    from_client(f, &in, 0);
    expect_goaway(f, PF_H2_ENHANCE_YOUR_CALM);
}

/* The client opens stream 1 and sends `prefix` (a message prefix split over
 * two DATA frames); returns the frames that reach the client. */
static size_t refused_stream(struct fixture *f, uint8_t flag, uint32_t len,
                             struct frame_view *v, size_t max)
{
    hello(f);
    static struct bytes in;
    in.n = 0;
    frame(&in, HEADERS, END_HEADERS, 1, block, sizeof(block));
    static struct bytes data;
    data.n = 0;
    message(&data, 0, 2, true); /* a good message first */
    message(&data, flag, len, false);
    add(&data, "abcdefgh", 8);
    frame(&in, DATA, 0, 1, data.b, 9);
    frame(&in, DATA, 0, 1, data.b + 9, data.n - 9);
    from_client(f, &in, 3);
    assert_false(pf_h2_guard_failed(f->g));
    /* grpc got both frames whole (its framing), then RST_STREAM(CANCEL). */
    struct frame_view s[8];
    size_t ns = frames(&f->to_server, s, 8);
    assert_int_equal(ns, 4);
    assert_memory_equal(f->to_server.b, in.b, in.n);
    assert_int_equal(s[3].type, RST_STREAM);
    assert_int_equal(s[3].sid, 1);
    assert_int_equal(u32(s[3].p), PF_H2_CANCEL);
    flush_to_client(f);
    return frames(&f->to_client, v, max);
}

static void expect_status(const struct frame_view *v, size_t n, const char *status,
                          bool trailers_only)
{
    assert_int_equal(n, 2);
    assert_int_equal(v[0].type, HEADERS);
    assert_int_equal(v[0].flags, END_STREAM | END_HEADERS);
    assert_int_equal(v[0].sid, 1);
    /* Literals without indexing only (0x00 ...), or the static :status 200. */
    assert_int_equal(v[0].p[0], trailers_only ? 0x88 : 0x00);
    assert_int_equal(contains(&v[0], "application/grpc"), trailers_only);
    char want[32];
    snprintf(want, sizeof(want), "grpc-status%c%s", (char)strlen(status), status);
    assert_true(contains(&v[0], want));
    assert_true(contains(&v[0], "grpc-message"));
    assert_int_equal(v[1].type, RST_STREAM);
    assert_int_equal(v[1].sid, 1);
    assert_int_equal(u32(v[1].p), PF_H2_NO_ERROR);
}

static void test_message_over_max_gets_resource_exhausted(void **state)
{
    struct fixture *f = *state;
    struct frame_view v[8];
    size_t n = refused_stream(f, 0, 0xffffffffu, v, 8);
    expect_status(v, n, "8", true);
}

static void test_message_at_max_passes(void **state)
{
    struct fixture *f = *state;
    hello(f);
    static struct bytes in;
    in.n = 0;
    static struct bytes data;
    data.n = 0;
    message(&data, 0, MAX_MESSAGE, true);
    frame(&in, HEADERS, END_HEADERS, 1, block, sizeof(block));
    frame(&in, DATA, END_STREAM, 1, data.b, data.n);
    from_client(f, &in, 0);
    flush_to_client(f);
    assert_int_equal(f->to_server.n, in.n);
    assert_int_equal(f->to_client.n, 0);
}

static void test_compressed_message_gets_unimplemented(void **state)
{
    struct fixture *f = *state;
    struct frame_view v[8];
    size_t n = refused_stream(f, 1, 10, v, 8);
    expect_status(v, n, "12", true);
}

static void test_bad_flag_gets_internal(void **state)
{
    struct fixture *f = *state;
    struct frame_view v[8];
    size_t n = refused_stream(f, 7, 10, v, 8);
    expect_status(v, n, "13", true);
}

static void test_refused_after_response_headers_sends_trailers(void **state)
{
    struct fixture *f = *state;
    hello(f);
    static struct bytes in;
    in.n = 0;
    static struct bytes srv;
    srv.n = 0;
    frame(&in, HEADERS, END_HEADERS, 1, block, sizeof(block));
    from_client(f, &in, 0);
    frame(&srv, HEADERS, END_HEADERS, 1, block, sizeof(block));
    from_server(f, &srv);
    f->to_client.n = 0;
    in.n = 0;
    static struct bytes data;
    data.n = 0;
    message(&data, 0, MAX_MESSAGE + 1, false);
    frame(&in, DATA, 0, 1, data.b, data.n);
    from_client(f, &in, 0);
    flush_to_client(f);
    struct frame_view v[8];
    expect_status(v, frames(&f->to_client, v, 8), "8", false);
}

static void test_refused_stream_data_dropped_and_window_given_back(void **state)
{
    struct fixture *f = *state;
    struct frame_view v[8];
    refused_stream(f, 0, 0xffffffffu, v, 8);
    f->to_server.n = f->to_client.n = 0;
    static struct bytes in;
    in.n = 0;
    uint8_t junk[16384] = { 0 };
    for (int i = 0; i < 10; i++)
        frame(&in, DATA, 0, 1, junk, sizeof(junk));
    frame32(&in, WINDOW_UPDATE, 1, 100);
    frame32(&in, RST_STREAM, 1, PF_H2_CANCEL);
    from_client(f, &in, 1000);
    assert_int_equal(f->to_server.n, 0);
    flush_to_client(f);
    size_t n = frames(&f->to_client, v, 8);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].type, WINDOW_UPDATE);
    assert_int_equal(v[0].sid, 0);
    assert_int_equal(u32(v[0].p), 10 * 16384);
    /* grpc's frames for it that crossed the resets: DATA is dropped and its
     * window given back to grpc; HEADERS go on (the client's HPACK). */
    static struct bytes srv;
    srv.n = 0;
    f->to_client.n = 0;
    frame(&srv, HEADERS, END_HEADERS, 1, block, sizeof(block));
    frame(&srv, DATA, 0, 1, "\0\0\0\0\0", 5);
    from_server(f, &srv);
    assert_int_equal(frames(&f->to_client, v, 8), 1);
    assert_int_equal(v[0].type, HEADERS);
    in.n = 0;
    from_client(f, &in, 0);
    assert_int_equal(frames(&f->to_server, v, 8), 1);
    assert_int_equal(v[0].type, WINDOW_UPDATE);
    assert_int_equal(v[0].sid, 0);
    assert_int_equal(u32(v[0].p), 5);
}

static void test_injection_waits_for_a_frame_boundary(void **state)
{
    struct fixture *f = *state;
    hello(f);
    static struct bytes in;
    in.n = 0;
    static struct bytes srv;
    srv.n = 0;
    /* grpc is part-way through a header block of stream 3 ... */
    frame(&in, HEADERS, END_HEADERS, 1, block, sizeof(block));
    frame(&in, HEADERS, END_HEADERS, 3, block, sizeof(block));
    from_client(f, &in, 0);
    frame(&srv, HEADERS, 0, 3, block, sizeof(block));
    from_server(f, &srv);
    size_t before = f->to_client.n;
    /* ... when stream 1 is refused: nothing may come between. */
    in.n = 0;
    static struct bytes data;
    data.n = 0;
    message(&data, 1, 3, true);
    frame(&in, DATA, 0, 1, data.b, data.n);
    from_client(f, &in, 0);
    flush_to_client(f);
    assert_int_equal(f->to_client.n, before);
    /* Half a CONTINUATION: still nothing. */
    srv.n = 0;
    frame(&srv, CONTINUATION, END_HEADERS, 3, block, sizeof(block));
    static struct bytes half;
    half.n = 0;
    add(&half, srv.b, 5);
    from_server(f, &half);
    assert_int_equal(f->to_client.n, before); /* a frame header goes out whole */
    half.n = 0;
    add(&half, srv.b + 5, srv.n - 5);
    from_server(f, &half);
    struct frame_view v[8];
    size_t n = frames(&f->to_client, v, 8);
    assert_int_equal(n, 4);
    assert_int_equal(v[1].type, CONTINUATION);
    assert_int_equal(v[2].type, HEADERS);
    assert_int_equal(v[2].sid, 1);
    assert_int_equal(v[3].type, RST_STREAM);
}

static void test_room_bounds_what_is_taken(void **state)
{
    struct fixture *f = *state;
    hello(f);
    static struct bytes in;
    in.n = 0;
    uint8_t junk[1000] = { 0 };
    frame(&in, 0x42, 0, 0, junk, sizeof(junk));
    uint8_t out[100];
    struct pf_h2_out o = { out, 0, sizeof(out) };
    size_t took = pf_h2_guard_from_client(f->g, f->now, in.b, in.n, &o);
    assert_int_equal(took, sizeof(out) - PF_H2_GUARD_SLACK);
    assert_true(o.len <= took);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_well_behaved_traffic_passes_unchanged),
        T(test_continuation_flood_ends_with_goaway),
        T(test_empty_continuations_count_their_headers),
        T(test_a_large_header_block_within_the_bound_passes),
        T(test_frames_out_of_place_are_protocol_errors),
        T(test_continuation_without_headers_is_a_protocol_error),
        T(test_frame_over_max_size),
        T(test_not_a_preface),
        T(test_rapid_reset_over_budget_ends_with_goaway),
        T(test_resets_by_grpc_draw_on_the_same_budget),
        T(test_streams_over_the_table_end_with_goaway),
        T(test_streams_grpc_ended_leave_the_table),
    T(test_open_streams_count_what_is_open),
    T(test_end_sends_goaway_no_error_with_the_last_stream),
        T(test_unanswered_pings_end_with_goaway),
        T(test_answered_pings_are_not_limited),
        T(test_priority_flood_ends_with_goaway),
        T(test_empty_data_flood_ends_with_goaway),
        T(test_message_over_max_gets_resource_exhausted),
        T(test_message_at_max_passes),
        T(test_compressed_message_gets_unimplemented),
        T(test_bad_flag_gets_internal),
        T(test_refused_after_response_headers_sends_trailers),
        T(test_refused_stream_data_dropped_and_window_given_back),
        T(test_injection_waits_for_a_frame_boundary),
        T(test_room_bounds_what_is_taken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
