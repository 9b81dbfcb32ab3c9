/* Unit tests for gateway/bytes.c: the growable byte buffer the front ends
 * assemble messages and bodies in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bytes.h"
#include "pf.h"

static void test_first_room_then_doubling(void **state)
{
    (void)state;
    struct pf_bytes b = { 0 };
    assert_int_equal(pf_bytes_append(&b, "abc", 3, 4), PF_OK);
    assert_int_equal(b.cap, 4);
    assert_int_equal(pf_bytes_append(&b, "defgh", 5, 4), PF_OK);
    assert_int_equal(b.cap, 8);
    assert_int_equal(pf_bytes_append(&b, "i", 1, 4), PF_OK);
    assert_int_equal(b.cap, 16);
    assert_int_equal(b.len, 9);
    assert_memory_equal(b.data, "abcdefghi", 9);
    pf_bytes_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
}

static void test_empty_append_allocates_nothing(void **state)
{
    (void)state;
    struct pf_bytes b = { 0 };
    assert_int_equal(pf_bytes_append(&b, "", 0, 64), PF_OK);
    assert_null(b.data);
    pf_bytes_consume(&b, 0);
    assert_int_equal(b.len, 0);
}

static void test_consume_keeps_the_rest_and_the_room(void **state)
{
    (void)state;
    struct pf_bytes b = { 0 };
    assert_int_equal(pf_bytes_append(&b, "line1\nline2", 11, 64), PF_OK);
    pf_bytes_consume(&b, 6);
    assert_int_equal(b.len, 5);
    assert_int_equal(b.cap, 64);
    assert_memory_equal(b.data, "line2", 5);
    pf_bytes_consume(&b, 5);
    assert_int_equal(b.len, 0);
    pf_bytes_free(&b);
}

static void test_impossible_size_is_enomem_and_leaves_b(void **state)
{
    (void)state;
    struct pf_bytes b = { 0 };
    assert_int_equal(pf_bytes_append(&b, "xy", 2, 8), PF_OK);
    assert_int_equal(pf_bytes_reserve(&b, SIZE_MAX - 1, 8), PF_ENOMEM);
    assert_int_equal(pf_bytes_reserve(&b, SIZE_MAX / 2, 8), PF_ENOMEM);
    assert_int_equal(b.len, 2);
    assert_int_equal(b.cap, 8);
    assert_memory_equal(b.data, "xy", 2);
    pf_bytes_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_room_then_doubling),
        cmocka_unit_test(test_empty_append_allocates_nothing),
        cmocka_unit_test(test_consume_keeps_the_rest_and_the_room),
        cmocka_unit_test(test_impossible_size_is_enomem_and_leaves_b),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
