/* Unit tests for gateway/grpc/pb_codec.c: Responses packed into a reused
 * send buffer read back exactly with protobuf-c (every field, the largest
 * values, errors short and long), and the buffer holds only the last
 * message packed into it, as grpc_call.h's one-buffer-per-call needs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/slice_buffer.h>

#include "pb_codec.h"
#include "primefactor.pb-c.h"

static Primefactor__Response *unpack(grpc_byte_buffer *bb)
{
    return (Primefactor__Response *)pf_pb_unpack(bb, &primefactor__response__descriptor);
}

static void check_response(grpc_byte_buffer *bb, const pf_response *want)
{
    Primefactor__Response *got = unpack(bb);
    assert_non_null(got);
    assert_int_equal(got->num, want->num);
    assert_int_equal(got->result, want->result);
    assert_int_equal(got->last, want->last);
    assert_string_equal(got->error, want->error ? want->error : "");
    primefactor__response__free_unpacked(got, NULL);
}

static void responses_read_back_exactly(void **state)
{
    (void)state;
    static char long_error[300];
    memset(long_error, 'e', sizeof(long_error) - 1);
    const pf_response cases[] = {
        { .num = 360, .result = 2 },
        { .num = 360, .result = 5, .last = true },
        { .num = 0, .last = true },
        { .num = INT64_MAX, .result = INT64_MAX, .last = true },
        { .num = -7, .last = true, .error = "negative numbers have no prime factorization" },
        { .num = INT64_MIN, .result = INT64_MIN, .last = true, .error = long_error },
    };
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(NULL, 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pf_pb_encode_response(&cases[i], bb);
        assert_int_equal(bb->data.raw.slice_buffer.count, 1);
        check_response(bb, &cases[i]);
    }
    grpc_byte_buffer_destroy(bb);
}

/* What grpc leaves in a send buffer is not the codec's business: a slice
 * still in it (a batch that did not start) is dropped, not sent twice. */
static void a_reused_buffer_holds_only_the_last_message(void **state)
{
    (void)state;
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(NULL, 0);
    pf_response first = { .num = 1000003, .result = 1000003, .last = true };
    pf_response second = { .num = 12, .result = 3, .last = true };
    pf_pb_encode_response(&first, bb);
    pf_pb_encode_response(&second, bb);
    assert_int_equal(bb->data.raw.slice_buffer.count, 1);
    check_response(bb, &second);
    /* What grpc does when a batch starts: it moves the slices out. */
    grpc_slice_buffer taken;
    grpc_slice_buffer_init(&taken);
    grpc_slice_buffer_move_into(&bb->data.raw.slice_buffer, &taken);
    assert_int_equal(bb->data.raw.slice_buffer.count, 0);
    pf_pb_encode_response(&first, bb);
    check_response(bb, &first);
    grpc_slice_buffer_destroy(&taken);
    grpc_byte_buffer_destroy(bb);
}

static void requests_decode_and_garbage_is_refused(void **state)
{
    (void)state;
    Primefactor__Request req = PRIMEFACTOR__REQUEST__INIT;
    req.num = -123456789012345;
    grpc_byte_buffer *bb = pf_pb_pack(&req.base);
    pf_request out = { .num = 1 };
    assert_int_equal(pf_pb_decode_request(bb, &out), PF_OK);
    assert_int_equal(out.num, -123456789012345);
    grpc_byte_buffer_destroy(bb);

    grpc_slice junk = grpc_slice_from_static_string("\x08\xff\xff");
    bb = grpc_raw_byte_buffer_create(&junk, 1);
    out.num = 5;
    assert_int_equal(pf_pb_decode_request(bb, &out), PF_ESYNTAX);
    assert_int_equal(out.num, 5);
    grpc_byte_buffer_destroy(bb);
}

int main(void)
{
    grpc_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(responses_read_back_exactly),
        cmocka_unit_test(a_reused_buffer_holds_only_the_last_message),
        cmocka_unit_test(requests_decode_and_garbage_is_refused),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    grpc_shutdown();
    return failed;
}
