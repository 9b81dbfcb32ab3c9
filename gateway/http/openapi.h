/* The OpenAPI description of the HTTP routes (docs/openapi.json), embedded
 * at build time (the Makefile generates its definition), so that
 * GET /openapi.json never depends on --web-root. */
#ifndef PF_OPENAPI_H
#define PF_OPENAPI_H

#include <stddef.h>

extern const unsigned char pf_openapi_json[];
extern const size_t pf_openapi_json_len;

#endif
