/* Unit tests for gateway/http/json_codec.c: the proto3 JSON mapping of
 * primefactor.Request and Response (SPEC.md, "JSON messages").
 *
 * Besides the tables below, test_data_cases runs every folder under
 * tests/data/json/ (cwd = repo root, as tests/run-all.sh runs us), one case
 * per folder, like jansson's test suites:
 *
 *   tests/data/json/<case>/input   the raw bytes of one request frame, exactly
 *                                  as a WebSocket text frame or an NDJSON line
 *                                  carries it (a trailing newline in the file
 *                                  is part of the frame; an empty file is an
 *                                  empty frame)
 *   tests/data/json/<case>/expect  every answer to that request, in order, as
 *                                  pf_json_encode_response writes it, each
 *                                  followed by one "\n"
 *
 * The case decodes input with pf_json_decode_request, pushes it into a fresh
 * pf_stream, pops until the answer with last = true, and compares the encoded
 * answers with expect byte for byte. To add a case, add a folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "json_codec.h"
#include "pf.h"
#include "stream.h"

#define DATA_DIR "tests/data/json"
#define MIN_DATA_CASES 25

#define SENTINEL INT64_C(0x5a5a5a5a5a5a5a5a)

/* A heap copy of exactly len bytes, so that ASan sees a read past len. */
static char *exact_copy(const char *text, size_t len)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    return copy;
}

/* ---- pf_json_decode_request ---------------------------------------------- */

struct decode_case {
    const char *text;
    size_t len; /* 0: strlen(text) */
    int err;
    int64_t num; /* when err == PF_OK; an error request must carry num 0 */
};

