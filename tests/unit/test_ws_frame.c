/* Unit tests for gateway/http/ws_frame.c: the exact header bytes RFC 6455 5.2
 * gives for a final, unmasked text frame at each length boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ws_frame.h"

struct header_case {
    size_t len;
    size_t size;
    unsigned char bytes[PF_WS_FRAME_HEADER_MAX];
};

static const struct header_case cases[] = {
    {0, 2, {0x81, 0x00}},
    {1, 2, {0x81, 0x01}},
    {37, 2, {0x81, 0x25}},
    {125, 2, {0x81, 0x7d}},
    {126, 4, {0x81, 0x7e, 0x00, 0x7e}},
    {256, 4, {0x81, 0x7e, 0x01, 0x00}},
    {65535, 4, {0x81, 0x7e, 0xff, 0xff}},
    {65536, 10, {0x81, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}},
    {0x123456789a, 10, {0x81, 0x7f, 0, 0, 0, 0x12, 0x34, 0x56, 0x78, 0x9a}},
};

static void test_header_bytes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned char out[PF_WS_FRAME_HEADER_MAX + 1];
        memset(out, 0xee, sizeof(out));
        size_t size = pf_ws_text_frame_header(out, cases[i].len);
        print_message("len %zu\n", cases[i].len);
        assert_int_equal(size, cases[i].size);
        assert_memory_equal(out, cases[i].bytes, size);
        assert_int_equal(out[size], 0xee); /* nothing written past the header */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
