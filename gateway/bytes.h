/* A growable byte buffer: what a front end holds of a message or a request
 * body while it arrives, and the text it renders. */
#ifndef PF_BYTES_H
#define PF_BYTES_H

#include <stddef.h>

struct pf_bytes {
    char *data; /* NULL until the first byte */
    size_t len, cap;
};

/* Makes room for `more` bytes past len: the first buffer holds `first`
 * bytes, and each growth doubles it. PF_ENOMEM (b unchanged) when it cannot. */
int pf_bytes_reserve(struct pf_bytes *b, size_t more, size_t first);

/* Appends n bytes (pf_bytes_reserve's rules). */
int pf_bytes_append(struct pf_bytes *b, const void *p, size_t n, size_t first);

/* Drops the first n bytes (n <= len), keeping the room. */
void pf_bytes_consume(struct pf_bytes *b, size_t n);

/* Gives the memory back; b is empty and reusable. */
void pf_bytes_free(struct pf_bytes *b);

#endif