static const struct decode_case decode_cases[] = {
    /* The four request forms, with the whitespace SPEC says to ignore. */
    {"{\"num\":360}", 0, PF_OK, 360},
    {"{\"num\":\"360\"}", 0, PF_OK, 360},
    {"360", 0, PF_OK, 360},
    {"\"360\"", 0, PF_OK, 360},
    {"360\n", 0, PF_OK, 360},
    {"\t 360 \r\n", 0, PF_OK, 360},
    {" \"360\"\n", 0, PF_OK, 360},
    {"  { \"num\" : 360 }\n", 0, PF_OK, 360},
    {"{\n\t\"num\": \"360\"\n}\r\n", 0, PF_OK, 360},
    {"0", 0, PF_OK, 0},
    {"-0", 0, PF_OK, 0},
    {"{\"num\":0}", 0, PF_OK, 0},
    {"{\"num\":\"007\"}", 0, PF_OK, 7}, /* a string of digits, as pf_parse_i64 reads it */
    /* Negative numbers decode: the core makes them an error answer. */
    {"{\"num\":-5}", 0, PF_OK, -5},
    {"{\"num\":\"-5\"}", 0, PF_OK, -5},
    {"-5", 0, PF_OK, -5},
    {"\"-5\"", 0, PF_OK, -5},
    /* The int64 edges in every form. */
    {"9223372036854775807", 0, PF_OK, INT64_MAX},
    {"-9223372036854775808", 0, PF_OK, INT64_MIN},
    {"{\"num\":9223372036854775807}", 0, PF_OK, INT64_MAX},
    {"{\"num\":-9223372036854775808}", 0, PF_OK, INT64_MIN},
    {"{\"num\":\"9223372036854775807\"}", 0, PF_OK, INT64_MAX},
    {"{\"num\":\"-9223372036854775808\"}", 0, PF_OK, INT64_MIN},
    {"\"-9223372036854775808\"", 0, PF_OK, INT64_MIN},
    /* Not JSON. */
    {"{num:360}", 0, PF_ESYNTAX, 0},
    {"{\"num\":360", 0, PF_ESYNTAX, 0},
    {"{\"num\" 360}", 0, PF_ESYNTAX, 0},
    {"{'num':360}", 0, PF_ESYNTAX, 0},
    {"abc", 0, PF_ESYNTAX, 0},
    {"nul", 0, PF_ESYNTAX, 0},
    {"-", 0, PF_ESYNTAX, 0},
    {"+5", 0, PF_ESYNTAX, 0},
    {"0x10", 0, PF_ESYNTAX, 0},
    {"1.5x", 0, PF_ESYNTAX, 0},
    {"\"360", 0, PF_ESYNTAX, 0},
    {"{\"num\":\"\xff\"}", 0, PF_ESYNTAX, 0}, /* not UTF-8 */
    /* Trailing garbage and two values in one frame. */
    {"360 abc", 0, PF_ESYNTAX, 0},
    {"360 361", 0, PF_ESYNTAX, 0},
    {"{\"num\":360} x", 0, PF_ESYNTAX, 0},
    {"{\"num\":1}{\"num\":2}", 0, PF_ESYNTAX, 0},
    {"\"360\" \"361\"", 0, PF_ESYNTAX, 0},
    /* Empty frames. */
    {"", 0, PF_ESYNTAX, 0},
    {" \r\n\t", 0, PF_ESYNTAX, 0},
    /* Duplicate keys: jansson's JSON_REJECT_DUPLICATES, a syntax error. */
    {"{\"num\":1,\"num\":2}", 0, PF_ESYNTAX, 0},
    {"{\"num\":1,\"num\":1}", 0, PF_ESYNTAX, 0},
    /* Fractions and exponents, even when the value is whole. */
    {"3.5", 0, PF_EFRACTION, 0},
    {"-3.5", 0, PF_EFRACTION, 0},
    {"1e3", 0, PF_EFRACTION, 0},
    {"1E3", 0, PF_EFRACTION, 0},
    {"1.0", 0, PF_EFRACTION, 0},
    {"{\"num\":1.0}", 0, PF_EFRACTION, 0},
    {"{\"num\":1e3}", 0, PF_EFRACTION, 0},
    {"{\"num\":3.5}", 0, PF_EFRACTION, 0},
    {"{\"num\":\"1.5\"}", 0, PF_EFRACTION, 0},
    {"{\"num\":\"1e3\"}", 0, PF_EFRACTION, 0},
    {"\"2.5\"", 0, PF_EFRACTION, 0},
    /* Outside int64, as a number and as a string. */
    {"9223372036854775808", 0, PF_ERANGE, 0},
    {"-9223372036854775809", 0, PF_ERANGE, 0},
    {"99999999999999999999999", 0, PF_ERANGE, 0},
    {" 18446744073709551616\n", 0, PF_ERANGE, 0},
    {"{\"num\":9223372036854775808}", 0, PF_ERANGE, 0},
    {"{\"num\":-9223372036854775809}", 0, PF_ERANGE, 0},
    {"{\"num\":99999999999999999999999}", 0, PF_ERANGE, 0},
    {"{\"num\":\"9223372036854775808\"}", 0, PF_ERANGE, 0},
    {"{\"num\":\"-9223372036854775809\"}", 0, PF_ERANGE, 0},
    {"\"99999999999999999999999\"", 0, PF_ERANGE, 0},
    /* num of the wrong type. */
    {"{\"num\":\"abc\"}", 0, PF_ENOTNUM, 0},
    {"{\"num\":\"\"}", 0, PF_ENOTNUM, 0},
    {"{\"num\":\" 360\"}", 0, PF_ENOTNUM, 0},
    {"{\"num\":\"360 \"}", 0, PF_ENOTNUM, 0},
    {"{\"num\":\"+5\"}", 0, PF_ENOTNUM, 0},
    {"{\"num\":\"0x10\"}", 0, PF_ENOTNUM, 0},
    {"{\"num\":true}", 0, PF_ENOTNUM, 0},
    {"{\"num\":[1]}", 0, PF_ENOTNUM, 0},
    {"{\"num\":{}}", 0, PF_ENOTNUM, 0},
    {"{\"num\":{\"num\":1}}", 0, PF_ENOTNUM, 0},
    {"\"abc\"", 0, PF_ENOTNUM, 0},
    {"[]", 0, PF_ENOTNUM, 0},
    {"[360]", 0, PF_ENOTNUM, 0},
    {"true", 0, PF_ENOTNUM, 0},
    {"false", 0, PF_ENOTNUM, 0},
    /* No num. A bare null is the shorthand for {"num":null}. */
    {"{}", 0, PF_EMISSING, 0},
    {" { } ", 0, PF_EMISSING, 0},
    {"{\"num\":null}", 0, PF_EMISSING, 0},
    {"null", 0, PF_EMISSING, 0},
    /* Fields other than num. */
    {"{\"num\":1,\"x\":2}", 0, PF_EFIELD, 0},
    {"{\"x\":2,\"num\":1}", 0, PF_EFIELD, 0},
    {"{\"x\":2}", 0, PF_EFIELD, 0},
    {"{\"Num\":1}", 0, PF_EFIELD, 0},
    {"{\"num\":null,\"x\":2}", 0, PF_EFIELD, 0},
    /* A control character is a bad character like any other: json_loadb()
     * had taken a NUL after a value for the end of the text (360\0 -> 360). */
    {"360\0", 4, PF_ESYNTAX, 0},
    {"360\0abc", 7, PF_ESYNTAX, 0},
    {"-5\0", 3, PF_ESYNTAX, 0},
    {"{\"num\":360}\0", 12, PF_ESYNTAX, 0},
    {"\"360\0\"", 6, PF_ESYNTAX, 0},
    {"\0" "360", 4, PF_ESYNTAX, 0},
    {"360\x01", 4, PF_ESYNTAX, 0},
    {"360\x7f", 4, PF_ESYNTAX, 0},
    {"\"360\r\"", 6, PF_ESYNTAX, 0},
    /* Exactly len bytes are the frame: what follows is never read. */
    {"360abc", 3, PF_OK, 360},
    {"{\"num\":360}garbage", 11, PF_OK, 360},
    {"\"360\"x", 5, PF_OK, 360},
    {"{\"num\":360}", 10, PF_ESYNTAX, 0},
    {"1e3", 1, PF_OK, 1},
};

