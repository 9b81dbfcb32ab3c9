/* JSON text <-> pf_request / pf_response: the proto3 JSON mapping of
 * primefactor.Request and Response. The only file that knows JSON. */
#ifndef PF_JSON_CODEC_H
#define PF_JSON_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#include "pf.h"

/* The longest encoded response, error text included. */
#define PF_JSON_RESPONSE_MAX 256

/* Decodes one request: {"num": 360}, {"num": "360"}, 360 or "360", with
 * surrounding whitespace. A bad request comes back with its error in
 * out->err, so that its error answer keeps its place; PF_ENOMEM there is no
 * answer but the stream's failure (memory ran out while decoding). */
void pf_json_decode_request(const char *text, size_t len, pf_request *out);

/* 1 when text is the WebSocket end marker {"end":true}, 0 when it is not,
 * PF_ENOMEM when memory ran out while looking. */
int pf_json_is_end(const char *text, size_t len);

/* Writes r as one JSON object, without a newline, and returns its length
 * (< PF_JSON_RESPONSE_MAX). int64 fields are strings; defaults are left out. */
size_t pf_json_encode_response(const pf_response *r, char *buf);

/* {"num":"360","factors":["2",...]} or {"error":"..."} for GET /v1/factors:
 * a new string the caller frees, or NULL when memory ran out. */
char *pf_json_encode_factors(int64_t num, const int64_t *factors, size_t n);
char *pf_json_encode_error(const char *error);

#endif
