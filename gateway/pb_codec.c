#include "pb_codec.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>

#include "primefactor.pb-c.h"

/* Unpacks from the buffer's one slice when it has one and is not compressed
 * (the usual case): the reader would copy it first. */
static Primefactor__Request *unpack(grpc_byte_buffer *bb)
{
    if (bb->type == GRPC_BB_RAW && bb->data.raw.compression == GRPC_COMPRESS_NONE &&
        bb->data.raw.slice_buffer.count == 1) {
        grpc_slice s = bb->data.raw.slice_buffer.slices[0];
        return primefactor__request__unpack(NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
    }
    grpc_byte_buffer_reader reader;
    if (!grpc_byte_buffer_reader_init(&reader, bb))
        return NULL;
    grpc_slice s = grpc_byte_buffer_reader_readall(&reader);
    grpc_byte_buffer_reader_destroy(&reader);
    Primefactor__Request *req =
        primefactor__request__unpack(NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
    grpc_slice_unref(s);
    return req;
}

int pf_pb_decode_request(grpc_byte_buffer *bb, pf_request *out)
{
    Primefactor__Request *req = unpack(bb);
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

    size_t size = primefactor__response__get_packed_size(&msg);
    grpc_slice s = grpc_slice_malloc(size);
    primefactor__response__pack(&msg, GRPC_SLICE_START_PTR(s));
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}
