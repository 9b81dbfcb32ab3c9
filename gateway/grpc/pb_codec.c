#include "pb_codec.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>
#include <grpc/slice_buffer.h>
#include <string.h>

#include "grpc_151.h"
#include "primefactor.pb-c.h"

int pf_pb_decode_request_bytes(const uint8_t *data, size_t len, pf_request *out)
{
    Primefactor__Request *req = primefactor__request__unpack(NULL, len, data);
    if (!req)
        return PF_ESYNTAX;
    *out = (pf_request){ .num = req->num, .err = PF_OK };
    primefactor__request__free_unpacked(req, NULL);
    return PF_OK;
}

ProtobufCMessage *pf_pb_unpack(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc)
{
    grpc_slice s;
    if (pf_grpc151_one_slice(bb, &s)) /* the usual case */
        return protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
    grpc_byte_buffer_reader reader;
    if (!grpc_byte_buffer_reader_init(&reader, bb))
        return NULL;
    s = grpc_byte_buffer_reader_readall(&reader);
    grpc_byte_buffer_reader_destroy(&reader);
    ProtobufCMessage *m =
        protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
    grpc_slice_unref(s);
    return m;
}

/* Messages up to this size are packed on the stack, when the caller knows
 * a bound: protobuf-c's size pass costs as much as the packing. */
#define PACK_ON_STACK 128

/* Packs m into bb; bound, when not 0, is at least m's packed size. */
static void pack_into(grpc_byte_buffer *bb, const ProtobufCMessage *m, size_t bound)
{
    grpc_slice s;
    if (bound && bound <= PACK_ON_STACK) {
        uint8_t buf[PACK_ON_STACK];
        /* Small slices are inline: no allocation (grpc_slice_malloc). */
        s = grpc_slice_from_copied_buffer((const char *)buf, protobuf_c_message_pack(m, buf));
    } else {
        s = grpc_slice_malloc(protobuf_c_message_get_packed_size(m));
        protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(s));
    }
    grpc_slice_buffer_reset_and_unref(&bb->data.raw.slice_buffer);
    grpc_slice_buffer_add(&bb->data.raw.slice_buffer, s);
}

void pf_pb_pack_into(grpc_byte_buffer *bb, const ProtobufCMessage *m)
{
    pack_into(bb, m, 0);
}

grpc_byte_buffer *pf_pb_pack(const ProtobufCMessage *m)
{
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(NULL, 0);
    pack_into(bb, m, 0);
    return bb;
}

int pf_pb_decode_request(grpc_byte_buffer *bb, pf_request *out)
{
    Primefactor__Request *req =
        (Primefactor__Request *)pf_pb_unpack(bb, &primefactor__request__descriptor);
    if (!req)
        return PF_ESYNTAX;
    *out = (pf_request){ .num = req->num, .err = PF_OK };
    primefactor__request__free_unpacked(req, NULL);
    return PF_OK;
}

/* A varint field: its key and at most 10 bytes (a 64-bit value). */
#define VARINT_FIELD_MAX 11
/* A string field: its key, its length as a varint, its bytes. */
#define STRING_FIELD_MAX(len) (1 + 5 + (len))

void pf_pb_encode_response(const pf_response *r, grpc_byte_buffer *bb)
{
    Primefactor__Response msg = PRIMEFACTOR__RESPONSE__INIT;
    msg.result = r->result;
    msg.num = r->num;
    msg.last = r->last;
    size_t bound = 3 * VARINT_FIELD_MAX; /* result, num, last */
    /* protobuf-c's string fields are not const; pack only reads them. */
    if (r->error) {
        msg.error = (char *)r->error;
        bound += STRING_FIELD_MAX(strlen(r->error));
    }
    pack_into(bb, &msg.base, bound);
}
