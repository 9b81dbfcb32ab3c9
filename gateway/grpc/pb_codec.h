/* grpc_byte_buffer <-> pf_request / pf_response, with protobuf-c. */
#ifndef PF_PB_CODEC_H
#define PF_PB_CODEC_H

#include <grpc/byte_buffer.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "pf.h"

/* Decodes one primefactor.Request. PF_ESYNTAX when the bytes are not a
 * Request (the stream must then end with INVALID_ARGUMENT); *out untouched. */
int pf_pb_decode_request(grpc_byte_buffer *bb, pf_request *out);
int pf_pb_decode_request_bytes(const uint8_t *data, size_t len, pf_request *out);

/* Any message, for the other services (health): a new message the caller
 * frees with protobuf_c_message_free_unpacked(), or NULL when bb is not one. */
ProtobufCMessage *pf_pb_unpack(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc);

/* Packing never fails: grpc's allocator (gpr_malloc) aborts the process
 * when memory runs out. */
/* A new byte buffer holding m packed. */
grpc_byte_buffer *pf_pb_pack(const ProtobufCMessage *m);
/* bb (a raw byte buffer; what it held is dropped) holds m packed: a call's
 * send buffer, reused from message to message (grpc_call.h). */
void pf_pb_pack_into(grpc_byte_buffer *bb, const ProtobufCMessage *m);

/* bb holds one primefactor.Response, as pf_pb_pack_into(). */
void pf_pb_encode_response(const pf_response *r, grpc_byte_buffer *bb);

#endif
