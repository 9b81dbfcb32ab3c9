#include "pb_codec.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>

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

grpc_byte_buffer *pf_pb_pack(const ProtobufCMessage *m)
{
    grpc_slice s = grpc_slice_malloc(protobuf_c_message_get_packed_size(m));
    protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(s));
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
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

grpc_byte_buffer *pf_pb_encode_response(const pf_response *r)
{
    Primefactor__Response msg = PRIMEFACTOR__RESPONSE__INIT;
    msg.result = r->result;
    msg.num = r->num;
    msg.last = r->last;
    /* protobuf-c's string fields are not const; pack only reads them. */
    if (r->error)
        msg.error = (char *)r->error;
    return pf_pb_pack(&msg.base);
}
