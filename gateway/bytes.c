#include "bytes.h"

#include <stdlib.h>
#include <string.h>

#include "pf.h"

int pf_bytes_reserve(struct pf_bytes *b, size_t more, size_t first)
{
    if (more > (size_t)-1 / 2 - b->len)
        return PF_ENOMEM;
    size_t need = b->len + more;
    if (need <= b->cap)
        return PF_OK;
    size_t cap = b->cap ? b->cap : (first ? first : 1);
    while (cap < need)
        cap *= 2;
    char *data = realloc(b->data, cap);
    if (!data)
        return PF_ENOMEM;
    b->data = data;
    b->cap = cap;
    return PF_OK;
}

int pf_bytes_append(struct pf_bytes *b, const void *p, size_t n, size_t first)
{
    if (n == 0)
        return PF_OK;
    int rc = pf_bytes_reserve(b, n, first);
    if (rc < 0)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return PF_OK;
}

void pf_bytes_consume(struct pf_bytes *b, size_t n)
{
    if (n == 0)
        return;
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void pf_bytes_free(struct pf_bytes *b)
{
    free(b->data);
    *b = (struct pf_bytes){ 0 };
}