static void check_decode(const char *text, size_t len, int want_err, int64_t want_num)
{
    char *copy = exact_copy(text, len);
    pf_request req = {.num = SENTINEL, .err = 12345, .stamp = 77};
    pf_json_decode_request(copy, len, &req);
    free(copy);
    if (req.err != want_err || req.num != want_num)
        fail_msg("decode(\"%.*s\", %zu) = {num %" PRId64 ", err %d (%s)}, want {num %" PRId64
                 ", err %d (%s)}",
                 (int)len, text, len, req.num, req.err, pf_strerror(req.err), want_num, want_err,
                 pf_strerror(want_err));
}

static void test_decode_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof decode_cases / sizeof decode_cases[0]; i++) {
        const struct decode_case *c = &decode_cases[i];
        check_decode(c->text, c->len ? c->len : strlen(c->text), c->err, c->num);
    }
}

/* SPEC: "A request that is not valid JSON ... one error answer". A bare
 * number is a shorthand for a JSON number, and JSON numbers have no leading
 * zeros: {"num":007} is a syntax error, so the bare 007 must be one too. */
static void test_decode_bare_leading_zeros(void **state)
{
    (void)state;
    check_decode("{\"num\":007}", 11, PF_ESYNTAX, 0);
    check_decode("007", 3, PF_ESYNTAX, 0);
    check_decode("-007", 4, PF_ESYNTAX, 0);
    check_decode("00", 2, PF_ESYNTAX, 0);
}

/* ---- pf_json_encode_response --------------------------------------------- */

struct encode_case {
    pf_response r;
    const char *json;
};

#define NEG_TEXT "negative numbers have no prime factorization"
#define SYNTAX_TEXT "request is not valid JSON"

