/* The one strict text -> int64 parser, for every front end. */
#ifndef PF_NUM_H
#define PF_NUM_H

#include <stddef.h>
#include <stdint.h>

/* Parses exactly len bytes as a decimal int64: an optional '-' and digits,
 * nothing else (no '+', no spaces). Returns PF_OK, PF_EFRACTION for a
 * decimal point or exponent, PF_ERANGE outside int64, or PF_ENOTNUM;
 * *out is untouched on failure. */
int pf_parse_i64(const char *s, size_t len, int64_t *out);

/* Writes v in decimal to buf (no terminator) and returns the length, at most 20. */
size_t pf_format_i64(int64_t v, char buf[20]);

#endif