static const struct encode_case encode_cases[] = {
    {{.result = 2, .num = 12}, "{\"result\":\"2\",\"num\":\"12\"}"},
    {{.result = 3, .num = 12, .last = true}, "{\"result\":\"3\",\"num\":\"12\",\"last\":true}"},
    {{.num = 1, .last = true}, "{\"num\":\"1\",\"last\":true}"},
    {{.num = 0, .last = true}, "{\"last\":true}"},
    {{.num = -5, .last = true, .error = NEG_TEXT},
     "{\"num\":\"-5\",\"last\":true,\"error\":\"" NEG_TEXT "\"}"},
    {{.last = true, .error = SYNTAX_TEXT}, "{\"last\":true,\"error\":\"" SYNTAX_TEXT "\"}"},
    {{.result = INT64_MAX, .num = INT64_MAX, .last = true},
     "{\"result\":\"9223372036854775807\",\"num\":\"9223372036854775807\",\"last\":true}"},
    {{.num = INT64_MIN, .last = true, .error = NEG_TEXT},
     "{\"num\":\"-9223372036854775808\",\"last\":true,\"error\":\"" NEG_TEXT "\"}"},
    {{.result = 649657, .num = INT64_MAX},
     "{\"result\":\"649657\",\"num\":\"9223372036854775807\"}"},
    /* The stamp is the front end's, never sent. */
    {{.result = 5, .num = 360, .last = true, .stamp = 123456789},
     "{\"result\":\"5\",\"num\":\"360\",\"last\":true}"},
    /* Error texts are JSON-escaped. */
    {{.last = true, .error = "say \"hi\" \\ bye"},
     "{\"last\":true,\"error\":\"say \\\"hi\\\" \\\\ bye\"}"},
    {{.num = 7, .last = true, .error = "a\nb\tc\x01"},
     "{\"num\":\"7\",\"last\":true,\"error\":\"a\\nb\\tc\\u0001\"}"},
    {{.last = true, .error = ""}, "{\"last\":true,\"error\":\"\"}"},
    /* The all-default message. */
    {{0}, "{}"},
};

/* Encodes r into a heap block of exactly PF_JSON_RESPONSE_MAX bytes. */
static size_t encode(const pf_response *r, char **out)
{
    char *buf = malloc(PF_JSON_RESPONSE_MAX);
    assert_non_null(buf);
    memset(buf, '#', PF_JSON_RESPONSE_MAX);
    size_t n = pf_json_encode_response(r, buf);
    if (n >= PF_JSON_RESPONSE_MAX)
        fail_msg("pf_json_encode_response wrote %zu bytes, limit %d", n, PF_JSON_RESPONSE_MAX);
    *out = buf;
    return n;
}

static void test_encode_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof encode_cases / sizeof encode_cases[0]; i++) {
        const struct encode_case *c = &encode_cases[i];
        char *buf;
        size_t n = encode(&c->r, &buf);
        if (n != strlen(c->json) || memcmp(buf, c->json, n) != 0)
            fail_msg("case %zu: encoded %.*s, want %s", i, (int)n, buf, c->json);
        /* It is one JSON object with nothing after it. */
        json_error_t error;
        json_t *root = json_loadb(buf, n, 0, &error);
        if (!json_is_object(root))
            fail_msg("case %zu: %.*s is not a JSON object: %s", i, (int)n, buf, error.text);
        json_decref(root);
        free(buf);
    }
}

/* Error text up to the limit, past it, and not UTF-8: never an overflow,
 * always one valid JSON object that says it is the last answer. */
static void test_encode_long_error(void **state)
{
    (void)state;
    char text[PF_JSON_RESPONSE_MAX * 2];
    for (size_t len = 0; len < sizeof text; len++) {
        memset(text, 'x', len);
        text[len] = '\0';
        pf_response r = {.num = INT64_MIN, .last = true, .error = text};
        char *buf;
        size_t n = encode(&r, &buf);
        json_t *root = json_loadb(buf, n, 0, NULL);
        if (!json_is_object(root) || !json_is_true(json_object_get(root, "last")) ||
            !json_is_string(json_object_get(root, "error")))
            fail_msg("error of %zu bytes: %.*s", len, (int)n, buf);
        json_decref(root);
        free(buf);
    }
    /* The longest text that fits is sent whole: 256 - 1 ('\0' room) - the
     * rest of the object. */
    static const char prefix[] = "{\"num\":\"-9223372036854775808\",\"last\":true,\"error\":\"";
    size_t fits = PF_JSON_RESPONSE_MAX - 1 - (sizeof prefix - 1) - 2;
    memset(text, 'x', fits);
    text[fits] = '\0';
    pf_response r = {.num = INT64_MIN, .last = true, .error = text};
    char *buf;
    size_t n = encode(&r, &buf);
    assert_int_equal(n, PF_JSON_RESPONSE_MAX - 1);
    assert_memory_equal(buf, prefix, sizeof prefix - 1);
    assert_memory_equal(buf + sizeof prefix - 1, text, fits);
    assert_memory_equal(buf + n - 2, "\"}", 2);
    free(buf);

    r.error = "bad \xff utf-8";
    n = encode(&r, &buf);
    json_t *root = json_loadb(buf, n, 0, NULL);
    assert_true(json_is_object(root));
    assert_true(json_is_string(json_object_get(root, "error")));
    json_decref(root);
    free(buf);
}

/* ---- pf_json_is_end ------------------------------------------------------ */

static void test_is_end(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool end;
    } cases[] = {
        {"{\"end\":true}", true},
        {" {\"end\" : true}\n", true},
        {"{\"end\":false}", false},
        {"{\"end\":true,\"num\":1}", false},
        {"{\"num\":1,\"end\":true}", false},
        {"{\"end\":true,\"end\":true}", false},
        {"\"end\"", false},
        {"{\"end\":1}", false},
        {"{\"end\":\"true\"}", false},
        {"{\"end\":null}", false},
        {"{\"End\":true}", false},
        {"{\"end\":true", false},
        {"{\"end\":true} x", false},
        {"true", false},
        {"{}", false},
        {"", false},
        {"{\"num\":360}", false},
        {"360", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i].text);
        char *copy = exact_copy(cases[i].text, len);
        if (pf_json_is_end(copy, len) != cases[i].end)
            fail_msg("pf_json_is_end(%s) = %d", cases[i].text, !cases[i].end);
        free(copy);
    }
    /* Only len bytes count. */
    assert_true(pf_json_is_end("{\"end\":true}xyz", 12));
    assert_false(pf_json_is_end("{\"end\":true}", 11));
    /* A NUL is never part of JSON text, after the object or in it. */
    assert_false(pf_json_is_end("{\"end\":true}\0", 13));
    assert_false(pf_json_is_end("{\"end\":true\0}", 13));
}

/* ---- pf_json_encode_factors, pf_json_encode_error ------------------------ */

static void expect_text(char *got, const char *want)
{
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_encode_factors(void **state)
{
    (void)state;
    static const int64_t f360[] = {2, 2, 2, 3, 3, 5};
    static const int64_t fmax[] = {7, 7, 73, 127, 337, 92737, 649657};
    static const int64_t fprime[] = {9223372036854775783};
    expect_text(pf_json_encode_factors(360, f360, 6),
                "{\"num\":\"360\",\"factors\":[\"2\",\"2\",\"2\",\"3\",\"3\",\"5\"]}");
    expect_text(pf_json_encode_factors(INT64_MAX, fmax, 7),
                "{\"num\":\"9223372036854775807\",\"factors\":[\"7\",\"7\",\"73\",\"127\","
                "\"337\",\"92737\",\"649657\"]}");
    expect_text(pf_json_encode_factors(9223372036854775783, fprime, 1),
                "{\"num\":\"9223372036854775783\",\"factors\":[\"9223372036854775783\"]}");
    expect_text(pf_json_encode_factors(1, NULL, 0), "{\"num\":\"1\",\"factors\":[]}");
    expect_text(pf_json_encode_factors(0, NULL, 0), "{\"num\":\"0\",\"factors\":[]}");
    expect_text(pf_json_encode_factors(INT64_MIN, NULL, 0),
                "{\"num\":\"-9223372036854775808\",\"factors\":[]}");
}

static void test_encode_error(void **state)
{
    (void)state;
    expect_text(pf_json_encode_error(SYNTAX_TEXT), "{\"error\":\"" SYNTAX_TEXT "\"}");
    expect_text(pf_json_encode_error(pf_strerror(PF_ERANGE)),
                "{\"error\":\"num is outside the int64 range\"}");
    expect_text(pf_json_encode_error("say \"hi\" \\ bye\n"),
                "{\"error\":\"say \\\"hi\\\" \\\\ bye\\n\"}");
    expect_text(pf_json_encode_error(""), "{\"error\":\"\"}");
}

/* The codec gives jansson an allocator that calls malloc by name, and this
 * test links with -Wl,--wrap=malloc (Makefile), as the fault build does: here
 * each of jansson's allocations for the codec is counted, and failed. While
 * allocations_left >= 0, each allocation takes one, and fails when none is left;
 * then every later one fails too, or with fail_once none (as in the fault build). */
void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);
static int allocations_left = -1;
static bool fail_once;
static unsigned allocations; /* made while allocations_left >= 0 */

void *__wrap_malloc(size_t size)
{
    if (allocations_left >= 0) {
        allocations++;
        if (allocations_left-- == 0) {
            allocations_left = fail_once ? -1 : 0;
            return NULL;
        }
    }
    return __real_malloc(size);
}

/* Every jansson allocation the codec makes reaches malloc, from the first one
 * on (runs first): the fault build can fail them all. */
static void test_jansson_allocates_through_malloc(void **state)
{
    (void)state;
    allocations = 0;
    allocations_left = 1000;
    char *text = pf_json_encode_error("x");
    allocations_left = -1;
    expect_text(text, "{\"error\":\"x\"}");
    assert_true(allocations > 0);
}

/* Memory running out while a request is decoded is not a syntax error of the
 * client's: the front end must fail the stream, not answer "not valid JSON".
 * Runs out at each of jansson's allocations in turn. */
static void test_decode_out_of_memory(void **state)
{
    (void)state;
    enum { TRIES = 32 };
    pf_request got[TRIES], bare = {.num = SENTINEL};
    for (int k = 0; k < TRIES; k++) {
        got[k] = (pf_request){.num = SENTINEL};
        allocations_left = k;
        pf_json_decode_request("{\"num\":360}", 11, &got[k]);
    }
    allocations_left = 0;
    pf_json_decode_request("360", 3, &bare); /* the fast path allocates nothing */
    allocations_left = -1;
    for (int k = 0; k < TRIES; k++)
        if (!(got[k].err == PF_ENOMEM && got[k].num == 0) &&
            !(got[k].err == PF_OK && got[k].num == 360))
            fail_msg("with %d allocations: {num %" PRId64 ", err %d (%s)}, want out of memory",
                     k, got[k].num, got[k].err, pf_strerror(got[k].err));
    assert_int_equal(got[0].err, PF_ENOMEM);
    assert_int_equal(got[TRIES - 1].err, PF_OK);
    assert_int_equal(bare.err, PF_OK);
    assert_int_equal(bare.num, 360);
}

/* The end marker with too little memory to parse it is neither the end nor
 * a request: PF_ENOMEM, never a 0 that would answer it as a bad number. */
static void test_is_end_out_of_memory(void **state)
{
    (void)state;
    enum { TRIES = 32 };
    int got[TRIES];
    for (int k = 0; k < TRIES; k++) {
        allocations_left = k;
        got[k] = pf_json_is_end("{\"end\":true}", 12);
    }
    allocations_left = -1;
    for (int k = 0; k < TRIES; k++)
        if (got[k] != PF_ENOMEM && got[k] != 1)
            fail_msg("with %d allocations: pf_json_is_end = %d, want 1 or out of memory", k, got[k]);
    assert_int_equal(got[0], PF_ENOMEM);
    assert_int_equal(got[TRIES - 1], 1);
}

/* A reply jansson could not build whole is no reply (NULL), never one with a
 * factor or a key missing. Fails each of jansson's allocations in turn, alone
 * (what the fault build does) and with every later one. */
static void encode_out_of_memory(bool once)
{
    static const int64_t f360[] = {2, 2, 2, 3, 3, 5};
    static const char want360[] =
        "{\"num\":\"360\",\"factors\":[\"2\",\"2\",\"2\",\"3\",\"3\",\"5\"]}";
    static const char want_error[] = "{\"error\":\"out of memory\"}";
    enum { TRIES = 64 };
    fail_once = once;
    for (int k = 0; k < TRIES; k++) {
        allocations_left = k;
        char *factors = pf_json_encode_factors(360, f360, 6);
        char *error = pf_json_encode_error("out of memory");
        allocations_left = -1;
        if (factors && strcmp(factors, want360) != 0)
            fail_msg("with %d allocations: %s, want %s or none", k, factors, want360);
        if (error && strcmp(error, want_error) != 0)
            fail_msg("with %d allocations: %s, want %s or none", k, error, want_error);
        if (k == 0 && factors)
            fail_msg("with no allocation: %s", factors);
        if (k == TRIES - 1 && !(factors && error))
            fail_msg("with %d allocations: no text", k);
        free(factors);
        free(error);
    }
    fail_once = false;
}

static void test_encode_out_of_memory(void **state)
{
    (void)state;
    encode_out_of_memory(false);
    encode_out_of_memory(true);
}

/* ---- tests/data/json ----------------------------------------------------- */

/* Reads a whole file; NULL when it cannot be read. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            buf = realloc(buf, cap *= 2);
            assert_non_null(buf);
        }
    }
    assert_false(ferror(f));
    fclose(f);
    *len = n;
    return buf;
}

/* Runs one case; returns false (after printing why) when it fails. */
static bool run_data_case(const char *name, uint64_t stamp)
{
    char path[512];
    size_t in_len, want_len;
    snprintf(path, sizeof path, DATA_DIR "/%s/input", name);
    char *in = read_file(path, &in_len);
    snprintf(path, sizeof path, DATA_DIR "/%s/expect", name);
    char *want = read_file(path, &want_len);
    if (!in || !want) {
        print_error("case %s: missing input or expect\n", name);
        free(in);
        free(want);
        return false;
    }
    char *frame = exact_copy(in, in_len);
    pf_request req = {.num = SENTINEL, .err = 12345};
    pf_json_decode_request(frame, in_len, &req);
    free(frame);
    req.stamp = stamp;

    pf_stream *s = NULL;
    assert_int_equal(pf_stream_new(1, NULL, NULL, NULL, &s), PF_OK);
    assert_int_equal(pf_stream_push(s, &req), PF_OK);
    size_t cap = 64 * (PF_JSON_RESPONSE_MAX + 1), got_len = 0;
    char *got = malloc(cap);
    assert_non_null(got);
    bool ok = true;
    pf_response r = {.last = false};
    for (int i = 0; i < 64 && !r.last; i++) {
        int rc = pf_stream_pop(s, &r);
        if (rc != PF_OK) {
            print_error("case %s: pop: %s\n", name, pf_strerror(rc));
            ok = false;
            break;
        }
        if (r.stamp != stamp && ok) {
            print_error("case %s: answer %d: stamp not copied\n", name, i + 1);
            ok = false;
        }
        got_len += pf_json_encode_response(&r, got + got_len);
        got[got_len++] = '\n';
    }
    if (ok && pf_stream_pop(s, &r) != PF_EAGAIN) {
        print_error("case %s: answers after the last one\n", name);
        ok = false;
    }
    if (ok && (got_len != want_len || memcmp(got, want, want_len) != 0)) {
        print_error("case %s: input %.*s\n  got:\n%.*s  want:\n%.*s", name, (int)in_len, in,
                    (int)got_len, got, (int)want_len, want);
        ok = false;
    }
    pf_stream_free(s);
    free(got);
    free(in);
    free(want);
    return ok;
}

static int only_cases(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

static void test_data_cases(void **state)
{
    (void)state;
    struct dirent **list;
    int n = scandir(DATA_DIR, &list, only_cases, alphasort);
    if (n < 0)
        fail_msg("cannot read %s: run from the repo root", DATA_DIR);
    int failed = 0;
    for (int i = 0; i < n; i++) {
        if (!run_data_case(list[i]->d_name, (uint64_t)i + 1))
            failed++;
        free(list[i]);
    }
    free(list);
    if (n < MIN_DATA_CASES)
        fail_msg("%d cases in %s, want at least %d", n, DATA_DIR, MIN_DATA_CASES);
    if (failed)
        fail_msg("%d of %d cases in %s failed", failed, n, DATA_DIR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jansson_allocates_through_malloc),
        cmocka_unit_test(test_decode_table),
        cmocka_unit_test(test_decode_bare_leading_zeros),
        cmocka_unit_test(test_encode_table),
        cmocka_unit_test(test_encode_long_error),
        cmocka_unit_test(test_is_end),
        cmocka_unit_test(test_encode_factors),
        cmocka_unit_test(test_encode_error),
        cmocka_unit_test(test_decode_out_of_memory),
        cmocka_unit_test(test_is_end_out_of_memory),
        cmocka_unit_test(test_encode_out_of_memory),
        cmocka_unit_test(test_data_cases),
    };
    return cmocka_run_group_tests_name("json_codec", tests, NULL, NULL);
}
